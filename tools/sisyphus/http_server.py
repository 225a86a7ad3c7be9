"""``sis manager --http PORT``: a status page of the running manager (stdlib ``http.server``).

Pages (all plain HTML that reloads itself every ``gs.HTTP_REFRESH_SECONDS``):

- ``/``             state counts, registered outputs (with links) and the jobs that are not finished;
- ``/all``          every job of the graph with its state, tasks and dependencies;
- ``/info/<id>``    one job: state, alias, creation site, ``info()``, parameters, inputs, outputs,
                    each task's requirements and state, and the head and tail of its logs;
- ``/output/<name>`` the content of a registered output (a file's start, a Variable's value).

States come from the manager's latest cycle (its snapshot), so the page never races the manager
for a job's marker files; jobs outside the snapshot are looked up directly. The port is bound by
``bind_status_server`` before the manager does anything, so a port in use fails early and cleanly.
"""
import errno
import html
import logging
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sisyphus import global_settings as gs
from sisyphus import states

__all__ = ["StatusServer", "StatusServerError", "bind_status_server", "show_jobs_in_webserver", "object_to_html"]

REFRESH_SECONDS = getattr(gs, "HTTP_REFRESH_SECONDS", 5)
LOG_HEAD_LINES = 10
LOG_TAIL_LINES = 30
OUTPUT_PREVIEW_BYTES = 64 * 1024

_STATE_COLOURS = {
    states.FINISHED: "#8fd18f", "cleaned": "#8fd18f", states.RUNNING: "#d8f27a",
    states.ERROR: "#f08080", states.UNKNOWN: "#f08080", states.INTERRUPTED_NOT_RESUMABLE: "#f08080",
    states.RETRY_ERROR: "#f08080", states.QUEUE_ERROR: "#f08080", states.INPUT_MISSING: "#f08080",
    states.QUEUE: "#9cc3e6", states.RUNNABLE: "#9cc3e6", states.INTERRUPTED_RESUMABLE: "#9cc3e6",
    states.WAITING: "#f5e27a", states.HOLD: "#d9d9d9",
}

_STYLE = """
body { font-family: sans-serif; margin: 1em 2em; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #bbb; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #eee; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 6px; overflow-x: auto; }
.state { font-weight: bold; }
nav a { margin-right: 1.5em; }
.muted { color: #666; }
"""


class StatusServerError(Exception):
    """The status page cannot be served (e.g. the port is in use)."""


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _state_cell(state) -> str:
    colour = _STATE_COLOURS.get(state, "#ffffff")
    return f'<td class="state" data-state="{_esc(state)}" style="background:{colour}">{_esc(state)}</td>'


def _job_link(job) -> str:
    jid = job._sis_id()
    return f'<a href="/info/{urllib.parse.quote(jid)}">{_esc(jid)}</a>'


def _value_html(obj, depth=0) -> str:
    """A parameter / info value as HTML: paths and jobs as links, containers as small tables."""
    from sisyphus.job import Job
    from sisyphus.job_path import AbstractPath

    if depth > 4:
        return _esc(repr(obj))
    if isinstance(obj, Job):
        return _job_link(obj)
    if isinstance(obj, AbstractPath):
        text = _esc(obj.get_path())
        return f"{text} ({_job_link(obj.creator)})" if obj.creator is not None else text
    if isinstance(obj, dict):
        rows = "".join(f"<tr><td>{_value_html(k, depth + 1)}</td><td>{_value_html(v, depth + 1)}</td></tr>"
                       for k, v in sorted(obj.items(), key=lambda kv: str(kv[0])))
        return f"<table>{rows}</table>" if rows else "{}"
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=str) if isinstance(obj, (set, frozenset)) else list(obj)
        if not items:
            return _esc(repr(obj))
        if len(items) > 200:
            return _esc(f"{type(obj).__name__} of {len(items)} items")
        return "<table>" + "".join(f"<tr><td>{_value_html(i, depth + 1)}</td></tr>" for i in items) + "</table>"
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return _esc(repr(obj))
    if callable(getattr(obj, "html", None)):
        # an object that renders itself (upstream's page does the same, e.g. i6_core's crp objects)
        try:
            return obj.html()
        except Exception:  # noqa: BLE001 (a broken html() must not take the page down)
            logging.exception("html() of %r failed", type(obj).__name__)
    return _esc(str(obj)).replace("\n", "<br>")


