"""The whole study, `ci` profile, through the real `sis manager` (the README's main command, small)."""
import csv
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("setup")
    shutil.copy(os.path.join(REPO, "settings.py"), root / "settings.py")
    os.symlink(os.path.join(REPO, "config"), root / "config")
    env = dict(os.environ, SIS_MEMRISTOR_PROFILE="ci",
               PYTHONPATH=os.pathsep.join([os.path.join(REPO, "tools"), os.path.join(REPO, "recipe"), REPO]))
    env.pop("TEDLIUM2_ROOT", None)
    res = subprocess.run([sys.executable, "-m", "sisyphus", "manager", "-r", "config/memristor_ted.py"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=900)
    return root, res


def _csv_rows(path):
    with open(path) as f:
        return list(csv.reader(f))


def _is_wer(cell):
    # insertions can take a WER (and the upper end of its interval) above 100
    return cell != "" and 0.0 <= float(cell) <= 300.0


@pytest.mark.slow
def test_ci_pipeline_produces_paper_tables(ci_run):
    root, res = ci_run
    assert res.returncode == 0, res.stderr[-5000:]
    assert "notice: no TED-LIUM v2 root" in res.stderr
    out = root / "output" / "memristor_ted"
    # the manager ends by printing tables 2 and 3
    assert "Table 2: PTQ vs. QAT" in res.stdout and "Table 3: QAT models on simulated memristor" in res.stdout

    t2 = _csv_rows(out / "table2.csv")
    cols = [f"{m} {s}" for m in ("PTQ", "QAT") for s in ("dev", "test")]
    assert t2[0] == ["weight bits"] + [c + x for c in cols for x in ("", "_ci_lo", "_ci_hi")]
    assert [r[0] for r in t2[1:]] == ["8", "6", "5", "4", "3", "2", "non-quantised baseline"]
    assert all(_is_wer(c) for r in t2[1:-1] for c in r[1:]) and _is_wer(t2[-1][1]) and _is_wer(t2[-1][4])
    for r in t2[1:]:  # every WER lies inside its bootstrap interval
        for i in range(1, len(r), 3):
            if r[i]:
                assert float(r[i + 1]) <= float(r[i]) <= float(r[i + 2]), r

    # the ci models learn: they emit words on dev and test (a blank-only model scores 100 and fails its job)
    baseline, qat8 = (float(t2[-1][1]), float(t2[-1][4])), (float(t2[1][7]), float(t2[1][10]))
    assert max(baseline + qat8) < 95.0, (baseline, qat8)

    t3 = _csv_rows(out / "table3.csv")
    stats = [f"{s} {x}" for s in ("dev", "test") for x in ("avg", "std", "min", "max")]
    assert t3[0] == ["weight bits"] + [c for s in stats for c in ([s, s + "_ci_lo", s + "_ci_hi"] if s.endswith("avg")
                                                                   else [s])] + ["devices"]
    bits_row = t3[1]
    assert bits_row[0] == "4" and bits_row[-1] == "2"
    for first in (1, 7):  # dev, test
        avg, ci_lo, ci_hi, std, lo, hi = (float(x) for x in bits_row[first:first + 6])
        assert all(_is_wer(x) for x in (avg, ci_lo, ci_hi, lo, hi)) and std >= 0
        assert lo <= avg <= hi and ci_lo <= avg <= ci_hi
        assert avg < 95.0, avg
    assert t3[-1][0] == "non-quantised baseline" and _is_wer(t3[-1][1]) and _is_wer(t3[-1][7])
    md = (out / "table2.md").read_text()
    assert "embedded synthetic corpus (TED-LIUM v2 layout)" in md and " segments, " in md

    for name in ("table1", "table2", "table3"):
        for ext in ("md", "tex", "csv"):
            assert (out / f"{name}.{ext}").exists(), f"{name}.{ext}"
    assert (out / "table2.tex").read_text().count("\\midrule") == 1
    png = (out / "wer_vs_bits.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    t1 = _csv_rows(out / "table1.csv")
    assert [r[0] for r in t1[1:]] == ["1 × 1", "0.1 × 1", "0.01 × 1", "1 × 0", "1 × 0.5"]


@pytest.mark.slow
def test_rerun_regenerates_without_recomputing(ci_run):
    root, _ = ci_run
    table = root / "output" / "memristor_ted" / "table3.md"
    target = os.path.realpath(table)
    job_dir = os.path.dirname(os.path.dirname(target))
    shutil.rmtree(job_dir)  # a deleted job is recomputed from the finished graph; nothing else reruns
    env = dict(os.environ, SIS_MEMRISTOR_PROFILE="ci",
               PYTHONPATH=os.pathsep.join([os.path.join(REPO, "tools"), os.path.join(REPO, "recipe"), REPO]))
    res = subprocess.run([sys.executable, "-m", "sisyphus", "manager", "-r", "config/memristor_ted.py"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert os.path.exists(target)
    submitted = [line for line in res.stderr.splitlines() if "submit: " in line]
    assert len(submitted) == 1 and "Table3Job" in submitted[0], submitted
