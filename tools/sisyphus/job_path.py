"""Paths and Variables: the edges of the job graph.

A ``Path`` is a file either given as input (``creator is None``; ``path`` hashed verbatim) or
produced by a job (``path`` relative to the creator's ``output/`` directory). A ``Variable`` is a
job output that holds a Python value.
"""
import copy
import gzip
import logging
import math
import os
import pickle
import warnings

from sisyphus import global_settings as gs
from sisyphus.delayed_ops import DelayedBase
from sisyphus.tools import finished_results_cache

__all__ = ["AbstractPath", "Path", "Variable", "VariableNotSet", "NoBackup"]

_in_worker = False  # set by the worker: enables file caching of cached inputs


class VariableNotSet(Exception):
    """Raised when reading a Variable whose file does not exist (and no backup was given)."""


class NoBackup:
    """Sentinel: a Variable without a backup value."""


class AbstractPath(DelayedBase):
    """Common base of :class:`Path` and :class:`Variable`."""

    __sis_is_path__ = True

    def __init__(self, path, creator=None, cached=False, hash_overwrite=None, tags=None, available=None):
        """
        :param str path: output name relative to the creator's output dir, or an input file path
        :param Job|None creator: the job producing this path (None for input files)
        :param bool cached: use ``gs.file_caching`` when a worker reads this input
        :param str|tuple|None hash_overwrite: hash as this path string / (creator, path) pair instead
        :param set|None tags: tags propagated to jobs using this path
        :param callable|None available: custom availability check ``available(path) -> bool``
        """
        if hasattr(path, "__fspath__") and not isinstance(path, AbstractPath):
            path = os.fspath(path)
        assert isinstance(path, str), f"path must be a str, got {type(path).__name__}: {path!r}"
        self.path = path
        self.creator = creator
        self.cached = cached
        self.hash_overwrite = hash_overwrite
        self.users = set()
        self._tags = set(tags) if tags else None
        self._available = available
        if creator is None and gs.WARNING_ABSPATH and os.path.isabs(path):
            base = gs.BASE_DIR.rstrip("/") + "/"
            if path.startswith(base):
                logging.warning("absolute path inside the setup directory used as input: %s "
                                "(its hash depends on where the setup lives; use a relative path)", path)

    @property
    def hash_overwrite(self):
        """``(creator, path)`` hashed instead of the real ones, or None."""
        return self._hash_overwrite

    @hash_overwrite.setter
    def hash_overwrite(self, value):
        # a property, as upstream: recipes assign it after construction (i6_core's HeadJob sets
        # ``self.out.hash_overwrite = (self, "out.gz")``), and a plain string must still become
        # the ``(None, path)`` pair that _sis_hash expects
        if value is not None:
            if isinstance(value, tuple):
                assert len(value) == 2, "hash_overwrite of a path must be a str or a (creator, path) tuple"
            else:
                assert isinstance(value, str), "hash_overwrite of a path must be a str or a (creator, path) tuple"
                value = (None, value)
        self._hash_overwrite = value

    def add_user(self, user) -> None:
        """Record ``user`` (a Job) as a job reading this path."""
        self.users.add(user)

    # ------------------------------------------------------------------ locations
    def rel_path(self) -> str:
        if self.creator is None:
            return self.path
        return os.path.join(self.creator._sis_path(gs.JOB_OUTPUT), self.path)

    def get_path(self) -> str:
        p = self.rel_path()
        return p if os.path.isabs(p) else os.path.join(gs.BASE_DIR, p)

    def get_cached_path(self) -> str:
        p = self.get_path()
        if _in_worker and self.cached and not getattr(self, "_sis_own_output", False):
            return gs.file_caching(p)
        return p

    def get(self) -> str:
        return self.get_path()

    def __str__(self):
        return self.get_cached_path()

    def __fspath__(self):
        return self.get_cached_path()

    def __repr__(self):
        if gs.LEGACY_PATH_CONVERSION:
            return repr(str(self))
        return f"<{type(self).__name__} {self.get_path()}>"

    # ------------------------------------------------------------------ availability
    @finished_results_cache.caching(get_key=lambda self, debug_info=None: ("available", self.rel_path()),
                                    cache_if=lambda res, self, debug_info=None: res is True
                                    and self.creator is not None and self.creator._sis_finished())
    def available(self, debug_info=None) -> bool:
        if self._available is not None:
            return bool(self._available(self))
        if self.creator is None:
            return os.path.isfile(self.get_path()) or os.path.isdir(self.get_path())
        return self.creator.path_available(self)

    def is_set(self) -> bool:
        return self.available()

    @property
    def tags(self):
        if self._tags is not None:
            return self._tags
        if self.creator is not None:
            return self.creator.tags
        return set()

    def keep_value(self, value=None):
        if self.creator is not None:
            self.creator.keep_value(value)
        return self

    # ------------------------------------------------------------------ derived paths
    def _derived(self, new_path: str, new_overwrite_path):
        new = copy.copy(self)
        new.users = set()
        new.path = new_path
        if self.hash_overwrite is not None:
            new.hash_overwrite = (self.hash_overwrite[0], new_overwrite_path)
        return new

    def copy(self):
        return self._derived(self.path, self.hash_overwrite[1] if self.hash_overwrite else None)

    def copy_append(self, suffix: str):
        return self._derived(self.path + suffix, self.hash_overwrite[1] + suffix if self.hash_overwrite else None)

    def join_right(self, name: str):
        # as upstream: ``name`` appended after a "/", not os.path.join. The joined string is what
        # is hashed, so "a/" + "b" must stay "a//b" (and "/b" stay below this path, not replace it),
        # or job ids would differ from upstream's (e.g. i6_core's crp.set_executables("…/bin/")).
        return self.copy_append("/" + name)

    # ------------------------------------------------------------------ identity
    def _sis_hash(self) -> bytes:
        from sisyphus.hash import sis_hash_helper

        if self.hash_overwrite is not None:
            creator, path = self.hash_overwrite
        else:
            creator, path = self.creator, self.path
        # a job stands for its output directory; any other creator (a stand-in object, a plain
        # string from hash_overwrite) is hashed as it is
        if hasattr(creator, "_sis_id"):
            creator = creator._sis_id() + "/" + gs.JOB_OUTPUT
        return b"(Path, " + sis_hash_helper((creator, path)) + b")"

    def _key(self):
        return type(self), self.creator, self.path

    def __eq__(self, other):
        if not isinstance(other, AbstractPath):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash((self.creator, self.path))

    def _sort_key(self) -> str:
        return f"{self.creator._sis_id() if self.creator is not None else None} {self.path}"

    def __lt__(self, other):
        return self._sort_key() < other._sort_key()

    # ------------------------------------------------------------------ copying / pickling
    def __copy__(self):
        # not via __getstate__: that drops the creator for job.save, and a copied output
        # (copy, copy_append, join_right) must stay the same job's output
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.users = set()
        return new

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for k, v in self.__dict__.items():
            if k == "users":
                v = set()
            elif k != "creator":  # jobs are singletons: keep the very same creator
                v = copy.deepcopy(v, memo)
            new.__dict__[k] = v
        return new

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("users", None)
        if not gs.INCLUDE_CREATOR_STATE and self.creator is not None:
            # job.save must be self-contained: a worker needs only the file location
            state["path"] = self.get_path()
            state["creator"] = None
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "hash_overwrite" in state:  # saved before hash_overwrite became a property
            state["_hash_overwrite"] = state.pop("hash_overwrite")
        state.setdefault("_hash_overwrite", None)
        self.__dict__.update(state)
        self.users = set()