def _html_table(rows) -> str:
    """Upstream's ``table.html`` template: one ``<tr>`` per row, a single ``None`` cell when empty."""
    if not rows:
        return '<table>\n<tr><td align="left">None</td></tr>\n</table>'
    body = "".join("<tr>" + "".join(f'<td align="left">{cell}</td>' for cell in row) + "</tr>\n" for row in rows)
    return f"<table>\n{body}</table>"


def object_to_html(obj, _active=None) -> str:
    """Render a recipe value as an HTML fragment, as upstream's ``sisyphus.http_server.object_to_html``.

    Recipes call it from their own ``html()`` methods (i6_core's ``CommonRasrParameters.html``
    returns ``object_to_html(self.__dict__)``), so it follows upstream's rules: scalars as their
    ``repr``, lists/tuples/sets as a one-column table (a set's rows sorted), dicts as a sorted
    two-column table, a Path as ``path : <link to its creator>``, a Job as a link to its page, an
    object with an ``html()`` method through that method, anything else as escaped ``str()``.
    Unlike upstream, scalars are HTML-escaped (a string holding ``<`` must not inject markup) and
    a container that contains itself is shown as ``...`` instead of recursing without end.
    """
    from sisyphus.job import Job
    from sisyphus.job_path import AbstractPath

    if isinstance(obj, (str, int, float, bool)):
        return _esc(repr(obj))
    if isinstance(obj, (list, tuple, set, frozenset, dict)):
        active = set() if _active is None else _active
        if id(obj) in active:
            return "..."
        active.add(id(obj))
        try:
            if isinstance(obj, dict):
                rows = sorted((object_to_html(k, active), object_to_html(v, active)) for k, v in obj.items())
            else:
                rows = [(object_to_html(i, active),) for i in obj]
                if isinstance(obj, (set, frozenset)):
                    rows.sort()
        finally:
            active.discard(id(obj))
        return _html_table(rows)
    if isinstance(obj, AbstractPath):
        if obj.creator is not None:
            jid = obj.creator._sis_id()
            return f'{_esc(obj.path)} : <a href="/info/{urllib.parse.quote(jid)}">{_esc(jid)}</a>'
        return _esc(obj.path)
    if isinstance(obj, Job):
        return _job_link(obj)
    if callable(getattr(obj, "html", None)):
        return obj.html()
    return _esc(str(obj)).replace("\n", "<br/>")


def _read_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return None


