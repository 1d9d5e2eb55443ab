#include "ui/main_window.h"

#include <QApplication>
#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QButtonGroup>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QShortcut>
#include <QSignalBlocker>
#include <QSlider>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTextCursor>
#include <QTextEdit>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>
#include <QValueAxis>
#include <QtConcurrent>

#include <algorithm>
#include <cmath>

#include "app/record_file.h"
#include "app/report_export.h"
#include "ui/ct_viewer.h"
#include "ui/settings_dialog.h"

namespace consilium::ui {

using consilium::app::Plane;

namespace {
QString q(const std::string& s) {
    return QString::fromStdString(s);
}

constexpr int kSeriesUidRole = Qt::UserRole + 1;
constexpr int kSeriesStackRole = Qt::UserRole + 2;
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("Consilium"));
    setObjectName("MainWindow");
    setDockNestingEnabled(true);
    setAcceptDrops(true);
    m_settings = consilium::app::AppSettings::load();
    m_studies = new consilium::app::StudyService(this);
    connect(m_studies, &consilium::app::StudyService::loaded, this, &MainWindow::onStudyLoaded);
    connect(m_studies, &consilium::app::StudyService::failed, this, &MainWindow::onStudyFailed);
    buildCentral();
    buildDocks();
    buildMenus();
    buildStatusBar();
    connect(m_studies, &consilium::app::StudyService::progress, this,
            [this](int done, int total, const QString& phase) {
                m_jobProgress->setRange(0, std::max(1, total));
                m_jobProgress->setValue(done);
                m_jobLabel->setText(tr("Loading study: %1 %2/%3").arg(phase).arg(done).arg(total));
            });
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

void MainWindow::buildCentral() {
    auto* central = new QWidget;
    auto* layout = new QVBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(4, 2, 4, 0);
    auto* planes = new QButtonGroup(this);
    const QString names[3] = {tr("Axial"), tr("Coronal"), tr("Sagittal")};
    const char* objectNames[3] = {"AxialButton", "CoronalButton", "SagittalButton"};
    for (int i = 0; i < 3; ++i) {
        auto* b = new QToolButton;
        b->setText(names[i]);
        b->setObjectName(objectNames[i]);
        b->setCheckable(true);
        planes->addButton(b, i);
        bar->addWidget(b);
        m_planeButtons[i] = b;
    }
    m_planeButtons[0]->setChecked(true);
    connect(planes, &QButtonGroup::idClicked, this,
            [this](int id) { setPlane(static_cast<Plane>(id)); });

    bar->addSpacing(12);
    bar->addWidget(new QLabel(tr("Window:")));
    m_presetCombo = new QComboBox;
    m_presetCombo->setObjectName("WindowPresetCombo");
    const QStringList labels{tr("Lung"), tr("Mediastinum"), tr("Bone"), tr("Brain"), tr("Abdomen")};
    const QStringList presets = consilium::app::windowPresetNames();
    for (int i = 0; i < presets.size(); ++i)
        m_presetCombo->addItem(labels.value(i), presets[i]);
    m_presetCombo->setCurrentIndex(std::max(0, m_presetCombo->findData(m_settings.windowPreset)));
    bar->addWidget(m_presetCombo);

    auto* ruler = new QToolButton;
    ruler->setObjectName("RulerButton");
    ruler->setText(tr("Ruler"));
    ruler->setCheckable(true);
    ruler->setToolTip(tr("Measure a distance in millimetres (left drag)"));
    bar->addWidget(ruler);
    bar->addStretch(1);
    layout->addLayout(bar);

    // What is wrong with the series on screen (missing slices, uneven spacing, burned-in
    // text, ...), in view instead of only in a tooltip.
    m_seriesNotice = new QLabel;
    m_seriesNotice->setObjectName("SeriesNotice");
    m_seriesNotice->setWordWrap(true);
    m_seriesNotice->setTextFormat(Qt::PlainText);
    m_seriesNotice->setStyleSheet(
        "QLabel { background: #fff4ce; color: #4a3b00; border: 1px solid #e0c060; padding: 3px; }");
    m_seriesNotice->hide();
    layout->addWidget(m_seriesNotice);

    m_viewer = new CtViewer;
    m_viewer->setObjectName("CtViewer");
    layout->addWidget(m_viewer, 1);
    setCentralWidget(central);

    const auto wl = consilium::app::windowPreset(m_settings.windowPreset);
    m_viewer->setWindowLevel(wl.center, wl.width);
    connect(m_presetCombo, &QComboBox::currentIndexChanged, this, [this] {
        const auto w = consilium::app::windowPreset(m_presetCombo->currentData().toString());
        m_viewer->setWindowLevel(w.center, w.width);
    });
    connect(ruler, &QToolButton::toggled, m_viewer, &CtViewer::setRulerMode);
    connect(m_viewer, &CtViewer::rulerMeasured, this, [this](double mm) {
        statusBar()->showMessage(tr("Distance: %1 mm").arg(mm, 0, 'f', 1), 10000);
    });
}

void MainWindow::buildDocks() {
    // Study browser: patients -> studies -> series, and the load report.
    auto* browser = new QWidget;
    auto* browserLayout = new QVBoxLayout(browser);
    browserLayout->setContentsMargins(2, 2, 2, 2);
    m_studyModel = new QStandardItemModel(this);
    m_studyModel->setHorizontalHeaderLabels(
        {tr("Patient / Study / Series"), tr("Modality"), tr("Slices")});
    m_studyTree = new QTreeView;
    m_studyTree->setObjectName("StudyTree");
    m_studyTree->setModel(m_studyModel);
    m_studyTree->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_studyTree->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_studyTree->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_studyTree->header()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    m_studyTree->setMinimumWidth(320);
    m_studyTree->setIconSize(QSize(consilium::app::kThumbnailSize, consilium::app::kThumbnailSize));
    m_studyTree->header()->setStretchLastSection(false);
    connect(m_studyTree, &QTreeView::activated, this, [this](const QModelIndex& index) {
        const QModelIndex first = index.siblingAtColumn(0);
        const QString uid = first.data(kSeriesUidRole).toString();
        if (!uid.isEmpty()) showSeries(uid, first.data(kSeriesStackRole).toInt());
    });
    m_reportButton = new QPushButton(tr("Load report"));
    m_reportButton->setObjectName("LoadReportButton");
    m_reportButton->setEnabled(false);
    connect(m_reportButton, &QPushButton::clicked, this, &MainWindow::showLoadReport);
    browserLayout->addWidget(m_studyTree, 1);
    browserLayout->addWidget(m_reportButton);
    auto* studies = addDock(tr("Studies"), "StudiesDock", browser, Qt::LeftDockWidgetArea);

    // Patient record.
    m_record = new QPlainTextEdit;
    m_record->setObjectName("RecordEdit");
    // Evidence highlights belong to the text that was asked about: an edit drops them.
    connect(m_record, &QPlainTextEdit::textChanged, this,
            [this] { m_record->setExtraSelections({}); });
    m_record->setPlaceholderText(
        tr("Open a record (.txt, .md) or paste the patient's notes here."));
    // Its length in the model's own tokens, counted off the GUI thread once typing pauses.
    m_tokenLabel = new QLabel;
    m_tokenLabel->setObjectName("RecordTokenLabel");
    // Questions and the token count share one engine per model file (opened once).
    m_inference = new consilium::app::InferenceThread(this);
    m_tokenCounter = new consilium::app::RecordTokenCounter(m_inference->context(), this);
    m_tokenTimer = new QTimer(this);
    m_tokenTimer->setSingleShot(true);
    m_tokenTimer->setInterval(300);
    connect(m_record, &QPlainTextEdit::textChanged, m_tokenTimer, qOverload<>(&QTimer::start));
    connect(m_tokenTimer, &QTimer::timeout, this, [this] {
        const QString text = m_record->toPlainText();
        if (text.isEmpty()) {
            m_tokenLabel->clear();
            return;
        }
        m_tokenCounter->count(modelFile(), text);
    });
    connect(m_tokenCounter, &consilium::app::RecordTokenCounter::counted, this,
            [this](int tokens, int limit) {
                QString text = tokens == 1 ? tr("1 token") : tr("%1 tokens").arg(tokens);
                if (tokens > limit)
                    text += tr(" — the model reads the first %1; the rest is cut").arg(limit);
                m_tokenLabel->setText(text);
            });
    connect(m_tokenCounter, &consilium::app::RecordTokenCounter::failed, this,
            [this](const QString& message) {
                m_tokenLabel->setText(tr("Tokens: unknown (%1)").arg(message));
            });
    auto* recordBox = new QWidget;
    auto* recordLayout = new QVBoxLayout(recordBox);
    recordLayout->setContentsMargins(2, 2, 2, 2);
    recordLayout->addWidget(m_record, 1);
    recordLayout->addWidget(m_tokenLabel);
    auto* record = addDock(tr("Record"), "RecordDock", recordBox, Qt::LeftDockWidgetArea);
    splitDockWidget(studies, record, Qt::Vertical);

    // Voice question: record or load a file, see the level, edit the transcript.
    m_voice = new consilium::app::VoiceService(this);
    auto* voice = new QWidget;
    auto* voiceLayout = new QVBoxLayout(voice);
    voiceLayout->setContentsMargins(2, 2, 2, 2);
    auto* voiceRow = new QHBoxLayout;
    m_recordButton = new QPushButton(tr("● Record"));
    m_recordButton->setObjectName("RecordButton");
    m_recordButton->setToolTip(
        tr("Record a spoken question from the microphone chosen in Settings"));
    connect(m_recordButton, &QPushButton::clicked, this, &MainWindow::toggleRecording);
    m_audioFileButton = new QPushButton(tr("Audio file…"));
    m_audioFileButton->setObjectName("AudioFileButton");
    connect(m_audioFileButton, &QPushButton::clicked, this, [this] {
        const QString file =
            QFileDialog::getOpenFileName(this, tr("Spoken question"), QString(),
                                         tr("Audio (*.wav *.flac *.ogg);;All files (*)"));
        if (!file.isEmpty()) transcribeAudioFile(file);
    });
    m_levelMeter = new QProgressBar;
    m_levelMeter->setObjectName("LevelMeter");
    m_levelMeter->setRange(0, 100);
    m_levelMeter->setValue(0);
    m_levelMeter->setTextVisible(false);
    voiceRow->addWidget(m_recordButton);
    voiceRow->addWidget(m_audioFileButton);
    // Play back what was said (the recording or file of the last transcript).
    m_playButton = new QPushButton(tr("▶ Play"));
    m_playButton->setObjectName("PlayButton");
    m_playButton->setToolTip(tr("Play back the last spoken question"));
    m_playButton->setEnabled(false);
    connect(m_playButton, &QPushButton::clicked, this, [this] {
        if (m_playing) {
            m_voice->stopPlayback();
            return;
        }
        if (m_voiceAudio.isEmpty()) return;
        m_playing = true;
        m_playButton->setText(tr("■ Stop"));
        m_voice->play(m_voiceAudio);
    });
    connect(m_voice, &consilium::app::VoiceService::playbackFinished, this,
            [this](const QString& error) {
                m_playing = false;
                m_playButton->setText(tr("▶ Play"));
                if (!error.isEmpty()) m_voiceStatus->setText(error);
                emit playbackFinished(error);
            });
    voiceRow->addWidget(m_playButton);
    voiceRow->addWidget(m_levelMeter, 1);
    m_voiceStatus = new QLabel;
    m_voiceStatus->setObjectName("VoiceStatus");
    m_voiceStatus->setWordWrap(true);
    m_transcript = new QLineEdit;
    m_transcript->setObjectName("TranscriptEdit");
    m_transcript->setPlaceholderText(
        tr("The transcript appears here; edit it, then press Enter to ask."));
    connect(m_transcript, &QLineEdit::returnPressed, this, [this] {
        if (m_transcript->text().trimmed().isEmpty()) return;
        m_question->setPlainText(m_transcript->text().trimmed());
        if (m_askButton->isEnabled()) askQuestion();
    });
    voiceLayout->addLayout(voiceRow);
    voiceLayout->addWidget(m_voiceStatus);
    voiceLayout->addWidget(m_transcript);

    connect(m_voice, &consilium::app::VoiceService::recordingStarted, this,
            [this](const QString& device) {
                m_recordButton->setText(tr("■ Stop"));
                m_recordButton->setEnabled(true);
                m_voiceStatus->setText(tr("Recording from %1…").arg(device));
            });
    connect(m_voice, &consilium::app::VoiceService::levelChanged, this,
            [this](float rms, float, double seconds) {
                // Meter in dB over a 60 dB range, as audio meters show it.
                const double db = 20.0 * std::log10(std::max(1e-6f, rms));
                m_levelMeter->setValue(int(std::clamp((db + 60.0) / 60.0 * 100.0, 0.0, 100.0)));
                m_voiceStatus->setText(tr("Recording… %1 s").arg(seconds, 0, 'f', 1));
            });
    connect(m_voice, &consilium::app::VoiceService::recorded, this,
            [this](double seconds, const QString& warning) {
                m_recordWarning = warning;
                m_recordButton->setText(tr("● Record"));
                m_recordButton->setEnabled(true);
                m_levelMeter->setValue(0);
                m_voiceStatus->setText(
                    warning.isEmpty()
                        ? tr("Recorded %1 s").arg(seconds, 0, 'f', 1)
                        : tr("Recorded %1 s — %2").arg(seconds, 0, 'f', 1).arg(warning));
            });
    connect(m_voice, &consilium::app::VoiceService::transcribing, this,
            [this] { m_voiceStatus->setText(m_voiceStatus->text() + tr(" · transcribing…")); });
    connect(m_voice, &consilium::app::VoiceService::transcribed, this,
            [this](const consilium::app::VoiceTranscript& t) {
                if (t.understood) {
                    m_transcript->setText(t.text);
                    m_voiceStatus->setText(tr("Understood (confidence %1, %2 s of speech)")
                                               .arg(t.confidence, 0, 'f', 2)
                                               .arg(t.audioSeconds, 0, 'f', 1));
                } else {
                    m_transcript->setText(t.bestGuess);
                    m_voiceStatus->setText(
                        tr("Not understood (%1). Best guess shown: edit it or record again.")
                            .arg(t.reason));
                }
                // A recording cut short says so after its transcript too.
                if (!m_recordWarning.isEmpty()) {
                    m_voiceStatus->setText(m_voiceStatus->text() + "\n" +
                                           tr("Recording stopped early: %1").arg(m_recordWarning));
                    m_recordWarning.clear();
                }
                // Asked unedited, the question carries this audio to the model as the voice.
                m_voiceAudio = t.audioPath;
                m_voiceText = m_transcript->text().trimmed();
                m_playButton->setEnabled(!m_voiceAudio.isEmpty());
                emit transcriptReady(m_transcript->text(), t.understood);
            });
    connect(m_voice, &consilium::app::VoiceService::failed, this, [this](const QString& message) {
        m_recordButton->setText(tr("● Record"));
        m_recordButton->setEnabled(true);
        m_levelMeter->setValue(0);
        m_voiceStatus->setText(message);
        emit transcriptReady(QString(), false);
    });
    auto* voiceDock = addDock(tr("Voice"), "VoiceDock", voice, Qt::RightDockWidgetArea);

    // Ask: question, streamed answer, stop, and the history of this study.
    auto* ask = new QWidget;
    auto* askLayout = new QVBoxLayout(ask);
    askLayout->setContentsMargins(2, 2, 2, 2);
    m_question = new QPlainTextEdit;
    m_question->setObjectName("QuestionEdit");
    m_question->setPlaceholderText(tr("Ask about the study and the record (Ctrl+Enter)."));
    m_question->setMaximumHeight(70);
    auto* askShortcut = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return), m_question);
    connect(askShortcut, &QShortcut::activated, this, &MainWindow::askQuestion);
    auto* askRow = new QHBoxLayout;
    m_askButton = new QPushButton(tr("Ask"));
    m_askButton->setObjectName("AskButton");
    m_askButton->setEnabled(false);
    connect(m_askButton, &QPushButton::clicked, this, &MainWindow::askQuestion);
    m_stopButton = new QPushButton(tr("Stop"));
    m_stopButton->setObjectName("StopButton");
    m_stopButton->setEnabled(false);
    connect(m_stopButton, &QPushButton::clicked, this, &MainWindow::stopQuestion);
    askRow->addWidget(m_askButton, 1);
    askRow->addWidget(m_stopButton);
    m_answer = new QTextBrowser;
    m_answer->setObjectName("AnswerView");
    m_history = new QListWidget;
    m_history->setObjectName("HistoryList");
    m_history->setMaximumHeight(90);
    m_history->setToolTip(tr("Questions and answers about this study"));
    askLayout->addWidget(m_question);
    askLayout->addLayout(askRow);
    askLayout->addWidget(m_answer, 1);
    askLayout->addWidget(m_history);
    auto* askDock = addDock(tr("Ask"), "AskDock", ask, Qt::RightDockWidgetArea);
    splitDockWidget(voiceDock, askDock, Qt::Vertical);

    auto* worker = m_inference->worker();
    connect(worker, &consilium::app::InferenceWorker::stageChanged, this,
            [this](int id, int stage) {
                if (id != m_requestId) return;
                using consilium::app::AskStage;
                switch (AskStage(stage)) {
                    case AskStage::OpeningModel:
                        m_askJobLabel->setText(tr("Question: opening the model…"));
                        break;
                    case AskStage::LoadingStudy:
                        m_askJobLabel->setText(tr("Question: reading the study…"));
                        break;
                    case AskStage::ReadingInputs:
                        m_askJobLabel->setText(tr("Question: reading the record and question…"));
                        break;
                    case AskStage::RunningModel:
                        m_askJobLabel->setText(tr("Question: encoding and thinking…"));
                        break;
                }
            });
    connect(worker, &consilium::app::InferenceWorker::tokenReady, this,
            [this](int id, const QString& piece) {
                if (id != m_requestId) return;
                m_answer->moveCursor(QTextCursor::End);
                m_answer->insertPlainText(piece);
                ++m_answerTokens;
                m_askJobLabel->setText(tr("Question: answering, %1 tokens").arg(m_answerTokens));
            });
    connect(worker, &consilium::app::InferenceWorker::answerReady, this,
            [this](int id, const QJsonObject& answer, const QStringList& notes) {
                if (id == m_requestId) showAnswer(answer, notes);
            });
    connect(worker, &consilium::app::InferenceWorker::failed, this,
            [this](int id, const QString& message, bool cancelled) {
                if (id != m_requestId) return;
                m_askButton->setEnabled(true);
                m_stopButton->setEnabled(false);
                m_askJob->hide();
                m_answer->setPlainText(cancelled ? tr("Stopped.")
                                                 : tr("Could not answer: %1").arg(message));
                emit questionFailed(message);
            });

    auto* evidenceDock =
        addDock(tr("Evidence"), "EvidenceDock", buildEvidence(), Qt::RightDockWidgetArea);
    splitDockWidget(askDock, evidenceDock, Qt::Vertical);
}

