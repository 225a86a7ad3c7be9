"""`sis shortcut …` and tk shortcuts as upstream: clean_unused, clean_jobs, remove_job_and_descendants."""
import os
import tarfile

CHAIN = """
from sisyphus import tk
from toy.jobs import SumNumbers, WriteNumbers

def py():
    nums = WriteNumbers(n={n})
    tk.register_output("numbers.txt", nums.out_numbers)
    tk.register_output("sum", SumNumbers(numbers=nums.out_numbers).out_sum)
"""


def _run_chain(setup_dir, n=4):
    """Run the chain for N; returns the (new) WriteNumbers and SumNumbers dirs."""
    before = set(setup_dir.job_dirs("WriteNumbers") + setup_dir.job_dirs("SumNumbers"))
    setup_dir.write("config/toy.py", CHAIN.format(n=n))
    setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    (w,) = [d for d in setup_dir.job_dirs("WriteNumbers") if d not in before]
    (s,) = [d for d in setup_dir.job_dirs("SumNumbers") if d not in before]
    return w, s


def test_clean_unused_modes(setup_dir):
    old_w, old_s = _run_chain(setup_dir, n=4)
    new_w, new_s = _run_chain(setup_dir, n=5)  # the config changed: the n=4 jobs are unused now
    stray = setup_dir.path("work", "stray_dir")
    os.makedirs(stray)
    # dry run (options after the config file): lists, changes nothing, writes upstream's list files
    res = setup_dir.sis("shortcut", "clean_unused", "config/toy.py", "--mode", "dryrun",
                        "--to_remove", "rm.txt", "--used_path", "used.txt")
    assert res.returncode == 0, res.stderr
    assert "Number of affected directories: 3" in res.stderr
    listed = open(setup_dir.path("rm.txt")).read().split()
    assert sorted(listed) == sorted(os.path.relpath(d, setup_dir.root) for d in (old_w, old_s, stray))
    used = dict(line.rsplit(" ", 1) for line in open(setup_dir.path("used.txt")).read().splitlines())
    assert used[os.path.relpath(new_s, setup_dir.root)] == "-2" and used["work/toy"] == "-4"
    assert os.path.isdir(old_w) and os.path.isdir(stray)
    # without a terminal and without --force nothing is removed
    res = setup_dir.sis("s", "clean_unused", "--mode", "remove", "config/toy.py")
    assert "cannot ask" in res.stderr and os.path.isdir(old_w)
    # move: aside with the postfix; remove: gone. The used jobs and the manager's lock stay.
    res = setup_dir.sis("s", "clean_unused", "--mode", "move", "--force", "config/toy.py", "--load_used_path",
                        "used.txt")
    assert res.returncode == 0, res.stderr
    assert os.path.isdir(old_w + ".cleanup") and not os.path.exists(old_w)
    assert os.path.isdir(stray + ".cleanup")
    res = setup_dir.sis("s", "clean_unused", "config/toy.py", "--force")  # upstream's default mode: remove
    assert not os.path.exists(old_w + ".cleanup") and not os.path.exists(stray + ".cleanup")
    assert os.path.isdir(new_w) and os.path.isdir(new_s)
    assert os.path.exists(setup_dir.path("work", ".sis_manager.lock"))
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "submit" not in res.stderr  # nothing of the used graph had to rerun


def test_clean_jobs_packs_finished_jobs(setup_dir):
    w, s = _run_chain(setup_dir)
    open(os.path.join(w, "work", "scratch"), "w").write("x")
    res = setup_dir.sis("s", "clean_jobs", "config/toy.py")
    assert res.returncode == 0, res.stderr
    assert "cleaned 2 finished job(s)" in res.stderr
    assert sorted(os.listdir(w)) == ["finished.tar.gz", "info", "input", "output"]
    with tarfile.open(os.path.join(w, "finished.tar.gz")) as tar:
        names = tar.getnames()
    assert "finished" in names and "log.run.1" in names and "job.save" in names
    assert open(os.path.join(w, "output", "numbers.txt")).read().split() == ["1", "2", "3", "4"]
    # still finished: the manager runs nothing again, and the outputs are still there
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "submit" not in res.stderr and "All output calculated" in res.stderr
    assert open(setup_dir.path("output", "sum")).read().strip() == "10"
    # a second clean is a no-op
    res = setup_dir.sis("s", "clean_jobs", "config/toy.py")
    assert "cleaned 0 finished job(s)" in res.stderr


def test_remove_job_and_descendants(setup_dir):
    w, s = _run_chain(setup_dir)
    # dryrun lists the job and what depends on it
    res = setup_dir.sis("s", "remove_job_and_descendants", "--job", "WriteNumbers", "--mode", "dryrun",
                        "config/toy.py")
    assert res.returncode == 0, res.stderr
    assert "Deleting the following directories:" in res.stdout
    assert os.path.relpath(w, setup_dir.root) in res.stdout and os.path.relpath(s, setup_dir.root) in res.stdout
    assert os.path.isdir(w) and os.path.isdir(s)
    # no terminal, no --force: nothing happens
    res = setup_dir.sis("s", "remove_job_and_descendants", "config/toy.py", "--job", "WriteNumbers")
    assert "cannot ask" in res.stdout and os.path.isdir(w)
    # a path: only the jobs using it go (not its creator); move puts them aside
    res = setup_dir.sis("s", "remove_job_and_descendants", "config/toy.py", "--path", "numbers.txt",
                        "--mode", "move", "--force")
    assert res.returncode == 0, res.stderr
    assert os.path.isdir(w) and not os.path.exists(s) and os.path.isdir(s + ".cleared.0001")
    # a job: it and its descendants are deleted
    setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    res = setup_dir.sis("s", "remove_job_and_descendants", "--job", "WriteNumbers", "--force", "config/toy.py")
    assert not os.path.exists(w) and not os.path.exists(s) and os.path.isdir(s + ".cleared.0001")
    # nothing set up any more: says so
    res = setup_dir.sis("s", "remove_job_and_descendants", "--job", "WriteNumbers", "--force", "config/toy.py")
    assert "No job depending on input is setup" in res.stdout


def test_tk_remove_job_and_descendants_in_console(setup_dir):
    w, s = _run_chain(setup_dir)
    res = setup_dir.sis("console", "config/toy.py", "--script", "-c",
                        "gone = tk.remove_job_and_descendants(tk.find_job('WriteNumbers'), 'move', force=True); "
                        "print('GONE', len(gone))")
    assert res.returncode == 0, res.stderr
    assert "GONE 2" in res.stdout
    assert os.path.isdir(w + ".cleared.0001") and os.path.isdir(s + ".cleared.0001")


def test_options_after_and_between_config_files(setup_dir):
    setup_dir.write("config/a.py", """
        from sisyphus import tk
        from toy.jobs import WriteNumbers

        def py():
            tk.register_output("a.txt", WriteNumbers(n=2).out_numbers)
    """)
    setup_dir.write("config/b.py", """
        from sisyphus import tk
        from toy.jobs import WriteNumbers

        def py():
            tk.register_output("b.txt", WriteNumbers(n=3).out_numbers)
    """)
    res = setup_dir.sis("manager", "config/a.py", "-r", "config/b.py")
    assert res.returncode == 0, res.stderr
    assert os.path.exists(setup_dir.path("output", "a.txt")) and os.path.exists(setup_dir.path("output", "b.txt"))
    res = setup_dir.sis("manager", "config/a.py", "--no-such-option")
    assert res.returncode == 2 and "unrecognized arguments: --no-such-option" in res.stderr
