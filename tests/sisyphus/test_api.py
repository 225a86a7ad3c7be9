"""Engine API pieces: tasks, variables, delayed values, reports, tries, engine selection."""
import copy
import gzip
import os
import pickle

import pytest

from sisyphus import Job, Task, tk
from sisyphus.delayed_ops import Delayed, DelayedFormat
from sisyphus.hash import sis_hash_helper
from sisyphus.job_path import Variable, VariableNotSet
from sisyphus.task import normalize_mem, normalize_time


class Echo(Job):
    def __init__(self, *, value, extra=None):
        self.value = value
        self.out = self.output_path("out")

    def tasks(self):
        yield Task("run", args=range(1, 8), parallel=3)

    def run(self, i):
        pass


def test_task_chunks_and_ids():
    job = Echo(value=1)
    (task,) = job._sis_tasks()
    assert task.task_ids() == [1, 2, 3]
    chunks = [task.args_for(i) for i in task.task_ids()]
    assert chunks == [[[1], [2], [3]], [[4], [5]], [[6], [7]]]
    assert task.task_name() == f"{job._sis_id()}.run"


def test_task_rqmt_normalisation_and_overrides():
    assert normalize_mem("512M") == 0.5 and normalize_mem("2G") == 2.0 and normalize_mem(3) == 3.0
    assert normalize_time("1:30:00") == 1.5 and normalize_time(2) == 2.0
    job = Echo(value=2)
    job.update_rqmt("run", {"mem": "4G"})
    assert job._sis_tasks()[0].rqmt() == {"mem": 4.0}
    job.set_rqmt("run", {"cpu": 2})
    assert job._sis_tasks()[0].rqmt() == {"cpu": 2}
    t = Task("run", mini_task=True)
    t.set_job(Echo(value=3))
    assert t.rqmt()["engine"] == "short"
    with pytest.raises(AttributeError, match="does not exist"):
        Task("nope").set_job(Echo(value=4))


def test_job_identity_survives_copy_and_pickle():
    job = Echo(value=[1, 2])
    assert copy.deepcopy(job) is job
    assert pickle.loads(pickle.dumps(job)) is job
    assert Echo(value=[1, 2]) is job
    assert Echo(value=[1, 2], extra=None) is job
    assert Echo(value=[1, 3]) is not job
    assert sis_hash_helper(job) == job._sis_id().encode()


def test_inputs_are_collected_from_arguments():
    a = Echo(value="a")
    b = Echo(value={"x": [a.out]})
    assert a.out in b._sis_inputs
    assert all(b in p.users for p in b._sis_inputs)
    assert b.out not in b._sis_inputs


def test_variable_roundtrip(tmp_path):
    v = Variable(str(tmp_path / "v"))
    with pytest.raises(VariableNotSet):
        v.get()
    v.set({"wer": 7.25, "n": float("nan")})
    got = v.get()
    assert got["wer"] == 7.25 and got["n"] != got["n"]
    p = Variable(str(tmp_path / "p"), pickle=True)
    p.set([1, 2])
    assert p.get() == [1, 2]
    with gzip.open(str(tmp_path / "p"), "rb") as f:
        assert pickle.load(f) == [1, 2]
    job = Echo(value="var")
    assert job.output_var("maybe").get() is None  # output_var defaults to backup=None


