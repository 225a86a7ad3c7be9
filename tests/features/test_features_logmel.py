"""Log-mel features: frame count, filterbank, an independent numpy reference, HDF5 files, bad input."""
import dataclasses
import math

import numpy as np
import pytest
import soundfile
import torch

from memristor_asr.corpus.audio import AudioError
from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.features.extract import FeatureError, chunk_bounds, segment_features
from memristor_asr.features.hdf5 import FeatureReader, iter_features, merge_features, write_features
from memristor_asr.features.logmel import LogMelConfig, LogMelFeatureExtraction, num_frames, preprocess_waveform


def _slaney_hz_to_mel(f):
    # librosa's default (htk=False): linear below 1 kHz, logarithmic above
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _slaney_mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


def reference_filterbank(sr=16000, n_fft=400, n_mels=80, fmin=60.0, fmax=7600.0):
    """Slaney-normalised triangular mel filters [n_fft/2+1, n_mels], written from the librosa definition."""
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = _slaney_mel_to_hz(np.linspace(_slaney_hz_to_mel(fmin), _slaney_hz_to_mel(fmax), n_mels + 2))
    fb = np.zeros((len(freqs), n_mels))
    for i in range(n_mels):
        lo, mid, hi = edges[i:i + 3]
        up = (freqs - lo) / (mid - lo)
        down = (hi - freqs) / (hi - mid)
        fb[:, i] = np.maximum(0, np.minimum(up, down)) * 2.0 / (hi - lo)
    return fb


def reference_logmel(x, sr=16000):
    """Numpy log-mel: periodic Hann 400, hop 160, no centring, |rfft|^2, Slaney mel, log10(max(., 1e-10))."""
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    n = (len(x) - 400) // 160 + 1
    frames = np.stack([x[i * 160:i * 160 + 400] * win for i in range(n)])
    power = np.abs(np.fft.rfft(frames, n=400)) ** 2
    return np.log10(np.maximum(power @ reference_filterbank(sr), 1e-10))


@pytest.mark.parametrize("n, frames", [(0, 0), (399, 0), (400, 1), (559, 1), (560, 2), (16000, 98), (16239, 99), (16240, 100)])
def test_frame_count(n, frames):
    assert num_frames(n) == frames
    if n >= 400:
        assert frames == math.floor((n - 400) / 160) + 1
        x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
        assert LogMelFeatureExtraction().extract(x).shape == (frames, 80)


def test_filterbank_is_slaney_60_to_7600():
    ours = LogMelFeatureExtraction().mel_basis.numpy()
    assert ours.shape == (201, 80)
    np.testing.assert_allclose(ours, reference_filterbank(), rtol=1e-4, atol=1e-7)
    freqs = np.linspace(0, 8000, 201)
    used = freqs[ours.sum(axis=1) > 0]
    assert used.min() > 60 and used.max() < 7600


def test_preprocessing_order():
    x = np.array([0.5, 0.25, -1.0, 0.0], dtype=np.float32)
    emph = np.array([0.5, 0.25 - 0.97 * 0.5, -1.0 - 0.97 * 0.25, 0.97], dtype=np.float32)
    np.testing.assert_allclose(preprocess_waveform(x), emph / np.abs(emph).max(), rtol=1e-6)
    np.testing.assert_array_equal(preprocess_waveform(np.zeros(5, np.float32)), np.zeros(5))
    np.testing.assert_allclose(preprocess_waveform(x, 0.0, False), x)


def test_features_match_numpy_reference_on_speech(ci_prepared):
    seg = next(iter(read_manifest(ci_prepared["dev"]["segments"])))
    audio, sr = soundfile.read(seg.recording, dtype="float32", start=round(seg.start * 16000), stop=round(seg.end * 16000))
    ours = LogMelFeatureExtraction().extract(audio)
    ref = reference_logmel(preprocess_waveform(audio).astype(np.float64))
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 2e-3          # float32 vs float64
    assert -10 <= ours.min() and ours.max() < 6


def test_batched_forward_masks_padding():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(4000).astype(np.float32), rng.standard_normal(2500).astype(np.float32)
    model = LogMelFeatureExtraction()
    batch = torch.zeros(2, 4000)
    batch[0], batch[1, :2500] = torch.from_numpy(a), torch.from_numpy(b)
    feats, frames = model(batch, torch.tensor([4000, 2500]))
    assert frames.tolist() == [num_frames(4000), num_frames(2500)]
    single, _ = model(torch.from_numpy(b)[None], torch.tensor([2500]))
    torch.testing.assert_close(feats[1, :frames[1]], single[0])
    assert torch.all(feats[1, frames[1]:] == 0)


