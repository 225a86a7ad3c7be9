"""Small helpers shared by all recipe areas (file I/O, tools, seeding, progress)."""
from __future__ import annotations

import gzip
import os
import random
import shutil
import sys
import time
from typing import IO, Optional

__all__ = ["uopen", "find_tool", "seed_everything", "atomic_write_text", "ProgressFile",
           "setup_logging", "task_device", "setup_task"]


def uopen(path, mode: str = "rt", encoding: Optional[str] = "utf-8") -> IO:
    """Open ``path`` for reading or writing, transparently gzip'ed when it ends in ``.gz``.

    :param path: file path (str, os.PathLike or a Sisyphus Path)
    :param mode: as for :func:`open`; text modes use ``encoding``
    """
    path = os.fspath(path)
    if "b" in mode:
        encoding = None
    if path.endswith(".gz"):
        return gzip.open(path, mode, encoding=encoding)
    return open(path, mode, encoding=encoding)


def find_tool(name: str, setting: Optional[str] = None) -> str:
    """Locate an external program.

    Looks at the Sisyphus setting ``setting`` (e.g. ``KENLM_BIN``, a directory) if given, then
    next to the running interpreter (the project's ``.venv/bin``, where the install script puts
    the KenLM tools), then on ``PATH`` and the usual system directories.

    :raises FileNotFoundError: naming the program and where it was looked for
    """
    places = []
    if setting:
        try:
            from sisyphus import gs

            d = getattr(gs, setting, None)
        except ImportError:  # library use without the engine
            d = None
        if d:
            places.append(os.fspath(d))
    places.append(os.path.dirname(sys.executable))
    places += os.environ.get("PATH", "").split(os.pathsep)
    places += ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    for d in places:
        cand = os.path.join(d, name)
        if d and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    found = shutil.which(name)
    if found:
        return found
    hint = f" or set {setting} in settings.py" if setting else ""
    raise FileNotFoundError(f"program '{name}' not found (looked in {', '.join(p for p in places if p)}); "
                            f"run tools/install.sh{hint}")


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (for code we do not control)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def file_sha256(path) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks (files of several GB stay out of memory)."""
    import hashlib

    h = hashlib.sha256()
    with open(os.fspath(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file + rename, so readers never see half a file."""
    path = os.fspath(path)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class ProgressFile:
    """A one-line progress file: written by a running task, read by ``Job.info()`` in the manager
    (the manager's job object is not the worker's, so progress has to go through the file system).

    :param path: file to write (normally in the job's ``work/`` directory)
    :param interval: minimum seconds between writes (``write(..., force=True)`` always writes)
    """

    def __init__(self, path: str, interval: float = 2.0):
        self.path = path
        self.interval = interval
        self._last = float("-inf")

    def write(self, line: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= self.interval:
            atomic_write_text(self.path, line.strip() + "\n")
            self._last = now

    @staticmethod
    def read(path: str) -> Optional[str]:
        """The current line, or None while there is none."""
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().strip() or None
        except OSError:
            return None


def task_device(gpu_rqmt: int):
    """``torch.device``: CUDA when the task asked for a GPU and one is visible, else CPU."""
    import torch

    return torch.device("cuda" if gpu_rqmt > 0 and torch.cuda.is_available() else "cpu")


def setup_logging() -> None:
    """INFO logging to the task log (a task's stdout and stderr)."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)


def setup_task(cpu_rqmt: int) -> None:
    """Start of a task: INFO logging to the task log, torch threads = the task's CPU cores."""
    import torch

    setup_logging()
    torch.set_num_threads(max(1, int(cpu_rqmt)))
