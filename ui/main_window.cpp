#include "ui/main_window.h"

#include <QApplication>
#include <QDockWidget>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QStatusBar>
#include <QTextBrowser>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "ui/ct_view_area.h"
#include "ui/settings_dialog.h"

namespace consilium::ui {

namespace {
QString q(const std::string& s) {
    return QString::fromStdString(s);
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("Consilium"));
    setObjectName("MainWindow");
    setDockNestingEnabled(true);
    auto* viewer = new CtViewArea(this);
    viewer->setObjectName("CtViewArea");
    setCentralWidget(viewer);
    buildDocks();
    buildMenus();
    buildStatusBar();
    resize(1400, 900);
}

MainWindow::~MainWindow() = default;

QDockWidget* MainWindow::addDock(const QString& title, const QString& objectName, QWidget* content,
                                 Qt::DockWidgetArea area) {
    auto* dock = new QDockWidget(title, this);
    dock->setObjectName(objectName);
    dock->setWidget(content);
    addDockWidget(area, dock);
    return dock;
}

void MainWindow::buildDocks() {
    // Study browser: patients -> studies -> series.
    m_studyTree = new QTreeWidget;
    m_studyTree->setObjectName("StudyTree");
    m_studyTree->setHeaderLabels({tr("Patient / Study / Series"), tr("Modality"), tr("Slices")});
    auto* studies = addDock(tr("Studies"), "StudiesDock", m_studyTree, Qt::LeftDockWidgetArea);

    // Patient record.
    m_record = new QPlainTextEdit;
    m_record->setObjectName("RecordEdit");
    m_record->setPlaceholderText(
        tr("Open a record (.txt, .md) or paste the patient's notes here."));
    auto* record = addDock(tr("Record"), "RecordDock", m_record, Qt::LeftDockWidgetArea);
    splitDockWidget(studies, record, Qt::Vertical);

    // Voice question.
    auto* voice = new QWidget;
    auto* voiceLayout = new QHBoxLayout(voice);
    m_recordButton = new QPushButton(tr("● Record"));
    m_recordButton->setObjectName("RecordButton");
    m_recordButton->setEnabled(false);
    m_recordButton->setToolTip(tr("Voice capture arrives with the audio work."));
    m_levelMeter = new QProgressBar;
    m_levelMeter->setObjectName("LevelMeter");
    m_levelMeter->setRange(0, 100);
    m_levelMeter->setValue(0);
    m_levelMeter->setFormat(tr("level"));
    voiceLayout->addWidget(m_recordButton);
    voiceLayout->addWidget(m_levelMeter, 1);
    auto* voiceDock = addDock(tr("Voice"), "VoiceDock", voice, Qt::RightDockWidgetArea);

    // Ask: question and streamed answer.
    auto* ask = new QWidget;
    auto* askLayout = new QVBoxLayout(ask);
    m_question = new QPlainTextEdit;
    m_question->setObjectName("QuestionEdit");
    m_question->setPlaceholderText(tr("Ask about the study and the record (Ctrl+Enter)."));
    m_question->setMaximumHeight(90);
    m_askButton = new QPushButton(tr("Ask"));
    m_askButton->setObjectName("AskButton");
    m_askButton->setEnabled(false);
    m_answer = new QTextBrowser;
    m_answer->setObjectName("AnswerView");
    askLayout->addWidget(m_question);
    askLayout->addWidget(m_askButton);
    askLayout->addWidget(m_answer, 1);
    auto* askDock = addDock(tr("Ask"), "AskDock", ask, Qt::RightDockWidgetArea);
    splitDockWidget(voiceDock, askDock, Qt::Vertical);

    // Evidence: heatmap controls, modality weights, expert routing.
    m_evidence =
        new QLabel(tr("After an answer: the attention heatmap over the CT, the weight each "
                      "modality carried, and which experts fired."));
    m_evidence->setObjectName("EvidenceLabel");
    m_evidence->setWordWrap(true);
    m_evidence->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    auto* evidenceDock =
        addDock(tr("Evidence"), "EvidenceDock", m_evidence, Qt::RightDockWidgetArea);
    splitDockWidget(askDock, evidenceDock, Qt::Vertical);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("Open &Study Folder…"))->setEnabled(false);
    file->addAction(tr("Open &Record…"))->setEnabled(false);
    file->addSeparator();
    QAction* settings = file->addAction(tr("&Settings…"), this, &MainWindow::showSettings);
    settings->setObjectName("SettingsAction");
    settings->setShortcut(QKeySequence::Preferences);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    m_viewMenu = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* dock : findChildren<QDockWidget*>())
        m_viewMenu->addAction(dock->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Consilium"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::buildStatusBar() {
    m_deviceLabel = new QLabel(tr("Device: probing…"));
    m_deviceLabel->setObjectName("DeviceLabel");
    m_modelLabel = new QLabel(tr("Model: looking…"));
    m_modelLabel->setObjectName("ModelLabel");
    statusBar()->addPermanentWidget(m_modelLabel);
    statusBar()->addPermanentWidget(m_deviceLabel);
}

void MainWindow::applySystemReport(const consilium::app::SystemReport& report) {
    m_report = report;
    m_reportApplied = true;
    m_deviceLabel->setText(tr("Device: %1").arg(q(report.device)));
    if (report.modelPath.empty()) {
        m_modelLabel->setText(tr("Model: none found"));
    } else {
        m_modelLabel->setText(tr("Model: %1 (%2)")
                                  .arg(q(report.modelPath).section('/', -1))
                                  .arg(report.modelValid ? tr("valid") : tr("invalid")));
    }
    // Non-modal notice: the user learns once why the CPU is used.
    if (!report.deviceNotice.empty()) statusBar()->showMessage(q(report.deviceNotice), 15000);
    emit systemReportReady();
}

void MainWindow::showSettings() {
    QStringList inputs;
    for (const auto& d : m_report.audioInputs)
        inputs << q(d.name);
    auto* dialog = new SettingsDialog(consilium::app::AppSettings::load(), inputs, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        const auto settings = dialog->settings();
        settings.save();
        emit settingsChanged(settings);
    });
    dialog->open();
}

void MainWindow::showAbout() {
    QString text = tr("<h3>Consilium %1</h3><p>Local multimodal assistant for CT studies, patient "
                      "records and spoken questions. Runs entirely on this workstation.</p>"
                      "<p><b>Not for clinical use.</b></p><table>")
                       .arg(q(m_report.consiliumVersion));
    for (const auto& [name, version] : m_report.libraries) {
        text += QString("<tr><td>%1</td><td>&nbsp;%2</td></tr>")
                    .arg(q(name).toHtmlEscaped(), q(version).toHtmlEscaped());
    }
    text += QString("<tr><td>%1</td><td>&nbsp;%2</td></tr></table>")
                .arg(tr("Device"), q(m_report.device).toHtmlEscaped());
    auto* box = new QMessageBox(QMessageBox::Information, tr("About Consilium"), text,
                                QMessageBox::Ok, this);
    box->setObjectName("AboutDialog");
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setTextFormat(Qt::RichText);
    box->open();
}

}  // namespace consilium::ui
