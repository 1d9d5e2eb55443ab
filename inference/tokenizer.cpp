#include "inference/tokenizer.h"

#include <algorithm>
#include <queue>

namespace consilium::inference {
namespace {

constexpr int32_t kTypeControl = 3;
constexpr int32_t kTypeByte = 6;
const std::string kSpmSpace = "\xE2\x96\x81";  // U+2581

size_t utf8Len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c >> 5) == 0x6) return 2;
    if ((c >> 4) == 0xE) return 3;
    if ((c >> 3) == 0x1E) return 4;
    return 1;  // invalid lead byte: treat as one byte
}

std::string utf8(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += char(cp);
    } else if (cp < 0x800) {
        s += char(0xC0 | (cp >> 6));
        s += char(0x80 | (cp & 0x3F));
    } else {
        s += char(0xE0 | (cp >> 12));
        s += char(0x80 | ((cp >> 6) & 0x3F));
        s += char(0x80 | (cp & 0x3F));
    }
    return s;
}

Error corrupt(const GgufFile& f, const std::string& what) {
    return makeError(ErrorCode::CorruptModel, f.path() + ": tokenizer: " + what);
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::fromGguf(const GgufFile& f) {
    auto model = f.getString("tokenizer.ggml.model", "");
    if (!model) return model.error();
    std::unique_ptr<Tokenizer> t(new Tokenizer());
    if (model.value() == "llama") {
        t->m_kind = Kind::SentencePiece;
    } else if (model.value() == "gpt2") {
        t->m_kind = Kind::BytePairGpt2;
    } else if (model.value().empty()) {
        return corrupt(f, "no tokenizer.ggml.model");
    } else {
        return makeError(ErrorCode::UnsupportedModel, f.path() + ": tokenizer '" + model.value() +
                                                          "' is not supported (llama, gpt2 are)");
    }
    const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GgufType::Array || tokens->arrayType != GgufType::String ||
        tokens->strings.empty()) {
        return corrupt(f, "tokenizer.ggml.tokens missing or not a string array");
    }
    t->m_tokens = tokens->strings;
    const size_t n = t->m_tokens.size();
    if (const GgufValue* s = f.find("tokenizer.ggml.scores")) {
        if (s->numbers.size() != n) return corrupt(f, "tokenizer.ggml.scores has the wrong length");
        t->m_scores.assign(s->numbers.begin(), s->numbers.end());
    } else {
        t->m_scores.assign(n, 0.0f);
    }
    if (const GgufValue* ty = f.find("tokenizer.ggml.token_type")) {
        if (ty->numbers.size() != n)
            return corrupt(f, "tokenizer.ggml.token_type has the wrong length");
        for (double v : ty->numbers)
            t->m_types.push_back(int32_t(v));
    } else {
        t->m_types.assign(n, 1);
    }
    for (size_t i = 0; i < n; ++i)
        t->m_index.emplace(t->m_tokens[i], int32_t(i));
    auto id = [&](const char* key, int32_t def) -> Result<int32_t> {
        auto v = f.getInt(key, def);
        if (!v) return v.error();
        if (v.value() < -1 || v.value() >= int64_t(n))
            return corrupt(f, std::string(key) + " out of range");
        return int32_t(v.value());
    };
    auto bos = id("tokenizer.ggml.bos_token_id", -1);
    auto eos = id("tokenizer.ggml.eos_token_id", -1);
    auto unk = id("tokenizer.ggml.unknown_token_id", -1);
    auto eot = id("tokenizer.ggml.eot_token_id", -1);
    if (!bos) return bos.error();
    if (!eos) return eos.error();
    if (!unk) return unk.error();
    if (!eot) return eot.error();
    t->m_bos = bos.value();
    t->m_eos = eos.value();
    t->m_unk = unk.value();
    t->m_eot = eot.value();
    const GgufValue* addBos = f.find("tokenizer.ggml.add_bos_token");
    t->m_addBos = addBos ? addBos->u != 0 : t->m_kind == Kind::SentencePiece;
    const GgufValue* prefix = f.find("tokenizer.ggml.add_space_prefix");
    t->m_addSpacePrefix = prefix ? prefix->u != 0 : true;

    if (t->m_kind == Kind::SentencePiece) {
        for (int b = 0; b < 256; ++b) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "<0x%02X>", b);
            t->m_byteTokens[b] = t->find(buf);
        }
    } else {
        // The pre-tokenizer: the expression that splits text before merging (pretokenizer.h).
        auto pre = f.getString("tokenizer.ggml.pre", "");
        if (!pre) return pre.error();
        const auto kind = preTokenizerNamed(pre.value());
        if (!kind) {
            return makeError(
                ErrorCode::UnsupportedModel,
                f.path() + ": pre-tokenizer '" + pre.value() +
                    "' is not supported (gpt2, default, llama-bpe, qwen2, deepseek-v3 are)");
        }
        t->m_pre = *kind;
        const GgufValue* merges = f.find("tokenizer.ggml.merges");
        if (!merges || merges->arrayType != GgufType::String)
            return corrupt(f, "tokenizer.ggml.merges missing");
        for (size_t r = 0; r < merges->strings.size(); ++r)
            t->m_mergeRank.emplace(merges->strings[r], int32_t(r));
        t->m_byteToUnicode = gpt2ByteToUnicode();
        for (int b = 0; b < 256; ++b)
            t->m_unicodeToByte[t->m_byteToUnicode[size_t(b)]] = uint8_t(b);
    }
    return t;
}

