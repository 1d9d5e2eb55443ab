// User settings of the workstation, persisted with QSettings (organisation "Consilium",
// application "Consilium"; on Linux ~/.config/Consilium/Consilium.conf).
//
// A plain value type: load, edit in the settings dialog, save. Unknown or out-of-range
// stored values fall back to the defaults below (a hand-edited file never breaks start-up).
// Thread safety: load()/save() use QSettings and may run on any one thread at a time.
#pragma once

#include <QString>
#include <QStringList>

namespace consilium::app {

struct AppSettings {
    enum class Device { Auto, Cpu, Cuda };
    enum class Precision { Auto, Q4_0, Q8_0, F16, F32 };

    QString modelPath;             // empty: the shipped demo model
    Device device = Device::Auto;  // Auto: GPU when usable, else CPU (with a notice)
    Precision precision = Precision::Auto;
    int maxBatch = 64;                // concurrent sequences in the scheduler, 1..64
    QString audioInputDevice;         // PortAudio device name; empty: system default
    QString windowPreset = "lung";    // lung | mediastinum | bone | brain | abdomen
    QString uiLanguage;               // "" (system), "en" or "zh_CN"
    QString lastStudyFolder;          // remembered for the next open dialog
    QStringList recentStudies;        // folders opened, most recent first, at most kMaxRecent
    QString heatmapColormap = "jet";  // jet | hot | inferno | viridis
    int heatmapThreshold = 20;        // % of the attention maximum below which nothing is drawn

    static constexpr int kMaxBatchLimit = 64;
    static constexpr int kMaxRecent = 8;

    // Puts `path` (made absolute) first in recentStudies, once, keeping at most kMaxRecent.
    void rememberStudy(const QString& path);

    static AppSettings load();
    void save() const;

    bool operator==(const AppSettings& o) const;
    bool operator!=(const AppSettings& o) const { return !(*this == o); }
};

QString deviceName(AppSettings::Device device);           // "auto", "cpu", "cuda"
QString precisionName(AppSettings::Precision precision);  // "auto", "q4_0", ...
QStringList windowPresetNames();                          // in menu order
QStringList uiLanguages();                                // "", "en", "zh_CN"
QStringList heatmapColormapNames();                       // in menu order

}  // namespace consilium::app
