// The question service: wires a CT study, a patient record, audio and a typed question into
// the `consilium` engine and returns the JSON object of the `consilium-cli ask` contract
// (issue 8: question, transcript, answer, findings, lung_rads, modality_weights, attention,
// experts, model, device, precision, timings_ms). Shared by the CLI and, later, the GUI.
//
// Thread safety: askQuestion() is reentrant (it opens its own engine and session); run it on
// a worker thread, never on the GUI thread.
#pragma once

#include <QJsonObject>
#include <QString>

#include <atomic>
#include <functional>

#include "kernels/status.h"

namespace consilium::app {

struct AskRequest {
    QString studyDir;    // DICOM folder (required)
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

// Errors (the message names the file and the problem): NotFound / IoError / CorruptFile /
// UnsupportedTransferSyntax for the inputs, CorruptModel / UnsupportedModel for the model,
// InvalidArgument for a missing question or out-of-range audio, Cancelled.
Result<AskOutcome> askQuestion(const AskRequest& request,
                               const std::function<bool(const QString& piece)>& onToken = {},
                               const std::atomic<bool>* cancel = nullptr);

}  // namespace consilium::app
