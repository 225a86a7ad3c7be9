"""The toolkit (``tk``): what configs and recipes call to build and inspect the graph."""
import contextlib
import gzip
import logging
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import tempfile

from sisyphus import global_settings as gs
from sisyphus import graph as _graph
from sisyphus.block import block, sub_block
from sisyphus.delayed_ops import Delayed
from sisyphus.job import Job
from sisyphus.job_path import AbstractPath, Path, Variable
from sisyphus.tools import extract_paths, sh
from sisyphus.worker import load_job, load_pickle

__all__ = [
    "Path", "Variable", "AbstractPath", "Job", "gs", "sis_graph", "cleaner", "Delayed", "block", "sub_block",
    "async_run", "async_gather", "sh", "register_output", "register_report", "register_callback", "setup_path",
    "input_path", "uncached_path", "is_path", "find_job", "find_path", "job_info", "load_job", "setup_job_directory",
    "run_job", "cached_engine", "running_in_worker", "running_in_manager", "dump", "load_file", "zipped", "mktemp",
    "run", "setup_script_mode", "remove_job_and_descendants", "submit_next_task", "import_work_directory",
    "export_graph", "reload_recipes",
]

sis_graph = _graph.sis_graph
_running_in_worker = False
_running_in_manager = False
_engine = None


def set_running_in_worker(value: bool):
    global _running_in_worker
    _running_in_worker = value


def set_running_in_manager(value: bool):
    global _running_in_manager
    _running_in_manager = value


def running_in_worker() -> bool:
    return _running_in_worker


def running_in_manager() -> bool:
    return _running_in_manager


def cached_engine(cache=[]):  # noqa: B006 (deliberate process-wide cache)
    """The engine from ``gs.engine()``, created once per process."""
    if not cache:
        cache.append(gs.engine())
    return cache[0]


# ---------------------------------------------------------------------- graph building
def register_output(name, value, export_graph=False):
    """Make ``value`` (a Path/Variable) a target, linked as ``output/<prefix><name>`` when ready."""
    if isinstance(value, pathlib.PurePath):
        raise TypeError(f"register_output({name!r}): got a pathlib.Path; use tk.Path / tk.input_path for files")
    if not isinstance(value, AbstractPath):
        raise TypeError(f"register_output({name!r}) needs a tk.Path or tk.Variable, got {type(value).__name__}")
    sis_graph.add_target(_graph.OutputPath(name, value))


def register_report(name, values, template=None, required=None, update_frequency=300):
    """A text report ``output/<prefix><name>`` rendered from ``values`` while the manager runs."""
    sis_graph.add_target(_graph.OutputReport(name, values, template, required, update_frequency))


def register_callback(f, *args, **kwargs):
    """Call ``f(*args, **kwargs)`` once when all paths inside the arguments are available."""
    sis_graph.add_target(_graph.OutputCall(f, args, kwargs))


class RelPath:
    """Paths relative to a package directory, hashed independently of where the setup lives."""

    def __init__(self, package):
        self.package = package
        mod = sys.modules.get(package)
        if mod is not None and getattr(mod, "__path__", None):
            self.directory = list(mod.__path__)[0]
        elif mod is not None and getattr(mod, "__file__", None):
            self.directory = os.path.dirname(mod.__file__)
        else:
            self.directory = os.path.join(gs.BASE_DIR, "recipe", *package.split("."))

    def __call__(self, path, *args, **kwargs):
        if os.path.isabs(path):
            return Path(path, *args, **kwargs)
        full = os.path.join(self.directory, path)
        rel = os.path.relpath(full, gs.BASE_DIR)
        kwargs.setdefault("hash_overwrite", f"{self.package.replace('.', '/')}/{path}")
        return Path(rel if not rel.startswith("..") else full, *args, **kwargs)


def setup_path(package):
    """``Path = setup_path(__package__)``: make paths relative to the calling package."""
    return RelPath(package)


def input_path(path):
    return path if isinstance(path, AbstractPath) else Path(path)


