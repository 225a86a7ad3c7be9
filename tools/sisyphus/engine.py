"""Engine interface, the common submission logic, and the EngineSelector."""
import logging
import os
import threading

from sisyphus import global_settings as gs
from sisyphus import states
from sisyphus.task import normalize_rqmt

__all__ = ["EngineBase", "EngineSelector", "DeferSubmission", "SubmissionError"]


class DeferSubmission(Exception):
    """Raised by ``submit_call`` to retry the submission in a later manager cycle."""


class SubmissionError(Exception):
    """A task cannot be submitted (e.g. it asks for more than the engine has)."""


class EngineBase:
    """Base class of engines; subclasses implement ``submit_call`` and ``task_state``."""

    engine_name = "base"

    def __init__(self):
        self.wakeup = threading.Event()  # set when something happened that the manager should see

    # ------------------------------------------------------------------ interface
    def start_engine(self):
        pass

    def stop_engine(self):
        pass

    def reset_cache(self):
        pass

    def task_state(self, task, task_id) -> str:
        return states.UNKNOWN

    def submit_call(self, call, logpath, rqmt, name, task_name, task_ids):
        raise NotImplementedError

    def get_default_rqmt(self, task) -> dict:
        return {"cpu": 1, "mem": 1, "time": 1}

    def get_task_id(self, task_id):
        return 1 if task_id is None else int(task_id)

    def init_worker(self, task):
        pass

    def get_used_engine(self, engine_selector=None):
        return self

    def get_used_engine_by_rqmt(self, rqmt):
        return self

    def get_task_termination_info(self, task, task_id, submit_info) -> dict:
        return {}

    def get_job_used_resources(self, process=None) -> dict:
        return {}

    def get_job_node_hostnames(self):
        return [gs.HOSTNAME]

    def finished_fs_sync_wait(self) -> float:
        """How old a finished marker must be before it is trusted (network file systems)."""
        return gs.WAIT_PERIOD_JOB_FS_SYNC + gs.WAIT_PERIOD_JOB_CLEANUP

    def interrupted_grace_period(self, task, task_id) -> float:
        """How long a started task without engine record still counts as running."""
        return gs.WAIT_PERIOD_JOB_FS_SYNC + gs.PLOGGING_UPDATE_FILE_PERIOD + gs.WAIT_PERIOD_JOB_CLEANUP

    # ------------------------------------------------------------------ common submission
    def task_rqmt(self, task, task_id, was_interrupted: bool) -> dict:
        """Requirements of one array task: recipe values over engine defaults, escalated after an
        interruption (docs/SISYPHUS_COMPAT.md §6.4), then ``gs.check_engine_limits``."""
        rqmt = {**self.get_default_rqmt(task), **task.rqmt()}
        last = task.last_submit_info(task_id)
        if was_interrupted and last is not None:
            last_rqmt = {k: v for k, v in last.items()
                         if k not in ("engine", "engine_info", "engine_name", "completed_fraction")}
            usage = dict(task.read_usage(task_id) or {})
            usage.update(self.get_task_termination_info(task, task_id, last))
            rqmt.update(task.update_rqmt(last_rqmt, usage))
        rqmt = normalize_rqmt(rqmt)
        return gs.check_engine_limits(rqmt, task)

    def submit(self, task, engine_selector_key=None):
        """Submit all array tasks of ``task`` that are runnable or interrupted; log each submission."""
        job = task._job
        call = list(gs.SIS_COMMAND) + ["worker"]
        if engine_selector_key is not None:
            call += ["--engine", engine_selector_key]
        call += [job._sis_path(), task.name()]
        call = job._sis_worker_wrapper(job, task.name(), call)
        files = set(os.listdir(job._sis_path(abspath=True)))
        groups = {}
        for task_id in task.task_ids():
            st = task.state(self, task_id, files)
            if st not in (states.RUNNABLE, states.INTERRUPTED_RESUMABLE):
                continue
            rqmt = self.task_rqmt(task, task_id, st == states.INTERRUPTED_RESUMABLE)
            key = repr(sorted(rqmt.items()))
            groups.setdefault(key, (rqmt, []))[1].append(task_id)
        for rqmt, ids in groups.values():
            logpath = task.path("log")
            engine_name, engine_info = self.submit_call(call, logpath, rqmt, task.task_name().replace("/", "."),
                                                        task.task_name(), ids)
            self.record_submission(task, ids, rqmt, engine_selector_key, engine_name, engine_info)
            logging.debug("submitted %s %s via %s", task.task_name(), ids, engine_name)

    @staticmethod
    def record_submission(task, ids, rqmt, engine_selector_key, engine_name, engine_info):
        """Append one line to ``submit_log.<task>`` (one write, so concurrent readers never see half a line).

        Engines also call this for a submission they learn about later (e.g. a Slurm job found in the
        queue after ``sbatch`` timed out)."""
        entry = dict(rqmt)
        entry.update({"engine": engine_selector_key, "engine_info": engine_info, "engine_name": engine_name,
                      "completed_fraction": task._job.completed_fraction()})
        with open(task.path("submit_log"), "a", encoding="utf-8") as f:
            f.write(repr((list(ids), entry)) + "\n")


class EngineSelector(EngineBase):
    """Dispatch tasks to sub-engines by their ``rqmt["engine"]`` key (``mini_task`` → "short")."""

    engine_name = "selector"

    def __init__(self, engines: dict, default_engine: str):
        super().__init__()
        assert default_engine in engines, f"default engine {default_engine!r} not in {list(engines)}"
        self.engines = engines
        self.default_engine = default_engine
        for e in engines.values():
            e.wakeup = self.wakeup

    def _key(self, rqmt) -> str:
        key = rqmt.get("engine", self.default_engine)
        if key not in self.engines:
            raise SubmissionError(f"rqmt engine={key!r} is not one of the configured engines {list(self.engines)}")
        return key

    def get_used_engine_by_rqmt(self, rqmt):
        return self.engines[self._key(rqmt)]

    def get_used_engine(self, engine_selector=None):
        if engine_selector is None:
            return self.engines[self.default_engine]
        return self.engines[engine_selector]

    def start_engine(self):
        for e in self.engines.values():
            e.start_engine()

    def stop_engine(self):
        for e in self.engines.values():
            e.stop_engine()

    def reset_cache(self):
        for e in self.engines.values():
            e.reset_cache()

    def task_state(self, task, task_id):
        return self.get_used_engine_by_rqmt(task.rqmt()).task_state(task, task_id)

    def submit(self, task, engine_selector_key=None):
        key = self._key(task.rqmt())
        return self.engines[key].submit(task, engine_selector_key=key)

    def get_task_id(self, task_id):
        return self.engines[self.default_engine].get_task_id(task_id)

