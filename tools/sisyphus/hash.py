"""Content hashing of job arguments, bit-compatible with upstream Sisyphus.

``sis_hash_helper(obj)`` turns an object into a canonical byte string such as
``(dict, (tuple, (str, 'a'), (int, 1)))``; ``short_hash`` condenses it to 12 base-62 characters.
The exact byte layout is frozen by the test vectors in tests/sisyphus/test_hash.py: changing it
would rename every job directory of every existing setup.
"""
import enum
import hashlib
import inspect
import pathlib
import types

# ``enum`` is listed because upstream's module has no __all__, so ``from sisyphus.hash import *``
# also hands out the modules it imports; code written against upstream (its own tests among
# it) uses ``enum`` after such an import.
__all__ = ["sis_hash_helper", "short_hash", "md5", "int_hash", "get_object_state", "UnhashableError",
           "UnhashableValueError", "enum"]

_BASIC_TYPES = (int, float, bool, str, complex)
_MAX_INLINE = 4096
_MISSING = object()
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


class UnhashableValueError(TypeError, AssertionError):
    """A value whose state the hash cannot see (numpy values, Decimal, date, deque …).

    A TypeError here; also an AssertionError because upstream refuses these values with
    ``assert`` ("Failed to get object state"), and code written against upstream catches that.
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
    """Instance data of ``obj``: its ``__dict__``, its set ``__slots__`` and, for native types
    that keep their data in member descriptors (``range``, ``slice``, ``functools.partial``,
    ``datetime.timedelta``, ``re.Pattern`` …), every non-dunder attribute that ``dir()`` lists and
    that is neither a class attribute nor a computed descriptor (property, method)."""
    if isinstance(obj, (types.MethodWrapperType, types.BuiltinMethodType)):
        # bound builtins (``len``, ``[].append``, ``(1).__add__``): what they are bound to and their name
        return {"__self__": obj.__self__, "__name__": obj.__name__}
    state = dict(obj.__dict__) if hasattr(obj, "__dict__") else {}
    if hasattr(obj, "__slots__"):
        for name in obj.__slots__:
            try:
                state[name] = getattr(obj, name)
            except AttributeError:  # a slot that was never set
                pass
    class_attrs = {}
    for cls in reversed(type(obj).__mro__):
        class_attrs.update(getattr(cls, "__dict__", {}))
    for name in dir(obj):
        if name in state or (name.startswith("__") and name not in ("__self__", "__func__")):
            continue
        cls_value = class_attrs.get(name, _MISSING)
        if hasattr(cls_value, "__get__") and not inspect.ismemberdescriptor(cls_value):
            continue  # computed on access (property, method): not data of this instance
        try:
            value = getattr(obj, name)
        except AttributeError:
            continue
        if value is cls_value:
            continue  # a plain class attribute, shared by all instances
        state[name] = value
    return state


def get_object_state(obj):
    """The data that identifies a generic object for hashing (see docs/SISYPHUS_COMPAT.md §2.3)."""
    if obj is None:
        return None
    if type(obj) in _BASIC_TYPES + (list, tuple, set, frozenset, dict):
        return obj
    if isinstance(obj, _BASIC_TYPES + (list, tuple, set, frozenset, dict)) and not hasattr(obj, "__getnewargs__"):
        if not isinstance(obj, enum.Enum):
            raise UnhashableValueError(f"cannot hash object of derived basic type {type(obj).__qualname__}: {obj!r}")
    if isinstance(obj, (types.MethodDescriptorType, types.WrapperDescriptorType)):
        return obj.__qualname__
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if isinstance(obj, (types.FunctionType, type)):
        return obj.__module__, obj.__qualname__
    if isinstance(obj, pathlib.PurePath):
        return str(obj)

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
            if args is None:
                # nothing identifies the value (numpy scalars and arrays, deque, Decimal, date …):
                # hashing it by type alone would give different values one job id
                raise UnhashableValueError(
                    f"cannot hash {obj!r} of type {type(obj).__module__}.{type(obj).__qualname__}: its state "
                    f"is not visible to the hash; convert it to a basic type (int, float, str, list, tuple, dict)")
            state = None
    if isinstance(obj, enum.Enum) and isinstance(state, dict):
        state.pop("_sort_order_", None)  # added in Python 3.11; keeps enum hashes as before
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
