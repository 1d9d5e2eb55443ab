// The shipped model's accuracy through the product path: `consilium-cli synth` writes fresh
// chest CT cases from a seed never used in training (training: 100000.., validation:
// 900000.., demo study: 20261128), and `consilium-cli ask --json` answers questions about
// them; the answers are scored against each case's truth.json (issue 8, "Measured
// accuracy"). Four cases in CI; CONSILIUM_ACCURACY_CASES=N for the model card's figures,
// CONSILIUM_ACCURACY_MODEL=FILE to measure another model file.
// Prints one JSON line with every metric.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace {

// The shipped model, or CONSILIUM_ACCURACY_MODEL (a candidate measured before it ships).
QString modelFile() {
    const QString given = qEnvironmentVariable("CONSILIUM_ACCURACY_MODEL");
    return given.isEmpty()
               ? QStringLiteral(CONSILIUM_SOURCE_DIR "/resources/models/consilium-demo-q4_0.gguf")
               : given;
}
constexpr int kSeed = 700000;

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args) {
    QProcess p;
    p.start(CONSILIUM_BIN_DIR "/consilium-cli", args);
    if (!p.waitForFinished(300000)) p.kill();
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

std::array<double, 3> vec3(const QJsonValue& v) {
    const QJsonArray a = v.toArray();
    return {a[0].toDouble(), a[1].toDouble(), a[2].toDouble()};
}

double distance(const std::array<double, 3>& a, const std::array<double, 3>& b) {
    return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                     (a[2] - b[2]) * (a[2] - b[2]));
}

double median(std::vector<double> v) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double ratio(int a, int b) {
    return b ? double(a) / b : std::nan("");
}

// What "the same structured answer" compares (bench/spoken_vs_typed.py does the same):
// the answer text, the Lung-RADS category and the findings.
QJsonObject structured(const QJsonObject& a) {
    return {{"answer", a["answer"]}, {"lung_rads", a["lung_rads"]}, {"findings", a["findings"]}};
}

// Sentences of the speech grammar (resources/questions/questions.json), typed as spoken.
const QStringList kSpokenQuestions{QStringLiteral("how many nodules are there"),
                                   QStringLiteral("how old is the patient"),
                                   QStringLiteral("what is the lung rads category")};

