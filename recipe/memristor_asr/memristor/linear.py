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
- ``fast``: the noiseless sum is linear in r, Σ_i ΔI_io = Σ_i (I_HHRS − I_LLRS)(V_i) · (r_pos − r_neg)_io,
  one matmul per plane. The summed noise of a column is Gaussian with variance Σ_i w(V_i)·|I_io| over
  both cells of each pair, again a matmul, and one N(0, 1) per column is drawn. With |I| = sign(V)·I
  and a(V) = w·sign(V)·(I_LLRS − I_HHRS)(V) ≥ 0, the variance is written as
      Σ_i a(V_i)·(2ĉ − r_pos − r_neg)_io + Σ_i 2·w·sign(V_i)·[I_LLRS − ĉ·(I_LLRS − I_HHRS)](V_i),
  where ĉ is the layer's largest r: every matmul term is then ≥ 0. (Programmed HRS cells carry about
  1 % of an LRS cell's current, so the textbook form 2·I_LLRS + (I_HHRS − I_LLRS)·(r_pos + r_neg) is a
  difference of near-equal terms; this form has no such cancellation and stays accurate in low
  precision, see :func:`variance_dtype`.) Differences to ``exact``: z is independent for every row (no
  batch sharing), and |I| = sign(V)·I assumes the current has the sign of the voltage, which fails only
  for extreme-HRS cells at |V| of a few mV, where I ≈ 1e-8 A.

On CPU the fast path runs its noise, ADC and recombination in a compiled kernel (:mod:`.kernel`).
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import nn

from . import kernel
from .cells import noise_weight, polyval, read_noise
from .config import HardwareConfig
from .crossbar import ProgrammedLayer, derive_seed
from .params import SynaptogenParams, cached_default_params

__all__ = ["dac", "adc", "standard_normal", "MemristorLinear"]

# pre-ADC values per block of the torch fast path (accelerators, or CPU without the kernel): on CPU
# small enough to keep the chain in cache, on an accelerator large enough to amortise kernel launches
FAST_BLOCK_ELEMENTS = {"cpu": 2 ** 20, "other": 2 ** 25}
# The CPU fast path with the compiled kernel works through blocks of at most this many rows and
# output columns, so that a block's matmul results are still in cache for the epilogue.
KERNEL_BLOCK_ROWS = 1024
KERNEL_BLOCK_WIDTH = 512  # planes × columns of a block: wide enough for an efficient matmul


