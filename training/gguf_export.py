"""GGUF v3 writer/reader and ggml quantizers in numpy only (docs/MODEL.md section 12).

Block layouts follow ggml (ggml-common.h / ggml-quants.c):
  Q4_0: fp16 d, 16 bytes; byte j = element j (low nibble) | element j+16 (high nibble);
        value = (q - 8) * d; quantize_row_q4_0_ref: d = max / -8 where max is the signed
        element of largest magnitude, q = min(15, (int8)(x/d + 8.5)).
  Q8_0: fp16 d, 32 int8; d = amax / 127, q = roundf(x / d).
The model export walks the state_dict of training/model.py, whose keys are the tensor names.

Usage (export a checkpoint written by training/train.py):
  /usr/bin/python3 -m training.gguf_export --checkpoint out/ckpt.pt --out model.gguf --type q4_0
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
from typing import Dict, List, Tuple

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32
QK = 32

# ggml tensor types
F32, F16, Q4_0, Q8_0, BF16 = 0, 1, 2, 8, 30
TYPE_NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q8_0: "Q8_0", BF16: "BF16"}
# GGUF metadata value types
(T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING,
 T_ARRAY, T_UINT64, T_INT64, T_FLOAT64) = range(13)
_SCALAR = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I",
           T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q",
           T_FLOAT64: "<d"}
_NP = {T_UINT8: np.uint8, T_INT8: np.int8, T_UINT16: np.uint16, T_INT16: np.int16,
       T_UINT32: np.uint32, T_INT32: np.int32, T_FLOAT32: np.float32, T_UINT64: np.uint64,
       T_INT64: np.int64, T_FLOAT64: np.float64}

# Tensors stored Q4_0 in the shipped file ("Q" in docs/MODEL.md section 11).
Q_TENSOR = re.compile(
    r"^(token_embd\.weight|ct\.patch_embd\.weight"
    r"|.*\.(attn|cross)_(q|k|v|out)\.weight"
    r"|.*\.ffn_(up|down)\.weight"
    r"|.*\.ffn_(up|down)_exps\.weight)$")


# ---------------------------------------------------------------------------------------
# Quantizers (bit-exact with ggml's reference C code)


def quantize_q4_0(x: np.ndarray) -> np.ndarray:
    """float32 [..., n] (n % 32 == 0) -> uint8 blocks, 18 bytes per 32 values."""
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)
    idx = np.argmax(np.abs(x), axis=1)  # first maximum, like ggml's strict '<'
    mx = x[np.arange(x.shape[0]), idx]
    d = (mx / np.float32(-8.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1.0) / np.where(d != 0, d, np.float32(1)), 0).astype(np.float32)
    v = (x * inv[:, None]).astype(np.float32) + np.float32(8.5)
    q = np.minimum(15, np.trunc(v).astype(np.int32)).astype(np.uint8)
    out = np.empty((x.shape[0], 18), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
    return out.reshape(-1)


def dequantize_q4_0(b: np.ndarray, n: int) -> np.ndarray:
    blk = np.asarray(b, dtype=np.uint8).reshape(-1, 18)
    d = blk[:, 0:2].copy().view(np.float16).astype(np.float32)
    qs = blk[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
    return ((q - 8.0) * d).reshape(-1)[:n].astype(np.float32)


def quantize_q8_0(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, QK)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127.0)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1.0) / np.where(d != 0, d, np.float32(1)), 0).astype(np.float32)
    v = (x * inv[:, None]).astype(np.float32)
    q = (np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))).astype(np.int8)  # roundf
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(-1)


def dequantize_q8_0(b: np.ndarray, n: int) -> np.ndarray:
    blk = np.asarray(b, dtype=np.uint8).reshape(-1, 34)
    d = blk[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = blk[:, 2:].copy().view(np.int8).astype(np.float32)
    return (q * d).reshape(-1)[:n].astype(np.float32)


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bits (uint16), round to nearest even, NaN kept quiet (ggml)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).reshape(-1)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + (0x7FFF + ((u >> 16) & 1))) >> 16).astype(np.uint16)
    r[nan] = ((u[nan] >> 16) | 64).astype(np.uint16)
    return r


def encode_tensor(x: np.ndarray, ttype: int) -> bytes:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if ttype == F32:
        return x.astype("<f4").tobytes()
    if ttype == F16:
        return x.astype("<f2").tobytes()
    if ttype == BF16:
        return to_bf16(x).astype("<u2").tobytes()
    if x.shape[-1] % QK:
        raise ValueError(f"row length {x.shape[-1]} is not a multiple of {QK}")
    if ttype == Q4_0:
        return quantize_q4_0(x).tobytes()
    if ttype == Q8_0:
        return quantize_q8_0(x).tobytes()
    raise ValueError(f"unsupported tensor type {ttype}")


def decode_tensor(raw: bytes, ttype: int, shape: Tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape)) if shape else 1
    if ttype == F32:
        a = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
    elif ttype == F16:
        a = np.frombuffer(raw, dtype="<f2", count=n).astype(np.float32)
    elif ttype == BF16:
        a = (np.frombuffer(raw, dtype="<u2", count=n).astype(np.uint32) << 16).view(np.float32)
    elif ttype == Q4_0:
        a = dequantize_q4_0(np.frombuffer(raw, dtype=np.uint8, count=n // QK * 18), n)
    elif ttype == Q8_0:
        a = dequantize_q8_0(np.frombuffer(raw, dtype=np.uint8, count=n // QK * 34), n)
    else:
        raise ValueError(f"unsupported tensor type {ttype}")
    return a.reshape(shape)


def tensor_nbytes(ttype: int, n: int) -> int:
    return {F32: 4 * n, F16: 2 * n, BF16: 2 * n, Q4_0: n // QK * 18, Q8_0: n // QK * 34}[ttype]


# ---------------------------------------------------------------------------------------
# GGUF v3 writer / reader


def _pack_string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


class GGUFWriter:
    """Collects typed KVs and tensors, then writes one GGUF v3 file."""

    def __init__(self) -> None:
        self.kv: List[Tuple[str, int, object, int]] = []  # key, type, value, array elem type
        self.tensors: List[Tuple[str, np.ndarray, int]] = []

    def add(self, key: str, vtype: int, value, elem_type: int = -1) -> None:
        self.kv.append((key, vtype, value, elem_type))

    def add_string(self, key, v): self.add(key, T_STRING, v)
    def add_u32(self, key, v): self.add(key, T_UINT32, int(v))
    def add_f32(self, key, v): self.add(key, T_FLOAT32, float(v))
    def add_bool(self, key, v): self.add(key, T_BOOL, bool(v))
    def add_u32_array(self, key, v): self.add(key, T_ARRAY, [int(i) for i in v], T_UINT32)
    def add_string_array(self, key, v): self.add(key, T_ARRAY, list(v), T_STRING)
    def add_bytes(self, key, v: bytes): self.add(key, T_ARRAY, bytes(v), T_UINT8)

    def add_tensor(self, name: str, x: np.ndarray, ttype: int) -> None:
        if any(t[0] == name for t in self.tensors):
            raise ValueError(f"duplicate tensor {name}")
        self.tensors.append((name, np.ascontiguousarray(x, dtype=np.float32), ttype))

    @staticmethod
    def _value(vtype: int, value, elem_type: int) -> bytes:
        if vtype == T_STRING:
            return _pack_string(value)
        if vtype == T_ARRAY:
            out = struct.pack("<IQ", elem_type, len(value))
            if elem_type == T_UINT8 and isinstance(value, (bytes, bytearray)):
                return out + bytes(value)
            if elem_type == T_STRING:
                return out + b"".join(_pack_string(s) for s in value)
            return out + np.asarray(value, dtype=np.dtype(_NP[elem_type]).newbyteorder("<")).tobytes()
        return struct.pack(_SCALAR[vtype], value)

    def write(self, path: str) -> int:
        head = bytearray()
        head += GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))
        for key, vtype, value, et in self.kv:
            head += _pack_string(key) + struct.pack("<I", vtype) + self._value(vtype, value, et)
        blobs, offset = [], 0
        for name, x, ttype in self.tensors:
            blob = encode_tensor(x, ttype)
            ne = list(reversed(x.shape)) or [1]
            head += _pack_string(name) + struct.pack("<I", len(ne))
            head += struct.pack(f"<{len(ne)}Q", *ne) + struct.pack("<IQ", ttype, offset)
            blobs.append((offset, blob))
            offset += len(blob)
            offset += (-offset) % ALIGNMENT
        head += b"\0" * ((-len(head)) % ALIGNMENT)
        with open(path, "wb") as f:
            f.write(head)
            pos = 0
            for off, blob in blobs:
                f.write(b"\0" * (off - pos))
                f.write(blob)
                pos = off + len(blob)
            f.write(b"\0" * ((-pos) % ALIGNMENT))
        return len(head) + offset


def read_gguf(path: str):
    """Returns (kv dict, {name: (type, shape row-major, np.float32 array)})."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(vtype):
        nonlocal pos
        if vtype == T_STRING:
            return string()
        if vtype == T_ARRAY:
            et, n = take("<I"), take("<Q")
            if et == T_STRING:
                return [string() for _ in range(n)]
            if et == T_UINT8:
                b = data[pos:pos + n]
                pos += n
                return bytes(b)
            return [value(et) for _ in range(n)]
        return take(_SCALAR[vtype])

    if data[:4] != GGUF_MAGIC:
        raise ValueError(f"{path}: not a GGUF file")
    pos = 4
    version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    if version != GGUF_VERSION:
        raise ValueError(f"{path}: GGUF version {version}")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("<I"))
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        ne = [take("<Q") for _ in range(nd)]
        infos.append((name, take("<I"), tuple(reversed(ne)), take("<Q")))
    align = kv.get("general.alignment", ALIGNMENT)
    base = pos + ((-pos) % align)
    tensors = {}
    for name, ttype, shape, off in infos:
        n = int(np.prod(shape))
        raw = data[base + off: base + off + tensor_nbytes(ttype, n)]
        tensors[name] = (ttype, shape, decode_tensor(raw, ttype, shape))
    return kv, tensors


