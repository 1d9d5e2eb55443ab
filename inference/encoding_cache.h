// Prefix reuse for the encoder-decoder `consilium` model: encoder outputs (H_img, H_rec,
// H_voice, H_q of docs/MODEL.md sections 5-7) keyed by a 128-bit hash of exactly what the
// encoder read (the windowed CT grid, the record's token ids, the log-mel frames), so a
// follow-up question on an already-encoded study and record skips their encoders. The
// outputs of the decoder depend on nothing else, so a reused encoding gives the answer a
// cold run gives (tests/inference/test_serving).
//
// Entries are immutable and shared (std::shared_ptr); a byte budget bounds the cache, and
// the least recently used entries that no run holds are evicted first. An entry larger than
// the whole budget is returned but not kept. Thread-safe: every member may be called from
// any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace consilium::inference {

struct EncodingKey {
    uint64_t hi = 0, lo = 0;
    int modality = 0;  // ConsiliumModality
    bool operator==(const EncodingKey& o) const {
        return hi == o.hi && lo == o.lo && modality == o.modality;
    }
};

// Hash of `bytes` (any length) for modality m; `shape` is folded in so equal bytes of a
// different shape never collide.
EncodingKey encodingKey(int modality, const void* bytes, size_t count, int64_t shape = 0);

struct Encoding {
    int modality = 0;
    int64_t rows = 0, dim = 0;
    std::vector<float> data;  // [rows, dim]
    // What else the encoder produced that the answer needs: for the image with the dense
    // detection head, its rows [cells, 13] (docs/MODEL.md section 10).
    std::vector<float> aux;
    size_t bytes() const { return (data.size() + aux.size()) * sizeof(float); }
};

class EncodingCache {
  public:
    explicit EncodingCache(size_t budgetBytes = size_t(256) << 20);

    // The entry for `key` (now the most recently used) or nullptr.
    std::shared_ptr<const Encoding> find(const EncodingKey& key);
    // Stores `e` under `key` (replacing an entry of the same key) and returns it shared.
    std::shared_ptr<const Encoding> insert(const EncodingKey& key, Encoding e);
    void setBudget(size_t budgetBytes);
    void clear();

    struct Stats {
        uint64_t hits = 0, misses = 0, evictions = 0;
        size_t entries = 0, bytes = 0, budget = 0;
    };
    Stats stats() const;

  private:
    struct KeyHash {
        size_t operator()(const EncodingKey& k) const { return size_t(k.lo ^ (k.hi >> 1)); }
    };
    using Lru = std::list<std::pair<EncodingKey, std::shared_ptr<const Encoding>>>;
    void evictLocked();

    mutable std::mutex m_mutex;
    size_t m_budget;
    Lru m_lru;  // most recently used first
    std::unordered_map<EncodingKey, Lru::iterator, KeyHash> m_index;
    Stats m_stats;
};

}  // namespace consilium::inference
