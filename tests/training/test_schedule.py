import numpy as np
import pytest

from memristor_asr.training.schedule import three_phase_lr


def test_paper_schedule_250_sub_epochs():
    lr = three_phase_lr(250)
    expected = np.concatenate([np.linspace(7e-6, 5e-4, 110), np.linspace(5e-4, 5e-5, 110),
                               np.linspace(5e-5, 1e-7, 30)])
    assert np.array_equal(lr, expected)
    assert lr[0] == 7e-6 and lr.max() == 5e-4 and lr[-1] == 1e-7


@pytest.mark.parametrize("n", [6, 7, 8, 10, 25, 40])
def test_scaled_schedule_keeps_phases_and_endpoints(n):
    lr = three_phase_lr(n)
    assert len(lr) == n and lr[0] == 7e-6 and lr[-1] == 1e-7 and lr.max() == 5e-4
    peak = int(np.argmax(lr))
    assert (np.diff(lr[:peak + 1]) > 0).all() and (np.diff(lr[peak:]) <= 0).all()
    if n >= 25:  # proportions 44/44/12 %
        assert abs((peak + 1) / n - 0.44) <= 1 / n


@pytest.mark.parametrize("n", [3, 4, 5])
def test_very_short_schedules_still_have_three_phases(n):
    lr = three_phase_lr(n)
    assert len(lr) == n and lr[0] == 7e-6 and 5e-4 in lr and lr[-1] < 5e-4


def test_too_short_schedule_is_rejected():
    with pytest.raises(ValueError, match="at least 3"):
        three_phase_lr(2)
