"""Sisyphus settings for memristor-asr. The repository root is the setup directory.

Environment overrides (no edit needed):
  TEDLIUM2_ROOT=/path/to/TEDLIUM_release2   run the paper profile on the real corpus
  SIS_<NAME>=value                          any setting below, e.g. SIS_WAIT_PERIOD_BETWEEN_CHECKS=10
"""
import os
import shutil
import subprocess

# Where the real TED-LIUM release 2 lives (unpacked TEDLIUM_release2 folder). Unset: the pipeline
# synthesises its embedded mini corpus instead.
TEDLIUM2_ROOT = os.environ.get("TEDLIUM2_ROOT") or None

# Workers keep PYTHONPATH so that a checkout that is not installed still imports its recipe.
DEFAULT_ENVIRONMENT_KEEP = DEFAULT_ENVIRONMENT_KEEP | {"PYTHONPATH"}  # noqa: F821 (defined by sisyphus)


def _local_gpus():
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def _memory_gb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return 8


# Engine: "local" runs every task on this machine; "slurm" runs mini tasks here and sends all others
# to Slurm (README: "Running on a Slurm cluster"). Switch without editing: SIS_ENGINE=slurm.
ENGINE = "local"
SLURM_CPU_PARTITION = None  # e.g. "cpu"; None: the cluster's default partition
SLURM_GPU_PARTITION = None  # e.g. "gpu": where tasks with rqmt gpu > 0 go
SLURM_DEFAULT_RQMT = {"cpu": 1, "mem": 4, "gpu": 0, "time": 1}  # GB, hours
MAX_TIME_HOURS = 168  # the partitions' time limit


def engine():
    """A local pool for every task ("local"), or local mini tasks + Slurm for the rest ("slurm")."""
    from sisyphus.engine import EngineSelector
    from sisyphus.localengine import LocalEngine

    if ENGINE not in ("local", "slurm"):
        raise ValueError(f"settings.py: ENGINE must be 'local' or 'slurm', not {ENGINE!r}")
    gpus = _local_gpus() if ENGINE == "local" else []
    local = LocalEngine(cpus=os.cpu_count() or 1, gpus=len(gpus), available_gpus=",".join(gpus),
                        mem=int(_memory_gb()))
    if ENGINE == "local":
        return EngineSelector(engines={"short": local, "long": local}, default_engine="long")
    from sisyphus.simple_linux_utility_for_resource_management_engine import (
        SimpleLinuxUtilityForResourceManagementEngine,
    )

    cluster = SimpleLinuxUtilityForResourceManagementEngine(default_rqmt=SLURM_DEFAULT_RQMT)
    return EngineSelector(engines={"short": local, "long": cluster}, default_engine="long")


def check_engine_limits(rqmt, task):
    """On Slurm: cap the time at the partitions' limit; GPU tasks go to the GPU partition."""
    if ENGINE != "slurm" or rqmt.get("engine") == "short":
        return rqmt
    from sisyphus.simple_linux_utility_for_resource_management_engine import with_partition

    rqmt["time"] = min(rqmt.get("time", 1), MAX_TIME_HOURS)
    return with_partition(rqmt, SLURM_GPU_PARTITION if rqmt.get("gpu", 0) > 0 else SLURM_CPU_PARTITION)
