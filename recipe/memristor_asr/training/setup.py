"""The model and training part of a study's setup: :class:`TrainingSetup`.

The values (the paper's 12×384 Conformer, the small mini and ci ones) are composed in
``users/memristor/setups.py``; a setup only sizes the model and the schedules, the schedule shape,
RAdam settings and quantisation scheme are the same for all.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from memristor_asr.nn.config import ModelConfig
from memristor_asr.training.trainer import TrainConfig

__all__ = ["TrainingSetup"]


@dataclass(frozen=True)
class TrainingSetup:
    """Model and training sizes of a study.

    :param model: the float model; QAT/PTQ variants derive from it
    :param train: float training; QAT uses it with ``qat_seqs_per_bin``
    :param qat_seqs_per_bin: laplace bin size of QAT runs from scratch (the paper: 4000 vs 1000 float)
    :param qat_finetune: None (the paper): QAT models train from scratch with ``train``. Set: each QAT
        model starts from the float model of its seed and trains with this config (its own schedule
        and bin size; the seed is the float run's)
    :param qat_bits: weight bit widths trained with QAT
    :param ptq_bits: weight bit widths of the PTQ baselines
    :param ptq_num_segments: calibration segments (the paper: 100)
    :param ptq_seed: calibration subset seed (the paper: 0)
    :param batch_seconds_eval: batch size for prior and PTQ forward passes, seconds of audio
    :param train_rqmt: rqmt of a training task (cpu, gpu, mem in GB, time in hours)
    :param eval_rqmt: rqmt of PTQ and prior tasks
    """

    model: ModelConfig
    train: TrainConfig
    qat_seqs_per_bin: int
    qat_finetune: Optional[TrainConfig] = None
    qat_bits: Tuple[int, ...] = (8, 6, 5, 4, 3, 2)
    ptq_bits: Tuple[int, ...] = (8, 6, 5, 4, 3, 2)
    ptq_num_segments: int = 100
    ptq_seed: int = 0
    batch_seconds_eval: float = 300.0
    train_rqmt: Dict[str, Any] = field(default_factory=dict)
    eval_rqmt: Dict[str, Any] = field(default_factory=dict)

    def model_for(self, weight_bits: Optional[int] = None) -> ModelConfig:
        """The float model (None) or a QAT model of ``weight_bits`` (attention-weight dropout off)."""
        return self.model if weight_bits is None else self.model.quantized_variant(weight_bits)

    def training_for(self, weight_bits: Optional[int] = None, seed: Optional[int] = None) -> TrainConfig:
        """The training of the float (None) or a QAT model, with ``seed`` (default: the setup's)."""
        if weight_bits is None:
            cfg = self.train
        elif self.qat_finetune is not None:
            cfg = self.qat_finetune
        else:
            cfg = dataclasses.replace(self.train, seqs_per_bin=self.qat_seqs_per_bin)
        return dataclasses.replace(cfg, seed=self.train.seed if seed is None else seed)
