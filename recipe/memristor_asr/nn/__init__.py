"""Conformer-CTC model, SpecAugment and fake quantisation (pure torch; no job code here).

Entry points: :class:`ModelConfig` (the whole model as a dataclass), :class:`ConformerCTCModel`,
:func:`load_model` (checkpoint → model). Quantisation modules live in :mod:`memristor_asr.nn.quant`.
"""
from memristor_asr.nn.checkpoint import CheckpointError, load_model, read_checkpoint, save_checkpoint
from memristor_asr.nn.config import ModelConfig, SpecAugmentConfig
from memristor_asr.nn.model import ConformerCTCModel, count_parameters

__all__ = ["ModelConfig", "SpecAugmentConfig", "ConformerCTCModel", "count_parameters", "CheckpointError",
           "load_model", "read_checkpoint", "save_checkpoint"]
