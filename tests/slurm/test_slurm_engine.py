"""The Slurm engine against a real single-node Slurm (see conftest.py), driven through the real `sis`.

The time-limit test waits more than a minute for Slurm to kill a job (Slurm checks time limits every
30 s and limits are whole minutes), so its manager is started before the other tests and checked last.
"""
import os
import time

import pytest

from sisyphus import states
from sisyphus.simple_linux_utility_for_resource_management_engine import (
    MemoryAllocationType,
    SimpleLinuxUtilityForResourceManagementEngine,
    array_ranges,
    parse_squeue,
    termination_reason,
    with_partition,
)
from tests.slurm.conftest import FAST_SETTINGS, cancel_jobs_of, make_setup

CHAIN_AND_ARRAY = """
from sisyphus import tk
from slurmtoy.jobs import ArrayEcho
from toy.jobs import SumNumbers, WriteNumbers

def py():
    nums = WriteNumbers(n=10)
    tk.register_output("sum", SumNumbers(numbers=nums.out_numbers).out_sum)
    tk.register_output("words", ArrayEcho(words=["alpha", "beta", "gamma"]).out_dir)
"""

COUNTERS = """
from sisyphus import tk
from toy.jobs import SlowCounter

def py():
    for steps in {steps}:
        job = SlowCounter(steps=steps, sleep={sleep})
        job.update_rqmt("run", {{"cpu": {cpu}}})
        tk.register_output(f"count{{steps}}.txt", job.out_count)
"""

TIME_LIMIT_STEPS = 110  # seconds of work; Slurm kills a 1-minute job 60-90 s after it started


def _lines(path):
    with open(path) as f:
        return f.read().split()


def _read(path):
    with open(path) as f:
        return f.read()


# ---------------------------------------------------------------------- without a cluster
def test_sbatch_command_maps_requirements():
    engine = SimpleLinuxUtilityForResourceManagementEngine(default_rqmt={"cpu": 1, "mem": 1, "time": 1})
    call = ["python3", "-m", "sisyphus", "worker", "work/a/B.x", "run"]
    args = engine.sbatch_command(call, "/s/w/a/B.x", {"cpu": 4, "mem": 7.2, "gpu": 2, "time": 2.5,
                                                          "gpu_name": "a100", "sbatch_args": "-p gpu --qos=hi"},
                                 "a.B.x.run", 1, 9, 2)
    assert args[:4] == ["sbatch", "-J", "a.B.x.run", "--mail-type=None"]
    for flag in ("--mem=8G", "--gres=gpu:a100:2", "--cpus-per-task=4", "--time=150", "--export=all",
                 "--ntasks-per-node=1", "-p", "gpu", "--qos=hi"):
        assert flag in args, flag
    assert args[args.index("-o") + 1] == "/s/w/a/B.x/engine/%x.%A.%a.batch"
    assert args[args.index("-a") + 1] == "1-9:2"
    assert args[-1] == ("--wrap=srun -o /s/w/a/B.x/engine/%x.%A.%a --cpus-per-task=4 "
                        "python3 -m sisyphus worker work/a/B.x run")
    # no GPU flag without GPUs; a tiny time never becomes 0 (Slurm: no limit); memory per CPU
    per_cpu = SimpleLinuxUtilityForResourceManagementEngine(
        default_rqmt={}, memory_allocation_type=MemoryAllocationType.PER_CPU)
    args = per_cpu.sbatch_command(call, "/j", {"cpu": 3, "mem": 2, "gpu": 0, "time": 0.001}, "n", 1, 1, 1)
    assert "--mem-per-cpu=683M" in args and "--time=1" in args
    assert not any(a.startswith("--gres") or a.startswith("--mem=") for a in args)
    no_mem = SimpleLinuxUtilityForResourceManagementEngine(default_rqmt={}, has_memory_resource=False)
    assert not any(a.startswith("--mem") for a in no_mem.sbatch_command(call, "/j", {"mem": 2}, "n", 1, 1, 1))


