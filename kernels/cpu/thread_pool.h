// A small persistent thread pool for the CPU kernels: workers are created once and wait
// for work (spinning briefly, then sleeping), so a matmul does not spawn threads.
//
// Thread safety: run()/parallelFor() are called from one thread at a time (the owner of
// the pool, e.g. one inference session); the calling thread takes part in the work.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace consilium::kernels {

class ThreadPool {
  public:
    // `threads` is the total number of threads that work, the caller included (>= 1).
    explicit ThreadPool(int threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int threads() const { return int(m_workers.size()) + 1; }

    // Calls fn(ctx, task) once for every task in [0, nTasks); returns when all are done.
    void run(int nTasks, void (*fn)(void* ctx, int task), void* ctx);

    // Same, with any callable f(int task).
    template <typename F>
    void parallelFor(int nTasks, F&& f) {
        using Fn = std::remove_reference_t<F>;
        run(
            nTasks, [](void* c, int t) { (*static_cast<Fn*>(c))(t); },
            const_cast<void*>(static_cast<const void*>(&f)));
    }

  private:
    void workerLoop();
    // Claims and runs tasks of generation `gen` until none is left.
    void doTasks(uint32_t gen);

    // One word holds the generation (high 32 bits), the next unclaimed task (bits 16..31)
    // and the task count (bits 0..15), so a thread that wakes late can never claim a task
    // of a newer run with a stale count. The caller waits for m_done == task count, not for
    // every worker: workers the OS has not scheduled never delay a run.
    static constexpr int kMaxTasks = 0xFFFF;
    std::vector<std::thread> m_workers;
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::atomic<uint64_t> m_ticket{0};
    std::atomic<int> m_done{0};
    void (*m_fn)(void*, int) = nullptr;
    void* m_ctx = nullptr;
    std::atomic<bool> m_stop{false};
};

// Runs on the pool when one is given, else inline on the calling thread.
template <typename F>
void parallelFor(ThreadPool* pool, int nTasks, F&& f) {
    if (pool && pool->threads() > 1 && nTasks > 1) {
        pool->parallelFor(nTasks, f);
    } else {
        for (int t = 0; t < nTasks; ++t)
            f(t);
    }
}

}  // namespace consilium::kernels
