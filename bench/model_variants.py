"""Engine latency of the shipped model against its unpruned and dense variants, measured in
one run on the same inputs (issue 8: "the pruned model ... with its speed gain"; "MoE
against a dense model of the same active parameters (quality and latency)").

Latency depends on shapes only, so the variants are the shipped file's config with random
weights: `unpruned` restores every attention's head count to the unpruned value, `dense`
has 2 experts that are both always used (the same active expert width as top-2 of 8).
Generated lengths differ between weights, so decoding is reported per generated id.

  /usr/bin/python3 bench/model_variants.py --engine build/bench/bench_consilium_query \
      --model resources/models/consilium-demo-q4_0.gguf --heads 4 [--threads 2] [--json out.json]
"""
import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from training import gguf_export as G  # noqa: E402
from training import model as M  # noqa: E402
from training import records  # noqa: E402
from training.dump_golden import randomize  # noqa: E402


def config_of(meta: dict) -> M.Config:
    """The M.Config of a consilium GGUF (docs/MODEL.md section 2 keys)."""
    k = lambda name: meta["consilium." + name]  # noqa: E731
    t = lambda name: tuple(int(x) for x in k(name))  # noqa: E731
    return M.Config(d=int(k("embedding_length")), hd=int(k("head_dim")), vocab=int(k("vocab_size")),
                    ct_grid=t("ct.grid"), ct_patch=t("ct.patch"), ct_heads=t("ct.head_count"),
                    ct_ff=int(k("ct.feed_forward_length")), audio_heads=t("audio.head_count"),
                    audio_ff=int(k("audio.feed_forward_length")), text_heads=t("text.head_count"),
                    text_ff=int(k("text.feed_forward_length")), window=int(k("text.sliding_window")),
                    fusion_heads=t("fusion.head_count"), fusion_ff=int(k("fusion.feed_forward_length")),
                    dec_heads=t("decoder.head_count"), dec_cross_heads=t("decoder.cross_head_count"),
                    n_expert=int(k("decoder.expert_count")),
                    expert_ff=int(k("decoder.expert_feed_forward_length")),
                    ct_stem=t("ct.stem_patch") if "consilium.ct.stem_patch" in meta else (),
                    ct_stem_channels=int(meta.get("consilium.ct.stem_channels", 0)),
                    ct_conv_channels=t("ct.conv_channels") if "consilium.ct.conv_channels" in meta else (),
                    ct_conv_strides=t("ct.conv_strides") if "consilium.ct.conv_strides" in meta else ())


def run_engine(engine, path, inputs, threads, max_ids, repeat):
    r = subprocess.run([engine, "--model", path, "--inputs", inputs, "--threads", str(threads),
                        "--max-ids", str(max_ids), "--repeat", str(repeat)],
                       capture_output=True, text=True, check=True)
    e = json.loads(r.stdout)
    n = max(1, e["generated_ids"])
    return {"engine_ms": e["engine_ms"], "encode_ms": e["encode_ms"], "fuse_ms": e["fuse_ms"],
            "decode_ms_per_id": e["decode_ms"] / n, "generated_ids": e["generated_ids"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--heads", type=int, required=True, help="head count of every attention before pruning")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-ids", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    meta, tensors = G.read_gguf(a.model)
    cfg = config_of(meta)
    spm = bytes(meta["consilium.tokenizer.spm_model"])
    rng = np.random.default_rng(7)
    h = a.heads
    variants = {
        "unpruned": dataclasses.replace(cfg, ct_heads=(h,) * len(cfg.ct_heads), audio_heads=(h,) * len(cfg.audio_heads),
                                        text_heads=(h,) * len(cfg.text_heads), fusion_heads=(h,) * 4,
                                        dec_heads=(h,) * len(cfg.dec_heads), dec_cross_heads=(h,) * len(cfg.dec_cross_heads)),
        "dense": dataclasses.replace(cfg, n_expert=2),
    }
    from training import tokenizer
    sp = tokenizer.load(spm)
    out = {"threads": a.threads, "repeat": a.repeat, "shipped_config": dataclasses.asdict(cfg)}
    with tempfile.TemporaryDirectory() as tmp:
        D, H, W = cfg.ct_grid
        rng.random((D, H, W), dtype=np.float32).tofile(os.path.join(tmp, "ct.f32"))
        np.clip(rng.normal(-0.2, 0.5, (80, 300)), -1.5, 1.5).astype(np.float32).tofile(os.path.join(tmp, "mel.f32"))
        rec = [M.BOS_ID] + sp.encode(" ".join(records.corpus(12, 11)))
        np.array(rec, np.int32).tofile(os.path.join(tmp, "record.i32"))
        np.array([M.BOS_ID] + sp.encode("How big is the largest nodule?"), np.int32).tofile(
            os.path.join(tmp, "question.i32"))
        out["record_tokens"] = len(rec)
        out["shipped"] = run_engine(a.engine, a.model, tmp, a.threads, a.max_ids, a.repeat)
        for name, vcfg in variants.items():
            model = M.Consilium(vcfg, torch.from_numpy(G.mel_filters())).eval()
            randomize(model, torch.Generator().manual_seed(7))
            path = os.path.join(tmp, f"{name}.gguf")
            G.export_model(model, path, "q4_0", spm, f"consilium-{name}")
            out[name] = run_engine(a.engine, path, tmp, a.threads, a.max_ids, a.repeat)
    s, u, d = out["shipped"], out["unpruned"], out["dense"]
    out["pruning_speedup_encode_fuse"] = (u["encode_ms"] + u["fuse_ms"]) / (s["encode_ms"] + s["fuse_ms"])
    out["pruning_speedup_decode_per_id"] = u["decode_ms_per_id"] / s["decode_ms_per_id"]
    out["moe_over_dense_decode_per_id"] = s["decode_ms_per_id"] / d["decode_ms_per_id"]
    text = json.dumps(out, indent=1)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
