// CtViewModel: pixel -> voxel -> HU and LPS position in all three planes agrees with the
// volume's own geometry, and patient positions map back to the same slice and pixel.
#include <QElapsedTimer>
#include <QtTest>

#include "app/ct_view_model.h"
#include "app/study_service.h"
#include "imaging/volume.h"

using consilium::app::CtViewModel;
using consilium::app::Plane;

namespace {

std::shared_ptr<consilium::imaging::Volume> makeVolume() {
    auto v = std::make_shared<consilium::imaging::Volume>();
    v->dims = {7, 5, 4};
    v->spacing = {0.7, 0.8, 2.5};
    v->origin = {-100.0, -50.0, 20.0};
    v->modality = "CT";
    v->units = "HU";
    v->voxelsI16.resize(v->voxelCount());
    for (int z = 0; z < 4; ++z)
        for (int y = 0; y < 5; ++y)
            for (int x = 0; x < 7; ++x)
                v->voxelsI16[v->index(x, y, z)] = int16_t(x + 10 * y + 100 * z - 1000);
    return v;
}

}  // namespace

class TestCtViewModel : public QObject {
    Q_OBJECT
  private slots:
    void geometryPerPlane() {
        CtViewModel m(makeVolume());
        QCOMPARE(m.sliceCount(Plane::Axial), 4);
        QCOMPARE(m.sliceCount(Plane::Coronal), 5);
        QCOMPARE(m.sliceCount(Plane::Sagittal), 7);
        QCOMPARE(m.sliceSize(Plane::Axial), QSize(7, 5));
        QCOMPARE(m.sliceSize(Plane::Coronal), QSize(7, 4));
        QCOMPARE(m.sliceSize(Plane::Sagittal), QSize(5, 4));
        QCOMPARE(m.pixelSizeMm(Plane::Sagittal), QSizeF(0.8, 2.5));
        QCOMPARE(m.units(), QString("HU"));
    }

    void probeAndInverseAgree() {
        auto vol = makeVolume();
        CtViewModel m(vol);
        for (Plane plane : {Plane::Axial, Plane::Coronal, Plane::Sagittal}) {
            const QSize size = m.sliceSize(plane);
            for (int s = 0; s < m.sliceCount(plane); ++s)
                for (int row = 0; row < size.height(); ++row)
                    for (int col = 0; col < size.width(); ++col) {
                        const auto p = m.probe(plane, s, QPointF(col + 0.5, row + 0.5));
                        QVERIFY(p.has_value());
                        QCOMPARE(p->value, double(vol->at(p->x, p->y, p->z)));
                        const auto mm = vol->toPatient({double(p->x), double(p->y), double(p->z)});
                        QVERIFY(std::abs(p->patientMm.z() - mm[2]) < 1e-3);
                        QCOMPARE(m.sliceIndexAt(plane, p->patientMm), s);
                        const QPointF back = m.pixelAt(plane, p->patientMm);
                        QVERIFY(std::abs(back.x() - (col + 0.5)) < 1e-3 &&
                                std::abs(back.y() - (row + 0.5)) < 1e-3);
                    }
        }
        // Head at the top: the first row of a coronal slice is the highest z.
        QCOMPARE(m.probe(Plane::Coronal, 0, {0.5, 0.5})->z, 3);
        QVERIFY(!m.probe(Plane::Axial, 0, {7.5, 0.5}).has_value());
        QVERIFY(!m.probe(Plane::Axial, 4, {0.5, 0.5}).has_value());
    }

    void renderUsesTheWindow() {
        CtViewModel m(makeVolume());
        // Window [-1000, -900]: voxel value -1000 + x + 10y (z = 0) -> (v + 1000) * 2.55.
        const QImage img = m.renderSlice(Plane::Axial, 0, {-950, 100});
        QCOMPARE(img.size(), QSize(7, 5));
        QCOMPARE(qGray(img.pixel(0, 0)), 0);
        QVERIFY(std::abs(qGray(img.pixel(6, 4)) - 46 * 255 / 100) <= 1);
        QVERIFY(m.renderSlice(Plane::Axial, 9, {0, 100}).isNull());
        QCOMPARE(consilium::app::windowPreset("bone").center, 400.0);
        QCOMPARE(consilium::app::windowPreset("unknown").center, -600.0);  // lung
    }

