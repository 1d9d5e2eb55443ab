"""Self-test of the recipe's building blocks (needs torch; not part of CI's ctest run).

  /usr/bin/python3 -m training.selftest

Checks, each against an independent computation:
  - the numpy Q4_0/Q8_0 quantizers against a literal transcription of ggml's C loops,
    and the torch QAT fake-quant against the numpy one (bit-exact);
  - GGUF write -> read round trip of every metadata type and tensor type, and a model
    file read back as a training checkpoint (--finetune FILE.gguf);
  - the chunked sliding-window text encoder (32K-token path) against the full mask;
  - a padded batch against the same examples one by one;
  - the training losses run and give finite gradients.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import sys
import tempfile

import numpy as np
import torch

from training import gguf_export as G
from training import model as M


def ggml_q4_0_loop(x: np.ndarray) -> bytes:
    """quantize_row_q4_0_ref transcribed loop by loop (ggml-quants.c), float32 scalars."""
    out = bytearray()
    for blk in x.astype(np.float32).reshape(-1, 32):
        amax, mx = np.float32(0), np.float32(0)
        for v in blk:
            if amax < abs(v):
                amax, mx = abs(v), v
        d = np.float32(mx / np.float32(-8))
        inv = np.float32(1.0) / d if d != 0 else np.float32(0)
        out += np.float16(d).tobytes()
        for j in range(16):
            x0 = np.float32(blk[j] * inv)
            x1 = np.float32(blk[16 + j] * inv)
            xi0 = min(15, int(np.float32(x0 + np.float32(8.5))))
            xi1 = min(15, int(np.float32(x1 + np.float32(8.5))))
            out.append(xi0 | (xi1 << 4))
    return bytes(out)


def ggml_q8_0_loop(x: np.ndarray) -> bytes:
    out = bytearray()
    for blk in x.astype(np.float32).reshape(-1, 32):
        amax = np.float32(max(abs(v) for v in blk))
        d = np.float32(amax / np.float32(127))
        inv = np.float32(1.0) / d if d != 0 else np.float32(0)
        out += np.float16(d).tobytes()
        for v in blk:
            t = float(np.float32(v * inv))
            q = int(np.floor(abs(t) + 0.5)) * (1 if t >= 0 else -1)  # C roundf
            out += struct.pack("<b", q)
    return bytes(out)


def check_quantizers() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 96)).astype(np.float32)
    x[0, :32] = 0                      # zero block: d = 0
    x[1, :32] = 1.0                    # all equal
    x[1, 5] = -1.0                     # opposite-sign tie: the first maximum wins
    x[2, :32] = np.linspace(-8, 7, 32) * 0.37
    assert G.quantize_q4_0(x).tobytes() == ggml_q4_0_loop(x), "Q4_0 differs from ggml's loop"
    assert G.quantize_q8_0(x).tobytes() == ggml_q8_0_loop(x), "Q8_0 differs from ggml's loop"
    deq = G.dequantize_q4_0(G.quantize_q4_0(x), x.size).reshape(x.shape)
    fq = M.q4_0_dequant_like(torch.from_numpy(x)).numpy()
    assert np.array_equal(deq, fq), "torch fake-quant differs from the numpy Q4_0 round trip"
    err = np.abs(G.dequantize_q8_0(G.quantize_q8_0(x), x.size).reshape(x.shape) - x).max()
    assert err < 0.03, err
    print("quantizers: Q4_0 and Q8_0 bit-exact with ggml's reference loops; QAT matches")


def check_gguf_roundtrip() -> None:
    rng = np.random.default_rng(1)
    w = G.GGUFWriter()
    w.add_string("general.architecture", "consilium")
    w.add_u32("a.u32", 7)
    w.add_f32("a.f32", 0.5)
    w.add_bool("a.bool", True)
    w.add_u32_array("a.arr", [1, 2, 3])
    w.add_string_array("a.sarr", ["x", "中文"])
    w.add_bytes("a.bytes", b"\x00\x01\xff")
    arrays = {}
    for name, t in (("t.f32", G.F32), ("t.f16", G.F16), ("t.bf16", G.BF16), ("t.q4", G.Q4_0), ("t.q8", G.Q8_0)):
        arrays[name] = (rng.normal(size=(3, 5, 64)).astype(np.float32), t)
        w.add_tensor(name, *arrays[name])
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.gguf")
        w.write(p)
        kv, tensors = G.read_gguf(p)
    assert kv["a.u32"] == 7 and kv["a.f32"] == 0.5 and kv["a.bool"] is True
    assert kv["a.arr"] == [1, 2, 3] and kv["a.sarr"] == ["x", "中文"] and kv["a.bytes"] == b"\x00\x01\xff"
    limits = {G.F32: 0, G.F16: 2e-3, G.BF16: 2e-2, G.Q4_0: 0.6, G.Q8_0: 0.03}
    for name, (a, t) in arrays.items():
        tt, shape, b = tensors[name]
        assert tt == t and shape == a.shape, (name, tt, shape)
        err = np.abs(a - b).max()
        assert err <= limits[t] * max(1, np.abs(a).max()) / (1 if t in (G.F32,) else 1), (name, err)
    print("gguf: every metadata and tensor type round-trips")


def check_gguf_import() -> None:
    """A model file read back as a checkpoint: the same config and weights, fake-quant is
    idempotent on the dequantized Q4_0 weights, and exporting again writes the same bytes."""
    torch.manual_seed(0)
    cfg = M.golden_config()
    cfg.ct_conv_channels, cfg.ct_conv_strides = (4, 8), (2, 2, 2, 1, 1, 1)
    cfg.ct_stem, cfg.ct_stem_channels = (), 0
    cfg.det_dense_ff = 24
    cfg.validate()
    m = M.Consilium(cfg)
    spm = b"not a real tokenizer, carried as bytes"
    with tempfile.TemporaryDirectory() as d:
        for ftype in ("f32", "q4_0"):
            p1, p2 = os.path.join(d, "a.gguf"), os.path.join(d, "b.gguf")
            G.export_model(m, p1, ftype, spm, "consilium-test", {"consilium.training.pruned_heads": 3})
            ck = G.checkpoint_from_gguf(p1)
            assert ck["spm_model"] == spm and ck["name"] == "consilium-test", ck["name"]
            assert ck["pruning"]["heads_removed"] == 3
            m2 = M.Consilium(M.Config(**ck["config"]))
            m2.load_state_dict(ck["model"])  # strict: every tensor, every shape
            for k, v in m.state_dict().items():
                w = m2.state_dict()[k]
                if ftype == "f32" or G.tensor_type(k, ftype) == G.F32:
                    assert torch.equal(v, w), k
                else:
                    assert torch.equal(M.fq(w, True), w), f"{k}: Q4_0 fake-quant is not idempotent"
            G.export_model(m2, p2, ftype, spm, ck["name"], ck["gguf_extra"])
            assert open(p1, "rb").read() == open(p2, "rb").read(), f"{ftype}: re-export differs"
    print("gguf import: config, weights and tokenizer round-trip; re-export is byte-identical (f32, q4_0)")


def check_sliding_window_chunks() -> None:
    torch.manual_seed(0)
    cfg = M.golden_config()
    m = M.Consilium(cfg).eval()
    ids = torch.randint(4, cfg.vocab, (1, 300))
    with torch.no_grad():
        full = m.encode_text(ids, "record")
        m.text.chunk = 64
        chunked = m.encode_text(ids, "record")
        m.text.chunk = 2048
    err = (full - chunked).abs().max().item()
    assert err < 1e-5, err
    # Locality: changing token 0 must not change outputs beyond L*(W-1) tokens later.
    ids2 = ids.clone()
    ids2[0, 0] = (ids[0, 0] + 1 - 4) % (cfg.vocab - 4) + 4
    with torch.no_grad():
        other = m.encode_text(ids2, "record")
    reach = len(cfg.text_heads) * (cfg.window - 1)
    assert torch.equal(other[0, reach + 1:], full[0, reach + 1:]), "window leaks"
    assert not torch.equal(other[0, 0], full[0, 0]), "token 0 must affect its own output"
    print(f"text encoder: chunked == full (max err {err:.2g}); receptive field <= {reach} tokens")


def check_batch_equals_solo() -> None:
    torch.manual_seed(0)
    cfg = M.golden_config()
    m = M.Consilium(cfg).eval()
    B = 2
    batch = dict(ct=torch.rand(B, *cfg.ct_grid), mel=torch.randn(B, 80, 72), frames=torch.tensor([72, 50]),
                 record=torch.randint(4, cfg.vocab, (B, 40)), question=torch.randint(4, cfg.vocab, (B, 8)),
                 answer_in=torch.randint(4, cfg.vocab, (B, 6)))
    batch["record"][1, 30:] = M.PAD_ID
    with torch.no_grad():
        both = m(batch)
        for b in range(B):
            one = {k: v[b:b + 1] for k, v in batch.items()}
            one["mel"] = one["mel"][:, :, :int(batch["frames"][b])]
            if b == 1:
                one["record"] = one["record"][:, :30]
            solo = m(one)
            err = (solo["logits"][0] - both["logits"][b]).abs().max().item()
            assert err < 1e-5, (b, err)
            assert torch.allclose(solo["gate"][0], both["gate"][b], atol=1e-6)
    print("batching: padded batch == one by one")


def check_losses() -> None:
    from training import train as T

    torch.manual_seed(0)
    cfg = M.golden_config()
    m = M.Consilium(cfg)
    m.route = M.RouteOptions(gumbel=True, tau=1.5)
    m.set_qat(True)
    B = 2
    batch = dict(ct=torch.rand(B, *cfg.ct_grid), record=torch.randint(4, cfg.vocab, (B, 40)),
                 question=torch.randint(4, cfg.vocab, (B, 8)), answer_in=torch.randint(4, cfg.vocab, (B, 6)))
    out = m(batch)
    lb = T.load_balance_loss(out["aux"]["rho"], out["aux"]["idx"], cfg.n_expert)
    (out["logits"].mean() + lb).backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    print(f"losses: load-balance {lb.item():.3f}, finite gradients with Gumbel routing and QAT")


def check_image_pointer() -> None:
    """The image pointer loss targets the patch of the largest nodule, for questions about it
    only: 0 with all attention there, log(N_img) with uniform attention."""
    from training import data as D
    from training import train as T

    cfg = M.golden_config()
    case = D.toy_case(np.random.default_rng(3), cfg, n_nodules=2)
    big = max(case.nodules, key=lambda n: n.diameter_mm)
    target = D.patch_index(big.grid_zyx, cfg)
    pz, py, px = D.patch_zyx(big.grid_zyx, cfg)
    lo = [p * s for p, s in zip((pz, py, px), cfg.ct_patch)]
    assert all(lo[i] - 0.5 <= big.grid_zyx[i] < lo[i] + cfg.ct_patch[i] - 0.5 for i in range(3)), "patch"
    n_img, nq = cfg.n_patch, 5
    samples = [{"kind": "location", "case": case}, {"kind": "age", "case": case}]
    b = {"samples": samples, "present": torch.tensor([[True] * 4] * 2), "answer_in": torch.zeros(2, 3)}
    peaked = torch.zeros(2, 2, nq, n_img)
    peaked[..., target] = 1.0
    mv = torch.ones(2, nq, dtype=torch.bool)
    l_peak = T.image_pointer_loss({"fusion_attn": {"image": peaked}, "mem_valid": mv}, b, cfg).item()
    flat = torch.full((2, 2, nq, n_img), 1.0 / n_img)
    l_flat = T.image_pointer_loss({"fusion_attn": {"image": flat}, "mem_valid": mv}, b, cfg).item()
    assert abs(l_peak) < 1e-5 and abs(l_flat - np.log(n_img)) < 1e-4, (l_peak, l_flat)
    b["samples"] = [{"kind": "age", "case": case}] * 2  # no question about the nodule: no loss
    assert T.image_pointer_loss({"fusion_attn": {"image": flat}, "mem_valid": mv}, b, cfg).item() == 0
    print(f"image pointer: patch {target} of the largest nodule; 0 when attended, log N = {l_flat:.2f} when flat")


def check_ct_conv() -> None:
    """The CT convolution layers (docs/MODEL.md 5.1b) against a literal loop over taps, the
    heatmap target's peak on the centre cell, and the focal loss: ~0 for a confident correct
    map, large for the map inverted."""
    from training import data as D
    from training import train as T

    cfg = M.golden_config()
    cfg.ct_conv_channels, cfg.ct_conv_strides = (3, 4), (2, 2, 2, 1, 2, 2)
    cfg.validate()
    enc = M.CTEncoder(cfg).eval()
    rng = np.random.default_rng(5)
    ct = rng.uniform(0, 1, cfg.ct_grid).astype(np.float32)
    conv = enc.conv[0]
    with torch.no_grad():
        got = conv(torch.from_numpy(ct)[None, None])[0].numpy()
    w = conv.weight.detach().numpy().reshape(3, 1, 3, 3, 3)
    pad = np.pad(ct, 1)
    for (o, z, y, x) in [(0, 0, 0, 0), (2, 3, 7, 5), (1, 7, 15, 15)]:
        want = conv.bias[o].item() + sum(w[o, 0, kz, ky, kx] * pad[2 * z + kz, 2 * y + ky, 2 * x + kx]
                                         for kz in range(3) for ky in range(3) for kx in range(3))
        assert abs(got[o, z, y, x] - want) < 1e-5, (o, z, y, x, got[o, z, y, x], want)
    with torch.no_grad():
        x = torch.from_numpy(ct)[None]
        out = enc(x)
        assert out.shape == (1, cfg.n_patch, cfg.d)
        # train.py's cache of the frozen layers' map must give the same encoding
        assert torch.equal(enc(x, conv_feat=enc.conv_features(x)), out), "conv_feat path differs"
    case = D.toy_case(np.random.default_rng(3), cfg, n_nodules=1)
    cells = tuple(g // t for g, t in zip(cfg.ct_grid, cfg.conv_stride))
    h = T.heat_target(case, cells, cfg.conv_stride)
    peak = np.unravel_index(np.argmax(h), h.shape)
    centre = np.clip(np.round((np.array(case.nodules[0].grid_zyx) + 0.5) / np.array(cfg.conv_stride) - 0.5),
                     0, np.array(cells) - 1)
    assert h.max() == 1.0 and tuple(peak) == tuple(centre.astype(int)), (peak, centre)
    # A higher sigma floor widens a small nodule's peak; it stays 1 on the centre cell.
    small = dataclasses.replace(case, nodules=[dataclasses.replace(case.nodules[0], diameter_mm=4.0)])
    h1, h3 = T.heat_target(small, cells, cfg.conv_stride), T.heat_target(small, cells, cfg.conv_stride, 12.0)
    assert h1.max() == h3.max() == 1.0 and h3.sum() > h1.sum() and (h3 >= h1).all(), (h1.sum(), h3.sum())
    t = torch.from_numpy(h)
    good = T.heat_loss(torch.where(t >= 1, 12.0, -12.0), t).item()
    bad = T.heat_loss(torch.where(t >= 1, -12.0, 12.0), t).item()
    assert good < 1e-3 and bad > 10, (good, bad)
    print(f"CT convolution layers: taps as written; heatmap peak on cell {tuple(peak)}; focal loss {good:.1e} / {bad:.1f}")


def check_evidence() -> None:
    """The pointer loss's targets are the tokens that answer: the age's digits, the pack-years,
    the sex word, in both languages and in the phantom's own record."""
    from training import data as D, questions as Qs, records, tokenizer
    from training import train as T
    cfg = M.quick_config()
    texts = records.corpus(300, 3) + Qs.all_texts()
    sp = tokenizer.load(tokenizer.train_spm(texts, 600, hard_limit=False))
    rng = np.random.default_rng(11)
    phantom = ("63-year-old woman, former smoker who quit 4 years ago, with a 41 pack-year smoking "
               "history. Referred for lung cancer screening with low-dose chest CT.")
    cases = [D.Case(ct=np.zeros((1, 1, 1), np.float16), nodules=[], lung_rads="1",
                    facts=records.random_facts(rng), sp_yx=1.0, record_text=phantom) for _ in range(40)]
    s = T.Sampler(cases, sp, cfg, {}, T.QUICK, 5)
    seen = 0
    for c in cases:
        for lang in ("en", "zh"):
            for kind, want in (("age", str(c.facts.age)), ("pack_years", str(c.facts.pack_years)),
                               ("sex", c.facts.sex if lang == "en" else "男女"[c.facts.sex == "female"])):
                x = s.sample(c, kind=kind, lang=lang, mode="typed", record=True)
                ev = x["evidence"]
                assert ev == list(range(ev[0], ev[-1] + 1)), ev  # one contiguous run
                got = sp.decode([x["record"][i] for i in ev]).strip()
                if kind == "pack_years" and c.facts.pack_years == 0:
                    continue  # never smoked: the whole smoking sentence
                if got != want and x["record"] and phantom[:20] in sp.decode(x["record"][1:]):
                    want = {"age": "63", "pack_years": "41", "sex": "woman"}[kind]  # own record
                assert got == want, (kind, lang, got, want)
                seen += 1
    first = s.sample(cases[0], kind="age", record=True)
    b = T.collate([first, s.sample(cases[1], kind="presence", record=False)], cfg, with_ct=False)
    age = "63" if phantom[:20] in sp.decode(first["record"][1:]) else str(cases[0].facts.age)
    ev0 = b["evidence"][0]
    assert ev0[0].sum() == 1 and ev0[1].sum() == 1 and b["evidence"][1].sum() == 0 and "ct" not in b
    digits = sp.decode([int(b["record"][0][ev0[0].argmax()]), int(b["record"][0][ev0[1].argmax()])])
    assert digits == age, (digits, age)  # the first head on the tens, the others on the units
    print(f"evidence: {seen} answers' tokens found in their records")


