"""The ci-sized study on a corpus in the real release format (with its quirks) through `TEDLIUM2_ROOT`:
the code path of a user with the real TED-LIUM v2, end to end through the real `sis manager` (the
small ci study: one QAT and one PTQ width)."""
import csv
import gzip
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.corpus.release_fixture import make_release_fixture
from tests.pipeline.small_study import write_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_ci_study_runs_on_a_release_format_corpus(ci_corpus, tmp_path):
    counts = make_release_fixture(ci_corpus, tmp_path / "TEDLIUM_release2")
    assert counts["edited"] > 0 and counts["zero_length"] > 0
    root = tmp_path / "setup"
    root.mkdir()
    shutil.copy(os.path.join(REPO, "settings.py"), root / "settings.py")
    config = write_config(root)
    env = dict(os.environ, TEDLIUM2_ROOT=str(tmp_path / "TEDLIUM_release2"),
               PYTHONPATH=os.pathsep.join([os.path.join(REPO, "tools"), os.path.join(REPO, "recipe"), REPO]))
    res = subprocess.run([sys.executable, "-m", "sisyphus", "manager", "-r", config], cwd=root,
                         env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-5000:]
    assert "notice: no TED-LIUM v2 root" not in res.stderr
    out = root / "output" / "memristor_ted"
    md = (out / "table2.md").read_text()
    assert "TED-LIUM v2" in md and "embedded synthetic corpus" not in md       # labelled as the real corpus
    with open(out / "table2.csv") as f:
        rows = list(csv.reader(f))
    assert float(rows[-1][1]) < 95.0 and float(rows[-1][4]) < 95.0               # the baseline emits words (dev, test)
    # the quirks: noise tokens and <unk> reach the lexicon as words (G2P), a segment is dropped only with
    # its words named; the LM text loses sentence markers, <unk> and noise tokens, and lmplz succeeds
    lexicon = json.loads((out / "lexicon" / "report.json").read_text())
    assert lexicon["train_oov_source"].startswith("Sequitur G2P")
    assert lexicon["train_segments_dropped"] == len(lexicon["train_segments_dropped_why"])
    assert lexicon["train_audio_dropped_fraction"] < 0.1
    kept = {w for w in lexicon["train_oov_pronunciations"]}
    dropped_words = {w for ws in lexicon["train_segments_dropped_why"].values() for w in ws}
    assert {"{noise}", "{breath}", "<unk>", "<sil>"} <= {w.lower() for w in kept | dropped_words}, (kept,
                                                                                                  dropped_words)
    interp = json.loads((out / "lm" / "interpolation_report.json").read_text())
    removed = {k: v for c in interp["components"].values() for k, v in c["removed_tokens"].items()}
    assert {"</s>", "<unk>", "{NOISE}"} <= set(removed)
    assert len(interp["weights"]) == len(interp["components"]) >= 3
    assert float((out / "lm" / "dev_perplexity_interpolated").read_text()) > 1.0
    with gzip.open(next((tmp_path / "TEDLIUM_release2" / "LM").glob("*.gz")), "rt") as f:
        assert all(line.rstrip().endswith("</s>") for line in f)
