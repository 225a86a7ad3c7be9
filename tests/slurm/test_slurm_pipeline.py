"""The small ci study on a corpus in the real TED-LIUM v2 release format (with its quirks), given as
``TEDLIUM2_ROOT``, through the Slurm engine (mini tasks local, everything else on Slurm): the code
path of a user with the real corpus on a cluster, end to end through the real ``sis manager``.

One whole-graph run covers both the corpus format and the engine, which every job takes alike (the
full ci study on the embedded corpus and the local engine runs in tests/pipeline/test_ci_pipeline.py).
"""
import csv
import glob
import gzip
import json
import os

import pytest

from tests.corpus.release_fixture import make_release_fixture
from tests.pipeline.small_study import write_config
from tests.slurm.conftest import FAST_SETTINGS, cancel_jobs_of, make_setup

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SETTINGS = FAST_SETTINGS + """
import os

from sisyphus.engine import EngineSelector
from sisyphus.localengine import LocalEngine
from sisyphus.simple_linux_utility_for_resource_management_engine import \\
    SimpleLinuxUtilityForResourceManagementEngine

DEFAULT_ENVIRONMENT_KEEP = DEFAULT_ENVIRONMENT_KEEP | {"PYTHONPATH"}
TEDLIUM2_ROOT = os.environ.get("TEDLIUM2_ROOT") or None

def engine():
    return EngineSelector(
        engines={"short": LocalEngine(cpus=2, mem=4),
                 "long": SimpleLinuxUtilityForResourceManagementEngine(default_rqmt={"cpu": 1, "mem": 1, "time": 1})},
        default_engine="long")
"""


@pytest.mark.slow
def test_small_study_on_a_release_format_corpus_through_slurm(ci_corpus, tmp_path, slurm, monkeypatch):
    release = tmp_path / "TEDLIUM_release2"
    counts = make_release_fixture(ci_corpus, release)
    assert counts["edited"] > 0 and counts["zero_length"] > 0
    s = make_setup(tmp_path / "setup", slurm, settings=SETTINGS)
    config = write_config(s.path())
    monkeypatch.setenv("TEDLIUM2_ROOT", str(release))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.path.join(REPO, "recipe"), REPO,
                                                      os.environ.get("PYTHONPATH", "")]))
    try:
        res = s.sis("manager", "-r", config, timeout=1200)
    finally:
        cancel_jobs_of(s)
    assert res.returncode == 0, res.stderr[-5000:]
    assert "notice: no TED-LIUM v2 root" not in res.stderr

    # the engine: trainings ran on Slurm, mini tasks on the submit host
    (train_dir, *_) = glob.glob(s.path("work", "memristor_asr", "training", "jobs", "TrainJob.*"))
    ((_, info),) = s.submit_log(train_dir)
    assert info["engine_name"] == "slurm"
    (score_dir, *_) = glob.glob(s.path("work", "memristor_asr", "scoring", "jobs", "ScliteJob.*"))
    ((_, info),) = s.submit_log(score_dir)
    assert info["engine_name"] == "local"

    # the corpus: labelled as the real one; the baseline emits words on dev and test
    out = os.path.join(s.path(), "output", "memristor_ted")
    assert os.path.exists(os.path.join(out, "table3.csv"))
    with open(os.path.join(out, "table2.md")) as f:
        md = f.read()
    assert "TED-LIUM v2" in md and "embedded synthetic corpus" not in md
    with open(os.path.join(out, "table2.csv")) as f:
        rows = list(csv.reader(f))
    assert float(rows[-1][1]) < 95.0 and float(rows[-1][4]) < 95.0
    # the quirks: noise tokens and <unk> reach the lexicon as words (G2P), a segment is dropped only with
    # its words named; the LM text loses sentence markers, <unk> and noise tokens, and lmplz succeeds
    with open(os.path.join(out, "lexicon", "report.json")) as f:
        lexicon = json.load(f)
    assert lexicon["train_oov_source"].startswith("Sequitur G2P")
    assert lexicon["train_segments_dropped"] == len(lexicon["train_segments_dropped_why"])
    assert lexicon["train_audio_dropped_fraction"] < 0.1
    kept = set(lexicon["train_oov_pronunciations"])
    dropped_words = {w for ws in lexicon["train_segments_dropped_why"].values() for w in ws}
    assert {"{noise}", "{breath}", "<unk>", "<sil>"} <= {w.lower() for w in kept | dropped_words}, (kept,
                                                                                                  dropped_words)
    with open(os.path.join(out, "lm", "interpolation_report.json")) as f:
        interp = json.load(f)
    removed = {k: v for c in interp["components"].values() for k, v in c["removed_tokens"].items()}
    assert {"</s>", "<unk>", "{NOISE}"} <= set(removed)
    assert len(interp["weights"]) == len(interp["components"]) >= 3
    with open(os.path.join(out, "lm", "dev_perplexity_interpolated")) as f:
        assert float(f.read()) > 1.0
    with gzip.open(next(release.joinpath("LM").glob("*.gz")), "rt") as f:
        assert all(line.rstrip().endswith("</s>") for line in f)
