"""Helpers used by recipes and by the engine (SISYPHUS_API.md §1.1)."""
import contextlib
import enum
import logging
import os
import subprocess
import sys

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