def test_array_ranges_and_squeue_parsing():
    assert array_ranges([8, 1, 2, 3, 5, 7]) == [(1, 3, 1, [1, 2, 3]), (5, 7, 2, [5, 7]), (8, 8, 1, [8])]
    assert array_ranges([4]) == [(4, 4, 1, [4])]
    out = ("12|1|RUNNING|13|a.B.x.run\n12|2|PENDING|12|a.B.x.run\n20|N/A|PENDING|20|interactive\n"
           "30|[4-8:2]|PENDING|30|c.D.y.run\n31|1|RUNNING|31|a.B.x.run\n")
    queue = parse_squeue(out, ignore={"interactive"})
    assert queue[("a.B.x.run", 1)] == [(12, "RUNNING", "13"), (31, "RUNNING", "31")]
    assert queue[("a.B.x.run", 2)] == [(12, "PENDING", "12")]
    assert sorted(i for n, i in queue if n == "c.D.y.run") == [4, 6, 8]
    assert not any(n == "interactive" for n, _ in queue)


def test_termination_reasons():
    assert termination_reason("OUT_OF_MEMORY", "") == "out_of_memory"
    assert termination_reason("TIMEOUT", "") == "out_of_time"
    assert termination_reason("FAILED", "slurmstepd: error: Exceeded job memory limit\n") == "out_of_memory"
    assert termination_reason(None, "*** JOB 7 ON n1 CANCELLED AT 2026 DUE TO TIME LIMIT ***") == "out_of_time"
    assert termination_reason("CANCELLED", "srun: forcing job termination") == ""
    assert termination_reason("FAILED", None) == ""


def test_with_partition_is_idempotent():
    once = with_partition({"gpu": 1, "sbatch_args": "--qos=hi"}, "gpu")
    assert once["sbatch_args"] == ["--qos=hi", "-p", "gpu"]
    assert with_partition(once, "gpu") == once  # a resubmission starts from the last rqmt
    assert with_partition({"sbatch_args": ["--partition=big"]}, "gpu")["sbatch_args"] == ["--partition=big"]
    assert with_partition({}, None) == {"sbatch_args": []}


# ---------------------------------------------------------------------- the time limit, started first
@pytest.fixture(scope="module", autouse=True)
def time_limit_run(request, tmp_path_factory):
    """Start the time-limit graph before the other tests when the time-limit test is selected."""
    if not any(item.name == "test_time_limit_kill_resubmits_with_doubled_time" for item in request.session.items):
        yield None
        return
    try:
        cluster = request.getfixturevalue("slurm")
    except pytest.skip.Exception:
        yield None
        return
    s = make_setup(tmp_path_factory.mktemp("time_limit"), cluster)
    s.write("config/toy.py", f"""
        from sisyphus import tk
        from toy.jobs import SlowCounter

        def py():
            job = SlowCounter(steps={TIME_LIMIT_STEPS}, sleep=1.0)
            job.update_rqmt("run", {{"time": "0:01:00"}})
            tk.register_output("count.txt", job.out_count)
    """)
    proc = s.manager_in_background()
    try:
        yield s, proc
    finally:
        s.kill(proc)
        cancel_jobs_of(s)


