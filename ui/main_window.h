// The workstation's main window: CT viewer in the centre, docks for the study browser,
// record, voice, question/answer and evidence, and a status bar with jobs (progress and
// cancel), the cursor probe, the device and the model. Widgets only: it talks to the
// engine through app/ services and never blocks the GUI thread on them.
#pragma once

#include <QMainWindow>
#include <memory>

#include "app/app_settings.h"
#include "app/ct_view_model.h"
#include "app/inference_worker.h"
#include "app/record_token_counter.h"
#include "app/study_service.h"
#include "app/system_report.h"
#include "app/voice_service.h"

class QComboBox;
class QDockWidget;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QStandardItemModel;
class QTextBrowser;
class QToolButton;
class QTreeView;
class QCheckBox;
class QListWidget;
class QTableWidget;
class QTimer;
class QBarSet;
class QSlider;

namespace consilium::ui {

class CtViewer;

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Applies a system report collected off the GUI thread (device, model, notices).
    void applySystemReport(const consilium::app::SystemReport& report);
    bool systemReportApplied() const { return m_reportApplied; }

    // Loads a study folder, file or DICOMDIR in the background (progress in the status bar).
    void openStudy(const QString& path);
    const consilium::app::StudyLoad& currentStudy() const { return m_study; }
    void showSeries(const QString& seriesUid, int stack);
    // Loads a record file into the Record dock (UTF-8 or GB18030). False, with a message
    // in the status bar, when it cannot be read.
    bool openRecord(const QString& path);
    QString recordText() const;
    // For scripted runs (--model): the model file for this session only, never saved with the
    // settings; and the question.
    // The status bar's model entry follows (checked off the GUI thread once the startup
    // report is in; modelChecked() then).
    void setModelFile(const QString& path);
    QString modelFile() const {  // empty: the demo model
        return m_hasModelOverride ? m_modelOverride : m_settings.modelPath;
    }
    void setQuestion(const QString& text);
    // Writes the finding report of the last answer (PDF, and JSON and PNG beside it,
    // de-identified: app/report_export.h). Returns an empty string, or what went wrong.
    QString exportReport(const QString& pdfPath);
    void setPlane(consilium::app::Plane plane);

    CtViewer* viewer() const { return m_viewer; }
    QStandardItemModel* studyModel() const { return m_studyModel; }

  signals:
    void systemReportReady();
    void modelChecked();
    void settingsChanged(const consilium::app::AppSettings& settings);
    void studyShown(const QString& seriesUid);  // the viewer shows a new series
    void studyLoadFailed(const QString& message);
    void transcriptReady(const QString& text, bool understood);
    void answerShown(const QJsonObject& answer);  // a question finished, evidence drawn
    void questionFailed(const QString& message);
    void playbackFinished(const QString& error);  // the Voice dock's Play ended

  public slots:
    void showAbout();
    // Opens the settings dialog (window-modal, asynchronous); saves on OK.
    void showSettings();
    void showLoadReport();
    void chooseStudyFolder();
    void chooseRecordFile();
    void toggleRecording();
    // Asks the question in the Ask dock about the open study and record (in the worker).
    void askQuestion();
    void stopQuestion();
    // Transcribes an audio file into the transcript box (asynchronously).
    void transcribeAudioFile(const QString& path);

  protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

  private:
    void buildCentral();
    void buildMenus();
    void buildDocks();
    void buildStatusBar();
    QDockWidget* addDock(const QString& title, const QString& objectName, QWidget* content,
                         Qt::DockWidgetArea area);
    void onStudyLoaded(const consilium::app::StudyLoad& load);
    void onStudyFailed(const QString& path, const QString& message);
    void showPlane();
    // The load report's "Problem" column: what is wrong with a skipped file, in words.
    static QString skipProblem(const consilium::app::SkippedEntry& entry);
    void showAnswer(const QJsonObject& answer, const QStringList& notes);
    // The findings' count and Lung-RADS above their list, and where the answer text differs.
    void showFindingsSummary(const QJsonObject& answer);
    void showEvidenceOverlay();
    // Draws the last answer's attention on the viewer's current slice and plane with the
    // Evidence dock's colours and threshold: the per-patch map, or a Gaussian around the
    // peak for an answer without one.
    void renderHeatmap();
    QWidget* buildEvidence();

