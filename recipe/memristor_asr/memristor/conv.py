"""A quantised depthwise Conv1d computed on simulated crossbars (docs/CROSSBAR_MAPPING.md §2.11).

Mapping: per-channel columns, as the follow-up's ``MemristorConv1d``. The integer kernel W_int
``[C, K]`` (C channels, K taps) is bit-sliced like a linear weight of K inputs and C outputs
(:func:`~.crossbar.bit_planes`: planes ``[N−1, K, C]``), so each magnitude plane is one pair of cell
arrays holding C independent columns of K cells, and programming is :func:`~.crossbar.program_layer`'s.
Unlike a linear layer's column, each column has its own K inputs: the K voltages of its own
channel's window. Why not a Toeplitz (unfolded) matrix on ordinary tiles: its C·K × C cells would
carry the C·K weights and (C − 1)·C·K HRS cells, C times the cells, each of them adding current and
read noise to every column; the per-channel column holds exactly the kernel.

Forward for x ``[B, C, T]``:

1. DAC as the linear layer's (:func:`~.linear.dac`, scale of the input quantiser), once per input
   value; zero padding of K // 2 frames on both sides and the sliding window are digital (a shift
   register).
2. Column current of (plane, frame, channel): ΔI = Σ_k (I_pos − I_neg) over the K cells, with
   I(r, V) = (1 − r)·I_LLRS(V) + r·I_HHRS(V), and read noise of variance w(V)·|I| per cell: ``exact``
   draws it per cell, ``fast`` one N(0, 1) per column with the summed variance (the same
   distribution; both compute every cell's current exactly).
3. ADC per (plane, frame, channel) (:func:`~.linear.adc`), digital Σ_b 2^b q, times s_w·s_a·q_a, bias,
   then the layer's output quantiser.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from .cells import noise_weight, polyval
from .config import HardwareConfig
from .crossbar import ProgrammedLayer
from .linear import CrossbarLayer, adc, dac
from .params import SynaptogenParams

__all__ = ["MemristorDepthwiseConv1d", "check_depthwise_fits"]

# cells (elements of [P, rows, C, K]) computed at once: bounds the memory of a forward pass
CELLS_PER_CHUNK = 2 ** 23


def check_depthwise_fits(name: str, kernel_size: int, tile_inputs: int) -> None:
    """A column holds one channel's K taps: K must not exceed the tile's rows.

    :raises ValueError: naming the layer and the setting
    """
    if kernel_size > tile_inputs:
        raise ValueError(f"{name}: a depthwise kernel of {kernel_size} taps does not fit a column of "
                         f"ProgrammingConfig.tile_inputs = {tile_inputs} rows")


class MemristorDepthwiseConv1d(CrossbarLayer):
    """Depthwise Conv1d (groups = channels, "same" padding) on programmed per-channel columns; arguments
    as :class:`~.linear.CrossbarLayer`'s.

    :param programmed: the cell states, ``r_pos`` / ``r_neg`` ``[N−1, K, C]`` (in = taps, out = channels)
    :param bias: float bias ``[C]``, added digitally, or None
    :param config: DAC/ADC/noise settings (``read_path``: ``exact`` or ``fast``, see the module doc)
    """

    def __init__(self, programmed: ProgrammedLayer, *, weight_scale: float, input_scale: float,
                 input_quant_max: int = 127, bias: Optional[torch.Tensor] = None,
                 config: HardwareConfig = HardwareConfig(), out_quant: Optional[nn.Module] = None,
                 noise_seed: int = 0, params: Optional[SynaptogenParams] = None,
                 name: str = "MemristorDepthwiseConv1d"):
        super().__init__(programmed, weight_scale=weight_scale, input_scale=input_scale,
                         input_quant_max=input_quant_max, bias=bias, config=config, out_quant=out_quant,
                         noise_seed=noise_seed, params=params, name=name)
        self.kernel_size = programmed.in_features
        self.channels = programmed.out_features
        if self.kernel_size % 2 != 1:
            raise ValueError(f"{name}: the kernel must have an odd number of taps ('same' padding), got {self.kernel_size}")
        check_depthwise_fits(name, self.kernel_size, config.tile_inputs)
        # [P, C, K]: a channel's column, taps last (the window's layout)
        self.register_buffer("r_pos", programmed.r_pos.detach().float().permute(0, 2, 1).contiguous())
        self.register_buffer("r_neg", programmed.r_neg.detach().float().permute(0, 2, 1).contiguous())

    def extra_repr(self) -> str:
        c = self.config
        return (f"channels={self.channels}, kernel_size={self.kernel_size}, weight_bits={self.weight_bits}, "
                f"adc={c.output_precision_bits}+{c.output_range_bits}, noise={c.noise}, read_path={c.read_path}")

    def generator(self, device: torch.device) -> torch.Generator:
        """The read-noise generator on ``device`` (from ``noise_seed`` on first use)."""
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(self.noise_seed)
        return self._generators[key]

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """DAC voltages of every output frame's window: ``[B, C, T]`` → ``[B·T, C, K]`` in V."""
        if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
            raise TypeError(f"{self.name}: input must be a float32 tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 3 or x.shape[1] != self.channels:
            raise ValueError(f"{self.name}: input must be [batch, {self.channels}, time], got {tuple(x.shape)}")
        volts = dac(x, 1.0 / (self.input_scale * self.input_quant_max), self.config)
        pad = self.kernel_size // 2
        win = F.pad(volts, (pad, pad)).unfold(2, self.kernel_size, 1)  # [B, C, T, K]
        return win.permute(0, 2, 1, 3).reshape(-1, self.channels, self.kernel_size)

    def crossbar_values(self, win: torch.Tensor, noise: Optional[str] = None, path: Optional[str] = None
                        ) -> torch.Tensor:
        """Normalised pre-ADC column values c·ΔI ``[P, rows, C]`` of windows ``[rows, C, K]`` (V)."""
        c = self.config
        noise = c.noise if noise is None else noise
        path = c.read_path if path is None else path
        i_l = polyval(self.llrs_poly, win)  # [rows, C, K]
        d = polyval(self.hhrs_poly, win) - i_l
        w = noise_weight(win, noise) if noise != "off" else None
        gen = self.generator(win.device)
        out = torch.empty(self.num_planes, win.shape[0], self.channels, device=win.device)
        step = max(1, CELLS_PER_CHUNK // max(1, self.channels * self.kernel_size))
        for p in range(self.num_planes):
            for s in range(0, win.shape[0], step):
                rows = slice(s, s + step)
                cur_pos = i_l[rows] + d[rows] * self.r_pos[p]  # [rows, C, K]
                cur_neg = i_l[rows] + d[rows] * self.r_neg[p]
                if noise == "off":
                    total = (cur_pos - cur_neg).sum(-1)
                elif path == "exact":
                    sd = (w[rows] * torch.stack([cur_pos.abs(), cur_neg.abs()])).sqrt()
                    z = torch.randn(sd.shape, generator=gen, device=win.device)
                    cells = torch.stack([cur_pos, cur_neg]) + sd * z
                    total = cells[0].sum(-1) - cells[1].sum(-1)
                else:
                    var = (w[rows] * (cur_pos.abs() + cur_neg.abs())).sum(-1)
                    z = torch.randn(var.shape, generator=gen, device=win.device)
                    total = (cur_pos - cur_neg).sum(-1) + var.sqrt() * z
                out[p, rows] = total * c.current_scaling
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:param x: ``[B, C, T]`` float32; :return: ``[B, C, T]``"""
        win = self.windows(x)  # checks x
        b, _, t = x.shape
        values = self.crossbar_values(win)  # [P, B·T, C]
        q = adc(values, self.config)
        weights = torch.tensor(self.plane_weights, device=x.device)
        out = (q * weights.view(-1, 1, 1)).sum(0)  # [B·T, C]
        return self._digital(out).view(b, t, self.channels).transpose(1, 2)
