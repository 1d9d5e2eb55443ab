// consilium: the workstation app.
//
//   consilium [--study DIR] [--screenshot FILE.png]
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

int main(int argc, char** argv) {
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
    parser.addOptions({screenshot, study});
    parser.process(app);

    const auto settings = consilium::app::AppSettings::load();
    consilium::app::installTranslations(&app, settings.uiLanguage);

    consilium::ui::MainWindow window;
    window.show();
    // First launch (no --study): the shipped demo study, when it was built.
    QString studyPath = parser.value(study);
    if (studyPath.isEmpty()) studyPath = QString::fromStdString(consilium::app::locateDemoStudy());
    bool studyPending = !studyPath.isEmpty();
    if (studyPending) window.openStudy(studyPath);

    // The probe loads the CUDA plugin and opens PortAudio: never on the GUI thread.
    auto* watcher = new QFutureWatcher<consilium::app::SystemReport>(&window);
    QObject::connect(watcher, &QFutureWatcher<consilium::app::SystemReport>::finished, &window,
                     [&window, watcher] { window.applySystemReport(watcher->result()); });
    watcher->setFuture(QtConcurrent::run([] { return consilium::app::collectSystemReport(); }));

    if (parser.isSet(screenshot)) {
        const QString path = parser.value(screenshot);
        QObject::connect(&window, &consilium::ui::MainWindow::systemReportReady, &window,
                         [&window, path] {
                             // One more event-loop turn so the status bar repaints with the report.
                             QTimer::singleShot(100, &window, [&window, path] {
                                 const QPixmap shot = window.grab();
                                 if (shot.isNull() || !shot.save(path)) {
                                     std::fprintf(stderr, "consilium: cannot write screenshot %s\n",
                                                  qPrintable(path));
                                     QApplication::exit(1);
                                     return;
                                 }
                                 QApplication::exit(0);
                             });
                         });
    }
    return app.exec();
}
