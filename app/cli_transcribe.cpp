// consilium-cli transcribe --audio FILE [--json] [--questions FILE]
// Transcribes one spoken question (any file libsndfile reads) with the question grammar.
#include <QCommandLineParser>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>
#include <filesystem>

#include "app/cli_commands.h"
#include "app/resource_paths.h"
#include "audio/audio_file.h"
#include "audio/transcriber.h"

namespace consilium::app {
namespace {

int fail(int code, const std::string& message) {
    std::fprintf(stderr, "consilium-cli transcribe: %s\n", message.c_str());
    return code;
}

}  // namespace

int runTranscribe(const QStringList& args) {
    QCommandLineParser parser;
    parser.setApplicationDescription("Transcribe a spoken question (WAV, FLAC, OGG; any rate).");
    parser.addHelpOption();
    QCommandLineOption audio("audio", "The recording to transcribe.", "FILE");
    QCommandLineOption json("json", "Print one JSON object instead of text.");
    QCommandLineOption questions("questions",
                                 "Question list (default: the shipped questions.json).", "FILE");
    QCommandLineOption printGrammar("print-grammar",
                                    "Print the JSGF grammar made from the question list and exit.");
    parser.addOptions({audio, json, questions, printGrammar});
    if (!parser.parse(args)) return fail(2, parser.errorText().toStdString());
    if (parser.isSet("help")) {
        std::printf("%s", qPrintable(parser.helpText()));
        return 0;
    }
    if (!parser.positionalArguments().isEmpty()) {
        return fail(
            2, "unexpected argument '" + parser.positionalArguments().first().toStdString() + "'");
    }
    if (!parser.isSet(audio) && !parser.isSet(printGrammar))
        return fail(2, "--audio FILE is required");

    const std::string questionsPath = parser.isSet(questions)
                                          ? parser.value(questions).toStdString()
                                          : locateResource("questions/questions.json");
    if (questionsPath.empty())
        return fail(1, "the question list questions/questions.json was not found in the resources");
    auto questionSet = audio::QuestionSet::loadFile(questionsPath);
    if (!questionSet) return fail(parser.isSet(questions) ? 2 : 1, questionSet.error().message);

    if (parser.isSet(printGrammar)) {
        std::printf("%s", questionSet->jsgf().c_str());
        return 0;
    }
    auto recording = audio::readAudioFile(parser.value(audio).toStdString());
    if (!recording) return fail(2, recording.error().message);

    audio::TranscriberConfig config;
    config.extraDictionary = locateResource("audio/consilium-extra.dict");
    auto transcriber = audio::Transcriber::create(config, std::move(questionSet.value()));
    if (!transcriber) return fail(1, transcriber.error().toString());
    auto result = transcriber.value()->transcribe(recording.value());
    if (!result) return fail(1, result.error().toString());
    const audio::Transcription& t = result.value();

    if (parser.isSet(json)) {
        QJsonObject slotObject;
        for (const auto& [name, value] : t.slotValues)
            slotObject[QString::fromStdString(name)] = QString::fromStdString(value);
        QJsonObject o{{"understood", t.understood},
                      {"text", QString::fromStdString(t.understood ? t.text : "not understood")},
                      {"best_guess", QString::fromStdString(t.bestGuess)},
                      {"confidence", t.confidence},
                      {"gap_per_frame", t.gapPerFrame},
                      {"reason", QString::fromStdString(t.reason)},
                      {"intent", QString::fromStdString(t.intent)},
                      {"slots", slotObject},
                      {"audio_seconds", t.audioSeconds},
                      {"decode_seconds", t.decodeSeconds}};
        std::printf("%s", QJsonDocument(o).toJson(QJsonDocument::Indented).constData());
    } else if (t.understood) {
        std::printf("%s\n(confidence %.2f, intent %s)\n", t.text.c_str(), t.confidence,
                    t.intent.empty() ? "-" : t.intent.c_str());
    } else {
        std::printf("not understood: %s (best guess: \"%s\", confidence %.2f)\n", t.reason.c_str(),
                    t.bestGuess.c_str(), t.confidence);
    }
    return 0;
}

}  // namespace consilium::app
