// Window/level, reslicing, resampling and the overlay renderer, checked on values.
#include <QtTest>

#include <cmath>

#include "imaging/overlay.h"
#include "imaging/reslice.h"
#include "imaging/window_level.h"

using namespace consilium;
using namespace consilium::imaging;

namespace {

// value(x, y, z) = x + 10 y + 100 z
Volume rampVolume(int nx, int ny, int nz) {
    Volume v;
    v.dims = {nx, ny, nz};
    v.spacing = {0.5, 0.7, 2.0};
    v.type = VoxelType::Float32;
    v.voxelsF32.resize(v.voxelCount());
    for (int z = 0; z < nz; ++z)
        for (int y = 0; y < ny; ++y)
            for (int x = 0; x < nx; ++x)
                v.voxelsF32[v.index(x, y, z)] = float(x + 10 * y + 100 * z);
    v.slices.resize(size_t(nz));
    return v;
}

}  // namespace

class TestPixels : public QObject {
    Q_OBJECT

  private slots:
    void presets() {
        QCOMPARE(windowPreset(WindowPreset::Lung).center, -600.0);
        QCOMPARE(windowPreset(WindowPreset::Lung).width, 1500.0);
        QCOMPARE(windowPreset(WindowPreset::Mediastinum).width, 350.0);
        QCOMPARE(windowPreset(WindowPreset::Bone).center, 400.0);
        QCOMPARE(windowPreset(WindowPreset::Brain).width, 80.0);
        QCOMPARE(windowPreset(WindowPreset::Abdomen).width, 400.0);
        QVERIFY(windowPresetFromName("bone") == WindowPreset::Bone);
        QVERIFY(!windowPresetFromName("liver").has_value());
    }

    void windowFollowsDicomLinearFunction() {
        // c = 40, w = 400: below -160 black, above 239.5 white, linear between (PS3.3
        // C.11.2.1.2.1).
        const float in[] = {-1000, -160, -100, 0, 40, 200, 239.5f, 240, 3000};
        const uint8_t expected[] = {0, 0, 38, 102, 128, 230, 255, 255, 255};
        uint8_t out[9];
        applyWindow(in, 9, {40, 400}, false, out);
        for (int i = 0; i < 9; ++i)
            QCOMPARE(int(out[i]), int(expected[i]));
        applyWindow(in, 9, {40, 400}, true, out);
        for (int i = 0; i < 9; ++i)
            QCOMPARE(int(out[i]), 255 - int(expected[i]));
        // The int16 table path agrees with the float path everywhere.
        std::vector<int16_t> all;
        std::vector<float> allF;
        for (int v = -2048; v <= 4096; ++v) {
            all.push_back(int16_t(v));
            allF.push_back(float(v));
        }
        std::vector<uint8_t> a(all.size()), b(all.size());
        for (auto wl : {WindowLevel{-600, 1500}, WindowLevel{40, 80}, WindowLevel{0, 1}}) {
            applyWindow(all.data(), all.size(), wl, false, a.data());
            applyWindow(allF.data(), allF.size(), wl, false, b.data());
            QVERIFY(a == b);
        }
    }

    void reslicesFollowTheRadiologicalConvention() {
        const Volume v = rampVolume(4, 3, 2);
        auto axial = extractSlice(v, Plane::Axial, 1);
        QVERIFY(axial.ok());
        QCOMPARE(axial->width, 4);
        QCOMPARE(axial->height, 3);
        QCOMPARE(axial->values[size_t(2 * 4 + 3)], 3.f + 20 + 100);
        auto coronal = extractSlice(v, Plane::Coronal, 2);
        QVERIFY(coronal.ok());
        QCOMPARE(coronal->width, 4);
        QCOMPARE(coronal->height, 2);
        QCOMPARE(coronal->pixelHeightMm, 2.0);
        QCOMPARE(coronal->values[1], 1.f + 20 + 100);  // top row = highest z
        QCOMPARE(coronal->values[4 + 1], 1.f + 20);
        auto sagittal = extractSlice(v, Plane::Sagittal, 3);
        QVERIFY(sagittal.ok());
        QCOMPARE(sagittal->width, 3);
        QCOMPARE(sagittal->values[2], 3.f + 20 + 100);
        QCOMPARE(sliceCount(v, Plane::Sagittal), 4);
        QVERIFY(!extractSlice(v, Plane::Axial, 2).ok());
        QVERIFY(!extractSlice(Volume{}, Plane::Axial, 0).ok());

        auto img = renderSlice(v, Plane::Axial, 0, {12, 24});  // 0 -> 0, 23 -> 255
        QVERIFY(img.ok());
        QCOMPARE(int(img->pixels[0]), 0);
        QCOMPARE(int(img->pixels[size_t(2 * 4 + 3)]), 255);
    }

