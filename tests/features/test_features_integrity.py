"""Feature files carry checksums: a corrupt or non-finite file fails its reader, naming the file."""
import os

import h5py
import numpy as np
import pytest

from memristor_asr.features.hdf5 import FeatureFileError, FeatureReader, iter_features, write_features


def _write(path, n=6, frames=3000):
    rng = np.random.default_rng(0)
    items = [(f"talk@{i}", rng.standard_normal((frames, 80)).astype(np.float32)) for i in range(n)]
    write_features(path, items)
    return items


def _flip(path, start_fraction=0.5, size=4096):
    data = bytearray(open(path, "rb").read())
    start = int(len(data) * start_fraction)
    for i in range(start, start + size):
        data[i] ^= 0xA5
    with open(path, "wb") as f:
        f.write(bytes(data))


@pytest.mark.parametrize("in_memory", [True, False])
def test_flipped_bytes_are_detected_and_the_file_named(tmp_path, in_memory):
    path = str(tmp_path / "features.hdf5")
    items = _write(path)
    reader = FeatureReader(path, in_memory=in_memory)
    assert np.array_equal(reader[2], items[2][1])  # intact file: read as written
    _flip(path)
    with pytest.raises(FeatureFileError, match=f"{path}: cannot read .*corrupt or truncated"):
        reader = FeatureReader(path, in_memory=in_memory)
        for i in range(len(reader)):
            reader[i]
    with pytest.raises(FeatureFileError, match=path):
        list(iter_features(path))


def test_truncated_file_is_named(tmp_path):
    path = str(tmp_path / "features.hdf5")
    _write(path)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 3)
    with pytest.raises(FeatureFileError, match=path):
        FeatureReader(path, in_memory=True)


def test_non_finite_features_are_refused_when_written_and_read(tmp_path):
    bad = np.zeros((10, 80), np.float32)
    bad[3, 7] = np.nan
    with pytest.raises(FeatureFileError, match="segment b holds 1 non-finite"):
        write_features(tmp_path / "w.hdf5", [("a", np.zeros((10, 80), np.float32)), ("b", bad)])
    # a file whose values became non-finite (written by another tool, or without checksums)
    path = str(tmp_path / "r.hdf5")
    with h5py.File(path, "w") as f:
        f["features"] = bad
        f["lengths"] = np.array([10], np.int32)
        f.create_dataset("segment_ids", data=np.array(["a"], dtype=object), dtype=h5py.string_dtype("utf-8"))
    with pytest.raises(FeatureFileError, match=f"{path}: the feature matrix holds 1 non-finite"):
        FeatureReader(path, in_memory=True)
    with pytest.raises(FeatureFileError, match=f"{path}: segment a holds 1 non-finite"):
        FeatureReader(path, in_memory=False)[0]
    with pytest.raises(FileNotFoundError, match="no such feature file"):
        FeatureReader(str(tmp_path / "missing.hdf5"))
