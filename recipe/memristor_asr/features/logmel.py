"""80-dim log-mel features as in i6_models ``LogMelFeatureExtractionV1`` (docs/STUDY_SETUP.md §2).

Waveform preprocessing (RETURNN order): pre-emphasis ``y[n] = x[n] - 0.97 x[n-1]`` (``y[0] = x[0]``),
then peak normalisation ``y / max|y|``. Features: 25 ms periodic Hann window (400 samples),
10 ms hop, ``n_fft`` = 400, ``center=False``, power spectrum, Slaney-style mel filterbank
(librosa's default: Slaney mel scale and area normalisation) with 80 bins from 60 to 7600 Hz,
``log10(max(x, 1e-10))``. Frames: ``floor((N - 400) / 160) + 1``. No mean/variance normalisation.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Tuple

import numpy as np
import torch
from torch import nn

__all__ = ["LogMelConfig", "LogMelFeatureExtraction", "preprocess_waveform", "num_frames"]


@dataclass(frozen=True)
class LogMelConfig:
    sample_rate: int = 16000
    win_size: float = 0.025        # seconds
    hop_size: float = 0.010        # seconds
    n_fft: int = 400
    num_filters: int = 80
    f_min: float = 60.0
    f_max: float = 7600.0
    min_amp: float = 1e-10
    preemphasis: float = 0.97      # 0 disables
    peak_normalization: bool = True

    @property
    def win_length(self) -> int:
        return int(round(self.win_size * self.sample_rate))

    @property
    def hop_length(self) -> int:
        return int(round(self.hop_size * self.sample_rate))

    def as_attrs(self) -> Dict[str, object]:
        """Provenance attributes for the HDF5 file."""
        d = asdict(self)
        d.update(win_length=self.win_length, hop_length=self.hop_length, log="log10", mel="slaney/slaney")
        return d


def num_frames(num_samples: int, config: LogMelConfig = LogMelConfig()) -> int:
    """``floor((N - win) / hop) + 1`` (0 if the signal is shorter than one window)."""
    if num_samples < config.win_length:
        return 0
    return (num_samples - config.win_length) // config.hop_length + 1


def preprocess_waveform(x: np.ndarray, preemphasis: float = 0.97, peak_normalization: bool = True) -> np.ndarray:
    """Pre-emphasis, then peak normalisation, of a float waveform [N] (an all-zero signal stays zero)."""
    y = np.asarray(x, dtype=np.float32).copy()
    if preemphasis:
        y[1:] -= preemphasis * np.asarray(x[:-1], dtype=np.float32)
    if peak_normalization:
        peak = float(np.max(np.abs(y))) if len(y) else 0.0
        if peak > 0:
            y /= peak
    return y


class LogMelFeatureExtraction(nn.Module):
    """Log10 mel filterbank energies of (already preprocessed) waveforms.

    forward: ``raw`` [B, N] float waveform at ``sample_rate``, ``lengths`` [B] valid samples ->
    (features [B, T, num_filters], frame lengths [B]); frames past a sequence's length are zero.
    """

    def __init__(self, config: LogMelConfig = LogMelConfig()):
        super().__init__()
        import torchaudio.functional as AF

        self.config = config
        if config.n_fft < config.win_length:
            raise ValueError(f"n_fft {config.n_fft} is shorter than the window ({config.win_length} samples)")
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)
        fbank = AF.melscale_fbanks(n_freqs=config.n_fft // 2 + 1, f_min=config.f_min, f_max=config.f_max,
                                   n_mels=config.num_filters, sample_rate=config.sample_rate, norm="slaney",
                                   mel_scale="slaney")
        self.register_buffer("mel_basis", fbank, persistent=False)   # [n_fft/2+1, num_filters]

    def forward(self, raw: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        spec = torch.stft(raw, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=self.window, center=False, return_complex=True)     # [B, F, T]
        power = spec.real ** 2 + spec.imag ** 2
        mel = torch.matmul(power.transpose(1, 2), self.mel_basis)                    # [B, T, num_filters]
        feats = torch.log10(torch.clamp(mel, min=cfg.min_amp))
        frames = torch.where(lengths >= cfg.win_length, (lengths - cfg.win_length) // cfg.hop_length + 1,
                             torch.zeros_like(lengths))
        mask = torch.arange(feats.shape[1], device=feats.device)[None, :] < frames[:, None]
        return feats * mask[:, :, None], frames

    @torch.no_grad()
    def extract(self, waveform: np.ndarray) -> np.ndarray:
        """Preprocess and featurise one waveform [N] -> float32 [T, num_filters]."""
        cfg = self.config
        y = torch.from_numpy(preprocess_waveform(waveform, cfg.preemphasis, cfg.peak_normalization))
        feats, _ = self(y[None], torch.tensor([len(y)]))
        return feats[0].numpy()
