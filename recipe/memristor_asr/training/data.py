"""Training data: features + CTC targets, sequence order, batching by audio duration.

A :class:`CTCDataset` joins a feature file (``features/hdf5.py``) with a segment manifest
(``corpus/manifest.py``, for the text) and the training lexicon + labels
(``lexicon/lexicon.py``: first pronunciation of each word → label ids).

Sequence order follows RETURNN's ``laplace:.N`` (shuffle, cut into bins of N sequences, sort each
bin by length, alternating ascending/descending), computed once per full epoch from
``(seed, epoch)`` and cut into ``partition_epoch`` contiguous sub-epochs. The order is therefore a
pure function of the seed and the sub-epoch number, which makes resuming exact.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.lexicon.lexicon import read_labels, read_lexicon, words_to_label_ids
from memristor_asr.nn.frontend import SUBSAMPLING

__all__ = ["SkipCounts", "Utterance", "CTCDataset", "Batch", "ctc_min_frames", "laplace_order",
           "sub_epoch_order", "make_batches", "pad_sequences", "collate", "iterate_batches", "frame_shift_seconds"]

log = logging.getLogger(__name__)


@dataclass
class SkipCounts:
    """What was left out, and why (reported in the loss CSV and the job log)."""

    too_short: int = 0  # fewer frames than the 4x subsampling needs for one output frame
    ctc_infeasible: int = 0  # fewer output frames than labels (+ repeats) -- no CTC path exists
    oov: int = 0  # a word without pronunciation (only where skipping is allowed, e.g. dev)
    missing_features: int = 0  # in the manifest but not in the feature file (only where allowed)
    empty_batches: int = 0  # batches with no usable sequence left

    def as_dict(self) -> Dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Utterance:
    seg_id: str
    index: int  # position in the feature file
    num_frames: int
    targets: np.ndarray  # int64 label ids, no blank


def ctc_min_frames(targets: Sequence[int]) -> int:
    """Output frames a CTC alignment of ``targets`` needs: one per label plus a blank between repeats."""
    repeats = sum(1 for a, b in zip(targets[:-1], targets[1:]) if a == b)
    return len(targets) + repeats


def frame_shift_seconds(reader: FeatureReader) -> float:
    """Frame shift of a feature file from its attributes (hop_length / sample_rate), default 10 ms."""
    hop, rate = reader.attrs.get("hop_length"), reader.attrs.get("sample_rate")
    if hop and rate:
        return float(hop) / float(rate)
    return 0.01


class CTCDataset:
    """Utterances with features (kept in memory by :class:`FeatureReader`) and label targets.

    :param features: the feature file reader
    :param utterances: the usable utterances
    :param skipped: what was dropped while loading
    :param name: for messages
    """

    def __init__(self, features: FeatureReader, utterances: List[Utterance], skipped: SkipCounts, name: str):
        self.features = features
        self.utterances = utterances
        self.skipped = skipped
        self.name = name
        self.frame_shift = frame_shift_seconds(features)
        self.num_features = int(features.features.shape[1]) if len(features) else 0

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([u.num_frames for u in self.utterances], dtype=np.int64)

    @property
    def total_seconds(self) -> float:
        return float(self.lengths.sum()) * self.frame_shift

    def feature_statistics(self) -> Tuple[np.ndarray, np.ndarray]:
        """Per-bin mean and standard deviation over all frames of the usable utterances (float64)."""
        total = np.zeros(self.num_features)
        squares = np.zeros(self.num_features)
        frames = 0
        for utt in self.utterances:
            x = self.features[utt.index].astype(np.float64)
            total += x.sum(axis=0)
            squares += (x * x).sum(axis=0)
            frames += len(x)
        mean = total / max(frames, 1)
        return mean, np.sqrt(np.maximum(squares / max(frames, 1) - mean * mean, 0.0))

    @classmethod
    def load(cls, *, features_path, manifest_path, lexicon_path, labels_path, skip_oov: bool = False,
             skip_missing_features: bool = False, name: Optional[str] = None) -> "CTCDataset":
        """Join features, manifest text and lexicon.

        :param skip_oov: drop (and count) segments with a word missing from the lexicon instead of
            failing; the paper's CV set is dev without such segments
        :param skip_missing_features: drop (and count) manifest segments absent from the features
        :raises ValueError: naming the files and the segment for an OOV word or missing features
            (when not skipped)
        """
        reader = FeatureReader(features_path)
        labels = read_labels(labels_path)
        label_index = {lab: i for i, lab in enumerate(labels[:-1])}  # the blank is never a target
        lexicon = read_lexicon(lexicon_path, first_only=True)
        skipped = SkipCounts()
        utterances: List[Utterance] = []
        for seg in read_manifest(manifest_path):
            idx = reader.index.get(seg.id)
            if idx is None:
                if skip_missing_features:
                    skipped.missing_features += 1
                    continue
                raise ValueError(f"segment {seg.id} of {manifest_path} has no features in {features_path}")
            try:
                targets = words_to_label_ids(seg.words, lexicon, label_index)
            except KeyError as e:
                if skip_oov:
                    skipped.oov += 1
                    continue
                raise ValueError(f"segment {seg.id} of {manifest_path}: {e.args[0]} ({lexicon_path}, {labels_path})") \
                    from None
            frames = int(reader.lengths[idx])
            if frames < SUBSAMPLING:
                skipped.too_short += 1
                continue
            if frames // SUBSAMPLING < ctc_min_frames(targets):
                skipped.ctc_infeasible += 1
                continue
            utterances.append(Utterance(seg.id, idx, frames, np.asarray(targets, dtype=np.int64)))
        dataset = cls(reader, utterances, skipped, name or str(manifest_path))
        log.info("%s: %d utterances (%.1f s), skipped %s", dataset.name, len(dataset), dataset.total_seconds,
                 skipped.as_dict())
        return dataset


def laplace_order(lengths: np.ndarray, seqs_per_bin: int, rng: np.random.Generator) -> np.ndarray:
    """RETURNN ``laplace:.N`` order: random bins of ``seqs_per_bin`` sequences, each sorted by
    length, alternating ascending and descending (so neighbouring batches have similar lengths)."""
    perm = rng.permutation(len(lengths))
    parts = []
    for k, start in enumerate(range(0, len(perm), seqs_per_bin)):
        chunk = perm[start:start + seqs_per_bin]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        parts.append(chunk[::-1] if k % 2 else chunk)
    return np.concatenate(parts) if parts else perm


def sub_epoch_order(lengths: np.ndarray, *, sub_epoch: int, partition_epoch: int, seqs_per_bin: int,
                    seed: int) -> np.ndarray:
    """Utterance indices of sub-epoch ``sub_epoch`` (1-based): part ``(sub_epoch-1) % partition_epoch``
    of the laplace order of full epoch ``(sub_epoch-1) // partition_epoch``."""
    epoch, part = divmod(sub_epoch - 1, partition_epoch)
    order = laplace_order(lengths, seqs_per_bin, np.random.default_rng([seed, epoch]))
    return np.array_split(order, partition_epoch)[part]


