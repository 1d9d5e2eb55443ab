#include "audio/question_set.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <locale>
#include <sstream>

namespace consilium::audio {
namespace {

using Json = nlohmann::json;

bool isSpecial(char c) {
    return c == '(' || c == ')' || c == '[' || c == ']' || c == '|' || c == '{' || c == '}';
}

bool validId(const std::string& id) {
    if (id.empty() || !std::islower(static_cast<unsigned char>(id[0]))) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) ||
               std::isdigit(static_cast<unsigned char>(c)) || c == '_';
    });
}

bool validEnglishWord(const std::string& w) {
    if (w.empty() || !std::islower(static_cast<unsigned char>(w[0]))) return false;
    return std::all_of(w.begin(), w.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || c == '\'' || c == '-';
    });
}

std::vector<std::string> splitWords(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> words;
    for (std::string w; in >> w;)
        words.push_back(w);
    return words;
}

// Recursive-descent parser of the template syntax described in question_set.h.
class TemplateParser {
  public:
    explicit TemplateParser(const std::string& text) : m_text(text) {}

    // The parsed tree, or an error message.
    std::optional<TemplateNode> parse(std::string* error) {
        TemplateNode root = parseAlternative();
        if (m_error.empty() && m_pos < m_text.size())
            m_error = std::string("unexpected '") + m_text[m_pos] + "'";
        if (!m_error.empty()) {
            *error = m_error + " at offset " + std::to_string(m_pos);
            return std::nullopt;
        }
        return root;
    }

  private:
    void skipSpace() {
        while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos])))
            ++m_pos;
    }

    TemplateNode parseAlternative() {
        TemplateNode alt{TemplateNode::Kind::Alternative, {}, {}};
        alt.children.push_back(parseSequence());
        skipSpace();
        while (m_error.empty() && m_pos < m_text.size() && m_text[m_pos] == '|') {
            ++m_pos;
            alt.children.push_back(parseSequence());
            skipSpace();
        }
        if (alt.children.size() == 1) return std::move(alt.children[0]);
        return alt;
    }

    TemplateNode parseSequence() {
        TemplateNode seq{TemplateNode::Kind::Sequence, {}, {}};
        for (;;) {
            skipSpace();
            if (!m_error.empty() || m_pos >= m_text.size()) break;
            const char c = m_text[m_pos];
            if (c == '|' || c == ')' || c == ']') break;
            if (c == '(' || c == '[') {
                ++m_pos;
                TemplateNode inner = parseAlternative();
                skipSpace();
                const char close = c == '(' ? ')' : ']';
                if (m_pos >= m_text.size() || m_text[m_pos] != close) {
                    if (m_error.empty()) m_error = std::string("missing '") + close + "'";
                    break;
                }
                ++m_pos;
                if (c == '[') {
                    seq.children.push_back({TemplateNode::Kind::Optional, {}, {std::move(inner)}});
                } else {
                    seq.children.push_back(std::move(inner));
                }
            } else if (c == '{') {
                const size_t close = m_text.find('}', m_pos);
                if (close == std::string::npos) {
                    m_error = "missing '}'";
                    break;
                }
                seq.children.push_back(
                    {TemplateNode::Kind::Slot, m_text.substr(m_pos + 1, close - m_pos - 1), {}});
                m_pos = close + 1;
            } else if (c == '}') {
                m_error = "unexpected '}'";
                break;
            } else {
                const size_t start = m_pos;
                while (m_pos < m_text.size() && !isSpecial(m_text[m_pos]) &&
                       !std::isspace(static_cast<unsigned char>(m_text[m_pos])))
                    ++m_pos;
                seq.children.push_back(
                    {TemplateNode::Kind::Word, m_text.substr(start, m_pos - start), {}});
            }
        }
        if (m_error.empty() && seq.children.empty()) m_error = "empty template or alternative";
        if (seq.children.size() == 1) return std::move(seq.children[0]);
        return seq;
    }

    const std::string& m_text;
    size_t m_pos = 0;
    std::string m_error;
};

// Visits every node of a tree.
template <typename F>
void visit(const TemplateNode& node, F&& f) {
    f(node);
    for (const auto& c : node.children)
        visit(c, f);
}

