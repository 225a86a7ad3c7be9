"""The training loop: CTC training of a float or QAT Conformer with exact resumption.

Per sub-epoch (RETURNN's "epoch"; ``partition_epoch`` of them make one pass over the data):
constant learning rate from :func:`three_phase_lr`, batches by padded audio duration in laplace
order, RAdam with decoupled weight decay, gradient-norm clipping, then a dev loss, one CSV row
and one checkpoint.

Resumption: every checkpoint holds the model, optimiser, RNG states and the loss history; the
data order and the speed-perturbation draws are functions of (seed, sub-epoch). A run that finds
checkpoints in its checkpoint directory continues after the newest one, so a crashed and
restarted training ends (on CPU) with the same weights, bit for bit, as an uninterrupted one.
"""
from __future__ import annotations

import csv
import glob
import io
import logging
import os
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from memristor_asr.config import Config
from memristor_asr.nn.checkpoint import (CheckpointError, load_state_dict_checked, observer_state_keys,
                                         read_checkpoint, save_checkpoint)
from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.model import ConformerCTCModel
from memristor_asr.training.convergence import (ConvergenceCheck, GreedyStats, check_convergence, greedy_stats,
                                                summarize)
from memristor_asr.training.data import (CTCDataset, SkipCounts, iterate_batches, make_batches,
                                         sub_epoch_order)
from memristor_asr.training.schedule import three_phase_lr
from memristor_asr.training.speed_perturbation import SpeedPerturbation, mel_centre_frequencies
from memristor_asr.util import atomic_write_text

__all__ = ["TrainConfig", "TrainProgress", "TrainingDivergedError", "train", "ctc_loss_sum", "evaluate",
           "default_device", "CSV_FIELDS"]

log = logging.getLogger(__name__)

CSV_FIELDS = ["sub_epoch", "epoch", "learning_rate", "train_loss", "dev_loss", "dev_label_error_rate",
              "dev_emission_ratio", "dev_blank_fraction", "train_seqs", "train_audio_seconds", "train_labels",
              "dev_seqs", "skipped_too_short", "skipped_empty_batches", "wall_seconds"]
_CKPT_RE = re.compile(r"epoch\.(\d+)\.pt$")


@dataclass(frozen=True)
class TrainConfig(Config):
    """Everything about a training run except the model (docs/STUDY_SETUP.md §3). Defaults are the paper's.

    :param num_epochs: full passes over the training data
    :param partition_epoch: sub-epochs per full epoch (one LR value, dev loss and checkpoint each)
    :param batch_seconds: padded audio per batch (longest sequence × count), seconds
    :param max_seqs_per_batch: optional cap on sequences per batch
    :param seqs_per_bin: laplace ordering bin size (the paper: 1000 float, 4000 QAT)
    :param lr_start, lr_peak, lr_after_decay, lr_final, lr_up_fraction, lr_down_fraction: the
        3-phase schedule (:func:`three_phase_lr`)
    :param weight_decay: decoupled weight decay of RAdam
    :param adam_eps: RAdam epsilon
    :param grad_clip_norm: gradient-norm clipping threshold
    :param speed_factors: speed-perturbation factors drawn per utterance; empty = off
    :param seed: seeds model initialisation, data order, augmentation and dropout
    :param keep_epochs: sub-epoch checkpoints to keep besides the newest one
    """

    num_epochs: int = 50
    partition_epoch: int = 5
    batch_seconds: float = 300.0
    max_seqs_per_batch: Optional[int] = None
    seqs_per_bin: int = 1000
    lr_start: float = 7e-6
    lr_peak: float = 5e-4
    lr_after_decay: float = 5e-5
    lr_final: float = 1e-7
    lr_up_fraction: float = 0.44
    lr_down_fraction: float = 0.44
    weight_decay: float = 1e-2
    adam_eps: float = 1e-16
    grad_clip_norm: float = 1.0
    speed_factors: Tuple[float, ...] = (0.9, 1.0, 1.1)
    seed: int = 1
    keep_epochs: Tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "speed_factors", tuple(float(f) for f in self.speed_factors))
        object.__setattr__(self, "keep_epochs", tuple(int(e) for e in self.keep_epochs))

    @property
    def num_sub_epochs(self) -> int:
        return self.num_epochs * self.partition_epoch

    def learning_rates(self) -> np.ndarray:
        return three_phase_lr(self.num_sub_epochs, start=self.lr_start, peak=self.lr_peak,
                              after_decay=self.lr_after_decay, final=self.lr_final,
                              up_fraction=self.lr_up_fraction, down_fraction=self.lr_down_fraction)