QWidget* MainWindow::buildEvidence() {
    auto* box = new QWidget;
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(2, 2, 2, 2);

    auto* heatRow = new QHBoxLayout;
    m_heatmapToggle = new QCheckBox(tr("Attention on the CT"));
    m_heatmapToggle->setObjectName("HeatmapToggle");
    m_heatmapToggle->setChecked(true);
    m_opacity = new QSlider(Qt::Horizontal);
    m_opacity->setObjectName("HeatmapOpacity");
    m_opacity->setRange(0, 100);
    m_opacity->setValue(55);
    heatRow->addWidget(m_heatmapToggle);
    heatRow->addWidget(m_opacity, 1);
    connect(m_heatmapToggle, &QCheckBox::toggled, m_viewer, &CtViewer::setOverlayVisible);
    connect(m_opacity, &QSlider::valueChanged, this,
            [this](int v) { m_viewer->setOverlayOpacity(v / 100.0); });
    m_viewer->setOverlayOpacity(0.55);
    auto* styleRow = new QHBoxLayout;
    m_colormap = new QComboBox;
    m_colormap->setObjectName("HeatmapColormap");
    m_colormap->addItems({tr("Jet"), tr("Hot"), tr("Inferno"), tr("Viridis")});
    m_colormap->setCurrentIndex(std::max(
        0, int(consilium::app::heatmapColormapNames().indexOf(m_settings.heatmapColormap))));
    m_threshold = new QSlider(Qt::Horizontal);
    m_threshold->setObjectName("HeatmapThreshold");
    m_threshold->setRange(0, 95);
    m_threshold->setValue(m_settings.heatmapThreshold);
    m_threshold->setToolTip(tr("Hide attention below this share of its maximum"));
    styleRow->addWidget(new QLabel(tr("Colours")));
    styleRow->addWidget(m_colormap);
    styleRow->addWidget(new QLabel(tr("Threshold")));
    styleRow->addWidget(m_threshold, 1);
    connect(m_colormap, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_settings.heatmapColormap = consilium::app::heatmapColormapNames().value(i, "jet");
        m_settings.save();
        renderHeatmap();
    });
    connect(m_threshold, &QSlider::valueChanged, this, [this](int v) {
        m_settings.heatmapThreshold = v;
        m_settings.save();
        renderHeatmap();
    });
    // The heatmap follows the viewer to any slice of any plane.
    connect(m_viewer, &CtViewer::sliceChanged, this, [this] { renderHeatmap(); });
    // Which attention map: the averaged rollout, or one decoder layer or fusion head alone.
    auto* sourceRow = new QHBoxLayout;
    m_heatmapSource = new QComboBox;
    m_heatmapSource->setObjectName("HeatmapSource");
    m_heatmapSource->setToolTip(
        tr("Show the attention averaged over the model, or through one layer or head alone"));
    sourceRow->addWidget(new QLabel(tr("Map")));
    sourceRow->addWidget(m_heatmapSource, 1);
    m_heatNote = new QLabel;
    m_heatNote->setObjectName("HeatmapNote");
    m_heatNote->setWordWrap(true);
    fillHeatmapSources();
    connect(m_heatmapSource, &QComboBox::currentIndexChanged, this,
            &MainWindow::heatmapSourceChosen);

    // What the detection heads found, with the category they give; where the answer text
    // says otherwise (answer_checks), said here in the warning colour.
    m_findingsSummary = new QLabel;
    m_findingsSummary->setObjectName("FindingsSummary");
    m_findingsSummary->setWordWrap(true);
    m_findings = new QListWidget;
    m_findings->setObjectName("FindingsList");
    m_findings->setMaximumHeight(80);
    connect(m_findings, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
        const QVector3D mm = item->data(Qt::UserRole).value<QVector3D>();
        if (m_view) {
            setPlane(Plane::Axial);
            m_viewer->setSlice(m_view->sliceIndexAt(Plane::Axial, mm));
        }
    });

    m_weightBars = new QBarSet(tr("weight"));
    *m_weightBars << 0 << 0 << 0 << 0;
    auto* series = new QBarSeries;
    series->append(m_weightBars);
    auto* chart = new QChart;
    chart->addSeries(series);
    chart->legend()->hide();
    chart->setMargins(QMargins(2, 2, 2, 2));
    auto* axisX = new QBarCategoryAxis;
    axisX->append({tr("Image"), tr("Record"), tr("Voice"), tr("Question")});
    auto* axisY = new QValueAxis;
    axisY->setRange(0, 1);
    axisY->setLabelFormat("%.1f");
    chart->addAxis(axisX, Qt::AlignBottom);
    chart->addAxis(axisY, Qt::AlignLeft);
    series->attachAxis(axisX);
    series->attachAxis(axisY);
    auto* chartView = new QChartView(chart);
    chartView->setObjectName("ModalityChart");
    chartView->setRenderHint(QPainter::Antialiasing);
    chartView->setMinimumHeight(140);
    auto* weightNote = new QLabel(
        tr("How much each input carried the answer (softmax over the four; sums to 1)."));
    weightNote->setWordWrap(true);

    m_expertTable = new QTableWidget(0, 8);
    m_expertTable->setObjectName("ExpertTable");
    QStringList experts;
    for (int e = 0; e < 8; ++e)
        experts << QString("E%1").arg(e);
    m_expertTable->setHorizontalHeaderLabels(experts);
    m_expertTable->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_expertTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    auto* expertNote = new QLabel(
        tr("Which of the 8 experts each answer token used (top-2 per layer, summed over layers)."));
    expertNote->setWordWrap(true);

    layout->addLayout(heatRow);
    layout->addLayout(styleRow);
    layout->addLayout(sourceRow);
    layout->addWidget(m_heatNote);
    layout->addWidget(m_findingsSummary);
    layout->addWidget(m_findings);
    layout->addWidget(chartView, 1);
    layout->addWidget(weightNote);
    layout->addWidget(m_expertTable, 1);
    layout->addWidget(expertNote);
    m_expertTable->setMinimumHeight(110);
    // In a short window the dock scrolls instead of squeezing the chart under its caption.
    auto* scroll = new QScrollArea;
    scroll->setObjectName("EvidenceScroll");
    scroll->setMinimumHeight(470);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setWidget(box);
    return scroll;
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open =
        file->addAction(tr("Open &Study Folder…"), this, &MainWindow::chooseStudyFolder);
    open->setObjectName("OpenStudyAction");
    open->setShortcut(QKeySequence::Open);
    file->addAction(tr("Open &Record…"), this, &MainWindow::chooseRecordFile)
        ->setObjectName("OpenRecordAction");
    m_recentMenu = file->addMenu(tr("Recent &Studies"));
    m_recentMenu->setObjectName("RecentStudiesMenu");
    connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::fillRecentMenu);
    fillRecentMenu();
    m_exportAction = file->addAction(tr("&Export Report…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Export the finding report"),
            QDir(m_settings.lastStudyFolder).filePath("consilium-report.pdf"), tr("PDF (*.pdf)"));
        if (path.isEmpty()) return;
        const QString error = exportReport(path);
        if (!error.isEmpty()) {
            QMessageBox::warning(this, tr("Export report"), error);
        } else {
            statusBar()->showMessage(
                tr("Report written: %1 (with .json and .png beside it, de-identified)").arg(path),
                10000);
        }
    });
    m_exportAction->setObjectName("ExportReportAction");
    m_exportAction->setEnabled(false);
    file->addSeparator();
    QAction* settings = file->addAction(tr("&Settings…"), this, &MainWindow::showSettings);
    settings->setObjectName("SettingsAction");
    settings->setShortcut(QKeySequence::Preferences);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* dock : findChildren<QDockWidget*>())
        view->addAction(dock->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Consilium"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::buildStatusBar() {
    // Jobs: a progress bar with cancel, shown while a study loads.
    m_job = new QWidget;
    m_job->setObjectName("JobWidget");
    auto* jobLayout = new QHBoxLayout(m_job);
    jobLayout->setContentsMargins(0, 0, 0, 0);
    m_jobLabel = new QLabel;
    m_jobProgress = new QProgressBar;
    m_jobProgress->setObjectName("JobProgress");
    m_jobProgress->setMaximumWidth(160);
    auto* cancel = new QToolButton;
    cancel->setObjectName("JobCancelButton");
    cancel->setText(tr("Cancel"));
    connect(cancel, &QToolButton::clicked, m_studies, &consilium::app::StudyService::cancel);
    jobLayout->addWidget(m_jobLabel);
    jobLayout->addWidget(m_jobProgress);
    jobLayout->addWidget(cancel);
    m_job->hide();
    statusBar()->addWidget(m_job);

    // The running question's job: opening the model, loading the study, reading the inputs,
    // running the model, then the tokens as they stream; Cancel stops it like Stop.
    m_askJob = new QWidget;
    m_askJob->setObjectName("QuestionJobWidget");
    auto* askJobLayout = new QHBoxLayout(m_askJob);
    askJobLayout->setContentsMargins(0, 0, 0, 0);
    m_askJobLabel = new QLabel;
    m_askJobLabel->setObjectName("QuestionJobLabel");
    auto* askProgress = new QProgressBar;
    askProgress->setRange(0, 0);
    askProgress->setMaximumWidth(100);
    auto* askCancel = new QToolButton;
    askCancel->setObjectName("QuestionJobCancelButton");
    askCancel->setText(tr("Cancel"));
    connect(askCancel, &QToolButton::clicked, this, &MainWindow::stopQuestion);
    askJobLayout->addWidget(m_askJobLabel);
    askJobLayout->addWidget(askProgress);
    askJobLayout->addWidget(askCancel);
    m_askJob->hide();
    statusBar()->addWidget(m_askJob);

    m_probeLabel = new QLabel;
    m_probeLabel->setObjectName("ProbeLabel");
    statusBar()->addWidget(m_probeLabel, 1);
    connect(m_viewer, &CtViewer::probeChanged, m_probeLabel, &QLabel::setText);

    m_deviceLabel = new QLabel(tr("Device: probing…"));
    m_deviceLabel->setObjectName("DeviceLabel");
    m_modelLabel = new QLabel(tr("Model: looking…"));
    m_modelLabel->setObjectName("ModelLabel");
    m_precisionLabel = new QLabel;
    m_precisionLabel->setObjectName("PrecisionLabel");
    m_memoryLabel = new QLabel;
    m_memoryLabel->setObjectName("MemoryLabel");
    statusBar()->addPermanentWidget(m_modelLabel);
    statusBar()->addPermanentWidget(m_precisionLabel);
    statusBar()->addPermanentWidget(m_deviceLabel);
    statusBar()->addPermanentWidget(m_memoryLabel);
    // The process's resident memory (volumes, model, caches), every two seconds.
    auto* memoryTimer = new QTimer(this);
    auto showMemory = [this] {
        const double mib = double(consilium::app::residentBytes()) / (1024.0 * 1024.0);
        m_memoryLabel->setText(mib > 0 ? tr("Memory: %1 MiB").arg(mib, 0, 'f', 0) : QString());
    };
    connect(memoryTimer, &QTimer::timeout, this, showMemory);
    memoryTimer->start(2000);
    showMemory();
}

