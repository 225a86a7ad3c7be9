"""The engine API that i6_core (rwth-i6/i6_core) relies on, exercised with our own small jobs.

A sweep of i6_core turned up these uses beyond the basics: ``sisyphus.http_server.object_to_html``
(imported by ``i6_core.rasr.crp``, so by every RASR module), ``Job.sh(cmd, True)`` with the
options passed positionally, ``except_return_codes=(141,)`` for ``head`` in a pipe,
``Path.estimate_text_size()`` called from ``tasks()``, ``Path.size/lines/is_zipped``,
``tk.is_path``, ``Path.hash_overwrite`` assigned after construction, the ``repr`` of Variables in
reports, and clear errors for arguments that cannot be hashed. None of this imports i6_core;
``test_i6core_chain_matches_upstream`` runs a real i6_core chain only when ``I6_CORE_DIR`` points
to a clone of it (and compares with upstream Sisyphus when ``SISYPHUS_UPSTREAM_DIR`` is set).
"""
import gzip
import logging
import os
import pickle
import shutil
import subprocess
import sys
import warnings

import pytest

from sisyphus import Job, Task, gs, tk
from sisyphus.delayed_ops import Delayed, DelayedFormat, DelayedJoin
from sisyphus.http_server import object_to_html
from sisyphus.job import JobCreationError
from sisyphus.job_path import Path, Variable
from sisyphus.tools import extract_paths, try_get


class Producer(Job):
    """An output whose hash is overwritten after construction, as i6_core's HeadJob does."""

    def __init__(self, *, n):
        self.n = n
        self.out = self.output_path("out")
        self.out.hash_overwrite = (self, "out.gz")
        self.out_plain = self.output_path("plain")


class Consumer(Job):
    def __init__(self, text, lines=None):
        self.text = text
        self.lines = lines
        self.out = self.output_path("o")


class Shell(Job):
    def __init__(self, *, word):
        self.word = word
        self.out = self.output_path("o")


class Checked(Job):
    """Refuses bad input with ``assert``, as i6_core's HeadJob does (neither num_lines nor ratio)."""

    def __init__(self, *, num_lines=None):
        assert num_lines is not None, "need num_lines"
        self.out = self.output_path("out")


