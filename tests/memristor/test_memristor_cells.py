"""Synaptogen cell physics: initialisation statistics, SET/RESET semantics, VAR steps, read noise."""
import math

import pytest
import torch

from memristor_asr.memristor.cells import (CellArray, iv_current, noise_weight, r_from_iv, r_from_resistance)
from memristor_asr.memristor.params import cached_default_params

P = cached_default_params().to("cpu")


def cells(n=4, seed=0, **kw):
    return CellArray(n, generator=torch.Generator().manual_seed(seed), **kw)


def test_fresh_array_statistics_match_the_spec_table():
    """docs/DEVICE_MODEL.md §1.4: log10 HRS 4.879 ± 0.196, US −0.678 ± 0.074 V, LRS 4539 ± 232 Ω, UR 0.734 ± 0.045 V."""
    n = 100_000
    c = cells(n, seed=1)
    y = c.features
    table = [(y[0].log10(), 4.879, 0.196), (y[1], -0.678, 0.074), (y[2], 4539.0, 232.0), (y[3], 0.734, 0.045)]
    for values, mean, std in table:
        assert abs(values.mean().item() - mean) < 4 * std / math.sqrt(n) + 0.002 * abs(mean)
        assert values.std().item() == pytest.approx(std, rel=0.03)
    assert (y[1] < 0).all() and (y[3] > 0).all()
    freq = torch.bincount(c.component, minlength=3).double() / n
    assert torch.allclose(freq, torch.tensor([0.484, 0.474, 0.042], dtype=torch.float64), atol=0.006)
    # starts at its HRS, in the Python "intermediate" state; r of HRS ≈ 0.84 ± 0.023
    assert torch.equal(c.r, r_from_resistance(y[0], P))
    assert c.r.mean().item() == pytest.approx(0.84, abs=0.005)
    assert not c.in_hrs.any() and not c.in_lrs.any()


def test_same_seed_same_cells_other_seed_other_cells():
    a, b, other = cells(1000, seed=5), cells(1000, seed=5), cells(1000, seed=6)
    for x in (a, b, other):
        x.apply_voltage(-2.0)
        x.apply_voltage(torch.linspace(0.5, 2.0, 1000))
    assert torch.equal(a.r, b.r) and torch.equal(a.latent, b.latent)
    assert not torch.allclose(a.r, other.r)


def test_set_is_abrupt_and_needs_the_threshold():
    c = cells(3)
    us = c.y[1].clone()
    c.apply_voltage(torch.stack([us[0] + 0.01, us[1], torch.tensor(-2.0)]))  # just above, at, below US
    assert c.in_lrs.tolist() == [False, True, True]
    assert torch.equal(c.r[1:], r_from_resistance(c.y[2, 1:], P))
    assert torch.equal(c.ur_state[1:], c.y[3, 1:])
    assert c.cycle.tolist() == [0, 0, 0]  # a SET draws nothing


def test_full_reset_draws_a_new_cycle_only_after_a_set():
    c = cells(2)
    hrs0 = c.y[0].clone()
    c.apply_voltage(2.0)  # Python flags: a fresh cell accepts a (no-op) full RESET, no new cycle
    assert c.in_hrs.all() and c.cycle.tolist() == [0, 0]
    assert torch.equal(c.r, r_from_resistance(hrs0, P))
    c.apply_voltage(-2.0)
    c.apply_voltage(P.umax)  # exactly Umax is a full RESET
    assert c.cycle.tolist() == [1, 1] and c.in_hrs.all() and not c.in_lrs.any()
    assert not torch.equal(c.y[0], hrs0)
    assert torch.equal(c.r, r_from_resistance(c.y[0], P))
    c.apply_voltage(2.0)  # already in HRS: nothing happens
    assert c.cycle.tolist() == [1, 1]


def test_julia_flags_ignore_reset_of_a_fresh_cell():
    c = cells(2, start_in_hrs=True)
    ur = c.ur_state.clone()
    c.apply_voltage(2.0)
    assert torch.equal(c.ur_state, ur)  # not a RESET: threshold untouched


def test_partial_reset_reuses_the_curve_and_staircase_equals_single_pulse():
    stair, single = cells(50, seed=3), cells(50, seed=3)
    for c in (stair, single):
        c.apply_voltage(-2.0)
    r_lrs = stair.r.clone()
    assert (stair.ur_state < 1.1).all()  # every RESET starts at the first step
    for u in (1.1, 1.2, 1.15, 1.3):  # 1.15 is below the previous voltage: no change
        stair.apply_voltage(u)
        if u == 1.1:
            a, cc, y = stair.reset_a.clone(), stair.reset_c.clone(), stair.y.clone()
    single.apply_voltage(1.3)
    assert stair.cycle.tolist() == [1] * 50  # one new C2C sample for the whole staircase
    assert torch.equal(stair.reset_a, a) and torch.equal(stair.reset_c, cc) and torch.equal(stair.y, y)
    assert torch.allclose(stair.r, single.r, atol=1e-6)
    # the cell curve passes through the transition curve at 1.3 V
    i_t = a * (P.umax - 1.3) ** P.eta + cc
    assert torch.allclose(iv_current(stair.r, torch.tensor(1.3), P), i_t, rtol=1e-4, atol=1e-9)
    # lower conductance than LRS, higher than the new HRS
    assert (stair.r > r_lrs).all() and (stair.r < stair.r_hrs).all()


