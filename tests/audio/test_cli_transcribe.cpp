// End to end: consilium-cli transcribe on a synthesised file, on the null ALSA device, with
// no audio device at all, and with bad input.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "audio/audio_file.h"

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args,
        const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment()) {
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(CONSILIUM_BIN_DIR "/consilium-cli", args);
    Run r;
    if (!p.waitForFinished(120000)) return r;
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

}  // namespace

class TestCliTranscribe : public QObject {
    Q_OBJECT

  private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void transcribesAFile() {
        if (QStandardPaths::findExecutable("espeak-ng").isEmpty())
            QSKIP("espeak-ng is not installed");
        if (!QFile::exists("/usr/share/pocketsphinx/model/en-us/en-us/mdef"))
            QSKIP("pocketsphinx-en-us is not installed");
        const QString wav = m_dir.filePath("q.wav");
        QCOMPARE(QProcess::execute("espeak-ng", {"-v", "en-gb-x-rp", "-s", "150", "-w", wav,
                                                 "what is the lung rads category"}),
                 0);
        const Run r = cli({"transcribe", "--audio", wav, "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["understood"].toBool(), true);
        QCOMPARE(o["text"].toString(), QString("what is the lung rads category"));
        QCOMPARE(o["intent"].toString(), QString("lung_rads"));
        QVERIFY(o["confidence"].toDouble() > 0.3);
        QVERIFY(o["audio_seconds"].toDouble() > 1.0);

        const Run text = cli({"transcribe", "--audio", wav});
        QCOMPARE(text.exitCode, 0);
        QVERIFY(text.out.startsWith("what is the lung rads category\n"));
    }

    // The null ALSA device (set by ctest) records silence: 1 s comes back as 16000 samples
    // and the transcript says there was no speech.
    void recordsFromTheNullDevice() {
        const QString saved = m_dir.filePath("rec.wav");
        const Run r = cli({"transcribe", "--record", "1", "--save", saved, "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o["understood"].toBool(), false);
        QCOMPARE(o["reason"].toString(), QString("no speech"));
        QCOMPARE(o["text"].toString(), QString("not understood"));
        auto audio = consilium::audio::readAudioFile(saved.toStdString());
        QVERIFY(audio.ok());
        QCOMPARE(audio->sampleRate, 16000);
        QVERIFY(std::abs(long(audio->samples.size()) - 16000) <= 16);
    }

    // No input device at all (an ALSA configuration whose default card does not exist).
    void noDeviceIsAClearError() {
        const QString conf = m_dir.filePath("nodevice.conf");
        QFile f(conf);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(
            "</usr/share/alsa/alsa.conf>\npcm.!default { type hw card 99 }\nctl.!default { type hw "
            "card 99 }\n");
        f.close();
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("ALSA_CONFIG_PATH", conf);
        const Run r = cli({"transcribe", "--record", "1"}, env);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("no audio input device"), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);  // one line, no ALSA noise
    }

    void badInput() {
        Run r = cli({"transcribe", "--audio", m_dir.filePath("missing.wav")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("missing.wav"));
        r = cli({"transcribe"});
        QCOMPARE(r.exitCode, 2);
        r = cli({"transcribe", "--record", "zero"});
        QCOMPARE(r.exitCode, 2);
        r = cli({"transcribe", "--audio", "x.wav", "--record", "1"});
        QCOMPARE(r.exitCode, 2);
        r = cli({"transcribe", "--print-grammar"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.startsWith("#JSGF V1.0;"));
        r = cli({"transcribe", "--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("--record"));
    }

  private:
    QTemporaryDir m_dir;
};

QTEST_GUILESS_MAIN(TestCliTranscribe)
#include "test_cli_transcribe.moc"
