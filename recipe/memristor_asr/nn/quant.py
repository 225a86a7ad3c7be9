"""Fake quantisation for QAT and PTQ (docs/STUDY_SETUP.md §4, §5; contract in docs/INTERFACES.md).

Scheme: per-tensor symmetric with the restricted integer range ``[-(2^(N-1)-1), 2^(N-1)-1]``
and zero point 0. The scale comes from a cumulative MinMax observer (torch.ao
``MinMaxObserver`` semantics: running global min/max, no moving average, never shrinks)::

    scale = max(|min(min_val, 0)|, max(max_val, 0)) / (2^(N-1)-1),  clamped to >= float32 eps

The observer is updated on every forward pass in training mode (QAT from the first step) or
while calibrating (PTQ, :func:`observing`); otherwise the stored range is used as is. Fake
quantisation is ``torch.fake_quantize_per_tensor_affine``: round half to even, clamp, and a
straight-through gradient inside the range (zero outside).

Noise-aware training (docs/HARDWARE_STUDIES.md §4): with ``weight_noise`` = d > 0, a quantised layer in
training mode adds to its fake-quantised weight one Gaussian draw per magnitude bit plane i = 0 … N−2
of std √2·d·2^i weight steps (√2: the pair of cells), i.e. in sum one draw of std
s·d·√(2(4^(N−1) − 1)/3) (:func:`plane_noise_std`), fresh on every forward, not re-quantised, with the
straight-through gradient of the weight unchanged.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FakeQuantizer",
    "WeightQuantizer",
    "ActivationQuantizer",
    "QuantLinear",
    "QuantDepthwiseConv1d",
    "fake_quantizers",
    "observing",
    "plane_noise_std",
]


class FakeQuantizer(nn.Module):
    """Symmetric per-tensor fake quantiser with a cumulative MinMax observer.

    :param bits: bit width N; the integer range is ±(2^(N-1)-1)
    """

    def __init__(self, bits: int):
        super().__init__()
        if not 2 <= bits <= 8:
            raise ValueError(f"bit width must be in 2..8, got {bits}")
        self.bits = bits
        self.quant_max = 2 ** (bits - 1) - 1
        self.quant_min = -self.quant_max
        self.register_buffer("min_val", torch.tensor(float("inf")))
        self.register_buffer("max_val", torch.tensor(float("-inf")))
        self.register_buffer("zero_point", torch.zeros((), dtype=torch.int32), persistent=False)
        # None: observe exactly when in training mode; True/False force it (PTQ calibration)
        self.force_observe: Optional[bool] = None

    def extra_repr(self) -> str:
        return f"bits={self.bits}, quant_max={self.quant_max}"

    @property
    def observed(self) -> bool:
        """Whether the observer has seen any data (else there is no scale yet)."""
        return bool(torch.isfinite(self.max_val))

    @property
    def scale(self) -> torch.Tensor:
        """0-dim float32 tensor: the current quantisation step s (value = s · integer)."""
        amax = torch.maximum(-self.min_val.clamp(max=0.0), self.max_val.clamp(min=0.0))
        return torch.clamp(amax / self.quant_max, min=torch.finfo(torch.float32).eps)

    def observe(self, x: torch.Tensor) -> None:
        """Widen the running [min, max] range by the values of ``x``."""
        with torch.no_grad():
            lo, hi = torch.aminmax(x.detach().float())
            torch.minimum(self.min_val, lo, out=self.min_val)
            torch.maximum(self.max_val, hi, out=self.max_val)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:param x: any shape; :return: x rounded to the grid scale · {-q..q}, same shape"""
        do_observe = self.training if self.force_observe is None else self.force_observe
        if do_observe:
            self.observe(x)
        elif not self.observed:
            raise RuntimeError(f"{type(self).__name__}({self.bits} bit) has no observed range yet: "
                               "train it (QAT) or calibrate it (PTQ) before evaluating")
        return torch.fake_quantize_per_tensor_affine(x, self.scale, self.zero_point, self.quant_min, self.quant_max)


class WeightQuantizer(FakeQuantizer):
    """Fake quantiser for weights (and, in attention, for q, k, v and the softmax output)."""


class ActivationQuantizer(FakeQuantizer):
    """Fake quantiser for layer inputs and outputs (8 bit in the paper)."""