# ---------------------------------------------------------------------------------------
# Mel filter bank: librosa.filters.mel(sr, n_fft, n_mels) with htk=False, norm="slaney"


def _hz_to_mel(f):
    f = np.asanyarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(sr: int = 16000, n_fft: int = 400, n_mels: int = 80) -> np.ndarray:
    """[n_mels, n_fft//2+1] float32, the Slaney bank Whisper ships in mel_filters.npz."""
    fft = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0, np.minimum(lower, upper))
    w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return w.astype(np.float32)


# ---------------------------------------------------------------------------------------
# Model export


def tensor_type(name: str, ftype: str) -> int:
    """Storage type of a tensor in a file of the given kind ("q4_0", "q8_0", "f16", "f32")."""
    if not Q_TENSOR.match(name) or ftype == "f32":
        return F32
    return {"q4_0": Q4_0, "q8_0": Q8_0, "f16": F16, "bf16": BF16}[ftype]


def model_kv(w: GGUFWriter, cfg, name: str, spm_bytes: bytes, extra: Dict[str, object]) -> None:
    from training import model as M

    w.add_string("general.architecture", "consilium")
    w.add_string("general.name", name)
    w.add_u32("general.alignment", ALIGNMENT)
    w.add_u32("consilium.contract_version", 1)
    for key, field, kind in CONFIG_KV:
        v = getattr(cfg, field)
        if field in _OPTIONAL and not v:
            continue  # absent keys: no stem, no convolution layers, no dense head, false (docs/MODEL.md)
        if kind == "u32":
            w.add_u32(key, v)
        elif kind == "f32":
            w.add_f32(key, v)
        elif kind == "bool":
            w.add_bool(key, v)
        elif kind == "u32[]":
            w.add_u32_array(key, v)
        else:  # "count": the length of a per-layer list
            w.add_u32(key, len(v))
    w.add_string_array("consilium.det.types", M.TYPES)
    w.add_string_array("consilium.det.lobes", M.LOBES)
    w.add_string_array("consilium.lung_rads.categories", M.LUNG_RADS)
    w.add_string_array("consilium.modalities", M.MODALITIES)
    w.add_bytes("consilium.tokenizer.spm_model", spm_bytes)
    w.add_u32("consilium.tokenizer.unk_id", M.UNK_ID)
    w.add_u32("consilium.tokenizer.bos_id", M.BOS_ID)
    w.add_u32("consilium.tokenizer.eos_id", M.EOS_ID)
    w.add_u32("consilium.tokenizer.pad_id", M.PAD_ID)
    for k, v in extra.items():
        if isinstance(v, bool):
            w.add_bool(k, v)
        elif isinstance(v, int):
            w.add_u32(k, v)
        elif isinstance(v, float):
            w.add_f32(k, v)
        else:
            w.add_string(k, str(v))


