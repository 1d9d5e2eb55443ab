// Paged KV cache storage (vLLM's PagedAttention layout, Kwon et al. 2023): one pool of
// fixed-size blocks preallocated at creation, handed to sequences block by block, so many
// sequences of unknown final length share one bounded budget without fragmentation. A
// sequence keeps its block table (pool indices in position order); position p of a sequence
// lives in block table[p / blockTokens()], row p % blockTokens().
//
// Block b holds, for every layer, blockTokens() key rows and as many value rows of
// rowFloats() floats each. Not thread-safe: one scheduler thread owns a pool.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/status.h"

namespace consilium::inference {

class KvBlockPool {
  public:
    // OutOfMemory when the pool cannot be allocated; InvalidArgument for a size below 1.
    static Result<std::unique_ptr<KvBlockPool>> create(int64_t blocks, int64_t blockTokens,
                                                       int64_t layers, int64_t rowFloats);

    int64_t blockTokens() const { return m_blockTokens; }
    int64_t rowFloats() const { return m_rowFloats; }
    int64_t totalBlocks() const { return m_blocks; }
    int64_t freeBlocks() const { return int64_t(m_free.size()); }
    int64_t usedBlocks() const { return m_blocks - freeBlocks(); }
    int64_t peakUsedBlocks() const { return m_peak; }
    size_t bytes() const { return m_k.size() * 2 * sizeof(float); }
    // Blocks needed to hold `tokens` positions.
    int64_t blocksFor(int64_t tokens) const { return (tokens + m_blockTokens - 1) / m_blockTokens; }

    // A free block, or -1 when every block is in use.
    int32_t allocate();
    // Returns the blocks of a table to the pool and clears it.
    void release(std::vector<int32_t>* table);
    // Grows `table` to hold `tokens` positions; false (table unchanged) when the pool has
    // too few free blocks.
    bool reserve(std::vector<int32_t>* table, int64_t tokens);

    // [blockTokens][rowFloats] key / value rows of `layer` in `block`.
    float* keys(int32_t block, int64_t layer) { return m_k.data() + offset(block, layer); }
    float* values(int32_t block, int64_t layer) { return m_v.data() + offset(block, layer); }

  private:
    KvBlockPool() = default;
    size_t offset(int32_t block, int64_t layer) const {
        return size_t((int64_t(block) * m_layers + layer) * m_blockTokens * m_rowFloats);
    }

    int64_t m_blocks = 0, m_blockTokens = 0, m_layers = 0, m_rowFloats = 0, m_peak = 0;
    std::vector<float> m_k, m_v;
    std::vector<int32_t> m_free;  // a stack: the most recently freed block is reused first
};

}  // namespace consilium::inference