std::string toJsgf(const TemplateNode& node) {
    switch (node.kind) {
        case TemplateNode::Kind::Word:
            return node.text;
        case TemplateNode::Kind::Slot:
            return "<slot_" + node.text + ">";
        case TemplateNode::Kind::Optional:
            return "[ " + toJsgf(node.children[0]) + " ]";
        case TemplateNode::Kind::Sequence: {
            std::string s;
            for (const auto& c : node.children)
                s += (s.empty() ? "" : " ") + toJsgf(c);
            return s;
        }
        case TemplateNode::Kind::Alternative: {
            std::string s = "( ";
            for (size_t i = 0; i < node.children.size(); ++i)
                s += (i ? " | " : "") + toJsgf(node.children[i]);
            return s + " )";
        }
    }
    return {};
}

// All ways `node` can consume tokens from `pos`: the end position and the slots filled.
struct Partial {
    size_t end;
    std::map<std::string, std::string> slotValues;
};

void matchNode(const QuestionSet& set, const TemplateNode& node,
               const std::vector<std::string>& tokens, const Partial& from,
               std::vector<Partial>& out) {
    switch (node.kind) {
        case TemplateNode::Kind::Word:
            if (from.end < tokens.size() && tokens[from.end] == node.text)
                out.push_back({from.end + 1, from.slotValues});
            return;
        case TemplateNode::Kind::Slot: {
            const Slot* slot = set.slot(node.text);
            if (!slot) return;
            for (const auto& value : slot->values) {
                for (const auto& form : value.en) {
                    const auto words = splitWords(form);
                    if (from.end + words.size() > tokens.size()) continue;
                    if (!std::equal(words.begin(), words.end(), tokens.begin() + long(from.end)))
                        continue;
                    Partial p{from.end + words.size(), from.slotValues};
                    p.slotValues[node.text] = value.id;
                    out.push_back(std::move(p));
                }
            }
            return;
        }
        case TemplateNode::Kind::Optional:
            out.push_back(from);
            matchNode(set, node.children[0], tokens, from, out);
            return;
        case TemplateNode::Kind::Alternative:
            for (const auto& c : node.children)
                matchNode(set, c, tokens, from, out);
            return;
        case TemplateNode::Kind::Sequence: {
            std::vector<Partial> current{from};
            for (const auto& c : node.children) {
                std::vector<Partial> next;
                for (const auto& p : current)
                    matchNode(set, c, tokens, p, next);
                current = std::move(next);
                if (current.empty()) return;
            }
            for (auto& p : current)
                out.push_back(std::move(p));
            return;
        }
    }
}

void sampleNode(const QuestionSet& set, const TemplateNode& node, std::mt19937& rng,
                std::vector<std::string>& words) {
    switch (node.kind) {
        case TemplateNode::Kind::Word:
            words.push_back(node.text);
            return;
        case TemplateNode::Kind::Slot: {
            const Slot* slot = set.slot(node.text);
            if (!slot || slot->values.empty()) return;
            const auto& value = slot->values[std::uniform_int_distribution<size_t>(
                0, slot->values.size() - 1)(rng)];
            if (value.en.empty()) return;
            const auto& form =
                value.en[std::uniform_int_distribution<size_t>(0, value.en.size() - 1)(rng)];
            for (auto& w : splitWords(form))
                words.push_back(std::move(w));
            return;
        }
        case TemplateNode::Kind::Optional:
            if (std::uniform_int_distribution<int>(0, 1)(rng))
                sampleNode(set, node.children[0], rng, words);
            return;
        case TemplateNode::Kind::Alternative:
            sampleNode(set,
                       node.children[std::uniform_int_distribution<size_t>(
                           0, node.children.size() - 1)(rng)],
                       rng, words);
            return;
        case TemplateNode::Kind::Sequence:
            for (const auto& c : node.children)
                sampleNode(set, c, rng, words);
            return;
    }
}

std::vector<std::string> stringList(const Json& j, const std::string& what) {
    if (j.is_null()) return {};
    if (!j.is_array()) throw std::runtime_error(what + " must be an array of strings");
    std::vector<std::string> out;
    for (const auto& s : j) {
        if (!s.is_string()) throw std::runtime_error(what + " must be an array of strings");
        out.push_back(s.get<std::string>());
    }
    return out;
}

}  // namespace

