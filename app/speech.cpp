#include "app/speech.h"

#include "app/resource_paths.h"
#include "audio/question_set.h"

namespace consilium::app {

Result<std::unique_ptr<audio::Transcriber>> createQuestionTranscriber() {
    const std::string questions = locateResource("questions/questions.json");
    if (questions.empty()) {
        return makeError(ErrorCode::NotFound,
                         "the question list questions/questions.json is missing");
    }
    auto set = audio::QuestionSet::loadFile(questions);
    if (!set.ok()) return set.error();
    audio::TranscriberConfig config;
    config.extraDictionary = locateResource("audio/consilium-extra.dict");
    config.mllrTransform = locateResource("audio/en-us-espeak.mllr");
    return audio::Transcriber::create(config, std::move(set.value()));
}

}  // namespace consilium::app
