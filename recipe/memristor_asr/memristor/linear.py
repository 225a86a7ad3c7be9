"""A quantised linear layer computed on simulated paired binary crossbars (docs/CROSSBAR_MAPPING.md §2.6–§2.10).

Forward pass of :class:`MemristorLinear` for an input x ``[..., in]``:

1. DAC: x_n = x / (s_a · q_a) (q_a = 127), V = clamp(round(x_n · 2^(B−1)), ±2^(B−1)) / 2^(B−1) · Vmax.
2. Crossbar read of every (bit plane b, input tile j): column current ΔI_o = Σ_i (I_pos − I_neg)_io
   with I(r, V) = (1 − r)·I_LLRS(V) + r·I_HHRS(V) and read noise σ² = w(V)·|I| per cell.
3. ADC per (plane, input tile, column): q = clamp(round(c·ΔI·2^P), ±2^(P+Rb−1)) / 2^P.
4. Digital: Out = Σ_b 2^b Σ_j q; y = Out · s_w · s_a · q_a + bias; then the layer's output quantiser.

Two read paths give the same distribution:

- ``exact``: per-cell currents and per-cell noise, as the paper's code. Like that code, one
  standard-normal draw per cell is shared over the first ``noise_broadcast_dims`` leading input dims
  (the batch: sequences in a batch see the same z per (time, input, output), with their own σ).
- ``fast``: the column sums as matmuls over r and one N(0, 1) per column with the summed variance
  (:mod:`.read_plan`, which also gives the derivation). Differences to ``exact``: z is independent for
  every row (no batch sharing), and |I| = sign(V)·I assumes the current has the sign of the voltage,
  which fails only for extreme-HRS cells at |V| of a few mV, where I ≈ 1e-8 A.

The fast path is a :class:`~.read_plan.ReadPlan` per layer; on CPU its noise, ADC and recombination run in
a compiled kernel (:mod:`.kernel`), elsewhere in torch.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional

import torch
from torch import nn

from .cells import polyval, read_noise
from .config import HardwareConfig
from .crossbar import ProgrammedLayer, derive_seed
from .levels import plane_weights
from .params import SynaptogenParams, cached_default_params
from .read_plan import CPU_NOISE_STREAMS, ReadNoise, ReadPlan

__all__ = ["dac", "adc", "CrossbarLayer", "MemristorLinear"]

def dac(x: torch.Tensor, input_factor: float, config: HardwareConfig) -> torch.Tensor:
    """Input voltages in V: 2^B + 1 levels in [−Vmax, Vmax]; inputs beyond ±1/input_factor clip."""
    half = 2 ** (config.input_bits - 1)
    q = torch.round((x * input_factor) * half).clamp_(-half, half)  # normalise to ±1 first, as the paper's DAC
    return q * (config.input_vmax / half)


def adc(value: torch.Tensor, config: HardwareConfig) -> torch.Tensor:
    """ADC of normalised column values (c·ΔI): grid 2^−P, clipped at ±2^(Rb−1) (round half to even)."""
    step = 2.0 ** config.output_precision_bits
    lim = 2.0 ** (config.output_precision_bits + config.output_range_bits - 1)
    return torch.round(value * step).clamp_(-lim, lim) / step


class CrossbarLayer(nn.Module):
    """What every layer on programmed crossbars holds (:class:`MemristorLinear`,
    :class:`~.conv.MemristorDepthwiseConv1d`): the cell states' provenance, the scales, the digital
    bias and output quantiser, the read-noise seed and the I–V polynomials. A subclass registers
    ``r_pos`` / ``r_neg`` (planes first) in the layout its read needs.

    :param programmed: the layer's cell states (:class:`~memristor_asr.memristor.crossbar.ProgrammedLayer`)
    :param weight_scale: s_w, the weight quantiser's scale
    :param input_scale: s_a, the input activation quantiser's scale
    :param input_quant_max: q_a, the input quantiser's largest integer (127 for 8 bits)
    :param bias: float bias ``[outputs]`` added digitally, or None
    :param config: DAC/ADC/tile/noise settings
    :param out_quant: the original layer's output quantiser, applied last (kept as a submodule)
    :param noise_seed: seed of the read-noise generator (fresh noise on every call, reproducible)
    :param params: Synaptogen parameters (default: the shipped file)
    """

    def __init__(self, programmed: ProgrammedLayer, *, weight_scale: float, input_scale: float,
                 input_quant_max: int = 127, bias: Optional[torch.Tensor] = None,
                 config: HardwareConfig = HardwareConfig(), out_quant: Optional[nn.Module] = None,
                 noise_seed: int = 0, params: Optional[SynaptogenParams] = None, name: str = "CrossbarLayer"):
        super().__init__()
        programmed.validate(name)
        self.name = name
        self.config = config
        self.weight_bits = programmed.weight_bits
        self.levels = programmed.levels
        self.weight_digest = programmed.weight_digest
        for what, v in (("weight_scale", weight_scale), ("input_scale", input_scale)):
            v = float(v)
            if not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: {what} must be finite and > 0, got {v}")
        self.weight_scale = float(weight_scale)
        self.input_scale = float(input_scale)
        self.input_quant_max = int(input_quant_max)
        outputs = programmed.out_features
        if bias is not None:
            bias = bias.detach().float().reshape(-1)
            if bias.shape[0] != outputs or not torch.isfinite(bias).all():
                raise ValueError(f"{name}: bias must be {outputs} finite values, got {tuple(bias.shape)}")
            self.register_buffer("bias", bias.clone())
        else:
            self.bias = None
        self.out_quant = out_quant
        self.noise_seed = int(noise_seed)
        params = params or cached_default_params()
        self.register_buffer("llrs_poly", params.llrs_poly.float(), persistent=False)
        self.register_buffer("hhrs_poly", params.hhrs_poly.float(), persistent=False)
        self._generators: Dict[str, object] = {}

    @property
    def num_planes(self) -> int:
        return self.r_pos.shape[0]

    @property
    def output_factor(self) -> float:
        """Digital descale of the recombined ADC integers: s_w · s_a · q_a."""
        return self.weight_scale * self.input_scale * self.input_quant_max

    @property
    def plane_weights(self):
        """2^b for plane 0 (MSB, b = N−2) … plane N−2 (LSB, b = 0); (L − 1)·L^p for L-level cells."""
        return plane_weights(self.num_planes, self.levels)

    def reset_noise(self, seed: Optional[int] = None) -> None:
        """Restart the read-noise stream (from ``seed``, default the constructor's)."""
        if seed is not None:
            self.noise_seed = int(seed)
        self._generators.clear()

    def __getstate__(self):
        # generators cannot be pickled; a copy restarts its read noise from noise_seed
        state = self.__dict__.copy()
        state["_generators"] = {}
        return state

    def _digital(self, out: torch.Tensor) -> torch.Tensor:
        """The digital end of a read: recombined ADC values [..., outputs] · s_w s_a q_a + bias, then the
        output quantiser (elementwise, so any layout)."""
        y = out * self.output_factor
        if self.bias is not None:
            y = y + self.bias
        return self.out_quant(y) if self.out_quant is not None else y


class MemristorLinear(CrossbarLayer):
    """Linear layer ``y = W x + b`` computed on programmed crossbars (see the module docstring);
    arguments as :class:`CrossbarLayer`'s, with ``bias`` ``[out]``."""

    def __init__(self, programmed: ProgrammedLayer, *, weight_scale: float, input_scale: float,
                 input_quant_max: int = 127, bias: Optional[torch.Tensor] = None,
                 config: HardwareConfig = HardwareConfig(), out_quant: Optional[nn.Module] = None,
                 noise_seed: int = 0, params: Optional[SynaptogenParams] = None, name: str = "MemristorLinear"):
        super().__init__(programmed, weight_scale=weight_scale, input_scale=input_scale,
                         input_quant_max=input_quant_max, bias=bias, config=config, out_quant=out_quant,
                         noise_seed=noise_seed, params=params, name=name)
        self.in_features = programmed.in_features
        self.out_features = programmed.out_features
        self.register_buffer("r_pos", programmed.r_pos.detach().float().contiguous())
        self.register_buffer("r_neg", programmed.r_neg.detach().float().contiguous())
        self._noise_calls = 0  # forward calls so far: the kernel's noise stream of the next one
        self._plan: Optional[ReadPlan] = None

    # ------------------------------------------------------------------ helpers
    def extra_repr(self) -> str:
        c = self.config
        return (f"in_features={self.in_features}, out_features={self.out_features}, weight_bits={self.weight_bits}, "
                f"tiles={self.num_input_tiles}x{math.ceil(self.out_features / c.tile_outputs)}, "
                f"adc={c.output_precision_bits}+{c.output_range_bits}, noise={c.noise}, read_path={c.read_path}")

    @property
    def num_input_tiles(self) -> int:
        return math.ceil(self.in_features / self.config.tile_inputs)

    def generators(self, device: torch.device) -> List[torch.Generator]:
        """The read-noise generators on ``device`` (created from ``noise_seed`` on first use): one for the
        exact path and on accelerators, ``CPU_NOISE_STREAMS`` for the fast path on CPU."""
        key = str(device)
        if key not in self._generators:
            n = CPU_NOISE_STREAMS if torch.device(device).type == "cpu" else 1
            seeds = [self.noise_seed] + [derive_seed(self.noise_seed, f"stream{s}") for s in range(1, n)]
            self._generators[key] = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
        return self._generators[key]

    def reset_noise(self, seed: Optional[int] = None) -> None:
        super().reset_noise(seed)
        self._noise_calls = 0

    def __getstate__(self):
        state = super().__getstate__()
        state["_noise_calls"], state["_plan"] = 0, None
        return state

    def _apply(self, fn, *args, **kwargs):
        self._plan = None  # device / dtype moves invalidate the derived matrices
        return super()._apply(fn, *args, **kwargs)

    def read_plan(self) -> ReadPlan:
        """The fast read path's plan (tables and arranged matrices of the current cell states, built once)."""
        if self._plan is None:
            self._plan = ReadPlan(self.r_pos, self.r_neg, self.llrs_poly, self.hhrs_poly, self.config,
                                  levels=self.levels)
        return self._plan

    def _read_noise(self) -> ReadNoise:
        return ReadNoise(self.noise_seed, self.generators, self._next_noise_call)

    def _next_noise_call(self) -> int:
        """Index of this read in the kernel's noise streams (fresh noise on every call)."""
        self._noise_calls += 1
        return self._noise_calls - 1

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{self.name}: input must be a torch.Tensor, got {type(x).__name__}")
        if x.dtype != torch.float32:
            raise TypeError(f"{self.name}: input must be float32, got {x.dtype}")
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self.name}: input must be [..., {self.in_features}], got {tuple(x.shape)}")

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:param x: ``[..., in]`` float32; :return: ``[..., out]`` float32"""
        self._check_input(x)
        volts = dac(x, 1.0 / (self.input_scale * self.input_quant_max), self.config)
        if self.config.read_path == "fast":
            out = self.read_plan().read(volts.reshape(-1, self.in_features), self._read_noise())
            out = out.view(*x.shape[:-1], self.out_features)
        else:
            out = self._exact(volts)
        return self._digital(out)

    def crossbar_values(self, volts: torch.Tensor, path: Optional[str] = None, noise: Optional[str] = None
                        ) -> torch.Tensor:
        """Normalised pre-ADC column values c·ΔI per (plane, input tile), for validation. On CPU with
        the kernel, ``fast`` draws the normals the forward pass would draw, but computes the variance in
        float32 (the forward's is in :func:`variance_dtype`).

        :param volts: ``[..., in]`` DAC output in V
        :param path: ``exact`` or ``fast`` (default: the configured one)
        :param noise: noise mode (default: the configured one)
        :return: ``[N−1, T_in, ..., out]``
        """
        path = self.config.read_path if path is None else path
        noise = self.config.noise if noise is None else noise
        if path == "exact":
            return torch.stack([torch.stack([self._exact_tile(volts, p, j, noise) for j in range(self.num_input_tiles)])
                                for p in range(self.num_planes)])
        flat = volts.reshape(-1, self.in_features)
        val = self.read_plan().crossbar_values(flat, noise, self._read_noise())  # [T_in, R, out*P] in ADC steps
        val = val.view(self.num_input_tiles, flat.shape[0], self.out_features, self.num_planes).permute(3, 0, 1, 2)
        return val.reshape(self.num_planes, self.num_input_tiles, *volts.shape[:-1], self.out_features) / (
            2.0 ** self.config.output_precision_bits)

    def _exact_tile(self, volts: torch.Tensor, plane: int, tile: int, noise: str) -> torch.Tensor:
        """c·(Σ_i I_pos − Σ_i I_neg) for one (plane, input tile), per-cell currents and noise: ``[..., out]``."""
        c = self.config
        rows = slice(tile * c.tile_inputs, min((tile + 1) * c.tile_inputs, self.in_features))
        v = volts[..., rows]
        i_l = polyval(self.llrs_poly, v).unsqueeze(-1)  # [..., ti, 1]
        d = polyval(self.hhrs_poly, v).unsqueeze(-1) - i_l
        lead = volts.dim() - 1
        drop = min(c.noise_broadcast_dims, lead)
        gen = self.generators(volts.device)[0]
        out = []
        for k in range(0, self.out_features, c.tile_outputs):
            cols = slice(k, min(k + c.tile_outputs, self.out_features))
            total = None
            for sign, r in ((1.0, self.r_pos), (-1.0, self.r_neg)):
                cur = i_l + d * r[plane, rows, cols]  # [..., ti, to]
                if noise != "off":
                    cur = cur + read_noise(cur, v.unsqueeze(-1), noise, gen, noise_shape=cur.shape[drop:])
                s = cur.sum(-2) * sign
                total = s if total is None else total + s
            out.append(total)
        return torch.cat(out, dim=-1) * c.current_scaling

    def _exact(self, volts: torch.Tensor) -> torch.Tensor:
        acc = None
        for p, weight in enumerate(self.plane_weights):
            for j in range(self.num_input_tiles):
                q = adc(self._exact_tile(volts, p, j, self.config.noise), self.config) * weight
                acc = q if acc is None else acc + q
        return acc
