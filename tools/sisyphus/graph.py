"""The job graph: targets (outputs, reports, callbacks) and the jobs reachable from them."""
import fnmatch
import logging
import os
import pprint
import time

from sisyphus import global_settings as gs
from sisyphus import states
from sisyphus.job_path import AbstractPath
from sisyphus.tools import extract_paths

__all__ = ["SISGraph", "OutputTarget", "OutputPath", "OutputReport", "OutputCall", "sis_graph"]


class OutputTarget:
    """Something the manager computes: a set of required paths and what to do once they exist."""

    def __init__(self, name, required):
        self.name = name
        self.required = set(required)
        self._done = False

    def done(self) -> bool:
        if not self._done:
            self._done = all(p.available() for p in self.required)
        return self._done

    def update(self, write_output: bool):
        """Called each manager cycle; returns True once the target's work is complete."""
        return self.done()


class OutputPath(OutputTarget):
    """``tk.register_output``: a link ``output/<prefix><name>`` to a path once it exists."""

    def __init__(self, name, path: AbstractPath):
        super().__init__(name, [path])
        self.path = path
        self.link = os.path.join(gs.OUTPUT_DIR, gs.ALIAS_AND_OUTPUT_SUBDIR, name)
        self._linked = False

    def update(self, write_output: bool):
        if self.done() and write_output and not self._linked:
            self._make_link()
            self._linked = True
        return self.done()

    def _make_link(self):
        target = os.path.realpath(self.path.get_path())
        link = os.path.join(gs.BASE_DIR, self.link)
        parent = os.path.dirname(link)
        if os.path.isfile(parent) and not os.path.islink(parent):
            os.unlink(parent)  # a plain file in the way of the parent directory
        os.makedirs(parent, exist_ok=True)
        if os.path.islink(link):
            if os.path.realpath(link) == target:
                return
            os.unlink(link)
            verb = "Updated"
        elif os.path.exists(link):
            logging.warning("output %s exists and is not a link; not replacing it", link)
            return
        else:
            verb = "Finished"
        os.symlink(target, link)
        log = os.path.join(gs.BASE_DIR, gs.FINISHED_LOG)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {verb} output: {self.name} (-> {self.path.rel_path()})\n")


class OutputReport(OutputTarget):
    """``tk.register_report``: a text file rendered from values (a template, callable or object)."""

    def __init__(self, name, values, template=None, required=None, update_frequency=300):
        super().__init__(name, extract_paths(values) if required is None else extract_paths(required))
        self.values = values
        self.template = template
        self.update_frequency = update_frequency
        self.file = os.path.join(gs.OUTPUT_DIR, gs.ALIAS_AND_OUTPUT_SUBDIR, name)
        self._last_write = None
        self._final = False

    def render(self) -> str:
        if self.template is not None:
            return self.template.format(**self.values)
        if callable(self.values):
            return str(self.values())
        return pprint.pformat(self.values, width=140) + "\n"

    def write(self):
        """Write the report atomically; a failing report is logged, never fatal."""
        self._last_write = time.time()
        path = os.path.join(gs.BASE_DIR, self.file)
        try:
            text = self.render()
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.tmp.{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, path)
        except Exception:  # noqa: BLE001 (reports must not crash the manager)
            logging.exception("could not write report %s", self.name)

    def update(self, write_output: bool):
        done = self.done()
        if write_output:
            due = self._last_write is None or time.time() - self._last_write >= self.update_frequency
            if due or (done and not self._final):
                self.write()
                self._final = done
        return done


class OutputCall(OutputTarget):
    """``tk.register_callback``: call ``f(*args, **kwargs)`` once when all their paths exist."""

    def __init__(self, f, args, kwargs):
        super().__init__(getattr(f, "__name__", "callback"), extract_paths((args, kwargs)))
        self.f, self.args, self.kwargs = f, args, kwargs
        self._called = False

    def update(self, write_output: bool):
        if self.done() and not self._called:
            self._called = True
            self.f(*self.args, **self.kwargs)
        return self.done()


