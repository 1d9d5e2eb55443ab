// A ConsiliumBatcher on its own thread: the one engine loop that serves the GUI (one study,
// follow-up questions, priority 0) and batch work (consilium-cli batch, priority 1) at the
// same time. submit() and cancel() may be called from any thread; each request's onToken and
// onDone run on the scheduler's thread (post them to the GUI thread as needed).
//
// Destroying the scheduler cancels whatever is queued or running (each gets onDone with
// Cancelled) and joins the thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "inference/consilium_batcher.h"

namespace consilium::inference {

class ConsiliumScheduler {
  public:
    static Result<std::unique_ptr<ConsiliumScheduler>> create(
        std::shared_ptr<const ConsiliumEngine> engine, const ConsiliumBatcherOptions& options);
    ~ConsiliumScheduler();
    ConsiliumScheduler(const ConsiliumScheduler&) = delete;
    ConsiliumScheduler& operator=(const ConsiliumScheduler&) = delete;

    // Queues a request and returns its handle (1, 2, ...). The request's own `cancel` flag,
    // if any, keeps working besides cancel(handle).
    uint64_t submit(ConsiliumRequest request);
    // Cancels a queued or running request within one step; nothing for a finished one.
    void cancel(uint64_t handle);
    // Blocks until nothing is queued or running.
    void waitIdle();
    // As of the last step.
    ConsiliumBatcher::Stats stats() const;
    std::string deviceName() const { return m_device; }

  private:
    ConsiliumScheduler() = default;
    void run();

    std::unique_ptr<ConsiliumBatcher> m_batcher;  // touched by m_thread only
    std::string m_device;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake, m_idle;
    std::deque<std::pair<uint64_t, ConsiliumRequest>> m_incoming;
    std::set<uint64_t> m_cancels;
    uint64_t m_next = 1;
    bool m_stop = false, m_busy = false;
    ConsiliumBatcher::Stats m_stats;
    std::thread m_thread;
};

}  // namespace consilium::inference
