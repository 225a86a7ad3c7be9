"""Paper tables: statistics and rendering, with intervals and the evaluation set in the captions."""
import math
import os

import pytest

from sisyphus import tk

from memristor_asr.report.bootstrap import WerEstimate
from memristor_asr.report.jobs import best_of_grid, devices_estimates, tuned_estimates
from memristor_asr.report.tables import EvalSet, budget_table, device_stats, fmt, table2, table3
from memristor_asr.scoring.sclite import SegmentScore, write_segment_scores

WHERE = EvalSet("embedded synthetic corpus (TED-LIUM v2 layout)", "dev", 160, 1500)


def test_device_stats_use_population_std():
    s = device_stats([8.0, 9.0, 10.0, 9.0])
    assert s["avg"] == 9.0 and s["min"] == 8.0 and s["max"] == 10.0
    assert s["std"] == pytest.approx(math.sqrt(0.5))  # ddof 0, as numpy's default in the paper
    with pytest.raises(ValueError):
        device_stats([])


def test_table2_and_3_render_intervals_and_the_corpus():
    est = lambda w: WerEstimate(w, w - 0.5, w + 0.6)  # noqa: E731
    one = lambda w: {"dev": est(w)}  # noqa: E731
    t2 = table2(one(7.2), {8: one(7.25), 2: None}, {8: one(7.31), 2: one(22.06)}, [8, 2], [WHERE])
    md = t2.markdown()
    assert "| 8 | 7.2 [6.8, 7.8] | 7.3 [6.8, 7.9] |" in md and "| 2 | n.a. | 22.1 [21.6, 22.7] |" in md
    assert "embedded synthetic corpus" in md and "160 segments, 1500 words" in md
    assert "TED-LIUM v2 dev" not in md
    assert "\\toprule" in t2.latex() and "$\\pm$" not in t2.latex()
    csv_lines = t2.csv().splitlines()
    assert csv_lines[0] == "weight bits,PTQ dev,PTQ dev_ci_lo,PTQ dev_ci_hi,QAT dev,QAT dev_ci_lo,QAT dev_ci_hi"
    assert csv_lines[1] == "8,7.250,6.750,7.850,7.310,6.810,7.910"
    t3 = table3(one(7.2), {8: {"dev": (est(8.3), [8.1, 8.5])}, 3: {"dev": (est(9.2), [9.0, 9.4, 9.2])}}, [8, 3],
                [WHERE])
    assert "| 8 | 8.3 [7.8, 8.9] | 0.20 | 8.1 | 8.5 | 2 |" in t3.markdown()
    assert fmt(float("nan")) == "n.a."


def test_a_device_sweep_table_names_its_setting_and_keeps_the_row_order():
    est = lambda w: WerEstimate(w, w - 0.5, w + 0.6)  # noqa: E731
    rows = {6: {"dev": (est(8.3), [8.1, 8.5])}, 2: {"dev": (est(30.0), [29.0, 31.0])}, 4: {"dev": (est(9.2), [9.0, 9.4])}}
    t = table3({"dev": est(7.2)}, rows, [6, 2, 4], [WHERE], row_label="ADC precision bits", label=None,
               what="QAT-4 on simulated memristor hardware by ADC precision")
    md = t.markdown()
    assert md.splitlines()[0].startswith("**QAT-4 on simulated memristor hardware by ADC precision, WER [%] over")
    assert "Table 3" not in md and "| ADC precision bits | dev avg |" in md
    lines = [line for line in md.splitlines() if line[:4] in ("| 6 ", "| 2 ", "| 4 ")]
    assert [line[:4] for line in lines] == ["| 6 ", "| 2 ", "| 4 "]
    assert "| 2 | 30.0 [29.5, 30.6] | 1.00 | 29.0 | 31.0 | 2 |" in md


def test_the_budget_table_puts_wer_beside_the_crossbar_budget():
    from memristor_asr.memristor.budget import crossbar_budget
    from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig

    est = lambda w: WerEstimate(w, w - 0.5, w + 0.6)  # noqa: E731
    budgets = {b: crossbar_budget({"l": (384, 1536, b)}, ProgrammingConfig(), ReadConfig(), 25.0).summary()
               for b in (8, 4)}
    t = budget_table({8: {"dev": (est(8.3), [8.1, 8.5])}, 4: {"dev": (est(9.2), [9.0, 9.4])}}, budgets, [8, 4],
                     [WHERE])
    md = t.markdown()
    assert "| weight bits | dev WER avg | array pairs | cells [M] |" in md
    # 4 bit: 3 x 12 tiles x 3 planes = 108 pairs, 3.5 M cells; 8 bit: 7 planes
    assert "| 4 | 9.2 [8.7, 9.8] | 108 | 3.5 |" in md and "| 8 | 8.3 [7.8, 8.9] | 252 | 8.3 |" in md
    assert "embedded synthetic corpus" in md and "8-bit ADC" in md and "upper bound" in md
    rows = t.csv().splitlines()
    assert rows[0].startswith("weight bits,dev WER avg,dev WER avg_ci_lo,dev WER avg_ci_hi,array pairs")
    with pytest.raises(ValueError, match="2-bit devices: no crossbar budget"):
        budget_table({2: {"dev": (est(30.0), [30.0])}}, budgets, [2], [WHERE])


