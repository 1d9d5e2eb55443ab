// The workstation's main window: CT viewer in the centre, docks for the study browser,
// record, voice, question/answer and evidence, and a status bar with the device and model.
// Widgets only: it talks to the engine through app/ services and never blocks the GUI
// thread on them.
#pragma once

#include <QMainWindow>

#include "app/app_settings.h"
#include "app/system_report.h"

class QLabel;
class QDockWidget;
class QPlainTextEdit;
class QTextBrowser;
class QTreeWidget;
class QPushButton;
class QProgressBar;

namespace consilium::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
  public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Applies a system report collected off the GUI thread (device, model, notices).
    void applySystemReport(const consilium::app::SystemReport& report);
    bool systemReportApplied() const { return m_reportApplied; }

  signals:
    void systemReportReady();
    void settingsChanged(const consilium::app::AppSettings& settings);

  public slots:
    void showAbout();
    // Opens the settings dialog (non-modal to the event loop); saves on OK.
    void showSettings();

  private:
    void buildMenus();
    void buildDocks();
    void buildStatusBar();
    QDockWidget* addDock(const QString& title, const QString& objectName, QWidget* content,
                         Qt::DockWidgetArea area);

    consilium::app::SystemReport m_report;
    bool m_reportApplied = false;

    QTreeWidget* m_studyTree = nullptr;
    QPlainTextEdit* m_record = nullptr;
    QPlainTextEdit* m_question = nullptr;
    QTextBrowser* m_answer = nullptr;
    QPushButton* m_askButton = nullptr;
    QPushButton* m_recordButton = nullptr;
    QProgressBar* m_levelMeter = nullptr;
    QLabel* m_evidence = nullptr;
    QLabel* m_deviceLabel = nullptr;
    QLabel* m_modelLabel = nullptr;
    QMenu* m_viewMenu = nullptr;
};

}  // namespace consilium::ui
