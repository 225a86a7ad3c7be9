"""Delayed operations: values computed only when ``.get()`` is called (normally in a worker).

Attribute names matter: they are part of the hash (objects are hashed by their state).
"""
import types

__all__ = [
    "DelayedBase", "Delayed", "DelayedAdd", "DelayedSub", "DelayedMul", "DelayedTrueDiv", "DelayedFloorDiv",
    "DelayedMod", "DelayedPow", "DelayedRound", "DelayedGetItem", "DelayedFallback", "DelayedFormat",
    "DelayedReplace", "DelayedFunction", "DelayedFunctionV2", "DelayedSlice", "DelayedJoin",
]


def try_get(x):
    """``x.get()`` for delayed values, ``x`` otherwise."""
    return x.get() if isinstance(x, DelayedBase) else x


def _resolved(args, kwargs):
    """``args`` and ``kwargs`` with every delayed value resolved."""
    return [try_get(a) for a in args], {k: try_get(v) for k, v in kwargs.items()}


def _is_set(x) -> bool:
    if isinstance(x, DelayedBase):
        return x.is_set()
    if isinstance(x, (list, tuple, set, frozenset)):
        return all(_is_set(e) for e in x)
    if isinstance(x, dict):
        return all(_is_set(e) for e in x.values())
    return True


class DelayedGetNotImplemented(NotImplementedError, AssertionError):
    """``get()`` called on a delayed class that does not define it."""


class DelayedBase:
    """Base class: arithmetic, formatting and function application build new delayed values."""

    def __init__(self, a, b=None):
        self.a = a
        self.b = b

    def get(self):
        # an AssertionError as upstream's (code written against it may catch that), which is
        # also a NotImplementedError for code written against this engine
        raise DelayedGetNotImplemented(f"{type(self).__name__} does not implement get()")

    def is_set(self) -> bool:
        return _is_set(self.a) and _is_set(self.b)

    # arithmetic ---------------------------------------------------------
    def __add__(self, other):
        return DelayedAdd(self, other)

    def __radd__(self, other):
        return DelayedAdd(other, self)

    def __sub__(self, other):
        return DelayedSub(self, other)

    def __rsub__(self, other):
        return DelayedSub(other, self)

    def __mul__(self, other):
        return DelayedMul(self, other)

    def __rmul__(self, other):
        return DelayedMul(other, self)

    def __truediv__(self, other):
        return DelayedTrueDiv(self, other)

    def __rtruediv__(self, other):
        return DelayedTrueDiv(other, self)

    def __floordiv__(self, other):
        return DelayedFloorDiv(self, other)

    def __rfloordiv__(self, other):
        return DelayedFloorDiv(other, self)

    def __mod__(self, other):
        return DelayedMod(self, other)

    def __rmod__(self, other):
        return DelayedMod(other, self)

    def __pow__(self, other, modulo=None):
        assert modulo is None, "pow with modulo is not supported for delayed values"
        return DelayedPow(self, other)

    def __rpow__(self, other):
        return DelayedPow(other, self)

    def __round__(self, n=None):
        return DelayedRound(self, n)

    def __getitem__(self, key):
        return DelayedGetItem(self, key)

    def __call__(self, *args, **kwargs):
        return DelayedFunctionV2(self, args, kwargs)

    # string helpers -----------------------------------------------------
    def format(self, *args, **kwargs):
        return DelayedFormat(self, *args, **kwargs)

    def rformat(self, string, *args, **kwargs):
        return DelayedFormat(string, self, *args, **kwargs)

    def replace(self, *args, **kwargs):
        return DelayedReplace(self, *args, **kwargs)

    def function(self, func, *args, **kwargs):
        return DelayedFunction(self, func, *args, **kwargs)

    def fallback(self, value):
        return DelayedFallback(self, value)

    def __str__(self):
        return str(self.get())

    def __repr__(self):
        # the value's str, as upstream: a recipe that writes repr() of a delayed value into a
        # config or report gets the same bytes on either engine. Upstream raises for a value that
        # is not set yet; a placeholder keeps logs and tracebacks printable instead.
        if not self.is_set():
            return f"<{type(self).__name__} (not set)>"
        return str(self.get())


