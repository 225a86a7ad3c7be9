"""A real single-node Slurm (munged, slurmctld, slurmd on localhost) for the Slurm engine tests.

Everything lives under one pytest temp dir (munge key and socket, slurm.conf, state, spool, logs, pid
files); nothing in the system configuration is touched. Daemons are stopped by the PIDs in their pid
files at the end of the session, also when a test fails (pytest finalizer; a failed start stops what
already runs). The packages come from ``tools/install.sh --with-slurm`` (Debian's slurm-wlm and
munge); the configuration is the usual single-node one, plus:

- memory enforcement without cgroups: jobacct_gather/linux polls every second and OverMemoryKill kills
  a step above its --mem (the batch log then says "Exceeded job memory limit");
- two partitions, ``cpu`` (default) and ``gpu``, and two GPUs backed by /dev/null and /dev/zero, so the
  GPU-partition settings and ``--gres=gpu:N`` run for real (no CUDA involved);
- KillWait=2 so that jobs killed for their time limit go down quickly, and a backfill pass every
  second so that a job submitted while the node re-registers (after a controller restart) starts soon;
- free ports picked at start, so concurrent sessions on one machine do not collide.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.sisyphus.conftest import Setup

SLURM_BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo")
NODE_CPUS = 4  # more than the machine's cores (config_overrides): the toy tasks mostly sleep
NODE_MEMORY_MB = 6000


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _alive(pid, name) -> bool:
    """``pid`` runs (not a zombie) and is the daemon ``name`` (guards against recycled pids)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    if stat.rsplit(b")", 1)[1].split()[0] == b"Z":
        return False
    return name.encode() in cmdline