def uncached_path(path):
    return path.get_path() if isinstance(path, AbstractPath) else str(path)


def is_path(obj) -> bool:
    """True for a :class:`Path` (not for a Variable, which is also an AbstractPath), as upstream.

    Recipes use it to tell a file argument from a literal one (i6_core: ``tk.is_path(questions)``).
    """
    return isinstance(obj, Path)


# ---------------------------------------------------------------------- async configs
class _WaitForPaths:
    def __init__(self, obj):
        self.obj = obj
        self.paths = extract_paths(obj)

    def __await__(self):
        while not all(p.available() for p in self.paths):
            yield  # the manager steps the config again next cycle
        return self.obj


async def async_run(obj):
    """``await tk.async_run(obj)``: compute every path inside ``obj``, then continue the config."""
    register_callback(_noop, obj)
    return await _WaitForPaths(obj)


def _noop(*args, **kwargs):
    pass


class _Gather:
    def __init__(self, coros):
        self.coros = list(coros)

    def __await__(self):
        results = [None] * len(self.coros)
        pending = dict(enumerate(self.coros))
        while pending:
            for i, coro in list(pending.items()):
                try:
                    coro.send(None)
                except StopIteration as e:
                    results[i] = e.value
                    del pending[i]
            if pending:
                yield
        return results


async def async_gather(*aws):
    return await _Gather(aws)


# ---------------------------------------------------------------------- inspection
def find_job(pattern):
    return sis_graph.find(pattern, mode="job")


def find_path(pattern):
    return sis_graph.find(pattern, mode="path")


def job_info(job):
    """Print a job's directory, state, inputs and outputs."""
    engine = cached_engine()
    print(f"job: {job._sis_id()}  ({job._sis_path(abspath=True)})")
    print(f"state: {job._sis_state(engine)}")
    print(f"created at: {job._sis_creation_site}")
    for p in sorted(job._sis_inputs):
        print(f"  input:  {p.get_path()}  ({'available' if p.available() else 'missing'})")
    for name, p in sorted(job._sis_outputs.items()):
        print(f"  output: {p.get_path()}")


def setup_job_directory(job):
    job._sis_setup_directory()


def run_job(job, task_name=None, task_id=1):
    """Run a job's task(s) in the foreground through ``sis worker`` (debugging)."""
    job._sis_setup_directory()
    tasks = job._sis_tasks() if task_name is None else [job._sis_get_task(task_name)]
    for task in tasks:
        ids = task.task_ids() if task_name is None else [task_id]
        for i in ids:
            if os.path.exists(task.path("finished", i)):
                continue
            cmd = list(gs.SIS_COMMAND) + ["worker", job._sis_path(), task.name(), str(i)]
            subprocess.run(cmd, cwd=gs.BASE_DIR, check=True)


def submit_next_task(job):
    engine = cached_engine()
    task = job._sis_next_task(engine)
    if task is not None:
        job._sis_setup_directory()
        engine.submit(task)


def import_work_directory(directories, mode="dryrun", use_alias=False):
    """Import finished job dirs of other setups (copy, symlink or hardlink) into this work dir."""
    if isinstance(directories, str):
        directories = [directories]
    imported = []
    for job in sis_graph.jobs():
        mine = job._sis_path(abspath=True)
        if os.path.exists(mine):
            continue
        for d in directories:
            other = os.path.join(d, job._sis_id())
            if not os.path.exists(os.path.join(other, gs.JOB_FINISHED_MARKER)):
                continue
            print(f"{mode}: {other} -> {mine}")
            if mode == "copy":
                shutil.copytree(other, mine, symlinks=True)
            elif mode == "symlink":
                os.makedirs(os.path.dirname(mine), exist_ok=True)
                os.symlink(os.path.abspath(other), mine)
            elif mode == "hardlink":
                shutil.copytree(other, mine, symlinks=True, copy_function=os.link)
            imported.append(job)
            break
    return imported


