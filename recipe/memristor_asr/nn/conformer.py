"""Conformer blocks without positional encoding (docs/STUDY_SETUP.md §3), float or fake-quantised (§4).

Module names follow docs/INTERFACES.md: ``ff1.linear_ff``, ``ff1.linear_out``, ``mhsa.in_proj``,
``mhsa.out_proj``, ``conv.pointwise_conv1``, ``conv.depthwise_conv``, ``conv.pointwise_conv2``,
``ff2.*``. In a quantised model (``cfg.weight_bits`` set) each of them is a
:class:`~memristor_asr.nn.quant.QuantLinear` (or :class:`~memristor_asr.nn.quant.QuantDepthwiseConv1d`),
and the attention quantises q, k, v and the softmax probabilities at the weight bit width.
LayerNorms, biases and everything outside the blocks stay float.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.quant import QuantDepthwiseConv1d, QuantLinear, WeightQuantizer

__all__ = ["FeedForwardModule", "SelfAttentionModule", "ConvModule", "ConformerBlock", "make_linear"]


def make_linear(cfg: ModelConfig, in_features: int, out_features: int) -> nn.Module:
    """``nn.Linear`` for a float model, :class:`QuantLinear` at ``cfg.weight_bits`` otherwise."""
    if cfg.weight_bits is None:
        return nn.Linear(in_features, out_features)
    return QuantLinear(in_features, out_features, weight_bits=cfg.weight_bits, activation_bits=cfg.activation_bits,
                       quantize_output=cfg.quantize_layer_output, weight_noise=cfg.weight_noise)


class FeedForwardModule(nn.Module):
    """LayerNorm → linear_ff (D→FF) → SiLU → dropout → linear_out (FF→D) → dropout. [B, T, D] → [B, T, D]"""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.layer_norm = nn.LayerNorm(cfg.model_dim)
        self.linear_ff = make_linear(cfg, cfg.model_dim, cfg.ff_dim)
        self.linear_out = make_linear(cfg, cfg.ff_dim, cfg.model_dim)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.linear_ff(self.layer_norm(x)))
        return self.dropout(self.linear_out(self.dropout(x)))


class SelfAttentionModule(nn.Module):
    """LayerNorm → fused q/k/v projection (D→3D) → scaled dot-product attention over unpadded keys
    → output projection (D→D) → dropout. No positional encoding. [B, T, D] → [B, T, D]

    Quantised models fake-quantise q, k, v and the attention probabilities at the weight bit
    width (``q_quant``, ``k_quant``, ``v_quant``, ``prob_quant``), as in the paper's QAT/PTQ models.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.model_dim // cfg.num_heads
        self.layer_norm = nn.LayerNorm(cfg.model_dim)
        self.in_proj = make_linear(cfg, cfg.model_dim, 3 * cfg.model_dim)
        self.out_proj = make_linear(cfg, cfg.model_dim, cfg.model_dim)
        self.att_weights_dropout = cfg.att_weights_dropout
        self.dropout = nn.Dropout(cfg.dropout)
        self.quantized = cfg.weight_bits is not None
        if self.quantized:
            self.q_quant = WeightQuantizer(cfg.weight_bits)
            self.k_quant = WeightQuantizer(cfg.weight_bits)
            self.v_quant = WeightQuantizer(cfg.weight_bits)
            self.prob_quant = WeightQuantizer(cfg.weight_bits)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """:param x: [B, T, D]; :param mask: [B, T] bool, True = valid frame"""
        batch, frames, dim = x.shape
        qkv = self.in_proj(self.layer_norm(x))  # [B, T, 3D]
        q, k, v = (t.view(batch, frames, self.num_heads, self.head_dim).transpose(1, 2)
                   for t in qkv.chunk(3, dim=-1))  # each [B, H, T, Dh]
        key_mask = mask[:, None, None, :]  # [B, 1, 1, T]
        drop = self.att_weights_dropout if self.training else 0.0
        if self.quantized:
            q, k, v = self.q_quant(q), self.k_quant(k), self.v_quant(v)
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # [B, H, T, T]
            probs = torch.softmax(scores.masked_fill(~key_mask, float("-inf")), dim=-1)
            probs = F.dropout(self.prob_quant(probs), p=drop, training=drop > 0)
            att = torch.matmul(probs, v)
        else:
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, dropout_p=drop)
        att = att.transpose(1, 2).reshape(batch, frames, dim)
        return self.dropout(self.out_proj(att))


class ConvModule(nn.Module):
    """LayerNorm → pointwise_conv1 (D→2D) → GLU → depthwise conv (kernel K) → LayerNorm over channels
    → SiLU → pointwise_conv2 (D→D) → dropout. [B, T, D] → [B, T, D]

    Padded frames are zeroed before the depthwise conv so that they do not leak into the valid
    frames near the sequence end.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dim = cfg.model_dim
        self.layer_norm = nn.LayerNorm(dim)
        self.pointwise_conv1 = make_linear(cfg, dim, 2 * dim)
        if cfg.weight_bits is not None and cfg.quantize_depthwise_conv:
            self.depthwise_conv = QuantDepthwiseConv1d(dim, cfg.conv_kernel_size, weight_bits=cfg.weight_bits,
                                                       activation_bits=cfg.activation_bits,
                                                       quantize_output=cfg.quantize_layer_output,
                                                       weight_noise=cfg.weight_noise)
        else:
            self.depthwise_conv = nn.Conv1d(dim, dim, cfg.conv_kernel_size, padding=cfg.conv_kernel_size // 2,
                                            groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pointwise_conv2 = make_linear(cfg, dim, dim)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """:param x: [B, T, D]; :param mask: [B, T] bool, True = valid frame (None: all valid)"""
        x = F.glu(self.pointwise_conv1(self.layer_norm(x)), dim=-1)  # [B, T, D]
        if mask is not None:
            x = x * mask[:, :, None].to(x.dtype)
        x = self.depthwise_conv(x.transpose(1, 2)).transpose(1, 2)  # conv over time, [B, T, D]
        x = F.silu(self.norm(x))
        return self.dropout(self.pointwise_conv2(x))


class ConformerBlock(nn.Module):
    """x + ½·FF1(x) → + MHSA → + Conv → + ½·FF2 → LayerNorm (all modules pre-LN). [B, T, D] → [B, T, D]"""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.ff1 = FeedForwardModule(cfg)
        self.mhsa = SelfAttentionModule(cfg)
        self.conv = ConvModule(cfg)
        self.ff2 = FeedForwardModule(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg.model_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """:param x: [B, T, D]; :param mask: [B, T] bool, True = valid frame"""
        x = x + 0.5 * self.ff1(x)
        x = x + self.mhsa(x, mask)
        x = x + self.conv(x, mask)
        x = x + 0.5 * self.ff2(x)
        return self.final_layer_norm(x)