int32_t Tokenizer::find(const std::string& text) const {
    auto it = m_index.find(text);
    return it == m_index.end() ? -1 : it->second;
}

bool Tokenizer::isEndOfGeneration(int32_t id) const {
    return id >= 0 && (id == m_eos || id == m_eot);
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool addBos) const {
    std::vector<int32_t> out;
    if (addBos && m_bos >= 0) out.push_back(m_bos);
    if (text.empty()) return out;
    if (m_kind == Kind::SentencePiece) {
        encodeSpm(text, &out);
    } else {
        for (const std::string& w : preTokenize(m_pre, text))
            encodeBpeWord(w, &out);
    }
    return out;
}

// llama.cpp llm_tokenizer_spm: symbol list of UTF-8 characters, merge the best-scoring
// adjacent pair present in the vocabulary until none is left, then re-segment symbols
// that are not tokens through the recorded merges, falling back to byte tokens.
void Tokenizer::encodeSpm(const std::string& raw, std::vector<int32_t>* out) const {
    std::string text;
    if (m_addSpacePrefix) text = kSpmSpace;
    for (char c : raw) {
        if (c == ' ') {
            text += kSpmSpace;
        } else {
            text += c;
        }
    }
    struct Symbol {
        int prev, next;
        size_t start, len;
    };
    std::vector<Symbol> sym;
    for (size_t i = 0; i < text.size();) {
        const size_t len = std::min(utf8Len(static_cast<unsigned char>(text[i])), text.size() - i);
        sym.push_back({int(sym.size()) - 1, int(sym.size()) + 1, i, len});
        i += len;
    }
    sym.back().next = -1;
    struct Bigram {
        int left, right;
        float score;
        size_t len;
        bool operator<(const Bigram& o) const {  // max-heap: higher score, then lower left
            return score < o.score || (score == o.score && left > o.left);
        }
    };
    std::priority_queue<Bigram> queue;
    std::unordered_map<std::string, size_t> revMerge;  // merged text -> length of its left part
    auto tryAdd = [&](int l, int r) {
        if (l < 0 || r < 0) return;
        const std::string s =
            text.substr(sym[size_t(l)].start, sym[size_t(l)].len + sym[size_t(r)].len);
        const int32_t id = find(s);
        if (id < 0) return;
        queue.push({l, r, m_scores[size_t(id)], s.size()});
        revMerge[s] = sym[size_t(l)].len;
    };
    for (size_t i = 1; i < sym.size(); ++i)
        tryAdd(int(i) - 1, int(i));
    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& l = sym[size_t(b.left)];
        Symbol& r = sym[size_t(b.right)];
        if (l.len == 0 || r.len == 0 || l.len + r.len != b.len) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) sym[size_t(r.next)].prev = b.left;
        tryAdd(l.prev, b.left);
        tryAdd(b.left, l.next);
    }
    // Re-segmentation with an explicit stack (symbols by [start, len]).
    std::vector<std::pair<size_t, size_t>> stack;
    for (int i = 0; i != -1; i = sym[size_t(i)].next) {
        stack.push_back({sym[size_t(i)].start, sym[size_t(i)].len});
        while (!stack.empty()) {
            const auto [start, len] = stack.back();
            stack.pop_back();
            const std::string s = text.substr(start, len);
            const int32_t id = find(s);
            if (id >= 0) {
                out->push_back(id);
                continue;
            }
            auto it = revMerge.find(s);
            if (it != revMerge.end()) {
                const size_t leftLen = it->second;
                if (leftLen > 0 && leftLen < len) {
                    stack.push_back({start + leftLen, len - leftLen});
                    stack.push_back({start, leftLen});
                    continue;
                }
            }
            for (size_t k = 0; k < len; ++k) {
                const int32_t bt = m_byteTokens[static_cast<unsigned char>(text[start + k])];
                if (bt >= 0) {
                    out->push_back(bt);
                } else if (m_unk >= 0) {
                    out->push_back(m_unk);
                }
            }
        }
    }
}