# ---------------------------------------------------------------------- with the cluster
def test_chain_and_array_job_run_through_slurm(slurm_setup, slurm):
    s = slurm_setup
    s.write("config/toy.py", CHAIN_AND_ARRAY)
    res = s.sis("manager", "-r", "config/toy.py", timeout=120, check=True)
    assert "All output calculated" in res.stderr
    assert _read(s.path("output", "sum")).strip() == "55"
    words = [_read(s.path("output", "words", f"{i}.txt")).split() for i in (1, 2, 3)]
    assert words == [["alpha", "1"], ["beta", "2"], ["gamma", "3"]]  # each id ran as its own array task

    (array_dir,) = s.job_dirs("ArrayEcho")
    ((ids, info),) = s.submit_log(array_dir, "run")  # one sbatch for the three array tasks
    assert ids == [1, 2, 3] and info["engine_name"] == "slurm"
    ((info_ids, array_job),) = info["engine_info"]
    assert info_ids == [1, 2, 3]
    name = s.job_name(array_dir)
    records = slurm.completed_jobs(name)
    assert sorted(int(r["ArrayTaskId"]) for r in records) == [1, 2, 3]
    assert {int(r["ArrayJobId"]) for r in records} == {array_job}
    assert {r["JobState"] for r in records} == {"COMPLETED"}
    for i in (1, 2, 3):
        engine_log = os.path.join(array_dir, "engine", f"{name}.{array_job}.{i}")
        assert os.path.samefile(os.path.join(array_dir, f"log.run.{i}"), engine_log)  # hard link
        assert f"task run id {i}" in _read(engine_log)
        assert os.path.exists(engine_log + ".batch")
    for cls in ("WriteNumbers", "SumNumbers"):
        (job_dir,) = s.job_dirs(cls)
        assert len(s.submit_log(job_dir)) == 1
        assert len(slurm.completed_jobs(s.job_name(job_dir))) == 1


def test_one_squeue_call_per_poll_period_for_all_tasks(slurm_setup, slurm, tmp_path_factory):
    s = slurm_setup
    bin_dir = tmp_path_factory.mktemp("counting_bin")
    calls = bin_dir / "squeue_calls"
    (bin_dir / "squeue").write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexec /usr/bin/squeue "$@"\n')
    (bin_dir / "squeue").chmod(0o755)
    s.path_override = f"{bin_dir}:{os.environ['PATH']}"
    steps = list(range(8, 16))  # eight tasks queued and running side by side
    s.write("config/toy.py", COUNTERS.format(steps=steps, sleep=0.2, cpu=1))
    start = time.time()
    res = s.sis("manager", "-r", "config/toy.py", timeout=120)
    elapsed = time.time() - start
    assert res.returncode == 0, res.stderr
    polls = calls.read_text().splitlines()
    assert polls and all(p.startswith("-h --array -u ") for p in polls)
    # WAIT_PERIOD_CACHE = 0.5 s: about two polls a second for the whole graph, not one per task
    assert len(polls) <= elapsed / 0.5 + 3, (len(polls), elapsed)
    for n in steps:
        assert _read(s.path("output", f"count{n}.txt")).strip() == str(n)


def test_scancel_of_running_task_is_resubmitted_and_resumes(slurm_setup, slurm):
    s = slurm_setup
    s.write("config/toy.py", COUNTERS.format(steps=[40], sleep=0.1, cpu=1))
    manager = s.manager_in_background()
    try:
        def progress():
            d = s.job_dirs("SlowCounter")
            p = os.path.join(d[0], "work", "progress") if d else ""
            return os.path.exists(p) and int(_read(p) or 0) >= 5

        s.wait_for(progress, timeout=60, what="the Slurm task to make progress")
        (job_dir,) = s.job_dirs("SlowCounter")
        ((array_job, task_id, state, _),) = slurm.jobs(s.job_name(job_dir))
        assert state == "RUNNING"
        slurm.run("scancel", f"{array_job}_{task_id}")
    except BaseException:
        s.kill(manager)
        raise
    returncode, out = s.wait_manager(manager, timeout=90)
    assert returncode == 0, out
    assert f"Slurm job {array_job}_1 ended CANCELLED" in out
    assert "resubmit" in out
    assert _read(s.path("output", "count40.txt")).strip() == "40"
    assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 2
    steps = _lines(os.path.join(job_dir, "work", "steps"))
    assert len(set(steps)) == 40 and len(steps) <= 41  # resumed from its progress file
    log = s.submit_log(job_dir)
    assert len(log) == 2 and log[0][1]["engine_info"][0][1] == array_job != log[1][1]["engine_info"][0][1]
    assert log[1][1]["mem"] == log[0][1]["mem"]  # cancelled, not out of memory: no escalation