// The folders opened before, most recent first; one that has gone is dropped with a notice.
void MainWindow::fillRecentMenu() {
    m_recentMenu->clear();
    for (const QString& path : m_settings.recentStudies) {
        QAction* a = m_recentMenu->addAction(path);
        connect(a, &QAction::triggered, this, [this, path] {
            if (!QFileInfo::exists(path)) {
                m_settings.recentStudies.removeAll(path);
                m_settings.save();
                fillRecentMenu();
                statusBar()->showMessage(
                    tr("%1 no longer exists; removed from the recent studies").arg(path), 10000);
                return;
            }
            openStudy(path);
        });
    }
    m_recentMenu->addSeparator();
    QAction* clear = m_recentMenu->addAction(tr("Clear Recent Studies"), this, [this] {
        m_settings.recentStudies.clear();
        m_settings.save();
        fillRecentMenu();
    });
    clear->setEnabled(!m_settings.recentStudies.isEmpty());
}

void MainWindow::chooseStudyFolder() {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open study folder"),
                                                          m_settings.lastStudyFolder);
    if (dir.isEmpty()) return;
    m_settings.lastStudyFolder = dir;
    m_settings.save();
    openStudy(dir);
}

void MainWindow::chooseRecordFile() {
    const QString file =
        QFileDialog::getOpenFileName(this, tr("Open record"), m_settings.lastStudyFolder,
                                     tr("Records (*.txt *.md);;All files (*)"));
    if (!file.isEmpty()) openRecord(file);
}

