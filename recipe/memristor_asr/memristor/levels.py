"""Multi-level cells: more than two conductance states per cell (docs/CROSSBAR_MAPPING.md §2.12).

With L levels a cell holds a digit d ∈ {0, …, L − 1} instead of a bit, read as ≈ d/(L − 1) of an ON
cell, so an N-bit weight needs the base-L digits of |W_int| ≤ 2^(N−1) − 1 (:func:`planes_for`
planes instead of N − 1) and recombines as Σ_p (L − 1)·L^p·q_p (:func:`plane_weights`). Level
L − 1 is a SET, level 0 the full RESET; a level in between is a SET followed by a partial RESET at
the voltage u_d that brings the population mean of the normalised pair value (the cell against an
OFF cell, at the DAC's full scale) down to d/(L − 1), the way the single-cell table finds u₀.₅
(:func:`level_voltages`). That mean is all the calibration controls: the spread of the intermediate
states (the 0.5 row of Table 1) is the price of the fewer planes.
"""
from __future__ import annotations

import functools
from typing import List, Optional, Tuple

import torch

from .cells import CellArray
from .config import ProgrammingConfig, ReadConfig
from .params import SynaptogenParams, cached_default_params, load_params

__all__ = ["MAX_LEVELS", "planes_for", "digit_planes", "plane_weights", "level_voltages"]

MAX_LEVELS = 16


def planes_for(bits: int, levels: int) -> int:
    """Digit planes of an N-bit weight with L-level cells: the fewest P with L^P − 1 ≥ 2^(N−1) − 1."""
    qmax, planes = 2 ** (bits - 1) - 1, 1
    while levels ** planes - 1 < qmax:
        planes += 1
    return planes


def digit_planes(w_int: torch.Tensor, bits: int, levels: int) -> torch.Tensor:
    """Signed base-L digit planes ``[P, in, out]`` int8, most significant first: Σ_p L^(P−1−p)·D_p = W_intᵀ,
    with D_p = sign(W_int)·digit_p(|W_int|) ∈ {−(L − 1), …, L − 1}."""
    planes = planes_for(bits, levels)
    sign = torch.sign(w_int).to(torch.int8)
    mag = w_int.abs()
    out = []
    for p in range(planes - 1, -1, -1):
        out.append((sign * ((mag // levels ** p) % levels).to(torch.int8)).T)
    return torch.stack(out).contiguous()


def plane_weights(num_planes: int, levels: int = 2) -> List[float]:
    """Recombination weight of each plane, most significant first: (L − 1)·L^(P−1−p) (2^b for L = 2)."""
    return [float((levels - 1) * levels ** (num_planes - 1 - p)) for p in range(num_planes)]


def level_voltages(levels: int, params: Optional[SynaptogenParams] = None, *,
                   read_voltage: float = ReadConfig.input_vmax, current_scaling: float = ReadConfig.current_scaling,
                   set_voltage: float = ProgrammingConfig.set_voltage,
                   reset_voltage: float = ProgrammingConfig.reset_voltage) -> Tuple[float, ...]:
    """Partial-RESET voltages u_1 … u_{L−2} in V (empty for L = 2), calibrated on a fixed array.

    2000 pairs of fresh cells (seed 0) are RESET at ``reset_voltage``; the positive cells are SET at
    ``set_voltage`` and then RESET in 1 mV steps; u_d is the first step at which the noiseless mean of
    c·(I_pos − I_neg) at ``read_voltage`` is ≤ d/(L − 1). Deterministic for a parameter file.
    """
    params = params or cached_default_params()
    return _calibrated(int(levels), params.source, float(read_voltage), float(current_scaling), float(set_voltage),
                       float(reset_voltage))


@functools.lru_cache(maxsize=None)
def _calibrated(levels: int, source: str, read_voltage: float, scaling: float, set_voltage: float,
                reset_voltage: float) -> Tuple[float, ...]:
    if levels == 2:
        return ()
    params = cached_default_params() if source == cached_default_params().source else load_params(source)
    pairs = 2000
    cells = CellArray(2 * pairs, generator=torch.Generator().manual_seed(0), params=params)
    cells.apply_voltage(reset_voltage)
    positive = torch.arange(2 * pairs) < pairs
    zero = torch.tensor(0.0)
    cells.apply_voltage(torch.where(positive, torch.tensor(set_voltage), zero))
    targets = [d / (levels - 1) for d in range(levels - 2, 0, -1)]  # falling, as the voltage rises
    found = {}
    step, u_top = 0.001, float(params.umax)
    for k in range(int(round(u_top / step)) + 1):
        u = round(k * step, 6)
        cells.apply_voltage(torch.where(positive, torch.tensor(u), zero))
        cur = cells.current(read_voltage) * scaling
        value = (cur[:pairs] - cur[pairs:]).mean().item()
        while targets and value <= targets[0]:
            found[targets.pop(0)] = u
        if not targets:
            break
    if targets:
        raise RuntimeError(f"no partial RESET below {u_top} V brings a cell down to {targets[0]:.3f}: "
                           "check the cell parameters")
    return tuple(found[d / (levels - 1)] for d in range(1, levels - 1))
