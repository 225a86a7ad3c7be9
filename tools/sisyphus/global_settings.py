"""Global settings (``gs``): defaults, overridden by ``settings.py`` and ``SIS_*`` variables.

At import this module executes the setup's ``settings.py`` (or the files named in
``SIS_GLOBAL_SETTINGS_FILE``, ``:``-separated) in its own namespace, so every name defined there
becomes an attribute of ``gs``; then every environment variable ``SIS_<NAME>`` overrides
``<NAME>`` (parsed as a Python literal when possible, ``SIS_IMPORT_PATHS`` split on ``:``).
"""
# ruff: noqa: N816  (upper-case module constants are the public API)
import ast
import logging
import os
import socket
import sys

# ------------------------------------------------------------------ hooks (overridable)


def engine():
    """The engine used by the manager; settings.py usually overrides this."""
    from sisyphus.localengine import LocalEngine

    return LocalEngine(cpus=os.cpu_count() or 1, gpus=0)


def worker_wrapper(job, task_name, call):
    """Return the (possibly wrapped) worker call for a task, e.g. inside a container."""
    return call


def check_engine_limits(rqmt, task):
    """Final hook on a task's requirements before submission (caps, partitions, ...)."""
    return rqmt


def update_engine_rqmt(last_rqmt, last_usage):
    """Default escalation after an interruption: double time or memory when they ran out."""
    from sisyphus.tools import default_update_engine_rqmt

    return default_update_engine_rqmt(last_rqmt, last_usage)


def file_caching(path):
    """Map an input path to a (node-local) cached copy; identity by default."""
    return path


def on_job_failure(job):
    """Called every manager cycle for each job in error; must be idempotent."""


def on_job_finished(job):
    """Called once when the manager sees a job finish."""


# ------------------------------------------------------------------ commands and layout
SIS_COMMAND = [sys.executable, "-m", "sisyphus"]
MAX_SUBMIT_RETRIES = 3

WORK_DIR = "work"
ALIAS_DIR = "alias"
OUTPUT_DIR = "output"
ALIAS_AND_OUTPUT_SUBDIR = ""
IMPORT_PATHS = ["config", "recipe", "recipe/"]
CONFIG_FILE_DEFAULT = "config.py"
CONFIG_FUNCTION_DEFAULT = "config.main"
CONFIG_PREFIX = ""
FINISHED_LOG = "log/finished.log"
TMP_PREFIX = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sis_")
BASE_DIR = os.path.abspath(os.getcwd())

# Fixed names inside a job directory (SISYPHUS_API.md §3.1).
JOB_OUTPUT = "output"
JOB_INPUT = "input"
JOB_WORK_DIR = "work"
JOB_ENGINE_DIR = "engine"
JOB_SAVE = "job.save"
JOB_INFO = "info"
JOB_FINISHED_MARKER = "finished"
JOB_FINISHED_ARCHIVE = "finished.tar.gz"
JOB_HOLD_MARKER = "hold"

# ------------------------------------------------------------------ waits (seconds)
WAIT_PERIOD_JOB_FS_SYNC = 30
WAIT_PERIOD_BETWEEN_CHECKS = 30
WAIT_PERIOD_CACHE = 20
WAIT_PERIOD_SSH_TIMEOUT = 15
WAIT_PERIOD_QSTAT_PARSING = 15
WAIT_PERIOD_JOB_CLEANUP = 10
WAIT_PERIOD_MTIME_OF_INPUTS = 60
WAIT_PERIOD_FOR_INPUTS_AVAILABLE = 60
TASK_INPUTS_MUST_BE_AVAILABLE = True
# Our addition: how often a local engine polls its processes (the manager wakes at once when one
# ends, so this bounds the reaction time to a finished local task).
LOCAL_ENGINE_POLL_PERIOD = 0.2

