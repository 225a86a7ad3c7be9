"""The small ci study through the Slurm engine: mini tasks local, everything else on Slurm."""
import glob
import os

import pytest

from tests.pipeline.small_study import write_config
from tests.slurm.conftest import FAST_SETTINGS, cancel_jobs_of, make_setup

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SETTINGS = FAST_SETTINGS + """
from sisyphus.engine import EngineSelector
from sisyphus.localengine import LocalEngine
from sisyphus.simple_linux_utility_for_resource_management_engine import \\
    SimpleLinuxUtilityForResourceManagementEngine

DEFAULT_ENVIRONMENT_KEEP = DEFAULT_ENVIRONMENT_KEEP | {"PYTHONPATH"}

def engine():
    return EngineSelector(
        engines={"short": LocalEngine(cpus=2, mem=4),
                 "long": SimpleLinuxUtilityForResourceManagementEngine(default_rqmt={"cpu": 1, "mem": 1, "time": 1})},
        default_engine="long")
"""


@pytest.mark.slow
def test_ci_pipeline_through_slurm(tmp_path, slurm, monkeypatch):
    s = make_setup(tmp_path, slurm, settings=SETTINGS)
    config = write_config(s.path(), eval_splits=("dev",))  # the engine is under test: dev suffices
    monkeypatch.delenv("TEDLIUM2_ROOT", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([os.path.join(REPO, "recipe"), REPO,
                                                      os.environ.get("PYTHONPATH", "")]))
    try:
        res = s.sis("manager", "-r", config, timeout=1200)
    finally:
        cancel_jobs_of(s)
    assert res.returncode == 0, res.stderr[-5000:]
    assert os.path.exists(s.path("output", "memristor_ted", "table3.csv"))
    (train_dir, *_) = glob.glob(s.path("work", "memristor_asr", "training", "jobs", "TrainJob.*"))
    ((_, info),) = s.submit_log(train_dir)
    assert info["engine_name"] == "slurm"
    (score_dir, *_) = glob.glob(s.path("work", "memristor_asr", "scoring", "jobs", "ScliteJob.*"))
    ((_, info),) = s.submit_log(score_dir)
    assert info["engine_name"] == "local"  # mini tasks stay on the submit host
