"""Put a quantised Conformer on simulated crossbars (docs/CROSSBAR_MAPPING.md §2.9, docs/INTERFACES.md).

Every linear weight multiply inside an encoder block — ``ff1/ff2.linear_ff``, ``ff1/ff2.linear_out``,
``mhsa.in_proj``, ``mhsa.out_proj``, ``conv.pointwise_conv1``, ``conv.pointwise_conv2`` — is a
``QuantLinear`` and becomes a :class:`~memristor_asr.memristor.linear.MemristorLinear` built from
(round(W/s_w), s_w, s_a, bias), keeping its output quantiser. With
``ProgrammingConfig.depthwise_conv`` the block's ``conv.depthwise_conv`` (a ``QuantDepthwiseConv1d``)
becomes a :class:`~memristor_asr.memristor.conv.MemristorDepthwiseConv1d` too; otherwise it stays
digital, as in the paper, with the frontend, the norms, the attention products and the output layer.

Programming is separate from the model so that a "device" can be stored and reused:

- :func:`program_model` draws and programs the cells of all those layers → :class:`ProgrammedModel`
  (with its :class:`~memristor_asr.memristor.config.ProgrammingConfig`);
- :func:`save_programmed` / :func:`load_programmed_file`: one ``torch.save`` file (r in float16 by
  default: |error| ≤ 2.5e-4 in r, ≈ 4e-4 normalised current per cell, far below the read noise);
- :func:`load_programmed` swaps the layers of a model for ``MemristorLinear``s holding those states,
  read with a :class:`~memristor_asr.memristor.config.ReadConfig` (the same device can be read with
  any DAC/ADC/noise setting);
- :func:`convert_model` does both in one go.

Seeds: layer ``name`` of device ``seed`` uses ``derive_seed(seed, name)``, so layers are independent
and do not depend on processing order. The paper's device k is ``seed=k, num_cycles=k+1``
(:func:`~memristor_asr.memristor.config.device_programming`).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

from .config import HardwareConfig, ProgrammingConfig, ReadConfig, WriteVerifyConfig
from .conv import MemristorDepthwiseConv1d, check_depthwise_fits
from .crossbar import (ProgrammedLayer, WriteVerifyTally, check_bits, default_cells_per_chunk, derive_seed,
                       integer_weights, program_layer, weight_digest)
from .linear import MemristorLinear
from .params import SynaptogenParams, cached_default_params
from ..util import file_sha256

__all__ = [
    "MEMRISTOR_LAYERS",
    "DEPTHWISE_LAYER",
    "memristor_layer_names",
    "ProgrammedModel",
    "program_model",
    "load_programmed",
    "convert_model",
    "save_programmed",
    "load_programmed_file",
]

# module names inside model.encoder.blocks[i] that run on crossbars (docs/INTERFACES.md)
MEMRISTOR_LAYERS = ("ff1.linear_ff", "ff1.linear_out", "mhsa.in_proj", "mhsa.out_proj",
                    "conv.pointwise_conv1", "conv.pointwise_conv2", "ff2.linear_ff", "ff2.linear_out")
DEPTHWISE_LAYER = "conv.depthwise_conv"  # on crossbars with ProgrammingConfig.depthwise_conv
FILE_FORMAT = "memristor_asr.programmed_crossbars"
# 2: "programming" holds the ProgrammingConfig; 1 (still read): "config" held a full HardwareConfig
FILE_VERSION = 2
READABLE_VERSIONS = (1, 2)

log = logging.getLogger(__name__)


def memristor_layer_names(model: nn.Module, depthwise_conv: bool = False) -> List[str]:
    """Names (as in ``model.named_modules()``) of the layers that go on crossbars, in block order
    (with ``depthwise_conv``, each block's depthwise conv after its linears).

    :raises ValueError: if the model has no ``encoder.blocks`` or a block lacks one of the layers
    """
    blocks = getattr(getattr(model, "encoder", None), "blocks", None)
    if blocks is None:
        raise ValueError(f"{type(model).__name__} has no encoder.blocks: not a Conformer of memristor_asr.nn")
    names = []
    for i, block in enumerate(blocks):
        for suffix in MEMRISTOR_LAYERS + ((DEPTHWISE_LAYER,) if depthwise_conv else ()):
            try:
                block.get_submodule(suffix)
            except AttributeError as e:
                raise ValueError(f"encoder.blocks.{i} has no module '{suffix}'") from e
            names.append(f"encoder.blocks.{i}.{suffix}")
    return names


def _quant_parts(name: str, module: nn.Module) -> Tuple[torch.Tensor, int, float, float, int]:
    """(W_int, bits, s_w, s_a, q_a) of a QuantLinear (W_int ``[out, in]``) or a QuantDepthwiseConv1d
    (W_int ``[channels, taps]``), with clear errors for anything else."""
    if isinstance(module, (MemristorLinear, MemristorDepthwiseConv1d)):
        raise ValueError(f"{name}: already a {type(module).__name__} (convert a fresh copy of the quantised model)")
    if isinstance(module, nn.Conv1d):
        raise ValueError(f"{name}: a float Conv1d; mapping the depthwise conv needs a model with a quantised one "
                         "(ModelConfig.quantize_depthwise_conv)")
    missing = [a for a in ("weight", "weight_bits", "weight_quant", "in_quant", "out_quant") if not hasattr(module, a)]
    if missing:
        raise ValueError(f"{name}: {type(module).__name__} is not a QuantLinear (lacks {', '.join(missing)}); "
                         "memristor conversion needs a quantised (QAT/PTQ) model")
    bits = module.weight_bits
    check_bits(bits, name)
    qmax = module.weight_quant.quant_max
    if qmax != 2 ** (bits - 1) - 1:
        raise ValueError(f"{name}: weight_quant.quant_max = {qmax} does not match weight_bits = {bits}")
    for qname in ("weight_quant", "in_quant"):
        if getattr(getattr(module, qname), "observed", True) is False:
            raise ValueError(f"{name}: {qname} has not observed any data (train or calibrate the model first)")
    s_w = float(module.weight_quant.scale)
    s_a = float(module.in_quant.scale)
    weight = module.weight
    if weight.dim() == 3:  # depthwise conv [C, 1, K]
        if weight.shape[1] != 1:
            raise ValueError(f"{name}: only a depthwise conv (one input channel per group) can be mapped, "
                             f"got a weight of shape {tuple(weight.shape)}")
        weight = weight[:, 0, :]
    w_int = integer_weights(weight, s_w, bits, name=name)
    return w_int, bits, s_w, s_a, int(module.in_quant.quant_max)


@dataclass
class ProgrammedModel:
    """The programmed crossbars of one "device": cell states of every converted layer."""

    seed: int
    num_cycles: int
    programming: ProgrammingConfig
    cells_per_chunk: int
    device_type: str  # where it was programmed ("cpu", "cuda"): the random streams differ
    params_sha256: str
    layers: Dict[str, ProgrammedLayer] = field(default_factory=dict)
    write_verify: Optional[WriteVerifyConfig] = None  # None: programmed without write-verify
    write_verify_summary: Optional[Dict[str, object]] = None  # WriteVerifyTally.summary() over all layers

    @property
    def num_cells(self) -> int:
        """Cells stored (= programmed: the padding cells of partial tiles are not simulated)."""
        return sum(2 * lay.r_pos.numel() for lay in self.layers.values())


def _programming(config: Union[ProgrammingConfig, HardwareConfig]) -> ProgrammingConfig:
    if isinstance(config, HardwareConfig):
        return config.programming
    if not isinstance(config, ProgrammingConfig):
        raise TypeError(f"expected a ProgrammingConfig (or HardwareConfig), got {type(config).__name__}")
    return config


def program_model(model: nn.Module, config: Union[ProgrammingConfig, HardwareConfig] = ProgrammingConfig(), *,
                  seed: int, num_cycles: int, device: Union[str, torch.device, None] = None,
                  params: Optional[SynaptogenParams] = None, cells_per_chunk: Optional[int] = None,
                  progress: Optional[Callable[[str], None]] = None,
                  write_verify: Optional[WriteVerifyConfig] = None) -> ProgrammedModel:
    """Program fresh crossbars for every encoder-block linear of a quantised model.

    :param config: tile sizes and pulses (of a HardwareConfig only its ``programming`` part counts)
    :param seed: device seed; each layer draws from ``derive_seed(seed, layer_name)``
    :param num_cycles: pre-cycling steps (× ``config.pulses_per_cycle`` pulses per array)
    :param device: where to simulate the cells (default: the model's device)
    :param progress: optional callable receiving one line per programmed layer
    :param write_verify: write-verify rounds after the SET of every array (None: none, the paper's)
    """
    config = _programming(config)
    if write_verify is not None:
        WriteVerifyConfig.require(write_verify, "program_model: write_verify")
    params = params or cached_default_params()
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    chunk = cells_per_chunk or default_cells_per_chunk(device)
    state = ProgrammedModel(seed=int(seed), num_cycles=int(num_cycles), programming=config, cells_per_chunk=chunk,
                            device_type=device.type, params_sha256=file_sha256(params.source),
                            write_verify=write_verify)
    tally = WriteVerifyTally() if write_verify is not None else None
    names = memristor_layer_names(model, config.depthwise_conv)
    for n, name in enumerate(names):
        w_int, bits, _, _, _ = _quant_parts(name, model.get_submodule(name))
        if name.endswith(DEPTHWISE_LAYER):
            check_depthwise_fits(name, w_int.shape[1], config.tile_inputs)
        t0 = time.perf_counter()
        state.layers[name] = program_layer(w_int, bits, config=config, seed=derive_seed(seed, name),
                                           num_cycles=num_cycles, device=device, params=params,
                                           cells_per_chunk=chunk, verify=write_verify, tally=tally)
        if progress is not None:
            verified = "" if tally is None else f", write-verify rounds so far {len(tally.flagged)}"
            progress(f"programmed {name} ({n + 1}/{len(names)}, {bits} bit, {tuple(w_int.shape)}) "
                     f"in {time.perf_counter() - t0:.1f} s{verified}")
    if tally is not None:
        state.write_verify_summary = tally.summary()
    return state


def load_programmed(model: nn.Module, state: ProgrammedModel, read: Union[ReadConfig, HardwareConfig, None] = None,
                    *, noise_seed: Optional[int] = None, params: Optional[SynaptogenParams] = None) -> nn.Module:
    """Replace the model's encoder-block QuantLinears by MemristorLinears holding ``state`` (in place).

    :param read: read settings (DAC, ADC, noise, read path), combined with the device's programming
        config; default ``ReadConfig()``. A HardwareConfig is accepted if its programming part equals
        the device's.
    :param noise_seed: base seed of the read noise (default: the device seed); layer ``name`` uses
        ``derive_seed(noise_seed, name, "read")``
    :raises ValueError: if a layer is missing from ``state``, was programmed for other weights or with
        another parameter file, or a HardwareConfig's programming part differs from the device's
    """
    if isinstance(read, HardwareConfig):
        for f, programmed in state.programming.to_dict().items():
            if getattr(read, f) != programmed:
                raise ValueError(f"config {f} = {getattr(read, f)} differs from the programmed {programmed}")
        read = read.read
    elif read is None:
        read = ReadConfig()
    elif not isinstance(read, ReadConfig):
        raise TypeError(f"read must be a ReadConfig (or HardwareConfig), got {type(read).__name__}")
    config = HardwareConfig.from_parts(state.programming, read)
    params = params or cached_default_params()
    if file_sha256(params.source) != state.params_sha256:
        raise ValueError(f"the crossbars were programmed with another Synaptogen parameter file than {params.source}")
    noise_seed = state.seed if noise_seed is None else int(noise_seed)
    names = memristor_layer_names(model, state.programming.depthwise_conv)
    absent = [n for n in names if n not in state.layers]
    if absent:
        raise ValueError(f"programmed state lacks layer(s) {', '.join(absent[:4])}{' …' if len(absent) > 4 else ''}")
    for name in names:
        module = model.get_submodule(name)
        w_int, bits, s_w, s_a, q_a = _quant_parts(name, module)
        lay = state.layers[name]
        if lay.weight_bits != bits or tuple(lay.r_pos.shape[1:]) != (w_int.shape[1], w_int.shape[0]):
            raise ValueError(f"{name}: programmed for {lay.weight_bits} bit {tuple(lay.r_pos.shape[1:])} (in, out), "
                             f"model layer is {bits} bit {tuple(w_int.shape[::-1])}")
        if lay.weight_digest != weight_digest(w_int):
            raise ValueError(f"{name}: the programmed crossbars hold other weights than this model "
                             "(weight digest differs): program this checkpoint")
        layer_class = MemristorDepthwiseConv1d if name.endswith(DEPTHWISE_LAYER) else MemristorLinear
        new = layer_class(lay, weight_scale=s_w, input_scale=s_a, input_quant_max=q_a, bias=module.bias,
                          config=config, out_quant=module.out_quant,
                          noise_seed=derive_seed(noise_seed, name, "read"), params=params, name=name)
        new.to(module.weight.device)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
    return model


def convert_model(model: nn.Module, config: HardwareConfig = HardwareConfig(), *, seed: int, num_cycles: int,
                  device: Union[str, torch.device, None] = None, params: Optional[SynaptogenParams] = None,
                  noise_seed: Optional[int] = None, progress: Optional[Callable[[str], None]] = None) -> nn.Module:
    """Program (``config.programming``) and load (read with ``config.read``) in one step, in place;
    returns the model."""
    state = program_model(model, config.programming, seed=seed, num_cycles=num_cycles, device=device, params=params,
                          progress=progress)
    return load_programmed(model, state, config.read, noise_seed=noise_seed, params=params)


def save_programmed(state: ProgrammedModel, path: Union[str, os.PathLike], dtype: torch.dtype = torch.float16) -> None:
    """Write a programmed device to one ``torch.save`` file (r stored as ``dtype``, on CPU)."""
    if dtype not in (torch.float16, torch.float32):
        raise ValueError(f"r can be stored as float16 or float32, not {dtype}")
    payload = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "seed": state.seed,
        "num_cycles": state.num_cycles,
        "programming": state.programming.to_dict(),
        "cells_per_chunk": state.cells_per_chunk,
        "device_type": state.device_type,
        "params_sha256": state.params_sha256,
        "write_verify": None if state.write_verify is None else state.write_verify.to_dict(),
        "write_verify_summary": state.write_verify_summary,
        "layers": {name: {"r_pos": lay.r_pos.detach().to("cpu", dtype), "r_neg": lay.r_neg.detach().to("cpu", dtype),
                          "weight_bits": lay.weight_bits, "weight_digest": lay.weight_digest, "levels": lay.levels}
                   for name, lay in state.layers.items()},
    }
    tmp = f"{os.fspath(path)}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_programmed_file(path: Union[str, os.PathLike]) -> ProgrammedModel:
    """Read a file written by :func:`save_programmed` (r back as float32).

    Version-1 files (a full HardwareConfig under "config") are read too: their programming part is
    the device's; their read part is not kept (a recognition's read settings come from its job), so
    non-default read settings in such a file are reported in the log and otherwise ignored.

    :raises ValueError: naming the file if it is not such a file or is malformed
    """
    path = os.fspath(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated / foreign file: say which
        raise ValueError(f"{path}: cannot read programmed crossbars: {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise ValueError(f"{path}: not a programmed-crossbar file (format {FILE_FORMAT} expected)")
    version = payload.get("version")
    if version not in READABLE_VERSIONS:
        raise ValueError(f"{path}: file version {version}, this code reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    try:
        if version == 1:
            legacy = HardwareConfig.from_dict(payload["config"])
            programming = legacy.programming
            if legacy.read != ReadConfig():
                log.warning("%s: version-1 device file with read settings %s: ignored, the recognition's read "
                            "config applies", path, legacy.read.non_default())
        else:
            programming = ProgrammingConfig.from_dict(payload["programming"])
        layers = {}
        for name, d in payload["layers"].items():
            lay = ProgrammedLayer(r_pos=d["r_pos"].float(), r_neg=d["r_neg"].float(), weight_bits=int(d["weight_bits"]),
                                  weight_digest=str(d["weight_digest"]), levels=int(d.get("levels", 2)))
            lay.validate(f"{path}: {name}")
            layers[name] = lay
        return ProgrammedModel(seed=int(payload["seed"]), num_cycles=int(payload["num_cycles"]),
                               programming=programming,
                               cells_per_chunk=int(payload["cells_per_chunk"]), device_type=str(payload["device_type"]),
                               params_sha256=str(payload["params_sha256"]), layers=layers,
                               write_verify=None if payload.get("write_verify") is None
                               else WriteVerifyConfig.from_dict(payload["write_verify"]),
                               write_verify_summary=payload.get("write_verify_summary"))
    except KeyError as e:
        raise ValueError(f"{path}: programmed-crossbar file lacks {e}") from e
