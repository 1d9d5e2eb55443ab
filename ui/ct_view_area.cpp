#include "ui/ct_view_area.h"

#include <QPainter>

namespace consilium::ui {

CtViewArea::CtViewArea(QWidget* parent) : QWidget(parent) {
    setMinimumSize(320, 320);
    setMessage(tr("No study loaded — File ▸ Open Study Folder…"));
}

void CtViewArea::setMessage(const QString& message) {
    m_message = message;
    update();
}

void CtViewArea::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), QColor(12, 14, 18));
    p.setRenderHint(QPainter::Antialiasing);
    // Viewer frame with the radiological orientation labels (patient's right on the left).
    const QRect frame = rect().adjusted(12, 12, -12, -12);
    p.setPen(QPen(QColor(70, 80, 95), 1));
    p.drawRect(frame);
    p.setPen(QColor(150, 170, 190));
    QFont f = font();
    f.setBold(true);
    p.setFont(f);
    p.drawText(frame.adjusted(6, 0, 0, 0), Qt::AlignLeft | Qt::AlignVCenter, "R");
    p.drawText(frame.adjusted(0, 0, -6, 0), Qt::AlignRight | Qt::AlignVCenter, "L");
    p.drawText(frame.adjusted(0, 4, 0, 0), Qt::AlignHCenter | Qt::AlignTop, "A");
    p.drawText(frame.adjusted(0, 0, 0, -4), Qt::AlignHCenter | Qt::AlignBottom, "P");
    p.drawText(frame.adjusted(8, 6, 0, 0), Qt::AlignLeft | Qt::AlignTop, tr("Axial"));
    f.setBold(false);
    f.setPointSizeF(f.pointSizeF() * 1.2);
    p.setFont(f);
    p.setPen(QColor(200, 210, 220));
    p.drawText(frame, Qt::AlignCenter | Qt::TextWordWrap, m_message);
}

}  // namespace consilium::ui
