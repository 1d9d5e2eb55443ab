// llama.cpp on a GGUF file, measured as llama-bench and `consilium-cli bench-llm` measure:
// pp = P random tokens in one batch from an empty cache (logits of the last only);
// tg = N tokens one at a time from an empty cache, greedy; one warm-up, then R repetitions.
// llama.cpp comes from node-llama-cpp's prebuilt libllama/libggml (its CPU backend picks
// the best variant this CPU supports at run time); the per-token JavaScript overhead in tg
// is included, so tg slightly favours Consilium.
//
//   npm install --prefix bench/llama_cpp        (once; npm registry only)
//   node bench/llama_cpp/bench_llama_cpp.mjs MODEL.gguf [P=512] [N=128] [THREADS=2] [R=3]
//
// Prints one JSON object with pp_tokens_per_s and tg_tokens_per_s, as bench-llm --json.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, P = "512", N = "128", T = "2", R = "3"] = process.argv.slice(2);
if (!modelPath) {
    console.error("usage: bench_llama_cpp.mjs MODEL.gguf [P] [N] [THREADS] [REPS]");
    process.exit(2);
}
const p = Number(P), n = Number(N), threads = Number(T), reps = Number(R);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.warn});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const vocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length ?? 32000;
const context = await model.createContext({
    contextSize: Math.max(p, n) + 16, batchSize: Math.max(p, 1), threads, sequences: 1,
    flashAttention: false,
});
const sequence = context.getSequence();

let seed = 42;
const randomToken = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % vocab;

async function promptProcessing() {
    await sequence.clearHistory();
    const tokens = Array.from({length: p}, randomToken);
    const t0 = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(tokens);
    return p / ((performance.now() - t0) / 1000);
}

async function textGeneration() {
    await sequence.clearHistory();
    let made = 0;
    const t0 = performance.now();
    for await (const token of sequence.evaluate([model.tokens.bos ?? 1], {temperature: 0})) {
        void token;
        if (++made >= n) break;
    }
    return made / ((performance.now() - t0) / 1000);
}

function summary(values) {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const variance =
        values.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, values.length - 1);
    return [mean, Math.sqrt(variance)];
}

const out = {engine: "llama.cpp (node-llama-cpp 3.21.1 prebuilt)", model: modelPath,
             threads, n_prompt: p, n_gen: n, repetitions: reps};
if (p > 0) {
    await promptProcessing();
    const v = [];
    for (let i = 0; i < reps; ++i) v.push(await promptProcessing());
    [out.pp_tokens_per_s, out.pp_tokens_per_s_stddev] = summary(v);
}
if (n > 0) {
    await textGeneration();
    const v = [];
    for (let i = 0; i < reps; ++i) v.push(await textGeneration());
    [out.tg_tokens_per_s, out.tg_tokens_per_s_stddev] = summary(v);
}
console.log(JSON.stringify(out));
await context.dispose();
await model.dispose();