class SlurmCluster:
    """munged + slurmctld + slurmd under ``root``; client commands need ``env()`` (SLURM_CONF)."""

    def __init__(self, root):
        self.root = str(root)
        self.conf = os.path.join(self.root, "slurm.conf")
        self.munge_dir = os.path.join(self.root, "munge")
        self.socket = os.path.join(self.munge_dir, "munge.socket.2")
        self.jobcomp = os.path.join(self.root, "jobcomp.txt")
        self.pid_files = {
            "munged": os.path.join(self.munge_dir, "munged.pid"),
            "slurmctld": os.path.join(self.root, "slurmctld.pid"),
            "slurmd": os.path.join(self.root, "slurmd.pid"),
        }

    # ------------------------------------------------------------------ helpers
    def env(self):
        return {**os.environ, "SLURM_CONF": self.conf}

    def run(self, *cmd, check=True, timeout=30):
        res = subprocess.run(list(cmd), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stdout}{res.stderr}")
        return res.stdout

    def pid(self, daemon):
        try:
            with open(self.pid_files[daemon]) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def _wait(self, cond, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}; logs in {self.root}:\n{self.logs()}")

    def logs(self):
        out = []
        for name in ("slurmctld.log", "slurmd.log", "munge/munged.log"):
            path = os.path.join(self.root, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f"--- {name}\n" + "".join(f.readlines()[-15:]))
        return "\n".join(out)

    def jobs(self, name):
        """``[(array job id, array task id, state, name)]`` of the queued jobs called ``name``."""
        out = self.run("squeue", "-h", "--array", "-o", "%F|%K|%T|%j")
        rows = [line.split("|", 3) for line in out.splitlines()]
        return [(int(a), int(t) if t.isdigit() else 1, s, n) for a, t, s, n in rows if n == name]

    def completed_jobs(self, name):
        """Job completion records (``{field: value}``, one per array task that ended) of job ``name``."""
        if not os.path.exists(self.jobcomp):
            return []
        with open(self.jobcomp) as f:
            records = [dict(field.split("=", 1) for field in line.split() if "=" in field) for line in f]
        return [r for r in records if r.get("Name") == name]

    # ------------------------------------------------------------------ lifecycle
    def write_config(self):
        for d in ("state", "spool"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        os.makedirs(self.munge_dir, mode=0o700, exist_ok=True)
        ctld_port, slurmd_port = _free_ports(2)
        with open(self.conf, "w") as f:
            f.write(f"""\
ClusterName=sistest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.socket}
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation={self.root}/state
SlurmdSpoolDir={self.root}/spool
SlurmctldPidFile={self.pid_files['slurmctld']}
SlurmdPidFile={self.pid_files['slurmd']}
SlurmctldLogFile={self.root}/slurmctld.log
SlurmdLogFile={self.root}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={self.jobcomp}
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
KillWait=2
SchedulerParameters=bf_interval=1
MailProg=/bin/true
GresTypes=gpu
NodeName=localhost CPUs={NODE_CPUS} RealMemory={NODE_MEMORY_MB} Gres=gpu:2 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
""")
        with open(os.path.join(self.root, "gres.conf"), "w") as f:
            f.write("NodeName=localhost Name=gpu File=/dev/null\nNodeName=localhost Name=gpu File=/dev/zero\n")

    def start(self):
        self.write_config()
        key = os.path.join(self.munge_dir, "munge.key")
        subprocess.run(["mungekey", "-c", "-k", key], check=True, capture_output=True)
        subprocess.run(["munged", "--force", f"--socket={self.socket}", f"--key-file={key}",
                        f"--pid-file={self.pid_files['munged']}", f"--log-file={self.munge_dir}/munged.log",
                        f"--seed-file={self.munge_dir}/munged.seed"], check=True, capture_output=True)
        self._wait(lambda: self.pid("munged") and os.path.exists(self.socket), 10, "munged")
        self.start_controller()
        subprocess.run(["slurmd", "-N", "localhost"], env=self.env(), check=True, capture_output=True)
        self._wait(lambda: self.pid("slurmd") is not None, 10, "slurmd pid file")
        self._wait(lambda: self.run("sinfo", "-h", "-N", "-o", "%t", check=False).split()[:1] == ["idle"], 30,
                   "the node to become idle")

    def start_controller(self):
        """Start slurmctld (again); it recovers jobs from its state dir."""
        subprocess.run(["slurmctld"], env=self.env(), check=True, capture_output=True)
        self._wait(lambda: self.pid("slurmctld") is not None and "UP" in self.run("scontrol", "ping", check=False),
                   20, "slurmctld to answer")

    def stop_controller(self):
        self._stop("slurmctld")

    def pause_controller(self):
        os.kill(self.pid("slurmctld"), signal.SIGSTOP)

    def resume_controller(self):
        pid = self.pid("slurmctld")
        if pid is not None and _alive(pid, "slurmctld"):
            os.kill(pid, signal.SIGCONT)

    def _stop(self, daemon, timeout=15):
        pid = self.pid(daemon)
        if pid is None or not _alive(pid, daemon):
            return
        os.kill(pid, signal.SIGCONT)  # a paused daemon would not act on SIGTERM
        os.kill(pid, signal.SIGTERM)
        end = time.time() + timeout
        while time.time() < end and _alive(pid, daemon):
            time.sleep(0.1)
        if _alive(pid, daemon):
            os.kill(pid, signal.SIGKILL)

    def stop(self):
        """Cancel our jobs, then stop slurmd, slurmctld and munged by PID."""
        try:
            self.resume_controller()
            ctld = self.pid("slurmctld")
            if ctld is not None and _alive(ctld, "slurmctld"):
                subprocess.run(["scancel", "--full", "-u", "root"], env=self.env(), capture_output=True, timeout=30)
                end = time.time() + 20
                while time.time() < end and self.run("squeue", "-h", check=False).strip():
                    time.sleep(0.2)
        finally:
            for daemon in ("slurmd", "slurmctld", "munged"):
                self._stop(daemon)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory, request):
    missing = [b for b in SLURM_BINARIES if shutil.which(b) is None]
    if missing:
        pytest.skip(f"Slurm binaries missing: {', '.join(missing)} (install with tools/install.sh --with-slurm)")
    if os.geteuid() != 0:
        pytest.skip("the single-node Slurm runs slurmd as root (SlurmdUser=root); run the Slurm tests as root")
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    request.addfinalizer(cluster.stop)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


