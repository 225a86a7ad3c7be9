"""The convergence check: a blank-only model fails its training, loudly and with what to try."""
import dataclasses
import os

import pytest
import torch

from memristor_asr.training.convergence import (ConvergenceCheck, TrainingNotConvergedError, check_convergence,
                                                edit_distance, greedy_stats, summarize)
from memristor_asr.training.trainer import train
from tests.training.test_trainer import FAST, TINY, _data


def test_edit_distance():
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([], [1, 2]) == 2 and edit_distance([1, 2], []) == 2
    assert edit_distance([1, 3, 4], [1, 2, 3]) == 2


def test_greedy_stats_of_a_blank_only_output():
    log_probs = torch.full((1, 10, 5), -10.0)
    log_probs[..., 4] = 0.0  # blank everywhere
    counts = greedy_stats(log_probs, torch.tensor([10]), torch.tensor([0, 1, 2]), torch.tensor([3]))
    s = summarize(counts)
    assert s.label_error_rate == 1.0 and s.emission_ratio == 0.0 and s.blank_fraction == 1.0
    log_probs[0, 2, :] = torch.tensor([0.0, -10, -10, -10, -10])
    log_probs[0, 5, :] = torch.tensor([-10, 0.0, -10, -10, -10])
    s = summarize(greedy_stats(log_probs, torch.tensor([10]), torch.tensor([0, 1, 2]), torch.tensor([3])))
    assert s.label_error_rate == pytest.approx(1 / 3) and s.emission_ratio == pytest.approx(2 / 3)


def _row(n, train_loss, dev_loss, ler, emitted):
    return {"sub_epoch": n, "train_loss": train_loss, "dev_loss": dev_loss, "dev_label_error_rate": ler,
            "dev_emission_ratio": emitted}


def test_check_names_the_job_the_losses_and_what_to_try():
    plateau = [_row(1, 4.6, 3.9, 1.0, 0.0), _row(2, 3.8, 3.8, 0.97, 0.05)]
    with pytest.raises(TrainingNotConvergedError, match=r"TrainJob x\.abc.*blank plateau.*sub-epoch 2: train loss "
                                                        r"3\.800.*Try: more epochs"):
        check_convergence(plateau, ConvergenceCheck(), name="TrainJob x.abc")
    check_convergence([_row(1, 3.0, 3.0, 0.9, 0.5), _row(2, 1.0, 1.2, 0.3, 0.95)], ConvergenceCheck(), name="ok")
    with pytest.raises(TrainingNotConvergedError, match="diverged"):
        check_convergence([_row(1, 1.0, 1.2, 0.3, 0.9), _row(2, 2.0, 1.3, 0.4, 0.9)], ConvergenceCheck(), name="d")
    # two partitions per epoch: sub-epochs compare with the best of their own partition
    halves = [_row(i + 1, x, 2.8, 0.46, 0.9) for i, x in enumerate((0.35, 0.54, 0.28, 0.445))]
    check_convergence(halves, ConvergenceCheck(), name="halves", partitions=2)  # 0.445 vs 0.54, not vs the other half's 0.28
    halves[3]["train_loss"] = 0.85  # 1.6 x its partition's best
    with pytest.raises(TrainingNotConvergedError, match="rose from its best 0.540 to 0.850"):
        check_convergence(halves, ConvergenceCheck(), name="d2", partitions=2)
    with pytest.raises(TrainingNotConvergedError, match="not finite"):
        check_convergence([_row(1, 1.0, float("nan"), 0.3, 0.9)], ConvergenceCheck(), name="n")
    with pytest.raises(ValueError, match="min_emission_ratio"):
        ConvergenceCheck(min_emission_ratio=1.5)


def test_a_model_that_emits_only_blanks_fails_its_training(tmp_path, corpus):
    # a learning rate of 0 keeps the initial model; its output bias makes every frame a blank
    frozen = dataclasses.replace(FAST, num_epochs=3, lr_start=0.0, lr_peak=0.0, lr_after_decay=0.0, lr_final=0.0,
                                 weight_decay=0.0, speed_factors=())
    from memristor_asr.nn.model import ConformerCTCModel

    original_init = ConformerCTCModel.__init__

    def blank_biased(self, cfg):
        original_init(self, cfg)
        with torch.no_grad():
            self.final_linear.bias.zero_()
            self.final_linear.bias[-1] = 100.0

    ConformerCTCModel.__init__ = blank_biased
    try:
        with pytest.raises(TrainingNotConvergedError, match="blank plateau"):
            train(model_cfg=TINY, train_cfg=frozen, train_data=_data(corpus, "train"), dev_data=_data(corpus, "dev"),
                  checkpoint_dir=str(tmp_path / "ckpt"), losses_csv=str(tmp_path / "losses.csv"),
                  final_checkpoint=str(tmp_path / "model.pt"), device="cpu", name="blank model")
    finally:
        ConformerCTCModel.__init__ = original_init
    assert not os.path.exists(tmp_path / "model.pt")  # no model output, the checkpoints are kept
    assert os.listdir(tmp_path / "ckpt")
