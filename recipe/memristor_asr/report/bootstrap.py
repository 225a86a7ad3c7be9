"""Confidence intervals of WERs: a percentile bootstrap over the evaluation set's segments.

A WER measured on a few hundred segments is an estimate; its sampling uncertainty comes from
which segments the dev set happens to hold. :func:`bootstrap_wer` resamples segments with
replacement (jointly for several systems scored on the same segments, so that an average over
devices or seeds gets the interval of the average) and reports the central 95 % percentile
interval of the corpus-level WER ``100 · Σ errors / Σ words``.

The resampling is seeded, so the same scores give the same interval on every machine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

from memristor_asr.scoring.sclite import SegmentScore, read_segment_scores

__all__ = ["WerEstimate", "ScoredSystem", "bootstrap_wer", "estimate", "load_scores", "MIN_SEGMENTS", "NUM_RESAMPLES"]

# Resamples of every interval (the tables' notes state it).
NUM_RESAMPLES = 2000

# Fewer segments than this give no meaningful interval (the bootstrap distribution is too coarse).
MIN_SEGMENTS = 10


@dataclass(frozen=True)
class WerEstimate:
    """A WER in percent with its 95 % bootstrap interval over segments.

    :param wer: the point estimate (for several systems: their mean)
    :param lo: lower end of the interval
    :param hi: upper end of the interval
    :param seed_std: sample standard deviation (ddof 1) over training seeds, when there are several
    :param num_seeds: training seeds averaged in ``wer``
    """

    wer: float
    lo: float
    hi: float
    seed_std: Optional[float] = None
    num_seeds: int = 1

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


@dataclass(frozen=True)
class ScoredSystem:
    """The per-segment scores of one system (one recognition, scored), with where they came from."""

    source: str
    scores: List[SegmentScore]

    @property
    def wer(self) -> float:
        words = sum(s.words for s in self.scores)
        return 100.0 * sum(s.errors for s in self.scores) / words if words else float("nan")


def load_scores(path) -> ScoredSystem:
    """Read a ScliteJob's ``segment_scores.tsv``."""
    return ScoredSystem(str(path), read_segment_scores(path))


def _aligned(systems: Sequence[ScoredSystem]):
    """(errors [S, N], words [N]) with segments in the first system's order.

    :raises ValueError: naming the files when the systems were not scored on the same segments
    """
    if not systems:
        raise ValueError("no scored systems to estimate a WER from")
    ref = systems[0]
    order = [s.segment for s in ref.scores]
    index = {seg: i for i, seg in enumerate(order)}
    if len(index) != len(order):
        raise ValueError(f"{ref.source}: duplicate segments in the scores")
    words = np.array([s.words for s in ref.scores], dtype=np.int64)
    errors = np.zeros((len(systems), len(order)), dtype=np.int64)
    for k, system in enumerate(systems):
        segs = {s.segment: s for s in system.scores}
        if set(segs) != set(index):
            raise ValueError(f"{system.source} and {ref.source} were scored on different segments")
        for seg, s in segs.items():
            i = index[seg]
            if s.words != words[i]:
                raise ValueError(f"{system.source}: segment {seg} has {s.words} reference words, "
                                 f"{ref.source} has {words[i]}")
            errors[k, i] = s.errors
    return errors, words


def bootstrap_wer(systems: Sequence[ScoredSystem], *, num_resamples: int = NUM_RESAMPLES, level: float = 0.95,
                  seed: int = 0) -> WerEstimate:
    """Mean WER over ``systems`` and its percentile bootstrap interval over segments.

    Every resample draws N segments with replacement (N = number of segments) and applies the
    same draw to every system; the statistic is the mean over systems of their corpus-level WER.

    :param systems: systems scored on the same reference segments
    :param num_resamples: bootstrap resamples
    :param level: coverage of the interval
    :param seed: seed of the resampling
    :raises ValueError: for fewer than :data:`MIN_SEGMENTS` segments, or no reference words
    """
    errors, words = _aligned(systems)
    n = words.size
    if n < MIN_SEGMENTS:
        raise ValueError(f"{systems[0].source}: {n} segments are too few for a bootstrap interval "
                         f"(at least {MIN_SEGMENTS}); use a larger evaluation set")
    if words.sum() == 0:
        raise ValueError(f"{systems[0].source}: the reference has no words")
    if not 0.0 < level < 1.0 or num_resamples < 100:
        raise ValueError(f"level must be in (0, 1) and num_resamples >= 100, got {level}, {num_resamples}")
    point = float(np.mean(100.0 * errors.sum(axis=1) / words.sum()))
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=num_resamples)  # [B, N] times each segment is drawn
    res_words = counts @ words                                            # [B]
    res_errors = errors @ counts.T                                        # [S, B]
    valid = res_words > 0
    stats = np.mean(100.0 * res_errors[:, valid] / res_words[valid], axis=0)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return WerEstimate(point, float(lo), float(hi))


def estimate(per_seed: Sequence[Sequence[ScoredSystem]], **kwargs) -> WerEstimate:
    """The WER of one table cell from its systems per training seed.

    :param per_seed: for each training seed, the systems that make up the cell (one recognition,
        or one per device); all are averaged, and the interval is that of the average
    :return: with several seeds, ``seed_std`` is the spread of the per-seed means
    """
    if not per_seed or any(not s for s in per_seed):
        raise ValueError("a table cell needs at least one scored system per training seed")
    flat = [system for seed in per_seed for system in seed]
    est = bootstrap_wer(flat, **kwargs)
    if len(per_seed) == 1:
        return est
    seed_means = [float(np.mean([s.wer for s in seed])) for seed in per_seed]
    std = float(np.std(seed_means, ddof=1))
    return WerEstimate(est.wer, est.lo, est.hi, seed_std=std if math.isfinite(std) else None,
                       num_seeds=len(per_seed))