bool MainWindow::openRecord(const QString& path) {
    const auto read = consilium::app::readRecordFile(path);
    if (!read.ok) {
        statusBar()->showMessage(read.error, 15000);
        return false;
    }
    m_recordPath = path;
    m_recordFromStudy = false;
    m_record->setPlainText(read.record.text);
    if (read.record.encoding != "UTF-8") {
        statusBar()->showMessage(tr("Record decoded as %1").arg(read.record.encoding), 8000);
    }
    return true;
}

QString MainWindow::recordText() const {
    return m_record->toPlainText();
}

void MainWindow::toggleRecording() {
    if (m_voice->isRecording()) {
        m_recordButton->setEnabled(false);
        m_voice->stopRecording();
    } else {
        m_recordButton->setEnabled(false);
        m_voiceStatus->setText(tr("Opening the microphone…"));
        m_recordWarning.clear();
        m_voice->startRecording(m_settings.audioInputDevice);
    }
}

void MainWindow::transcribeAudioFile(const QString& path) {
    m_recordWarning.clear();
    m_voiceStatus->setText(tr("Transcribing %1…").arg(QFileInfo(path).fileName()));
    m_voice->transcribeFile(path);
}

void MainWindow::askQuestion() {
    const QString question = m_question->toPlainText().trimmed();
    if (m_study.path.isEmpty() || !m_study.preferredSeries()) {
        m_answer->setPlainText(tr("Open a study first (File ▸ Open Study Folder…)."));
        return;
    }
    if (question.isEmpty()) {
        m_answer->setPlainText(tr("Type or speak a question first."));
        return;
    }
    consilium::app::AskRequest request;
    request.studyDir = m_study.path;
    request.seriesUid = m_seriesUid;  // the series on screen; excluded ones are refused
    request.recordText = m_record->toPlainText();
    request.question = question;
    // The spoken question itself, when the question is still its transcript.
    if (!m_voiceAudio.isEmpty() && question == m_voiceText) request.audioFile = m_voiceAudio;
    request.modelFile = modelFile();
    request.device = consilium::app::deviceName(m_settings.device);
    m_askedQuestion = question;
    m_askedStudy = request.studyDir;
    m_answer->clear();
    m_askButton->setEnabled(false);
    m_stopButton->setEnabled(true);
    m_answerTokens = 0;
    m_askJobLabel->setText(tr("Question: waiting…"));
    m_askJob->show();
    m_requestId = m_inference->ask(request);
}

