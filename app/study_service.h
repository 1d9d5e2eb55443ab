// Loading CT studies for the GUI: runs imaging::loadStudies on the thread pool with
// progress (throttled to ~20 Hz) and cancellation, and hands the GUI plain Qt value types
// (the patient → study → series tree and the load report) plus view models for series.
//
// Thread safety: a StudyService lives on the GUI thread; signals are delivered there.
// A new load() cancels the running one (latest request wins). Patient identifiers are
// shown in the GUI but never logged.
#pragma once

#include <QFutureWatcher>
#include <QImage>
#include <QObject>
#include <QSize>
#include <QString>
#include <QStringList>
#include <QVector3D>
#include <QVector>

#include <atomic>
#include <memory>

#include "app/ct_view_model.h"

namespace consilium::imaging {
struct LoadedStudies;
struct Volume;
}  // namespace consilium::imaging

namespace consilium::app {

struct SeriesEntry {
    QString uid;
    int stack = 0;  // distinguishes image stacks of one series (e.g. localizer planes)
    QString description, modality;
    int seriesNumber = 0;
    int slices = 0;
    QSize matrix;         // columns x rows
    QVector3D spacingMm;  // x, y, z
    QStringList transferSyntaxes;
    QStringList warnings;
    QString modelExclusion;  // why the model must not read this series; empty when it may
    // The middle axial slice, at most kThumbnailSize pixels on its longer side, in mm aspect;
    // CT in the mediastinum window, other modalities from their own range. Made by the
    // loading thread, so the browser never renders on the GUI thread.
    QImage thumbnail;
};

constexpr int kThumbnailSize = 64;

// The browser's thumbnail of a volume (see SeriesEntry::thumbnail); null when it is empty.
QImage seriesThumbnail(const imaging::Volume& volume, bool ct, int size = kThumbnailSize);

struct StudyEntry {
    QString uid, description, date;
    QVector<SeriesEntry> series;
};

struct PatientEntry {
    QString name, id, sex, birthDate;
    QVector<StudyEntry> studies;
};

struct SkippedEntry {
    QString path, code, reason;
};

struct StudyLoad {
    QString path;
    QVector<PatientEntry> patients;
    QVector<SkippedEntry> skipped;
    int filesFound = 0, filesLoaded = 0;
    double seconds = 0;

    int seriesCount() const;
    // The entry of one series (stack); null when it is not part of this load.
    const SeriesEntry* series(const QString& uid, int stack = 0) const;
    // The series to show first: the CT (else any) series with the most slices, preferring
    // series the model may read (imaging::chooseModelSeries's rule).
    const SeriesEntry* preferredSeries() const;
};

class StudyService : public QObject {
    Q_OBJECT
  public:
    explicit StudyService(QObject* parent = nullptr);
    ~StudyService() override;

    void load(const QString& path);
    void cancel();
    bool busy() const;

    // The view model of a series of the last successful load; null when unknown.
    std::shared_ptr<CtViewModel> viewModel(const QString& seriesUid, int stack = 0) const;

  signals:
    void progress(int done, int total, const QString& phase);
    void loaded(const consilium::app::StudyLoad& result);
    void failed(const QString& path, const QString& message);  // includes cancellation

  private:
    struct Outcome;
    void onFinished();

    QFutureWatcher<std::shared_ptr<Outcome>>* m_watcher = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancel;
    std::shared_ptr<const imaging::LoadedStudies> m_studies;
    QString m_pendingPath;
};

}  // namespace consilium::app

Q_DECLARE_METATYPE(consilium::app::StudyLoad)
