"""Golden tensors for the C++ parity test of the `consilium` graph (docs/MODEL.md section 15).

Random weights (seed 1234) in the tiny golden configuration, fixed synthetic inputs with all
four modalities present, one forward pass with every named intermediate captured:

  consilium-golden-f32.gguf    all tensors F32 (the 1e-4 reference)
  consilium-golden-q4_0.gguf   "Q" tensors Q4_0, the rest F32
  golden.bin / golden.json     inputs + intermediates for the F32 file
  golden_q4_0.bin / .json      the same, computed with the dequantized Q4_0 weights

With --stem, the same configuration with the CT stem of section 5 (F32 only):

  consilium-golden-stem-f32.gguf, golden_stem.bin / golden_stem.json

With --conv, the same configuration with the CT convolution layers of section 5 and the dense
detection head of section 10 (F32 only):

  consilium-golden-conv-f32.gguf, golden_conv.bin / golden_conv.json

With --conv-map, the same again with a dense head that reads the map alone and Lung-RADS from
the findings (section 10: 14 columns, F32 only):

  consilium-golden-conv-map-f32.gguf, golden_conv_map.bin / golden_conv_map.json

golden*.bin: little-endian float32 / int32 tensors back to back; the JSON index gives for
each name {"dtype", "shape", "offset" (bytes), "count"} plus "inputs", "config", "limits".

Usage: /usr/bin/python3 -m training.dump_golden --out DIR   (run from the repository root)
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

from training import gguf_export as G
from training import model as M
from training import records, tokenizer

SEED = 1234
MEL_FRAMES = 72
GEN_MAX_IDS = 12
QUESTION = "右上叶有结节吗？吸烟史是多少包年？"
LIMITS = {"float": "max|a-b| <= 1e-4 * max(1, max|b|) per tensor (F32 file)",
          "float_q4_0": "max|a-b| <= 1e-4 * max(1, max|b|) with float32 activations; an engine "
                        "that quantizes activations to Q8_0 needs its own looser limit",
          "int": "equal"}


def randomize(model: M.Consilium, gen: torch.Generator) -> None:
    """Random weights everywhere, including norms and biases (so every term is tested)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1 or name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("ffn_gate_inp.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(p.shape[-1]))
            else:
                fan_in = p.shape[-1] if p.dim() == 2 else int(np.prod(p.shape[1:]))
                if name.endswith("_exps.weight"):
                    fan_in = p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=gen) / np.sqrt(fan_in))


def synthetic_ct(cfg: M.Config, rng: np.random.Generator) -> np.ndarray:
    """A windowed grid with a body ellipse, dark lungs and two bright nodules."""
    D, H, W = cfg.ct_grid
    z, y, x = np.meshgrid(np.arange(D), np.arange(H), np.arange(W), indexing="ij")
    hu = np.full((D, H, W), -1000.0)
    body = ((y - H / 2) / (0.45 * H)) ** 2 + ((x - W / 2) / (0.48 * W)) ** 2 < 1
    hu[body] = 40.0
    for cx in (0.3 * W, 0.7 * W):
        lung = ((y - H / 2) / (0.3 * H)) ** 2 + ((x - cx) / (0.16 * W)) ** 2 < 1
        hu[lung] = -850.0
    for (cz, cy, cx, r) in ((0.4 * D, 0.45 * H, 0.3 * W, 2.5), (0.7 * D, 0.55 * H, 0.72 * W, 1.5)):
        hu[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 < r * r] = 30.0
    hu += rng.normal(0, 20, hu.shape)
    lo = cfg.window_center - cfg.window_width / 2
    return np.clip((hu - lo) / cfg.window_width, 0, 1).astype(np.float32)


