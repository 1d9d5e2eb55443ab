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
        QVERIFY(s["value_range"].toArray()[0].toDouble() <= -990);
        QCOMPARE(s["transfer_syntax_uids"].toArray()[0].toString(), QString("1.2.840.10008.1.2.1"));
        QCOMPARE(s["spacing_mm"].toArray()[2].toDouble(),
                 truth["spacing_mm"].toArray()[2].toDouble());
        // truth.json, patient_record.txt and questions.txt are listed as skipped, with reasons.
        const QJsonArray skipped = o["skipped"].toArray();
        QCOMPARE(skipped.size(), 3);
        QVERIFY(skipped[0].toObject()["reason"].toString().contains("not a DICOM file"));
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
