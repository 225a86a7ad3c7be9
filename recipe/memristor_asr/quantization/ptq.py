"""Post-training quantisation of a float checkpoint (docs/STUDY_SETUP.md §5).

The float weights are loaded into the quantised variant of the model (same parameter names; the
observers start empty), which is then run in eval mode over a seeded random subset of training
segments (the paper: 100) with all observers recording (cumulative MinMax, as in QAT). The
quantisation points are those of the QAT models: every block linear's weight at N bits, its input
and its output at 8 bits, q/k/v and the attention probabilities at N bits, and (by default) the
depthwise conv; frontend, norms, biases and output layer stay float.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch

from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.nn.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.frontend import SUBSAMPLING
from memristor_asr.nn.quant import fake_quantizers, observing
from memristor_asr.training.data import frame_shift_seconds
from memristor_asr.training.prior import feature_batches

__all__ = ["choose_calibration_segments", "calibrate", "quantize_checkpoint"]

log = logging.getLogger(__name__)


def choose_calibration_segments(reader: FeatureReader, num_segments: int, seed: int) -> np.ndarray:
    """``num_segments`` random sequence indices (without replacement, seeded) among those long
    enough for the subsampling; all of them if there are fewer."""
    usable = np.flatnonzero(reader.lengths >= SUBSAMPLING)
    if len(usable) == 0:
        raise ValueError(f"{reader.path}: no sequence has at least {SUBSAMPLING} frames")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(usable, size=min(num_segments, len(usable)), replace=False))


@torch.no_grad()
def calibrate(model: torch.nn.Module, reader: FeatureReader, indices: np.ndarray, *, batch_seconds: float,
              device, progress: Optional[Callable[[int, int], None]] = None) -> None:
    """Run ``model`` (eval mode) over the sequences ``indices`` with every observer recording."""
    model.eval()
    max_frames = int(round(batch_seconds / frame_shift_seconds(reader)))
    done = 0
    with observing(model):
        for x, lens, idx in feature_batches(reader, indices, max_frames):
            model(x.to(device), lens.to(device))
            done += len(idx)
            if progress is not None:
                progress(done, len(indices))
    unseen = [name for name, q in fake_quantizers(model) if not q.observed]
    if unseen:
        raise RuntimeError(f"calibration left quantisers without statistics: {unseen}")


def quantize_checkpoint(float_checkpoint, out_checkpoint, *, features, weight_bits: int, activation_bits: int = 8,
                        num_segments: int = 100, seed: int = 0, quantize_depthwise_conv: bool = True,
                        batch_seconds: float = 60.0, device=None,
                        progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, Any]:
    """PTQ: float checkpoint → calibrated quantised checkpoint (loadable with :func:`load_model`).

    :param features: training feature file (HDF5) to draw the calibration segments from
    :param weight_bits: N, for the weights and for q, k, v and the attention probabilities
    :return: the ``ptq`` entry written into the checkpoint (settings and calibration segment ids)
    :raises CheckpointError: if the input is not a float checkpoint (naming the file)
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    data = read_checkpoint(float_checkpoint)
    try:
        float_cfg = ModelConfig.from_dict(data["model_config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{os.fspath(float_checkpoint)}: invalid model_config: {e}") from None
    if float_cfg.quantized:
        raise CheckpointError(f"{os.fspath(float_checkpoint)}: PTQ needs a float model, this one is already "
                              f"quantised ({float_cfg.weight_bits} bit)")
    qcfg = dataclasses.replace(float_cfg.quantized_variant(weight_bits), activation_bits=activation_bits,
                               quantize_layer_output=True, quantize_depthwise_conv=quantize_depthwise_conv)
    model, _ = load_model(float_checkpoint, config=qcfg, allow_missing_observers=True)
    model.to(device)
    reader = FeatureReader(features)
    indices = choose_calibration_segments(reader, num_segments, seed)
    calibrate(model, reader, indices, batch_seconds=batch_seconds, device=device, progress=progress)
    info = {"float_checkpoint": os.fspath(float_checkpoint), "weight_bits": weight_bits,
            "activation_bits": activation_bits, "seed": seed, "num_segments": int(len(indices)),
            "segment_ids": [reader.segment_ids[i] for i in indices]}
    save_checkpoint(out_checkpoint, model.cpu(), qcfg, epoch=int(data["epoch"]), ptq=info)
    log.info("PTQ %d bit: calibrated on %d segments of %s", weight_bits, len(indices), reader.path)
    return info