def check_q_set(model) -> None:
    """The exporter's Q rule must equal the tensors the model fake-quantizes in QAT."""
    from training import model as M

    q_model = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, M.QLinear)}
    q_model |= {"token_embd.weight"}
    q_model |= {k for k in model.state_dict() if k.endswith("_exps.weight")}
    q_rule = {k for k in model.state_dict() if Q_TENSOR.match(k)}
    if q_model != q_rule:
        raise AssertionError(f"Q-rule mismatch: {sorted(q_model ^ q_rule)}")


def export_model(model, path: str, ftype: str, spm_bytes: bytes, name: str = "consilium-demo",
                 extra: Dict[str, object] = None) -> Dict[str, int]:
    """Writes the model as GGUF; returns {type name: tensor count}."""
    check_q_set(model)
    cfg = model.cfg
    model.sync_head_counts()  # head counts from the (possibly pruned) weights
    w = GGUFWriter()
    model_kv(w, cfg, name, spm_bytes, extra or {})
    counts: Dict[str, int] = {}
    for k, v in model.state_dict().items():
        t = tensor_type(k, ftype)
        w.add_tensor(k, v.detach().float().cpu().numpy(), t)
        counts[TYPE_NAMES[t]] = counts.get(TYPE_NAMES[t], 0) + 1
    w.write(path)
    return counts


