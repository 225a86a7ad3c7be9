"""`sis manager --http PORT`: the status page in a real headless browser, and a port already in use."""
import os
import shutil
import socket
import subprocess
import urllib.request

import pytest

GATE_RECIPE = '''
import os
import time

from sisyphus import Job, Task


class Gate(Job):
    """Runs until the file `gate_file` exists, then writes its output."""

    def __init__(self, *, gate_file, label):
        self.gate_file = gate_file
        self.label = label
        self.out = self.output_path("opened.txt")

    def tasks(self):
        yield Task("run", rqmt={"cpu": 1, "mem": 1, "time": 0.1})

    def info(self):
        return f"gate {self.label} waits for its file"

    def run(self):
        print(f"gate {self.label} started")
        while not os.path.exists(self.gate_file):
            time.sleep(0.05)
        print(f"gate {self.label} opened")
        with open(self.out.get_path(), "w") as f:
            f.write(self.label + "\\n")
'''

CONFIG = """
from sisyphus import tk
from webtoy.jobs import Gate

def py():
    a = Gate(gate_file="{root}/open_a", label="alpha")
    a.add_alias("gate_alpha")
    tk.register_output("alpha.txt", a.out)
    tk.register_output("beta.txt", Gate(gate_file="{root}/open_b", label="beta").out)
"""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _dom(url, tmp_path):
    """The page as the browser built it (chromium --headless --dump-dom)."""
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}/chr",
                          "--dump-dom", url], capture_output=True, text=True, timeout=90)
    assert res.returncode == 0 and "<html" in res.stdout, res.stderr[-3000:]
    return res.stdout


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return ""


def _row(dom, marker):
    """The table row of the page's job table that mentions MARKER."""
    for row in dom.split("<tr")[1:]:
        if marker in row:
            return row.split("</tr>")[0]
    raise AssertionError(f"no row with {marker} in:\n{dom[:3000]}")


def _setup(setup_dir):
    setup_dir.write("recipe/webtoy/__init__.py", "")
    setup_dir.write("recipe/webtoy/jobs.py", GATE_RECIPE)
    setup_dir.write("config/web.py", CONFIG.format(root=setup_dir.root))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/install.sh --with-slurm installs it)")
def test_status_page_in_browser_running_then_finished(setup_dir, tmp_path):
    _setup(setup_dir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    manager = setup_dir.sis_background("manager", "-r", "--http", str(port), "config/web.py")
    try:
        def alpha_running():
            page = _get(base + "/")
            return "gate_alpha" in page and 'data-state="running"' in _row(page, "gate_alpha")

        setup_dir.wait_for(alpha_running, what="alpha shown running")
        dom = _dom(base + "/", tmp_path)
        assert "<h1>Outputs</h1>" in dom
        row = _row(dom, "gate_alpha")
        assert 'data-state="running"' in row and "gate alpha waits for its file" in row  # state and info()
        # registered outputs with links to the output and to the job's page
        out_row = _row(dom, "alpha.txt")
        assert 'href="/output/alpha.txt"' in out_row and 'href="/info/webtoy/jobs/Gate.' in out_row
        jobs_dir = setup_dir.path("work", "webtoy", "jobs")
        (alpha_dir,) = [d for d in os.listdir(jobs_dir) if "alpha" in open(os.path.join(jobs_dir, d, "info")).read()]
        alpha_id = f"webtoy/jobs/{alpha_dir}"
        details = _dom(f"{base}/info/{alpha_id}", tmp_path)
        assert 'id="job-state" data-state="running"' in details
        assert "gate alpha waits for its file" in details
        assert "gate alpha started" in details  # the log
        assert "cpu" in details and "mem" in details  # the task's requirements

        # open alpha: the page (refreshed from the manager's cycles) shows it finished, beta still running
        open(setup_dir.path("open_a"), "w").close()
        setup_dir.wait_for(lambda: 'data-state="finished"' in _row(_get(base + "/"), "alpha.txt"),
                           what="alpha shown finished")
        dom = _dom(base + "/", tmp_path)
        assert 'data-state="finished"' in _row(dom, "alpha.txt")
        assert 'data-state="running"' in _row(dom, "beta.txt")
        assert "gate_alpha" not in dom.split('id="jobs"')[1]  # no longer among the unfinished jobs
        details = _dom(f"{base}/info/{alpha_id}", tmp_path)
        assert 'id="job-state" data-state="finished"' in details and "gate alpha opened" in details
        content = _dom(base + "/output/alpha.txt", tmp_path)
        assert "alpha" in content.split('id="content"')[1]
        all_jobs = _dom(base + "/all", tmp_path)
        assert "All jobs (2)" in all_jobs
    finally:
        open(setup_dir.path("open_a"), "w").close()
        open(setup_dir.path("open_b"), "w").close()
        out, _ = manager.communicate(timeout=60)
    assert manager.returncode == 0, out
    assert "status page at http://" in out


def test_port_in_use_fails_before_anything_runs(setup_dir):
    _setup(setup_dir)
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = setup_dir.sis("manager", "-r", "--http", str(port), "config/web.py", timeout=60)
    assert res.returncode == 2
    assert f"port {port} is already in use" in res.stderr and "Nothing was started" in res.stderr
    assert "loaded config" not in res.stderr  # it stopped before loading or running anything
    assert not os.path.exists(setup_dir.path("work"))
    assert not os.path.exists(setup_dir.path("output"))


def test_page_without_browser_lists_states(setup_dir):
    """The same page over plain HTTP, also where chromium is missing; and a 404 for unknown jobs."""
    _setup(setup_dir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    manager = setup_dir.sis_background("manager", "-r", "--http", str(port), "config/web.py")
    try:
        setup_dir.wait_for(lambda: "id='counts'" in _get(base + "/"), what="status page")
        page = _get(base + "/")
        assert "alpha.txt" in page and "beta.txt" in page
        try:
            urllib.request.urlopen(base + "/info/no/such/Job.x", timeout=5)
            raise AssertionError("expected 404")
        except urllib.error.HTTPError as e:
            assert e.code == 404
    finally:
        open(setup_dir.path("open_a"), "w").close()
        open(setup_dir.path("open_b"), "w").close()
        out, _ = manager.communicate(timeout=60)
    assert manager.returncode == 0, out
