"""One consilium query: the C++ engine against PyTorch (training/model.py) on the same
weights and inputs, measured in one run (issue 5, "Performance": goal engine >= 5x faster).

A shipped-size model (docs/MODEL.md section 2, column "shipped") with random weights is
exported as Q4_0 GGUF; PyTorch runs the dequantized weights of that file in float32 (the
recipe's own forward + greedy generate), the engine runs the file itself. Inputs: a random
lung-windowed CT grid, 5 s of random log-mel frames, a ~300-token record, a question.
Both sides generate the same fixed number of answer ids at most (--max-ids).

  /usr/bin/python3 bench/consilium_vs_torch.py --engine build/bench/bench_consilium_query \
      --threads 2 [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from training import gguf_export as G  # noqa: E402
from training import model as M  # noqa: E402
from training import records, tokenizer  # noqa: E402
from training.dump_golden import randomize  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-ids", type=int, default=24)
    ap.add_argument("--json")
    ap.add_argument("--keep", help="write the model and inputs here instead of a temporary folder")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    cfg = M.shipped_config()
    texts = records.corpus(1500, 7)
    spm_bytes = tokenizer.train_spm(texts, cfg.vocab, hard_limit=False)
    sp = tokenizer.load(spm_bytes)
    cfg.vocab = sp.get_piece_size()
    model = M.Consilium(cfg, torch.from_numpy(G.mel_filters())).eval()
    randomize(model, torch.Generator().manual_seed(7))
    with tempfile.TemporaryDirectory() as scratch:
        tmp = a.keep or scratch
        os.makedirs(tmp, exist_ok=True)
        path = os.path.join(tmp, "consilium-bench-q4_0.gguf")
        G.export_model(model, path, "q4_0", spm_bytes, "consilium-bench")
        _, tq = G.read_gguf(path)
        ref = M.Consilium(cfg).eval()
        ref.load_state_dict({k: torch.from_numpy(v[2].copy()) for k, v in tq.items()})
        D, H, W = cfg.ct_grid
        ct = rng.random((D, H, W), dtype=np.float32)
        mel = np.clip(rng.normal(-0.2, 0.5, (80, 500)), -1.5, 1.5).astype(np.float32)
        rec_text = " ".join(records.corpus(12, 11))
        rec = np.array([M.BOS_ID] + sp.encode(rec_text), np.int32)
        q = np.array([M.BOS_ID] + sp.encode("How large is the nodule in the right upper lobe?"),
                     np.int32)
        ct.tofile(os.path.join(tmp, "ct.f32"))
        mel.tofile(os.path.join(tmp, "mel.f32"))
        rec.tofile(os.path.join(tmp, "record.i32"))
        q.tofile(os.path.join(tmp, "question.i32"))
        batch = {"ct": torch.from_numpy(ct)[None], "mel": torch.from_numpy(mel)[None],
                 "frames": torch.tensor([mel.shape[1]]),
                 "record": torch.from_numpy(rec.astype(np.int64))[None],
                 "question": torch.from_numpy(q.astype(np.int64))[None],
                 "answer_in": torch.tensor([[M.BOS_ID]])}
        best = 1e30
        ids = None
        for _ in range(2):
            t0 = time.perf_counter()
            with torch.no_grad():
                out = ref(batch)
                ids = ref.generate(out["mem"], out["mem_valid"], a.max_ids)
            best = min(best, (time.perf_counter() - t0) * 1e3)
        r = subprocess.run([a.engine, "--model", path, "--inputs", tmp, "--threads",
                            str(a.threads), "--max-ids", str(a.max_ids)],
                           capture_output=True, text=True, check=True)
        eng = json.loads(r.stdout)
    result = {"config": "shipped", "weights": "Q4_0 (PyTorch: dequantized float32)",
              "threads": a.threads, "record_tokens": int(len(rec)), "mel_frames": 500,
              "torch_ms": best, "torch_generated_ids": int(len(ids) - 1),
              "torch_ids": [int(i) for i in ids[1:]], **eng,
              "speedup": best / eng["engine_ms"]}
    text = json.dumps(result, indent=1)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