def kernel_block_columns(planes: int, out_features: int) -> int:
    """Output columns per block of the kernel path: about KERNEL_BLOCK_WIDTH / planes, a multiple of 64
    (the kernel's block of normals), at most the layer's width rounded up to 64. A function of the
    layer only, as the numbering of the normals depends on it."""
    cb = max(64, KERNEL_BLOCK_WIDTH // planes // 64 * 64)
    return min(cb, -(-out_features // 64) * 64)


# Without the kernel, the fast path's per-column noise on CPU comes from this many generators, filled in parallel
# (torch's CPU normal sampler is sequential and otherwise costs more than the matmuls at N = 8).
# Fixed, so that the numbers do not depend on the thread count.
CPU_NOISE_STREAMS = 4
_POOL: Optional[ThreadPoolExecutor] = None
_POOL_LOCK = threading.Lock()


def _noise_pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=CPU_NOISE_STREAMS - 1, thread_name_prefix="memristor-noise")
        return _POOL


def _forget_pool_in_child() -> None:
    """A forked child has none of the parent's worker threads: let it start its own pool."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def standard_normal(shape, generators: List[torch.Generator], device: torch.device) -> torch.Tensor:
    """N(0, 1) samples of ``shape``: split into ``len(generators)`` contiguous parts, each drawn from its
    own generator; on CPU the parts are drawn in parallel threads when torch has several threads."""
    out = torch.empty(shape, device=device)
    parts = out.view(-1).tensor_split(len(generators))
    if len(parts) == 1 or device.type != "cpu" or torch.get_num_threads() < 2:
        for part, gen in zip(parts, generators):
            part.normal_(generator=gen)
        return out
    inference = torch.is_inference_mode_enabled()  # thread-local: carry it into the workers

    def fill(part: torch.Tensor, gen: torch.Generator) -> None:
        with torch.inference_mode(inference):
            part.normal_(generator=gen)

    futures = [_noise_pool().submit(fill, part, gen) for part, gen in zip(parts[1:], generators[1:])]
    parts[0].normal_(generator=generators[0])
    for f in futures:
        f.result()
    return out


def _uses_kernel(device: torch.device) -> bool:
    """Whether the fast path on ``device`` runs through the compiled kernel (CPU, kernel available)."""
    return device.type == "cpu" and kernel.load() is not None


# CPU feature flags (/proc/cpuinfo) of 8-bit dot-product instructions, with which torch's integer
# matmul beats float32; without them (e.g. AMD Zen 3) torch's _int_mm falls back to a scalar loop that
# is ~10x slower than a float32 matmul (measured: the whole 8-bit read 8.5x slower)
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def variance_dtype() -> torch.dtype:
    """Operand type of the fast path's variance matmul on CPU, from ``MEMRISTOR_ASR_VARIANCE_DTYPE``:
    ``auto`` (default) takes 8-bit codes (``torch.int8``, an exact integer matmul, about twice the
    bfloat16 and four times the float32 rate) on CPUs with 8-bit dot products (:data:`INT8_DOT_FLAGS`)
    and float32 elsewhere; ``int8`` or ``float32`` force one.

    The variance only scales the noise, and its matmul sums non-negative terms (see the module
    docstring): with 8-bit codes of a(V) per (tile, row) and of 2ĉ − r_pos − r_neg per (tile, column)
    (:func:`unsigned_codes`, :func:`centred_codes`), σ stays within about 0.6 % of the float32 value.
    So CPUs with and without 8-bit dot products draw the same noise with σ differing by < 0.6 %.
    The current (mean) matmul is float32 throughout."""
    choice = os.environ.get("MEMRISTOR_ASR_VARIANCE_DTYPE", "auto").lower()
    if choice in ("float32", "fp32"):
        return torch.float32
    if choice not in ("int8", "auto"):
        raise ValueError(f"MEMRISTOR_ASR_VARIANCE_DTYPE must be 'auto', 'int8' or 'float32', got {choice!r}")
    if not hasattr(torch, "_int_mm"):
        return torch.float32
    if choice == "auto" and not (kernel.cpu_flags() & set(INT8_DOT_FLAGS)):
        return torch.float32
    return torch.int8


def unsigned_codes(x: torch.Tensor, dim: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """8-bit codes of non-negative ``x`` along ``dim``: x ≈ scale·codes, codes uint8 in 0…255,
    scale = max/255 (1 where the max is 0), kept with size 1 in ``dim``."""
    top = x.amax(dim, keepdim=True)
    scale = torch.where(top > 0, top / 255, torch.ones_like(top))
    return torch.round(x / scale).to(torch.uint8), scale


def centred_codes(x: torch.Tensor, dim: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """8-bit signed codes of non-negative ``x`` along ``dim``, centred to use the sign bit:
    x ≈ scale·(codes + 127), codes int8 in −127…127, scale = max/254 (1 where the max is 0)."""
    top = x.amax(dim, keepdim=True)
    scale = torch.where(top > 0, top / 254, torch.ones_like(top))
    return (torch.round(x / scale) - 127).to(torch.int8), scale


class _KernelMatrices(NamedTuple):
    """The r-dependent matrices of :meth:`MemristorLinear._fast_kernel`, per block of ``cb`` output
    columns and input tile: ``[n_blocks, T_in, ti, P·cb]``, plane-major inside a block."""

    cb: int
    r_diff: torch.Tensor  #: r_pos − r_neg, float32
    var: torch.Tensor  #: 2ĉ − r_pos − r_neg: float32, or centred 8-bit codes (int8)
    var_scale: Optional[torch.Tensor]  #: the codes' scales ``[n_blocks, T_in, P, cb]`` (None for float32)


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


class MemristorLinear(nn.Module):
    """Linear layer ``y = W x + b`` computed on programmed crossbars (see the module docstring).

    :param programmed: the layer's cell states (:class:`~memristor_asr.memristor.crossbar.ProgrammedLayer`)
    :param weight_scale: s_w, the weight quantiser's scale
    :param input_scale: s_a, the input activation quantiser's scale
    :param input_quant_max: q_a, the input quantiser's largest integer (127 for 8 bits)
    :param bias: float bias ``[out]`` added digitally, or None
    :param config: DAC/ADC/tile/noise settings
    :param out_quant: the original layer's output quantiser, applied last (kept as a submodule)
    :param noise_seed: seed of the read-noise generator (fresh noise on every call, reproducible)
    :param params: Synaptogen parameters (default: the shipped file)
    """

    def __init__(self, programmed: ProgrammedLayer, *, weight_scale: float, input_scale: float,
                 input_quant_max: int = 127, bias: Optional[torch.Tensor] = None,
                 config: HardwareConfig = HardwareConfig(), out_quant: Optional[nn.Module] = None,
                 noise_seed: int = 0, params: Optional[SynaptogenParams] = None, name: str = "MemristorLinear"):
        super().__init__()
        programmed.validate(name)
        self.name = name
        self.config = config
        self.weight_bits = programmed.weight_bits
        self.weight_digest = programmed.weight_digest
        self.in_features = programmed.in_features
        self.out_features = programmed.out_features
        for what, v in (("weight_scale", weight_scale), ("input_scale", input_scale)):
            v = float(v)
            if not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: {what} must be finite and > 0, got {v}")
        self.weight_scale = float(weight_scale)
        self.input_scale = float(input_scale)
        self.input_quant_max = int(input_quant_max)
        self.register_buffer("r_pos", programmed.r_pos.detach().float().contiguous())
        self.register_buffer("r_neg", programmed.r_neg.detach().float().contiguous())
        if bias is not None:
            bias = bias.detach().float().reshape(-1)
            if bias.shape[0] != self.out_features or not torch.isfinite(bias).all():
                raise ValueError(f"{name}: bias must be {self.out_features} finite values, got {tuple(bias.shape)}")
            self.register_buffer("bias", bias.clone())
        else:
            self.bias = None
        self.out_quant = out_quant
        self.noise_seed = int(noise_seed)
        params = params or cached_default_params()
        self.register_buffer("llrs_poly", params.llrs_poly.float(), persistent=False)
        self.register_buffer("hhrs_poly", params.hhrs_poly.float(), persistent=False)
        self._generators: Dict[str, List[torch.Generator]] = {}
        self._noise_calls = 0  # forward calls so far: the kernel's noise stream of the next one
        self._fast_cache: Optional[tuple] = None
        self._kernel_cache: Optional[_KernelMatrices] = None
        self._level_cache: Dict[tuple, torch.Tensor] = {}

    # ------------------------------------------------------------------ helpers
    def extra_repr(self) -> str:
        c = self.config
        return (f"in_features={self.in_features}, out_features={self.out_features}, weight_bits={self.weight_bits}, "
                f"tiles={self.num_input_tiles}x{math.ceil(self.out_features / c.tile_outputs)}, "
                f"adc={c.output_precision_bits}+{c.output_range_bits}, noise={c.noise}, read_path={c.read_path}")

    @property
    def num_planes(self) -> int:
        return self.weight_bits - 1

    @property
    def num_input_tiles(self) -> int:
        return math.ceil(self.in_features / self.config.tile_inputs)

    @property
    def output_factor(self) -> float:
        """Digital descale of the recombined ADC integers: s_w · s_a · q_a."""
        return self.weight_scale * self.input_scale * self.input_quant_max

    @property
    def plane_weights(self):
        """2^b for plane 0 (MSB, b = N−2) … plane N−2 (LSB, b = 0)."""
        return [2.0 ** (self.num_planes - 1 - p) for p in range(self.num_planes)]

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
        """Restart the read-noise stream (from ``seed``, default the constructor's)."""
        if seed is not None:
            self.noise_seed = int(seed)
        self._generators.clear()
        self._noise_calls = 0

    def __getstate__(self):
        # generators cannot be pickled; a copy restarts its read noise from noise_seed
        state = self.__dict__.copy()
        state["_generators"], state["_level_cache"], state["_noise_calls"] = {}, {}, 0
        state["_fast_cache"] = state["_kernel_cache"] = None
        return state

    def _apply(self, fn, *args, **kwargs):
        self._fast_cache = self._kernel_cache = None  # device / dtype moves invalidate the derived matrices
        self._level_cache = {}
        return super()._apply(fn, *args, **kwargs)

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
            out = self._fast(volts.reshape(-1, self.in_features)).view(*x.shape[:-1], self.out_features)
        else:
            out = self._exact(volts)
        y = out * self.output_factor
        if self.bias is not None:
            y = y + self.bias
        return self.out_quant(y) if self.out_quant is not None else y

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
        inputs = self._fast_inputs(flat, noise)
        call = self._next_noise_call() if _uses_kernel(flat.device) else None
        val = self._fast_values(inputs, 0, self.out_features, noise, call)  # [T_in, R, out*P] in ADC steps
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

    @property
    def r_ceiling(self) -> float:
        """ĉ, the largest r of the layer's cells (keeps the variance matmul's terms ≥ 0)."""
        return float(torch.maximum(self.r_pos.max(), self.r_neg.max()))

    def _variance_matrix(self) -> torch.Tensor:
        """2ĉ − r_pos − r_neg ``[P, in, out]``, the r-dependent factor of the column variance (≥ 0)."""
        return 2.0 * self.r_ceiling - self.r_pos - self.r_neg

    def _fast_matrices(self):
        """``[T_in, ti, out·P]`` matrices of r_pos − r_neg and 2ĉ − r_pos − r_neg (zero rows pad the last tile).

        Planes are the fastest axis of the columns, so the recombination Σ_b 2^b q is one matrix-vector product.
        """
        if self._fast_cache is None:
            ti, t_in = self.config.tile_inputs, self.num_input_tiles
            pad = t_in * ti - self.in_features

            def arrange(r: torch.Tensor) -> torch.Tensor:  # [P, in, out] -> [T_in, ti, out*P]
                r = torch.nn.functional.pad(r, (0, 0, 0, pad))
                return r.view(self.num_planes, t_in, ti, self.out_features).permute(1, 2, 3, 0).reshape(
                    t_in, ti, self.out_features * self.num_planes).contiguous()

            self._fast_cache = (arrange(self.r_pos - self.r_neg), arrange(self._variance_matrix()))
        return self._fast_cache

    def _level_factors(self, noise: str, device: torch.device) -> torch.Tensor:
        """The fast path's per-input factors at each of the DAC's 2^B + 1 voltages and a last zero entry,
        ``[3, 2^B + 2]``: (I_HHRS − I_LLRS)(V) in ADC steps, and in steps² a(V) = w·sign(V)·(I_LLRS − I_HHRS)(V)
        and 2·w·sign(V)·[I_LLRS − ĉ·(I_LLRS − I_HHRS)](V) (see the module docstring). Inputs take only these
        voltages, so a lookup replaces the polynomials."""
        key = (noise, str(device))
        if key not in self._level_cache:
            c = self.config
            half = 2 ** (c.input_bits - 1)
            volts = torch.arange(-half, half + 1, device=device, dtype=torch.float32) * (c.input_vmax / half)
            lsb = c.current_scaling * 2.0 ** c.output_precision_bits  # A -> ADC steps
            i_l = polyval(self.llrs_poly.to(device), volts)
            d = polyval(self.hhrs_poly.to(device), volts) - i_l
            w = noise_weight(volts, noise) * torch.sign(volts) * (lsb * lsb)
            table = torch.stack([d * lsb, -w * d, 2.0 * w * (i_l + self.r_ceiling * d)])
            self._level_cache[key] = torch.nn.functional.pad(table, (0, 1))  # + a zero entry for padding
        return self._level_cache[key]

    def _fast_inputs(self, volts: torch.Tensor, noise: str):
        """Per-input factors of the fast path for DAC output ``volts`` ``[R, in]``, tiled to ``[T_in, R, ti]``.

        Returns (mean factor (I_HHRS − I_LLRS)(V), variance factor a(V), r-independent variance per tile
        ``[T_in, R, 1]``), scaled to ADC steps (see :meth:`_level_factors`).
        """
        c = self.config
        t_in, ti = self.num_input_tiles, c.tile_inputs
        n_rows = volts.shape[0]
        half = 2 ** (c.input_bits - 1)

        table = self._level_factors(noise, volts.device)
        # the DAC level of every input (exact: volts = level · Vmax / 2^(B−1)), tiled to [T_in, R, ti];
        # the padding rows of the last tile point at the table's zero entry. int32: the float→int64
        # conversion is 20× slower on CPU.
        level = torch.round(volts * (half / c.input_vmax)).to(torch.int32).add_(half)
        level = torch.nn.functional.pad(level, (0, t_in * ti - self.in_features), value=table.shape[1] - 1)
        level = level.view(n_rows, t_in, ti).transpose(0, 1).reshape(-1)

        def lookup(k: int) -> torch.Tensor:
            return table[k].index_select(0, level).view(t_in, n_rows, ti)

        if noise == "off":
            return lookup(0), None, None
        return lookup(0), lookup(1), lookup(2).sum(-1, keepdim=True)

    def _fast_values(self, inputs, first: int, last: int, noise: str, call: Optional[int] = None) -> torch.Tensor:
        """Pre-ADC values in ADC steps ``[T_in, R, (last − first)·P]`` of outputs first:last, noise included
        (on CPU with the kernel, the normals of noise call ``call``, as :meth:`_fast_kernel` draws them)."""
        mean_in, var_in, var_base = inputs
        r_diff, var_matrix = self._fast_matrices()
        cols = slice(first * self.num_planes, last * self.num_planes)
        val = torch.matmul(mean_in, r_diff[:, :, cols])
        if noise != "off":
            std = torch.baddbmm(var_base, var_in, var_matrix[:, :, cols]).clamp_(min=0.0).sqrt_()
            if call is not None:  # the normals _fast_kernel gives these elements (see kernel.adc_accumulate)
                n_rows, n_planes, cb = val.shape[1], self.num_planes, self._kernel_matrices().cb
                n_blocks = math.ceil(self.out_features / cb)
                z = torch.stack([kernel.normal(n_rows * n_blocks * n_planes * cb, seed=self.noise_seed,
                                               stream=self._kernel_stream(call, j))
                                 .view(n_rows, n_blocks, n_planes, cb).transpose(2, 3).reshape(n_rows, -1, n_planes)
                                 [:, first:last].reshape(n_rows, -1) for j in range(val.shape[0])])
            else:
                z = standard_normal(val.shape, self.generators(val.device), val.device)
            val.addcmul_(std, z)
        return val

    def _next_noise_call(self) -> int:
        """Index of this call's read noise in the kernel's streams (fresh noise on every call)."""
        self._noise_calls += 1
        return self._noise_calls - 1

    def _kernel_stream(self, call: int, tile: int) -> int:
        return (call << 16) | tile

    def _kernel_matrices(self) -> _KernelMatrices:
        """The matrices of :meth:`_fast_kernel` (zero rows pad the last tile, zero columns the last block),
        the variance matrix in :func:`variance_dtype`."""
        if self._kernel_cache is None:
            ti, t_in, n_planes = self.config.tile_inputs, self.num_input_tiles, self.num_planes
            cb = kernel_block_columns(n_planes, self.out_features)
            n_blocks = math.ceil(self.out_features / cb)

            def arrange(r: torch.Tensor) -> torch.Tensor:  # [P, in, out] -> [n_blocks, T_in, ti, P*cb]
                r = torch.nn.functional.pad(r, (0, n_blocks * cb - self.out_features, 0, t_in * ti - self.in_features))
                return r.view(n_planes, t_in, ti, n_blocks, cb).permute(3, 1, 2, 0, 4).reshape(
                    n_blocks, t_in, ti, n_planes * cb).contiguous()

            var, var_scale = arrange(self._variance_matrix()), None
            if variance_dtype() == torch.int8:
                var, var_scale = centred_codes(var, 2)
                var_scale = var_scale.view(n_blocks, t_in, n_planes, cb)
            self._kernel_cache = _KernelMatrices(cb, arrange(self.r_pos - self.r_neg), var, var_scale)
        return self._kernel_cache

    def _fast_kernel(self, volts: torch.Tensor) -> torch.Tensor:
        """The fast path on CPU with the compiled epilogue (:mod:`.kernel`). Per block of rows and of
        output columns, two matmuls per input tile (current, variance), then noise + ADC + Σ_b 2^b q in
        one pass. Element (row, tile, plane, column) always gets the same normal, whatever the blocks."""
        c = self.config
        t_in, n_rows, n_planes, n_out = self.num_input_tiles, volts.shape[0], self.num_planes, self.out_features
        noise = c.noise != "off"
        if n_rows == 0:
            return volts.new_zeros(0, n_out)
        mean_in, var_in, var_base = self._fast_inputs(volts, c.noise)
        km = self._kernel_matrices()
        counts = noise and km.var_scale is not None
        if noise:
            var_base = var_base[..., 0]
        if counts:  # a(V) as 8-bit codes per (tile, row); Σ_i codes·(codes' + 127) = counts + row offset
            var_in, row_scale = unsigned_codes(var_in, 2)
            row_scale, row_offset = row_scale[..., 0], var_in.sum(2, dtype=torch.int32).mul_(127)
        stream0 = self._kernel_stream(self._next_noise_call(), 0)
        # 2^b / 2^P: the ADC steps' scale folded into the plane weights (powers of two: exact)
        plane_w = torch.tensor(self.plane_weights) / 2.0 ** c.output_precision_bits
        lim = 2.0 ** (c.output_precision_bits + c.output_range_bits - 1)
        out = torch.zeros(n_rows, n_out)
        cb, n_blocks = km.cb, len(km.r_diff)
        row_block = min(n_rows, KERNEL_BLOCK_ROWS)
        width = n_planes * cb
        mean_buf = torch.empty(t_in * row_block * width)
        var_buf = torch.empty(t_in * row_block * width, dtype=torch.int32 if counts else torch.float32) if noise else None
        for r0 in range(0, n_rows, row_block):
            r1 = min(r0 + row_block, n_rows)
            rows = r1 - r0
            mean = mean_buf[: t_in * rows * width].view(t_in, rows, n_planes, cb)
            var = var_buf[: t_in * rows * width].view(t_in, rows, n_planes, cb) if noise else None
            base = var_base[:, r0:r1].contiguous() if noise else None
            if counts:
                row_scales = (row_scale[:, r0:r1].contiguous(), row_offset[:, r0:r1].contiguous())
            for b in range(n_blocks):
                for j in range(t_in):
                    torch.mm(mean_in[j, r0:r1], km.r_diff[b, j], out=mean[j].view(rows, width))
                    if counts:
                        torch._int_mm(var_in[j, r0:r1], km.var[b, j], out=var[j].view(rows, width))
                    elif noise:
                        torch.mm(var_in[j, r0:r1], km.var[b, j], out=var[j].view(rows, width))
                cols = min(cb, n_out - b * cb)
                kernel.adc_accumulate(mean, kernel.VarianceCounts(var, *row_scales, km.var_scale[b]) if counts else var,
                                      base, out[r0:r1, b * cb:b * cb + cols], cols=cols, plane_weight=plane_w, lim=lim,
                                      seed=self.noise_seed, stream0=stream0, row0=r0, block=b, n_blocks=n_blocks)
        return out

    def _fast(self, volts: torch.Tensor) -> torch.Tensor:
        """Matmul read path for ``volts`` ``[R, in]`` → recombined ADC output ``[R, out]``.

        Works through blocks of output columns: each block's slice of the r matrices stays in cache
        for its matmul over all rows, and the pre-ADC chain of a block stays small.
        """
        if _uses_kernel(volts.device):
            return self._fast_kernel(volts)
        c = self.config
        t_in, n_rows, n_planes, n_out = self.num_input_tiles, volts.shape[0], self.num_planes, self.out_features
        lim = 2.0 ** (c.output_precision_bits + c.output_range_bits - 1)
        inputs = self._fast_inputs(volts, c.noise)
        plane_w = torch.tensor(self.plane_weights, device=volts.device)
        out = torch.empty(n_rows, n_out, device=volts.device)
        budget = FAST_BLOCK_ELEMENTS["cpu" if volts.device.type == "cpu" else "other"]
        block = max(1, budget // (t_in * n_planes * max(n_rows, 1)))
        for first in range(0, n_out, block):
            last = min(first + block, n_out)
            val = self._fast_values(inputs, first, last, c.noise).round_().clamp_(-lim, lim)  # ADC
            val = torch.matmul(val.view(t_in, n_rows, last - first, n_planes), plane_w)  # shifts by 2^b
            torch.sum(val, 0, out=out[:, first:last])  # digital sum over input tiles
        return out / 2.0 ** c.output_precision_bits
