"""Write-verify programming: its stopping rule, what a round does to flagged and to passing cells,
its statistics, and bad settings."""
import pytest
import torch

from memristor_asr.memristor.cells import CellArray, iv_current
from memristor_asr.memristor.config import ProgrammingConfig, WriteVerifyConfig
from memristor_asr.memristor.crossbar import WriteVerifyTally, program_arrays, write_verify
from memristor_asr.memristor.params import cached_default_params

CONFIG = ProgrammingConfig(pulses_per_cycle=5)


def _targets(arrays=6, cells=2000, seed=0):
    return torch.rand(arrays, cells, generator=torch.Generator().manual_seed(seed)) < 0.3


def _program(targets, verify=None, tally=None, seed=3):
    return program_arrays(targets, num_cycles=1, config=CONFIG, generator=torch.Generator().manual_seed(seed),
                          verify=verify, tally=tally)


def _deviation(r, targets, verify):
    """|I(V_t)·c − target| of final states r (what the verify step measures)."""
    current = iv_current(r, torch.tensor(verify.test_voltage), cached_default_params())
    return (current * verify.current_scaling - targets.float()).abs()


def test_no_round_runs_when_every_cell_is_in_tolerance():
    targets = _targets()
    verify = WriteVerifyConfig(tolerance=5.0, test_voltage=0.6)
    tally = WriteVerifyTally()
    assert torch.equal(_program(targets, verify, tally), _program(targets))  # bit for bit the plain cells
    s = tally.summary()
    assert s["rounds"] == 0 and s["recycles_per_cell"] == 0 and s["out_of_tolerance_before"] == 0
    assert s["cells"] == targets.numel() and s["cells_on"] == int(targets.sum())


def test_an_unreachable_tolerance_runs_exactly_max_cycles_rounds():
    targets = _targets(arrays=2, cells=500)
    tally = WriteVerifyTally()
    _program(targets, WriteVerifyConfig(tolerance=1e-6, max_cycles=3, test_voltage=0.6), tally)
    assert len(tally.flagged) == 3
    assert all(n == targets.numel() for n in tally.flagged)  # nobody gets within 1e-6
    assert tally.summary()["recycles_per_cell"] == 3


def test_extra_rounds_after_the_early_stop_would_change_nothing():
    """The loop stops once no cell is flagged: allowing more rounds gives the same cells, bit for bit."""
    targets = _targets()
    few, many = WriteVerifyTally(), WriteVerifyTally()
    a = _program(targets, WriteVerifyConfig(tolerance=0.3, max_cycles=10, test_voltage=0.6), few)
    b = _program(targets, WriteVerifyConfig(tolerance=0.3, max_cycles=40, test_voltage=0.6), many)
    assert 0 < len(few.flagged) < 10, few.flagged  # stopped early, after some corrections
    assert few.flagged == many.flagged and torch.equal(a, b)
    assert few.on_after == few.off_after == 0


def test_a_round_recycles_the_flagged_cells_and_leaves_the_others_alone():
    gen = torch.Generator().manual_seed(5)
    cells = CellArray((4, 1000), generator=gen)
    on = torch.rand(4, 1000, generator=torch.Generator().manual_seed(6)) < 0.5
    cells.apply_voltage(2.0)
    cells.apply_voltage(torch.where(on, torch.tensor(-2.0), torch.tensor(0.0)))
    verify = WriteVerifyConfig(tolerance=0.1, max_cycles=1, test_voltage=0.6)
    before_r, before_cycle = cells.state.clone(), cells.cycle.view(4, 1000).clone()
    flagged = _deviation(before_r, on, verify) > verify.tolerance
    assert flagged.any() and (~flagged).any()
    assert write_verify(cells, on, verify, reset_voltage=2.0, set_voltage=-2.0) == 1
    cycle = cells.cycle.view(4, 1000)
    assert torch.equal(cells.state[~flagged], before_r[~flagged])  # passing cells are not pulsed
    assert torch.equal(cycle[~flagged], before_cycle[~flagged])
    assert (cycle[flagged] == before_cycle[flagged] + 1).all()  # one new switching cycle each
    # and each flagged cell ends where its target puts it: ON cells in LRS, OFF cells in HRS
    assert cells.in_lrs.view(4, 1000)[flagged & on].all() and cells.in_hrs.view(4, 1000)[flagged & ~on].all()


def test_write_verify_at_full_scale_narrows_the_cells_and_its_tally_is_what_the_cells_show():
    targets = _targets(arrays=8, cells=4000, seed=1)
    verify = WriteVerifyConfig(tolerance=0.1, test_voltage=0.6)
    plain = _program(targets)
    tally = WriteVerifyTally()
    corrected = _program(targets, verify, tally)
    d_plain, d_corr = _deviation(plain, targets, verify), _deviation(corrected, targets, verify)
    s = tally.summary()
    out_plain = (d_plain > verify.tolerance).float().mean().item()
    assert s["out_of_tolerance_before"] == pytest.approx(out_plain)
    assert s["out_of_tolerance_after"] == pytest.approx((d_corr > verify.tolerance).float().mean().item())
    assert s["out_of_tolerance_after"] < 0.5 * s["out_of_tolerance_before"]
    assert d_corr[targets].std() < d_plain[targets].std()  # the ON cells' spread shrinks
    assert s["flagged_per_round"][0] == round(out_plain * targets.numel())
    assert s["flagged_per_round"] == sorted(s["flagged_per_round"], reverse=True)


def test_at_the_follow_up_test_input_on_cells_fail_every_tolerance():
    """At 0.4 V an ON cell reads ~0.72 normalised, so against the target bit 1 it fails up to 0.2: the
    follow-up setting re-cycles (almost) every ON cell in every round, while OFF cells pass."""
    tally = WriteVerifyTally()
    _program(_targets(arrays=4, cells=4000, seed=2), WriteVerifyConfig(tolerance=0.2, max_cycles=2), tally)
    s = tally.summary()
    assert s["on_out_of_tolerance_before"] > 0.9 and s["off_out_of_tolerance_before"] < 0.02


@pytest.mark.parametrize("changes,message", [
    ({"tolerance": 0.0}, "tolerance must be a number > 0"),
    ({"tolerance": -0.1}, "tolerance must be a number > 0"),
    ({"tolerance": float("nan")}, "tolerance must be a number > 0"),
    ({"max_cycles": 0}, "max_cycles must be an int >= 1, got 0"),
    ({"max_cycles": 2.5}, "max_cycles must be an int >= 1"),
    ({"test_voltage": 0.0}, "test_voltage must be > 0 V"),
    ({"current_scaling": -1.0}, "current_scaling must be > 0"),
])
def test_bad_write_verify_settings_name_the_field(changes, message):
    with pytest.raises(ValueError, match=f"WriteVerifyConfig: {message}"):
        WriteVerifyConfig(**changes)


def test_program_model_refuses_a_write_verify_that_is_not_a_config():
    from memristor_asr.memristor.jobs import ProgramCrossbarsJob
    from sisyphus import tk

    with pytest.raises(TypeError, match="ProgramCrossbarsJob: write_verify must be a WriteVerifyConfig"):
        ProgramCrossbarsJob(checkpoint=tk.Path("model.pt"), device_index=0, write_verify={"tolerance": 0.1})
