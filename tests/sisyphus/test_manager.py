"""The real `sis manager` on toy graphs: completion, crashes, resume, errors, locking."""
import os
import signal
import time

import pytest

CHAIN = """
from sisyphus import tk
from toy.jobs import SumNumbers, WriteNumbers

def py():
    nums = WriteNumbers(n=10)
    total = SumNumbers(numbers=nums.out_numbers)
    tk.register_output("numbers.txt", nums.out_numbers)
    tk.register_output("sum", total.out_sum)
"""

SLOW = """
from sisyphus import tk
from toy.jobs import SlowCounter

def py():
    tk.register_output("count.txt", SlowCounter(steps={steps}, sleep={sleep}).out_count)
"""


def _usage_pid(job_dir):
    with open(os.path.join(job_dir, "usage.run.1")) as f:
        return eval(f.read())["pid"]


def _lines(path):
    with open(path) as f:
        return f.read().split()


def test_chain_runs_to_completion(setup_dir):
    setup_dir.write("config/toy.py", CHAIN)
    start = time.time()
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    elapsed = time.time() - start
    assert "All output calculated" in res.stderr
    assert open(setup_dir.path("output", "sum")).read().strip() == "55"
    assert os.path.islink(setup_dir.path("output", "numbers.txt"))
    (sum_dir,) = setup_dir.job_dirs("SumNumbers")
    for name in ("finished", "finished.run.1", "log.run.1", "usage.run.1", "submit_log.run", "job.save", "info"):
        assert os.path.exists(os.path.join(sum_dir, name)), name
    assert os.path.islink(os.path.join(sum_dir, "input", "toy_jobs_WriteNumbers." + os.path.basename(
        setup_dir.job_dirs("WriteNumbers")[0]).split(".", 1)[1]))
    assert "Finished output: sum" in open(setup_dir.path("log", "finished.log")).read()
    # dependent mini tasks must not wait for fixed polling periods (upstream: 30 s and more)
    assert elapsed < 20, f"two dependent mini tasks took {elapsed:.1f} s"
    # a second run finds everything finished and never reruns a task
    res2 = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "All output calculated" in res2.stderr
    assert len(open(os.path.join(sum_dir, "submit_log.run")).read().splitlines()) == 1


def test_missing_work_dir_needs_confirmation_without_r(setup_dir):
    setup_dir.write("config/toy.py", CHAIN)
    res = setup_dir.sis("manager", "config/toy.py")
    assert res.returncode != 0
    assert "work directory" in res.stderr
    assert not os.path.exists(setup_dir.path("work"))


def test_killed_manager_second_manager_adopts_running_task(setup_dir):
    setup_dir.write("config/toy.py", SLOW.format(steps=20, sleep=0.15))
    first = setup_dir.sis_background("manager", "-r", "config/toy.py")
    setup_dir.wait_for(lambda: setup_dir.job_dirs("SlowCounter") and os.path.exists(
        os.path.join(setup_dir.job_dirs("SlowCounter")[0], "work", "steps")), what="task start")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    (job_dir,) = setup_dir.job_dirs("SlowCounter")
    worker_pid = _usage_pid(job_dir)
    os.kill(worker_pid, 0)  # the task survived its manager
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "adopted running task" in res.stderr
    assert open(setup_dir.path("output", "count.txt")).read().strip() == "20"
    assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 1, "the task ran more than once"
    assert _lines(os.path.join(job_dir, "work", "steps")) == [str(i) for i in range(20)]


def test_killed_manager_and_task_resumes_from_partial_work(setup_dir):
    setup_dir.write("config/toy.py", SLOW.format(steps=30, sleep=0.1))
    first = setup_dir.sis_background("manager", "-r", "config/toy.py")

    def some_progress():
        d = setup_dir.job_dirs("SlowCounter")
        return d and os.path.exists(os.path.join(d[0], "work", "progress")) and \
            int(open(os.path.join(d[0], "work", "progress")).read() or 0) >= 5

    setup_dir.wait_for(some_progress, what="partial progress")
    (job_dir,) = setup_dir.job_dirs("SlowCounter")
    worker_pid = _usage_pid(job_dir)
    os.killpg(first.pid, signal.SIGKILL)
    os.killpg(worker_pid, signal.SIGKILL)  # the worker leads its own session
    first.wait()
    setup_dir.wait_for(lambda: not os.path.exists(f"/proc/{worker_pid}") or
                       open(f"/proc/{worker_pid}/stat").read().split(")")[1].split()[0] == "Z", what="worker exit")
    done_before = int(open(os.path.join(job_dir, "work", "progress")).read())
    start = time.time()
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "resubmit" in res.stderr
    assert time.time() - start < 30, "detecting the interrupted local task took too long"
    assert open(setup_dir.path("output", "count.txt")).read().strip() == "30"
    assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 2
    steps = _lines(os.path.join(job_dir, "work", "steps"))
    # continued from the checkpoint: every step once, except at most the one in flight when killed
    assert steps[-1] == "29" and len(set(steps)) == 30
    assert len(steps) <= 31 and done_before >= 5
    assert "RETRY OR CONTINUE TASK" in open(os.path.join(job_dir, "log.run.1")).read()