def test_manager_restart_finds_queued_and_running_tasks(slurm_setup, slurm):
    s = slurm_setup
    # three 2-cpu tasks on a 4-cpu node: at least one must wait in the queue
    s.write("config/toy.py", COUNTERS.format(steps=[21, 22, 23], sleep=0.15, cpu=2))
    first = s.manager_in_background()
    try:
        def all_submitted():
            names = [s.job_name(d) for d in s.job_dirs("SlowCounter")]
            found = [j for n in names for j in slurm.jobs(n)]
            seen = {state for *_, state, _ in found}
            return len(found) == 3 and "RUNNING" in seen and "PENDING" in seen

        s.wait_for(all_submitted, timeout=60, what="three submitted tasks, running and pending")
    finally:
        s.kill(first)
    res = s.sis("manager", "-r", "config/toy.py", timeout=120)
    assert res.returncode == 0, res.stderr
    for steps in (21, 22, 23):
        assert _read(s.path("output", f"count{steps}.txt")).strip() == str(steps)
    for job_dir in s.job_dirs("SlowCounter"):
        assert len(s.submit_log(job_dir)) == 1, f"{job_dir} was submitted again"
        assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 1
        assert len(slurm.completed_jobs(s.job_name(job_dir))) == 1  # exactly one Slurm job ever ran


@pytest.mark.slow
def test_out_of_memory_resubmits_with_doubled_memory_then_gives_up(slurm_setup, slurm):
    s = slurm_setup
    s.write("settings.py", _read(s.path("settings.py")) + "\nMAX_SUBMIT_RETRIES = 1\n")
    s.write("config/toy.py", """
        from sisyphus import tk
        from slurmtoy.jobs import MemoryHog

        def py():
            tk.register_output("fits_in_2g.txt", MemoryHog(mb=1536).out_held)
            tk.register_output("never_fits.txt", MemoryHog(mb=2560).out_held)
    """)
    res = s.sis("manager", "-r", "config/toy.py", timeout=150)
    assert res.returncode != 0
    fits, never = sorted(s.job_dirs("MemoryHog"), key=lambda d: os.path.exists(os.path.join(d, "finished")))[::-1]
    assert _read(os.path.join(fits, "output", "held.txt")).strip() == "1536"
    for job_dir in (fits, never):
        log = s.submit_log(job_dir)
        assert [info["mem"] for _, info in log] == [1.0, 2.0]  # --mem=1G was killed, then --mem=2G
        first_job = log[0][1]["engine_info"][0][1]
        batch = os.path.join(job_dir, "engine", f"{s.job_name(job_dir)}.{first_job}.1.batch")
        assert "Exceeded job memory limit" in _read(batch)
        assert f"Slurm job {first_job}_1 ended FAILED without a finished marker: out of memory (mem=1.0 GB)" \
            in res.stderr
    assert not os.path.exists(os.path.join(never, "finished"))
    assert f"{states.RETRY_ERROR}: {never}" in res.stderr  # the error names the job
    assert "out of memory (mem=2.0 GB)" in res.stderr


def test_worker_that_never_starts_is_an_error_not_a_resubmission_loop(slurm_setup, slurm):
    """Jobs that die before the worker writes its log (e.g. no usable Python on the nodes)."""
    s = slurm_setup
    s.write("settings.py", _read(s.path("settings.py")) + """
MAX_SUBMIT_RETRIES = 1

def worker_wrapper(job, task_name, call):
    return ["sh", "-c", "echo no python here >&2; exit 3"]
""")
    s.write("config/toy.py", COUNTERS.format(steps=[4], sleep=0.1, cpu=1))
    res = s.sis("manager", "-r", "config/toy.py", timeout=60)
    assert res.returncode != 0
    (job_dir,) = s.job_dirs("SlowCounter")
    log = s.submit_log(job_dir)
    assert len(log) == 2  # the first try, one retry, then a clear error instead of a loop
    last_job = log[-1][1]["engine_info"][0][1]
    assert f"task run.1 was submitted 2 times but its worker never started; the last Slurm job {last_job}_1 " \
           "ended FAILED" in res.stderr
    assert "Exited with exit code 3" in res.stderr  # the batch log's tail
    assert _read(os.path.join(job_dir, "engine", f"{s.job_name(job_dir)}.{last_job}.1")).strip() == "no python here"


