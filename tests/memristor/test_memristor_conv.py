"""The memristive depthwise conv: the written-out reference, the digital layer it approximates, the
noise statistics of its two read paths, conversion of a model, and bad settings."""
import dataclasses

import pytest
import torch

from memristor_asr.memristor.cells import polyval
from memristor_asr.memristor.config import HardwareConfig, ProgrammingConfig
from memristor_asr.memristor.conv import MemristorDepthwiseConv1d
from memristor_asr.memristor.convert import (DEPTHWISE_LAYER, MEMRISTOR_LAYERS, load_programmed, memristor_layer_names,
                                             program_model)
from memristor_asr.memristor.crossbar import integer_weights, program_layer
from memristor_asr.memristor.linear import MemristorLinear, adc, dac
from memristor_asr.memristor.params import cached_default_params
from memristor_asr.nn.quant import QuantDepthwiseConv1d

P = cached_default_params()
C, K, BITS = 12, 5, 4
HIGH_ADC = dict(output_precision_bits=12, output_range_bits=12)


@pytest.fixture(scope="module")
def conv():
    """A trained-looking 4-bit depthwise conv (12 channels, 5 taps), programmed, with a test input."""
    torch.manual_seed(0)
    digital = QuantDepthwiseConv1d(C, K, weight_bits=BITS)
    with torch.no_grad():
        digital.weight.mul_(3.0)
    x = torch.randn(2, C, 30)
    digital.train()
    digital(x)  # the observers see data
    digital.eval()
    s_w, s_a = float(digital.weight_quant.scale), float(digital.in_quant.scale)
    w_int = integer_weights(digital.weight[:, 0, :], s_w, BITS)  # [C, K]
    lay = program_layer(w_int, BITS, config=ProgrammingConfig(), seed=3, num_cycles=1)
    return dict(digital=digital, lay=lay, x=x, s_w=s_w, s_a=s_a, w_int=w_int)


def make(conv, **read):
    return MemristorDepthwiseConv1d(conv["lay"], weight_scale=conv["s_w"], input_scale=conv["s_a"],
                                    bias=conv["digital"].bias, config=HardwareConfig(**read), noise_seed=5)


