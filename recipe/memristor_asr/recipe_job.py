"""The base class of this package's Sisyphus jobs: resource requirements handled in one place."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from sisyphus import Job, Task

__all__ = ["RecipeJob", "RQMT_KEYS"]

RQMT_KEYS = ("cpu", "gpu", "mem", "time")


class RecipeJob(Job):
    """Base of this package's jobs: resource requirements are one keyword argument, ``rqmt``, that
    never enters the hash, and ``UNHASHED`` names further arguments left out of it.

    A subclass states its defaults in ``DEFAULT_RQMT`` (``cpu`` cores, also torch's thread count;
    ``gpu`` count; ``mem`` in GB; ``time`` in hours), takes ``rqmt: Optional[dict] = None`` and sets
    ``self.rqmt = self.resources(rqmt)``. Further arguments that must not change the hash (e.g. a
    failure threshold) go in ``UNHASHED``. By default a job has one resumable task, ``run``, with
    ``self.rqmt``; a job with several tasks, parallel chunks or mini tasks overrides :meth:`tasks`.
    """

    DEFAULT_RQMT: Dict[str, float] = {"cpu": 1, "gpu": 0, "mem": 2.0, "time": 1.0}
    UNHASHED: Tuple[str, ...] = ()

    @classmethod
    def resources(cls, rqmt: Optional[Dict[str, float]]) -> Dict[str, float]:
        """``DEFAULT_RQMT`` updated by ``rqmt``; an unknown key (a typo would be silently ignored) is an error."""
        unknown = set(rqmt or {}) - set(RQMT_KEYS)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown rqmt key(s) {sorted(unknown)}; known: {list(RQMT_KEYS)}")
        return {**cls.DEFAULT_RQMT, **(rqmt or {})}

    @classmethod
    def hash(cls, parsed_args):
        excluded = ("rqmt",) + tuple(cls.UNHASHED)
        return super().hash({k: v for k, v in parsed_args.items() if k not in excluded})

    def tasks(self):
        yield Task("run", resume="run", rqmt=self.rqmt)