    void resampleToModelGrid() {
        const Volume v = rampVolume(4, 4, 3);
        auto same = resampleToGrid(v, {4, 4, 3});
        QVERIFY(same.ok());
        for (size_t i = 0; i < v.voxelCount(); ++i)
            QCOMPARE(same.value()[i], v.voxelsF32[i]);
        // Between slices: linear, end slices kept (z: 0, 50, 100, 150, 200).
        auto z = resampleToGrid(v, {4, 4, 5});
        QVERIFY(z.ok());
        for (int k = 0; k < 5; ++k)
            QCOMPARE(z.value()[size_t(k) * 16 + 5], float(1 + 10 + 50 * k));
        // In-plane enlargement, cv::resize INTER_LINEAR (half-pixel centres, replicated border):
        // out x = i maps to src x = 0.5 i - 0.25.
        auto up = resampleToGrid(v, {8, 4, 3});
        QVERIFY(up.ok());
        for (int i = 1; i < 7; ++i)
            QVERIFY(std::fabs(up.value()[size_t(i)] - (0.5f * i - 0.25f)) < 1e-4f);
        QCOMPARE(up.value()[0], 0.f);
        // Shrinking by 2 with INTER_AREA averages 2x2 blocks: (0 + 1 + 10 + 11) / 4.
        auto down = resampleToGrid(v, {2, 2, 3});
        QVERIFY(down.ok());
        QVERIFY(std::fabs(down.value()[0] - 5.5f) < 1e-4f);
        QVERIFY(!resampleToGrid(v, {0, 4, 4}).ok());
    }

    void heatmapBlendsAboveThreshold() {
        Image8 base;
        base.width = 10;
        base.height = 10;
        base.pixels.assign(100, 100);
        Heatmap heat;
        heat.width = 10;
        heat.height = 10;
        heat.values.assign(100, 0.f);
        for (int y = 0; y < 10; ++y)
            for (int x = 0; x < 5; ++x)
                heat.values[size_t(y * 10 + x)] = 1.f;
        const auto top = colormapColor(Colormap::Jet, 1.f);
        QCOMPARE(int(top[0]), 128);  // OpenCV's jet ends in dark red
        QCOMPARE(int(top[1]), 0);
        QCOMPARE(int(top[2]), 0);
        auto out = composeOverlay(base, heat, {Colormap::Jet, 0.5f, 0.2f}, {});
        QVERIFY(out.ok());
        const uint8_t* left = &out->pixels[size_t(4 * (3 * 10 + 2))];
        const uint8_t* right = &out->pixels[size_t(4 * (3 * 10 + 7))];
        QCOMPARE(int(left[0]), 114);
        QCOMPARE(int(left[1]), 50);
        QCOMPARE(int(left[2]), 50);
        QCOMPARE(int(left[3]), 255);
        QCOMPARE(int(right[0]), 100);
        QCOMPARE(int(right[1]), 100);
        QCOMPARE(int(right[2]), 100);
        // A low-resolution heatmap is resized to the image.
        Heatmap small{2, 1, {1.f, 0.f}};
        auto scaled = composeOverlay(base, small, {Colormap::Hot, 1.f, 0.5f}, {});
        QVERIFY(scaled.ok());
        QVERIFY(scaled->pixels[0] != 100);
        QCOMPARE(int(scaled->pixels[size_t(4 * 9)]), 100);
        Heatmap wrong{3, 3, {0.f}};
        QVERIFY(!composeOverlay(base, wrong, {}, {}).ok());
    }

    void markersAreDrawnWhereAsked() {
        Image8 base;
        base.width = 41;
        base.height = 41;
        base.pixels.assign(41 * 41, 0);
        Marker m;
        m.x = 20;
        m.y = 20;
        m.radius = 8;
        m.rgba[0] = 255;
        m.rgba[1] = 0;
        m.rgba[2] = 0;
        auto out = composeOverlay(base, {}, {}, {m});
        QVERIFY(out.ok());
        auto red = [&](int x, int y) { return int(out->pixels[size_t(4 * (y * 41 + x))]); };
        QVERIFY(red(28, 20) > 150);  // on the ring
        QVERIFY(red(20, 12) > 150);
        QCOMPARE(red(20, 20), 0);  // centre untouched
        QCOMPARE(red(0, 0), 0);
    }
};

QTEST_GUILESS_MAIN(TestPixels)
#include "test_pixels.moc"
