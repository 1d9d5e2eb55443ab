"""PyTorch mirror of docs/MODEL.md (the `consilium` tri-modal MoE).

Every formula here follows docs/MODEL.md; section numbers in comments refer to it. The
state_dict keys are exactly the GGUF tensor names (section 11), so export is a plain walk
over the state_dict.

Batching: training runs batches with right padding. Masks make padded rows invisible, so
each example gets the same result as a batch of one (the engine's layout).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

MODALITIES = ("image", "record", "voice", "question")
TYPES = ("solid", "part-solid", "ground-glass")
LOBES = ("RUL", "RML", "RLL", "LUL", "LLL")
LUNG_RADS = ("1", "2", "3", "4A", "4B")
UNK_ID, BOS_ID, EOS_ID, PAD_ID = 0, 1, 2, 3
DET_COLS = 13
QK = 32  # ggml block length of Q4_0 / Q8_0


@dataclasses.dataclass
class Config:
    d: int = 192
    hd: int = 64
    eps: float = 1e-5
    rope_base: float = 10000.0
    vocab: int = 4096
    ct_grid: tuple = (64, 128, 128)
    ct_patch: tuple = (8, 16, 16)
    window_center: float = -600.0
    window_width: float = 1500.0
    ct_heads: tuple = (3, 3, 3)
    ct_ff: int = 768
    ct_stem: tuple = ()        # (sd, sh, sw) sub-patch of the CT stem; () = no stem (section 5)
    ct_stem_channels: int = 0  # C, channels of the CT stem
    ct_conv_channels: tuple = ()  # output channels of each CT convolution layer; () = none (section 5)
    ct_conv_strides: tuple = ()   # (sz, sy, sx) of each CT convolution layer, flattened
    n_mels: int = 80
    sample_rate: int = 16000
    n_fft: int = 400
    hop: int = 160
    max_frames: int = 3000
    audio_heads: tuple = (3, 3, 3)
    audio_ff: int = 768
    text_heads: tuple = (3, 3, 3)
    text_ff: int = 768
    window: int = 256
    max_tokens: int = 32768
    fusion_heads: tuple = (3, 3, 3, 3)
    fusion_ff: int = 768
    dec_heads: tuple = (3, 3, 3)
    dec_cross_heads: tuple = (3, 3, 3)
    n_expert: int = 8
    n_expert_used: int = 2
    expert_ff: int = 384
    dec_max_tokens: int = 96
    det_threshold: float = 0.5
    det_max_candidates: int = 16
    det_dense_ff: int = 0  # hidden width of the dense detection head on the convolution map; 0 = none (section 10)
    det_dense_map_only: bool = False  # the dense head reads the map alone; lobe logits add the patch head's
    det_lobe_plane: bool = False  # map-only: a finding's lobe voted by its patch's slab neighbours (section 10)
    lung_rads_from_findings: bool = False  # Lung-RADS by the v2022 rules from the findings (dense column 13)

    @property
    def dense_cols(self) -> int:
        """Columns of a dense head row: DET_COLS, and the solid-part column with Lung-RADS from
        findings (section 10)."""
        return DET_COLS + 1 if self.lung_rads_from_findings else DET_COLS

    @property
    def n_patch(self) -> int:
        D, H, W = self.ct_grid
        pd, ph, pw = self.ct_patch
        return (D // pd) * (H // ph) * (W // pw)

    @property
    def patch_dim(self) -> int:
        pd, ph, pw = self.ct_patch
        return pd * ph * pw

    @property
    def n_sub(self) -> int:
        """Sub-patches per patch of the CT stem (0 without one)."""
        if not self.ct_stem:
            return 0
        return (self.ct_patch[0] // self.ct_stem[0]) * (self.ct_patch[1] // self.ct_stem[1]) * (
            self.ct_patch[2] // self.ct_stem[2])

    @property
    def conv_stride(self) -> tuple:
        """Total stride (z, y, x) of the CT convolution layers ((1, 1, 1) without them)."""
        t = [1, 1, 1]
        for i in range(len(self.ct_conv_channels)):
            for a in range(3):
                t[a] *= self.ct_conv_strides[3 * i + a]
        return tuple(t)

    @property
    def conv_patch(self) -> tuple:
        """The patch on the convolution layers' feature map: patch // total stride."""
        return tuple(p // s for p, s in zip(self.ct_patch, self.conv_stride))

    @property
    def conv_cells(self) -> tuple:
        """(D', H', W') of the convolution layers' last map."""
        return tuple(g // s for g, s in zip(self.ct_grid, self.conv_stride))

    @property
    def patch_in(self) -> int:
        """Input width of ct.patch_embd: the patch vector, the stem features of a patch, or
        the convolution features of a patch."""
        if self.ct_conv_channels:
            return math.prod(self.conv_patch) * self.ct_conv_channels[-1]
        return self.n_sub * self.ct_stem_channels if self.ct_stem else self.patch_dim

    def validate(self) -> None:
        """The limits of docs/MODEL.md section 2 (the engine rejects files that break them)."""
        for name, v in (("d", self.d), ("ct_ff", self.ct_ff), ("audio_ff", self.audio_ff),
                        ("text_ff", self.text_ff), ("fusion_ff", self.fusion_ff),
                        ("expert_ff", self.expert_ff), ("patch_in", self.patch_in)):
            if v % QK:
                raise ValueError(f"{name}={v} is not a multiple of {QK}")
        if self.hd % 2:
            raise ValueError("head_dim must be even (RoPE)")
        for g, p in zip(self.ct_grid, self.ct_patch):
            if g % p:
                raise ValueError(f"CT grid {self.ct_grid} not divisible by patch {self.ct_patch}")
        if self.ct_stem:
            if len(self.ct_stem) != 3 or self.ct_stem_channels < 1 or any(
                    s < 1 or p % s for p, s in zip(self.ct_patch, self.ct_stem)):
                raise ValueError(f"CT stem {self.ct_stem} must divide the patch {self.ct_patch} "
                                 "and have channels >= 1")
        if self.ct_conv_channels:
            if self.ct_stem:
                raise ValueError("the CT stem and the CT convolution layers exclude each other")
            if len(self.ct_conv_strides) != 3 * len(self.ct_conv_channels) or min(self.ct_conv_channels) < 1 \
                    or any(s not in (1, 2) for s in self.ct_conv_strides):
                raise ValueError(f"CT convolution layers: channels {self.ct_conv_channels} need 3 strides "
                                 f"of 1 or 2 each, got {self.ct_conv_strides}")
            if any(p % s for p, s in zip(self.ct_patch, self.conv_stride)):
                raise ValueError(f"CT convolution stride {self.conv_stride} must divide the patch {self.ct_patch}")
        if self.det_dense_ff and (self.det_dense_ff < 0 or not self.ct_conv_channels):
            raise ValueError("the dense detection head needs the CT convolution layers and a width >= 1")
        if self.det_lobe_plane and not self.det_dense_map_only:
            raise ValueError("det_lobe_plane needs det_dense_map_only")
        if (self.det_dense_map_only or self.lung_rads_from_findings) and not self.det_dense_ff:
            raise ValueError("a map-only dense head and Lung-RADS from findings need the dense head")
        heads = (list(self.ct_heads) + list(self.audio_heads) + list(self.text_heads)
                 + list(self.fusion_heads) + list(self.dec_heads) + list(self.dec_cross_heads))
        if min(heads) < 1 or any((h * self.hd) % QK for h in heads):
            raise ValueError("every head count must be >= 1 and h*hd a multiple of 32")
        if self.n_expert_used != 2:
            raise ValueError("expert_used_count must be 2 in contract version 1")
        if len(self.fusion_heads) != 4 or len(self.dec_heads) != len(self.dec_cross_heads):
            raise ValueError("fusion needs 4 head counts; decoder self/cross lists must match")


def shipped_config() -> Config:
    """The shipped demo model, sized so the full recipe trains in about an hour on the 2-core
    CPU (docs/MODEL_CARD.md): the CT grid keeps 64 x 128 x 128 (about 4.7 mm between grid
    slices, so every >= 6 mm nodule reaches a grid slice) and 512 patches; the streams are
    128 wide with 4 heads of 32 and two blocks each."""
    return Config(d=128, hd=32, vocab=4096, ct_grid=(64, 128, 128), ct_patch=(8, 16, 16),
                  ct_heads=(4, 4), ct_ff=256, audio_heads=(4, 4), audio_ff=256,
                  text_heads=(4, 4), text_ff=256, window=128, fusion_heads=(4, 4, 4, 4),
                  fusion_ff=256, dec_heads=(4, 4), dec_cross_heads=(4, 4), expert_ff=128)


def quick_config() -> Config:
    """The --quick smoke-test model: same contract, smaller everything."""
    return Config(d=128, hd=64, vocab=4096, ct_grid=(32, 64, 64), ct_patch=(8, 16, 16),
                  ct_heads=(2, 2), ct_ff=256, audio_heads=(2, 2), audio_ff=256,
                  text_heads=(2, 2), text_ff=256, window=128, fusion_heads=(2, 2, 2, 2),
                  fusion_ff=256, dec_heads=(2, 2), dec_cross_heads=(2, 2), expert_ff=128)


def golden_config() -> Config:
    """Tiny random-weight model for the C++ parity test (docs/MODEL.md section 15).

    Head counts differ per layer on purpose: the engine must read them per layer.
    """
    return Config(d=32, hd=32, vocab=512, ct_grid=(16, 32, 32), ct_patch=(4, 8, 8),
                  ct_heads=(2, 1), ct_ff=64, audio_heads=(2, 2), audio_ff=64,
                  text_heads=(2, 1), text_ff=64, window=16, fusion_heads=(2, 1, 2, 1),
                  fusion_ff=64, dec_heads=(2, 1), dec_cross_heads=(1, 2), expert_ff=32)


# ---------------------------------------------------------------------------------------
# Q4_0 fake quantization (docs/MODEL.md sections 12 and 14)


def q4_0_dequant_like(w: torch.Tensor) -> torch.Tensor:
    """quantize_row_q4_0_ref followed by dequantization, on the last dim, in float32.

    Bit-exact with training/gguf_export.py's numpy quantizer (tested there).
    """
    shape = w.shape
    x = w.detach().float().reshape(-1, QK)
    idx = x.abs().argmax(dim=1, keepdim=True)  # first maximum on ties, as ggml's strict <
    mx = torch.gather(x, 1, idx)
    d = mx / -8.0
    inv = torch.where(d != 0, 1.0 / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
    q = torch.clamp(torch.trunc(x * inv + 8.5), max=15.0)
    d16 = d.half().float()
    return ((q - 8.0) * d16).reshape(shape).to(w.dtype)


class FakeQuant(torch.autograd.Function):
    """Straight-through estimator: forward uses the Q4_0 values, backward is identity."""

    @staticmethod
    def forward(ctx, w):  # noqa: D102
        return q4_0_dequant_like(w)

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        return g


class QLinear(nn.Linear):
    """Linear whose weight is stored Q4_0 in the shipped file ("Q" in section 11)."""

    qat = False

    def forward(self, x):  # noqa: D102
        w = FakeQuant.apply(self.weight) if self.qat else self.weight
        return F.linear(x, w, self.bias)


def fq(w: torch.Tensor, enabled: bool) -> torch.Tensor:
    return FakeQuant.apply(w) if enabled else w


# ---------------------------------------------------------------------------------------
# Building blocks (section 4)


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def rope_cos_sin(n: int, hd: int, base: float, offset: int = 0):
    """cos/sin tables [n, hd/2], computed in float64 then rounded to float32 (section 4)."""
    i = torch.arange(hd // 2, dtype=torch.float64)
    theta = torch.pow(torch.tensor(base, dtype=torch.float64), -2.0 * i / hd)
    p = torch.arange(offset, offset + n, dtype=torch.float64)
    ang = p[:, None] * theta[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """NeoX rotate-half RoPE on x [..., n, hd] with tables [n, hd/2]."""
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def sinusoids(n: int, d: int) -> torch.Tensor:
    """Audio positions [n, d]: sin in the first half, cos in the second (section 4)."""
    i = torch.arange(d // 2, dtype=torch.float64)
    w = torch.exp(-math.log(10000.0) * i / (d // 2))
    t = torch.arange(n, dtype=torch.float64)[:, None] * w[None, :]
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1).float()


def attention(x, y, q, k, v, o, hd, mask=None, rope=None):
    """Multi-head attention of section 4. x [B,n,d] queries, y [B,m,d] keys/values.

    mask: bool, broadcastable to [B,h,n,m], True = allowed. rope: (cos, sin) tables for
    positions 0..n-1 (self-attention only). Returns (output [B,n,d], probs [B,h,n,m]).
    """
    B, n, _ = x.shape
    m = y.shape[1]
    h = q.weight.shape[0] // hd
    Q = q(x).view(B, n, h, hd).transpose(1, 2)
    K = k(y).view(B, m, h, hd).transpose(1, 2)
    V = v(y).view(B, m, h, hd).transpose(1, 2)
    if rope is not None:
        cos, sin = rope
        Q = apply_rope(Q, cos, sin)
        K = apply_rope(K, cos, sin)
    S = torch.matmul(Q, K.transpose(-1, -2)) / math.sqrt(hd)
    if mask is not None:
        S = S.masked_fill(~mask, float("-inf"))
    A = torch.softmax(S, dim=-1)
    O = torch.matmul(A, V).transpose(1, 2).reshape(B, n, h * hd)
    return o(O), A


def sliding_window_mask(n: int, window: int, device=None) -> torch.Tensor:
    """[n, n] bool: query i sees key j iff j <= i and i - j < window (section 7)."""
    i = torch.arange(n, device=device)[:, None]
    j = torch.arange(n, device=device)[None, :]
    return (j <= i) & (i - j < window)


def attn_linears(d: int, rows: int, prefix: str, owner: nn.Module) -> None:
    setattr(owner, f"{prefix}_q", QLinear(d, rows))
    setattr(owner, f"{prefix}_k", QLinear(d, rows))
    setattr(owner, f"{prefix}_v", QLinear(d, rows))
    setattr(owner, f"{prefix}_out", QLinear(rows, d))


class EncoderBlock(nn.Module):
    """Pre-LN block: h = x + MHA(LN(x)); y = h + FFN(LN(h))."""

    def __init__(self, cfg: Config, n_head: int, ff: int):
        super().__init__()
        self.hd = cfg.hd
        self.attn_norm = nn.LayerNorm(cfg.d, eps=cfg.eps)
        attn_linears(cfg.d, n_head * cfg.hd, "attn", self)
        self.ffn_norm = nn.LayerNorm(cfg.d, eps=cfg.eps)
        self.ffn_up = QLinear(cfg.d, ff)
        self.ffn_down = QLinear(ff, cfg.d)

    def forward(self, x, mask=None, rope=None):
        xn = self.attn_norm(x)
        a, probs = attention(xn, xn, self.attn_q, self.attn_k, self.attn_v, self.attn_out,
                             self.hd, mask, rope)
        h = x + a
        return h + self.ffn_down(gelu(self.ffn_up(self.ffn_norm(h)))), probs


# ---------------------------------------------------------------------------------------
# Encoders (sections 5-7)


def patchify(ct: torch.Tensor, patch) -> torch.Tensor:
    """ct [B,D,H,W] -> [B, N_img, P]; p = (pz*ny+py)*nx+px, e = (dz*ph+dy)*pw+dx."""
    B, D, H, W = ct.shape
    pd, ph, pw = patch
    x = ct.reshape(B, D // pd, pd, H // ph, ph, W // pw, pw)
    x = x.permute(0, 1, 3, 5, 2, 4, 6)
    return x.reshape(B, (D // pd) * (H // ph) * (W // pw), pd * ph * pw)


def sub_patchify(p: torch.Tensor, patch, stem) -> torch.Tensor:
    """Patch vectors [B, N, pd*ph*pw] -> sub-patches [B, N, n_sub, sd*sh*sw]; sub-patch
    s = (az*my + ay)*mx + ax (m = patch // stem), element (sz*sh + sy)*sw + sx (section 5)."""
    B, N, _ = p.shape
    pd, ph, pw = patch
    sd, sh, sw = stem
    x = p.reshape(B, N, pd // sd, sd, ph // sh, sh, pw // sw, sw).permute(0, 1, 2, 4, 6, 3, 5, 7)
    return x.reshape(B, N, (pd // sd) * (ph // sh) * (pw // sw), sd * sh * sw)


class Conv3x3(nn.Module):
    """3x3x3 convolution, zero padding 1, with its weight stored as the matrix
    [C_out, C_in*27] (element (c_in*3 + kz)*9 + ky*3 + kx) that GGUF holds (section 11)."""

    def __init__(self, cin: int, cout: int, stride):
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, tuple(stride)
        bound = 1.0 / math.sqrt(cin * 27)
        self.weight = nn.Parameter(torch.empty(cout, cin * 27).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(cout).uniform_(-bound, bound))

    def forward(self, x):
        return F.conv3d(x, self.weight.view(self.cout, self.cin, 3, 3, 3), self.bias, self.stride, 1)


def conv_patchify(f: torch.Tensor, patch) -> torch.Tensor:
    """Feature map [B,C,D',H',W'] -> [B, N_img, P'*C]; patch p = (pz*ny+py)*nx+px, element
    ((dz*ph' + dy)*pw' + dx)*C + c (section 5: position-major, channel fastest)."""
    B, C, D, H, W = f.shape
    pd, ph, pw = patch
    x = f.reshape(B, C, D // pd, pd, H // ph, ph, W // pw, pw)
    x = x.permute(0, 2, 4, 6, 3, 5, 7, 1)
    return x.reshape(B, (D // pd) * (H // ph) * (W // pw), pd * ph * pw * C)


class CTEncoder(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        if cfg.ct_stem:
            # Section 5 step 2: a shared nonlinear layer over each sub-patch (a 3-D convolution
            # whose kernel equals its stride, then gelu) before the patch embedding.
            self.stem = nn.Linear(math.prod(cfg.ct_stem), cfg.ct_stem_channels)
        if cfg.ct_conv_channels:
            # Section 5 step 1b: 3x3x3 convolutions (zero padding 1, gelu) on the whole grid,
            # then the patches are cut from the last feature map.
            cin, layers = 1, []
            for i, c in enumerate(cfg.ct_conv_channels):
                layers.append(Conv3x3(cin, c, tuple(cfg.ct_conv_strides[3 * i:3 * i + 3])))
                cin = c
            self.conv = nn.ModuleList(layers)
        self.patch_embd = QLinear(cfg.patch_in, cfg.d)
        self.pos_embd = nn.Parameter(torch.randn(cfg.n_patch, cfg.d) * 0.02)
        self.blk = nn.ModuleList(EncoderBlock(cfg, h, cfg.ct_ff) for h in cfg.ct_heads)
        self.out_norm = nn.LayerNorm(cfg.d, eps=cfg.eps)

    def conv_features(self, ct, cap=None):
        """The convolution layers' last map [B, C, D', H', W'] (section 5 step 1b)."""
        f = ct[:, None]
        for i, conv in enumerate(self.conv):
            f = gelu(conv(f))
            _cap(cap, f"ct.conv.{i}", f.permute(0, 2, 3, 4, 1))  # channels last
        return f

    def forward(self, ct, cap=None, conv_feat=None):
        """conv_feat: the convolution layers' last map when the caller already has it
        (frozen layers; train.py caches it per case), else computed from ct."""
        if self.cfg.ct_conv_channels:
            f = self.conv_features(ct, cap) if conv_feat is None else conv_feat
            u = conv_patchify(f, self.cfg.conv_patch)
            _cap(cap, "ct.patches", u)
            x = self.patch_embd(u) + self.pos_embd
            _cap(cap, "ct.embd", x)
            return self._blocks(x, cap)
        p = patchify(ct, self.cfg.ct_patch)
        _cap(cap, "ct.patches", p)
        if self.cfg.ct_stem:
            u = gelu(self.stem(sub_patchify(p, self.cfg.ct_patch, self.cfg.ct_stem)))
            _cap(cap, "ct.stem", u.flatten(-2))
            x = self.patch_embd(u.flatten(-2)) + self.pos_embd
        else:
            x = self.patch_embd(p) + self.pos_embd
        _cap(cap, "ct.embd", x)
        return self._blocks(x, cap)

    def _blocks(self, x, cap):
        for i, b in enumerate(self.blk):
            x, _ = b(x)
            _cap(cap, f"ct.blk.{i}.out", x)
        x = self.out_norm(x)
        _cap(cap, "ct.out", x)
        return x


def audio_lengths(frames: torch.Tensor) -> torch.Tensor:
    """N_v from T (section 6): two stride-2 convs with kernel 3 and padding 1."""
    t1 = (frames - 1) // 2 + 1
    return (t1 - 1) // 2 + 1


class AudioEncoder(nn.Module):
    def __init__(self, cfg: Config, mel_filters: Optional[torch.Tensor] = None):
        super().__init__()
        self.cfg = cfg
        n_freq = cfg.n_fft // 2 + 1
        mf = mel_filters if mel_filters is not None else torch.zeros(cfg.n_mels, n_freq)
        self.register_buffer("mel_filters", mf.float().clone())
        self.conv1 = nn.Conv1d(cfg.n_mels, cfg.d, 3, stride=2, padding=1)
        self.conv2 = nn.Conv1d(cfg.d, cfg.d, 3, stride=2, padding=1)
        self.blk = nn.ModuleList(EncoderBlock(cfg, h, cfg.audio_ff) for h in cfg.audio_heads)
        self.out_norm = nn.LayerNorm(cfg.d, eps=cfg.eps)

    def forward(self, mel, frames, cap=None):
        """mel [B,80,Tmax] zero-padded beyond each example's T=frames[b]. Returns
        (H_voice [B,Nv_max,d], valid [B,Nv_max] bool)."""
        # Zero padding beyond T equals the convolution's own zero padding, so padded
        # batches give the solo result for every valid step.
        t = torch.arange(mel.shape[2], device=mel.device)[None, None, :]
        mel = mel.masked_fill(t >= frames[:, None, None], 0.0)
        x = gelu(self.conv1(mel))
        t1 = (frames - 1) // 2 + 1
        tt = torch.arange(x.shape[2], device=mel.device)[None, None, :]
        x = x.masked_fill(tt >= t1[:, None, None], 0.0)
        _cap(cap, "audio.conv1", x.transpose(1, 2))
        x = gelu(self.conv2(x)).transpose(1, 2)
        _cap(cap, "audio.conv2", x)
        x = x + sinusoids(x.shape[1], self.cfg.d).to(x.device)
        _cap(cap, "audio.embd", x)
        nv = audio_lengths(frames)
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < nv[:, None]
        mask = valid[:, None, None, :]
        for i, b in enumerate(self.blk):
            x, _ = b(x, mask)
            _cap(cap, f"audio.blk.{i}.out", x)
        x = self.out_norm(x)
        _cap(cap, "audio.out", x)
        return x, valid


class TextEncoder(nn.Module):
    """Causal sliding-window encoder with RoPE; token_embd is owned by the model."""

    chunk = 2048  # query chunk for long inputs (same result, bounded memory)

    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.blk = nn.ModuleList(EncoderBlock(cfg, h, cfg.text_ff) for h in cfg.text_heads)
        self.out_norm = nn.LayerNorm(cfg.d, eps=cfg.eps)

    def forward(self, x, name="record", cap=None):
        """x [B,N,d] embedded tokens (right padding is harmless: the mask is causal)."""
        n = x.shape[1]
        _cap(cap, f"{name}.embd", x)
        for i, b in enumerate(self.blk):
            if n <= self.chunk:
                mask = sliding_window_mask(n, self.cfg.window, x.device)
                rope = rope_cos_sin(n, self.cfg.hd, self.cfg.rope_base)
                rope = (rope[0].to(x.device), rope[1].to(x.device))
                x, _ = b(x, mask, rope)
            else:
                x = self._chunked_block(b, x)
            _cap(cap, f"{name}.blk.{i}.out", x)
        x = self.out_norm(x)
        _cap(cap, f"{name}.out", x)
        return x

    def _chunked_block(self, b: EncoderBlock, x):
        """The same block evaluated in query chunks with a window of keys (long records)."""
        n, w, hd = x.shape[1], self.cfg.window, self.cfg.hd
        cos, sin = rope_cos_sin(n, hd, self.cfg.rope_base)
        cos, sin = cos.to(x.device), sin.to(x.device)
        xn = b.attn_norm(x)
        B = x.shape[0]
        h = b.attn_q.weight.shape[0] // hd
        Q = apply_rope(b.attn_q(xn).view(B, n, h, hd).transpose(1, 2), cos, sin)
        K = apply_rope(b.attn_k(xn).view(B, n, h, hd).transpose(1, 2), cos, sin)
        V = b.attn_v(xn).view(B, n, h, hd).transpose(1, 2)
        outs = []
        for c0 in range(0, n, self.chunk):
            c1 = min(n, c0 + self.chunk)
            k0 = max(0, c0 - w + 1)
            S = torch.matmul(Q[:, :, c0:c1], K[:, :, k0:c1].transpose(-1, -2)) / math.sqrt(hd)
            i = torch.arange(c0, c1, device=x.device)[:, None]
            j = torch.arange(k0, c1, device=x.device)[None, :]
            S = S.masked_fill(~((j <= i) & (i - j < w)), float("-inf"))
            outs.append(torch.matmul(torch.softmax(S, -1), V[:, :, k0:c1]))
        O = torch.cat(outs, dim=2).transpose(1, 2).reshape(B, n, h * hd)
        hres = x + b.attn_out(O)
        return hres + b.ffn_down(gelu(b.ffn_up(b.ffn_norm(hres))))


# ---------------------------------------------------------------------------------------
# Fusion (section 8)


class CrossAttn(nn.Module):
    def __init__(self, cfg: Config, n_head: int):
        super().__init__()
        attn_linears(cfg.d, n_head * cfg.hd, "attn", self)


class Fusion(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        d = cfg.d
        self.type_embd = nn.Parameter(torch.randn(4, d) * 0.02)
        self.gate_norm = nn.LayerNorm(d, eps=cfg.eps)
        self.gate_up = nn.Linear(d, d)
        self.gate_out = nn.Linear(d, 4)
        self.q_norm = nn.LayerNorm(d, eps=cfg.eps)
        for m, h in zip(MODALITIES, cfg.fusion_heads):
            setattr(self, m, CrossAttn(cfg, h))
        self.ffn_norm = nn.LayerNorm(d, eps=cfg.eps)
        self.ffn_up = QLinear(d, cfg.fusion_ff)
        self.ffn_down = QLinear(cfg.fusion_ff, d)
        self.out_norm = nn.LayerNorm(d, eps=cfg.eps)

    def forward(self, H: Dict[str, torch.Tensor], valid: Dict[str, torch.Tensor],
                present: torch.Tensor, cap=None):
        """H[m] [B,N_m,d], valid[m] [B,N_m] bool, present [B,4] bool (modality order).

        Query rows = question rows then voice rows (section 8.1); with batching, rows of an
        absent modality are simply invalid. Returns (Mem [B,Nq,d], qvalid [B,Nq], g [B,4],
        attention probs per modality [B,h,Nq,N_m]).
        """
        parts, pvalid = [], []
        for m, t in (("question", 3), ("voice", 2)):
            if m in H:
                parts.append(H[m] + self.type_embd[t])
                pvalid.append(valid[m] & present[:, t:t + 1])
        Q = torch.cat(parts, dim=1)
        qvalid = torch.cat(pvalid, dim=1)
        _cap(cap, "fusion.query", Q)
        w = qvalid.float()[..., None]
        u = (Q * w).sum(1) / w.sum(1).clamp_min(1.0)
        logits = self.gate_out(gelu(self.gate_up(self.gate_norm(u))))
        _cap(cap, "fusion.gate_logits", logits)
        g = torch.softmax(logits.masked_fill(~present, float("-inf")), dim=-1)
        _cap(cap, "fusion.weights", g)
        Xq = self.q_norm(Q)
        Fsum = Q
        probs = {}
        for mi, m in enumerate(MODALITIES):
            if m not in H:
                continue
            ca = getattr(self, m)
            # An example without this modality (g = 0) keeps its first key visible so the
            # softmax stays finite; its Z is then zeroed and its weight is 0 anyway.
            vm = valid[m] & present[:, mi:mi + 1]
            first = torch.zeros_like(vm)
            first[:, 0] = True
            vm = vm | (first & ~vm.any(dim=1, keepdim=True))
            z, A = attention(Xq, H[m], ca.attn_q, ca.attn_k, ca.attn_v, ca.attn_out,
                             self.cfg.hd, vm[:, None, None, :])
            z = z * present[:, mi, None, None]
            _cap(cap, f"fusion.attn.{m}", A)
            _cap(cap, f"fusion.z.{m}", z)
            probs[m] = A
            Fsum = Fsum + g[:, mi, None, None] * z
        F2 = Fsum + self.ffn_down(gelu(self.ffn_up(self.ffn_norm(Fsum))))
        mem = self.out_norm(F2)
        _cap(cap, "fusion.out", mem)
        return mem, qvalid, g, probs


# ---------------------------------------------------------------------------------------
# Decoder with MoE (section 9)


class ParamPair(nn.Module):
    def __init__(self, w_shape, b_shape, init_std):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(*w_shape) * init_std)
        self.bias = nn.Parameter(torch.zeros(*b_shape))


class DecoderBlock(nn.Module):
    def __init__(self, cfg: Config, n_head: int, n_cross: int):
        super().__init__()
        d, E, ffe = cfg.d, cfg.n_expert, cfg.expert_ff
        self.cfg = cfg
        self.attn_norm = nn.LayerNorm(d, eps=cfg.eps)
        attn_linears(d, n_head * cfg.hd, "attn", self)
        self.cross_norm = nn.LayerNorm(d, eps=cfg.eps)
        attn_linears(d, n_cross * cfg.hd, "cross", self)
        self.ffn_norm = nn.LayerNorm(d, eps=cfg.eps)
        self.ffn_gate_inp = nn.Linear(d, E, bias=False)
        self.ffn_up_exps = ParamPair((E, ffe, d), (E, ffe), 1.0 / math.sqrt(d))
        self.ffn_down_exps = ParamPair((E, d, ffe), (E, d), 1.0 / math.sqrt(ffe))

    def moe(self, z, route: "RouteOptions", qat: bool):
        """z [B,n,d] -> (out, router logits [B,n,E], top2 idx [B,n,2], weights [B,n,2])."""
        rho = self.ffn_gate_inp(z)
        sel = rho
        if route.gumbel and self.training:
            u = torch.rand_like(rho).clamp(1e-6, 1.0 - 1e-6)
            sel = (rho - torch.log(-torch.log(u))) / route.tau
        top, idx = torch.topk(sel, 2, dim=-1)  # exact ties do not occur with float logits
        w = torch.softmax(top, dim=-1)
        Wu = fq(self.ffn_up_exps.weight, qat)
        Wd = fq(self.ffn_down_exps.weight, qat)
        out = torch.zeros_like(z)
        flat_z = z.reshape(-1, z.shape[-1])
        flat_out = out.reshape(-1, z.shape[-1])
        flat_idx = idx.reshape(-1, 2)
        flat_w = w.reshape(-1, 2)
        for e in range(self.cfg.n_expert):
            for slot in range(2):
                rows = (flat_idx[:, slot] == e).nonzero(as_tuple=True)[0]
                if rows.numel() == 0:
                    continue
                hdn = gelu(flat_z[rows] @ Wu[e].t() + self.ffn_up_exps.bias[e])
                y = hdn @ Wd[e].t() + self.ffn_down_exps.bias[e]
                flat_out = flat_out.index_add(0, rows, y * flat_w[rows, slot:slot + 1])
        return flat_out.view_as(z), rho, idx, w

    def forward(self, x, mem, mem_valid, route, qat, rope, cap=None, li=0):
        n = x.shape[1]
        causal = torch.ones(n, n, dtype=torch.bool, device=x.device).tril()
        xn = self.attn_norm(x)
        a, _ = attention(xn, xn, self.attn_q, self.attn_k, self.attn_v, self.attn_out,
                         self.cfg.hd, causal, rope)
        h = x + a
        _cap(cap, f"dec.blk.{li}.self_out", h)
        c, A = attention(self.cross_norm(h), mem, self.cross_q, self.cross_k, self.cross_v,
                         self.cross_out, self.cfg.hd, mem_valid[:, None, None, :])
        h = h + c
        _cap(cap, f"dec.blk.{li}.cross_out", h)
        _cap(cap, f"dec.blk.{li}.cross_attn", A)
        m, rho, idx, w = self.moe(self.ffn_norm(h), route, qat)
        _cap(cap, f"dec.blk.{li}.router_logits", rho)
        _cap(cap, f"dec.blk.{li}.experts", idx.int())
        _cap(cap, f"dec.blk.{li}.expert_weights", w)
        y = h + m
        _cap(cap, f"dec.blk.{li}.out", y)
        return y, A, rho, idx, w


@dataclasses.dataclass
class RouteOptions:
    gumbel: bool = False
    tau: float = 1.0


# ---------------------------------------------------------------------------------------
# Heads (section 10) and the whole model


class MLPHead(nn.Module):
    def __init__(self, d_in: int, d: int, n_out: int):
        super().__init__()
        self.up = nn.Linear(d_in, d)
        self.out = nn.Linear(d, n_out)

    def forward(self, x):
        return self.out(gelu(self.up(x)))


class Consilium(nn.Module):
    def __init__(self, cfg: Config, mel_filters: Optional[torch.Tensor] = None):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.token_embd = nn.Embedding(cfg.vocab, cfg.d)
        nn.init.normal_(self.token_embd.weight, std=0.02)
        self.ct = CTEncoder(cfg)
        self.audio = AudioEncoder(cfg, mel_filters)
        self.text = TextEncoder(cfg)
        self.fusion = Fusion(cfg)
        self.dec = nn.Module()
        self.dec.blk = nn.ModuleList(DecoderBlock(cfg, h, c)
                                     for h, c in zip(cfg.dec_heads, cfg.dec_cross_heads))
        self.dec.out_norm = nn.LayerNorm(cfg.d, eps=cfg.eps)
        self.det = MLPHead(cfg.d, cfg.d, DET_COLS)
        if cfg.det_dense_ff:
            # Section 10, dense head: tensors det.dense.{up,out}.
            self.det.dense = MLPHead(cfg.ct_conv_channels[-1] + (0 if cfg.det_dense_map_only else cfg.d),
                                     cfg.det_dense_ff, cfg.dense_cols)
            with torch.no_grad():  # untrained, it finds nothing (sigmoid(-4) < det.threshold)
                self.det.dense.out.bias.zero_()
                self.det.dense.out.bias[0] = -4.0
        self.lung_rads = MLPHead(2 * cfg.d, cfg.d, len(LUNG_RADS))
        self.route = RouteOptions()
        self.qat = False

    def attention_modules(self):
        """(name, owner, prefix) of every attention: q/k/v/out are owner.{prefix}_{q,k,v,out}."""
        out = [(f"ct.blk.{i}", b, "attn") for i, b in enumerate(self.ct.blk)]
        out += [(f"audio.blk.{i}", b, "attn") for i, b in enumerate(self.audio.blk)]
        out += [(f"text.blk.{i}", b, "attn") for i, b in enumerate(self.text.blk)]
        out += [(f"fusion.{m}", getattr(self.fusion, m), "attn") for m in MODALITIES]
        for i, b in enumerate(self.dec.blk):
            out += [(f"dec.blk.{i}", b, "attn"), (f"dec.blk.{i}.cross", b, "cross")]
        return out

    def sync_head_counts(self) -> None:
        """Head counts in cfg from the (possibly pruned) weights."""
        hd, c = self.cfg.hd, self.cfg
        n = lambda owner, p: getattr(owner, f"{p}_q").weight.shape[0] // hd  # noqa: E731
        c.ct_heads = tuple(n(b, "attn") for b in self.ct.blk)
        c.audio_heads = tuple(n(b, "attn") for b in self.audio.blk)
        c.text_heads = tuple(n(b, "attn") for b in self.text.blk)
        c.fusion_heads = tuple(n(getattr(self.fusion, m), "attn") for m in MODALITIES)
        c.dec_heads = tuple(n(b, "attn") for b in self.dec.blk)
        c.dec_cross_heads = tuple(n(b, "cross") for b in self.dec.blk)

    # -- QAT switch: every "Q" tensor of section 11 goes through FakeQuant
    def set_qat(self, on: bool) -> None:
        self.qat = on
        for mod in self.modules():
            if isinstance(mod, QLinear):
                mod.qat = on

    def embed(self, ids):
        return F.embedding(ids, fq(self.token_embd.weight, self.qat))

    def encode_image(self, ct, cap=None, conv_feat=None):
        """ct [B,D,H,W] windowed grid -> (H_img, det raw [B,N,13], lung-RADS logits [B,5]).
        With the dense head and `cap`, its rows are captured as det.dense.raw (dense_det)."""
        if cap is not None and self.cfg.det_dense_ff and conv_feat is None:
            conv_feat = self.ct.conv_features(ct, cap)
        h = self.ct(ct, cap, conv_feat)
        det = self.det(h)
        v = torch.cat([h.mean(1), h.amax(1)], dim=-1)
        lr = self.lung_rads(v)
        _cap(cap, "det.raw", det)
        _cap(cap, "lung_rads.logits", lr)
        if cap is not None and self.cfg.det_dense_ff:
            _cap(cap, "det.dense.raw", self.dense_det(conv_feat, h))
        return h, det, lr

    def dense_det(self, f, h):
        """Section 10, dense head: the convolution map f [B,C,D',H',W'] and H_img h [B,N,d] ->
        [B, D'H'W', dense_cols], cell (z·H' + y)·W' + x reading concat(f[:, :, z, y, x],
        h[patch]), or f[:, :, z, y, x] alone in a map-only head (h unused)."""
        B, C, Dc, Hc, Wc = f.shape
        rows = f.permute(0, 2, 3, 4, 1)
        if not self.cfg.det_dense_map_only:
            qd, qh, qw = self.cfg.conv_patch
            nz, ny, nx = Dc // qd, Hc // qh, Wc // qw
            hp = h.view(B, nz, 1, ny, 1, nx, 1, -1).expand(B, nz, qd, ny, qh, nx, qw, h.shape[-1])
            rows = torch.cat([rows, hp.reshape(B, Dc, Hc, Wc, -1)], dim=-1)
        return self.det.dense(rows.reshape(B, Dc * Hc * Wc, -1))

    def encode_text(self, ids, name, cap=None):
        return self.text(self.embed(ids), name, cap)

    def text_lm_logits(self, h):
        """Training-only next-token head of the text encoder (tied embedding; stage 1)."""
        return h @ fq(self.token_embd.weight, self.qat).t()

    def fuse(self, enc: Dict[str, torch.Tensor], valid: Dict[str, torch.Tensor],
             present: torch.Tensor, cap=None):
        return self.fusion(enc, valid, present, cap)

    def decode(self, ids, mem, mem_valid, cap=None):
        """ids [B,n] starting with bos -> (logits [B,n,V], per-layer aux lists)."""
        n = ids.shape[1]
        cos, sin = rope_cos_sin(n, self.cfg.hd, self.cfg.rope_base)
        rope = (cos.to(ids.device), sin.to(ids.device))
        x = self.embed(ids)
        _cap(cap, "dec.embd", x)
        aux = {"cross": [], "rho": [], "idx": [], "w": []}
        for li, b in enumerate(self.dec.blk):
            x, A, rho, idx, w = b(x, mem, mem_valid, self.route, self.qat, rope, cap, li)
            aux["cross"].append(A)
            aux["rho"].append(rho)
            aux["idx"].append(idx)
            aux["w"].append(w)
        logits = self.dec.out_norm(x) @ fq(self.token_embd.weight, self.qat).t()
        _cap(cap, "dec.logits", logits)
        return logits, aux

    def forward(self, batch: Dict[str, torch.Tensor], cap=None):
        """Full pass with teacher forcing. batch keys (all optional except answer_in):
        ct [B,D,H,W], mel [B,80,T] + frames [B], record [B,N] , question [B,N], answer_in
        [B,n], present [B,4] bool. Returns a dict of outputs."""
        enc, valid = {}, {}
        out = {}
        B = batch["answer_in"].shape[0]
        dev = batch["answer_in"].device
        present = batch.get("present")
        if present is None:
            present = torch.tensor([["ct" in batch, "record" in batch, "mel" in batch,
                                     "question" in batch]] * B, device=dev)
        if "ct" in batch:
            # image_enc: the encoding of a frozen CT side, cached by the trainer
            h, det, lr = batch["image_enc"] if "image_enc" in batch else self.encode_image(batch["ct"], cap)
            enc["image"], valid["image"] = h, torch.ones(h.shape[:2], dtype=torch.bool, device=dev)
            out["det"], out["lung_rads"] = det, lr
        if "record" in batch:
            ids = batch["record"]
            enc["record"] = self.encode_text(ids, "record", cap)
            valid["record"] = ids != PAD_ID
        if "mel" in batch:
            enc["voice"], valid["voice"] = self.audio(batch["mel"], batch["frames"], cap)
        if "question" in batch:
            ids = batch["question"]
            enc["question"] = self.encode_text(ids, "question", cap)
            valid["question"] = ids != PAD_ID
        mem, mvalid, g, probs = self.fuse(enc, valid, present, cap)
        logits, aux = self.decode(batch["answer_in"], mem, mvalid, cap)
        out.update(enc=enc, valid=valid, mem=mem, mem_valid=mvalid, gate=g, fusion_attn=probs,
                   logits=logits, aux=aux)
        return out

    @torch.no_grad()
    def generate(self, mem, mem_valid, max_ids: Optional[int] = None):
        """Greedy generation from [bos] (section 9); batch 1. Returns ids incl. bos."""
        max_ids = max_ids or self.cfg.dec_max_tokens
        ids = torch.tensor([[BOS_ID]], device=mem.device)
        while ids.shape[1] < max_ids:
            logits, _ = self.decode(ids, mem, mem_valid)
            nxt = int(torch.argmax(logits[0, -1]))
            ids = torch.cat([ids, torch.tensor([[nxt]], device=mem.device)], dim=1)
            if nxt == EOS_ID:
                break
        return ids[0]


# ---------------------------------------------------------------------------------------
# Explanations (section 13) and candidate extraction (section 10)


def rollout(aux_cross: List[torch.Tensor], fusion_probs: torch.Tensor,
            positions: Optional[int] = None) -> torch.Tensor:
    """ā_dec Ā_m for example 0: aux_cross per layer [B,c,n,Nq], fusion probs [B,h,Nq,Nm]."""
    a = torch.stack([A[0, :, :positions].mean(dim=(0, 1)) for A in aux_cross]).mean(0)
    return a @ fusion_probs[0].mean(0)


def candidates(det_raw: torch.Tensor, cfg: Config):
    """Candidate list of section 10 for one example: det_raw [N_img,13]."""
    pd, ph, pw = cfg.ct_patch
    D, H, W = cfg.ct_grid
    nz, ny, nx = D // pd, H // ph, W // pw
    s = torch.sigmoid(det_raw[:, 0]).view(nz, ny, nx)
    keep = []
    for p in range(nz * ny * nx):
        pz, py, px = p // (ny * nx), (p // nx) % ny, p % nx
        sp = float(s[pz, py, px])
        if sp < cfg.det_threshold:
            continue
        ok = True
        for dz in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    qz, qy, qx = pz + dz, py + dy, px + dx
                    if (dz, dy, dx) == (0, 0, 0) or not (0 <= qz < nz and 0 <= qy < ny and 0 <= qx < nx):
                        continue
                    sq = float(s[qz, qy, qx])
                    q = (qz * ny + qy) * nx + qx
                    if not (sq < sp or (sq == sp and q > p)):
                        ok = False
        if ok:
            keep.append((sp, p))
    keep.sort(key=lambda t: (-t[0], t[1]))
    out = []
    for sp, p in keep[:cfg.det_max_candidates]:
        out.append(dict(patch=p, score=sp, **patch_location(det_raw[p], p, cfg)))
    return out


def cell_patches(cfg: Config) -> torch.Tensor:
    """Patch index of every cell of the convolution map, [D'H'W'] (section 10)."""
    Dc, Hc, Wc = cfg.conv_cells
    qd, qh, qw = cfg.conv_patch
    ny, nx = cfg.ct_grid[1] // cfg.ct_patch[1], cfg.ct_grid[2] // cfg.ct_patch[2]
    z, y, x = torch.meshgrid(torch.arange(Dc), torch.arange(Hc), torch.arange(Wc), indexing="ij")
    return (((z // qd) * ny + y // qh) * nx + x // qw).reshape(-1)


def dense_lobe_logits(raw: torch.Tensor, det_raw: Optional[torch.Tensor], cfg: Config) -> torch.Tensor:
    """Lobe logits of every cell, [..., D'H'W', 5]: the dense row's columns 8..12, plus the
    patch head's columns 8..12 of the cell's patch in a map-only head (section 10)."""
    lobe = raw[..., 8:13]
    if cfg.det_dense_map_only:
        lobe = lobe + det_raw[..., cell_patches(cfg).to(raw.device), 8:13]
    return lobe


def finding_lobe(row: torch.Tensor, det_raw: torch.Tensor, patch: int, cfg: Config) -> int:
    """A map-only head's finding lobe (section 10): with det_lobe_plane the softmax of the
    finding's row[8:13] + det_raw[q, 8:13] summed over q = its patch and its neighbours in
    the same z slab, argmax (ties: the lower index); else its own patch's logits' argmax."""
    if not cfg.det_lobe_plane:
        return int(torch.argmax(row[8:13] + det_raw[patch, 8:13]))
    ny, nx = cfg.ct_grid[1] // cfg.ct_patch[1], cfg.ct_grid[2] // cfg.ct_patch[2]
    z, y, x = patch // (ny * nx), (patch // nx) % ny, patch % nx
    total = torch.zeros(5, dtype=torch.float64)
    for qy in range(max(y - 1, 0), min(y + 2, ny)):
        for qx in range(max(x - 1, 0), min(x + 2, nx)):
            total += torch.softmax((row[8:13] + det_raw[(z * ny + qy) * nx + qx, 8:13]).double(), 0)
    return int(torch.argmax(total))


def dense_candidates(raw: torch.Tensor, cfg: Config, det_raw: Optional[torch.Tensor] = None):
    """Candidate list of section 10 from the dense head for one example: raw [D'H'W',
    dense_cols] (and the patch head's det_raw [N, 13], which a map-only head's lobe needs).
    Cells play the part of patches: a local maximum among its 26 neighbouring cells (ties:
    the higher index loses) scoring >= det.threshold; centre (c + u)·T - 0.5 per axis."""
    Dc, Hc, Wc = cfg.conv_cells
    T = cfg.conv_stride
    patches = cell_patches(cfg)
    lobes = dense_lobe_logits(raw, det_raw, cfg)
    s = torch.sigmoid(raw[:, 0]).view(Dc, Hc, Wc)
    top = F.max_pool3d(s[None, None], 3, 1, 1)[0, 0]  # zero padding is harmless: s > 0
    keep = []
    for z, y, x in torch.nonzero((s >= top) & (s >= cfg.det_threshold)).tolist():
        # s_p is the neighbourhood's maximum; a tie with a lower-index neighbour loses.
        k = (z * Hc + y) * Wc + x
        tie = any(s[qz, qy, qx] == s[z, y, x] and (qz * Hc + qy) * Wc + qx < k
                  for qz in range(max(z - 1, 0), min(z + 2, Dc)) for qy in range(max(y - 1, 0), min(y + 2, Hc))
                  for qx in range(max(x - 1, 0), min(x + 2, Wc)))
        if not tie:
            keep.append(k)
    keep.sort(key=lambda k: (-float(s.view(-1)[k]), k))
    out = []
    for k in keep[:cfg.det_max_candidates]:
        z, y, x = k // (Hc * Wc), (k // Wc) % Hc, k % Wc
        row = raw[k]
        u = torch.sigmoid(row[1:4])
        c = dict(patch=int(patches[k]), cell=k, score=float(s.view(-1)[k]),
                 grid_zyx=[(z + float(u[0])) * T[0] - 0.5, (y + float(u[1])) * T[1] - 0.5,
                           (x + float(u[2])) * T[2] - 0.5],
                 diameter_vox=float(torch.exp(row[4])),
                 type=TYPES[int(torch.argmax(row[5:8]))],
                 lobe=LOBES[finding_lobe(row, det_raw, int(patches[k]), cfg) if cfg.det_lobe_plane
                            else int(torch.argmax(lobes[k]))])
        if cfg.lung_rads_from_findings:
            c["solid_fraction"] = float(torch.sigmoid(row[13]))
        out.append(c)
    return out


def lung_rads_nodule(ntype: str, d: float, solid: float) -> str:
    """Lung-RADS v2022 category of one baseline nodule: its type, its diameter and its solid
    part's diameter in mm, each rounded to 0.1 mm first."""
    d, solid = round(d, 1), round(solid, 1)
    if ntype == "solid":
        return "2" if d < 6 else "3" if d < 8 else "4A" if d < 15 else "4B"
    if ntype == "part-solid":
        if d < 6:
            return "2"
        return "3" if solid < 6 else "4A" if solid < 8 else "4B"
    return "2" if d < 30 else "3"


def lung_rads_of_findings(cands, sp_yx: float) -> str:
    """Section 10: the case's Lung-RADS from the dense head's findings, the highest category
    of any of them by the v2022 rules ("1" without findings). A finding's diameter is
    diameter_vox·sp_yx mm; its solid part is solid_fraction times that for a part-solid one,
    the whole diameter for a solid one."""
    cats = []
    for c in cands:
        d = c["diameter_vox"] * sp_yx
        solid = d if c["type"] == "solid" else d * c["solid_fraction"] if c["type"] == "part-solid" else 0.0
        cats.append(lung_rads_nodule(c["type"], d, solid))
    return lung_rads_highest(cats)


def lung_rads_highest(cats) -> str:
    """The highest of a case's nodule categories (1 < 2 < 3 < 4A < 4B); "1" for none."""
    return max(cats, key=LUNG_RADS.index, default="1")


def patch_location(row: torch.Tensor, p: int, cfg: Config) -> dict:
    """Grid-coordinate centre, diameter (in-plane grid voxels), type and lobe of a patch."""
    pd, ph, pw = cfg.ct_patch
    D, H, W = cfg.ct_grid
    ny, nx = H // ph, W // pw
    pz, py, px = p // (ny * nx), (p // nx) % ny, p % nx
    u = torch.sigmoid(row[1:4])
    return dict(grid_zyx=[pz * pd + float(u[0]) * pd - 0.5, py * ph + float(u[1]) * ph - 0.5,
                          px * pw + float(u[2]) * pw - 0.5],
                diameter_vox=float(torch.exp(row[4])),
                type=TYPES[int(torch.argmax(row[5:8]))],
                lobe=LOBES[int(torch.argmax(row[8:13]))])


def _cap(cap: Optional[dict], name: str, t: torch.Tensor) -> None:
    if cap is not None:
        cap[name] = t.detach()[0].clone()
