// End-to-end: consilium-cli ask on the demo study (made at build time by consilium-cli synth)
// with the random-weight golden model. The answers are meaningless (no trained model yet);
// the test checks the JSON contract of issue 8 and its invariants, and that bad input exits 2.
#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtEndian>
#include <QtTest>

#include <cmath>

#include "imaging/study_loader.h"

using namespace consilium;

namespace {

const QString kStudy = QStringLiteral(CONSILIUM_BINARY_DIR "/resources/demo-study");
const QString kModel =
    QStringLiteral(CONSILIUM_SOURCE_DIR "/tests/data/consilium_golden/consilium-golden-q4_0.gguf");

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run runCli(const QStringList& args) {
    QProcess p;
    p.start(CONSILIUM_BIN_DIR "/consilium-cli", QStringList{"ask"} + args);
    if (!p.waitForFinished(60000)) p.kill();
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

// 16-bit PCM mono WAV: a 1.2 s chirp.
bool writeWav(const QString& path, int rate, double seconds) {
    const int n = int(rate * seconds);
    QByteArray data;
    for (int i = 0; i < n; ++i) {
        const double t = double(i) / rate;
        const qint16 s = qint16(8000 * std::sin(2 * M_PI * (200 + 300 * t) * t));
        data.append(char(s & 0xff)).append(char((s >> 8) & 0xff));
    }
    auto u32 = [](quint32 v) {
        QByteArray b(4, 0);
        qToLittleEndian(v, b.data());
        return b;
    };
    auto u16 = [](quint16 v) {
        QByteArray b(2, 0);
        qToLittleEndian(v, b.data());
        return b;
    };
    QByteArray w = "RIFF" + u32(quint32(36 + data.size())) + "WAVEfmt " + u32(16) + u16(1) +
                   u16(1) + u32(quint32(rate)) + u32(quint32(rate * 2)) + u16(2) + u16(16) +
                   "data" + u32(quint32(data.size())) + data;
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(w) == w.size();
}

}  // namespace

class TestCliAsk : public QObject {
    Q_OBJECT
  private:
    QTemporaryDir m_tmp;
    imaging::Volume m_volume;
    QSet<QString> m_uids;

    QString record() const { return m_tmp.filePath("record.txt"); }

    // Every coordinate triple of the contract lies inside the study volume.
    void checkLocation(const QJsonObject& o, const char* centreKey) {
        const QJsonArray c = o[centreKey].toArray();
        QCOMPARE(c.size(), 3);
        const auto v = m_volume.toVoxel({c[0].toDouble(), c[1].toDouble(), c[2].toDouble()});
        for (int i = 0; i < 3; ++i) {
            QVERIFY2(v[size_t(i)] >= -0.5 && v[size_t(i)] <= m_volume.dims[size_t(i)] - 0.5,
                     qPrintable(QStringLiteral("%1 voxel %2 = %3 outside [0, %4)")
                                    .arg(centreKey)
                                    .arg(i)
                                    .arg(v[size_t(i)])
                                    .arg(m_volume.dims[size_t(i)])));
        }
        QVERIFY(m_uids.contains(o["sop_instance_uid"].toString()));
        const int row = o["row"].toInt(-1), col = o["col"].toInt(-1);
        QVERIFY(row >= 0 && row < m_volume.dims[1]);
        QVERIFY(col >= 0 && col < m_volume.dims[0]);
        QVERIFY(std::abs(row - v[1]) <= 0.5 + 1e-6 && std::abs(col - v[0]) <= 0.5 + 1e-6);
    }

    QJsonObject askOk(const QStringList& args) {
        const Run r = runCli(args + QStringList{"--model", kModel, "--json"});
        if (r.exitCode != 0) qWarning() << r.exitCode << r.err;
        QJsonParseError e{};
        const QJsonDocument doc = QJsonDocument::fromJson(r.out, &e);
        if (r.exitCode != 0 || e.error != QJsonParseError::NoError) return {};
        return doc.object();
    }

    // answer_checks: each claim names what the answer text says and what the structured
    // answer says (lung_rads, or the number of findings), and agrees when they are equal.
    void checkAnswerChecks(const QJsonObject& j) {
        QVERIFY(j["answer_checks"].isArray());
        for (const auto& cv : j["answer_checks"].toArray()) {
            const QJsonObject c = cv.toObject();
            const QString field = c["field"].toString();
            QVERIFY2(field == "lung_rads" || field == "nodule_count", qPrintable(field));
            QVERIFY(j["answer"].toString().contains(c["answer"].toString()));
            QCOMPARE(c["structured"].toString(),
                     field == "lung_rads" ? j["lung_rads"].toString()
                                          : QString::number(j["findings"].toArray().size()));
            QCOMPARE(c["agree"].toBool(), c["answer"].toString() == c["structured"].toString());
        }
    }