class Path(AbstractPath):
    """A file or directory: an input of the setup or an output of a job.

    ``size``, ``estimate_text_size``, ``lines`` and ``is_zipped`` are deprecated upstream (a job
    should open its files explicitly) but recipes still call them, e.g. i6_core's ``PipelineJob``
    sizes its requirements in ``tasks()`` with ``estimate_text_size``; they warn the same way.
    """

    @staticmethod
    def _deprecated(name: str) -> None:
        warnings.warn(f"Path.{name}() is deprecated, accessing files should be done explicitly",
                      category=DeprecationWarning, stacklevel=3)

    def size(self) -> int:
        """Size of the file in bytes; the path must be available."""
        self._deprecated("size")
        assert self.available(), f"Path not ready: {self.get_path()}"
        return os.path.getsize(self.get_path())

    def estimate_text_size(self) -> int:
        """Rough size of the text in bytes: the file size, times 3.5 for a gzip'ed file."""
        self._deprecated("estimate_text_size")
        if self.is_zipped():
            return int(self.size() * 3.5)
        return self.size()

    def lines(self) -> int:
        """Number of lines of the (possibly gzip'ed) file."""
        self._deprecated("lines")
        opener = gzip.open if self.is_zipped() else open
        with opener(self.get_cached_path(), "rb") as f:
            return sum(1 for _ in f)

    def is_zipped(self):
        """True if the file starts with the gzip magic bytes, False if not, None if not available.

        The name is only a sanity check: a mismatch between content and ``.gz`` suffix is logged.
        """
        self._deprecated("is_zipped")
        if not self.available():
            return None
        fn = self.get_path()
        with open(fn, "rb") as f:
            zipped = f.read(2) == b"\x1f\x8b"
        if zipped != fn.endswith(".gz"):
            logging.warning("File is %szipped, but %s with gz: %s", "" if zipped else "not ",
                            "does not end" if zipped else "ends", fn)
        return zipped


