"""A throw-away Sisyphus setup directory with a toy recipe, driven through the real `sis`."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOY_RECIPE = '''
import os
import time

from sisyphus import Job, Task, tk


class WriteNumbers(Job):
    """Write 1..n, one per line."""

    def __init__(self, *, n):
        self.n = n
        self.out_numbers = self.output_path("numbers.txt")

    def tasks(self):
        yield Task("run", mini_task=True)

    def run(self):
        with open(self.out_numbers.get_path(), "w") as f:
            f.write("".join(f"{i}\\n" for i in range(1, self.n + 1)))


class SumNumbers(Job):
    """Sum a file of numbers into a Variable."""

    def __init__(self, *, numbers):
        self.numbers = numbers
        self.out_sum = self.output_var("sum")

    def tasks(self):
        yield Task("run", mini_task=True)

    def run(self):
        with open(tk.uncached_path(self.numbers)) as f:
            self.out_sum.set(sum(int(x) for x in f))


class SlowCounter(Job):
    """Counts to `steps`, one step per `sleep` seconds, keeping progress in work/ (resumable).

    Each start of run() appends a line to work/starts so tests can see how often it ran.
    """

    def __init__(self, *, steps, sleep, start_after=None):
        self.steps = steps
        self.sleep = sleep
        self.start_after = start_after
        self.out_count = self.output_path("count.txt")

    def tasks(self):
        yield Task("run", resume="run")

    def run(self):
        with open("starts", "a") as f:
            f.write(f"{os.getpid()}\\n")
        done = int(open("progress").read()) if os.path.exists("progress") else 0
        for i in range(done, self.steps):
            time.sleep(self.sleep)
            with open("steps", "a") as f:
                f.write(f"{i}\\n")
            with open("progress.tmp", "w") as f:
                f.write(str(i + 1))
            os.replace("progress.tmp", "progress")
        with open(self.out_count.get_path(), "w") as f:
            f.write(f"{self.steps}\\n")


class Explode(Job):
    """Always fails."""

    def __init__(self, *, message):
        self.message = message
        self.out = self.output_path("never")

    def run(self):
        print("about to fail")
        raise RuntimeError(self.message)


class BadInit(Job):
    def __init__(self, *, x):
        raise ValueError(f"x={x} is not allowed")
'''


class Setup:
    def __init__(self, root):
        self.root = str(root)

    def path(self, *p):
        return os.path.join(self.root, *p)

    def write(self, rel, text):
        full = self.path(rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(textwrap.dedent(text))

    def env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "tools"), env.get("PYTHONPATH", "")])
        env.pop("SIS_GLOBAL_SETTINGS_FILE", None)
        return env

    def sis(self, *args, timeout=120, check=False):
        res = subprocess.run([sys.executable, "-m", "sisyphus", *args], cwd=self.root, env=self.env(),
                             capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"sis {args} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return res

    def sis_background(self, *args):
        return subprocess.Popen([sys.executable, "-m", "sisyphus", *args], cwd=self.root, env=self.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def job_dirs(self, cls_name):
        base = self.path("work", "toy", "jobs")
        if not os.path.isdir(base):
            return []
        return sorted(os.path.join(base, d) for d in os.listdir(base)
                      if d.startswith(cls_name + ".") and ".cleared." not in d)

    def wait_for(self, cond, timeout=60, what="condition"):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def setup_dir(tmp_path):
    s = Setup(tmp_path)
    s.write("settings.py", """
        from sisyphus.localengine import LocalEngine

        def engine():
            return LocalEngine(cpus=2, mem=8)
    """)
    s.write("recipe/toy/__init__.py", "")
    s.write("recipe/toy/jobs.py", TOY_RECIPE)
    return s
