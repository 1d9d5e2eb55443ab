#include "ui/ct_viewer.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace consilium::ui {

CtViewer::CtViewer(QWidget* parent) : QWidget(parent) {
    setMinimumSize(320, 320);
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setContextMenuPolicy(Qt::PreventContextMenu);  // right drag is window/level
    m_message = tr("No study loaded — File ▸ Open Study Folder…");
}

void CtViewer::setSeries(int sliceCount, QSizeF pixelSizeMm, SliceRenderer renderer,
                         ProbeText probe, int initialSlice, const QString& planeName) {
    m_sliceCount = std::max(0, sliceCount);
    m_pixelMm = pixelSizeMm.isValid() && !pixelSizeMm.isEmpty() ? pixelSizeMm : QSizeF(1, 1);
    m_renderer = std::move(renderer);
    m_probeFn = std::move(probe);
    m_plane = planeName;
    m_slice = std::clamp(initialSlice, 0, std::max(0, m_sliceCount - 1));
    m_overlay = QImage();
    m_overlaySlice = -1;
    m_markers.clear();
    m_rulerShown = false;
    m_zoom = 1.0;
    m_pan = {};
    m_message.clear();
    rerender();
    emit sliceChanged(m_slice);
}

void CtViewer::clearSeries(const QString& message) {
    m_sliceCount = 0;
    m_renderer = nullptr;
    m_probeFn = nullptr;
    m_image = QImage();
    m_message = message;
    update();
}

void CtViewer::setSlice(int slice) {
    if (m_sliceCount == 0) return;
    slice = std::clamp(slice, 0, m_sliceCount - 1);
    if (slice == m_slice && !m_image.isNull()) return;
    m_slice = slice;
    rerender();
    emit sliceChanged(m_slice);
}

void CtViewer::setWindowLevel(double center, double width) {
    width = std::max(1.0, width);
    if (center == m_center && width == m_width) return;
    m_center = center;
    m_width = width;
    rerender();
    emit windowLevelChanged(m_center, m_width);
}

void CtViewer::setOverlay(int slice, const QImage& rgba) {
    m_overlaySlice = rgba.isNull() ? -1 : slice;
    m_overlay = rgba;
    update();
}

void CtViewer::setOverlayVisible(bool visible) {
    m_overlayVisible = visible;
    update();
}

void CtViewer::setOverlayOpacity(double opacity) {
    m_overlayOpacity = std::clamp(opacity, 0.0, 1.0);
    update();
}

void CtViewer::setMarkers(const QVector<ViewerMarker>& markers) {
    m_markers = markers;
    update();
}

void CtViewer::setRulerMode(bool on) {
    m_rulerMode = on;
    setCursor(on ? Qt::CrossCursor : Qt::ArrowCursor);
}

void CtViewer::rerender() {
    m_image = (m_renderer && m_sliceCount > 0) ? m_renderer(m_slice, m_center, m_width) : QImage();
    update();
}

QRectF CtViewer::imageRect() const {
    if (m_image.isNull()) return {};
    // Physical aspect: each pixel is m_pixelMm wide/high.
    const double wMm = m_image.width() * m_pixelMm.width();
    const double hMm = m_image.height() * m_pixelMm.height();
    const QRectF area = QRectF(rect()).adjusted(8, 8, -8, -8);
    const double fit = std::min(area.width() / wMm, area.height() / hMm) * m_zoom;
    const QSizeF size(wMm * fit, hMm * fit);
    QRectF r(QPointF(0, 0), size);
    r.moveCenter(area.center() + m_pan);
    return r;
}

QPointF CtViewer::imageToWidget(QPointF px) const {
    const QRectF r = imageRect();
    if (r.isEmpty()) return {};
    return {r.left() + px.x() * r.width() / m_image.width(),
            r.top() + px.y() * r.height() / m_image.height()};
}

QPointF CtViewer::widgetToImage(QPointF w) const {
    const QRectF r = imageRect();
    if (r.isEmpty()) return {-1, -1};
    return {(w.x() - r.left()) * m_image.width() / r.width(),
            (w.y() - r.top()) * m_image.height() / r.height()};
}

double CtViewer::distanceMm(QPointF a, QPointF b) const {
    const double dx = (b.x() - a.x()) * m_pixelMm.width();
    const double dy = (b.y() - a.y()) * m_pixelMm.height();
    return std::hypot(dx, dy);
}

