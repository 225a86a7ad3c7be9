"""Helpers used by recipes and by the engine (docs/SISYPHUS_COMPAT.md §1.1)."""
from __future__ import annotations

import contextlib
import copy
import enum
import errno
import functools
import logging
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time

from sisyphus.delayed_ops import try_get

__all__ = ["try_get", "extract_paths", "sis_hash", "sh", "execute_in_dir", "default_update_engine_rqmt"]

_SCALARS = (int, float, bool, str, complex, bytes, type(None))


def extract_paths(obj) -> set:
    """All Paths/Variables reachable from ``obj`` (iterative; each object visited once)."""
    from sisyphus.block import Block
    from sisyphus.hash import get_object_state

    out = set()
    stack = [obj]
    seen = set()
    while stack:
        o = stack.pop()
        if isinstance(o, _SCALARS) or isinstance(o, (Block, enum.Enum, type)) or callable(o) and not hasattr(o, "__dict__"):
            continue
        if id(o) in seen:
            continue
        seen.add(id(o))
        if getattr(o, "__sis_is_path__", False):
            out.add(o)
            continue
        if isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(v for k, v in o.items() if not (isinstance(k, str) and k.startswith("_sis_")))
        else:
            try:
                stack.append(get_object_state(o))
            except TypeError:
                continue
    return out


def sis_hash(obj) -> str:
    """The short hash string of ``obj`` (``gs.SIS_HASH``)."""
    from sisyphus import global_settings as gs

    return gs.SIS_HASH(obj)


def sh(command, capture_output=False, pipefail=True, executable=None, except_return_codes=(0,), sis_quiet=False,
       sis_replace=None, include_stderr=False, **kwargs):
    """Run ``command.format(**sis_replace, **kwargs)`` in a shell; the parameter order is upstream's.

    Recipes pass the options positionally (i6_core: ``self.sh(cmd, True)`` to capture stdout), so
    the order ``capture_output, pipefail, executable, except_return_codes`` matters. With the
    default ``executable`` (None) the command runs in ``/bin/bash`` behind ``set -ueo pipefail &&``
    (when ``pipefail``); an explicit executable runs the command unchanged as ``executable -c``.
    Exit status 0 always succeeds; ``except_return_codes`` lists further accepted codes (i6_core's
    ``HeadJob`` passes ``(141,)`` for SIGPIPE from ``head``), any other raises
    ``CalledProcessError``. ``capture_output`` returns stdout as text (with stderr when
    ``include_stderr``), also for an accepted non-zero status (upstream returns bytes there).
    """
    replace = dict(sis_replace or {})
    replace.update(kwargs)
    cmd = command.format(**replace)
    if not sis_quiet:
        logging.info("Run in Shell%s: %s", " (capture output)" if capture_output else "", cmd)
    sys.stdout.flush()  # keep the log in order: the child writes to the same stdout/stderr
    sys.stderr.flush()
    if executable is None:
        executable = "/bin/bash"
        if pipefail:
            cmd = "set -ueo pipefail && " + cmd
    res = subprocess.run([executable, "-c", cmd], stdout=subprocess.PIPE if capture_output else None,
                         stderr=subprocess.STDOUT if capture_output and include_stderr else None)
    if res.returncode != 0 and res.returncode not in except_return_codes:
        raise subprocess.CalledProcessError(res.returncode, cmd, output=res.stdout)
    return res.stdout.decode() if capture_output else None


