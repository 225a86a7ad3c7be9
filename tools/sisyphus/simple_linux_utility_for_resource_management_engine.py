"""Slurm engine (docs/SISYPHUS_COMPAT.md §6.5): sbatch array jobs, one batched squeue poll, termination info.

How a task travels:

- ``submit_call``: ``sbatch -J <name> ... -a <start>-<end>:<step> --wrap="srun -o <jobdir>/engine/%x.%A.%a
  <sis worker ...>"``, one call per run of equally spaced array ids;
- ``task_state``: one cached ``squeue`` for all tasks of this user maps ``(job name, array id)`` to
  queue / running / queue_error; absent means unknown;
- worker: ``get_task_id`` reads ``SLURM_ARRAY_TASK_ID``; ``init_worker`` hard-links the step's output
  file ``engine/<name>.<array job>.<id>`` to ``log.<task>.<id>``;
- after a task ended without a marker, ``scontrol show job`` (or ``sacct``) and the batch log say how it
  ended: out of memory or out of time makes the next submission ask for more (§6.4).

No duplicate submissions (§8 item 2): the queue, not the manager's memory, is the source of truth.

- a restarted manager finds pending and running tasks again by job name;
- ids submitted by this engine count as pending until a poll started after their submission no longer
  lists them (the poll is cached, so it may be older than the submission);
- an ``sbatch`` that timed out may still have created the job (the controller can accept it after the
  client gave up): its name is marked uncertain and nothing is submitted under it again until a poll
  started at least ``gs.WAIT_PERIOD_SSH_TIMEOUT`` later has been seen; a job found that way is adopted
  (recorded in ``submit_log``) instead of submitted again;
- while Slurm cannot be reached, the last seen queue is kept, started tasks count as running and nothing
  is submitted; a missing Slurm command is a configuration error and fails the submission with a
  message naming the job.
"""
import enum
import getpass
import logging
import math
import os
import re
import shlex
import subprocess
import time

from sisyphus import global_settings as gs
from sisyphus import states
from sisyphus.engine import DeferSubmission, EngineBase, SubmissionError

__all__ = ["SimpleLinuxUtilityForResourceManagementEngine", "MemoryAllocationType", "array_ranges",
           "parse_squeue", "termination_reason", "with_partition"]

# squeue states (long form, %T) → our task states; every other state is a queue error (§6.5).
_QUEUE_STATES = {"RUNNING": states.RUNNING, "COMPLETING": states.RUNNING,
                 "PENDING": states.QUEUE, "CONFIGURING": states.QUEUE}
# States a finished job keeps for good: safe to cache, and the job no longer runs anywhere.
_ENDED_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                 "BOOT_FAIL", "DEADLINE", "REVOKED"}
# What slurmstepd writes into the batch log when it kills a job for memory (OverMemoryKill polling or
# the cgroup OOM notification) or for time. Only Slurm writes there: the task's own output goes to the
# step file, so a task printing "out of memory" cannot trigger this.
_OUT_OF_MEMORY_MESSAGES = ("exceeded job memory limit", "exceeded memory limit", "oom-kill", "out of memory")
_OUT_OF_TIME_MESSAGES = ("due to time limit",)
# sbatch errors after which the controller may nevertheless have created the job.
_MAYBE_SUBMITTED_MESSAGES = ("socket timed out",)
# sbatch errors that go away by themselves: try again in a later manager cycle.
_TRANSIENT_MESSAGES = ("unable to contact slurm controller", "temporarily unable", "connection refused",
                       "zero bytes were transmitted", "transport endpoint")
# sbatch errors meaning "too many jobs queued for you": back off for a minute (§6.5).
_SUBMIT_LIMIT_MESSAGES = ("assocmaxsubmitjoblimit", "qosmaxsubmitjobperuserlimit", "maxsubmitjobslimit")
_SUBMIT_LIMIT_BACKOFF = 60.0
_SUBMITTED_RE = re.compile(r"^Submitted batch job (\d+)", re.MULTILINE)


class MemoryAllocationType(enum.Enum):
    """How the ``mem`` requirement is passed to sbatch."""

    PER_NODE = "per_node"  # --mem=<mem>G
    PER_CPU = "per_cpu"  # --mem-per-cpu=<mem / cpu>M


