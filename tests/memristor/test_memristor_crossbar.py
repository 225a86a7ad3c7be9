"""Bit slicing, tiling and programming of paired crossbars."""
import pytest
import torch

from memristor_asr.memristor.cells import CellArray
from memristor_asr.memristor.config import HardwareConfig, ProgrammingConfig, ReadConfig, device_programming
from memristor_asr.memristor.crossbar import (bit_planes, derive_seed, integer_weights, planes_to_integers,
                                              program_arrays, program_layer, weight_digest)

SMALL = HardwareConfig(tile_inputs=8, tile_outputs=4)


@pytest.mark.parametrize("bits", range(2, 9))
def test_bit_planes_reconstruct_every_integer(bits):
    qmax = 2 ** (bits - 1) - 1
    w_int = torch.arange(-qmax, qmax + 1).view(1, -1).repeat(3, 1)  # [out=3, in]
    planes = bit_planes(w_int, bits)
    assert planes.shape == (bits - 1, w_int.shape[1], 3) and planes.dtype == torch.int8
    assert set(planes.unique().tolist()) <= {-1, 0, 1}
    assert torch.equal(planes_to_integers(planes), w_int)
    # MSB first: only the largest magnitudes use plane 0; signs follow the weight
    assert torch.equal(planes[0, :, 0].abs().bool(), w_int[0].abs() >= 2 ** (bits - 2))
    assert ((planes * torch.sign(w_int).T.to(torch.int8)) >= 0).all()


def test_integer_weights_match_fake_quantisation():
    torch.manual_seed(0)
    w = torch.randn(5, 7)
    s = w.abs().max() / 7
    w_int = integer_weights(w, s, 4)
    fq = torch.fake_quantize_per_tensor_affine(w, float(s), 0, -7, 7)
    assert torch.equal(w_int.float() * s, fq)
    assert w_int.abs().max() == 7


@pytest.mark.parametrize("weight,scale,bits,message", [
    (torch.tensor([[1.0, float("nan")]]), 0.1, 4, "1 NaN/inf"),
    (torch.tensor([[float("inf"), 0.0]]), 0.1, 4, "NaN/inf"),
    (torch.ones(2, 2), 0.1, 1, "bits must be an int in 2..8, got 1"),
    (torch.ones(2, 2), 0.1, 9, "got 9"),
    (torch.ones(2, 2), 0.1, 3.5, "got 3.5"),
    (torch.ones(4), 0.1, 4, r"2-D float weight tensor \[out, in\], got Tensor \(4,\)"),
    (torch.ones(2, 2, dtype=torch.int64), 0.1, 4, "2-D float weight"),
    (torch.ones(2, 2), 0.0, 4, "scale must be finite and > 0"),
    (torch.ones(2, 2), float("nan"), 4, "scale must be finite and > 0"),
])
def test_integer_weights_reject_bad_input(weight, scale, bits, message):
    with pytest.raises(ValueError, match=message):
        integer_weights(weight, scale, bits, name="blk.ff")


def test_bit_planes_reject_out_of_range():
    with pytest.raises(ValueError, match="exceeds 3 for 3 bits"):
        bit_planes(torch.tensor([[4]]), 3)


def test_program_layer_puts_lrs_cells_exactly_on_the_bits():
    torch.manual_seed(1)
    w_int = torch.randint(-7, 8, (10, 20))  # [out, in]: 3 x 3 tiles of 8 x 4, padded
    lay = program_layer(w_int, 4, config=SMALL, seed=0, num_cycles=1)
    planes = bit_planes(w_int, 4)
    assert lay.r_pos.shape == lay.r_neg.shape == (3, 20, 10)
    # LRS r ≈ 0.16, HRS r ≈ 0.84: r < 0.5 exactly where the cell was SET
    assert torch.equal(lay.r_pos < 0.5, planes == 1)
    assert torch.equal(lay.r_neg < 0.5, planes == -1)
    assert lay.r_pos[planes == 1].mean().item() == pytest.approx(0.16, abs=0.03)
    assert lay.r_pos[planes != 1].mean().item() == pytest.approx(0.84, abs=0.03)
    assert lay.weight_digest == weight_digest(w_int)


def test_programming_is_seeded():
    w_int = torch.randint(-3, 4, (6, 9), generator=torch.Generator().manual_seed(0))
    a = program_layer(w_int, 3, config=SMALL, seed=4, num_cycles=1)
    b = program_layer(w_int, 3, config=SMALL, seed=4, num_cycles=1)
    c = program_layer(w_int, 3, config=SMALL, seed=5, num_cycles=1)
    assert torch.equal(a.r_pos, b.r_pos) and torch.equal(a.r_neg, b.r_neg)
    assert not torch.equal(a.r_pos, c.r_pos)
    assert derive_seed(0, "encoder.blocks.0.ff1.linear_ff") != derive_seed(0, "encoder.blocks.0.ff1.linear_out")
    assert device_programming(3) == {"seed": 3, "num_cycles": 4}