def test_transition_curve_ends_at_the_new_hrs_and_starts_on_the_lrs_curve():
    c = cells(200, seed=4)
    c.apply_voltage(-2.0)
    r_lrs, ur = c.r.clone(), c.ur_state.clone()
    c.apply_voltage(P.umax - 1e-3)
    assert torch.allclose(c.r, c.r_hrs, atol=2e-3)
    # at the old threshold the transition curve meets the LRS curve: I_t(UR) = I(r_LRS, UR)
    i_t = c.reset_a * (P.umax - ur).abs() ** P.eta + c.reset_c
    assert torch.allclose(i_t, iv_current(r_lrs, ur, P), rtol=1e-4)


def test_masks_come_from_the_state_before_the_pulse():
    """A crafted cell that qualifies for SET and RESET at once: the RESET check uses the old UR_state."""
    c = cells(1)
    c.y[1] = 0.5  # US (crafted positive)
    c.ur_state[:] = 0.3
    c.y[3] = 0.9  # UR copied into UR_state by the SET
    c.apply_voltage(0.4)
    # SET first (r → LRS), then RESET bookkeeping from the pre-pulse mask: UR_state := 0.4, not in LRS
    assert not c.in_lrs.item() and c.ur_state.item() == pytest.approx(0.4)
    assert c.r.item() == pytest.approx(r_from_resistance(c.y[2], P).item())
    assert c.cycle.item() == 0  # not in LRS before the pulse: no new cycle


def test_partial_reset_before_any_set_leaves_r_unchanged():
    c = cells(3)
    r0 = c.r.clone()
    c.apply_voltage(1.0)
    assert torch.equal(c.r, r0) and torch.allclose(c.ur_state, torch.full((3,), 1.0))


def test_var_step_pairs_the_last_block_with_lag_one():
    """Recompute a VAR step independently: x_{n+1} = B0 ε + Σ_{j=1..10} B_{11−j} x_{n+1−j}."""
    c = cells(6, seed=9)
    for _ in range(4):  # a few cycles so the history is not just x0
        c.apply_voltage(-2.0)
        c.apply_voltage(2.0)
    hist = c.history().clone()  # [6, 10, 4], oldest first
    c.apply_voltage(-2.0)
    state = c.generator.get_state()
    eps = torch.randn(6, 4, generator=c.generator)  # what the next step will draw
    c.generator.set_state(state)
    c.apply_voltage(2.0)
    blocks = [P.var_coefs[:, 4 * b: 4 * b + 4] for b in range(11)]
    expect = eps @ blocks[0].T
    for j in range(1, 11):  # lag j is hist[:, 10 - j]
        expect = expect + hist[:, 10 - j] @ blocks[11 - j].T
    assert torch.allclose(c.history()[:, -1], expect, atol=1e-5)
    assert torch.equal(c.history()[:, :-1], hist[:, 1:])
    mu, sigma = c.mu, c.sigma
    g = sum(P.gamma[:, k].view(4, 1) * expect.T ** (4 - k) for k in range(5))
    y = mu + sigma * g
    y[0] = 10 ** y[0]
    assert torch.allclose(c.features, y, rtol=1e-4)


def test_zero_volts_and_read_do_not_switch():
    c = cells(100)
    c.apply_voltage(-2.0)
    before = (c.r.clone(), c.in_lrs.clone(), c.ur_state.clone())
    c.apply_voltage(0.0)
    c.read(0.6)
    assert torch.equal(before[0], c.r) and torch.equal(before[1], c.in_lrs) and torch.equal(before[2], c.ur_state)


@pytest.mark.parametrize("mode", ["physical", "paper"])
def test_read_noise_has_the_stated_variance(mode):
    n = 40_000
    c = cells(n, seed=2)
    c.apply_voltage(-2.0)
    c.r[:] = c.r[0].item()  # n copies of one LRS cell: one read gives n independent noise draws
    reads = c.read(0.6, noise=mode).double()
    i0 = c.current(0.6)[0].item()
    sigma = math.sqrt(noise_weight(torch.tensor(0.6), mode).item() * abs(i0))
    assert reads.std().item() == pytest.approx(sigma, rel=0.03)
    assert abs(reads.mean().item() - i0) < 4 * sigma / math.sqrt(n)
    if mode == "physical":  # docs/DEVICE_MODEL.md §1.6: σ ≈ 6.9e-8 A for an LRS cell at 0.6 V
        assert sigma == pytest.approx(6.9e-8, rel=0.1)
    else:  # docs/CROSSBAR_MAPPING.md §2.7: shot term 2·e·BW·|I| with e = Euler's number, BW = 1e-8
        assert sigma == pytest.approx(math.sqrt(2 * math.e * 1e-8 * abs(i0)), rel=1e-3)


def test_noise_off_and_zero_volts_are_exact():
    c = cells(10)
    assert torch.equal(c.read(0.3, noise="off"), c.current(0.3))
    assert torch.equal(c.read(0.0, noise="physical"), torch.zeros(10))
    with pytest.raises(ValueError, match="noise mode"):
        c.read(0.2, noise="loud")


def test_r_helpers_are_inverse_to_the_iv_relation():
    r = torch.tensor([0.1, 0.5, 0.84])
    v = torch.tensor(0.45)
    assert torch.allclose(r_from_iv(iv_current(r, v, P), v, P), r, atol=1e-5)
    resistance = P.u0 / iv_current(r, torch.tensor(P.u0), P)
    assert torch.allclose(r_from_resistance(resistance, P), r, atol=1e-5)


def test_bad_voltage_shape_is_reported():
    c = CellArray((2, 3), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"does not broadcast to cells \(2, 3\)"):
        c.apply_voltage(torch.zeros(4))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cells_run_on_cuda():
    c = CellArray(1000, generator=torch.Generator(device="cuda").manual_seed(0))
    c.apply_voltage(-2.0)
    c.apply_voltage(torch.full((1000,), 1.0, device="cuda"))
    assert c.r.device.type == "cuda" and c.cycle.sum().item() == 1000
