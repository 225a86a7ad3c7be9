"""What a model costs on crossbars: arrays, cells, converter operations and an energy estimate.

Counts follow the mapping of ``docs/CROSSBAR_MAPPING.md`` §2.3–§2.7 for one programmed device
(every mapped layer: N − 1 signed bit planes, each a pair of ``tile_inputs × tile_outputs`` arrays
per tile). Per encoder frame and mapped layer with ``in`` inputs, ``out`` outputs, P = N − 1
planes, ``T_in`` input tiles and ``T_out`` output tiles:

- array pairs: T_in · T_out · P; cells: 2 · array pairs · tile_inputs · tile_outputs (whole
  arrays, padding included: what a chip would hold);
- DAC conversions: in · T_out · P (every array pair has its own word lines; the pair's two arrays
  share the line voltage);
- ADC conversions: out · T_in · P (one per differential column, plane and input tile; padded columns
  are not converted);
- cell reads: 2 · in · out · P (padding cells sit at 0 V and carry no current).

Energy per second of audio = operations per second × per-operation energy, with the constants of
:class:`EnergyConstants` (sources in ``docs/HARDWARE_STUDIES.md`` §7). The cell term is a
full-scale upper bound (every cell read at the maximum input voltage); real reads are lower, since
inputs are mostly far below full scale and most cells are in the high-resistance state.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Mapping, Tuple

from memristor_asr.config import Config
from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig

__all__ = ["EnergyConstants", "LayerBudget", "CrossbarBudget", "layer_budget", "crossbar_budget",
           "adc_envelope_joules"]


@dataclass(frozen=True)
class EnergyConstants(Config):
    """Per-operation energies in joules (docs/HARDWARE_STUDIES.md §7 names each source).

    :param adc_joules_by_bits: energy per conversion by ADC resolution in bits (ISAAC, Shafiee et al.
        2016: 1.67 pJ at 8 bits, scaled to 4–7 bits after Saberi et al. 2011); a read setting whose ADC
        has another resolution has no value here and is refused
    :param adc_sample_rate: conversions per second of one ADC, for the survey envelope
        (:func:`adc_envelope_joules`; ISAAC's 1.2 GS/s)
    :param dac_joules: energy per DAC conversion / word-line drive (ISAAC's 1-bit DAC, order of magnitude)
    :param cell_read_joules: energy of one full-scale cell read, E = V·I(V)·t for a LRS cell at 0.6 V
        for 10 ns (our parameter file); an upper bound for every read
    """

    adc_joules_by_bits: Tuple[Tuple[int, float], ...] = ((4, 0.79e-12), (5, 0.99e-12), (6, 1.20e-12),
                                                         (7, 1.42e-12), (8, 1.67e-12))
    adc_sample_rate: float = 1.2e9
    dac_joules: float = 0.33e-12
    cell_read_joules: float = 0.82e-12

    def __post_init__(self):
        values = [self.adc_sample_rate, self.dac_joules, self.cell_read_joules] + [e for _, e in self.adc_joules_by_bits]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values):
            raise ValueError(f"EnergyConstants: every energy and the sample rate must be a number > 0, got {self}")

    def adc_joules(self, bits: int) -> float:
        """Energy of one conversion of a ``bits``-bit ADC.

        :raises ValueError: naming the resolution when the table has no value for it
        """
        table = dict(self.adc_joules_by_bits)
        if bits not in table:
            raise ValueError(f"EnergyConstants: no energy for a {bits}-bit ADC (ReadConfig output_precision_bits + "
                             f"output_range_bits); adc_joules_by_bits has {sorted(table)} bits")
        return table[bits]


def adc_envelope_joules(bits: int, sample_rate: float) -> float:
    """Best-case energy per conversion from the ADC survey envelope (Murmann, 2021 fit):
    E = 1 / (2 · 10^((FOM_S − SNDR) / 10)), FOM_S = min(302.74 − 6.461 ln f_s, 180.14) dB,
    SNDR = 6.02 N + 1.76 dB. An optimistic lower bound (the best published converters)."""
    if not (isinstance(bits, int) and bits >= 1) or not sample_rate > 0:
        raise ValueError(f"adc_envelope_joules: need bits >= 1 and sample_rate > 0, got {bits!r}, {sample_rate!r}")
    fom = min(302.74 - 6.461 * math.log(sample_rate), 180.14)
    sndr = 6.02 * bits + 1.76
    return 1.0 / (2.0 * 10 ** ((fom - sndr) / 10.0))


@dataclass(frozen=True)
class LayerBudget:
    """One mapped layer's crossbars and its operations per encoder frame."""

    name: str
    in_features: int
    out_features: int
    weight_bits: int
    array_pairs: int
    cells: int
    dac_per_frame: int
    adc_per_frame: int
    cell_reads_per_frame: int


def layer_budget(name: str, in_features: int, out_features: int, weight_bits: int,
                 programming: ProgrammingConfig = ProgrammingConfig()) -> LayerBudget:
    """The counts of the module docstring for one ``in_features → out_features`` layer of N = ``weight_bits``.

    :raises ValueError: naming the layer for sizes < 1 or weight bits outside 2..8
    """
    from memristor_asr.memristor.crossbar import check_bits

    check_bits(weight_bits, name)
    if in_features < 1 or out_features < 1:
        raise ValueError(f"{name}: a mapped layer needs in and out features >= 1, got {in_features}x{out_features}")
    planes = weight_bits - 1
    t_in = math.ceil(in_features / programming.tile_inputs)
    t_out = math.ceil(out_features / programming.tile_outputs)
    pairs = t_in * t_out * planes
    return LayerBudget(name=name, in_features=in_features, out_features=out_features, weight_bits=weight_bits,
                       array_pairs=pairs, cells=2 * pairs * programming.tile_inputs * programming.tile_outputs,
                       dac_per_frame=in_features * t_out * planes, adc_per_frame=out_features * t_in * planes,
                       cell_reads_per_frame=2 * in_features * out_features * planes)


@dataclass(frozen=True)
class CrossbarBudget:
    """A programmed model's crossbar budget per second of audio."""

    layers: Tuple[LayerBudget, ...]
    frames_per_second: float      # encoder frames per second of audio
    adc_bits: int
    energy: EnergyConstants

    @property
    def array_pairs(self) -> int:
        return sum(lay.array_pairs for lay in self.layers)

    @property
    def cells(self) -> int:
        return sum(lay.cells for lay in self.layers)

    def per_second(self, what: str) -> float:
        """``dac``, ``adc`` or ``cell_reads`` operations per second of audio."""
        return self.frames_per_second * sum(getattr(lay, f"{what}_per_frame") for lay in self.layers)

    def joules_per_second(self) -> Dict[str, float]:
        """Energy per second of audio [J/s = W]: ``adc`` (ISAAC), ``adc_envelope`` (survey lower bound),
        ``dac``, ``cells`` (full-scale upper bound) and ``total`` (adc + dac + cells)."""
        e = self.energy
        out = {"adc": self.per_second("adc") * e.adc_joules(self.adc_bits),
               "adc_envelope": self.per_second("adc") * adc_envelope_joules(self.adc_bits, e.adc_sample_rate),
               "dac": self.per_second("dac") * e.dac_joules,
               "cells": self.per_second("cell_reads") * e.cell_read_joules}
        out["total"] = out["adc"] + out["dac"] + out["cells"]
        return out

    def summary(self) -> Dict[str, float]:
        """Plain numbers for files and tables."""
        joules = self.joules_per_second()
        return {"layers": len(self.layers), "array_pairs": self.array_pairs, "cells": self.cells,
                "frames_per_second": self.frames_per_second, "adc_bits": self.adc_bits,
                "dac_per_second": self.per_second("dac"), "adc_per_second": self.per_second("adc"),
                "cell_reads_per_second": self.per_second("cell_reads"),
                **{f"{k}_joules_per_second": v for k, v in joules.items()}}


def crossbar_budget(shapes: Mapping[str, Tuple[int, int, int]], programming: ProgrammingConfig, read: ReadConfig,
                    frames_per_second: float, energy: EnergyConstants = EnergyConstants()) -> CrossbarBudget:
    """The budget of the mapped layers ``shapes`` (name -> (in_features, out_features, weight_bits)).

    :param programming: tile sizes
    :param read: the ADC's resolution is ``output_precision_bits + output_range_bits``
    :param frames_per_second: encoder frames per second of audio (features per second / subsampling)
    :raises ValueError: for no layers, frames_per_second <= 0 or an ADC resolution without an energy value
    """
    ProgrammingConfig.require(programming, "crossbar_budget: programming")
    ReadConfig.require(read, "crossbar_budget: read")
    if not shapes:
        raise ValueError("crossbar_budget: no mapped layers")
    if not frames_per_second > 0:
        raise ValueError(f"crossbar_budget: frames_per_second must be > 0, got {frames_per_second!r}")
    layers: List[LayerBudget] = [layer_budget(n, i, o, b, programming) for n, (i, o, b) in shapes.items()]
    budget = CrossbarBudget(tuple(layers), float(frames_per_second),
                            read.output_precision_bits + read.output_range_bits, energy)
    energy.adc_joules(budget.adc_bits)  # refuse an ADC without a value now, not when the table is written
    return budget