def test_test_columns_follow_dev_columns():
    est = lambda w: WerEstimate(w, w - 0.5, w + 0.6)  # noqa: E731
    both = lambda d, t: {"dev": est(d), "test": est(t)}  # noqa: E731
    test_set = EvalSet(WHERE.corpus, "test", 170, 1600)
    t2 = table2(both(7.2, 8.0), {8: both(7.3, 8.1)}, {8: both(7.4, 8.2)}, [8], [WHERE, test_set])
    md = t2.markdown()
    assert "| weight bits | PTQ dev | PTQ test | QAT dev | QAT test |" in md
    assert "| 8 | 7.3 [6.8, 7.9] | 8.1 [7.6, 8.7] | 7.4 [6.9, 8.0] | 8.2 [7.7, 8.8] |" in md
    assert "| non-quantised baseline | 7.2 [6.7, 7.8] | 8.0 [7.5, 8.6] | n.a. | n.a. |" in md
    assert "dev and test (scales tuned on dev)" in md and "test: 170 segments, 1600 words" in md
    t3 = table3(both(7.2, 8.0), {4: {"dev": (est(9.0), [8.9, 9.1]), "test": (est(10.0), [9.0, 11.0])}}, [4],
                [WHERE, test_set])
    assert t3.header == ["weight bits", "dev avg", "dev std", "dev min", "dev max", "test avg", "test std",
                         "test min", "test max", "devices"]
    assert "| 4 | 9.0 [8.5, 9.6] | 0.10 | 8.9 | 9.1 | 10.0 [9.5, 10.6] | 1.00 | 9.0 | 11.0 | 2 |" in t3.markdown()
    with pytest.raises(ValueError, match="different numbers of device results"):
        table3(both(7.2, 8.0), {4: {"dev": (est(9.0), [8.9, 9.1]), "test": (est(10.0), [9.0])}}, [4],
               [WHERE, test_set])


def _scores(path, errors):
    """A ScliteJob-style segment_scores.tsv: 12 segments of 10 words, ``errors`` errors in each."""
    write_segment_scores(str(path), [SegmentScore(f"talk@{i}.000-{i + 1}.000", 10, errors) for i in range(12)])
    return tk.Path(str(path))


def test_scales_are_tuned_on_dev_and_applied_to_test(tmp_path):
    # grid point A is best on dev, B on test: the test WER reported is A's, not the better B's
    a = {"dev": _scores(tmp_path / "a_dev.tsv", 2), "test": _scores(tmp_path / "a_test.tsv", 4)}
    b = {"dev": _scores(tmp_path / "b_dev.tsv", 3), "test": _scores(tmp_path / "b_test.tsv", 1)}
    best = best_of_grid([b, a], ("dev", "test"))
    assert best["dev"].wer == 20.0 and best["test"].wer == 40.0
    est = tuned_estimates([[b, a]], ("dev", "test"))
    assert est["dev"].wer == 20.0 and est["test"].wer == 40.0
    with pytest.raises(ValueError, match="has no test scores"):
        best_of_grid([{"dev": a["dev"]}], ("dev", "test"))
    dev = devices_estimates([[a, b]], ("dev", "test"))
    assert dev["test"][1] == [40.0, 10.0] and dev["test"][0].wer == 25.0


def test_seed_spread_is_shown():
    e = WerEstimate(10.0, 9.0, 11.0, seed_std=0.4, num_seeds=3)
    assert fmt(e) == "10.0 ± 0.4 [9.0, 11.0]"
    t2 = table2({"dev": e}, {8: {"dev": e}}, {8: {"dev": e}}, [8], [WHERE])
    assert "over 3 training seeds" in t2.markdown()
    assert t2.csv().splitlines()[0].endswith("QAT dev,QAT dev_ci_lo,QAT dev_ci_hi,QAT dev_seed_std")
    assert "$\\pm$" in t2.latex()


def test_the_plot_jobs_draw_every_panel(tmp_path, monkeypatch):
    """WerPlotJob and DeviceSweepPlotJob run outside the engine on constructed scores: one panel per
    split, a PNG written (the pipeline tests run them on real recognitions)."""
    from sisyphus import gs

    from memristor_asr.report.jobs import DeviceSweepPlotJob, WerPlotJob

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gs, "BASE_DIR", str(tmp_path))  # job directories under tmp_path, not the checkout
    point = lambda e: {s: _scores(tmp_path / f"{s}.{e}.tsv", e) for s in ("dev", "test")}  # noqa: E731
    baseline = [[point(2), point(3)]]
    jobs = [WerPlotJob(baseline=baseline, ptq={8: [[point(2)]], 2: [[point(8)]]}, qat={8: [[point(2)]], 2: [[point(5)]]},
                       devices={8: [[point(2), point(3)]]}, corpus="constructed", splits=("dev", "test")),
            DeviceSweepPlotJob(baseline=baseline, devices={"P4-R4": [[point(2), point(3)]], "P2-R4": [[point(4)]]},
                               setting="ADC", what="a sweep", corpus="constructed", splits=("dev", "test"))]
    for job in jobs:
        os.makedirs(os.path.dirname(job.out_plot.get_path()), exist_ok=True)
        job.run()
        assert job.out_plot.get_path().startswith(str(tmp_path))
        assert os.path.getsize(job.out_plot.get_path()) > 10_000
