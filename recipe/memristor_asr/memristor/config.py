"""Hardware settings of the simulated crossbars, split by when they act:

- :class:`ProgrammingConfig` — what determines the programmed cells: tile sizes and the programming
  pulses. Changing one of these means programming new devices (a new ``ProgramCrossbarsJob``).
- :class:`ReadConfig` — how programmed cells are read: DAC, ADC, current scaling, read noise and the
  simulation path. These change per recognition on the same devices.
- :class:`HardwareConfig` — both together, the flat view that the simulation modules
  (``crossbar``, ``linear``, ``convert``) use internally: ``HardwareConfig.from_parts(p, r)``,
  ``cfg.programming``, ``cfg.read``.

Defaults are the paper's realistic setting (docs/CROSSBAR_MAPPING.md §2.4–§2.7): 128 × 128 tiles,
8-bit DAC up to 0.6 V, an ADC with 4 precision + 4 range bits ("~8-bit ADC"), c = 8020 A⁻¹, the
paper's read noise constants, and num_cycles × 50 pre-cycling pulses drawn from Uniform(−2, 2) V,
then a full RESET at +2 V and a SET at −2 V.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Dict

from memristor_asr.config import Config

from .cells import NOISE_MODES

__all__ = ["ProgrammingConfig", "ReadConfig", "HardwareConfig", "WriteVerifyConfig", "READ_PATHS",
           "device_programming"]

READ_PATHS = ("fast", "exact")


def _need(cls_name: str, ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"{cls_name}: {what}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class ProgrammingConfig(Config):
    """What determines the programmed cells of a device (docs/CROSSBAR_MAPPING.md §2.4, §2.5).

    :param tile_inputs: crossbar rows (word lines) per tile
    :param tile_outputs: crossbar columns (bit lines) per tile
    :param pulses_per_cycle: pre-cycling pulses per num_cycles step (50 in the paper-era code)
    :param pulse_vmax: volts; pre-cycling pulses are Uniform(−pulse_vmax, +pulse_vmax) V
    :param reset_voltage: volts (> 0); the full RESET applied to every cell after pre-cycling
    :param set_voltage: volts (< 0); applied to the cells whose bit is 1
    :param depthwise_conv: also map each block's depthwise conv, as per-channel columns
        (``memristor.conv``); False: it stays digital, as in the paper
    :param levels: conductance states per cell (``memristor.levels``): 2 (binary, the paper) or more,
        programmed with partial RESETs, with fewer digit planes per weight
    """

    # added later: devices without them keep their job ids
    HASH_OMITS_DEFAULT = ("depthwise_conv", "levels")

    tile_inputs: int = 128
    tile_outputs: int = 128
    pulses_per_cycle: int = 50
    pulse_vmax: float = 2.0
    reset_voltage: float = 2.0
    set_voltage: float = -2.0
    depthwise_conv: bool = False
    levels: int = 2

    def __post_init__(self):
        need = lambda ok, what: _need("ProgrammingConfig", ok, what)  # noqa: E731
        need(isinstance(self.depthwise_conv, bool), f"depthwise_conv must be True or False, got {self.depthwise_conv!r}")
        need(_is_int(self.levels) and 2 <= self.levels <= 16,
             f"levels must be an int in 2..16 (conductance states per cell), got {self.levels!r}")
        for name in ("tile_inputs", "tile_outputs"):
            v = getattr(self, name)
            need(_is_int(v) and v >= 1, f"{name} must be a positive int, got {v!r}")
        need(_is_int(self.pulses_per_cycle) and self.pulses_per_cycle >= 0,
             f"pulses_per_cycle must be an int >= 0, got {self.pulses_per_cycle!r}")
        for name in ("pulse_vmax", "reset_voltage", "set_voltage"):
            v = getattr(self, name)
            need(_is_real(v), f"{name} must be a finite number of volts, got {v!r}")
        need(self.pulse_vmax >= 0, f"pulse_vmax must be >= 0 V, got {self.pulse_vmax}")
        # the cell model RESETs on positive and SETs on negative voltages (docs/DEVICE_MODEL.md §1.5)
        need(self.reset_voltage > 0, f"reset_voltage must be > 0 V (a RESET is a positive pulse), "
                                     f"got {self.reset_voltage}")
        need(self.set_voltage < 0, f"set_voltage must be < 0 V (a SET is a negative pulse), got {self.set_voltage}")


@dataclass(frozen=True)
class ReadConfig(Config):
    """How programmed crossbars are read (docs/CROSSBAR_MAPPING.md §2.6, §2.7).

    :param input_bits: DAC bits B; levels k/2^(B−1) · input_vmax for k in [−2^(B−1), 2^(B−1)]
    :param input_vmax: volts (> 0); DAC full scale, the read voltage of input 1.0
    :param output_precision_bits: ADC P; step 2^−P in normalised units
    :param output_range_bits: ADC Rb; clips at ±2^(Rb−1) normalised units
    :param current_scaling: c in A⁻¹ (> 0); maps a column current to normalised units
    :param noise: read noise ``paper`` (the paper's constants), ``physical`` (Synaptogen's) or ``off``
    :param read_path: ``fast`` (matmul formulation, per-column noise) or ``exact`` (per-cell currents
        and noise, as the paper's code)
    :param noise_broadcast_dims: exact path only: leading input dims over which one per-cell noise
        draw is shared (the paper's code shares it over the batch dim, docs/CROSSBAR_MAPPING.md §2.7)
    """

    input_bits: int = 8
    input_vmax: float = 0.6
    output_precision_bits: int = 4
    output_range_bits: int = 4
    current_scaling: float = 8020.0
    noise: str = "paper"
    read_path: str = "fast"
    noise_broadcast_dims: int = 1

    def __post_init__(self):
        need = lambda ok, what: _need("ReadConfig", ok, what)  # noqa: E731
        need(_is_int(self.input_bits) and 1 <= self.input_bits <= 16,
             f"input_bits must be an int in 1..16, got {self.input_bits!r}")
        need(_is_int(self.output_precision_bits) and 0 <= self.output_precision_bits <= 16,
             f"output_precision_bits must be an int in 0..16, got {self.output_precision_bits!r}")
        need(_is_int(self.output_range_bits) and 1 <= self.output_range_bits <= 16,
             f"output_range_bits must be an int in 1..16, got {self.output_range_bits!r}")
        need(_is_real(self.input_vmax) and self.input_vmax > 0,
             f"input_vmax must be > 0 V, got {self.input_vmax!r}")
        need(_is_real(self.current_scaling) and self.current_scaling > 0,
             f"current_scaling must be > 0 A⁻¹, got {self.current_scaling!r}")
        need(self.noise in NOISE_MODES, f"noise must be one of {NOISE_MODES}, got {self.noise!r}")
        need(self.read_path in READ_PATHS, f"read_path must be one of {READ_PATHS}, got {self.read_path!r}")
        need(_is_int(self.noise_broadcast_dims) and self.noise_broadcast_dims >= 0,
             f"noise_broadcast_dims must be an int >= 0, got {self.noise_broadcast_dims!r}")


@dataclass(frozen=True)
class WriteVerifyConfig(Config):
    """Write-verify programming (docs/HARDWARE_STUDIES.md §1): after the SET, every cell is read on its
    own at ``test_voltage`` (noiseless, no ADC) and a cell whose normalised current I(V_t)·c deviates
    from its target bit (ON 1, OFF 0) by more than ``tolerance`` completes one more switching cycle
    (ON: RESET then SET; OFF: SET then RESET), for at most ``max_cycles`` rounds.

    The defaults are the follow-up study's settings except the tolerance, which it sweeps over
    1e-4 … 0.2. The reference is the bare target bit, as in that study's code, so at V_t = 0.4 V an
    ON cell (≈ 0.72 there, ≈ 1.1 at 0.6 V) fails every tolerance up to 0.2 and is just re-cycled.

    :param tolerance: largest accepted |I(V_t)·c − target| in normalised units (> 0)
    :param max_cycles: verify rounds at most (the loop stops early once no cell is out of tolerance)
    :param test_voltage: volts (> 0); the read voltage of the verify step
    :param current_scaling: c in A⁻¹ (> 0) that normalises the verify current (the read's default c)
    """

    tolerance: float = 0.1
    max_cycles: int = 10
    test_voltage: float = 0.4
    current_scaling: float = ReadConfig.current_scaling

    def __post_init__(self):
        need = lambda ok, what: _need("WriteVerifyConfig", ok, what)  # noqa: E731
        need(_is_real(self.tolerance) and self.tolerance > 0,
             f"tolerance must be a number > 0 (normalised current units), got {self.tolerance!r}")
        need(_is_int(self.max_cycles) and self.max_cycles >= 1,
             f"max_cycles must be an int >= 1, got {self.max_cycles!r}")
        need(_is_real(self.test_voltage) and self.test_voltage > 0,
             f"test_voltage must be > 0 V, got {self.test_voltage!r}")
        need(_is_real(self.current_scaling) and self.current_scaling > 0,
             f"current_scaling must be > 0 A⁻¹, got {self.current_scaling!r}")


_PROGRAMMING_FIELDS = tuple(f.name for f in dataclasses.fields(ProgrammingConfig))
_READ_FIELDS = tuple(f.name for f in dataclasses.fields(ReadConfig))


class _HardwareView(Config):
    """The methods of :class:`HardwareConfig` (its fields are the two parts' fields, see below)."""

    def __post_init__(self):
        try:  # validates every field, with the part's name in the message
            self.programming, self.read  # noqa: B018
        except ValueError as e:
            raise ValueError(f"HardwareConfig: {e}") from None

    @classmethod
    def from_parts(cls, programming: ProgrammingConfig = ProgrammingConfig(),
                   read: ReadConfig = ReadConfig()) -> "HardwareConfig":
        """The combined config of a programming and a read config."""
        ProgrammingConfig.require(programming, "HardwareConfig.from_parts: programming")
        ReadConfig.require(read, "HardwareConfig.from_parts: read")
        return cls(**programming.to_dict(), **read.to_dict())

    @property
    def programming(self) -> ProgrammingConfig:
        """The settings that determine the programmed cells."""
        return ProgrammingConfig(**{f: getattr(self, f) for f in _PROGRAMMING_FIELDS})

    @property
    def read(self) -> ReadConfig:
        """The read-out settings."""
        return ReadConfig(**{f: getattr(self, f) for f in _READ_FIELDS})


# The fields (names, types, defaults) are taken from the two parts, so that they are stated once.
HardwareConfig = dataclasses.make_dataclass(
    "HardwareConfig",
    [(f.name, f.type, dataclasses.field(default=f.default))
     for part in (ProgrammingConfig, ReadConfig) for f in dataclasses.fields(part)],
    bases=(_HardwareView,), frozen=True,
    namespace={"__module__": __name__, "HASH_OMITS_DEFAULT": ProgrammingConfig.HASH_OMITS_DEFAULT, "__doc__": """Programming and read settings together: the view of
    :class:`~memristor_asr.memristor.linear.MemristorLinear` and the programming code. Its fields are
    those of :class:`ProgrammingConfig` followed by those of :class:`ReadConfig`, with their defaults,
    documented and validated there. Jobs and experiments take the two parts separately.
    """})



def device_programming(device_index: int) -> Dict[str, int]:
    """Seed and pre-cycling of "device" k of the paper's 10 (docs/CROSSBAR_MAPPING.md §2.5): seed k,
    num_cycles k + 1."""
    if not isinstance(device_index, int) or device_index < 0:
        raise ValueError(f"device index must be an int >= 0, got {device_index!r}")
    return {"seed": device_index, "num_cycles": device_index + 1}
