#include "app/app_settings.h"

#include <QFileInfo>
#include <QSettings>
#include <QStringList>

namespace consilium::app {
namespace {

const QStringList kDevices{"auto", "cpu", "cuda"};
const QStringList kPrecisions{"auto", "q4_0", "q8_0", "f16", "f32"};

template <typename E>
E enumFrom(const QStringList& names, const QString& value, E fallback) {
    const int i = names.indexOf(value);
    return i < 0 ? fallback : static_cast<E>(i);
}

}  // namespace

QString deviceName(AppSettings::Device device) {
    return kDevices.at(int(device));
}
QString precisionName(AppSettings::Precision precision) {
    return kPrecisions.at(int(precision));
}
QStringList heatmapColormapNames() {
    return {"jet", "hot", "inferno", "viridis"};
}

QStringList windowPresetNames() {
    return {"lung", "mediastinum", "bone", "brain", "abdomen"};
}
QStringList uiLanguages() {
    return {"", "en", "zh_CN"};
}

AppSettings AppSettings::load() {
    QSettings s;
    AppSettings a;
    a.modelPath = s.value("engine/model").toString();
    a.device = enumFrom(kDevices, s.value("engine/device").toString(), Device::Auto);
    a.precision = enumFrom(kPrecisions, s.value("engine/precision").toString(), Precision::Auto);
    bool ok = false;
    const int batch = s.value("engine/maxBatch", a.maxBatch).toInt(&ok);
    if (ok && batch >= 1 && batch <= kMaxBatchLimit) a.maxBatch = batch;
    a.audioInputDevice = s.value("audio/inputDevice").toString();
    const QString preset = s.value("viewer/windowPreset", a.windowPreset).toString();
    if (windowPresetNames().contains(preset)) a.windowPreset = preset;
    const QString lang = s.value("ui/language").toString();
    if (uiLanguages().contains(lang)) a.uiLanguage = lang;
    a.lastStudyFolder = s.value("ui/lastStudyFolder").toString();
    a.recentStudies = s.value("ui/recentStudies").toStringList().mid(0, kMaxRecent);
    const QString cmap = s.value("viewer/heatmapColormap", a.heatmapColormap).toString();
    if (heatmapColormapNames().contains(cmap)) a.heatmapColormap = cmap;
    const int threshold = s.value("viewer/heatmapThreshold", a.heatmapThreshold).toInt(&ok);
    if (ok && threshold >= 0 && threshold <= 95) a.heatmapThreshold = threshold;
    return a;
}

void AppSettings::rememberStudy(const QString& path) {
    const QString abs = QFileInfo(path).absoluteFilePath();
    recentStudies.removeAll(abs);
    recentStudies.prepend(abs);
    while (recentStudies.size() > kMaxRecent)
        recentStudies.removeLast();
}

void AppSettings::save() const {
    QSettings s;
    s.setValue("engine/model", modelPath);
    s.setValue("engine/device", deviceName(device));
    s.setValue("engine/precision", precisionName(precision));
    s.setValue("engine/maxBatch", maxBatch);
    s.setValue("audio/inputDevice", audioInputDevice);
    s.setValue("viewer/windowPreset", windowPreset);
    s.setValue("ui/language", uiLanguage);
    s.setValue("ui/lastStudyFolder", lastStudyFolder);
    s.setValue("ui/recentStudies", recentStudies);
    s.setValue("viewer/heatmapColormap", heatmapColormap);
    s.setValue("viewer/heatmapThreshold", heatmapThreshold);
    s.sync();
}

bool AppSettings::operator==(const AppSettings& o) const {
    return modelPath == o.modelPath && device == o.device && precision == o.precision &&
           maxBatch == o.maxBatch && audioInputDevice == o.audioInputDevice &&
           windowPreset == o.windowPreset && uiLanguage == o.uiLanguage &&
           lastStudyFolder == o.lastStudyFolder && recentStudies == o.recentStudies &&
           heatmapColormap == o.heatmapColormap && heatmapThreshold == o.heatmapThreshold;
}

}  // namespace consilium::app
