"""Content hashing of job arguments, bit-compatible with upstream Sisyphus.

``sis_hash_helper(obj)`` turns an object into a canonical byte string such as
``(dict, (tuple, (str, 'a'), (int, 1)))``; ``short_hash`` condenses it to 12 base-62 characters.
The exact byte layout is frozen by the test vectors in tests/sisyphus/test_hash.py: changing it
would rename every job directory of every existing setup.
"""
import enum
import hashlib
import pathlib
import types

# ``enum`` is listed because upstream's module has no __all__, so ``from sisyphus.hash import *``
# also hands out the modules it imports; code written against upstream (its own tests among
# it) uses ``enum`` after such an import.
__all__ = ["sis_hash_helper", "short_hash", "md5", "int_hash", "get_object_state", "UnhashableError", "enum"]

_BASIC_TYPES = (int, float, bool, str, complex)
_MAX_INLINE = 4096
_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _type_name(obj) -> bytes:
    t = type(obj)
    if isinstance(obj, type) and issubclass(t, enum.EnumMeta):
        return b"EnumMeta"  # EnumType in Python >= 3.11; keep hashes equal across versions
    return t.__qualname__.encode()


class UnhashableError(ValueError, AssertionError):
    """An object that has no stable identity for a hash (a lambda, something defined in __main__).

    A ValueError here; also an AssertionError because upstream rejects these objects with
    ``assert``, and code written against upstream catches that.
    """


def _check_importable(module: str, qualname: str, what) -> None:
    if module == "__main__":
        raise UnhashableError(f"cannot hash {what!r}: objects defined in __main__ are not importable by a worker")
    if "<lambda>" in qualname:
        raise UnhashableError(f"cannot hash {what!r}: lambdas have no stable identity; use a named function")


def sis_hash_helper(obj) -> bytes:
    """Canonical byte representation of ``obj`` used for all job hashes."""
    if isinstance(obj, bytes):
        parts = [_type_name(obj), obj]
    elif obj is None:
        parts = [b"NoneType"]
    elif type(obj) in _BASIC_TYPES:
        parts = [_type_name(obj), repr(obj).encode()]
    elif type(obj) in (list, tuple):
        parts = [_type_name(obj)] + [sis_hash_helper(x) for x in obj]
    elif type(obj) in (set, frozenset):
        parts = [_type_name(obj)] + sorted(sis_hash_helper(x) for x in obj)
    elif isinstance(obj, dict):
        parts = [_type_name(obj)] + sorted(sis_hash_helper(item) for item in obj.items())
    elif isinstance(obj, types.FunctionType):
        _check_importable(obj.__module__, obj.__qualname__, obj)
        parts = [b"function", sis_hash_helper((obj.__module__, obj.__qualname__))]
    elif isinstance(obj, type):
        _check_importable(obj.__module__, obj.__qualname__, obj)
        parts = [_type_name(obj), sis_hash_helper((obj.__module__, obj.__qualname__))]
    elif hasattr(obj, "_sis_hash"):
        return obj._sis_hash()
    else:
        parts = [_type_name(obj), sis_hash_helper(get_object_state(obj))]
    out = b"(" + b", ".join(parts) + b")"
    if len(out) > _MAX_INLINE:
        return hashlib.sha256(out).digest()
    return out


def _member_dict(obj) -> dict:
    state = dict(obj.__dict__) if hasattr(obj, "__dict__") else {}
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if hasattr(obj, name):
                state[name] = getattr(obj, name)
    return state


def get_object_state(obj):
    """The data that identifies a generic object for hashing (see SISYPHUS_API.md §2.3)."""
    if obj is None:
        return None
    if type(obj) in _BASIC_TYPES + (list, tuple, set, frozenset, dict):
        return obj
    if isinstance(obj, _BASIC_TYPES + (list, tuple, set, frozenset, dict)) and not hasattr(obj, "__getnewargs__"):
        if not isinstance(obj, enum.Enum):
            raise TypeError(f"cannot hash object of derived basic type {type(obj).__qualname__}: {obj!r}")
    if isinstance(obj, (types.MethodDescriptorType, types.WrapperDescriptorType)):
        return obj.__qualname__
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (types.FunctionType, type)):
        return obj.__module__, obj.__qualname__
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if isinstance(obj, types.MethodType):
        return {"__func__": obj.__func__, "__self__": obj.__self__}
    if isinstance(obj, types.BuiltinMethodType):
        return {"__name__": obj.__name__, "__self__": obj.__self__}

    if hasattr(obj, "__getnewargs_ex__"):
        args = obj.__getnewargs_ex__()
    elif hasattr(obj, "__getnewargs__"):
        args = obj.__getnewargs__()
    else:
        args = None

    if hasattr(obj, "__sis_state__"):
        state = obj.__sis_state__()
    elif getattr(type(obj), "__getstate__", object.__getstate__) is not object.__getstate__:
        state = obj.__getstate__()
    else:
        state = _member_dict(obj)
        if not state and not hasattr(obj, "__dict__") and not hasattr(obj, "__slots__"):
            state = None
        if isinstance(obj, enum.Enum) and isinstance(state, dict):
            state.pop("_sort_order_", None)
    if args is None:
        return state
    return args, state


def int_hash(obj) -> int:
    """The sha256 of the canonical bytes of ``obj`` as a big-endian unsigned integer."""
    return int.from_bytes(hashlib.sha256(sis_hash_helper(obj)).digest(), "big", signed=False)


def short_hash(obj, length: int = 12, chars: str = _CHARS) -> str:
    """12 base-62 characters of the sha256 of ``sis_hash_helper(obj)``, least significant first."""
    n = int_hash(obj)
    base = len(chars)
    out = []
    for _ in range(length):
        n, r = divmod(n, base)
        out.append(chars[r])
    return "".join(out)


def md5(obj) -> str:
    """Hex md5 of ``str(obj)`` (legacy helper)."""
    return hashlib.md5(str(obj).encode()).hexdigest()