    void checkContract(const QJsonObject& j, bool audio, bool recordGiven) {
        QVERIFY(!j.isEmpty());
        QVERIFY(j["answer"].isString());
        QCOMPARE(j.contains("transcript"), audio);
        const QSet<QString> types{"solid", "part-solid", "ground-glass"};
        const QSet<QString> lobes{"RUL", "RML", "RLL", "LUL", "LLL"};
        for (const auto& fv : j["findings"].toArray()) {
            const QJsonObject f = fv.toObject();
            checkLocation(f, "center_mm");
            QVERIFY(f["diameter_mm"].toDouble() > 0);
            QVERIFY(types.contains(f["type"].toString()));
            QVERIFY(lobes.contains(f["lobe"].toString()));
            QVERIFY(f["score"].toDouble() >= 0.5 && f["score"].toDouble() <= 1.0);
        }
        QVERIFY(QSet<QString>({"1", "2", "3", "4A", "4B"}).contains(j["lung_rads"].toString()));
        checkAnswerChecks(j);
        const QJsonObject w = j["modality_weights"].toObject();
        double sum = 0;
        for (const char* m : {"image", "record", "voice", "question"}) {
            QVERIFY(w[m].isDouble());
            QVERIFY(w[m].toDouble() >= 0);
            sum += w[m].toDouble();
        }
        QVERIFY2(std::abs(sum - 1.0) < 1e-5, qPrintable(QString::number(sum, 'g', 10)));
        QVERIFY(w["image"].toDouble() > 0);
        QCOMPARE(w["voice"].toDouble() > 0, audio);
        QCOMPARE(w["record"].toDouble() > 0, recordGiven);
        checkLocation(j["attention"].toObject(), "peak_mm");
        // The whole per-patch map: one weight per patch of the model grid, summing to 1, its
        // largest at the peak patch.
        const QJsonObject map = j["attention"].toObject()["map"].toObject();
        const QJsonArray grid = map["grid"].toArray(), patch = map["patch"].toArray();
        QCOMPARE(grid.size(), 3);
        QCOMPARE(patch.size(), 3);
        int patches = 1;
        for (int i = 0; i < 3; ++i)
            patches *= grid[i].toInt() / patch[i].toInt();
        const QJsonArray weights = map["weights"].toArray();
        QCOMPARE(weights.size(), patches);
        double mapSum = 0, best = -1;
        int argmax = -1;
        for (int i = 0; i < weights.size(); ++i) {
            mapSum += weights[i].toDouble();
            if (weights[i].toDouble() > best) best = weights[i].toDouble(), argmax = i;
        }
        QVERIFY(std::abs(mapSum - 1.0) < 1e-4);
        QCOMPARE(argmax, j["attention"].toObject()["patch"].toInt());
        const QJsonArray experts = j["experts"].toArray();
        QVERIFY(!experts.isEmpty());
        for (const auto& tv : experts) {
            const QJsonArray layers = tv.toObject()["layers"].toArray();
            QCOMPARE(layers.size(), 2);
            for (const auto& lv : layers) {
                const QJsonArray e = lv.toObject()["experts"].toArray();
                const QJsonArray ew = lv.toObject()["weights"].toArray();
                QCOMPARE(e.size(), 2);
                QVERIFY(e[0].toInt() != e[1].toInt());
                QVERIFY(e[0].toInt() >= 0 && e[0].toInt() < 8 && e[1].toInt() >= 0 &&
                        e[1].toInt() < 8);
                QVERIFY(ew[0].toDouble() >= ew[1].toDouble());
                QVERIFY(std::abs(ew[0].toDouble() + ew[1].toDouble() - 1.0) < 1e-5);
            }
        }
        QFile mf(kModel);
        QVERIFY(mf.open(QIODevice::ReadOnly));
        const QJsonObject model = j["model"].toObject();
        QCOMPARE(model["sha256"].toString(),
                 QString::fromLatin1(
                     QCryptographicHash::hash(mf.readAll(), QCryptographicHash::Sha256).toHex()));
        QVERIFY(model["file"].toString().endsWith("consilium-golden-q4_0.gguf"));
        QCOMPARE(j["device"].toString(), QString("cpu"));
        QCOMPARE(j["precision"].toString(), QString("Q4_0"));
        const QJsonObject t = j["timings_ms"].toObject();
        QVERIFY(t["total"].toDouble() > 0);
        QVERIFY(t["total"].toDouble() >= t["decode"].toDouble());
    }

