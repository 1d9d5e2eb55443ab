#include "kernels/cpu/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CONSILIUM_PAUSE() _mm_pause()
#else
#define CONSILIUM_PAUSE() std::this_thread::yield()
#endif

namespace consilium::kernels {

namespace {
// A worker spins briefly, then yields its core (other processes may share the machine),
// then sleeps on the condition variable: the gaps between the matmuls of one token are
// covered without burning an idle core or starving a busy one.
constexpr int kSpinIterations = 2000;
constexpr int kYieldIterations = 200;

// Waits until pred() holds: a short spin, then yielding.
template <typename P>
void spinThenYield(P&& pred) {
    for (int i = 0; i < kSpinIterations; ++i) {
        if (pred()) return;
        CONSILIUM_PAUSE();
    }
    while (!pred())
        std::this_thread::yield();
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
    const int workers = std::max(1, threads) - 1;
    m_workers.reserve(size_t(workers));
    for (int i = 0; i < workers; ++i)
        m_workers.emplace_back([this] { workerLoop(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop.store(true, std::memory_order_release);
        m_ticket.fetch_add(uint64_t(1) << 32, std::memory_order_release);
    }
    m_wake.notify_all();
    for (auto& t : m_workers)
        t.join();
}

void ThreadPool::doTasks(uint32_t gen) {
    uint64_t t = m_ticket.load(std::memory_order_acquire);
    for (;;) {
        const uint32_t g = uint32_t(t >> 32);
        const int next = int((t >> 16) & 0xFFFF), count = int(t & 0xFFFF);
        if (g != gen || next >= count) return;
        if (!m_ticket.compare_exchange_weak(t, t + (uint64_t(1) << 16), std::memory_order_acq_rel))
            continue;
        // The claimed task keeps this generation current (the caller waits for it), so
        // m_fn/m_ctx are this generation's.
        m_fn(m_ctx, next);
        m_done.fetch_add(1, std::memory_order_acq_rel);
        t = m_ticket.load(std::memory_order_acquire);
    }
}

void ThreadPool::workerLoop() {
    uint32_t seen = 0;
    auto current = [&] { return uint32_t(m_ticket.load(std::memory_order_acquire) >> 32); };
    for (;;) {
        for (int i = 0; i < kSpinIterations && current() == seen; ++i)
            CONSILIUM_PAUSE();
        for (int y = 0; y < kYieldIterations && current() == seen; ++y)
            std::this_thread::yield();
        if (current() == seen) {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_wake.wait(lock, [&] { return current() != seen; });
        }
        seen = current();
        if (m_stop.load(std::memory_order_acquire)) return;
        doTasks(seen);
    }
}

void ThreadPool::run(int nTasks, void (*fn)(void*, int), void* ctx) {
    if (nTasks <= 0) return;
    if (m_workers.empty() || nTasks == 1) {
        for (int t = 0; t < nTasks; ++t)
            fn(ctx, t);
        return;
    }
    // More tasks than one word can count run as several rounds.
    for (int base = 0; base < nTasks; base += kMaxTasks) {
        const int count = std::min(kMaxTasks, nTasks - base);
        struct Offset {
            void (*fn)(void*, int);
            void* ctx;
            int base;
        } off{fn, ctx, base};
        uint32_t gen;
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            m_fn = [](void* c, int t) {
                auto* o = static_cast<Offset*>(c);
                o->fn(o->ctx, o->base + t);
            };
            m_ctx = &off;
            m_done.store(0, std::memory_order_relaxed);
            gen = uint32_t(m_ticket.load(std::memory_order_relaxed) >> 32) + 1;
            m_ticket.store((uint64_t(gen) << 32) | uint64_t(count), std::memory_order_release);
        }
        m_wake.notify_all();
        doTasks(gen);
        spinThenYield([&] { return m_done.load(std::memory_order_acquire) == count; });
    }
}

}  // namespace consilium::kernels
