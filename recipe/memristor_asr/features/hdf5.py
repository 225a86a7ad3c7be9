"""HDF5 feature files: one file per split, all sequences concatenated along time.

Layout::

    /features     float32 [total_frames, num_features]
    /lengths      int32   [num_seqs]            frames per sequence
    /segment_ids  utf-8 string [num_seqs]       manifest ids, in file order
    attrs: num_features, sample_rate, window_length, hop_length, ... (free-form, for provenance)

Integrity: every dataset is written with HDF5's Fletcher-32 checksum filter (per chunk), so a
flipped or truncated byte in a finished file fails the read instead of yielding garbage, and
writers and readers refuse non-finite values; both raise :class:`FeatureFileError` naming the file
(and the segment where one is known).
"""
from __future__ import annotations

import hashlib
import os
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import h5py
import numpy as np

__all__ = ["write_features", "FeatureReader", "FeatureFileError", "iter_features", "merge_features",
           "fits_in_memory"]

# FeatureReader(in_memory=None) loads a file at most this large, and at most this share of the
# memory the system has available; larger files are read sequence by sequence
IN_MEMORY_MAX_BYTES = 8 * 2 ** 30
IN_MEMORY_MAX_SHARE = 0.5


class FeatureFileError(ValueError):
    """A feature file is corrupt, truncated or holds non-finite values; the message names the file."""


def _read(path: str, what: str, read):
    """``read()``, with h5py's errors (checksum failures, truncation) turned into a FeatureFileError."""
    try:
        return read()
    except (OSError, KeyError, RuntimeError) as e:
        raise FeatureFileError(f"{path}: cannot read {what} ({e}); the file is corrupt or truncated (its "
                               f"checksums failed): delete the job that wrote it and rerun") from e


def _check_finite(path: str, feats: np.ndarray, where: str) -> None:
    if not np.isfinite(feats).all():
        bad = int(np.count_nonzero(~np.isfinite(feats)))
        raise FeatureFileError(f"{path}: {where} holds {bad} non-finite feature values (NaN/inf)")


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
            _check_finite(str(path), feats, f"segment {seg_id}")
            if dset is None:
                dset = f.create_dataset("features", shape=(0, feats.shape[1]), maxshape=(None, feats.shape[1]),
                                        dtype="float32", chunks=(4096, feats.shape[1]), fletcher32=True)
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
        f.create_dataset("lengths", data=np.asarray(lengths, dtype=np.int32), fletcher32=bool(lengths))
        # variable-length strings take no HDF5 filter: their checksum is an attribute
        f.create_dataset("segment_ids", data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype("utf-8"))
        f.attrs[_IDS_DIGEST] = _digest(ids)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    return len(ids)


_IDS_DIGEST = "segment_ids_sha256"


def _digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()


def _ids(f, path: str) -> List[str]:
    """The segment ids, checked against their digest where the file has one."""
    ids = [s.decode() if isinstance(s, bytes) else str(s) for s in f["segment_ids"][()]]
    expected = f.attrs.get(_IDS_DIGEST)
    if expected is not None and _digest(ids) != (expected.decode() if isinstance(expected, bytes) else expected):
        raise FeatureFileError(f"{path}: the segment ids do not match their checksum; the file is corrupt: "
                               f"delete the job that wrote it and rerun")
    return ids


class FeatureReader:
    """Random access to the sequences of a feature file.

    :param in_memory: True loads all features at once; False reads each sequence from the file on
        access, for files larger than memory (TED-LIUM train is about 24 GB); None (default) loads
        the file if :func:`fits_in_memory` says so
    """

    def __init__(self, path, in_memory: Optional[bool] = None):
        self.path = str(path)
        self._file = None
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{self.path}: no such feature file")

        def load():
            with h5py.File(self.path, "r") as f:
                lengths = f["lengths"][()].astype(np.int64)
                ids = _ids(f, self.path)
                attrs = {k: v for k, v in f.attrs.items() if k != _IDS_DIGEST}
                dset = f["features"]
                load_all = fits_in_memory(dset.size * dset.dtype.itemsize) if in_memory is None else in_memory
                return lengths, ids, attrs, dset.shape[0], dset[()] if load_all else None

        self.lengths, self.segment_ids, self.attrs, num_frames, self.features = _read(self.path, "the features", load)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.index = {s: i for i, s in enumerate(self.segment_ids)}
        if self.offsets[-1] != num_frames:
            raise FeatureFileError(f"{self.path}: lengths sum to {self.offsets[-1]} but there are {num_frames} frames")
        if len(self.segment_ids) != len(self.lengths):
            raise FeatureFileError(f"{self.path}: {len(self.segment_ids)} segment ids but {len(self.lengths)} lengths")
        if self.features is not None:
            _check_finite(self.path, self.features, "the feature matrix")

    def __len__(self) -> int:
        return len(self.segment_ids)

    def __getitem__(self, i: int) -> np.ndarray:
        """Features of sequence ``i``, float32 [T, F]."""
        if self.features is not None:
            return self.features[self.offsets[i]:self.offsets[i + 1]]
        if self._file is None:  # opened lazily so that a reader can be handed to worker processes
            self._file = _read(self.path, "the file", lambda: h5py.File(self.path, "r"))
        feats = _read(self.path, f"segment {self.segment_ids[i]}",
                      lambda: self._file["features"][self.offsets[i]:self.offsets[i + 1]])
        _check_finite(self.path, feats, f"segment {self.segment_ids[i]}")
        return feats

    def __getstate__(self):
        return {k: (None if k == "_file" else v) for k, v in self.__dict__.items()}

    def get(self, segment_id: str) -> np.ndarray:
        return self[self.index[segment_id]]


def iter_features(path) -> Iterator[Tuple[str, np.ndarray]]:
    """Stream ``(segment_id, features[T, F])`` from a feature file without loading it whole."""
    path = str(path)
    with _read(path, "the file", lambda: h5py.File(path, "r")) as f:
        lengths = _read(path, "the lengths", lambda: f["lengths"][()].astype(np.int64))
        ids = _read(path, "the segment ids", lambda: _ids(f, path))
        dset = f["features"]
        offset = 0
        for seg_id, n in zip(ids, lengths):
            feats = _read(path, f"segment {seg_id}", lambda: dset[offset:offset + n])
            _check_finite(path, feats, f"segment {seg_id}")
            yield seg_id, feats
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
