#include "inference/encoding_cache.h"

#include <cstring>

namespace consilium::inference {
namespace {

// splitmix64's finaliser (Steele, Lea, Flood: "Fast splittable pseudorandom number
// generators", 2014): a full-avalanche 64-bit mix.
uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int r) {
    return (x << r) | (x >> (64 - r));
}

}  // namespace

// Two independent 64-bit lanes over 8-byte words (multiply-rotate, as in xxHash64's round),
// each finalised with splitmix64; 128 bits make an accidental collision between two studies
// negligible.
EncodingKey encodingKey(int modality, const void* bytes, size_t count, int64_t shape) {
    const auto* p = static_cast<const unsigned char*>(bytes);
    uint64_t a = 0x9e3779b97f4a7c15ull ^ uint64_t(modality), b = 0xc2b2ae3d27d4eb4full;
    b ^= uint64_t(shape) * 0x165667b19e3779f9ull;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        a = rotl(a + w * 0xc2b2ae3d27d4eb4full, 31) * 0x9e3779b185ebca87ull;
        b = rotl(b ^ (w * 0x9e3779b185ebca87ull), 27) * 0xc2b2ae3d27d4eb4full +
            0x27d4eb2f165667c5ull;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p + i, count - i);
    a = mix(a ^ tail ^ uint64_t(count));
    b = mix(b + tail + (uint64_t(count) << 1));
    return {a, b, modality};
}

EncodingCache::EncodingCache(size_t budgetBytes) : m_budget(budgetBytes) {}

std::shared_ptr<const Encoding> EncodingCache::find(const EncodingKey& key) {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_index.find(key);
    if (it == m_index.end()) {
        ++m_stats.misses;
        return nullptr;
    }
    ++m_stats.hits;
    m_lru.splice(m_lru.begin(), m_lru, it->second);
    return it->second->second;
}

std::shared_ptr<const Encoding> EncodingCache::insert(const EncodingKey& key, Encoding e) {
    auto shared = std::make_shared<const Encoding>(std::move(e));
    std::lock_guard<std::mutex> lock(m_mutex);
    if (auto it = m_index.find(key); it != m_index.end()) {
        m_stats.bytes -= it->second->second->bytes();
        m_lru.erase(it->second);
        m_index.erase(it);
    }
    if (shared->bytes() > m_budget) return shared;
    m_lru.emplace_front(key, shared);
    m_index[key] = m_lru.begin();
    m_stats.bytes += shared->bytes();
    evictLocked();
    return shared;
}

// Oldest first, skipping entries a run still holds (use_count > 1): those stay until a
// later insert finds them released.
void EncodingCache::evictLocked() {
    for (auto it = m_lru.end(); m_stats.bytes > m_budget && it != m_lru.begin();) {
        --it;
        if (it->second.use_count() > 1) continue;
        m_stats.bytes -= it->second->bytes();
        ++m_stats.evictions;
        m_index.erase(it->first);
        it = m_lru.erase(it);
    }
}

void EncodingCache::setBudget(size_t budgetBytes) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_budget = budgetBytes;
    evictLocked();
}

void EncodingCache::clear() {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_lru.clear();
    m_index.clear();
    m_stats.bytes = 0;
}

EncodingCache::Stats EncodingCache::stats() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    Stats s = m_stats;
    s.entries = m_lru.size();
    s.budget = m_budget;
    return s;
}

}  // namespace consilium::inference
