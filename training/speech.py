"""Spoken questions: espeak-ng speech, noise, and the log-mel input of docs/MODEL.md 3.2.

The log-mel follows openai/whisper whisper/audio.py exactly as audio/log_mel.h does (the
C++ front end has its own NumPy parity test, tests/audio/log_mel_reference.py); numpy only.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Optional

import numpy as np

from training.gguf_export import mel_filters

VOICES = ("en-us", "en", "en-us+m3", "en-us+f2", "en+m7", "en+f4")


def synthesize(text: str, voice: str = "en-us", rate: int = 160) -> np.ndarray:
    """espeak-ng -> sox -> float32 mono samples at 16 kHz."""
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "a.wav")
        raw = os.path.join(d, "a.f32")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", wav, text], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["sox", wav, "-r", "16000", "-c", "1", "-t", "f32", "-e", "floating-point", raw],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return np.fromfile(raw, dtype=np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    p = float(np.mean(x ** 2)) + 1e-12
    return (x + rng.normal(0, np.sqrt(p / 10 ** (snr_db / 10)), x.shape)).astype(np.float32)


_FILTERS: Optional[np.ndarray] = None


def log_mel(samples: np.ndarray) -> np.ndarray:
    """[80, T] with T = len(samples) // 160 (docs/MODEL.md 3.2)."""
    global _FILTERS
    if _FILTERS is None:
        _FILTERS = mel_filters().astype(np.float64)
    n_fft, hop = 400, 160
    x = np.pad(samples.astype(np.float64), (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (len(x) - n_fft) // hop
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    spec = np.fft.rfft(x[idx] * win, axis=1)[:-1]  # drop the last frame
    power = (np.abs(spec) ** 2).T
    mel = _FILTERS @ power
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return ((log + 4.0) / 4.0).astype(np.float32)