class Renders:
    """An object with its own ``html()``, like i6_core's CommonRasrParameters."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def html(self):
        return object_to_html(self.__dict__)


class SelfRef:
    def __init__(self):
        self.me = self


# ---------------------------------------------------------------------- http_server.object_to_html
def test_object_to_html_follows_upstreams_rules():
    job = Producer(n=1)
    jid = job._sis_id()
    assert object_to_html(3) == "3" and object_to_html(True) == "True"
    assert object_to_html("a<b") == "&#x27;a&lt;b&#x27;"  # repr, escaped
    assert object_to_html([1, "x"]) == '<table>\n<tr><td align="left">1</td></tr>\n' \
                                       '<tr><td align="left">&#x27;x&#x27;</td></tr>\n</table>'
    assert object_to_html({3, 1, 2}).index(">1<") < object_to_html({3, 1, 2}).index(">3<")  # sets sorted
    d = object_to_html({"b": 2, "a": 1})
    assert d.index("&#x27;a&#x27;") < d.index("&#x27;b&#x27;") and d.count("<tr>") == 2
    assert d.count('<td align="left">') == 4  # key and value cells
    assert object_to_html([]) == '<table>\n<tr><td align="left">None</td></tr>\n</table>'
    assert object_to_html(job) == f'<a href="/info/{jid}">{jid}</a>'
    assert object_to_html(job.out_plain) == f'plain : <a href="/info/{jid}">{jid}</a>'
    assert object_to_html(Path("data/in.txt")) == "data/in.txt"
    assert object_to_html(None) == "None"
    assert object_to_html(ValueError("x\ny<")) == "x<br/>y&lt;"


def test_object_to_html_uses_html_methods_and_survives_cycles():
    inner = Renders(corpus="c.xml")
    outer = Renders(base=inner, concurrent=4)
    html = object_to_html(outer)
    assert "&#x27;c.xml&#x27;" in html and "&#x27;concurrent&#x27;" in html
    assert html.count("<table>") == 2  # the nested object rendered itself as a table
    loop = [1]
    loop.append(loop)
    assert "..." in object_to_html(loop)


# ---------------------------------------------------------------------- Job.sh / tools.sh
def test_sh_options_are_positional_in_upstreams_order(tmp_path):
    job = Shell(word="hi")
    # sh(command, capture_output, pipefail, executable, except_return_codes)
    assert job.sh("echo {word} {extra}", True, extra="there") == "hi there\n"
    assert job.sh("true") is None
    with pytest.raises(subprocess.CalledProcessError):
        job.sh("false | true")  # pipefail by default
    assert job.sh("false | true", False, False) is None  # pipefail off
    # an explicit executable runs the command as is (no bash prefix): sh has no pipefail option
    assert job.sh("echo $0", True, True, "/bin/sh") == "/bin/sh\n"
    assert job.sh("echo out; echo err >&2", True, include_stderr=True) == "out\nerr\n"


def test_sh_except_return_codes_add_to_zero():
    job = Shell(word="x")
    # i6_core's HeadJob: `head` closes the pipe, the writer dies of SIGPIPE (141) under pipefail
    assert job.sh("yes | head -n 2", True, except_return_codes=(141,)) == "y\ny\n"
    assert job.sh("exit 0", except_return_codes=(141,)) is None  # 0 still succeeds
    assert job.sh("echo part; exit 3", True, except_return_codes=(3,)) == "part\n"
    with pytest.raises(subprocess.CalledProcessError) as e:
        job.sh("exit 2", except_return_codes=(141,))
    assert e.value.returncode == 2
    assert tk.sh("echo {a}", True, a=5) == "5\n"


# ---------------------------------------------------------------------- deprecated Path helpers
def test_path_size_lines_is_zipped_estimate_text_size(tmp_path, caplog):
    plain = tmp_path / "t.txt"
    plain.write_text("a\nbb\nccc\n")
    zipped = tmp_path / "t.txt.gz"
    with gzip.open(zipped, "wt") as f:
        f.write("x\n" * 50)
    p, z = Path(str(plain)), Path(str(zipped))
    with pytest.warns(DeprecationWarning, match="Path.size"):
        assert p.size() == 9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert p.is_zipped() is False and z.is_zipped() is True
        assert p.lines() == 3 and z.lines() == 50
        assert p.estimate_text_size() == 9
        assert z.estimate_text_size() == int(os.path.getsize(zipped) * 3.5)
        assert Path(str(tmp_path / "missing")).is_zipped() is None
        with pytest.raises(AssertionError, match="not ready"):
            Path(str(tmp_path / "missing")).size()
        misnamed = tmp_path / "plain.gz"
        misnamed.write_text("not gzip\n")
        with caplog.at_level(logging.WARNING):
            assert Path(str(misnamed)).is_zipped() is False
        assert "not zipped, but ends with gz" in caplog.text


# ---------------------------------------------------------------------- toolkit, paths, variables
def test_tk_is_path():
    assert tk.is_path(tk.Path("a")) and tk.is_path(Producer(n=2).out)
    assert not tk.is_path(Variable("v")) and not tk.is_path("a") and not tk.is_path(None)


def test_hash_overwrite_assigned_later_hashes_as_upstream():
    # ids computed with upstream Sisyphus 21ba684 for the same classes (same module name) and arguments
    p = Producer(n=3)
    assert p._sis_id().endswith("/Producer.Dl2ygchhth5t")
    assert Consumer(p.out)._sis_id().endswith("/Consumer.9xmmCcDk1WDA")
    assert Consumer(p.out_plain)._sis_id().endswith("/Consumer.LSQ0i9l20zif")
    late = tk.Path("input/a.txt")
    late.hash_overwrite = "fixed/name.txt"
    assert late.hash_overwrite == (None, "fixed/name.txt")
    assert Consumer(late)._sis_id().endswith("/Consumer.0D9KXKX2NT1Z")
    assert Consumer(tk.Path("elsewhere.txt", hash_overwrite="fixed/name.txt")) is Consumer(late)
    with pytest.raises(AssertionError):
        late.hash_overwrite = ("too", "many", "parts")
    # a path pickled before hash_overwrite became a property still loads
    old = Path.__new__(Path)
    old.__setstate__({"path": "x", "creator": None, "cached": False, "hash_overwrite": (None, "y"),
                      "_tags": None, "_available": None})
    assert old.hash_overwrite == (None, "y") and old.users == set()
    other = Path("z")
    other.add_user(p)
    assert other.users == {p}


def test_variable_repr_unset_value_and_gzip_header(tmp_path, monkeypatch):
    v = Variable(str(tmp_path / "param"), pickle=True)
    v.set("b")
    assert repr(v) == f"<Variable {tmp_path / 'param'} b>"  # str of the value, as upstream's reports show
    with open(tmp_path / "param", "rb") as f:
        head = f.read(64)
    assert head[3] & 0x08 and head[10:].startswith(b"param\x00")  # final name in the header, not a tmp name
    monkeypatch.setattr(gs, "LEGACY_VARIABLE_CONVERSION", True)
    assert repr(v) == "'b'"
    monkeypatch.setattr(gs, "LEGACY_PATH_CONVERSION", True)
    assert repr(Path(str(tmp_path / "f"))) == repr(str(tmp_path / "f"))
    monkeypatch.setattr(gs, "RAISE_VARIABLE_NOT_SET_EXCEPTION", False)
    unset = Variable(str(tmp_path / "unset"))
    assert unset.get() == f"<UNFINISHED VARIABLE: {tmp_path / 'unset'}>"
    s = Variable(str(tmp_path / "s"))
    s.set({1, 2})
    assert s.get() == {1, 2}
    s.set(set())
    assert s.get() == set()  # reading back needs builtins, as upstream's eval has them


# ---------------------------------------------------------------------- the rest of i6_core's sweep
def test_job_and_toolkit_helpers_i6_core_calls():
    """Further names i6_core uses (mm/tdp, meta/mm_sequence, rasr/flow, datasets, text/processing …);
    the values are what upstream Sisyphus 21ba684 gives for the same calls."""
    job = Producer(n=11)
    p = tk.Path("/data/in.txt")
    job.add_input(p)
    assert job in p.users
    job.keep_value(33)
    assert job.keep_value() == 33
    job.set_vis_name("Vis")
    assert job.get_vis_name() == "Vis"
    assert p.get_cached_path() == p.get_path() and gs.file_caching("/a/b") == "/a/b"
    assert DelayedJoin([tk.Path("/r/p"), "/f"], ";").get() == "/r/p;/f"
    assert extract_paths({"a": [p, (job.out,)], "b": DelayedFormat("{}", job.out_plain)}) == {p, job.out, job.out_plain}
    assert try_get(Delayed(2) * 3) == 6 and try_get(5) == 5
    assert isinstance(job.out, tk.AbstractPath) and not isinstance(job.out, tk.Variable)
    assert isinstance(Shell(word="v").output_var("v"), tk.Variable)
    assert (gs.JOB_WORK_DIR, gs.JOB_OUTPUT) == ("work", "output")


# ---------------------------------------------------------------------- bad input
def test_unhashable_argument_names_class_argument_and_line():
    with pytest.raises(JobCreationError) as e:
        Consumer("ok", lines=SelfRef())
    msg = str(e.value)
    line = sys._getframe().f_lineno - 2
    assert f"{__name__}.Consumer" in msg and "argument 'lines'" in msg
    assert f"test_i6core_api.py:{line}" in msg and "refers to itself" in msg
    with pytest.raises(JobCreationError, match=r"argument 'text' \(function\) cannot be hashed.*lambda"):
        Consumer(lambda x: x)


def test_a_jobs_own_error_passes_through_with_a_note():
    # upstream lets the exception of a job's __init__ through: a config may catch it by its type
    with pytest.raises(AssertionError, match="need num_lines") as e:
        Checked()
    line = sys._getframe().f_lineno - 1
    (note,) = e.value.__notes__
    assert note.startswith("Checked.__init__ failed for the job created at ") and f"test_i6core_api.py:{line}" in note


# ---------------------------------------------------------------------- through the manager
SIZED_RECIPE = '''
import gzip

from sisyphus import Job, Task, tk


class SizedCopy(Job):
    """Sizes its requirements in tasks() from its input, as i6_core's PipelineJob does."""

    def __init__(self, text):
        self.text = text
        self.out = self.output_path("out.gz")
        self.out_size = self.output_var("size")

    def tasks(self):
        size = self.text.estimate_text_size()
        yield Task("run", rqmt={"mem": 1 if size < 1024 else 2, "time": 1})

    def run(self):
        with open(self.text.get_path(), "rb") as f, gzip.open(self.out.get_path(), "wb") as g:
            g.write(f.read())
        self.out_size.set(self.text.estimate_text_size())
        head = self.sh("zcat -f {out} | head -n 1", True, except_return_codes=(141,))
        assert head == "line 0\\n", head