// GPT-2 BPE (openai/gpt-2 encoder.py bpe()): merge the lowest-ranked adjacent pair until
// no pair has a rank.
void Tokenizer::encodeBpeWord(const std::string& word, std::vector<int32_t>* out) const {
    std::vector<std::string> parts;
    for (unsigned char c : word)
        parts.push_back(m_byteToUnicode[c]);
    while (parts.size() > 1) {
        int best = -1;
        int32_t bestRank = INT32_MAX;
        for (size_t i = 0; i + 1 < parts.size(); ++i) {
            auto it = m_mergeRank.find(parts[i] + " " + parts[i + 1]);
            if (it != m_mergeRank.end() && it->second < bestRank) {
                bestRank = it->second;
                best = int(i);
            }
        }
        if (best < 0) break;
        parts[size_t(best)] += parts[size_t(best) + 1];
        parts.erase(parts.begin() + best + 1);
    }
    for (const std::string& p : parts) {
        const int32_t id = find(p);
        if (id >= 0) {
            out->push_back(id);
            continue;
        }
        for (size_t i = 0; i < p.size();) {  // per character
            const size_t len = utf8Len(static_cast<unsigned char>(p[i]));
            const int32_t cid = find(p.substr(i, len));
            if (cid >= 0) out->push_back(cid);
            i += len;
        }
    }
}

std::string Tokenizer::piece(int32_t id) const {
    if (id < 0 || id >= size()) return {};
    const int32_t type = m_types[size_t(id)];
    if (type == kTypeControl) return {};
    const std::string& t = m_tokens[size_t(id)];
    if (m_kind == Kind::SentencePiece) {
        if (type == kTypeByte && t.size() == 6 && t.compare(0, 3, "<0x") == 0) {
            return std::string(1, char(std::stoi(t.substr(3, 2), nullptr, 16)));
        }
        std::string s;
        for (size_t i = 0; i < t.size();) {
            if (t.compare(i, kSpmSpace.size(), kSpmSpace) == 0) {
                s += ' ';
                i += kSpmSpace.size();
            } else {
                s += t[i++];
            }
        }
        return s;
    }
    std::string s;
    for (size_t i = 0; i < t.size();) {
        const size_t len = utf8Len(static_cast<unsigned char>(t[i]));
        auto it = m_unicodeToByte.find(t.substr(i, len));
        if (it != m_unicodeToByte.end()) {
            s += char(it->second);
        } else {
            s += t.substr(i, len);
        }
        i += len;
    }
    return s;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string s;
    for (int32_t id : ids)
        s += piece(id);
    if (m_kind == Kind::SentencePiece && m_addSpacePrefix && !s.empty() && s[0] == ' ')
        s.erase(0, 1);
    return s;
}

std::vector<std::string> gpt2ByteToUnicode() {
    std::vector<std::string> table(256);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
        const bool printable =
            (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        table[size_t(b)] = utf8(printable ? uint32_t(b) : uint32_t(256 + extra++));
    }
    return table;
}

}  // namespace consilium::inference
