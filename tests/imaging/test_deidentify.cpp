// De-identification (PS3.15 E.1 Basic Application Level Confidentiality Profile) of real
// files from the pydicom corpus, checked with pydicom as the independent reader.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "imaging/deidentify.h"
#include "imaging/study_loader.h"

using namespace consilium;
using namespace consilium::imaging;

namespace {

const QString kCorpus = QStringLiteral("/usr/lib/python3/dist-packages/pydicom/data/test_files");

QJsonArray dumpTags(const QStringList& files) {
    QProcess py;
    py.start("/usr/bin/python3",
             QStringList{CONSILIUM_SOURCE_DIR "/tests/imaging/dump_tags.py"} + files);
    if (!py.waitForFinished(60000) || py.exitCode() != 0) {
        qWarning("dump_tags.py failed: %s", py.readAllStandardError().constData());
        return {};
    }
    return QJsonDocument::fromJson(py.readAllStandardOutput()).array();
}

// Attributes PS3.15 Table E.1-1 removes (X) or empties (Z), a sample across modules.
const char* kRemovedOrEmptied[] = {
    "00080080" /* Institution Name */,
    "00080081" /* Institution Address */,
    "00081010" /* Station Name */,
    "00081030" /* Study Description */,
    "0008103E" /* Series Description */,
    "00081040" /* Institutional Department Name */,
    "00081048" /* Physician(s) of Record */,
    "00081050" /* Performing Physician's Name */,
    "00081070" /* Operators' Name */,
    "00101010" /* Patient's Age */,
    "00101020" /* Patient's Size */,
    "00101030" /* Patient's Weight */,
    "00101040" /* Patient's Address */,
    "00181000" /* Device Serial Number */,
    "00181030" /* Protocol Name */,
    "00204000" /* Image Comments */,
    "00080021" /* Series Date */,
    "00080022" /* Acquisition Date */,
    "00080031" /* Series Time */,
    "00080032" /* Acquisition Time */,
};
const char* kEmptyIfPresent[] = {"00080050" /* Accession */,  "00080090" /* Referring Physician */,
                                 "00100030" /* Birth Date */, "00080020" /* Study Date */,
                                 "00080030" /* Study Time */, "00200010" /* Study ID */};

}  // namespace

