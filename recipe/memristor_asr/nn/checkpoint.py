"""Checkpoint files (docs/INTERFACES.md): ``torch.save`` of
``{"model": state_dict, "model_config": ModelConfig.to_dict(), "epoch": int, ...}``.

Reading validates everything and raises :class:`CheckpointError` naming the file and, for
a state dict that does not fit the model, the missing, unexpected and mis-shaped keys.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

import torch
from torch import nn

from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.model import ConformerCTCModel
from memristor_asr.nn.quant import fake_quantizers

__all__ = ["CheckpointError", "save_checkpoint", "read_checkpoint", "load_state_dict_checked",
           "observer_state_keys", "load_model"]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not fit the model."""


def save_checkpoint(path, model: nn.Module, cfg: ModelConfig, *, epoch: int, **extra: Any) -> None:
    """Write a checkpoint atomically (temporary file + rename), so a crash never leaves half a file.

    :param extra: further top-level entries (e.g. ``optimizer``, ``train_state``)
    """
    path = os.fspath(path)
    data = {"model": model.state_dict(), "model_config": cfg.to_dict(), "epoch": int(epoch), **extra}
    tmp = f"{path}.tmp.{os.getpid()}"
    torch.save(data, tmp)
    os.replace(tmp, path)


def read_checkpoint(path, map_location: str = "cpu") -> Dict[str, Any]:
    """Load and sanity-check a checkpoint dict (tensors only; no pickled code is executed).

    :raises FileNotFoundError: if ``path`` does not exist
    :raises CheckpointError: if it is unreadable or lacks ``model`` / ``model_config`` / ``epoch``
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated/garbled files
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(data).__name__}")
    missing = [k for k in ("model", "model_config", "epoch") if k not in data]
    if missing:
        raise CheckpointError(f"{path}: missing entries {missing} (has {sorted(data)})")
    if not isinstance(data["model"], Mapping):
        raise CheckpointError(f"{path}: 'model' is not a state dict")
    return data


def observer_state_keys(model: nn.Module) -> set:
    """State-dict keys of the observers (min/max buffers) of all fake quantisers in ``model``."""
    keys = set()
    for name, q in fake_quantizers(model):
        keys.update(f"{name}.{b}" for b, _ in q.named_buffers(recurse=False) if b in q.state_dict())
    return keys


def load_state_dict_checked(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: str,
                            allow_missing: Iterable[str] = ()) -> None:
    """Load ``state_dict`` into ``model`` requiring an exact match of keys and shapes.

    :param source: file name (or description) used in the error message
    :param allow_missing: model keys that may be absent (they keep their current values)
    :raises CheckpointError: naming ``source`` and the missing, unexpected and mis-shaped keys
    """
    own = model.state_dict()
    allow = set(allow_missing)
    missing = sorted(k for k in own if k not in state_dict and k not in allow)
    unexpected = sorted(k for k in state_dict if k not in own)
    shapes = sorted(f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape))
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_short(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches {_short(shapes)}")
        raise CheckpointError(f"{source}: state dict does not fit the model: " + "; ".join(parts))
    model.load_state_dict(state_dict, strict=False)


def _short(items, limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return f"[{shown}{', ... (%d more)' % (len(items) - limit) if len(items) > limit else ''}]"


def load_model(path, *, map_location: str = "cpu", config: Optional[ModelConfig] = None,
               allow_missing_observers: bool = False) -> Tuple[ConformerCTCModel, Dict[str, Any]]:
    """Rebuild the model of a checkpoint and load its weights.

    :param config: build this config instead of the stored one (e.g. the quantised variant of a
        float checkpoint for PTQ); the weights must still fit
    :param allow_missing_observers: accept a state dict without observer statistics (float
        weights into a quantised model, before calibration)
    :return: (model in eval mode, the checkpoint dict)
    :raises CheckpointError: naming the file and what does not fit
    """
    data = read_checkpoint(path, map_location=map_location)
    if config is None:
        try:
            config = ModelConfig.from_dict(data["model_config"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{os.fspath(path)}: invalid model_config: {e}") from None
    model = ConformerCTCModel(config)
    allow = observer_state_keys(model) if allow_missing_observers else ()
    load_state_dict_checked(model, data["model"], source=os.fspath(path), allow_missing=allow)
    return model.eval(), data
