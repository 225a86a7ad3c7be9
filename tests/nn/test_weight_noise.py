"""Noise-aware training: bit-plane weight noise in the quantised layers (training mode only)."""
import math

import pytest
import torch

from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.model import ConformerCTCModel
from memristor_asr.nn.quant import QuantDepthwiseConv1d, QuantLinear, plane_noise_std
from sisyphus.hash import sis_hash_helper


@pytest.mark.parametrize("bits,noise,want", [(4, 0.05, 0.05 * math.sqrt(42)), (8, 0.05, 5.225), (2, 0.1, 0.1 * math.sqrt(2))])
def test_plane_noise_std_sums_the_planes(bits, noise, want):
    # planes i = 0..N-2 with std sqrt(2)*noise*2^i: variance 2 noise^2 (4^(N-1) - 1) / 3
    assert plane_noise_std(bits, noise) == pytest.approx(want, rel=1e-3)
    assert plane_noise_std(bits, noise) == pytest.approx(
        math.sqrt(sum((math.sqrt(2) * noise * 2 ** i) ** 2 for i in range(bits - 1))))


def _layer(noise, bits=4):
    torch.manual_seed(0)
    layer = QuantLinear(64, 32, weight_bits=bits, weight_noise=noise)
    layer.train()
    layer(torch.randn(8, 64))  # the observers see data
    return layer


def test_noise_is_fresh_in_training_and_absent_in_evaluation():
    layer = _layer(0.2)
    x = torch.randn(5, 64)
    a, b = layer(x), layer(x)
    assert not torch.equal(a, b)  # a fresh draw every forward
    layer.eval()
    noisy_eval = layer(x)
    layer.weight_noise = 0.0
    assert torch.equal(noisy_eval, layer(x))  # no noise in evaluation


def test_the_noise_has_the_bit_plane_std_in_weight_steps():
    layer = _layer(0.2)
    torch.manual_seed(1)
    fq = layer.weight_quant(layer.weight).detach()
    from memristor_asr.nn.quant import _noisy_weight

    steps = torch.stack([(_noisy_weight(layer) - fq).detach() for _ in range(20)]) / layer.weight_quant.scale
    assert steps.mean().abs() < 0.02
    assert steps.std().item() == pytest.approx(plane_noise_std(4, 0.2), rel=0.03)


def test_the_gradient_of_the_weight_is_the_straight_through_one():
    from memristor_asr.nn.quant import _noisy_weight

    noisy, plain = _layer(0.2), _layer(0.0)
    _noisy_weight(noisy).sum().backward()
    _noisy_weight(plain).sum().backward()
    assert torch.equal(noisy.weight.grad, plain.weight.grad)


def test_the_model_puts_the_noise_into_every_quantised_layer():
    cfg = ModelConfig(num_labels=10, feature_dim=16, frontend_channels=(2, 2, 2, 2), model_dim=16, ff_dim=32,
                      num_heads=2, num_blocks=1, conv_kernel_size=3, weight_bits=4, weight_noise=0.05)
    model = ConformerCTCModel(cfg)
    layers = [m for m in model.modules() if isinstance(m, (QuantLinear, QuantDepthwiseConv1d))]
    assert len(layers) == 9 and all(m.weight_noise == 0.05 for m in layers)  # 8 linears + the depthwise conv


def test_weight_noise_enters_the_hash_only_when_set():
    plain = ModelConfig(weight_bits=4)
    assert "weight_noise" not in plain.__sis_state__()  # ids of models trained before the option stay
    noisy = ModelConfig(weight_bits=4, weight_noise=0.05)
    assert noisy.__sis_state__()["weight_noise"] == 0.05
    assert sis_hash_helper(plain) != sis_hash_helper(noisy)
    assert ModelConfig.from_dict(noisy.to_dict()) == noisy


@pytest.mark.parametrize("kwargs,message", [
    ({"weight_bits": 4, "weight_noise": -0.1}, "weight_noise must be a number >= 0"),
    ({"weight_bits": 4, "weight_noise": "0.1"}, "weight_noise must be a number >= 0"),
    ({"weight_noise": 0.05}, "needs a quantised model"),
])
def test_bad_weight_noise_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)
