"""The real `sis manager`: stop signals, config entries and their errors, workers that die early."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHAIN = """
from sisyphus import tk
from toy.jobs import SumNumbers, WriteNumbers

def py():
    nums = WriteNumbers(n=10)
    tk.register_output("sum", SumNumbers(numbers=nums.out_numbers).out_sum)
"""

SLOW = """
from sisyphus import tk
from toy.jobs import SlowCounter

def py():
    tk.register_output("count.txt", SlowCounter(steps=20, sleep=0.15).out_count)
"""

# A job whose worker dies while it loads the job (it imports this module) as long as the file
# `die_in_worker` exists in the setup: no finished or error marker, not resumable.
DIES = '''
import os
import sys

from sisyphus import Job, Task

if "worker" in sys.argv and os.path.exists("die_in_worker"):
    os._exit(3)


class DiesEarly(Job):
    def __init__(self, *, x):
        self.x = x
        self.out = self.output_path("out")

    def tasks(self):
        yield Task("run")

    def run(self):
        with open(self.out.get_path(), "w") as f:
            f.write("ok\\n")
'''


def _usage(job_dir):
    with open(os.path.join(job_dir, "usage.run.1")) as f:
        return eval(f.read())


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------- signals
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_stop_signal_leaves_the_task_running_and_a_rerun_adopts_it(setup_dir, sig):
    setup_dir.write("config/toy.py", SLOW)
    first = setup_dir.sis_background("manager", "-r", "config/toy.py")
    setup_dir.wait_for(lambda: setup_dir.job_dirs("SlowCounter") and os.path.exists(
        os.path.join(setup_dir.job_dirs("SlowCounter")[0], "work", "steps")), what="task start")
    (job_dir,) = setup_dir.job_dirs("SlowCounter")
    worker_pid = _usage(job_dir)["pid"]
    os.kill(first.pid, sig)  # the manager only, as a terminal or `kill` would
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 128 + sig, out
    assert f"{sig.name}: stopping the manager; submitted tasks keep running and a rerun of the same command " \
           "picks them up" in out
    assert "Traceback" not in out
    assert _alive(worker_pid), "the task must survive its manager"
    assert not os.path.exists(os.path.join(job_dir, "error.run.1"))
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "adopted running task" in res.stderr and f"(pid {worker_pid})" in res.stderr
    assert open(setup_dir.path("output", "count.txt")).read().strip() == "20"
    with open(os.path.join(job_dir, "work", "starts")) as f:
        assert len(f.read().split()) == 1, "the task ran more than once"


def test_stop_signal_while_the_config_loads(setup_dir):
    setup_dir.write("config/slow_load.py", """
        import time

        def py():
            open("loading", "w").close()
            time.sleep(60)
    """)
    first = setup_dir.sis_background("manager", "-r", "config/slow_load.py")
    setup_dir.wait_for(lambda: os.path.exists(setup_dir.path("loading")), what="config load")
    os.kill(first.pid, signal.SIGTERM)
    out, _ = first.communicate(timeout=30)
    assert first.returncode == 128 + signal.SIGTERM, out
    assert "SIGTERM: stopping the manager" in out and "before any task was submitted" in out
    assert "Traceback" not in out
    assert not os.path.exists(setup_dir.path("work"))


# ---------------------------------------------------------------------- config entries
def test_absolute_and_dotted_config_paths_work(setup_dir):
    setup_dir.write("config/toy.py", CHAIN)
    res = setup_dir.sis("manager", "-r", setup_dir.path("config", "toy.py"), check=True)
    assert open(setup_dir.path("output", "sum")).read().strip() == "55"
    res = setup_dir.sis("manager", "-r", "./config/toy.py", check=True)
    assert "All output calculated" in res.stderr


@pytest.mark.parametrize("entry, expected", [
    ("config/toy", "config entry 'config/toy': config/ has no function toy(); to load the file config/toy.py, "
                   "give the entry 'config/toy.py'"),
    ("/nowhere/config/toy.py", "config file /nowhere/config/toy.py is outside the setup directory"),
    ("config/missing.py", "config file config/missing.py not found"),
    ("config/raises.py", "RuntimeError in config/raises.py: py() (at config/raises.py:3): no such corpus"),
])
def test_failing_config_entries_exit_nonzero_with_one_line_and_no_work_dir(setup_dir, entry, expected):
    setup_dir.write("config/toy.py", CHAIN)
    setup_dir.write("config/raises.py", """
        def py():
            raise RuntimeError("no such corpus")
    """)
    res = setup_dir.sis("manager", "-r", entry)
    assert res.returncode == 2, res.stderr
    errors = [line for line in res.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and expected in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not os.path.exists(setup_dir.path("work")), "a failing invocation created work/"


def _study_setup(tmp_path):
    """A setup running the study's own settings.py and config/memristor_ted.py."""
    root = tmp_path / "setup"
    root.mkdir()
    shutil.copy(os.path.join(REPO, "settings.py"), root / "settings.py")
    os.symlink(os.path.join(REPO, "config"), root / "config")
    return root