class _View:
    """Builds the pages from the graph, the engine and (when there is one) the manager's snapshot."""

    def __init__(self, graph, engine, manager=None, jobs=None):
        self.graph = graph
        self.engine = engine
        self.manager = manager
        self.extra_jobs = list(jobs or [])  # loaded jobs shown without a manager (show_jobs_in_webserver)
        self.started = time.time()

    # ------------------------------------------------------------------ data
    def _jobs(self):
        for _ in range(5):  # the manager may add inputs while we walk the graph
            try:
                found = {j._sis_id(): j for j in self.graph.jobs()}
                for j in self.extra_jobs:
                    found.setdefault(j._sis_id(), j)
                return sorted(found.values())
            except RuntimeError:
                time.sleep(0.05)
        return []

    def _snapshot(self):
        by_state = getattr(self.manager, "last_by_state", None) if self.manager is not None else None
        if by_state is None:
            try:
                by_state = self.graph.get_jobs_by_status(self.engine)
            except RuntimeError:
                by_state = {}
        snap = {job._sis_id(): st for st, jobs in dict(by_state).items() for job in list(jobs)}
        for job in self.extra_jobs:
            if job._sis_id() not in snap:
                try:
                    snap[job._sis_id()] = job._sis_state(self.engine)
                except Exception:  # noqa: BLE001
                    snap[job._sis_id()] = states.UNKNOWN
        return snap

    def _state_of(self, job, snap):
        st = snap.get(job._sis_id())
        if st is None:
            st = states.FINISHED if job._sis_finished() else states.WAITING
        return st

    # ------------------------------------------------------------------ pieces
    def _page(self, title, body, refresh=True):
        meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
        if self.manager is not None:
            status = getattr(self.manager, "status", "running")
            updated = getattr(self.manager, "last_update", None)
            when = time.strftime("%H:%M:%S", time.localtime(updated)) if updated else "not yet"
            mline = f"manager: <b id='manager-status'>{_esc(status)}</b>, states from {when}"
        else:
            mline = "no manager running (states read directly)"
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{meta}<title>{_esc(title)} - sis</title>"
                f"<style>{_STYLE}</style></head><body>"
                f"<nav><a href='/'>outputs</a><a href='/all'>all jobs</a>"
                f"<span class='muted'>{_esc(os.path.abspath(gs.BASE_DIR))} &middot; {mline} &middot; "
                f"page built {time.strftime('%H:%M:%S')}</span></nav>"
                f"<h1>{_esc(title)}</h1>{body}</body></html>")

    @staticmethod
    def _counts(snap):
        counts = {}
        for st in snap.values():
            counts[st] = counts.get(st, 0) + 1
        cells = "".join(f"<tr>{_state_cell(st)}<td id='count-{_esc(st)}'>{n}</td></tr>"
                        for st, n in sorted(counts.items()))
        return f"<table id='counts'><tr><th>state</th><th>jobs</th></tr>{cells}</table>"

    # ------------------------------------------------------------------ pages
    def index(self):
        snap = self._snapshot()
        rows = []
        from sisyphus.graph import OutputPath, OutputReport

        for t in sorted(self.graph.targets, key=lambda t: str(t.name)):
            if isinstance(t, OutputPath):
                job = getattr(t, "web_job", None) or t.path.creator
                st = self._state_of(job, snap) if job is not None else (
                    states.FINISHED if t.path.available() else states.INPUT_MISSING)
                name = f"<a href='/output/{urllib.parse.quote(t.name)}'>{_esc(t.name)}</a>"
                where = _job_link(job) if job is not None else _esc(t.path.get_path())
                rows.append(f"<tr class='output'><td>{name}</td>{_state_cell(st)}<td>{where}</td>"
                            f"<td>{_esc(t.link)}</td></tr>")
            elif isinstance(t, OutputReport):
                st = states.FINISHED if t.done() else states.WAITING
                name = f"<a href='/output/{urllib.parse.quote(t.name)}'>{_esc(t.name)}</a> (report)"
                rows.append(f"<tr class='output'><td>{name}</td>{_state_cell(st)}<td></td><td>{_esc(t.file)}</td></tr>")
        outputs = ("<table id='outputs'><tr><th>output</th><th>state</th><th>job</th><th>link</th></tr>"
                   + "".join(rows) + "</table>") if rows else "<p>No outputs registered.</p>"
        jobs_by_id = {j._sis_id(): j for j in self._jobs()}
        active = []
        for jid, st in sorted(snap.items(), key=lambda kv: (kv[1], kv[0])):
            if st == states.FINISHED or jid not in jobs_by_id:
                continue
            job = jobs_by_id[jid]
            info = self._info(job) if st == states.RUNNING else ""
            active.append(f"<tr class='job' data-job='{_esc(jid)}'>{_state_cell(st)}<td>{_job_link(job)}</td>"
                          f"<td>{_esc(job.get_one_alias() or '')}</td><td>{_esc(info)}</td></tr>")
        jobs = ("<table id='jobs'><tr><th>state</th><th>job</th><th>alias</th><th>info</th></tr>"
                + "".join(active) + "</table>") if active else "<p>All jobs of the outputs are finished.</p>"
        body = (f"<h2>States</h2>{self._counts(snap)}<h2>Outputs</h2>{outputs}"
                f"<h2>Jobs not finished</h2>{jobs}")
        return self._page("Outputs", body)

    @staticmethod
    def _info(job):
        try:
            info = job.info()
        except Exception as e:  # noqa: BLE001 (info() is the recipe's code)
            return f"(info() failed: {type(e).__name__}: {e})"
        return "" if info is None else str(info)

    def all_jobs(self):
        snap = self._snapshot()
        jobs = self._jobs()
        number = {j._sis_id(): i for i, j in enumerate(jobs)}
        rows = []
        for i, job in enumerate(jobs):
            st = self._state_of(job, snap)
            deps = sorted({number[p.creator._sis_id()] for p in list(job._sis_inputs)
                           if p.creator is not None and p.creator._sis_id() in number})
            dep_links = " ".join(f"<a href='#job{d}'>{d}</a>" for d in deps)
            tasks = ", ".join(f"{_esc(t.name())}&times;{len(t.task_ids())}" for t in self._tasks(job))
            rows.append(f"<tr class='job' id='job{i}' data-job='{_esc(job._sis_id())}'><td>{i}</td>"
                        f"<td>{_job_link(job)}</td><td>{_esc(job.get_one_alias() or '')}</td>{_state_cell(st)}"
                        f"<td>{tasks}</td><td>{dep_links}</td></tr>")
        body = ("<table id='jobs'><tr><th>#</th><th>job</th><th>alias</th><th>state</th><th>tasks</th>"
                "<th>depends on</th></tr>" + "".join(rows) + "</table>")
        return self._page(f"All jobs ({len(jobs)})", body)

    @staticmethod
    def _tasks(job):
        try:
            return list(job._sis_tasks())
        except Exception:  # noqa: BLE001
            return []

    def job_info(self, sis_id):
        job = {j._sis_id(): j for j in self._jobs()}.get(sis_id)
        if job is None:
            return None
        snap = self._snapshot()
        st = self._state_of(job, snap)
        d = job._sis_path(abspath=True)
        colour = _STATE_COLOURS.get(st, "#ffffff")
        rows = [("state", f"<span class='state' id='job-state' data-state='{_esc(st)}' style='background:{colour}'>"
                          f"{_esc(st)}</span>", True), ("directory", _esc(d), True),
                ("alias", _esc(", ".join(sorted(job.get_aliases() or ())) or "-"), True),
                ("created at", _esc(job._sis_creation_site), True)]
        if job.get_vis_name():
            rows.append(("name", _esc(job.get_vis_name()), True))
        info = self._info(job)
        rows.append(("info", f"<span id='info'>{_esc(info) if info else '-'}</span>", True))
        head = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v, _ in rows)
        parts = [f"<table id='summary'>{head}</table>",
                 f"<h2>Parameters</h2>{_value_html(dict(job._sis_kwargs))}",
                 f"<h2>Inputs</h2>{_value_html(sorted(job._sis_inputs, key=lambda p: p.get_path()))}",
                 f"<h2>Outputs</h2>{_value_html(dict(job._sis_outputs))}", "<h2>Tasks</h2>"]
        files = None
        try:
            files = set(os.listdir(d))
        except OSError:
            files = set()
        finished = job._sis_finished()
        for task in self._tasks(job):
            try:
                rqmt = task.rqmt()
            except Exception as e:  # noqa: BLE001
                rqmt = f"(rqmt failed: {e})"
            parts.append(f"<h3>{_esc(task.name())}</h3><p>requirements:</p>"
                         f"<div class='rqmt' data-task='{_esc(task.name())}'>{_value_html(rqmt)}</div>")
            for tid in task.task_ids():
                try:
                    tstate = task.state(self.engine, tid, files)
                except Exception:  # noqa: BLE001
                    tstate = states.UNKNOWN
                if finished and tstate != states.FINISHED:
                    tstate = "cleaned"
                lines = _read_lines(task.path("log", tid))
                if lines is None:
                    log = "(no log file)"
                elif len(lines) <= LOG_HEAD_LINES + LOG_TAIL_LINES:
                    log = "\n".join(lines)
                else:
                    log = "\n".join(lines[:LOG_HEAD_LINES] + [f"... ({len(lines) - LOG_HEAD_LINES - LOG_TAIL_LINES}"
                                                              " lines left out) ..."] + lines[-LOG_TAIL_LINES:])
                parts.append(f"<table class='task'><tr><th>{_esc(task.name())}.{tid}</th>{_state_cell(tstate)}"
                             f"</tr></table><pre class='log' id='log-{_esc(task.name())}-{tid}'>{_esc(log)}</pre>")
        return self._page(f"Job {sis_id}", "".join(parts))

    def output(self, name):
        from sisyphus.graph import OutputPath, OutputReport

        target = next((t for t in self.graph.targets if isinstance(t, (OutputPath, OutputReport))
                       and t.name == name), None)
        if target is None:
            return None
        if isinstance(target, OutputReport):
            path, creator = os.path.join(gs.BASE_DIR, target.file), None
        else:
            path, creator = target.path.get_path(), target.path.creator
        head = f"<p>{_esc(path)}" + (f" from {_job_link(creator)}" if creator is not None else "") + "</p>"
        if os.path.isdir(path):
            entries = sorted(os.listdir(path))
            content = "<ul>" + "".join(f"<li>{_esc(e)}</li>" for e in entries[:500]) + "</ul>"
        elif os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read(OUTPUT_PREVIEW_BYTES + 1)
            more = len(data) > OUTPUT_PREVIEW_BYTES
            text = data[:OUTPUT_PREVIEW_BYTES].decode("utf-8", errors="replace")
            content = f"<pre id='content'>{_esc(text)}</pre>" + ("<p>(truncated)</p>" if more else "")
        else:
            content = "<p>not computed yet</p>"
        return self._page(f"Output {name}", head + content)


