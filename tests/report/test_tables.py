"""Paper tables: statistics and rendering."""
import math

import pytest

from memristor_asr.report.tables import device_stats, fmt, table2, table3


def test_device_stats_use_population_std():
    s = device_stats([8.0, 9.0, 10.0, 9.0])
    assert s["avg"] == 9.0 and s["min"] == 8.0 and s["max"] == 10.0
    assert s["std"] == pytest.approx(math.sqrt(0.5))  # ddof 0, as numpy's default in the paper
    with pytest.raises(ValueError):
        device_stats([])


def test_table2_and_3_render():
    t2 = table2(7.2, {8: 7.25, 2: None}, {8: 7.31, 2: 22.06}, [8, 2])
    md = t2.markdown()
    assert "| 8 | 7.2 | 7.3 |" in md and "| 2 | n.a. | 22.1 |" in md and "non-quantised baseline" in md
    assert "\\toprule" in t2.latex() and "\\bottomrule" in t2.latex()
    assert t2.csv().splitlines()[0] == "weight bits,PTQ,QAT"
    t3 = table3(7.2, {8: [8.1, 8.5], 3: [9.0, 9.4, 9.2]}, [8, 3])
    assert "| 8 | 8.3 | 0.20 | 8.1 | 8.5 | 2 |" in t3.markdown()
    assert fmt(float("nan")) == "n.a."
