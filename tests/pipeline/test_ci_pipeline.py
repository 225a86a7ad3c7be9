"""The whole study, `ci` profile, through the real `sis manager` (the README's main command, small)."""
import collections
import csv
import glob
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.pipeline.small_study import write_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# seeds of the kill schedule of the fault-injection run; more with e.g. MEMRISTOR_FAULT_SEEDS=1,2,3
FAULT_SEEDS = [int(s) for s in os.environ.get("MEMRISTOR_FAULT_SEEDS", "1").split(",")]
MANAGER = [sys.executable, "-m", "sisyphus", "manager", "-r", "config/memristor_ted.py"]


def _ci_env():
    """The environment of a manager run of the ci setup on the embedded corpus from this checkout."""
    env = dict(os.environ, SIS_MEMRISTOR_PROFILE="ci",
               PYTHONPATH=os.pathsep.join([os.path.join(REPO, "tools"), os.path.join(REPO, "recipe"), REPO]))
    env.pop("TEDLIUM2_ROOT", None)
    return env


def _new_setup(tmp_path_factory, name, small=False):
    """A setup directory for the ci study (``small``: the small ci study of small_study.py, whose jobs
    are a subset of the ci study's; returns its manager command too)."""
    root = tmp_path_factory.mktemp(name)
    shutil.copy(os.path.join(REPO, "settings.py"), root / "settings.py")
    if small:
        manager = MANAGER[:-1] + [write_config(root)]
    else:
        os.symlink(os.path.join(REPO, "config"), root / "config")
        manager = MANAGER
    return root, _ci_env(), manager


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    root, env, manager = _new_setup(tmp_path_factory, "setup")
    # generous: on a loaded 2-core machine the study takes several times the ~4 min of an idle one
    res = subprocess.run(manager, cwd=root, env=env, capture_output=True, text=True, timeout=2400)
    return root, res


