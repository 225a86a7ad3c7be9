"""The Conformer-CTC acoustic model: SpecAugment → VGG frontend → Conformer blocks → CTC output."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.conformer import ConformerBlock
from memristor_asr.nn.frontend import VGG4LayerFrontend
from memristor_asr.nn.specaugment import spec_augment

__all__ = ["ConformerEncoder", "ConformerCTCModel", "count_parameters"]


class ConformerEncoder(nn.Module):
    """Frontend (4x subsampling) followed by ``cfg.num_blocks`` Conformer blocks (``blocks[i]``)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.frontend = VGG4LayerFrontend(cfg.feature_dim, cfg.frontend_channels, cfg.model_dim)
        self.blocks = nn.ModuleList([ConformerBlock(cfg) for _ in range(cfg.num_blocks)])

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        :param features: [B, T, F]
        :param lengths: [B] valid input frames
        :return: ([B, T//4, D], [B] valid output frames)
        """
        x, lengths = self.frontend(features, lengths)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        for block in self.blocks:
            x = block(x, mask)
        return x, lengths


class ConformerCTCModel(nn.Module):
    """Conformer-CTC over ``cfg.num_labels`` outputs, blank last.

    SpecAugment is applied in training mode only. Output layer (``final_linear``) and frontend are
    float in every variant. With ``cfg.feature_normalization`` the input is first normalised with
    the buffers ``feature_mean`` and ``feature_std`` [F] (see :meth:`set_feature_statistics`).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.feature_normalization:
            self.register_buffer("feature_mean", torch.zeros(cfg.feature_dim))
            self.register_buffer("feature_std", torch.ones(cfg.feature_dim))
        self.encoder = ConformerEncoder(cfg)
        self.final_dropout = nn.Dropout(cfg.final_dropout)
        self.final_linear = nn.Linear(cfg.model_dim, cfg.num_labels)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        :param features: [B, T, F] log-mel features (10 ms frames)
        :param lengths: [B] valid frames per sequence
        :return: (log-probabilities [B, T//4, num_labels], [B] valid output frames)
        """
        if self.cfg.feature_normalization:
            features = (features - self.feature_mean) / self.feature_std
        if self.training and self.cfg.specaugment.enabled:
            features = spec_augment(features, lengths, self.cfg.specaugment)
        x, out_lengths = self.encoder(features, lengths)
        logits = self.final_linear(self.final_dropout(x))
        return torch.log_softmax(logits, dim=-1), out_lengths

    def set_feature_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the input normalisation ([F] each; std is floored at 1e-5)."""
        if not self.cfg.feature_normalization:
            raise ValueError("this model config has feature_normalization=False")
        with torch.no_grad():
            self.feature_mean.copy_(mean)
            self.feature_std.copy_(torch.clamp(std, min=1e-5))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameter values."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
