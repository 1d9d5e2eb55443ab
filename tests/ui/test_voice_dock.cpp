// The Voice dock end to end, offscreen: a spoken question made with espeak-ng is
// transcribed into the editable transcript and becomes the question on Enter; recording
// from the test harness's null ALSA device starts, shows a level and stops cleanly.
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "tests/ui/spoken_question.h"
#include "ui/main_window.h"

class TestVoiceDock : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void spokenFileBecomesTheQuestion() {
        QTemporaryDir dir;
        const QString wav = dir.filePath("question.wav");
        QString why;
        if (!speakQuestion(wav, &why)) {
            if (why.contains("not installed")) QSKIP(qPrintable(why));
            QFAIL(qPrintable(why));
        }

        consilium::ui::MainWindow w;
        QSignalSpy ready(&w, &consilium::ui::MainWindow::transcriptReady);
        w.transcribeAudioFile(wav);
        QVERIFY(ready.wait(90000));
        QCOMPARE(ready.first().at(0).toString(), QString("how old is the patient"));
        QVERIFY(ready.first().at(1).toBool());
        auto* transcript = w.findChild<QLineEdit*>("TranscriptEdit");
        QCOMPARE(transcript->text(), QString("how old is the patient"));
        QTest::keyClick(transcript, Qt::Key_Return);
        QCOMPARE(w.findChild<QPlainTextEdit*>("QuestionEdit")->toPlainText(),
                 QString("how old is the patient"));
        // Play it back (the harness's null output device), to the end.
        auto* play = w.findChild<QPushButton*>("PlayButton");
        QVERIFY(play->isEnabled());
        QSignalSpy played(&w, &consilium::ui::MainWindow::playbackFinished);
        play->click();
        QCOMPARE(play->text(), QString("■ Stop"));
        QVERIFY(played.wait(30000));
        QCOMPARE(played.first().first().toString(), QString());
        QCOMPARE(play->text(), QString("▶ Play"));
    }

    void unreadableAudioIsReported() {
        QTemporaryDir dir;
        QFile bad(dir.filePath("bad.wav"));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("RIFF this is not audio");
        bad.close();
        consilium::ui::MainWindow w;
        QSignalSpy ready(&w, &consilium::ui::MainWindow::transcriptReady);
        w.transcribeAudioFile(bad.fileName());
        QVERIFY(ready.wait(30000));
        QVERIFY(!ready.first().at(1).toBool());
        QVERIFY(w.findChild<QLabel*>("VoiceStatus")->text().contains("bad.wav"));
    }

    void recordsFromTheNullDevice() {
        consilium::ui::MainWindow w;
        auto* button = w.findChild<QPushButton*>("RecordButton");
        button->click();
        QTRY_COMPARE_WITH_TIMEOUT(button->text(), QString("■ Stop"), 20000);
        QTest::qWait(600);
        QSignalSpy ready(&w, &consilium::ui::MainWindow::transcriptReady);
        button->click();
        // Silence from the null device: recorded, then "not understood" (no speech).
        QVERIFY(ready.wait(60000));
        QVERIFY(!ready.first().at(1).toBool());
        QCOMPARE(button->text(), QString("● Record"));
        QVERIFY(w.findChild<QLabel*>("VoiceStatus")->text().startsWith("Not understood"));
    }
};

QTEST_MAIN(TestVoiceDock)
#include "test_voice_dock.moc"