    consilium::app::SystemReport m_report;
    bool m_reportApplied = false;
    int m_modelCheckSerial = 0;
    QString m_modelOverride;  // setModelFile(): this session only, never saved
    bool m_hasModelOverride = false;
    void recheckModel();
    void showModelStatus();
    consilium::app::AppSettings m_settings;

    consilium::app::StudyService* m_studies = nullptr;
    consilium::app::StudyLoad m_study;
    std::shared_ptr<consilium::app::CtViewModel> m_view;
    consilium::app::Plane m_plane = consilium::app::Plane::Axial;
    QString m_seriesUid;
    QString m_askedStudy;               // the study of the running (or last) question
    QString m_voiceAudio, m_voiceText;  // the last transcribed audio and its transcript
    QString m_recordWarning;  // why the last recording ended early (device lost), kept in view

    CtViewer* m_viewer = nullptr;
    QComboBox* m_presetCombo = nullptr;
    QToolButton* m_planeButtons[3] = {};
    QTreeView* m_studyTree = nullptr;
    QStandardItemModel* m_studyModel = nullptr;
    QPushButton* m_reportButton = nullptr;
    QPlainTextEdit* m_record = nullptr;
    QLabel* m_recordInfo = nullptr;
    QString m_recordPath;
    bool m_recordFromStudy = false;  // auto-loaded beside the study: replaced by the next one
    QPlainTextEdit* m_question = nullptr;
    QTextBrowser* m_answer = nullptr;
    QPushButton* m_askButton = nullptr;
    QLabel* m_precisionLabel = nullptr;
    QPushButton* m_playButton = nullptr;
    bool m_playing = false;
    QLabel* m_tokenLabel = nullptr;
    consilium::app::RecordTokenCounter* m_tokenCounter = nullptr;
    QLabel* m_seriesNotice = nullptr;
    QTimer* m_tokenTimer = nullptr;
    QLabel* m_memoryLabel = nullptr;
    QPushButton* m_recordButton = nullptr;
    QPushButton* m_audioFileButton = nullptr;
    QProgressBar* m_levelMeter = nullptr;
    QLabel* m_voiceStatus = nullptr;
    QLineEdit* m_transcript = nullptr;
    consilium::app::VoiceService* m_voice = nullptr;
    consilium::app::InferenceThread* m_inference = nullptr;
    int m_requestId = 0;
    QString m_askedQuestion;
    QPushButton* m_stopButton = nullptr;
    QListWidget* m_history = nullptr;
    QBarSet* m_weightBars = nullptr;
    QTableWidget* m_expertTable = nullptr;
    QCheckBox* m_heatmapToggle = nullptr;
    QAction* m_exportAction = nullptr;
    QMenu* m_recentMenu = nullptr;
    void fillRecentMenu();
    QSlider* m_opacity = nullptr;
    QComboBox* m_colormap = nullptr;
    QSlider* m_threshold = nullptr;
    QComboBox* m_heatmapSource = nullptr;
    QLabel* m_heatNote = nullptr;
    struct AttentionMap {
        std::array<int, 3> grid{}, patch{};
        // One weight per patch for each choice of m_heatmapSource: [0] averaged (the rollout
        // of docs/MODEL.md 13.2), then each decoder layer, then each fusion image head.
        std::vector<std::vector<float>> sources;
        int layers = 0, heads = 0;
    } m_attentionMap;
    void fillHeatmapSources();
    void heatmapSourceChosen(int index);
    void describeHeatmapSource(int index);
    QListWidget* m_findings = nullptr;
    QLabel* m_findingsSummary = nullptr;
    QJsonObject m_lastAnswer;
    QLabel* m_deviceLabel = nullptr;
    QLabel* m_modelLabel = nullptr;
    QLabel* m_probeLabel = nullptr;
    QWidget* m_job = nullptr;  // loading a study
    QLabel* m_jobLabel = nullptr;
    QProgressBar* m_jobProgress = nullptr;
    QWidget* m_askJob = nullptr;  // the running question: its stage, tokens so far, cancel
    QLabel* m_askJobLabel = nullptr;
    int m_answerTokens = 0;
};

}  // namespace consilium::ui
