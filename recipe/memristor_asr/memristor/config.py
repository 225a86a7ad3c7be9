"""Hardware settings of the simulated crossbars: tiles, DAC, ADC, read noise and programming pulses.

Defaults are the paper's realistic setting (docs/CROSSBAR_MAPPING.md §2.4–§2.7): 128 × 128 tiles, 8-bit DAC
up to 0.6 V, an ADC with 4 precision + 4 range bits ("~8-bit ADC"), c = 8020 A⁻¹, the paper's read
noise constants, and num_cycles × 50 pre-cycling pulses drawn from Uniform(−2, 2) V.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict

from .cells import NOISE_MODES

__all__ = ["HardwareConfig", "READ_PATHS", "device_programming"]

READ_PATHS = ("fast", "exact")


@dataclass(frozen=True)
class HardwareConfig:
    """DAC/ADC/tile/voltage settings of :class:`~memristor_asr.memristor.linear.MemristorLinear`.

    :param tile_inputs: crossbar rows (word lines) per tile
    :param tile_outputs: crossbar columns (bit lines) per tile
    :param input_bits: DAC bits B; levels k/2^(B−1) · input_vmax for k in [−2^(B−1), 2^(B−1)]
    :param input_vmax: V, DAC full scale
    :param output_precision_bits: ADC P; step 2^−P in normalised units
    :param output_range_bits: ADC Rb; clips at ±2^(Rb−1) normalised units
    :param current_scaling: c in A⁻¹, maps a column current to normalised units
    :param noise: read noise ``paper`` (the paper's constants), ``physical`` (Synaptogen's) or ``off``
    :param read_path: ``fast`` (matmul formulation, per-column noise) or ``exact`` (per-cell currents
        and noise, as the paper's code)
    :param noise_broadcast_dims: exact path only: leading input dims over which one per-cell noise
        draw is shared (the paper's code shares it over the batch dim, §2.7)
    :param pulses_per_cycle: pre-cycling pulses per num_cycles step (50 in the paper-era code)
    :param pulse_vmax: V, pre-cycling pulses are Uniform(−pulse_vmax, +pulse_vmax)
    :param reset_voltage: V, the full RESET applied to every cell after pre-cycling
    :param set_voltage: V, applied to the cells whose bit is 1
    """

    tile_inputs: int = 128
    tile_outputs: int = 128
    input_bits: int = 8
    input_vmax: float = 0.6
    output_precision_bits: int = 4
    output_range_bits: int = 4
    current_scaling: float = 8020.0
    noise: str = "paper"
    read_path: str = "fast"
    noise_broadcast_dims: int = 1
    pulses_per_cycle: int = 50
    pulse_vmax: float = 2.0
    reset_voltage: float = 2.0
    set_voltage: float = -2.0

    def __post_init__(self):
        def need(ok: bool, what: str):
            if not ok:
                raise ValueError(f"HardwareConfig: {what}")

        for name in ("tile_inputs", "tile_outputs"):
            v = getattr(self, name)
            need(isinstance(v, int) and v >= 1, f"{name} must be a positive int, got {v!r}")
        need(isinstance(self.input_bits, int) and 1 <= self.input_bits <= 16,
             f"input_bits must be an int in 1..16, got {self.input_bits!r}")
        need(isinstance(self.output_precision_bits, int) and 0 <= self.output_precision_bits <= 16,
             f"output_precision_bits must be an int in 0..16, got {self.output_precision_bits!r}")
        need(isinstance(self.output_range_bits, int) and 1 <= self.output_range_bits <= 16,
             f"output_range_bits must be an int in 1..16, got {self.output_range_bits!r}")
        need(self.input_vmax > 0, f"input_vmax must be > 0 V, got {self.input_vmax}")
        need(self.current_scaling > 0, f"current_scaling must be > 0, got {self.current_scaling}")
        need(self.noise in NOISE_MODES, f"noise must be one of {NOISE_MODES}, got {self.noise!r}")
        need(self.read_path in READ_PATHS, f"read_path must be one of {READ_PATHS}, got {self.read_path!r}")
        need(isinstance(self.noise_broadcast_dims, int) and self.noise_broadcast_dims >= 0,
             f"noise_broadcast_dims must be an int >= 0, got {self.noise_broadcast_dims!r}")
        need(isinstance(self.pulses_per_cycle, int) and self.pulses_per_cycle >= 0,
             f"pulses_per_cycle must be an int >= 0, got {self.pulses_per_cycle!r}")
        need(self.pulse_vmax >= 0, f"pulse_vmax must be >= 0 V, got {self.pulse_vmax}")

    def replace(self, **changes) -> "HardwareConfig":
        """Copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "HardwareConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo would silently fall back)."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"HardwareConfig: unknown setting(s) {sorted(unknown)}")
        return cls(**d)


def device_programming(device_index: int) -> Dict[str, int]:
    """Seed and pre-cycling of "device" k of the paper's 10 (§2.5): seed k, num_cycles k + 1."""
    if not isinstance(device_index, int) or device_index < 0:
        raise ValueError(f"device index must be an int >= 0, got {device_index!r}")
    return {"seed": device_index, "num_cycles": device_index + 1}
