"""Toy jobs for the Slurm engine tests (copied into each throw-away setup as recipe/slurmtoy/jobs.py)."""
import os
import time

from sisyphus import Job, Task


class ArrayEcho(Job):
    """One engine array task per word; each writes its word and the Slurm array id it ran as."""

    def __init__(self, *, words):
        self.words = words
        self.out_dir = self.output_path("words", directory=True)

    def tasks(self):
        yield Task("run", args=range(1, len(self.words) + 1), rqmt={"cpu": 1, "mem": 1, "time": 0.1})

    def run(self, index):
        with open(os.path.join(self.out_dir.get_path(), f"{index}.txt"), "w") as f:
            f.write(f"{self.words[index - 1]} {os.environ.get('SLURM_ARRAY_TASK_ID')}\n")


class MemoryHog(Job):
    """Takes ``mb`` MB of resident memory, holds it ``hold`` seconds, then writes how much it held.

    Resumable, so a run killed for exceeding its memory is resubmitted automatically.
    """

    def __init__(self, *, mb, hold=4.0):
        self.mb = mb
        self.hold = hold
        self.out_held = self.output_path("held.txt")

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 1, "time": 0.2})

    def run(self):
        chunks = []
        while len(chunks) * 64 < self.mb:
            chunk = bytearray(64 * 1024 * 1024)
            chunk[::4096] = b"\1" * len(range(0, len(chunk), 4096))  # touch every page: resident, not virtual
            chunks.append(chunk)
            time.sleep(0.02)
        time.sleep(self.hold)
        with open(self.out_held.get_path(), "w") as f:
            f.write(f"{len(chunks) * 64}\n")


class EnvProbe(Job):
    """Records the Slurm allocation it ran in (partition, GPUs) as ``NAME=value`` lines."""

    KEYS = ("SLURM_JOB_PARTITION", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES", "SLURM_CPUS_PER_TASK")

    def __init__(self, *, gpu, cpu=1):
        self.gpu = gpu
        self.cpu = cpu
        self.out_env = self.output_path("env.txt")

    def tasks(self):
        yield Task("run", rqmt={"cpu": self.cpu, "gpu": self.gpu, "mem": 1, "time": 0.1})

    def run(self):
        with open(self.out_env.get_path(), "w") as f:
            f.write("".join(f"{k}={os.environ.get(k, '')}\n" for k in self.KEYS))