std::string numberToWords(int n) {
    static const char* kOnes[] = {"zero",    "one",     "two",       "three",    "four",
                                  "five",    "six",     "seven",     "eight",    "nine",
                                  "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                  "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
    static const char* kTens[] = {"",      "",      "twenty",  "thirty", "forty",
                                  "fifty", "sixty", "seventy", "eighty", "ninety"};
    if (n < 0 || n > 999999) return {};
    if (n < 20) return kOnes[n];
    if (n < 100)
        return std::string(kTens[n / 10]) + (n % 10 ? std::string(" ") + kOnes[n % 10] : "");
    if (n < 1000)
        return std::string(kOnes[n / 100]) + " hundred" +
               (n % 100 ? " " + numberToWords(n % 100) : "");
    return numberToWords(n / 1000) + " thousand" + (n % 1000 ? " " + numberToWords(n % 1000) : "");
}

std::string normalizeEnglish(const std::string& text) {
    std::string out;
    bool space = true;
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '\'' || c == '-' || u >= 0x80) {
            out += char(std::tolower(u));
            space = false;
        } else if (!space) {
            out += ' ';
            space = true;
        }
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

Result<QuestionSet> QuestionSet::loadFile(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return makeError(ErrorCode::NotFound, path + ": no such question list");
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in) return makeError(ErrorCode::IoError, path + ": cannot read");
    return loadJson(buffer.str(), path);
}

Result<QuestionSet> QuestionSet::loadJson(const std::string& text, const std::string& origin) {
    QuestionSet set;
    std::string where;
    try {
        const Json root = Json::parse(text);
        if (root.value("format", "") != "consilium-questions")
            throw std::runtime_error("\"format\" is not \"consilium-questions\"");
        if (root.value("version", 0) != 1)
            throw std::runtime_error("unsupported \"version\" (this build reads 1)");

        for (const auto& [name, spec] : root.at("slots").items()) {
            where = "slot \"" + name + "\": ";
            if (!validId(name)) throw std::runtime_error("slot names are [a-z][a-z0-9_]*");
            Slot slot;
            slot.name = name;
            if (spec.contains("integer")) {
                const int lo = spec["integer"].at("min").get<int>(),
                          hi = spec["integer"].at("max").get<int>();
                if (lo < 0 || hi < lo || hi > 9999)
                    throw std::runtime_error("integer range must lie in [0, 9999]");
                for (int v = lo; v <= hi; ++v)
                    slot.values.push_back(
                        {std::to_string(v), {numberToWords(v)}, {std::to_string(v)}});
            } else {
                for (const auto& v : spec.at("values")) {
                    SlotValue value;
                    value.id = v.at("id").get<std::string>();
                    value.en = stringList(v.value("en", Json()), "\"en\" of value " + value.id);
                    value.zh = stringList(v.value("zh", Json()), "\"zh\" of value " + value.id);
                    if (value.en.empty())
                        throw std::runtime_error("value \"" + value.id + "\" has no English form");
                    for (const auto& form : value.en) {
                        const auto words = splitWords(form);
                        if (words.empty())
                            throw std::runtime_error("value \"" + value.id +
                                                     "\" has an empty form");
                        for (const auto& w : words)
                            if (!validEnglishWord(w))
                                throw std::runtime_error("bad word \"" + w + "\" in value \"" +
                                                         value.id + "\"");
                    }
                    slot.values.push_back(std::move(value));
                }
            }
            if (slot.values.empty()) throw std::runtime_error("no values");
            set.m_slots.push_back(std::move(slot));
        }

        std::set<std::string> ids;
        for (const auto& j : root.at("intents")) {
            Intent intent;
            intent.id = j.at("id").get<std::string>();
            where = "intent \"" + intent.id + "\": ";
            if (!validId(intent.id)) throw std::runtime_error("intent ids are [a-z][a-z0-9_]*");
            if (!ids.insert(intent.id).second) throw std::runtime_error("duplicate id");
            intent.weight = j.value("weight", 1.0);
            if (!(intent.weight > 0.0) || intent.weight > 100.0)
                throw std::runtime_error("\"weight\" must lie in (0, 100]");
            intent.en = stringList(j.value("en", Json()), "\"en\"");
            intent.zh = stringList(j.value("zh", Json()), "\"zh\"");
            if (intent.en.empty()) throw std::runtime_error("no English template");
            for (int lang = 0; lang < 2; ++lang) {
                const auto& templates = lang == 0 ? intent.en : intent.zh;
                auto& parsed = lang == 0 ? intent.enParsed : intent.zhParsed;
                for (const auto& t : templates) {
                    std::string error;
                    auto tree = TemplateParser(t).parse(&error);
                    if (!tree) throw std::runtime_error("template \"" + t + "\": " + error);
                    visit(*tree, [&](const TemplateNode& n) {
                        if (n.kind == TemplateNode::Kind::Slot && !set.slot(n.text))
                            throw std::runtime_error("template \"" + t + "\" uses unknown slot {" +
                                                     n.text + "}");
                        if (lang == 0 && n.kind == TemplateNode::Kind::Word &&
                            !validEnglishWord(n.text))
                            throw std::runtime_error("template \"" + t + "\": bad word \"" +
                                                     n.text +
                                                     "\" (lowercase ASCII letters, ' and - only)");
                    });
                    parsed.push_back(std::move(*tree));
                }
            }
            set.m_intents.push_back(std::move(intent));
        }
        if (set.m_intents.empty()) throw std::runtime_error("no intents");
    } catch (const std::exception& e) {
        return makeError(ErrorCode::CorruptFile, origin + ": " + where + e.what());
    }
    return set;
}

