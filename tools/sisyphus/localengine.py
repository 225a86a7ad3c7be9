"""LocalEngine: runs tasks as processes on this machine, within cpu/gpu/mem pools.

Each array task runs ``sis worker ... <id> --redirect_output`` in its own process session, so it
survives the manager. A restarted manager adopts still-running tasks by the pid recorded in their
usage file (checked against /proc, so a recycled pid is not mistaken for the worker). A polling
thread reaps finished processes every ``gs.LOCAL_ENGINE_POLL_PERIOD`` seconds and wakes the
manager at once, so dependent tasks start within about a second. What a worker prints before it
has its log goes to ``<job>/engine/local.<task>.<id>``; a task whose worker keeps ending before it
has a log is refused after ``MAX_SUBMIT_RETRIES`` restarts, with that output in the message.
"""
import logging
import os
import subprocess
import threading
import time

from sisyphus import global_settings as gs
from sisyphus import states
from sisyphus.engine import EngineBase, SubmissionError

__all__ = ["LocalEngine", "process_is_worker"]

# How long a started task that has not recorded its pid yet (``usage.<task>.<id>``) counts as running
# when this manager did not start it. A worker writes its pid as soon as it holds the task's lock,
# before it loads the job (which imports the recipe).
PID_GRACE_PERIOD = 5.0


