"""CTC label prior: the mean posterior of each output label over the training frames.

Stored as ``prior.txt`` (docs/INTERFACES.md): one line per label in label order, the natural
log of the mean posterior. Decoding subtracts ``prior_scale · log prior`` from the log posteriors.
"""
from __future__ import annotations

import logging
import os
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch

from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.nn.frontend import SUBSAMPLING
from memristor_asr.training.data import frame_shift_seconds, make_batches, pad_sequences
from memristor_asr.util import atomic_write_text

__all__ = ["compute_log_prior", "write_prior", "read_prior", "feature_batches"]

log = logging.getLogger(__name__)


def feature_batches(reader: FeatureReader, indices: Sequence[int], max_frames: int):
    """Yield ``(features [B, T, F], lengths [B], indices)`` over ``indices`` sorted by length,
    batched by padded size; sequences shorter than the subsampling are left out."""
    lengths = reader.lengths
    usable = np.array(sorted((int(i) for i in indices if lengths[i] >= SUBSAMPLING), key=lambda i: (lengths[i], i)),
                      dtype=np.int64)
    for batch in make_batches(usable, lengths, max_frames=max_frames):
        x, lens = pad_sequences([torch.from_numpy(np.ascontiguousarray(reader[j])) for j in batch])
        yield x, lens, batch.tolist()


@torch.no_grad()
def compute_log_prior(model: torch.nn.Module, reader: FeatureReader, *, batch_seconds: float = 300.0,
                      device=None, progress: Optional[Callable[[int, int], None]] = None) -> Tuple[np.ndarray, int]:
    """Log of the mean softmax output over all valid output frames of ``reader`` (eval mode).

    :param progress: called with (sequences done, total sequences)
    :return: (log prior [num_labels] float64, number of output frames averaged)
    :raises ValueError: if no sequence is long enough for the subsampling
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    max_frames = int(round(batch_seconds / frame_shift_seconds(reader)))
    total, frames, done = None, 0, 0
    skipped = int((reader.lengths < SUBSAMPLING).sum())
    for x, lens, idx in feature_batches(reader, range(len(reader)), max_frames):
        log_probs, out_lens = model(x.to(device), lens.to(device))
        mask = (torch.arange(log_probs.shape[1], device=device)[None, :] < out_lens[:, None])
        probs = log_probs.exp().double() * mask[..., None]
        part = probs.sum(dim=(0, 1)).cpu()
        total = part if total is None else total + part
        frames += int(out_lens.sum())
        done += len(idx)
        if progress is not None:
            progress(done, len(reader))
    if total is None or frames == 0:
        raise ValueError(f"{reader.path}: no sequence has at least {SUBSAMPLING} frames")
    if skipped:
        log.info("%s: skipped %d sequences shorter than %d frames", reader.path, skipped, SUBSAMPLING)
    return np.log((total / frames).numpy()), frames


def write_prior(path, log_prior: np.ndarray) -> None:
    atomic_write_text(os.fspath(path), "".join(f"{float(v)!r}\n" for v in log_prior))


def read_prior(path, num_labels: Optional[int] = None) -> np.ndarray:
    """Read a prior file.

    :raises ValueError: naming the file for a non-number or a wrong number of lines
    """
    values = []
    with open(os.fspath(path), encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                values.append(float(line))
            except ValueError:
                raise ValueError(f"{path}:{lineno}: not a number: {line.strip()!r}") from None
    if num_labels is not None and len(values) != num_labels:
        raise ValueError(f"{path}: {len(values)} values, expected {num_labels}")
    return np.asarray(values, dtype=np.float64)
