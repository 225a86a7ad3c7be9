"""Our implementation of the Sisyphus workflow API (see docs/SISYPHUS_COMPAT.md).

``from sisyphus import *`` gives exactly ``Job, Task, Path, gs, tk, setup_path``.
"""
from sisyphus import global_settings as gs
from sisyphus import toolkit as tk
from sisyphus.job import Job
from sisyphus.job_path import Path
from sisyphus.loader import setup_import_paths as _setup_import_paths
from sisyphus.task import Task
from sisyphus.toolkit import setup_path

__all__ = ["Job", "Task", "Path", "gs", "tk", "setup_path"]
__version__ = "1.0.0"

_setup_import_paths()
