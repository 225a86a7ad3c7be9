"""The paper's single-cell multiplication table (Table 1) by the procedure of docs/DEVICE_MODEL.md §3.

Usage::

    python -m memristor_asr.memristor.cells_table --pairs 5000 --seed 0 [--json]

A test array of 2·pairs fresh cells (first half: positive line, second half: negative line) is read
pairwise, value = c·(I_pos − I_neg) with physical read noise (a fresh read per row), c = 8020 A⁻¹,
read voltage 0.6 V × input (c, the read and the SET voltage are the crossbars' defaults,
``ReadConfig().current_scaling`` / ``.input_vmax`` and ``ProgrammingConfig().set_voltage``):

- input 1.0 × weight 0: both cells in their initial state;
- input 1.0 / 0.1 / 0.01 × weight 1: after −2 V on the positive half (a SET);
- input 1.0 × weight 0.5: after u₀.₅ on the positive half (a partial RESET).

u₀.₅ is found first on a separate array of 200 fresh cells (100 SET at −2 V, 100 fresh) by raising
u = 0.00, 0.01, … V on the SET cells until c·mean(I_pos − I_neg) at 0.6 V first drops to ≤ 0.5.
All draws come from one ``torch.Generator`` seeded with ``--seed`` (u₀.₅ array first).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence

import torch

from .cells import NOISE_MODES, CellArray
from .config import ProgrammingConfig, ReadConfig

__all__ = ["TableRow", "find_half_voltage", "cell_table", "format_table", "main"]

# the crossbars' defaults (memristor.config), one source for the table and the crossbars
READ_VMAX = ReadConfig().input_vmax  # V, read voltage at input 1.0 (0.6 V)
CURRENT_SCALING = ReadConfig().current_scaling  # A⁻¹, c (8020)
SET_VOLTAGE = ProgrammingConfig().set_voltage  # V (−2 V)


@dataclass
class TableRow:
    input: float
    weight: float
    mean: float
    std: float
    min: float
    max: float


def _pair_values(cells: CellArray, inp: float, noise: str, scaling: float) -> torch.Tensor:
    """c·(I_pos − I_neg) per pair, one noisy read of all cells at READ_VMAX·inp."""
    cur = cells.read(READ_VMAX * inp, noise=noise)
    half = cur.shape[0] // 2
    return scaling * (cur[:half] - cur[half:])


def _positive_half(cells: CellArray, voltage: float) -> torch.Tensor:
    half = cells.num_cells // 2
    return torch.where(torch.arange(cells.num_cells, device=cells.device) < half,
                       torch.tensor(voltage, device=cells.device), torch.tensor(0.0, device=cells.device))


def find_half_voltage(generator: torch.Generator, *, pairs: int = 100, step: float = 0.01, u_max: float = 2.0,
                      noise: str = "physical", scaling: float = CURRENT_SCALING) -> float:
    """u₀.₅: the first u on the grid 0, step, … at which the SET-cell pairs read ≤ 0.5 on average."""
    cells = CellArray(2 * pairs, generator=generator)
    cells.apply_voltage(_positive_half(cells, SET_VOLTAGE))
    n_steps = int(round(u_max / step))
    for k in range(n_steps + 1):
        u = round(k * step, 10)
        cells.apply_voltage(_positive_half(cells, u))
        if _pair_values(cells, 1.0, noise, scaling).mean().item() <= 0.5:
            return u
    raise RuntimeError(f"no u <= {u_max} V halves the pair output: check the cell parameters")


def cell_table(pairs: int = 5000, seed: int = 0, *, noise: str = "physical", scaling: float = CURRENT_SCALING,
               device: str = "cpu") -> tuple:
    """Run the Table 1 procedure; returns (rows in the paper's order, u₀.₅ in V)."""
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    if noise not in NOISE_MODES:
        raise ValueError(f"noise must be one of {NOISE_MODES}, got {noise!r}")
    gen = torch.Generator(device=device).manual_seed(seed)
    u_half = find_half_voltage(gen, noise=noise, scaling=scaling)
    cells = CellArray(2 * pairs, generator=gen)

    def row(inp: float, weight: float) -> TableRow:
        v = _pair_values(cells, inp, noise, scaling).double()
        return TableRow(inp, weight, v.mean().item(), v.std().item(), v.min().item(), v.max().item())

    zero = row(1.0, 0.0)
    cells.apply_voltage(_positive_half(cells, SET_VOLTAGE))
    ones = [row(inp, 1.0) for inp in (1.0, 0.1, 0.01)]
    cells.apply_voltage(_positive_half(cells, u_half))
    half = row(1.0, 0.5)
    return ones + [zero, half], u_half


def format_table(rows: Sequence[TableRow], u_half: float, pairs: int, seed: int, noise: str = "physical") -> str:
    lines = [f"Single-cell multiplication (Table 1): {pairs} pairs, seed {seed}, {noise} read noise, "
             f"c = {CURRENT_SCALING:g} A^-1, u_0.5 = {u_half:.2f} V",
             f"{'input x weight':>15} {'mean':>9} {'std':>9} {'min':>9} {'max':>9}"]
    for r in rows:
        lines.append(f"{r.input:>8g} x {r.weight:<4g} {r.mean:9.4f} {r.std:9.4f} {r.min:9.4f} {r.max:9.4f}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m memristor_asr.memristor.cells_table", description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=5000, help="cell pairs in the test array (paper: 5000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the torch.Generator")
    ap.add_argument("--noise", default="physical", choices=NOISE_MODES, help="read noise (paper table: physical)")
    ap.add_argument("--device", default="cpu", help="torch device")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    if args.pairs < 1:
        ap.error("--pairs must be >= 1")
    rows, u_half = cell_table(args.pairs, args.seed, noise=args.noise, device=args.device)
    if args.json:
        print(json.dumps({"pairs": args.pairs, "seed": args.seed, "noise": args.noise, "u_half": u_half,
                          "current_scaling": CURRENT_SCALING, "rows": [asdict(r) for r in rows]}, indent=1))
    else:
        print(format_table(rows, u_half, args.pairs, args.seed, args.noise))
    return 0


if __name__ == "__main__":
    sys.exit(main())