class _Handler(BaseHTTPRequestHandler):
    server_version = "sis-status"
    view = None  # set per server class

    def log_message(self, fmt, *args):
        logging.debug("http %s: " + fmt, self.address_string(), *args)

    def _send(self, code, body):
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server's name)
        view = self.server.view
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        try:
            if view is None:
                page = "<!DOCTYPE html><html><body><p>The manager is still loading the configs.</p></body></html>"
            elif path in ("/", "/index.html"):
                page = view.index()
            elif path == "/all":
                page = view.all_jobs()
            elif path.startswith("/info/"):
                page = view.job_info(path[len("/info/"):])
            elif path.startswith("/output/"):
                page = view.output(path[len("/output/"):])
            else:
                page = None
            if page is None:
                self._send(404, f"<!DOCTYPE html><html><body><p>Not found: {_esc(path)}</p>"
                                f"<p><a href='/'>outputs</a></p></body></html>")
            else:
                self._send(200, page)
        except BrokenPipeError:
            pass
        except Exception as e:  # noqa: BLE001 (a page error must never reach the manager)
            logging.debug("http page %s failed", path, exc_info=True)
            try:
                self._send(500, f"<!DOCTYPE html><html><body><p>error: {_esc(type(e).__name__)}: "
                                f"{_esc(e)}</p></body></html>")
            except OSError:
                pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # restart right after a previous manager; two live listeners still fail
    view = None


