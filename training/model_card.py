"""Writes docs/MODEL_CARD.md from the recipe's report.json and the product-path accuracy line
printed by tests/app/test_model_accuracy (issue 8: every metric with how it was measured).

  /usr/bin/python3 -m training.model_card --report out/full/report.json \
      --cpp-accuracy accuracy.json [--dense out/dense/report.json] \
      [--speed speed.json] [--spoken-bench spoken.json] --out docs/MODEL_CARD.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
from typing import Optional


def _pct(v) -> str:
    return "–" if v is None or v != v else f"{100 * v:.1f} %"


def _num(v, unit="") -> str:
    return "–" if v is None or v != v else f"{v:.1f}{unit}"


ROWS = [
    ("Nodules ≥ 6 mm found", "nodules_ge6mm_found", _pct, "≥ 95 %"),
    ("False positives per case", "false_positives_per_case", lambda v: _num(v), "≤ 0.2"),
    ("Median centre error", "median_centre_error_mm", lambda v: _num(v, " mm"), "≤ 5 mm"),
    ("Median diameter error", "median_diameter_error_mm", lambda v: _num(v, " mm"), "≤ 2 mm"),
    ("Nodule type", "type_accuracy", _pct, "≥ 90 %"),
    ("Nodule lobe", "lobe_accuracy", _pct, "≥ 90 %"),
    ("Lung-RADS category", "lung_rads_accuracy", _pct, "≥ 90 %"),
    ("Record facts, English", "record_facts_en", _pct, "≥ 98 %"),
    ("Record facts, Chinese", "record_facts_zh", _pct, "≥ 98 %"),
    ("Spoken = typed answer", "spoken_equals_typed", _pct, "≥ 95 %"),
    ("Attention peak ≤ 10 mm from the nodule", "attention_peak_within_10mm", _pct, "≥ 85 %"),
    ("Largest modality weight is the right one", "largest_modality_weight_correct", _pct, "≥ 90 %"),
]

STAGES = [("f32_before_qat", "F32, before QAT"), ("qat", "QAT (Q4_0 fake-quant)"),
          ("pruned_qat", "QAT, 30 % heads pruned + recovery"),
          ("exported_q4_0", "**shipped Q4_0 file**"), ("exported_f16", "F16 file")]


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def metrics_table(report: dict) -> str:
    stages = [(k, n) for k, n in STAGES if k in report["metrics"]]
    if report.get("finetuned_from_base"):
        # The columns before step 6 come from the base run's report.
        stages = [(k, n + (" (base run)" if k in ("f32_before_qat", "qat", "pruned_qat") else ""))
                  for k, n in stages]
    out = ["| metric | goal | " + " | ".join(n for _, n in stages) + " |",
           "|---|---|" + "---|" * len(stages)]
    for label, key, fmt, goal in ROWS:
        out.append(f"| {label} | {goal} | " + " | ".join(fmt(report["metrics"][k].get(key)) for k, _ in stages) + " |")
    return "\n".join(out)


def answers_table(report: dict) -> str:
    m = report["metrics"]["exported_q4_0"]["answers_exact"]
    kinds = sorted({k.split(".")[0] for k in m})
    out = ["| question kind | English | Chinese |", "|---|---|---|"]
    for k in kinds:
        out.append(f"| {k} | {_pct(m.get(k + '.en'))} | {_pct(m.get(k + '.zh'))} |")
    return "\n".join(out)


def expert_table(report: dict) -> str:
    load = report["metrics"]["exported_q4_0"]["expert_load"]
    n = len(load[0])
    out = ["| decoder layer | " + " | ".join(f"e{i}" for i in range(n)) + " |", "|---|" + "---|" * n]
    for li, row in enumerate(load):
        out.append(f"| {li} | " + " | ".join(f"{100 * v:.1f} %" for v in row) + " |")
    return "\n".join(out)


def _parse_cell(text: str):
    text = text.strip()
    if text in ("–", ""):
        return None
    if text.endswith("%"):
        return float(text[:-1]) / 100
    return float(text.removesuffix("mm").strip())


def fold_prior_card(r: dict, card: str, step: int) -> dict:
    """A fine-tune's report joined to what the card of the file it started from says about
    the chain before it: that card's stage timings (this step's are prefixed "step{N}_"),
    its total time plus this step's, and its base-run metric columns. The training
    checkpoints do not outlive a machine; the card does."""
    timings = {}
    line = re.search(r"^Stage timings: (.*)\.$", card, re.M)
    if not line:
        raise ValueError("prior card: no 'Stage timings:' line")
    for part in line.group(1).split(", "):
        name, value, unit = part.rsplit(" ", 2)
        if unit != "s":
            raise ValueError(f"prior card: stage timing {part!r}")
        timings[name] = float(value)
    minutes = re.search(r"^\| made by \| .* in (?:about )?(\d+) minutes", card, re.M)
    if not minutes:
        raise ValueError("prior card: no '| made by |' row")
    out = dict(r)
    out["timings_s"] = {**timings, **{f"step{step}_{k}": v for k, v in r["timings_s"].items()}}
    out["total_s"] = int(minutes.group(1)) * 60 + r["total_s"]
    table = card.split("\n| metric | goal | ", 1)[1].split("\n\n", 1)[0].split("\n")
    header = [h.strip() for h in table[0].strip(" |").split(" | ")]
    names = {n + " (base run)": k for k, n in STAGES}
    columns = {i: names[h] for i, h in enumerate(header) if h in names}
    keys = {label: key for label, key, _, _ in ROWS}
    metrics = dict(r["metrics"])
    for k in columns.values():
        metrics[k] = {}
    for row in table[2:]:
        cells = [c for c in row.strip(" |").split(" | ")]
        for i, k in columns.items():
            metrics[k][keys[cells[0]]] = _parse_cell(cells[2 + i])
    out["metrics"] = metrics
    out["finetuned_from_base"] = True
    # The pruning happened in the base run; a model file keeps only its head counts.
    heads = re.search(r"(\d+) of (\d+) attention heads pruned", card)
    where = re.search(r"Pruned: (.*)\.$", card, re.M)
    if heads and where:
        out["pruning"] = {"heads_removed": int(heads.group(1)), "heads_before": int(heads.group(2)),
                          "removed": {k: json.loads(v) for k, v in
                                      (part.split(": ", 1) for part in where.group(1).split("; "))}}
    return out


def _total_stride(cfg: dict) -> list:
    st = cfg["ct_conv_strides"]
    return [math.prod(st[a::3]) for a in range(3)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--cpp-accuracy", help="the JSON printed by test_model_accuracy ('accuracy {...}')")
    ap.add_argument("--dense", help="report.json of the same recipe with --experts 2")
    ap.add_argument("--dense-pair", help="report.json of the MoE run with the same recipe as --dense "
                    "(default: --report)")
    ap.add_argument("--dense-section-from", metavar="CARD",
                    help="without --dense: keep the 'MoE against dense' section of this earlier card "
                         "(its reports are not at hand; the section says which recipe it measured)")
    ap.add_argument("--speed", help="JSON with measured query latencies (see --help of bench scripts)")
    ap.add_argument("--spoken-bench", help="the JSON written by bench/spoken_vs_typed.py --out")
    ap.add_argument("--needle-bench", help="the JSON written by bench/needle.py --json (through the product)")
    ap.add_argument("--model", default="resources/models/consilium-demo-q4_0.gguf")
    ap.add_argument("--out", default="docs/MODEL_CARD.md")
    ap.add_argument("--status", default="", help="a paragraph saying where this version stands")
    ap.add_argument("--prior-card", metavar="CARD",
                    help="--report is a fine-tune (--finetune) of the file this card describes: keep the "
                         "card's stage timings, total time and base-run columns")
    ap.add_argument("--step", type=int, default=0, help="with --prior-card: this fine-tune's step number")
    a = ap.parse_args(argv)
    r = json.load(open(a.report, encoding="utf-8"))
    if a.prior_card:
        r = fold_prior_card(r, open(a.prior_card, encoding="utf-8").read(), a.step)
    cpp: Optional[dict] = json.load(open(a.cpp_accuracy, encoding="utf-8")) if a.cpp_accuracy else None
    dense = json.load(open(a.dense, encoding="utf-8")) if a.dense else None
    speed = json.load(open(a.speed, encoding="utf-8")) if a.speed else None
    cfg = r["config"]
    t = r["timings_s"]
    size = os.path.getsize(a.model)
    text = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "model_card.template.md"),
                encoding="utf-8").read()
    fields = {
        "status": a.status,
        "model_file": os.path.basename(a.model), "model_bytes": f"{size / 1e6:.2f} MB",
        "sha256": sha256(a.model), "total_min": f"{r['total_s'] / 60:.0f}",
        "device": r["device"], "threads": r["threads"], "bf16": "bf16 autocast" if r["bf16"] else "fp32",
        "timings": ", ".join(f"{k} {v:.0f} s" for k, v in t.items()),
        "d": cfg["d"], "hd": cfg["hd"], "vocab": cfg["vocab"], "grid": "×".join(map(str, cfg["ct_grid"])),
        "patch": "×".join(map(str, cfg["ct_patch"])), "window": cfg["window"],
        "stem": (f", each cut into {'×'.join(map(str, cfg['ct_stem']))} sub-patches through a shared "
                 f"gelu layer of {cfg['ct_stem_channels']} channels (the CT stem, docs/MODEL.md 5)"
                 if cfg.get("ct_stem") else "")
        + (f", read through {len(cfg['ct_conv_channels'])} overlapping 3×3×3 convolution layers of "
           f"{', '.join(map(str, cfg['ct_conv_channels']))} channels (total stride "
           f"{'×'.join(str(v) for v in _total_stride(cfg))}; docs/MODEL.md 5.1b)"
           if cfg.get("ct_conv_channels") else "")
        + (f"; findings from the dense detection head on the last map ({cfg['det_dense_ff']} hidden "
           f"units, threshold {cfg['det_threshold']:.3g}"
           + ("; reads the map alone, lobe from the patch head" if cfg.get("det_dense_map_only") else "")
           + ("; Lung-RADS from its findings by the v2022 rules" if cfg.get("lung_rads_from_findings") else "")
           + "; docs/MODEL.md 10)" if cfg.get("det_dense_ff") else ""),
        "det_threshold": f"{cfg['det_threshold']:.3g}",
        "ct_only": r.get("budget", {}).get("ct_only", "–"), "facts": r.get("budget", {}).get("facts", "–"),
        "qat": r.get("budget", {}).get("qat", "–"),
        "experts": cfg["n_expert"], "expert_ff": cfg["expert_ff"],
        "heads_before": r["pruning"].get("heads_before", "–"),
        "heads_removed": r["pruning"].get("heads_removed", 0),
        "pruned_where": "; ".join(f"{k}: {v}" for k, v in r["pruning"].get("removed", {}).items()),
        "val_cases": r["metrics"]["exported_q4_0"]["cases"],
        "metrics_table": metrics_table(r), "answers_table": answers_table(r),
        "expert_table": expert_table(r),
        "needle": ", ".join(f"{k} tokens: {_pct(v)}" for k, v in r["metrics"].get("needle_record_facts", {}).items())
        or "not measured",
    }
    if a.needle_bench:
        nb = json.load(open(a.needle_bench, encoding="utf-8"))["per_length"]
        n = max(v["n"] for v in nb.values())
        fields["needle"] = ("through the product (`bench/needle.py`, " + f"{n} records per length): "
                            + ", ".join(f"{k} tokens: {_pct(v['accuracy'])}" for k, v in nb.items()))
    if cpp:
        fields["cpp_table"] = "\n".join(
            ["| metric | value |", "|---|---|"] + [f"| {k} | {v if not isinstance(v, float) else round(v, 3)} |"
                                                 for k, v in cpp.items()])
    else:
        fields["cpp_table"] = "not measured"
    spoken = json.load(open(a.spoken_bench, encoding="utf-8")) if a.spoken_bench else None
    if spoken:
        differ = [f for f in spoken["failures"] if "error" not in f]  # the rest were refused
        misheard = sum(1 for f in differ if f.get("heard") != f["said"])
        fields["spoken_bench"] = (
            f"Spoken against typed with harder speech (`bench/spoken_vs_typed.py`, seed {spoken['seed']}): "
            f"{spoken['questions']} questions of the shared list spoken by the speech bench's 8 held-out "
            f"voices (strong accents, 130–180 words a minute, half with noise), each asked about one of "
            f"{spoken['cases']} fresh cases typed and spoken. Understood {_pct(spoken['understood'])}; "
            f"same structured answer **{_pct(spoken['same_structured_answer'])}** (goal ≥ 95 %); "
            f"{misheard} of the {len(differ)} differences had a transcript other than the "
            "sentence spoken.")
    else:
        fields["spoken_bench"] = ""
    if dense:
        rows = ["| model | " + " | ".join(lbl for lbl, *_ in ROWS) + " |", "|---|" + "---|" * len(ROWS)]
        pair = json.load(open(a.dense_pair, encoding="utf-8")) if a.dense_pair else r
        moe_name = "MoE, 8 experts top-2" + (" (same recipe as the dense run)" if a.dense_pair else " (shipped)")
        for name, rep in ((moe_name, pair), ("dense (2 experts, both always used)", dense)):
            mm = rep["metrics"]["exported_q4_0"]
            rows.append(f"| {name} | " + " | ".join(fmt(mm.get(key)) for _, key, fmt, _ in ROWS) + " |")
        fields["dense_table"] = "\n".join(rows)
        if a.dense_pair:
            fields["dense_table"] = ("Both rows come from the previous version of the recipe (the same data and "
                                     "budget, without the CT-only stage and the modality-weight supervision), "
                                     "trained the same day: the MoE row is the first shipped run, the dense row "
                                     "the same recipe with `--experts 2`. Each is the exported Q4_0 file on "
                                     f"{dense['metrics']['exported_q4_0']['cases']} validation cases.\n\n"
                                     + fields["dense_table"])
    elif a.dense_section_from:
        old_card = open(a.dense_section_from, encoding="utf-8").read()
        body = old_card.split("## MoE against dense\n", 1)[1].split("\n## ", 1)[0].strip()
        fields["dense_table"] = body
    else:
        fields["dense_table"] = "not measured in this version (see Limits)"
    if speed:
        rows = ["| file | whole query | CT + audio + text encoders | fusion | decoder, per generated id |",
                "|---|---|---|---|---|"]
        for key, name in (("shipped", "shipped (pruned, 8 experts)"), ("unpruned", "same shapes, unpruned heads"),
                          ("dense", "same shapes, dense (2 experts)")):
            v = speed[key]
            rows.append(f"| {name} | {v['engine_ms']:.1f} ms | {v['encode_ms']:.1f} ms | {v['fuse_ms']:.1f} ms | "
                        f"{1000 * v['decode_ms_per_id']:.0f} µs |")
        fields["speed"] = (
            "`bench/model_variants.py` (C++ engine, `bench_consilium_query`, "
            f"{speed['threads']} threads, best of {speed['repeat']}, a {speed['record_tokens']}-token record, "
            "random-weight files of the unpruned and dense shapes, all in one run):\n\n" + "\n".join(rows)
            + f"\n\nThe unpruned heads take {speed['pruning_speedup_encode_fuse']:.2f}× the shipped file's time "
            f"for encoding and fusion and {speed['pruning_speedup_decode_per_id']:.2f}× per decoded id; the MoE decoder takes "
            f"{speed['moe_over_dense_decode_per_id']:.2f}× the dense one's time per id. The shipped file "
            f"generated {speed['shipped']['generated_ids']} ids against {speed['unpruned']['generated_ids']} "
            "for the random-weight files, so its per-id figure carries more of the one-off "
            "cross-attention set-up; a whole query is dominated by the CT encoder either way.")
    else:
        fields["speed"] = "not measured"
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(text.format(**fields))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
