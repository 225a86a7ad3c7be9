"""The fast read path of a programmed layer: one :class:`ReadPlan` per layer, two interchangeable epilogues.

The noiseless column sum is linear in r, Σ_i ΔI_io = Σ_i (I_HHRS − I_LLRS)(V_i) · (r_pos − r_neg)_io, one
matmul per plane. The summed noise of a column is Gaussian with variance Σ_i w(V_i)·|I_io| over both
cells of each pair, again a matmul, and one N(0, 1) per column is drawn. With |I| = sign(V)·I and
a(V) = w·sign(V)·(I_LLRS − I_HHRS)(V) ≥ 0, the variance is written as
    Σ_i a(V_i)·(2ĉ − r_pos − r_neg)_io + Σ_i 2·w·sign(V_i)·[I_LLRS − ĉ·(I_LLRS − I_HHRS)](V_i),
where ĉ is the layer's largest r: every matmul term is then ≥ 0. (Programmed HRS cells carry about
1 % of an LRS cell's current, so the textbook form 2·I_LLRS + (I_HHRS − I_LLRS)·(r_pos + r_neg) is a
difference of near-equal terms; this form has no such cancellation and stays accurate in low
precision, see :func:`variance_dtype`.)

A :class:`ReadPlan` owns what is derived from the cell states once: the per-voltage factor tables and
the matrices, arranged as an epilogue needs them. The epilogue does noise, ADC and the recombination
Σ_b 2^b q:

- :data:`TORCH` (:class:`TorchEpilogue`): torch operations, for accelerators and CPUs without the kernel;
- :data:`KERNEL` (:class:`KernelEpilogue`): the compiled CPU kernel of :mod:`.kernel`, one fused pass.

Both give the same distribution; their normals differ (torch generators vs. the kernel's counter-based
streams), and each is deterministic for a given seed.
"""
from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, NamedTuple, Optional, Protocol, Tuple

import torch

from . import kernel
from .cells import noise_weight, polyval
from .config import HardwareConfig
from .levels import plane_weights

__all__ = ["ReadNoise", "ReadPlan", "TorchEpilogue", "KernelEpilogue", "TORCH", "KERNEL", "epilogue_for",
           "standard_normal", "variance_dtype", "unsigned_codes", "centred_codes", "kernel_block_columns"]

# pre-ADC values per block of the torch epilogue: on CPU small enough to keep the chain in cache,
# on an accelerator large enough to amortise kernel launches
FAST_BLOCK_ELEMENTS = {"cpu": 2 ** 20, "other": 2 ** 25}
# The kernel epilogue works through blocks of at most this many rows and output columns, so that a
# block's matmul results are still in cache for the epilogue.
KERNEL_BLOCK_ROWS = 1024
KERNEL_BLOCK_WIDTH = 512  # planes × columns of a block: wide enough for an efficient matmul