def plane_noise_std(bits: int, noise: float) -> float:
    """Std in weight steps of the sum over the N−1 magnitude planes of N(0, (√2·noise·2^i)²)."""
    return noise * math.sqrt(2 * (4 ** (bits - 1) - 1) / 3)


def _noisy_weight(layer: nn.Module) -> torch.Tensor:
    """A quantised layer's fake-quantised weight, with the bit-plane noise when it trains with noise."""
    w = layer.weight_quant(layer.weight)
    if layer.training and layer.weight_noise > 0:
        std = layer.weight_quant.scale.detach() * plane_noise_std(layer.weight_bits, layer.weight_noise)
        w = w + torch.randn_like(w) * std
    return w


class QuantLinear(nn.Module):
    """Linear layer with fake-quantised weight, input and (optionally) output; the bias stays float.

    ``forward(x) = out_quant(F.linear(in_quant(x), weight_quant(weight), bias))``

    Parameter names equal ``nn.Linear``'s, so a float state dict loads into it.

    :param in_features: input size
    :param out_features: output size
    :param weight_bits: weight bit width N
    :param activation_bits: bit width of ``in_quant`` / ``out_quant``
    :param quantize_output: whether ``out_quant`` exists (else it is None)
    :param weight_noise: bit-plane weight noise in training mode (see the module doc; 0: none)
    """

    def __init__(self, in_features: int, out_features: int, *, weight_bits: int, activation_bits: int = 8,
                 quantize_output: bool = True, bias: bool = True, weight_noise: float = 0.0):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight_bits = weight_bits
        self.weight_noise = weight_noise
        ref = nn.Linear(in_features, out_features, bias=bias)  # the standard initialisation
        self.weight = nn.Parameter(ref.weight.detach().clone())
        self.bias = nn.Parameter(ref.bias.detach().clone()) if bias else None
        self.weight_quant = WeightQuantizer(weight_bits)
        self.in_quant = ActivationQuantizer(activation_bits)
        self.out_quant = ActivationQuantizer(activation_bits) if quantize_output else None

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, weight_bits={self.weight_bits}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:param x: [..., in_features]; :return: [..., out_features]"""
        y = F.linear(self.in_quant(x), _noisy_weight(self), self.bias)
        return self.out_quant(y) if self.out_quant is not None else y


class QuantDepthwiseConv1d(nn.Module):
    """Depthwise Conv1d (groups = channels, "same" padding) with fake-quantised weight, input and output.

    Parameter names equal ``nn.Conv1d``'s (weight [C, 1, K], bias [C]).

    :param channels: input = output channels
    :param kernel_size: odd kernel size
    :param weight_noise: bit-plane weight noise in training mode (see the module doc; 0: none)
    """

    def __init__(self, channels: int, kernel_size: int, *, weight_bits: int, activation_bits: int = 8,
                 quantize_output: bool = True, weight_noise: float = 0.0):
        super().__init__()
        ref = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.channels = channels
        self.kernel_size = kernel_size
        self.weight_bits = weight_bits
        self.weight_noise = weight_noise
        self.weight = nn.Parameter(ref.weight.detach().clone())
        self.bias = nn.Parameter(ref.bias.detach().clone())
        self.weight_quant = WeightQuantizer(weight_bits)
        self.in_quant = ActivationQuantizer(activation_bits)
        self.out_quant = ActivationQuantizer(activation_bits) if quantize_output else None

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}, weight_bits={self.weight_bits}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:param x: [B, C, T]; :return: [B, C, T]"""
        y = F.conv1d(self.in_quant(x), _noisy_weight(self), self.bias,
                     padding=self.kernel_size // 2, groups=self.channels)
        return self.out_quant(y) if self.out_quant is not None else y


def fake_quantizers(model: nn.Module) -> Iterator[tuple]:
    """Yield ``(name, quantizer)`` for every :class:`FakeQuantizer` in ``model``."""
    for name, mod in model.named_modules():
        if isinstance(mod, FakeQuantizer):
            yield name, mod


@contextlib.contextmanager
def observing(model: nn.Module, enabled: bool = True):
    """Force the observers of ``model`` on (PTQ calibration in eval mode) or off, restoring after."""
    quantizers = [q for _, q in fake_quantizers(model)]
    before = [q.force_observe for q in quantizers]
    for q in quantizers:
        q.force_observe = enabled
    try:
        yield model
    finally:
        for q, b in zip(quantizers, before):
            q.force_observe = b
