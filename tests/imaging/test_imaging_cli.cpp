// consilium-cli synth and inspect, run as a user would (QProcess on the built binary).
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace {

struct Run {
    int code = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(QStringLiteral(CONSILIUM_BIN_DIR "/consilium-cli"), args);
    Run r;
    if (!p.waitForFinished(120000)) return r;
    r.code = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace

class TestImagingCli : public QObject {
    Q_OBJECT

  private slots:
    void synthThenInspectJson() {
        QTemporaryDir tmp;
        const Run synth = cli({"synth", "--out", tmp.path(), "--cases", "2", "--seed", "41",
                               "--matrix", "128", "--slices", "24", "--nodules", "1"});
        QCOMPARE(synth.code, 0);
        QVERIFY(QFile::exists(tmp.filePath("case_000/truth.json")));
        QVERIFY(QFile::exists(tmp.filePath("case_001/dicom/IM00024")));
        QFile truthFile(tmp.filePath("case_001/truth.json"));
        QVERIFY(truthFile.open(QIODevice::ReadOnly));
        const QJsonObject truth = QJsonDocument::fromJson(truthFile.readAll()).object();
        QCOMPARE(truth["seed"].toInt(), 42);
        QCOMPARE(truth["dims"].toArray()[2].toInt(), 24);

        const Run inspect = cli({"inspect", "--study", tmp.filePath("case_001"), "--json"});
        QCOMPARE(inspect.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(inspect.out).object();
        const QJsonArray series = o["series"].toArray();
        QCOMPARE(series.size(), 1);
        const QJsonObject s = series[0].toObject();
        QCOMPARE(s["series_instance_uid"].toString(), truth["series_instance_uid"].toString());
        QCOMPARE(s["dims"].toArray()[0].toInt(), 128);
        QCOMPARE(s["dims"].toArray()[2].toInt(), 24);
        QCOMPARE(s["units"].toString(), QString("HU"));
        QVERIFY(s["model_input"].toBool());  // what ask reads
        QVERIFY(s["model_exclusion"].isNull());
        QVERIFY(s["value_range"].toArray()[0].toDouble() <= -990);
        QCOMPARE(s["transfer_syntax_uids"].toArray()[0].toString(), QString("1.2.840.10008.1.2.1"));
        QCOMPARE(s["spacing_mm"].toArray()[2].toDouble(),
                 truth["spacing_mm"].toArray()[2].toDouble());
        // truth.json, patient_record.txt and questions.txt are listed as skipped, with reasons.
        const QJsonArray skipped = o["skipped"].toArray();
        QCOMPARE(skipped.size(), 3);
        QVERIFY(skipped[0].toObject()["reason"].toString().contains("not a DICOM file"));
    }

    // --grid: the model's CT input read back through the app's loader (docs/MODEL.md 3.1).
    void synthGridForTraining() {
        QTemporaryDir tmp;
        const QStringList common{"--cases", "1",        "--seed", "7",      "--matrix",
                                 "64",      "--slices", "16",     "--grid", "8,16,16"};
        const Run keep = cli(QStringList{"synth", "--out", tmp.filePath("keep")} + common);
        QCOMPARE(keep.code, 0);
        const Run only =
            cli(QStringList{"synth", "--out", tmp.filePath("only"), "--grid-only"} + common);
        QCOMPARE(only.code, 0);
        QVERIFY(QFile::exists(tmp.filePath("keep/case_000/dicom/IM00016")));
        QVERIFY(!QFileInfo::exists(tmp.filePath("only/case_000/dicom")));
        QFile a(tmp.filePath("keep/case_000/ct_grid.f32")),
            b(tmp.filePath("only/case_000/ct_grid.f32"));
        QVERIFY(a.open(QIODevice::ReadOnly) && b.open(QIODevice::ReadOnly));
        const QByteArray grid = a.readAll();
        QCOMPARE(grid.size(), 8 * 16 * 16 * 4);
        QCOMPARE(grid, b.readAll());
        const auto* v = reinterpret_cast<const float*>(grid.constData());
        float lo = 1, hi = 0;
        for (int i = 0; i < 8 * 16 * 16; ++i) {
            lo = std::min(lo, v[i]);
            hi = std::max(hi, v[i]);
        }
        QVERIFY(lo < 0.3f);  // air and lung sit low in the lung window
        QVERIFY(hi > 0.8f);  // soft tissue is near the top of it
        QFile jf(tmp.filePath("keep/case_000/ct_grid.json"));
        QVERIFY(jf.open(QIODevice::ReadOnly));
        const QJsonObject j = QJsonDocument::fromJson(jf.readAll()).object();
        QCOMPARE(j["dims"].toArray()[2].toInt(), 16);
        QCOMPARE(j["sop"].toArray().size(), 16);
        QCOMPARE(j["axes"].toArray()[2].toArray()[2].toDouble(), 1.0);

        // The lobe labels beside the grid; --lobes-only writes the same file and nothing else.
        const Run lobes =
            cli(QStringList{"synth", "--out", tmp.filePath("lobes"), "--lobes-only"} + common);
        QCOMPARE(lobes.code, 0);
        QVERIFY(!QFileInfo::exists(tmp.filePath("lobes/case_000/dicom")));
        QVERIFY(!QFileInfo::exists(tmp.filePath("lobes/case_000/ct_grid.f32")));
        QFile la(tmp.filePath("keep/case_000/ct_lobes.u8")),
            lb(tmp.filePath("lobes/case_000/ct_lobes.u8"));
        QVERIFY(la.open(QIODevice::ReadOnly) && lb.open(QIODevice::ReadOnly));
        const QByteArray labels = la.readAll();
        QCOMPARE(labels.size(), 8 * 16 * 16);
        QCOMPARE(labels, lb.readAll());
        int lung = 0, max = 0;
        for (char c : labels) {
            lung += c != 0;
            max = std::max(max, int(uchar(c)));
        }
        QVERIFY(lung > 0 && lung < labels.size());
        QVERIFY(max <= 5);

        const Run bad = cli({"synth", "--out", tmp.filePath("bad"), "--grid", "8,16"});
        QCOMPARE(bad.code, 2);
        QVERIFY(bad.err.contains("--grid"));
        const Run noGrid = cli({"synth", "--out", tmp.filePath("bad"), "--lobes-only"});
        QCOMPARE(noGrid.code, 2);
        QVERIFY(noGrid.err.contains("--lobes-only"));
        const Run both =
            cli(QStringList{"synth", "--out", tmp.filePath("bad"), "--lobes-only", "--grid-only"} +
                common);
        QCOMPARE(both.code, 2);
        QVERIFY(both.err.contains("exclude"));
    }

    void badInputExitsTwoWithOneLine() {
        const Run noOut = cli({"synth", "--cases", "1"});
        QCOMPARE(noOut.code, 2);
        QVERIFY(noOut.err.contains("--out"));
        const Run badCases = cli({"synth", "--out", "/tmp/x", "--cases", "zero"});
        QCOMPARE(badCases.code, 2);
        const Run missing = cli({"inspect", "--study", "/nonexistent/study"});
        QCOMPARE(missing.code, 2);
        QVERIFY(missing.err.contains("/nonexistent/study"));
        QCOMPARE(missing.err.count('\n'), 1);
    }
};

QTEST_GUILESS_MAIN(TestImagingCli)
#include "test_imaging_cli.moc"
