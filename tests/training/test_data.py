"""Data loading, ordering, batching by duration, speed perturbation."""
import numpy as np
import pytest
import torch

from memristor_asr.corpus.manifest import Segment, read_manifest, write_manifest
from memristor_asr.features.hdf5 import FeatureReader, write_features
from memristor_asr.training.data import (CTCDataset, SkipCounts, collate, ctc_min_frames, laplace_order,
                                         make_batches, sub_epoch_order)
from memristor_asr.training.speed_perturbation import SpeedPerturbation, mel_centre_frequencies


def _load(corpus, split="train", **kw):
    return CTCDataset.load(features_path=corpus[f"{split}_features"], manifest_path=corpus[f"{split}_manifest"],
                           lexicon_path=corpus["lexicon"], labels_path=corpus["labels"], **kw)


def test_load_joins_features_text_and_lexicon(corpus):
    data = _load(corpus)
    assert len(data) == 60 and data.skipped.as_dict() == SkipCounts().as_dict()
    assert data.frame_shift == 0.01 and data.num_features == 80
    seg = next(read_manifest(corpus["train_manifest"]))
    utt = data.utterances[0]
    assert utt.seg_id == seg.id
    lexicon = dict(line.split(maxsplit=1) for line in open(corpus["lexicon"]))
    labels = [line.strip() for line in open(corpus["labels"])]
    expected = [labels.index(p) for w in seg.words for p in lexicon[w].split()]
    assert utt.targets.tolist() == expected
    assert max(expected) < 78  # never the blank


def _write_variant(tmp_path, corpus, edit_segments, edit_features=None):
    segs = list(read_manifest(corpus["dev_manifest"]))
    reader = FeatureReader(corpus["dev_features"])
    feats = [(s, reader.get(s)) for s in reader.segment_ids]
    segs = edit_segments(segs)
    if edit_features:
        feats = edit_features(feats)
    write_manifest(tmp_path / "m.jsonl.gz", segs)
    write_features(tmp_path / "f.hdf5", feats)
    return {"dev_manifest": str(tmp_path / "m.jsonl.gz"), "dev_features": str(tmp_path / "f.hdf5"),
            "lexicon": corpus["lexicon"], "labels": corpus["labels"]}


def _replace(seg, **kw):
    d = seg.__dict__.copy()
    d.update(kw)
    return Segment(**d)


def test_oov_is_an_error_naming_segment_or_skipped_and_counted(tmp_path, corpus):
    paths = _write_variant(tmp_path, corpus, lambda s: [_replace(s[0], text="w1 zebra")] + s[1:])
    with pytest.raises(ValueError, match=r"segment dev_talk0/1 of .*m.jsonl.gz: word 'zebra' is not in the lexicon"):
        _load(paths, "dev")
    data = _load(paths, "dev", skip_oov=True)
    assert data.skipped.oov == 1 and len(data) == 11


def test_short_and_infeasible_segments_are_skipped_and_counted(tmp_path, corpus):
    def feats(f):
        f[0] = (f[0][0], f[0][1][:3])  # 3 frames < 4x subsampling
        f[1] = (f[1][0], f[1][1][:8])  # 2 output frames, but more labels than that
        return f
    paths = _write_variant(tmp_path, corpus, lambda s: [s[0], _replace(s[1], text="w1 w2 w3")] + s[2:], feats)
    data = _load(paths, "dev")
    assert data.skipped.too_short == 1 and data.skipped.ctc_infeasible == 1 and len(data) == 10


def test_missing_features_name_both_files(tmp_path, corpus):
    paths = _write_variant(tmp_path, corpus, lambda s: s, lambda f: f[1:])
    with pytest.raises(ValueError, match=r"segment dev_talk0/1 of .*m.jsonl.gz has no features in .*f.hdf5"):
        _load(paths, "dev")
    assert _load(paths, "dev", skip_missing_features=True).skipped.missing_features == 1


def test_ctc_min_frames_counts_repeats():
    assert ctc_min_frames([1, 2, 3]) == 3
    assert ctc_min_frames([1, 1, 2, 2, 2]) == 8
    assert ctc_min_frames([]) == 0


def test_laplace_order_bins_sorted_alternately():
    lengths = np.random.default_rng(0).integers(10, 1000, size=23)
    order = laplace_order(lengths, 5, np.random.default_rng(1))
    assert sorted(order.tolist()) == list(range(23))
    for k, start in enumerate(range(0, 23, 5)):
        chunk = lengths[order[start:start + 5]]
        assert (np.diff(chunk) <= 0).all() if k % 2 else (np.diff(chunk) >= 0).all()
    assert np.array_equal(order, laplace_order(lengths, 5, np.random.default_rng(1)))
    assert not np.array_equal(order, laplace_order(lengths, 5, np.random.default_rng(2)))


def test_sub_epochs_partition_each_epoch_and_epochs_differ():
    lengths = np.arange(50) + 10
    parts = [sub_epoch_order(lengths, sub_epoch=e, partition_epoch=3, seqs_per_bin=8, seed=4) for e in (1, 2, 3)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(50))
    nxt = sub_epoch_order(lengths, sub_epoch=4, partition_epoch=3, seqs_per_bin=8, seed=4)
    assert not np.array_equal(nxt, parts[0])


def test_batches_respect_padded_duration():
    lengths = np.array([100, 300, 250, 90, 1200, 40, 60])
    order = np.arange(7)
    batches = make_batches(order, lengths, max_frames=600)
    assert np.concatenate(batches).tolist() == order.tolist()  # order kept, nothing lost
    for b in batches:
        assert len(b) == 1 or lengths[b].max() * len(b) <= 600
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3], [4], [5, 6]]
    assert all(len(b) <= 1 for b in make_batches(order, lengths, max_frames=600, max_seqs=1))


def test_collate_pads_and_counts_empty_batches(corpus):
    data = _load(corpus)
    skipped = SkipCounts()
    batch = collate(data, [0, 1, 2], skipped)
    assert batch.features.shape[0] == 3 and batch.lengths.tolist() == [u.num_frames for u in data.utterances[:3]]
    assert batch.num_labels == sum(len(u.targets) for u in data.utterances[:3])
    assert (batch.features[1, batch.lengths[1]:] == 0).all()
    assert collate(data, [0, 1], skipped, perturb=lambda x: x[:2]) is None  # too short after perturbation
    assert skipped.too_short == 2 and skipped.empty_batches == 1


def test_speed_perturbation_changes_tempo_and_pitch():
    centres = mel_centre_frequencies(80)
    assert 60 < centres[0] < centres[-1] < 7600
    sp = SpeedPerturbation([0.9, 1.0, 1.1], centres, np.random.default_rng(0))
    x = torch.full((200, 80), -5.0)
    x[:, 40] = 5.0  # a tone in bin 40
    faster = sp.apply(x, 1.1)
    slower = sp.apply(x, 0.9)
    assert faster.shape == (182, 80) and slower.shape == (222, 80)
    assert torch.equal(sp.apply(x, 1.0), x)
    # faster playback raises the pitch: the peak moves to a higher bin, slower to a lower one
    assert int(faster[50].argmax()) > 40 > int(slower[50].argmax())
    factors = {sp(x).shape[0] for _ in range(30)}
    assert factors == {182, 200, 222}