  private slots:
    void initTestCase() {
        if (!QFile::exists(kStudy)) QSKIP("demo study not built (ninja demo_study)");
        QVERIFY(m_tmp.isValid());
        QFile r(record());
        QVERIFY(r.open(QIODevice::WriteOnly));
        r.write(
            "Patient: 63-year-old former smoker, 40 pack-years. 2024 CT: 5 mm solid nodule "
            "in the right upper lobe. Allergies: none.\n");
        r.close();
        auto vol = imaging::loadVolume(kStudy.toStdString());
        QVERIFY(vol.ok());
        m_volume = vol.value();
        for (const auto& s : m_volume.slices)
            m_uids.insert(QString::fromStdString(s.sopInstanceUid));
    }

    void typedQuestionWithRecord() {
        const QJsonObject j = askOk({"--study", kStudy, "--record", record(), "--question",
                                     "How large is the nodule in the right upper lobe?"});
        checkContract(j, false, true);
        QCOMPARE(j["question"].toString(),
                 QString("How large is the nodule in the right upper lobe?"));
        QVERIFY(!j["record_evidence"].toArray().isEmpty());
    }

    void answerTextAgainstTheFindings() {
        // The shipped model answers in its own words; the claims its text makes are checked
        // against lung_rads and the findings, and a disagreement is said on stderr.
        const QString shipped =
            QStringLiteral(CONSILIUM_SOURCE_DIR "/resources/models/consilium-demo-q4_0.gguf");
        const struct {
            const char* question;
            const char* field;
        } asks[] = {{"What is the Lung-RADS category?", "lung_rads"},
                    {"How many nodules are there?", "nodule_count"},
                    {"有几个结节？", "nodule_count"}};
        for (const auto& a : asks) {
            const Run r = runCli({"--study", kStudy, "--question", QString::fromUtf8(a.question),
                                  "--model", shipped, "--json"});
            QCOMPARE(r.exitCode, 0);
            const QJsonObject j = QJsonDocument::fromJson(r.out).object();
            checkAnswerChecks(j);
            const QJsonArray checks = j["answer_checks"].toArray();
            QVERIFY2(checks.size() == 1 && checks[0].toObject()["field"].toString() == a.field,
                     qPrintable(j["answer"].toString()));
            QCOMPARE(QString::fromUtf8(r.err).contains("The answer text"),
                     !checks[0].toObject()["agree"].toBool());
        }
    }

    void spokenQuestion() {
        // Real speech: the transcript becomes the question.
        const QString espeak = QStandardPaths::findExecutable("espeak-ng");
        if (espeak.isEmpty()) QSKIP("espeak-ng is not installed");
        const QString speech = m_tmp.filePath("speech.wav");
        QCOMPARE(QProcess::execute(
                     espeak, {"-v", "en-us", "-s", "150", "-w", speech, "how old is the patient"}),
                 0);
        const QJsonObject j = askOk({"--study", kStudy, "--audio", speech});
        checkContract(j, true, false);
        QCOMPARE(j["transcript"].toString(), QString("how old is the patient"));
        QCOMPARE(j["question"].toString(), QString("how old is the patient"));
        QVERIFY(j["modality_weights"].toObject()["voice"].toDouble() > 0.0);
    }

    void toneWithTypedQuestion() {
        // Not speech: no transcript, the typed question stays; without one, exit 2.
        const QString wav = m_tmp.filePath("q.wav");
        QVERIFY(writeWav(wav, 22050, 1.2));
        const QJsonObject j =
            askOk({"--study", kStudy, "--audio", wav, "--question", "How old is the patient?"});
        checkContract(j, true, false);
        QCOMPARE(j["transcript"].toString(), QString());
        QCOMPARE(j["question"].toString(), QString("How old is the patient?"));
        const Run r = runCli({"--study", kStudy, "--audio", wav, "--model", kModel});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(QString::fromUtf8(r.err).contains(wav), r.err.constData());
    }