def test_error_job_reported_with_nonzero_exit(setup_dir):
    setup_dir.write("config/toy.py", """
        from sisyphus import tk
        from toy.jobs import Explode, WriteNumbers

        def py():
            tk.register_output("never", Explode(message="kaboom-123").out)
            tk.register_output("numbers.txt", WriteNumbers(n=3).out_numbers)
    """)
    res = setup_dir.sis("manager", "-r", "config/toy.py")
    assert res.returncode != 0
    (job_dir,) = setup_dir.job_dirs("Explode")
    assert job_dir in res.stderr
    assert "kaboom-123" in res.stderr  # the tail of the job's log
    assert "config/toy.py:6" in res.stderr  # the line that created the job
    assert os.path.exists(os.path.join(job_dir, "error.run.1"))
    # the independent job still ran and its output is untouched
    assert open(setup_dir.path("output", "numbers.txt")).read().split() == ["1", "2", "3"]


def test_lock_refuses_second_manager(setup_dir):
    setup_dir.write("config/toy.py", SLOW.format(steps=30, sleep=0.1))
    first = setup_dir.sis_background("manager", "-r", "config/toy.py")
    try:
        setup_dir.wait_for(lambda: setup_dir.job_dirs("SlowCounter"), what="first manager running")
        res = setup_dir.sis("manager", "-r", "config/toy.py")
        assert res.returncode == 3
        assert "another manager is already running" in res.stderr
        assert f"pid {first.pid}" in res.stderr
    finally:
        out, _ = first.communicate(timeout=60)
    assert first.returncode == 0, out
    (job_dir,) = setup_dir.job_dirs("SlowCounter")
    assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 1


def test_worker_refuses_to_run_a_task_twice(setup_dir):
    setup_dir.write("config/toy.py", SLOW.format(steps=15, sleep=0.1))
    first = setup_dir.sis_background("manager", "-r", "config/toy.py")
    setup_dir.wait_for(lambda: setup_dir.job_dirs("SlowCounter") and os.path.exists(
        os.path.join(setup_dir.job_dirs("SlowCounter")[0], "work", "starts")), what="task start")
    (job_dir,) = setup_dir.job_dirs("SlowCounter")
    rel = os.path.relpath(job_dir, setup_dir.root)
    res = setup_dir.sis("worker", rel, "run", "1")
    assert res.returncode == 0
    assert "already being run" in res.stdout
    first.communicate(timeout=60)
    assert len(_lines(os.path.join(job_dir, "work", "starts"))) == 1


@pytest.mark.parametrize("config, expected", [
    (None, "config file config/missing.py not found"),
    ("def py(:\n    pass\n", "config/bad.py:1: syntax error"),
    ("from toy.jobs import BadInit\n\ndef py():\n    BadInit(x=3)\n", "BadInit.__init__ failed for the job created at config/bad.py:4"),
    ("import threading\nfrom toy.jobs import WriteNumbers\n\nclass Holder:\n    def __init__(self):\n"
     "        self.lock = threading.Lock()\n\n    def __sis_state__(self):\n        return 'holder'\n\n"
     "def py():\n    WriteNumbers(n=Holder())\n", "argument 'n' cannot be pickled"),
    ("import numpy\nfrom toy.jobs import WriteNumbers\n\ndef py():\n    WriteNumbers(n=numpy.int64(3))\n",
     "WriteNumbers created at config/bad.py:5: argument 'n' (int64) cannot be hashed"),
])
def test_bad_configs_give_one_clear_message(setup_dir, config, expected):
    entry = "config/missing.py"
    if config is not None:
        setup_dir.write("config/bad.py", config)
        entry = "config/bad.py"
    res = setup_dir.sis("manager", "-r", entry)
    assert res.returncode != 0
    assert expected in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


NESTED_ALIASES = """
from sisyphus import tk
from toy.jobs import WriteNumbers

def py():
    outer, inner = WriteNumbers(n=3), WriteNumbers(n=4)
    outer.add_alias("recog/x")
    inner.add_alias("recog/x/device0")  # would lie inside the first job's directory
    tk.register_output("a", outer.out_numbers)
    tk.register_output("b", inner.out_numbers)
"""


def test_an_alias_inside_another_alias_is_refused_with_a_warning(setup_dir):
    setup_dir.write("config/toy.py", NESTED_ALIASES)
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "All output calculated" in res.stderr
    outer_dir = os.path.realpath(setup_dir.path("alias", "recog", "x"))
    assert os.path.islink(setup_dir.path("alias", "recog", "x")) and os.path.isdir(outer_dir)
    assert not os.path.exists(os.path.join(outer_dir, "device0"))  # nothing written into the job directory
    assert "alias recog/x/device0 of" in res.stderr and "lies inside the alias recog/x;" in res.stderr
