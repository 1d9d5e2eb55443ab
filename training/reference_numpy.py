"""A second, independent implementation of docs/MODEL.md in NumPy, checked against the golden set.

It reads only the GGUF file (keys and tensors) and the golden inputs, never training/model.py,
so it proves that the document alone is enough to reproduce the PyTorch mirror — the same
position the C++ engine is in. It is also a readable model of the engine's graph.

Usage: /usr/bin/python3 -m training.reference_numpy --golden DIR [--q4_0]
Prints the worst error per tensor and exits 1 when a limit of section 15 is exceeded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

from training.gguf_export import read_gguf

f32 = np.float32


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True, dtype=np.float64).astype(f32)
    var = ((x - mu) ** 2).mean(-1, keepdims=True, dtype=np.float64).astype(f32)
    return ((x - mu) / np.sqrt(var + f32(eps)) * w + b).astype(f32)


def gelu(x):
    return (0.5 * x * (1 + np.tanh(f32(math.sqrt(2 / math.pi)) * (x + f32(0.044715) * x ** 3)))).astype(f32)


def softmax(s):
    m = np.max(s, axis=-1, keepdims=True)
    e = np.exp(s - m)
    return (e / e.sum(-1, keepdims=True)).astype(f32)


class Ref:
    def __init__(self, path):
        self.kv, tensors = read_gguf(path)
        self.t = {k: v[2] for k, v in tensors.items()}
        k = self.kv
        self.d = k["consilium.embedding_length"]
        self.hd = k["consilium.head_dim"]
        self.eps = k["consilium.layer_norm_epsilon"]
        self.base = k["consilium.rope.freq_base"]
        self.cap = {}

    def W(self, name):
        return self.t[name]

    def linear(self, x, prefix):
        return (x @ self.W(prefix + ".weight").T + self.W(prefix + ".bias")).astype(f32)

    def ln(self, x, prefix):
        return layer_norm(x, self.W(prefix + ".weight"), self.W(prefix + ".bias"), self.eps)

    def rope(self, x, pos):
        """x [h, n, hd]; NeoX pairs (i, i + hd/2), angles in float64."""
        hd = x.shape[-1]
        i = np.arange(hd // 2, dtype=np.float64)
        theta = np.power(np.float64(self.base), -2.0 * i / hd)
        ang = pos[:, None].astype(np.float64) * theta[None, :]
        c, s = np.cos(ang).astype(f32), np.sin(ang).astype(f32)
        a, b = x[..., :hd // 2], x[..., hd // 2:]
        return np.concatenate([a * c - b * s, a * s + b * c], axis=-1).astype(f32)

    def mha(self, x, y, p, names=("attn_q", "attn_k", "attn_v", "attn_out"), mask=None, rope=False):
        hd = self.hd
        Q = self.linear(x, f"{p}.{names[0]}")
        K = self.linear(y, f"{p}.{names[1]}")
        V = self.linear(y, f"{p}.{names[2]}")
        h = Q.shape[1] // hd
        Q = Q.reshape(-1, h, hd).transpose(1, 0, 2)
        K = K.reshape(-1, h, hd).transpose(1, 0, 2)
        V = V.reshape(-1, h, hd).transpose(1, 0, 2)
        if rope:
            Q = self.rope(Q, np.arange(Q.shape[1]))
            K = self.rope(K, np.arange(K.shape[1]))
        S = (Q @ K.transpose(0, 2, 1) / f32(math.sqrt(hd))).astype(f32)
        if mask is not None:
            S = np.where(mask[None], S, -np.inf).astype(f32)
        A = softmax(S)
        O = (A @ V).transpose(1, 0, 2).reshape(x.shape[0], h * hd)
        return self.linear(O, f"{p}.{names[3]}"), A

    def block(self, x, p, mask=None, rope=False):
        xn = self.ln(x, f"{p}.attn_norm")
        a, _ = self.mha(xn, xn, p, mask=mask, rope=rope)
        h = x + a
        return h + self.linear(gelu(self.linear(self.ln(h, f"{p}.ffn_norm"), f"{p}.ffn_up")), f"{p}.ffn_down")

    # -- section 5
    def ct(self, ct):
        D, H, W = self.kv["consilium.ct.grid"]
        pd, ph, pw = self.kv["consilium.ct.patch"]
        nz, ny, nx = D // pd, H // ph, W // pw
        if "consilium.ct.conv_channels" in self.kv:
            return self.ct_conv(ct, (pd, ph, pw), (nz, ny, nx))
        P = np.zeros((nz * ny * nx, pd * ph * pw), f32)
        for p in range(nz * ny * nx):
            pz, py, px = p // (ny * nx), (p // nx) % ny, p % nx
            for dz in range(pd):
                for dy in range(ph):
                    for dx in range(pw):
                        P[p, (dz * ph + dy) * pw + dx] = ct[pz * pd + dz, py * ph + dy, px * pw + dx]
        self.cap["ct.patches"] = P
        if "consilium.ct.stem_patch" in self.kv:
            # The stem: sub-patch s = (az*my + ay)*mx + ax of patch p, element
            # (sz*sh + sy)*sw + sx; then gelu(Linear) per sub-patch, concatenated in s order.
            sd, sh, sw = self.kv["consilium.ct.stem_patch"]
            C = self.kv["consilium.ct.stem_channels"]
            my, mx = ph // sh, pw // sw
            n_sub = (pd // sd) * my * mx
            S = np.zeros((nz * ny * nx, n_sub, sd * sh * sw), f32)
            for s in range(n_sub):
                az, ay, ax = s // (my * mx), (s // mx) % my, s % mx
                for sz in range(sd):
                    for sy in range(sh):
                        for sx in range(sw):
                            e = ((az * sd + sz) * ph + ay * sh + sy) * pw + ax * sw + sx
                            S[:, s, (sz * sh + sy) * sw + sx] = P[:, e]
            U = gelu(self.linear(S.reshape(-1, sd * sh * sw), "ct.stem")).reshape(nz * ny * nx, n_sub * C)
            self.cap["ct.stem"] = U
            x = self.linear(U, "ct.patch_embd") + self.W("ct.pos_embd")
        else:
            x = self.linear(P, "ct.patch_embd") + self.W("ct.pos_embd")
        return self.ct_blocks(x)

    def ct_conv(self, ct, patch, n):
        """Section 5 with the convolution layers: for each layer, output voxel (z, y, x) of
        channel o = gelu(b[o] + sum over c, kz, ky, kx of W[o, (c*3 + kz)*9 + ky*3 + kx] *
        in[c, z*sz + kz - 1, y*sy + ky - 1, x*sx + kx - 1]) with zeros outside; then the
        patches of the last map, element ((dz*ph' + dy)*pw' + dx)*C + c."""
        f = ct[None].astype(f32)  # [C, D, H, W]
        chans = self.kv["consilium.ct.conv_channels"]
        strides = self.kv["consilium.ct.conv_strides"]
        stride_tot = [1, 1, 1]
        for i, cout in enumerate(chans):
            sz, sy, sx = strides[3 * i:3 * i + 3]
            C, Di, Hi, Wi = f.shape
            Do, Ho, Wo = (Di - 1) // sz + 1, (Hi - 1) // sy + 1, (Wi - 1) // sx + 1
            pad = np.zeros((C, Di + 2, Hi + 2, Wi + 2), f32)
            pad[:, 1:-1, 1:-1, 1:-1] = f
            Wt = self.W(f"ct.conv.{i}.weight").reshape(cout, C, 3, 3, 3)
            out = np.zeros((cout, Do, Ho, Wo), np.float64)
            for kz in range(3):
                for ky in range(3):
                    for kx in range(3):
                        tap = pad[:, kz:kz + sz * (Do - 1) + 1:sz, ky:ky + sy * (Ho - 1) + 1:sy,
                                  kx:kx + sx * (Wo - 1) + 1:sx]  # [C, Do, Ho, Wo]
                        out += np.einsum("oc,czyx->ozyx", Wt[:, :, kz, ky, kx].astype(np.float64), tap)
            out += self.W(f"ct.conv.{i}.bias")[:, None, None, None]
            f = gelu(out.astype(f32))
            self.cap[f"ct.conv.{i}"] = f.transpose(1, 2, 3, 0)
            stride_tot = [a * b for a, b in zip(stride_tot, (sz, sy, sx))]
        qd, qh, qw = (p // s for p, s in zip(patch, stride_tot))
        nz, ny, nx = n
        C = f.shape[0]
        P = f.reshape(C, nz, qd, ny, qh, nx, qw).transpose(1, 3, 5, 2, 4, 6, 0).reshape(nz * ny * nx, -1)
        self.cap["ct.patches"] = P
        self.conv_map = f  # [C, D', H', W'], for the dense head
        return self.ct_blocks(self.linear(P, "ct.patch_embd") + self.W("ct.pos_embd"))

    def ct_blocks(self, x):
        self.cap["ct.embd"] = x
        for l in range(self.kv["consilium.ct.block_count"]):
            x = self.block(x, f"ct.blk.{l}")
            self.cap[f"ct.blk.{l}.out"] = x
        x = self.ln(x, "ct.out_norm")
        self.cap["ct.out"] = x
        return x

    # -- section 6
    def conv(self, x, prefix):
        """x [C, T] -> [O, (T-1)//2+1]; kernel 3, stride 2, zero padding 1."""
        w, b = self.W(prefix + ".weight"), self.W(prefix + ".bias")
        T = x.shape[1]
        To = (T - 1) // 2 + 1
        xp = np.concatenate([np.zeros((x.shape[0], 1), f32), x, np.zeros((x.shape[0], 2), f32)], axis=1)
        cols = np.stack([xp[:, 2 * t:2 * t + 3] for t in range(To)])  # [To, C, 3]
        return (np.einsum("ock,tck->ot", w, cols) + b[:, None]).astype(f32)

    def audio(self, mel):
        x = gelu(self.conv(mel, "audio.conv1"))
        self.cap["audio.conv1"] = x.T
        x = gelu(self.conv(x, "audio.conv2")).T.copy()
        self.cap["audio.conv2"] = x
        n, d = x.shape
        i = np.arange(d // 2, dtype=np.float64)
        w = np.exp(-math.log(10000.0) * i / (d // 2))
        t = np.arange(n, dtype=np.float64)[:, None] * w[None, :]
        x = x + np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(f32)
        self.cap["audio.embd"] = x
        for l in range(self.kv["consilium.audio.block_count"]):
            x = self.block(x, f"audio.blk.{l}")
            self.cap[f"audio.blk.{l}.out"] = x
        x = self.ln(x, "audio.out_norm")
        self.cap["audio.out"] = x
        return x

    # -- section 7
    def text(self, ids, name):
        x = self.W("token_embd.weight")[ids]
        self.cap[f"{name}.embd"] = x
        n, win = len(ids), self.kv["consilium.text.sliding_window"]
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        mask = (j <= i) & (i - j < win)
        for l in range(self.kv["consilium.text.block_count"]):
            x = self.block(x, f"text.blk.{l}", mask=mask, rope=True)
            self.cap[f"{name}.blk.{l}.out"] = x
        x = self.ln(x, "text.out_norm")
        self.cap[f"{name}.out"] = x
        return x

    # -- section 8 (all four modalities present)
    def fusion(self, H):
        te = self.W("fusion.type_embd")
        Q = np.concatenate([H["question"] + te[3], H["voice"] + te[2]]).astype(f32)
        self.cap["fusion.query"] = Q
        u = Q.mean(0, dtype=np.float64).astype(f32)
        r = gelu(self.linear(self.ln(u, "fusion.gate_norm"), "fusion.gate_up"))
        logits = self.linear(r, "fusion.gate_out")
        self.cap["fusion.gate_logits"] = logits
        g = softmax(logits)
        self.cap["fusion.weights"] = g
        Xq = self.ln(Q, "fusion.q_norm")
        F = Q.copy()
        A = {}
        for mi, m in enumerate(("image", "record", "voice", "question")):
            z, A[m] = self.mha(Xq, H[m], f"fusion.{m}")
            self.cap[f"fusion.attn.{m}"] = A[m]
            self.cap[f"fusion.z.{m}"] = z
            F = F + g[mi] * z
        F2 = F + self.linear(gelu(self.linear(self.ln(F, "fusion.ffn_norm"), "fusion.ffn_up")), "fusion.ffn_down")
        mem = self.ln(F2, "fusion.out_norm")
        self.cap["fusion.out"] = mem
        return mem, A

    # -- section 9
    def moe(self, z, p):
        rho = (z @ self.W(f"{p}.ffn_gate_inp.weight").T).astype(f32)
        Wu, bu = self.W(f"{p}.ffn_up_exps.weight"), self.W(f"{p}.ffn_up_exps.bias")
        Wd, bd = self.W(f"{p}.ffn_down_exps.weight"), self.W(f"{p}.ffn_down_exps.bias")
        out = np.zeros_like(z)
        idx = np.zeros((z.shape[0], 2), np.int32)
        wts = np.zeros((z.shape[0], 2), f32)
        for t in range(z.shape[0]):
            order = sorted(range(len(rho[t])), key=lambda e: (-rho[t][e], e))
            e1, e2 = order[0], order[1]
            w1 = f32(1.0) / (f32(1.0) + np.exp(rho[t][e2] - rho[t][e1]))
            w2 = f32(1.0) - w1
            for e, w in ((e1, w1), (e2, w2)):
                hdn = gelu((Wu[e] @ z[t] + bu[e]).astype(f32))
                out[t] += w * (Wd[e] @ hdn + bd[e])
            idx[t], wts[t] = (e1, e2), (w1, w2)
        return out, rho, idx, wts

    def decode(self, ids, mem, capture=True):
        x = self.W("token_embd.weight")[ids]
        cap = self.cap if capture else {}
        cap["dec.embd"] = x
        n = len(ids)
        causal = np.tril(np.ones((n, n), bool))
        cross = []
        for l in range(self.kv["consilium.decoder.block_count"]):
            p = f"dec.blk.{l}"
            xn = self.ln(x, f"{p}.attn_norm")
            a, _ = self.mha(xn, xn, p, mask=causal, rope=True)
            h = x + a
            cap[f"{p}.self_out"] = h
            c, A = self.mha(self.ln(h, f"{p}.cross_norm"), mem, p,
                            names=("cross_q", "cross_k", "cross_v", "cross_out"))
            h = h + c
            cap[f"{p}.cross_out"] = h
            cap[f"{p}.cross_attn"] = A
            cross.append(A)
            m, rho, idx, w = self.moe(self.ln(h, f"{p}.ffn_norm"), p)
            cap[f"{p}.router_logits"], cap[f"{p}.experts"], cap[f"{p}.expert_weights"] = rho, idx, w
            x = (h + m).astype(f32)
            cap[f"{p}.out"] = x
        logits = (self.ln(x, "dec.out_norm") @ self.W("token_embd.weight").T).astype(f32)
        cap["dec.logits"] = logits
        return logits, cross

    # -- section 10
    def heads(self, h):
        det = self.linear(gelu(self.linear(h, "det.up")), "det.out")
        v = np.concatenate([h.mean(0, dtype=np.float64).astype(f32), h.max(0)])
        lr = self.linear(gelu(self.linear(v, "lung_rads.up")), "lung_rads.out")
        self.cap["det.raw"], self.cap["lung_rads.logits"] = det, lr
        if "consilium.det.dense_feed_forward_length" in self.kv:
            # Section 10, dense head: cell (z, y, x) reads concat(F[:, z, y, x], h[patch]), or
            # F[:, z, y, x] alone in a map-only head.
            f = self.conv_map
            C, Dc, Hc, Wc = f.shape
            grid, patch = self.kv["consilium.ct.grid"], self.kv["consilium.ct.patch"]
            qd, qh, qw = (p * c // g for p, c, g in zip(patch, (Dc, Hc, Wc), grid))
            ny, nx = grid[1] // patch[1], grid[2] // patch[2]
            map_only = bool(self.kv.get("consilium.det.dense_map_only", False))
            rows = np.zeros((Dc * Hc * Wc, C + (0 if map_only else h.shape[1])), f32)
            for z in range(Dc):
                for y in range(Hc):
                    for x in range(Wc):
                        p = ((z // qd) * ny + y // qh) * nx + x // qw
                        rows[(z * Hc + y) * Wc + x] = f[:, z, y, x] if map_only else np.concatenate([f[:, z, y, x], h[p]])
            self.cap["det.dense.raw"] = self.linear(gelu(self.linear(rows, "det.dense.up")), "det.dense.out")


def load_golden(directory, stem):
    j = json.load(open(os.path.join(directory, stem + ".json"), encoding="utf-8"))
    raw = open(os.path.join(directory, stem + ".bin"), "rb").read()
    out = {}
    for name, e in j["tensors"].items():
        dt = "<f4" if e["dtype"] == "f32" else "<i4"
        out[name] = np.frombuffer(raw, dtype=dt, count=e["count"], offset=e["offset"]).reshape(e["shape"])
    return out, j


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golden", required=True)
    ap.add_argument("--q4_0", action="store_true", help="check the Q4_0 file against golden_q4_0")
    ap.add_argument("--stem", action="store_true",
                    help="check the CT-stem file against golden_stem (dump_golden --stem)")
    ap.add_argument("--conv", action="store_true",
                    help="check the CT-convolution file against golden_conv (dump_golden --conv)")
    ap.add_argument("--conv-map", action="store_true",
                    help="check the map-only dense head file against golden_conv_map (dump_golden --conv-map)")
    a = ap.parse_args(argv)
    stem = ("golden_q4_0" if a.q4_0 else "golden_stem" if a.stem else "golden_conv_map" if a.conv_map else
            "golden_conv" if a.conv else "golden")
    model = ("consilium-golden-q4_0.gguf" if a.q4_0 else
             "consilium-golden-stem-f32.gguf" if a.stem else
             "consilium-golden-conv-map-f32.gguf" if a.conv_map else
             "consilium-golden-conv-f32.gguf" if a.conv else "consilium-golden-f32.gguf")
    gold, _ = load_golden(a.golden, stem)
    r = Ref(os.path.join(a.golden, model))
    H = {"image": r.ct(gold["in.ct"])}
    r.heads(H["image"])
    H["record"] = r.text(gold["in.record_ids"], "record")
    H["voice"] = r.audio(gold["in.mel"])
    H["question"] = r.text(gold["in.question_ids"], "question")
    mem, A = r.fusion(H)
    _, cross = r.decode(gold["in.answer_ids"], mem)
    a_dec = np.mean([c.mean(axis=(0, 1)) for c in cross], axis=0)
    r.cap["expl.image_attn"] = a_dec @ A["image"].mean(0)
    r.cap["expl.record_attn"] = a_dec @ A["record"].mean(0)
    ids = [1]
    while len(ids) < len(gold["gen.ids"]) and (len(ids) == 1 or ids[-1] != 2):
        logits, _ = r.decode(np.array(ids), mem, capture=False)
        ids.append(int(np.argmax(logits[-1])))
    r.cap["gen.ids"] = np.array(ids, np.int32)
    bad = 0
    for name, want in gold.items():
        if name.startswith("in."):
            continue
        got = r.cap.get(name)
        if got is None:
            print(f"MISSING {name}")
            bad += 1
            continue
        if want.dtype.kind == "i":
            ok = np.array_equal(np.asarray(got), want)
            err = 0.0 if ok else float("inf")
        else:
            err = float(np.max(np.abs(np.asarray(got, np.float64) - want)))
            ok = err <= 1e-4 * max(1.0, float(np.max(np.abs(want))))
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:32s} {str(list(want.shape)):16s} max abs err {err:.3g}")
    print(f"{len(gold) - 5 - bad} tensors within limits, {bad} outside")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
