"""`sis manager CONFIG` without -r: the state overview, the start prompt, and no run without a terminal."""
import os
import pty
import subprocess
import sys

CONFIG = """
from sisyphus import tk
from toy.jobs import Explode, SumNumbers, WriteNumbers

def py():
    nums = WriteNumbers(n=4)
    tk.register_output("sum", SumNumbers(numbers=nums.out_numbers).out_sum)
    tk.register_output("never", Explode(message="boom-overview").out)
    tk.register_output("missing", SumNumbers(numbers=tk.Path("does/not/exist.txt")).out_sum)
"""


def _with_tty_stdin(setup_dir, args, answers, timeout=60):
    """Run `sis ARGS` with a pseudo terminal on stdin, typing ANSWERS (one line each)."""
    master, slave = pty.openpty()
    try:
        os.write(master, "".join(a + "\n" for a in answers).encode())
        res = subprocess.run([sys.executable, "-m", "sisyphus", *args], cwd=setup_dir.root, env=setup_dir.env(),
                             stdin=slave, capture_output=True, text=True, timeout=timeout)
    finally:
        os.close(slave)
        os.close(master)
    return res


def test_overview_without_tty_prints_states_and_runs_nothing(setup_dir):
    setup_dir.write("config/toy.py", CONFIG)
    os.makedirs(setup_dir.path("work"))
    res = setup_dir.sis("manager", "config/toy.py")
    assert res.returncode == 0, res.stderr
    err = res.stderr
    assert "Experiment directory:" in err
    # one line per job that is not finished, with its state
    assert "runnable: Job<work/toy/jobs/WriteNumbers." in err
    assert "runnable: Job<work/toy/jobs/Explode." in err
    assert "waiting: Job<work/toy/jobs/SumNumbers." in err
    assert "input_missing: " in err and "does/not/exist.txt" in err
    # counts per state, sorted like upstream's summary
    assert "input_missing(1) runnable(2) waiting(2)" in err
    # how to start, and nothing ran: no job directory, no output
    assert "sis manager -r" in err and "not a terminal" in err
    assert setup_dir.job_dirs("WriteNumbers") == []
    assert not os.path.exists(setup_dir.path("output"))
    # error lines stay at the bottom: the missing input comes after the runnable jobs
    assert err.index("input_missing: ") > err.index("runnable: Job<")


def test_prompt_verbose_then_exit(setup_dir):
    setup_dir.write("config/toy.py", CONFIG)
    os.makedirs(setup_dir.path("work"))
    res = _with_tty_stdin(setup_dir, ["manager", "config/toy.py"], ["v", "x", "n"])
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("Start manager (y), print verbose overview (v), update aliases and outputs (u), "
                            "setup runnable jobs (s), or exit (n)?") == 3
    assert res.stderr.count("Experiment directory:") == 2  # the first overview and the verbose one
    assert "Unknown command: x" in res.stderr
    assert "Exit manager" in res.stderr
    assert setup_dir.job_dirs("WriteNumbers") == []


def test_prompt_setup_then_start_runs_jobs(setup_dir):
    setup_dir.write("config/toy.py", """
        from sisyphus import tk
        from toy.jobs import SumNumbers, WriteNumbers

        def py():
            tk.register_output("sum", SumNumbers(numbers=WriteNumbers(n=4).out_numbers).out_sum)
    """)
    os.makedirs(setup_dir.path("work"))
    res = _with_tty_stdin(setup_dir, ["manager", "config/toy.py"], ["s", "y"])
    assert res.returncode == 0, res.stderr
    assert "Setup: work/toy/jobs/WriteNumbers." in res.stderr
    assert "Start manager" in res.stderr and "All output calculated" in res.stderr
    assert open(setup_dir.path("output", "sum")).read().strip() == "10"


def test_clear_error_prompt_and_done_prompt(setup_dir):
    setup_dir.write("config/toy.py", """
        from sisyphus import tk
        from toy.jobs import Explode

        def py():
            tk.register_output("never", Explode(message="boom-clear").out)
    """)
    res = setup_dir.sis("manager", "-r", "config/toy.py")
    assert res.returncode != 0
    (job_dir,) = setup_dir.job_dirs("Explode")
    res = _with_tty_stdin(setup_dir, ["manager", "config/toy.py"], ["y", "n"])
    assert res.returncode == 0, res.stderr
    assert "Clear jobs in error state? [y/N]" in res.stdout
    assert os.path.isdir(job_dir + ".cleared.0001")
    assert "runnable: Job<work/toy/jobs/Explode." in res.stderr  # the overview after clearing


def test_all_done_without_tty(setup_dir):
    setup_dir.write("config/toy.py", """
        from sisyphus import tk
        from toy.jobs import WriteNumbers

        def py():
            tk.register_output("numbers.txt", WriteNumbers(n=2).out_numbers)
    """)
    setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    os.unlink(setup_dir.path("output", "numbers.txt"))
    res = setup_dir.sis("manager", "config/toy.py")
    assert res.returncode == 0
    assert "finished(1)" in res.stderr and "All calculations are done" in res.stderr
    assert not os.path.exists(setup_dir.path("output", "numbers.txt"))  # nothing updated without -r
    res = _with_tty_stdin(setup_dir, ["manager", "config/toy.py"], ["u"])
    assert "All calculations are done, print verbose overview (v), update outputs and alias (u)" in res.stdout
    assert os.path.islink(setup_dir.path("output", "numbers.txt"))
