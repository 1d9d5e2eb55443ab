#include "inference/test_model.h"

#include "inference/tokenizer.h"

#include <cmath>
#include <vector>

namespace consilium::inference {
namespace {

// splitmix64 (Steele et al. 2014): fast, deterministic.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform with mean 0 and standard deviation `sd`.
    float uniform(float sd) {
        return (float(next() >> 40) / float(1 << 24) * 2.0f - 1.0f) * 1.7320508f * sd;
    }
};

std::vector<float> randomValues(Rng& rng, int64_t n, float sd, float mean = 0.0f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v)
        x = mean + rng.uniform(sd);
    return v;
}

// Letter strings a, b, ..., z, aa, ab, ... (the i-th in that order).
std::string letters(int64_t i) {
    std::string s;
    int64_t len = 1, count = 26;
    while (i >= count) {
        i -= count;
        ++len;
        count *= 26;
    }
    for (int64_t k = 0; k < len; ++k) {
        s.insert(s.begin(), char('a' + i % 26));
        i /= 26;
    }
    return s;
}

void addLlamaVocab(const RandomLlamaSpec& spec, GgufWriter* w) {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    tokens = {"<unk>", "<s>", "</s>"};
    scores = {0, 0, 0};
    types = {2, 3, 3};  // UNKNOWN, CONTROL (llama_token_type)
    for (int b = 0; b < 256 && int64_t(tokens.size()) < spec.vocab; ++b) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "<0x%02X>", b);
        tokens.push_back(buf);
        scores.push_back(0);
        types.push_back(6);  // BYTE
    }
    const std::string space = "\xE2\x96\x81";  // U+2581, SentencePiece's space
    if (int64_t(tokens.size()) < spec.vocab) {
        tokens.push_back(space);
        scores.push_back(-1.0f);
        types.push_back(1);
    }
    for (int64_t i = 0; int64_t(tokens.size()) < spec.vocab; ++i) {
        const std::string piece = (i % 2 == 0 ? space : "") + letters(i / 2);
        tokens.push_back(piece);
        scores.push_back(-float(i) * 0.01f);
        types.push_back(1);  // NORMAL
    }
    w->setString("tokenizer.ggml.model", "llama");
    w->setStringArray("tokenizer.ggml.tokens", tokens);
    w->setF32Array("tokenizer.ggml.scores", scores);
    w->setI32Array("tokenizer.ggml.token_type", types);
    w->setU32("tokenizer.ggml.bos_token_id", 1);
    w->setU32("tokenizer.ggml.eos_token_id", 2);
    w->setU32("tokenizer.ggml.unknown_token_id", 0);
}

void addGpt2Vocab(const RandomLlamaSpec& spec, GgufWriter* w) {
    const auto b2u = gpt2ByteToUnicode();
    std::vector<std::string> tokens(b2u.begin(), b2u.end());
    std::vector<int32_t> types(256, 1);
    std::vector<std::string> merges;
    const std::string G = b2u[' '];
    // Merges: "Ġ x" for letters, then letter pairs "x y", then "Ġx y" ...
    std::vector<std::string> pieces;
    for (char c = 'a'; c <= 'z'; ++c) {
        merges.push_back(G + " " + std::string(1, c));
        tokens.push_back(G + std::string(1, c));
    }
    for (char a = 'a'; a <= 'z' && int64_t(tokens.size()) + 1 < spec.vocab; ++a) {
        for (char b = 'a'; b <= 'z' && int64_t(tokens.size()) + 1 < spec.vocab; ++b) {
            merges.push_back(G + std::string(1, a) + " " + std::string(1, b));
            tokens.push_back(G + std::string(1, a) + std::string(1, b));
        }
    }
    types.resize(tokens.size(), 1);
    while (int64_t(tokens.size()) + 1 < spec.vocab) {
        tokens.push_back("[PAD" + std::to_string(tokens.size()) + "]");
        types.push_back(4);  // USER_DEFINED: never produced by merges
    }
    tokens.push_back("<|endoftext|>");
    types.push_back(3);
    w->setString("tokenizer.ggml.model", "gpt2");
    w->setString("tokenizer.ggml.pre", "gpt2");
    w->setStringArray("tokenizer.ggml.tokens", tokens);
    w->setI32Array("tokenizer.ggml.token_type", types);
    w->setStringArray("tokenizer.ggml.merges", merges);
    w->setU32("tokenizer.ggml.bos_token_id", uint32_t(tokens.size() - 1));
    w->setU32("tokenizer.ggml.eos_token_id", uint32_t(tokens.size() - 1));
    w->setBool("tokenizer.ggml.add_bos_token", false);
}

}  // namespace

RandomLlamaSpec llamaSpecForParams(double params) {
    RandomLlamaSpec s;
    s.name = "consilium-random-llama";
    if (params >= 0.3e9) {
        s.vocab = 151936;
        s.dim = 896;
        s.layers = 24;
        s.heads = 14;
        s.kvHeads = 2;
        s.ffnDim = 4864;
        s.context = 4096;
        s.tiedOutput = true;
        s.ropeBase = 1000000.0f;
        s.rmsEps = 1e-6f;
        return s;
    }
    // Smaller: scale a 32000-vocab llama shape by width.
    s.vocab = 32000;
    s.heads = 8;
    s.kvHeads = 4;
    s.context = 4096;
    s.layers = 8;
    for (s.dim = 256; s.dim < 4096; s.dim += 128) {
        s.ffnDim = (s.dim * 8 / 3 + 31) / 32 * 32;
        if (double(llamaParameterCount(s)) >= params) break;
    }
    return s;
}

