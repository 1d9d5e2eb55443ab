// Settings dialog: model file, device, precision, batch limit, audio input, default window
// preset, UI language. Edits a copy of AppSettings; the caller saves on accept.
#pragma once

#include <QDialog>
#include <QStringList>

#include "app/app_settings.h"

class QComboBox;
class QLineEdit;
class QSpinBox;

namespace consilium::ui {

class SettingsDialog : public QDialog {
    Q_OBJECT
  public:
    // `audioInputs`: device names to offer (from the system report); the stored device is
    // kept in the list even when it is not connected now.
    SettingsDialog(const consilium::app::AppSettings& settings, const QStringList& audioInputs,
                   QWidget* parent = nullptr);

    consilium::app::AppSettings settings() const;

  private:
    consilium::app::AppSettings m_initial;
    QLineEdit* m_model = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_precision = nullptr;
    QSpinBox* m_maxBatch = nullptr;
    QComboBox* m_audio = nullptr;
    QComboBox* m_preset = nullptr;
    QComboBox* m_language = nullptr;
};

}  // namespace consilium::ui
