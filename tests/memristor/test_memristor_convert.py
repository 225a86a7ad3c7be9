"""Model conversion, programmed-device files, and their error messages.

The quantised Conformer lives in another area; here a small stand-in with the module names and the
QuantLinear attributes of docs/INTERFACES.md is enough to test the conversion contract.
"""
import pytest
import torch
from torch import nn

from memristor_asr.memristor.config import HardwareConfig, ProgrammingConfig, ReadConfig
from memristor_asr.memristor.convert import (MEMRISTOR_LAYERS, convert_model, load_programmed, load_programmed_file,
                                             memristor_layer_names, program_model, save_programmed)
from memristor_asr.memristor.linear import MemristorLinear

CFG = HardwareConfig(tile_inputs=16, tile_outputs=16, pulses_per_cycle=5)


class StandInQuantizer(nn.Module):
    """Symmetric per-tensor fake quantiser with a fixed calibrated range (stand-in for the observer)."""

    def __init__(self, bits: int, amax: float):
        super().__init__()
        self.quant_max = 2 ** (bits - 1) - 1
        self.register_buffer("amax", torch.tensor(float(amax)))
        self.observed = True

    @property
    def scale(self) -> torch.Tensor:
        return self.amax / self.quant_max

    def forward(self, x):
        return torch.fake_quantize_per_tensor_affine(x, float(self.scale), 0, -self.quant_max, self.quant_max)


class StandInQuantLinear(nn.Module):
    """The QuantLinear contract: forward(x) = out_quant(F.linear(in_quant(x), weight_quant(weight), bias))."""

    def __init__(self, n_in: int, n_out: int, bits: int):
        super().__init__()
        lin = nn.Linear(n_in, n_out)
        self.weight, self.bias, self.weight_bits = lin.weight, lin.bias, bits
        self.weight_quant = StandInQuantizer(bits, float(lin.weight.detach().abs().max()))
        self.in_quant = StandInQuantizer(8, 3.0)
        self.out_quant = StandInQuantizer(8, 4.0)

    def forward(self, x):
        return self.out_quant(nn.functional.linear(self.in_quant(x), self.weight_quant(self.weight), self.bias))


class FF(nn.Module):
    def __init__(self, d, bits):
        super().__init__()
        self.layer_norm = nn.LayerNorm(d)
        self.linear_ff, self.linear_out = StandInQuantLinear(d, 2 * d, bits), StandInQuantLinear(2 * d, d, bits)

    def forward(self, x):
        return x + 0.5 * self.linear_out(torch.relu(self.linear_ff(self.layer_norm(x))))


class MHSA(nn.Module):
    def __init__(self, d, bits):
        super().__init__()
        self.in_proj, self.out_proj = StandInQuantLinear(d, 3 * d, bits), StandInQuantLinear(d, d, bits)

    def forward(self, x):
        q, k, v = self.in_proj(x).chunk(3, dim=-1)
        att = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        return x + self.out_proj(att @ v)


class Conv(nn.Module):
    def __init__(self, d, bits):
        super().__init__()
        self.pointwise_conv1 = StandInQuantLinear(d, 2 * d, bits)
        self.depthwise_conv = nn.Conv1d(d, d, 3, padding=1, groups=d)
        self.pointwise_conv2 = StandInQuantLinear(d, d, bits)

    def forward(self, x):
        h = nn.functional.glu(self.pointwise_conv1(x), dim=-1)
        h = self.depthwise_conv(h.transpose(1, 2)).transpose(1, 2)
        return x + self.pointwise_conv2(h)


class Block(nn.Module):
    def __init__(self, d, bits):
        super().__init__()
        self.ff1, self.mhsa, self.conv, self.ff2 = FF(d, bits), MHSA(d, bits), Conv(d, bits), FF(d, bits)
        self.final_layer_norm = nn.LayerNorm(d)

    def forward(self, x):
        return self.final_layer_norm(self.ff2(self.conv(self.mhsa(self.ff1(x)))))


class Encoder(nn.Module):
    def __init__(self, d, bits, n):
        super().__init__()
        self.frontend = nn.Linear(5, d)
        self.blocks = nn.ModuleList(Block(d, bits) for _ in range(n))

    def forward(self, x):
        x = self.frontend(x)
        for b in self.blocks:
            x = b(x)
        return x


class StandInModel(nn.Module):
    def __init__(self, d=12, bits=3, n=2):
        super().__init__()
        self.encoder = Encoder(d, bits, n)
        self.output = nn.Linear(d, 7)

    def forward(self, x):
        return self.output(self.encoder(x))