@dataclass(frozen=True)
class TrainProgress:
    """Where a running training is (passed to the ``progress`` callback after every step)."""

    sub_epoch: int
    num_sub_epochs: int
    step: int
    num_steps: int
    loss: float  # label-normalised CTC loss of the last batch
    last_dev_loss: Optional[float]


class TrainingDivergedError(RuntimeError):
    """The loss or the gradient became NaN/inf; the message names step and segments."""


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def ctc_loss_sum(log_probs: torch.Tensor, out_lengths: torch.Tensor, targets: torch.Tensor,
                 target_lengths: torch.Tensor) -> torch.Tensor:
    """Summed CTC loss of a batch (blank = last label, infeasible sequences contribute 0).

    :param log_probs: [B, T, C]
    """
    return F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=log_probs.shape[-1] - 1,
                      reduction="sum", zero_infinity=True)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: CTCDataset, *, max_frames: int,
             device) -> Tuple[float, int, GreedyStats]:
    """Label-normalised CTC loss and greedy decoding statistics of ``dataset`` in eval mode.

    :return: (loss per target label, number of sequences, greedy statistics)
    """
    was_training = model.training
    model.eval()
    lengths = dataset.lengths
    batches = make_batches(np.argsort(lengths, kind="stable"), lengths, max_frames=max_frames)
    total, labels, seqs = 0.0, 0, 0
    counts = {"errors": 0, "emitted": 0, "reference": 0, "blank_frames": 0, "frames": 0}
    for batch in iterate_batches(dataset, batches, SkipCounts()):
        batch = batch.to(device)
        log_probs, out_lengths = model(batch.features, batch.lengths)
        total += float(ctc_loss_sum(log_probs, out_lengths, batch.targets, batch.target_lengths))
        for k, v in greedy_stats(log_probs, out_lengths, batch.targets, batch.target_lengths).items():
            counts[k] += v
        labels += batch.num_labels
        seqs += len(batch.seg_ids)
    model.train(was_training)
    return total / max(labels, 1), seqs, summarize(counts)


def _checkpoint_path(checkpoint_dir: str, sub_epoch: int) -> str:
    return os.path.join(checkpoint_dir, f"epoch.{sub_epoch:03d}.pt")


def _existing_checkpoints(checkpoint_dir: str) -> List[Tuple[int, str]]:
    found = []
    for path in glob.glob(os.path.join(checkpoint_dir, "epoch.*.pt")):
        m = _CKPT_RE.search(os.path.basename(path))
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


