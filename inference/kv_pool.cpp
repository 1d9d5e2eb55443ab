#include "inference/kv_pool.h"

#include <algorithm>
#include <new>
#include <string>

namespace consilium::inference {

Result<std::unique_ptr<KvBlockPool>> KvBlockPool::create(int64_t blocks, int64_t blockTokens,
                                                         int64_t layers, int64_t rowFloats) {
    if (blocks < 1 || blockTokens < 1 || layers < 1 || rowFloats < 1 || blocks > (1 << 30)) {
        return makeError(ErrorCode::InvalidArgument,
                         "KV pool of " + std::to_string(blocks) + " blocks x " +
                             std::to_string(blockTokens) + " tokens is not a valid size");
    }
    std::unique_ptr<KvBlockPool> p(new KvBlockPool());
    p->m_blocks = blocks;
    p->m_blockTokens = blockTokens;
    p->m_layers = layers;
    p->m_rowFloats = rowFloats;
    const int64_t floats = blocks * layers * blockTokens * rowFloats;
    try {
        p->m_k.resize(size_t(floats));
        p->m_v.resize(size_t(floats));
        p->m_free.reserve(size_t(blocks));
    } catch (const std::bad_alloc&) {
        return makeError(ErrorCode::OutOfMemory, "not enough memory for a KV pool of " +
                                                     std::to_string(floats * 8 / (1 << 20)) +
                                                     " MiB");
    }
    for (int64_t b = blocks - 1; b >= 0; --b)
        p->m_free.push_back(int32_t(b));
    return p;
}

int32_t KvBlockPool::allocate() {
    if (m_free.empty()) return -1;
    const int32_t b = m_free.back();
    m_free.pop_back();
    m_peak = std::max(m_peak, usedBlocks());
    return b;
}

void KvBlockPool::release(std::vector<int32_t>* table) {
    for (int32_t b : *table)
        m_free.push_back(b);
    table->clear();
}

bool KvBlockPool::reserve(std::vector<int32_t>* table, int64_t tokens) {
    const int64_t need = blocksFor(tokens) - int64_t(table->size());
    if (need <= 0) return true;
    if (need > freeBlocks()) return false;
    for (int64_t i = 0; i < need; ++i)
        table->push_back(allocate());
    return true;
}

}  // namespace consilium::inference
