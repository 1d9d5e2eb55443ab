// Record files: UTF-8 (English and Chinese, with a BOM too), legacy GB18030 Chinese,
// rejection of binary, oversized and missing files, and finding the record beside a study.
#include <QDir>
#include <QFile>
#include <QStringEncoder>
#include <QTemporaryDir>
#include <QtTest>

#include "app/record_file.h"

using consilium::app::findStudyRecord;
using consilium::app::readRecordFile;

namespace {
const QString kChinese = QString::fromUtf8("患者女，74岁，既往吸烟37包年，1年前戒烟。");

void write(const QString& path, const QByteArray& bytes) {
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
}
}  // namespace

class TestRecordFile : public QObject {
    Q_OBJECT
  private slots:
    void utf8() {
        QTemporaryDir dir;
        write(dir.filePath("a.txt"), kChinese.toUtf8());
        auto r = readRecordFile(dir.filePath("a.txt"));
        QVERIFY(r.ok);
        QCOMPARE(r.record.text, kChinese);
        QCOMPARE(r.record.encoding, QString("UTF-8"));
        write(dir.filePath("bom.md"), "\xEF\xBB\xBF" + QByteArray("Smoker, 30 pack-years."));
        r = readRecordFile(dir.filePath("bom.md"));
        QVERIFY(r.ok);
        QCOMPARE(r.record.text, QString("Smoker, 30 pack-years."));
    }

    void gb18030() {
        QTemporaryDir dir;
        QStringEncoder gb("GB18030");
        QVERIFY(gb.isValid());
        const QByteArray bytes = gb.encode(kChinese);
        QVERIFY(bytes != kChinese.toUtf8());
        write(dir.filePath("gb.txt"), bytes);
        const auto r = readRecordFile(dir.filePath("gb.txt"));
        QVERIFY2(r.ok, qPrintable(r.error));
        QCOMPARE(r.record.text, kChinese);
        QCOMPARE(r.record.encoding, QString("GB18030"));
    }

    void badFiles() {
        QTemporaryDir dir;
        auto r = readRecordFile(dir.filePath("missing.txt"));
        QVERIFY(!r.ok);
        QVERIFY(r.error.contains("missing.txt"));
        write(dir.filePath("bin.txt"), QByteArray("GGUF\0\0\x03", 7));
        r = readRecordFile(dir.filePath("bin.txt"));
        QVERIFY(!r.ok);
        QVERIFY(r.error.contains("binary"));
        write(dir.filePath("big.txt"), QByteArray(2000, 'a'));
        r = readRecordFile(dir.filePath("big.txt"), 1000);
        QVERIFY(!r.ok);
        QVERIFY(r.error.contains("big.txt"));
    }

    void recordBesideStudy() {
        QTemporaryDir dir;
        QCOMPARE(findStudyRecord(dir.path()), QString());
        write(dir.filePath("case_000/patient_record.txt"), "x");
        write(dir.filePath("case_000/dicom/1.dcm"), "x");
        QCOMPARE(findStudyRecord(dir.path()), dir.filePath("case_000/patient_record.txt"));
        QCOMPARE(findStudyRecord(dir.filePath("case_000")),
                 dir.filePath("case_000/patient_record.txt"));
        write(dir.filePath("case_001/patient_record.txt"), "y");
        QCOMPARE(findStudyRecord(dir.path()), QString());  // ambiguous: the user chooses
    }
};

QTEST_GUILESS_MAIN(TestRecordFile)
#include "test_record_file.moc"