@pytest.mark.parametrize("layout, missing", [
    (None, "does not exist or is not a directory"),
    ([], "missing TEDLIUM.152k.dic, train/stm, train/sph, dev/stm, dev/sph, test/stm, test/sph, LM/*.gz"),
    (["TEDLIUM.152k.dic", "LM/a.gz", "train/stm/", "train/sph/", "dev/stm/", "dev/sph/", "test/stm/"],
     "missing test/sph"),
])
def test_invalid_corpus_root_is_one_line_before_any_job(tmp_path, layout, missing):
    root = _study_setup(tmp_path)
    corpus = tmp_path / "TEDLIUM_release2"
    for p in layout if layout is not None else ():
        (corpus / p).parent.mkdir(parents=True, exist_ok=True)
        (corpus / p).mkdir() if p.endswith("/") else (corpus / p).write_text("")
    if layout == []:
        corpus.mkdir()
    env = dict(os.environ, TEDLIUM2_ROOT=str(corpus),
               PYTHONPATH=os.pathsep.join([os.path.join(REPO, "tools"), os.path.join(REPO, "recipe"), REPO]))
    env.pop("SIS_GLOBAL_SETTINGS_FILE", None)
    res = subprocess.run([sys.executable, "-m", "sisyphus", "manager", "-r", "config/memristor_ted.py"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, res.stderr[-3000:]
    assert f"TEDLIUM2_ROOT {corpus} " in errors[0] and missing in errors[0], errors[0]
    assert len(res.stderr.splitlines()) <= 3 and "Traceback" not in res.stderr
    assert not (root / "work").exists(), "no job may run (nor work/ appear) with a wrong corpus root"


# ---------------------------------------------------------------------- workers that die early
def test_not_resumable_task_says_why_and_names_cio_and_a_pidless_one_is_seen_within_seconds(setup_dir):
    setup_dir.write("recipe/toy/dies.py", DIES)
    setup_dir.write("config/dies.py", """
        from sisyphus import tk
        from toy.dies import DiesEarly

        def py():
            tk.register_output("out", DiesEarly(x=1).out)
    """)
    open(setup_dir.path("die_in_worker"), "w").close()
    res = setup_dir.sis("manager", "-r", "config/dies.py")
    assert res.returncode == 1, res.stderr
    base = setup_dir.path("work", "toy", "dies")
    (job_dir,) = [os.path.join(base, d) for d in os.listdir(base) if ".cleared." not in d]
    rel = os.path.relpath(job_dir, setup_dir.root)
    explained = [line for line in res.stderr.splitlines() if f"{rel}: task run.1 was interrupted" in line]
    assert len(explained) == 1, res.stderr
    assert "declares no resume method" in explained[0]
    assert explained[0].endswith("clear the job and rerun it with: sis manager -r -cio config/dies.py")

    # A worker that died before it recorded its pid (under an earlier manager): its fresh log alone
    # keeps it "running" for the 5 s grace period, then the manager must look again at once.
    os.unlink(os.path.join(job_dir, "usage.run.1"))
    os.utime(os.path.join(job_dir, "log.run.1"))
    start = time.time()
    res = setup_dir.sis("manager", "-r", "config/dies.py")
    elapsed = time.time() - start
    assert res.returncode == 1 and "interrupted_not_resumable" in res.stderr, res.stderr
    stamps = {m.group(2): m.group(1) for m in re.finditer(r"\[[\d-]+ ([\d:,]+)\] \w+: (running|interrupted_not_"
                                                           r"resumable): Job<", res.stderr)}
    assert set(stamps) == {"running", "interrupted_not_resumable"}, res.stderr
    seconds = {k: sum(float(x) * f for x, f in zip(v.replace(",", ".").split(":"), (3600, 60, 1)))
               for k, v in stamps.items()}
    shown_running = seconds["interrupted_not_resumable"] - seconds["running"]
    print(f"pid-less dead worker: shown as running for {shown_running:.2f} s, manager run {elapsed:.1f} s")
    # the grace period runs from the log's mtime: at most 5 s plus a poll; before, the next look
    # came only after WAIT_PERIOD_BETWEEN_CHECKS (30 s)
    assert shown_running < 6.5 and elapsed < 15, (shown_running, elapsed)

    os.unlink(setup_dir.path("die_in_worker"))
    res = setup_dir.sis("manager", "-r", "-cio", "config/dies.py", check=True)
    assert "cleared" in res.stderr and os.path.exists(job_dir + ".cleared.0001")
    assert open(setup_dir.path("output", "out")).read() == "ok\n"


def test_worker_that_dies_before_its_log_is_not_resubmitted_forever(setup_dir):
    setup_dir.write("settings.py", """
        import sys

        from sisyphus.localengine import LocalEngine

        def engine():
            if "worker" in sys.argv:
                raise RuntimeError("broken engine() in the worker")
            return LocalEngine(cpus=2, mem=8)
    """)
    setup_dir.write("config/toy.py", CHAIN)
    start = time.time()
    res = setup_dir.sis("manager", "-r", "config/toy.py", timeout=60)
    assert res.returncode == 1, res.stderr
    assert time.time() - start < 30
    assert "its worker ended 4 times before it started its log (last exit code 1" in res.stderr
    assert "RuntimeError: broken engine() in the worker" in res.stderr  # the worker's early output
    (job_dir,) = setup_dir.job_dirs("WriteNumbers")
    with open(os.path.join(job_dir, "submit_log.run")) as f:
        assert len(f.read().splitlines()) == 4  # the first start and MAX_SUBMIT_RETRIES (3) more
