"""A one-line progress file: written by a running task, read by ``Job.info()`` in the manager."""
from __future__ import annotations

import os
import time
from typing import Optional

from memristor_asr.util import atomic_write_text

__all__ = ["ProgressFile"]


class ProgressFile:
    """Keeps ``path`` holding the latest progress line (rewritten at most every ``interval`` s).

    :param path: file to write (normally in the job's ``work/`` directory)
    :param interval: minimum seconds between writes (the final ``write(..., force=True)`` always goes)
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
