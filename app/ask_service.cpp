#include "app/ask_service.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QThread>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <list>
#include <map>
#include <mutex>

#include "app/answer_check.h"
#include "app/resource_paths.h"
#include "app/speech.h"
#include "audio/audio_file.h"
#include "audio/log_mel.h"
#include "audio/resample.h"
#include "imaging/reslice.h"
#include "imaging/study_loader.h"
#include "inference/consilium_session.h"

namespace consilium::app {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Error prefixed(const Error& e, const QString& file) {
    const std::string f = file.toStdString();
    if (e.message.find(f) != std::string::npos) return e;
    return makeError(e.code, f + ": " + e.message);
}

QString sha256(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return QString::fromLatin1(h.result().toHex());
}

// docs/MODEL.md section 3.1: grid coordinate -> source voxel -> LPS mm, slice UID, row, col.
struct GridMapper {
    const imaging::Volume& v;
    std::array<int64_t, 3> grid;  // D, H, W

    std::array<double, 3> source(const std::array<double, 3>& g) const {
        const double Sx = v.dims[0], Sy = v.dims[1], Sz = v.dims[2];
        const double sx = (g[2] + 0.5) * Sx / double(grid[2]) - 0.5;
        const double sy = (g[1] + 0.5) * Sy / double(grid[1]) - 0.5;
        const double sz = grid[0] > 1 ? g[0] * (Sz - 1) / double(grid[0] - 1) : (Sz - 1) / 2;
        return {sx, sy, sz};
    }
    QJsonObject locate(const std::array<double, 3>& g, const char* centreKey) const {
        const auto s = source(g);
        const imaging::Vec3 mm = v.toPatient({s[0], s[1], s[2]});
        const int slice = std::clamp(int(std::lround(s[2])), 0, v.dims[2] - 1);
        const int row = std::clamp(int(std::lround(s[1])), 0, v.dims[1] - 1);
        const int col = std::clamp(int(std::lround(s[0])), 0, v.dims[0] - 1);
        QJsonObject o;
        o[centreKey] = QJsonArray{mm[0], mm[1], mm[2]};
        o["sop_instance_uid"] = size_t(slice) < v.slices.size()
                                    ? QString::fromStdString(v.slices[size_t(slice)].sopInstanceUid)
                                    : QString();
        o["row"] = row;
        o["col"] = col;
        return o;
    }
    // In-plane grid voxel size in mm (sp_yx).
    double spYx() const {
        return 0.5 * (v.spacing[0] * v.dims[0] / double(grid[2]) +
                      v.spacing[1] * v.dims[1] / double(grid[1]));
    }
};

QString readText(const QString& path, Error* err) {
    QFile f(path);
    if (!QFileInfo::exists(path)) {
        *err = makeError(ErrorCode::NotFound, path.toStdString() + ": no such file");
        return {};
    }
    if (!f.open(QIODevice::ReadOnly)) {
        *err = makeError(ErrorCode::IoError, path.toStdString() + ": cannot be read");
        return {};
    }
    const QByteArray bytes = f.readAll();
    const QString text = QString::fromUtf8(bytes);
    if (text.toUtf8() != bytes) {
        *err = makeError(ErrorCode::InvalidArgument, path.toStdString() + ": not UTF-8 text");
        return {};
    }
    return text;
}

}  // namespace

struct AskContext::Impl {
    std::mutex mutex;
    int maxStudies = 8;
    std::map<std::string, std::shared_ptr<inference::ConsiliumEngine>> engines;
    std::map<std::string, QString> shas;
    struct Entry {
        QString key;
        QByteArray signature;
        std::shared_ptr<const Study> study;
    };
    std::list<Entry> studies;  // most recently used first
};

AskContext::AskContext(int maxStudies) : d(std::make_unique<Impl>()) {
    d->maxStudies = std::max(1, maxStudies);
}

AskContext::~AskContext() = default;

Result<std::shared_ptr<inference::ConsiliumEngine>> AskContext::engine(const std::string& path) {
    std::lock_guard<std::mutex> lock(d->mutex);
    if (auto it = d->engines.find(path); it != d->engines.end()) return it->second;
    auto e = inference::ConsiliumEngine::open(path);
    if (!e) return e.error();
    d->engines[path] = e.value();
    return e.value();
}