def make_model(seed=0, **kw):
    torch.manual_seed(seed)
    return StandInModel(**kw).eval()


def test_every_block_linear_is_converted_and_the_rest_stays_digital():
    model = make_model()
    x = torch.randn(2, 9, 5)
    with torch.no_grad():
        y_quant = model(x)
    digital = {n: m for n, m in model.named_modules() if not isinstance(m, StandInQuantLinear) and n}
    out_quants = {n: model.get_submodule(n).out_quant for n in memristor_layer_names(model)}
    convert_model(model, CFG, seed=0, num_cycles=1)
    converted = [n for n, m in model.named_modules() if isinstance(m, MemristorLinear)]
    assert converted == [f"encoder.blocks.{i}.{s}" for i in range(2) for s in MEMRISTOR_LAYERS]
    assert not any(isinstance(m, StandInQuantLinear) for m in model.modules())
    for n, m in digital.items():  # depthwise conv, frontend, norms, output layer: the same objects
        if not any(n.startswith(c) for c in converted):
            assert model.get_submodule(n) is m
    for n, q in out_quants.items():
        assert model.get_submodule(n).out_quant is q
    with torch.no_grad():
        y_mem = model(x)
    assert y_mem.shape == y_quant.shape
    corr = torch.corrcoef(torch.stack([y_mem.flatten(), y_quant.flatten()]))[0, 1]
    assert corr > 0.8  # a noisy 3-bit crossbar model still tracks its quantised twin


def test_programming_is_seeded_per_layer():
    model = make_model()
    a = program_model(model, CFG, seed=2, num_cycles=1)
    b = program_model(model, CFG, seed=2, num_cycles=1)
    for name in a.layers:
        assert torch.equal(a.layers[name].r_pos, b.layers[name].r_pos)
    first, second = "encoder.blocks.0.mhsa.out_proj", "encoder.blocks.1.mhsa.out_proj"
    assert not torch.equal(a.layers[first].r_pos, a.layers[second].r_pos)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_programmed_file_round_trip(tmp_path, dtype):
    model = make_model()
    state = program_model(model, CFG, seed=1, num_cycles=1)
    path = tmp_path / "device.pt"
    save_programmed(state, path, dtype=dtype)
    loaded = load_programmed_file(path)
    assert loaded.programming == CFG.programming and loaded.seed == 1 and loaded.num_cycles == 1
    assert set(loaded.layers) == set(state.layers)
    x = torch.randn(2, 6, 5)
    outs = []
    for st in (state, loaded):
        m = load_programmed(make_model(), st, CFG.replace(noise="off"))
        with torch.no_grad():
            outs.append(m(x))
    if dtype == torch.float32:
        assert torch.equal(outs[0], outs[1])
    else:  # float16 r: |Δr| <= 2.5e-4 per cell, occasionally one ADC step somewhere
        assert torch.allclose(outs[0], outs[1], atol=0.2)
        assert (outs[0] - outs[1]).abs().mean() < 0.01


def test_device_file_stores_the_programming_config_and_reads_with_any_read_config(tmp_path):
    state = program_model(make_model(), CFG.programming, seed=1, num_cycles=1)
    assert state.programming == ProgrammingConfig(tile_inputs=16, tile_outputs=16, pulses_per_cycle=5)
    path = tmp_path / "device.pt"
    save_programmed(state, path, dtype=torch.float32)
    payload = torch.load(path, weights_only=True)
    assert payload["version"] == 2 and payload["programming"] == CFG.programming.to_dict() and "config" not in payload
    loaded = load_programmed_file(path)
    x = torch.randn(2, 6, 5)
    outs = {}
    for name, read in (("default", None), ("off", ReadConfig(noise="off")),
                       ("off-hw", HardwareConfig.from_parts(CFG.programming, ReadConfig(noise="off"))),
                       ("adc6", ReadConfig(noise="off", output_precision_bits=6))):
        m = load_programmed(make_model(), loaded, read)
        lin = m.get_submodule("encoder.blocks.0.ff1.linear_ff")
        assert lin.config.programming == CFG.programming
        assert lin.config.read == (read.read if isinstance(read, HardwareConfig) else read or ReadConfig())
        with torch.no_grad():
            outs[name] = m(x)
    assert torch.equal(outs["off"], outs["off-hw"])
    assert not torch.equal(outs["off"], outs["adc6"])  # a finer ADC on the same cells


