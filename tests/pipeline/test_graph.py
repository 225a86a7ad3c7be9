"""The study's job graph for every shipped setup builds (hashes, wiring), without running anything."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """
import collections, sys
from sisyphus import tk
from users.memristor.memristor_ted import run_memristor_ted
from users.memristor.setups import setup_named
root = tk.Path(sys.argv[2]) if sys.argv[2] != "-" else None
run_memristor_ted(setup_named(sys.argv[1]), corpus_root=root)
jobs = tk.sis_graph.jobs()
trains = [j for j in jobs if type(j).__name__ == "TrainJob"]
floats = {j.out_checkpoint for j in trains if j.model_config.weight_bits is None}
# QAT trainings: from scratch, or fine-tuned from the float model of the same seed
print(sorted({"scratch" if j.init_checkpoint is None else ("float" if j.init_checkpoint in floats else "?")
              for j in trains if j.out_checkpoint not in floats}))
print(dict(collections.Counter(j._sis_id().split("/")[-1].split(".")[0] for j in jobs)))
"""


@pytest.mark.parametrize("profile, root, widths, devices, qat_init", [
    ("paper", "/data/TEDLIUM_release2", 6, 50, "scratch"), ("mini", "-", 6, 50, "float"), ("ci", "-", 3, 2, "float")])
def test_graph_builds(tmp_path, profile, root, widths, devices, qat_init):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", SCRIPT, profile, root], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    init, counts = res.stdout.strip().splitlines()[-2:]
    assert eval(init) == [qat_init]
    counts = eval(counts)
    assert counts["TrainJob"] == 1 + widths and counts["PTQJob"] == widths and counts["PriorJob"] == 1 + widths
    assert counts["ProgramCrossbarsJob"] == devices
    assert counts["RecognitionJob"] == 2 * (1 + widths + widths + devices)  # dev and test
    assert ("EmbeddedCorpusJob" in counts) == (root == "-")
    assert counts["Table3Job"] == 1 and counts["WerPlotJob"] == 1


SEEDS_SCRIPT = """
import collections, dataclasses
from sisyphus import tk
from users.memristor.memristor_ted import run_memristor_ted
from users.memristor.setups import CI
jobs = run_memristor_ted(dataclasses.replace(CI, num_seeds=2)).tables
t2 = jobs["table2"]
print(len(t2.baseline), len(t2.qat[4]), len(jobs["table3"].devices[4]), len(jobs["table3"].devices[4][1]))
seeds = sorted({j.train_config.seed for j in tk.sis_graph.jobs() if type(j).__name__ == "TrainJob"})
print(seeds, sum(1 for j in tk.sis_graph.jobs() if type(j).__name__ == "TrainJob"))
"""


def test_training_seeds_multiply_trainings_and_feed_the_tables(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", SEEDS_SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    cells, trainings = res.stdout.strip().splitlines()[-2:]
    assert cells == "2 2 2 2"  # per table cell: 2 seeds; per memristor seed: 2 devices
    assert trainings == "[1, 2] 8"  # (float + 3 QAT widths) x 2 seeds


READ_SWEEP_SCRIPT = """
import collections, json
from sisyphus import tk
from users.memristor.adc_sweep import run_adc_sweep
from users.memristor.memristor_ted import run_memristor_ted
from users.memristor.setups import CI

def count():
    jobs = tk.sis_graph.jobs()
    names = collections.Counter(type(j).__name__ for j in jobs)
    devices = {j._sis_id() for j in jobs if type(j).__name__ == "ProgramCrossbarsJob"}
    memristor_recogs = {j._sis_id() for j in jobs if type(j).__name__ == "RecognitionJob" and j.programmed_device}
    return {"names": names, "devices": sorted(devices), "memristor_recogs": sorted(memristor_recogs)}

study = run_memristor_ted(CI)
base = count()
# the example sweep on top: the same study's devices read with 3..6 ADC precision bits (4 is the default)
table = run_adc_sweep(study, adc_bits=(3, 4, 5, 6), weight_bits=4)
sweep = count()
rows = {bits: [len(seed) for seed in runs] for bits, runs in table.devices.items()}
# the crossbar budget on top: one budget per memristor model, from its device 0, and one table
from users.memristor.crossbar_budget import run_crossbar_budget
budget_table = run_crossbar_budget(study)
budget = count()
budget_inputs = {b: p.creator.programmed_device.creator._sis_id() for b, p in budget_table.budgets.items()}
device0 = {b: study.devices[f"qat{b}"][0].creator._sis_id() for b in study.device_scores}
print(json.dumps({"base": base, "sweep": sweep, "rows": rows, "budget": budget,
                  "budget_ok": budget_inputs == device0 and list(budget_table.devices) == list(study.device_scores)}))
