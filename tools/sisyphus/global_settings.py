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

# Fixed names inside a job directory (docs/SISYPHUS_COMPAT.md §3.1).
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


# ------------------------------------------------------------------ loading
#: Where upstream Sisyphus keeps the fixtures of its own unit tests (relative to the checkout);
#: those tests read it from ``gs``, so it is kept for running them against this engine.
TEST_DIR = "tests"

GLOBAL_SETTINGS_FILE_DEFAULT = "settings.py"
ENVIRONMENT_SETTINGS_PREFIX = "SIS_"
#: The raw ``SIS_*`` environment variables that were applied (name -> unparsed value).
ENVIRONMENT_SETTINGS = {}
#: Text of every settings file read and every environment override applied, in order, so a
#: setup's effective settings can be logged and recreated.
GLOBAL_SETTINGS_FILE_CONTENT = ""

# Environment variables that are never applied as settings: SIS_COMMAND must stay a list (a
# string from the shell would be split into characters when the worker command is built).
_ENV_NOT_SETTINGS = ("SIS_COMMAND",)


def update_global_settings_from_file(filename: str, warn_missing: bool = True) -> None:
    """Execute the settings file ``filename`` in the namespace of this module.

    Every name the file defines becomes an attribute of ``gs`` (functions defined there belong
    to this module, so they pickle); the file's text is appended to
    ``GLOBAL_SETTINGS_FILE_CONTENT``. A missing file is skipped (with a warning if
    ``warn_missing``).
    """
    global GLOBAL_SETTINGS_FILE_CONTENT
    try:
        with open(filename, encoding="utf-8") as f:
            content = f.read()
    except FileNotFoundError:
        if warn_missing:
            logging.warning("settings file %s not found, ignoring it", filename)
        return
    # compiled under its absolute name so tracebacks point at the file from anywhere
    exec(compile(content, os.path.abspath(filename), "exec"), globals())
    GLOBAL_SETTINGS_FILE_CONTENT += f"##### Settings file: {filename} #####\n{content}\n"


def update_global_settings_from_env() -> None:
    """Apply every environment variable ``SIS_<NAME>`` as the setting ``<NAME>``.

    Values are parsed as Python literals where possible (``SIS_X=42`` gives an int, ``SIS_X=bar``
    stays a string); ``SIS_IMPORT_PATHS`` given as a plain string is split on ``:``. The applied
    assignments are appended to ``GLOBAL_SETTINGS_FILE_CONTENT``.
    """
    global GLOBAL_SETTINGS_FILE_CONTENT
    g = globals()
    lines = []
    for key, raw in os.environ.items():
        if not key.startswith(ENVIRONMENT_SETTINGS_PREFIX) or key in _ENV_NOT_SETTINGS:
            continue
        ENVIRONMENT_SETTINGS[key] = raw
        name = key[len(ENVIRONMENT_SETTINGS_PREFIX):]
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = raw
        if name == "IMPORT_PATHS" and isinstance(value, str):
            value = value.split(":")
        g[name] = value
        lines.append(f"{name} = {value!r}\n")
    if lines:
        GLOBAL_SETTINGS_FILE_CONTENT += "##### Settings from environment #####\n" + "".join(lines)


def _load_settings() -> None:
    """Defaults, then the settings files, then the environment (each overriding the last)."""
    global GLOBAL_SETTINGS_FILE
    from sisyphus.hash import short_hash

    globals()["SIS_HASH"] = short_hash
    explicit = ENVIRONMENT_SETTINGS_PREFIX + "GLOBAL_SETTINGS_FILE" in os.environ
    GLOBAL_SETTINGS_FILE = os.environ.get(ENVIRONMENT_SETTINGS_PREFIX + "GLOBAL_SETTINGS_FILE",
                                          GLOBAL_SETTINGS_FILE_DEFAULT)
    for fname in GLOBAL_SETTINGS_FILE.split(":"):
        if fname:
            # a setup without settings.py is normal; a file named explicitly must exist
            update_global_settings_from_file(fname, warn_missing=explicit or fname != GLOBAL_SETTINGS_FILE_DEFAULT)
    update_global_settings_from_env()


_load_settings()