    // The per-patch map lands on the voxels its patch covers (docs/MODEL.md 3.1 and 5).
    void thumbnailKeepsTheAspectInMm() {
        // 100 x 50 pixels of 1 x 2 mm: a square in mm, so a square thumbnail.
        consilium::imaging::Volume v;
        v.dims = {100, 50, 3};
        v.spacing = {1.0, 2.0, 5.0};
        v.voxelsF32.resize(v.voxelCount());
        v.type = consilium::imaging::VoxelType::Float32;
        // MR-like values 1000..1990 rising along x; slice 1 (the middle) only.
        for (int y = 0; y < 50; ++y)
            for (int x = 0; x < 100; ++x)
                v.voxelsF32[v.index(x, y, 1)] = float(1000 + 10 * x);
        const QImage t = consilium::app::seriesThumbnail(v, false, 64);
        QCOMPARE(t.size(), QSize(64, 64));
        // Not CT: windowed over its own range, so dark on the left and bright on the right.
        QVERIFY2(
            qGray(t.pixel(1, 32)) < 20 && qGray(t.pixel(62, 32)) > 235,
            qPrintable(QString("%1 %2").arg(qGray(t.pixel(1, 32))).arg(qGray(t.pixel(62, 32)))));
        // As CT (mediastinum window, 40 +- 200 HU) the same values are all white.
        const QImage ct = consilium::app::seriesThumbnail(v, true, 64);
        QCOMPARE(qGray(ct.pixel(1, 32)), 255);
        QVERIFY(consilium::app::seriesThumbnail(consilium::imaging::Volume{}, true).isNull());
        // The 7 x 5 test volume at 0.7 x 0.8 mm: wider than tall.
        const QImage small = consilium::app::seriesThumbnail(*makeVolume(), true, 64);
        QCOMPARE(small.width(), 64);
        QCOMPARE(small.height(), int(std::lround(64 * (5 * 0.8) / (7 * 0.7))));
    }

    void attentionMapFollowsPatches() {
        auto v = std::make_shared<consilium::imaging::Volume>();
        v->dims = {64, 64, 16};
        v->voxelsI16.resize(v->voxelCount());
        CtViewModel m(v);
        // Grid D,H,W = 8,16,16 in patches of 4,8,8: 2 x 2 x 2 patches; only patch
        // (pz 1, py 0, px 1) = 5 is attended: top slices, first rows, last columns.
        std::vector<float> w(8, 0.0f);
        w[5] = 0.6f;
        const QImage top = m.attentionMapOverlay(Plane::Axial, 15, {8, 16, 16}, {4, 8, 8}, w);
        QVERIFY(!top.isNull());
        QCOMPARE(top.size(), QSize(64, 64));
        QCOMPARE(qAlpha(top.pixel(60, 4)), 200);  // inside the attended patch: full weight
        QCOMPARE(qAlpha(top.pixel(4, 60)), 0);    // the opposite corner: none
        QVERIFY(qAlpha(top.pixel(32, 4)) > 0);    // between patch centres: interpolated
        QVERIFY(qAlpha(top.pixel(32, 4)) < 200);
        const QImage bottom = m.attentionMapOverlay(Plane::Axial, 0, {8, 16, 16}, {4, 8, 8}, w);
        QCOMPARE(qAlpha(bottom.pixel(60, 4)), 0);  // the other half of the slices
        // A map that does not fit the grid, or a grid the patch does not divide: no image.
        QVERIFY(m.attentionMapOverlay(Plane::Axial, 0, {8, 16, 16}, {4, 8, 8},
                                      std::vector<float>(7, 1.0f))
                    .isNull());
        QVERIFY(m.attentionMapOverlay(Plane::Axial, 0, {8, 16, 16}, {3, 8, 8}, w).isNull());
        // Colours and threshold: the same weights in Hot are another colour at the same alpha
        // (Jet's maximum is dark red, Hot's white); a threshold above the interpolated value
        // between patch centres hides it.
        const QImage hot = m.attentionMapOverlay(Plane::Axial, 15, {8, 16, 16}, {4, 8, 8}, w, 0.2,
                                                 consilium::app::HeatColormap::Hot);
        QCOMPARE(qAlpha(hot.pixel(60, 4)), 200);
        QVERIFY(hot.pixel(60, 4) != top.pixel(60, 4));
        QCOMPARE(qRed(hot.pixel(60, 4)), 255);
        QCOMPARE(qGreen(hot.pixel(60, 4)), 255);
        const int between = qAlpha(top.pixel(32, 4));
        const QImage strict = m.attentionMapOverlay(Plane::Axial, 15, {8, 16, 16}, {4, 8, 8}, w,
                                                    between / 200.0 + 0.05);
        QCOMPARE(qAlpha(strict.pixel(32, 4)), 0);
        QCOMPARE(qAlpha(strict.pixel(60, 4)), 200);
    }

    // The heatmap is redrawn on the GUI thread on every slice change: a 512 x 512 slice must
    // take well under a frame's budget even when every pixel is coloured (was over 30 s with
    // the colormap table rebuilt per pixel). Loose bound for a loaded 2-core machine.
    void attentionMapIsFastEnoughToScroll() {
        auto v = std::make_shared<consilium::imaging::Volume>();
        v->dims = {512, 512, 64};
        v->voxelsI16.resize(v->voxelCount());
        CtViewModel m(v);
        std::vector<float> w(4 * 8 * 8, 0.5f);
        w[5] = 1.0f;
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < 5; ++i)
            QVERIFY(
                !m.attentionMapOverlay(Plane::Axial, 10 + i, {64, 128, 128}, {16, 16, 16}, w, 0.0)
                     .isNull());
        const double ms = t.nsecsElapsed() / 5e6;
        qInfo("attention map overlay: %.1f ms per 512 x 512 slice", ms);
        QVERIFY2(ms < 150, qPrintable(QString::number(ms)));
    }
};

QTEST_GUILESS_MAIN(TestCtViewModel)
#include "test_ct_view_model.moc"
