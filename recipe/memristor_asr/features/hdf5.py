"""HDF5 feature files: one file per split, all sequences concatenated along time.

Layout::

    /features     float32 [total_frames, num_features]
    /lengths      int32   [num_seqs]            frames per sequence
    /segment_ids  utf-8 string [num_seqs]       manifest ids, in file order
    attrs: num_features, sample_rate, window_length, hop_length, ... (free-form, for provenance)
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import h5py
import numpy as np

__all__ = ["write_features", "FeatureReader", "iter_features", "merge_features", "fits_in_memory"]

# FeatureReader(in_memory=None) loads a file at most this large, and at most this share of the
# memory the system has available; larger files are read sequence by sequence
IN_MEMORY_MAX_BYTES = 8 * 2 ** 30
IN_MEMORY_MAX_SHARE = 0.5


def _available_memory() -> Optional[int]:
    """MemAvailable in bytes (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def fits_in_memory(num_bytes: int) -> bool:
    """Whether ``num_bytes`` of features should be loaded at once (see IN_MEMORY_MAX_*)."""
    available = _available_memory()
    return num_bytes <= IN_MEMORY_MAX_BYTES and (available is None or num_bytes <= IN_MEMORY_MAX_SHARE * available)


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
            elif feats.shape[1] != dset.shape[1]:
                raise ValueError(f"{path}: {seg_id} has {feats.shape[1]} features per frame, earlier "
                                 f"sequences {dset.shape[1]}")
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


def _ids(dset) -> List[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in dset[()]]


class FeatureReader:
    """Random access to the sequences of a feature file.

    :param in_memory: True loads all features at once; False reads each sequence from the file on
        access, for files larger than memory (TED-LIUM train is about 24 GB); None (default) loads
        the file if :func:`fits_in_memory` says so
    """

    def __init__(self, path, in_memory: Optional[bool] = None):
        self.path = str(path)
        self._file = None
        with h5py.File(self.path, "r") as f:
            self.lengths = f["lengths"][()].astype(np.int64)
            self.segment_ids = _ids(f["segment_ids"])
            self.attrs = dict(f.attrs)
            dset = f["features"]
            num_frames = dset.shape[0]
            if in_memory is None:
                in_memory = fits_in_memory(dset.size * dset.dtype.itemsize)
            self.features = dset[()] if in_memory else None
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.index = {s: i for i, s in enumerate(self.segment_ids)}
        if self.offsets[-1] != num_frames:
            raise ValueError(f"{self.path}: lengths sum to {self.offsets[-1]} but there are {num_frames} frames")

    def __len__(self) -> int:
        return len(self.segment_ids)

    def __getitem__(self, i: int) -> np.ndarray:
        """Features of sequence ``i``, float32 [T, F]."""
        if self.features is not None:
            return self.features[self.offsets[i]:self.offsets[i + 1]]
        if self._file is None:  # opened lazily so that a reader can be handed to worker processes
            self._file = h5py.File(self.path, "r")
        return self._file["features"][self.offsets[i]:self.offsets[i + 1]]

    def __getstate__(self):
        return {k: (None if k == "_file" else v) for k, v in self.__dict__.items()}

    def get(self, segment_id: str) -> np.ndarray:
        return self[self.index[segment_id]]


def iter_features(path) -> Iterator[Tuple[str, np.ndarray]]:
    """Stream ``(segment_id, features[T, F])`` from a feature file without loading it whole."""
    with h5py.File(path, "r") as f:
        lengths = f["lengths"][()].astype(np.int64)
        ids = _ids(f["segment_ids"])
        dset = f["features"]
        offset = 0
        for seg_id, n in zip(ids, lengths):
            yield seg_id, dset[offset:offset + n]
            offset += n


def merge_features(path, inputs: Sequence, attrs: Optional[Dict] = None) -> int:
    """Concatenate feature files (in the given order) into ``path``; returns the sequence count.

    :raises ValueError: if the inputs disagree in feature dimension or repeat a segment id
    """
    seen = set()

    def items():
        for p in inputs:
            for seg_id, feats in iter_features(p):
                if seg_id in seen:
                    raise ValueError(f"{p}: segment {seg_id} appears in more than one input file")
                seen.add(seg_id)
                yield seg_id, feats

    return write_features(path, items(), attrs)