Result<std::shared_ptr<inference::ConsiliumEngine>> AskContext::locateEngine(
    const QString& modelFile, std::string* path) {
    std::vector<std::string> searched;
    *path = locateModel(modelFile.toStdString(), &searched);
    if (path->empty()) {
        return makeError(ErrorCode::NotFound,
                         modelFile.isEmpty() ? "no consilium model found (give --model FILE)"
                                             : modelFile.toStdString() + ": no such model file");
    }
    auto e = engine(*path);
    if (!e) return prefixed(e.error(), QString::fromStdString(*path));
    return e;
}

size_t AskContext::openEngines() const {
    std::lock_guard<std::mutex> lock(d->mutex);
    return d->engines.size();
}

QString AskContext::modelSha256(const std::string& path) {
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        if (auto it = d->shas.find(path); it != d->shas.end()) return it->second;
    }
    const QString h = sha256(QString::fromStdString(path));
    std::lock_guard<std::mutex> lock(d->mutex);
    d->shas[path] = h;
    return h;
}

namespace {

// What identifies the contents of a study folder without reading it: every file's relative
// path, size and modification time.
QByteArray folderSignature(const QString& dir) {
    QStringList lines;
    QDirIterator it(dir, QDir::Files | QDir::NoDotAndDotDot | QDir::Hidden,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        it.next();
        const QFileInfo fi = it.fileInfo();
        lines << QStringLiteral("%1|%2|%3")
                     .arg(fi.filePath())
                     .arg(fi.size())
                     .arg(fi.lastModified().toMSecsSinceEpoch());
    }
    lines.sort();
    return QCryptographicHash::hash(lines.join('\n').toUtf8(), QCryptographicHash::Sha256);
}

}  // namespace

Result<std::shared_ptr<const AskContext::Study>> AskContext::study(
    const QString& dir, const QString& seriesUid, const std::array<int64_t, 3>& grid,
    const std::atomic<bool>* cancel, bool* reused) {
    *reused = false;
    const QString key = QStringLiteral("%1|%2|%3x%4x%5")
                            .arg(QFileInfo(dir).absoluteFilePath(), seriesUid)
                            .arg(grid[0])
                            .arg(grid[1])
                            .arg(grid[2]);
    const QByteArray signature = folderSignature(dir);
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        for (auto it = d->studies.begin(); it != d->studies.end(); ++it) {
            if (it->key != key) continue;
            if (it->signature != signature) {
                d->studies.erase(it);
                break;
            }
            d->studies.splice(d->studies.begin(), d->studies, it);
            *reused = true;
            return d->studies.front().study;
        }
    }
    imaging::LoadOptions lo;
    lo.cancel = cancel;
    auto loaded = imaging::loadStudies(dir.toStdString(), lo);
    if (!loaded) return prefixed(loaded.error(), dir);
    std::string why;
    imaging::SeriesInfo* series =
        imaging::chooseModelSeries(loaded.value(), seriesUid.toStdString(), &why);
    if (!series) {
        // Nothing loaded at all: the first skipped file says why (e.g. its transfer syntax).
        if (loaded->patients.empty() && !loaded->report.skipped.empty()) {
            const imaging::SkippedFile& sk = loaded->report.skipped.front();
            return prefixed(makeError(sk.code, sk.reason), dir);
        }
        return makeError(
            loaded->patients.empty() ? ErrorCode::NotFound : ErrorCode::InvalidArgument,
            dir.toStdString() + ": " + why);
    }
    if (series->volume.empty()) {
        return makeError(ErrorCode::CorruptFile, dir.toStdString() + ": no CT image found");
    }
    auto g = imaging::resampleToGrid(series->volume, {int(grid[2]), int(grid[1]), int(grid[0])});
    if (!g) return prefixed(g.error(), dir);
    auto st = std::make_shared<Study>();
    st->seriesUid = QString::fromStdString(series->seriesInstanceUid);
    st->seriesDescription = QString::fromStdString(series->description);
    st->modality = QString::fromStdString(series->modality);
    for (const auto& pt : loaded->patients)
        for (const auto& sd : pt.studies)
            for (const auto& se : sd.series)
                if (!se.modelExclusion.empty())
                    st->excluded << QString::fromStdString(imaging::seriesLabel(se) + ": " +
                                                           se.modelExclusion);
    st->excluded.removeDuplicates();
    st->volume = std::move(series->volume);
    st->grid = std::move(g.value());
    std::lock_guard<std::mutex> lock(d->mutex);
    d->studies.push_front({key, signature, st});
    while (int(d->studies.size()) > d->maxStudies)
        d->studies.pop_back();
    return std::shared_ptr<const Study>(st);
}