def kernel_block_columns(planes: int, out_features: int) -> int:
    """Output columns per block of the kernel path: about KERNEL_BLOCK_WIDTH / planes, a multiple of 64
    (the kernel's block of normals), at most the layer's width rounded up to 64. A function of the
    layer only, as the numbering of the normals depends on it."""
    cb = max(64, KERNEL_BLOCK_WIDTH // planes // 64 * 64)
    return min(cb, -(-out_features // 64) * 64)


# Without the kernel, the per-column noise on CPU comes from this many generators, filled in parallel
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


# CPU feature flags (/proc/cpuinfo) of 8-bit dot-product instructions, with which torch's integer
# matmul beats float32; without them (e.g. AMD Zen 3) torch's _int_mm falls back to a scalar loop that
# is ~10x slower than a float32 matmul (measured: the whole 8-bit read 8.5x slower)
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


def variance_dtype() -> torch.dtype:
    """Operand type of the kernel epilogue's variance matmul, from ``MEMRISTOR_ASR_VARIANCE_DTYPE``:
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


@dataclass(frozen=True)
class ReadNoise:
    """Where one layer's read noise comes from; the layer owns the state, the plan only draws."""

    seed: int  #: the layer's noise seed (the kernel's key)
    generators: Callable[[torch.device], List[torch.Generator]]  #: torch generators on a device
    next_call: Callable[[], int]  #: index of this read in the kernel's streams (fresh noise per read)


class FastInputs(NamedTuple):
    """Per-input factors of one read, tiled ``[T_in, R, ti]``, in ADC steps (see :meth:`ReadPlan.level_factors`)."""

    mean: torch.Tensor  #: (I_HHRS − I_LLRS)(V)
    var: Optional[torch.Tensor]  #: a(V) (None without noise)
    var_base: Optional[torch.Tensor]  #: r-independent variance per tile ``[T_in, R, 1]`` (None without noise)


class Epilogue(Protocol):
    """What does noise, ADC and recombination of a fast read: :class:`TorchEpilogue` or :class:`KernelEpilogue`."""

    name: str  #: key of its arranged matrices in a plan

    def arrange(self, plan: "ReadPlan") -> object:
        """The plan's matrices in this epilogue's layout."""

    def read(self, plan: "ReadPlan", volts: torch.Tensor, noise: ReadNoise) -> torch.Tensor:
        """DAC output ``volts`` ``[R, in]`` → recombined ADC output ``[R, out]``."""


class ReadPlan:
    """The fast read of one programmed layer: derived tables and arranged matrices, built on first use.

    :param r_pos: r of the positive cells ``[P, in, out]`` (P = weight bits − 1 planes, MSB first)
    :param r_neg: r of the negative cells ``[P, in, out]``
    :param llrs_poly: polynomial of I_LLRS(V) in A (V in volts)
    :param hhrs_poly: polynomial of I_HHRS(V) in A
    :param config: DAC/ADC/tile/noise settings
    :param levels: conductance states per cell (the planes' recombination weights, ``levels.plane_weights``)
    """

    def __init__(self, r_pos: torch.Tensor, r_neg: torch.Tensor, llrs_poly: torch.Tensor, hhrs_poly: torch.Tensor,
                 config: HardwareConfig, levels: int = 2):
        self.r_pos, self.r_neg = r_pos, r_neg
        self.llrs_poly, self.hhrs_poly = llrs_poly, hhrs_poly
        self.config = config
        self.num_planes, self.in_features, self.out_features = r_pos.shape
        self.num_input_tiles = math.ceil(self.in_features / config.tile_inputs)
        #: 2^b for plane 0 (MSB, b = N−2) … plane N−2 (LSB, b = 0); (L − 1)·L^p for L-level cells
        self.plane_weights = plane_weights(self.num_planes, levels)
        #: ĉ, the largest r of the layer's cells (keeps the variance matmul's terms ≥ 0)
        self.r_ceiling = float(torch.maximum(r_pos.max(), r_neg.max()))
        self._levels: Dict[tuple, torch.Tensor] = {}
        self._arranged: Dict[str, object] = {}

    def variance_matrix(self) -> torch.Tensor:
        """2ĉ − r_pos − r_neg ``[P, in, out]``, the r-dependent factor of the column variance (≥ 0)."""
        return 2.0 * self.r_ceiling - self.r_pos - self.r_neg

    def arranged(self, epilogue: Epilogue):
        """The matrices in ``epilogue``'s layout (arranged once per epilogue)."""
        if epilogue.name not in self._arranged:
            self._arranged[epilogue.name] = epilogue.arrange(self)
        return self._arranged[epilogue.name]

    def level_factors(self, noise: str, device: torch.device) -> torch.Tensor:
        """Per-input factors at each of the DAC's 2^B + 1 voltages and a last zero entry, ``[3, 2^B + 2]``:
        (I_HHRS − I_LLRS)(V) in ADC steps, and in steps² a(V) = w·sign(V)·(I_LLRS − I_HHRS)(V) and
        2·w·sign(V)·[I_LLRS − ĉ·(I_LLRS − I_HHRS)](V) (see the module docstring). Inputs take only these
        voltages, so a lookup replaces the polynomials."""
        key = (noise, str(device))
        if key not in self._levels:
            c = self.config
            half = 2 ** (c.input_bits - 1)
            volts = torch.arange(-half, half + 1, device=device, dtype=torch.float32) * (c.input_vmax / half)
            lsb = c.current_scaling * 2.0 ** c.output_precision_bits  # A -> ADC steps
            i_l = polyval(self.llrs_poly.to(device), volts)
            d = polyval(self.hhrs_poly.to(device), volts) - i_l
            w = noise_weight(volts, noise) * torch.sign(volts) * (lsb * lsb)
            table = torch.stack([d * lsb, -w * d, 2.0 * w * (i_l + self.r_ceiling * d)])
            self._levels[key] = torch.nn.functional.pad(table, (0, 1))  # + a zero entry for padding
        return self._levels[key]

    def inputs(self, volts: torch.Tensor, noise: str) -> FastInputs:
        """The per-input factors of DAC output ``volts`` ``[R, in]`` (V), tiled to ``[T_in, R, ti]``."""
        c = self.config
        t_in, ti = self.num_input_tiles, c.tile_inputs
        n_rows = volts.shape[0]
        half = 2 ** (c.input_bits - 1)

        table = self.level_factors(noise, volts.device)
        # the DAC level of every input (exact: volts = level · Vmax / 2^(B−1)), tiled to [T_in, R, ti];
        # the padding rows of the last tile point at the table's zero entry. int32: the float→int64
        # conversion is 20× slower on CPU.
        level = torch.round(volts * (half / c.input_vmax)).to(torch.int32).add_(half)
        level = torch.nn.functional.pad(level, (0, t_in * ti - self.in_features), value=table.shape[1] - 1)
        level = level.view(n_rows, t_in, ti).transpose(0, 1).reshape(-1)

        def lookup(k: int) -> torch.Tensor:
            return table[k].index_select(0, level).view(t_in, n_rows, ti)

        if noise == "off":
            return FastInputs(lookup(0), None, None)
        return FastInputs(lookup(0), lookup(1), lookup(2).sum(-1, keepdim=True))

    def read(self, volts: torch.Tensor, noise: ReadNoise) -> torch.Tensor:
        """DAC output ``volts`` ``[R, in]`` (V) → recombined ADC output ``[R, out]`` (ADC integers),
        through the epilogue for ``volts``' device."""
        return epilogue_for(volts.device).read(self, volts, noise)

    def crossbar_values(self, volts: torch.Tensor, noise_mode: str, noise: ReadNoise) -> torch.Tensor:
        """Pre-ADC values in ADC steps ``[T_in, R, out·P]`` of ``volts`` ``[R, in]``, noise included, with
        the normals the forward read on this device would draw (the variance in float32)."""
        inputs = self.inputs(volts, noise_mode)
        if epilogue_for(volts.device) is KERNEL:
            draw = KERNEL.normals_in_torch_layout(self, noise.seed, noise.next_call())
        else:
            draw = TORCH.normals(noise, volts.device)
        return TORCH.values(self, inputs, 0, self.out_features, noise_mode, draw)


# draws the normals of a block of values: (shape [T_in, R, cols·P], first column, last column) -> tensor
NormalDraw = Callable[[torch.Size, int, int], torch.Tensor]


class TorchEpilogue:
    """Noise, ADC and recombination in torch: matrices ``[T_in, ti, out·P]``, planes the fastest axis of the
    columns (the recombination is one matrix-vector product); normals from the layer's torch generators.

    Works through blocks of output columns: each block's slice of the r matrices stays in cache for its
    matmul over all rows, and the pre-ADC chain of a block stays small."""

    name = "torch"

    def arrange(self, plan: ReadPlan) -> Tuple[torch.Tensor, torch.Tensor]:
        """r_pos − r_neg and 2ĉ − r_pos − r_neg as ``[T_in, ti, out·P]`` (zero rows pad the last tile)."""
        ti, t_in, n_planes, n_out = plan.config.tile_inputs, plan.num_input_tiles, plan.num_planes, plan.out_features
        pad = t_in * ti - plan.in_features

        def arrange(r: torch.Tensor) -> torch.Tensor:  # [P, in, out] -> [T_in, ti, out*P]
            r = torch.nn.functional.pad(r, (0, 0, 0, pad))
            return r.view(n_planes, t_in, ti, n_out).permute(1, 2, 3, 0).reshape(t_in, ti, n_out * n_planes).contiguous()

        return arrange(plan.r_pos - plan.r_neg), arrange(plan.variance_matrix())

    @staticmethod
    def normals(noise: ReadNoise, device: torch.device) -> NormalDraw:
        return lambda shape, first, last: standard_normal(shape, noise.generators(device), device)

    def values(self, plan: ReadPlan, inputs: FastInputs, first: int, last: int, noise_mode: str,
               draw: NormalDraw) -> torch.Tensor:
        """Pre-ADC values in ADC steps ``[T_in, R, (last − first)·P]`` of outputs first:last, noise included."""
        r_diff, var_matrix = plan.arranged(self)
        cols = slice(first * plan.num_planes, last * plan.num_planes)
        val = torch.matmul(inputs.mean, r_diff[:, :, cols])
        if noise_mode != "off":
            std = torch.baddbmm(inputs.var_base, inputs.var, var_matrix[:, :, cols]).clamp_(min=0.0).sqrt_()
            val.addcmul_(std, draw(val.shape, first, last))
        return val

    def read(self, plan: ReadPlan, volts: torch.Tensor, noise: ReadNoise) -> torch.Tensor:
        c = plan.config
        t_in, n_rows, n_planes, n_out = plan.num_input_tiles, volts.shape[0], plan.num_planes, plan.out_features
        lim = 2.0 ** (c.output_precision_bits + c.output_range_bits - 1)
        inputs = plan.inputs(volts, c.noise)
        draw = self.normals(noise, volts.device)
        plane_w = torch.tensor(plan.plane_weights, device=volts.device)
        out = torch.empty(n_rows, n_out, device=volts.device)
        budget = FAST_BLOCK_ELEMENTS["cpu" if volts.device.type == "cpu" else "other"]
        block = max(1, budget // (t_in * n_planes * max(n_rows, 1)))
        for first in range(0, n_out, block):
            last = min(first + block, n_out)
            val = self.values(plan, inputs, first, last, c.noise, draw).round_().clamp_(-lim, lim)  # ADC
            val = torch.matmul(val.view(t_in, n_rows, last - first, n_planes), plane_w)  # shifts by 2^b
            torch.sum(val, 0, out=out[:, first:last])  # digital sum over input tiles
        return out / 2.0 ** c.output_precision_bits


class KernelMatrices(NamedTuple):
    """The kernel epilogue's matrices per block of ``cb`` output columns and input tile:
    ``[n_blocks, T_in, ti, P·cb]``, plane-major inside a block."""

    cb: int
    r_diff: torch.Tensor  #: r_pos − r_neg, float32
    var: torch.Tensor  #: 2ĉ − r_pos − r_neg: float32, or centred 8-bit codes (int8)
    var_scale: Optional[torch.Tensor]  #: the codes' scales ``[n_blocks, T_in, P, cb]`` (None for float32)


class KernelEpilogue:
    """Noise, ADC and recombination in the compiled CPU kernel (:mod:`.kernel`). Per block of rows and of
    output columns, two matmuls per input tile (current, variance), then noise + ADC + Σ_b 2^b q in one
    pass. Element (row, tile, plane, column) always gets the same normal, whatever the blocks."""

    name = "kernel"

    @staticmethod
    def stream(call: int, tile: int) -> int:
        """The kernel's normal stream of one read (``call``) and input tile."""
        return (call << 16) | tile

    def arrange(self, plan: ReadPlan) -> KernelMatrices:
        """The matrices as ``[n_blocks, T_in, ti, P·cb]`` (zero rows pad the last tile, zero columns the last
        block), the variance matrix in :func:`variance_dtype`."""
        ti, t_in, n_planes = plan.config.tile_inputs, plan.num_input_tiles, plan.num_planes
        n_in, n_out = plan.in_features, plan.out_features
        cb = kernel_block_columns(n_planes, n_out)
        n_blocks = math.ceil(n_out / cb)

        def arrange(r: torch.Tensor) -> torch.Tensor:  # [P, in, out] -> [n_blocks, T_in, ti, P*cb]
            r = torch.nn.functional.pad(r, (0, n_blocks * cb - n_out, 0, t_in * ti - n_in))
            return r.view(n_planes, t_in, ti, n_blocks, cb).permute(3, 1, 2, 0, 4).reshape(
                n_blocks, t_in, ti, n_planes * cb).contiguous()

        var, var_scale = arrange(plan.variance_matrix()), None
        if variance_dtype() == torch.int8:
            var, var_scale = centred_codes(var, 2)
            var_scale = var_scale.view(n_blocks, t_in, n_planes, cb)
        return KernelMatrices(cb, arrange(plan.r_pos - plan.r_neg), var, var_scale)

    def normals_in_torch_layout(self, plan: ReadPlan, seed: int, call: int) -> NormalDraw:
        """The normals this epilogue gives read ``call``'s elements, in :class:`TorchEpilogue`'s layout
        (see kernel.adc_accumulate for the numbering)."""
        n_planes = plan.num_planes
        cb = kernel_block_columns(n_planes, plan.out_features)
        n_blocks = math.ceil(plan.out_features / cb)

        def draw(shape: torch.Size, first: int, last: int) -> torch.Tensor:
            n_tiles, n_rows = shape[0], shape[1]
            return torch.stack([kernel.normal(n_rows * n_blocks * n_planes * cb, seed=seed, stream=self.stream(call, j))
                                .view(n_rows, n_blocks, n_planes, cb).transpose(2, 3).reshape(n_rows, -1, n_planes)
                                [:, first:last].reshape(n_rows, -1) for j in range(n_tiles)])

        return draw

    def read(self, plan: ReadPlan, volts: torch.Tensor, noise: ReadNoise) -> torch.Tensor:
        c = plan.config
        t_in, n_rows, n_planes, n_out = plan.num_input_tiles, volts.shape[0], plan.num_planes, plan.out_features
        with_noise = c.noise != "off"
        if n_rows == 0:
            return volts.new_zeros(0, n_out)
        mean_in, var_in, var_base = plan.inputs(volts, c.noise)
        km = plan.arranged(self)
        counts = with_noise and km.var_scale is not None
        if with_noise:
            var_base = var_base[..., 0]
        if counts:  # a(V) as 8-bit codes per (tile, row); Σ_i codes·(codes' + 127) = counts + row offset
            var_in, row_scale = unsigned_codes(var_in, 2)
            row_scale, row_offset = row_scale[..., 0], var_in.sum(2, dtype=torch.int32).mul_(127)
        stream0 = self.stream(noise.next_call(), 0)
        # 2^b / 2^P: the ADC steps' scale folded into the plane weights (powers of two: exact)
        plane_w = torch.tensor(plan.plane_weights) / 2.0 ** c.output_precision_bits
        lim = 2.0 ** (c.output_precision_bits + c.output_range_bits - 1)
        out = torch.zeros(n_rows, n_out)
        cb, n_blocks = km.cb, len(km.r_diff)
        row_block = min(n_rows, KERNEL_BLOCK_ROWS)
        width = n_planes * cb
        mean_buf = torch.empty(t_in * row_block * width)
        var_buf = (torch.empty(t_in * row_block * width, dtype=torch.int32 if counts else torch.float32)
                   if with_noise else None)
        for r0 in range(0, n_rows, row_block):
            r1 = min(r0 + row_block, n_rows)
            rows = r1 - r0
            mean = mean_buf[: t_in * rows * width].view(t_in, rows, n_planes, cb)
            var = var_buf[: t_in * rows * width].view(t_in, rows, n_planes, cb) if with_noise else None
            base = var_base[:, r0:r1].contiguous() if with_noise else None
            if counts:
                row_scales = (row_scale[:, r0:r1].contiguous(), row_offset[:, r0:r1].contiguous())
            for b in range(n_blocks):
                for j in range(t_in):
                    torch.mm(mean_in[j, r0:r1], km.r_diff[b, j], out=mean[j].view(rows, width))
                    if counts:
                        torch._int_mm(var_in[j, r0:r1], km.var[b, j], out=var[j].view(rows, width))
                    elif with_noise:
                        torch.mm(var_in[j, r0:r1], km.var[b, j], out=var[j].view(rows, width))
                cols = min(cb, n_out - b * cb)
                kernel.adc_accumulate(mean, kernel.VarianceCounts(var, *row_scales, km.var_scale[b]) if counts else var,
                                      base, out[r0:r1, b * cb:b * cb + cols], cols=cols, plane_weight=plane_w, lim=lim,
                                      seed=noise.seed, stream0=stream0, row0=r0, block=b, n_blocks=n_blocks)
        return out


TORCH = TorchEpilogue()
KERNEL = KernelEpilogue()


def epilogue_for(device: torch.device) -> Epilogue:
    """The kernel epilogue on CPU where the kernel is available, else torch."""
    return KERNEL if device.type == "cpu" and kernel.load() is not None else TORCH