def check_dense_head() -> None:
    """The dense detection head (docs/MODEL.md section 10): a cell's row against concat(F,
    H_img[patch]) through the two layers by hand; its candidates against the patch rule run
    on a configuration whose patches are the cells; the target cell of a nodule is where the
    candidate centre formula puts it; a flipped crop keeps its heatmap peak on the nodule."""

    from training import data as D
    from training import train as T

    torch.manual_seed(7)
    cfg = M.golden_config()
    cfg.ct_conv_channels, cfg.ct_conv_strides, cfg.det_dense_ff = (4, 8), (2, 2, 2, 1, 2, 2), 24
    cfg.validate()
    m = M.Consilium(cfg).eval()
    ct = torch.rand((1,) + cfg.ct_grid)
    with torch.no_grad():
        f = m.ct.conv_features(ct)
        h, _, _ = m.encode_image(ct, conv_feat=f)
        raw = m.dense_det(f, h)[0]
        Dc, Hc, Wc = cfg.conv_cells
        qd, qh, qw = cfg.conv_patch
        ny, nx = cfg.ct_grid[1] // cfg.ct_patch[1], cfg.ct_grid[2] // cfg.ct_patch[2]
        for z, y, x in [(0, 0, 0), (5, 3, 6), (Dc - 1, Hc - 1, Wc - 1)]:
            p = ((z // qd) * ny + y // qh) * nx + x // qw
            want = m.det.dense(torch.cat([f[0, :, z, y, x], h[0, p]]))
            assert torch.allclose(raw[(z * Hc + y) * Wc + x], want, atol=1e-6), (z, y, x)
        # Candidates: a planted field of peaks (with a tie), against the patch rule on cells.
        raw = raw.clone()
        raw[:, 0] = torch.randn(raw.shape[0]) * 2
        raw[5, 0] = raw[6, 0] = 9.0  # neighbours with equal scores: the lower index wins
        cell_cfg = dataclasses.replace(cfg, ct_patch=cfg.conv_stride, det_threshold=0.7, det_max_candidates=40)
        got = M.dense_candidates(raw, cell_cfg)
        want = M.candidates(raw, cell_cfg)
        assert [(c["cell"], c["grid_zyx"], c["type"]) for c in got] == \
            [(c["patch"], c["grid_zyx"], c["type"]) for c in want], "dense candidates differ from the rule"
        assert got[0]["cell"] == 5 and all(c["cell"] != 6 for c in got)
    case = D.toy_case(np.random.default_rng(4), cfg, n_nodules=1)
    t = D.dense_targets(case, cfg)
    k, u = t["pos"][0], t["off"][0]
    g = [(c + float(uu)) * s - 0.5 for c, uu, s in
         zip((k // (Hc * Wc), (k // Wc) % Hc, k % Wc), u, cfg.conv_stride)]
    assert np.allclose(g, case.nodules[0].grid_zyx, atol=1e-2), (g, case.nodules[0].grid_zyx)
    heat = T.heat_target(case, cfg.conv_cells, cfg.conv_stride)
    x0 = np.zeros(cfg.ct_grid, np.float32)
    x0[tuple(int(round(v)) for v in case.nodules[0].grid_zyx)] = 1.0
    # The trunk's type target: the nodule's type on its peak cell and the cells around it
    # where its heat is >= 0.5, no label (-1) elsewhere.
    tt = T.type_target(case, cfg.conv_cells, cfg.conv_stride)
    ti = M.TYPES.index(case.nodules[0].type)
    assert ((tt == ti) == ((heat >= 0.5) | (heat >= 1.0))).all() and ((tt == ti) | (tt == -1)).all(), \
        np.unique(tt, return_counts=True)
    for seed in range(8):
        x, hf, tf = T.flip_crop(x0, heat, np.random.default_rng(seed), cfg.ct_grid[1] == cfg.ct_grid[2], tt)
        # The nodule's centre voxel, flipped, lies in the flipped map's peak cell, which
        # keeps the nodule's type.
        vz, vy, vx = np.unravel_index(np.argmax(x), x.shape)
        pz, py, px = np.unravel_index(np.argmax(hf), hf.shape)
        assert (vz // cfg.conv_stride[0], vy // cfg.conv_stride[1], vx // cfg.conv_stride[2]) == (pz, py, px), \
            (seed, (vz, vy, vx), (pz, py, px))
        assert tf[pz, py, px] == ti and ((tf == ti) == (hf >= 0.5)).all(), seed
    # A map-only head with the solid-part column: rows read F alone, a candidate's lobe adds
    # the patch head's logits of its patch, its solid share is sigmoid(column 13).
    mcfg = dataclasses.replace(cfg, det_dense_map_only=True, lung_rads_from_findings=True, det_threshold=0.6)
    mm = M.Consilium(mcfg).eval()
    with torch.no_grad():
        f = mm.ct.conv_features(ct)
        _, det, _ = mm.encode_image(ct, conv_feat=f)
        raw = mm.dense_det(f, None)[0]
        assert raw.shape == (Dc * Hc * Wc, 14)
        for z, y, x in [(0, 0, 0), (5, 3, 6)]:
            assert torch.allclose(raw[(z * Hc + y) * Wc + x], mm.det.dense(f[0, :, z, y, x]), atol=1e-6)
        raw[:, 0] = torch.randn(raw.shape[0]) * 2
        cands = M.dense_candidates(raw, mcfg, det[0])
        assert cands
        for c in cands:
            want = M.LOBES[int(torch.argmax(raw[c["cell"], 8:13] + det[0, c["patch"], 8:13]))]
            assert c["lobe"] == want and abs(c["solid_fraction"] - float(torch.sigmoid(raw[c["cell"], 13]))) < 1e-6
    # Lung-RADS of findings (the same cases as the engine's test_consilium_golden lungRadsRules).
    gg = dict(type="ground-glass", diameter_vox=10.0)
    ps = dict(type="part-solid", diameter_vox=6.0, solid_fraction=0.55)
    assert M.lung_rads_of_findings([], 2.0) == "1" and M.lung_rads_of_findings([gg], 2.0) == "2"
    assert M.lung_rads_of_findings([gg, ps], 2.0) == "4A"
    assert M.lung_rads_of_findings([dict(ps, solid_fraction=0.45), gg], 2.0) == "3"
    assert M.lung_rads_nodule("solid", 5.96, 5.96) == "3" and M.lung_rads_nodule("solid", 5.94, 5.94) == "2"
    print(f"dense head: rows by hand, {len(got)} candidates as the patch rule gives them, target cell "
          f"and offset round-trip, flips keep the heatmap on the nodule; map-only rows, {len(cands)} "
          "candidates' lobes and solid parts, Lung-RADS of findings")


def check_sampled_heat_loss() -> None:
    """--dense-neg-rate: every cell near a nodule and a share r of the others, weighted 1/r,
    gives the focal loss over all cells in expectation (and exactly, with unit weights)."""
    from training import train as T
    g = torch.Generator().manual_seed(3)
    t = torch.zeros(4000)
    t[:40] = torch.linspace(0.01, 0.9, 40)
    t[40:43] = 1.0
    logit = torch.randn(4000, generator=g) - 2
    full = T.heat_loss(logit, t).item()
    assert abs(T.heat_loss(logit, t, torch.ones(4000)).item() - full) < 1e-6 * full
    r, est = 0.1, []
    for _ in range(400):
        keep = (t >= 1e-3) | (torch.rand(4000, generator=g) < r)
        w = torch.where(t[keep] >= 1e-3, 1.0, 1.0 / r)
        est.append(T.heat_loss(logit[keep], t[keep], w).item())
    mean = float(np.mean(est))
    assert abs(mean - full) < 0.02 * full, (mean, full)
    print(f"sampled heat loss: {mean:.3f} over 400 draws at rate {r}, all cells {full:.3f}")


def check_lobe_targets() -> None:
    """Every lung patch's lobe: the majority of its lung voxels, -1 where lung fills < 10 %;
    a nodule's own lobe wins on its patch; det_loss's lobe_all term reaches the lobe columns
    of unlabelled-by-nodule patches and nothing where no patch is labelled."""
    from training import data as D
    from training import train as T

    cfg = M.quick_config()
    Dg, Hg, Wg = cfg.ct_grid
    pd, ph, pw = cfg.ct_patch
    labels = np.zeros(cfg.ct_grid, np.uint8)
    labels[:pd, :ph, :pw] = 3                        # patch 0: all RLL
    labels[:pd, :ph, pw:2 * pw] = 1                  # patch 1: RUL with a third LUL
    labels[:pd // 2, : ph * 2 // 3, pw:2 * pw] = 4   # (4 x 2/3 of 8 x 1 = a third)
    labels[:pd, :ph, 2 * pw] = 5                     # patch 2: one column, under 10 %
    lp = D.patch_lobes(labels, cfg)
    assert lp[0] == M.LOBES.index("RLL") and lp[1] == M.LOBES.index("RUL") and lp[2] == -1
    assert (lp[3:] == -1).all()
    case = D.Case(ct=np.zeros(cfg.ct_grid, np.float16), lung_rads="2", facts=None, sp_yx=1.0,
                  nodules=[D.Nodule([1.0, 1.0, pw + 1.0], 8.0, 8.0, "solid", "LUL")], lobe_patch=lp)
    t = D.det_targets(case, cfg)
    assert t["lobe_all"][1] == M.LOBES.index("LUL") and t["lobe_all"][0] == M.LOBES.index("RLL")
    assert t["lobe"][0] == -1 and (t["lobe_all"][3:] == -1).all()
    b = {f"det_{k}": torch.from_numpy(np.stack([t[k]])) for k in t}
    b["lung_rads"] = torch.tensor([1])
    det = torch.zeros(1, cfg.n_patch, M.DET_COLS, requires_grad=True)
    lr = torch.zeros(1, len(M.LUNG_RADS))
    base = T.det_loss(det, lr, b)
    full = T.det_loss(det, lr, b, lobe_all=0.5)
    assert abs((full - base).item() - 0.5 * np.log(5)) < 1e-5  # uniform logits: log 5 per patch
    full.backward()
    g = det.grad[0]
    assert g[0, 8:13].abs().sum() > 0 and g[3:, 8:13].abs().sum() == 0 and g[0, 5:8].abs().sum() == 0
    none = dict(b, det_lobe_all=torch.full_like(b["det_lobe_all"], -1))
    assert abs(T.det_loss(det, lr, none, lobe_all=0.5).item() - base.item()) < 1e-6
    rng = np.random.default_rng(3)
    toys = [D.toy_case(rng, cfg, 2) for _ in range(20)]
    agree = [tc.lobe_patch[D.patch_index(n.grid_zyx, cfg)] == M.LOBES.index(n.lobe) for tc in toys for n in tc.nodules]
    assert np.mean(agree) > 0.7, np.mean(agree)
    print(f"lobe targets: patch majority, nodule's lobe on its patch, det_loss's lobe_all term; "
          f"toy nodules on their patch's lobe {np.mean(agree) * 100:.0f} %")


def check_lobe_plane() -> None:
    """A finding's lobe under det_lobe_plane: the same numbers as the engine's
    test_consilium_golden findingLobeVotesInThePlane."""
    cfg = dataclasses.replace(M.quick_config(), ct_grid=(8, 24, 24), ct_patch=(4, 8, 8), det_dense_map_only=True)
    det = torch.zeros(18, 13)
    det[:9, 8 + 0] = 2.0   # slab 0: RUL around
    det[4, 8 + 3] = 6.0    # the centre patch alone: LUL
    det[9:, 8 + 2] = 9.0   # slab 1: RLL everywhere
    zero = torch.zeros(14)
    assert M.finding_lobe(zero, det, 4, cfg) == 3
    cfg.det_lobe_plane = True
    assert M.finding_lobe(zero, det, 4, cfg) == 0
    det[1, 8 + 4] = det[3, 8 + 4] = 5.0
    assert M.finding_lobe(zero, det, 0, cfg) == 4 and M.finding_lobe(zero, det, 13, cfg) == 2
    row = torch.zeros(14)
    row[8 + 1] = 20.0
    assert M.finding_lobe(row, det, 4, cfg) == 1
    cfg.det_lobe_plane = False
    assert M.finding_lobe(row, det, 4, cfg) == 1 and M.finding_lobe(zero, det, 0, cfg) == 0
    try:
        dataclasses.replace(M.quick_config(), det_lobe_plane=True).validate()
        raise AssertionError("det_lobe_plane without a map-only head was accepted")
    except ValueError:
        pass
    print("lobe plane: a finding's lobe voted by its slab neighbours, as the engine's test")


def main() -> int:
    check_lobe_plane()
    check_sampled_heat_loss()
    check_lobe_targets()
    check_ct_conv()
    check_dense_head()
    check_evidence()
    check_image_pointer()
    check_quantizers()
    check_gguf_roundtrip()
    check_gguf_import()
    check_sliding_window_chunks()
    check_batch_equals_solo()
    check_losses()
    print("selftest: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
