// The question service: wires a CT study, a patient record, audio and a typed question into
// the `consilium` engine and returns the JSON object of the `consilium-cli ask` contract
// (issue 8: question, transcript, answer, findings, lung_rads, modality_weights, attention,
// experts, model, device, precision, timings_ms). Shared by the CLI and, later, the GUI.
//
// Many questions share an AskContext: the engine of each model file (with its cache of
// encoder outputs) and the studies loaded and resampled to the model grid, so a follow-up
// question on the same study skips loading it and re-running its encoders, and a batch of
// jobs loads each study once. The steps are also separate (prepareAsk, then the engine,
// then finishAsk) so consilium-cli batch can feed many prepared questions to one
// ConsiliumScheduler.
//
// Thread safety: askQuestion() and prepareAsk() are reentrant; an AskContext may be shared
// by threads. Run them on worker threads, never on the GUI thread.
#pragma once

#include <QJsonObject>
#include <QString>

#include <QStringList>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "imaging/volume.h"
#include "inference/consilium_engine.h"
#include "kernels/status.h"

namespace consilium::app {

struct AskRequest {
    QString studyDir;    // DICOM folder (required)
    QString seriesUid;   // the series to read; empty = imaging::chooseModelSeries's choice
    QString recordFile;  // UTF-8 text, optional
    QString recordText;  // the record itself (the GUI's Record dock); used when recordFile is empty
    QString audioFile;   // WAV/FLAC/OGG, optional
    QString question;    // typed question, optional (audio or question required)
    QString modelFile;   // consilium GGUF; empty = the installed/bundled model
    QString device = QStringLiteral("auto");  // auto | cpu | cuda
    int threads = 0;                          // 0 = all hardware threads
};

struct AskOutcome {
    QJsonObject json;
    QStringList notes;  // things the user should know (fallbacks, truncation), one line each
};

// Engines by model file and the last few loaded studies. Thread-safe.
class AskContext {
  public:
    explicit AskContext(int maxStudies = 2);
    ~AskContext();
    AskContext(const AskContext&) = delete;
    AskContext& operator=(const AskContext&) = delete;

    // The engine of a model file, opened on first use.
    Result<std::shared_ptr<inference::ConsiliumEngine>> engine(const std::string& modelPath);
    // The same for a model as the user names it (empty: the installed or bundled model;
    // app::locateModel), with the path found in `path`. NotFound says which file is missing;
    // other errors are the engine's, prefixed with the path.
    Result<std::shared_ptr<inference::ConsiliumEngine>> locateEngine(const QString& modelFile,
                                                                     std::string* path);
    // How many model files have an open engine here.
    size_t openEngines() const;
    // SHA-256 of a model file (hex), computed once.
    QString modelSha256(const std::string& modelPath);

    struct Study {
        imaging::Volume volume;
        std::vector<float> grid;  // HU on the model grid [D, H, W]
        QString seriesUid, seriesDescription, modality;
        QStringList excluded;  // series kept from the model, "series 3 (desc): why"
    };
    // The model's series of the study in `dir` (imaging::chooseModelSeries: `seriesUid`, or
    // the CT series with the most slices that is not excluded from model input) resampled to
    // `grid` (D, H, W), loaded on first use and again when its files change (count, sizes or
    // modification times); `reused` says whether it came from memory. Errors: those of
    // imaging::loadStudies, or InvalidArgument naming each excluded series and why, prefixed
    // with dir.
    Result<std::shared_ptr<const Study>> study(const QString& dir, const QString& seriesUid,
                                               const std::array<int64_t, 3>& grid,
                                               const std::atomic<bool>* cancel, bool* reused);

  private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

// A question with its inputs preprocessed for the engine.
struct PreparedAsk {
    AskRequest request;
    QString question, transcript, recordText;
    std::string modelPath;
    std::shared_ptr<inference::ConsiliumEngine> engine;
    std::shared_ptr<const AskContext::Study> study;
    bool studyReused = false;
    inference::ConsiliumInputs inputs;
    QJsonObject timings;
    QStringList notes;
    std::chrono::steady_clock::time_point start;
};

// What a question is doing, in order, for a progress display (each stage may be quick).
enum class AskStage {
    OpeningModel,   // locating, validating and mapping the model file (once per file)
    LoadingStudy,   // reading the series and resampling it to the model grid (once per study)
    ReadingInputs,  // record, question, the spoken question's audio and transcript
    RunningModel,   // encoders (or their cached outputs), fusion, decoding until the first token
};
using AskStageCallback = std::function<void(AskStage)>;

// Everything before the engine: model, study, record, question, audio (errors as
// askQuestion's). `context` may be null (nothing shared).
Result<PreparedAsk> prepareAsk(const AskRequest& request, AskContext* context,
                               const std::atomic<bool>* cancel = nullptr,
                               const AskStageCallback& onStage = {});
// The JSON contract of an answer to a prepared question.
AskOutcome finishAsk(const PreparedAsk& prepared, const inference::ConsiliumAnswer& answer,
                     const QString& deviceDetail, AskContext* context);
// Lets go of the study's voxels and the engine inputs, keeping the geometry finishAsk()
// needs, so many questions queued for an engine do not hold many volumes.
void keepGeometryOnly(PreparedAsk* prepared);
// Session options sized for a prepared question's inputs.
inference::ConsiliumLimits askLimits(const PreparedAsk& prepared);

// Errors (the message names the file and the problem): NotFound / IoError / CorruptFile /
// UnsupportedTransferSyntax for the inputs, CorruptModel / UnsupportedModel for the model,
// InvalidArgument for a missing question or out-of-range audio, Cancelled.
Result<AskOutcome> askQuestion(const AskRequest& request,
                               const std::function<bool(const QString& piece)>& onToken = {},
                               const std::atomic<bool>* cancel = nullptr,
                               AskContext* context = nullptr, const AskStageCallback& onStage = {});

}  // namespace consilium::app
