#include "app/study_service.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QtConcurrent>

#include <algorithm>

#include "imaging/study_loader.h"

namespace consilium::app {

namespace {
QString q(const std::string& s) {
    return QString::fromStdString(s);
}

QStringList qList(const std::vector<std::string>& v) {
    QStringList out;
    for (const auto& s : v)
        out << q(s);
    return out;
}
}  // namespace

struct StudyService::Outcome {
    QString path;
    std::shared_ptr<imaging::LoadedStudies> studies;           // null on error
    std::vector<std::vector<std::vector<QImage>>> thumbnails;  // [patient][study][series]
    QString error;
    double seconds = 0;
};

int StudyLoad::seriesCount() const {
    int n = 0;
    for (const auto& p : patients)
        for (const auto& s : p.studies)
            n += s.series.size();
    return n;
}

const SeriesEntry* StudyLoad::series(const QString& uid, int stack) const {
    for (const auto& p : patients)
        for (const auto& st : p.studies)
            for (const auto& se : st.series)
                if (se.uid == uid && se.stack == stack) return &se;
    return nullptr;
}

const SeriesEntry* StudyLoad::preferredSeries() const {
    const SeriesEntry* best = nullptr;
    auto score = [](const SeriesEntry& s) {
        return (s.modelExclusion.isEmpty() ? 2000000 : 0) + (s.modality == "CT" ? 1000000 : 0) +
               s.slices;
    };
    for (const auto& p : patients)
        for (const auto& st : p.studies)
            for (const auto& se : st.series)
                if (!best || score(se) > score(*best)) best = &se;
    return best;
}

QImage seriesThumbnail(const imaging::Volume& volume, bool ct, int size) {
    if (volume.empty() || size < 1) return {};
    // Non-owning: the caller keeps the volume alive while this renders.
    const CtViewModel view(std::shared_ptr<const imaging::Volume>(&volume, [](const auto*) {}));
    const int z = volume.dims[2] / 2;
    WindowLevel wl = windowPreset(QStringLiteral("mediastinum"));
    if (!ct) {
        // Other modalities (MR, colour luminance, ...): the slice's own 1st-99th percentile.
        std::vector<float> v;
        v.reserve(size_t(volume.dims[0]) * size_t(volume.dims[1]));
        for (int y = 0; y < volume.dims[1]; ++y)
            for (int x = 0; x < volume.dims[0]; ++x)
                v.push_back(volume.at(x, y, z));
        const size_t lo = v.size() / 100, hi = v.size() - 1 - v.size() / 100;
        std::nth_element(v.begin(), v.begin() + long(lo), v.end());
        const float vlo = v[lo];
        std::nth_element(v.begin(), v.begin() + long(hi), v.end());
        const float vhi = v[hi];
        wl.center = 0.5 * (double(vlo) + double(vhi));
        wl.width = std::max(1.0, double(vhi) - double(vlo));
    }
    const QImage slice = view.renderSlice(Plane::Axial, z, wl);
    if (slice.isNull()) return {};
    const QSizeF mm(slice.width() * view.pixelSizeMm(Plane::Axial).width(),
                    slice.height() * view.pixelSizeMm(Plane::Axial).height());
    const QSize target = mm.scaled(QSizeF(size, size), Qt::KeepAspectRatio).toSize();
    return slice.scaled(target.expandedTo(QSize(1, 1)), Qt::IgnoreAspectRatio,
                        Qt::SmoothTransformation);
}

StudyService::StudyService(QObject* parent) : QObject(parent) {
    qRegisterMetaType<consilium::app::StudyLoad>();
    m_watcher = new QFutureWatcher<std::shared_ptr<Outcome>>(this);
    connect(m_watcher, &QFutureWatcher<std::shared_ptr<Outcome>>::finished, this,
            &StudyService::onFinished);
}

StudyService::~StudyService() {
    cancel();
    m_watcher->waitForFinished();
}

bool StudyService::busy() const {
    return m_watcher->isRunning();
}

void StudyService::cancel() {
    if (m_cancel) m_cancel->store(true);
}

void StudyService::load(const QString& path) {
    if (busy()) {
        // Latest request wins: cancel the running load and start this one when it ends.
        cancel();
        m_pendingPath = path;
        return;
    }
    m_pendingPath.clear();
    m_cancel = std::make_shared<std::atomic<bool>>(false);
    auto cancelFlag = m_cancel;
    // `this` outlives the job: the destructor cancels and waits for it.
    StudyService* self = this;
    m_watcher->setFuture(QtConcurrent::run([path, cancelFlag, self]() {
        auto outcome = std::make_shared<Outcome>();
        outcome->path = path;
        QElapsedTimer timer;
        timer.start();
        imaging::LoadOptions options;
        options.cancel = cancelFlag.get();
        options.progress = [self](const imaging::LoadProgress& p) {
            const int done = p.filesDone, total = p.filesTotal;
            const QString phase = QString::fromUtf8(p.phase);
            QMetaObject::invokeMethod(
                self, [self, done, total, phase] { emit self->progress(done, total, phase); },
                Qt::QueuedConnection);
            return true;
        };
        auto result = imaging::loadStudies(path.toStdString(), options);
        outcome->seconds = timer.elapsed() / 1000.0;
        if (result.ok()) {
            outcome->studies = std::make_shared<imaging::LoadedStudies>(std::move(result).value());
            for (const auto& p : outcome->studies->patients) {
                auto& pt = outcome->thumbnails.emplace_back();
                for (const auto& st : p.studies) {
                    auto& sd = pt.emplace_back();
                    for (const auto& sr : st.series)
                        sd.push_back(seriesThumbnail(sr.volume, sr.modality == "CT"));
                }
            }
        } else {
            outcome->error = q(result.error().toString());
        }
        return outcome;
    }));
}

void StudyService::onFinished() {
    const auto outcome = m_watcher->result();
    if (!m_pendingPath.isEmpty()) {
        const QString next = m_pendingPath;
        load(next);
        return;
    }
    if (!outcome->studies) {
        emit failed(outcome->path, outcome->error);
        return;
    }
    m_studies = outcome->studies;
    StudyLoad load;
    load.path = outcome->path;
    load.seconds = outcome->seconds;
    load.filesFound = m_studies->report.filesFound;
    load.filesLoaded = m_studies->report.filesLoaded;
    for (const auto& s : m_studies->report.skipped) {
        load.skipped.push_back({q(s.path), QString::fromUtf8(errorCodeName(s.code)), q(s.reason)});
    }
    for (size_t pi = 0; pi < m_studies->patients.size(); ++pi) {
        const auto& p = m_studies->patients[pi];
        PatientEntry pe{q(p.name), q(p.id), q(p.sex), q(p.birthDate), {}};
        for (size_t si = 0; si < p.studies.size(); ++si) {
            const auto& st = p.studies[si];
            StudyEntry se{q(st.studyInstanceUid), q(st.description), q(st.date), {}};
            for (size_t ri = 0; ri < st.series.size(); ++ri) {
                const auto& sr = st.series[ri];
                SeriesEntry e;
                e.thumbnail = outcome->thumbnails[pi][si][ri];
                e.uid = q(sr.seriesInstanceUid);
                e.stack = sr.stack;
                e.description = q(sr.description);
                e.modality = q(sr.modality);
                e.seriesNumber = sr.seriesNumber;
                e.slices = sr.volume.dims[2];
                e.matrix = QSize(sr.volume.dims[0], sr.volume.dims[1]);
                e.spacingMm = QVector3D(float(sr.volume.spacing[0]), float(sr.volume.spacing[1]),
                                        float(sr.volume.spacing[2]));
                e.transferSyntaxes = qList(sr.transferSyntaxes);
                e.warnings = qList(sr.warnings);
                e.modelExclusion = q(sr.modelExclusion);
                se.series.push_back(e);
            }
            pe.studies.push_back(se);
        }
        load.patients.push_back(pe);
    }
    emit loaded(load);
}

std::shared_ptr<CtViewModel> StudyService::viewModel(const QString& seriesUid, int stack) const {
    if (!m_studies) return nullptr;
    for (const auto& p : m_studies->patients)
        for (const auto& st : p.studies)
            for (const auto& sr : st.series)
                if (q(sr.seriesInstanceUid) == seriesUid && sr.stack == stack) {
                    // Aliasing: the view model keeps the whole load alive, no copy of voxels.
                    return std::make_shared<CtViewModel>(
                        std::shared_ptr<const imaging::Volume>(m_studies, &sr.volume));
                }
    return nullptr;
}

}  // namespace consilium::app
