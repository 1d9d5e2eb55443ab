#include "audio/transcriber.h"

#include <pocketsphinx.h>
#include <sphinxbase/ckd_alloc.h>
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "audio/resample.h"
#include "audio/vad.h"

namespace consilium::audio {
namespace {

constexpr const char* kGrammarSearch = "questions";
constexpr const char* kPhoneSearch = "phones";

struct CmdLnDeleter {
    void operator()(cmd_ln_t* c) const { cmd_ln_free_r(c); }
};
struct DecoderDeleter {
    void operator()(ps_decoder_t* d) const { ps_free(d); }
};

bool exists(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
}

// "word(2)" -> "word".
std::string baseWord(const std::string& entry) {
    const size_t paren = entry.find('(');
    return paren == std::string::npos ? entry : entry.substr(0, paren);
}

struct DictEntry {
    std::string word, phones;
};

Result<std::vector<DictEntry>> readDictionary(const std::string& path) {
    std::ifstream in(path);
    if (!in) return makeError(ErrorCode::NotFound, path + ": cannot open pronunciation dictionary");
    std::vector<DictEntry> entries;
    std::string line;
    for (int lineNo = 1; std::getline(in, line); ++lineNo) {
        std::istringstream fields(line);
        DictEntry e;
        if (!(fields >> e.word)) continue;  // blank line
        if (e.word.rfind("#", 0) == 0) continue;
        for (std::string phone; fields >> phone;) {
            if (phone[0] == '#') break;  // cmudict-style trailing comment
            e.phones += (e.phones.empty() ? "" : " ") + phone;
        }
        if (e.phones.empty()) {
            return makeError(ErrorCode::CorruptFile, path + ":" + std::to_string(lineNo) + ": \"" +
                                                         e.word + "\" has no phones");
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

struct DecodeResult {
    std::string hyp;
    double pathLogLikelihood = 0.0;  // acoustic, natural log, summed over segments
    int frames = 0;
    int speechFrames = 0;  // frames inside words (not silence or fillers)
    double posterior = 0.0;
};

// CPU time of the calling thread (independent of other load on the machine).
double threadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

struct Transcriber::Decoder {
    std::unique_ptr<cmd_ln_t, CmdLnDeleter> config;
    std::unique_ptr<ps_decoder_t, DecoderDeleter> ps;
    std::vector<int16_t> pcm;  // reused conversion buffer

    Result<DecodeResult> decode(const char* search) {
        if (ps_set_search(ps.get(), search) < 0 || ps_start_utt(ps.get()) < 0) {
            return makeError(ErrorCode::Internal,
                             std::string("pocketsphinx could not start the ") + search + " search");
        }
        if (ps_process_raw(ps.get(), pcm.data(), pcm.size(), FALSE, TRUE) < 0 ||
            ps_end_utt(ps.get()) < 0) {
            return makeError(
                ErrorCode::Internal,
                std::string("pocketsphinx failed decoding with the ") + search + " search");
        }
        DecodeResult r;
        int32 score = 0;
        const char* hyp = ps_get_hyp(ps.get(), &score);
        r.hyp = hyp ? hyp : "";
        r.frames = ps_get_n_frames(ps.get());
        r.posterior = logmath_exp(ps_get_logmath(ps.get()), ps_get_prob(ps.get()));
        logmath_t* lmath = ps_get_logmath(ps.get());
        long ascrSum = 0;
        for (ps_seg_t* seg = ps_seg_iter(ps.get()); seg; seg = ps_seg_next(seg)) {
            int32 ascr = 0, lscr = 0, lback = 0;
            ps_seg_prob(seg, &ascr, &lscr, &lback);
            ascrSum += ascr;
            const char* word = ps_seg_word(seg);
            if (word && word[0] != '<' && word[0] != '[' && std::string(word) != "SIL") {
                int sf = 0, ef = 0;
                ps_seg_frames(seg, &sf, &ef);
                r.speechFrames += std::max(0, ef - sf + 1);
            }
        }
        // Segment scores are senone scores shifted right by SENSCR_SHIFT (10 bits, see
        // pocketsphinx hmm.h) in the decoder's log base; undo both to get nats.
        constexpr double kSenoneScoreScale = 1 << 10;
        r.pathLogLikelihood = logmath_log_to_ln(lmath, 1) * kSenoneScoreScale * double(ascrSum);
        return r;
    }
};

Transcriber::~Transcriber() = default;

Result<std::unique_ptr<Transcriber>> Transcriber::create(const TranscriberConfig& config,
                                                         QuestionSet questions) {
    for (const std::string& path :
         {config.acousticModel + "/mdef", config.dictionary, config.phoneLanguageModel}) {
        if (!exists(path)) {
            return makeError(
                ErrorCode::NotFound,
                path +
                    ": missing (install pocketsphinx-en-us, or point the transcriber at a model)");
        }
    }
    std::vector<std::string> dictionaries{config.dictionary};
    std::vector<DictEntry> extra;
    if (!config.extraDictionary.empty()) {
        auto entries = readDictionary(config.extraDictionary);
        if (!entries) return entries.error();
        extra = std::move(entries.value());
        dictionaries.push_back(config.extraDictionary);
    }
    auto missing = wordsMissingFromDictionaries(questions.vocabulary(), dictionaries);
    if (!missing) return missing.error();
    if (!missing->empty()) {
        std::string list;
        for (const auto& w : missing.value())
            list += (list.empty() ? "" : ", ") + w;
        return makeError(
            ErrorCode::InvalidArgument,
            "question grammar words missing from the pronunciation dictionaries: " + list);
    }

    auto t = std::unique_ptr<Transcriber>(new Transcriber());
    t->m_config = config;
    t->m_decoder = std::make_unique<Decoder>();
    Decoder& d = *t->m_decoder;
    // pocketsphinx logs every step to stderr; keep it quiet (results come back as values).
    err_set_logfp(nullptr);
    std::map<std::string, std::string> options{
        {"-hmm", config.acousticModel},
        {"-dict", config.dictionary},
        {"-samprate", "16000"},
        {"-logfn", "/dev/null"},
        // Context-independent phone loop: ~100x faster than the triphone one and enough as
        // a reference score.
        {"-allphone_ci", "yes"},
        // The lattice pass adds nothing to a grammar search (its posterior is always 1).
        {"-bestpath", "no"},
        // Default beams (1e-48/1e-48/7e-29) prune the true path of some clear utterances so
        // that no grammar sentence ends at the last frame; wider beams about double the
        // decode time.
        {"-beam", "1e-80"},
        {"-pbeam", "1e-80"},
        {"-wbeam", "1e-60"},
        // Gaussians scored per mixture (default 4). 16 lifted exact matches on accented
        // espeak-ng voices from 84.2/91.7/84.2 % to 91.7/95.0/90.8 % (consilium-bench-asr
        // --count 120, seeds default/99/7), out-of-grammar false accepts 1 -> 2 of 36, decode
        // 0.13 -> 0.16 s per second of audio; 32 let more out-of-grammar speech through.
        {"-topn", "16"},
    };
    if (!config.mllrTransform.empty()) {
        if (!std::filesystem::is_regular_file(config.mllrTransform))
            return makeError(ErrorCode::NotFound,
                             config.mllrTransform + ": cannot open the speaker adaptation (MLLR)");
        options["-mllr"] = config.mllrTransform;
    }
    for (const auto& [name, value] : config.decoderOptions)
        options[name] = value;
    std::vector<std::string> argvStrings{"consilium"};
    for (const auto& [name, value] : options) {
        argvStrings.push_back(name);
        argvStrings.push_back(value);
    }
    std::vector<char*> argv;
    for (auto& a : argvStrings)
        argv.push_back(a.data());
    d.config.reset(cmd_ln_parse_r(nullptr, ps_args(), int(argv.size()), argv.data(), TRUE));
    if (!d.config)
        return makeError(ErrorCode::InvalidArgument, "pocketsphinx rejected its options");
    d.ps.reset(ps_init(d.config.get()));
    if (!d.ps) {
        return makeError(ErrorCode::CorruptModel,
                         config.acousticModel +
                             ": pocketsphinx could not load the acoustic model or " +
                             config.dictionary);
    }
    for (size_t i = 0; i < extra.size(); ++i) {
        const std::string word = baseWord(extra[i].word);
        if (char* known = ps_lookup_word(d.ps.get(), word.c_str())) {
            ckd_free(known);
            continue;  // the main dictionary already has it
        }
        if (ps_add_word(d.ps.get(), word.c_str(), extra[i].phones.c_str(), FALSE) < 0) {
            return makeError(ErrorCode::CorruptFile,
                             config.extraDictionary + ": pocketsphinx rejected \"" + extra[i].word +
                                 "\" (" + extra[i].phones + ")");
        }
    }
    t->m_grammar = questions.jsgf();
    if (ps_set_jsgf_string(d.ps.get(), kGrammarSearch, t->m_grammar.c_str()) < 0) {
        return makeError(ErrorCode::CorruptModel, "pocketsphinx rejected the question grammar");
    }
    if (ps_set_allphone_file(d.ps.get(), kPhoneSearch, config.phoneLanguageModel.c_str()) < 0) {
        return makeError(ErrorCode::CorruptModel,
                         config.phoneLanguageModel + ": pocketsphinx could not load it");
    }
    t->m_questions = std::move(questions);
    return t;
}

Result<Transcription> Transcriber::transcribe(const AudioBuffer& audio) {
    if (audio.sampleRate <= 0) {
        return makeError(ErrorCode::InvalidArgument,
                         "transcribe: sample rate " + std::to_string(audio.sampleRate));
    }
    Transcription out;
    auto speech = resampleTo(audio, kSpeechSampleRate);
    if (!speech) return speech.error();
    VadOptions vad;
    vad.padSeconds = 0.25;  // pocketsphinx wants some silence around the words
    const AudioBuffer trimmed = trimSilence(speech.value(), vad);
    out.audioSeconds = trimmed.durationSeconds();
    if (trimmed.samples.size() < size_t(kSpeechSampleRate / 10)) {
        out.reason = "no speech";
        return out;
    }

    // 16-bit PCM for pocketsphinx, framed by faint noise: the decoder needs silence before
    // and after the words (the trimmed clip may end right on a consonant), and zeros or a
    // DC offset there make the grammar search miss its final state, so deterministic
    // zero-mean +-3 LSB white noise. Even so, pocketsphinx 5prealpha's grammar search
    // sometimes ends without reaching the grammar's final state on clear in-grammar speech,
    // and whether it does flips with the exact frame alignment: when no sentence comes
    // back, the utterance is decoded again with other framings before giving up.
    Decoder& d = *m_decoder;
    constexpr double kEdgeSeconds[] = {0.2, 0.1, 0.35};
    const auto start = std::chrono::steady_clock::now();
    const double cpuStart = threadCpuSeconds();
    Result<DecodeResult> grammar = DecodeResult{};
    for (double edgeSeconds : kEdgeSeconds) {
        const size_t edge = size_t(edgeSeconds * kSpeechSampleRate);
        d.pcm.assign(trimmed.samples.size() + 2 * edge, 0);
        uint32_t seed = 12345;
        for (auto& v : d.pcm) {
            seed = seed * 1664525u + 1013904223u;
            v = int16_t(int((seed >> 16) % 7) - 3);  // -3..3, zero mean
        }
        for (size_t i = 0; i < trimmed.samples.size(); ++i) {
            d.pcm[edge + i] =
                int16_t(std::lround(std::clamp(trimmed.samples[i], -1.0f, 1.0f) * 32767.0f));
        }
        grammar = d.decode(kGrammarSearch);
        if (!grammar) return grammar.error();
        if (!grammar->hyp.empty()) break;
    }
    auto phones = d.decode(kPhoneSearch);
    if (!phones) return phones.error();
    out.decodeSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.decodeCpuSeconds = threadCpuSeconds() - cpuStart;

    out.bestGuess = grammar->hyp;
    out.posterior = grammar->posterior;
    if (grammar->hyp.empty()) {
        out.reason = "out of grammar (no question fits)";
        return out;
    }
    // Per frame of speech: silence scores alike in both searches and would dilute the gap.
    const int frames = std::max(1, grammar->speechFrames);
    out.gapPerFrame = (phones->pathLogLikelihood - grammar->pathLogLikelihood) / frames;
    // Map the gap to 0..1: 1 at no gap, 0.5 at the acceptance limit.
    out.confidence =
        std::exp(-std::log(2.0) * std::max(0.0, out.gapPerFrame) / m_config.gapLimit());
    if (out.gapPerFrame > m_config.gapLimit()) {
        out.reason = "out of grammar (best guess is a poor acoustic fit)";
        return out;
    }
    out.understood = true;
    out.text = grammar->hyp;
    if (auto match = m_questions.matchEnglish(out.text)) {
        out.intent = match->intent;
        out.slotValues = match->slotValues;
    }
    return out;
}

Result<std::vector<std::string>> wordsMissingFromDictionaries(
    const std::set<std::string>& words, const std::vector<std::string>& dictionaries) {
    std::unordered_set<std::string> known;
    for (const auto& path : dictionaries) {
        std::ifstream in(path);
        if (!in)
            return makeError(ErrorCode::NotFound, path + ": cannot open pronunciation dictionary");
        std::string line;
        while (std::getline(in, line)) {
            const size_t end = line.find_first_of(" \t");
            if (end == 0 || line.empty()) continue;
            known.insert(baseWord(line.substr(0, end)));
        }
    }
    std::vector<std::string> missing;
    for (const auto& w : words)
        if (!known.count(w)) missing.push_back(w);
    return missing;
}

}  // namespace consilium::audio