class SlurmUnavailable(Exception):
    """A Slurm command could not be started (``missing``) or the controller did not answer."""

    def __init__(self, message, missing=False):
        super().__init__(message)
        self.missing = missing


def array_ranges(ids) -> list:
    """Split array ids into runs with a constant step: ``[(start, end, step, [ids])]``.

    ``[1, 2, 3, 5, 7, 8]`` → ``[(1, 3, 1, [1, 2, 3]), (5, 7, 2, [5, 7]), (8, 8, 1, [8])]``.
    """
    ids = sorted(set(int(i) for i in ids))
    runs = []
    i = 0
    while i < len(ids):
        run = [ids[i]]
        if i + 1 < len(ids):
            step = ids[i + 1] - ids[i]
            j = i + 1
            while j < len(ids) and ids[j] - ids[j - 1] == step:
                run.append(ids[j])
                j += 1
        else:
            step = 1
        runs.append((run[0], run[-1], step, run))
        i += len(run)
    return runs


def _expand_array_ids(text: str) -> list:
    """Array task ids as squeue prints them: ``N/A`` (no array: 1), ``5``, ``1-3``, ``[1-7:2,9]``."""
    text = text.strip().strip("[]")
    if text in ("", "N/A"):
        return [1]
    out = []
    for part in text.split(","):
        part = part.split("%")[0]  # "1-10%2": at most 2 run at once
        if "-" in part:
            bounds, _, step = part.partition(":")
            lo, hi = bounds.split("-")
            out.extend(range(int(lo), int(hi) + 1, int(step or 1)))
        elif part:
            out.append(int(part))
    return out


def parse_squeue(text: str, ignore=()) -> dict:
    """``squeue -h --array -o '%F|%K|%T|%A|%j'`` → ``{(name, array id): [(array job id, state, job id)]}``."""
    queue = {}
    for line in text.splitlines():
        fields = line.strip().split("|", 4)
        if len(fields) != 5:
            continue
        array_job, array_ids, state, job_id, name = (f.strip() for f in fields)
        if name in ignore or array_job in ignore or job_id in ignore:
            continue
        try:
            ids = _expand_array_ids(array_ids)
            array_job_id = int(array_job)
        except ValueError:
            logging.warning("cannot parse squeue line %r", line)
            continue
        for i in ids:
            queue.setdefault((name, i), []).append((array_job_id, state.split()[0] if state else "", job_id))
    return queue


def termination_reason(state, batch_log_text) -> str:
    """``"out_of_memory"``, ``"out_of_time"`` or ``""`` from a job's end state and its batch log."""
    if state == "OUT_OF_MEMORY":
        return "out_of_memory"
    if state == "TIMEOUT":
        return "out_of_time"
    text = (batch_log_text or "").lower()
    if any(m in text for m in _OUT_OF_MEMORY_MESSAGES):
        return "out_of_memory"
    if any(m in text for m in _OUT_OF_TIME_MESSAGES):
        return "out_of_time"
    return ""


def with_partition(rqmt: dict, partition) -> dict:
    """``rqmt`` with ``-p <partition>`` added to its ``sbatch_args``, unless it names a partition already.

    For ``check_engine_limits`` in settings.py; idempotent, because a resubmission starts from the last
    submitted requirements (which already carry the partition). ``partition=None`` changes nothing.
    """
    args = rqmt.get("sbatch_args") or []
    args = shlex.split(args) if isinstance(args, str) else [str(a) for a in args]
    named = any(a in ("-p", "--partition") or a.startswith("--partition=") for a in args)
    if partition and not named:
        args += ["-p", str(partition)]
    return {**rqmt, "sbatch_args": args}


def _tail(path, max_bytes=65536) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - max_bytes))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


class _Uncertain:
    """An sbatch that timed out: the job may exist. Nothing is submitted under this name until checked."""

    def __init__(self, ids, rqmt, selector_key):
        self.ids = list(ids)
        self.rqmt = dict(rqmt)
        self.selector_key = selector_key
        self.since = time.time()


