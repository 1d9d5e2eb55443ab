// The spoken-question recogniser as the app configures it: the shipped question list and
// extra pronunciations found through the resource roots. Shared by the GUI's VoiceService
// and the ask service.
#pragma once

#include <memory>

#include "audio/transcriber.h"
#include "kernels/status.h"

namespace consilium::app {

// Loads the acoustic model, dictionaries and question grammar (about a second): create
// once and reuse. Errors: NotFound (question list or model files missing), CorruptModel,
// CorruptFile, InvalidArgument (see audio::Transcriber::create).
Result<std::unique_ptr<audio::Transcriber>> createQuestionTranscriber();

}  // namespace consilium::app
