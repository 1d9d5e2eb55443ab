"""The training recipe of the shipped `consilium` model (issue 8).

Stages (each resumable from the checkpoint of the previous one):
  1. unimodal    CT encoder + detection/Lung-RADS heads; text encoder as a causal LM on
                 records; audio encoder on question-kind classification (a probe that is
                 not exported)
  2. align       contrastive (InfoNCE) alignment: spoken <-> typed question, CT <-> findings
                 text, plus the stage-1 losses at lower weight
  3. trimodal    the whole model on (scan, record, question) -> answer; Gumbel top-2
                 routing with temperature annealed 2 -> 1 and no noise in the last 10 %;
                 Switch load-balancing loss; detection loss kept
  4. qat         Q4_0 fake-quant (straight-through) on every "Q" tensor, no routing noise
  5. prune       30 % of all attention heads removed by Taylor importance (Michel et al.
                 2019: |sum over a head's output-projection columns of w * dL/dw|,
                 normalised per module), then a QAT recovery fine-tune
  then evaluation (docs/MODEL_CARD.md metrics) and export (Q4_0 shipped, F16 reference).

  /usr/bin/python3 -m training.train --quick --out out/quick        # <= 5 min smoke test
  /usr/bin/python3 -m training.train --synth DIR --out out/full     # the full recipe

`--quick` uses training.model.quick_config() and toy phantoms drawn on the grid; the full
recipe reads `consilium-cli synth` cases (training/data.py).
"""

from __future__ import annotations

import os

# Before torch loads libgomp: idle OpenMP threads sleep instead of spinning. On a shared
# 2-core machine spinning threads made a training step 7x slower (measured, see README).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import json
import math
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training import data as D
from training import gguf_export as G
from training import model as M
from training import questions as Qs
from training import records, speech, tokenizer

KINDS = list(Qs.QUESTIONS)
EVAL_MAX_IDS = 48  # longest reference answer is ~35 pieces


# ---------------------------------------------------------------------------------------
# Samples and batches


@dataclasses.dataclass
class Budget:
    """Steps per stage and data sizes; --quick and the full recipe differ only here."""
    cases: int
    val_cases: int
    batch: int
    unimodal: int
    align: int
    trimodal: int
    qat: int
    prune_recovery: int
    max_filler: int
    voices: tuple
    rates: tuple
    eval_at: tuple = ("f32_before_qat", "qat", "pruned_qat", "exported_q4_0", "exported_f16")
    spoken_per_kind: int = 1000  # English phrasings synthesized per question kind
    lr: float = 1e-3
    ct_only: int = 0  # extra CT-encoder-only detection steps after the unimodal stage
    ct_batch: int = 0  # cases per CT-only step (0: batch)
    ct_trunk: int = 0  # steps of the CT convolution layers alone on crops (Trainer.ct_trunk)
    facts: int = 0    # record-question steps without the CT (Trainer.facts), after trimodal
    dense: int = 0    # steps of the dense detection head alone (Trainer.ct_dense), last
    facts_batch: int = 16
    finetune_recovery: int = 400  # --finetune: tri-modal QAT steps after the facts stage
    image_pointer: float = 0.0  # weight of image_pointer_loss in tri-modal steps (--image-pointer)
    voice_consistency: float = 0.0  # weight of voice_consistency_loss (--voice-consistency)


QUICK = Budget(cases=160, val_cases=6, batch=8, unimodal=30, align=15, trimodal=60, qat=15,
               prune_recovery=15, max_filler=6, voices=("en-us", "en-us+f2"), rates=(160,),
               eval_at=("exported_q4_0",), spoken_per_kind=2, facts=30)
# Sized for the 90 minutes on the 2-core CPU with bf16 autocast (--bf16): the shipped
# config (model.shipped_config) at batch 8 with records of up to 4 filler notes took 0.93 s
# per step with one thread at load average ~3 (fp32: 3.5-9.9 s), so 2270 steps + speech
# synthesis + five evaluations fit in about an hour.
FULL = Budget(cases=1200, val_cases=30, batch=8, unimodal=400, align=100, trimodal=1400,
              qat=150, prune_recovery=120, max_filler=4, voices=speech.VOICES, rates=(150, 190),
              spoken_per_kind=8, ct_only=500, facts=3000,
              eval_at=("qat", "pruned_qat", "exported_q4_0", "exported_f16"))


# Question kinds answerable from a `synth` case's own record (imaging/phantom.cpp writes
# age, sex, smoking status, years since quitting and pack-years; nothing about prior
# cancer, family history or symptoms), plus the image questions.
# Questions answered from the record alone (Trainer.facts).
RECORD_KINDS = ("age", "sex", "smoking", "pack_years", "prior_cancer", "family", "eligible")
OWN_RECORD_KINDS = ("presence", "count", "location", "size", "type", "lung_rads", "age", "sex",
                    "smoking", "pack_years", "eligible", "next_step", "summary")


def transcript_form(question: str) -> str:
    """An English question as the speech recogniser writes it (resources/questions/
    questions.json): lowercase words, hyphens as spaces, no punctuation but apostrophes.
    "How many pack-years?" -> "how many pack years"."""
    words = question.lower().replace("-", " ")
    return " ".join("".join(ch for ch in words if ch.isalnum() or ch in " '").split())


class Sampler:
    """Draws (case, question, record, answer) training samples and collates batches."""

    def __init__(self, cases: List[D.Case], sp, cfg: M.Config, spoken: Dict, budget: Budget, seed: int):
        self.cases, self.sp, self.cfg, self.spoken, self.b = cases, sp, cfg, spoken, budget
        self.rng = np.random.default_rng(seed)
        self.own_record = 0.3  # share of record samples that use the study's own record
        self.voice_share = 0.35  # share of English questions that are spoken (--voice-share)
        # Share of typed questions written casually: lowercase without a question mark, as
        # people type and as the speech grammar's sentences read.
        self.casual_share = 0.3

    def sample(self, case: D.Case, kind: str = None, lang: str = None, mode: str = None,
               record: bool = None, phrasing: int = None, depth: float = None, n_filler: int = None):
        r = self.rng
        kind = kind or KINDS[r.integers(len(KINDS))]
        lang = lang or ("en" if r.uniform() < 0.6 else "zh")
        mode = mode or ("voice" if lang == "en" and r.uniform() < self.voice_share else "typed")
        _, en, zh = Qs.QUESTIONS[kind]
        phr = en if lang == "en" else zh
        qi = phrasing if phrasing is not None else int(r.integers(len(phr)))
        qtext = phr[qi % len(phr)]
        if record is None:
            record = Qs.QUESTIONS[kind][0] != "image" or r.uniform() < 0.8
        s = {"kind": kind, "lang": lang, "mode": mode, "case": case, "question_text": qtext}
        if record:
            nf = int(r.integers(0, self.b.max_filler + 1)) if n_filler is None else n_filler
            if case.record_text and kind in OWN_RECORD_KINDS and depth is None and r.uniform() < self.own_record:
                # The study's own record (what the app loads beside a `synth` study), between
                # filler notes: it states age, sex, smoking and pack-years only.
                notes = [records.filler("en", r) for _ in range(nf)]
                at = int(r.integers(len(notes) + 1))
                notes.insert(at, case.record_text)
                text = " ".join(notes)
                start = sum(len(n) + 1 for n in notes[:at])
                spans = {k: [(start + b, start + e) for b, e in v]
                         for k, v in records.phantom_record_evidence(case.record_text).items()}
            else:
                text, spans = records.make_record_with_evidence(case.facts, lang, r, n_filler=nf, depth=depth)
            pieces = self.sp.encode_as_immutable_proto(text).pieces
            s["record"] = [M.BOS_ID] + [p.id for p in pieces][: self.cfg.max_tokens - 1]
            # Token positions (after bos) of the text that answers this question.
            ev = [i + 1 for i, p in enumerate(pieces[: self.cfg.max_tokens - 1])
                  if any(p.begin < e and b < p.end for b, e in spans.get(kind, ()))]
            if ev:
                s["evidence"] = ev
                # A number (age, pack-years): digits are separate pieces (split_digits), and
                # the first head points at the first digit, the others at the last, so the
                # two digits reach the decoder in order instead of as an unordered mix.
                s["evidence_number"] = all(self.sp.id_to_piece(s["record"][i]).isdigit() for i in ev)
        if mode == "voice":
            if qtext not in self.spoken:  # only some phrasings were synthesized (--quick)
                said = [q for q in en if q in self.spoken]
                qtext = said[qi % len(said)]
                s["question_text"] = qtext
            mels = self.spoken[qtext]
            s["mel"] = mels[int(r.integers(len(mels)))]
            # A spoken question reaches the model as the audio *and* its transcript's tokens:
            # the app never sends audio alone (app/ask_service.cpp: the understood transcript
            # becomes the question; speech that is not understood is refused). Training voice
            # samples on the audio alone left that combination untrained (spoken = typed 51 %).
            qtext = transcript_form(qtext)
        elif r.uniform() < self.casual_share:
            qtext = transcript_form(qtext) if lang == "en" else qtext.rstrip("？?")
        s["question"] = [M.BOS_ID] + self.sp.encode(qtext)
        ans = Qs.answer(case, kind, lang)
        ids = self.sp.encode(ans)[: self.cfg.dec_max_tokens - 1]
        s["answer_in"] = [M.BOS_ID] + ids
        s["answer_out"] = ids + [M.EOS_ID]
        s["answer_text"] = ans
        return s

    def batch(self, n: int, **kw) -> dict:
        picks = [self.cases[i] for i in self.rng.integers(len(self.cases), size=n)]
        return collate([self.sample(c, **kw) for c in picks], self.cfg)


def _pad(seqs: List[List[int]], value: int) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (n - len(s)) for s in seqs], dtype=torch.long)