// Index of the largest modality weight (image, record, voice, question).
int strongestModality(const QJsonObject& answer) {
    const QJsonObject w = answer["modality_weights"].toObject();
    const std::array<double, 4> v{w["image"].toDouble(), w["record"].toDouble(),
                                  w["voice"].toDouble(), w["question"].toDouble()};
    return int(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

class TestModelAccuracy : public QObject {
    Q_OBJECT

  private slots:
    void shippedModelOnFreshCases() {
        const QString model = modelFile();
        QVERIFY2(QFileInfo::exists(model), qPrintable(model + " is missing"));
        const int nCases = qEnvironmentVariableIsSet("CONSILIUM_ACCURACY_CASES")
                               ? qEnvironmentVariableIntValue("CONSILIUM_ACCURACY_CASES")
                               : 4;
        QVERIFY(nCases > 0);
        QTemporaryDir tmp;
        const Run synth = cli({"synth", "--out", tmp.path(), "--cases", QString::number(nCases),
                               "--seed", QString::number(kSeed)});
        QVERIFY2(synth.exitCode == 0, synth.err.constData());

        int nodules = 0, found = 0, falsePositives = 0, typeOk = 0, lobeOk = 0, lungRadsOk = 0;
        int countOk = 0, ageOk = 0, packYearsOk = 0, recordGateOk = 0, imageGateOk = 0;
        int peakOk = 0, peakAsked = 0, wellFormed = 0;
        // The answer text against the structured answer (answer_checks) and the truth.
        int lungRadsTextOk = 0, lungRadsTextAgrees = 0, countTextAgrees = 0, findingsCountOk = 0;
        int spokenAsked = 0, spokenHeard = 0, spokenSame = 0;
        const QString espeak = QStandardPaths::findExecutable("espeak-ng");
        if (espeak.isEmpty()) qWarning("espeak-ng is not installed: spoken questions not measured");
        std::vector<double> centreErr, diameterErr, latencyMs;
        for (int i = 0; i < nCases; ++i) {
            const QString dir = tmp.filePath(QString("case_%1").arg(i, 3, 10, QChar('0')));
            QFile tf(dir + "/truth.json");
            QVERIFY(tf.open(QIODevice::ReadOnly));
            const QJsonObject truth = QJsonDocument::fromJson(tf.readAll()).object();
            const QJsonArray truthNodules = truth["nodules"].toArray();
            const QJsonObject patient = truth["patient"].toObject();
            auto askWith = [&](const QStringList& input, bool withRecord) {
                QStringList args =
                    QStringList{"ask", "--study", dir + "/dicom", "--model", model, "--json"} +
                    input;
                if (withRecord) args << "--record" << dir + "/patient_record.txt";
                const Run r = cli(args);
                if (r.exitCode != 0) qWarning("%s", r.err.constData());
                const QJsonObject o = QJsonDocument::fromJson(r.out).object();
                latencyMs.push_back(o["timings_ms"].toObject()["total"].toDouble());
                return o;
            };
            auto ask = [&](const QString& question, bool withRecord) {
                return askWith({"--question", question}, withRecord);
            };

            // Scan questions: findings, Lung-RADS, count, the image carries the answer.
            const QJsonObject scan = ask("How many nodules are there?", false);
            QVERIFY2(!scan.isEmpty(), qPrintable(dir));
            lungRadsOk += scan["lung_rads"].toString() == truth["lung_rads"].toString();
            countOk += scan["answer"].toString().startsWith(QString::number(truthNodules.size()) +
                                                            " nodule");
            wellFormed += QRegularExpression("^([0-9]+ nodules?|No nodules)\\.$")
                              .match(scan["answer"].toString())
                              .hasMatch();
            imageGateOk += strongestModality(scan) == 0;
            const QJsonArray findings = scan["findings"].toArray();
            findingsCountOk += findings.size() == truthNodules.size();
            auto agrees = [](const QJsonObject& o, const char* field) {
                for (const QJsonValue& c : o["answer_checks"].toArray())
                    if (c.toObject()["field"].toString() == QLatin1String(field))
                        return c.toObject()["agree"].toBool();
                return false;
            };
            countTextAgrees += agrees(scan, "nodule_count");
            const QJsonObject category = ask("What is the Lung-RADS category?", false);
            lungRadsTextOk += category["answer"].toString() ==
                              QString("Lung-RADS %1.").arg(truth["lung_rads"].toString());
            lungRadsTextAgrees += agrees(category, "lung_rads");
            std::vector<bool> matched(size_t(findings.size()), false);
            for (const QJsonValue& tv : truthNodules) {
                const QJsonObject t = tv.toObject();
                if (t["diameter_mm"].toDouble() < 6) continue;
                ++nodules;
                const auto centre = vec3(t["centre_lps_mm"]);
                int best = -1;
                double bestD = std::max(10.0, t["diameter_mm"].toDouble());
                for (int k = 0; k < findings.size(); ++k) {
                    const double d = distance(vec3(findings[k].toObject()["center_mm"]), centre);
                    if (!matched[size_t(k)] && d <= bestD) {
                        best = k;
                        bestD = d;
                    }
                }
                if (best < 0) continue;
                matched[size_t(best)] = true;
                const QJsonObject f = findings[best].toObject();
                ++found;
                centreErr.push_back(bestD);
                diameterErr.push_back(
                    std::abs(f["diameter_mm"].toDouble() - t["diameter_mm"].toDouble()));
                typeOk += f["type"].toString() == t["type"].toString();
                lobeOk += f["lobe"].toString() == t["lobe"].toString();
            }
            // A finding that matches no >= 6 mm nodule and lies near no smaller one is false.
            for (int k = 0; k < findings.size(); ++k) {
                if (matched[size_t(k)]) continue;
                bool nearSmall = false;
                for (const QJsonValue& tv : truthNodules)
                    nearSmall |= distance(vec3(findings[k].toObject()["center_mm"]),
                                          vec3(tv.toObject()["centre_lps_mm"])) <= 10;
                falsePositives += !nearSmall;
            }

            // Where is it: the attention peak near the largest nodule.
            if (!truthNodules.isEmpty()) {
                QJsonObject largest;
                for (const QJsonValue& tv : truthNodules)
                    if (tv.toObject()["diameter_mm"].toDouble() > largest["diameter_mm"].toDouble())
                        largest = tv.toObject();
                const QJsonObject where = ask("Where is the largest nodule?", false);
                ++peakAsked;
                peakOk += distance(vec3(where["attention"].toObject()["peak_mm"]),
                                   vec3(largest["centre_lps_mm"])) <= 10;
            }

            // Record questions on the study's own record: the record carries the answer.
            const QJsonObject age = ask("How old is the patient?", true);
            ageOk += age["answer"].toString() == QString("%1 years.").arg(patient["age"].toInt());
            wellFormed +=
                QRegularExpression("^[0-9]+ years\\.$").match(age["answer"].toString()).hasMatch();
            recordGateOk += strongestModality(age) == 1;
            const QJsonObject py = ask("How many pack-years?", true);
            packYearsOk += py["answer"].toString() ==
                           QString("%1 pack-years.").arg(patient["pack_years"].toInt());
            wellFormed += QRegularExpression("^[0-9]+ pack-years\\.$")
                              .match(py["answer"].toString())
                              .hasMatch();
            recordGateOk += strongestModality(py) == 1;

            // Spoken and typed forms of a question give the same structured answer: the
            // sentence spoken by espeak-ng (voices alternate by case) against the same
            // sentence typed. Skipped without espeak-ng (CI installs it).
            if (!espeak.isEmpty()) {
                const QString voice = i % 2 ? QStringLiteral("en-gb") : QStringLiteral("en-us");
                for (const QString& q : kSpokenQuestions) {
                    const QString wav = tmp.filePath(QString("spoken_%1.wav").arg(i));
                    QCOMPARE(QProcess::execute(espeak, {"-v", voice, "-s", "150", "-w", wav, q}),
                             0);
                    const QJsonObject spoken = askWith({"--audio", wav}, true);
                    const QJsonObject typed = ask(q, true);
                    ++spokenAsked;
                    spokenHeard += spoken["transcript"].toString() == q;
                    spokenSame += !spoken.isEmpty() && structured(spoken) == structured(typed);
                }
            }
        }

        QJsonObject m;
        m["cases"] = nCases;
        m["seed"] = kSeed;
        m["nodules_ge6mm"] = nodules;
        m["nodules_ge6mm_found"] = ratio(found, nodules);
        m["false_positives_per_case"] = double(falsePositives) / nCases;
        m["median_centre_error_mm"] = median(centreErr);
        m["median_diameter_error_mm"] = median(diameterErr);
        m["type_accuracy"] = ratio(typeOk, found);
        m["lobe_accuracy"] = ratio(lobeOk, found);
        m["lung_rads_accuracy"] = ratio(lungRadsOk, nCases);
        m["count_answer_accuracy"] = ratio(countOk, nCases);
        m["findings_count_accuracy"] = ratio(findingsCountOk, nCases);
        m["count_answer_agrees_with_findings"] = ratio(countTextAgrees, nCases);
        m["lung_rads_answer_accuracy"] = ratio(lungRadsTextOk, nCases);
        m["lung_rads_answer_agrees_with_findings"] = ratio(lungRadsTextAgrees, nCases);
        m["age_answer_accuracy"] = ratio(ageOk, nCases);
        m["pack_years_answer_accuracy"] = ratio(packYearsOk, nCases);
        m["largest_weight_record_for_record_questions"] = ratio(recordGateOk, 2 * nCases);
        m["largest_weight_image_for_scan_questions"] = ratio(imageGateOk, nCases);
        m["attention_peak_within_10mm"] = ratio(peakOk, peakAsked);
        m["well_formed_answers"] = ratio(wellFormed, 3 * nCases);
        m["spoken_questions"] = spokenAsked;
        m["spoken_transcript_exact"] = ratio(spokenHeard, spokenAsked);
        m["spoken_equals_typed"] = ratio(spokenSame, spokenAsked);
        m["median_ask_ms"] = median(latencyMs);
        qInfo("accuracy %s", QJsonDocument(m).toJson(QJsonDocument::Compact).constData());

        // Floors for four cases, under the model card's figures on 40 (docs/MODEL_CARD.md):
        // they catch a broken model file, engine or preprocessing path (a random-weight model
        // answers nothing well-formed), not a small regression.
        QVERIFY2(ratio(wellFormed, 3 * nCases) >= 0.5, "answers in the trained answer forms");
        // Detection through the dense head (docs/MODEL.md 10; the model card: 70 % found at
        // 0.175 false positives per case on 40 cases, 5 of 6 at 0.25 on these four), and
        // Lung-RADS from its findings by the v2022 rules (75 % on 40 cases, 3 of these four).
        QVERIFY2(ratio(found, nodules) >= 0.5, "nodules >= 6 mm found");
        QVERIFY2(double(falsePositives) / nCases <= 0.5, "false positives per case");
        QVERIFY2(ratio(lungRadsOk, nCases) >= 0.5, "Lung-RADS category");
        QVERIFY2(ratio(imageGateOk, nCases) >= 0.75, "modality weights, scan questions");
        QVERIFY2(ratio(recordGateOk, 2 * nCases) >= 0.75, "modality weights, record questions");
        // The answer is read from the record (the model card: 100 % and 100 % on 40 cases).
        QVERIFY2(ratio(ageOk, nCases) >= 0.5, "age read from the record");
        QVERIFY2(ratio(packYearsOk, nCases) >= 0.5, "pack-years read from the record");
        // Spoken and typed forms agree (the model card: 98 % of 120 on 40 cases; the file
        // before step 7 of the recipe: 83 %).
        if (spokenAsked > 0)
            QVERIFY2(ratio(spokenSame, spokenAsked) >= 0.9, "spoken and typed questions agree");
    }
};

QTEST_GUILESS_MAIN(TestModelAccuracy)
#include "test_model_accuracy.moc"