const Slot* QuestionSet::slot(const std::string& name) const {
    for (const auto& s : m_slots)
        if (s.name == name) return &s;
    return nullptr;
}

std::string QuestionSet::jsgf(const std::string& grammarName) const {
    std::string out = "#JSGF V1.0;\n\ngrammar " + grammarName + ";\n\npublic <question> = ";
    for (size_t i = 0; i < m_intents.size(); ++i) {
        out += i ? " | " : "";
        // JSGF weight: the relative prior of the intent (left out when 1).
        if (m_intents[i].weight != 1.0) {
            std::ostringstream w;
            w.imbue(std::locale::classic());
            w << "/" << m_intents[i].weight << "/ ";
            out += w.str();
        }
        out += "<" + m_intents[i].id + ">";
    }
    out += ";\n\n";
    for (const auto& intent : m_intents) {
        out += "<" + intent.id + "> = ";
        for (size_t i = 0; i < intent.enParsed.size(); ++i)
            out += (i ? "\n    | " : "") + toJsgf(intent.enParsed[i]);
        out += ";\n";
    }
    out += "\n";
    for (const auto& slot : m_slots) {
        out += "<slot_" + slot.name + "> = ";
        bool first = true;
        for (const auto& v : slot.values)
            for (const auto& form : v.en) {
                out += (first ? "" : " | ") + form;
                first = false;
            }
        out += ";\n";
    }
    return out;
}

std::set<std::string> QuestionSet::vocabulary() const {
    std::set<std::string> words;
    std::set<std::string> usedSlots;
    for (const auto& intent : m_intents)
        for (const auto& tree : intent.enParsed)
            visit(tree, [&](const TemplateNode& n) {
                if (n.kind == TemplateNode::Kind::Word) words.insert(n.text);
                if (n.kind == TemplateNode::Kind::Slot) usedSlots.insert(n.text);
            });
    for (const auto& slot : m_slots)
        if (usedSlots.count(slot.name))
            for (const auto& v : slot.values)
                for (const auto& form : v.en)
                    for (auto& w : splitWords(form))
                        words.insert(std::move(w));
    return words;
}

std::optional<IntentMatch> QuestionSet::matchEnglish(const std::string& sentence) const {
    const auto tokens = splitWords(sentence);
    if (tokens.empty()) return std::nullopt;
    for (const auto& intent : m_intents) {
        for (const auto& tree : intent.enParsed) {
            std::vector<Partial> ends;
            matchNode(*this, tree, tokens, Partial{0, {}}, ends);
            for (auto& p : ends)
                if (p.end == tokens.size()) return IntentMatch{intent.id, std::move(p.slotValues)};
        }
    }
    return std::nullopt;
}

std::string QuestionSet::sampleEnglish(const Intent& intent, std::mt19937& rng) const {
    if (intent.enParsed.empty()) return {};
    std::vector<std::string> words;
    const auto& tree =
        intent.enParsed[std::uniform_int_distribution<size_t>(0, intent.enParsed.size() - 1)(rng)];
    sampleNode(*this, tree, rng, words);
    std::string out;
    for (const auto& w : words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

}  // namespace consilium::audio