@contextlib.contextmanager
def execute_in_dir(path):
    """Temporarily change the working directory."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def default_update_engine_rqmt(last_rqmt: dict, last_usage: dict) -> dict:
    """Double ``time`` / ``mem`` when the last run ran out of (or came close to) them."""
    rqmt = dict(last_rqmt)
    usage = last_usage or {}
    used_time = usage.get("used_time", 0.0) or 0.0
    max_rss = (usage.get("max") or {}).get("rss", 0.0) or 0.0
    if "time" in rqmt and (usage.get("out_of_time") or rqmt["time"] - used_time < 0.1):
        rqmt["time"] = rqmt["time"] * 2
    if "mem" in rqmt and (usage.get("out_of_memory") or rqmt["mem"] - max_rss < 0.25):
        rqmt["mem"] = rqmt["mem"] * 2
    return rqmt


# ---------------------------------------------------------------------- caching helpers
__all__ += ["cache_result", "FinishedResultsCache", "finished_results_cache", "hardlink_or_copy"]


class cache_result:  # noqa: N801  (lower case: used as a decorator, as upstream's)
    """Decorator: remember a function's result per arguments for ``cache_time`` seconds.

    Meant for expensive, slowly changing queries (a queue listing, a directory scan) that the
    manager or the status page asks for many times a second. Optional keyword hooks:

    * ``force_update``: name of a keyword argument; a call with it set to a true value recomputes
      (the keyword is not passed on) and stores the fresh result for the following calls.
    * ``clear_cache``: name of a keyword argument; a call that passes it empties the cache and
      returns None without calling the function.

    Arguments are keyed by value where they are hashable and by ``repr`` otherwise, so a
    method's cache is per instance.
    """

    def __init__(self, cache_time: float = 30, force_update: str | None = None, clear_cache: str | None = None):
        self.cache_time = cache_time
        self.force_update = force_update
        self.clear_cache = clear_cache
        self._cache: dict = {}  # key -> (time stored, result)
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every stored result."""
        with self._lock:
            self._cache.clear()

    @staticmethod
    def _key(args: tuple, kwargs: dict):
        key = (args, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:
            key = repr(key)
        return key

    def __call__(self, func):
        @functools.wraps(func)
        def cached(*args, **kwargs):
            if self.clear_cache is not None and self.clear_cache in kwargs:
                self.clear()
                return None
            force = bool(kwargs.pop(self.force_update, False)) if self.force_update is not None else False
            key = self._key(args, kwargs)
            now = time.monotonic()
            if not force:
                with self._lock:
                    hit = self._cache.get(key)
                if hit is not None and now - hit[0] <= self.cache_time:
                    return hit[1]
            # computed outside the lock: a slow query must not block callers of other keys
            result = func(*args, **kwargs)
            with self._lock:
                self._cache[key] = (time.monotonic(), result)
                if len(self._cache) > 1024:  # drop expired entries so argument variety cannot grow it forever
                    limit = time.monotonic() - self.cache_time
                    self._cache = {k: v for k, v in self._cache.items() if v[0] >= limit}
            return result

        cached.cache = self  # lets callers clear it: f.cache.clear()
        return cached


def _is_true(result, *args, **kwargs) -> bool:
    return result is True


class FinishedResultsCache:
    """Results about finished jobs that cannot change any more, kept across manager runs.

    Once a job is finished, "is it finished", "is this output available" and the small values of
    its Variables stay the same; on a slow shared file system the manager would otherwise ask the
    file system again for every job in every loop. Used only while ``gs.CACHE_FINISHED_RESULTS``
    is true (off by default, and always off in a worker, which must see the real files); the
    manager loads it from ``gs.CACHE_FINISHED_RESULTS_PATH`` at start and saves it when changed.
    Removing a job through the toolkit drops its entries; deleting job directories by hand while
    the cache is on leaves stale entries: delete the cache file too.
    """

    def __init__(self, cache_file: str | None = None):
        """:param cache_file: pickle file; None means ``gs.CACHE_FINISHED_RESULTS_PATH`` at use time"""
        self._cache_file = cache_file
        self.cache: dict = {}
        self.changed = False
        self._lock = threading.Lock()

    @property
    def cache_file(self) -> str:
        from sisyphus import global_settings as gs

        return self._cache_file if self._cache_file is not None else gs.CACHE_FINISHED_RESULTS_PATH

    def read_from_file(self) -> None:
        """Replace the content by the saved cache; an unreadable file gives an empty cache."""
        path = self.cache_file
        if not os.path.exists(path):
            return
        try:
            with open(path, "rb") as f:
                cache = pickle.load(f)
            assert isinstance(cache, dict), f"not a dict but {type(cache).__name__}"
        except Exception as e:  # noqa: BLE001  (a cache must never stop the manager)
            logging.warning("ignoring unreadable finished-results cache %s: %s", path, e)
            return
        logging.info("loaded %d cached results of finished jobs from %s", len(cache), path)
        with self._lock:
            self.cache = cache
            self.changed = False

    def write_to_file(self) -> None:
        """Save the cache if it changed since the last read or write (atomically: tmp + rename)."""
        with self._lock:
            if not self.changed:
                return
            cache = dict(self.cache)
            self.changed = False
        path = self.cache_file
        tmp = f"{path}.tmp.{os.getpid()}"
        try:
            with open(tmp, "wb") as f:
                pickle.dump(cache, f)
            os.replace(tmp, path)
        except Exception as e:  # noqa: BLE001  (full disk, an unpicklable value: never stop the manager)
            logging.warning("could not save the finished-results cache %s: %s", path, e)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            with self._lock:
                self.changed = True

    def __getitem__(self, key):
        with self._lock:
            return self.cache[key]

    def __setitem__(self, key, value) -> None:
        with self._lock:
            self.cache[key] = value
            self.changed = True

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self.cache

    def __len__(self) -> int:
        with self._lock:
            return len(self.cache)

    def reset(self) -> None:
        """Forget everything (the next save writes an empty cache)."""
        with self._lock:
            self.cache = {}
            self.changed = True

    def forget_job(self, job_dir: str) -> None:
        """Drop every entry about the job directory ``job_dir`` (``work/a/B.xyz``, or absolute).

        Entries are keyed ``(kind, path)`` with paths relative to the setup, as the engine's
        ``_sis_path()`` and ``rel_path()`` give them.
        """
        from sisyphus import global_settings as gs

        job_dir = os.path.normpath(job_dir)
        if os.path.isabs(job_dir) and job_dir.startswith(gs.BASE_DIR.rstrip("/") + "/"):
            job_dir = os.path.relpath(job_dir, gs.BASE_DIR)
        prefix = job_dir + "/"
        with self._lock:
            keys = [k for k in self.cache if isinstance(k, tuple) and len(k) == 2 and isinstance(k[1], str)
                    and (os.path.normpath(k[1]) == job_dir or k[1].startswith(prefix))]
            for k in keys:
                del self.cache[k]
            self.changed = self.changed or bool(keys)

    def caching(self, get_key=lambda *args, **kwargs: args, cache_if=_is_true, copy_hits: bool = False):
        """Decorator: look ``get_key(*args, **kwargs)`` up before calling the function.

        A result is stored only if ``cache_if(result, *args, **kwargs)`` is true (by default: the
        result is ``True``, e.g. "finished"), so answers that may still change are asked again.
        ``copy_hits`` stores and returns deep copies, for values a caller may modify.
        """

        def decorator(func):
            from sisyphus import global_settings as gs

            @functools.wraps(func)
            def cached(*args, **kwargs):
                if not gs.CACHE_FINISHED_RESULTS:
                    return func(*args, **kwargs)
                key = get_key(*args, **kwargs)
                with self._lock:
                    if key in self.cache:
                        hit = self.cache[key]
                        return copy.deepcopy(hit) if copy_hits else hit
                result = func(*args, **kwargs)
                if cache_if(result, *args, **kwargs):
                    self[key] = copy.deepcopy(result) if copy_hits else result
                return result

            return cached

        return decorator


#: The process-wide cache of results of finished jobs (see :class:`FinishedResultsCache`).
finished_results_cache = FinishedResultsCache()


def hardlink_or_copy(src: str, dst: str, use_symlink_instead_of_copy: bool = False) -> None:
    """Recreate the tree ``src`` below ``dst`` with hard links to its files.

    Directories are created (existing ones are fine); a file that cannot be hard linked (another
    file system, a file system without links) is copied with its metadata, or symlinked if
    ``use_symlink_instead_of_copy``. Files already present in ``dst`` are left as they are.
    Used to import or copy finished job directories without doubling the disk usage.
    """
    src = os.path.normpath(src)
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = os.path.normpath(os.path.join(dst, rel))
        os.makedirs(target_dir, exist_ok=True)
        for name in dirnames:
            os.makedirs(os.path.join(target_dir, name), exist_ok=True)
        for name in filenames:
            src_file = os.path.join(dirpath, name)
            dst_file = os.path.join(target_dir, name)
            if os.path.lexists(dst_file):
                continue
            try:
                os.link(src_file, dst_file)
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                if use_symlink_instead_of_copy:
                    os.symlink(os.path.abspath(src_file), dst_file)
                else:
                    shutil.copy2(src_file, dst_file)
