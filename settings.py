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


def engine():
    """One local pool serves short (mini) and long tasks; see README for a Slurm cluster setup."""
    from sisyphus.engine import EngineSelector
    from sisyphus.localengine import LocalEngine

    gpus = _local_gpus()
    local = LocalEngine(cpus=os.cpu_count() or 1, gpus=len(gpus), available_gpus=",".join(gpus),
                        mem=int(_memory_gb()))
    return EngineSelector(engines={"short": local, "long": local}, default_engine="long")
