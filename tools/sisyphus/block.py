"""Blocks: named groups of jobs for display only (they never affect hashes or scheduling)."""
import functools
import inspect

__all__ = ["Block", "block", "sub_block", "register_job"]

_active = []  # stack of open blocks


class Block:
    """A named group of jobs and sub-blocks."""

    def __init__(self, name, parent=None):
        self.name = name
        self.parent = parent
        self.jobs = []
        self.children = []
        if parent is not None:
            parent.children.append(self)

    def __enter__(self):
        _active.append(self)
        return self

    def __exit__(self, *exc):
        _active.remove(self)
        return False

    def __repr__(self):
        return f"<Block {self.name}>"


root_block = Block("root")


def register_job(job) -> None:
    for b in _active or [root_block]:
        if job not in b.jobs:
            b.jobs.append(job)


def sub_block(name) -> Block:
    return Block(name, parent=_active[-1] if _active else root_block)


class block:  # noqa: N801 (used as ``tk.block`` like upstream)
    """Context manager and decorator grouping jobs under a name.

    ``cache=True`` memoises the decorated function by the hash of its arguments.
    """

    def __init__(self, name=None, cache=False):
        self.name = name
        self.cache = cache
        self._memo = {}
        self._block = None

    def __enter__(self):
        self._block = sub_block(self.name or "block")
        return self._block.__enter__()

    def __exit__(self, *exc):
        return self._block.__exit__(*exc)

    def __call__(self, func):
        name = self.name or func.__name__
        memo = self._memo

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if self.cache:
                from sisyphus.hash import short_hash

                key = short_hash(inspect.signature(func).bind(*args, **kwargs).arguments)
                if key in memo:
                    return memo[key]
            with sub_block(name):
                result = func(*args, **kwargs)
            if self.cache:
                memo[key] = result
            return result

        return wrapper