class Blob:
    def __init__(self) -> None:
        self.parts, self.index, self.offset = [], {}, 0

    def add(self, name: str, t) -> None:
        a = t.numpy() if torch.is_tensor(t) else np.asarray(t)
        if a.dtype.kind in "iub":
            a, dt = a.astype("<i4"), "i32"
        else:
            a, dt = a.astype("<f4"), "f32"
        self.index[name] = {"dtype": dt, "shape": list(a.shape), "offset": self.offset,
                            "count": int(a.size)}
        b = a.tobytes()
        self.parts.append(b)
        self.offset += len(b)

    def write(self, path_bin: str, path_json: str, extra: dict) -> int:
        with open(path_bin, "wb") as f:
            for b in self.parts:
                f.write(b)
        with open(path_json, "w", encoding="utf-8") as f:
            json.dump({"tensors": self.index, **extra}, f, ensure_ascii=False, indent=1)
        return self.offset


def run(model: M.Consilium, inp: dict, cfg: M.Config) -> Blob:
    cap = {}
    batch = {"ct": torch.from_numpy(inp["ct"])[None], "mel": torch.from_numpy(inp["mel"])[None],
             "frames": torch.tensor([inp["mel"].shape[1]]),
             "record": torch.tensor(inp["record_ids"])[None],
             "question": torch.tensor(inp["question_ids"])[None],
             "answer_in": torch.tensor(inp["answer_ids"])[None]}
    with torch.no_grad():
        out = model(batch, cap)
        image_attn = M.rollout(out["aux"]["cross"], out["fusion_attn"]["image"])
        record_attn = M.rollout(out["aux"]["cross"], out["fusion_attn"]["record"])
        gen = model.generate(out["mem"], out["mem_valid"], GEN_MAX_IDS)
    # Integer outputs must not hinge on near-ties the engine could legitimately flip.
    for li, rho in enumerate(out["aux"]["rho"]):
        r = torch.sort(rho[0], dim=-1, descending=True).values
        if float((r[:, :2] - r[:, 1:3]).min()) < 1e-3:
            raise RuntimeError(f"router near-tie in decoder layer {li}; change the seed")
    blob = Blob()
    blob.add("in.ct", inp["ct"])
    blob.add("in.mel", inp["mel"])
    blob.add("in.record_ids", np.array(inp["record_ids"], dtype=np.int32))
    blob.add("in.question_ids", np.array(inp["question_ids"], dtype=np.int32))
    blob.add("in.answer_ids", np.array(inp["answer_ids"], dtype=np.int32))
    for k, v in cap.items():
        blob.add(k, v)
    blob.add("expl.image_attn", image_attn)
    blob.add("expl.record_attn", record_attn)
    blob.add("gen.ids", gen.int())
    return blob


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="write the golden set of docs/MODEL.md section 15")
    ap.add_argument("--out", required=True)
    ap.add_argument("--stem", action="store_true",
                    help="the CT stem variant (section 5): consilium-golden-stem-f32.gguf and "
                         "golden_stem.bin/.json only")
    ap.add_argument("--conv", action="store_true",
                    help="the CT convolution variant (section 5): consilium-golden-conv-f32.gguf "
                         "and golden_conv.bin/.json only")
    ap.add_argument("--conv-map", action="store_true",
                    help="--conv with a map-only dense head and Lung-RADS from findings (section 10): "
                         "consilium-golden-conv-map-f32.gguf and golden_conv_map.bin/.json only")
    a = ap.parse_args(argv)
    a.conv = a.conv or a.conv_map
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    cfg = M.golden_config()
    if a.stem:
        cfg.ct_stem, cfg.ct_stem_channels = (2, 2, 2), 4
        cfg.validate()
    if a.conv:  # two layers, total stride (2, 4, 4): 8 channels x 2x2x2 cells = 64 per patch,
        # and the dense detection head of section 10 (a width that is no multiple of 32)
        cfg.ct_conv_channels, cfg.ct_conv_strides = (4, 8), (2, 2, 2, 1, 2, 2)
        cfg.det_dense_ff = 24
        cfg.det_dense_map_only = cfg.lung_rads_from_findings = a.conv_map
        cfg.validate()

    texts = records.corpus(400, SEED) + [QUESTION, "Is there a nodule in the right upper lobe?"]
    spm_bytes = tokenizer.train_spm(texts, cfg.vocab, byte_fallback=False, normalization="identity")
    sp = tokenizer.load(spm_bytes)

    mel = torch.from_numpy(G.mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels))
    model = M.Consilium(cfg, mel).eval()
    randomize(model, torch.Generator().manual_seed(SEED))

    facts = records.random_facts(rng)
    record_text = records.make_record(facts, "en", rng, n_filler=0)
    inp = {"ct": synthetic_ct(cfg, rng),
           "mel": np.clip(rng.normal(-0.2, 0.5, (cfg.n_mels, MEL_FRAMES)), -1.5, 1.5).astype(np.float32),
           "record_ids": [M.BOS_ID] + sp.encode(record_text),
           "question_ids": [M.BOS_ID] + sp.encode(QUESTION),
           "answer_ids": [M.BOS_ID] + [int(i) for i in rng.integers(4, cfg.vocab, 6)]}
    if len(inp["record_ids"]) <= cfg.window:
        raise RuntimeError("the golden record must be longer than the sliding window")
    extra = {"inputs": {"record_text": record_text, "question_text": QUESTION,
                        "record_ids_are": "[bos] + encode(record_text)",
                        "question_ids_are": "[bos] + encode(question_text)"},
             "config": {k: (list(v) if isinstance(v, tuple) else v)
                        for k, v in vars(cfg).items()},
             "limits": LIMITS, "seed": SEED}

    tag = "-stem" if a.stem else "-conv-map" if a.conv_map else "-conv" if a.conv else ""
    f32 = os.path.join(a.out, f"consilium-golden{tag}-f32.gguf")
    q4 = os.path.join(a.out, "consilium-golden-q4_0.gguf")
    G.export_model(model, f32, "f32", spm_bytes, "consilium-golden", {"consilium.training.seed": SEED})
    sizes = {f32: os.path.getsize(f32)}

    # F32: the reference; also proves the file round-trips to the same model.
    blob = run(model, inp, cfg)
    stem = "golden_stem" if a.stem else "golden_conv_map" if a.conv_map else "golden_conv" if a.conv else "golden"
    sizes[f"{stem}.bin"] = blob.write(os.path.join(a.out, f"{stem}.bin"),
                                      os.path.join(a.out, f"{stem}.json"), extra)
    _, tensors = G.read_gguf(f32)
    sd = {k: torch.from_numpy(v[2].copy()) for k, v in tensors.items()}
    back = M.Consilium(cfg).eval()
    back.load_state_dict(sd)
    blob2 = run(back, inp, cfg)
    if b"".join(blob.parts) != b"".join(blob2.parts):
        raise RuntimeError("the F32 GGUF does not reproduce the model bit for bit")

    if a.stem or a.conv:
        return report(sizes, inp)
    # Q4_0: the same pass with the dequantized weights of the Q4_0 file.
    G.export_model(model, q4, "q4_0", spm_bytes, "consilium-golden", {"consilium.training.seed": SEED})
    sizes[q4] = os.path.getsize(q4)
    _, tq = G.read_gguf(q4)
    q_model = M.Consilium(cfg).eval()
    q_model.load_state_dict({k: torch.from_numpy(v[2].copy()) for k, v in tq.items()})
    blob_q = run(q_model, inp, cfg)
    sizes["golden_q4_0.bin"] = blob_q.write(os.path.join(a.out, "golden_q4_0.bin"),
                                            os.path.join(a.out, "golden_q4_0.json"),
                                            {**extra, "model": os.path.basename(q4)})
    return report(sizes, inp)


def report(sizes: dict, inp: dict) -> int:
    total = 0
    for k, v in sizes.items():
        print(f"{os.path.basename(k)}: {v} bytes")
        total += v
    print(f"total (+ JSON): {total} bytes; record {len(inp['record_ids'])} tokens, "
          f"question {len(inp['question_ids'])}, answer {len(inp['answer_ids'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