def export_graph(file=None):
    """Write ``sis_id -> [input sis_ids]`` of the whole graph (text, one job per line)."""
    lines = []
    for job in sorted(sis_graph.jobs()):
        deps = sorted({p.creator._sis_id() for p in job._sis_inputs if p.creator is not None})
        lines.append(f"{job._sis_id()}: {' '.join(deps)}")
    text = "\n".join(lines) + "\n"
    if file is None:
        print(text, end="")
    else:
        with open(file, "w", encoding="utf-8") as f:
            f.write(text)


def reload_recipes():
    import importlib

    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None) or ""
        if f.startswith(os.path.join(gs.BASE_DIR, "recipe")):
            importlib.reload(mod)


# ---------------------------------------------------------------------- files
def dump(obj, filename):
    os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
    with gzip.open(filename, "wb") as f:
        pickle.dump(obj, f)


def load_file(filename):
    """Unpickle a gzip'ed or plain pickle file."""
    return load_pickle(filename)


def zipped(filename) -> bool:
    with open(uncached_path(filename), "rb") as f:
        return f.read(2) == b"\x1f\x8b"


@contextlib.contextmanager
def mktemp():
    """Context manager giving a fresh temporary name under ``gs.TMP_PREFIX``; nothing exists there yet.

    The caller creates a file or a directory under that name (or names next to it, such as
    ``temp + ".gz"``); all of it is removed on exit. The name lies in a private directory made
    with ``mkdtemp``, so unlike a bare ``tempfile.mktemp`` no other process can claim it first.
    """
    d = tempfile.mkdtemp(prefix=os.path.basename(gs.TMP_PREFIX), dir=os.path.dirname(gs.TMP_PREFIX) or None)
    try:
        yield os.path.join(d, "temp")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------- script mode
def setup_script_mode():
    """Use the toolkit from a plain Python script (no manager): quieter logging, no cleanup."""
    gs.JOB_AUTO_CLEANUP = False
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")


def run(obj, quiet=False):
    """Compute every path inside ``obj`` synchronously, running each job's tasks in order.

    Tasks run through ``sis worker`` in a subprocess, exactly as the manager would start them.
    """
    from sisyphus.engine import SubmissionError

    targets = extract_paths(obj)
    order = []
    seen = set()

    def visit(job):
        if job._sis_id() in seen:
            return
        seen.add(job._sis_id())
        for p in sorted(job._sis_inputs):
            if p.creator is not None:
                visit(p.creator)
        order.append(job)

    for p in sorted(targets):
        if p.creator is not None:
            visit(p.creator)
    for job in order:
        if job._sis_finished():
            continue
        if not job._sis_runnable():
            missing = [p.get_path() for p in job._sis_inputs if not p.available()]
            raise SubmissionError(f"{job._sis_id()}: inputs missing: {missing}")
        if not quiet:
            print(f"running {job._sis_id()}", flush=True)
        job._sis_setup_directory()
        for task in job._sis_tasks():
            for i in task.task_ids():
                if os.path.exists(task.path("finished", i)):
                    continue
                cmd = list(gs.SIS_COMMAND) + ["worker", job._sis_path(), task.name(), str(i), "--redirect_output"]
                res = subprocess.run(cmd, cwd=gs.BASE_DIR)
                if res.returncode != 0 or not os.path.exists(task.path("finished", i)):
                    raise RuntimeError(f"{job._sis_id()} task {task.name()}.{i} failed:\n{job._sis_print_error()}")
        job._sis_mark_finished()
    return obj


# ``tk.cleaner`` (module attribute like upstream)
from sisyphus import cleaner  # noqa: E402


# ---------------------------------------------------------------------- shortcuts (issue 14)
# ``tk.remove_job_and_descendants`` lives with the other maintenance shortcuts.
from sisyphus.shortcuts import remove_job_and_descendants  # noqa: E402


def show_jobs_in_webserver(port, jobs):
    """Serve the status page for the given loaded jobs on ``port`` until interrupted."""
    from sisyphus.http_server import show_jobs_in_webserver as show

    return show(port, jobs)
