#!/usr/bin/python3
"""NumPy reference of Whisper's log-mel front end, for the parity test of audio/log_mel.cpp.

Re-implements, in float64 NumPy only (no torch, no librosa on this machine):
  - librosa.filters.mel(sr=16000, n_fft=400, n_mels=80, htk=False, norm="slaney")
    (librosa 0.10 librosa/filters.py, librosa/core/convert.py: hz_to_mel, mel_to_hz,
    mel_frequencies, fft_frequencies), float32 weights as librosa's default dtype;
  - openai/whisper whisper/audio.py log_mel_spectrogram():
        window = torch.hann_window(N_FFT)                      # periodic
        stft = torch.stft(audio, N_FFT, HOP_LENGTH, window=window, return_complex=True)
                                                               # center=True, reflect pad
        magnitudes = stft[..., :-1].abs() ** 2
        mel_spec = filters @ magnitudes
        log_spec = torch.clamp(mel_spec, min=1e-10).log10()
        log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
        log_spec = (log_spec + 4.0) / 4.0

Usage: log_mel_reference.py SAMPLES.f32 OUT_LOGMEL.f32 OUT_FILTERS.f32
  SAMPLES.f32: raw little-endian float32 mono samples at 16 kHz.
  Writes the log-mel [80, n_frames] and the filters [80, 201], raw float32, row-major.
"""
import sys

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80


def hz_to_mel(frequencies):
    frequencies = np.asanyarray(frequencies, dtype=np.float64)
    f_min, f_sp = 0.0, 200.0 / 3
    mels = (frequencies - f_min) / f_sp
    min_log_hz = 1000.0
    min_log_mel = (min_log_hz - f_min) / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = frequencies >= min_log_hz
    mels = np.where(log_t, min_log_mel + np.log(np.maximum(frequencies, 1e-300) / min_log_hz) / logstep, mels)
    return mels


def mel_to_hz(mels):
    mels = np.asanyarray(mels, dtype=np.float64)
    f_min, f_sp = 0.0, 200.0 / 3
    freqs = f_min + f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = (min_log_hz - f_min) / f_sp
    logstep = np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    return np.where(log_t, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


def mel_filters(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS):
    fmax = sr / 2.0
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    fftfreqs = np.linspace(0, sr / 2.0, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights


def log_mel_spectrogram(audio, filters):
    audio = audio.astype(np.float64)
    # torch.hann_window(N_FFT), periodic=True
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)
    # torch.stft(center=True, pad_mode="reflect")
    padded = np.pad(audio, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // HOP_LENGTH
    idx = np.arange(N_FFT)[None, :] + HOP_LENGTH * np.arange(n_frames)[:, None]
    stft = np.fft.rfft(padded[idx] * window[None, :], axis=1).T  # [201, n_frames]
    magnitudes = np.abs(stft[:, :-1]) ** 2
    mel_spec = filters.astype(np.float64) @ magnitudes
    log_spec = np.log10(np.maximum(mel_spec, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    audio = np.fromfile(sys.argv[1], dtype="<f4")
    filters = mel_filters()
    mel = log_mel_spectrogram(audio, filters)
    mel.astype("<f4").tofile(sys.argv[2])
    filters.astype("<f4").tofile(sys.argv[3])
    print(f"{mel.shape[0]} {mel.shape[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
