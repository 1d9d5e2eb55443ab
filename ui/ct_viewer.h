// The CT viewer: paints one slice of the study (an image app/ rendered), with the
// attention heatmap overlay and finding markers, and handles the interactions users of
// radiology viewers expect:
//   mouse wheel          next/previous slice        Ctrl+wheel     zoom about the cursor
//   right drag           window (x) / level (y)     middle drag    pan
//   left drag (ruler)    distance in mm             left click     select a marker
//   Page Up/Down, arrows slices                     R              reset zoom and pan
// The image source is a callback, so the widget knows no volume type: it asks for the
// image of a slice at a window/level and for the probe text under the cursor.
#pragma once

#include <QImage>
#include <QPointF>
#include <QSizeF>
#include <QVector>
#include <QWidget>
#include <functional>

namespace consilium::ui {

struct ViewerMarker {
    int slice = 0;        // slice index in the current plane
    QPointF pixel;        // position on that slice, image pixels
    double radiusPx = 6;  // drawn radius, image pixels
    QString label;        // e.g. "N1 8 mm solid"
};

class CtViewer : public QWidget {
    Q_OBJECT
  public:
    using SliceRenderer = std::function<QImage(int slice, double center, double width)>;
    using ProbeText = std::function<QString(int slice, QPointF pixel)>;  // "" outside

    explicit CtViewer(QWidget* parent = nullptr);

    // A new series (or plane): slice count, pixel size in mm (for aspect and the ruler),
    // the renderer and the probe. Keeps the window/level; starts at `initialSlice`.
    void setSeries(int sliceCount, QSizeF pixelSizeMm, SliceRenderer renderer, ProbeText probe,
                   int initialSlice = 0, const QString& planeName = QString());
    void clearSeries(const QString& message);

    void setSlice(int slice);
    int slice() const { return m_slice; }
    int sliceCount() const { return m_sliceCount; }
    void setWindowLevel(double center, double width);
    double windowCenter() const { return m_center; }
    double windowWidth() const { return m_width; }

    // Heatmap: an RGBA image the size of the slice for the given slice index (empty: none).
    void setOverlay(int slice, const QImage& rgba);
    void setOverlayVisible(bool visible);
    void setOverlayOpacity(double opacity);  // 0..1
    void setMarkers(const QVector<ViewerMarker>& markers);
    void setRulerMode(bool on);

    double zoom() const { return m_zoom; }
    bool hasOverlayOn(int slice) const { return !m_overlay.isNull() && m_overlaySlice == slice; }
    const QImage& overlayImage() const { return m_overlay; }
    int markerCount() const { return int(m_markers.size()); }
    QString probeText() const { return m_probe; }
    double lastRulerMm() const { return m_rulerMm; }

    // Widget <-> image pixel mapping of the current view.
    QPointF imageToWidget(QPointF px) const;
    QPointF widgetToImage(QPointF w) const;

  signals:
    void sliceChanged(int slice);
    void windowLevelChanged(double center, double width);
    void markerClicked(int index);
    void probeChanged(const QString& text);
    void rulerMeasured(double mm);

  protected:
    void paintEvent(QPaintEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

  private:
    QRectF imageRect() const;  // where the slice is drawn, widget coordinates
    void rerender();
    void updateProbe(QPointF widgetPos);
    double distanceMm(QPointF a, QPointF b) const;  // image pixels -> mm

    int m_sliceCount = 0;
    int m_slice = 0;
    QSizeF m_pixelMm{1, 1};
    SliceRenderer m_renderer;
    ProbeText m_probeFn;
    QImage m_image;
    QString m_plane;
    QString m_message;
    double m_center = -600, m_width = 1500;

    QImage m_overlay;
    int m_overlaySlice = -1;
    bool m_overlayVisible = true;
    double m_overlayOpacity = 0.5;
    QVector<ViewerMarker> m_markers;

    double m_zoom = 1.0;
    QPointF m_pan;
    enum class Drag { None, WindowLevel, Pan, Ruler } m_drag = Drag::None;
    QPointF m_dragStart;
    double m_dragCenter = 0, m_dragWidth = 0;
    QPointF m_dragPan;
    bool m_rulerMode = false;
    QPointF m_rulerA, m_rulerB;  // image pixels
    bool m_rulerShown = false;
    double m_rulerMm = 0;
    QString m_probe;
};

}  // namespace consilium::ui