"""


def test_a_read_setting_sweep_reuses_the_programmed_devices(tmp_path):
    """Read settings (here the ADC precision) belong to the recognitions: the example sweep of
    users/memristor/adc_sweep.py programs no new devices and trains nothing, it only adds recognitions
    on the main study's devices, and its table has one row per precision over both devices."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", READ_SWEEP_SCRIPT], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    import json

    out = json.loads(res.stdout.strip().splitlines()[-1])
    base, sweep = out["base"], out["sweep"]
    assert base["names"]["ProgramCrossbarsJob"] == sweep["names"]["ProgramCrossbarsJob"] == 2
    assert sweep["devices"] == base["devices"]
    # 2 devices x 2 splits per ADC setting; the default (4 bits) is the base study's recognitions
    assert len(base["memristor_recogs"]) == 4 and len(sweep["memristor_recogs"]) == 4 * 4
    assert set(base["memristor_recogs"]) < set(sweep["memristor_recogs"])
    # nothing but the memristor recognitions (and what reads them) is added: trainings etc. are shared
    for name in ("TrainJob", "PTQJob", "PriorJob", "LogMelFeatureJob", "SingleCellTableJob"):
        assert sweep["names"][name] == base["names"][name], name
    # the crossbar budget adds its own two job kinds and nothing else
    budget = out["budget"]
    added = {k: v - sweep["names"].get(k, 0) for k, v in budget["names"].items() if v != sweep["names"].get(k, 0)}
    assert added == {"CrossbarBudgetJob": 1, "CrossbarBudgetTableJob": 1}   # ci: memristors at 4 bits only
    assert out["budget_ok"]
    assert sweep["names"]["RecognitionJob"] - base["names"]["RecognitionJob"] == 3 * 4
    assert sweep["names"]["DeviceSweepTableJob"] == 1 and "DeviceSweepTableJob" not in base["names"]
    assert out["rows"] == {"3": [2], "4": [2], "5": [2], "6": [2]}  # per precision: 1 seed x 2 devices


HARDWARE_STUDIES_SCRIPT = """
import collections, json
from sisyphus import tk
from users.memristor.converter_sweep import run_converter_sweep
from users.memristor.crossbar_budget import run_crossbar_budget
from users.memristor.memristor_ted import run_memristor_ted
from users.memristor.setups import MINI
from users.memristor.depthwise_conv import run_depthwise_conv
from users.memristor.multilevel import run_multilevel
from users.memristor.noise_training import run_noise_training
from users.memristor.write_verify import run_write_verify

count = lambda: collections.Counter(type(j).__name__ for j in tk.sis_graph.jobs())
study = run_memristor_ted(MINI)
base = count()
tables = run_converter_sweep(study)
run_crossbar_budget(study)
wv = run_write_verify(study)[4]
nt = run_noise_training(study)[4]
dc = run_depthwise_conv(study)
ml = run_multilevel(study)[4]
after = count()
ml_devices = [j for j in tk.sis_graph.jobs() if type(j).__name__ == "ProgramCrossbarsJob" and j.programming.levels > 2]
conv_devices = [j for j in tk.sis_graph.jobs() if type(j).__name__ == "ProgramCrossbarsJob"
                and j.programming.depthwise_conv]
trains = [j for j in tk.sis_graph.jobs() if type(j).__name__ == "TrainJob"]
qat4 = next(j for j in trains if j.out_checkpoint == study.models["qat4"].checkpoint)
noisy = [j for j in trains if j.model_config.weight_noise > 0]
plain = {(str(j.checkpoint), j.device_index, j.programming) for j in tk.sis_graph.jobs()
         if type(j).__name__ == "ProgramCrossbarsJob" and j.write_verify is None}
verified = [(str(j.checkpoint), j.device_index, j.programming) for j in tk.sis_graph.jobs()
            if type(j).__name__ == "ProgramCrossbarsJob" and j.write_verify is not None]
print(json.dumps({"added": {k: after[k] - base.get(k, 0) for k in after if after[k] != base.get(k, 0)},
                  "wv_rows": [str(r) for r in wv.devices], "wv_reports": {k: len(v) for k, v in wv.reports.items()},
                  "wv_like_plain": all(v in plain for v in verified), "wv_checkpoint": {v[0] for v in verified} == {
                      str(study.models["qat4"].checkpoint)},
                  "dc_rows": list(dc.devices), "dc_devices": sorted(j.device_index for j in conv_devices),
                  "dc_like_plain": all((str(j.checkpoint), j.device_index, j.programming.replace(depthwise_conv=False))
                                       in plain for j in conv_devices),
                  "ml_rows": list(ml.devices), "ml_levels": sorted({j.programming.levels for j in ml_devices}),
                  "ml_like_plain": all((str(j.checkpoint), j.device_index, j.programming.replace(levels=2)) in plain
                                       for j in ml_devices),
                  "nt_rows": list(nt.devices), "nt_digital": list(nt.digital),
                  "nt_noise": sorted(j.model_config.weight_noise for j in noisy),
                  "nt_like_qat4": all(j.train_config == qat4.train_config and j.init_checkpoint == qat4.init_checkpoint
                                      and j.model_config.replace(weight_noise=0.0) == qat4.model_config
                                      for j in noisy),
                  "rows": {k: [str(r) for r in t.devices] for k, t in tables.items()},
                  "devices": {k: [len(seed) for seed in next(iter(t.devices.values()))] for k, t in tables.items()}}))
"""