def test_controller_down_keeps_state_and_continues_when_back(slurm_setup, slurm):
    s = slurm_setup
    s.write("config/toy.py", COUNTERS.format(steps=[12], sleep=0.1, cpu=1))
    slurm.stop_controller()
    manager = None
    try:
        manager = s.manager_in_background()
        s.wait_for(lambda: "cannot query Slurm" in s.output(manager), timeout=30, what="the manager's error")
        time.sleep(2)  # a few more cycles without Slurm
        assert manager.poll() is None, s.output(manager)
        (job_dir,) = s.job_dirs("SlowCounter")
        assert not os.path.exists(os.path.join(job_dir, "submit_log.run"))  # nothing submitted, nothing lost
        assert not any(f.startswith("error") for f in os.listdir(job_dir))
    except BaseException:
        if manager is not None:
            s.kill(manager)
        raise
    finally:
        slurm.start_controller()
    returncode, out = s.wait_manager(manager, timeout=90)
    assert returncode == 0, out
    assert "Slurm answers again" in out
    assert out.count("cannot query Slurm") == 1  # one error per outage, not one per cycle
    assert _read(s.path("output", "count12.txt")).strip() == "12"
    assert len(s.submit_log(job_dir)) == 1


def test_sbatch_timeout_adopts_the_late_job_instead_of_submitting_again(slurm_setup, slurm):
    """The controller stops answering between the queue poll and sbatch (paused by the settings' limits
    hook); the client gives up after 2 s, the controller then creates the job anyway (upstream #281)."""
    s = slurm_setup
    marker = s.path("controller_paused")
    s.write("settings.py", _read(s.path("settings.py")) + f"""
import os, signal, threading

SBATCH_TIMEOUT = 2
WAIT_PERIOD_CACHE = 1.5  # the poll of the submitting cycle stays fresh until sbatch runs
CONTROLLER_PID = {slurm.pid("slurmctld")}

def check_engine_limits(rqmt, task):
    if not os.path.exists({marker!r}):
        open({marker!r}, "w").close()
        os.kill(CONTROLLER_PID, signal.SIGSTOP)
        threading.Timer(4.0, os.kill, (CONTROLLER_PID, signal.SIGCONT)).start()
    return rqmt
""")
    s.write("config/toy.py", COUNTERS.format(steps=[25], sleep=0.2, cpu=1))
    try:
        res = s.sis("manager", "-r", "config/toy.py", timeout=120)
    finally:
        slurm.resume_controller()
    assert res.returncode == 0, res.stderr
    assert "sbatch did not answer within 2 s" in res.stderr
    (job_dir,) = s.job_dirs("SlowCounter")
    records = slurm.completed_jobs(s.job_name(job_dir))
    assert len(records) == 1, records  # the late job ran; nothing was submitted a second time
    ((ids, info),) = s.submit_log(job_dir)
    assert ids == [1] and info["engine_info"] == [([1], int(records[0]["ArrayJobId"]))]
    assert "appeared in the queue after its sbatch call timed out" in res.stderr
    assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 1


def test_missing_sbatch_is_a_clear_error_and_loses_nothing(slurm_setup, slurm, tmp_path_factory):
    s = slurm_setup
    bin_dir = tmp_path_factory.mktemp("no_sbatch_bin")
    for tool in ("squeue", "scontrol", "sacct", "scancel"):  # every Slurm client except sbatch
        os.symlink(f"/usr/bin/{tool}", bin_dir / tool)
    s.path_override = str(bin_dir)
    s.write("config/toy.py", COUNTERS.format(steps=[6], sleep=0.1, cpu=1))
    res = s.sis("manager", "-r", "config/toy.py", timeout=60)
    assert res.returncode != 0
    (job_dir,) = s.job_dirs("SlowCounter")
    rel = os.path.relpath(job_dir, s.root)
    assert f"cannot submit {rel}: the Slurm command 'sbatch' was not found on PATH" in res.stderr
    assert not os.path.exists(os.path.join(job_dir, "submit_log.run"))
    s.path_override = None
    res = s.sis("manager", "-r", "config/toy.py", timeout=60)
    assert res.returncode == 0, res.stderr
    assert _read(s.path("output", "count6.txt")).strip() == "6"