Result<PreparedAsk> prepareAsk(const AskRequest& req, AskContext* context,
                               const std::atomic<bool>* cancel, const AskStageCallback& onStage) {
    auto stage = [&onStage](AskStage s) {
        if (onStage) onStage(s);
    };
    PreparedAsk p;
    p.start = Clock::now();
    p.request = req;
    QJsonObject& timings = p.timings;
    QString question = req.question.trimmed();
    QString transcript;
    if (question.isEmpty() && req.audioFile.isEmpty()) {
        return makeError(ErrorCode::InvalidArgument,
                         "no question: give --question TEXT or --audio FILE");
    }
    if (req.device != "auto" && req.device != "cpu" && req.device != "cuda") {
        return makeError(ErrorCode::InvalidArgument, "--device must be auto, cpu or cuda, not '" +
                                                         req.device.toStdString() + "'");
    }

    // Model.
    stage(AskStage::OpeningModel);
    auto t0 = Clock::now();
    AskContext local(1);
    AskContext* ctx = context ? context : &local;
    std::string modelPath;
    auto engine = ctx->locateEngine(req.modelFile, &modelPath);
    if (!engine) return engine.error();
    const inference::ConsiliumConfig& c = engine.value()->model().config();
    p.engine = engine.value();
    p.modelPath = modelPath;
    timings["load_model"] = msSince(t0);

    // CT study (section 3.1): the first series, resampled to the model grid, in HU.
    stage(AskStage::LoadingStudy);
    t0 = Clock::now();
    inference::ConsiliumInputs& in = p.inputs;
    if (!QFileInfo(req.studyDir).exists()) {
        return makeError(ErrorCode::NotFound,
                         req.studyDir.toStdString() + ": no such study folder");
    }
    auto study = ctx->study(req.studyDir, req.seriesUid, c.grid, cancel, &p.studyReused);
    if (!study) return study.error();
    p.study = study.value();
    timings["load_study"] = msSince(t0);
    t0 = Clock::now();
    in.ctHu = p.study->grid;
    in.ctSpacingYxMm = GridMapper{p.study->volume, c.grid}.spYx();
    for (const QString& e : p.study->excluded)
        p.notes << e + QStringLiteral(": not used as model input");

    // Record and question text (section 3.3).
    stage(AskStage::ReadingInputs);
    const inference::ConsiliumTokenizer& tok = engine.value()->tokenizer();
    QString recordText = req.recordText;
    const QString recordSource =
        req.recordFile.isEmpty() ? QStringLiteral("the record") : req.recordFile;
    if (!req.recordFile.isEmpty()) {
        Error err;
        recordText = readText(req.recordFile, &err);
        if (!err.message.empty()) return err;
    }
    if (!recordText.isEmpty()) {
        in.recordIds = tok.encodeWithBos(recordText.toStdString());
        if (int64_t(in.recordIds.size()) > c.textMaxTokens) {
            in.recordIds.resize(size_t(c.textMaxTokens));
            p.notes << QStringLiteral("%1: record cut to its first %2 tokens")
                           .arg(recordSource)
                           .arg(c.textMaxTokens);
        }
    }
    if (!question.isEmpty()) in.questionIds = tok.encodeWithBos(question.toStdString());

    // Audio (section 3.2): mono 16 kHz, log-mel with the model's filter bank.
    if (!req.audioFile.isEmpty()) {
        audio::AudioFileInfo info;
        auto buf = audio::readAudioFile(req.audioFile.toStdString(), &info);
        if (!buf) return prefixed(buf.error(), req.audioFile);
        auto mono = audio::resampleTo(buf.value(), int(c.sampleRate));
        if (!mono) return prefixed(mono.error(), req.audioFile);
        const auto& mf = engine.value()->model().melFilters;
        std::vector<float> filters(mf.f32(), mf.f32() + c.nMels * (c.nFft / 2 + 1));
        audio::LogMelConfig mc;
        mc.sampleRate = int(c.sampleRate);
        mc.nFft = int(c.nFft);
        mc.hopLength = int(c.hopLength);
        mc.nMels = int(c.nMels);
        auto lm = audio::LogMelSpectrogram::create(mc, filters);
        if (!lm) return prefixed(lm.error(), QString::fromStdString(modelPath));
        auto mel = lm.value().compute(mono.value().samples.data(), mono.value().samples.size());
        if (!mel) return prefixed(mel.error(), req.audioFile);
        if (mel.value().nFrames < 1 || mel.value().nFrames > c.maxFrames) {
            return makeError(ErrorCode::InvalidArgument,
                             req.audioFile.toStdString() + ": " +
                                 std::to_string(mono.value().durationSeconds()) +
                                 " s of audio, the model takes up to " +
                                 std::to_string(c.maxFrames * c.hopLength / c.sampleRate) + " s");
        }
        in.mel = std::move(mel.value().values);
        in.melFrames = mel.value().nFrames;

        // The transcript, through the question grammar. A typed question, when given, stays
        // the question; otherwise the understood transcript becomes it.
        auto recogniser = createQuestionTranscriber();
        if (!recogniser) return prefixed(recogniser.error(), QStringLiteral("speech recogniser"));
        auto heard = recogniser.value()->transcribe(buf.value());
        if (!heard) return prefixed(heard.error(), req.audioFile);
        if (heard.value().understood) {
            transcript = QString::fromStdString(heard.value().text);
        } else {
            p.notes << QStringLiteral("%1: speech not understood (%2); best guess: %3")
                           .arg(req.audioFile, QString::fromStdString(heard.value().reason),
                                QString::fromStdString(heard.value().bestGuess));
        }
        if (question.isEmpty()) {
            if (transcript.isEmpty()) {
                return makeError(
                    ErrorCode::InvalidArgument,
                    req.audioFile.toStdString() +
                        ": the spoken question was not understood; type it with --question");
            }
            question = transcript;
            in.questionIds = tok.encodeWithBos(question.toStdString());
        }
    }
    timings["preprocess"] = msSince(t0);

    // Device: the consilium graph runs on the CPU backend; CUDA falls back, said once.
    if (req.device == "cuda") {
        p.notes << QStringLiteral(
            "CUDA backend not available for the consilium graph: "
            "running on the CPU");
    }
    p.question = question;
    p.transcript = transcript;
    p.recordText = recordText;
    return p;
}