class Delayed(DelayedBase):
    """Plain wrapper: hashes exactly like the wrapped value."""

    def __init__(self, a):
        self.a = a

    def is_set(self) -> bool:
        return _is_set(self.a)

    def get(self):
        return try_get(self.a)

    def _sis_hash(self):
        from sisyphus.hash import sis_hash_helper

        return sis_hash_helper(self.a)


class _Binary(DelayedBase):
    op = None

    def get(self):
        return type(self).op(try_get(self.a), try_get(self.b))


class DelayedAdd(_Binary):
    op = staticmethod(lambda a, b: a + b)


class DelayedSub(_Binary):
    op = staticmethod(lambda a, b: a - b)


class DelayedMul(_Binary):
    op = staticmethod(lambda a, b: a * b)


class DelayedTrueDiv(_Binary):
    op = staticmethod(lambda a, b: a / b)


class DelayedFloorDiv(_Binary):
    op = staticmethod(lambda a, b: a // b)


class DelayedMod(_Binary):
    op = staticmethod(lambda a, b: a % b)


class DelayedPow(_Binary):
    op = staticmethod(lambda a, b: a ** b)


class DelayedRound(_Binary):
    def get(self):
        b = try_get(self.b)
        return round(try_get(self.a)) if b is None else round(try_get(self.a), b)


class DelayedGetItem(_Binary):
    op = staticmethod(lambda a, b: a[b])


class DelayedFallback(DelayedBase):
    """``a`` if it is set, else ``b``."""

    def get(self):
        return try_get(self.a) if _is_set(self.a) else try_get(self.b)

    def is_set(self) -> bool:
        return _is_set(self.a) or _is_set(self.b)


class DelayedFormat(DelayedBase):
    """``string.format(*args, **kwargs)`` with every part resolved."""

    def __init__(self, string, *args, **kwargs):
        self.string = string
        self.args = args
        self.kwargs = kwargs

    def is_set(self) -> bool:
        return _is_set(self.string) and _is_set(self.args) and _is_set(self.kwargs)

    def get(self):
        args, kwargs = _resolved(self.args, self.kwargs)
        return try_get(self.string).format(*args, **kwargs)


class DelayedReplace(DelayedFormat):
    """``string.replace(*args, **kwargs)`` with every part resolved."""

    def get(self):
        args, kwargs = _resolved(self.args, self.kwargs)
        return try_get(self.string).replace(*args, **kwargs)


def _check_function(func):
    from sisyphus.hash import UnhashableError  # ValueError and AssertionError (upstream asserts)

    if isinstance(func, types.LambdaType) and func.__name__ == "<lambda>":
        raise UnhashableError("lambdas cannot be hashed or pickled; pass a named function to a delayed value")


class DelayedFunction(DelayedFormat):
    """``func(string, *args, **kwargs)`` with every part resolved."""

    def __init__(self, string, func, *args, **kwargs):
        _check_function(func)
        super().__init__(string, *args, **kwargs)
        self.func = func

    def get(self):
        args, kwargs = _resolved(self.args, self.kwargs)
        return self.func(try_get(self.string), *args, **kwargs)


class DelayedFunctionV2(DelayedBase):
    """``func(*args, **kwargs)`` where func, args and kwargs may all be delayed."""

    def __init__(self, func, args, kwargs):
        if not isinstance(func, DelayedBase):
            _check_function(func)
        self.func = func
        self.args = tuple(args)
        self.kwargs = dict(kwargs)

    def is_set(self) -> bool:
        return _is_set(self.func) and _is_set(self.args) and _is_set(self.kwargs)

    def get(self):
        args, kwargs = _resolved(self.args, self.kwargs)
        return try_get(self.func)(*args, **kwargs)


class DelayedSlice(DelayedBase):
    """``iterable[index_start:index_end:step]``."""

    def __init__(self, iterable, index_start=0, index_end=-1, step=1):
        self.iterable = iterable
        self.index_start = index_start
        self.index_end = index_end
        self.step = step

    def is_set(self) -> bool:
        return _is_set(self.iterable)

    def get(self):
        return try_get(self.iterable)[try_get(self.index_start):try_get(self.index_end):try_get(self.step)]


class DelayedJoin(DelayedBase):
    """``separator.join(iterable)``."""

    def __init__(self, iterable, separator):
        self.iterable = iterable
        self.separator = separator

    def is_set(self) -> bool:
        return _is_set(self.iterable)

    def get(self):
        return try_get(self.separator).join(str(try_get(x)) for x in try_get(self.iterable))