def test_delayed_values(tmp_path):
    v = Variable(str(tmp_path / "x"))
    v.set(4)
    d = (v + 1) * 2
    assert d.get() == 10
    assert DelayedFormat("{}-{}", v, "a").get() == "4-a"
    assert (v // 3).get() == 1 and round(v / 3, 2).get() == 1.33
    assert sis_hash_helper(Delayed(5)) == sis_hash_helper(5)
    with pytest.raises(ValueError, match="lambda"):
        v.function(lambda x: x)


def test_setup_path_hash_independent_of_location():
    rel = tk.setup_path("sisyphus")
    p = rel("job.py")
    assert p._sis_hash() == b"(Path, (tuple, (NoneType), (str, 'sisyphus/job.py')))"
    assert os.path.exists(p.get_path())


def test_register_output_rejects_non_paths():
    import pathlib

    with pytest.raises(TypeError, match="pathlib"):
        tk.register_output("x", pathlib.Path("/tmp"))
    with pytest.raises(TypeError):
        tk.register_output("x", "/tmp/file")


def test_env_overrides_settings(tmp_path):
    import subprocess
    import sys

    (tmp_path / "settings.py").write_text("WAIT_PERIOD_BETWEEN_CHECKS = 7\nMY_OPTION = 'a'\n")
    env = dict(os.environ, SIS_MY_OPTION="[1, 2]")
    out = subprocess.run([sys.executable, "-c", "from sisyphus import gs; print(gs.WAIT_PERIOD_BETWEEN_CHECKS, "
                          "gs.MY_OPTION)"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["7", "[1,", "2]"]


def test_engine_selector_routes_by_rqmt():
    from sisyphus.engine import EngineSelector
    from sisyphus.localengine import LocalEngine

    short, long = LocalEngine(cpus=1), LocalEngine(cpus=2)
    sel = EngineSelector(engines={"short": short, "long": long}, default_engine="long")
    assert sel.get_used_engine_by_rqmt({"engine": "short"}) is short
    assert sel.get_used_engine_by_rqmt({}) is long
    assert short.wakeup is sel.wakeup


def test_local_engine_rejects_impossible_requests():
    from sisyphus.engine import SubmissionError
    from sisyphus.localengine import LocalEngine

    eng = LocalEngine(cpus=2, gpus=0)
    with pytest.raises(SubmissionError, match="gpu=1"):
        eng.submit_call(["true"], "/tmp/x/log.run", {"cpu": 1, "gpu": 1}, "n", "job.run", [1])


SCRIPT_CONFIG = """
from sisyphus import tk
from toy.jobs import SumNumbers, WriteNumbers

def py():
    s = SumNumbers(numbers=WriteNumbers(n=4).out_numbers)
    tk.register_report("report.txt", {"sum": s.out_sum})
    tk.register_output("sum", s.out_sum)
"""


def test_report_written_and_console_script(setup_dir):
    setup_dir.write("config/toy.py", SCRIPT_CONFIG)
    setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert open(setup_dir.path("output", "report.txt")).read() == "{'sum': <Variable " + \
        os.path.relpath(setup_dir.job_dirs("SumNumbers")[0], setup_dir.root) + "/output/sum 10>}\n"
    res = setup_dir.sis("console", "--script", "-c", "print('JOBS', len(tk.sis_graph.jobs()))", "config/toy.py",
                        check=True)
    assert "JOBS 2" in res.stdout


def test_tries_retry_a_failing_task(setup_dir):
    setup_dir.write("recipe/toy/flaky.py", """
        import os
        from sisyphus import Job, Task

        class Flaky(Job):
            def __init__(self, *, fail_times):
                self.fail_times = fail_times
                self.out = self.output_path("ok")

            def tasks(self):
                yield Task("run", tries=3)

            def run(self):
                n = len(open("attempts").read()) if os.path.exists("attempts") else 0
                open("attempts", "a").write("x")
                if n < self.fail_times:
                    raise RuntimeError(f"attempt {n} fails")
                open(self.out.get_path(), "w").write("ok")
    """)
    setup_dir.write("config/toy.py", """
        from sisyphus import tk
        from toy.flaky import Flaky

        def py():
            tk.register_output("ok", Flaky(fail_times=2).out)
    """)
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "retrying (try 3 of 3)" in res.stderr
    job_dir = [d for d in os.listdir(setup_dir.path("work", "toy", "flaky"))][0]
    files = os.listdir(setup_dir.path("work", "toy", "flaky", job_dir))
    assert {"log.run.1.error.01", "log.run.1.error.02"} <= set(files)


def test_hold_marker_blocks_submission(setup_dir):
    setup_dir.write("config/toy.py", SCRIPT_CONFIG)
    setup_dir.sis("console", "--script", "-c", "[tk.setup_job_directory(j) for j in tk.sis_graph.jobs()]",
                  "config/toy.py", check=True)
    (write_dir,) = setup_dir.job_dirs("WriteNumbers")
    open(os.path.join(write_dir, "hold"), "w").close()
    res = setup_dir.sis("manager", "-r", "config/toy.py")
    assert res.returncode != 0
    assert "hold: Job<" in res.stderr
    assert not os.path.exists(os.path.join(write_dir, "log.run.1"))


def test_tk_run_runs_a_graph_in_script_mode(setup_dir):
    import subprocess
    import sys

    setup_dir.write("script.py", """
        import sys
        from sisyphus import tk
        tk.setup_script_mode()
        from toy.jobs import SumNumbers, WriteNumbers
        s = SumNumbers(numbers=WriteNumbers(n=5).out_numbers)
        tk.run(s.out_sum, quiet=True)
        print("SUM", s.out_sum.get())
    """)
    res = subprocess.run([sys.executable, "script.py"], cwd=setup_dir.root, env=setup_dir.env(),
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "SUM 15" in res.stdout

