"""The training loop: learning, outputs, QAT observers, NaN handling, exact resumption after a crash."""
import csv
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from memristor_asr.features.hdf5 import FeatureReader, write_features
from memristor_asr.nn import CheckpointError, ModelConfig, load_model, read_checkpoint
from memristor_asr.nn.quant import fake_quantizers
from memristor_asr.training.data import CTCDataset, sub_epoch_order
from memristor_asr.training.prior import compute_log_prior, read_prior, write_prior
from memristor_asr.training.trainer import CSV_FIELDS, TrainConfig, TrainingDivergedError, train

TINY = ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=32, ff_dim=64, num_heads=2, num_blocks=2,
                   conv_kernel_size=7)
FAST = TrainConfig(num_epochs=6, partition_epoch=1, batch_seconds=3.0, seqs_per_bin=16, lr_start=1e-4, lr_peak=3e-3,
                   lr_after_decay=1e-3, lr_final=1e-4, seed=2)


def _data(corpus, split, features=None):
    return CTCDataset.load(features_path=features or corpus[f"{split}_features"],
                           manifest_path=corpus[f"{split}_manifest"], lexicon_path=corpus["lexicon"],
                           labels_path=corpus["labels"])


def _run(tmp_path, corpus, model_cfg=TINY, train_cfg=FAST, train_data=None, **kw):
    # these tests check the loop's mechanics on models too small to leave the CTC blank plateau;
    # the convergence check has its own tests (test_convergence.py)
    kw.setdefault("convergence", None)
    return train(model_cfg=model_cfg, train_cfg=train_cfg, train_data=train_data or _data(corpus, "train"),
                 dev_data=_data(corpus, "dev"), checkpoint_dir=str(tmp_path / "ckpt"),
                 losses_csv=str(tmp_path / "losses.csv"), final_checkpoint=str(tmp_path / "model.pt"),
                 device="cpu", **kw)


def test_float_training_learns_and_writes_outputs(tmp_path, corpus):
    seen = []
    cfg = dataclasses.replace(FAST, keep_epochs=(2,))
    history = _run(tmp_path, corpus, train_cfg=cfg, progress=seen.append)
    rows = list(csv.DictReader(open(tmp_path / "losses.csv")))
    assert [r["sub_epoch"] for r in rows] == [str(i) for i in range(1, 7)] and list(rows[0]) == CSV_FIELDS
    assert float(rows[-1]["train_loss"]) < 0.8 * float(rows[0]["train_loss"])
    assert float(rows[-1]["dev_loss"]) < 0.8 * float(rows[0]["dev_loss"])
    assert [float(r["learning_rate"]) for r in rows] == list(cfg.learning_rates())
    assert all(int(r["train_seqs"]) > 10 for r in rows)  # speed perturbation on, nothing dropped
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["epoch.002.pt", "epoch.006.pt"]
    model, data = load_model(tmp_path / "model.pt")
    assert data["epoch"] == 6 and data["model_config"] == TINY.to_dict() and data["train_config"] == cfg.to_dict()
    assert len(history) == 6
    assert seen[0].step == 1 and seen[-1].sub_epoch == 6 and seen[-1].step == seen[-1].num_steps
    # the log prior of the trained model: a distribution over the 79 labels, blank most likely
    log_prior, frames = compute_log_prior(model, FeatureReader(corpus["train_features"]), batch_seconds=5.0)
    assert log_prior.shape == (79,) and frames > 0
    assert abs(np.logaddexp.reduce(log_prior)) < 1e-6  # float32 softmax rounding
    assert int(np.argmax(log_prior)) == 78
    write_prior(tmp_path / "prior.txt", log_prior)
    assert np.array_equal(read_prior(tmp_path / "prior.txt", 79), log_prior)
    with pytest.raises(ValueError, match="prior.txt: 79 values, expected 80"):
        read_prior(tmp_path / "prior.txt", 80)


