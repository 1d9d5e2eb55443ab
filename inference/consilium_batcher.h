// Continuous (iteration-level) batching for the `consilium` model (Orca, Yu et al. OSDI
// 2022; vLLM, Kwon et al. SOSP 2023): answers join and leave the running batch between decode
// steps. Each step() first advances the encoders of admitted requests by a bounded amount of
// work (about one record chunk: a 32K-token record is encoded over many steps, so it never
// stalls the answers already decoding; encoder outputs come from the engine's
// EncodingCache when the same study, record or audio was encoded before), then runs one
// decoder step for every running answer together (ConsiliumGraph::decodeBatch), their self
// K/V in one preallocated KvBlockPool.
//
// Order: interactive requests (priority 0) before batch work (1); first come, first served
// within a priority. When the pool runs out of blocks the most recently admitted answer of
// the lowest priority is preempted: its blocks are freed and it is recomputed from its
// tokens so far when blocks are free again, so a request is never dropped for memory.
// Greedy decoding: an answer does not depend on what else runs beside it (tests/inference/
// test_serving checks batched against solo).
//
// ConsiliumBatcher is driven by one thread (ConsiliumSession drives it synchronously,
// ConsiliumScheduler from its own thread); the callbacks run on that thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "inference/consilium_engine.h"
#include "inference/consilium_graph.h"

namespace consilium::inference {

struct ConsiliumRequest {
    ConsiliumInputs inputs;
    int priority = 1;             // 0 interactive, 1 batch
    int64_t maxAnswerTokens = 0;  // counting bos; 0 = the batcher's limit
    // Each generated id and its text piece; return false to cancel the request.
    std::function<bool(int32_t id, const std::string& piece)> onToken;
    // Called exactly once: the answer, or Cancelled / InvalidArgument / OutOfMemory.
    std::function<void(Result<ConsiliumAnswer>)> onDone;
    // Set to cancel; takes effect within one step (between encoder layers while encoding).
    std::shared_ptr<const std::atomic<bool>> cancel;
};

struct ConsiliumBatcherOptions {
    CpuBackendOptions cpu;
    ConsiliumLimits limits;
    int64_t maxBatch = 64;       // answers decoding together
    int64_t blockTokens = 16;    // positions per KV block
    int64_t kvBlocks = 0;        // 0 = room for maxBatch answers of the longest length
    int64_t maxStepTokens = 0;   // decoder rows per step; 0 = as many as the graph takes
    bool reuseEncodings = true;  // use (and fill) the engine's EncodingCache
};

class ConsiliumBatcher {
  public:
    // OutOfMemory when the activations or the KV pool do not fit.
    static Result<std::unique_ptr<ConsiliumBatcher>> create(
        std::shared_ptr<const ConsiliumEngine> engine, const ConsiliumBatcherOptions& options);
    ~ConsiliumBatcher();

    // Queues a request; returns its id (1, 2, ...).
    uint64_t add(ConsiliumRequest request);
    // Cancels a waiting or running request at the next step (onDone gets Cancelled); false
    // when no such request is unfinished.
    bool cancel(uint64_t id);
    // One iteration (see the file comment). False when there was nothing to do.
    bool step();
    // Runs step() until no request is waiting or running.
    void drain();
    bool idle() const { return m_waiting.empty() && !m_prefilling && m_running.empty(); }

    struct Stats {
        int64_t waiting = 0, running = 0;
        int64_t steps = 0, preemptions = 0, maxRunning = 0;
        int64_t decodedRows = 0;             // decoder rows run (recomputed ones included)
        double prefillMs = 0, decodeMs = 0;  // time in encoders+fusion, in decoder steps
        int64_t kvBlocks = 0, kvBlocksUsed = 0, kvBlocksPeak = 0, blockTokens = 0;
        size_t kvBytes = 0;
    };
    Stats stats() const;
    std::string deviceName() { return m_graph->backend().name(); }
    const ConsiliumGraph& graph() const { return *m_graph; }

  private:
    struct Active;
    ConsiliumBatcher() = default;
    bool cancelled(const Active& a) const;
    void finish(std::unique_ptr<Active> a, Result<ConsiliumAnswer> r);
    // Encoders and fusion of the admitted request, one unit (the CT, one record chunk, the
    // audio, the question, fusion) per call, within `budget` encoder rows per step.
    void prefill();
    Status prefillUnit(Active& a, int64_t* budget);
    void decodeStep();
    void complete(std::unique_ptr<Active> a);

    std::shared_ptr<const ConsiliumEngine> m_engine;
    ConsiliumBatcherOptions m_options;
    std::unique_ptr<ConsiliumGraph> m_graph;
    std::unique_ptr<KvBlockPool> m_pool;
    std::vector<float> m_ct;  // windowed grid [D, H, W]
    std::deque<std::unique_ptr<Active>> m_waiting;
    std::unique_ptr<Active> m_prefilling;            // admitted, encoders still running
    std::vector<std::unique_ptr<Active>> m_running;  // admission order
    uint64_t m_nextId = 1;
    Stats m_stats;
};

}  // namespace consilium::inference