def test_version_1_device_files_still_load(tmp_path, caplog):
    """Files written before the programming/read split held the full HardwareConfig under "config"."""
    state = program_model(make_model(), CFG, seed=1, num_cycles=1)
    path = tmp_path / "device.pt"
    save_programmed(state, path, dtype=torch.float32)
    payload = torch.load(path, weights_only=True)
    del payload["programming"]
    x = torch.randn(2, 6, 5)
    with torch.no_grad():
        want = load_programmed(make_model(), state, ReadConfig(noise="off"))(x)
    for legacy_read, warned in ((ReadConfig(), False), (ReadConfig(output_precision_bits=6), True)):
        payload.update(version=1, config=HardwareConfig.from_parts(CFG.programming, legacy_read).to_dict())
        old = tmp_path / "v1.pt"
        torch.save(payload, old)
        caplog.clear()
        loaded = load_programmed_file(old)
        assert loaded.programming == CFG.programming
        assert ("version-1 device file with read settings {'output_precision_bits': 6}" in caplog.text) == warned
        with torch.no_grad():
            assert torch.equal(load_programmed(make_model(), loaded, ReadConfig(noise="off"))(x), want)
    payload["version"] = 3
    torch.save(payload, old)
    with pytest.raises(ValueError, match="file version 3, this code reads versions 1, 2"):
        load_programmed_file(old)


def test_load_refuses_other_weights_and_settings(tmp_path):
    state = program_model(make_model(seed=0), CFG, seed=0, num_cycles=0)
    with pytest.raises(ValueError, match="encoder.blocks.0.ff1.linear_ff: the programmed crossbars hold other weights"):
        load_programmed(make_model(seed=1), state)
    with pytest.raises(ValueError, match="tile_inputs = 32 differs from the programmed 16"):
        load_programmed(make_model(seed=0), state, CFG.replace(tile_inputs=32))
    with pytest.raises(TypeError, match="read must be a ReadConfig"):
        load_programmed(make_model(seed=0), state, CFG.programming)
    with pytest.raises(ValueError, match=r"programmed for 3 bit"):
        load_programmed(make_model(seed=0, bits=4), state)
    del state.layers["encoder.blocks.1.conv.pointwise_conv2"]
    with pytest.raises(ValueError, match="lacks layer\\(s\\) encoder.blocks.1.conv.pointwise_conv2"):
        load_programmed(make_model(seed=0), state)
    bad = tmp_path / "x.pt"
    torch.save({"format": "something else"}, bad)
    with pytest.raises(ValueError, match="x.pt: not a programmed-crossbar file"):
        load_programmed_file(bad)
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="x.pt: cannot read programmed crossbars"):
        load_programmed_file(bad)


def test_conversion_needs_a_quantised_model():
    model = make_model()
    model.encoder.blocks[0].ff1.linear_ff = nn.Linear(12, 24)
    with pytest.raises(ValueError, match="encoder.blocks.0.ff1.linear_ff: Linear is not a QuantLinear"):
        program_model(model, CFG, seed=0, num_cycles=0)
    model = make_model()
    model.encoder.blocks[1].mhsa.in_proj.in_quant.observed = False
    with pytest.raises(ValueError, match="encoder.blocks.1.mhsa.in_proj: in_quant has not observed"):
        program_model(model, CFG, seed=0, num_cycles=0)
    model = make_model()
    with torch.no_grad():
        model.encoder.blocks[0].conv.pointwise_conv1.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="encoder.blocks.0.conv.pointwise_conv1: weight contains 1 NaN/inf"):
        program_model(model, CFG, seed=0, num_cycles=0)
    model = make_model()
    model.encoder.blocks[0].ff2.linear_out.weight_bits = 9
    with pytest.raises(ValueError, match="ff2.linear_out: weight bits must be an int in 2..8, got 9"):
        program_model(model, CFG, seed=0, num_cycles=0)
    with pytest.raises(ValueError, match="no encoder.blocks"):
        memristor_layer_names(nn.Sequential(nn.Linear(2, 2)))
    model = make_model()
    del model.encoder.blocks[1].conv.pointwise_conv2
    with pytest.raises(ValueError, match="encoder.blocks.1 has no module 'conv.pointwise_conv2'"):
        memristor_layer_names(model)


def test_load_refuses_another_parameter_file(tmp_path):
    import json

    from memristor_asr.memristor.params import default_params_path, load_params

    state = program_model(make_model(), CFG, seed=0, num_cycles=0)
    with open(default_params_path(), encoding="utf-8") as f:
        data = json.load(f)
    data["Umax"] = 1.5
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="another Synaptogen parameter file than .*other.json"):
        load_programmed(make_model(), state, params=load_params(other))
