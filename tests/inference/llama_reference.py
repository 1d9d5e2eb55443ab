#!/usr/bin/python3
"""NumPy reference of the `llama` architecture, for tests/inference/test_llama.cpp.

Reads a GGUF v3 file on its own (no project code), dequantises F32/F16/BF16/Q8_0/Q4_0
tensors with ggml's block layouts, and runs the Hugging Face formulation of the model in
float64: Q/K rows are un-permuted back to the HF layout (inverse of convert_hf_to_gguf.py's
LlamaModel.permute) and RoPE uses HF's rotate_half. Matching the engine (which uses the
file's rows as is with adjacent-pair "normal" RoPE) therefore checks the convention too.

usage: llama_reference.py MODEL.gguf OUT.f32 TOKEN [TOKEN ...]
writes logits [n_tokens, vocab] as little-endian float32.
"""
import struct
import sys

import numpy as np

GGML_BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 8: (32, 34), 2: (32, 18)}


def read_gguf(path):
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals[0] if len(vals) == 1 else vals

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8", errors="replace")
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    assert data[:4] == b"GGUF"
    pos = 4
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    assert version == 3
    kv = {}
    for _ in range(n_kv):
        key = string()
        kv[key] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("I")
        ne = [take("Q") for _ in range(nd)]
        infos.append((name, ne, take("I"), take("Q")))
    align = kv.get("general.alignment", 32)
    start = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, t, off in infos:
        n = int(np.prod(ne))
        be, bb = GGML_BLOCK[t]
        raw = np.frombuffer(data, dtype=np.uint8, count=n // be * bb, offset=start + off)
        tensors[name] = dequantize(raw, t, n).reshape(list(reversed(ne)))
    return kv, tensors


def fp16(u16):
    return u16.view(np.float16).astype(np.float64)


def dequantize(raw, t, n):
    if t == 0:
        return raw.view(np.float32).astype(np.float64)
    if t == 1:
        return raw.view(np.float16).astype(np.float64)
    if t == 30:
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if t == 8:  # Q8_0: {fp16 d; int8 qs[32]}
        b = raw.reshape(-1, 34)
        d = fp16(b[:, :2].copy().view(np.uint16))
        qs = b[:, 2:].view(np.int8).astype(np.float64)
        return (qs * d).reshape(-1)
    if t == 2:  # Q4_0: {fp16 d; uint8 qs[16]}, low nibbles = 0..15, high = 16..31
        b = raw.reshape(-1, 18)
        d = fp16(b[:, :2].copy().view(np.uint16))
        qs = b[:, 2:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float64) - 8.0
        return (q * d).reshape(-1)
    raise ValueError("type %d" % t)


def unpermute(w, n_head):
    """Inverse of convert_hf_to_gguf.py LlamaModel.permute (GGUF rows -> HF rows)."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def silu(x):
    return x / (1.0 + np.exp(-x))


def main():
    path, out = sys.argv[1], sys.argv[2]
    tokens = [int(t) for t in sys.argv[3:]]
    kv, T = read_gguf(path)
    dim = kv["llama.embedding_length"]
    n_layer = kv["llama.block_count"]
    n_head = kv["llama.attention.head_count"]
    n_kv = kv.get("llama.attention.head_count_kv", n_head)
    hd = dim // n_head
    base = kv.get("llama.rope.freq_base", 10000.0)
    eps = kv.get("llama.attention.layer_norm_rms_epsilon", 1e-5)
    n_exp = kv.get("llama.expert_count", 0)
    k_used = kv.get("llama.expert_used_count", 0)
    n = len(tokens)

    x = T["token_embd.weight"][tokens]  # [n, dim]
    pos = np.arange(n)
    inv_freq = base ** (-np.arange(0, hd, 2) / hd)
    ang = np.outer(pos, inv_freq)
    cos = np.cos(np.concatenate([ang, ang], axis=-1))[:, None, :]
    sin = np.sin(np.concatenate([ang, ang], axis=-1))[:, None, :]
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(n_layer):
        p = "blk.%d." % i
        h = rms_norm(x, T[p + "attn_norm.weight"], eps)
        q = (h @ unpermute(T[p + "attn_q.weight"], n_head).T).reshape(n, n_head, hd)
        k = (h @ unpermute(T[p + "attn_k.weight"], n_kv).T).reshape(n, n_kv, hd)
        v = (h @ T[p + "attn_v.weight"].T).reshape(n, n_kv, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = n_head // n_kv
        k = np.repeat(k, rep, axis=1)
        v = np.repeat(v, rep, axis=1)
        s = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        a = np.einsum("hqk,khd->qhd", s, v).reshape(n, n_head * hd)
        x = x + a @ T[p + "attn_output.weight"].T
        h = rms_norm(x, T[p + "ffn_norm.weight"], eps)
        if n_exp == 0:
            f = silu(h @ T[p + "ffn_gate.weight"].T) * (h @ T[p + "ffn_up.weight"].T)
            x = x + f @ T[p + "ffn_down.weight"].T
        else:
            logits = h @ T[p + "ffn_gate_inp.weight"].T  # [n, E]
            probs = np.exp(logits - logits.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            y = np.zeros_like(x)
            for t in range(n):
                top = np.argsort(-probs[t], kind="stable")[:k_used]
                w = probs[t, top] / probs[t, top].sum()
                for e, we in zip(top, w):
                    g = T[p + "ffn_gate_exps.weight"][e]
                    u = T[p + "ffn_up_exps.weight"][e]
                    dn = T[p + "ffn_down_exps.weight"][e]
                    y[t] += we * ((silu(h[t] @ g.T) * (h[t] @ u.T)) @ dn.T)
            x = x + y
    x = rms_norm(x, T["output_norm.weight"], eps)
    w_out = T["output.weight"] if "output.weight" in T else T["token_embd.weight"]
    (x @ w_out.T).astype("<f4").tofile(out)


if __name__ == "__main__":
    main()
