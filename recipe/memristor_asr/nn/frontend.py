"""VGG-style convolutional frontend with 4x time subsampling (docs/STUDY_SETUP.md §2). Always float."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

__all__ = ["VGG4LayerFrontend", "SUBSAMPLING", "subsampled_lengths"]

SUBSAMPLING = 4  # two max-pools of stride 2 over time


def subsampled_lengths(lengths: torch.Tensor) -> torch.Tensor:
    """Frames after the frontend: two floor-halvings (max-pool kernel 2, stride 2, no padding)."""
    return torch.div(torch.div(lengths, 2, rounding_mode="floor"), 2, rounding_mode="floor")


def _mask_time(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the padded frames of ``x`` [B, C, T, F] (mask [B, T], True = valid)."""
    return x * mask[:, None, :, None].to(x.dtype)


class VGG4LayerFrontend(nn.Module):
    """conv(1→c1) → conv(c1→c2) → ReLU → maxpool(2,1) → conv(c2→c3) → conv(c3→c4) → ReLU → maxpool(2,1)
    → flatten channels × frequency → Linear(c4·F → model_dim), no activation after it.

    All convs are 3×3 with "same" padding. Padded frames are set to zero before each conv so that
    a sequence's output does not depend on how much padding its batch has (the reference
    implementation lets conv outputs leak into the padding and back at the sequence end).

    :param feature_dim: input features F (log-mel bins)
    :param channels: output channels of the four convs
    :param model_dim: output dimension
    """

    def __init__(self, feature_dim: int, channels: Tuple[int, int, int, int], model_dim: int):
        super().__init__()
        c1, c2, c3, c4 = channels
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, kernel_size=3, padding=1)
        self.conv4 = nn.Conv2d(c3, c4, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=(2, 1), stride=(2, 1))
        self.linear = nn.Linear(c4 * feature_dim, model_dim)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        :param features: [B, T, F] log-mel features, padded frames arbitrary
        :param lengths: [B] valid frames per sequence
        :return: ([B, T//4, model_dim], [B] subsampled lengths)
        """
        t = features.shape[1]
        mask = torch.arange(t, device=features.device)[None, :] < lengths[:, None]
        x = _mask_time(features[:, None], mask)  # [B, 1, T, F]
        x = self.conv1(x)
        x = torch.relu(self.conv2(_mask_time(x, mask)))
        x = self.pool(x)  # [B, c2, T//2, F]
        lengths = torch.div(lengths, 2, rounding_mode="floor")
        mask = torch.arange(x.shape[2], device=x.device)[None, :] < lengths[:, None]
        x = self.conv3(_mask_time(x, mask))
        x = torch.relu(self.conv4(_mask_time(x, mask)))
        x = self.pool(x)  # [B, c4, T//4, F]
        lengths = torch.div(lengths, 2, rounding_mode="floor")
        x = x.transpose(1, 2).flatten(2)  # [B, T//4, c4·F], channel-major like the reference frontend
        return self.linear(x), lengths
