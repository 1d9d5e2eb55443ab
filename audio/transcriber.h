// Speech-to-text of the questions in the question list (question_set.h) with CMU
// pocketsphinx (Debian's 5prealpha, the sphinxbase API) and a JSGF grammar generated from
// that list at run time.
//
// Free dictation with pocketsphinx's generic language model turns clear speech into
// garbage; a grammar of the questions the app understands gives exact transcripts. The
// price is that any speech decodes to *some* grammar sentence, so each result is scored
// against an unconstrained phone-loop decode of the same audio: when the grammar path is
// much less likely per frame than the free phone sequence, the speech was not one of the
// questions and the result says "not understood", keeping the grammar sentence only as
// the best guess.
//
// Model: the acoustic model, the dictionary (cmudict-en-us plus the project's extra
// pronunciations) and both searches are loaded once in create(); transcribe() decodes one
// whole utterance.
//
// Thread safety: a Transcriber is used by one thread at a time (it owns one decoder);
// separate Transcribers may run in parallel.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "audio/audio_buffer.h"
#include "audio/question_set.h"
#include "kernels/status.h"

namespace consilium::audio {

// Where Debian's pocketsphinx-en-us puts the US English model (dpkg -L pocketsphinx-en-us).
constexpr const char* kPocketsphinxModelRoot = "/usr/share/pocketsphinx/model/en-us";

struct TranscriberConfig {
    std::string acousticModel = std::string(kPocketsphinxModelRoot) + "/en-us";  // folder
    std::string dictionary = std::string(kPocketsphinxModelRoot) + "/cmudict-en-us.dict";
    std::string phoneLanguageModel = std::string(kPocketsphinxModelRoot) + "/en-us-phone.lm.bin";
    std::string extraDictionary;  // resources/audio/consilium-extra.dict ("" = none)
    // An MLLR transform of the acoustic model's means (pocketsphinx -mllr), e.g.
    // resources/audio/en-us-espeak.mllr made by training/asr/adapt_mllr.sh; "" = none.
    std::string mllrTransform;
    // Accept a grammar result when its acoustic log-likelihood (nats) per frame of speech
    // lies at most this far below the context-independent phone loop's; <= 0 picks the
    // value chosen for the model in use. Chosen on espeak-ng speech of the tuning voices
    // (en-us, en-gb and variants; bench/audio), never on the held-out ones:
    // - unadapted: correct transcripts 0.5-6.5, out-of-grammar sentences forced onto the
    //   grammar 8.8-15.7; limit 7.5, leaning to accepting questions;
    // - with the MLLR transform: correct 5.04 at most, out-of-grammar 7.30 at least (240
    //   and 24 utterances); limit 6.0, about midway.
    double maxLogLikelihoodGapPerFrame = 0.0;
    static constexpr double kGapLimitUnadapted = 7.5;
    static constexpr double kGapLimitAdapted = 6.0;
    double gapLimit() const {
        if (maxLogLikelihoodGapPerFrame > 0) return maxLogLikelihoodGapPerFrame;
        return mllrTransform.empty() ? kGapLimitUnadapted : kGapLimitAdapted;
    }
    // Further pocketsphinx options as name/value pairs ({"-lw", "10"}), applied last; for
    // experiments (bench/audio), normally empty.
    std::vector<std::pair<std::string, std::string>> decoderOptions;
};

struct Transcription {
    bool understood = false;  // text is a question of the list
    std::string text;         // the transcript when understood, else ""
    std::string bestGuess;    // the closest grammar sentence ("" when none)
    double confidence = 0.0;  // 0..1, from the gap to the phone loop (1 = no gap)
    double gapPerFrame =
        0.0;  // nats per 10 ms speech frame the grammar path lies below the phone loop (< 0: above)
    double posterior = 0.0;  // pocketsphinx's lattice posterior of the grammar sentence
    std::string reason;      // why not understood ("no speech", "out of grammar", ...)
    std::string intent;      // matched intent id ("" when not understood)
    std::map<std::string, std::string> slotValues;  // slot name -> value id
    double audioSeconds = 0.0;                      // after silence trimming
    double decodeSeconds = 0.0;                     // wall time of the two decodes
    double decodeCpuSeconds = 0.0;                  // CPU time of those decodes (this thread)
};

class Transcriber {
  public:
    // Loads the model, the dictionaries and the questions' grammar.
    // Errors: NotFound (a model file or dictionary is missing), CorruptModel (pocketsphinx
    // rejects the model or the grammar), CorruptFile (an extra dictionary line does not
    // parse), InvalidArgument (grammar words missing from the dictionaries, listed).
    static Result<std::unique_ptr<Transcriber>> create(const TranscriberConfig& config,
                                                       QuestionSet questions);
    ~Transcriber();
    Transcriber(const Transcriber&) = delete;
    Transcriber& operator=(const Transcriber&) = delete;

    // Decodes one utterance (any rate; resampled to 16 kHz, silence trimmed).
    // Errors: InvalidArgument (sample rate <= 0), Internal (the decoder failed).
    Result<Transcription> transcribe(const AudioBuffer& audio);

    const QuestionSet& questions() const { return m_questions; }
    const std::string& grammar() const { return m_grammar; }  // the JSGF text in use

  private:
    struct Decoder;
    Transcriber() = default;
    std::unique_ptr<Decoder> m_decoder;
    QuestionSet m_questions;
    std::string m_grammar;
    TranscriberConfig m_config;
};

// The words of `words` that none of the dictionaries (pocketsphinx format: "word PHONES",
// alternates "word(2) PHONES") contains.
// Errors: NotFound (a dictionary file is missing).
Result<std::vector<std::string>> wordsMissingFromDictionaries(
    const std::set<std::string>& words, const std::vector<std::string>& dictionaries);

}  // namespace consilium::audio