# The Config fields in the metadata, in the order model_kv writes them: (GGUF key, field,
# kind). "count" keys hold the length of a per-layer list and are not read back.
CONFIG_KV = [
    ("consilium.embedding_length", "d", "u32"), ("consilium.head_dim", "hd", "u32"),
    ("consilium.layer_norm_epsilon", "eps", "f32"), ("consilium.rope.freq_base", "rope_base", "f32"),
    ("consilium.vocab_size", "vocab", "u32"), ("consilium.ct.grid", "ct_grid", "u32[]"),
    ("consilium.ct.patch", "ct_patch", "u32[]"), ("consilium.ct.window_center", "window_center", "f32"),
    ("consilium.ct.window_width", "window_width", "f32"), ("consilium.ct.block_count", "ct_heads", "count"),
    ("consilium.ct.head_count", "ct_heads", "u32[]"), ("consilium.ct.feed_forward_length", "ct_ff", "u32"),
    ("consilium.ct.stem_patch", "ct_stem", "u32[]"), ("consilium.ct.stem_channels", "ct_stem_channels", "u32"),
    ("consilium.ct.conv_channels", "ct_conv_channels", "u32[]"),
    ("consilium.ct.conv_strides", "ct_conv_strides", "u32[]"),
    ("consilium.audio.sample_rate", "sample_rate", "u32"), ("consilium.audio.n_fft", "n_fft", "u32"),
    ("consilium.audio.hop_length", "hop", "u32"), ("consilium.audio.n_mels", "n_mels", "u32"),
    ("consilium.audio.max_frames", "max_frames", "u32"), ("consilium.audio.block_count", "audio_heads", "count"),
    ("consilium.audio.head_count", "audio_heads", "u32[]"),
    ("consilium.audio.feed_forward_length", "audio_ff", "u32"),
    ("consilium.text.block_count", "text_heads", "count"), ("consilium.text.head_count", "text_heads", "u32[]"),
    ("consilium.text.feed_forward_length", "text_ff", "u32"), ("consilium.text.sliding_window", "window", "u32"),
    ("consilium.text.max_tokens", "max_tokens", "u32"), ("consilium.fusion.head_count", "fusion_heads", "u32[]"),
    ("consilium.fusion.feed_forward_length", "fusion_ff", "u32"),
    ("consilium.decoder.block_count", "dec_heads", "count"), ("consilium.decoder.head_count", "dec_heads", "u32[]"),
    ("consilium.decoder.cross_head_count", "dec_cross_heads", "u32[]"),
    ("consilium.decoder.expert_count", "n_expert", "u32"),
    ("consilium.decoder.expert_used_count", "n_expert_used", "u32"),
    ("consilium.decoder.expert_feed_forward_length", "expert_ff", "u32"),
    ("consilium.decoder.max_tokens", "dec_max_tokens", "u32"), ("consilium.det.threshold", "det_threshold", "f32"),
    ("consilium.det.max_candidates", "det_max_candidates", "u32"),
    ("consilium.det.dense_feed_forward_length", "det_dense_ff", "u32"),
    ("consilium.det.dense_map_only", "det_dense_map_only", "bool"),
    ("consilium.det.lobe_plane", "det_lobe_plane", "bool"),
    ("consilium.lung_rads.from_findings", "lung_rads_from_findings", "bool"),
]
_OPTIONAL = {"ct_stem", "ct_stem_channels", "ct_conv_channels", "ct_conv_strides", "det_dense_ff",
             "det_dense_map_only", "det_lobe_plane", "lung_rads_from_findings"}


