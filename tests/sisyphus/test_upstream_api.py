"""Engine API that code written against upstream Sisyphus expects (docs/SISYPHUS_COMPAT.md).

Settings loading functions, ``tools.cache_result``, the finished-results cache, ``hardlink_or_copy``,
``tk.mktemp``, graph order, the error types of rejected values and the repr of delayed values.
"""
import os
import pickle
import textwrap
import time

import pytest

from sisyphus import Job, Task, tk
from sisyphus import global_settings as gs
from sisyphus.delayed_ops import Delayed, DelayedBase
from sisyphus.graph import OutputPath, SISGraph
from sisyphus.hash import UnhashableError, sis_hash_helper
from sisyphus.job_path import Path, Variable
from sisyphus.tools import FinishedResultsCache, cache_result, finished_results_cache, hardlink_or_copy


@pytest.fixture
def restore_gs():
    """Settings tests write into ``gs``: put every attribute back afterwards."""
    saved = dict(vars(gs))
    yield gs
    for name in set(vars(gs)) - set(saved):
        delattr(gs, name)
    vars(gs).update(saved)


# ---------------------------------------------------------------------- settings
def test_settings_file_is_executed_in_gs_and_recorded(tmp_path, restore_gs):
    settings = tmp_path / "extra_settings.py"
    text = textwrap.dedent("""\
        MY_BEAM = 12
        DEFAULT_ENVIRONMENT_SET["PATH"] += ":/opt/tools"

        def my_hook():
            return MY_BEAM * 2
    """)
    settings.write_text(text)
    path_before = gs.DEFAULT_ENVIRONMENT_SET["PATH"]
    gs.DEFAULT_ENVIRONMENT_SET = dict(gs.DEFAULT_ENVIRONMENT_SET)  # restore_gs puts the original back
    gs.GLOBAL_SETTINGS_FILE_CONTENT = ""

    gs.update_global_settings_from_file(str(settings))

    assert gs.MY_BEAM == 12
    assert gs.DEFAULT_ENVIRONMENT_SET["PATH"] == path_before + ":/opt/tools"
    assert gs.my_hook() == 24
    # a function from a settings file belongs to gs, so a job holding it can be saved for a worker
    assert pickle.loads(pickle.dumps(gs.my_hook)) is gs.my_hook
    assert gs.GLOBAL_SETTINGS_FILE_CONTENT == f"##### Settings file: {settings} #####\n{text}\n"

    gs.update_global_settings_from_file(str(tmp_path / "missing.py"), warn_missing=False)
    assert gs.GLOBAL_SETTINGS_FILE_CONTENT.count("#####") == 2  # nothing added for a missing file


