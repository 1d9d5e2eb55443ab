#!/usr/bin/env python3
"""consilium-cli bench-llm against llama.cpp on the same GGUF file, runs alternated.

Issue 5: prompt processing (pp) and generation (tg) tokens/s of a 0.5B-parameter llama file
with random Q4_0 weights at 2 threads, "at least llama.cpp's figures on the same file and
machine". Each pair runs Consilium, then llama.cpp (bench/llama_cpp/bench_llama_cpp.mjs),
so drift of a shared machine hits both; the ratios are taken pair by pair and summarised by
their median.

    npm install --prefix bench/llama_cpp
    python3 bench/llm_vs_llama_cpp.py --cli build/bin/consilium-cli --pairs 3 [--out FILE]

Writes the model with `consilium-cli make-test-model` when --model is not given.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        raise SystemExit(f"no JSON from {' '.join(cmd)}:\n{out}")
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", default="build/bin/consilium-cli")
    ap.add_argument("--model", help="GGUF file (default: a 0.5B random Q4_0 llama, written)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3, help="repetitions inside each run")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()

    script = os.path.join(HERE, "llama_cpp", "bench_llama_cpp.mjs")
    if not os.path.isdir(os.path.join(HERE, "llama_cpp", "node_modules", "node-llama-cpp")):
        raise SystemExit("llama.cpp baseline missing: npm install --prefix bench/llama_cpp")
    model = a.model
    tmp = None
    if not model:
        tmp = tempfile.TemporaryDirectory()
        model = os.path.join(tmp.name, "llama05b_q4_0.gguf")
        subprocess.run([a.cli, "make-test-model", "--arch", "llama", "--params", "0.5B",
                        "--type", "q4_0", "--seed", "1", "--out", model], check=True,
                       capture_output=True)
    ours_cmd = [a.cli, "bench-llm", "--model", model, "-p", str(a.p), "-n", str(a.n),
                "-t", str(a.threads), "-r", str(a.reps), "--json"]
    theirs_cmd = ["node", script, model, str(a.p), str(a.n), str(a.threads), str(a.reps)]
    pairs = []
    for i in range(a.pairs):
        ours = run_json(ours_cmd)
        theirs = run_json(theirs_cmd)
        pairs.append({"consilium": ours, "llama_cpp": theirs})
        print(f"pair {i + 1}: pp {ours['pp_tokens_per_s']:.1f} vs {theirs['pp_tokens_per_s']:.1f}"
              f", tg {ours['tg_tokens_per_s']:.1f} vs {theirs['tg_tokens_per_s']:.1f} tokens/s",
              file=sys.stderr)

    def med(key, who):
        return statistics.median(p[who][key] for p in pairs)

    def ratio(key):
        return statistics.median(p["consilium"][key] / p["llama_cpp"][key] for p in pairs)

    report = {
        "bench": "llm_vs_llama_cpp",
        "model": model if a.model else "0.5B random Q4_0 llama (make-test-model --seed 1)",
        "threads": a.threads, "n_prompt": a.p, "n_gen": a.n, "pairs": a.pairs,
        "cpu": pairs[0]["consilium"].get("cpu"),
        "consilium": {"pp_tokens_per_s": med("pp_tokens_per_s", "consilium"),
                      "tg_tokens_per_s": med("tg_tokens_per_s", "consilium")},
        "llama_cpp": {"pp_tokens_per_s": med("pp_tokens_per_s", "llama_cpp"),
                      "tg_tokens_per_s": med("tg_tokens_per_s", "llama_cpp"),
                      "engine": pairs[0]["llama_cpp"]["engine"]},
        "ratio_pp": ratio("pp_tokens_per_s"),
        "ratio_tg": ratio("tg_tokens_per_s"),
        "runs": pairs,
    }
    text = json.dumps(report, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text if not a.out else json.dumps({k: report[k] for k in report if k != "runs"}))


if __name__ == "__main__":
    main()