def _rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_csv(path: str, rows: List[Dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    atomic_write_text(path, buf.getvalue())


def _make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.RAdam(model.parameters(), lr=cfg.lr_start, eps=cfg.adam_eps, weight_decay=cfg.weight_decay,
                             decoupled_weight_decay=True, foreach=True)


def _resume(checkpoint_dir: str, model_cfg: ModelConfig, train_cfg: TrainConfig, model, optimizer):
    """Load the newest checkpoint of ``checkpoint_dir`` if any; returns (sub_epochs done, history)."""
    found = _existing_checkpoints(checkpoint_dir)
    if not found:
        return 0, []
    sub_epoch, path = found[-1]
    data = read_checkpoint(path)
    for key, ours in (("model_config", model_cfg.to_dict()), ("train_config", train_cfg.to_dict())):
        theirs = data.get(key, {})
        diff = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
        if diff:
            raise CheckpointError(f"{path}: written with a different {key} (keys {diff}); "
                                  f"remove {checkpoint_dir} to start over")
    for key in ("optimizer", "train_state"):
        if key not in data:
            raise CheckpointError(f"{path}: not a resumable training checkpoint (no '{key}')")
    load_state_dict_checked(model, data["model"], source=path)
    try:
        optimizer.load_state_dict(data["optimizer"])
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: optimizer state does not fit: {e}") from None
    _set_rng_state(data["train_state"]["rng"])
    log.info("resuming after sub-epoch %d from %s", sub_epoch, path)
    return sub_epoch, list(data["train_state"]["history"])


def train(*, model_cfg: ModelConfig, train_cfg: TrainConfig, train_data: CTCDataset,
          dev_data: Optional[CTCDataset], checkpoint_dir: str, losses_csv: str, final_checkpoint: str,
          device=None, progress: Optional[Callable[[TrainProgress], None]] = None,
          convergence: Optional[ConvergenceCheck] = ConvergenceCheck(), name: str = "training",
          init_checkpoint: Optional[str] = None) -> List[Dict[str, Any]]:
    """Train (or continue training) and write the final checkpoint.

    :param checkpoint_dir: sub-epoch checkpoints ``epoch.NNN.pt``; existing ones are resumed from
    :param losses_csv: written after every sub-epoch (columns :data:`CSV_FIELDS`)
    :param final_checkpoint: the trained model (``model``, ``model_config``, ``epoch``, ``train_config``)
    :param device: default: CUDA if available, else CPU
    :param progress: called after every training step
    :param convergence: checked at the end (before the final checkpoint is written); None: no check
    :param name: the training's name in error messages (its job id)
    :param init_checkpoint: start from this model's weights instead of a random initialisation (e.g.
        QAT fine-tuning of a float model: its quantisers' observers start empty); a resumed run
        continues from its own checkpoints
    :return: the per-sub-epoch rows of the CSV
    :raises TrainingDivergedError: on a non-finite loss or gradient (last good checkpoint kept)
    :raises TrainingNotConvergedError: when the finished model fails ``convergence`` (checkpoints kept)
    """
    device = torch.device(device) if device is not None else default_device()
    if train_data.num_features != model_cfg.feature_dim:
        raise ValueError(f"{train_data.name}: features have {train_data.num_features} dims, "
                         f"the model expects {model_cfg.feature_dim}")
    os.makedirs(checkpoint_dir, exist_ok=True)
    learning_rates = train_cfg.learning_rates()
    torch.manual_seed(train_cfg.seed)
    random.seed(train_cfg.seed)
    model = ConformerCTCModel(model_cfg)
    if model_cfg.feature_normalization:  # from the data; a resumed run loads the same values
        mean, std = train_data.feature_statistics()
        model.set_feature_statistics(torch.from_numpy(mean).float(), torch.from_numpy(std).float())
    model.to(device)
    optimizer = _make_optimizer(model, train_cfg)
    done, history = _resume(checkpoint_dir, model_cfg, train_cfg, model, optimizer)
    if init_checkpoint is not None and done == 0:
        data = read_checkpoint(init_checkpoint)
        load_state_dict_checked(model, data["model"], source=os.fspath(init_checkpoint),
                                allow_missing=observer_state_keys(model))
        log.info("initialised from %s", init_checkpoint)

    max_frames = int(round(train_cfg.batch_seconds / train_data.frame_shift))
    lengths = train_data.lengths
    centres = mel_centre_frequencies(train_data.num_features, float(train_data.features.attrs.get("f_min", 60.0)),
                                     float(train_data.features.attrs.get("f_max", 7600.0)))
    last_dev = history[-1]["dev_loss"] if history else None
    for sub_epoch in range(done + 1, train_cfg.num_sub_epochs + 1):
        start = time.perf_counter()
        lr = float(learning_rates[sub_epoch - 1])
        for group in optimizer.param_groups:
            group["lr"] = lr
        order = sub_epoch_order(lengths, sub_epoch=sub_epoch, partition_epoch=train_cfg.partition_epoch,
                                seqs_per_bin=train_cfg.seqs_per_bin, seed=train_cfg.seed)
        batches = make_batches(order, lengths, max_frames=max_frames, max_seqs=train_cfg.max_seqs_per_batch)
        perturb = None
        if train_cfg.speed_factors and train_cfg.speed_factors != (1.0,):
            perturb = SpeedPerturbation(train_cfg.speed_factors, centres,
                                        np.random.default_rng([train_cfg.seed, sub_epoch, 1]))
        skipped = SkipCounts()
        model.train()
        loss_sum, labels, seqs, frames = 0.0, 0, 0, 0
        for step, batch in enumerate(iterate_batches(train_data, batches, skipped, perturb), 1):
            batch = batch.to(device)
            log_probs, out_lengths = model(batch.features, batch.lengths)
            loss = ctc_loss_sum(log_probs, out_lengths, batch.targets, batch.target_lengths)
            loss_value = float(loss.detach())
            where = f"sub-epoch {sub_epoch}, step {step} (segments {', '.join(batch.seg_ids)})"
            if not np.isfinite(loss_value):
                raise TrainingDivergedError(f"{where}: CTC loss is {loss_value}; {_last_good(checkpoint_dir)}")
            optimizer.zero_grad(set_to_none=True)
            (loss / max(batch.num_labels, 1)).backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), train_cfg.grad_clip_norm)
            if not torch.isfinite(grad_norm):
                raise TrainingDivergedError(f"{where}: gradient norm is {float(grad_norm)}; "
                                            f"{_last_good(checkpoint_dir)}")
            optimizer.step()
            loss_sum += loss_value
            labels += batch.num_labels
            seqs += len(batch.seg_ids)
            frames += int(batch.lengths.sum())
            if progress is not None:
                progress(TrainProgress(sub_epoch, train_cfg.num_sub_epochs, step, len(batches),
                                       loss_value / max(batch.num_labels, 1), last_dev))
        if dev_data is not None and len(dev_data):
            dev_loss, dev_seqs, greedy = evaluate(model, dev_data, max_frames=max_frames, device=device)
        else:
            dev_loss, dev_seqs, greedy = float("nan"), 0, None
        last_dev = dev_loss
        row = {"sub_epoch": sub_epoch, "epoch": round(sub_epoch / train_cfg.partition_epoch, 4),
               "learning_rate": lr, "train_loss": loss_sum / max(labels, 1), "dev_loss": dev_loss,
               "dev_label_error_rate": round(greedy.label_error_rate, 4) if greedy else "",
               "dev_emission_ratio": round(greedy.emission_ratio, 4) if greedy else "",
               "dev_blank_fraction": round(greedy.blank_fraction, 4) if greedy else "",
               "train_seqs": seqs, "train_audio_seconds": round(frames * train_data.frame_shift, 2),
               "train_labels": labels, "dev_seqs": dev_seqs, "skipped_too_short": skipped.too_short,
               "skipped_empty_batches": skipped.empty_batches,
               "wall_seconds": round(time.perf_counter() - start, 2)}
        history.append(row)
        log.info("sub-epoch %d/%d lr %.3g train %.4f dev %.4f, dev greedy label error rate %s (%d seqs, %.1f s "
                 "audio, %.1f s)", sub_epoch, train_cfg.num_sub_epochs, lr, row["train_loss"], dev_loss,
                 row["dev_label_error_rate"], seqs, row["train_audio_seconds"], row["wall_seconds"])
        _write_csv(losses_csv, history)
        save_checkpoint(_checkpoint_path(checkpoint_dir, sub_epoch), model, model_cfg, epoch=sub_epoch,
                        optimizer=optimizer.state_dict(), train_config=train_cfg.to_dict(),
                        train_state={"rng": _rng_state(), "history": history})
        for old, path in _existing_checkpoints(checkpoint_dir):
            if old != sub_epoch and old not in train_cfg.keep_epochs:
                os.remove(path)
    _write_csv(losses_csv, history)
    if convergence is not None:
        check_convergence(history, convergence, name=name, partitions=train_cfg.partition_epoch)
    save_checkpoint(final_checkpoint, model, model_cfg, epoch=train_cfg.num_sub_epochs,
                    train_config=train_cfg.to_dict())
    return history


def _last_good(checkpoint_dir: str) -> str:
    found = _existing_checkpoints(checkpoint_dir)
    return f"last good checkpoint: {found[-1][1]}" if found else "no checkpoint written yet"
