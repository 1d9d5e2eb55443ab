#include "ui/settings_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace consilium::ui {

using consilium::app::AppSettings;

SettingsDialog::SettingsDialog(const AppSettings& settings, const QStringList& audioInputs,
                               QWidget* parent)
    : QDialog(parent), m_initial(settings) {
    setWindowTitle(tr("Settings"));
    setObjectName("SettingsDialog");
    auto* form = new QFormLayout;

    m_model = new QLineEdit(settings.modelPath);
    m_model->setObjectName("ModelPathEdit");
    m_model->setPlaceholderText(tr("Shipped demo model"));
    auto* browse = new QPushButton(tr("Browse…"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString file = QFileDialog::getOpenFileName(this, tr("Model file"), m_model->text(),
                                                          tr("GGUF models (*.gguf)"));
        if (!file.isEmpty()) m_model->setText(file);
    });
    auto* modelRow = new QHBoxLayout;
    modelRow->addWidget(m_model, 1);
    modelRow->addWidget(browse);
    form->addRow(tr("Model file:"), modelRow);

    m_device = new QComboBox;
    m_device->setObjectName("DeviceCombo");
    m_device->addItem(tr("Automatic (GPU when available)"), int(AppSettings::Device::Auto));
    m_device->addItem(tr("CPU"), int(AppSettings::Device::Cpu));
    m_device->addItem(tr("GPU (CUDA)"), int(AppSettings::Device::Cuda));
    m_device->setCurrentIndex(m_device->findData(int(settings.device)));
    form->addRow(tr("Device:"), m_device);

    m_precision = new QComboBox;
    m_precision->setObjectName("PrecisionCombo");
    m_precision->addItem(tr("As stored in the model"), int(AppSettings::Precision::Auto));
    m_precision->addItem("Q4_0", int(AppSettings::Precision::Q4_0));
    m_precision->addItem("Q8_0", int(AppSettings::Precision::Q8_0));
    m_precision->addItem("FP16", int(AppSettings::Precision::F16));
    m_precision->addItem("FP32", int(AppSettings::Precision::F32));
    m_precision->setCurrentIndex(m_precision->findData(int(settings.precision)));
    form->addRow(tr("Precision:"), m_precision);

    m_maxBatch = new QSpinBox;
    m_maxBatch->setObjectName("MaxBatchSpin");
    m_maxBatch->setRange(1, AppSettings::kMaxBatchLimit);
    m_maxBatch->setValue(settings.maxBatch);
    form->addRow(tr("Concurrent questions (batch limit):"), m_maxBatch);

    m_audio = new QComboBox;
    m_audio->setObjectName("AudioCombo");
    m_audio->addItem(tr("System default"), QString());
    for (const QString& name : audioInputs)
        m_audio->addItem(name, name);
    if (!settings.audioInputDevice.isEmpty() && m_audio->findData(settings.audioInputDevice) < 0) {
        m_audio->addItem(tr("%1 (not connected)").arg(settings.audioInputDevice),
                         settings.audioInputDevice);
    }
    m_audio->setCurrentIndex(std::max(0, m_audio->findData(settings.audioInputDevice)));
    form->addRow(tr("Microphone:"), m_audio);

    m_preset = new QComboBox;
    m_preset->setObjectName("PresetCombo");
    const QStringList presetLabels{tr("Lung"), tr("Mediastinum"), tr("Bone"), tr("Brain"),
                                   tr("Abdomen")};
    const QStringList presets = consilium::app::windowPresetNames();
    for (int i = 0; i < presets.size(); ++i)
        m_preset->addItem(presetLabels.value(i), presets[i]);
    m_preset->setCurrentIndex(std::max(0, m_preset->findData(settings.windowPreset)));
    form->addRow(tr("Default CT window:"), m_preset);

    m_language = new QComboBox;
    m_language->setObjectName("LanguageCombo");
    m_language->addItem(tr("System language"), QString());
    m_language->addItem("English", "en");
    m_language->addItem(QString::fromUtf8("简体中文"), "zh_CN");
    m_language->setCurrentIndex(std::max(0, m_language->findData(settings.uiLanguage)));
    form->addRow(tr("Language:"), m_language);

    auto* note = new QLabel(tr("Language changes take effect the next time Consilium starts."));
    note->setWordWrap(true);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(buttons);
}

AppSettings SettingsDialog::settings() const {
    AppSettings s = m_initial;
    s.modelPath = m_model->text().trimmed();
    s.device = static_cast<AppSettings::Device>(m_device->currentData().toInt());
    s.precision = static_cast<AppSettings::Precision>(m_precision->currentData().toInt());
    s.maxBatch = m_maxBatch->value();
    s.audioInputDevice = m_audio->currentData().toString();
    s.windowPreset = m_preset->currentData().toString();
    s.uiLanguage = m_language->currentData().toString();
    return s;
}

}  // namespace consilium::ui
