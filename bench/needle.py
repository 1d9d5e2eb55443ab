"""Needle in a haystack through the product (issue 6): a record fact (age, pack-years, prior
cancer) placed at a random depth of records from 1K to 32K tokens, asked about by
`consilium-cli batch` with the demo study, scored per length against the short record.

Records come from the training recipe's generator (training/records.py: the same fact
phrasings and filler notes, English), with facts drawn from a seed the recipe never trains
on; token counts use the model file's own SentencePiece model. Each answer must equal the
recipe's reference answer exactly (training/questions.py).

  /usr/bin/python3 bench/needle.py --cli build/bin/consilium-cli \
      --model resources/models/consilium-demo-q4_0.gguf \
      --study build/resources/demo-study/case_000/dicom [--lengths 256,1024,4096,16384,32768] \
      [--per-length 12] [--json out.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from training import data as D  # noqa: E402
from training import gguf_export as G  # noqa: E402
from training import questions as Q  # noqa: E402
from training import records, tokenizer  # noqa: E402

KINDS = ("age", "pack_years", "prior_cancer")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--study", required=True)
    ap.add_argument("--lengths", default="256,1024,4096,16384,32768")
    ap.add_argument("--per-length", type=int, default=12)
    ap.add_argument("--seed", type=int, default=4_000_000)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--json")
    a = ap.parse_args()
    kv, _ = G.read_gguf(a.model)
    sp = tokenizer.load(bytes(kv["consilium.tokenizer.spm_model"]))
    rng = np.random.default_rng(a.seed)
    per_filler = float(np.mean([len(sp.encode(records.filler("en", rng))) for _ in range(200)]))
    lengths = [int(x) for x in a.lengths.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        jobs, truth = [], {}
        for length in lengths:
            for i in range(a.per_length):
                facts = records.random_facts(rng)
                kind = KINDS[i % len(KINDS)]
                n_filler = max(0, int((length - 60) / per_filler))
                text = records.make_record(facts, "en", rng, n_filler=n_filler, depth=float(rng.uniform()))
                path = os.path.join(tmp, f"r{length}_{i}.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
                case = D.Case(ct=None, nodules=[], lung_rads="1", facts=facts, sp_yx=1.0)
                jid = f"{length}-{i}"
                truth[jid] = (length, kind, Q.answer(case, kind, "en"), len(sp.encode(text)) + 1)
                jobs.append({"id": jid, "study": a.study, "record": path,
                             "question": Q.QUESTIONS[kind][1][0]})
        with open(os.path.join(tmp, "jobs.jsonl"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(j) + "\n" for j in jobs)
        out = os.path.join(tmp, "out.jsonl")
        t0 = time.time()
        r = subprocess.run([a.cli, "batch", "--jobs", os.path.join(tmp, "jobs.jsonl"), "--out", out,
                            "--model", a.model, "--max-batch", str(a.max_batch)],
                           capture_output=True, text=True)
        wall = time.time() - t0
        if r.returncode != 0:
            print(r.stderr, file=sys.stderr)
            return 1
        answers = [json.loads(line) for line in open(out, encoding="utf-8")]
    res = {}
    for ans in answers:
        length, kind, ref, ntok = truth[ans["id"]]
        e = res.setdefault(str(length), {"n": 0, "correct": 0, "tokens": [], "by_kind": {}})
        ok = ans.get("answer") == ref
        e["n"] += 1
        e["correct"] += ok
        e["tokens"].append(ntok)
        k = e["by_kind"].setdefault(kind, [0, 0])
        k[0] += ok
        k[1] += 1
    report = {"model": a.model, "wall_s": round(wall, 1), "per_length": {}}
    for length in map(str, lengths):
        e = res.get(length, {"n": 0, "correct": 0, "tokens": [0], "by_kind": {}})
        report["per_length"][length] = {
            "accuracy": e["correct"] / max(1, e["n"]), "n": e["n"],
            "mean_tokens": int(np.mean(e["tokens"])),
            "by_kind": {k: f"{v[0]}/{v[1]}" for k, v in e["by_kind"].items()}}
    print(json.dumps(report, indent=1))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
