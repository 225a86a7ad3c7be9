"""The shipped setups' training parts: paper sizes and schedule, the mini/ci sizes the README states, QAT variants."""
import dataclasses

import numpy as np
import pytest

from memristor_asr.nn import ConformerCTCModel, ModelConfig, count_parameters
from users.memristor.setups import SETUPS, setup_named
from memristor_asr.training.trainer import TrainConfig


def test_paper_profile_is_the_paper_setup():
    p = setup_named("paper").training
    assert p.model == ModelConfig()  # 12 x 384, FF 1536, 4 heads, kernel 31, dropout 0.2
    assert 41.5e6 < count_parameters(ConformerCTCModel(p.model)) < 42.5e6
    train = p.training_for()
    assert train.num_sub_epochs == 250 and train.num_epochs == 50 and train.batch_seconds == 300.0
    lr = train.learning_rates()
    assert np.array_equal(lr, np.concatenate([np.linspace(7e-6, 5e-4, 110), np.linspace(5e-4, 5e-5, 110),
                                              np.linspace(5e-5, 1e-7, 30)]))
    assert (train.weight_decay, train.adam_eps, train.grad_clip_norm) == (1e-2, 1e-16, 1.0)
    assert train.speed_factors == (0.9, 1.0, 1.1) and train.seqs_per_bin == 1000
    assert p.training_for(4).seqs_per_bin == 4000
    qat = p.model_for(3)
    assert qat.weight_bits == 3 and qat.att_weights_dropout == 0.0 and qat.activation_bits == 8
    assert p.qat_bits == p.ptq_bits == (8, 6, 5, 4, 3, 2) and p.ptq_num_segments == 100 and p.ptq_seed == 0
    assert p.train_rqmt["gpu"] == 1


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_quantized_variants_set_the_bits_and_keep_the_rest(name):
    p = setup_named(name).training
    assert p.model_for() == p.model and p.model.weight_bits is None
    for bits in p.qat_bits:
        qat = p.model_for(bits)
        assert qat.weight_bits == bits and qat.att_weights_dropout == 0.0
        # everything else is the float model's: the same architecture, only quantised
        assert dataclasses.replace(qat, weight_bits=None, att_weights_dropout=p.model.att_weights_dropout) == p.model
        assert p.model.quantized_variant(bits) == qat
        assert p.model.quantized_variant(bits, att_weights_dropout=0.1).att_weights_dropout == 0.1


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_every_profile_trains_with_its_stated_schedule(name):
    """Float and QAT train configs: the setup's own (QAT: fine-tuning config or the float one with the
    QAT bin size), the requested seed, and a 3-phase schedule over all sub-epochs from lr_start via
    lr_peak to lr_final (lr_after_decay when the schedule is too short for the last phase)."""
    p = setup_named(name).training
    assert p.training_for() == p.train
    for bits in (None,) + p.qat_bits:
        train = p.training_for(bits, seed=7)
        if bits is None:
            want = p.train
        elif p.qat_finetune is not None:
            want = p.qat_finetune
        else:
            want = dataclasses.replace(p.train, seqs_per_bin=p.qat_seqs_per_bin)
        assert train == dataclasses.replace(want, seed=7)
        lr = train.learning_rates()
        assert len(lr) == train.num_sub_epochs == train.num_epochs * train.partition_epoch
        assert lr[0] == pytest.approx(train.lr_start) and lr.max() == pytest.approx(train.lr_peak)
        # under 6 sub-epochs the last phase has one value, lr_after_decay (the short fine-tunings: 4)
        last = train.lr_final if train.num_sub_epochs >= 6 else train.lr_after_decay
        assert lr[-1] == pytest.approx(last) and (lr > 0).all()
    # float + QAT at 8, 6, 5, 4, 3, 2 bits (ci: 8, 4, 2, to halve the suite's whole-graph run)
    assert p.qat_bits == p.ptq_bits == ((8, 4, 2) if name == "ci" else (8, 6, 5, 4, 3, 2))


def test_mini_profile_is_what_the_readme_states():
    """README: a 2×144 Conformer; feature normalisation, no dropout or SpecAugment, 12 s batches, 6 epochs
    at 1e-3 → 1.5e-3 (10 % of the run) → 4e-4 → 1e-5; QAT fine-tuned from the float model of its seed for
    one epoch (3e-4 → 1e-4)."""
    p = setup_named("mini").training
    m = p.model
    assert (m.num_blocks, m.model_dim, m.ff_dim, m.num_heads) == (2, 144, 288, 4)
    assert m.feature_normalization and not m.specaugment.enabled
    assert m.dropout == m.att_weights_dropout == m.final_dropout == 0.0
    t = p.train
    assert (t.num_epochs, t.batch_seconds) == (6, 12.0)
    assert (t.lr_start, t.lr_peak, t.lr_after_decay, t.lr_final, t.lr_up_fraction) == (1e-3, 1.5e-3, 4e-4, 1e-5, 0.1)
    lr = t.learning_rates()
    assert lr.argmax() + 1 == round(0.1 * t.num_sub_epochs)  # the peak after 10 % of the run
    f = p.qat_finetune
    assert f is not None and f.num_epochs == 1 and (f.lr_peak, f.lr_after_decay) == (3e-4, 1e-4)
    assert list(f.learning_rates()) == pytest.approx([3e-4, 3e-4, 1e-4, 1e-4])  # 3e-4 → 1e-4 over 4 sub-epochs


def test_ci_profile_is_what_the_readme_states():
    """README / setups: a 2×64 Conformer with the mini recipe (normalised input, no dropout or SpecAugment),
    12 epochs of float training, QAT fine-tuned from the float model for two epochs, 20 PTQ calibration
    segments."""
    p, mini = setup_named("ci").training, setup_named("mini").training
    m = p.model
    assert (m.num_blocks, m.model_dim, m.ff_dim) == (2, 64, 128)
    assert dataclasses.replace(m, model_dim=mini.model.model_dim, ff_dim=mini.model.ff_dim,
                               conv_kernel_size=mini.model.conv_kernel_size) == mini.model
    assert p.train.num_epochs == 12 and p.train.num_sub_epochs == 12 and p.train.speed_factors == ()
    assert p.qat_finetune is not None and p.qat_finetune.num_epochs == 2
    assert p.ptq_num_segments == 20
    assert count_parameters(ConformerCTCModel(m)) < count_parameters(ConformerCTCModel(mini.model)) / 3


def test_unknown_setup_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown setup 'huge'.*'ci', 'mini', 'paper'"):
        setup_named("huge")
