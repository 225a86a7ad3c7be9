"""A full disk: the worker names it, the manager says what to do, a plain rerun recovers.

ENOSPC is produced for real by writing to /dev/full (the kernel's always-full device) while a flag
file exists; removing the flag is "freeing space". A second test uses a real small tmpfs when the
test may mount one (root in CI)."""
import os
import shutil
import subprocess

import pytest

FULL_DISK_RECIPE = '''
import os

from sisyphus import Job, Task


class WriteOrFail(Job):
    """Writes `text`; while `full_flag` exists the write goes to /dev/full (ENOSPC)."""

    def __init__(self, *, text, full_flag):
        self.text = text
        self.full_flag = full_flag
        self.out = self.output_path("out.txt")

    def tasks(self):
        yield Task("run", resume="run")

    def run(self):
        with open("attempts", "a") as f:
            f.write("x\\n")
        target = "/dev/full" if os.path.exists(self.full_flag) else self.out.get_path()
        with open(target, "w") as f:
            f.write(self.text)
            f.flush()
'''

CONFIG = """
from sisyphus import tk
from toy.jobs import WriteNumbers
from toy.full import WriteOrFail

def py():
    tk.register_output("numbers.txt", WriteNumbers(n=3).out_numbers)
    tk.register_output("out.txt", WriteOrFail(text="hello", full_flag={flag!r}).out)
"""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_is_reported_once_and_a_plain_rerun_recovers(setup_dir):
    flag = setup_dir.path("disk_is_full")
    open(flag, "w").close()
    setup_dir.write("recipe/toy/full.py", FULL_DISK_RECIPE)
    setup_dir.write("config/full.py", CONFIG.format(flag=flag))

    res = setup_dir.sis("manager", "-r", "config/full.py")
    assert res.returncode != 0
    (job,) = _job_dirs(setup_dir, "WriteOrFail")
    assert os.path.exists(os.path.join(job, "error.run.1"))
    assert "sis worker: No space left on device: /dev/full" in open(os.path.join(job, "log.run.1")).read()
    assert res.stderr.count("No space left on device; free space and run the manager again") == 1, res.stderr
    assert open(setup_dir.path("output", "numbers.txt")).read() == "1\n2\n3\n"  # the rest of the graph ran

    os.unlink(flag)  # space freed: no -ce needed, and the finished job is not touched
    numbers_job = _job_dirs(setup_dir, "WriteNumbers")[0]
    before = os.path.getmtime(os.path.join(numbers_job, "finished"))
    res = setup_dir.sis("manager", "-r", "config/full.py")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "stopped on a full disk" in res.stderr
    assert open(setup_dir.path("output", "out.txt")).read() == "hello"
    assert open(os.path.join(job, "work", "attempts")).read() == "x\nx\n"
    assert os.path.exists(os.path.join(job, "log.run.1.error.01"))  # the failed run's log is kept
    assert os.path.getmtime(os.path.join(numbers_job, "finished")) == before


def test_a_real_error_is_not_retried_as_a_full_disk(setup_dir):
    setup_dir.write("config/boom.py", """
        from sisyphus import tk
        from toy.jobs import Explode

        def py():
            tk.register_output("never", Explode(message="not a disk problem").out)
    """)
    assert setup_dir.sis("manager", "-r", "config/boom.py").returncode != 0
    res = setup_dir.sis("manager", "-r", "config/boom.py")
    assert res.returncode != 0 and "full disk" not in res.stderr and "No space left" not in res.stderr


def _can_mount_tmpfs(where):
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    os.makedirs(where, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", where], capture_output=True).returncode == 0
    return ok


def test_real_small_tmpfs(setup_dir):
    """The same on a real 1 MB tmpfs as the job's output directory's file system."""
    mnt = setup_dir.path("small_fs")
    if not _can_mount_tmpfs(mnt):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        setup_dir.write("recipe/toy/big.py", '''
from sisyphus import Job, Task


class WriteBig(Job):
    def __init__(self, *, target, megabytes):
        self.target = target
        self.megabytes = megabytes
        self.out = self.output_path("done")

    def tasks(self):
        yield Task("run", resume="run")

    def run(self):
        with open(self.target, "wb") as f:
            for _ in range(self.megabytes):
                f.write(b"0" * 2 ** 20)
        open(self.out.get_path(), "w").close()
''')
        target = os.path.join(mnt, "big.bin")
        setup_dir.write("config/big.py", f"""
            from sisyphus import tk
            from toy.big import WriteBig

            def py():
                tk.register_output("done", WriteBig(target={target!r}, megabytes=2).out)
        """)
        res = setup_dir.sis("manager", "-r", "config/big.py")
        assert res.returncode != 0
        assert "No space left on device; free space and run the manager again" in res.stderr
        subprocess.run(["umount", mnt], check=True)  # "freeing space": the plain directory has room
        res = setup_dir.sis("manager", "-r", "config/big.py")
        assert res.returncode == 0, res.stderr[-3000:]
        assert os.path.getsize(target) == 2 * 2 ** 20
    finally:
        subprocess.run(["umount", mnt], capture_output=True)


def _job_dirs(setup_dir, cls_name):
    out = []
    for root, dirs, _ in os.walk(setup_dir.path("work")):
        out += [os.path.join(root, d) for d in dirs if d.startswith(cls_name + ".")]
        if out:
            break
    return sorted(out)


HIDDEN_ENOSPC_RECIPE = '''
from sisyphus import Job, Task


class WriteHidingErrors(Job):
    """Fills its own work directory and reports the failure as a library that hides errno would."""

    def __init__(self, *, megabytes):
        self.megabytes = megabytes
        self.out = self.output_path("done")

    def tasks(self):
        yield Task("run", resume="run")

    def run(self):
        failed = False
        try:
            with open("big.bin", "wb") as f:
                for _ in range(self.megabytes):
                    f.write(b"0" * 2 ** 20)
        except OSError:
            failed = True
        if failed:  # raised outside the handler: no exception chain leads to the ENOSPC, as from C code
            raise RuntimeError("libfoo: System error")
        open(self.out.get_path(), "w").close()
'''


def test_a_full_disk_behind_a_library_error_is_recognised(setup_dir):
    """libsndfile, torch.save or a tool's exit status hide the ENOSPC: a failed task whose job
    directory's file system is full counts as stopped by a full disk, and is retried once there is room."""
    work = setup_dir.path("work")
    if not _can_mount_tmpfs(work):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        subprocess.run(["mount", "-o", "remount,size=4m", work], check=True)
        setup_dir.write("recipe/toy/hiding.py", HIDDEN_ENOSPC_RECIPE)
        setup_dir.write("config/hiding.py", """
            from sisyphus import tk
            from toy.hiding import WriteHidingErrors

            def py():
                tk.register_output("done", WriteHidingErrors(megabytes=8).out)
        """)
        res = setup_dir.sis("manager", "-r", "config/hiding.py")
        assert res.returncode != 0
        assert res.stderr.count("No space left on device; free space and run the manager again") == 1, res.stderr
        (job,) = _job_dirs(setup_dir, "WriteHidingErrors")
        log = open(os.path.join(job, "log.run.1")).read()
        assert "libfoo: System error" in log and "sis worker: No space left on device: " in log
        assert "its file system has" in log
        subprocess.run(["mount", "-o", "remount,size=64m", work], check=True)  # space freed
        res = setup_dir.sis("manager", "-r", "config/hiding.py")
        assert res.returncode == 0, res.stderr[-3000:]
        assert "stopped on a full disk" in res.stderr
    finally:
        subprocess.run(["umount", "-l", work], capture_output=True)