def reference(conv, config):
    """Noiseless mapping written out with loops, in float64: Σ_b 2^b ADC(c·Σ_k D(V)(r_pos − r_neg)) · s_w s_a 127 + b."""
    x, lay = conv["x"].double(), conv["lay"]
    volts = torch.nn.functional.pad(dac(x, 1.0 / (conv["s_a"] * 127), config), (K // 2, K // 2))
    d = polyval(P.hhrs_poly.double(), volts) - polyval(P.llrs_poly.double(), volts)
    out = torch.zeros(x.shape, dtype=torch.float64)
    for t in range(x.shape[2]):
        for ch in range(C):
            for p in range(BITS - 1):
                delta = (lay.r_pos[p, :, ch] - lay.r_neg[p, :, ch]).double()  # the channel's K cells
                value = config.current_scaling * (d[:, ch, t:t + K] * delta).sum(-1)
                out[:, ch, t] += 2 ** (BITS - 2 - p) * adc(value, config)
    return out * conv["s_w"] * conv["s_a"] * 127 + conv["digital"].bias.double().view(1, -1, 1)


@pytest.mark.parametrize("adc_bits", [dict(), HIGH_ADC])
def test_noiseless_paths_equal_the_written_out_reference(conv, adc_bits):
    config = HardwareConfig(**adc_bits)
    ref = reference(conv, config)
    lsb = conv["s_w"] * conv["s_a"] * 127 / 2 ** config.output_precision_bits
    for path in ("fast", "exact"):
        y = make(conv, noise="off", read_path=path, **adc_bits)(conv["x"])
        assert y.shape == conv["x"].shape
        diff = (y.double() - ref).abs()
        assert (diff > 1e-4).float().mean() < 0.02, path  # a float32 sum may flip a rounding
        assert diff.max() <= 4 * lsb + 1e-4, path


def test_the_crossbar_conv_approximates_the_digital_layer(conv):
    """Noise off, fine ADC: the mapped conv is the quantised conv up to the cells' spread (the same
    documented error as a mapped linear: r of an ON cell is not exactly 0)."""
    digital = conv["digital"]
    digital.out_quant = None  # compare before the output quantiser
    with torch.no_grad():
        ideal = torch.nn.functional.conv1d(conv["x"], conv["w_int"].float().unsqueeze(1) * conv["s_w"], digital.bias,
                                           padding=K // 2, groups=C)
    y = make(conv, noise="off", **HIGH_ADC)(conv["x"])
    corr = torch.corrcoef(torch.stack([y.flatten(), ideal.flatten()]))[0, 1]
    assert corr > 0.97
    assert ((y - ideal).norm() / (ideal - digital.bias.view(1, -1, 1)).norm()) < 0.3


@pytest.mark.parametrize("noise", ["paper", "physical"])
def test_the_two_read_paths_agree_statistically(conv, noise):
    """Per-cell noise (exact) and one draw per column with the summed variance (fast): the same mean
    and std of the pre-ADC values over repeated reads."""
    reads = 400
    m_fast = make(conv, noise=noise, read_path="fast")
    m_exact = make(conv, noise=noise, read_path="exact")
    win = m_fast.windows(conv["x"][:1, :, :6])
    fast = torch.stack([m_fast.crossbar_values(win) for _ in range(reads)]).double()
    exact = torch.stack([m_exact.crossbar_values(win) for _ in range(reads)]).double()
    noiseless = m_fast.crossbar_values(win, noise="off").double()
    assert torch.allclose(fast.mean(0), noiseless, atol=5 * fast.std(0).max().item() / reads ** 0.5)
    sf, se = fast.std(0), exact.std(0)
    assert (se > 0).all()
    z = (fast.mean(0) - exact.mean(0)) / torch.sqrt((sf ** 2 + se ** 2) / reads)
    assert z.abs().max() < 5.0
    assert (sf / se).mean() == pytest.approx(1.0, abs=0.04)
    assert ((sf / se).log().abs() < 0.3).all()


def test_noise_is_seeded_and_fresh_per_call(conv):
    a, b = make(conv, noise="paper", **HIGH_ADC), make(conv, noise="paper", **HIGH_ADC)
    first = a(conv["x"])
    assert torch.equal(first, b(conv["x"]))
    assert not torch.equal(first, a(conv["x"]))


class _Block(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        from memristor_asr.nn.quant import QuantLinear

        for name in MEMRISTOR_LAYERS:
            parent, _, child = name.partition(".")
            if not hasattr(self, parent):
                setattr(self, parent, torch.nn.Module())
            setattr(getattr(self, parent), child, QuantLinear(d, d, weight_bits=BITS))
        self.conv.depthwise_conv = QuantDepthwiseConv1d(d, K, weight_bits=BITS)

    def forward(self, x):  # [B, T, D]
        for name in MEMRISTOR_LAYERS:
            x = x + self.get_submodule(name)(x)
        return x + self.conv.depthwise_conv(x.transpose(1, 2)).transpose(1, 2)


class _Model(torch.nn.Module):
    def __init__(self, d=8, n=2):
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.blocks = torch.nn.ModuleList([_Block(d) for _ in range(n)])

    def forward(self, x):
        for b in self.encoder.blocks:
            x = b(x)
        return x


def _trained_model():
    torch.manual_seed(1)
    model = _Model()
    model.train()
    model(torch.randn(2, 10, 8))
    return model.eval()


def test_with_depthwise_conv_the_conv_is_programmed_and_read_on_crossbars():
    model = _trained_model()
    x = torch.randn(1, 10, 8)
    with torch.no_grad():
        digital = model(x)
    programming = ProgrammingConfig(tile_inputs=8, tile_outputs=8, pulses_per_cycle=2, depthwise_conv=True)
    state = program_model(model, programming, seed=0, num_cycles=1)
    convs = [f"encoder.blocks.{i}.{DEPTHWISE_LAYER}" for i in range(2)]
    assert all(n in state.layers for n in convs) and len(state.layers) == 2 * (len(MEMRISTOR_LAYERS) + 1)
    assert state.layers[convs[0]].r_pos.shape == (BITS - 1, K, 8)  # planes, taps, channels
    load_programmed(model, state)
    assert all(isinstance(model.get_submodule(n), MemristorDepthwiseConv1d) for n in convs)
    assert isinstance(model.get_submodule("encoder.blocks.0.ff1.linear_ff"), MemristorLinear)
    with torch.no_grad():
        mem = model(x)
    assert torch.corrcoef(torch.stack([mem.flatten(), digital.flatten()]))[0, 1] > 0.8


def test_by_default_the_conv_stays_digital_and_the_hash_is_unchanged():
    model = _trained_model()
    assert memristor_layer_names(model) == [f"encoder.blocks.{i}.{s}" for i in range(2) for s in MEMRISTOR_LAYERS]
    state = program_model(model, ProgrammingConfig(tile_inputs=8, tile_outputs=8, pulses_per_cycle=2), seed=0,
                          num_cycles=1)
    assert not any(n.endswith(DEPTHWISE_LAYER) for n in state.layers)
    assert "depthwise_conv" not in ProgrammingConfig().__sis_state__()  # the ids of existing devices stay
    assert ProgrammingConfig(depthwise_conv=True).__sis_state__()["depthwise_conv"] is True
    assert HardwareConfig.from_parts(ProgrammingConfig(depthwise_conv=True)).programming.depthwise_conv


def test_a_kernel_longer_than_the_tile_rows_is_refused_naming_the_layer():
    model = _trained_model()
    programming = ProgrammingConfig(tile_inputs=4, tile_outputs=8, pulses_per_cycle=2, depthwise_conv=True)
    with pytest.raises(ValueError, match=r"encoder.blocks.0.conv.depthwise_conv: a depthwise kernel of 5 taps does "
                                         r"not fit a column of ProgrammingConfig.tile_inputs = 4 rows"):
        program_model(model, programming, seed=0, num_cycles=1)


def test_a_float_depthwise_conv_is_refused():
    model = _trained_model()
    for block in model.encoder.blocks:
        block.conv.depthwise_conv = torch.nn.Conv1d(8, 8, K, padding=K // 2, groups=8)
    with pytest.raises(ValueError, match="a float Conv1d; mapping the depthwise conv needs a model with a quantised"):
        program_model(model, dataclasses.replace(ProgrammingConfig(pulses_per_cycle=2), depthwise_conv=True),
                      seed=0, num_cycles=1)
    with pytest.raises(ValueError, match="depthwise_conv must be True or False"):
        ProgrammingConfig(depthwise_conv="yes")
