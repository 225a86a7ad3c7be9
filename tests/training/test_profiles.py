"""The profiles: paper sizes and schedule, and valid mini/ci configurations."""
import numpy as np
import pytest

from memristor_asr.nn import ConformerCTCModel, ModelConfig, count_parameters
from memristor_asr.training.profiles import PROFILES, get_profile
from memristor_asr.training.trainer import TrainConfig


def test_paper_profile_is_the_paper_setup():
    p = get_profile("paper")
    assert p.model == ModelConfig()  # 12 x 384, FF 1536, 4 heads, kernel 31, dropout 0.2
    assert 41.5e6 < count_parameters(ConformerCTCModel(p.model)) < 42.5e6
    train = TrainConfig.from_dict(p.train_config())
    assert train.num_sub_epochs == 250 and train.num_epochs == 50 and train.batch_seconds == 300.0
    lr = train.learning_rates()
    assert np.array_equal(lr, np.concatenate([np.linspace(7e-6, 5e-4, 110), np.linspace(5e-4, 5e-5, 110),
                                              np.linspace(5e-5, 1e-7, 30)]))
    assert (train.weight_decay, train.adam_eps, train.grad_clip_norm) == (1e-2, 1e-16, 1.0)
    assert train.speed_factors == (0.9, 1.0, 1.1) and train.seqs_per_bin == 1000
    assert TrainConfig.from_dict(p.train_config(4)).seqs_per_bin == 4000
    qat = ModelConfig.from_dict(p.model_config(3))
    assert qat.weight_bits == 3 and qat.att_weights_dropout == 0.0 and qat.activation_bits == 8
    assert p.qat_bits == p.ptq_bits == (8, 6, 5, 4, 3, 2) and p.ptq_num_segments == 100 and p.ptq_seed == 0
    assert p.train_rqmt["gpu"] == 1


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_builds(name):
    p = get_profile(name)
    for bits in (None,) + p.qat_bits:
        cfg = ModelConfig.from_dict(p.model_config(bits))
        assert cfg.weight_bits == bits
        TrainConfig.from_dict(p.train_config(bits)).learning_rates()


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown profile 'huge'.*'ci', 'mini', 'paper'"):
        get_profile("huge")