void MainWindow::setModelFile(const QString& path) {
    m_modelOverride = path;  // this session only: m_settings (saved) keeps the user's choice
    m_hasModelOverride = true;
    m_tokenTimer->start();  // another model may cut the record into other tokens
    if (m_reportApplied) recheckModel();
}

// Validates the model file now chosen on a pool thread (it reads the whole tensor table) and
// puts the result in the status bar; a newer check wins over an older one still running.
void MainWindow::recheckModel() {
    const std::string path = modelFile().toStdString();
    auto* watcher = new QFutureWatcher<consilium::app::ModelCheck>(this);
    const int serial = ++m_modelCheckSerial;
    connect(watcher, &QFutureWatcher<consilium::app::ModelCheck>::finished, this,
            [this, watcher, serial] {
                watcher->deleteLater();
                if (serial != m_modelCheckSerial) return;
                const consilium::app::ModelCheck m = watcher->result();
                m_report.modelPath = m.path;
                m_report.modelSearched = m.searched;
                m_report.modelValid = m.valid;
                m_report.modelSummary = m.summary;
                showModelStatus();
                emit modelChecked();
            });
    watcher->setFuture(QtConcurrent::run([path] { return consilium::app::checkModel(path); }));
}

void MainWindow::showModelStatus() {
    const QString summary = q(m_report.modelSummary);
    if (m_report.modelPath.empty()) {
        m_modelLabel->setText(modelFile().isEmpty()
                                  ? tr("Model: none found")
                                  : tr("Model: %1 (not found)").arg(modelFile().section('/', -1)));
    } else {
        m_modelLabel->setText(tr("Model: %1 (%2)")
                                  .arg(q(m_report.modelPath).section('/', -1))
                                  .arg(m_report.modelValid ? tr("valid") : tr("invalid")));
    }
    m_modelLabel->setToolTip(m_report.modelPath.empty() ? modelFile() + "\n" + summary
                                                        : q(m_report.modelPath) + "\n" + summary);
}

void MainWindow::setQuestion(const QString& text) {
    m_question->setPlainText(text);
}

void MainWindow::stopQuestion() {
    m_inference->cancel();
}

