// The CT viewer widget, offscreen, driven with real mouse and key events: slice scrolling,
// zoom about the cursor, window/level by right drag, ruler in mm, marker clicks, the probe
// under the cursor and the heatmap overlay.
#include <QtTest>

#include "ui/ct_viewer.h"

using consilium::ui::CtViewer;
using consilium::ui::ViewerMarker;

namespace {

constexpr int kSize = 200;   // image pixels
constexpr double kMm = 0.5;  // mm per pixel

// Slice s is a uniform grey of s*10 HU rendered through the window (as the real renderer
// does), so the painted value tells which slice and window were used.
QImage renderUniform(int slice, double center, double width) {
    const double hu = slice * 10.0;
    const double v = std::clamp((hu - (center - width / 2)) / width, 0.0, 1.0);
    QImage img(kSize, kSize, QImage::Format_Grayscale8);
    img.fill(qRgb(int(v * 255), int(v * 255), int(v * 255)));
    return img;
}

QString probe(int slice, QPointF px) {
    return QString("s%1 x%2 y%3").arg(slice).arg(int(px.x())).arg(int(px.y()));
}

void wheel(QWidget* w, QPointF pos, int steps, Qt::KeyboardModifiers mods = Qt::NoModifier) {
    QWheelEvent e(pos, w->mapToGlobal(pos), QPoint(), QPoint(0, steps * 120), Qt::NoButton, mods,
                  Qt::NoScrollPhase, false);
    QApplication::sendEvent(w, &e);
}

}  // namespace

class TestCtViewer : public QObject {
    Q_OBJECT
  private:
    CtViewer* makeViewer() {
        auto* v = new CtViewer;
        v->resize(416, 416);  // 400x400 drawing area: 2 widget px per image px
        v->setSeries(50, QSizeF(kMm, kMm), renderUniform, probe, 25, "Axial");
        v->setWindowLevel(250, 500);  // slice 25 (250 HU) -> mid grey
        v->show();
        return v;
    }

  private slots:
    void wheelScrollsSlices() {
        std::unique_ptr<CtViewer> v(makeViewer());
        QSignalSpy changed(v.get(), &CtViewer::sliceChanged);
        wheel(v.get(), {208, 208}, -3);
        QCOMPARE(v->slice(), 28);
        wheel(v.get(), {208, 208}, 100);
        QCOMPARE(v->slice(), 0);  // clamped
        QCOMPARE(changed.count(), 2);
        QTest::keyClick(v.get(), Qt::Key_PageDown);
        QCOMPARE(v->slice(), 10);
        QTest::keyClick(v.get(), Qt::Key_End);
        QCOMPARE(v->slice(), 49);
    }

    void ctrlWheelZoomsAboutTheCursor() {
        std::unique_ptr<CtViewer> v(makeViewer());
        const QPointF cursor(300, 120);
        const QPointF under = v->widgetToImage(cursor);
        wheel(v.get(), cursor, 2, Qt::ControlModifier);
        QCOMPARE(v->zoom(), 1.5625);
        const QPointF after = v->imageToWidget(under);
        QVERIFY(std::abs(after.x() - cursor.x()) < 1e-6 && std::abs(after.y() - cursor.y()) < 1e-6);
        QCOMPARE(v->slice(), 25);  // zoom does not scroll
    }

    void rightDragChangesWindowAndLevel() {
        std::unique_ptr<CtViewer> v(makeViewer());
        QSignalSpy wl(v.get(), &CtViewer::windowLevelChanged);
        QTest::mousePress(v.get(), Qt::RightButton, {}, {100, 100});
        QMouseEvent move(QEvent::MouseMove, QPointF(150, 80), v->mapToGlobal(QPointF(150, 80)),
                         Qt::NoButton, Qt::RightButton, Qt::NoModifier);
        QApplication::sendEvent(v.get(), &move);
        QTest::mouseRelease(v.get(), Qt::RightButton, {}, {150, 80});
        QCOMPARE(v->windowWidth(), 600.0);   // +50 px * 2 HU
        QCOMPARE(v->windowCenter(), 210.0);  // -20 px * 2 HU
        QVERIFY(wl.count() >= 1);
        // The painted image used the new window: 250 HU in [-90, 510] -> 0.5667 -> 144.
        const QImage shot = v->grab().toImage();
        QCOMPARE(qGray(shot.pixel(208, 208)), 144);
    }

