"""Upstream Sisyphus's own unit tests, run against our engine (docs/SISYPHUS_COMPAT.md).

Skipped unless ``UPSTREAM_SISYPHUS_CHECKOUT`` names a checkout of upstream Sisyphus (the name
must not start with ``SIS_``: those variables are settings, and upstream's settings test compares
them exactly). The tests listed as not applicable in docs/SISYPHUS_COMPAT.md are deselected.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPAT_DOC = os.path.join(REPO, "docs", "SISYPHUS_COMPAT.md")
UPSTREAM = os.environ.get("UPSTREAM_SISYPHUS_CHECKOUT")


def not_applicable() -> list:
    """Test ids in the "Not applicable" section of the compatibility document."""
    with open(COMPAT_DOC, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Not applicable", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- `(tests/\w+\.py::[\w:]+)`", section, flags=re.MULTILINE)


def test_compat_document_lists_test_ids():
    ids = not_applicable()
    assert ids and all("_unittest.py::" in i for i in ids)


@pytest.mark.skipif(not UPSTREAM, reason="set UPSTREAM_SISYPHUS_CHECKOUT to an upstream Sisyphus checkout")
def test_upstream_unit_tests_pass_on_our_engine(tmp_path):
    # A copy outside the repository: the tests find their fixtures through the relative
    # directory "tests" and import "recipe.task.test", which ours would shadow.
    shutil.copytree(os.path.join(UPSTREAM, "tests"), tmp_path / "tests")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIS_")}
    env["PYTHONPATH"] = os.path.join(REPO, "tools")
    which = subprocess.run([sys.executable, "-c", "import sisyphus; print(sisyphus.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert which == os.path.join(REPO, "tools", "sisyphus", "__init__.py")

    files = sorted(os.path.relpath(p, tmp_path) for p in glob.glob(str(tmp_path / "tests" / "*_unittest.py")))
    assert files, f"no tests/*_unittest.py in {UPSTREAM}"
    deselect = [a for test_id in not_applicable() for a in ("--deselect", test_id)]
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files, *deselect],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert re.search(r"\d+ passed", res.stdout) and "failed" not in res.stdout.splitlines()[-1]
