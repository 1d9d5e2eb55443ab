// The real `consilium` program starts offscreen and under xvfb-run (a real X server),
// shows its window and writes a screenshot that is not blank.
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

namespace {

void checkScreenshot(const QString& path) {
    QVERIFY2(QFileInfo::exists(path), qPrintable(path));
    const QImage img(path);
    QVERIFY(!img.isNull());
    QVERIFY(img.width() >= 640 && img.height() >= 480);
    QSet<QRgb> colours;
    for (int y = 0; y < img.height(); y += 7)
        for (int x = 0; x < img.width(); x += 7)
            colours.insert(img.pixel(x, y));
    QVERIFY2(colours.size() > 20, qPrintable(QString("%1 distinct colours").arg(colours.size())));
}

}  // namespace

class TestAppScreenshot : public QObject {
    Q_OBJECT
  private slots:
    void offscreen() {
        QTemporaryDir dir;
        const QString shot = dir.filePath("offscreen.png");
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        // The program's QSettings in the temporary folder: never the user's (a stored UI
        // language or model would change what it does), and nothing written back there.
        env.insert("XDG_CONFIG_HOME", dir.path());
        env.insert("QT_QPA_PLATFORM", "offscreen");
        p.setProcessEnvironment(env);
        p.start(CONSILIUM_BIN_DIR "/consilium", {"--screenshot", shot});
        QVERIFY(p.waitForFinished(60000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        checkScreenshot(shot);
    }

    void scriptedQuestion() {
        // The scripted run of the app issue: open, ask, wait for the answer, shoot, exit 0.
        QTemporaryDir dir;
        const QString shot = dir.filePath("answer.png");
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        // The program's QSettings in the temporary folder: never the user's (a stored UI
        // language or model would change what it does), and nothing written back there.
        env.insert("XDG_CONFIG_HOME", dir.path());
        env.insert("QT_QPA_PLATFORM", "offscreen");
        p.setProcessEnvironment(env);
        p.start(CONSILIUM_BIN_DIR "/consilium",
                {"--model",
                 CONSILIUM_SOURCE_DIR "/tests/data/consilium_golden/consilium-golden-q4_0.gguf",
                 "--question", "Are there any lung nodules in this scan?", "--screenshot", shot,
                 "--exit-after-answer"});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        checkScreenshot(shot);

        // --record and --audio: the record is read, the spoken question transcribed and asked
        // with its audio (the report's JSON says what the answer used).
        const QString espeak = QStandardPaths::findExecutable("espeak-ng");
        if (!espeak.isEmpty()) {
            const QString wav = dir.filePath("q.wav");
            QCOMPARE(QProcess::execute(
                         espeak, {"-v", "en-us", "-s", "150", "-w", wav, "how old is the patient"}),
                     0);
            const QString rec = dir.filePath("note.txt");
            QFile f(rec);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("Scripted note: 58-year-old, current smoker, 30 pack-years.\n");
            f.close();
            const QString pdf = dir.filePath("voice.pdf");
            p.start(CONSILIUM_BIN_DIR "/consilium",
                    {"--model",
                     CONSILIUM_SOURCE_DIR "/tests/data/consilium_golden/consilium-golden-q4_0.gguf",
                     "--record", rec, "--audio", wav, "--screenshot", dir.filePath("voice.png"),
                     "--exit-after-answer", "--report", pdf});
            QVERIFY(p.waitForFinished(120000));
            QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
            QFile j(dir.filePath("voice.json"));
            QVERIFY(j.open(QIODevice::ReadOnly));
            const QJsonObject r = QJsonDocument::fromJson(j.readAll()).object();
            QCOMPARE(r["question"].toString(), QString("how old is the patient"));
            QCOMPARE(r["transcript"].toString(), QString("how old is the patient"));
            QVERIFY(r["modality_weights"].toObject()["voice"].toDouble() > 0);
            QVERIFY(r["modality_weights"].toObject()["record"].toDouble() > 0);
            // The evidence spans come from the scripted note, not the demo study's record.
            bool fromNote = false;
            for (const auto& e : r["record_evidence"].toArray())
                fromNote = fromNote || QString(
                                           "Scripted note: 58-year-old, current smoker, 30 "
                                           "pack-years.")
                                           .contains(e.toObject()["text"].toString().trimmed());
            QVERIFY(fromNote);
        }

        // A model that does not exist: non-zero with a message, no screenshot.
        const QString none = dir.filePath("none.png");
        p.start(CONSILIUM_BIN_DIR "/consilium",
                {"--model", "/nonexistent.gguf", "--question", "How old?", "--screenshot", none,
                 "--exit-after-answer"});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("/nonexistent.gguf"));
        QVERIFY(!QFileInfo::exists(none));
    }

    void underXvfb() {
        const QString xvfbRun = QStandardPaths::findExecutable("xvfb-run");
        if (xvfbRun.isEmpty()) QSKIP("xvfb-run is not installed (apt install xvfb xauth)");
        QTemporaryDir dir;
        const QString shot = dir.filePath("xvfb.png");
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        // The program's QSettings in the temporary folder: never the user's (a stored UI
        // language or model would change what it does), and nothing written back there.
        env.insert("XDG_CONFIG_HOME", dir.path());
        env.remove("QT_QPA_PLATFORM");
        env.insert("QT_QPA_PLATFORM", "xcb");
        p.setProcessEnvironment(env);
        p.start(xvfbRun, {"-a", "-s", "-screen 0 1600x1000x24", CONSILIUM_BIN_DIR "/consilium",
                          "--screenshot", shot});
        QVERIFY(p.waitForFinished(90000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        checkScreenshot(shot);
    }
};

QTEST_GUILESS_MAIN(TestAppScreenshot)
#include "test_app_screenshot.moc"
