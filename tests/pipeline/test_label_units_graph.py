"""The label-unit comparison's graph (config/label_units.py) is wired right (builds only, runs nothing):
the BPE models train on the BPE labels and lexicon with an output layer of the vocabulary's size,
recognitions read the BPE decoding lexicon with the phoneme study's word LM (or, lexicon-free, no
lexicon and a piece n-gram), the shared data jobs are the phoneme study's, and every table row reads
the recognitions of its own label unit."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r"""
import json, sys
from sisyphus import tk
from users.memristor.label_units import run_label_units
from users.memristor.memristor_ted import run_memristor_ted
from users.memristor.setups import setup_named

setup = setup_named(sys.argv[1])
root = tk.Path(sys.argv[2]) if sys.argv[2] != "-" else None
study = run_memristor_ted(setup, corpus_root=root)
bpe = run_label_units(study)
jobs = tk.sis_graph.jobs()
kind = lambda j: type(j).__name__
creator = lambda p: getattr(p, "creator", None)
bpe_lex = [j for j in jobs if kind(j) == "BpeLexiconJob"]
assert len(bpe_lex) == 1, bpe_lex
bpe_lex = bpe_lex[0]
same = lambda a, b: a is not None and b is not None and creator(a) is creator(b) and a.path == b.path
trains = {"phoneme": [], "bpe": []}
for j in jobs:
    if kind(j) == "TrainJob":
        unit = "bpe" if same(j.labels, bpe_lex.out_labels) else "phoneme"
        assert same(j.lexicon, bpe_lex.out_training_lexicon) == (unit == "bpe")
        trains[unit].append({"labels": j.model_config.num_labels, "bits": j.model_config.weight_bits,
                             "epochs": j.train_config.num_epochs})
recogs = {"lexicon": 0, "lexicon-free": 0, "phoneme": 0}
for j in jobs:
    if kind(j) != "RecognitionJob":
        continue
    if same(j.labels, bpe_lex.out_labels):
        ckpt = creator(j.checkpoint)
        assert same(ckpt.labels, bpe_lex.out_labels), "a BPE recognition of a phoneme model"
        if j.lexicon is None:
            arpa = creator(creator(j.lm).arpa)
            assert type(creator(arpa.text)).__name__ == "SentencePieceTextJob"
            recogs["lexicon-free"] += 1
        else:
            assert same(j.lexicon, bpe_lex.out_decoding_lexicon) and same(j.lm, study.data.lm)
            recogs["lexicon"] += 1
    else:
        assert same(j.lm, study.data.lm) and not same(j.lexicon, bpe_lex.out_decoding_lexicon)
        recogs["phoneme"] += 1
# every table row reads recognitions of its own label unit and decoding
table = [j for j in jobs if kind(j) == "LabelUnitTableJob"][0]
rows = []
for e in table.systems:
    grid = e["tuned"][0] if "tuned" in e else e["devices"][0]
    recog = creator(creator(grid[0]["dev"]).hyp)
    unit = "bpe" if same(recog.labels, bpe_lex.out_labels) else "phoneme"
    rows.append([e["labels"], e["decoding"], e["system"], unit, "lexicon" if recog.lexicon is not None else "lexicon-free",
                 recog.programmed_device is not None])
shared = {k: creator(getattr(study.data, k)) is creator(getattr(bpe.data, k))
          for k in ("train_features", "lm", "train_segments")}
print("RESULT " + json.dumps({"trains": trains, "recogs": recogs, "rows": rows, "shared": shared,
                              "vocab": setup.bpe.vocab_size, "bpe_epochs": bpe.setup.training.train.num_epochs,
                              "devices": setup.num_devices}))
"""


def _build(tmp_path, profile, root):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", SCRIPT, profile, root], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(next(line for line in res.stdout.splitlines() if line.startswith("RESULT "))[7:])


@pytest.mark.parametrize("profile, root, qat_bits", [("ci", "-", [4]), ("mini", "-", [8, 4]),
                                                      ("paper", "/data/TEDLIUM_release2", [8, 4])])
def test_label_unit_graph_is_wired(tmp_path, profile, root, qat_bits):
    r = _build(tmp_path, profile, root)
    assert all(r["shared"].values()), r["shared"]  # features, segments and the word LM are the main study's
    bpe = r["trains"]["bpe"]
    assert sorted((t["bits"] or 0) for t in bpe) == sorted([0] + qat_bits)
    assert all(t["labels"] == r["vocab"] for t in bpe)  # output layer: the pieces but <unk>, and the blank
    assert all(t["labels"] == 79 for t in r["trains"]["phoneme"])
    assert [t["epochs"] for t in bpe if t["bits"] is None] == [r["bpe_epochs"]]
    splits = 2
    assert r["recogs"]["lexicon"] == splits * (1 + len(qat_bits) + len(qat_bits) * r["devices"])
    assert r["recogs"]["lexicon-free"] == splits * (1 + len(qat_bits))
    for labels, decoding, system, unit, searched, on_device in r["rows"]:
        assert (labels, decoding) == (unit, searched), (labels, decoding, system, unit, searched)
        assert on_device == system.endswith("on memristors")
    assert [row[:2] for row in r["rows"]].count(["phoneme", "lexicon"]) == 1 + 2 * len(qat_bits)


SWEEP_ERRORS = r"""
import dataclasses, sys
from users.memristor.setups import CI, LabelUnitSweep
try:
    LabelUnitSweep(qat_bits=(4,), memristor_bits=(4,)).bpe_setup(dataclasses.replace(CI, label_unit="bpe"))
except ValueError as e:
    print("E1", e)
try:
    LabelUnitSweep(qat_bits=(8, 4), memristor_bits=(8,)).bpe_setup(CI)
except ValueError as e:
    print("E2", e)
try:
    LabelUnitSweep(qat_bits=(4,), memristor_bits=(8,))
except ValueError as e:
    print("E3", e)
"""


def test_label_unit_sweep_errors_name_the_setting(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", SWEEP_ERRORS], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    out = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert "needs a phoneme setup, not label_unit='bpe'" in out["E1"]
    assert "label_units.memristor_bits [8] are not among the 'ci' setup's memristor_bits (4,)" in out["E2"]
    assert "LabelUnitSweep.memristor_bits (8,) must be among its qat_bits (4,)" in out["E3"]