def test_split_features_to_hdf5(ci_prepared, tmp_path):
    segs = list(read_manifest(ci_prepared["dev"]["segments"]))
    cfg = LogMelConfig()
    done = []
    n = write_features(tmp_path / "dev.hdf5", segment_features(segs, cfg, done.append), cfg.as_attrs())
    assert n == len(segs) and done == list(range(1, n + 1))
    reader = FeatureReader(tmp_path / "dev.hdf5")
    assert reader.segment_ids == [s.id for s in segs]
    for i, s in enumerate(segs):
        samples = round(s.end * 16000) - round(s.start * 16000)
        assert reader[i].shape == (num_frames(samples), 80)
        assert np.isfinite(reader[i]).all()
    assert reader.attrs["num_filters"] == 80 and reader.attrs["hop_length"] == 160
    # chunked like the job, then merged: identical to the one-pass file
    chunks = []
    for c in (1, 2, 3):
        b, e = chunk_bounds(len(segs), 3, c)
        write_features(tmp_path / f"c{c}.hdf5", segment_features(segs[b:e], cfg))
        chunks.append(tmp_path / f"c{c}.hdf5")
    assert merge_features(tmp_path / "merged.hdf5", chunks) == len(segs)
    lazy = FeatureReader(tmp_path / "merged.hdf5", in_memory=False)
    assert lazy.features is None and FeatureReader(tmp_path / "merged.hdf5").features is not None
    for (sid, f), i in zip(iter_features(tmp_path / "dev.hdf5"), range(len(segs))):
        assert lazy.segment_ids[i] == sid
        np.testing.assert_array_equal(lazy[i], f)
    with pytest.raises(ValueError, match="appears in more than one input file"):
        merge_features(tmp_path / "bad.hdf5", [chunks[0], chunks[0]])


def test_chunk_bounds_cover_everything():
    for n in (0, 1, 7, 100):
        for k in (1, 2, 3, 8):
            bounds = [chunk_bounds(n, k, c) for c in range(1, k + 1)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_bad_segments_and_audio(ci_prepared, tmp_path):
    seg = next(iter(read_manifest(ci_prepared["dev"]["segments"])))
    duration = soundfile.info(seg.recording).duration
    past = dataclasses.replace(seg, id="x/1", start=duration - 1.0, end=duration + 2.0)
    with pytest.raises(FeatureError, match=r"segment x/1: .* is outside"):
        list(segment_features([past]))
    short = dataclasses.replace(seg, id="x/2", end=seg.start + 0.02)
    with pytest.raises(FeatureError, match="segment x/2: 320 samples is shorter than one 400-sample window"):
        list(segment_features([short]))
    wav8k = tmp_path / "8k.sph"
    soundfile.write(str(wav8k), np.zeros(16000, np.int16), 8000, format="NIST", subtype="PCM_16")
    with pytest.raises(AudioError, match=rf"{wav8k}: sample rate 8000 Hz, the features need 16000 Hz"):
        list(segment_features([dataclasses.replace(seg, recording=str(wav8k), start=0.0, end=1.0)]))
    truncated = tmp_path / "cut.sph"
    data = open(seg.recording, "rb").read()
    truncated.write_bytes(data[:len(data) // 3])
    with pytest.raises(AudioError, match=rf"{truncated}: truncated SPHERE file"):
        list(segment_features([dataclasses.replace(seg, recording=str(truncated))]))


def test_reader_loads_only_files_that_fit_in_memory(tmp_path, monkeypatch):
    from memristor_asr.features import hdf5

    feats = [("a", np.ones((30, 80), np.float32)), ("b", np.zeros((20, 80), np.float32))]
    write_features(tmp_path / "f.hdf5", feats)
    size = 50 * 80 * 4
    assert hdf5.fits_in_memory(size)
    monkeypatch.setattr(hdf5, "IN_MEMORY_MAX_BYTES", size - 1)
    assert not hdf5.fits_in_memory(size)
    reader = FeatureReader(tmp_path / "f.hdf5")
    assert reader.features is None  # too large for the (patched) limit: read per sequence
    np.testing.assert_array_equal(reader.get("b"), feats[1][1])
    monkeypatch.setattr(hdf5, "IN_MEMORY_MAX_BYTES", size)
    monkeypatch.setattr(hdf5, "_available_memory", lambda: 2 * size - 1)  # over half of what is free
    assert FeatureReader(tmp_path / "f.hdf5").features is None
    monkeypatch.setattr(hdf5, "_available_memory", lambda: 2 * size)
    assert FeatureReader(tmp_path / "f.hdf5").features is not None
