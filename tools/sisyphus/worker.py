"""``sis worker JOBDIR TASK [ID]``: run one array task of a job (normally started by an engine)."""
import errno
import fcntl
import gzip
import io
import logging
import os
import pickle
import string
import subprocess
import sys
import threading
import time
import traceback

from sisyphus import global_settings as gs
from sisyphus import job_path

__all__ = ["worker", "load_job", "load_pickle", "UsageMonitor"]


def load_job(path):
    """Load a job from its ``job.save`` (or a job directory)."""
    if os.path.isdir(path):
        path = os.path.join(path, gs.JOB_SAVE)
    return load_pickle(path)


def load_pickle(path):
    """Unpickle a gzip'ed (as Sisyphus writes them) or plain pickle file."""
    try:
        with gzip.open(path, "rb") as f:
            return pickle.load(f)
    except OSError:
        with open(path, "rb") as f:
            return pickle.load(f)


def _read_proc_tree(root_pid):
    """Sum of RSS/VMS (GB) over ``root_pid`` and its descendants, from /proc."""
    children = {}
    stats = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(d), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        stats[pid] = (int(fields[20]) / 1024**3, int(fields[21]) * page / 1024**3,
                      (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    rss = vms = cpu_s = 0.0
    stack = [root_pid]
    while stack:
        p = stack.pop()
        if p in stats:
            v, r, c = stats[p]
            vms, rss, cpu_s = vms + v, rss + r, cpu_s + c
        stack.extend(children.get(p, []))
    return rss, vms, cpu_s


class UsageMonitor(threading.Thread):
    """Writes ``usage.<task>.<id>``: pid, host, resource maxima; its mtime is the heartbeat."""

    def __init__(self, path, rqmt):
        super().__init__(name="UsageMonitor", daemon=True)
        self.path = path
        self.rqmt = rqmt
        self.start_time = time.time()
        self.max = {"rss": 0.0, "vms": 0.0, "cpu": 0.0}
        self.current = dict(self.max)
        self.out_of_memory = False
        self._last_cpu = (time.time(), 0.0)
        self._last_written = 0.0
        self._written_rss = 0.0
        self._stop = threading.Event()

    def sample(self):
        rss, vms, cpu_s = _read_proc_tree(os.getpid())
        now = time.time()
        t0, c0 = self._last_cpu
        cpu = 100.0 * (cpu_s - c0) / max(now - t0, 1e-6)
        self._last_cpu = (now, cpu_s)
        self.current = {"rss": rss, "vms": vms, "cpu": cpu}
        for k in self.max:
            self.max[k] = max(self.max[k], self.current[k])

    def write(self):
        data = {
            "max": dict(self.max), "current": dict(self.current), "pid": os.getpid(),
            "user": os.environ.get("USER", ""), "used_time": (time.time() - self.start_time) / 3600,
            "host": gs.HOSTNAME, "current_time": time.ctime(), "out_of_memory": self.out_of_memory,
            "requested_resources": self.rqmt,
        }
        tmp = f"{self.path}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(repr(data) + "\n")
        os.replace(tmp, self.path)
        self._last_written = time.time()
        self._written_rss = self.max["rss"]

    def run(self):
        while not self._stop.wait(gs.PLOGGING_INTERVAL):
            try:
                self.sample()
                grown = self.max["rss"] > self._written_rss * (1 + gs.PLOGGING_MIN_CHANGE)
                if grown or time.time() - self._last_written >= gs.PLOGGING_UPDATE_FILE_PERIOD:
                    self.write()
            except OSError:
                pass

    def stop(self):
        self._stop.set()
        try:
            self.sample()
        except OSError:
            pass
        try:
            self.write()
        except OSError:
            pass  # a full disk: the task's error marker, written before, is what counts


def _cleanup_environment(job):
    original = dict(os.environ)
    if gs.CLEANUP_ENVIRONMENT:
        for k in list(os.environ):
            if k not in gs.DEFAULT_ENVIRONMENT_KEEP:
                del os.environ[k]
        for k, v in gs.DEFAULT_ENVIRONMENT_SET.items():
            os.environ[k] = string.Template(v).safe_substitute(original) if isinstance(v, str) else str(v)
    for k, (v, verbatim) in getattr(job, "_sis_environment", {}).items():
        os.environ[k] = str(v) if verbatim else string.Template(str(v)).safe_substitute(original)


def _wait_for_inputs(job, is_local: bool):
    missing = [p for p in job._sis_inputs if not os.path.exists(p.get_path())]
    deadline = time.time() + gs.WAIT_PERIOD_FOR_INPUTS_AVAILABLE
    while missing and time.time() < deadline and not is_local:
        time.sleep(1)
        missing = [p for p in missing if not os.path.exists(p.get_path())]
    if missing:
        msg = "inputs missing: " + ", ".join(p.get_path() for p in missing)
        if gs.TASK_INPUTS_MUST_BE_AVAILABLE:
            raise FileNotFoundError(msg)
        logging.warning(msg)
    if is_local:
        return  # same machine: files are complete when their job finished
    newest = max((os.path.getmtime(p.get_path()) for p in job._sis_inputs if os.path.exists(p.get_path())), default=0)
    wait = gs.WAIT_PERIOD_MTIME_OF_INPUTS - (time.time() - newest)
    if wait > 0:
        logging.info("waiting %.0f s for recently modified inputs to settle", wait)
        time.sleep(wait)


def _redirect_output(log_file):
    first = not os.path.exists(log_file)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if not first:
        os.write(fd, f"\n{'#' * 20} RETRY OR CONTINUE TASK {time.ctime()} {'#' * 20}\n".encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)


def worker(job_dir, task_name, task_id=None, engine_key=None, redirect_output=False) -> int:
    """Run a task; returns the process exit code. Writes ``finished.*`` or ``error.*`` markers."""
    from sisyphus.toolkit import set_running_in_worker

    set_running_in_worker(True)
    # a task must see the real files: the finished-results cache is the manager's
    gs.CACHE_FINISHED_RESULTS = False
    job_path._in_worker = True
    job_dir = os.path.abspath(job_dir.rstrip("/"))
    engine = gs.engine()
    if engine_key is not None and hasattr(engine, "engines"):
        engine = engine.engines[engine_key]
    elif hasattr(engine, "engines"):
        engine = engine.get_used_engine()
    task_id = engine.get_task_id(task_id)
    suffix = f"{task_name}.{task_id}"
    log_file = os.path.join(job_dir, f"log.{suffix}")
    if redirect_output:
        _redirect_output(log_file)

    # One worker per task at a time, even if two managers submitted it.
    lock_fd = os.open(os.path.join(job_dir, f".lock.{suffix}"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"sis worker: {job_dir} {suffix} is already being run by another worker; exiting", flush=True)
        return 0

    # Record pid and host before loading the job: unpickling imports the recipe (torch: seconds), and
    # until the pid is on disk a restarted manager cannot tell whether this worker still runs.
    UsageMonitor(os.path.join(job_dir, f"usage.{suffix}"), {}).write()

    stale = os.path.join(job_dir, f"{ENOSPC_MARKER}.{suffix}")
    if os.path.exists(stale):  # from an earlier run of this task; this run decides anew
        os.unlink(stale)
    job = load_job(os.path.join(job_dir, gs.JOB_SAVE))
    task = job._sis_get_task(task_name)
    for p in job._sis_outputs.values():
        p._sis_own_output = True
    monitor = UsageMonitor(os.path.join(job_dir, f"usage.{suffix}"), task.rqmt())
    monitor.write()  # record pid and host at once: a restarted manager adopts us by them
    monitor.start()
    engine.init_worker(task)
    _cleanup_environment(job)
    is_local = getattr(engine, "engine_name", "") == "local"

    print(f"sis worker: {job._sis_id()} task {task_name} id {task_id} pid {os.getpid()} on {gs.HOSTNAME}", flush=True)
    exit_code = 0
    try:
        for p in sorted(job._sis_inputs):
            print(f"input: {p.get_path()}", flush=True)
        _wait_for_inputs(job, is_local)
        work = job._sis_path(gs.JOB_WORK_DIR, abspath=True)
        os.makedirs(work, exist_ok=True)
        os.chdir(work)
        start = time.time()
        method = getattr(job, task_name)
        for args in task.args_for(task_id):
            method(*args)
        print(f"sis worker: task finished after {time.time() - start:.1f} s", flush=True)
        if not task.continuable():
            open(os.path.join(job_dir, f"finished.{suffix}"), "w").close()
    except subprocess.CalledProcessError as e:
        if e.returncode in (137, -9):
            traceback.print_exc()
            print("sis worker: a command was killed (exit 137): treated as out of memory", flush=True)
            monitor.out_of_memory = True
            exit_code = 137
        else:
            exit_code = _mark_error(job_dir, suffix, log_file, full_file_system(job_dir))
    except BaseException as e:  # noqa: BLE001 (every failure, also KeyboardInterrupt, leaves a marker)
        full = disk_full_path(e)
        if full is None or full == "?":
            # no ENOSPC in the chain, or one naming no file: the job directory's file system says more
            full = full_file_system(job_dir) or (f"a file under {os.path.abspath(job_dir)}" if full else None)
        exit_code = _mark_error(job_dir, suffix, log_file, full)
    finally:
        monitor.stop()
    return exit_code


ENOSPC_LINE = "sis worker: No space left on device"
ENOSPC_MARKER = "error_no_space"


def disk_full_path(exc: BaseException):
    """The file (or "?") that could not be written if ``exc`` or one of its causes is ENOSPC, else None.

    Libraries wrap the OSError (h5py, torch.save, gzip …), so the chain and the message are searched."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            return exc.filename or _file_being_written(exc) or "?"
        if "No space left on device" in str(exc) or "[Errno 28]" in str(exc):
            return _file_being_written(exc) or "?"
        exc = exc.__cause__ or exc.__context__
    return None


# a failed task whose job directory's file system has less than this free counts as stopped by a full disk
FULL_DISK_BYTES = 1 << 20


def full_file_system(path: str):
    """A description of ``path``'s file system if it is full (under ``FULL_DISK_BYTES`` or no inode
    free), else None. Some libraries hide the ENOSPC behind their own error (libsndfile's "System
    error", torch.save's "enforce fail", a tool's exit status), so a failed task's disk is looked at too."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize
    if free < FULL_DISK_BYTES or (st.f_files and st.f_favail == 0):
        return f"{os.path.abspath(path)} (its file system has {free} bytes and {st.f_favail} inodes free)"
    return None


def _file_being_written(exc: BaseException):
    """Name of the innermost open-for-writing file object in the traceback's frames, if any (a failed
    write() or close() carries no file name)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            name, mode = getattr(value, "name", None), getattr(value, "mode", "")
            if isinstance(value, io.IOBase) and isinstance(name, str) and isinstance(mode, str) \
                    and any(c in mode for c in "wax+"):
                return os.path.abspath(name)
    return None


def _mark_error(job_dir, suffix, log_file, full_path=None) -> int:
    try:
        traceback.print_exc()
        if full_path is not None:
            # a fixed line the manager looks for: the job is retried once space is free
            print(f"{ENOSPC_LINE}: {full_path}", flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        pass  # the log itself may be on the full disk; the marker below still tells the manager
    marker = os.path.join(job_dir, f"error.{suffix}")
    try:
        if full_path is not None:
            # empty, so it can still be created when no data block is left; see Task.failed_on_full_disk
            open(os.path.join(job_dir, f"{ENOSPC_MARKER}.{suffix}"), "w").close()
        try:
            os.link(log_file, marker)
        except OSError:
            open(marker, "w").close()
    except OSError:
        return errno.ENOSPC if full_path is not None else 1  # no marker: shown as interrupted, retried
    return 1