    void burnedInSeriesIsNeverModelInput() {
        // Two copies of the demo series; the annotated one sorts first and is as long, so only
        // its BurnedInAnnotation keeps the model off it.
        const QString dir = m_tmp.filePath("mixed");
        QProcess py;
        py.start(
            "/usr/bin/python3",
            {QStringLiteral(CONSILIUM_SOURCE_DIR "/tests/app/mark_burned_in.py"), kStudy, dir});
        QVERIFY(py.waitForFinished(120000));
        QVERIFY2(py.exitCode() == 0, py.readAllStandardError().constData());
        const QString annotatedUid = QString::fromUtf8(py.readAllStandardOutput()).trimmed();
        QVERIFY(!annotatedUid.isEmpty());

        const QStringList ask{"--study", dir,    "--question", "Is there a lung nodule?",
                              "--model", kModel, "--json"};
        Run r = runCli(ask);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject series = QJsonDocument::fromJson(r.out).object()["series"].toObject();
        QCOMPARE(series["description"].toString(), QStringLiteral("Chest 1.0 synthetic phantom"));
        QCOMPARE(series["modality"].toString(), QStringLiteral("CT"));
        QCOMPARE(series["slices"].toInt(), m_volume.dims[2]);
        QVERIFY(!series["uid"].toString().isEmpty() && series["uid"].toString() != annotatedUid);
        const QString err = QString::fromUtf8(r.err);
        QVERIFY2(err.contains("series 0 (Annotated copy): burned-in annotation") &&
                     err.contains("not used as model input"),
                 qPrintable(err));
        QVERIFY2(!err.contains(annotatedUid), "a UID in a message");

        // inspect says which series ask reads and why the other is kept from the model.
        QProcess inspect;
        inspect.start(CONSILIUM_BIN_DIR "/consilium-cli", {"inspect", "--study", dir, "--json"});
        QVERIFY(inspect.waitForFinished(60000));
        int inputs = 0;
        for (const auto& v : QJsonDocument::fromJson(inspect.readAllStandardOutput())
                                 .object()["series"]
                                 .toArray()) {
            const QJsonObject s = v.toObject();
            const bool annotated = s["series_instance_uid"].toString() == annotatedUid;
            QCOMPARE(s["model_input"].toBool(), !annotated);
            QCOMPARE(s["model_exclusion"].toString().startsWith("burned-in annotation"), annotated);
            inputs += s["model_input"].toBool();
        }
        QCOMPARE(inputs, 1);

        // Asked for by UID, the annotated series is refused with the reason.
        r = runCli(ask + QStringList{"--series", annotatedUid});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.out.isEmpty());
        QVERIFY2(QString::fromUtf8(r.err).contains("no series usable as model input: series 0 "
                                                   "(Annotated copy): burned-in annotation"),
                 r.err.constData());
        // The clean one by UID is read; an unknown UID is an error.
        r = runCli(ask + QStringList{"--series", series["uid"].toString()});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        r = runCli(ask + QStringList{"--series", "1.2.3.4"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("the requested series is not in this study"), r.err.constData());
    }

    void badInputExits2_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("mentions");
        const QString missing = m_tmp.filePath("absent");
        const QString notWav = m_tmp.filePath("not.wav");
        QFile f(notWav);
        if (f.open(QIODevice::WriteOnly)) f.write("this is not audio");
        f.close();
        QTest::newRow("no study") << QStringList{"--study", missing,   "--question",
                                                 "x",       "--model", kModel}
                                  << missing;
        QTest::newRow("no record") << QStringList{"--study",    kStudy, "--record", missing,
                                                  "--question", "x",    "--model",  kModel}
                                   << missing;
        QTest::newRow("bad audio")
            << QStringList{"--study", kStudy, "--audio", notWav, "--model", kModel} << notWav;
        QTest::newRow("bad model")
            << QStringList{"--study", kStudy, "--question", "x", "--model", record()} << record();
        QTest::newRow("no model") << QStringList{"--study", kStudy,    "--question",
                                                 "x",       "--model", missing}
                                  << missing;
        QTest::newRow("no question")
            << QStringList{"--study", kStudy, "--model", kModel} << "--question";
        QTest::newRow("bad device") << QStringList{"--study",  kStudy, "--question", "x",
                                                   "--device", "tpu",  "--model",    kModel}
                                    << "tpu";
    }

    void badInputExits2() {
        QFETCH(QStringList, args);
        QFETCH(QString, mentions);
        const Run r = runCli(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.out.isEmpty());
        const QString err = QString::fromUtf8(r.err).trimmed();
        QCOMPARE(err.count('\n'), 0);
        QVERIFY2(err.contains(mentions), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestCliAsk)
#include "test_cli_ask.moc"