class StatusServer:
    """A bound, not yet serving status page; ``serve()`` starts it in a daemon thread."""

    def __init__(self, port, host=""):
        try:
            self.httpd = _Server((host, port), _Handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise StatusServerError(f"--http {port}: port {port} is already in use; choose another port "
                                        "(or stop what listens there). Nothing was started.") from None
            if e.errno == errno.EACCES:
                raise StatusServerError(f"--http {port}: not allowed to listen on port {port} (ports below "
                                        "1024 need root); choose a port above 1024. Nothing was started.") from None
            raise StatusServerError(f"--http {port}: cannot listen: {e}. Nothing was started.") from None
        except OverflowError:
            raise StatusServerError(f"--http {port}: not a valid port (0-65535). Nothing was started.") from None
        self.port = self.httpd.server_address[1]
        self.thread = None

    def serve(self, graph, engine, manager=None, jobs=None):
        self.httpd.view = _View(graph, engine, manager, jobs)
        if self.thread is None:
            self.thread = threading.Thread(target=self.httpd.serve_forever, name="sis-http", daemon=True)
            self.thread.start()
            logging.info("status page at http://%s:%d/", gs.HOSTNAME, self.port)

    def stop(self):
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread = None
        self.httpd.server_close()


def bind_status_server(port, host=""):
    """Bind ``port`` now (raises StatusServerError with a clear message when it cannot)."""
    if not isinstance(port, int) or port < 0 or port > 65535:
        raise StatusServerError(f"--http {port}: not a valid port (0-65535). Nothing was started.")
    return StatusServer(port, host)


def show_jobs_in_webserver(port, jobs):
    """Serve a status page for loaded jobs until interrupted (``tk.show_jobs_in_webserver``)."""
    from sisyphus import toolkit as tk
    from sisyphus.graph import OutputPath, SISGraph

    web_graph = SISGraph()
    for job in jobs:
        if job._sis_outputs:
            target = OutputPath(job._sis_id(), next(iter(job._sis_outputs.values())))
            target.web_job = job
            web_graph.add_target(target)
        else:
            print(f"Skipping {job._sis_id()}: it has no output")
    server = bind_status_server(int(port))
    engine = tk.cached_engine()
    engine.start_engine()
    server.serve(web_graph, engine, jobs=jobs)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        engine.stop_engine()