class Count(Job):
    def __init__(self, text):
        self.text = text
        self.out = self.output_var("n")

    def run(self):
        self.out.set(self.text.lines())


class BrokenTasks(Job):
    def __init__(self, text):
        self.text = text
        self.out = self.output_path("never")

    def tasks(self):
        raise RuntimeError("tasks() of this job is broken")
'''

SIZED_CONFIG = '''
from sisyphus import tk
from compat.jobs import BrokenTasks, Count, SizedCopy

def py():
    src = tk.Path("input.txt")
    copy = SizedCopy(src)
    tk.register_output("copy.gz", copy.out)
    tk.register_output("size", copy.out_size)
    tk.register_output("count", Count(copy.out).out)
    {broken}
'''


def _sized_setup(setup_dir, broken):
    setup_dir.write("recipe/compat/__init__.py", "")
    setup_dir.write("recipe/compat/jobs.py", SIZED_RECIPE)
    with open(setup_dir.path("input.txt"), "w") as f:
        f.write("".join(f"line {i}\n" for i in range(40000)))  # long enough for SIGPIPE on `head`
    setup_dir.write("config/sized.py", SIZED_CONFIG.format(
        broken='tk.register_output("never", BrokenTasks(src).out)' if broken else ""))


def test_manager_runs_jobs_that_size_inputs_in_tasks(setup_dir):
    _sized_setup(setup_dir, broken=False)
    res = setup_dir.sis("manager", "-r", "config/sized.py", check=True)
    assert "All output calculated" in res.stderr
    assert int(open(setup_dir.path("output", "size")).read()) == os.path.getsize(setup_dir.path("input.txt"))
    assert open(setup_dir.path("output", "count")).read().strip() == "40000"


def test_job_whose_tasks_raise_does_not_stop_the_manager(setup_dir):
    _sized_setup(setup_dir, broken=True)
    res = setup_dir.sis("manager", "-r", "config/sized.py")
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "BrokenTasks (created at config/sized.py:" in out and "tasks() of this job is broken" in out
    # the independent chain still ran to the end
    assert open(setup_dir.path("output", "count")).read().strip() == "40000"


# ---------------------------------------------------------------------- optional: a real i6_core chain
I6_CHAIN = '''
from sisyphus import tk
from i6_core.text.processing import PipelineJob, ConcatenateJob, HeadJob, TailJob, WriteToTextFileJob
from i6_core.corpus.convert import CorpusToTxtJob
from i6_core.corpus.segments import SegmentCorpusBySpeakerJob, SegmentCorpusJob
from i6_core.lexicon.conversion import LexiconToWordListJob
from i6_core.report.report import GenerateReportStringJob
from i6_core.tools.parameter_tuning import GetOptimalParametersAsVariableJob