void MainWindow::showAnswer(const QJsonObject& answer, const QStringList& notes) {
    m_lastAnswer = answer;
    // The engine's weights, known once it has loaded the model (e.g. "Q4_0").
    m_precisionLabel->setText(tr("Precision: %1").arg(answer["precision"].toString()));
    m_exportAction->setEnabled(true);
    m_askButton->setEnabled(true);
    m_stopButton->setEnabled(false);
    m_askJob->hide();
    const QString text = answer["answer"].toString();
    m_answer->setPlainText(text);
    if (!notes.isEmpty()) {
        m_answer->append("\n" + notes.join("\n"));
        m_answer->moveCursor(QTextCursor::Start);  // the answer first, its notes below
    }
    m_history->insertItem(0, QString("%1 → %2").arg(m_askedQuestion, text.left(120)));

    // Modality weights.
    const QJsonObject w = answer["modality_weights"].toObject();
    const char* keys[4] = {"image", "record", "voice", "question"};
    for (int i = 0; i < 4; ++i)
        m_weightBars->replace(i, w[keys[i]].toDouble());

    // Experts per generated token: summed weights over layers.
    const QJsonArray tokens = answer["experts"].toArray();
    m_expertTable->setRowCount(tokens.size());
    QStringList rows;
    for (int t = 0; t < tokens.size(); ++t) {
        const QJsonObject tok = tokens[t].toObject();
        rows << tok["token"].toString().trimmed();
        double sum[8] = {};
        for (const auto& l : tok["layers"].toArray()) {
            const auto ids = l.toObject()["experts"].toArray();
            const auto ws = l.toObject()["weights"].toArray();
            for (int k = 0; k < ids.size() && k < ws.size(); ++k) {
                const int e = ids[k].toInt();
                if (e >= 0 && e < 8) sum[e] += ws[k].toDouble();
            }
        }
        double maxSum = 1e-9;
        for (double v : sum)
            maxSum = std::max(maxSum, v);
        for (int e = 0; e < 8; ++e) {
            auto* item =
                new QTableWidgetItem(sum[e] > 0 ? QString::number(sum[e], 'f', 2) : QString());
            const int shade = int(255 - 150 * sum[e] / maxSum);
            item->setBackground(QColor(shade, shade, 255));
            m_expertTable->setItem(t, e, item);
        }
    }
    m_expertTable->setVerticalHeaderLabels(rows);

    // Record evidence: the record tokens the answer attended to most, highlighted in the
    // Record dock (character offsets into the text that was asked about).
    QList<QTextEdit::ExtraSelection> highlights;
    const QJsonArray evidence = answer["record_evidence"].toArray();
    double topWeight = 1e-9;
    for (const QJsonValue& e : evidence)
        topWeight = std::max(topWeight, e.toObject()["weight"].toDouble());
    for (const QJsonValue& e : evidence) {
        const QJsonObject o = e.toObject();
        const int begin = o["begin"].toInt(), end = o["end"].toInt();
        if (begin < 0 || end <= begin || end > m_record->document()->characterCount()) continue;
        QTextEdit::ExtraSelection sel;
        sel.cursor = QTextCursor(m_record->document());
        sel.cursor.setPosition(begin);
        sel.cursor.setPosition(end, QTextCursor::KeepAnchor);
        sel.format.setBackground(
            QColor(255, 200, 0, int(60 + 160 * o["weight"].toDouble() / topWeight)));
        sel.format.setToolTip(tr("attention weight %1").arg(o["weight"].toDouble(), 0, 'f', 3));
        highlights << sel;
    }
    m_record->setExtraSelections(highlights);

    // Findings: markers on their slices, listed for jumping.
    m_findings->clear();
    QVector<ViewerMarker> markers;
    for (const auto& f : answer["findings"].toArray()) {
        const QJsonObject o = f.toObject();
        const QJsonArray c = o["center_mm"].toArray();
        const QVector3D mm(float(c[0].toDouble()), float(c[1].toDouble()), float(c[2].toDouble()));
        QString label = tr("%1 mm %2, %3")
                            .arg(o["diameter_mm"].toDouble(), 0, 'f', 0)
                            .arg(o["type"].toString(), o["lobe"].toString());
        if (o.contains("solid_diameter_mm"))
            label += tr(" (solid %1 mm)").arg(o["solid_diameter_mm"].toDouble(), 0, 'f', 0);
        auto* item = new QListWidgetItem(label, m_findings);
        item->setData(Qt::UserRole, QVariant::fromValue(mm));
        if (m_view && m_plane == Plane::Axial) {
            const double px = o["diameter_mm"].toDouble() / 2.0 /
                              std::max(0.1, m_view->pixelSizeMm(Plane::Axial).width());
            markers.push_back({m_view->sliceIndexAt(Plane::Axial, mm),
                               m_view->pixelAt(Plane::Axial, mm), px, label});
        }
    }
    m_viewer->setMarkers(markers);
    showFindingsSummary(answer);
    showEvidenceOverlay();
    emit answerShown(answer);
}

void MainWindow::showFindingsSummary(const QJsonObject& answer) {
    const int n = int(answer["findings"].toArray().size());
    QString text = n == 1 ? tr("1 finding")
                   : n    ? tr("%1 findings").arg(n)
                          : tr("No findings above the detector's threshold");
    if (answer["lung_rads"].isString())
        text += tr("; Lung-RADS %1").arg(answer["lung_rads"].toString());
    QStringList differ;
    for (const auto& v : answer["answer_checks"].toArray()) {
        const QJsonObject c = v.toObject();
        if (c["agree"].toBool()) continue;
        differ << (c["field"].toString() == QLatin1String("lung_rads")
                       ? tr("the answer text says Lung-RADS %1").arg(c["answer"].toString())
                       : tr("the answer text counts %1").arg(c["answer"].toString()));
    }
    if (!differ.isEmpty()) text += tr(". Not as %1.").arg(differ.join(tr(" and ")));
    m_findingsSummary->setText(text);
    m_findingsSummary->setStyleSheet(differ.isEmpty() ? QString()
                                                      : QStringLiteral("color: #a04000;"));
}

void MainWindow::showEvidenceOverlay() {
    const QJsonObject att = m_lastAnswer["attention"].toObject();
    const QJsonArray peak = att["peak_mm"].toArray();
    // The model's whole per-patch map when the answer carries it.
    const QJsonObject map = att["map"].toObject();
    const QJsonArray g = map["grid"].toArray(), p = map["patch"].toArray(),
                     w = map["weights"].toArray();
    m_attentionMap = {};
    if (g.size() == 3 && p.size() == 3 && !w.isEmpty()) {
        for (int i = 0; i < 3; ++i) {
            m_attentionMap.grid[size_t(i)] = g[i].toInt();
            m_attentionMap.patch[size_t(i)] = p[i].toInt();
        }
        auto add = [this, &w](const QJsonArray& weights) {
            if (weights.size() != w.size()) return false;  // not a map of the same patches
            std::vector<float> one;
            one.reserve(size_t(weights.size()));
            for (const QJsonValue& v : weights)
                one.push_back(float(v.toDouble()));
            m_attentionMap.sources.push_back(std::move(one));
            return true;
        };
        add(w);
        for (const QJsonValue& m : map["by_layer"].toArray())
            m_attentionMap.layers += add(m.toArray());
        for (const QJsonValue& m : map["by_head"].toArray())
            m_attentionMap.heads += add(m.toArray());
    }
    fillHeatmapSources();
    if (!m_view || peak.size() != 3) return;
    const QVector3D mm(float(peak[0].toDouble()), float(peak[1].toDouble()),
                       float(peak[2].toDouble()));
    const int slice = m_view->sliceIndexAt(m_plane, mm);
    if (slice < 0) return;
    if (m_viewer->slice() == slice)
        renderHeatmap();
    else
        m_viewer->setSlice(slice);  // sliceChanged renders the heatmap there
}

QString MainWindow::exportReport(const QString& pdfPath) {
    if (m_lastAnswer.isEmpty()) return tr("No answer to report yet.");
    consilium::app::FindingReport r;
    r.answer = m_lastAnswer;
    r.view = m_viewer->grab().toImage();
    const QString planes[3] = {tr("Axial"), tr("Coronal"), tr("Sagittal")};
    r.viewCaption = tr("%1 slice %2 of %3")
                        .arg(planes[int(m_plane)])
                        .arg(m_viewer->slice() + 1)
                        .arg(m_view ? m_view->sliceCount(m_plane) : 0);
    for (const auto& p : m_study.patients)
        r.identifiers << p.name << QString(p.name).replace('^', ' ') << p.id << p.birthDate;
    auto written = consilium::app::exportFindingReport(r, pdfPath);
    if (!written) return QString::fromStdString(written.error().message);
    return {};
}

void MainWindow::heatmapSourceChosen(int index) {
    describeHeatmapSource(index);
    renderHeatmap();
}

