"""The paper's 3-phase learning-rate schedule, one value per sub-epoch (docs/STUDY_SETUP.md §3).

Paper (250 sub-epochs): linspace(7e-6, 5e-4, 110) ++ linspace(5e-4, 5e-5, 110) ++ linspace(5e-5, 1e-7, 30),
i.e. 44 % warm-up, 44 % decay, 12 % annealing. Other lengths keep these proportions.
"""
from __future__ import annotations

import numpy as np

__all__ = ["three_phase_lr"]


def three_phase_lr(num_sub_epochs: int, *, start: float = 7e-6, peak: float = 5e-4, after_decay: float = 5e-5,
                   final: float = 1e-7, up_fraction: float = 0.44, down_fraction: float = 0.44) -> np.ndarray:
    """Learning rate of each sub-epoch (index 0 = sub-epoch 1).

    With fewer than 6 sub-epochs a phase may have a single value (its start), so the final
    value is only reached from 6 sub-epochs on.

    :raises ValueError: for fewer than 3 sub-epochs (each phase needs at least one)
    """
    if num_sub_epochs < 3:
        raise ValueError(f"the 3-phase schedule needs at least 3 sub-epochs, got {num_sub_epochs}")
    # each phase gets two values (its start and end) where the length allows, else one
    least = 2 if num_sub_epochs >= 6 else 1
    n_up = max(least, int(round(up_fraction * num_sub_epochs)))
    n_down = max(least, int(round(down_fraction * num_sub_epochs)))
    while n_up + n_down > num_sub_epochs - least:
        if n_up >= n_down:
            n_up -= 1
        else:
            n_down -= 1
    n_anneal = num_sub_epochs - n_up - n_down
    return np.concatenate([np.linspace(start, peak, n_up), np.linspace(peak, after_decay, n_down),
                           np.linspace(after_decay, final, n_anneal)])
