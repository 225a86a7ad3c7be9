"""settings.py for a Slurm cluster with a CPU and a GPU partition (the README's cluster example).

Mini tasks run on the submit host; everything else goes to Slurm, GPU tasks to the GPU partition.
"""
from sisyphus.engine import EngineSelector
from sisyphus.localengine import LocalEngine
from sisyphus.simple_linux_utility_for_resource_management_engine import (
    SimpleLinuxUtilityForResourceManagementEngine,
    with_partition,
)

SLURM_CPU_PARTITION = "cpu"
SLURM_GPU_PARTITION = "gpu"
MAX_TIME_HOURS = 168  # the partitions' MaxTime


def engine():
    return EngineSelector(
        engines={
            "short": LocalEngine(cpus=2, mem=4),
            "long": SimpleLinuxUtilityForResourceManagementEngine(
                default_rqmt={"cpu": 1, "mem": 4, "gpu": 0, "time": 1}),
        },
        default_engine="long",
    )


def check_engine_limits(rqmt, task):
    """Cap the time at the partition limit and send GPU tasks to the GPU partition."""
    if rqmt.get("engine") == "short":
        return rqmt
    rqmt["time"] = min(rqmt.get("time", 1), MAX_TIME_HOURS)
    return with_partition(rqmt, SLURM_GPU_PARTITION if rqmt.get("gpu", 0) > 0 else SLURM_CPU_PARTITION)
