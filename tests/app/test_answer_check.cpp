// The answer text against the structured answer: which claims are read (Lung-RADS, nodule
// count, in English and Chinese), which texts make none, agreement, the notes and the JSON.
#include <QJsonObject>
#include <QtTest>

#include "app/answer_check.h"

using consilium::app::answerChecksJson;
using consilium::app::AnswerClaim;
using consilium::app::answerClaims;
using consilium::app::disagreementNote;

Q_DECLARE_METATYPE(QStringList)

class TestAnswerCheck : public QObject {
    Q_OBJECT
  private slots:
    void claims_data() {
        QTest::addColumn<QString>("answer");
        QTest::addColumn<QString>("lungRads");
        QTest::addColumn<int>("findings");
        // Each claim as "field answer structured agree".
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("category agrees") << "Lung-RADS 4B."
                                         << "4B" << 2 << QStringList{"lung_rads 4B 4B 1"};
        QTest::newRow("category differs") << "Lung-RADS 4A."
                                          << "4B" << 2 << QStringList{"lung_rads 4A 4B 0"};
        QTest::newRow("category, Chinese") << QString::fromUtf8("Lung-RADS 4A类。") << "4A" << 1
                                           << QStringList{"lung_rads 4A 4A 1"};
        QTest::newRow("category 1") << "Lung-RADS 1."
                                    << "2" << 0 << QStringList{"lung_rads 1 2 0"};
        QTest::newRow("no category to check") << "Lung-RADS 3."
                                              << "" << 1 << QStringList{};
        QTest::newRow("summary: the category, not a count")
            << "67-year-old male, former smoker; largest nodule 12 mm solid in the right upper "
               "lobe; Lung-RADS 4A."
            << "4A" << 3 << QStringList{"lung_rads 4A 4A 1"};
        QTest::newRow("summary, Chinese")
            << QString::fromUtf8("67岁，最大结节12毫米，实性，位于右肺上叶；Lung-RADS 4B类。")
            << "4A" << 1 << QStringList{"lung_rads 4B 4A 0"};
        QTest::newRow("count") << "3 nodules."
                               << "3" << 2 << QStringList{"nodule_count 3 2 0"};
        QTest::newRow("count of one") << "1 nodule."
                                      << "3" << 1 << QStringList{"nodule_count 1 1 1"};
        QTest::newRow("presence") << "Yes, 2 nodules."
                                  << "4A" << 2 << QStringList{"nodule_count 2 2 1"};
        QTest::newRow("none") << "No nodules."
                              << "1" << 1 << QStringList{"nodule_count 0 1 0"};
        QTest::newRow("count, Chinese")
            << QString::fromUtf8("2个结节。") << "3" << 2 << QStringList{"nodule_count 2 2 1"};
        QTest::newRow("presence, Chinese") << QString::fromUtf8("有，共12个结节。") << "3" << 2
                                           << QStringList{"nodule_count 12 2 0"};
        QTest::newRow("none, Chinese")
            << QString::fromUtf8("没有结节。") << "1" << 0 << QStringList{"nodule_count 0 0 1"};
        QTest::newRow("size: no claim") << "12 mm."
                                        << "4A" << 1 << QStringList{};
        QTest::newRow("location: no claim") << "Right upper lobe, slice 31."
                                            << "4A" << 1 << QStringList{};
        QTest::newRow("age: no claim") << "57 years."
                                       << "2" << 1 << QStringList{};
        QTest::newRow("a count inside a sentence is not one")
            << "Chest CT; 3 nodules were seen before."
            << "4B" << 1 << QStringList{};
        QTest::newRow("empty") << ""
                               << "2" << 0 << QStringList{};
    }

    void claims() {
        QFETCH(QString, answer);
        QFETCH(QString, lungRads);
        QFETCH(int, findings);
        QFETCH(QStringList, expected);
        QStringList got;
        for (const AnswerClaim& c : answerClaims(answer, lungRads, findings))
            got << QString("%1 %2 %3 %4").arg(c.field, c.answer, c.structured).arg(int(c.agree));
        QCOMPARE(got, expected);
    }

    void notesOnlyForDisagreement() {
        const auto claims = answerClaims("Lung-RADS 4A.", "4B", 1);
        QCOMPARE(claims.size(), size_t(1));
        const QString note = disagreementNote(claims[0]);
        QVERIFY2(note.contains("Lung-RADS 4A") && note.contains("4B"), qPrintable(note));
        QVERIFY(disagreementNote(answerClaims("Lung-RADS 4B.", "4B", 1)[0]).isEmpty());
        const QString count = disagreementNote(answerClaims("3 nodules.", "4B", 1)[0]);
        QVERIFY2(count.contains("3 nodule") && count.contains("list 1"), qPrintable(count));
    }

    void json() {
        const QJsonArray a = answerChecksJson(answerClaims("Yes, 2 nodules.", "3", 1));
        QCOMPARE(a.size(), 1);
        const QJsonObject o = a[0].toObject();
        QCOMPARE(o["field"].toString(), QString("nodule_count"));
        QCOMPARE(o["answer"].toString(), QString("2"));
        QCOMPARE(o["structured"].toString(), QString("1"));
        QCOMPARE(o["agree"].toBool(), false);
        QVERIFY(answerChecksJson(answerClaims("57 years.", "3", 1)).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestAnswerCheck)
#include "test_answer_check.moc"