class TestDeidentify : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() {
        if (!QFile::exists(kCorpus + "/CT_small.dcm"))
            QSKIP("python3-pydicom test corpus not installed");
    }

    void basicProfileOnRealFiles() {
        QTemporaryDir tmp;
        const QStringList names{"CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm",
                                "JPEG2000.dcm"};
        QStringList inputs, outputs;
        UidRemapper uids("test-secret");
        for (const QString& n : names) {
            inputs << kCorpus + "/" + n;
            outputs << tmp.filePath(n);
            QVERIFY(deidentifyFile(inputs.last().toStdString(), outputs.last().toStdString(), uids)
                        .ok());
        }
        const QJsonArray before = dumpTags(inputs);
        const QJsonArray after = dumpTags(outputs);
        QCOMPARE(before.size(), names.size());
        QCOMPARE(after.size(), names.size());

        int removedChecked = 0;
        for (int i = 0; i < names.size(); ++i) {
            const QJsonObject b = before[i].toObject(), a = after[i].toObject();
            const QJsonObject bv = b["values"].toObject(), av = a["values"].toObject();
            QStringList afterTags;
            for (const auto& t : a["tags"].toArray())
                afterTags << t.toString();
            QCOMPARE(a["private"].toInt(), 0);
            for (const char* tag : kRemovedOrEmptied) {
                if (!bv.contains(tag)) continue;
                ++removedChecked;
                QVERIFY2(!afterTags.contains(tag) || av[tag].toString().isEmpty(),
                         qPrintable(names[i] + " keeps " + tag));
            }
            for (const char* tag : kEmptyIfPresent)
                QVERIFY2(av[tag].toString().isEmpty(),
                         qPrintable(names[i] + " " + tag + " = " + av[tag].toString()));
            QCOMPARE(av["00100010"].toString(), QString("ANONYMOUS"));
            QCOMPARE(av["00100020"].toString(), QString("ANON"));
            QCOMPARE(av["00120062"].toString(), QString("YES"));
            QVERIFY(a["codes"].toArray().contains(QJsonValue("113100")));
            // UIDs: instance UIDs replaced, SOP class kept, meta header follows the data set.
            for (const char* uid : {"00080018", "0020000D", "0020000E"}) {
                QVERIFY(!av[uid].toString().isEmpty());
                QVERIFY2(av[uid].toString() != bv[uid].toString(), uid);
                QVERIFY(av[uid].toString().startsWith("2.25."));
            }
            QCOMPARE(av["00080016"].toString(), bv["00080016"].toString());
            QCOMPARE(a["meta_sop_instance_uid"].toString(), av["00080018"].toString());
            // The original name and ID are nowhere in the file.
            QFile f(outputs[i]);
            QVERIFY(f.open(QIODevice::ReadOnly));
            const QByteArray bytes = f.readAll();
            QVERIFY(!bytes.contains(bv["00100010"].toString().toUtf8()));
            QVERIFY(!bytes.contains(bv["00100020"].toString().toUtf8()));
            // (Manufacturer is kept by the profile; MR_small's institution name is part of it.)
            if (bv.contains("00080080") &&
                !bv["00080070"].toString().contains(bv["00080080"].toString()))
                QVERIFY(!bytes.contains(bv["00080080"].toString().toUtf8()));
            // Pixels unchanged.
            auto original = loadVolume(inputs[i].toStdString());
            auto cleaned = loadVolume(outputs[i].toStdString());
            QVERIFY(original.ok() && cleaned.ok());
            QCOMPARE(cleaned->dims, original->dims);
            for (size_t k = 0; k < original->voxelCount(); ++k)
                if (original->at(k) != cleaned->at(k))
                    QFAIL(qPrintable(names[i] + ": pixel changed"));
        }
        QVERIFY(removedChecked >= 10);
        // Consistent remapping: MR_small and MR_small_implicit are one study.
        const QJsonObject mr = after[1].toObject()["values"].toObject();
        const QJsonObject mrImplicit = after[2].toObject()["values"].toObject();
        QCOMPARE(before[1].toObject()["values"].toObject()["0020000D"],
                 before[2].toObject()["values"].toObject()["0020000D"]);
        QCOMPARE(mr["0020000D"].toString(), mrImplicit["0020000D"].toString());
        QVERIFY(mr["0020000D"].toString() !=
                after[0].toObject()["values"].toObject()["0020000D"].toString());
        // Another secret maps differently.
        UidRemapper other("another-secret");
        QVERIFY(other.map("1.2.3.4") != uids.map("1.2.3.4"));
        QCOMPARE(uids.map("1.2.3.4"), uids.map("1.2.3.4"));
    }

    void errorsNameTheFile() {
        UidRemapper uids("s");
        const Status missing = deidentifyFile("/nonexistent/x.dcm", "/tmp/y.dcm", uids);
        QVERIFY(!missing.ok());
        QCOMPARE(errorCodeName(missing.error().code), "NotFound");
        QVERIFY(missing.error().message.find("/nonexistent/x.dcm") != std::string::npos);
    }

    void redactsIdentifiersFromText() {
        const std::string line = "Loaded study of Doe^John (ID 12345): John Doe, 3 series";
        const std::string out = redactIdentifiers(line, {"Doe^John", "12345", ""});
        QCOMPARE(
            out,
            std::string(
                "Loaded study of [redacted] (ID [redacted]): [redacted] [redacted], 3 series"));
    }
};

QTEST_GUILESS_MAIN(TestDeidentify)
#include "test_deidentify.moc"
