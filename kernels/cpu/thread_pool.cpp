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
// About 0.1-0.5 ms of spinning before a worker sleeps: long enough to cover the gaps
// between the matmuls of one token, short enough not to burn an idle core.
constexpr int kSpinIterations = 20000;
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
        m_generation.fetch_add(1, std::memory_order_release);
    }
    m_wake.notify_all();
    for (auto& t : m_workers)
        t.join();
}

void ThreadPool::doTasks() {
    for (;;) {
        const int t = m_next.fetch_add(1, std::memory_order_relaxed);
        if (t >= m_nTasks) return;
        m_fn(m_ctx, t);
    }
}

void ThreadPool::workerLoop() {
    uint64_t seen = 0;
    for (;;) {
        int spins = 0;
        while (m_generation.load(std::memory_order_acquire) == seen && spins < kSpinIterations) {
            CONSILIUM_PAUSE();
            ++spins;
        }
        if (m_generation.load(std::memory_order_acquire) == seen) {
            std::unique_lock<std::mutex> lock(m_mutex);
            m_wake.wait(lock, [&] { return m_generation.load(std::memory_order_acquire) != seen; });
        }
        seen = m_generation.load(std::memory_order_acquire);
        if (m_stop.load(std::memory_order_acquire)) return;
        doTasks();
        m_busyWorkers.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run(int nTasks, void (*fn)(void*, int), void* ctx) {
    if (nTasks <= 0) return;
    if (m_workers.empty() || nTasks == 1) {
        for (int t = 0; t < nTasks; ++t)
            fn(ctx, t);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_fn = fn;
        m_ctx = ctx;
        m_nTasks = nTasks;
        m_next.store(0, std::memory_order_relaxed);
        m_busyWorkers.store(int(m_workers.size()), std::memory_order_relaxed);
        m_generation.fetch_add(1, std::memory_order_release);
    }
    m_wake.notify_all();
    doTasks();
    while (m_busyWorkers.load(std::memory_order_acquire) != 0)
        CONSILIUM_PAUSE();
}

}  // namespace consilium::kernels
