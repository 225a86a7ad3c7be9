"""Multi-level cells: digit planes, the partial-RESET calibration, programmed levels, reading and
recombining L-level layers, the device file, and bad settings."""
import pytest
import torch

from memristor_asr.memristor.cells import iv_current, polyval
from memristor_asr.memristor.config import HardwareConfig, ProgrammingConfig, WriteVerifyConfig
from memristor_asr.memristor.convert import ProgrammedModel, load_programmed_file, save_programmed
from memristor_asr.memristor.crossbar import bit_planes, integer_weights, program_arrays, program_layer
from memristor_asr.memristor.levels import digit_planes, level_voltages, plane_weights, planes_for
from memristor_asr.memristor.linear import MemristorLinear, adc, dac
from memristor_asr.memristor.params import cached_default_params

P = cached_default_params()


@pytest.mark.parametrize("levels", range(2, 9))
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_digit_planes_reconstruct_every_integer(bits, levels):
    qmax = 2 ** (bits - 1) - 1
    w_int = torch.arange(-qmax, qmax + 1).view(1, -1)
    planes = digit_planes(w_int, bits, levels)
    n = planes_for(bits, levels)
    assert planes.shape == (n, w_int.shape[1], 1) and planes.abs().max() <= levels - 1
    weights = torch.tensor([levels ** (n - 1 - p) for p in range(n)]).view(-1, 1, 1)
    assert torch.equal((planes.long() * weights).sum(0).T, w_int)
    assert levels ** n - 1 >= qmax and (n == 1 or levels ** (n - 1) - 1 < qmax)  # the fewest planes
    if levels == 2:
        assert torch.equal(planes, bit_planes(w_int, bits)) and plane_weights(n) == [2.0 ** b for b in range(n - 1, -1, -1)]


def test_planes_and_recombination_weights():
    assert [planes_for(4, L) for L in (2, 3, 4, 8)] == [3, 2, 2, 1]
    assert [planes_for(8, L) for L in (2, 3, 4, 16)] == [7, 5, 4, 2]
    assert plane_weights(2, 4) == [12.0, 3.0]  # (L − 1)·L^p: a level-d cell reads ≈ d/(L − 1)


def test_partial_reset_voltages_fall_with_the_level_and_lie_in_the_reset_range():
    assert level_voltages(2) == ()
    for levels in (3, 4, 6):
        u = level_voltages(levels)
        assert len(u) == levels - 2
        assert all(a > b for a, b in zip(u, u[1:]))  # a lower level needs a deeper partial RESET
        assert all(0.3 < v < float(P.umax) for v in u)
    assert level_voltages(4) == level_voltages(4)  # deterministic (and cached)


@pytest.mark.parametrize("levels", [3, 4])
def test_programmed_levels_read_at_their_calibrated_means(levels):
    """Fresh arrays (with pre-cycling): the mean normalised pair value of each intermediate level is
    d/(L − 1) as calibrated, level 0 is an OFF pair (≈ 0) and the top level a SET (not calibrated:
    ≈ 1, above every intermediate level); the intermediate levels spread more than ON and OFF cells."""
    g = torch.Generator().manual_seed(4)
    targets = torch.randint(0, levels, (8, 2000), generator=g).to(torch.int8)
    config = ProgrammingConfig(levels=levels, pulses_per_cycle=5)
    r = program_arrays(targets, num_cycles=1, config=config, generator=torch.Generator().manual_seed(2))
    off = program_arrays(torch.zeros(2, 2000, dtype=torch.int8), num_cycles=1, config=config,
                         generator=torch.Generator().manual_seed(3))
    value = 8020.0 * (iv_current(r, torch.tensor(0.6), P) - iv_current(off, torch.tensor(0.6), P).mean())
    stds = []
    for d in range(levels):
        cells = value[targets == d]
        if d < levels - 1:
            assert cells.mean().item() == pytest.approx(d / (levels - 1), abs=0.06), d
        else:
            assert (levels - 2) / (levels - 1) + 0.1 < cells.mean().item() < 1.2
        stds.append(cells.std().item())
    assert min(stds[1:-1]) > max(stds[0], stds[-1])


@pytest.fixture(scope="module")
def layer4():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(24, 40, generator=g) * 0.2
    s_w = float(w.abs().max() / 7)
    x = torch.randn(6, 40, generator=g)
    return dict(w_int=integer_weights(w, s_w, 4), s_w=s_w, x=x, s_a=float(x.abs().max() / 127))


