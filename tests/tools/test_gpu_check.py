"""The prepared GPU check script runs its checks end to end (here on the CPU), so it is ready for a
session that is lent a GPU."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_passes_on_the_cpu():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "recipe"), str(ROOT / "tools"), str(ROOT)])}
    # a smaller layer than the GPU run's paper-size one: the CPU run checks that the script works
    cmd = [sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--device", "cpu", "--quick", "--frames", "500",
           "--layer", "128", "512"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAIL" not in out.stdout
    assert "22 of 22 checks passed" in out.stdout
    assert "PASS  depthwise conv read" in out.stdout and "PASS  4-level fast read" in out.stdout
    assert "ratio fast/fp32 at 8 bit" in out.stdout
