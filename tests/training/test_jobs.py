"""TrainJob (float and QAT), PTQJob and PriorJob run through the Sisyphus engine (`tk.run`)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = '''
import dataclasses, json, sys
from sisyphus import tk
tk.setup_script_mode()
from memristor_asr.quantization.jobs import PTQJob
from memristor_asr.training.jobs import PriorJob, TrainJob
from users.memristor.setups import CI

# engine mechanics on a tiny synthetic corpus that no model of this size learns in a few epochs:
# no convergence check (a QAT model from scratch may emit more wrong labels than there are references)
LOOSE = None
corpus = {k: tk.Path(v) for k, v in json.load(open("corpus.json")).items()}
profile = CI.training
data = dict(train_features=corpus["train_features"], dev_features=corpus["dev_features"],
            train_manifest=corpus["train_manifest"], dev_manifest=corpus["dev_manifest"],
            lexicon=corpus["lexicon"], labels=corpus["labels"], convergence=LOOSE)
float_train = TrainJob(model_config=profile.model_for(), train_config=dataclasses.replace(profile.training_for(), num_epochs=3),
                       **data)
qat = TrainJob(model_config=profile.model_for(3), train_config=profile.training_for(3), rqmt={"cpu": 1}, **data)
ptq = PTQJob(float_checkpoint=float_train.out_checkpoint, train_features=corpus["train_features"], weight_bits=4,
             num_segments=profile.ptq_num_segments)
prior = PriorJob(checkpoint=qat.out_checkpoint, features=corpus["train_features"], batch_seconds=20.0)
# resources are not part of the hash
assert TrainJob(model_config=profile.model_for(3), train_config=profile.training_for(3), rqmt={"cpu": 4,
                "gpu": 1}, **data) is qat
tk.run([float_train.out_losses, qat.out_checkpoint, ptq.out_checkpoint, prior.out_prior], quiet=True)
print(json.dumps({"float": float_train.out_checkpoint.get_path(), "losses": float_train.out_losses.get_path(),
                  "qat": qat.out_checkpoint.get_path(), "ptq": ptq.out_checkpoint.get_path(),
                  "calib": ptq.out_calibration_segments.get_path(), "prior": prior.out_prior.get_path(),
                  "info": float_train.info(), "fraction": float_train.completed_fraction()}))
'''


@pytest.mark.slow
def test_jobs_through_the_engine(tmp_path):
    from memristor_asr.nn import load_model
    from memristor_asr.training.prior import read_prior
    from memristor_asr.training.synthetic import make_synthetic_corpus

    corpus = make_synthetic_corpus(tmp_path / "corpus", num_train=40, num_dev=8, seed=4)
    setup = tmp_path / "setup"
    setup.mkdir()
    (setup / "corpus.json").write_text(json.dumps(corpus))
    (setup / "settings.py").write_text(textwrap.dedent("""
        from sisyphus.localengine import LocalEngine

        def engine():
            return LocalEngine(cpus=2, mem=8)
    """))
    (setup / "script.py").write_text(SCRIPT)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "tools"), os.path.join(REPO, "recipe"),
                                         env.get("PYTHONPATH", "")])
    env.pop("SIS_GLOBAL_SETTINGS_FILE", None)
    res = subprocess.run([sys.executable, "script.py"], cwd=setup, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])

    assert "/memristor_asr/training/jobs/TrainJob." in out["float"]
    float_model, data = load_model(out["float"])
    assert data["epoch"] == 3 and not float_model.cfg.quantized
    qat_model, _ = load_model(out["qat"])
    assert qat_model.cfg.weight_bits == 3 and qat_model.cfg.att_weights_dropout == 0.0
    ptq_model, data = load_model(out["ptq"])
    assert ptq_model.cfg.weight_bits == 4 and data["ptq"]["num_segments"] == 20
    assert len(open(out["calib"]).read().split()) == 20
    assert read_prior(out["prior"], 79).shape == (79,)
    assert len(open(out["losses"]).read().splitlines()) == 4  # header + 3 sub-epochs
    assert out["info"].startswith("sub-epoch 3/3 step ") and out["fraction"] == 1.0


CONFIG = '''
import dataclasses, json
from sisyphus import tk
from memristor_asr.training.convergence import ConvergenceCheck
from memristor_asr.training.jobs import TrainJob
from users.memristor.setups import CI

def py():
    corpus = {k: tk.Path(v) for k, v in json.load(open("corpus.json")).items()}
    profile = CI.training
    train_config = dataclasses.replace(profile.training_for(), num_epochs=8, speed_factors=(0.9, 1.0, 1.1))
    job = TrainJob(train_features=corpus["train_features"], dev_features=corpus["dev_features"],
                   train_manifest=corpus["train_manifest"], dev_manifest=corpus["dev_manifest"],
                   lexicon=corpus["lexicon"], labels=corpus["labels"], model_config=profile.model_for(),
                   train_config=train_config, rqmt={"cpu": 1, "mem": 2},
                   convergence=ConvergenceCheck(max_dev_label_error_rate=1.0, min_emission_ratio=0.0,
                                                max_train_loss_rise=10.0))
    tk.register_output("model.pt", job.out_checkpoint)
'''


def _setup(root, corpus):
    root.mkdir()
    (root / "corpus.json").write_text(json.dumps(corpus))
    (root / "settings.py").write_text("from sisyphus.localengine import LocalEngine\n\n"
                                      "def engine():\n    return LocalEngine(cpus=1, mem=4)\n")
    (root / "config").mkdir()
    (root / "config" / "train.py").write_text(CONFIG)


def _sis(root, env, *args, background=False):
    cmd = [sys.executable, "-m", "sisyphus", *args]
    if background:
        return subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_train_job_killed_with_its_manager_resumes_to_identical_weights(tmp_path):
    import glob
    import signal
    import time

    import torch

    from memristor_asr.training.synthetic import make_synthetic_corpus

    corpus = make_synthetic_corpus(tmp_path / "corpus", num_train=150, num_dev=8, seed=6)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(REPO, "tools"), os.path.join(REPO, "recipe"),
                                         env.get("PYTHONPATH", "")])
    env.pop("SIS_GLOBAL_SETTINGS_FILE", None)
    ref, crash = tmp_path / "ref", tmp_path / "crash"
    _setup(ref, corpus)
    _setup(crash, corpus)
    res = _sis(ref, env, "manager", "-r", "config/train.py")
    assert res.returncode == 0, res.stdout + res.stderr

    manager = _sis(crash, env, "manager", "-r", "config/train.py", background=True)
    pattern = str(crash / "work" / "memristor_asr" / "training" / "jobs" / "TrainJob.*" / "work" / "checkpoints"
                  / "epoch.00[2-9].pt")
    deadline = time.time() + 600
    while not glob.glob(pattern) and time.time() < deadline:
        time.sleep(0.05)
    (job_dir,) = glob.glob(str(crash / "work" / "memristor_asr" / "training" / "jobs" / "TrainJob.*"))
    usage = eval(open(os.path.join(job_dir, "usage.run.1")).read())  # noqa: S307 (the engine's own file)
    os.killpg(manager.pid, signal.SIGKILL)
    os.killpg(usage["pid"], signal.SIGKILL)  # the worker leads its own session
    manager.wait()
    assert not os.path.exists(os.path.join(job_dir, "output", "model.pt")), "killed too late to test resumption"

    res = _sis(crash, env, "manager", "-r", "config/train.py")
    assert res.returncode == 0, res.stdout + res.stderr
    log = open(os.path.join(job_dir, "log.run.1")).read()
    assert "resuming after sub-epoch" in log
    a = torch.load(ref / "output" / "model.pt", weights_only=True)["model"]
    b = torch.load(crash / "output" / "model.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


TYPED_CONFIG_SCRIPT = '''
import json
from sisyphus import tk
from memristor_asr.training.jobs import TrainJob
from users.memristor.setups import CI
p = CI.training
d = {k: tk.Path(f"/dummy/{k}") for k in ("train_features", "dev_features", "train_manifest", "dev_manifest", "lexicon",
                                         "labels")}
out = {"float": TrainJob(model_config=p.model_for(), train_config=p.training_for(), **d)._sis_id(),
       "qat3_seed2": TrainJob(model_config=p.model_for(3), train_config=p.training_for(3, 2),
                              init_checkpoint=tk.Path("/dummy/float.pt"), **d)._sis_id()}
try:
    TrainJob(model_config=p.model_for().to_dict(), train_config=p.training_for(), **d)
except Exception as e:  # the job's own error, with a note naming the job and the line
    out["dict_refused"] = str(e)
out["float_rqmt"] = TrainJob(model_config=p.model_for(), train_config=p.training_for(), rqmt={"cpu": 7}, **d)._sis_id()
print(json.dumps(out))
'''


def test_typed_configs_hash_as_upstream_sisyphus_hashes_them(tmp_path):
    """TrainJob takes ModelConfig / TrainConfig values, hashed as upstream Sisyphus hashes any object
    (vectors computed with rwth-i6/sisyphus 21ba684 on the same script); rqmt is not hashed."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "-c", TYPED_CONFIG_SCRIPT], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    ids = json.loads(res.stdout.strip().splitlines()[-1])
    assert ids["float"] == ids["float_rqmt"] == "memristor_asr/training/jobs/TrainJob.a3i6rIrH4TWp"
    assert ids["qat3_seed2"] == "memristor_asr/training/jobs/TrainJob.b3E7OYtdbvfi"
    assert "model_config must be a ModelConfig" in ids["dict_refused"]
