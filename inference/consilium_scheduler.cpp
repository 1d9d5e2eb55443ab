#include "inference/consilium_scheduler.h"

namespace consilium::inference {

Result<std::unique_ptr<ConsiliumScheduler>> ConsiliumScheduler::create(
    std::shared_ptr<const ConsiliumEngine> engine, const ConsiliumBatcherOptions& options) {
    auto b = ConsiliumBatcher::create(std::move(engine), options);
    if (!b) return b.error();
    std::unique_ptr<ConsiliumScheduler> s(new ConsiliumScheduler());
    s->m_batcher = std::move(b.value());
    s->m_device = s->m_batcher->deviceName();
    s->m_stats = s->m_batcher->stats();
    s->m_thread = std::thread([p = s.get()] { p->run(); });
    return s;
}

ConsiliumScheduler::~ConsiliumScheduler() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

uint64_t ConsiliumScheduler::submit(ConsiliumRequest request) {
    std::lock_guard<std::mutex> lock(m_mutex);
    const uint64_t handle = m_next++;
    m_incoming.emplace_back(handle, std::move(request));
    m_busy = true;
    m_wake.notify_one();
    return handle;
}

void ConsiliumScheduler::cancel(uint64_t handle) {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_cancels.insert(handle);
    m_wake.notify_one();
}

void ConsiliumScheduler::waitIdle() {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_idle.wait(lock, [this] { return !m_busy; });
}

ConsiliumBatcher::Stats ConsiliumScheduler::stats() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_stats;
}

// Takes what was submitted or cancelled since the last step, then steps; sleeps while idle.
void ConsiliumScheduler::run() {
    std::map<uint64_t, uint64_t> ids;  // handle -> batcher id, unfinished requests
    for (;;) {
        std::deque<std::pair<uint64_t, ConsiliumRequest>> incoming;
        std::set<uint64_t> cancels;
        bool stop = false;
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            if (m_batcher->idle() && m_incoming.empty()) {
                m_busy = false;
                m_idle.notify_all();
                m_wake.wait(lock, [this] { return m_stop || !m_incoming.empty(); });
            }
            incoming.swap(m_incoming);
            cancels.swap(m_cancels);
            stop = m_stop;
        }
        for (auto& [handle, request] : incoming) {
            auto done = std::move(request.onDone);
            request.onDone = [&ids, handle, done](Result<ConsiliumAnswer> r) {
                ids.erase(handle);
                if (done) done(std::move(r));
            };
            ids[handle] = m_batcher->add(std::move(request));
        }
        if (stop) {
            for (const auto& [handle, id] : ids)
                m_batcher->cancel(id);
            m_batcher->drain();
            std::lock_guard<std::mutex> lock(m_mutex);
            m_busy = false;
            m_idle.notify_all();
            return;
        }
        for (uint64_t handle : cancels)
            if (auto it = ids.find(handle); it != ids.end()) m_batcher->cancel(it->second);
        m_batcher->step();
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stats = m_batcher->stats();
    }
}

}  // namespace consilium::inference