# ------------------------------------------------------------------ usage logging
PLOGGING_INTERVAL = 5
PLOGGING_UPDATE_FILE_PERIOD = 60
PLOGGING_MIN_CHANGE = 0.1
PLOGGING_QUIET = False

# ------------------------------------------------------------------ cleanup
JOB_AUTO_CLEANUP = True
JOB_CLEANER_INTERVAL = 60
JOB_CLEANER_WORKER = 5
JOB_CLEANUP_KEEP_WORK = False
JOB_CLEANUP_KEEP_INPUT = True
JOB_DEFAULT_KEEP_VALUE = 50

# ------------------------------------------------------------------ manager output
PRINT_ERROR = True
PRINT_ERROR_TASKS = 1
PRINT_ERROR_LINES = 40
PRINT_HOLD = True
PRINT_STALE_STATE_OVERVIEW_PERIOD = None
PRINT_OLD_LOG_FILE_RUNNING = None
SHOW_JOB_TARGETS = True
SHOW_VIS_NAME_IN_MANAGER = True
CLEAR_ERROR = False

# ------------------------------------------------------------------ threads
GRAPH_WORKER = 16
MANAGER_SUBMIT_WORKER = 10

# ------------------------------------------------------------------ worker environment
CLEANUP_ENVIRONMENT = True
DEFAULT_ENVIRONMENT_KEEP = {
    "CUDA_VISIBLE_DEVICES",
    "HOME",
    "PWD",
    "SGE_STDERR_PATH",
    "SGE_TASK_ID",
    "TMP",
    "TMPDIR",
    "USER",
}
DEFAULT_ENVIRONMENT_SET = {
    "LANG": "en_US.UTF-8",
    "MKL_NUM_THREADS": 1,
    "OMP_NUM_THREADS": 1,
    "PATH": ":".join(
        ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/games", "/usr/local/games"]
    ),
    "SHELL": "/bin/bash",
}

# ------------------------------------------------------------------ misc
SIS_HASH = None  # set below to hash.short_hash (import order)
INCLUDE_CREATOR_STATE = False
RAISE_VARIABLE_NOT_SET_EXCEPTION = True
LEGACY_PATH_CONVERSION = False  # repr(Path) is repr(str(path)), as before upstream's <Path ...>
LEGACY_VARIABLE_CONVERSION = False  # repr(Variable) is repr(its value)
WARNING_ABSPATH = True
WARNING_NO_FUNCTION_CALLED = True
CACHE_FINISHED_RESULTS = False
CACHE_FINISHED_RESULTS_PATH = "finished_results_cache.pkl"
CACHE_FINISHED_RESULTS_MAX_SIZE = 1024
JOB_ADD_STACKTRACE_WITH_DEPTH = 0
USE_VERBOSE_TRACEBACK = True
VERBOSE_TRACEBACK_TYPE = "ipython"
USE_UI = True
ENGINE_NOT_SETUP_WARNING = True
HOSTNAME = socket.gethostname()


def _load_settings() -> None:
    from sisyphus.hash import short_hash

    g = globals()
    g["SIS_HASH"] = short_hash
    files = os.environ.get("SIS_GLOBAL_SETTINGS_FILE", "settings.py").split(":")
    for fname in files:
        if not fname:
            continue
        if not os.path.isfile(fname):
            if "SIS_GLOBAL_SETTINGS_FILE" in os.environ or not fname == "settings.py":
                logging.warning("settings file %s not found", fname)
            continue
        with open(fname, encoding="utf-8") as f:
            code = compile(f.read(), os.path.abspath(fname), "exec")
        exec(code, g)
    for key, value in os.environ.items():
        if not key.startswith("SIS_") or key in ("SIS_GLOBAL_SETTINGS_FILE", "SIS_COMMAND"):
            continue
        name = key[len("SIS_"):]
        if name == "IMPORT_PATHS":
            g[name] = value.split(":")
            continue
        try:
            g[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            g[name] = value


_load_settings()
