"""Sisyphus job of the quantisation area: :class:`PTQJob` (work in :mod:`memristor_asr.quantization.ptq`)."""
from __future__ import annotations

import os
from typing import Optional

from sisyphus import tk

from memristor_asr.quantization.ptq import quantize_checkpoint
from memristor_asr.recipe_job import RecipeJob
from memristor_asr.util import ProgressFile, setup_task, task_device

__all__ = ["PTQJob"]


class PTQJob(RecipeJob):
    """Post-training quantisation of a float checkpoint at ``weight_bits`` (8-bit activations),
    calibrated on ``num_segments`` random training segments. Output ``model.pt`` loads as a
    quantised model; ``calibration_segments.txt`` lists the segments used."""

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 4.0, "time": 1.0}

    def __init__(self, *, float_checkpoint: tk.Path, train_features: tk.Path, weight_bits: int,
                 activation_bits: int = 8, num_segments: int = 100, seed: int = 0,
                 quantize_depthwise_conv: bool = True, batch_seconds: float = 60.0,
                 rqmt: Optional[dict] = None):
        """
        :param float_checkpoint: checkpoint of the float model (TrainJob.out_checkpoint)
        :param train_features: HDF5 features of the training data (calibration pool)
        :param weight_bits: N for weights, q, k, v and attention probabilities
        :param activation_bits: layer input/output quantisers
        :param num_segments: calibration segments (the paper: 100)
        :param seed: calibration subset seed (the paper: 0)
        :param quantize_depthwise_conv: also quantise the depthwise conv (as in QAT); False keeps it
            float like the paper's ``v2_mem`` PTQ model
        :param batch_seconds: padded audio per calibration batch (calibration runs with fake
            quantisation on, so the batch split can change the statistics slightly: hashed)
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (cpu cores, also torch's threads;
            gpu count; mem GB; time hours); not hashed
        """
        self.float_checkpoint = float_checkpoint
        self.train_features = train_features
        self.weight_bits = weight_bits
        self.activation_bits = activation_bits
        self.num_segments = num_segments
        self.seed = seed
        self.quantize_depthwise_conv = quantize_depthwise_conv
        self.batch_seconds = batch_seconds
        self.rqmt = self.resources(rqmt)
        self.out_checkpoint = self.output_path("model.pt")
        self.out_calibration_segments = self.output_path("calibration_segments.txt")

    def run(self):
        setup_task(self.rqmt["cpu"])
        progress_file = ProgressFile(os.path.join(self.work_path(), "progress.txt"))
        info = quantize_checkpoint(
            tk.uncached_path(self.float_checkpoint), self.out_checkpoint.get_path(),
            features=tk.uncached_path(self.train_features), weight_bits=self.weight_bits,
            activation_bits=self.activation_bits, num_segments=self.num_segments, seed=self.seed,
            quantize_depthwise_conv=self.quantize_depthwise_conv, batch_seconds=self.batch_seconds,
            device=task_device(self.rqmt["gpu"]),
            progress=lambda done, total: progress_file.write(f"calibrated {done}/{total} segments"))
        with open(self.out_calibration_segments.get_path(), "w", encoding="utf-8") as f:
            f.write("".join(s + "\n" for s in info["segment_ids"]))

    def info(self):
        return ProgressFile.read(os.path.join(self.work_path(), "progress.txt"))