// The one-line explanation under the map choice.
void MainWindow::describeHeatmapSource(int i) {
    const int layers = m_attentionMap.layers;
    if (i <= 0) {
        m_heatNote->setText(
            tr("Where the answer looked: its attention over the CT patches, averaged over "
               "layers and heads, scaled to its maximum."));
    } else if (i <= layers) {
        m_heatNote->setText(tr("Where the answer looked through decoder layer %1 alone "
                               "(averaged over the fusion heads).")
                                .arg(i));
    } else {
        m_heatNote->setText(tr("What fusion head %1 picked out of the CT for this answer "
                               "(weighted by the answer's attention, all decoder layers).")
                                .arg(i - layers));
    }
}

// The map choices of the last answer; the choice made stays while the new answer has it.
void MainWindow::fillHeatmapSources() {
    const int keep = m_heatmapSource->currentIndex();
    const QSignalBlocker block(m_heatmapSource);
    m_heatmapSource->clear();
    m_heatmapSource->addItem(tr("Averaged over layers and heads"));
    for (int l = 0; l < m_attentionMap.layers; ++l)
        m_heatmapSource->addItem(tr("Decoder layer %1").arg(l + 1));
    for (int h = 0; h < m_attentionMap.heads; ++h)
        m_heatmapSource->addItem(tr("Fusion head %1").arg(h + 1));
    m_heatmapSource->setEnabled(m_heatmapSource->count() > 1);
    m_heatmapSource->setCurrentIndex(keep > 0 && keep < m_heatmapSource->count() ? keep : 0);
    describeHeatmapSource(m_heatmapSource->currentIndex());
}

void MainWindow::renderHeatmap() {
    if (!m_view || m_lastAnswer.isEmpty()) return;
    const QJsonArray peak = m_lastAnswer["attention"].toObject()["peak_mm"].toArray();
    if (peak.size() != 3) return;
    const int slice = m_viewer->slice();
    const auto cmap = consilium::app::HeatColormap(std::max(0, m_colormap->currentIndex()));
    QImage overlay;
    const auto& sources = m_attentionMap.sources;
    if (!sources.empty()) {
        const size_t which =
            size_t(std::clamp(m_heatmapSource->currentIndex(), 0, int(sources.size()) - 1));
        overlay =
            m_view->attentionMapOverlay(m_plane, slice, m_attentionMap.grid, m_attentionMap.patch,
                                        sources[which], m_threshold->value() / 100.0, cmap);
    }
    if (overlay.isNull()) {  // an answer without the map: a Gaussian around the peak
        const QVector3D mm(float(peak[0].toDouble()), float(peak[1].toDouble()),
                           float(peak[2].toDouble()));
        overlay = m_view->attentionOverlay(m_plane, slice, mm, 10.0);
    }
    m_viewer->setOverlay(slice, overlay);
}

