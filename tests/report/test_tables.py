"""Paper tables: statistics and rendering, with intervals and the evaluation set in the captions."""
import math

import pytest

from memristor_asr.report.bootstrap import WerEstimate
from memristor_asr.report.tables import EvalSet, device_stats, fmt, table2, table3

WHERE = EvalSet("embedded synthetic corpus (TED-LIUM v2 layout)", "dev", 160, 1500)


def test_device_stats_use_population_std():
    s = device_stats([8.0, 9.0, 10.0, 9.0])
    assert s["avg"] == 9.0 and s["min"] == 8.0 and s["max"] == 10.0
    assert s["std"] == pytest.approx(math.sqrt(0.5))  # ddof 0, as numpy's default in the paper
    with pytest.raises(ValueError):
        device_stats([])


def test_table2_and_3_render_intervals_and_the_corpus():
    est = lambda w: WerEstimate(w, w - 0.5, w + 0.6)  # noqa: E731
    t2 = table2(est(7.2), {8: est(7.25), 2: None}, {8: est(7.31), 2: est(22.06)}, [8, 2], WHERE)
    md = t2.markdown()
    assert "| 8 | 7.2 [6.8, 7.8] | 7.3 [6.8, 7.9] |" in md and "| 2 | n.a. | 22.1 [21.6, 22.7] |" in md
    assert "embedded synthetic corpus" in md and "160 segments, 1500 words" in md
    assert "TED-LIUM v2 dev" not in md
    assert "\\toprule" in t2.latex() and "$\\pm$" not in t2.latex()
    csv_lines = t2.csv().splitlines()
    assert csv_lines[0] == "weight bits,PTQ,PTQ_ci_lo,PTQ_ci_hi,QAT,QAT_ci_lo,QAT_ci_hi"
    assert csv_lines[1] == "8,7.250,6.750,7.850,7.310,6.810,7.910"
    t3 = table3(est(7.2), {8: (est(8.3), [8.1, 8.5]), 3: (est(9.2), [9.0, 9.4, 9.2])}, [8, 3], WHERE)
    assert "| 8 | 8.3 [7.8, 8.9] | 0.20 | 8.1 | 8.5 | 2 |" in t3.markdown()
    assert fmt(float("nan")) == "n.a."


def test_seed_spread_is_shown():
    e = WerEstimate(10.0, 9.0, 11.0, seed_std=0.4, num_seeds=3)
    assert fmt(e) == "10.0 ± 0.4 [9.0, 11.0]"
    t2 = table2(e, {8: e}, {8: e}, [8], WHERE)
    assert "over 3 training seeds" in t2.markdown()
    assert t2.csv().splitlines()[0].endswith("QAT,QAT_ci_lo,QAT_ci_hi,QAT_seed_std")
    assert "$\\pm$" in t2.latex()
