"""Did a training learn? Greedy dev statistics and the check that stops a failed training.

A CTC model that has not left the blank plateau emits (almost) only blanks: its greedy output
has next to no labels, its label error rate is 1, and its loss sits at the plateau. Such a model
decodes to empty hypotheses and, left alone, becomes a WER of ~100 in a table. The trainer
therefore measures, after every sub-epoch, the greedy (best-path) label error rate on dev and
the number of labels emitted per reference label, and :func:`check_convergence` fails the
training at its end when they show the plateau or a divergence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import torch

__all__ = ["ConvergenceCheck", "TrainingNotConvergedError", "GreedyStats", "greedy_stats", "edit_distance",
           "check_convergence", "summarize"]


@dataclass(frozen=True)
class ConvergenceCheck:
    """When a finished training counts as failed. The defaults only catch clear failures.

    :param max_dev_label_error_rate: greedy label (phoneme) error rate on dev above which the
        model has not learned; a blank-only model has 1.0
    :param min_emission_ratio: labels emitted per reference label on dev below which the model
        sits on the blank plateau (a converged model emits about 1)
    :param max_train_loss_rise: the last sub-epoch's train loss may exceed the best one by at
        most this factor (a larger rise is a divergence)
    """

    max_dev_label_error_rate: float = 0.9
    min_emission_ratio: float = 0.3
    max_train_loss_rise: float = 1.5

    def __post_init__(self):
        if not 0.0 < self.max_dev_label_error_rate <= 1.0:
            raise ValueError(f"max_dev_label_error_rate must be in (0, 1], got {self.max_dev_label_error_rate}")
        if not 0.0 <= self.min_emission_ratio < 1.0:
            raise ValueError(f"min_emission_ratio must be in [0, 1), got {self.min_emission_ratio}")
        if self.max_train_loss_rise < 1.0:
            raise ValueError(f"max_train_loss_rise must be >= 1, got {self.max_train_loss_rise}")


class TrainingNotConvergedError(RuntimeError):
    """A training ended on the blank plateau or diverged; the message says what to try."""


@dataclass(frozen=True)
class GreedyStats:
    """Greedy (best-path) decoding statistics of a data set.

    :param label_error_rate: Levenshtein distance / reference labels, summed over sequences
    :param emission_ratio: emitted labels / reference labels
    :param blank_fraction: share of output frames whose best label is the blank
    """

    label_error_rate: float
    emission_ratio: float
    blank_fraction: float


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Levenshtein distance between two label sequences (unit costs)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def greedy_stats(log_probs: torch.Tensor, out_lengths: torch.Tensor, targets: torch.Tensor,
                 target_lengths: torch.Tensor) -> Dict[str, int]:
    """Counts of one batch for :class:`GreedyStats` (blank = last label).

    :param log_probs: [B, T, C]
    :param out_lengths: [B]
    :param targets: concatenated reference labels
    :param target_lengths: [B]
    :return: dict with ``errors``, ``emitted``, ``reference``, ``blank_frames``, ``frames``
    """
    blank = log_probs.shape[-1] - 1
    best = log_probs.argmax(dim=-1).cpu()
    counts = {"errors": 0, "emitted": 0, "reference": 0, "blank_frames": 0, "frames": 0}
    refs = torch.split(targets.cpu(), target_lengths.cpu().tolist())
    for b, ref in enumerate(refs):
        path = best[b, :int(out_lengths[b])]
        counts["blank_frames"] += int((path == blank).sum())
        counts["frames"] += int(path.numel())
        collapsed = torch.unique_consecutive(path)
        hyp = collapsed[collapsed != blank].tolist()
        counts["errors"] += edit_distance(hyp, ref.tolist())
        counts["emitted"] += len(hyp)
        counts["reference"] += int(ref.numel())
    return counts


def summarize(counts: Dict[str, int]) -> GreedyStats:
    ref = max(counts["reference"], 1)
    return GreedyStats(label_error_rate=counts["errors"] / ref, emission_ratio=counts["emitted"] / ref,
                       blank_fraction=counts["blank_frames"] / max(counts["frames"], 1))


def _fmt_rows(history: List[Dict[str, Any]], n: int = 3) -> str:
    rows = []
    for r in history[-n:]:
        ler = r.get("dev_label_error_rate")
        ler_s = f", dev greedy label error rate {float(ler):.2f}" if ler not in (None, "") else ""
        rows.append(f"sub-epoch {r['sub_epoch']}: train loss {float(r['train_loss']):.3f}, "
                    f"dev loss {float(r['dev_loss']):.3f}{ler_s}")
    return "; ".join(rows)


def check_convergence(history: List[Dict[str, Any]], check: ConvergenceCheck, *, name: str,
                      partitions: int = 1) -> None:
    """Raise :class:`TrainingNotConvergedError` when the finished training ``history`` (the loss CSV
    rows, with the greedy dev columns) shows the blank plateau or a divergence.

    :param partitions: sub-epochs per epoch (``TrainConfig.partition_epoch``): sub-epoch k trains on
        partition (k − 1) mod ``partitions`` of the data

    :param name: the training's name in the message (its job id)
    """
    if not history:
        raise TrainingNotConvergedError(f"{name}: no sub-epoch finished")
    last = history[-1]
    problems = []
    train_losses = [float(r["train_loss"]) for r in history]
    if not all(math.isfinite(x) for x in train_losses) or not math.isfinite(float(last["dev_loss"])):
        problems.append("a loss is not finite (the features or the model produce NaN/inf)")
    ler, emitted = last.get("dev_label_error_rate"), last.get("dev_emission_ratio")
    if ler not in (None, "") and float(ler) > check.max_dev_label_error_rate:
        problems.append(f"dev greedy label error rate {float(ler):.2f} > {check.max_dev_label_error_rate:g}")
    if emitted not in (None, "") and float(emitted) < check.min_emission_ratio:
        problems.append(f"only {float(emitted):.2f} labels emitted per reference label on dev "
                        f"(< {check.min_emission_ratio:g}): the model is on the CTC blank plateau")
    # Sub-epochs of one epoch train on different partitions of the data, whose losses differ (far more
    # than the rise limit once a small model fits its data: 0.28 vs 0.44 for two halves of the ci
    # corpus), so the last sub-epoch is compared with the best one of the same partition; partitions
    # seen once (a one-epoch fine-tune) are compared with the best of all
    last_part = (int(last["sub_epoch"]) - 1) % partitions
    same = [x for r, x in zip(history, train_losses) if (int(r["sub_epoch"]) - 1) % partitions == last_part]
    finite = [x for x in (same if len(same) > 1 else train_losses) if math.isfinite(x)]
    if finite and train_losses[-1] > check.max_train_loss_rise * min(finite):
        problems.append(f"the train loss rose from its best {min(finite):.3f} to {train_losses[-1]:.3f} (diverged)")
    if problems:
        raise TrainingNotConvergedError(
            f"{name}: training did not converge: {'; '.join(problems)}. Last losses: {_fmt_rows(history)}. "
            "Try: more epochs (num_epochs), a longer warm-up or a lower peak learning rate (lr_peak), another "
            "seed, or check the features; the checkpoints stay in the job's work/checkpoints, and a rerun with "
            "a looser ConvergenceCheck resumes from them without training again")