    void rulerMeasuresMillimetres() {
        std::unique_ptr<CtViewer> v(makeViewer());
        v->setRulerMode(true);
        QSignalSpy measured(v.get(), &CtViewer::rulerMeasured);
        const QPointF a = v->imageToWidget({20, 50}), b = v->imageToWidget({120, 50});
        QTest::mousePress(v.get(), Qt::LeftButton, {}, a.toPoint());
        QMouseEvent move(QEvent::MouseMove, b, v->mapToGlobal(b), Qt::NoButton, Qt::LeftButton,
                         Qt::NoModifier);
        QApplication::sendEvent(v.get(), &move);
        QTest::mouseRelease(v.get(), Qt::LeftButton, {}, b.toPoint());
        QCOMPARE(measured.count(), 1);
        QVERIFY2(std::abs(v->lastRulerMm() - 50.0) < 0.6,
                 qPrintable(QString::number(v->lastRulerMm())));
    }

    void markersAreClickableOnTheirSlice() {
        std::unique_ptr<CtViewer> v(makeViewer());
        v->setMarkers({{25, {100, 100}, 10, "N1"}, {30, {50, 50}, 10, "N2"}});
        QSignalSpy clicked(v.get(), &CtViewer::markerClicked);
        QTest::mouseClick(v.get(), Qt::LeftButton, {}, v->imageToWidget({102, 98}).toPoint());
        QCOMPARE(clicked.count(), 1);
        QCOMPARE(clicked.first().first().toInt(), 0);
        QTest::mouseClick(v.get(), Qt::LeftButton, {}, v->imageToWidget({50, 50}).toPoint());
        QCOMPARE(clicked.count(), 1);  // N2 is on another slice
    }

    void probeFollowsTheCursor() {
        std::unique_ptr<CtViewer> v(makeViewer());
        QTest::mouseMove(v.get(), v->imageToWidget({40.5, 160.5}).toPoint());
        QCOMPARE(v->probeText(), QString("s25 x40 y160"));
    }

    void overlayIsBlendedOnItsSliceOnly() {
        std::unique_ptr<CtViewer> v(makeViewer());
        QImage heat(kSize, kSize, QImage::Format_RGBA8888);
        heat.fill(Qt::transparent);
        for (int y = 80; y < 120; ++y)
            for (int x = 80; x < 120; ++x)
                heat.setPixel(x, y, qRgba(255, 0, 0, 255));
        v->setOverlay(25, heat);
        v->setOverlayOpacity(1.0);
        const QPoint hot = v->imageToWidget({100, 100}).toPoint();
        const QPoint cold = v->imageToWidget({20, 20}).toPoint();
        QImage shot = v->grab().toImage();
        QCOMPARE(qRed(shot.pixel(hot)), 255);
        QCOMPARE(qGreen(shot.pixel(hot)), 0);
        QCOMPARE(qRed(shot.pixel(cold)), qGreen(shot.pixel(cold)));  // grey: no overlay there
        v->setOverlayVisible(false);
        shot = v->grab().toImage();
        QCOMPARE(qRed(shot.pixel(hot)), qGreen(shot.pixel(hot)));
        v->setOverlayVisible(true);
        v->setSlice(26);
        shot = v->grab().toImage();
        QCOMPARE(qRed(shot.pixel(hot)), qGreen(shot.pixel(hot)));
    }
};

QTEST_MAIN(TestCtViewer)
#include "test_ct_viewer.moc"
