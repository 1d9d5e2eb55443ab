// consilium: the workstation app.
//
//   consilium [--study DIR] [--model FILE] [--question TEXT] [--screenshot FILE.png]
//             [--exit-after-answer]
//
// --study opens a study folder/DICOMDIR (default: the shipped demo study, when built).
// --screenshot saves the whole window once it is shown, the startup probe (device, model)
// has finished and the study is shown, then exits 0 (non-zero with a message when the file cannot
// be written). The app issue extends this with --study/--question/--exit-after-answer.
#include <QApplication>
#include <QCommandLineParser>
#include <QFutureWatcher>
#include <QPixmap>
#include <QTimer>
#include <QtConcurrent>

#include <cstdio>

#include "app/app_settings.h"
#include "app/resource_paths.h"
#include "app/system_report.h"
#include "app/translations.h"
#include "ui/main_window.h"

namespace {

// --help and --version print and exit before QApplication exists, so they work without a
// display (man pages, packaging checks, ssh sessions).
bool printedHelpOrVersion(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const QByteArray a(argv[i]);
        if (a == "--help" || a == "-h" || a == "-?") {
            std::printf(
                "Usage: consilium [options]\n"
                "Consilium workstation: a CT study, the patient's record and a spoken or typed\n"
                "question, answered by a local multimodal model with its evidence.\n\n"
                "Options:\n"
                "  -h, --help               Show this help and exit.\n"
                "  -v, --version            Show the version and exit.\n"
                "  --study <DIR>            Open this study (folder, DICOM file or DICOMDIR).\n"
                "                           Default: the shipped demo study.\n"
                "  --model <FILE>           Use this model file for this session.\n"
                "  --record <FILE>          Load this patient record (UTF-8 or GB18030 text).\n"
                "  --audio <FILE>           Transcribe this spoken question (WAV, FLAC, OGG)\n"
                "                           and ask it, with the audio, once the study is shown.\n"
                "  --question <TEXT>        Ask this question once the study is shown.\n"
                "  --screenshot <FILE>      Save a screenshot of the window to FILE and exit.\n"
                "  --exit-after-answer      With --screenshot: shoot and exit after the answer.\n"
                "  --report <FILE.pdf>      With --screenshot and --exit-after-answer: also "
                "export\n"
                "                           the de-identified finding report (.json, .png "
                "beside).\n");
            return true;
        }
        if (a == "--version" || a == "-v") {
            std::printf("Consilium %s\n", CONSILIUM_VERSION);
            return true;
        }
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    if (printedHelpOrVersion(argc, argv)) return 0;
    QApplication app(argc, argv);
    QApplication::setApplicationName("Consilium");
    QApplication::setOrganizationName("Consilium");
    QApplication::setApplicationVersion(CONSILIUM_VERSION);

    QCommandLineParser parser;
    parser.setApplicationDescription("Consilium workstation");
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption screenshot("screenshot", "Save a screenshot of the window to FILE and exit.",
                                  "FILE");
    QCommandLineOption study("study", "Open this study (folder, DICOM file or DICOMDIR).", "DIR");
    QCommandLineOption model("model", "Use this model file for this session.", "FILE");
    QCommandLineOption question("question", "Ask this question once the study is shown.", "TEXT");
    QCommandLineOption record("record", "Load this patient record.", "FILE");
    QCommandLineOption audioOpt("audio", "Transcribe this spoken question and ask it.", "FILE");
    QCommandLineOption exitAfterAnswer("exit-after-answer",
                                       "With --screenshot: shoot and exit after the answer.");
    QCommandLineOption report("report",
                              "With --screenshot and --exit-after-answer: also export the "
                              "de-identified finding report to FILE.pdf (.json, .png beside).",
                              "FILE.pdf");
    parser.addOptions(
        {screenshot, study, model, question, record, audioOpt, exitAfterAnswer, report});
    parser.process(app);

    const auto settings = consilium::app::AppSettings::load();
    consilium::app::installTranslations(&app, settings.uiLanguage);

    consilium::ui::MainWindow window;
    if (parser.isSet(model)) window.setModelFile(parser.value(model));
    window.show();
    if (parser.isSet(record) && !window.openRecord(parser.value(record))) {
        std::fprintf(stderr, "consilium: cannot read the record %s\n",
                     qPrintable(parser.value(record)));
        return 2;
    }
    // Ask once the study is shown and the question is known (typed, or transcribed from
    // --audio, which then goes to the model as the voice too).
    struct AskWhen {
        bool study = false, question = false, asked = false;
    };
    AskWhen askWhen;
    const bool asking = parser.isSet(question) || parser.isSet(audioOpt);
    auto askIfReady = [&window, &askWhen] {
        if (askWhen.asked || !askWhen.study || !askWhen.question) return;
        askWhen.asked = true;
        window.askQuestion();
    };
    if (asking) {
        QObject::connect(&window, &consilium::ui::MainWindow::studyShown, &window, [&] {
            askWhen.study = true;
            askIfReady();
        });
    }
    if (parser.isSet(question)) {
        window.setQuestion(parser.value(question));
        askWhen.question = true;
    }
    // First launch (no --study): the shipped demo study, when it was built.
    QString studyPath = parser.value(study);
    if (studyPath.isEmpty()) studyPath = QString::fromStdString(consilium::app::locateDemoStudy());
    bool studyPending = !studyPath.isEmpty();
    if (studyPending) window.openStudy(studyPath);

    // The probe loads the CUDA plugin and opens PortAudio: never on the GUI thread.
    auto* watcher = new QFutureWatcher<consilium::app::SystemReport>(&window);
    QObject::connect(watcher, &QFutureWatcher<consilium::app::SystemReport>::finished, &window,
                     [&window, watcher] { window.applySystemReport(watcher->result()); });
    consilium::app::ReportOptions probeOptions;
    probeOptions.modelOverride = window.modelFile().toStdString();  // --model or the settings'
    watcher->setFuture(QtConcurrent::run(
        [probeOptions] { return consilium::app::collectSystemReport(probeOptions); }));

    // --screenshot: shoot once the probe, the study (if any) and, with --exit-after-answer,
    // the answer have all arrived; a failure exits non-zero with a message.
    struct Pending {
        bool report = true, study = false, answer = false;
    };
    Pending pending;
    pending.study = studyPending;
    pending.answer = parser.isSet(exitAfterAnswer) && asking;
    const QString shotPath = parser.value(screenshot);
    const QString reportPath = parser.isSet(exitAfterAnswer) ? parser.value(report) : QString();
    auto shootIfReady = [&window, &pending, shotPath, reportPath] {
        if (shotPath.isEmpty() || pending.report || pending.study || pending.answer) return;
        // One more event-loop turn so the window repaints with the results.
        QTimer::singleShot(150, &window, [&window, shotPath, reportPath] {
            const QPixmap shot = window.grab();
            if (shot.isNull() || !shot.save(shotPath)) {
                std::fprintf(stderr, "consilium: cannot write screenshot %s\n",
                             qPrintable(shotPath));
                QApplication::exit(1);
                return;
            }
            if (!reportPath.isEmpty()) {
                const QString error = window.exportReport(reportPath);
                if (!error.isEmpty()) {
                    std::fprintf(stderr, "consilium: %s\n", qPrintable(error));
                    QApplication::exit(1);
                    return;
                }
            }
            QApplication::exit(0);
        });
    };
    // A failure is reported once the system probe has finished: while PortAudio initialises
    // on the probe's thread, audio/ points the process's stderr at /dev/null (QuietStderr), and
    // a message printed then would be lost (the exit code alone would say something failed).
    QString failure;
    auto reportFailure = [&failure] {
        std::fprintf(stderr, "consilium: %s\n", qPrintable(failure));
        std::fflush(stderr);
        QApplication::exit(1);
    };
    auto failAndExit = [&shotPath, &failure, &pending, reportFailure](const QString& what) {
        if (shotPath.isEmpty() || !failure.isEmpty()) return;
        failure = what;
        if (!pending.report) reportFailure();
    };
    QObject::connect(&window, &consilium::ui::MainWindow::systemReportReady, &window, [&] {
        pending.report = false;
        if (!failure.isEmpty()) return reportFailure();
        shootIfReady();
    });
    QObject::connect(&window, &consilium::ui::MainWindow::studyShown, &window, [&] {
        pending.study = false;
        shootIfReady();
    });
    QObject::connect(&window, &consilium::ui::MainWindow::studyLoadFailed, &window,
                     [&](const QString& m) {
                         if (pending.answer) return failAndExit("the study did not load: " + m);
                         pending.study = false;
                         shootIfReady();
                     });
    QObject::connect(&window, &consilium::ui::MainWindow::answerShown, &window, [&] {
        pending.answer = false;
        shootIfReady();
    });
    QObject::connect(&window, &consilium::ui::MainWindow::questionFailed, &window,
                     [&](const QString& m) { failAndExit("the question failed: " + m); });
    if (parser.isSet(audioOpt) && !parser.isSet(question)) {
        QObject::connect(
            &window, &consilium::ui::MainWindow::transcriptReady, &window,
            [&](const QString& text, bool understood) {
                if (askWhen.question) return;
                if (text.isEmpty() || !understood) {
                    failAndExit("the spoken question was not understood" +
                                (text.isEmpty() ? QString() : " (best guess: " + text + ")"));
                    return;
                }
                window.setQuestion(text);
                askWhen.question = true;
                askIfReady();
            });
        window.transcribeAudioFile(parser.value(audioOpt));
    }
    return app.exec();
}
