"""Task: one step of a job, run by ``sis worker`` as one or more engine array tasks."""
import ast
import os
import time

from sisyphus import global_settings as gs
from sisyphus import states

__all__ = ["Task"]


def normalize_mem(value) -> float:
    """Memory in GB; strings with suffix T/G/M/K accepted."""
    if isinstance(value, str):
        v = value.strip().upper()
        factor = {"T": 1024.0, "G": 1.0, "M": 1 / 1024, "K": 1 / 1024**2}.get(v[-1:])
        if factor is not None:
            return float(v[:-1]) * factor
        return float(v)
    return float(value)


def normalize_time(value) -> float:
    """Time in hours; ``H:MM:SS`` / ``MM:SS`` strings accepted."""
    if isinstance(value, str) and ":" in value:
        parts = [float(p) for p in value.split(":")]
        while len(parts) < 3:
            parts.insert(0, 0.0)
        return parts[0] + parts[1] / 60 + parts[2] / 3600
    return float(value)


def normalize_rqmt(rqmt: dict) -> dict:
    rqmt = dict(rqmt)
    if "mem" in rqmt:
        rqmt["mem"] = normalize_mem(rqmt["mem"])
    if "time" in rqmt:
        rqmt["time"] = normalize_time(rqmt["time"])
    return rqmt


