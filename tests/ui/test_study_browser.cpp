// Opening studies in the main window, offscreen, on real DICOM files (Debian's pydicom
// test corpus: CT, MR, RT dose, segmentations, broken files): the load runs in the
// background, the browser tree and load report fill in, the viewer shows the preferred
// series in three planes, and a missing folder gives a clear message.
#include <QAbstractItemModelTester>
#include <QDialog>
#include <QDir>
#include <QDirIterator>
#include <QIcon>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMimeData>
#include <QPushButton>
#include <QSet>
#include <QSettings>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>

#include "app/app_settings.h"
#include "app/study_service.h"
#include "ui/ct_viewer.h"
#include "ui/main_window.h"

namespace {
const QString kCorpus = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
}

class TestStudyBrowser : public QObject {
    Q_OBJECT
  private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        if (!QFileInfo(kCorpus).isDir()) QSKIP("python3-pydicom's test files are not installed");
    }

    void opensARealFolder() {
        consilium::ui::MainWindow w;
        w.show();
        QAbstractItemModelTester tester(w.studyModel(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        w.openStudy(kCorpus);
        QVERIFY(w.findChild<QWidget*>("JobWidget")->isVisible());  // the job shows while loading
        QVERIFY(shown.wait(60000));
        QVERIFY(!w.findChild<QWidget*>("JobWidget")->isVisible());

        const auto& study = w.currentStudy();
        QVERIFY(study.seriesCount() >= 10);
        QVERIFY(!study.skipped.isEmpty());  // the corpus has broken and non-image files
        for (const auto& s : study.skipped) {
            QVERIFY(!s.reason.isEmpty());
            QVERIFY(s.reason.contains(QFileInfo(s.path).fileName()) || !s.code.isEmpty());
        }
        QVERIFY(w.studyModel()->rowCount() >= 1);
        // Every series with pixels has a thumbnail, made off the GUI thread, shown as its icon.
        int icons = 0;
        for (const auto& p : study.patients)
            for (const auto& st : p.studies)
                for (const auto& se : st.series) {
                    if (se.slices < 1) continue;
                    QVERIFY2(!se.thumbnail.isNull(), qPrintable(se.description));
                    QVERIFY(std::max(se.thumbnail.width(), se.thumbnail.height()) ==
                            consilium::app::kThumbnailSize);
                }
        std::function<void(const QModelIndex&)> walk = [&](const QModelIndex& parent) {
            for (int r = 0; r < w.studyModel()->rowCount(parent); ++r) {
                const QModelIndex i = w.studyModel()->index(r, 0, parent);
                icons += !i.data(Qt::DecorationRole).value<QIcon>().isNull();
                walk(i);
            }
        };
        walk({});
        QCOMPARE(icons, study.seriesCount());

        // The preferred series is a CT and the viewer shows its middle slice.
        const auto* best = study.preferredSeries();
        QVERIFY(best);
        QCOMPARE(best->modality, QString("CT"));
        QCOMPARE(shown.first().first().toString(), best->uid);
        auto* viewer = w.viewer();
        QCOMPARE(viewer->sliceCount(), best->slices);
        QCOMPARE(viewer->slice(), best->slices / 2);

        // Other planes: slice counts follow the matrix.
        w.setPlane(consilium::app::Plane::Coronal);
        QCOMPARE(viewer->sliceCount(), best->matrix.height());
        w.setPlane(consilium::app::Plane::Sagittal);
        QCOMPARE(viewer->sliceCount(), best->matrix.width());
        w.setPlane(consilium::app::Plane::Axial);

        // The load report lists every skipped file with its reason.
        auto* button = w.findChild<QPushButton*>("LoadReportButton");
        QVERIFY(button->isEnabled());
        QVERIFY(button->text().contains(QString::number(study.skipped.size())));
        button->click();
        auto* dialog = w.findChild<QDialog*>("LoadReportDialog");
        QVERIFY(dialog);
        auto* table = dialog->findChild<QTableWidget*>("SkippedTable");
        QCOMPARE(table->rowCount(), study.skipped.size());
        // Paths relative to the folder, the problem in words (the code in the tooltip), the
        // reason without repeating the path.
        QSet<QString> problems;
        for (int r = 0; r < table->rowCount(); ++r) {
            const auto& s = study.skipped[r];
            QCOMPARE(table->item(r, 0)->toolTip(), s.path);
            QCOMPARE(QDir(kCorpus).filePath(table->item(r, 0)->text()), s.path);
            QCOMPARE(table->item(r, 1)->toolTip(), s.code);
            QVERIFY(table->item(r, 1)->text() != s.code);
            problems << table->item(r, 1)->text();
            QVERIFY2(!table->item(r, 2)->text().contains(s.path),
                     qPrintable(table->item(r, 2)->text()));
        }
        QVERIFY2(problems.contains("Not DICOM") && problems.contains("Damaged") &&
                     problems.contains("No image") && problems.contains("Not supported"),
                 qPrintable(QStringList(problems.values()).join(", ")));
        dialog->close();
    }

    void demoStudyBringsItsRecord() {
        const QString demo = CONSILIUM_BINARY_DIR "/resources/demo-study";
        if (!QFileInfo(demo).isDir()) QSKIP("the demo study was not built");
        consilium::ui::MainWindow w;
        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        w.openStudy(demo);
        QVERIFY(shown.wait(60000));
        QVERIFY(w.currentStudy().preferredSeries()->slices >= 20);
        QVERIFY2(w.recordText().contains("pack-year"), qPrintable(w.recordText()));
        // A record the user opened is not replaced by the next study's.
        QTemporaryDir dir;
        QFile own(dir.filePath("mine.txt"));
        QVERIFY(own.open(QIODevice::WriteOnly));
        own.write("My own notes.");
        own.close();
        QVERIFY(w.openRecord(own.fileName()));
        w.openStudy(demo);
        QVERIFY(shown.wait(60000));
        QCOMPARE(w.recordText(), QString("My own notes."));
    }

    // Opened folders are remembered (most recent first, once, at most 8) in File > Recent
    // Studies; one that has gone is dropped with a notice instead of failing to load.
    void recentStudies() {
        QSettings().remove("ui/recentStudies");
        consilium::app::AppSettings a;
        for (int i = 0; i < 10; ++i)
            a.rememberStudy(QString("/data/study%1").arg(i));
        a.rememberStudy("/data/study5");
        QCOMPARE(a.recentStudies.size(), consilium::app::AppSettings::kMaxRecent);
        QCOMPARE(a.recentStudies.first(), QString("/data/study5"));
        QCOMPARE(a.recentStudies.count("/data/study5"), 1);
        QVERIFY(!a.recentStudies.contains("/data/study0"));

        const QString demo = CONSILIUM_BINARY_DIR "/resources/demo-study";
        if (!QFileInfo(demo).isDir()) QSKIP("the demo study was not built");
        QTemporaryDir gone;
        {
            consilium::app::AppSettings s = consilium::app::AppSettings::load();
            s.recentStudies = {gone.path()};
            s.save();
        }
        gone.remove();
        consilium::ui::MainWindow w;
        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        w.openStudy(demo);
        QVERIFY(shown.wait(60000));
        const QStringList stored = consilium::app::AppSettings::load().recentStudies;
        QCOMPARE(stored.value(0), QFileInfo(demo).absoluteFilePath());
        QCOMPARE(stored.value(1), gone.path());
        auto* menu = w.findChild<QMenu*>("RecentStudiesMenu");
        QVERIFY(menu);
        QAction* goneAction = nullptr;
        for (QAction* a : menu->actions())
            if (a->text() == gone.path()) goneAction = a;
        QVERIFY(goneAction);
        goneAction->trigger();
        QVERIFY(!consilium::app::AppSettings::load().recentStudies.contains(gone.path()));
        QVERIFY(w.statusBar()->currentMessage().contains("no longer exists"));
        bool demoListed = false;
        for (QAction* a : menu->actions())
            demoListed = demoListed || a->text() == QFileInfo(demo).absoluteFilePath();
        QVERIFY(demoListed);
    }

    void dropsGoWhereTheyBelong() {
        // A DICOMDIR, and a record dropped together with a study folder.
        const QString dicomdir = kCorpus + "/dicomdirtests/DICOMDIR";
        const QString demo = CONSILIUM_BINARY_DIR "/resources/demo-study";
        if (!QFileInfo(demo).isDir()) QSKIP("the demo study was not built");
        consilium::ui::MainWindow w;
        w.show();
        auto drag = [&w](const QList<QUrl>& urls) {
            QMimeData mime;
            mime.setUrls(urls);
            QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton,
                                  Qt::NoModifier);
            QCoreApplication::sendEvent(&w, &enter);
            if (!enter.isAccepted()) return false;
            QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
            QCoreApplication::sendEvent(&w, &drop);
            return drop.isAccepted();
        };
        // Refused at the border: a web link, a path that does not exist.
        QVERIFY(!drag({QUrl("https://example.org/study.zip")}));
        QVERIFY(!drag({QUrl::fromLocalFile("/nonexistent/DICOMDIR")}));

        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        QVERIFY(drag({QUrl::fromLocalFile(dicomdir)}));
        QVERIFY(shown.wait(60000));
        QCOMPARE(w.currentStudy().path, dicomdir);
        QVERIFY(w.currentStudy().seriesCount() >= 1);

        QTemporaryDir tmp;
        const QString recordPath = tmp.filePath("note.txt");
        QFile f(recordPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("Dropped note: 58-year-old, current smoker, 30 pack-years.\n");
        f.close();
        shown.clear();
        QVERIFY(drag({QUrl::fromLocalFile(recordPath), QUrl::fromLocalFile(demo)}));
        QVERIFY(shown.wait(60000));
        QCOMPARE(w.currentStudy().path, demo);
        // The dropped record stays: the demo study's own record does not replace it.
        QVERIFY2(w.recordText().startsWith("Dropped note"), qPrintable(w.recordText().left(60)));
    }

    void damagedSliceIsReportedAndTheRestLoads() {
        // The demo series with one slice cut short in the middle of the series.
        const QString demo = CONSILIUM_BINARY_DIR "/resources/demo-study";
        QTemporaryDir tmp;
        QStringList slices;
        QDirIterator it(demo, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString f = it.next();
            if (it.fileInfo().suffix().isEmpty()) slices << f;  // IM00000... (no extension)
        }
        slices.sort();
        QVERIFY(slices.size() > 20);
        for (const QString& f : slices)
            QVERIFY(QFile::copy(f, tmp.filePath(QFileInfo(f).fileName())));
        const QString damaged = tmp.filePath(QFileInfo(slices[slices.size() / 2]).fileName());
        {
            QFile f(damaged);
            QVERIFY(f.open(QIODevice::ReadWrite));
            QVERIFY(f.resize(3000));
        }

        consilium::ui::MainWindow w;
        w.show();
        QSignalSpy shown(&w, &consilium::ui::MainWindow::studyShown);
        w.openStudy(tmp.path());
        QVERIFY(shown.wait(60000));
        const auto& study = w.currentStudy();
        QCOMPARE(study.skipped.size(), 1);
        QCOMPARE(study.skipped[0].path, damaged);
        QCOMPARE(w.viewer()->sliceCount(), slices.size() - 1);  // the rest loaded
        QVERIFY2(w.statusBar()->currentMessage().contains("1 files skipped"),
                 qPrintable(w.statusBar()->currentMessage()));

        // The gap is in view above the viewer and marked in the browser.
        auto* notice = w.findChild<QLabel*>("SeriesNotice");
        QVERIFY(notice && notice->isVisible());
        QVERIFY2(notice->text().contains("missing slices"), qPrintable(notice->text()));
        const QModelIndex series =
            w.studyModel()->index(0, 0, w.studyModel()->index(0, 0, w.studyModel()->index(0, 0)));
        QVERIFY2(series.data().toString().endsWith(QStringLiteral(" ⚠")),
                 qPrintable(series.data().toString()));

        // The load report names the damaged file and the series' gap.
        w.findChild<QPushButton*>("LoadReportButton")->click();
        auto* dialog = w.findChild<QDialog*>("LoadReportDialog");
        QVERIFY(dialog);
        auto* table = dialog->findChild<QTableWidget*>("SkippedTable");
        QCOMPARE(table->item(0, 0)->text(), QFileInfo(damaged).fileName());
        QCOMPARE(table->item(0, 1)->text(), QString("Damaged"));
        auto* warnings = dialog->findChild<QListWidget*>("SeriesWarningList");
        QVERIFY(warnings && warnings->count() >= 1);
        QVERIFY(warnings->item(0)->text().contains("missing slices"));
        dialog->close();

        // A series without problems hides the notice again.
        shown.clear();
        w.openStudy(demo);
        QVERIFY(shown.wait(60000));
        QVERIFY(!notice->isVisible());
    }

    void missingFolderIsReported() {
        consilium::ui::MainWindow w;
        QSignalSpy failed(&w, &consilium::ui::MainWindow::studyLoadFailed);
        w.openStudy("/nonexistent/study");
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.first().first().toString().contains("NotFound"),
                 qPrintable(failed.first().first().toString()));
        QCOMPARE(w.viewer()->sliceCount(), 0);
    }
};

QTEST_MAIN(TestStudyBrowser)
#include "test_study_browser.moc"
