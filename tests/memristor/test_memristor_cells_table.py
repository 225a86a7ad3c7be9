"""The paper's single-cell table (Table 1) by the docs/DEVICE_MODEL.md §3 procedure."""
import json
import math
import os
import subprocess
import sys

import pytest

from memristor_asr.memristor.cells_table import cell_table, main


@pytest.fixture(scope="module")
def table():
    rows, u_half = cell_table(pairs=5000, seed=0)
    return {(r.input, r.weight): r for r in rows}, u_half


def test_input_one_times_weight_one_matches_the_paper(table):
    """Paper: 1.016 ± 0.063; a faithful model lands within ±0.015 (mean) and ±0.005 (std)."""
    row = table[0][(1.0, 1.0)]
    assert abs(row.mean - 1.016) <= 0.015
    assert abs(row.std - 0.063) <= 0.005
    assert row.min < row.mean < row.max


def test_other_rows_are_consistent(table):
    rows, u_half = table
    sem = lambda r: r.std / math.sqrt(5000)  # noqa: E731
    zero = rows[(1.0, 0.0)]
    assert abs(zero.mean) < 4 * sem(zero)  # two HRS cells cancel on average ...
    assert 0.035 < zero.std < 0.065  # ... but add variance (±0.048 per pair)
    # the I–V curve is nearly linear below 0.6 V: 0.1 and 0.01 inputs scale down by about 10 and 100
    for inp in (0.1, 0.01):
        r = rows[(inp, 1.0)]
        ratio = r.mean / rows[(1.0, 1.0)].mean
        assert 0.9 * inp < ratio < 1.02 * inp
    half = rows[(1.0, 0.5)]
    assert 0.7 < u_half < 1.1  # between the RESET threshold (~0.73 V) and Umax (1.46 V)
    assert abs(half.mean - 0.5) < 0.05


def test_json_command_line(capsys):
    assert main(["--pairs", "300", "--seed", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pairs"] == 300 and out["seed"] == 3 and out["noise"] == "physical"
    assert [(r["input"], r["weight"]) for r in out["rows"]] == [(1.0, 1.0), (0.1, 1.0), (0.01, 1.0), (1.0, 0.0),
                                                                (1.0, 0.5)]
    again = main(["--pairs", "300", "--seed", "3", "--json"])
    assert again == 0 and json.loads(capsys.readouterr().out) == out  # seeded


def test_module_runs_as_a_script():
    import memristor_asr

    # the package as imported here, also when it comes from a source tree rather than an install
    root = os.path.dirname(os.path.dirname(os.path.abspath(memristor_asr.__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "memristor_asr.memristor.cells_table"]
    res = subprocess.run(cmd + ["--pairs", "200"], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert "1 x 1" in res.stdout and "u_0.5" in res.stdout
    bad = subprocess.run(cmd + ["--pairs", "0"], capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode != 0 and "--pairs must be >= 1" in bad.stderr