class Task:
    """A unit of work of a job: the job method ``start`` called once per argument.

    :param str start: name of the job method to run
    :param str|None resume: method usable to continue after an interruption; in practice a flag
        meaning "may be resubmitted automatically after an interruption"
    :param dict|callable rqmt: requirements (cpu, gpu, mem [GB], time [h], engine, ...)
    :param list args: one entry per call; each entry is the call's argument list
    :param bool mini_task: run on the "short" engine
    :param callable update_rqmt: ``f(last_rqmt, last_usage) -> rqmt`` escalation after interruption
    :param int parallel: number of engine array tasks (0: one per argument)
    :param int tries: automatic in-place retries after an error
    :param bool continuable: never mark finished (the task can be re-run indefinitely)
    """

    def __init__(self, start, resume=None, rqmt=None, args=None, mini_task=False, update_rqmt=None,
                 parallel=0, tries=1, continuable=False):
        assert isinstance(start, str), "Task(start=...) takes the *name* of the job method"
        self._start = start
        self._resume = resume
        self._rqmt = {} if rqmt is None else rqmt
        if args is None:
            args = [[]]
        self._args = [a if isinstance(a, (list, tuple)) else [a] for a in args]
        self._mini_task = mini_task
        self._update_rqmt = update_rqmt
        self._parallel = len(self._args) if parallel == 0 else min(parallel, len(self._args))
        self._parallel = max(self._parallel, 1)
        self._tries = tries
        self._continuable = continuable
        self._job = None

    # ------------------------------------------------------------------ accessors
    def set_job(self, job):
        self._job = job
        for method in (self._start, self._resume):
            if method is not None and not callable(getattr(job, method, None)):
                raise AttributeError(f"{job._sis_id()}: task method {method!r} does not exist on {type(job).__name__}")

    def name(self) -> str:
        return self._start

    def task_name(self) -> str:
        return f"{self._job._sis_id()}.{self._start}"

    def task_ids(self) -> list:
        return list(range(1, self._parallel + 1))

    def resumeable(self) -> bool:
        return self._resume is not None

    def tries(self) -> int:
        return self._tries

    def continuable(self) -> bool:
        return self._continuable

    def rqmt(self) -> dict:
        rqmt = self._rqmt() if callable(self._rqmt) else dict(self._rqmt)
        overwrite = self._job._sis_task_rqmt_overwrite.get(self._start) if self._job else None
        if overwrite is not None:
            replace, value = overwrite
            rqmt = dict(value) if replace else {**rqmt, **value}
        if self._mini_task:
            rqmt["engine"] = "short"
        return normalize_rqmt(rqmt)

    def update_rqmt(self, last_rqmt, last_usage) -> dict:
        f = self._update_rqmt or gs.update_engine_rqmt
        return f(last_rqmt, last_usage)

    def args_for(self, task_id: int) -> list:
        """The argument lists handled by array task ``task_id`` (1-based, contiguous chunks)."""
        n, p = len(self._args), self._parallel
        size, extra = divmod(n, p)
        start = (task_id - 1) * size + min(task_id - 1, extra)
        end = start + size + (1 if task_id - 1 < extra else 0)
        return self._args[start:end]

    # ------------------------------------------------------------------ files
    def path(self, kind: str, task_id=None) -> str:
        """``<jobdir>/<kind>.<task>[.<id>]``, e.g. ``log.run.1``."""
        name = f"{kind}.{self._start}" if task_id is None else f"{kind}.{self._start}.{task_id}"
        return os.path.join(self._job._sis_path(abspath=True), name)

    def submit_history(self) -> list:
        """Entries of ``submit_log.<task>``: ``[(ids, info_dict), ...]``."""
        try:
            with open(self.path("submit_log"), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(ast.literal_eval(line))
            except (ValueError, SyntaxError):
                continue
        return out

    def submissions(self, task_id: int) -> int:
        """How often ``task_id`` was submitted since its last progress (completed_fraction)."""
        hist = [(ids, info) for ids, info in self.submit_history() if task_id in ids]
        if not hist:
            return 0
        latest = hist[-1][1].get("completed_fraction")
        if latest is None:
            return len(hist)
        return sum(1 for _, info in hist if (info.get("completed_fraction") or 0.0) >= latest)

    def last_submit_info(self, task_id: int):
        for ids, info in reversed(self.submit_history()):
            if task_id in ids:
                return info
        return None

    def read_usage(self, task_id: int):
        try:
            with open(self.path("usage", task_id), encoding="utf-8") as f:
                return ast.literal_eval(f.read())
        except (FileNotFoundError, ValueError, SyntaxError):
            return None

    # ------------------------------------------------------------------ state
    def state(self, engine, task_id: int, files=None) -> str:
        """State of one array task, from its marker files and the engine.

        :param files: the job directory listing (one ``os.listdir`` per job per cycle)
        """
        if files is None:
            try:
                files = set(os.listdir(self._job._sis_path(abspath=True)))
            except FileNotFoundError:
                files = set()
        suffix = f"{self._start}.{task_id}"
        sub_engine = engine.get_used_engine_by_rqmt(self.rqmt()) if engine is not None else None
        if f"finished.{suffix}" in files:
            wait = sub_engine.finished_fs_sync_wait() if sub_engine is not None else 0
            if wait <= 0:
                return states.FINISHED
            try:
                age = time.time() - os.path.getmtime(self.path("finished", task_id))
            except FileNotFoundError:
                return states.RUNNING
            return states.FINISHED if age >= wait else states.RUNNING
        if f"error.{suffix}" in files:
            return states.ERROR
        engine_state = engine.task_state(self, task_id) if engine is not None else states.UNKNOWN
        if engine_state in (states.QUEUE, states.QUEUE_ERROR, states.RUNNING):
            return engine_state
        if f"log.{suffix}" not in files:
            return states.RUNNABLE
        usage = self.read_usage(task_id)
        if usage is not None and usage.get("out_of_memory"):
            if self.submissions(task_id) > gs.MAX_SUBMIT_RETRIES:
                return states.RETRY_ERROR
            return states.INTERRUPTED_RESUMABLE if self.resumeable() else states.INTERRUPTED_NOT_RESUMABLE
        grace = sub_engine.interrupted_grace_period(self, task_id) if sub_engine is not None else 0
        if grace > 0:
            newest = 0.0
            for kind in ("usage", "log"):
                try:
                    newest = max(newest, os.path.getmtime(self.path(kind, task_id)))
                except FileNotFoundError:
                    pass
            if time.time() - newest < grace:
                return states.RUNNING
        if self.submissions(task_id) > gs.MAX_SUBMIT_RETRIES:
            return states.RETRY_ERROR
        return states.INTERRUPTED_RESUMABLE if self.resumeable() else states.INTERRUPTED_NOT_RESUMABLE

    def __repr__(self):
        return f"<Task {self._start} of {self._job._sis_id() if self._job else '?'}>"
