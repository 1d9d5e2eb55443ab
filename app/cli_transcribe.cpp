// consilium-cli transcribe (--audio FILE | --record SECONDS [--device N] [--save FILE])
//                          [--json] [--questions FILE] [--print-grammar]
// Transcribes one spoken question (any file libsndfile reads, or a recording from an
// audio input) with the question grammar.
#include <QCommandLineParser>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>
#include <filesystem>

#include "app/cli_commands.h"
#include "app/resource_paths.h"
#include "audio/audio_file.h"
#include "audio/capture.h"
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
    QCommandLineOption record("record", "Record this many seconds from an audio input instead.",
                              "SECONDS");
    QCommandLineOption device("device",
                              "PortAudio input device index (default: the default input).", "N");
    QCommandLineOption save(
        "save", "With --record: also write the 16 kHz recording to this WAV file.", "FILE");
    QCommandLineOption printGrammar("print-grammar",
                                    "Print the JSGF grammar made from the question list and exit.");
    parser.addOptions({audio, json, questions, record, device, save, printGrammar});
    if (const int rc = parseCliArgs(parser, args); rc >= 0) return rc;
    if (!parser.positionalArguments().isEmpty()) {
        return fail(
            2, "unexpected argument '" + parser.positionalArguments().first().toStdString() + "'");
    }
    if (!parser.isSet(audio) && !parser.isSet(record) && !parser.isSet(printGrammar)) {
        return fail(2, "--audio FILE or --record SECONDS is required");
    }
    if (parser.isSet(audio) && parser.isSet(record)) {
        return fail(2, "--audio and --record exclude each other");
    }
    bool numberOk = true;
    const double recordSeconds =
        parser.isSet(record) ? parser.value(record).toDouble(&numberOk) : 0.0;
    if (!numberOk || (parser.isSet(record) && !(recordSeconds > 0 && recordSeconds <= 120))) {
        return fail(2, "--record takes a number of seconds in (0, 120]");
    }
    const int deviceIndex = parser.isSet(device) ? parser.value(device).toInt(&numberOk) : -1;
    if (!numberOk || deviceIndex < -1) {
        return fail(2, "--device takes a device index (see consilium-cli doctor)");
    }

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
    audio::AudioBuffer speech;
    if (parser.isSet(audio)) {
        auto file = audio::readAudioFile(parser.value(audio).toStdString());
        if (!file) return fail(2, file.error().message);
        speech = std::move(file.value());
    } else {
        auto capture =
            audio::AudioCapture::open(audio::CaptureOptions{deviceIndex, recordSeconds, 0.0});
        if (!capture)
            return fail(capture.error().code == ErrorCode::InvalidArgument ? 2 : 1,
                        capture.error().message);
        if (Status s = capture.value()->start(); !s) return fail(1, s.error().message);
        capture.value()->waitUntilFinished(recordSeconds + 5.0);
        auto rec = capture.value()->stop();
        if (!rec) return fail(1, rec.error().message);
        speech = std::move(rec->audio);
        // A device lost mid-recording still leaves what was captured: say so and go on.
        if (!rec->status)
            std::fprintf(stderr, "consilium-cli transcribe: %s\n",
                         rec->status.error().message.c_str());
        if (parser.isSet(save)) {
            if (Status s = audio::writeWav16(parser.value(save).toStdString(), speech); !s) {
                return fail(1, s.error().message);
            }
        }
    }

    audio::TranscriberConfig config;
    config.extraDictionary = locateResource("audio/consilium-extra.dict");
    config.mllrTransform = locateResource("audio/en-us-espeak.mllr");
    auto transcriber = audio::Transcriber::create(config, std::move(questionSet.value()));
    if (!transcriber) return fail(1, transcriber.error().toString());
    auto result = transcriber.value()->transcribe(speech);
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