def _worker_pids(root):
    """``sis worker`` processes of the setup in ``root`` (their cwd is a job's work dir there)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if b"worker" in args and b"sisyphus" in args and cwd.startswith(str(root) + os.sep):
            pids.append(int(entry))
    return pids


def _kill_group(pid):
    try:  # a worker leads its own session: this also kills what it runs (lmplz, espeak-ng, g2p)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module", params=FAULT_SEEDS, ids=lambda s: f"faults{s}")
def faulted_run(request, tmp_path_factory):
    """The small ci study (a subset of the ci study's jobs) in a fresh directory, with kill -9 at random
    moments of: the manager alone (its workers go on), the manager and every running task, and one
    task while the manager runs. After each manager kill a plain ``sis manager -r`` continues."""
    root, env, command = _new_setup(tmp_path_factory, f"faulted{request.param}", small=True)
    rng = random.Random(request.param)
    modes = ["manager", "manager+tasks", "task"]
    rng.shuffle(modes)
    log_path = root / "manager.log"
    events = []

    def start():
        return subprocess.Popen(command, cwd=root, env=env, stdout=open(log_path, "a"), stderr=subprocess.STDOUT)

    manager = start()
    for mode in modes:
        deadline = time.time() + rng.uniform(20, 90)
        while time.time() < deadline and manager.poll() is None:
            time.sleep(0.2)
        if manager.poll() is not None:
            break  # finished before this fault
        if mode == "task":
            for _ in range(150):  # up to 30 s for a running task
                pids = _worker_pids(root)
                if pids:
                    victim = rng.choice(sorted(pids))
                    _kill_group(victim)
                    events.append(f"killed task pid {victim}")
                    break
                time.sleep(0.2)
            continue
        manager.kill()
        manager.wait()
        killed = []
        if mode == "manager+tasks":
            killed = _worker_pids(root)
            for pid in killed:
                _kill_group(pid)
        events.append(f"killed the manager{f' and {len(killed)} tasks' if mode == 'manager+tasks' else ''}")
        manager = start()
    rc = manager.wait(timeout=2400)
    res = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    return root, rc, res, events, log_path


def _results(root):
    """What a study produced, by path below work/ and output/: the recognitions' CTMs, the tables
    (table1 and table3: the small ci study has the same jobs), and the training curves without their
    wall-clock column."""
    out = {}
    for ctm in glob.glob(str(root / "work" / "**" / "RecognitionJob.*" / "output" / "*.ctm"), recursive=True):
        out[os.path.relpath(ctm, root)] = open(ctm, "rb").read()
    for hyp in glob.glob(str(root / "work" / "**" / "RecognitionJob.*" / "output" / "hypotheses.json.gz"),
                         recursive=True):
        out[os.path.relpath(hyp, root)] = gzip.open(hyp).read()
    for losses in glob.glob(str(root / "work" / "**" / "TrainJob.*" / "output" / "losses.csv"), recursive=True):
        rows = _csv_rows(losses)
        keep = [i for i, name in enumerate(rows[0]) if name != "wall_seconds"]
        out[os.path.relpath(losses, root)] = [[r[i] for i in keep] for r in rows]
    for table in glob.glob(str(root / "output" / "memristor_ted" / "table[13].csv")):
        out[os.path.relpath(table, root)] = open(table, "rb").read()
    return out


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
    assert [r[0] for r in t2[1:]] == ["8", "4", "2", "non-quantised baseline"]
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
    env = _ci_env()
    res = subprocess.run([sys.executable, "-m", "sisyphus", "manager", "-r", "config/memristor_ted.py"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert os.path.exists(target)
    submitted = [line for line in res.stderr.splitlines() if "submit: " in line]
    assert len(submitted) == 1 and "Table3Job" in submitted[0], submitted


HARDWARE_CONFIG = """from users.memristor.entry import main_study


def py():
    from users.memristor.converter_sweep import run_converter_sweep
    from users.memristor.crossbar_budget import run_crossbar_budget
    from users.memristor.depthwise_conv import run_depthwise_conv
    from users.memristor.multilevel import run_multilevel
    from users.memristor.noise_training import run_noise_training
    from users.memristor.write_verify import run_write_verify

    study = main_study()
    run_crossbar_budget(study)
    # config/hardware_studies.py's converter sweep on a small grid: one new setting each, one device
    run_converter_sweep(study, adc=((4, 4), (3, 4)), dac_bits=(8, 4), num_devices=1)
    # the ci write-verify grid (one setting), one device
    run_write_verify(study, num_devices=1)
    # the ci noise-training grid (one level), one device
    run_noise_training(study, num_devices=1)
    # the depthwise convs on crossbars too, one device
    run_depthwise_conv(study, num_devices=1)
    # 4-level cells, one device
    run_multilevel(study, num_devices=1)
"""


def _submitted_class(line: str) -> str:
    """The job class of a manager ``submit:`` line (an aliased job is shown by its alias)."""
    m = re.search(r"/(\w+Job)\.", line)
    if m:
        return m.group(1)
    for part, name in (("/recog/", "RecognitionJob"), ("/devices/", "ProgramCrossbarsJob"), ("/train/", "TrainJob"),
                       ("/sentencepiece>", "TrainSentencePieceJob")):
        if part in line:
            return name
    return line


@pytest.mark.slow
def test_hardware_studies_on_the_finished_study(ci_run):
    """The hardware studies (config/hardware_studies.py, the converter grid cut down) on the finished
    ci study: only their own jobs run, on the real device files; tables and plots appear."""
    root, _ = ci_run
    (root / "hardware.py").write_text(HARDWARE_CONFIG)
    env = _ci_env()
    res = subprocess.run([sys.executable, "-m", "sisyphus", "manager", "-r", "hardware.py"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    submitted = collections.Counter(_submitted_class(line) for line in res.stderr.splitlines() if "submit: " in line)
    # the default settings (P4-R4, B8) are the main study's recognitions; P3-R4 and B4 are new; the
    # write-verify device is new, its plain row the main study's; noise training adds one model, its
    # digital recognitions and one device
    # digital recognitions and one device; the depthwise-conv and multi-level studies one device each
    assert submitted == {"CrossbarBudgetJob": 1, "CrossbarBudgetTableJob": 1, "RecognitionJob": 4 + 2 + 4 + 2 + 2,
                         "ScliteJob": 4 + 2 + 4 + 2 + 2, "DeviceSweepTableJob": 2 + 1,
                         "DeviceSweepPlotJob": 2 + 1 + 1 + 1 + 1, "ProgramCrossbarsJob": 1 + 1 + 1 + 1,
                         "WriteVerifyTableJob": 1, "TrainJob": 1, "PriorJob": 1, "NoiseTrainingTableJob": 1,
                         "MultiLevelTableJob": 1}, submitted
    out = root / "output" / "crossbar_budget"
    summary = json.loads((out / "qat4.budget.json").read_text())["summary"]
    device_dir = os.path.realpath(root / "alias" / "memristor_ted" / "devices" / "qat4" / "device0")
    with open(os.path.join(device_dir, "output", "num_cells")) as f:
        programmed = int(f.read().strip())
    assert summary["adc_bits"] == 8 and summary["frames_per_second"] == 25.0
    assert summary["cells"] >= programmed  # whole arrays hold the simulated cells plus padding
    assert summary["total_joules_per_second"] > summary["adc_joules_per_second"] > summary["adc_envelope_joules_per_second"]
    md = (out / "table.md").read_text()
    assert "| 4 | " in md and "embedded synthetic corpus" in md
    assert (out / "wer_vs_energy.png").stat().st_size > 10_000
    sweep = root / "output" / "converter_sweep"
    adc = (sweep / "adc" / "table.md").read_text()
    assert [line.split(" | ")[0] for line in adc.splitlines() if line.startswith("| P")] == ["| P4-R4", "| P3-R4"]
    assert "| B4 | " in (sweep / "dac" / "table.md").read_text()
    for which in ("adc", "dac"):
        assert (sweep / which / "plot.png").stat().st_size > 10_000
    wv = root / "output" / "write_verify" / "qat4"
    rows = [line.split(" | ") for line in (wv / "table.md").read_text().splitlines() if line.startswith("| 0.6V")]
    assert len(rows) == 1 and rows[0][0] == "| 0.6V-tol0.1"
    report = json.loads(next((root / "alias" / "write_verify" / "qat4" / "devices" / "0.6V-tol0.1").glob(
        "device0/output/write_verify.json")).read_text())
    assert report["write_verify"]["tolerance"] == 0.1 and 1 <= report["rounds"] <= 10
    assert report["out_of_tolerance_after"] < report["out_of_tolerance_before"]
    assert (wv / "plot.png").stat().st_size > 10_000
    nt = (root / "output" / "noise_training" / "qat4" / "table.md").read_text()
    rows = [line.split(" | ") for line in nt.splitlines() if line.startswith(("| none", "| noise0.2"))]
    assert [r[0] for r in rows] == ["| none", "| noise0.2"] and all(len(r) == 12 for r in rows)  # + 2 digital columns
    assert "Digital: the same model fake-quantised" in nt
    dc = (root / "output" / "depthwise_conv" / "table.md").read_text()
    assert "| QAT-4: linears | " in dc and "| QAT-4: linears + depthwise conv | " in dc
    conv_device = torch.load(next((root / "alias" / "depthwise_conv" / "devices" / "qat4-conv").glob(
        "device0/output/crossbars.pt")), weights_only=True)
    assert any(name.endswith("conv.depthwise_conv") for name in conv_device["layers"])
    ml = [line.split(" | ") for line in (root / "output" / "multilevel" / "qat4" / "table.md").read_text().splitlines()
          if line.startswith(("| 2 levels", "| 4 levels"))]
    assert [r[-3] for r in ml] == ["3", "2"]  # planes per 4-bit weight: 3 bits, 2 base-4 digits
    assert int(ml[1][-2]) < int(ml[0][-2])  # fewer array pairs


@pytest.mark.slow
def test_label_units_on_the_finished_study(ci_run):
    """config/label_units.py on the finished ci study: the BPE variant's own jobs only (sentencepiece,
    BPE lexicons, float + QAT-4 trainings, 2 devices, lexicon and lexicon-free recognitions), and one
    table with phoneme and BPE rows whose BPE models emit words."""
    root, _ = ci_run
    env = _ci_env()
    res = subprocess.run([sys.executable, "-m", "sisyphus", "manager", "-r", "config/label_units.py"], cwd=root,
                         env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    submitted = collections.Counter(_submitted_class(line) for line in res.stderr.splitlines() if "submit: " in line)
    # recognitions on dev and test: float, QAT-4, 2 devices (lexicon); float, QAT-4 (lexicon-free, 2 LM scales)
    assert submitted == {"ManifestTextJob": 1, "TrainSentencePieceJob": 1, "BpeLexiconJob": 1, "TrainJob": 2,
                         "PriorJob": 2, "ProgramCrossbarsJob": 2, "RecognitionJob": 2 * (1 + 1 + 2 + 2),
                         "ScliteJob": 2 * (1 + 1 + 2) + 2 * 2 * 2, "SentencePieceTextJob": 1, "KenLMEstimateJob": 1,
                         "KenLMBinaryJob": 1, "Table2Job": 1, "Table3Job": 1, "WerPlotJob": 1, "LabelUnitTableJob": 1,
                         "LabelUnitPlotJob": 1}, submitted
    out = root / "output" / "label_units"
    rows = _csv_rows(out / "table.csv")
    assert rows[0][:3] == ["labels", "decoding", "system"] and rows[0][3:6] == ["dev WER", "dev WER_ci_lo", "dev WER_ci_hi"]
    assert [r[:3] for r in rows[1:]] == [
        ["phoneme", "lexicon", "float baseline"], ["phoneme", "lexicon", "QAT-4"],
        ["phoneme", "lexicon", "QAT-4 on memristors"], ["bpe", "lexicon", "float baseline"], ["bpe", "lexicon", "QAT-4"],
        ["bpe", "lexicon", "QAT-4 on memristors"], ["bpe", "lexicon-free", "float baseline"],
        ["bpe", "lexicon-free", "QAT-4"]]
    for r in rows[1:]:
        assert float(r[4]) <= float(r[3]) <= float(r[5]), r  # dev WER inside its interval
        assert (r[-1] == "2") == r[2].endswith("memristors"), r  # devices only for memristor rows
    # the BPE models learn: they emit words (a blank-only model fails its recognition job instead)
    assert all(float(r[3]) < 95.0 for r in rows[4:7]), rows
    # the BPE output layer: one output per piece but <unk>, and the blank (the ci setup's BpeConfig)
    from users.memristor.setups import CI

    checkpoint = torch.load(next((root / "alias" / "label_units" / "bpe" / "train" / "float").glob("output/model.pt")),
                            map_location="cpu", weights_only=False)
    assert checkpoint["model"]["final_linear.weight"].shape[0] == CI.bpe.vocab_size == 32
    assert "embedded synthetic corpus" in (out / "table.md").read_text()
    assert (out / "wer_vs_bits.png").stat().st_size > 10_000
    assert "Label units, phonemes vs. BPE: WER" in res.stdout


@pytest.mark.slow
def test_killed_runs_resume_to_identical_results(ci_run, faulted_run):
    """kill -9 at random moments, then plain reruns: the same CTMs, curves and tables as the
    uninterrupted ci run in another directory (which also shows that two runs agree bit for bit)."""
    root, rc, res, events, log_path = faulted_run
    assert rc == 0, f"{events}\n" + open(log_path).read()[-5000:]
    assert res.returncode == 0 and "submit: " not in res.stderr, res.stderr[-3000:]  # nothing left to do
    assert len(events) >= 2, events  # the faults happened before the study finished
    clean, faulted = _results(ci_run[0]), _results(root)
    ctms = [k for k in faulted if k.endswith(".ctm")]
    assert len(ctms) >= 10 and sum(1 for k in ctms if faulted[k].strip()) >= len(ctms) // 2  # words come out
    assert len(faulted) >= 20 and not sorted(set(faulted) - set(clean))  # the same jobs, in both
    differing = [k for k in faulted if clean[k] != faulted[k]]
    assert not differing, (events, differing[:10])