void MainWindow::openStudy(const QString& path) {
    m_jobLabel->setText(tr("Loading study…"));
    m_jobProgress->setRange(0, 0);
    m_job->show();
    m_viewer->clearSeries(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    m_seriesNotice->hide();
    m_studies->load(path);
}

void MainWindow::onStudyFailed(const QString& path, const QString& message) {
    m_job->hide();
    m_viewer->clearSeries(tr("Could not load %1:\n%2").arg(path, message));
    statusBar()->showMessage(message, 15000);
    emit studyLoadFailed(message);
}

void MainWindow::onStudyLoaded(const consilium::app::StudyLoad& load) {
    m_job->hide();
    // A question still running about another study would answer over this one: stop it.
    if (m_stopButton->isEnabled() && load.path != m_askedStudy) {
        m_inference->cancel();
        statusBar()->showMessage(tr("The running question was stopped: another study was opened."),
                                 8000);
    }
    m_settings.rememberStudy(load.path);
    m_settings.save();
    fillRecentMenu();
    m_study = load;
    m_lastAnswer = QJsonObject();
    m_exportAction->setEnabled(false);
    m_history->clear();
    m_findings->clear();
    m_findingsSummary->clear();
    m_studyModel->removeRows(0, m_studyModel->rowCount());
    for (const auto& p : load.patients) {
        auto* patient = new QStandardItem(p.name.isEmpty() ? tr("(no name)")
                                                           : QString(p.name).replace('^', ' '));
        patient->setToolTip(tr("ID %1, sex %2, born %3").arg(p.id, p.sex, p.birthDate));
        for (const auto& st : p.studies) {
            auto* study = new QStandardItem(st.description.isEmpty() ? tr("Study %1").arg(st.date)
                                                                     : st.description);
            study->setToolTip(st.uid);
            for (const auto& se : st.series) {
                auto* series = new QStandardItem(se.description.isEmpty()
                                                     ? tr("Series %1").arg(se.seriesNumber)
                                                     : se.description);
                series->setData(se.uid, kSeriesUidRole);
                if (!se.thumbnail.isNull()) series->setIcon(QPixmap::fromImage(se.thumbnail));
                series->setData(se.stack, kSeriesStackRole);
                QString tip = tr("%1 × %2, %3 × %4 × %5 mm\n%6")
                                  .arg(se.matrix.width())
                                  .arg(se.matrix.height())
                                  .arg(se.spacingMm.x(), 0, 'f', 2)
                                  .arg(se.spacingMm.y(), 0, 'f', 2)
                                  .arg(se.spacingMm.z(), 0, 'f', 2)
                                  .arg(se.transferSyntaxes.join(", "));
                if (!se.warnings.isEmpty()) {
                    tip += "\n⚠ " + se.warnings.join("\n⚠ ");
                    series->setText(series->text() + QStringLiteral(" ⚠"));
                }
                series->setToolTip(tip);
                study->appendRow({series, new QStandardItem(se.modality),
                                  new QStandardItem(QString::number(se.slices))});
            }
            patient->appendRow({study, new QStandardItem, new QStandardItem});
        }
        m_studyModel->appendRow({patient, new QStandardItem, new QStandardItem});
    }
    m_studyTree->expandAll();
    // The record that ships beside the study, unless the user already has one open.
    const QString studyRecord = consilium::app::findStudyRecord(load.path);
    if (!studyRecord.isEmpty() && (m_record->toPlainText().isEmpty() || m_recordFromStudy)) {
        if (openRecord(studyRecord)) m_recordFromStudy = true;
    }
    m_reportButton->setEnabled(true);
    m_reportButton->setText(load.skipped.isEmpty()
                                ? tr("Load report: all %1 files used").arg(load.filesFound)
                                : tr("Load report: %1 files skipped").arg(load.skipped.size()));
    QString loaded = tr("Loaded %1 series from %2 files in %3 s")
                         .arg(load.seriesCount())
                         .arg(load.filesLoaded)
                         .arg(load.seconds, 0, 'f', 1);
    if (!load.skipped.isEmpty())
        loaded += tr("; %1 files skipped (see the load report)").arg(load.skipped.size());
    statusBar()->showMessage(loaded, 8000);
    if (const auto* best = load.preferredSeries()) {
        showSeries(best->uid, best->stack);
    } else {
        m_viewer->clearSeries(
            tr("No image series found in %1 (see the load report).").arg(load.path));
    }
}

void MainWindow::showSeries(const QString& seriesUid, int stack) {
    m_view = m_studies->viewModel(seriesUid, stack);
    m_seriesUid = seriesUid;
    QStringList notices;  // the loader's warnings, including an exclusion from model input
    if (const auto* entry = m_study.series(seriesUid, stack)) notices = entry->warnings;
    m_seriesNotice->setText(QStringLiteral("⚠ ") + notices.join(QStringLiteral("\n⚠ ")));
    m_seriesNotice->setVisible(!notices.isEmpty());
    showPlane();
    if (m_view) {
        m_askButton->setEnabled(true);
        emit studyShown(seriesUid);
    }
}

void MainWindow::setPlane(Plane plane) {
    m_plane = plane;
    m_planeButtons[int(plane)]->setChecked(true);
    showPlane();
    if (!m_lastAnswer.isEmpty()) showEvidenceOverlay();
}

void MainWindow::showPlane() {
    if (!m_view || m_view->empty()) return;
    auto view = m_view;
    const Plane plane = m_plane;
    const QString names[3] = {tr("Axial"), tr("Coronal"), tr("Sagittal")};
    const QString units = view->units();
    m_viewer->setSeries(
        view->sliceCount(plane), view->pixelSizeMm(plane),
        [view, plane](int slice, double center, double width) {
            return view->renderSlice(plane, slice, {center, width});
        },
        [view, plane, units](int slice, QPointF pixel) {
            const auto p = view->probe(plane, slice, pixel);
            if (!p) return QString();
            return tr("%1 %2   (%3, %4, %5) mm LPS   voxel %6, %7, %8")
                .arg(p->value, 0, 'f', 0)
                .arg(units)
                .arg(p->patientMm.x(), 0, 'f', 1)
                .arg(p->patientMm.y(), 0, 'f', 1)
                .arg(p->patientMm.z(), 0, 'f', 1)
                .arg(p->x)
                .arg(p->y)
                .arg(p->z);
        },
        view->sliceCount(plane) / 2, names[int(plane)]);
}

QString MainWindow::skipProblem(const consilium::app::SkippedEntry& entry) {
    if (entry.reason.startsWith(QLatin1String("not a DICOM file"))) return tr("Not DICOM");
    if (entry.reason.startsWith(QLatin1String("no image"))) return tr("No image");
    if (entry.code == QLatin1String("CorruptFile")) return tr("Damaged");
    if (entry.code == QLatin1String("UnsupportedTransferSyntax")) return tr("Unsupported encoding");
    if (entry.reason.contains(QLatin1String("is not supported"))) return tr("Not supported");
    if (entry.code == QLatin1String("IoError") || entry.code == QLatin1String("NotFound"))
        return tr("Unreadable");
    if (entry.code == QLatin1String("Cancelled")) return tr("Not read (cancelled)");
    return tr("Not usable");
}

void MainWindow::showLoadReport() {
    auto* dialog = new QDialog(this);
    dialog->setObjectName("LoadReportDialog");
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(tr("Load report"));
    auto* layout = new QVBoxLayout(dialog);
    layout->addWidget(new QLabel(tr("%1: %2 files found, %3 used, %4 skipped.")
                                     .arg(m_study.path)
                                     .arg(m_study.filesFound)
                                     .arg(m_study.filesLoaded)
                                     .arg(m_study.skipped.size())));
    auto* table = new QTableWidget(m_study.skipped.size(), 3);
    table->setObjectName("SkippedTable");
    table->setHorizontalHeaderLabels({tr("File"), tr("Problem"), tr("Reason")});
    // Files relative to the opened folder (the full path in the tooltip); the reason without
    // the path the File column already shows; the problem in words, the code in its tooltip.
    const QFileInfo root(m_study.path);
    const QDir base(root.isDir() ? root.absoluteFilePath() : root.absolutePath());
    for (int i = 0; i < m_study.skipped.size(); ++i) {
        const auto& s = m_study.skipped[i];
        const QString relative = base.relativeFilePath(s.path);
        auto* file = new QTableWidgetItem(relative.startsWith("..") ? s.path : relative);
        file->setToolTip(s.path);
        table->setItem(i, 0, file);
        auto* problem = new QTableWidgetItem(skipProblem(s));
        problem->setToolTip(s.code);
        table->setItem(i, 1, problem);
        QString reason = s.reason;
        for (const QString& suffix : {QStringLiteral(" in file "), QStringLiteral(" of file ")})
            if (reason.endsWith(suffix + s.path)) reason.chop(suffix.size() + s.path.size());
        auto* why = new QTableWidgetItem(reason);
        why->setToolTip(s.reason);
        table->setItem(i, 2, why);
    }
    table->horizontalHeader()->setStretchLastSection(true);
    table->resizeColumnsToContents();
    layout->addWidget(table, 1);
    // What the loaded series themselves lack (missing slices, uneven spacing, ...).
    QStringList seriesWarnings;
    for (const auto& p : m_study.patients)
        for (const auto& st : p.studies)
            for (const auto& se : st.series)
                for (const auto& w : se.warnings)
                    seriesWarnings
                        << tr("Series %1 (%2): %3").arg(se.seriesNumber).arg(se.description, w);
    if (!seriesWarnings.isEmpty()) {
        layout->addWidget(new QLabel(tr("Warnings about the loaded series:")));
        auto* list = new QListWidget;
        list->setObjectName("SeriesWarningList");
        list->addItems(seriesWarnings);
        const int rows = std::min<int>(int(seriesWarnings.size()), 4);
        list->setFixedHeight(rows * list->fontMetrics().height() + 4 * list->frameWidth() + 6);
        layout->addWidget(list);
    }
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    layout->addWidget(buttons);
    dialog->resize(900, 400);
    dialog->open();
}

namespace {

enum class DropKind { None, Study, Record, Audio };

// What a dropped local path is: a record (.txt, .md), an audio file (.wav, .flac, .ogg), else
// a study (a folder, a DICOMDIR or a DICOM file, whatever its name).
DropKind dropKind(const QString& path) {
    const QFileInfo fi(path);
    if (!fi.exists()) return DropKind::None;
    if (fi.isDir()) return DropKind::Study;
    const QString ext = fi.suffix().toLower();
    if (ext == "txt" || ext == "md") return DropKind::Record;
    if (ext == "wav" || ext == "flac" || ext == "ogg") return DropKind::Audio;
    return DropKind::Study;
}

QStringList localPaths(const QMimeData* mime) {
    QStringList out;
    if (!mime->hasUrls()) return out;
    for (const QUrl& u : mime->urls())
        if (u.isLocalFile()) out << u.toLocalFile();
    return out;
}

}  // namespace

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    // Only local files that exist: a web link or a vanished path is refused at the border.
    for (const QString& path : localPaths(event->mimeData()))
        if (dropKind(path) != DropKind::None) {
            event->acceptProposedAction();
            return;
        }
    event->ignore();
}

void MainWindow::dropEvent(QDropEvent* event) {
    // A study folder, a record and a spoken question may arrive in one drop; each goes to its
    // dock (the first of each kind).
    bool study = false, record = false, audio = false, any = false;
    for (const QString& path : localPaths(event->mimeData())) {
        switch (dropKind(path)) {
            case DropKind::Study:
                if (!study) openStudy(path);
                study = any = true;
                break;
            case DropKind::Record:
                if (!record && openRecord(path)) m_recordFromStudy = false;
                record = any = true;
                break;
            case DropKind::Audio:
                if (!audio) transcribeAudioFile(path);
                audio = any = true;
                break;
            case DropKind::None:
                break;
        }
    }
    if (any) {
        event->acceptProposedAction();
    } else {
        statusBar()->showMessage(tr("Nothing to open: drop a study folder, a DICOMDIR, a DICOM "
                                    "file, a record (.txt, .md) or an audio file."),
                                 8000);
        event->ignore();
    }
}

void MainWindow::applySystemReport(const consilium::app::SystemReport& report) {
    m_report = report;
    m_reportApplied = true;
    m_deviceLabel->setText(tr("Device: %1").arg(q(report.device)));
    showModelStatus();
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
        const QString model = m_settings.modelPath;
        m_settings = dialog->settings();
        m_settings.save();
        if (m_settings.modelPath != model) {  // chosen in Settings: it replaces a --model
            m_hasModelOverride = false;
            m_tokenTimer->start();
            if (m_reportApplied) recheckModel();
        }
        emit settingsChanged(m_settings);
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
