"""The base of the package's configuration dataclasses: one ``to_dict`` / ``from_dict`` / ``non_default``.

Configs are frozen dataclasses passed whole to jobs, which hash them as upstream Sisyphus hashes any
object: by class name and field values (``sisyphus.hash.get_object_state``), except that a field
named in ``HASH_OMITS_DEFAULT`` (one added after jobs were hashed) is left out while it has its
default, so that the ids of jobs that do not use it stay as they were (``__sis_state__``, which
upstream honours too). ``to_dict`` is for files
(checkpoints, device files, reports); ``from_dict`` reads it back and refuses unknown keys, so a file
from an incompatible version fails loudly instead of silently dropping a setting.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple, Type

__all__ = ["Config"]


def _plain(value: Any) -> Any:
    """Nested configs as dicts, tuples as lists (JSON-friendly)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _nested_type(f: dataclasses.Field) -> Optional[Type["Config"]]:
    """The config class of a field whose default is a config (None otherwise)."""
    default = _default(f)
    return type(default) if isinstance(default, Config) else None


class Config:
    """Mixin of the frozen config dataclasses (``@dataclass(frozen=True) class X(Config)``)."""

    HASH_OMITS_DEFAULT: Tuple[str, ...] = ()  # fields hashed only when they differ from their default

    def __sis_state__(self) -> Dict[str, Any]:
        """What Sisyphus hashes: the fields (``__dict__``), less those of ``HASH_OMITS_DEFAULT`` at their default."""
        state = dict(self.__dict__)
        if self.HASH_OMITS_DEFAULT:
            for f in dataclasses.fields(self):
                if f.name in self.HASH_OMITS_DEFAULT and state[f.name] == _default(f):
                    del state[f.name]
        return state

    @classmethod
    def require(cls, value: Any, where: str, hint: str = "") -> Any:
        """``value`` itself if it is a ``cls``, so that a job's ``__init__`` fails when the graph is built.

        :param where: who asks and for what, e.g. ``"TrainJob: model_config"``
        :param hint: appended to the message, e.g. how to get one
        :raises TypeError: naming ``where``, the class wanted and the type given
        """
        if not isinstance(value, cls):
            raise TypeError(f"{where} must be a {cls.__name__}{hint}, got {type(value).__name__}")
        return value

    def replace(self, **changes):
        """Copy with some fields changed (validated by the class)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> Dict[str, Any]:
        """Plain data: nested configs as dicts, tuples as lists."""
        return _plain(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]):
        """Inverse of :meth:`to_dict`.

        :raises ValueError: naming the keys that are not fields of the config
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown setting(s) {unknown}")
        values = {}
        for name, value in d.items():
            nested = _nested_type(fields[name])
            if nested is not None and isinstance(value, dict):
                value = nested.from_dict(value)
            elif isinstance(value, list):
                value = tuple(value)  # the configs' sequences are tuples (hashable, frozen)
            values[name] = value
        return cls(**values)

    def non_default(self) -> Dict[str, Any]:
        """The fields that differ from the defaults, in field order (for logs and reports)."""
        default = type(self)()
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}
