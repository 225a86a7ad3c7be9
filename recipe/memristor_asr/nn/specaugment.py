"""SpecAugment with a length-dependent number of time masks (docs/STUDY_SETUP.md §2)."""
from __future__ import annotations

import torch

from memristor_asr.nn.config import SpecAugmentConfig

__all__ = ["spec_augment"]


def _random_masks(size: int, lengths: torch.Tensor, num_min: int, num_max: torch.Tensor, max_width: int,
                  generator: torch.Generator = None) -> torch.Tensor:
    """Masks along one axis: sequence b gets ``randint[num_min, num_max[b]]`` masks, each starting
    uniformly inside its first ``lengths[b]`` positions and 1..``max_width`` long.

    :return: bool [B, size], True = masked
    """
    batch = lengths.shape[0]
    num = num_min + (torch.rand(batch, generator=generator) * (num_max - num_min + 1)).long()  # [B]
    most = int(num.max())
    start = (torch.rand(batch, most, generator=generator) * lengths[:, None]).long()  # [B, M]
    width = torch.randint(1, max_width + 1, (batch, most), generator=generator)
    used = torch.arange(most)[None, :] < num[:, None]  # [B, M]
    pos = torch.arange(size)[None, None, :]  # [1, 1, size]
    hit = (pos >= start[..., None]) & (pos < (start + width)[..., None]) & used[..., None]
    return hit.any(dim=1)


def spec_augment(features: torch.Tensor, lengths: torch.Tensor, cfg: SpecAugmentConfig,
                 generator: torch.Generator = None) -> torch.Tensor:
    """Zero random time and frequency bands of each sequence.

    Draws happen on the CPU (torch's default generator unless ``generator`` is given), so the
    result is the same on every device for the same RNG state.

    :param features: [B, T, F]
    :param lengths: [B] valid frames (masks start inside the valid part)
    :return: [B, T, F] with masked entries set to 0
    """
    batch, frames, bins = features.shape
    lengths_cpu = lengths.detach().cpu().long().clamp(min=1)
    num_time_max = torch.clamp(lengths_cpu // cfg.time_max_mask_per_n_frames, min=cfg.time_min_num_masks)
    time_mask = _random_masks(frames, lengths_cpu, cfg.time_min_num_masks, num_time_max,
                              cfg.time_mask_max_size, generator)  # [B, T]
    num_freq_max = torch.full((batch,), cfg.freq_max_num_masks)
    freq_mask = _random_masks(bins, torch.full((batch,), bins), cfg.freq_min_num_masks, num_freq_max,
                              cfg.freq_mask_max_size, generator)  # [B, F]
    masked = time_mask[:, :, None] | freq_mask[:, None, :]
    return features.masked_fill(masked.to(features.device), 0.0)