def collate(samples: List[dict], cfg: M.Config, with_ct: bool = True) -> dict:
    """A batch; with_ct=False leaves out the CT and its targets (the image is then absent)."""
    B = len(samples)
    b = {"samples": samples}
    present = torch.zeros(B, 4, dtype=torch.bool)
    if with_ct:
        b["ct"] = torch.from_numpy(np.stack([s["case"].ct for s in samples]).astype(np.float32))
        present[:, 0] = True
    if any("record" in s for s in samples):
        b["record"] = _pad([s.get("record", [M.PAD_ID]) for s in samples], M.PAD_ID)
        present[:, 1] = torch.tensor(["record" in s for s in samples])
    if any("mel" in s for s in samples):
        T = max(s["mel"].shape[1] for s in samples if "mel" in s)
        mel = np.zeros((B, cfg.n_mels, T), np.float32)
        frames = np.ones(B, np.int64)
        for i, s in enumerate(samples):
            if "mel" in s:
                mel[i, :, : s["mel"].shape[1]] = s["mel"]
                frames[i] = s["mel"].shape[1]
        b["mel"], b["frames"] = torch.from_numpy(mel), torch.from_numpy(frames)
        present[:, 2] = torch.tensor(["mel" in s for s in samples])
    if any("question" in s for s in samples):
        b["question"] = _pad([s.get("question", [M.PAD_ID]) for s in samples], M.PAD_ID)
        present[:, 3] = torch.tensor(["question" in s for s in samples])
    b["present"] = present
    if "record" in b:
        # [B, 2, N]: row 0 is the target of the first attention head, row 1 of the others.
        ev = torch.zeros(b["record"].shape[0], 2, b["record"].shape[1], dtype=torch.float32)
        for i, s in enumerate(samples):
            e = s.get("evidence", [])
            if s.get("evidence_number"):
                ev[i, 0, e[0]] = ev[i, 1, e[-1]] = 1.0
            else:
                ev[i, :, e] = 1.0
        b["evidence"] = ev
    b["answer_in"] = _pad([s["answer_in"] for s in samples], M.PAD_ID)
    b["answer_out"] = _pad([s["answer_out"] for s in samples], M.PAD_ID)
    if with_ct:
        tg = [D.det_targets(s["case"], cfg) for s in samples]
        for k in ("obj", "off", "logd", "type", "lobe", "lobe_all"):
            b[f"det_{k}"] = torch.from_numpy(np.stack([t[k] for t in tg]))
    b["lung_rads"] = torch.tensor([M.LUNG_RADS.index(s["case"].lung_rads) for s in samples])
    b["kind"] = torch.tensor([KINDS.index(s["kind"]) for s in samples])
    return b


def to_device(b: dict, dev) -> dict:
    return {k: (v.to(dev) if torch.is_tensor(v) else v) for k, v in b.items()}


# ---------------------------------------------------------------------------------------
# Losses


def det_loss(det: torch.Tensor, lr_logits: torch.Tensor, b: dict, lobe_all: float = 0.0) -> torch.Tensor:
    """The patch head's loss; with `lobe_all` > 0 also that weight times the lobe's cross
    entropy on every labelled lung patch (`det_lobe_all`, data.det_targets): the nodule
    patches alone (~1.5 a case) let the head memorise where the training nodules are."""
    obj = b["det_obj"]
    pos = obj > 0
    n_pos = pos.sum().clamp_min(1)
    l_obj = F.binary_cross_entropy_with_logits(det[..., 0], obj, pos_weight=torch.tensor(20.0, device=det.device))
    l = l_obj + F.cross_entropy(lr_logits, b["lung_rads"])
    if pos.any():
        p = det[pos]
        l = l + F.binary_cross_entropy_with_logits(p[:, 1:4], b["det_off"][pos], reduction="sum") / n_pos / 3
        l = l + F.smooth_l1_loss(p[:, 4], b["det_logd"][pos], reduction="sum") / n_pos
        l = l + F.cross_entropy(p[:, 5:8], b["det_type"][pos]) + F.cross_entropy(p[:, 8:13], b["det_lobe"][pos])
    if lobe_all > 0 and "det_lobe_all" in b and bool((b["det_lobe_all"] >= 0).any()):
        l = l + lobe_all * F.cross_entropy(det[..., 8:13].flatten(0, 1), b["det_lobe_all"].flatten(), ignore_index=-1)
    return l


def heat_target(case: D.Case, shape, stride, sigma_min: float = 1.0) -> np.ndarray:
    """CenterNet-style target on the CT convolution layers' last map ([D', H', W'], total
    stride `stride`): a Gaussian around each nodule centre with sigma a quarter of its
    diameter (at least `sigma_min` mm), and exactly 1 on the cell holding the centre.
    With the 1 mm floor a 6 mm nodule's target is its centre cell alone, and the cell
    beside it, which sees half the nodule when the centre lies near their border, is a
    full-weight negative (`--heat-sigma-min`)."""
    h = np.zeros(shape, np.float32)
    blobs = list(_nodule_blobs(case, case.nodules, shape, stride, sigma_min))
    for _, g, _ in blobs:
        h = np.maximum(h, g)
    for _, _, centre in blobs:
        h[centre] = 1.0
    return h


def _nodule_blobs(case: D.Case, nodules, shape, stride, sigma_min: float):
    """Per nodule on the map's cells: (nodule, its Gaussian with sigma a quarter of its
    diameter and at least sigma_min mm, the index of the cell holding its centre)."""
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij")
    sp = np.array(case.spacing_zyx) * np.array(stride)
    for n in nodules:
        g = (np.array(n.grid_zyx) + 0.5) / np.array(stride) - 0.5
        r = max(n.diameter_mm / 4, sigma_min)
        d2 = ((z - g[0]) * sp[0]) ** 2 + ((y - g[1]) * sp[1]) ** 2 + ((x - g[2]) * sp[2]) ** 2
        yield n, np.exp(-d2 / (2 * r * r)), tuple(np.clip(np.round(g).astype(int), 0, np.array(shape) - 1))


def type_target(case: D.Case, shape, stride, sigma_min: float = 1.0) -> np.ndarray:
    """The trunk's type target on the same cells as `heat_target`: each nodule's type index
    (M.TYPES) on the cells where its own Gaussian is >= 0.5 and on its centre cell, -1 (no
    label) elsewhere; where two nodules overlap, the larger one's."""
    t = np.full(shape, -1, np.int64)
    for n, g, centre in _nodule_blobs(case, sorted(case.nodules, key=lambda n: n.diameter_mm), shape, stride, sigma_min):
        t[g >= 0.5] = M.TYPES.index(n.type)
        t[centre] = M.TYPES.index(n.type)
    return t


def flip_crop(x: np.ndarray, h: np.ndarray, rng: np.random.Generator, square: bool, *more: np.ndarray):
    """A crop and its heatmap target (and any other per-cell targets, `more`), flipped along
    each axis with probability 1/2 and, when the crop is square in-plane, y and x swapped
    with probability 1/2: the convolution layers see a nodule and a vessel in every
    orientation. The grid's z and y/x spacings differ, so z is never swapped with y or x. A
    flip maps cell k of the map to cell n-1-k, which is where the flipped crop puts the
    nodule's centre (`heat_target`)."""
    arrays = [x, h, *more]
    for a in range(3):
        if rng.uniform() < 0.5:
            arrays = [np.flip(v, a) for v in arrays]
    if square and rng.uniform() < 0.5:
        arrays = [v.transpose(0, 2, 1) for v in arrays]
    return tuple(arrays)


