"""Fake quantisation: observer semantics, restricted symmetric grid, STE, quantisation points."""
import dataclasses

import pytest
import torch
from torch.ao.quantization import MinMaxObserver

from memristor_asr.nn import ConformerCTCModel, ModelConfig
from memristor_asr.nn.checkpoint import load_state_dict_checked, observer_state_keys
from memristor_asr.nn.quant import (ActivationQuantizer, FakeQuantizer, QuantDepthwiseConv1d, QuantLinear,
                                    WeightQuantizer, fake_quantizers, observing)

SMALL = ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=32, ff_dim=64, num_heads=2, num_blocks=2,
                    conv_kernel_size=7)
BLOCK_LINEARS = ["ff1.linear_ff", "ff1.linear_out", "mhsa.in_proj", "mhsa.out_proj", "conv.pointwise_conv1",
                 "conv.pointwise_conv2", "ff2.linear_ff", "ff2.linear_out"]


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 8])
def test_scale_matches_torch_minmax_observer_cumulatively(bits):
    qmax = 2 ** (bits - 1) - 1
    ours = FakeQuantizer(bits).train()
    ref = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric, quant_min=-qmax, quant_max=qmax)
    torch.manual_seed(bits)
    for scale in [1.0, 3.0, 0.5, 2.0]:  # the range must never shrink
        x = torch.randn(500) * scale + 0.3
        ours(x)
        ref(x)
        ref_scale, ref_zero = ref.calculate_qparams()
        torch.testing.assert_close(ours.scale, ref_scale.reshape(()), rtol=1e-6, atol=0)
        assert int(ref_zero) == 0
    assert float(ours.min_val) == float(ref.min_val) and float(ours.max_val) == float(ref.max_val)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_restricted_symmetric_grid(bits):
    q = WeightQuantizer(bits).train()
    x = torch.linspace(-3, 2, 2001)
    y = q(x)
    ints = y / q.scale
    torch.testing.assert_close(ints, ints.round(), atol=1e-4, rtol=0)
    assert int(ints.round().min()) == -(2 ** (bits - 1) - 1)  # -qmax is reached, -2^(N-1) never
    assert int(ints.round().max()) <= 2 ** (bits - 1) - 1
    assert len(torch.unique(ints.round())) <= 2 ** bits - 1
    assert q.quant_max == 2 ** (bits - 1) - 1
    torch.testing.assert_close(q.scale, torch.tensor(3.0 / q.quant_max))


def test_frozen_in_eval_and_error_before_any_observation():
    q = ActivationQuantizer(8)
    q.eval()
    with pytest.raises(RuntimeError, match="no observed range"):
        q(torch.ones(3))
    q.train()
    q(torch.tensor([-1.0, 2.0]))
    q.eval()
    q(torch.tensor([-10.0, 20.0]))
    assert float(q.max_val) == 2.0 and float(q.min_val) == -1.0
    with observing(q):
        q(torch.tensor([-10.0, 20.0]))
    assert float(q.max_val) == 20.0
    assert q.force_observe is None  # restored


def test_straight_through_gradient_inside_range_only():
    q = WeightQuantizer(4).train()
    q(torch.tensor([-1.0, 1.0]))  # range ±1
    q.eval()
    x = torch.tensor([-2.0, -0.5, 0.13, 0.9, 1.5], requires_grad=True)
    q(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_quant_linear_interface_and_formula():
    torch.manual_seed(0)
    layer = QuantLinear(6, 5, weight_bits=3).train()
    x = torch.randn(4, 6)
    y = layer(x)
    # the documented contract (docs/INTERFACES.md)
    assert layer.weight.shape == (5, 6) and layer.bias.shape == (5,)
    assert layer.weight_bits == 3 and layer.weight_quant.quant_max == 3 and layer.in_quant.quant_max == 127
    assert isinstance(layer.out_quant, ActivationQuantizer)
    s_w, s_a = layer.weight_quant.scale, layer.in_quant.scale
    w_int = torch.round(layer.weight / s_w)
    assert w_int.abs().max() <= 3
    x_q = torch.clamp(torch.round(x / s_a), -127, 127) * s_a
    manual = torch.nn.functional.linear(x_q, w_int * s_w, layer.bias)
    s_o = layer.out_quant.scale
    torch.testing.assert_close(y, torch.clamp(torch.round(manual / s_o), -127, 127) * s_o, atol=1e-6, rtol=0)
    assert QuantLinear(6, 5, weight_bits=3, quantize_output=False).out_quant is None


def test_quantised_model_layout():
    cfg = SMALL.quantized_variant(3)
    model = ConformerCTCModel(cfg)
    for block in model.encoder.blocks:
        for name in BLOCK_LINEARS:
            layer = block.get_submodule(name)
            assert isinstance(layer, QuantLinear) and layer.weight_bits == 3, name
        assert isinstance(block.conv.depthwise_conv, QuantDepthwiseConv1d)
        for name in ["q_quant", "k_quant", "v_quant", "prob_quant"]:
            assert getattr(block.mhsa, name).bits == 3  # attention matmuls at the weight bit width
    # float: frontend, output layer, norms
    names = [n for n, _ in fake_quantizers(model)]
    assert not any(n.startswith("encoder.frontend") or n.startswith("final_linear") for n in names)
    assert not any("norm" in n for n in names)
    per_block = 8 * 3 + 3 + 4  # (weight, in, out) per linear and the depthwise conv; q, k, v, probs
    assert len(names) == cfg.num_blocks * per_block
    assert model.encoder.blocks[0].mhsa.att_weights_dropout == 0.0
    # depthwise conv can be left float (the paper's PTQ v2_mem variant)
    plain = ConformerCTCModel(dataclasses.replace(cfg, quantize_depthwise_conv=False))
    assert isinstance(plain.encoder.blocks[0].conv.depthwise_conv, torch.nn.Conv1d)


def test_qat_step_observes_everything_and_trains_every_weight():
    torch.manual_seed(0)
    model = ConformerCTCModel(SMALL.quantized_variant(4)).train()
    log_probs, lengths = model(torch.randn(2, 60, 80), torch.tensor([60, 41]))
    log_probs.sum().backward()
    for name, q in fake_quantizers(model):
        assert q.observed, name  # observers run from the first step
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_float_weights_load_into_quantised_model_and_8bit_stays_close():
    torch.manual_seed(0)
    float_model = ConformerCTCModel(SMALL).eval()
    x, lengths = torch.randn(3, 80, 80), torch.tensor([80, 70, 33])
    with torch.no_grad():
        ref, _ = float_model(x, lengths)
    errors = {}
    for bits in (8, 2):
        qmodel = ConformerCTCModel(SMALL.quantized_variant(bits)).eval()
        with pytest.raises(ValueError, match="missing keys"):
            load_state_dict_checked(qmodel, float_model.state_dict(), source="float.pt")
        load_state_dict_checked(qmodel, float_model.state_dict(), source="float.pt",
                                allow_missing=observer_state_keys(qmodel))
        with torch.no_grad(), observing(qmodel):
            qmodel(x, lengths)  # calibration pass
        with torch.no_grad():
            out, _ = qmodel(x, lengths)
        errors[bits] = float((out.exp() - ref.exp()).abs().max())
    assert errors[8] < 0.05
    assert errors[2] > errors[8]
