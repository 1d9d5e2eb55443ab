// The main window offscreen: docks and menus exist, the system report reaches the status
// bar, the About dialog lists the libraries, and a grab of the window is not blank.
#include <QApplication>
#include <QDockWidget>
#include <QImage>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QTemporaryDir>
#include <QtTest>

#include "app/system_report.h"
#include "ui/main_window.h"

namespace {

// Fraction of pixels that differ from the most common colour: 0 for a blank image.
double nonBackgroundFraction(const QImage& image) {
    QHash<QRgb, int> counts;
    const QImage img = image.convertToFormat(QImage::Format_RGB32);
    for (int y = 0; y < img.height(); y += 2)
        for (int x = 0; x < img.width(); x += 2)
            ++counts[img.pixel(x, y)];
    int total = 0, most = 0;
    for (int c : counts) {
        total += c;
        most = std::max(most, c);
    }
    return total ? 1.0 - double(most) / total : 0.0;
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
  private slots:
    void docksAndMenus() {
        consilium::ui::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QStringList docks;
        for (auto* d : w.findChildren<QDockWidget*>())
            docks << d->objectName();
        for (const char* name :
             {"StudiesDock", "RecordDock", "VoiceDock", "AskDock", "EvidenceDock"}) {
            QVERIFY2(docks.contains(name), name);
        }
        QStringList menus;
        for (auto* a : w.menuBar()->actions())
            menus << a->text().remove('&');
        QCOMPARE(menus, QStringList({"File", "View", "Help"}));
    }

    void reportReachesStatusBarAndAbout() {
        consilium::ui::MainWindow w;
        w.show();
        consilium::app::ReportOptions options;
        options.probeAudio = false;
        const auto report = consilium::app::collectSystemReport(options);
        QSignalSpy ready(&w, &consilium::ui::MainWindow::systemReportReady);
        w.applySystemReport(report);
        QCOMPARE(ready.count(), 1);
        auto* device = w.findChild<QLabel*>("DeviceLabel");
        QVERIFY(device);
        QCOMPARE(device->text(), "Device: " + QString::fromStdString(report.device));

        w.showAbout();
        auto* about = w.findChild<QMessageBox*>("AboutDialog");
        QVERIFY(about);
        const QString text = about->text();
        for (const char* lib : {"Qt", "DCMTK", "OpenCV", "PortAudio", "CUDA runtime", "Device"}) {
            QVERIFY2(text.contains(lib), lib);
        }
        QVERIFY(text.contains(qVersion()));
        about->close();
    }

    void grabIsNotBlank() {
        consilium::ui::MainWindow w;
        w.resize(1200, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        const QImage shot = w.grab().toImage();
        QCOMPARE(shot.size(), w.size());  // 1200x800 or the layout's minimum height
        QVERIFY(shot.width() >= 1200 && shot.height() >= 800);
        QTemporaryDir dir;
        QVERIFY(shot.save(dir.filePath("main_window.png")));
        const QImage reloaded(dir.filePath("main_window.png"));
        QCOMPARE(reloaded.size(), shot.size());
        const double fraction = nonBackgroundFraction(reloaded);
        QVERIFY2(fraction > 0.05,
                 qPrintable(QString("only %1 of the pixels differ").arg(fraction)));
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