@pytest.mark.parametrize("levels", [3, 4])
def test_an_l_level_layer_reads_as_the_written_out_reference(layer4, levels):
    config = HardwareConfig(levels=levels, tile_inputs=16, tile_outputs=8, pulses_per_cycle=2, noise="off",
                            output_precision_bits=8, output_range_bits=8)
    lay = program_layer(layer4["w_int"], 4, config=config, seed=1, num_cycles=1)
    assert lay.levels == levels and lay.r_pos.shape == (planes_for(4, levels), 40, 24)
    volts = dac(layer4["x"].double(), 1.0 / (layer4["s_a"] * 127), config)
    d = polyval(P.hhrs_poly.double(), volts) - polyval(P.llrs_poly.double(), volts)
    ref = torch.zeros(6, 24, dtype=torch.float64)
    for p, weight in enumerate(plane_weights(lay.num_planes, levels)):
        for j in range(0, 40, 16):
            delta = (lay.r_pos[p, j:j + 16] - lay.r_neg[p, j:j + 16]).double()
            ref += weight * adc(config.current_scaling * d[:, j:j + 16] @ delta, config)
    ref = ref * layer4["s_w"] * layer4["s_a"] * 127
    lsb = layer4["s_w"] * layer4["s_a"] * 127 / 2 ** 8
    ideal = layer4["x"] @ (layer4["w_int"].float() * layer4["s_w"]).T
    for path in ("fast", "exact"):
        y = MemristorLinear(lay, weight_scale=layer4["s_w"], input_scale=layer4["s_a"],
                            config=config.replace(read_path=path))(layer4["x"])
        diff = (y.double() - ref).abs()
        assert (diff > 1e-4).float().mean() < 0.02 and diff.max() <= 4 * max(plane_weights(lay.num_planes, levels)) * lsb
        assert torch.corrcoef(torch.stack([y.flatten(), ideal.flatten()]))[0, 1] > 0.9


def test_the_device_file_keeps_the_levels(tmp_path, layer4):
    config = ProgrammingConfig(levels=3, pulses_per_cycle=2)
    lay = program_layer(layer4["w_int"], 4, config=config, seed=1, num_cycles=1)
    state = ProgrammedModel(seed=0, num_cycles=1, programming=config, cells_per_chunk=2 ** 21, device_type="cpu",
                            params_sha256="x", layers={"l": lay})
    save_programmed(state, tmp_path / "d.pt", dtype=torch.float32)
    back = load_programmed_file(tmp_path / "d.pt")
    assert back.programming.levels == 3 and back.layers["l"].levels == 3
    assert torch.equal(back.layers["l"].r_pos, lay.r_pos)


def test_levels_are_hashed_only_when_set_and_bad_settings_are_refused(layer4):
    assert "levels" not in ProgrammingConfig().__sis_state__()
    assert ProgrammingConfig(levels=4).__sis_state__()["levels"] == 4
    for bad in (1, 17, 2.5, True):
        with pytest.raises(ValueError, match="ProgrammingConfig: levels must be an int in 2..16"):
            ProgrammingConfig(levels=bad)
    with pytest.raises(ValueError, match="write-verify is defined for binary cells only"):
        program_layer(layer4["w_int"], 4, config=ProgrammingConfig(levels=3), seed=0, num_cycles=1,
                      verify=WriteVerifyConfig())


def test_with_read_noise_both_read_paths_agree_statistically(layer4):
    """3-level cells, paper read noise, a fine ADC: mean and std over repeated reads agree between the
    per-cell (exact) and the per-column (fast) path."""
    config = HardwareConfig(levels=3, tile_inputs=16, tile_outputs=8, pulses_per_cycle=2, noise="paper",
                            output_precision_bits=10, output_range_bits=8)
    lay = program_layer(layer4["w_int"], 4, config=config, seed=1, num_cycles=1)
    x = layer4["x"][:1]
    reads = 300
    outs = {}
    for path in ("fast", "exact"):
        m = MemristorLinear(lay, weight_scale=layer4["s_w"], input_scale=layer4["s_a"],
                            config=config.replace(read_path=path), noise_seed=2)
        outs[path] = torch.stack([m(x) for _ in range(reads)]).double()
    sf, se = outs["fast"].std(0), outs["exact"].std(0)
    assert (se > 0).all()
    z = (outs["fast"].mean(0) - outs["exact"].mean(0)) / torch.sqrt((sf ** 2 + se ** 2) / reads)
    assert z.abs().max() < 5.0
    assert (sf / se).mean() == pytest.approx(1.0, abs=0.05)