def checkpoint_from_gguf(path: str) -> Dict[str, object]:
    """A model file this exporter wrote, as a training checkpoint (the dict train.py saves):
    config from the metadata, weights dequantized, the tokenizer, the name and the
    consilium.training.* keys. A Q4_0 file's weights come back as the values the Q4_0
    fake-quant produces, and fake-quantizing them again changes nothing (selftest), so a
    fine-tune from the shipped file starts exactly where the shipped model is."""
    import dataclasses

    import torch

    from training import model as M

    kv, tensors = read_gguf(path)
    if kv.get("general.architecture") != "consilium":
        raise ValueError(f"{path}: architecture {kv.get('general.architecture')!r}, not consilium")
    fields = {f.name: f for f in dataclasses.fields(M.Config)}
    config = {}
    for key, field, kind in CONFIG_KV:
        if kind == "count":
            continue
        if key not in kv:
            if field in _OPTIONAL:
                continue
            raise ValueError(f"{path}: metadata key {key} is missing")
        v = kv[key]
        config[field] = tuple(int(i) for i in v) if isinstance(v, list) else type(fields[field].default)(v)
    state = {name: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) for name, (_, _, x) in tensors.items()}
    extra = {k: v for k, v in kv.items() if k.startswith("consilium.training.")}
    return {"config": config, "model": state, "spm_model": kv["consilium.tokenizer.spm_model"],
            "name": kv.get("general.name", "consilium-demo"), "gguf_extra": extra,
            "pruning": {"heads_removed": int(extra.get("consilium.training.pruned_heads", 0))}}


def load_checkpoint(path: str) -> Dict[str, object]:
    """A training checkpoint (.pt) or a model file (.gguf) as one."""
    if path.endswith(".gguf"):
        return checkpoint_from_gguf(path)
    import torch

    return torch.load(path, map_location="cpu")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="training checkpoint (.pt) or model file (.gguf)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", default="q4_0", choices=["q4_0", "q8_0", "f16", "bf16", "f32"])
    ap.add_argument("--det-threshold", type=float, default=None, metavar="S",
                    help="write this det.threshold instead of the checkpoint's (the detector's "
                         "operating point; no weight changes)")
    ap.add_argument("--lobe-plane", action="store_true",
                    help="write det.lobe_plane = true: a finding's lobe is voted by its patch's slab "
                         "neighbours (docs/MODEL.md section 10; a map-only dense head; no weight changes)")
    a = ap.parse_args(argv)
    import torch

    from training import model as M

    ck = load_checkpoint(a.checkpoint)
    cfg = M.Config(**ck["config"])
    if a.det_threshold is not None:
        cfg.det_threshold = a.det_threshold
    cfg.det_lobe_plane = cfg.det_lobe_plane or a.lobe_plane
    model = M.Consilium(cfg)
    model.load_state_dict(ck["model"])
    counts = export_model(model, a.out, a.type, ck["spm_model"], ck.get("name", "consilium-demo"),
                          ck.get("gguf_extra", {}))
    print(f"wrote {a.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
