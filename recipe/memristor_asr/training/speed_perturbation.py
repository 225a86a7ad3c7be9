"""Speed perturbation on log-mel features.

The paper resamples the waveform by a factor α ∈ {0.9, 1.0, 1.1} (librosa ``kaiser_fast``), which
changes tempo and pitch together. Our training reads precomputed log-mel features, so the same
change is applied in the feature domain, in torch:

* time: the sequence is resampled to ``round(T / α)`` frames (linear interpolation between frames);
* frequency: playing audio α times faster moves energy at f Hz to α·f Hz, so output bin j (centre
  frequency f_j on the Slaney mel scale used by the features) takes the input spectrum at f_j / α,
  interpolated linearly between the input bins' centre frequencies (clamped at the edges).

This is an approximation of waveform resampling: the band energies are interpolated rather than
recomputed (bandwidth changes of ±10 % are ignored) and window effects differ slightly.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["mel_centre_frequencies", "SpeedPerturbation"]


def _hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    """Slaney (librosa default) mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def _mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_centre_frequencies(num_bins: int, f_min: float = 60.0, f_max: float = 7600.0) -> np.ndarray:
    """Centre frequencies (Hz) of ``num_bins`` Slaney mel filters between f_min and f_max."""
    mels = np.linspace(_hz_to_mel_slaney(f_min), _hz_to_mel_slaney(f_max), num_bins + 2)
    return _mel_to_hz_slaney(mels[1:-1])


class SpeedPerturbation:
    """Draws a factor per utterance and applies it (see module docstring).

    :param factors: the factors drawn uniformly (1.0 leaves the utterance unchanged)
    :param centres_hz: centre frequency of each feature bin
    :param rng: numpy generator for the draws (the trainer seeds one per sub-epoch)
    """

    def __init__(self, factors: Sequence[float], centres_hz: np.ndarray, rng: np.random.Generator):
        self.factors = [float(f) for f in factors]
        self.centres = np.asarray(centres_hz, dtype=np.float64)
        self.rng = rng
        self._warp = {}  # factor -> (lower bin index, upper bin index, weight of upper)

    def _freq_warp(self, factor: float):
        if factor not in self._warp:
            source = np.clip(self.centres / factor, self.centres[0], self.centres[-1])
            pos = np.interp(source, self.centres, np.arange(len(self.centres)))
            lo = np.floor(pos).astype(np.int64)
            hi = np.minimum(lo + 1, len(self.centres) - 1)
            self._warp[factor] = (torch.from_numpy(lo), torch.from_numpy(hi),
                                  torch.from_numpy((pos - lo).astype(np.float32)))
        return self._warp[factor]

    def apply(self, features: torch.Tensor, factor: float) -> torch.Tensor:
        """:param features: [T, F] log-mel; :return: [round(T / factor), F]"""
        if factor == 1.0:
            return features
        lo, hi, w = self._freq_warp(factor)
        x = features[:, lo] * (1 - w) + features[:, hi] * w  # frequency warp, [T, F]
        frames = max(1, int(round(features.shape[0] / factor)))
        x = F.interpolate(x.t()[None], size=frames, mode="linear", align_corners=True)[0].t()
        return x.contiguous()

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        return self.apply(features, self.factors[int(self.rng.integers(len(self.factors)))])