class SlurmSetup(Setup):
    """A throw-away Sisyphus setup whose `sis` calls talk to the test cluster."""

    def __init__(self, root, cluster):
        super().__init__(root)
        self.cluster = cluster
        self.path_override = None

    def env(self):
        env = super().env()
        env["SLURM_CONF"] = self.cluster.conf
        if self.path_override is not None:
            env["PATH"] = self.path_override
        return env

    def job_dirs(self, cls_name):
        """Job dirs of a class from either toy recipe (toy.jobs or slurmtoy.jobs)."""
        dirs = []
        for package in ("toy", "slurmtoy"):
            base = self.path("work", package, "jobs")
            if os.path.isdir(base):
                dirs += [os.path.join(base, d) for d in os.listdir(base)
                         if d.startswith(cls_name + ".") and ".cleared." not in d]
        return sorted(dirs)

    def manager_in_background(self, config="config/toy.py"):
        """``sis manager -r`` in its own session, output to ``manager.<n>.log``; see ``output()``."""
        n = len([f for f in os.listdir(self.root) if f.startswith("manager.")])
        log = open(self.path(f"manager.{n}.log"), "w")
        proc = subprocess.Popen([sys.executable, "-m", "sisyphus", "manager", "-r", config], cwd=self.root,
                                env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc.log_path = log.name
        log.close()
        return proc

    @staticmethod
    def output(proc) -> str:
        with open(proc.log_path, errors="replace") as f:
            return f.read()

    def wait_manager(self, proc, timeout):
        """Wait for a background manager (killed after ``timeout`` s); return its exit code and output."""
        try:
            proc.wait(timeout=timeout)
        finally:
            self.kill(proc)
        return proc.returncode, self.output(proc)

    @staticmethod
    def kill(proc):
        """Kill a background manager (its whole session) if it still runs."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def job_name(self, job_dir, task="run"):
        """The Slurm job name of a task: ``<sis_id>.<task>`` with ``/`` → ``.``."""
        return os.path.relpath(job_dir, self.path("work")).replace("/", ".") + "." + task

    def submit_log(self, job_dir, task="run"):
        """Entries of ``submit_log.<task>``: ``[(ids, info)]``."""
        import ast

        path = os.path.join(job_dir, f"submit_log.{task}")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [ast.literal_eval(line) for line in f if line.strip()]


def make_setup(root, cluster, settings=None) -> SlurmSetup:
    """A setup dir with the toy recipes and settings (default: Slurm only, waits of one machine)."""
    from tests.sisyphus.conftest import TOY_RECIPE

    s = SlurmSetup(root, cluster)
    s.write("recipe/toy/__init__.py", "")
    s.write("recipe/toy/jobs.py", TOY_RECIPE)
    s.write("recipe/slurmtoy/__init__.py", "")
    with open(os.path.join(os.path.dirname(__file__), "slurm_recipe.py")) as f:
        s.write("recipe/slurmtoy/jobs.py", f.read())
    s.write("settings.py", settings if settings is not None else FAST_SETTINGS + SLURM_ONLY_ENGINE)
    return s


def cancel_jobs_of(setup):
    """Cancel every Slurm job of a setup (a test that failed half-way must not leave jobs behind)."""
    names = _job_names_under(setup)
    if names:
        setup.cluster.run("scancel", "--full", "-u", "root", "-n", ",".join(names), check=False)


@pytest.fixture
def slurm_setup(tmp_path, slurm):
    s = make_setup(tmp_path, slurm)
    yield s
    cancel_jobs_of(s)


def _job_names_under(setup):
    base = setup.path("work")
    names = []
    for dirpath, _, filenames in os.walk(base):
        names += [setup.job_name(dirpath, fn[len("submit_log."):]) for fn in filenames if fn.startswith("submit_log.")]
    return names


# Waits of a single machine: no network file system to wait for, a cheap local controller to poll.
FAST_SETTINGS = """
WAIT_PERIOD_BETWEEN_CHECKS = 0.5
WAIT_PERIOD_CACHE = 0.5
WAIT_PERIOD_JOB_FS_SYNC = 0.5
WAIT_PERIOD_JOB_CLEANUP = 0
WAIT_PERIOD_MTIME_OF_INPUTS = 0
WAIT_PERIOD_SSH_TIMEOUT = 1
# the toy jobs report the allocation they ran in
DEFAULT_ENVIRONMENT_KEEP = DEFAULT_ENVIRONMENT_KEEP | {"SLURM_ARRAY_TASK_ID", "SLURM_JOB_PARTITION",
                                                   "SLURM_GPUS_ON_NODE", "SLURM_CPUS_PER_TASK"}
"""

SLURM_ONLY_ENGINE = """
from sisyphus.simple_linux_utility_for_resource_management_engine import \\
    SimpleLinuxUtilityForResourceManagementEngine

def engine():
    return SimpleLinuxUtilityForResourceManagementEngine(default_rqmt={"cpu": 1, "mem": 1, "time": 1},
                                                         command_timeout=5, submit_timeout=SBATCH_TIMEOUT)

SBATCH_TIMEOUT = 30
"""

