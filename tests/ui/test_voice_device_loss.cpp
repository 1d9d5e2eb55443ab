// The Voice dock when the microphone stops delivering mid-recording (issues 4 and 9), with a
// real starving ALSA device (tests/audio/stalling_capture_device.h): the recording ends by
// itself, what was captured is kept (transcribed, and playable), and the dock still says
// that the device was lost after the transcript arrives. Its own executable: the device must
// be configured before PortAudio starts in the process.
#include <QLabel>
#include <QPushButton>
#include <QStandardPaths>
#include <QtTest>

#include "tests/audio/stalling_capture_device.h"
#include "ui/main_window.h"

class TestVoiceDeviceLoss : public QObject {
    Q_OBJECT
    consilium::testing::StallingCaptureDevice m_device;

  private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_device.install());
    }

    void lostMicrophoneKeepsTheAudioAndSaysSo() {
        consilium::ui::MainWindow w;
        auto* record = w.findChild<QPushButton*>("RecordButton");
        auto* status = w.findChild<QLabel*>("VoiceStatus");
        auto* play = w.findChild<QPushButton*>("PlayButton");
        QVERIFY(record && status && play);
        QVERIFY(!play->isEnabled());
        m_device.startWriter();
        QSignalSpy ready(&w, &consilium::ui::MainWindow::transcriptReady);
        record->click();
        QTRY_COMPARE_WITH_TIMEOUT(record->text(), QString("■ Stop"), 20000);
        // Nobody presses Stop: the starved device ends the recording.
        QVERIFY(ready.wait(60000));
        m_device.finish();
        QVERIFY(m_device.wrote());
        QCOMPARE(record->text(), QString("● Record"));
        QVERIFY(record->isEnabled());
        // A tone is no question: not understood, and the device loss is still in view.
        QVERIFY(!ready.first().at(1).toBool());
        const QString text = status->text();
        QVERIFY2(text.startsWith("Not understood"), qPrintable(text));
        QVERIFY2(text.contains("Recording stopped early: the audio device \"default\" "
                               "delivered no audio"),
                 qPrintable(text));
        // The audio captured before the stall was kept: it can be played back.
        QVERIFY(play->isEnabled());
    }
};

QTEST_MAIN(TestVoiceDeviceLoss)
#include "test_voice_device_loss.moc"
