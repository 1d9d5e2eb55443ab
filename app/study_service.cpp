#include "app/study_service.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QtConcurrent>

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
    std::shared_ptr<imaging::LoadedStudies> studies;  // null on error
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
    for (const auto& p : m_studies->patients) {
        PatientEntry pe{q(p.name), q(p.id), q(p.sex), q(p.birthDate), {}};
        for (const auto& st : p.studies) {
            StudyEntry se{q(st.studyInstanceUid), q(st.description), q(st.date), {}};
            for (const auto& sr : st.series) {
                SeriesEntry e;
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