def test_readme_cluster_settings_gpu_partition_and_local_mini_tasks(slurm_setup, slurm):
    s = slurm_setup
    with open(os.path.join(os.path.dirname(__file__), "cluster_settings.py")) as f:
        s.write("settings.py", f.read() + FAST_SETTINGS)
    s.write("config/toy.py", """
        from sisyphus import tk
        from slurmtoy.jobs import EnvProbe
        from toy.jobs import WriteNumbers

        def py():
            tk.register_output("numbers.txt", WriteNumbers(n=3).out_numbers)  # a mini task: local engine
            tk.register_output("gpu1.txt", EnvProbe(gpu=1).out_env)
            tk.register_output("cpu2.txt", EnvProbe(gpu=0, cpu=2).out_env)
            tk.register_output("gpu3.txt", EnvProbe(gpu=3).out_env)
    """)
    res = s.sis("manager", "-r", "config/toy.py", timeout=90)
    assert res.returncode != 0  # the node has 2 GPUs: gpu=3 cannot be scheduled

    def env(name):
        return dict(line.split("=", 1) for line in _read(s.path("output", name)).splitlines())

    gpu1, cpu2 = env("gpu1.txt"), env("cpu2.txt")
    assert gpu1["SLURM_JOB_PARTITION"] == "gpu" and gpu1["SLURM_GPUS_ON_NODE"] == "1"
    assert gpu1["CUDA_VISIBLE_DEVICES"] == "0"
    assert cpu2["SLURM_JOB_PARTITION"] == "cpu" and cpu2["SLURM_CPUS_PER_TASK"] == "2"
    assert cpu2["CUDA_VISIBLE_DEVICES"] == "" and cpu2["SLURM_GPUS_ON_NODE"] == ""
    (gpu3_dir,) = [d for d in s.job_dirs("EnvProbe") if not os.path.exists(os.path.join(d, "finished"))]
    rel = os.path.relpath(gpu3_dir, s.root)
    assert f"cannot submit {rel}: sbatch refused" in res.stderr
    assert "gpu=3" in res.stderr and "Requested node configuration is not available" in res.stderr
    (mini_dir,) = s.job_dirs("WriteNumbers")
    assert [info["engine_name"] for _, info in s.submit_log(mini_dir)] == ["local"]
    for job_dir in s.job_dirs("EnvProbe"):
        if job_dir != gpu3_dir:
            ((_, info),) = s.submit_log(job_dir)
            assert info["engine_name"] == "slurm" and info["engine"] == "long"


@pytest.mark.slow
def test_time_limit_kill_resubmits_with_doubled_time(time_limit_run, slurm):
    assert time_limit_run is not None
    s, manager = time_limit_run
    returncode, out = s.wait_manager(manager, timeout=240)
    assert returncode == 0, out
    (job_dir,) = s.job_dirs("SlowCounter")
    log = s.submit_log(job_dir)
    assert [round(info["time"] * 60, 6) for _, info in log] == [1, 2]  # minutes: killed at 1, then 2
    first_job = log[0][1]["engine_info"][0][1]
    assert f"Slurm job {first_job}_1 ended TIMEOUT without a finished marker: out of time" in out
    assert "DUE TO TIME LIMIT" in _read(os.path.join(job_dir, "engine", f"{s.job_name(job_dir)}.{first_job}.1.batch"))
    assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 2
    steps = _lines(os.path.join(job_dir, "work", "steps"))
    assert len(set(steps)) == TIME_LIMIT_STEPS and len(steps) <= TIME_LIMIT_STEPS + 1
    assert _read(s.path("output", "count.txt")).strip() == str(TIME_LIMIT_STEPS)