uint64_t llamaParameterCount(const RandomLlamaSpec& s) {
    const int64_t hd = s.dim / s.heads;
    const int64_t attn = s.dim * s.heads * hd * 2 + s.dim * s.kvHeads * hd * 2 + 2 * s.dim;
    const int64_t ffn =
        s.experts > 0 ? s.experts * 3 * s.dim * s.ffnDim + s.dim * s.experts : 3 * s.dim * s.ffnDim;
    return uint64_t(s.layers * (attn + ffn) + s.vocab * s.dim * (s.tiedOutput ? 1 : 2) + s.dim);
}

void buildRandomLlama(const RandomLlamaSpec& s, GgufWriter* w) {
    Rng rng{s.seed};
    const int64_t hd = s.dim / s.heads;
    w->setString("general.architecture", "llama");
    w->setString("general.name", s.name);
    w->setU32("general.alignment", 32);
    w->setU32("llama.context_length", uint32_t(s.context));
    w->setU32("llama.embedding_length", uint32_t(s.dim));
    w->setU32("llama.block_count", uint32_t(s.layers));
    w->setU32("llama.feed_forward_length", uint32_t(s.ffnDim));
    w->setU32("llama.attention.head_count", uint32_t(s.heads));
    w->setU32("llama.attention.head_count_kv", uint32_t(s.kvHeads));
    w->setU32("llama.rope.dimension_count", uint32_t(hd));
    w->setF32("llama.rope.freq_base", s.ropeBase);
    w->setF32("llama.attention.layer_norm_rms_epsilon", s.rmsEps);
    w->setU32("llama.vocab_size", uint32_t(s.vocab));
    if (s.experts > 0) {
        w->setU32("llama.expert_count", uint32_t(s.experts));
        w->setU32("llama.expert_used_count", uint32_t(s.expertsUsed));
    }
    if (s.tokenizer == "gpt2") {
        addGpt2Vocab(s, w);
    } else {
        addLlamaVocab(s, w);
    }
    const float inSd = 1.0f / std::sqrt(float(s.dim));
    const float ffSd = 1.0f / std::sqrt(float(s.ffnDim));
    w->addTensorF32("token_embd.weight", s.type, {s.dim, s.vocab},
                    randomValues(rng, s.dim * s.vocab, 1.0f));
    for (int64_t i = 0; i < s.layers; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        w->addTensorF32(p + "attn_norm.weight", DType::F32, {s.dim},
                        randomValues(rng, s.dim, 0.1f, 1.0f));
        w->addTensorF32(p + "attn_q.weight", s.type, {s.dim, s.heads * hd},
                        randomValues(rng, s.dim * s.heads * hd, inSd));
        w->addTensorF32(p + "attn_k.weight", s.type, {s.dim, s.kvHeads * hd},
                        randomValues(rng, s.dim * s.kvHeads * hd, inSd));
        w->addTensorF32(p + "attn_v.weight", s.type, {s.dim, s.kvHeads * hd},
                        randomValues(rng, s.dim * s.kvHeads * hd, inSd));
        w->addTensorF32(
            p + "attn_output.weight", s.type, {s.heads * hd, s.dim},
            randomValues(rng, s.dim * s.heads * hd, 1.0f / std::sqrt(float(s.heads * hd))));
        w->addTensorF32(p + "ffn_norm.weight", DType::F32, {s.dim},
                        randomValues(rng, s.dim, 0.1f, 1.0f));
        if (s.experts == 0) {
            w->addTensorF32(p + "ffn_gate.weight", s.type, {s.dim, s.ffnDim},
                            randomValues(rng, s.dim * s.ffnDim, inSd));
            w->addTensorF32(p + "ffn_up.weight", s.type, {s.dim, s.ffnDim},
                            randomValues(rng, s.dim * s.ffnDim, inSd));
            w->addTensorF32(p + "ffn_down.weight", s.type, {s.ffnDim, s.dim},
                            randomValues(rng, s.dim * s.ffnDim, ffSd));
        } else {
            const int64_t e = s.experts;
            // The router stays F32 (as llama.cpp's quantiser keeps ffn_gate_inp).
            w->addTensorF32(p + "ffn_gate_inp.weight", DType::F32, {s.dim, e},
                            randomValues(rng, s.dim * e, inSd));
            w->addTensorF32(p + "ffn_gate_exps.weight", s.type, {s.dim, s.ffnDim, e},
                            randomValues(rng, s.dim * s.ffnDim * e, inSd));
            w->addTensorF32(p + "ffn_up_exps.weight", s.type, {s.dim, s.ffnDim, e},
                            randomValues(rng, s.dim * s.ffnDim * e, inSd));
            w->addTensorF32(p + "ffn_down_exps.weight", s.type, {s.ffnDim, s.dim, e},
                            randomValues(rng, s.dim * s.ffnDim * e, ffSd));
        }
    }
    w->addTensorF32("output_norm.weight", DType::F32, {s.dim},
                    randomValues(rng, s.dim, 0.1f, 1.0f));
    if (!s.tiedOutput) {
        w->addTensorF32("output.weight", s.type, {s.dim, s.vocab},
                        randomValues(rng, s.dim * s.vocab, inSd));
    }
}

Status writeRandomLlama(const RandomLlamaSpec& spec, const std::string& path) {
    GgufWriter w;
    buildRandomLlama(spec, &w);
    return w.write(path);
}

}  // namespace consilium::inference