class SISGraph:
    """All registered targets; jobs are found by walking from their required paths."""

    def __init__(self):
        self.targets = []
        self._output_names = {}

    # ------------------------------------------------------------------ targets
    def add_target(self, target: OutputTarget):
        if isinstance(target, (OutputPath, OutputReport)):
            key = target.name
            if key in self._output_names:
                old = self._output_names[key]
                if getattr(old, "path", None) is not None and getattr(target, "path", None) == old.path:
                    return
                logging.warning("output %s registered twice; the later registration wins", key)
                self.targets.remove(old)
            self._output_names[key] = target
        self.targets.append(target)

    @property
    def output_targets(self):
        return [t for t in self.targets if isinstance(t, OutputPath)]

    # ------------------------------------------------------------------ traversal
    def jobs(self, stop_at_finished=False):
        """All jobs reachable from the targets (optionally not descending below finished jobs)."""
        seen = {}
        stack = [p.creator for t in self.targets for p in t.required if p.creator is not None]
        while stack:
            job = stack.pop()
            if job._sis_id() in seen:
                continue
            seen[job._sis_id()] = job
            if stop_at_finished and job._sis_finished():
                continue
            stack.extend(p.creator for p in job._sis_inputs if p.creator is not None)
        return list(seen.values())

    def job_by_id(self, sis_id: str):
        """The job of the graph with id ``sis_id`` (e.g. ``"corpus/Prepare.AbC123"``), or None."""
        for job in self.jobs():
            if job._sis_id() == sis_id:
                return job
        return None

    def jobs_sorted(self):
        """Yield every job of the graph after all jobs it depends on (dependency order).

        Deterministic: jobs without dependencies start in order of their ids; after a job, the
        jobs it made ready follow depth first, in order of their ids. Useful for listings and for
        processing a graph (exporting, copying) where inputs must come first.
        """
        by_id = {job._sis_id(): job for job in self.jobs()}
        waiting_for = {}  # id -> ids of not yet yielded jobs it depends on
        dependents = {jid: set() for jid in by_id}
        for jid, job in by_id.items():
            deps = {p.creator._sis_id() for p in job._sis_inputs if p.creator is not None}
            deps &= by_id.keys()
            waiting_for[jid] = deps
            for dep in deps:
                dependents[dep].add(jid)
        stack = sorted((jid for jid, deps in waiting_for.items() if not deps), reverse=True)
        while stack:
            jid = stack.pop()
            yield by_id[jid]
            ready = []
            for nxt in sorted(dependents[jid]):
                waiting_for[nxt].discard(jid)
                if not waiting_for[nxt]:
                    ready.append(nxt)
            stack.extend(reversed(ready))

    def find(self, pattern, mode="all"):
        """Jobs (mode "job"), paths (mode "path") or both whose id / path matches ``pattern``."""
        out = []
        glob = any(c in pattern for c in "*?[")
        for job in self.jobs():
            if mode in ("all", "job"):
                if (fnmatch.fnmatch(job._sis_id(), pattern) if glob else pattern in job._sis_id()):
                    out.append(job)
            if mode in ("all", "path"):
                for p in job._sis_outputs.values():
                    s = p.get_path()
                    if fnmatch.fnmatch(s, pattern) if glob else pattern in s:
                        out.append(p)
        return out

    def missing_inputs(self):
        """Input files (no creator) that jobs of the graph need and that do not exist."""
        missing = set()
        for job in self.jobs(stop_at_finished=True):
            if job._sis_finished():
                continue
            for p in job._sis_inputs:
                if p.creator is None and not p.available():
                    missing.add(p)
        for t in self.targets:
            for p in t.required:
                if p.creator is None and not p.available():
                    missing.add(p)
        return missing

    def get_jobs_by_status(self, engine=None) -> dict:
        """``{state: [jobs]}`` for every job that must still run or is finished directly below."""
        result = {}
        visited = set()
        # Post-order walk: a job's inputs get their state (and a freshly written `finished`
        # marker) before the job itself is asked whether its inputs are available.
        stack = [(p.creator, False) for t in self.targets for p in t.required if p.creator is not None]
        while stack:
            job, expanded = stack.pop()
            jid = job._sis_id()
            if not expanded:
                if jid in visited:
                    continue
                visited.add(jid)
                if job._sis_finished():
                    result.setdefault(states.FINISHED, []).append(job)
                    continue
                stack.append((job, True))
                stack.extend((p.creator, False) for p in job._sis_inputs if p.creator is not None)
                continue
            try:
                st = job._sis_state(engine)
            except Exception as e:  # noqa: BLE001 (a broken job must not stop the whole graph)
                logging.error("%s: cannot compute state: %s: %s", jid, type(e).__name__, e)
                st = states.ERROR
            result.setdefault(st, []).append(job)
        return result

    def for_all_nodes(self, f):
        for job in self.jobs():
            f(job)


sis_graph = SISGraph()