void CtViewer::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::black);
    if (m_image.isNull()) {
        p.setPen(QColor(200, 210, 220));
        p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, m_message);
        return;
    }
    const QRectF r = imageRect();
    p.setRenderHint(QPainter::SmoothPixmapTransform, m_zoom < 2.0);
    p.drawImage(r, m_image);
    if (m_overlayVisible && m_overlaySlice == m_slice && !m_overlay.isNull()) {
        p.setOpacity(m_overlayOpacity);
        p.drawImage(r, m_overlay);
        p.setOpacity(1.0);
    }
    p.setRenderHint(QPainter::Antialiasing);
    const double scale = r.width() / m_image.width();
    for (const ViewerMarker& m : m_markers) {
        if (m.slice != m_slice) continue;
        const QPointF c = imageToWidget(m.pixel);
        const double rad = std::max(6.0, m.radiusPx * scale);
        p.setPen(QPen(QColor(255, 214, 0), 2));
        p.setBrush(Qt::NoBrush);
        p.drawEllipse(c, rad, rad);
        if (!m.label.isEmpty()) p.drawText(c + QPointF(rad + 4, -rad), m.label);
    }
    if (m_rulerShown) {
        const QPointF a = imageToWidget(m_rulerA), b = imageToWidget(m_rulerB);
        p.setPen(QPen(QColor(0, 230, 255), 2));
        p.drawLine(a, b);
        p.drawText(b + QPointF(6, -6), QString::number(m_rulerMm, 'f', 1) + " mm");
    }
    // Corner annotations.
    p.setPen(QColor(230, 230, 230));
    const QRect text = rect().adjusted(10, 6, -10, -6);
    p.drawText(text, Qt::AlignLeft | Qt::AlignTop,
               tr("%1  Slice %2 / %3").arg(m_plane).arg(m_slice + 1).arg(m_sliceCount));
    p.drawText(text, Qt::AlignRight | Qt::AlignTop,
               tr("W %1  L %2").arg(std::lround(m_width)).arg(std::lround(m_center)));
    p.drawText(text, Qt::AlignLeft | Qt::AlignBottom, m_probe);
    p.drawText(text, Qt::AlignRight | Qt::AlignBottom,
               tr("Zoom %1%").arg(std::lround(m_zoom * 100)));
}

void CtViewer::wheelEvent(QWheelEvent* event) {
    const int steps = event->angleDelta().y() / 120;
    if (steps == 0) return;
    if (event->modifiers() & Qt::ControlModifier) {
        // Zoom about the cursor: keep the image point under it fixed.
        const QPointF before = widgetToImage(event->position());
        m_zoom = std::clamp(m_zoom * std::pow(1.25, steps), 0.25, 16.0);
        const QPointF after = imageToWidget(before);
        m_pan += event->position() - after;
        update();
    } else {
        setSlice(m_slice - steps);  // wheel away from the user: towards the head
        updateProbe(event->position());
    }
    event->accept();
}

void CtViewer::mousePressEvent(QMouseEvent* event) {
    m_dragStart = event->position();
    if (event->button() == Qt::RightButton) {
        m_drag = Drag::WindowLevel;
        m_dragCenter = m_center;
        m_dragWidth = m_width;
    } else if (event->button() == Qt::MiddleButton ||
               (event->button() == Qt::LeftButton && (event->modifiers() & Qt::ShiftModifier))) {
        m_drag = Drag::Pan;
        m_dragPan = m_pan;
    } else if (event->button() == Qt::LeftButton && m_rulerMode) {
        m_drag = Drag::Ruler;
        m_rulerA = m_rulerB = widgetToImage(event->position());
        m_rulerShown = true;
        m_rulerMm = 0;
    } else if (event->button() == Qt::LeftButton) {
        const double scale = imageRect().width() / std::max(1, m_image.width());
        for (int i = 0; i < m_markers.size(); ++i) {
            if (m_markers[i].slice != m_slice) continue;
            const QPointF c = imageToWidget(m_markers[i].pixel);
            const double rad = std::max(8.0, m_markers[i].radiusPx * scale);
            if (QLineF(c, event->position()).length() <= rad) {
                emit markerClicked(i);
                break;
            }
        }
    }
}

void CtViewer::mouseMoveEvent(QMouseEvent* event) {
    const QPointF d = event->position() - m_dragStart;
    switch (m_drag) {
        case Drag::WindowLevel:
            // Horizontal: width; vertical: level (as in most PACS viewers), 2 HU per pixel.
            setWindowLevel(m_dragCenter + 2.0 * d.y(), std::max(1.0, m_dragWidth + 2.0 * d.x()));
            break;
        case Drag::Pan:
            m_pan = m_dragPan + d;
            update();
            break;
        case Drag::Ruler:
            m_rulerB = widgetToImage(event->position());
            m_rulerMm = distanceMm(m_rulerA, m_rulerB);
            update();
            break;
        case Drag::None:
            break;
    }
    updateProbe(event->position());
}

void CtViewer::mouseReleaseEvent(QMouseEvent*) {
    if (m_drag == Drag::Ruler) emit rulerMeasured(m_rulerMm);
    m_drag = Drag::None;
}

void CtViewer::keyPressEvent(QKeyEvent* event) {
    switch (event->key()) {
        case Qt::Key_Up:
        case Qt::Key_PageUp:
            setSlice(m_slice - (event->key() == Qt::Key_PageUp ? 10 : 1));
            break;
        case Qt::Key_Down:
        case Qt::Key_PageDown:
            setSlice(m_slice + (event->key() == Qt::Key_PageDown ? 10 : 1));
            break;
        case Qt::Key_Home:
            setSlice(0);
            break;
        case Qt::Key_End:
            setSlice(m_sliceCount - 1);
            break;
        case Qt::Key_R:
            m_zoom = 1.0;
            m_pan = {};
            update();
            break;
        default:
            QWidget::keyPressEvent(event);
    }
}

void CtViewer::updateProbe(QPointF widgetPos) {
    QString text;
    if (m_probeFn && !m_image.isNull()) {
        const QPointF px = widgetToImage(widgetPos);
        if (px.x() >= 0 && px.y() >= 0 && px.x() < m_image.width() && px.y() < m_image.height()) {
            text = m_probeFn(m_slice, px);
        }
    }
    if (text != m_probe) {
        m_probe = text;
        emit probeChanged(m_probe);
        update();
    }
}

}  // namespace consilium::ui
