"""HDF5 feature files: one file per split, all sequences concatenated along time.

Layout::

    /features     float32 [total_frames, num_features]
    /lengths      int32   [num_seqs]            frames per sequence
    /segment_ids  utf-8 string [num_seqs]       manifest ids, in file order
    attrs: num_features, sample_rate, window_length, hop_length, ... (free-form, for provenance)
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Tuple

import h5py
import numpy as np

__all__ = ["write_features", "FeatureReader"]


def write_features(path, items: Iterable[Tuple[str, np.ndarray]], attrs: Optional[Dict] = None) -> int:
    """Write ``(segment_id, features[T, F])`` pairs into one HDF5 file; returns the count."""
    ids: List[str] = []
    lengths: List[int] = []
    with h5py.File(path, "w") as f:
        dset = None
        offset = 0
        for seg_id, feats in items:
            feats = np.asarray(feats, dtype=np.float32)
            if feats.ndim != 2:
                raise ValueError(f"{path}: features of {seg_id} must be [T, F], got {feats.shape}")
            if dset is None:
                dset = f.create_dataset("features", shape=(0, feats.shape[1]), maxshape=(None, feats.shape[1]),
                                        dtype="float32", chunks=(4096, feats.shape[1]))
            dset.resize(offset + feats.shape[0], axis=0)
            dset[offset:offset + feats.shape[0]] = feats
            offset += feats.shape[0]
            ids.append(seg_id)
            lengths.append(feats.shape[0])
        if dset is None:
            f.create_dataset("features", shape=(0, 0), dtype="float32")
        f.create_dataset("lengths", data=np.asarray(lengths, dtype=np.int32))
        f.create_dataset("segment_ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype("utf-8"))
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    return len(ids)


class FeatureReader:
    """Random access to the sequences of a feature file (loads everything into memory)."""

    def __init__(self, path):
        self.path = str(path)
        with h5py.File(self.path, "r") as f:
            self.features = f["features"][()]
            self.lengths = f["lengths"][()].astype(np.int64)
            self.segment_ids = [s.decode() if isinstance(s, bytes) else str(s) for s in f["segment_ids"][()]]
            self.attrs = dict(f.attrs)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.index = {s: i for i, s in enumerate(self.segment_ids)}
        if self.offsets[-1] != len(self.features):
            raise ValueError(f"{self.path}: lengths sum to {self.offsets[-1]} but there are {len(self.features)} frames")

    def __len__(self) -> int:
        return len(self.segment_ids)

    def __getitem__(self, i: int) -> np.ndarray:
        """Features of sequence ``i``, float32 [T, F]."""
        return self.features[self.offsets[i]:self.offsets[i + 1]]

    def get(self, segment_id: str) -> np.ndarray:
        return self[self.index[segment_id]]