def test_hardware_studies_reuse_the_main_study():
    """config/hardware_studies.py on mini: the converter sweep reads 3 devices per setting (the setup's
    sweep_devices) and shares the default setting with the main study; write-verify programs 3 devices
    per setting again, each like the main study's device of its index but for the verify rounds, and
    its plain row is the main study's recognitions; noise training trains the 4-bit QAT model again
    as the main study does, with weight noise, and nothing else is trained."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", HARDWARE_STUDIES_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    # 8 ADC and 5 DAC settings, each default shared with the main study: 11 new x 3 devices x 2 splits
    # write-verify: 4 settings x 3 devices, recognised on 2 splits; noise training: 2 models, each
    # recognised digitally (2 splits x 4 grid points) and on 3 devices
    # recognised digitally (2 splits x 4 grid points) and on 3 devices; depthwise conv: 3 devices
    # multi-level cells: 3 level counts x 3 devices
    assert out["added"] == {"RecognitionJob": 66 + 24 + 16 + 6 + 18, "ScliteJob": 66 + 24 + 28 + 6 + 18,
                            "DeviceSweepTableJob": 3, "DeviceSweepPlotJob": 6, "CrossbarBudgetJob": 5,
                            "CrossbarBudgetTableJob": 1, "ProgramCrossbarsJob": 12 + 6 + 3 + 9,
                            "WriteVerifyTableJob": 1, "TrainJob": 2, "PriorJob": 2, "NoiseTrainingTableJob": 1,
                            "MultiLevelTableJob": 1}
    assert out["ml_rows"] == ["2 levels", "3 levels", "4 levels", "8 levels"]
    assert out["ml_levels"] == [3, 4, 8] and out["ml_like_plain"]
    assert out["dc_rows"] == ["QAT-4: linears", "QAT-4: linears + depthwise conv"]
    assert out["dc_devices"] == [0, 1, 2] and out["dc_like_plain"]
    assert out["nt_rows"] == out["nt_digital"] == ["none", "noise0.05", "noise0.2"]
    assert out["nt_noise"] == [0.05, 0.2] and out["nt_like_qat4"]
    assert out["wv_rows"] == ["none", "0.4V-tol0.1", "0.6V-tol0.2", "0.6V-tol0.1", "0.6V-tol0.05"]
    assert out["wv_reports"] == {r: 3 for r in out["wv_rows"][1:]}
    assert out["wv_like_plain"] and out["wv_checkpoint"]
    assert out["rows"]["adc"][:5] == ["P8-R4", "P6-R4", "P4-R4", "P3-R4", "P2-R4"]
    assert out["rows"]["dac"] == ["B8", "B6", "B4", "B3", "B2"]
    assert out["devices"] == {"adc": [3], "dac": [3]}