def py():
    text = tk.Path("text.txt")
    up = PipelineJob(text, ["tr a-z A-Z"], zip_output=True)
    cat = ConcatenateJob([up.out, text], zip_out=False)
    head = HeadJob(cat.out, num_lines=3, zip_output=False)
    tail = TailJob(text, ratio=0.5, zip_output=False)
    words = LexiconToWordListJob(tk.Path("lexicon.xml"))
    txt = CorpusToTxtJob(tk.Path("corpus.xml"))
    seg = SegmentCorpusJob(tk.Path("corpus.xml"), 2)
    report = GenerateReportStringJob({"head": "x", "n": 2}, compress=False)
    speakers = SegmentCorpusBySpeakerJob(tk.Path("corpus.xml")).out_num_speakers  # a Variable
    tuned = GetOptimalParametersAsVariableJob(parameters=[(1.0, "a"), (2.0, "b")],
                                              values=[speakers * 2, speakers + 3], mode="maximize")
    tuned_report = GenerateReportStringJob({"best": tuned.out_optimal_value, "p": tuned.out_optimal_parameters[1]},
                                           compress=False)
    for name, p in {"head": head.out, "tail": tail.out, "words": words.out_word_list, "txt": txt.out_txt,
                    "seg.1": seg.out_single_segment_files[1], "report": report.out_report,
                    "tuned.p1": tuned.out_optimal_parameters[1], "tuned.best": tuned.out_optimal_value,
                    "tuned.report": tuned_report.out_report,
                    "wtf": WriteToTextFileJob(["a", "b"]).out_file}.items():
        tk.register_output(name, p)
