// How long the workstation's event loop stalls while it loads a study, answers a question and
// scrolls with the heatmap on, and while a question and a series load run at once (issue 9:
// "all inference in worker threads", longest stall <= 50 ms).
//
// A 2 ms precise timer runs on the GUI thread throughout; a stall is a gap between its ticks
// beyond 2 ms, i.e. time the GUI thread could not paint or take input. The yardstick, from
// the same run, is each phase's own wall time: what the stall would have been had that work
// run on the GUI thread. Scrolling is GUI-thread work by design (one slice rendered per wheel
// step), so for it the figure is the time per step.
//
//   consilium-bench-gui [--study DIR] [--model FILE] [--question TEXT] [--steps N]
//
// Prints one JSON object. Runs offscreen unless QT_QPA_PLATFORM says otherwise.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "app/resource_paths.h"
#include "ui/ct_viewer.h"
#include "ui/main_window.h"

namespace {

constexpr int kTickMs = 2;

// Records the gaps between timer ticks on the GUI thread.
class StallProbe {
  public:
    StallProbe() {
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(kTickMs);
        QObject::connect(&m_timer, &QTimer::timeout, [this] {
            const qint64 now = m_clock.nsecsElapsed();
            if (m_last >= 0) m_gaps.push_back(double(now - m_last) / 1e6);
            m_last = now;
        });
    }
    void start() {
        m_gaps.clear();
        m_last = -1;
        m_clock.start();
        m_timer.start();
    }
    QJsonObject stop(double wallMs) {
        m_timer.stop();
        std::vector<double> g = m_gaps;
        std::sort(g.begin(), g.end());
        const double maxGap = g.empty() ? wallMs : g.back();
        const double p99 = g.empty() ? wallMs : g[std::min(g.size() - 1, g.size() * 99 / 100)];
        QJsonObject o;
        o["wall_ms"] = wallMs;
        o["ticks"] = qint64(g.size());
        o["max_stall_ms"] = std::max(0.0, maxGap - kTickMs);
        o["p99_gap_ms"] = p99;
        // Share of the phase the GUI thread was blocked in its longest stall: 1.0 would be
        // the whole phase run synchronously on the GUI thread.
        o["max_stall_over_wall"] = wallMs > 0 ? std::max(0.0, maxGap - kTickMs) / wallMs : 0.0;
        return o;
    }

  private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = -1;
    std::vector<double> m_gaps;
};

}  // namespace

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription("Event-loop stalls of the workstation (JSON).");
    parser.addHelpOption();
    QCommandLineOption study("study", "Study folder (default: the demo study).", "DIR");
    QCommandLineOption model("model", "consilium model (default: the shipped one).", "FILE");
    QCommandLineOption question("question", "Question to ask.", "TEXT",
                                "Where is the largest nodule?");
    QCommandLineOption steps("steps", "Slices to scroll through.", "N", "60");
    parser.addOptions({study, model, question, steps});
    parser.process(app);
    const QString studyDir = parser.isSet(study)
                                 ? parser.value(study)
                                 : QString::fromStdString(consilium::app::locateDemoStudy());
    if (studyDir.isEmpty()) {
        std::fprintf(stderr, "consilium-bench-gui: no demo study found; give --study DIR\n");
        return 2;
    }

    consilium::ui::MainWindow w;
    w.resize(1400, 900);
    w.show();
    if (parser.isSet(model)) w.setModelFile(parser.value(model));
    StallProbe probe;
    QJsonObject out;
    out["study"] = studyDir;
    out["tick_ms"] = kTickMs;
    QElapsedTimer t;

    // 1. Load the study (DICOM decode and thumbnails in the pool).
    QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
    QSignalSpy loadFailed(&w, &consilium::ui::MainWindow::studyLoadFailed);
    probe.start();
    t.start();
    w.openStudy(studyDir);
    while (shown.isEmpty() && loadFailed.isEmpty() && t.elapsed() < 120000)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    out["load_study"] = probe.stop(double(t.nsecsElapsed()) / 1e6);
    if (shown.isEmpty()) {
        std::fprintf(stderr, "consilium-bench-gui: the study did not load\n");
        return 1;
    }

    // 2. Ask: model load on first use, encoders, fusion, decoding, all in the worker.
    for (int round = 0; round < 2; ++round) {
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        QSignalSpy failed(&w, &consilium::ui::MainWindow::questionFailed);
        w.setQuestion(parser.value(question));
        probe.start();
        t.start();
        w.askQuestion();
        while (answered.isEmpty() && failed.isEmpty() && t.elapsed() < 300000)
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        out[round == 0 ? "ask_first" : "ask_follow_up"] =
            probe.stop(double(t.nsecsElapsed()) / 1e6);
        if (answered.isEmpty()) {
            std::fprintf(stderr, "consilium-bench-gui: no answer%s%s\n",
                         failed.isEmpty() ? "" : ": ",
                         failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
            return 1;
        }
    }

    // 3. A question and a series load at once (the measure): ask, and reload the same
    //    study while the worker answers (another study would stop the question).
    {
        QSignalSpy answered(&w, &consilium::ui::MainWindow::answerShown);
        QSignalSpy reloaded(&w, &consilium::ui::MainWindow::studyShown);
        w.setQuestion(parser.value(question));
        probe.start();
        t.start();
        w.askQuestion();
        w.openStudy(studyDir);
        while ((answered.isEmpty() || reloaded.isEmpty()) && t.elapsed() < 300000)
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        out["ask_while_loading"] = probe.stop(double(t.nsecsElapsed()) / 1e6);
        if (answered.isEmpty() || reloaded.isEmpty()) {
            std::fprintf(stderr, "consilium-bench-gui: the answer or the reload did not arrive\n");
            return 1;
        }
    }

    // 4. Scroll with the heatmap drawn: GUI-thread work, one slice per step.
    consilium::ui::CtViewer* viewer = w.viewer();
    const int n = std::max(1, parser.value(steps).toInt());
    probe.start();
    t.start();
    for (int i = 0; i < n; ++i) {
        viewer->setSlice((viewer->slice() + 1) % std::max(1, viewer->sliceCount()));
        QCoreApplication::processEvents();
    }
    QJsonObject scroll = probe.stop(double(t.nsecsElapsed()) / 1e6);
    scroll["steps"] = n;
    scroll["ms_per_step"] = scroll["wall_ms"].toDouble() / n;
    out["scroll_with_heatmap"] = scroll;
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Indented).constData());
    return 0;
}