def test_environment_overrides_are_parsed_and_recorded(monkeypatch, restore_gs):
    for key in [k for k in os.environ if k.startswith("SIS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SIS_MY_COUNT", "7")
    monkeypatch.setenv("SIS_MY_NAME", "dev-clean")  # not a literal: stays a string
    monkeypatch.setenv("SIS_MY_QUOTED", "'7'")
    monkeypatch.setenv("SIS_IMPORT_PATHS", "recipe:extra/recipes")
    monkeypatch.setenv("SIS_COMMAND", "python -m sisyphus")  # never a setting: must stay a list
    command_before = gs.SIS_COMMAND
    gs.GLOBAL_SETTINGS_FILE_CONTENT = ""

    gs.update_global_settings_from_env()

    assert gs.MY_COUNT == 7 and gs.MY_NAME == "dev-clean" and gs.MY_QUOTED == "7"
    assert gs.IMPORT_PATHS == ["recipe", "extra/recipes"]
    assert gs.SIS_COMMAND == command_before
    assert gs.ENVIRONMENT_SETTINGS["SIS_MY_COUNT"] == "7"
    lines = gs.GLOBAL_SETTINGS_FILE_CONTENT.splitlines()
    assert lines[0] == "##### Settings from environment #####"
    assert sorted(lines[1:]) == ["IMPORT_PATHS = ['recipe', 'extra/recipes']", "MY_COUNT = 7",
                                 "MY_NAME = 'dev-clean'", "MY_QUOTED = '7'"]


# ---------------------------------------------------------------------- cache_result
def test_cache_result_keeps_results_per_arguments_until_they_expire():
    calls = []

    @cache_result(0.3, force_update="refresh", clear_cache="forget")
    def lookup(name, scale=1):
        calls.append((name, scale))
        return f"{name}x{scale}#{len(calls)}"

    first = lookup("a")
    assert lookup("a") == first and calls == [("a", 1)]
    assert lookup("a", scale=2) != first  # other arguments, other entry
    assert lookup("b") != first
    assert len(calls) == 3

    forced = lookup("a", refresh=True)  # recomputed; the keyword is not passed on
    assert forced != first and calls[-1] == ("a", 1)
    assert lookup("a") == forced

    assert lookup(forget=True) is None  # empties the cache without calling
    assert lookup("a") not in (first, forced)

    n = len(calls)
    time.sleep(0.4)
    lookup("a")
    assert len(calls) == n + 1  # expired


def test_cache_result_on_a_method_is_per_instance_and_accepts_unhashable_arguments():
    class Queue:
        def __init__(self, name):
            self.name = name
            self.asked = 0

        @cache_result(60)
        def listing(self, filters):
            self.asked += 1
            return [self.name, *filters]

    q1, q2 = Queue("q1"), Queue("q2")
    assert q1.listing(["gpu"]) == ["q1", "gpu"]
    assert q1.listing(["gpu"]) == ["q1", "gpu"] and q1.asked == 1  # list argument: keyed by repr
    assert q2.listing(["gpu"]) == ["q2", "gpu"] and q2.asked == 1


# ---------------------------------------------------------------------- finished-results cache
def test_finished_results_cache_only_stores_wanted_results_and_only_when_enabled(monkeypatch, tmp_path):
    cache = FinishedResultsCache(str(tmp_path / "cache.pkl"))
    answers = {"done": True, "busy": False}
    asked = []

    @cache.caching(get_key=lambda name: ("job", name))
    def finished(name):
        asked.append(name)
        return answers[name]

    monkeypatch.setattr(gs, "CACHE_FINISHED_RESULTS", False)
    finished("done"), finished("done")
    assert asked == ["done", "done"] and len(cache) == 0  # disabled: a plain call

    monkeypatch.setattr(gs, "CACHE_FINISHED_RESULTS", True)
    asked.clear()
    assert finished("done") and finished("done")
    assert not finished("busy") and not finished("busy")
    assert asked == ["done", "busy", "busy"]  # only True is kept: "busy" may still change
    assert ("job", "done") in cache and ("job", "busy") not in cache

    cache.write_to_file()
    reloaded = FinishedResultsCache(str(tmp_path / "cache.pkl"))
    reloaded.read_from_file()
    assert reloaded[("job", "done")] is True and not reloaded.changed

    @cache.caching(get_key=lambda: ("value", "scores"), cache_if=lambda res: True, copy_hits=True)
    def scores():
        return [1, 2]

    scores().append(3)  # a caller modifying the first result ...
    scores().append(4)  # ... or a hit does not change what is stored
    assert scores() == [1, 2] and cache[("value", "scores")] == [1, 2]

    cache.reset()
    assert len(cache) == 0 and cache.changed


def test_finished_results_cache_forgets_a_job_and_survives_a_broken_file(tmp_path, monkeypatch):
    monkeypatch.setattr(gs, "BASE_DIR", str(tmp_path))
    cache = FinishedResultsCache(str(tmp_path / "cache.pkl"))
    cache[("job", "work/a/Train.x1")] = True
    cache[("available", "work/a/Train.x1/output/model")] = True
    cache[("value", "work/a/Train.x10/output/wer")] = 7.5  # a different job with a longer id
    cache.forget_job(str(tmp_path / "work/a/Train.x1"))  # an absolute path works as well
    assert list(cache.cache) == [("value", "work/a/Train.x10/output/wer")]

    (tmp_path / "cache.pkl").write_bytes(b"not a pickle")
    cache.read_from_file()  # warns, keeps what it has
    assert list(cache.cache) == [("value", "work/a/Train.x10/output/wer")]


class Produce(Job):
    """Writes ``text`` into ``out`` and the text's length into ``length``."""

    def __init__(self, *, text, inputs=()):
        self.text = text
        self.inputs = list(inputs)
        self.out = self.output_path("out.txt")
        self.length = self.output_var("length")

    def tasks(self):
        yield Task("run", mini_task=True)

    def run(self):
        with open(self.out.get_path(), "w") as f:
            f.write(self.text)
        self.length.set(len(self.text))


def test_job_state_goes_through_the_finished_results_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(gs, "BASE_DIR", str(tmp_path))
    monkeypatch.setattr(gs, "CACHE_FINISHED_RESULTS", True)
    finished_results_cache.reset()
    try:
        job = Produce(text="cached")
        job_dir = tmp_path / job._sis_path()
        (job_dir / "output").mkdir(parents=True)
        (job_dir / "output" / "out.txt").write_text("cached")
        job.length.set(6)
        assert not job._sis_finished() and not job.out.available()
        assert job.length.get() == 6  # the job is not finished: the value is read but not kept
        assert ("value", job.length.rel_path()) not in finished_results_cache

        (job_dir / "finished").touch()
        assert job._sis_finished() and job.out.available() and job.length.get() == 6
        assert finished_results_cache[("job", job._sis_path())] is True
        assert finished_results_cache[("available", job.out.rel_path())] is True
        assert finished_results_cache[("value", job.length.rel_path())] == 6

        # a fresh manager (no per-object memory) answers from the cache, not from the files
        (job_dir / "finished").unlink()
        (job_dir / "output" / "length").write_text("99\n")
        job._sis_finished_cache = False
        assert job._sis_finished() and job.length.get() == 6

        tk.remove_job_and_descendants([job], mode="remove", force=True)
        assert ("job", job._sis_path()) not in finished_results_cache
        assert not job._sis_finished()
    finally:
        finished_results_cache.reset()


CACHE_CONFIG = """
from sisyphus import tk
from toy.jobs import WriteNumbers

def py():
    tk.register_output("numbers.txt", WriteNumbers(n=3).out_numbers)
"""


def test_manager_saves_and_trusts_the_finished_results_cache(setup_dir):
    with open(setup_dir.path("settings.py"), "a") as f:
        f.write("\nCACHE_FINISHED_RESULTS = True\n")
    setup_dir.write("config/toy.py", CACHE_CONFIG)
    setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    (job_dir,) = setup_dir.job_dirs("WriteNumbers")
    rel = os.path.relpath(job_dir, setup_dir.root)
    with open(setup_dir.path("finished_results_cache.pkl"), "rb") as f:
        saved = pickle.load(f)
    assert saved[("job", rel)] is True

    # Lose the marker: a manager that trusts its cache leaves the job alone ...
    os.unlink(os.path.join(job_dir, "finished"))
    res = setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert "All output calculated" in res.stderr
    assert not os.path.exists(os.path.join(job_dir, "finished"))
    # ... and without the cache the job runs again
    os.unlink(setup_dir.path("finished_results_cache.pkl"))
    setup_dir.sis("manager", "-r", "config/toy.py", check=True)
    assert os.path.exists(os.path.join(job_dir, "finished"))


# ---------------------------------------------------------------------- files
def test_hardlink_or_copy_links_a_tree_and_keeps_existing_files(tmp_path):
    src = tmp_path / "job"
    (src / "output" / "model").mkdir(parents=True)
    (src / "work" / "empty").mkdir(parents=True)
    (src / "output" / "model" / "weights").write_bytes(b"w" * 100)
    (src / "info").write_text("TAG: x\n")
    dst = tmp_path / "copy"
    dst.mkdir()
    (dst / "info").write_text("mine\n")

    hardlink_or_copy(str(src), str(dst))

    assert (dst / "work" / "empty").is_dir()
    assert os.stat(dst / "output" / "model" / "weights").st_ino == os.stat(src / "output" / "model" / "weights").st_ino
    assert (dst / "info").read_text() == "mine\n"


def test_mktemp_gives_an_unused_name_and_removes_what_was_made_there(tmp_path, monkeypatch):
    monkeypatch.setattr(gs, "TMP_PREFIX", str(tmp_path / "sis_"))
    with tk.mktemp() as name:
        assert not os.path.exists(name) and os.path.basename(os.path.dirname(name)).startswith("sis_")
        with open(name, "w") as f:
            f.write("x")
        open(name + ".gz", "w").close()
    assert not os.path.exists(name) and not os.path.exists(name + ".gz")
    with tk.mktemp() as name:
        os.makedirs(os.path.join(name, "sub"))
    assert not os.path.exists(name)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------- graph
def test_jobs_sorted_puts_inputs_first_in_a_fixed_order():
    a = Produce(text="a")
    b = Produce(text="b")
    ab = Produce(text="ab", inputs=[a.out, b.out])
    ba = Produce(text="ba", inputs=[b.out, a.out])
    top = Produce(text="top", inputs=[ab.out, ba.out, a.out])
    graph = SISGraph()
    graph.add_target(OutputPath("top", top.out))

    order = list(graph.jobs_sorted())
    assert sorted(j._sis_id() for j in order) == sorted(j._sis_id() for j in (a, b, ab, ba, top))
    pos = {j._sis_id(): i for i, j in enumerate(order)}
    for job in order:
        for p in job._sis_inputs:
            assert pos[p.creator._sis_id()] < pos[job._sis_id()]
    assert order[:2] == sorted([a, b], key=lambda j: j._sis_id())
    assert order[-1] is top
    assert [j._sis_id() for j in graph.jobs_sorted()] == [j._sis_id() for j in order]

    assert graph.job_by_id(ab._sis_id()) is ab
    assert graph.job_by_id("toy/Produce.nothere") is None


# ---------------------------------------------------------------------- values
def test_rejected_values_raise_value_and_assertion_errors():
    with pytest.raises(UnhashableError):
        sis_hash_helper(lambda x: x)
    assert issubclass(UnhashableError, ValueError) and issubclass(UnhashableError, AssertionError)
    with pytest.raises(AssertionError):
        Delayed("x").function(lambda s: s)
    with pytest.raises(NotImplementedError):
        DelayedBase(1, 2).get()
    with pytest.raises(AssertionError):
        DelayedBase(1, 2).get()


def test_repr_of_a_delayed_value_is_its_string(tmp_path):
    name = Delayed("dev") + "-other"
    assert repr(name) == str(name) == "dev-other"
    assert f"{[name]}" == "[dev-other]"
    unset = Variable(str(tmp_path / "never_set")) + 1
    assert repr(unset) == "<DelayedAdd (not set)>"


class Stub:
    """Stands in for a job (as a test double would): it has no ``_sis_id``."""

    def __init__(self, name):
        self.name = name

    def _sis_path(self, sub):
        return os.path.join("work", self.name, sub)


def test_path_of_a_stand_in_creator_hashes_the_creator_as_an_object():
    p = Path("model", Stub("train"))
    assert p._sis_hash() == b"(Path, (tuple, (Stub, (dict, (tuple, (str, 'name'), (str, 'train')))), (str, 'model')))"
    job = Produce(text="h")
    assert job.out._sis_hash() == b"(Path, " + sis_hash_helper((job._sis_id() + "/output", "out.txt")) + b")"