def test_qat_observers_are_cumulative_and_weights_on_the_grid(tmp_path, corpus):
    qcfg = dataclasses.replace(TINY.quantized_variant(3), feature_normalization=True)
    cfg = dataclasses.replace(FAST, num_epochs=3, keep_epochs=(1, 2))
    _run(tmp_path, corpus, model_cfg=qcfg, train_cfg=cfg)
    # input normalisation: the training data's statistics, stored in the model
    frames = np.concatenate([FeatureReader(corpus["train_features"])[i] for i in range(60)]).astype(np.float64)
    state = read_checkpoint(tmp_path / "model.pt")["model"]
    np.testing.assert_allclose(state["feature_mean"].numpy(), frames.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(state["feature_std"].numpy(), frames.std(0), rtol=1e-4, atol=1e-5)
    states = [read_checkpoint(tmp_path / "ckpt" / f"epoch.00{e}.pt")["model"] for e in (1, 2, 3)]
    model, _ = load_model(tmp_path / "model.pt")
    names = [n for n, _ in fake_quantizers(model)]
    assert names
    for name in names:
        mins = [float(s[f"{name}.min_val"]) for s in states]
        maxs = [float(s[f"{name}.max_val"]) for s in states]
        assert mins == sorted(mins, reverse=True) and maxs == sorted(maxs), name  # the range never shrinks
    layer = model.encoder.blocks[0].ff1.linear_ff
    with torch.no_grad():
        w_int = layer.weight_quant(layer.weight) / layer.weight_quant.scale
    assert len(torch.unique(torch.round(w_int))) <= 7 and float(w_int.abs().max()) <= 3.0001


def test_qat_training_starts_from_a_float_checkpoint(tmp_path, corpus):
    float_dir, qat_dir = tmp_path / "float", tmp_path / "qat"
    float_dir.mkdir()
    qat_dir.mkdir()
    _run(float_dir, corpus, train_cfg=dataclasses.replace(FAST, num_epochs=3))
    # learning rate 0: the QAT model keeps the float weights exactly, and its observers fill from the data
    still = dataclasses.replace(FAST, num_epochs=3, lr_start=0.0, lr_peak=0.0, lr_after_decay=0.0, lr_final=0.0)
    _run(qat_dir, corpus, model_cfg=TINY.quantized_variant(4), train_cfg=still,
         init_checkpoint=str(float_dir / "model.pt"))
    start, end = read_checkpoint(float_dir / "model.pt")["model"], read_checkpoint(qat_dir / "model.pt")["model"]
    for name, value in start.items():
        assert torch.equal(end[name], value), name
    model, _ = load_model(qat_dir / "model.pt")
    assert all(float(q.max_val) > float(q.min_val) for _, q in fake_quantizers(model))
    # a different architecture does not load
    with pytest.raises(CheckpointError, match="model.pt"):
        _run(tmp_path / "wide", corpus, model_cfg=dataclasses.replace(TINY, model_dim=48), train_cfg=still,
             init_checkpoint=str(float_dir / "model.pt"))


def test_nan_loss_stops_with_step_and_segments_keeping_last_good_checkpoint(tmp_path, corpus):
    cfg = dataclasses.replace(FAST, num_epochs=1, partition_epoch=3)
    good = _data(corpus, "train")
    second = sub_epoch_order(good.lengths, sub_epoch=2, partition_epoch=3, seqs_per_bin=cfg.seqs_per_bin,
                             seed=cfg.seed)
    bad_id = good.utterances[int(second[0])].seg_id
    reader = FeatureReader(corpus["train_features"])
    items = []
    for seg_id in reader.segment_ids:
        x = reader.get(seg_id).copy()
        if seg_id == bad_id:  # finite (files refuse NaN) but overflowing to inf inside the network
            x[2:5] = 3e38
        items.append((seg_id, x))
    write_features(tmp_path / "nan.hdf5", items)
    with pytest.raises(TrainingDivergedError) as err:
        _run(tmp_path, corpus, train_cfg=cfg, train_data=_data(corpus, "train", str(tmp_path / "nan.hdf5")))
    msg = str(err.value)
    assert "sub-epoch 2, step" in msg and bad_id in msg and "epoch.001.pt" in msg
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["epoch.001.pt"]
    assert not (tmp_path / "model.pt").exists()


def test_resume_rejects_a_different_configuration(tmp_path, corpus):
    cfg = dataclasses.replace(FAST, num_epochs=3)
    _run(tmp_path, corpus, train_cfg=cfg)
    with pytest.raises(CheckpointError, match=r"epoch.003.pt: written with a different train_config \(keys \['seed'\]\)"):
        _run(tmp_path, corpus, train_cfg=dataclasses.replace(cfg, seed=9))


@pytest.mark.slow
def test_killed_training_resumes_to_bit_identical_weights(tmp_path, corpus):
    corpus_json = tmp_path / "corpus.json"
    corpus_json.write_text(json.dumps(corpus))
    script = os.path.join(os.path.dirname(__file__), "train_script.py")
    env = dict(os.environ)

    def run(out, *kill):
        return subprocess.run([sys.executable, script, str(corpus_json), str(out), *map(str, kill)], env=env,
                              capture_output=True, text=True, timeout=600)

    ref = run(tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr
    crashed = run(tmp_path / "crash", 4, 2)  # SIGKILL in the middle of sub-epoch 4 (of 6)
    assert crashed.returncode == -9, crashed.stderr
    assert os.listdir(tmp_path / "crash" / "checkpoints") == ["epoch.003.pt"]
    assert not (tmp_path / "crash" / "model.pt").exists()
    resumed = run(tmp_path / "crash")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after sub-epoch 3" in resumed.stderr

    a = torch.load(tmp_path / "ref" / "model.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "crash" / "model.pt", weights_only=True)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]  # noqa: E731
    rows_ref = strip(csv.DictReader(open(tmp_path / "ref" / "losses.csv")))
    rows_res = strip(csv.DictReader(open(tmp_path / "crash" / "losses.csv")))
    assert rows_ref == rows_res and len(rows_ref) == 6
