"""Network forward for recognition: label log-probabilities of every segment of a feature file."""
from __future__ import annotations

import logging
from typing import Callable, Dict, Optional

import numpy as np
import torch

from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.training.data import frame_shift_seconds
from memristor_asr.training.prior import feature_batches

__all__ = ["compute_log_probs"]

log = logging.getLogger(__name__)


@torch.no_grad()
def compute_log_probs(model: torch.nn.Module, reader: FeatureReader, *, batch_seconds: float = 60.0,
                      device=None, progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, np.ndarray]:
    """Batched forward pass in eval mode.

    :param batch_seconds: audio per batch (padded), seconds
    :param progress: called with (segments done, total)
    :return: segment id -> float32 [T_out, num_labels] log-probabilities; segments shorter than the
        subsampling are absent (the caller gives them an empty hypothesis)
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    max_frames = int(round(batch_seconds / frame_shift_seconds(reader)))
    out: Dict[str, np.ndarray] = {}
    done = 0
    for x, lens, idx in feature_batches(reader, range(len(reader)), max_frames):
        log_probs, out_lens = model(x.to(device), lens.to(device))
        lp = log_probs.float().cpu().numpy()
        for row, (j, n) in enumerate(zip(idx, out_lens.tolist())):
            out[reader.segment_ids[j]] = np.ascontiguousarray(lp[row, :n])
        done += len(idx)
        if progress is not None:
            progress(done, len(reader))
    return out