def test_program_arrays_follows_the_paper_sequence():
    """Replay the sequence by hand: fresh cells, num_cycles × 50 pulses with one Uniform(−2, 2) voltage
    per array, +2 V, then −2 V on the target cells."""
    targets = torch.rand(3, 16, generator=torch.Generator().manual_seed(2)) < 0.5
    got = program_arrays(targets, num_cycles=2, config=HardwareConfig(), generator=torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)
    cells = CellArray((3, 16), generator=gen)
    pulses = torch.empty(100, 3).uniform_(-2.0, 2.0, generator=gen)
    for t in range(100):
        cells.apply_voltage(pulses[t].unsqueeze(1))
    assert cells.cycle.float().mean() > 5  # the pulses really cycle the cells
    cells.apply_voltage(2.0)
    assert cells.in_hrs.all()
    cells.apply_voltage(torch.where(targets, -2.0, 0.0))
    assert torch.equal(got, cells.state)


def test_chunking_keeps_arrays_whole():
    targets = torch.zeros(5, 16, dtype=torch.bool)
    targets[:, ::3] = True
    r = program_arrays(targets, num_cycles=0, config=HardwareConfig(), generator=torch.Generator().manual_seed(0),
                       cells_per_chunk=40)  # two arrays per chunk
    assert torch.equal(r < 0.5, targets)


def test_program_arrays_rejects_bad_arguments():
    with pytest.raises(ValueError, match="bool"):
        program_arrays(torch.zeros(2, 3), num_cycles=1, config=SMALL, generator=torch.Generator())
    with pytest.raises(ValueError, match="num_cycles"):
        program_arrays(torch.zeros(2, 3, dtype=torch.bool), num_cycles=-1, config=SMALL, generator=torch.Generator())


def test_hardware_config_validation():
    with pytest.raises(ValueError, match="noise must be one of"):
        HardwareConfig(noise="shot")
    with pytest.raises(ValueError, match="read_path"):
        HardwareConfig(read_path="approx")
    with pytest.raises(ValueError, match="tile_inputs"):
        HardwareConfig(tile_inputs=0)
    with pytest.raises(ValueError, match="unknown setting"):
        HardwareConfig.from_dict({"tile_input": 64})
    cfg = HardwareConfig(output_precision_bits=8, output_range_bits=10)
    assert HardwareConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("cls, kwargs, match", [
    (ProgrammingConfig, {"tile_outputs": 0}, "ProgrammingConfig: tile_outputs must be a positive int"),
    (ProgrammingConfig, {"tile_inputs": 64.0}, "tile_inputs must be a positive int, got 64.0"),
    (ProgrammingConfig, {"pulses_per_cycle": -1}, "pulses_per_cycle must be an int >= 0"),
    (ProgrammingConfig, {"pulse_vmax": -0.5}, "pulse_vmax must be >= 0 V"),
    (ProgrammingConfig, {"reset_voltage": -2.0}, "reset_voltage must be > 0 V"),
    (ProgrammingConfig, {"set_voltage": 2.0}, "set_voltage must be < 0 V"),
    (ProgrammingConfig, {"set_voltage": float("nan")}, "set_voltage must be a finite number of volts"),
    (ReadConfig, {"input_bits": 0}, "ReadConfig: input_bits must be an int in 1..16"),
    (ReadConfig, {"input_vmax": 0}, "input_vmax must be > 0 V"),
    (ReadConfig, {"output_precision_bits": 17}, "output_precision_bits must be an int in 0..16"),
    (ReadConfig, {"output_range_bits": 0}, "output_range_bits must be an int in 1..16"),
    (ReadConfig, {"current_scaling": -1.0}, "current_scaling must be > 0 A⁻¹"),
    (ReadConfig, {"noise": "shot"}, "noise must be one of"),
    (ReadConfig, {"read_path": "approx"}, "read_path must be one of"),
    (ReadConfig, {"noise_broadcast_dims": -1}, "noise_broadcast_dims must be an int >= 0"),
])
def test_programming_and_read_config_validation(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)
    with pytest.raises(ValueError, match=f"HardwareConfig: {cls.__name__}: {match.removeprefix(cls.__name__ + ': ')}"):
        HardwareConfig(**kwargs)


def test_hardware_config_is_programming_plus_read():
    p, r = ProgrammingConfig(tile_inputs=64, pulses_per_cycle=5), ReadConfig(output_precision_bits=6, noise="off")
    hw = HardwareConfig.from_parts(p, r)
    assert hw == HardwareConfig(tile_inputs=64, pulses_per_cycle=5, output_precision_bits=6, noise="off")
    assert hw.programming == p and hw.read == r
    assert HardwareConfig() == HardwareConfig.from_parts() and HardwareConfig().programming == ProgrammingConfig()
    # the defaults are the paper's (and those of the flat config before the split)
    assert ProgrammingConfig().to_dict() == {"tile_inputs": 128, "tile_outputs": 128, "pulses_per_cycle": 50,
                                             "pulse_vmax": 2.0, "reset_voltage": 2.0, "set_voltage": -2.0,
                                             "depthwise_conv": False, "levels": 2}
    assert ReadConfig().to_dict() == {"input_bits": 8, "input_vmax": 0.6, "output_precision_bits": 4,
                                      "output_range_bits": 4, "current_scaling": 8020.0, "noise": "paper",
                                      "read_path": "fast", "noise_broadcast_dims": 1}
    assert p.non_default() == {"tile_inputs": 64, "pulses_per_cycle": 5} and ReadConfig().non_default() == {}
    assert ReadConfig.from_dict(r.to_dict()) == r and ProgrammingConfig.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match="ReadConfig: unknown setting"):
        ReadConfig.from_dict({"tile_inputs": 64})  # a programming setting is no read setting
    with pytest.raises(TypeError, match="programming must be a ProgrammingConfig"):
        HardwareConfig.from_parts(r, p)
