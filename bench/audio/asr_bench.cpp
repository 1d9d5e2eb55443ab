// consilium-bench-asr: exact-match transcription rate of the question grammar on speech
// synthesised by espeak-ng (several English voices and accents, 130-180 wpm, with and
// without added noise from sox), the rejection rate of out-of-grammar speech, and the
// decode latency per second of audio. Writes one JSON object.
//
//   consilium-bench-asr [--count 120] [--voices en-gb-scotland,en-029,...] [--seed 7]
//                       [--noise-fraction 0.5] [--out FILE] [--verbose]
//
// The default voices are held out: the grammar and the acceptance threshold were tuned on
// en-us and en-gb only.
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <chrono>
#include <cstdio>
#include <random>

#include "audio/audio_file.h"
#include "audio/transcriber.h"

using namespace consilium::audio;

namespace {

const QStringList kHeldOutVoices = {"en-gb-scotland", "en-029",   "en-gb-x-rp",     "en-us+f3",
                                    "en-gb-x-gbclan", "en-us+m3", "en-gb-x-gbcwmd", "en+f2"};

// Sentences that are not questions of the list (some share its words).
const char* const kOutOfGrammar[] = {
    "the weather is nice today in paris",     "please order a pizza with extra cheese",
    "my dog likes to run in the park",        "can you book a table for two at eight",
    "turn off the lights in the kitchen",     "what time does the train leave tomorrow",
    "i would like a cup of coffee with milk", "the children played football after school",
    "send an email to the hospital manager",  "how much does a new car cost these days",
    "remind me to call my sister on sunday",  "the quick brown fox jumps over the lazy dog",
};

bool run(const QString& program, const QStringList& args) {
    QProcess p;
    p.start(program, args);
    return p.waitForFinished(60000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
}

// Speaks `text` into `wav`; with `noise`, mixes in white/pink noise at about 20-25 dB SNR.
bool synthesise(const QString& text, const QString& voice, int wpm, const QString& noise,
                const QString& wav, const QDir& dir) {
    const QString clean = noise.isEmpty() ? wav : dir.filePath("clean.wav");
    if (!run("espeak-ng", {"-v", voice, "-s", QString::number(wpm), "-w", clean, text}))
        return false;
    if (noise.isEmpty()) return true;
    const QString n = dir.filePath("noise.wav");
    return run("sox", {clean, n, "synth", noise, "vol", "0.02"}) &&
           run("sox", {"-m", "-v", "1", clean, "-v", "1", n, wav});
}

}  // namespace

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(
        "Exact-match rate and latency of spoken-question transcription.");
    parser.addHelpOption();
    QCommandLineOption count("count", "In-grammar utterances (default 120).", "N", "120");
    QCommandLineOption voices("voices", "Comma-separated espeak-ng voices.", "LIST",
                              kHeldOutVoices.join(','));
    QCommandLineOption seed("seed", "Random seed.", "N", "7");
    QCommandLineOption noiseFraction("noise-fraction", "Share of utterances with added noise.", "F",
                                     "0.5");
    QCommandLineOption out("out", "Write the JSON here (default: stdout).", "FILE");
    QCommandLineOption verbose("verbose", "Print every utterance to stderr.");
    QCommandLineOption questionsOpt("questions", "Question list.", "FILE",
                                    CONSILIUM_SOURCE_DIR "/resources/questions/questions.json");
    QCommandLineOption psOption("ps", "Extra pocketsphinx option NAME=VALUE (repeatable).",
                                "NAME=VALUE");
    QCommandLineOption noAdaptation(
        "no-adaptation", "Decode without the shipped MLLR speaker adaptation (the raw model).");
    QCommandLineOption saveAudio(
        "save-audio",
        "Also keep each in-grammar utterance as DIR/uNNNN.wav with DIR/transcripts.tsv "
        "(id, text): the adaptation data of training/asr/adapt_mllr.sh.",
        "DIR");
    parser.addOptions({count, voices, seed, noiseFraction, out, verbose, questionsOpt, psOption,
                       noAdaptation, saveAudio});
    parser.process(app);

