"""Model configuration: one dataclass that fully describes a Conformer-CTC model.

A checkpoint stores ``config.to_dict()`` under ``"model_config"``; ``ModelConfig.from_dict`` rebuilds
the dataclass from it (and rejects unknown keys, so a checkpoint from an incompatible version fails
loudly instead of silently dropping options); both come from :class:`memristor_asr.config.Config`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Tuple

from memristor_asr.config import Config

__all__ = ["SpecAugmentConfig", "ModelConfig"]


@dataclass(frozen=True)
class SpecAugmentConfig(Config):
    """SpecAugment "by length" (docs/STUDY_SETUP.md §2); masks are filled with 0.

    The number of time masks of a sequence of T frames is drawn uniformly from
    ``[time_min_num_masks, max(time_min_num_masks, T // time_max_mask_per_n_frames)]``.
    """

    enabled: bool = True
    time_min_num_masks: int = 2
    time_max_mask_per_n_frames: int = 25
    time_mask_max_size: int = 20
    freq_min_num_masks: int = 2
    freq_max_num_masks: int = 5
    freq_mask_max_size: int = 8


@dataclass(frozen=True)
class ModelConfig(Config):
    """Conformer-CTC model (docs/STUDY_SETUP.md §2–§4). Defaults are the paper's float model.

    :param num_labels: CTC outputs including the blank, which is the last index
    :param feature_dim: log-mel bins of the input features
    :param frontend_channels: output channels of the four VGG conv layers
    :param model_dim: Conformer dimension (frontend output, attention, conv channels)
    :param ff_dim: hidden size of the feed-forward modules
    :param num_heads: attention heads (``model_dim`` must be divisible by it)
    :param num_blocks: Conformer blocks
    :param conv_kernel_size: depthwise conv kernel (odd)
    :param dropout: dropout in FF, MHSA output and conv module
    :param att_weights_dropout: dropout on the attention probabilities (0 in QAT models)
    :param final_dropout: dropout before the output layer
    :param feature_normalization: subtract the training data's per-bin mean and divide by its
        standard deviation (buffers ``feature_mean``/``feature_std``, set by the trainer). Not in the
        paper (no normalisation there); it lets the small ``mini`` models leave the CTC blank
        plateau several hundred steps sooner
    :param weight_bits: None for a float model; else the weight bit width N (2..8) of every
        quantised layer, also used for q, k, v and the attention probabilities
    :param activation_bits: bit width of the activation quantisers at layer inputs/outputs
    :param quantize_layer_output: put an activation quantiser on the output of every
        quantised layer (``out_quant``), as the paper's QAT and PTQ models do
    :param quantize_depthwise_conv: quantise the depthwise conv (weights, input, output)
    :param weight_noise: noise-aware training (docs/HARDWARE_STUDIES.md §4): in training mode, every
        quantised linear and depthwise conv adds Gaussian noise of std √2·weight_noise·2^i weight
        steps per magnitude bit plane i to its fake-quantised weight (0: none; the follow-up: 0.05);
        never in evaluation, prior or memristor runs
    """

    HASH_OMITS_DEFAULT = ("weight_noise",)  # added later: models without noise keep their job ids

    num_labels: int = 79
    feature_dim: int = 80
    frontend_channels: Tuple[int, int, int, int] = (32, 64, 64, 32)
    model_dim: int = 384
    ff_dim: int = 1536
    num_heads: int = 4
    num_blocks: int = 12
    conv_kernel_size: int = 31
    dropout: float = 0.2
    att_weights_dropout: float = 0.2
    final_dropout: float = 0.2
    feature_normalization: bool = False
    specaugment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    weight_bits: Optional[int] = None
    activation_bits: int = 8
    quantize_layer_output: bool = True
    quantize_depthwise_conv: bool = True
    weight_noise: float = 0.0

    def __post_init__(self):
        if self.model_dim % self.num_heads:
            raise ValueError(f"model_dim {self.model_dim} is not divisible by num_heads {self.num_heads}")
        if self.conv_kernel_size % 2 != 1:
            raise ValueError(f"conv_kernel_size must be odd, got {self.conv_kernel_size}")
        if self.weight_bits is not None and not 2 <= self.weight_bits <= 8:
            raise ValueError(f"weight_bits must be in 2..8 (or None for float), got {self.weight_bits}")
        if not 2 <= self.activation_bits <= 8:
            raise ValueError(f"activation_bits must be in 2..8, got {self.activation_bits}")
        if isinstance(self.weight_noise, bool) or not isinstance(self.weight_noise, (int, float)) \
                or not 0 <= self.weight_noise < float("inf"):
            raise ValueError(f"weight_noise must be a number >= 0 (weight steps per plane), got {self.weight_noise!r}")
        if self.weight_noise and self.weight_bits is None:
            raise ValueError(f"weight_noise={self.weight_noise} needs a quantised model (weight_bits), got a float one")
        if len(self.frontend_channels) != 4:
            raise ValueError(f"frontend_channels needs 4 entries, got {self.frontend_channels}")
        object.__setattr__(self, "frontend_channels", tuple(self.frontend_channels))

    @property
    def quantized(self) -> bool:
        return self.weight_bits is not None

    def quantized_variant(self, weight_bits: int, *, att_weights_dropout: float = 0.0) -> "ModelConfig":
        """The QAT/PTQ variant of this (float) config at ``weight_bits``.

        Attention-weight dropout is off in the paper's quantised models (docs/STUDY_SETUP.md §3).
        """
        return dataclasses.replace(self, weight_bits=weight_bits, att_weights_dropout=att_weights_dropout)