def make_batches(order: np.ndarray, lengths: np.ndarray, *, max_frames: int,
                 max_seqs: Optional[int] = None) -> List[np.ndarray]:
    """Cut ``order`` into consecutive batches whose padded size (longest × count) stays within
    ``max_frames``; a single longer sequence forms a batch of its own."""
    batches, current, longest = [], [], 0
    for i in order:
        n = int(lengths[i])
        fits = max(longest, n) * (len(current) + 1) <= max_frames and (max_seqs is None or len(current) < max_seqs)
        if current and not fits:
            batches.append(np.array(current))
            current, longest = [], 0
        current.append(int(i))
        longest = max(longest, n)
    if current:
        batches.append(np.array(current))
    return batches


@dataclass
class Batch:
    features: torch.Tensor  # [B, T, F] zero-padded
    lengths: torch.Tensor  # [B] int64
    targets: torch.Tensor  # [sum of target lengths] int64, concatenated
    target_lengths: torch.Tensor  # [B] int64
    seg_ids: List[str] = field(default_factory=list)

    @property
    def num_labels(self) -> int:
        return int(self.target_lengths.sum())

    def to(self, device) -> "Batch":
        return Batch(self.features.to(device), self.lengths.to(device), self.targets.to(device),
                     self.target_lengths.to(device), self.seg_ids)


def pad_sequences(sequences: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad ``[T_b, F]`` tensors into ``[B, max T, F]`` float32; returns (padded, lengths [B])."""
    lengths = torch.tensor([s.shape[0] for s in sequences], dtype=torch.int64)
    padded = torch.zeros(len(sequences), int(lengths.max()), sequences[0].shape[1], dtype=torch.float32)
    for b, s in enumerate(sequences):
        padded[b, :s.shape[0]] = s
    return padded, lengths


def collate(dataset: CTCDataset, indices: Sequence[int], skipped: SkipCounts, *,
            perturb=None) -> Optional[Batch]:
    """Pad the utterances ``indices`` of ``dataset`` into a batch.

    :param perturb: optional ``f(features [T, F] tensor) -> features [T', F]`` (speed perturbation)
    :param skipped: counts sequences that became shorter than the subsampling and empty batches
    :return: the batch, or None if no sequence is left
    """
    feats, targets, seg_ids = [], [], []
    for i in indices:
        utt = dataset.utterances[i]
        x = torch.from_numpy(np.ascontiguousarray(dataset.features[utt.index]))
        if perturb is not None:
            x = perturb(x)
        if x.shape[0] < SUBSAMPLING:
            skipped.too_short += 1
            continue
        feats.append(x)
        targets.append(torch.from_numpy(utt.targets))
        seg_ids.append(utt.seg_id)
    if not feats:
        skipped.empty_batches += 1
        return None
    padded, lengths = pad_sequences(feats)
    return Batch(padded, lengths, torch.cat(targets), torch.tensor([len(t) for t in targets], dtype=torch.int64),
                 seg_ids)


def iterate_batches(dataset: CTCDataset, batches: List[np.ndarray], skipped: SkipCounts,
                    perturb=None) -> Iterator[Batch]:
    """Collated batches in order, skipping (and counting) empty ones."""
    for idx in batches:
        batch = collate(dataset, idx, skipped, perturb=perturb)
        if batch is not None:
            yield batch