    for (const char* tool : {"espeak-ng", "sox"}) {
        if (QStandardPaths::findExecutable(tool).isEmpty()) {
            std::fprintf(stderr, "consilium-bench-asr: %s is not installed\n", tool);
            return 2;
        }
    }
    auto questions = QuestionSet::loadFile(parser.value(questionsOpt).toStdString());
    if (!questions) {
        std::fprintf(stderr, "consilium-bench-asr: %s\n", questions.error().message.c_str());
        return 2;
    }
    const QuestionSet questionCopy = questions.value();
    TranscriberConfig config;
    config.extraDictionary = CONSILIUM_SOURCE_DIR "/resources/audio/consilium-extra.dict";
    if (!parser.isSet(noAdaptation))
        config.mllrTransform = CONSILIUM_SOURCE_DIR "/resources/audio/en-us-espeak.mllr";
    for (const QString& kv : parser.values(psOption)) {
        const int eq = kv.indexOf('=');
        config.decoderOptions.emplace_back(kv.left(eq).toStdString(), kv.mid(eq + 1).toStdString());
    }
    const auto loadStart = std::chrono::steady_clock::now();
    auto transcriber = Transcriber::create(config, std::move(questions.value()));
    if (!transcriber) {
        std::fprintf(stderr, "consilium-bench-asr: %s\n", transcriber.error().toString().c_str());
        return 1;
    }
    const double loadSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - loadStart).count();

    QTemporaryDir tmp;
    const QDir dir(tmp.path());
    std::mt19937 rng(parser.value(seed).toUInt());
    const QStringList voiceList = parser.value(voices).split(',', Qt::SkipEmptyParts);
    const int n = parser.value(count).toInt();
    const double noisy = parser.value(noiseFraction).toDouble();
    const auto& intents = questionCopy.intents();

    QJsonArray failures;
    int exact = 0, intentOk = 0, rejected = 0, outAccepted = 0, outTotal = 0;
    double audioSeconds = 0, decodeSeconds = 0, decodeCpuSeconds = 0;
    std::vector<double> gaps;
    auto transcribeOne = [&](const QString& text, const QString& voice, int wpm,
                             const QString& noise, Transcription* result) -> bool {
        const QString wav = dir.filePath("u.wav");
        if (!synthesise(text, voice, wpm, noise, wav, dir)) return false;
        auto audio = readAudioFile(wav.toStdString());
        if (!audio) return false;
        auto t = transcriber.value()->transcribe(audio.value());
        if (!t) return false;
        *result = t.value();
        return true;
    };

    for (int i = 0; i < n; ++i) {
        const Intent& intent = intents[size_t(i) % intents.size()];
        const QString text = QString::fromStdString(questionCopy.sampleEnglish(intent, rng));
        const QString voice = voiceList[int(rng() % uint32_t(voiceList.size()))];
        const int wpm = 130 + int(rng() % 51);
        const QString noise = std::uniform_real_distribution<double>(0, 1)(rng) < noisy
                                  ? (rng() % 2 ? "whitenoise" : "pinknoise")
                                  : "";
        Transcription t;
        if (!transcribeOne(text, voice, wpm, noise, &t)) {
            std::fprintf(stderr, "consilium-bench-asr: synthesis or decoding failed for \"%s\"\n",
                         qPrintable(text));
            return 1;
        }
        if (parser.isSet(saveAudio)) {
            const QDir keep(parser.value(saveAudio));
            const QString id = QStringLiteral("u%1").arg(i, 4, 10, QChar('0'));
            QFile::remove(keep.filePath(id + ".wav"));
            QFile tsv(keep.filePath("transcripts.tsv"));
            if (!keep.mkpath(".") ||
                !QFile::copy(dir.filePath("u.wav"), keep.filePath(id + ".wav")) ||
                !tsv.open(QIODevice::Append | QIODevice::Text)) {
                std::fprintf(stderr, "consilium-bench-asr: cannot write into %s\n",
                             qPrintable(keep.path()));
                return 1;
            }
            tsv.write((id + '\t' + text + '\n').toUtf8());
        }
        audioSeconds += t.audioSeconds;
        decodeSeconds += t.decodeSeconds;
        decodeCpuSeconds += t.decodeCpuSeconds;
        gaps.push_back(t.gapPerFrame);
        const bool ok = t.understood && t.text == text.toStdString();
        exact += ok;
        intentOk += t.understood && t.intent == intent.id;
        rejected += !t.understood;
        if (!ok) {
            failures.append(QJsonObject{{"said", text},
                                        {"voice", voice},
                                        {"wpm", wpm},
                                        {"noise", noise},
                                        {"heard", QString::fromStdString(t.bestGuess)},
                                        {"understood", t.understood},
                                        {"gap_per_frame", t.gapPerFrame}});
        }
        if (parser.isSet(verbose)) {
            std::fprintf(stderr, "%s %-16s %3d %-10s gap %6.3f post %.3f | %s | %s\n",
                         ok ? "ok  " : "MISS", qPrintable(voice), wpm, qPrintable(noise),
                         t.gapPerFrame, t.posterior, qPrintable(text), t.bestGuess.c_str());
        }
    }

    QJsonArray outGaps;
    for (const char* sentence : kOutOfGrammar) {
        const QString voice = voiceList[int(rng() % uint32_t(voiceList.size()))];
        Transcription t;
        if (!transcribeOne(sentence, voice, 160, "", &t)) return 1;
        ++outTotal;
        outAccepted += t.understood;
        outGaps.append(t.gapPerFrame);
        if (parser.isSet(verbose)) {
            std::fprintf(stderr, "%s %-16s gap %6.3f post %.3f | %s | %s\n",
                         t.understood ? "FALSE-ACCEPT" : "rejected    ", qPrintable(voice),
                         t.gapPerFrame, t.posterior, sentence, t.bestGuess.c_str());
        }
    }

    std::sort(gaps.begin(), gaps.end());
    auto quantile = [&](double q) {
        return gaps.empty() ? 0.0 : gaps[size_t(q * double(gaps.size() - 1))];
    };
    QJsonObject report{
        {"utterances", n},
        {"voices", QJsonArray::fromStringList(voiceList)},
        {"exact_match", n ? double(exact) / n : 0.0},
        {"intent_accuracy", n ? double(intentOk) / n : 0.0},
        {"rejected_in_grammar", n ? double(rejected) / n : 0.0},
        {"out_of_grammar_utterances", outTotal},
        {"out_of_grammar_false_accept", outTotal ? double(outAccepted) / outTotal : 0.0},
        {"audio_seconds", audioSeconds},
        {"decode_seconds", decodeSeconds},
        {"decode_seconds_per_audio_second", audioSeconds > 0 ? decodeSeconds / audioSeconds : 0.0},
        {"decode_cpu_seconds_per_audio_second",
         audioSeconds > 0 ? decodeCpuSeconds / audioSeconds : 0.0},
        {"model_load_seconds", loadSeconds},
        {"gap_per_frame_in_grammar",
         QJsonObject{{"p50", quantile(0.5)}, {"p95", quantile(0.95)}, {"max", quantile(1.0)}}},
        {"gap_per_frame_out_of_grammar", outGaps},
        {"acceptance_limit", config.gapLimit()},
        {"mllr", QString::fromStdString(config.mllrTransform)},
        {"failures", failures},
    };
    const QByteArray json = QJsonDocument(report).toJson(QJsonDocument::Indented);
    if (parser.isSet(out)) {
        QFile f(parser.value(out));
        if (!f.open(QIODevice::WriteOnly) || f.write(json) != json.size()) {
            std::fprintf(stderr, "consilium-bench-asr: cannot write %s\n",
                         qPrintable(parser.value(out)));
            return 1;
        }
    } else {
        std::fwrite(json.constData(), 1, size_t(json.size()), stdout);
    }
    std::fprintf(stderr,
                 "exact match %d/%d (%.1f%%), out-of-grammar false accepts %d/%d, %.3f s decode "
                 "(%.3f s CPU) "
                 "per s audio\n",
                 exact, n, n ? 100.0 * exact / n : 0.0, outAccepted, outTotal,
                 audioSeconds > 0 ? decodeSeconds / audioSeconds : 0.0,
                 audioSeconds > 0 ? decodeCpuSeconds / audioSeconds : 0.0);
    return 0;
}
