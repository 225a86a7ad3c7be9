"""Mapping an integer weight matrix onto stacked binary crossbars of paired cells, and programming
them (docs/CROSSBAR_MAPPING.md §2.3–§2.5).

An N-bit weight W_int ∈ [−(2^(N−1)−1), 2^(N−1)−1] becomes N−1 signed bit planes
S_b = sign(W_int)·bit_b(|W_int|) ∈ {−1, 0, 1} (MSB first). Each plane is cut into tiles of
``tile_inputs × tile_outputs`` (zero-padded) and every tile is a pair of cell arrays: the positive
line holds the cells with S_b = +1 in LRS, the negative line those with S_b = −1; all other cells
stay in HRS. Every array is made of fresh cells, pre-cycled by num_cycles × pulses_per_cycle pulses
(one Uniform(−2, 2) V draw per array and pulse), fully RESET at +2 V and SET at −2 V where the
target bit is 1. Optionally, write-verify rounds follow (:func:`write_verify`). Only the final
state r of each cell is kept.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Union

import torch

from .cells import CellArray
from .config import HardwareConfig, ProgrammingConfig, WriteVerifyConfig
from .levels import digit_planes, level_voltages, planes_for
from .params import SynaptogenParams

__all__ = [
    "integer_weights",
    "bit_planes",
    "planes_to_integers",
    "weight_digest",
    "derive_seed",
    "default_cells_per_chunk",
    "WriteVerifyTally",
    "write_verify",
    "program_arrays",
    "ProgrammedLayer",
    "program_layer",
]


def integer_weights(weight: torch.Tensor, scale: Union[float, torch.Tensor], bits: int, *,
                    name: str = "weight") -> torch.Tensor:
    """W_int = round(fake_quant(W) / s_w), int64 ``[out, in]`` (the integers the QAT forward uses).

    :raises ValueError: for non-finite weights or scale, a non-2-D weight, bits outside 2..8
    """
    check_bits(bits, name)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or not weight.is_floating_point():
        raise ValueError(f"{name}: expected a 2-D float weight tensor [out, in], got "
                         f"{type(weight).__name__} {tuple(getattr(weight, 'shape', ()))}")
    w = weight.detach().float()
    if not torch.isfinite(w).all():
        bad = (~torch.isfinite(w)).sum().item()
        raise ValueError(f"{name}: weight contains {bad} NaN/inf value(s)")
    s = torch.as_tensor(scale, dtype=torch.float32, device=w.device).detach().reshape(())
    if not torch.isfinite(s) or s <= 0:
        raise ValueError(f"{name}: weight scale must be finite and > 0, got {s.item()}")
    qmax = 2 ** (bits - 1) - 1
    w_fq = torch.fake_quantize_per_tensor_affine(w, s, torch.zeros((), dtype=torch.int32, device=w.device), -qmax, qmax)
    return torch.round(w_fq / s).to(torch.int64).clamp_(-qmax, qmax)


def check_bits(bits, name: str = "layer") -> None:
    """Weight precision N must be an int in 2..8 (N = 2 is the paper's ternary "1.5 bit")."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"{name}: weight bits must be an int in 2..8, got {bits!r}")


def bit_planes(w_int: torch.Tensor, bits: int) -> torch.Tensor:
    """Signed bit planes ``[N−1, in, out]`` int8, MSB (b = N−2) first: Σ_b 2^b S_b = W_intᵀ.

    The expansion is done on |W_int| so negative values need no two's-complement care.
    """
    check_bits(bits)
    qmax = 2 ** (bits - 1) - 1
    if w_int.dtype.is_floating_point or w_int.dim() != 2:
        raise ValueError(f"bit_planes: expected a 2-D integer tensor, got {w_int.dtype} {tuple(w_int.shape)}")
    if w_int.numel() and int(w_int.abs().max()) > qmax:
        raise ValueError(f"bit_planes: |W_int| up to {int(w_int.abs().max())} exceeds {qmax} for {bits} bits")
    sign = torch.sign(w_int).to(torch.int8)
    mag = w_int.abs()
    planes = [(sign * ((mag >> b) & 1).to(torch.int8)).T for b in range(bits - 2, -1, -1)]
    return torch.stack(planes).contiguous()


def planes_to_integers(planes: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`bit_planes`: ``[N−1, in, out]`` → W_int ``[out, in]`` (int64)."""
    n_planes = planes.shape[0]
    weights = torch.tensor([2 ** (n_planes - 1 - p) for p in range(n_planes)], dtype=torch.int64, device=planes.device)
    return (planes.to(torch.int64) * weights.view(-1, 1, 1)).sum(0).T


def weight_digest(w_int: torch.Tensor) -> str:
    """sha256 of W_int (as int8, row-major): ties a programmed crossbar to the weights it holds."""
    return hashlib.sha256(w_int.detach().to(torch.int8).cpu().contiguous().numpy().tobytes()).hexdigest()


def derive_seed(seed: int, *names: str) -> int:
    """A 63-bit seed from a base seed and names (e.g. a layer), independent of processing order."""
    h = hashlib.sha256(":".join([str(int(seed)), *names]).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2 ** 63 - 1)


def default_cells_per_chunk(device: torch.device) -> int:
    """Cells programmed at once (≈ 240 B of state each): 2^21 on CPU, 2^24 on an accelerator."""
    return 2 ** 21 if torch.device(device).type == "cpu" else 2 ** 24


@dataclass
class WriteVerifyTally:
    """What write-verify did, summed over the arrays it ran on.

    ``flagged[i]``: cells out of tolerance at the read of round i + 1 (each then completes one
    switching cycle: two acting pulses); ``*_before``: out of tolerance after the plain programming,
    ``*_after``: after the last round; ``on`` = cells whose target bit is 1.
    """

    cells_on: int = 0
    cells_off: int = 0
    flagged: List[int] = field(default_factory=list)
    on_before: int = 0
    off_before: int = 0
    on_after: int = 0
    off_after: int = 0

    def add_round(self, i: int, n: int) -> None:
        self.flagged.extend([0] * (i + 1 - len(self.flagged)))
        self.flagged[i] += n

    def summary(self) -> Dict[str, float]:
        """Per-cell rates (JSON-friendly): rounds run, re-cycles and acting pulses per cell, and the
        out-of-tolerance fractions before and after, of all, ON and OFF cells."""
        cells = max(self.cells_on + self.cells_off, 1)
        frac = lambda n, d: n / max(d, 1)  # noqa: E731
        return {
            "cells": self.cells_on + self.cells_off, "cells_on": self.cells_on, "cells_off": self.cells_off,
            "rounds": len(self.flagged), "flagged_per_round": list(self.flagged),
            "recycles_per_cell": sum(self.flagged) / cells, "pulses_per_cell": 2 * sum(self.flagged) / cells,
            "out_of_tolerance_before": frac(self.on_before + self.off_before, cells),
            "out_of_tolerance_after": frac(self.on_after + self.off_after, cells),
            "on_out_of_tolerance_before": frac(self.on_before, self.cells_on),
            "on_out_of_tolerance_after": frac(self.on_after, self.cells_on),
            "off_out_of_tolerance_before": frac(self.off_before, self.cells_off),
            "off_out_of_tolerance_after": frac(self.off_after, self.cells_off),
        }


def write_verify(cells: CellArray, on: torch.Tensor, verify: WriteVerifyConfig, *, reset_voltage: float,
                 set_voltage: float, tally: Optional[WriteVerifyTally] = None) -> int:
    """Write-verify rounds on programmed cells (docs/HARDWARE_STUDIES.md §1); returns the rounds run.

    A round reads every cell alone at ``verify.test_voltage`` (noiseless, no ADC), flags the cells with
    |I·c − target| > ``verify.tolerance`` and applies four masked pulses: RESET then SET to flagged ON
    cells, SET then RESET to flagged OFF cells (0 V elsewhere), so each flagged cell draws a fresh
    cycle. After ``verify.max_cycles`` rounds, or earlier once no cell is flagged and a 0 V pulse would
    change no cell (then the remaining rounds could change nothing: reads are noiseless), it stops.

    :param on: bool, the cells' shape: target bit 1 (the cells were SET)
    """
    target = on.reshape(cells.shape).to(torch.float32)
    on = target.bool()
    volts = torch.tensor([reset_voltage, set_voltage, 0.0], device=cells.device)

    def out_of_tolerance() -> torch.Tensor:
        return (cells.current(verify.test_voltage) * verify.current_scaling - target).abs() > verify.tolerance

    bad = out_of_tolerance()
    if tally is not None:
        tally.cells_on += int(on.sum())
        tally.cells_off += int((~on).sum())
        tally.on_before += int((bad & on).sum())
        tally.off_before += int((bad & ~on).sum())
    rounds = 0
    for rounds in range(verify.max_cycles):
        n = int(bad.sum())
        if n == 0 and not cells.would_switch(0.0):
            break
        if tally is not None:
            tally.add_round(rounds, n)
        on_bad, off_bad = bad & on, bad & ~on
        for mask, v in ((on_bad, 0), (on_bad, 1), (off_bad, 1), (off_bad, 0)):
            cells.apply_voltage(torch.where(mask, volts[v], volts[2]))
        bad = out_of_tolerance()
    else:
        rounds = verify.max_cycles
    if tally is not None:
        tally.on_after += int((bad & on).sum())
        tally.off_after += int((bad & ~on).sum())
    return rounds


def program_arrays(targets: torch.Tensor, *, num_cycles: int, config: Union[ProgrammingConfig, HardwareConfig],
                   generator: torch.Generator, params: Optional[SynaptogenParams] = None,
                   cells_per_chunk: Optional[int] = None, progress=None,
                   verify: Optional[WriteVerifyConfig] = None, tally: Optional[WriteVerifyTally] = None
                   ) -> torch.Tensor:
    """Program independent cell arrays and return their final r.

    :param targets: bool ``[A, S]``: A arrays of S cells; True = SET to LRS; or, for multi-level
        cells, int8 levels 0 … L − 1 (``config.levels``): level ≥ 1 is SET, and a level below L − 1 then
        gets its partial RESET (:func:`~.levels.level_voltages`)
    :param num_cycles: pre-cycling steps (num_cycles × config.pulses_per_cycle pulses per array)
    :param generator: on the device to program on; chunks are drawn from it in order
    :param cells_per_chunk: whole arrays are processed together up to this many cells (the random
        stream depends on it)
    :param progress: optional callable(num_arrays_done, num_arrays_total)
    :param verify: write-verify rounds after the SET (None: none, the paper's programming)
    :param tally: collects what write-verify did (with ``verify``)
    :return: float32 ``[A, S]`` on the generator's device
    """
    if targets.dtype not in (torch.bool, torch.int8) or targets.dim() != 2:
        raise ValueError(f"program_arrays: targets must be a bool (or int8 levels) [arrays, cells] tensor, got "
                         f"{targets.dtype} {tuple(targets.shape)}")
    multilevel = targets.dtype == torch.int8
    if multilevel:
        if verify is not None:
            raise ValueError("program_arrays: write-verify is defined for binary cells only (levels = 2)")
        partial = level_voltages(config.levels, params, set_voltage=config.set_voltage,
                                 reset_voltage=config.reset_voltage)
    if isinstance(num_cycles, bool) or not isinstance(num_cycles, int) or num_cycles < 0:
        raise ValueError(f"num_cycles must be an int >= 0, got {num_cycles!r}")
    device = generator.device
    num_arrays, cells_per_array = targets.shape
    chunk = max(1, (cells_per_chunk or default_cells_per_chunk(device)) // max(cells_per_array, 1))
    num_pulses = num_cycles * config.pulses_per_cycle
    out = torch.empty(num_arrays, cells_per_array, device=device)
    for start in range(0, num_arrays, chunk):
        stop = min(start + chunk, num_arrays)
        cells = CellArray((stop - start, cells_per_array), generator=generator, params=params, device=device)
        pulses = torch.empty(num_pulses, stop - start, device=device).uniform_(
            -config.pulse_vmax, config.pulse_vmax, generator=generator)
        for t in range(num_pulses):  # one voltage per array and pulse
            cells.apply_voltage(pulses[t].unsqueeze(1))
        cells.apply_voltage(config.reset_voltage)
        on = targets[start:stop].to(device)
        zero = torch.tensor(0.0, device=device)
        if multilevel:
            level, on = on, on >= 1
        cells.apply_voltage(torch.where(on, torch.tensor(config.set_voltage, device=device), zero))
        if multilevel and partial:
            u = zero.expand(level.shape)
            for d, volts in enumerate(partial, start=1):
                u = torch.where(level == d, torch.tensor(volts, device=device), u)
            cells.apply_voltage(u)
        if verify is not None:
            write_verify(cells, on, verify, reset_voltage=config.reset_voltage, set_voltage=config.set_voltage,
                         tally=tally)
        out[start:stop] = cells.state
        if progress is not None:
            progress(stop, num_arrays)
    return out


@dataclass
class ProgrammedLayer:
    """Final cell states of one layer's crossbars (padding cells dropped).

    ``r_pos`` / ``r_neg``: float ``[N−1, in, out]``, plane 0 = MSB; row i is input i, column o output o.
    """

    r_pos: torch.Tensor
    r_neg: torch.Tensor
    weight_bits: int
    weight_digest: str
    levels: int = 2  # conductance states per cell (memristor.levels)

    @property
    def num_planes(self) -> int:
        return planes_for(self.weight_bits, self.levels)

    @property
    def in_features(self) -> int:
        return self.r_pos.shape[1]

    @property
    def out_features(self) -> int:
        return self.r_pos.shape[2]

    def validate(self, name: str = "layer") -> None:
        check_bits(self.weight_bits, name)
        want = (self.num_planes,)
        for which in ("r_pos", "r_neg"):
            r = getattr(self, which)
            if not isinstance(r, torch.Tensor) or r.dim() != 3 or r.shape[:1] != want or not r.is_floating_point():
                raise ValueError(f"{name}: {which} must be a float [{want[0]}, in, out] tensor, got "
                                 f"{getattr(r, 'dtype', type(r).__name__)} {tuple(getattr(r, 'shape', ()))}")
            if not torch.isfinite(r).all():
                raise ValueError(f"{name}: {which} contains NaN/inf cell states")
        if self.r_pos.shape != self.r_neg.shape:
            raise ValueError(f"{name}: r_pos {tuple(self.r_pos.shape)} and r_neg {tuple(self.r_neg.shape)} differ")


def program_layer(w_int: torch.Tensor, bits: int, *, config: Union[ProgrammingConfig, HardwareConfig], seed: int,
                  num_cycles: int, device: Union[str, torch.device, None] = None,
                  params: Optional[SynaptogenParams] = None, cells_per_chunk: Optional[int] = None,
                  progress=None, verify: Optional[WriteVerifyConfig] = None,
                  tally: Optional[WriteVerifyTally] = None) -> ProgrammedLayer:
    """Program the crossbars of one integer weight matrix ``[out, in]`` (fresh cells for every array),
    with write-verify rounds after the SET when ``verify`` is given (``tally`` collects what they did).

    Every (plane, tile, polarity) is its own array with its own pulse train. Only the cells that
    hold weights are simulated: the padding cells of partial edge tiles sit on 0 V inputs or
    dropped outputs, carry no signal and are never stored, so leaving them out changes no
    distribution (and saves up to half the work for sizes that are not multiples of the tile).
    Tiles of equal shape are programmed together, full tiles first; within a group the array
    order (and so the random stream) is plane, input tile j, output tile k, positive then negative
    line, as in the paper's code.
    """
    device = torch.device(device) if device is not None else w_int.device
    levels = config.levels
    if levels > 2 and verify is not None:
        raise ValueError(f"write-verify is defined for binary cells only, got ProgrammingConfig.levels = {levels}")
    # [P, in, out]: bits (the paper) or signed base-L digits
    planes = (bit_planes(w_int, bits) if levels == 2 else digit_planes(w_int, bits, levels)).to(device)
    n_planes, n_in, n_out = planes.shape
    ti, to = config.tile_inputs, config.tile_outputs
    groups = {}  # (rows, cols) -> [(first input, first output)] of the tiles of that shape
    for i0 in range(0, n_in, ti):
        for o0 in range(0, n_out, to):
            groups.setdefault((min(ti, n_in - i0), min(to, n_out - o0)), []).append((i0, o0))
    gen = torch.Generator(device=device).manual_seed(int(seed))
    r = torch.empty(2, n_planes, n_in, n_out, device=device)
    total = 2 * n_planes * sum(len(t) for t in groups.values())
    done = 0
    for (rows, cols), tiles in sorted(groups.items(), reverse=True):
        blocks = torch.stack([planes[:, i0:i0 + rows, o0:o0 + cols] for i0, o0 in tiles], dim=1)  # [P, G, rows, cols]
        if levels == 2:
            targets = torch.stack([blocks == 1, blocks == -1], dim=2).reshape(-1, rows * cols)
        else:  # the positive line holds the positive digits, the negative line the negative ones
            targets = torch.stack([blocks.clamp(min=0), (-blocks).clamp(min=0)], dim=2).reshape(-1, rows * cols)
        offset = done
        r_group = program_arrays(targets, num_cycles=num_cycles, config=config, generator=gen, params=params,
                                 cells_per_chunk=cells_per_chunk, verify=verify, tally=tally,
                                 progress=None if progress is None else lambda n, _: progress(offset + n, total))
        r_group = r_group.view(n_planes, len(tiles), 2, rows, cols)
        for g, (i0, o0) in enumerate(tiles):
            r[:, :, i0:i0 + rows, o0:o0 + cols] = r_group[:, g].transpose(0, 1)
        done += targets.shape[0]
    return ProgrammedLayer(r_pos=r[0], r_neg=r[1], weight_bits=bits, weight_digest=weight_digest(w_int), levels=levels)