void keepGeometryOnly(PreparedAsk* p) {
    auto geo = std::make_shared<AskContext::Study>();
    const imaging::Volume& v = p->study->volume;
    geo->volume.dims = v.dims;
    geo->volume.spacing = v.spacing;
    geo->volume.origin = v.origin;
    geo->volume.direction = v.direction;
    geo->volume.type = v.type;
    geo->volume.slices = v.slices;
    geo->volume.modality = v.modality;
    geo->volume.units = v.units;
    geo->volume.invertedDisplay = v.invertedDisplay;
    p->study = geo;
    p->inputs = {};
}

inference::ConsiliumLimits askLimits(const PreparedAsk& p) {
    inference::ConsiliumLimits lim;
    lim.maxRecordTokens = std::max<int64_t>(1, int64_t(p.inputs.recordIds.size()));
    lim.maxQuestionTokens = std::max<int64_t>(1, int64_t(p.inputs.questionIds.size()));
    lim.maxAudioFrames = std::max<int64_t>(1, p.inputs.melFrames);
    return lim;
}

AskOutcome finishAsk(const PreparedAsk& p, const inference::ConsiliumAnswer& a,
                     const QString& deviceDetail, AskContext* context) {
    const inference::ConsiliumConfig& c = p.engine->model().config();
    const inference::ConsiliumTokenizer& tok = p.engine->tokenizer();
    const imaging::Volume& vol = p.study->volume;
    const QString& question = p.question;
    const QString& transcript = p.transcript;
    const QString& recordText = p.recordText;
    const AskRequest& req = p.request;
    const std::string& modelPath = p.modelPath;
    QJsonObject timings = p.timings;
    timings["encode"] = a.encodeMs;
    timings["fuse"] = a.fuseMs;
    timings["decode"] = a.decodeMs;
    timings["explain"] = a.headsMs;
    timings["first_token"] = a.firstTokenMs;

    // The JSON contract.
    const GridMapper map{vol, c.grid};
    QJsonObject j;
    j["question"] = question;
    if (!req.audioFile.isEmpty()) j["transcript"] = transcript;
    j["answer"] = QString::fromStdString(a.text);
    QJsonArray findings;
    for (const auto& f : a.findings) {
        QJsonObject o = map.locate(f.grid, "center_mm");
        o["diameter_mm"] = f.diameterGridVoxels * map.spYx();
        o["type"] = QString::fromStdString(c.detTypes[size_t(f.type)]);
        if (f.solidFraction >= 0 && c.detTypes[size_t(f.type)] == "part-solid")
            o["solid_diameter_mm"] = f.diameterGridVoxels * map.spYx() * f.solidFraction;
        o["lobe"] = QString::fromStdString(c.detLobes[size_t(f.lobe)]);
        o["score"] = double(f.score);
        findings.append(o);
    }
    j["findings"] = findings;
    // The series the model read (a study may hold several; docs/MODEL.md 3.1).
    QJsonObject seriesObj;
    seriesObj["uid"] = p.study->seriesUid;
    seriesObj["description"] = p.study->seriesDescription;
    seriesObj["modality"] = p.study->modality;
    seriesObj["slices"] = vol.dims[2];
    j["series"] = seriesObj;
    j["lung_rads"] =
        a.lungRads >= 0
            ? QJsonValue(QString::fromStdString(c.lungRadsCategories[size_t(a.lungRads)]))
            : QJsonValue();
    // The claims of the answer text that the structured answer also makes (answer_check.h).
    const auto claims =
        answerClaims(j["answer"].toString(), j["lung_rads"].toString(), int(findings.size()));
    j["answer_checks"] = answerChecksJson(claims);
    QStringList notes = p.notes;
    for (const AnswerClaim& claim : claims)
        if (!claim.agree) notes << disagreementNote(claim);
    QJsonObject weights;
    const char* names[4] = {"image", "record", "voice", "question"};
    for (int m = 0; m < 4; ++m)
        weights[names[m]] = double(a.modalityWeights[size_t(m)]);
    j["modality_weights"] = weights;
    if (a.peakPatch >= 0) {
        QJsonObject att = map.locate(a.peakGrid, "peak_mm");
        att["patch"] = qint64(a.peakPatch);
        att["weight"] = double(a.imageAttention[size_t(a.peakPatch)]);
        // The whole map (docs/MODEL.md 13): one weight per CT patch, patch p = (pz·ny + py)·nx
        // + px on the model grid; the GUI upsamples it over the slices.
        QJsonArray patchWeights;
        for (float w : a.imageAttention)
            patchWeights.append(double(w));
        QJsonObject mapObj;
        mapObj["grid"] = QJsonArray{qint64(c.grid[0]), qint64(c.grid[1]), qint64(c.grid[2])};
        mapObj["patch"] = QJsonArray{qint64(c.patch[0]), qint64(c.patch[1]), qint64(c.patch[2])};
        mapObj["weights"] = patchWeights;
        // The same map through each decoder layer alone and each fusion image head alone
        // (section 13.2); their means are `weights`.
        auto maps = [](const std::vector<std::vector<float>>& list) {
            QJsonArray out;
            for (const auto& m : list) {
                QJsonArray one;
                for (float w : m)
                    one.append(double(w));
                out.append(one);
            }
            return out;
        };
        mapObj["by_layer"] = maps(a.imageAttentionByLayer);
        mapObj["by_head"] = maps(a.imageAttentionByHead);
        att["map"] = mapObj;
        j["attention"] = att;
    } else {
        j["attention"] = QJsonValue();
    }
    if (!a.recordAttention.empty()) {
        // Evidence: the five most attended record tokens (section 13.3), as character spans.
        const auto spans = tok.encodeWithSpans(recordText.toStdString());
        std::vector<size_t> order(a.recordAttention.size());
        for (size_t i = 0; i < order.size(); ++i)
            order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
            return a.recordAttention[x] > a.recordAttention[y];
        });
        const std::string utf8 = recordText.toStdString();
        QJsonArray evidence;
        for (size_t k = 0; k < std::min<size_t>(5, order.size()); ++k) {
            const size_t t = order[k];
            if (t >= spans.size()) continue;
            QJsonObject e;
            e["token"] = qint64(t);
            e["weight"] = double(a.recordAttention[t]);
            e["text"] =
                QString::fromStdString(utf8.substr(spans[t].begin, spans[t].end - spans[t].begin));
            e["begin"] = QString::fromStdString(utf8.substr(0, spans[t].begin)).size();
            e["end"] = QString::fromStdString(utf8.substr(0, spans[t].end)).size();
            evidence.append(e);
        }
        j["record_evidence"] = evidence;
    }
    QJsonArray experts;
    for (size_t t = 0; t < a.experts.size(); ++t) {
        QJsonObject tokenObj;
        tokenObj["token"] = QString::fromStdString(tok.decode({a.ids[t]}));
        tokenObj["id"] = a.ids[t];
        QJsonArray layers;
        for (const auto& e : a.experts[t]) {
            QJsonObject lo2;
            lo2["experts"] = QJsonArray{e.experts[0], e.experts[1]};
            lo2["weights"] = QJsonArray{double(e.weights[0]), double(e.weights[1])};
            layers.append(lo2);
        }
        tokenObj["layers"] = layers;
        experts.append(tokenObj);
    }
    j["experts"] = experts;
    QJsonObject model;
    model["file"] = QFileInfo(QString::fromStdString(modelPath)).absoluteFilePath();
    model["sha256"] =
        context ? context->modelSha256(modelPath) : sha256(QString::fromStdString(modelPath));
    j["model"] = model;
    j["device"] = QStringLiteral("cpu");
    j["device_detail"] = deviceDetail;
    j["precision"] = QString::fromStdString(p.engine->model().precision());
    // What came from memory instead of being recomputed (follow-ups, batch jobs).
    QJsonArray reused;
    if (p.studyReused) reused.append(QStringLiteral("study"));
    for (int m = 0; m < 4; ++m)
        if (a.reused[size_t(m)]) reused.append(QString::fromLatin1(names[m]));
    j["reused"] = reused;
    timings["total"] = msSince(p.start);
    j["timings_ms"] = timings;
    AskOutcome out;
    out.json = j;
    out.notes = notes;
    return out;
}

Result<AskOutcome> askQuestion(const AskRequest& req,
                               const std::function<bool(const QString& piece)>& onToken,
                               const std::atomic<bool>* cancel, AskContext* context,
                               const AskStageCallback& onStage) {
    auto prepared = prepareAsk(req, context, cancel, onStage);
    if (!prepared) return prepared.error();
    const PreparedAsk& p = prepared.value();
    inference::ConsiliumSessionOptions so;
    so.cpu.threads = req.threads > 0 ? req.threads : std::max(1, QThread::idealThreadCount());
    so.limits = askLimits(p);
    auto session = inference::ConsiliumSession::create(p.engine, so);
    if (!session) return session.error();
    inference::ConsiliumSession::TokenCallback cb;
    if (onToken) {
        cb = [&](int32_t, const std::string& piece) {
            return onToken(QString::fromStdString(piece));
        };
    }
    if (onStage) onStage(AskStage::RunningModel);
    auto answer = session.value()->ask(p.inputs, cb, cancel);
    if (!answer) return answer.error();
    return finishAsk(p, answer.value(), QString::fromStdString(session.value()->deviceName()),
                     context);
}

}  // namespace consilium::app