'''

CORPUS = """<?xml version="1.0" encoding="utf8"?>
<corpus name="c">
  <recording name="r" audio="/nonexistent.wav">
    <segment name="s1" start="0" end="1"><orth>hello world</orth></segment>
    <segment name="s2" start="1" end="2"><orth>the cat</orth></segment>
  </recording>
</corpus>
"""

LEXICON = """<?xml version="1.0" encoding="utf8"?>
<lexicon>
  <phoneme-inventory><phoneme><symbol>a</symbol></phoneme></phoneme-inventory>
  <lemma><orth>hello</orth><phon>a</phon></lemma>
  <lemma><orth>world</orth><phon>a</phon></lemma>
</lexicon>
"""


def _run_chain(root, i6_core, sis_cmd, env):
    os.makedirs(os.path.join(root, "recipe"))
    os.makedirs(os.path.join(root, "work"))
    os.symlink(os.path.abspath(i6_core), os.path.join(root, "recipe", "i6_core"))
    for name, text in {"config.py": I6_CHAIN, "corpus.xml": CORPUS, "lexicon.xml": LEXICON,
                       "text.txt": "the cat\na dog\nhello world\nfour\n",
                       "settings.py": "WAIT_PERIOD_JOB_FS_SYNC = 0\nWAIT_PERIOD_BETWEEN_CHECKS = 1\n"
                                      "WAIT_PERIOD_CACHE = 0\nWAIT_PERIOD_MTIME_OF_INPUTS = 0\n"
                                      "USE_VERBOSE_TRACEBACK = False\nJOB_AUTO_CLEANUP = False\n"}.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    res = subprocess.run(sis_cmd + ["manager", "-r", "config.py"], cwd=root, env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=600)
    assert "All output calculated" in res.stdout + res.stderr, res.stdout + res.stderr
    # job directories: work/i6_core/<package>/<module>/<Class>.<hash> (os.walk skips the input links)
    ids = sorted(os.path.relpath(d, os.path.join(root, "work")) for d, _, _ in os.walk(os.path.join(root, "work"))
                 if os.path.exists(os.path.join(d, "job.save")))
    outputs = {}
    for name in os.listdir(os.path.join(root, "output")):
        with open(os.path.join(root, "output", name), "rb") as f:
            data = f.read()
        outputs[name] = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data  # gzip headers hold mtimes
    return ids, outputs


@pytest.mark.skipif(not os.environ.get("I6_CORE_DIR"), reason="set I6_CORE_DIR to an i6_core clone to run")
def test_i6core_chain_matches_upstream(tmp_path):
    i6_core = os.environ["I6_CORE_DIR"]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    extra = os.environ.get("PYTHONPATH", "")  # e.g. upstream's third-party needs (flask)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(repo, "tools"), extra]))
    env.pop("SIS_GLOBAL_SETTINGS_FILE", None)
    # both runs use the same directory: reports and logs may contain absolute paths
    root = str(tmp_path / "setup")
    ours, ours_out = _run_chain(root, i6_core, [sys.executable, "-m", "sisyphus"], env)
    assert len(ours) == 12 and any(i.startswith("i6_core/text/processing/HeadJob.") for i in ours)
    assert ours_out["head"] == b"THE CAT\nA DOG\nHELLO WORLD\n"
    # one speaker: values [2, 4] -> the second parameter set wins
    assert ours_out["tuned.best"] == b"4\n" and pickle.loads(ours_out["tuned.p1"]) == "b"
    assert b"best_value 4>" in ours_out["tuned.report"]
    upstream = os.environ.get("SISYPHUS_UPSTREAM_DIR")
    if not upstream:
        return
    shutil.rmtree(root)
    theirs, theirs_out = _run_chain(root, i6_core, [sys.executable, os.path.join(upstream, "sis")],
                                    dict(env, PYTHONPATH=os.pathsep.join([upstream, extra])))
    assert ours == theirs
    assert sorted(ours_out) == sorted(theirs_out)
    for name in sorted(ours_out):
        assert ours_out[name] == theirs_out[name], name