def process_is_worker(pid: int, job_dir_rel: str) -> bool:
    """True if ``pid`` is alive and is a ``sis worker`` process of that job directory."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return False  # zombie: finished, not yet reaped
    except (FileNotFoundError, IndexError):
        return False
    args = [a.decode(errors="replace") for a in args]
    return "worker" in args and any(a.rstrip("/").endswith(job_dir_rel.rstrip("/")) for a in args)


class _Instance:
    """One array task queued or running here."""

    def __init__(self, call, rqmt, key, job_dir_rel):
        self.call = call
        self.rqmt = rqmt
        self.key = key  # (task_name, task_id)
        self.job_dir_rel = job_dir_rel
        self.process = None  # Popen if started by us
        self.pid = None  # adopted processes have only a pid
        self.gpus = []
        self.output = None  # file that gets what the process prints before its log exists

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return process_is_worker(self.pid, self.job_dir_rel)


class LocalEngine(EngineBase):
    """Run tasks locally, limited by resource pools (``cpu``, ``gpu`` and optional ``mem`` in GB).

    :param int cpus: CPU cores in the pool
    :param int gpus: GPUs in the pool (needs ``available_gpus`` names to be usable)
    :param str available_gpus: comma-separated device ids, e.g. "0,1"
    """

    engine_name = "local"

    def __init__(self, cpus=1, gpus=0, available_gpus="", **other):
        super().__init__()
        if "cpu" in other:
            cpus = other.pop("cpu")
        if "gpu" in other:
            gpus = other.pop("gpu")
        self.max = {"cpu": cpus, "gpu": gpus, **other}
        names = [g for g in str(available_gpus).split(",") if g.strip() != ""] if available_gpus != "" else []
        if names and len(names) != gpus:
            raise ValueError(f"LocalEngine: available_gpus={available_gpus!r} names {len(names)} GPUs but gpus={gpus}")
        self.free_gpus = names
        self.free = dict(self.max)
        self.queue = []  # FIFO of _Instance
        self.running = {}  # key -> _Instance
        self.lock = threading.RLock()
        # Tasks whose process we started and saw end (key -> exit code); a task ended without recording
        # its pid is then known to be gone at once, not after a grace period.
        self.exited = {}
        self.early_deaths = {}  # key -> how often in a row its worker ended before writing its log
        self._recheck_at = None  # when a grace period ends: wake the manager to look again
        self._thread = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def start_engine(self):
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="LocalEngine", daemon=True)
            self._thread.start()

    def stop_engine(self):
        """Stop scheduling; running tasks keep running (they belong to their own sessions)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self):
        while not self._stop.is_set():
            self.step()
            self._stop.wait(gs.LOCAL_ENGINE_POLL_PERIOD)

    def step(self):
        """Reap finished processes, then start queued instances that fit (FIFO, skipping misfits)."""
        changed = False
        with self.lock:
            for key, inst in list(self.running.items()):
                if not inst.alive():
                    self._forget(inst)
                    changed = True
            if self._recheck_at is not None and time.time() >= self._recheck_at:
                self._recheck_at = None
                changed = True
            for inst in list(self.queue):
                if self._fits(inst.rqmt):
                    self.queue.remove(inst)
                    self._start(inst)
                    changed = True
        if changed:
            self.wakeup.set()

    # ------------------------------------------------------------------ resources
    def _amount(self, rqmt, key):
        return rqmt.get(key, 0) or 0

    def _fits(self, rqmt) -> bool:
        return all(self._amount(rqmt, k) <= self.free[k] for k in self.max)

    def _take(self, inst):
        for k in self.max:
            self.free[k] -= self._amount(inst.rqmt, k)
        n = int(self._amount(inst.rqmt, "gpu"))
        if not inst.gpus:
            inst.gpus, self.free_gpus = self.free_gpus[:n], self.free_gpus[n:]
        else:
            self.free_gpus = [g for g in self.free_gpus if g not in inst.gpus]

    def _forget(self, inst):
        """A running instance ended: free its resources and remember that it ended."""
        del self.running[inst.key]
        self._release(inst)
        if inst.process is not None:
            self.exited[inst.key] = inst.process.poll()

    def _release(self, inst):
        for k in self.max:
            self.free[k] += self._amount(inst.rqmt, k)
        self.free_gpus.extend(inst.gpus)

    def _start(self, inst):
        self._take(inst)
        env = dict(os.environ)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(inst.gpus)
        try:
            # The worker sends its output to its log once it has one; what comes before (a broken
            # settings.py, an import error) goes here, so that it can be shown when the task fails.
            os.makedirs(os.path.dirname(inst.output), exist_ok=True)
            with open(inst.output, "ab") as out:
                inst.process = subprocess.Popen(inst.call, cwd=gs.BASE_DIR, env=env, start_new_session=True,
                                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        except OSError as e:
            logging.error("could not start %s: %s", " ".join(inst.call), e)
            self._release(inst)
            return
        inst.pid = inst.process.pid
        self.running[inst.key] = inst

    # ------------------------------------------------------------------ engine interface
    def get_default_rqmt(self, task):
        return {"cpu": 1, "mem": 1, "time": 1}

    def finished_fs_sync_wait(self) -> float:
        return 0.0  # same machine, same file system view: markers are final when seen

    def interrupted_grace_period(self, task, task_id) -> float:
        usage = task.read_usage(task_id)
        if usage is None:
            with self.lock:
                if (task.task_name(), task_id) in self.exited:
                    return 0.0  # we started it and saw it end before it recorded its pid
                # Not started by this manager (an earlier one, or another machine's), and no pid
                # yet: give it a moment, and have the manager look again when that is over instead
                # of after WAIT_PERIOD_BETWEEN_CHECKS (30 s).
                recheck = time.time() + PID_GRACE_PERIOD + gs.LOCAL_ENGINE_POLL_PERIOD
                self._recheck_at = recheck if self._recheck_at is None else min(self._recheck_at, recheck)
            return PID_GRACE_PERIOD
        if usage.get("host") != gs.HOSTNAME:
            return super().interrupted_grace_period(task, task_id)  # another machine: fall back to mtimes
        return 0.0  # we checked the pid: it is gone

    def submit_call(self, call, logpath, rqmt, name, task_name, task_ids):
        for k in self.max:
            if self._amount(rqmt, k) > self.max[k]:
                raise SubmissionError(f"{task_name} asks for {k}={rqmt[k]} but the local engine has only "
                                      f"{self.max[k]}; lower the job's rqmt or configure engine() in settings.py")
        job_dir = os.path.dirname(logpath)
        job_dir_rel = os.path.relpath(job_dir, gs.BASE_DIR)
        short_name = os.path.basename(logpath).split(".", 1)[1]  # log.<task> -> <task>
        with self.lock:
            for task_id in task_ids:
                key = (task_name, task_id)
                if key in self.running or any(i.key == key for i in self.queue):
                    continue
                output = os.path.join(job_dir, gs.JOB_ENGINE_DIR, f"local.{short_name}.{task_id}")
                self._check_worker_started(job_dir, short_name, task_id, key, output)
                self.exited.pop(key, None)
                inst = _Instance(call + [str(task_id), "--redirect_output"], rqmt, key, job_dir_rel)
                inst.output = output
                self.queue.append(inst)
        self.step()
        return "local", gs.HOSTNAME

    def _check_worker_started(self, job_dir, short_name, task_id, key, output):
        """Refuse to start a task again whose worker ended before it had a log, MAX_SUBMIT_RETRIES
        times in a row: without a log every start looks like a first one and would repeat forever."""
        if key not in self.exited or os.path.exists(os.path.join(job_dir, f"log.{short_name}.{task_id}")):
            self.early_deaths.pop(key, None)
            return
        self.early_deaths[key] = self.early_deaths.get(key, 0) + 1
        if self.early_deaths[key] <= gs.MAX_SUBMIT_RETRIES:
            return
        try:
            with open(output, encoding="utf-8", errors="replace") as f:
                tail = "\n".join(f.read().splitlines()[-10:]) or "(empty)"
        except FileNotFoundError:
            tail = "(no output)"
        raise SubmissionError(f"task {short_name}.{task_id}: its worker ended {self.early_deaths[key]} times "
                              f"before it started its log (last exit code {self.exited[key]}; settings.py, "
                              f"PYTHONPATH or the Python environment?); {output}:\n{tail}")

    def task_state(self, task, task_id):
        key = (task.task_name(), task_id)
        with self.lock:
            if any(i.key == key for i in self.queue):
                return states.QUEUE
            inst = self.running.get(key)
            if inst is not None:
                if inst.alive():
                    return states.RUNNING
                self._forget(inst)
            adopted = self._try_adopt(task, task_id)
        return states.RUNNING if adopted else states.UNKNOWN

    def _try_adopt(self, task, task_id) -> bool:
        """Re-register a worker started by an earlier manager, if it still runs here."""
        usage = task.read_usage(task_id)
        if not usage or usage.get("host") != gs.HOSTNAME or not usage.get("pid"):
            return False
        job_dir_rel = task._job._sis_path()
        if not process_is_worker(int(usage["pid"]), job_dir_rel):
            return False
        rqmt = usage.get("requested_resources") or task.rqmt()
        inst = _Instance(None, rqmt, (task.task_name(), task_id), job_dir_rel)
        inst.pid = int(usage["pid"])
        try:
            with open(f"/proc/{inst.pid}/environ", "rb") as f:
                env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
            inst.gpus = [g for g in env.get(b"CUDA_VISIBLE_DEVICES", b"").decode().split(",") if g]
        except OSError:
            pass
        self._take(inst)
        self.running[inst.key] = inst
        logging.info("adopted running task %s.%s (pid %s)", task.task_name(), task_id, inst.pid)
        return True