def heat_loss(logit: torch.Tensor, target: torch.Tensor, neg_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss (Zhou et al. 2019), per positive cell.
    neg_weight: per-cell weight of the negative term (a cell drawn at rate r stands for 1/r
    cells); every positive must be among the cells given."""
    p = torch.sigmoid(logit).clamp(1e-4, 1 - 1e-4)
    pos = target >= 1.0
    l_pos = -((1 - p) ** 2 * torch.log(p))[pos].sum()
    neg = (1 - target) ** 4 * p ** 2 * torch.log(1 - p)
    if neg_weight is not None:
        neg = neg * neg_weight
    l_neg = -neg[~pos].sum()
    return (l_pos + l_neg) / pos.sum().clamp_min(1)


def pointer_loss(out: dict, b: dict) -> torch.Tensor:
    """-log of the fusion's record attention (mean over heads and query rows) that lands on
    the tokens answering a record question (Sampler: `evidence`; for a number, the first head
    on its first digit and the others on its last); 0 for a batch without any. Without it the one cross-attention hop never learned to find a number in the
    record: 1500 record-only steps left the attention flat (max weight ~0.05) and the
    answers constant ("57 years." for everyone)."""
    A = out["fusion_attn"].get("record")
    if A is None or "evidence" not in b:
        return torch.zeros((), device=b["answer_in"].device)
    ev = b["evidence"]  # [B, 2, N]
    has = ev[:, 0].sum(-1) > 0
    if not bool(has.any()):
        return torch.zeros((), device=ev.device)
    rows = torch.tensor([min(h, 1) for h in range(A.shape[1])], device=ev.device)
    p = (A.float() * ev[:, rows, None, :]).sum(-1).mean(1)  # [B, Nq]
    qv = out["mem_valid"].float()
    p = (p * qv).sum(1) / qv.sum(1).clamp_min(1)
    return -torch.log(p[has].clamp_min(1e-6)).mean()


# Questions about the largest nodule, whose answer should come from where it is.
PEAK_KINDS = ("location", "size", "type")


def image_pointer_loss(out: dict, b: dict, cfg: M.Config) -> torch.Tensor:
    """-log of the fusion's image attention (mean over heads and query rows) on the patch
    that holds the largest nodule's centre, for questions about the largest nodule of a scan
    that has one; 0 for a batch without any. The issue's goal: the attention peak within
    10 mm of the nodule asked about (the shipped models: 0 %)."""
    A = out["fusion_attn"].get("image")  # [B, h, N_q, N_img]
    zero = torch.zeros((), device=b["answer_in"].device)
    if A is None:
        return zero
    rows, patches = [], []
    for i, s in enumerate(b["samples"]):
        if s["kind"] in PEAK_KINDS and s["case"].nodules and bool(b["present"][i, 0]):
            n = max(s["case"].nodules, key=lambda x: x.diameter_mm)
            rows.append(i)
            patches.append(D.patch_index(n.grid_zyx, cfg))
    if not rows:
        return zero
    idx = torch.tensor(rows, device=A.device)
    p = A[idx].float().mean(1)  # [k, N_q, N_img]
    p = p[torch.arange(len(rows), device=A.device), :, torch.tensor(patches, device=A.device)]  # [k, N_q]
    qv = out["mem_valid"][idx].float()
    p = (p * qv).sum(1) / qv.sum(1).clamp_min(1)
    return -torch.log(p.clamp_min(1e-6)).mean()


def voice_consistency_loss(model, out: dict, b: dict) -> torch.Tensor:
    """KL(typed || spoken) of the answer distributions of the spoken samples of a batch: the
    same batch without the audio (the question's tokens alone, as if typed) is the target,
    without gradient. Spoken and typed forms of a question should give the same answer
    (issue 8) even where the model is unsure, so the voice input must not move it."""
    zero = torch.zeros((), device=b["answer_in"].device)
    if "mel" not in b:
        return zero
    spoken = b["present"][:, 2] & b["present"][:, 3]
    if not bool(spoken.any()):
        return zero
    # The spoken pass's encodings without the voice: the image, record and question encoders
    # would give the same tensors again, so only fusion and decoder run a second time.
    enc = {k: v.detach() for k, v in out["enc"].items() if k != "voice"}
    valid = {k: v for k, v in out["valid"].items() if k != "voice"}
    present = b["present"].clone()
    present[:, 2] = False
    with torch.no_grad():
        mem, mem_valid, _, _ = model.fuse(enc, valid, present)
        target = F.softmax(model.decode(b["answer_in"], mem, mem_valid)[0].float(), -1)
    logp = F.log_softmax(out["logits"].float(), -1)
    kl = (target * (torch.log(target.clamp_min(1e-9)) - logp)).sum(-1)
    mask = (b["answer_out"] != M.PAD_ID) & spoken[:, None]
    return kl[mask].mean()


def load_balance_loss(rhos: List[torch.Tensor], idxs: List[torch.Tensor], n_expert: int, valid=None):
    """Switch Transformer auxiliary loss E * sum_e f_e * P_e, averaged over layers."""
    total = 0.0
    for rho, idx in zip(rhos, idxs):
        m = torch.ones(rho.shape[:-1], device=rho.device) if valid is None else valid.float()
        n = m.sum().clamp_min(1)
        P = (torch.softmax(rho, -1) * m[..., None]).sum(dim=tuple(range(rho.dim() - 1))) / n
        counts = F.one_hot(idx, n_expert).float().sum(-2) * m[..., None]
        f = counts.sum(dim=tuple(range(counts.dim() - 1))) / (2 * n)
        total = total + n_expert * (f * P).sum()
    return total / max(1, len(rhos))


def info_nce(a: torch.Tensor, b: torch.Tensor, t: float = 0.07) -> torch.Tensor:
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    logits = a @ b.t() / t
    y = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, y) + F.cross_entropy(logits.t(), y))


def masked_mean(h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    w = valid.float()[..., None]
    return (h * w).sum(1) / w.sum(1).clamp_min(1)


# ---------------------------------------------------------------------------------------
# Stages


class Trainer:
    def __init__(self, model: M.Consilium, sampler: Sampler, budget: Budget, dev, bf16: bool, log):
        self.m, self.s, self.b, self.dev, self.bf16, self.log = model, sampler, budget, dev, bf16, log
        self.probe = nn.Linear(model.cfg.d, len(KINDS)).to(dev)  # stage-1 audio probe, not exported
        # With CT convolution layers, a training-only heatmap head on their last map gives the
        # convolutions a dense, local nodule objective (ct_only); not exported.
        self.heat = nn.Conv3d(model.cfg.ct_conv_channels[-1], 1, 1).to(dev) if model.cfg.ct_conv_channels else None
        if self.heat is not None:
            nn.init.constant_(self.heat.bias, -4.0)
        self.heat_sigma_min = 1.0  # mm, heat_target's floor (--heat-sigma-min)
        # Training only, like the heatmap head: each cell's nodule type, so that the trunk's
        # map keeps what the dense head's type needs (--trunk-type, its weight; 0 is off).
        self.heat_type = nn.Conv3d(model.cfg.ct_conv_channels[-1], 3, 1).to(dev) if model.cfg.ct_conv_channels else None
        self.trunk_type = 0.0
        self.trunk_weights = None  # --trunk-weights: {type: weight} of the trunk's nodule crops
        self.dense_neg_rate = 1.0  # --dense-neg-rate: share of the far negative cells per dense step
        self.lobe_all = 0.0  # --lobe-all: weight of every lung patch's lobe in det_loss
        self.dense_size = 1.0  # --dense-size-weight: the dense head's log-diameter loss weight
        self.image_cache = None  # {id(case): (H_img, det, lung-RADS)} once the CT side is frozen
        self.conv_cache = {}  # {id(case): last convolution map} while the convolution layers are frozen
        # Long records in windowed chunks: O(n*W) instead of O(n^2) (same result, selftest).
        model.text.chunk = max(2 * model.cfg.window, 256)

    def freeze_image(self) -> None:
        """Freezes the CT encoder and its heads; tri-modal steps then read each case's
        encoding from a cache (computed once, with the QAT state at first use) instead of
        running the convolutions again."""
        for mod in (self.m.ct, self.m.det, self.m.lung_rads):
            for p_ in mod.parameters():
                p_.requires_grad_(False)
        self.image_cache = {}

    def _cached_image(self, b: dict) -> None:
        if self.image_cache is None or "ct" not in b:
            return
        out = []
        for smp, ct in zip(b["samples"], b["ct"]):
            key = id(smp["case"])
            if key not in self.image_cache:
                with torch.no_grad(), self._autocast():
                    h, det, lr = self.m.encode_image(ct[None])
                self.image_cache[key] = (h[0].float(), det[0].float(), lr[0].float())
            out.append(self.image_cache[key])
        b["image_enc"] = tuple(torch.stack([o[k] for o in out]) for k in range(3))

    def _opt(self, steps: int, lr: float):
        params = list(self.m.parameters()) + list(self.probe.parameters())
        if self.heat is not None:
            params += list(self.heat.parameters())
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
        warm = max(1, steps // 20)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
        return opt, sched

    def _autocast(self):
        if self.bf16:
            return torch.autocast(device_type=self.dev.type, dtype=torch.bfloat16)
        return torch.autocast(device_type=self.dev.type, enabled=False)

    def _step(self, opt, sched, loss):
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.m.parameters(), 1.0)
        opt.step()
        sched.step()

    def unimodal(self, steps: int):
        m = self.m
        opt, sched = self._opt(steps, self.b.lr)
        m.train()
        for i in range(steps):
            b = to_device(self.s.batch(self.b.batch, record=True, mode="typed" if i % 2 else "voice", lang="en" if i % 2 == 0 else None), self.dev)
            with self._autocast():
                _, det, lr = m.encode_image(b["ct"])
                loss = det_loss(det.float(), lr.float(), b, self.lobe_all)
                h = m.encode_text(b["record"], "record")
                logits = m.text_lm_logits(h)
                loss = loss + F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), b["record"][:, 1:].flatten(),
                                              ignore_index=M.PAD_ID)
                if "mel" in b:
                    hv, vv = m.audio(b["mel"], b["frames"])
                    loss = loss + F.cross_entropy(self.probe(masked_mean(hv, vv)).float(), b["kind"])
            self._step(opt, sched, loss)
            if i % max(1, steps // 10) == 0 or i == steps - 1:
                self.log(f"unimodal {i + 1}/{steps} loss {loss.item():.3f}")

    def ct_trunk(self, steps: int, batch: int = 16):
        """The CT convolution layers alone, with the heatmap head, on crops of half the grid
        per axis (60 % of them around a nodule): the convolutions are translation-invariant,
        so a crop teaches them as much as the whole grid at an eighth of the cost. Measured
        on the 600 training cases: after 400 crop steps 43 % of the >= 6 mm validation
        nodules had a heatmap peak >= 0.3 (32 % >= 0.5), where 750 whole-grid steps of the
        full CT side had found 14 %. The layers are frozen afterwards (ct_only then trains
        the patch embedding, blocks and heads)."""
        m, cfg = self.m, self.m.cfg
        S, grid = cfg.conv_stride, cfg.ct_grid
        crop = tuple(g // 2 for g in grid)
        with_type = self.trunk_type > 0
        params = list(m.ct.conv.parameters()) + list(self.heat.parameters())
        if with_type:
            params += list(self.heat_type.parameters())
        for p_ in params:  # a fine-tune that keeps the layers goes on training them here
            p_.requires_grad_(True)
        opt = torch.optim.AdamW(params, lr=2 * self.b.lr, weight_decay=0.01)
        warm = max(1, steps // 20)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
        rng = self.s.rng
        cells = tuple(g // t for g, t in zip(grid, S))
        # --trunk-weights: the nodule crops drawn from every training nodule with a weight per
        # type, so that the faint kinds get more of the steps; default: a case, then one of
        # its nodules, uniformly (the recipe up to step 17).
        pool = None
        if self.trunk_weights is not None:
            pool = [(c, n) for c in self.s.cases for n in c.nodules]
            w = np.array([self.trunk_weights[n.type] * (self.trunk_weights.get("small", 1.0) if n.diameter_mm < 10 else 1.0)
                          for _, n in pool], np.float64)
            pool_p = w / w.sum()
        for i in range(steps):
            xs, hs, ts = [], [], []
            for j in rng.integers(len(self.s.cases), size=batch):
                c = self.s.cases[j]
                if (pool is not None or c.nodules) and rng.uniform() < 0.6:
                    if pool is not None:
                        c, n = pool[rng.choice(len(pool), p=pool_p)]
                    else:
                        n = c.nodules[rng.integers(len(c.nodules))]
                    ctr = np.array(n.grid_zyx) + rng.uniform(-12, 12, 3) * np.array([0.5, 1, 1])
                else:
                    ctr = rng.uniform([0, 0, 0], grid)
                o = [int(np.clip(round((ctr[a] - crop[a] / 2) / S[a]) * S[a], 0, grid[a] - crop[a])) for a in range(3)]
                x = c.ct[o[0]:o[0] + crop[0], o[1]:o[1] + crop[1], o[2]:o[2] + crop[2]].astype(np.float32)
                h = heat_target(c, cells, S, self.heat_sigma_min)
                cut = tuple(slice(o[a] // S[a], (o[a] + crop[a]) // S[a]) for a in range(3))
                if with_type:
                    t = type_target(c, cells, S, self.heat_sigma_min)[cut]
                    x, h, t = flip_crop(x, h[cut], rng, crop[1] == crop[2], t)
                else:  # (an empty type array cannot be flipped along y or x)
                    x, h = flip_crop(x, h[cut], rng, crop[1] == crop[2])
                    t = np.zeros(0)
                xs.append(np.ascontiguousarray(x))
                hs.append(np.ascontiguousarray(h))
                ts.append(np.ascontiguousarray(t))
            f = torch.from_numpy(np.stack(xs)).to(self.dev)[:, None]
            with self._autocast():
                for conv in m.ct.conv:
                    f = M.gelu(conv(f))
            loss = heat_loss(self.heat(f.float())[:, 0], torch.from_numpy(np.stack(hs)).to(self.dev))
            l_type = None
            if with_type:
                tt = torch.from_numpy(np.stack(ts)).to(self.dev)
                if bool((tt >= 0).any()):
                    l_type = F.cross_entropy(self.heat_type(f.float()), tt, ignore_index=-1)
                    loss = loss + self.trunk_type * l_type
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            if i % max(1, steps // 10) == 0 or i == steps - 1:
                self.log(f"ct_trunk {i + 1}/{steps} heatmap loss {loss.item():.3f}"
                         + (f" (type {l_type.item():.3f})" if l_type is not None else ""))
        for p_ in m.ct.conv.parameters():
            p_.requires_grad_(False)

    def ct_only(self, steps: int, lr_scale: float = 1.0):
        """The CT encoder and its heads alone (a CT step costs a third of a full one): nodule
        detection needs far more examples than the answer decoder."""
        m = self.m
        opt, sched = self._opt(steps, self.b.lr * lr_scale)
        m.train()
        # Frozen convolution layers (a fine-tune that keeps them): their last map is the same
        # at every step, so it is computed once per case (kept as computed: 1 MB a case in
        # bf16 at the shipped size) and only the patch embedding, blocks and heads run.
        frozen = bool(m.cfg.ct_conv_channels) and not m.ct.conv[-1].weight.requires_grad
        for i in range(steps):
            picks = [self.s.cases[j] for j in self.s.rng.integers(len(self.s.cases), size=self.b.ct_batch or self.b.batch)]
            ct = torch.from_numpy(np.stack([c.ct for c in picks]).astype(np.float32)).to(self.dev)
            conv_feat = None
            if frozen:
                for c in picks:
                    if id(c) not in self.conv_cache:
                        with torch.no_grad(), self._autocast():
                            f = m.ct.conv_features(torch.from_numpy(c.ct.astype(np.float32)).to(self.dev)[None])
                        self.conv_cache[id(c)] = f[0]
                conv_feat = torch.stack([self.conv_cache[id(c)] for c in picks]).float()
            tg = [D.det_targets(c, m.cfg) for c in picks]
            b = {f"det_{k}": torch.from_numpy(np.stack([t[k] for t in tg])).to(self.dev)
                 for k in ("obj", "off", "logd", "type", "lobe", "lobe_all")}
            b["lung_rads"] = torch.tensor([M.LUNG_RADS.index(c.lung_rads) for c in picks], device=self.dev)
            feat = {}
            hook = (m.ct.conv[-1].register_forward_hook(lambda mod, inp, o: feat.__setitem__("f", o))
                    if self.heat is not None and m.ct.conv[-1].weight.requires_grad else None)
            with self._autocast():
                _, det, lr = m.encode_image(ct, conv_feat=conv_feat)
                loss = det_loss(det.float(), lr.float(), b, self.lobe_all)
                l_heat = None
                if hook is not None:
                    hook.remove()
                    f = M.gelu(feat["f"].float())
                    target = torch.from_numpy(np.stack([
                        heat_target(c, tuple(f.shape[2:]), m.cfg.conv_stride, self.heat_sigma_min)
                        for c in picks])).to(self.dev)
                    l_heat = heat_loss(self.heat(f)[:, 0], target)
                    loss = loss + l_heat
            self._step(opt, sched, loss)
            if i % max(1, steps // 10) == 0 or i == steps - 1:
                self.log(f"ct_only {i + 1}/{steps} loss {loss.item():.3f}"
                         + (f" (heatmap {l_heat.item():.3f})" if l_heat is not None else ""))

    def ct_dense(self, steps: int, batch: int = 8):
        """The dense detection head alone (docs/MODEL.md section 10) on the frozen CT side:
        each case's convolution map and H_img are computed once. Objectness by CenterNet's
        focal loss on the Gaussian heatmap (`heat_target`), offset, size, type and lobe on the
        cell holding each nodule's centre (a map-only head: no lobe; with Lung-RADS from
        findings: the solid part's share on part-solid nodules). Measured on the step-10
        file's frozen CT side (600 training cases, 30 validation): 1500 steps of this head
        found 43 % of the >= 6 mm validation nodules at 0.7 false positives per case
        (threshold 0.3), where the patch head found 25 % at 1.73."""
        m, cfg = self.m, self.m.cfg
        head = m.det.dense
        for p_ in m.parameters():
            p_.requires_grad_(False)
        for p_ in head.parameters():
            p_.requires_grad_(True)
        opt = torch.optim.AdamW(head.parameters(), lr=3 * self.b.lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
        m.eval()  # a new head starts from CenterNet's prior (model.py: objectness bias -4)
        if cfg.det_dense_map_only:
            # A finding's lobe is then the patch head's (its logits plus these rows, kept at
            # zero and untrained): trained from the map, these rows lowered lobe accuracy on
            # 100 validation cases from 83 to 77 % (training/README.md, step 12).
            with torch.no_grad():
                head.out.weight[8:13].zero_()
                head.out.bias[8:13].zero_()
        feats = {}

        def features(c):
            if id(c) not in feats:
                with torch.no_grad():
                    f = self.conv_cache.get(id(c))  # ct_only's, when the layers were frozen there
                    f = (f[None].float() if f is not None else
                         m.ct.conv_features(torch.from_numpy(c.ct.astype(np.float32)).to(self.dev)[None]))
                    h, _, _ = m.encode_image(None, conv_feat=f)
                heat = heat_target(c, cfg.conv_cells, cfg.conv_stride, self.heat_sigma_min)
                feats[id(c)] = (f[0].half(), h[0], torch.from_numpy(heat).view(-1), D.dense_targets(c, cfg))
            return feats[id(c)]

        part_solid = M.TYPES.index("part-solid")
        # --dense-neg-rate r < 1 (map-only head): each step reads every cell near a nodule
        # (heat target >= 1e-3) and a random share r of the others, each weighted 1/r in the
        # focal loss: the same loss in expectation at about r of the cost (the head's 36864
        # cells a case on the 64x192x192 grid took ~1 s a step at batch 8 here).
        rate = self.dense_neg_rate
        sampled = rate < 1.0 and cfg.det_dense_map_only
        gen = torch.Generator().manual_seed(int(self.s.rng.integers(1 << 31)))
        for i in range(steps):
            picks = [self.s.cases[j] for j in self.s.rng.integers(len(self.s.cases), size=batch)]
            fs = [features(c) for c in picks]
            if sampled:
                xs, ts, ws, at, n_rows = [], [], [], [], 0
                for x in fs:
                    heat = x[2]
                    near = heat >= 1e-3
                    keep = near | (torch.rand(heat.shape, generator=gen) < rate)
                    idx = torch.nonzero(keep)[:, 0]
                    xs.append(x[0].reshape(x[0].shape[0], -1)[:, idx].t().float())
                    ts.append(heat[idx])
                    ws.append(torch.where(near[idx], 1.0, 1.0 / rate))
                    where = torch.cumsum(keep, 0) - 1  # cell -> its row among the kept
                    at.append(n_rows + where)
                    n_rows += len(idx)
                o = head(torch.cat(xs).to(self.dev))
                loss = heat_loss(o[:, 0], torch.cat(ts).to(self.dev), torch.cat(ws).to(self.dev))
                row_of = lambda b, k: o[int(at[b][fs[b][3]["pos"][k]])]
            else:
                o = m.dense_det(torch.stack([x[0] for x in fs]).float(), torch.stack([x[1] for x in fs]))
                loss = heat_loss(o[..., 0], torch.stack([x[2] for x in fs]).to(self.dev))
                row_of = lambda b, k: o[b, fs[b][3]["pos"][k]]
            rows = [(b, k) for b, x in enumerate(fs) for k in range(len(x[3]["pos"]))]
            if rows:
                r = torch.stack([row_of(b, k) for b, k in rows])

                def tgt(name, dtype=torch.float32):
                    return torch.tensor(np.array([fs[b][3][name][k] for b, k in rows]), dtype=dtype, device=self.dev)
                loss = loss + F.binary_cross_entropy_with_logits(r[:, 1:4], tgt("off")) \
                    + self.dense_size * F.smooth_l1_loss(r[:, 4], tgt("logd")) \
                    + F.cross_entropy(r[:, 5:8], tgt("type", torch.long))
                if not cfg.det_dense_map_only:
                    loss = loss + F.cross_entropy(r[:, 8:13], tgt("lobe", torch.long))
                ps = tgt("type", torch.long) == part_solid
                if cfg.lung_rads_from_findings and bool(ps.any()):  # the solid part's share of the diameter
                    loss = loss + F.binary_cross_entropy_with_logits(r[ps, 13], tgt("solid")[ps])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if i % max(1, steps // 10) == 0 or i == steps - 1:
                self.log(f"ct_dense {i + 1}/{steps} loss {loss.item():.3f}")
        for p_ in head.parameters():
            p_.requires_grad_(False)

    def facts(self, steps: int, lr_scale: float = 1.0):
        """Record questions without the CT (0.25 s a step at batch 16 here, against ~1 s for a
        tri-modal step): the answer, the pointer loss on the record attention, and the gate
        toward the record. The image is absent, which changes nothing on the record path
        (docs/MODEL.md 8: each modality's attention is separate; its weight is the gate's)."""
        m = self.m
        opt, sched = self._opt(steps, self.b.lr * lr_scale)
        m.train()
        m.route = M.RouteOptions()
        for i in range(steps):
            # Fresh patients for half the samples (no CT is read, so any facts will do): with only
            # the training cases' few hundred records the answer could be recalled from the
            # other facts instead of read.
            picks = [self.s.cases[j] if self.s.rng.uniform() < 0.5 else
                     D.Case(ct=None, nodules=[], lung_rads="1", facts=records.random_facts(self.s.rng), sp_yx=1.0)
                     for j in self.s.rng.integers(len(self.s.cases), size=self.b.facts_batch)]
            # The study's own record (the one the app shows) in half of the real cases' samples.
            own, self.s.own_record = self.s.own_record, 0.5
            samples = [self.s.sample(c, kind=RECORD_KINDS[self.s.rng.integers(len(RECORD_KINDS))], record=True)
                       for c in picks]
            self.s.own_record = own
            b = to_device(collate(samples, m.cfg, with_ct=False), self.dev)
            with self._autocast():
                out = m(b)
                l_ans = F.cross_entropy(out["logits"].flatten(0, 1).float(), b["answer_out"].flatten(),
                                        ignore_index=M.PAD_ID)
                l_ptr = pointer_loss(out, b)
                target = torch.ones(len(samples), dtype=torch.long, device=self.dev)
                l_gate = F.nll_loss(torch.log(out["gate"].float().clamp_min(1e-6)), target)
                loss = l_ans + l_ptr + 0.2 * l_gate
            self._step(opt, sched, loss)
            if i % max(1, steps // 10) == 0 or i == steps - 1:
                self.log(f"facts {i + 1}/{steps} loss {loss.item():.3f} (answer {l_ans.item():.3f}, "
                         f"pointer {l_ptr.item():.3f})")

    def align(self, steps: int):
        m = self.m
        opt, sched = self._opt(steps, self.b.lr * 0.5)
        m.train()
        for i in range(steps):
            # Spoken <-> typed: the same English phrasing through both encoders.
            samples = []
            for c in [self.s.cases[j] for j in self.s.rng.integers(len(self.s.cases), size=self.b.batch)]:
                kind = KINDS[self.s.rng.integers(len(KINDS))]
                qi = int(self.s.rng.integers(min(len(Qs.QUESTIONS[kind][1]), self.b.spoken_per_kind)))
                samples.append((self.s.sample(c, kind=kind, lang="en", mode="voice", phrasing=qi, record=False),
                                self.s.sample(c, kind=kind, lang="en", mode="typed", phrasing=qi, record=False)))
            bv = to_device(collate([a for a, _ in samples], m.cfg), self.dev)
            bt = to_device(collate([t for _, t in samples], m.cfg), self.dev)
            with self._autocast():
                hv, vv = m.audio(bv["mel"], bv["frames"])
                hq = m.encode_text(bt["question"], "question")
                loss = info_nce(masked_mean(hv, vv).float(), masked_mean(hq, bt["question"] != M.PAD_ID).float())
                # CT <-> findings text (the summary answer, English).
                himg, det, lr = m.encode_image(bt["ct"])
                ftxt = [[M.BOS_ID] + self.s.sp.encode(Qs.answer(s["case"], "summary", "en")) for _, s in samples]
                ft = _pad(ftxt, M.PAD_ID).to(self.dev)
                hf = m.encode_text(ft, "record")
                loss = loss + info_nce(himg.mean(1).float(), masked_mean(hf, ft != M.PAD_ID).float())
                loss = loss + 0.3 * det_loss(det.float(), lr.float(), bt, self.lobe_all)
            self._step(opt, sched, loss)
            if i % max(1, steps // 10) == 0 or i == steps - 1:
                self.log(f"align {i + 1}/{steps} loss {loss.item():.3f}")

    def trimodal(self, steps: int, name: str = "trimodal", gumbel: bool = True, lr_scale: float = 1.0):
        m = self.m
        opt, sched = self._opt(steps, self.b.lr * lr_scale)
        m.train()
        for i in range(steps):
            frac = i / max(1, steps)
            noisy = gumbel and frac < 0.9
            m.route = M.RouteOptions(gumbel=noisy, tau=2.0 - frac / 0.9 if noisy else 1.0)
            b = to_device(self.s.batch(self.b.batch), self.dev)
            self._cached_image(b)
            with self._autocast():
                out = m(b)
                tgt = b["answer_out"]
                l_ans = F.cross_entropy(out["logits"].flatten(0, 1).float(), tgt.flatten(), ignore_index=M.PAD_ID)
                l_det = det_loss(out["det"].float(), out["lung_rads"].float(), b, self.lobe_all)
                l_lb = load_balance_loss(out["aux"]["rho"], out["aux"]["idx"], m.cfg.n_expert, tgt != M.PAD_ID)
                # Modality-weight supervision: questions about the scan lean on the image,
                # questions about the record on the record (kinds needing both: free).
                target = torch.tensor([{"image": 0, "record": 1}.get(Qs.QUESTIONS[s["kind"]][0], -100)
                                       for s in b["samples"]], device=self.dev)
                l_gate = (F.nll_loss(torch.log(out["gate"].float().clamp_min(1e-6)), target, ignore_index=-100)
                          if bool((target >= 0).any()) else torch.zeros((), device=self.dev))
                l_ptr = pointer_loss(out, b)
                loss = l_ans + l_det + 0.01 * l_lb + 0.2 * l_gate + l_ptr
                l_img = image_pointer_loss(out, b, m.cfg) if self.b.image_pointer else None
                if l_img is not None:
                    loss = loss + self.b.image_pointer * l_img
                l_vc = voice_consistency_loss(m, out, b) if self.b.voice_consistency else None
                if l_vc is not None:
                    loss = loss + self.b.voice_consistency * l_vc
            self._step(opt, sched, loss)
            if i % max(1, steps // 10) == 0 or i == steps - 1:
                self.log(f"{name} {i + 1}/{steps} loss {loss.item():.3f} (answer {l_ans.item():.3f}, "
                         f"det {l_det.item():.3f}, balance {l_lb.item():.3f}, "
                         + (f"image pointer {l_img.item():.3f}, " if l_img is not None else "")
                         + (f"voice consistency {l_vc.item():.3f}, " if l_vc is not None else "")
                         + f"tau {m.route.tau:.2f}, "
                         f"noise {'on' if noisy else 'off'})")
        m.route = M.RouteOptions()

    # -- pruning
    def head_importance(self, batches: int) -> Dict[str, torch.Tensor]:
        m = self.m
        m.train()
        m.route = M.RouteOptions()
        mods = m.attention_modules()
        imp = {name: torch.zeros(getattr(o, f"{p}_q").weight.shape[0] // m.cfg.hd) for name, o, p in mods}
        for _ in range(batches):
            b = to_device(self.s.batch(self.b.batch), self.dev)
            m.zero_grad(set_to_none=True)
            out = m(b)
            loss = F.cross_entropy(out["logits"].flatten(0, 1), b["answer_out"].flatten(), ignore_index=M.PAD_ID)
            loss = loss + 0.5 * det_loss(out["det"], out["lung_rads"], b, self.lobe_all)
            loss.backward()
            for name, o, p in mods:
                w = getattr(o, f"{p}_out").weight
                if w.grad is None:
                    continue
                t = (w * w.grad).view(w.shape[0], -1, m.cfg.hd).sum(dim=(0, 2)).abs().detach().cpu()
                imp[name] += t
        m.zero_grad(set_to_none=True)
        return {k: v / (v.norm() + 1e-12) for k, v in imp.items()}

    def prune(self, frac: float, batches: int) -> dict:
        m = self.m
        imp = self.head_importance(batches)
        mods = {name: (o, p) for name, o, p in m.attention_modules()}
        total = sum(len(v) for v in imp.values())
        n_remove = int(round(frac * total))
        ranked = sorted(((float(s), name, h) for name, v in imp.items() for h, s in enumerate(v)))
        remove = {name: set() for name in imp}
        for s, name, h in ranked:
            if n_remove == 0:
                break
            if len(imp[name]) - len(remove[name]) <= 1:
                continue  # every attention keeps at least one head
            remove[name].add(h)
            n_remove -= 1
        hd = m.cfg.hd
        for name, (o, p) in mods.items():
            keep = [h for h in range(len(imp[name])) if h not in remove[name]]
            rows = torch.cat([torch.arange(h * hd, (h + 1) * hd) for h in keep])
            for suffix in ("q", "k", "v"):
                old = getattr(o, f"{p}_{suffix}")
                new = M.QLinear(old.in_features, len(rows)).to(old.weight.device)
                new.weight.data.copy_(old.weight.data[rows])
                new.bias.data.copy_(old.bias.data[rows])
                new.qat = old.qat
                setattr(o, f"{p}_{suffix}", new)
            old = getattr(o, f"{p}_out")
            new = M.QLinear(len(rows), old.out_features).to(old.weight.device)
            new.weight.data.copy_(old.weight.data[:, rows])
            new.bias.data.copy_(old.bias.data)
            new.qat = old.qat
            setattr(o, f"{p}_out", new)
        m.sync_head_counts()
        removed = sum(len(v) for v in remove.values())
        self.log(f"pruned {removed}/{total} attention heads")
        return {"heads_before": total, "heads_removed": removed,
                "removed": {k: sorted(v) for k, v in remove.items() if v}}


# ---------------------------------------------------------------------------------------
# Evaluation (the metrics of issue 8 that this recipe can measure)


@torch.no_grad()
def evaluate(model: M.Consilium, cases: List[D.Case], sampler: Sampler, dev, max_cases: int = 1000) -> dict:
    model.eval()
    model.route = M.RouteOptions()
    cfg = model.cfg
    det = {"found": 0, "total": 0, "fp": 0, "centre_err": [], "diam_err": [], "type_ok": 0, "lobe_ok": 0}
    lr_ok = 0
    ans = {}
    gate_ok, gate_n = 0, 0
    peak_ok, peak_n = 0, 0
    spoken_same, spoken_n = 0, 0
    load = np.zeros((len(model.dec.blk), cfg.n_expert))
    cases = cases[:max_cases]
    for ci, case in enumerate(cases):
        ct = torch.from_numpy(case.ct.astype(np.float32))[None].to(dev)
        if cfg.det_dense_ff:  # findings from the dense head (section 10)
            f = model.ct.conv_features(ct)
            h_img, raw, lr = model.encode_image(ct, conv_feat=f)
            cands = M.dense_candidates(model.dense_det(f, h_img)[0].cpu(), cfg, raw[0].cpu())
        else:
            h_img, raw, lr = model.encode_image(ct)  # once per case: every question below reuses it
            cands = M.candidates(raw[0].cpu(), cfg)
        if cfg.lung_rads_from_findings:
            lr_ok += M.lung_rads_of_findings(cands, case.sp_yx) == case.lung_rads
        else:
            lr_ok += M.LUNG_RADS[int(lr[0].argmax())] == case.lung_rads
        sz = np.array(case.spacing_zyx)
        matched = set()
        for n in case.nodules:
            if n.diameter_mm < 6:
                continue
            det["total"] += 1
            best = None
            for k, c in enumerate(cands):
                dist = float(np.linalg.norm((np.array(c["grid_zyx"]) - np.array(n.grid_zyx)) * sz))
                if k not in matched and dist <= max(10.0, n.diameter_mm) and (best is None or dist < best[0]):
                    best = (dist, k)
            if best:
                matched.add(best[1])
                c = cands[best[1]]
                det["found"] += 1
                det["centre_err"].append(best[0])
                det["diam_err"].append(abs(c["diameter_vox"] * case.sp_yx - n.diameter_mm))
                det["type_ok"] += c["type"] == n.type
                det["lobe_ok"] += c["lobe"] == n.lobe
        small = [np.array(n.grid_zyx) for n in case.nodules if n.diameter_mm < 6]
        for k, c in enumerate(cands):
            if k in matched:
                continue
            near_small = any(np.linalg.norm((np.array(c["grid_zyx"]) - s) * sz) <= 10 for s in small)
            det["fp"] += not near_small
        # Questions: one per kind, alternating language; spoken vs typed for English.
        for ki, kind in enumerate(KINDS):
            lang = "en" if (ci + ki) % 2 == 0 else "zh"
            s = sampler.sample(case, kind=kind, lang=lang, mode="typed", record=True, phrasing=0)
            out_t, ids_t, extras = _answer(model, s, dev, (h_img, raw), cands)
            key = f"{kind}.{lang}"
            a = ans.setdefault(key, [0, 0])
            a[0] += out_t == s["answer_text"]
            a[1] += 1
            target = Qs.QUESTIONS[kind][0]
            if target in ("image", "record"):
                g = extras["gate"]
                gate_ok += int(np.argmax(g)) == (0 if target == "image" else 1)
                gate_n += 1
            if kind in ("location", "size", "type") and case.nodules:
                n = max(case.nodules, key=lambda x: x.diameter_mm)
                p = extras["peak_grid"]
                peak_ok += float(np.linalg.norm((np.array(p) - np.array(n.grid_zyx)) * sz)) <= 10.0
                peak_n += 1
            for li, idx in enumerate(extras["experts"]):
                for e in idx.flatten():
                    load[li, int(e)] += 1
            if lang == "en":
                sv = sampler.sample(case, kind=kind, lang="en", mode="voice", record=True, phrasing=0)
                sv["record"] = s["record"]
                for k in ("evidence", "evidence_number"):
                    sv.pop(k, None)
                    if k in s:
                        sv[k] = s[k]
                out_v, _, _ = _answer(model, sv, dev, (h_img, raw))
                spoken_same += out_v == out_t
                spoken_n += 1
    fact_kinds = ("age", "smoking", "pack_years", "prior_cancer", "family")
    res = {
        "cases": len(cases),
        "nodules_ge6mm_found": det["found"] / max(1, det["total"]),
        "false_positives_per_case": det["fp"] / max(1, len(cases)),
        "median_centre_error_mm": float(np.median(det["centre_err"])) if det["centre_err"] else None,
        "median_diameter_error_mm": float(np.median(det["diam_err"])) if det["diam_err"] else None,
        "type_accuracy": det["type_ok"] / max(1, det["found"]),
        "lobe_accuracy": det["lobe_ok"] / max(1, det["found"]),
        "lung_rads_accuracy": lr_ok / max(1, len(cases)),
        "record_facts_en": _acc(ans, fact_kinds, "en"),
        "record_facts_zh": _acc(ans, fact_kinds, "zh"),
        "answers_exact": {k: v[0] / v[1] for k, v in sorted(ans.items())},
        "spoken_equals_typed": spoken_same / max(1, spoken_n),
        "largest_modality_weight_correct": gate_ok / max(1, gate_n),
        "attention_peak_within_10mm": peak_ok / max(1, peak_n),
        "expert_load": (load / np.maximum(1, load.sum(1, keepdims=True))).round(3).tolist(),
    }
    return res


@torch.no_grad()
def needle_eval(model: M.Consilium, cases: List[D.Case], sampler: Sampler, dev, lengths, per_length: int) -> dict:
    """Record-fact accuracy against record length (the serving issue's needle test): the fact
    block sits at a random depth of filler notes sized to about `length` tokens."""
    model.eval()
    model.route = M.RouteOptions()
    probe = [len(sampler.sp.encode(records.filler("en", sampler.rng))) + 1 for _ in range(50)]
    per_filler = float(np.mean(probe))
    out = {}
    for length in lengths:
        ok = 0
        for i in range(per_length):
            case = cases[i % len(cases)]
            kind = ("age", "pack_years", "prior_cancer")[i % 3]
            s = sampler.sample(case, kind=kind, lang="en", mode="typed", record=True, phrasing=0,
                               depth=float(sampler.rng.uniform()), n_filler=int(length / per_filler))
            text, _, _ = _answer(model, s, dev)
            ok += text == s["answer_text"]
        out[str(length)] = ok / max(1, per_length)
    return out


def _acc(ans, kinds, lang):
    ok = sum(ans.get(f"{k}.{lang}", [0, 0])[0] for k in kinds)
    n = sum(ans.get(f"{k}.{lang}", [0, 0])[1] for k in kinds)
    return ok / max(1, n)


def _answer(model: M.Consilium, s: dict, dev, image=None, cands=None):
    """Greedy answer to one sample; image: the case's (H_img, det raw) when already computed,
    cands: its findings (descending score), which place the attention peak (section 13)."""
    b = to_device(collate([s], model.cfg), dev)
    enc, valid = {}, {}
    h, raw = image if image is not None else model.encode_image(b["ct"])[:2]
    enc["image"], valid["image"] = h, torch.ones(h.shape[:2], dtype=torch.bool, device=dev)
    if "record" in s:
        enc["record"], valid["record"] = model.encode_text(b["record"], "record"), b["record"] != M.PAD_ID
    if "mel" in s:
        enc["voice"], valid["voice"] = model.audio(b["mel"], b["frames"])
    if "question" in s:
        enc["question"], valid["question"] = model.encode_text(b["question"], "question"), b["question"] != M.PAD_ID
    mem, mv, g, probs = model.fuse(enc, valid, b["present"])
    ids = model.generate(mem, mv, EVAL_MAX_IDS)
    _, aux = model.decode(ids[None, :-1], mem, mv)  # the positions that produced ids[1:]
    attn = M.rollout(aux["cross"], probs["image"])
    p = int(attn.argmax())
    # The peak patch's best finding, else the patch head's centre of that patch.
    in_peak = [c for c in (cands or []) if c["patch"] == p]
    peak = in_peak[0]["grid_zyx"] if in_peak else M.patch_location(raw[0, p].cpu(), p, model.cfg)["grid_zyx"]
    text = sampler_decode(ids)
    return text, ids, {"gate": g[0].cpu().numpy(), "peak_grid": peak,
                       "experts": [i[0].cpu().numpy() for i in aux["idx"]]}


_SP = None


def sampler_decode(ids: torch.Tensor) -> str:
    return tokenizer.restore_cjk_punctuation(_SP.decode([int(i) for i in ids if int(i) > M.PAD_ID]))


# ---------------------------------------------------------------------------------------
# Main


def build_tokenizer(cfg: M.Config, seed: int, n_records: int) -> bytes:
    texts = records.corpus(n_records, seed) + Qs.all_texts()
    rng = np.random.default_rng(seed + 1)
    for _ in range(200):
        c = D.Case(ct=None, nodules=[], lung_rads="1", facts=records.random_facts(rng), sp_yx=1.0)
        texts += [Qs.answer(c, k, lang) for k in ("age", "pack_years", "smoking", "eligible", "next_step")
                  for lang in ("en", "zh")]
    for k in ("location", "size", "type", "summary", "lung_rads"):
        for lang in ("en", "zh"):
            c = D.toy_case(rng, M.Config(ct_grid=(16, 32, 32), ct_patch=(4, 8, 8)), n_nodules=1)
            texts.append(Qs.answer(c, k, lang))
    return tokenizer.train_spm(texts, cfg.vocab, byte_fallback=True, hard_limit=False)


def _cpu_has_bf16() -> bool:
    """Whether the CPU advertises AVX-512 BF16 (Linux; assumed when it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return True


def spoken_cache(budget: Budget, log) -> Dict[str, List[np.ndarray]]:
    rng = np.random.default_rng(7)
    out = {}
    t0 = time.time()
    for _, en, _ in Qs.QUESTIONS.values():
        for q in en[: budget.spoken_per_kind]:
            out[q] = []
            for v in budget.voices:
                for r in budget.rates:
                    x = speech.synthesize(q, v, r)
                    if rng.uniform() < 0.5:
                        x = speech.add_noise(x, float(rng.uniform(10, 30)), rng)
                    out[q].append(speech.log_mel(x)[:, :3000])
    log(f"spoken questions: {sum(len(v) for v in out.values())} clips in {time.time() - t0:.0f} s")
    return out


def main(argv=None) -> int:
    global _SP
    ap = argparse.ArgumentParser(description="train the consilium model (issue 8)")
    ap.add_argument("--quick", action="store_true", help="small model, toy phantoms, <= 5 minutes")
    ap.add_argument("--synth", help="directory of `consilium-cli synth` cases")
    ap.add_argument("--val-synth", help="held-out cases from an unused seed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is fastest while other jobs share the 2 cores)")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--prune", type=float, default=0.3)
    ap.add_argument("--finetune", metavar="CKPT",
                    help="start from a finished run's ckpt.pt or from a model file it exported, e.g. the "
                         "shipped .gguf (its config, weights and tokenizer): "
                         "only the facts stage and a QAT tri-modal recovery, then evaluate and export")
    ap.add_argument("--ct-stem", metavar="SD,SH,SW,C", default="",
                    help="CT stem (docs/MODEL.md 5): sub-patch size and channels, e.g. 2,4,4,16; "
                         "default none (the shipped model has none)")
    ap.add_argument("--ct-conv", metavar="CHANNELS:STRIDES", default="",
                    help="CT convolution layers (docs/MODEL.md 5.1b), e.g. 8,16,32,32:2,2,2,1,1,1,2,2,2,1,1,1; "
                         "with --finetune the CT encoder and its heads are trained anew (--ct-steps) and the "
                         "rest of the model is kept")
    ap.add_argument("--ct-grid", metavar="D,H,W", default="",
                    help="the model's CT grid (docs/MODEL.md 3.1; the cases must be written with "
                         "`consilium-cli synth --grid D,H,W`); with --finetune from a base of another grid "
                         "or patch, everything the new shapes allow is kept (the convolutions, CT blocks "
                         "and heads) and the patch embedding, with the position embedding when the patch "
                         "count changes, starts anew")
    ap.add_argument("--ct-patch", metavar="PD,PH,PW", default="",
                    help="the CT patch in grid voxels (docs/MODEL.md 5), e.g. 8,24,24 on a 64,192,192 grid "
                         "keeps the base's 512 patches")
    ap.add_argument("--ct-steps", type=int, default=None, metavar="N",
                    help="CT-only detection steps (default: the budget's ct_only)")
    ap.add_argument("--ct-trunk-steps", type=int, default=0, metavar="N",
                    help="with --ct-conv: steps of the convolution layers alone on crops before --ct-steps")
    ap.add_argument("--ct-batch", type=int, default=0, metavar="N", help="cases per CT-only step (default: --batch's)")
    ap.add_argument("--freeze-ct", action="store_true",
                    help="after the CT-only steps, freeze the CT encoder and its heads for the other stages")
    ap.add_argument("--image-pointer", type=float, default=0.0, metavar="W",
                    help="weight of the image pointer loss (fusion image attention on the largest "
                         "nodule for questions about it) in tri-modal steps; default 0 (off)")
    ap.add_argument("--experts", type=int, default=8,
                    help="decoder experts; 2 (both always used) is the dense baseline of equal active size")
    ap.add_argument("--questions", default="resources/questions/questions.json",
                    help="the shared question list (audio issue); merged by intent when present")
    ap.add_argument("--steps-scale", type=float, default=1.0,
                    help="multiply every stage's steps (a dry run of the full recipe: 0.005)")
    ap.add_argument("--facts-steps", type=int, default=None, metavar="N",
                    help="steps of the record-facts stage (default: the budget's; 0 skips it)")
    ap.add_argument("--recovery-steps", type=int, default=None, metavar="N",
                    help="--finetune: tri-modal QAT steps after the facts stage (default: the budget's)")
    ap.add_argument("--voice-share", type=float, default=0.35, metavar="P",
                    help="share of English training questions that are spoken (audio + transcript)")
    ap.add_argument("--voice-consistency", type=float, default=0.0, metavar="W",
                    help="weight of the KL between a spoken sample's answer distribution and the "
                         "same question's without the audio, in tri-modal steps; default 0 (off)")
    ap.add_argument("--det-dense", type=int, default=0, metavar="FF",
                    help="add the dense detection head of docs/MODEL.md section 10 (hidden width FF) "
                         "on the CT convolution layers; trained last, alone (--dense-steps)")
    ap.add_argument("--dense-steps", type=int, default=0, metavar="N", help="steps of the dense head")
    ap.add_argument("--heat-sigma-min", type=float, default=1.0, metavar="MM",
                    help="floor of the heatmap target's Gaussian sigma (mm) for the trunk and the dense "
                         "head's objectness; default 1")
    ap.add_argument("--trunk-type", type=float, default=0.0, metavar="W",
                    help="with --ct-trunk-steps: add each cell's nodule type (cross-entropy on the cells "
                         "of `type_target`, weight W) to the trunk's heatmap objective; default 0 (off)")
    ap.add_argument("--lobe-all", type=float, default=0.0, metavar="W",
                    help="add every lung patch's lobe (the cases' ct_lobes.u8, `consilium-cli synth "
                         "--lobes-only`) to the patch head's loss with weight W; default 0 (off)")
    ap.add_argument("--trunk-weights", default=None, metavar="GG,PS,SOLID[,SMALL]",
                    help="the CT trunk's nodule crops drawn over all training nodules with these "
                         "weights per type (ground-glass, part-solid, solid), e.g. 3,2,1 for the "
                         "faint kinds, times SMALL for nodules under 10 mm; default: a case, then "
                         "one of its nodules, uniformly")
    ap.add_argument("--dense-neg-rate", type=float, default=1.0, metavar="R",
                    help="dense head steps (map-only head): read every cell near a nodule and a "
                         "share R of the others, weighted 1/R (default 1: every cell)")
    ap.add_argument("--dense-size-weight", type=float, default=1.0, metavar="W",
                    help="weight of the dense head's log-diameter loss (smooth L1 on the nodule's cell) "
                         "beside its objectness, offset and type; default 1")
    ap.add_argument("--dense-anew", action="store_true",
                    help="with --finetune: start the dense head from scratch rather than from the base's "
                         "(for a base whose convolution map the head no longer fits)")
    ap.add_argument("--dense-map-only", action="store_true",
                    help="with --det-dense: the head reads the convolution map alone; a finding's lobe "
                         "adds the patch head's lobe logits (docs/MODEL.md section 10)")
    ap.add_argument("--lobe-plane", action="store_true",
                    help="with --dense-map-only: a finding's lobe is voted by its patch and the patches "
                         "beside it in the same slab (docs/MODEL.md section 10, det.lobe_plane)")
    ap.add_argument("--lung-rads-findings", action="store_true",
                    help="with --det-dense: the head learns each nodule's solid part and the file's "
                         "Lung-RADS comes from its findings by the v2022 rules (section 10)")
    ap.add_argument("--det-threshold", type=float, default=None, metavar="S",
                    help="the file's det.threshold (candidate score floor; default: the base's, else 0.5)")
    ap.add_argument("--val-cases", type=int, default=0, help="validation cases (default: the budget's)")
    ap.add_argument("--needle", default="", help="comma-separated record lengths for the needle test, e.g. 1024,32768")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    logf = open(os.path.join(a.out, "train.log"), "a", encoding="utf-8")
    t_start = time.time()

    def log(msg):
        line = f"[{time.time() - t_start:7.1f}s] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    budget = QUICK if a.quick else FULL
    if a.steps_scale != 1.0 or a.val_cases:
        sc = lambda n: max(2, int(round(n * a.steps_scale)))  # noqa: E731
        budget = dataclasses.replace(budget, unimodal=sc(budget.unimodal), align=sc(budget.align),
                                     trimodal=sc(budget.trimodal), qat=sc(budget.qat),
                                     prune_recovery=sc(budget.prune_recovery), ct_only=sc(budget.ct_only) if budget.ct_only else 0,
                                     facts=sc(budget.facts) if budget.facts else 0,
                                     finetune_recovery=sc(budget.finetune_recovery),
                                     val_cases=a.val_cases or budget.val_cases)
    # Options that size or weight a stage: None (or 0 where 0 means "not given") keeps the budget's.
    given = {"facts": a.facts_steps, "finetune_recovery": a.recovery_steps, "ct_only": a.ct_steps}
    given = {k: v for k, v in given.items() if v is not None}
    given.update({k: v for k, v in (("image_pointer", a.image_pointer), ("voice_consistency", a.voice_consistency),
                                    ("ct_batch", a.ct_batch), ("ct_trunk", a.ct_trunk_steps),
                                    ("dense", a.dense_steps)) if v})
    budget = dataclasses.replace(budget, **given)
    cfg = M.quick_config() if a.quick else M.shipped_config()
    if a.quick:
        cfg.vocab = 1024
    cfg.n_expert = a.experts
    if a.ct_stem:
        *sub, channels = (int(v) for v in a.ct_stem.split(","))
        cfg.ct_stem, cfg.ct_stem_channels = tuple(sub), channels
        cfg.validate()
    base = G.load_checkpoint(a.finetune) if a.finetune else None
    if base:
        cfg = M.Config(**base["config"])
    if a.ct_grid or a.ct_patch:
        if a.ct_grid:
            cfg.ct_grid = tuple(int(v) for v in a.ct_grid.split(","))
        if a.ct_patch:
            cfg.ct_patch = tuple(int(v) for v in a.ct_patch.split(","))
        cfg.validate()
    # A base of another grid or patch: the tensors whose shape follows them start anew.
    regrid = bool(base and (tuple(base["config"]["ct_grid"]) != cfg.ct_grid
                            or tuple(base["config"]["ct_patch"]) != cfg.ct_patch))
    if a.ct_conv:
        chans, strides = a.ct_conv.split(":")
        cfg.ct_conv_channels = tuple(int(v) for v in chans.split(","))
        cfg.ct_conv_strides = tuple(int(v) for v in strides.split(","))
        cfg.ct_stem, cfg.ct_stem_channels = (), 0
        cfg.validate()
    if a.det_dense:
        cfg.det_dense_ff = a.det_dense
        cfg.det_dense_map_only = a.dense_map_only
        cfg.det_lobe_plane = a.lobe_plane
        cfg.lung_rads_from_findings = a.lung_rads_findings
        cfg.validate()
    if a.det_threshold is not None:
        cfg.det_threshold = a.det_threshold
    dev = torch.device(a.device)
    if a.bf16 and dev.type == "cpu" and not _cpu_has_bf16():
        log("warning: --bf16 on a CPU without AVX-512 BF16: torch's bf16 matmuls fall back to slow "
            "loops here (a CT-only step took 15x longer than in fp32); drop --bf16")
    log(f"shared question list {a.questions}: {Qs.load_shared(a.questions)} phrasings added")
    rng = np.random.default_rng(a.seed)
    if a.synth:
        cases = D.load_synth_dir(a.synth, cfg)
        val = D.load_synth_dir(a.val_synth, cfg)[: budget.val_cases] if a.val_synth else cases[-budget.val_cases:]
        cases = cases if a.val_synth else cases[:-budget.val_cases]
    else:
        if not a.quick:
            log("no --synth given: training on toy phantoms (smoke test, not the shipped model)")
        cases = [D.toy_case(rng, cfg) for _ in range(budget.cases)]
        vrng = np.random.default_rng(a.seed + 999)  # a seed never used in training
        val = [D.toy_case(vrng, cfg) for _ in range(budget.val_cases)]
    log(f"{len(cases)} training cases, {len(val)} validation cases; config {cfg}")

    spm_bytes = base["spm_model"] if base else build_tokenizer(cfg, a.seed, 1000 if a.quick else 6000)
    sp = tokenizer.load(spm_bytes)
    _SP = sp
    cfg.vocab = sp.get_piece_size()
    spoken = spoken_cache(budget, log)

    model = M.Consilium(cfg, torch.from_numpy(G.mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels))).to(dev)
    same_ct = bool(base and a.ct_conv and tuple(base["config"].get("ct_conv_channels", ())) == cfg.ct_conv_channels
                   and tuple(base["config"].get("ct_conv_strides", ())) == cfg.ct_conv_strides)
    # A grown trunk: the base's convolution layers followed by stride-1 layers of the base's
    # last width. The base's layers and everything downstream are kept; the added layers
    # start as near-identities so the map they pass on starts close to the base's.
    base_cc = tuple(base["config"].get("ct_conv_channels", ())) if base else ()
    base_cs = tuple(base["config"].get("ct_conv_strides", ())) if base else ()
    grown = bool(base_cc and a.ct_conv and len(cfg.ct_conv_channels) > len(base_cc)
                 and cfg.ct_conv_channels[:len(base_cc)] == base_cc
                 and cfg.ct_conv_strides[:len(base_cs)] == base_cs
                 and all(c == base_cc[-1] for c in cfg.ct_conv_channels[len(base_cc):])
                 and all(s == 1 for s in cfg.ct_conv_strides[len(base_cs):]))
    # A base without this dense head (none, or one of another shape) gets a new one.
    new_dense = bool(base and cfg.det_dense_ff and any(
        base["config"].get(k, False) != getattr(cfg, k)
        for k in ("det_dense_ff", "det_dense_map_only", "lung_rads_from_findings")))

    own = model.state_dict()
    # On a new grid or patch only the patch embedding's weight (its input is a patch) and the
    # position embedding (one row per patch) can change shape.
    reshaped = {k for k, v in base["model"].items() if k in own and own[k].shape != v.shape} if base else set()

    def load_base(keep=lambda k: True, may_miss=lambda k: False):
        # Nothing but the new dense head (and, on a new grid, the reshaped tensors) may be missing.
        wrong = {k for k in reshaped if keep(k)} - ({"ct.patch_embd.weight", "ct.pos_embd"} if regrid else set())
        if wrong:
            raise RuntimeError(f"fine-tune from {a.finetune}: shapes differ for {sorted(wrong)}")
        state = {k: v for k, v in base["model"].items()
                 if keep(k) and k not in reshaped and not (new_dense and k.startswith("det.dense."))}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not may_miss(k) and k not in reshaped
                   and not (new_dense and k.startswith("det.dense."))]
        if unexpected or missing:
            raise RuntimeError(f"fine-tune from {a.finetune}: unexpected {unexpected}, missing {missing}")

    if base:
        if same_ct:  # the base already has these layers: keep them (frozen) and go on training
            load_base()
            for p_ in model.ct.conv.parameters():
                p_.requires_grad_(False)
        elif grown:
            added = tuple(f"ct.conv.{i}." for i in range(len(base_cc), len(cfg.ct_conv_channels)))
            load_base(may_miss=lambda k: k.startswith(added))
            with torch.no_grad():
                for conv in list(model.ct.conv)[len(base_cc):]:
                    conv.weight.uniform_(-0.01, 0.01)
                    for c in range(conv.cout):
                        conv.weight[c, c * 27 + 13] = 1.0  # the centre tap of its own channel
                    conv.bias.zero_()
            log(f"CT convolution layers grown from {len(base_cc)} to {len(cfg.ct_conv_channels)}")
        elif a.ct_conv:  # a new CT side: keep every other weight of the base
            new_ct = ("ct.", "det.", "lung_rads.")
            load_base(keep=lambda k: not k.startswith(new_ct), may_miss=lambda k: k.startswith(new_ct))
        else:
            load_base()
        if regrid:
            log(f"CT grid {cfg.ct_grid}, patch {cfg.ct_patch} (base: {tuple(base['config']['ct_grid'])}, "
                f"{tuple(base['config']['ct_patch'])}): {', '.join(sorted(reshaped))} anew")
        log(f"fine-tuning {a.finetune} ({base['name']})")
    log(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M")
    sampler = Sampler(cases, sp, cfg, spoken, budget, a.seed)
    sampler.voice_share = a.voice_share
    vsampler = Sampler(val, sp, cfg, spoken, budget, a.seed + 1)
    vsampler.casual_share = 0.0  # typed validation questions in their written form, as before
    tr = Trainer(model, sampler, budget, dev, a.bf16, log)
    tr.heat_sigma_min = a.heat_sigma_min
    tr.trunk_type = a.trunk_type
    tr.lobe_all = a.lobe_all
    tr.dense_size = a.dense_size_weight
    if not 0 < a.dense_neg_rate <= 1 or (a.dense_neg_rate < 1 and not cfg.det_dense_map_only):
        raise SystemExit("--dense-neg-rate: a share in (0, 1], below 1 only with --dense-map-only")
    tr.dense_neg_rate = a.dense_neg_rate
    if a.trunk_weights:
        w = [float(v) for v in a.trunk_weights.split(",")]
        if len(w) not in (3, 4) or min(w) <= 0:
            raise SystemExit("--trunk-weights: three or four positive weights, ground-glass,part-solid,solid[,under 10 mm]")
        tr.trunk_weights = dict(zip(("ground-glass", "part-solid", "solid", "small"), w))
    if base and (same_ct or grown) and base.get("ct_heat") and tr.heat is not None:
        # A checkpoint of these layers carries their training-only heatmap head: trunk steps go
        # on from it rather than from a new head (a model file has none).
        tr.heat.load_state_dict(base["ct_heat"])
        if base.get("ct_heat_type"):
            tr.heat_type.load_state_dict(base["ct_heat_type"])
        log("heatmap head of the trunk: the base checkpoint's")
    timings, metrics = {}, {}

    def stage(stage_name, fn, *args, **kw):
        t = time.time()
        fn(*args, **kw)
        timings[stage_name] = round(time.time() - t, 1)

    def measure(name, m):
        if name in budget.eval_at:
            t = time.time()
            metrics[name] = evaluate(m, val, vsampler, dev)
            timings[f"eval_{name}"] = round(time.time() - t, 1)
            log(f"{name}: {json.dumps({k: v for k, v in metrics[name].items() if k != 'answers_exact'})}")

    prune_info = {}
    if base:
        # A finished (QAT, pruned) model: record facts without the CT, then the tri-modal mix
        # again so the scan answers keep up, both under Q4_0 fake-quantization.
        if a.ct_conv and budget.ct_trunk:
            stage("ct_trunk", tr.ct_trunk, budget.ct_trunk)
        if a.ct_conv and budget.ct_only:
            # The new CT side from scratch in float, its last quarter under Q4_0 fake-quant.
            stage("ct_only", tr.ct_only, budget.ct_only - budget.ct_only // 4)
            model.set_qat(True)
            stage("ct_only_qat", tr.ct_only, budget.ct_only // 4, lr_scale=0.3)
        model.set_qat(True)
        if a.freeze_ct:
            tr.freeze_image()
        if budget.facts:
            stage("facts", tr.facts, budget.facts)
        # Long enough to undo what the facts stage taught scan questions: with 120 steps a count
        # question with a record copied the record's age ("57-year.").
        if budget.finetune_recovery:
            stage("recovery", tr.trimodal, budget.finetune_recovery, name="recovery", gumbel=False, lr_scale=0.3)
        prune_info = base.get("pruning", {"heads_removed": base["gguf_extra"].get("consilium.training.pruned_heads", 0)})
    else:
        if cfg.ct_conv_channels and budget.ct_trunk:
            stage("ct_trunk", tr.ct_trunk, budget.ct_trunk)
        stage("unimodal", tr.unimodal, budget.unimodal)
        if budget.ct_only:
            stage("ct_only", tr.ct_only, budget.ct_only)
        if a.freeze_ct:
            tr.freeze_image()
        stage("align", tr.align, budget.align)
        stage("trimodal", tr.trimodal, budget.trimodal)
        if budget.facts:
            stage("facts", tr.facts, budget.facts)
        measure("f32_before_qat", model)
        model.set_qat(True)
        stage("qat", tr.trimodal, budget.qat, name="qat", gumbel=False, lr_scale=0.3)
        measure("qat", model)
    if a.prune > 0 and not base:
        t = time.time()
        prune_info = tr.prune(a.prune, batches=4 if a.quick else 20)
        tr.trimodal(budget.prune_recovery, name="recovery", gumbel=False, lr_scale=0.3)
        timings["prune"] = round(time.time() - t, 1)
        measure("pruned_qat", model)
    if cfg.det_dense_ff and budget.dense:
        if a.dense_anew:
            # Step 13: on a map the trunk had moved, the base's head started at a loss of 1019
            # and had not re-fitted after 2000 steps (median diameter error 4.0 mm, was 2.2).
            fresh = M.Consilium(cfg).det.dense
            model.det.dense.load_state_dict(fresh.state_dict())
            log("dense head: anew")
        # Last, on the final CT side (the head reads its convolution map and H_img).
        stage("ct_dense", tr.ct_dense, budget.dense)
    model.set_qat(False)

    ck = {"config": dataclasses.asdict(cfg), "model": model.state_dict(), "spm_model": spm_bytes,
          "name": "consilium-quick" if a.quick else "consilium-demo",
          "gguf_extra": {"consilium.training.seed": a.seed, "consilium.training.qat": True,
                         "consilium.training.pruned_heads": int(prune_info.get("heads_removed", 0)),
                         "consilium.training.recipe": "training/train.py" + (" --quick" if a.quick else "")},
          "pruning": prune_info}
    if tr.heat is not None:
        ck["ct_heat"] = tr.heat.state_dict()  # training only, for a fine-tune that goes on (never exported)
        ck["ct_heat_type"] = tr.heat_type.state_dict()
    if base:
        ck["name"] = base["name"]
        ck["gguf_extra"]["consilium.training.seed"] = base["gguf_extra"]["consilium.training.seed"]
        steps = [f"CT grid {','.join(map(str, cfg.ct_grid))}, patch {','.join(map(str, cfg.ct_patch))}" if regrid else "",
                 f"CT convolution layers {a.ct_conv}, {budget.ct_trunk} trunk steps"
                 + (f" (crops weighted {a.trunk_weights} by type)" if a.trunk_weights else "")
                 + f", {budget.ct_only} CT-only steps" if a.ct_conv else "",
                 "CT side frozen" if a.freeze_ct else "",
                 f"facts {budget.facts}" if budget.facts else "", f"recovery {budget.finetune_recovery}",
                 f"voice share {a.voice_share}" if a.voice_share != 0.35 else "",
                 f"image pointer {budget.image_pointer}" if budget.image_pointer else "",
                 f"voice consistency {budget.voice_consistency}" if budget.voice_consistency else "",
                 (f"dense head {cfg.det_dense_ff} units, {budget.dense} steps" + (" anew" if a.dense_anew else "")
                  + (f", size weight {a.dense_size_weight}" if a.dense_size_weight != 1.0 else "")
                  + (f", negatives at rate {a.dense_neg_rate}" if a.dense_neg_rate < 1.0 else ""))
                 if cfg.det_dense_ff and budget.dense else ""]
        ck["gguf_extra"]["consilium.training.recipe"] = (
            base["gguf_extra"]["consilium.training.recipe"] + f", then --finetune ({', '.join(x for x in steps if x)})")
    torch.save(ck, os.path.join(a.out, "ckpt.pt"))
    files = {}
    for ftype in ("q4_0", "f16"):
        path = os.path.join(a.out, f"{ck['name']}-{ftype}.gguf")
        G.export_model(model, path, ftype, spm_bytes, ck["name"], ck["gguf_extra"])
        files[ftype] = {"path": path, "bytes": os.path.getsize(path)}
        log(f"exported {path} ({files[ftype]['bytes'] / 1e6:.2f} MB)")
    # The exported Q4_0 weights, dequantized, must score like the QAT model (same numbers).
    _, tq = G.read_gguf(files["q4_0"]["path"])
    qm = M.Consilium(M.Config(**ck["config"])).to(dev)
    qm.load_state_dict({k: torch.from_numpy(v[2].copy()) for k, v in tq.items()})
    measure("exported_q4_0", qm)
    _, tf = G.read_gguf(files["f16"]["path"])
    fm = M.Consilium(M.Config(**ck["config"])).to(dev)
    fm.load_state_dict({k: torch.from_numpy(v[2].copy()) for k, v in tf.items()})
    measure("exported_f16", fm)
    if a.needle:
        t = time.time()
        metrics["needle_record_facts"] = needle_eval(qm, val, vsampler, dev, [int(x) for x in a.needle.split(",")],
                                                     3 if a.quick else 9)
        timings["needle"] = round(time.time() - t, 1)
        log(f"needle: {metrics['needle_record_facts']}")
    report = {"timings_s": timings, "total_s": round(time.time() - t_start, 1), "device": str(dev),
              "bf16": a.bf16, "threads": a.threads, "files": files, "pruning": prune_info, "metrics": metrics,
              "budget": {k: v for k, v in dataclasses.asdict(budget).items() if isinstance(v, (int, float))},
              "config": dataclasses.asdict(cfg)}
    with open(os.path.join(a.out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    log(f"done in {report['total_s']} s; report {os.path.join(a.out, 'report.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
