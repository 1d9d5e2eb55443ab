// Settings: QSettings round trip with fallbacks for bad stored values, the settings dialog
// offscreen, and the Simplified Chinese translation reaching the main window.
#include <QComboBox>
#include <QLineEdit>
#include <QMenuBar>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QtTest>

#include "app/app_settings.h"
#include "app/translations.h"
#include "ui/main_window.h"
#include "ui/settings_dialog.h"

using consilium::app::AppSettings;

class TestSettings : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);  // ~/.qttest: never the user's settings
        QCoreApplication::setOrganizationName("ConsiliumTest");
        QCoreApplication::setApplicationName("TestSettings");
    }
    void init() { QSettings().clear(); }

    void defaultsWhenNothingStored() {
        const AppSettings s = AppSettings::load();
        QVERIFY(s.modelPath.isEmpty());
        QCOMPARE(s.device, AppSettings::Device::Auto);
        QCOMPARE(s.precision, AppSettings::Precision::Auto);
        QCOMPARE(s.maxBatch, 64);
        QCOMPARE(s.windowPreset, QString("lung"));
    }

    void roundTrip() {
        AppSettings s;
        s.modelPath = "/models/other.gguf";
        s.device = AppSettings::Device::Cpu;
        s.precision = AppSettings::Precision::F16;
        s.maxBatch = 8;
        s.audioInputDevice = "USB Microphone";
        s.windowPreset = "bone";
        s.uiLanguage = "zh_CN";
        s.lastStudyFolder = "/data/study";
        s.save();
        QCOMPARE(AppSettings::load(), s);
        QCOMPARE(QSettings().value("engine/device").toString(), QString("cpu"));
    }

    void badStoredValuesFallBack() {
        QSettings st;
        st.setValue("engine/device", "tpu");
        st.setValue("engine/precision", "q2_k");
        st.setValue("engine/maxBatch", 1000);
        st.setValue("viewer/windowPreset", "liver");
        st.setValue("ui/language", "klingon");
        st.sync();
        const AppSettings s = AppSettings::load();
        QCOMPARE(s.device, AppSettings::Device::Auto);
        QCOMPARE(s.precision, AppSettings::Precision::Auto);
        QCOMPARE(s.maxBatch, 64);
        QCOMPARE(s.windowPreset, QString("lung"));
        QVERIFY(s.uiLanguage.isEmpty());
    }

    void dialogEditsACopy() {
        AppSettings initial;
        initial.audioInputDevice = "Unplugged Mic";
        consilium::ui::SettingsDialog dialog(initial, {"Built-in Microphone"});
        auto* audio = dialog.findChild<QComboBox*>("AudioCombo");
        QVERIFY(audio);
        QCOMPARE(audio->count(), 3);  // default, built-in, the stored one marked not connected
        QVERIFY(audio->currentText().contains("Unplugged Mic"));
        QCOMPARE(dialog.settings(), initial);  // untouched dialog changes nothing

        dialog.findChild<QLineEdit*>("ModelPathEdit")->setText("  /m/x.gguf ");
        auto* device = dialog.findChild<QComboBox*>("DeviceCombo");
        device->setCurrentIndex(device->findData(int(AppSettings::Device::Cuda)));
        dialog.findChild<QSpinBox*>("MaxBatchSpin")->setValue(200);  // clamped to 64
        auto* preset = dialog.findChild<QComboBox*>("PresetCombo");
        preset->setCurrentIndex(preset->findData("mediastinum"));
        audio->setCurrentIndex(audio->findData("Built-in Microphone"));
        const AppSettings edited = dialog.settings();
        QCOMPARE(edited.modelPath, QString("/m/x.gguf"));
        QCOMPARE(edited.device, AppSettings::Device::Cuda);
        QCOMPARE(edited.maxBatch, 64);
        QCOMPARE(edited.windowPreset, QString("mediastinum"));
        QCOMPARE(edited.audioInputDevice, QString("Built-in Microphone"));
    }

    void chineseTranslation() {
        const QString dir = CONSILIUM_BINARY_DIR "/share/consilium/translations";
        QCOMPARE(consilium::app::installTranslations(qApp, "zh_CN", dir), QString("zh_CN"));
        consilium::ui::MainWindow w;
        QStringList menus;
        for (auto* a : w.menuBar()->actions())
            menus << a->text();
        QCOMPARE(menus, QStringList({QString::fromUtf8("文件(&F)"), QString::fromUtf8("视图(&V)"),
                                     QString::fromUtf8("帮助(&H)")}));
        QCOMPARE(consilium::app::installTranslations(qApp, "en", dir), QString());
    }
};

QTEST_MAIN(TestSettings)
#include "test_settings.moc"
