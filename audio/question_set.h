// The questions the app understands, loaded from ONE list file
// (resources/questions/questions.json) that the speech grammar, the typed-question
// matcher and the model's training set (training/) all read.
//
// File format (JSON, UTF-8):
//   { "format": "consilium-questions", "version": 1,
//     "slots": {
//       "<slot>": { "values": [ { "id": "RUL", "en": ["right upper lobe"], "zh": ["右上叶"] } ] },
//       "<slot>": { "integer": { "min": 1, "max": 400 } }      // spoken as English words
//     },
//     "intents": [ { "id": "nodule_in_lobe", "weight": 1.0,          // weight optional
//                    "en": ["is there a nodule in the {lobe}", ...],
//                    "zh": ["{lobe}有结节吗", ...] } ] }
// Template syntax (both languages): "(a|b)" one alternative, "[a]" optional, "{slot}"
// one value of the slot, anything else a word. English words are lowercase ASCII
// (letters, apostrophe, hyphen) separated by spaces — they become JSGF grammar words
// and must be in the pronunciation dictionary. Chinese templates are for typed questions
// only (no spaces needed). Ids: [a-z][a-z0-9_]*.
//
// Thread safety: a QuestionSet is immutable after load; const methods may be called from
// any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernels/status.h"

namespace consilium::audio {

// A parsed template: a tree of words, sequences, alternatives, optionals and slots.
struct TemplateNode {
    enum class Kind { Word, Sequence, Alternative, Optional, Slot };
    Kind kind = Kind::Sequence;
    std::string text;  // the word (Word) or the slot name (Slot)
    std::vector<TemplateNode> children;
};

struct SlotValue {
    std::string id;               // canonical value, e.g. "RUL" or "42"
    std::vector<std::string> en;  // spoken/typed English forms (word sequences)
    std::vector<std::string> zh;  // typed Simplified Chinese forms
};

struct Slot {
    std::string name;
    std::vector<SlotValue> values;  // integer slots are expanded to one value per number
};

struct Intent {
    std::string id;
    double weight = 1.0;              // relative prior in the speech grammar ("weight"; JSGF /w/)
    std::vector<std::string> en, zh;  // templates as written
    std::vector<TemplateNode> enParsed, zhParsed;  // one tree per template
};

// The intent a sentence matched, with the value id of each slot it filled.
struct IntentMatch {
    std::string intent;
    std::map<std::string, std::string> slotValues;  // slot name -> value id
};

class QuestionSet {
  public:
    // Errors: NotFound (no file), CorruptFile (bad JSON, wrong format/version, a template
    // that does not parse, an unknown slot, a bad id or word; the message names the file
    // and the intent).
    static Result<QuestionSet> loadFile(const std::string& path);
    static Result<QuestionSet> loadJson(const std::string& json, const std::string& origin);

    const std::vector<Intent>& intents() const { return m_intents; }
    const std::vector<Slot>& slotDefinitions() const { return m_slots; }
    const Slot* slot(const std::string& name) const;

    // JSGF V1.0 grammar named `grammarName`: one public rule <question> that is the
    // alternative of one rule per intent (<intent id>), slots as rules <slot_<name>>.
    std::string jsgf(const std::string& grammarName = "consilium") const;

    // Every English word the grammar can produce, sorted.
    std::set<std::string> vocabulary() const;

    // The first intent whose English templates produce exactly `sentence` (words
    // separated by single spaces, lowercase), with its slot values.
    std::optional<IntentMatch> matchEnglish(const std::string& sentence) const;

    // A random English sentence of `intent` (uniform over alternatives, optionals taken
    // with probability 1/2, slot values uniform). For test and training data.
    std::string sampleEnglish(const Intent& intent, std::mt19937& rng) const;

  private:
    std::vector<Intent> m_intents;
    std::vector<Slot> m_slots;
};

// English words for 0 <= n <= 999 999 as spoken ("one hundred twenty three"); "" beyond.
std::string numberToWords(int n);

// Lowercases ASCII, turns punctuation other than apostrophes and hyphens into spaces and
// collapses runs of spaces, so typed text can be compared with grammar output.
std::string normalizeEnglish(const std::string& text);

}  // namespace consilium::audio