class SimpleLinuxUtilityForResourceManagementEngine(EngineBase):
    """Submit tasks to Slurm as array jobs and follow them with one batched ``squeue`` poll.

    :param dict default_rqmt: requirements used where a task gives none, e.g.
        ``{"cpu": 1, "mem": 4, "gpu": 0, "time": 1}`` (mem in GB, time in hours)
    :param str|None gateway: run every Slurm command on this host via ``ssh -x <gateway> -o BatchMode=yes``
    :param bool has_memory_resource: pass ``--mem``/``--mem-per-cpu`` (False: the cluster does not
        schedule memory)
    :param bool auto_clean_eqw: SGE option, accepted so that shared settings work; Slurm has no
        error-queue state to clean
    :param list ignore_jobs: job names or ids in the queue that are not ours (never matched to tasks)
    :param MemoryAllocationType memory_allocation_type: ``PER_NODE`` (``--mem``) or ``PER_CPU``
        (``--mem-per-cpu``, the task's ``mem`` divided by its ``cpu``)
    :param callable|None job_name_mapping: maps the job name ``<sis_id>.<task>`` (``/`` → ``.``) to the
        Slurm job name, e.g. to shorten it; must be deterministic (tasks are found again by name)
    :param float|None poll_period: seconds a ``squeue`` result is reused (one call per period for all
        tasks); None: ``gs.WAIT_PERIOD_CACHE``
    :param float submit_timeout: seconds before an ``sbatch`` call is given up (the job may still appear)
    :param float command_timeout: seconds before ``squeue``/``scontrol``/``sacct`` are given up
    """

    engine_name = "slurm"

    def __init__(self, default_rqmt, gateway=None, has_memory_resource=True, auto_clean_eqw=True,
                 ignore_jobs=(), memory_allocation_type=MemoryAllocationType.PER_NODE, job_name_mapping=None,
                 *, poll_period=None, submit_timeout=200.0, command_timeout=60.0):
        super().__init__()
        self.default_rqmt = dict(default_rqmt)
        self.gateway = gateway
        self.has_memory_resource = has_memory_resource
        self.auto_clean_eqw = auto_clean_eqw
        self.ignore_jobs = {str(j) for j in ignore_jobs}
        if isinstance(memory_allocation_type, str):
            memory_allocation_type = MemoryAllocationType(memory_allocation_type.lower())
        self.memory_allocation_type = memory_allocation_type
        self.job_name_mapping = job_name_mapping
        self._poll_period = poll_period
        self.submit_timeout = float(submit_timeout)
        self.command_timeout = float(command_timeout)
        self.user = getpass.getuser()
        self._queue = None  # last successful poll: {(name, array id): [(array job id, state, job id)]}
        self._queue_started = 0.0  # time.time() when that poll was started
        self._last_poll = None  # time.time() of the last poll attempt (also failed ones)
        self._unreachable = None  # why the last poll failed; None while Slurm answers
        self._unreachable_missing = False  # ... because a command is not installed
        self._submitted = {}  # (name, array id) -> (array job id, time.time() of sbatch)
        self._uncertain = {}  # name -> _Uncertain
        self._job_ids = {}  # (array job id, array id) -> raw job id, as seen in polls (for sacct -c)
        self._ended = {}  # (array job id, array id) -> end state (final, cached for good)
        self._cycle_states = {}  # (array job id, array id) -> non-final state, cached for one cycle
        self._reported_ends = set()
        self._warned_duplicates = set()
        self._backoff_until = 0.0
        self._submitting_selector_key = None  # of the submit() in progress, kept with an uncertain sbatch

    @property
    def poll_period(self) -> float:
        return float(gs.WAIT_PERIOD_CACHE if self._poll_period is None else self._poll_period)

    # ------------------------------------------------------------------ running Slurm commands
    def _run(self, args, timeout) -> subprocess.CompletedProcess:
        """Run a Slurm command (via the gateway if configured); TimeoutExpired propagates."""
        if self.gateway:
            remote = f"cd {shlex.quote(gs.BASE_DIR)} && {shlex.join(args)}"
            full = ["ssh", "-x", self.gateway, "-o", "BatchMode=yes", remote]
        else:
            full = list(args)
        try:
            res = subprocess.run(full, cwd=gs.BASE_DIR, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=timeout)
        except FileNotFoundError:
            raise SlurmUnavailable(f"the Slurm command {full[0]!r} was not found on PATH "
                                   f"({os.environ.get('PATH', '')}); install the Slurm client tools "
                                   f"(tools/install.sh --with-slurm) or set gateway= to a submit host",
                                   missing=True) from None
        if self.gateway and res.returncode == 127:
            raise SlurmUnavailable(f"{args[0]!r} not found on the gateway {self.gateway}: {res.stderr.strip()}",
                                   missing=True)
        return res

    # ------------------------------------------------------------------ queue polling
    def _poll(self):
        """Refresh the queue picture if it is older than ``poll_period`` (failed attempts count too)."""
        now = time.time()
        if self._last_poll is not None and now - self._last_poll < self.poll_period:
            return
        self._last_poll = now
        cmd = ["squeue", "-h", "--array", "-u", self.user, "-o", "%F|%K|%T|%A|%j"]
        try:
            res = self._run(cmd, self.command_timeout)
        except subprocess.TimeoutExpired:
            self._poll_failed(f"squeue did not answer within {self.command_timeout:.0f} s")
            return
        except SlurmUnavailable as e:
            self._poll_failed(str(e), missing=e.missing)
            return
        if res.returncode != 0:
            self._poll_failed(f"squeue failed (exit {res.returncode}): {(res.stderr or res.stdout).strip()}")
            return
        queue = parse_squeue(res.stdout, self.ignore_jobs)
        self._queue = queue
        self._queue_started = now
        for (name, i), entries in queue.items():
            for array_job, _, job_id in entries:
                if job_id and "_" not in job_id and "[" not in job_id:
                    self._job_ids[(array_job, i)] = job_id
        # Our submissions older than this poll and absent from it have left the queue.
        for key, (_, submitted_at) in list(self._submitted.items()):
            if submitted_at < now and key not in queue:
                del self._submitted[key]
        if self._unreachable is not None:
            logging.info("Slurm answers again; resuming normal operation")
            self._unreachable = None
            self._unreachable_missing = False

    def _poll_failed(self, message, missing=False):
        if self._unreachable is None:
            logging.error("cannot query Slurm: %s. Keeping the last known task states: started tasks count as "
                          "running and nothing is submitted until Slurm answers (retrying every %g s).",
                          message, self.poll_period)
        self._unreachable = message
        self._unreachable_missing = missing

    def _job_name(self, task_name) -> str:
        name = task_name.replace("/", ".")
        return self.job_name_mapping(name) if self.job_name_mapping else name

    def _queued(self, name, task_id):
        """``(array job id, squeue state)`` of a task from the last poll or our own pending submissions."""
        entries = self._queue.get((name, task_id)) if self._queue is not None else None
        if entries:
            if len(entries) > 1 and (name, task_id) not in self._warned_duplicates:
                self._warned_duplicates.add((name, task_id))
                logging.warning("more than one Slurm job for %s array id %d: %s; following the first", name, task_id,
                                ", ".join(f"{a}_{task_id} ({s})" for a, s, _ in entries))
            array_job, state, _ = entries[0]
            return array_job, state
        submitted = self._submitted.get((name, task_id))
        if submitted is not None:
            return submitted[0], "PENDING"
        return None

    # ------------------------------------------------------------------ engine interface
    def reset_cache(self):
        self._cycle_states = {}

    def get_default_rqmt(self, task) -> dict:
        return dict(self.default_rqmt)

    def task_state(self, task, task_id) -> str:
        name = self._job_name(task.task_name())
        self._poll()
        found = self._queued(name, task_id)
        if found is None:
            return states.UNKNOWN
        array_job, state = found
        self._adopt_if_uncertain(task, name, array_job)
        return _QUEUE_STATES.get(state, states.QUEUE_ERROR)

    def _adopt_if_uncertain(self, task, name, array_job):
        """A job that appeared after its sbatch timed out: record it as our submission (never resubmit)."""
        pending = self._uncertain.get(name)
        if pending is None or self._queue is None:
            return
        found = [i for i in pending.ids if any(a == array_job for a, _, _ in self._queue.get((name, i), []))]
        if not found:
            return
        del self._uncertain[name]
        logging.warning("%s: Slurm job %d appeared in the queue after its sbatch call timed out; recorded it "
                        "as submitted (array ids %s), not submitting again", name, array_job, found)
        self.record_submission(task, found, pending.rqmt, pending.selector_key, self.engine_name,
                               [(found, array_job)])

    def submit(self, task, engine_selector_key=None):
        self._check_worker_started(task)
        self._submitting_selector_key = engine_selector_key
        try:
            return super().submit(task, engine_selector_key=engine_selector_key)
        finally:
            self._submitting_selector_key = None

    def _check_worker_started(self, task):
        """Refuse to resubmit a task whose Slurm jobs keep ending before its worker starts (e.g. a broken
        Python on the nodes): without a log file every retry would look like a first submission."""
        for task_id in task.task_ids():
            if os.path.exists(task.path("log", task_id)) or os.path.exists(task.path("finished", task_id)):
                continue
            if task.submissions(task_id) <= gs.MAX_SUBMIT_RETRIES:
                continue
            array_job = self._last_array_job(task, task_id)
            if array_job is None:
                continue
            batch_log = self._engine_log(task, array_job, task_id) + ".batch"
            tail = "\n".join(_tail(batch_log).splitlines()[-10:]) or "(empty)"
            raise SubmissionError(f"task {task.name()}.{task_id} was submitted {task.submissions(task_id)} times "
                                  f"but its worker never started; the last Slurm job {array_job}_{task_id} ended "
                                  f"{self._end_state(array_job, task_id)}; {batch_log}:\n{tail}")

    def submit_call(self, call, logpath, rqmt, name, task_name, task_ids):
        name = self._job_name(task_name)
        job_dir = os.path.dirname(logpath)
        if int(rqmt.get("multi_node_slots", 1) or 1) > 1:
            raise SubmissionError(f"multi_node_slots={rqmt['multi_node_slots']} is not supported by this Slurm "
                                  f"engine (the worker runs one process per array task)")
        if time.time() < self._backoff_until:
            raise DeferSubmission()
        self._poll()
        if self._unreachable is not None:
            if self._unreachable_missing:
                raise SubmissionError(self._unreachable)
            raise DeferSubmission()
        pending = self._uncertain.get(name)
        if pending is not None:
            if self._queue_started < pending.since + gs.WAIT_PERIOD_SSH_TIMEOUT:
                raise DeferSubmission()  # wait for a poll that would show a late-created job
            del self._uncertain[name]  # that poll did not list it (else task_state had adopted it)
        ids = [i for i in task_ids if self._queued(name, i) is None]
        if not ids:
            raise DeferSubmission()
        submitted = []
        for start, end, step, run_ids in array_ranges(ids):
            args = self.sbatch_command(call, job_dir, rqmt, name, start, end, step)
            try:
                array_job = self._sbatch(args, name, job_dir, rqmt, run_ids)
            except (DeferSubmission, SubmissionError) as e:
                if not submitted:
                    raise
                # record what went through; the rest is tried again next cycle
                logging.error("%s: array ids %s not submitted: %s", job_dir, run_ids, e or "deferred")
                break
            now = time.time()
            for i in run_ids:
                self._submitted[(name, i)] = (array_job, now)
            submitted.append((run_ids, array_job))
        return self.engine_name, submitted

    def _sbatch(self, args, name, job_dir, rqmt, run_ids) -> int:
        """Run one sbatch; return the array job id or raise DeferSubmission / SubmissionError."""
        try:
            res = self._run(args, self.submit_timeout)
        except subprocess.TimeoutExpired:
            self._mark_uncertain(name, rqmt, run_ids, f"sbatch did not answer within {self.submit_timeout:.0f} s")
            raise DeferSubmission() from None
        except SlurmUnavailable as e:
            raise SubmissionError(str(e)) from None
        match = _SUBMITTED_RE.search(res.stdout or "")
        if match:
            if res.returncode != 0 or (res.stderr or "").strip():
                logging.warning("sbatch for %s (exit %d): %s", name, res.returncode, (res.stderr or "").strip())
            return int(match.group(1))
        message = " ".join(((res.stderr or "") + " " + (res.stdout or "")).split())
        lower = message.lower()
        if any(m in lower for m in _SUBMIT_LIMIT_MESSAGES):
            logging.warning("sbatch for %s: submit limit reached (%s); waiting %.0f s", name, message,
                            _SUBMIT_LIMIT_BACKOFF)
            self._backoff_until = time.time() + _SUBMIT_LIMIT_BACKOFF
            raise DeferSubmission()
        if any(m in lower for m in _MAYBE_SUBMITTED_MESSAGES):
            self._mark_uncertain(name, rqmt, run_ids, f"sbatch failed: {message}")
            raise DeferSubmission()
        if any(m in lower for m in _TRANSIENT_MESSAGES):
            logging.error("sbatch for %s failed, retrying later: %s", job_dir, message)
            raise DeferSubmission()
        summary = ", ".join(f"{k}={rqmt[k]}" for k in ("cpu", "mem", "gpu", "time", "sbatch_args") if k in rqmt)
        raise SubmissionError(f"sbatch refused ({summary}): {message} (exit {res.returncode})")

    def _mark_uncertain(self, name, rqmt, run_ids, why):
        logging.warning("%s: %s; the job may still have been created, so this name is looked up in the queue "
                        "before anything is submitted under it again", name, why)
        self._uncertain[name] = _Uncertain(run_ids, rqmt, self._submitting_selector_key)

    def sbatch_command(self, call, job_dir, rqmt, name, start, end, step) -> list:
        """The sbatch argument list for array ids ``start-end:step`` of one task (§6.5)."""
        cpu = int(rqmt.get("cpu", 1) or 1)
        args = ["sbatch", "-J", name, "--mail-type=None"]
        if self.has_memory_resource:
            mem = float(rqmt.get("mem", 1))
            if self.memory_allocation_type == MemoryAllocationType.PER_CPU:
                args.append(f"--mem-per-cpu={max(1, math.ceil(mem * 1024 / cpu))}M")
            else:
                args.append(f"--mem={max(1, math.ceil(mem))}G")
        gpu = int(rqmt.get("gpu", 0) or 0)
        if gpu > 0:
            gpu_name = rqmt.get("gpu_name")
            args.append(f"--gres=gpu:{gpu_name}:{gpu}" if gpu_name else f"--gres=gpu:{gpu}")
        # Whole minutes, at least one: Slurm reads --time=0 as "no limit".
        minutes = max(1, math.ceil(round(float(rqmt.get("time", 1)) * 60, 6)))
        args += [f"--cpus-per-task={cpu}", f"--time={minutes}", "--export=all", "--ntasks-per-node=1"]
        extra = rqmt.get("sbatch_args") or []
        args += shlex.split(extra) if isinstance(extra, str) else [str(a) for a in extra]
        engine_dir = os.path.join(job_dir, gs.JOB_ENGINE_DIR)
        # srun gets --cpus-per-task too: since Slurm 22.05 a step no longer inherits it from the job.
        wrap = shlex.join(["srun", "-o", os.path.join(engine_dir, "%x.%A.%a"), f"--cpus-per-task={cpu}"] + list(call))
        args += ["-o", os.path.join(engine_dir, "%x.%A.%a.batch"), "-a", f"{start}-{end}:{step}", f"--wrap={wrap}"]
        return args

    # ------------------------------------------------------------------ after a task ended
    def _last_array_job(self, task, task_id, submit_info=None):
        """Array job id of the last submission of ``task_id`` made by a Slurm engine, or None."""
        info = submit_info if submit_info is not None else task.last_submit_info(task_id)
        if not info or info.get("engine_name") != self.engine_name:
            return None
        for ids, array_job in info.get("engine_info") or []:
            if task_id in ids:
                return int(array_job)
        return None

    def _engine_log(self, task, array_job, task_id) -> str:
        return os.path.join(task._job._sis_path(abspath=True), gs.JOB_ENGINE_DIR,
                            f"{self._job_name(task.task_name())}.{array_job}.{task_id}")

    def _end_state(self, array_job, task_id):
        """Slurm's state of array task ``array_job_task_id`` (e.g. COMPLETED, TIMEOUT), None if forgotten."""
        key = (array_job, task_id)
        if key in self._ended:
            return self._ended[key]
        if key in self._cycle_states:
            return self._cycle_states[key]
        state = self._scontrol_state(array_job, task_id) or self._sacct_state(array_job, task_id)
        if state in _ENDED_STATES:
            self._ended[key] = state
        else:
            self._cycle_states[key] = state
        return state

    def _command_output(self, args):
        try:
            res = self._run(args, self.command_timeout)
        except (subprocess.TimeoutExpired, SlurmUnavailable):
            return None
        return res.stdout if res.returncode == 0 else None

    def _scontrol_state(self, array_job, task_id):
        """From the controller's memory (jobs stay there ``MinJobAge``, 300 s by default, after ending)."""
        out = self._command_output(["scontrol", "-o", "show", "job", f"{array_job}_{task_id}"])
        match = re.search(r"\bJobState=(\S+)", out or "")
        return match.group(1) if match else None

    def _sacct_state(self, array_job, task_id):
        """From accounting (slurmdbd), else from the job completion log (``sacct -c``, raw job ids only)."""
        out = self._command_output(["sacct", "-n", "-P", "-X", "-j", f"{array_job}_{task_id}", "--format=State"])
        if not out or not out.strip():
            job_id = self._job_ids.get((array_job, task_id))
            if job_id is None:
                return None
            out = self._command_output(["sacct", "-c", "-n", "-P", "-j", job_id, "--format=JobID,State"])
            rows = [line.split("|") for line in (out or "").splitlines()]
            out = "\n".join(r[1] for r in rows if len(r) >= 2 and r[0] == job_id)
        first = out.strip().splitlines()[0].split() if out and out.strip() else []
        return first[0] if first else None

    def _how_it_ended(self, task, task_id, array_job):
        state = self._end_state(array_job, task_id)
        batch_log = _tail(self._engine_log(task, array_job, task_id) + ".batch")
        return state, termination_reason(state, batch_log)

    def interrupted_grace_period(self, task, task_id) -> float:
        """Started, not in the queue, no marker: how long it may still count as running.

        Slurm's own record decides when it has one (engine accounting over log mtimes, §8 item 2): an
        ended job only waits for the file system to show its markers; a job Slurm still runs counts as
        running. Without a record (or while Slurm cannot be asked) fall back to the heartbeat rule."""
        if self._unreachable is not None:
            return math.inf
        array_job = self._last_array_job(task, task_id)
        if array_job is None:
            return super().interrupted_grace_period(task, task_id)
        state, reason = self._how_it_ended(task, task_id, array_job)
        if state is None:
            return super().interrupted_grace_period(task, task_id)
        if state not in _ENDED_STATES:
            return math.inf
        if (array_job, task_id) not in self._reported_ends:
            self._reported_ends.add((array_job, task_id))
            rqmt = task.last_submit_info(task_id) or {}
            what = {"out_of_memory": f"out of memory (mem={rqmt.get('mem')} GB)",
                    "out_of_time": f"out of time (time={rqmt.get('time')} h)"}.get(reason, "")
            logging.warning("%s: Slurm job %d_%d ended %s without a finished marker%s", task._job._sis_path(),
                            array_job, task_id, state, f": {what}" if what else "")
        return float(gs.WAIT_PERIOD_JOB_FS_SYNC)

    def get_task_termination_info(self, task, task_id, submit_info) -> dict:
        array_job = self._last_array_job(task, task_id, submit_info)
        if array_job is None:
            return {}
        _, reason = self._how_it_ended(task, task_id, array_job)
        return {reason: True} if reason else {}

    # ------------------------------------------------------------------ worker side
    def get_task_id(self, task_id):
        if task_id is not None:
            return int(task_id)
        return int(os.environ.get("SLURM_ARRAY_TASK_ID", 1))

    def init_worker(self, task):
        """Hard-link the step's output file to ``log.<task>.<id>`` (the manager's "started" marker)."""
        name = os.environ.get("SLURM_JOB_NAME")
        array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
        task_id = os.environ.get("SLURM_ARRAY_TASK_ID")
        if not (name and array_job and task_id):
            return  # run by hand, not by sbatch
        engine_log = os.path.join(task._job._sis_path(abspath=True), gs.JOB_ENGINE_DIR,
                                  f"{name}.{array_job}.{task_id}")
        log = task.path("log", int(task_id))
        try:
            os.unlink(log)  # the previous attempt's output stays in its own engine file
        except FileNotFoundError:
            pass
        try:
            os.link(engine_log, log)
        except OSError:
            try:
                os.symlink(engine_log, log)
            except OSError:
                with open(log, "a", encoding="utf-8") as f:
                    f.write(f"output of Slurm job {array_job}_{task_id} is in Slurm's output file\n")