def _small_finished_value(var: "Variable") -> bool:
    """Whether the value just read from ``var`` may go into the finished-results cache: its job
    is finished (the value cannot change any more) and the file is small (the cache is kept in
    memory and saved on every change)."""
    if var.creator is None or not var.creator._sis_finished():
        return False
    try:
        return os.path.getsize(var.get_path()) < gs.CACHE_FINISHED_RESULTS_MAX_SIZE
    except OSError:
        return False


class Variable(AbstractPath):
    """A job output holding a Python value (text ``repr`` or gzip'ed pickle)."""

    def __init__(self, path, creator=None, pickle=False, backup=NoBackup):
        super().__init__(path, creator)
        self.pickle = pickle
        self.backup = backup

    def set(self, value) -> None:
        fn = self.get_path()
        tmp = f"{fn}.tmp.{os.getpid()}"
        if self.pickle:
            # write to a temporary name for atomicity, but record the final name in the gzip
            # header (gzip.open would store the temporary one), so the file matches upstream's
            with open(tmp, "wb") as raw, gzip.GzipFile(os.path.basename(fn), "wb", fileobj=raw) as f:
                pickle.dump(value, f)
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(f"{value!r}\n")
        os.replace(tmp, fn)

    @finished_results_cache.caching(get_key=lambda self: ("value", self.rel_path()),
                                    cache_if=lambda res, self: _small_finished_value(self), copy_hits=True)
    def get(self):
        fn = self.get_path()
        if not os.path.isfile(fn):
            if self.backup is not NoBackup:
                return self.backup
            if gs.RAISE_VARIABLE_NOT_SET_EXCEPTION:
                raise VariableNotSet(f"variable not set: {fn}")
            return f"<UNFINISHED VARIABLE: {fn}>"  # upstream's placeholder: visible in a report
        if self.pickle:
            with gzip.open(fn, "rb") as f:
                return pickle.load(f)
        with open(fn, encoding="utf-8") as f:
            text = f.read()
        # the repr of the value, as upstream reads it: eval with builtins (so set(), frozenset(...)
        # read back) plus nan/inf, which literal_eval cannot parse
        return eval(text, {"nan": math.nan, "inf": math.inf})  # noqa: S307 (a job's own output)

    def is_set(self) -> bool:
        return os.path.isfile(self.get_path())

    def __str__(self):
        return str(self.get())

    def __repr__(self):
        if gs.LEGACY_VARIABLE_CONVERSION:
            return repr(self.get())
        # str() of the value as upstream: a report that pprints a dict of Variables shows
        # <Variable .../param_1 b>, and its bytes must not depend on the engine
        value = f" {self.get()}" if self.is_set() else ""
        return f"<Variable {self.rel_path()}{value}>"
