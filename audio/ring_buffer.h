// A lock-free single-producer / single-consumer ring buffer of floats, the only channel
// from the real-time audio callback to the rest of the program.
//
// The producer (audio callback) calls write(); the consumer (one other thread) calls read().
// Neither call locks, allocates or blocks; the storage is allocated once in the
// constructor. Capacity is rounded up to a power of two. Indices grow monotonically (64-bit,
// they do not wrap in practice) and are published with release/acquire ordering.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace consilium::audio {

class SpscRingBuffer {
  public:
    explicit SpscRingBuffer(size_t minCapacity) {
        size_t capacity = 1;
        while (capacity < std::max<size_t>(minCapacity, 2))
            capacity <<= 1;
        m_data.assign(capacity, 0.0f);
        m_mask = capacity - 1;
    }
    SpscRingBuffer(const SpscRingBuffer&) = delete;
    SpscRingBuffer& operator=(const SpscRingBuffer&) = delete;

    size_t capacity() const { return m_data.size(); }

    // Producer only. Copies as many of `n` samples as fit; returns how many were written.
    size_t write(const float* samples, size_t n) {
        const uint64_t head = m_head.load(std::memory_order_relaxed);
        const uint64_t tail = m_tail.load(std::memory_order_acquire);
        const size_t space = capacity() - size_t(head - tail);
        const size_t count = std::min(n, space);
        for (size_t i = 0; i < count; ++i)
            m_data[size_t(head + i) & m_mask] = samples[i];
        m_head.store(head + count, std::memory_order_release);
        return count;
    }

    // Consumer only. Moves up to `n` samples into `out`; returns how many.
    size_t read(float* out, size_t n) {
        const uint64_t tail = m_tail.load(std::memory_order_relaxed);
        const uint64_t head = m_head.load(std::memory_order_acquire);
        const size_t count = std::min(n, size_t(head - tail));
        for (size_t i = 0; i < count; ++i)
            out[i] = m_data[size_t(tail + i) & m_mask];
        m_tail.store(tail + count, std::memory_order_release);
        return count;
    }

    // Samples waiting to be read (exact for the consumer, a lower bound for the producer).
    size_t available() const {
        return size_t(m_head.load(std::memory_order_acquire) -
                      m_tail.load(std::memory_order_acquire));
    }

  private:
    std::vector<float> m_data;
    size_t m_mask = 0;
    alignas(64) std::atomic<uint64_t> m_head{0};  // written by the producer
    alignas(64) std::atomic<uint64_t> m_tail{0};  // written by the consumer
};

}  // namespace consilium::audio
