"""``sis manager``: compute job states, submit what can run, link outputs, write reports."""
import fcntl
import logging
import os
import signal
import sys
import time

from sisyphus import global_settings as gs
from sisyphus import states
from sisyphus.engine import DeferSubmission, SubmissionError
from sisyphus.job import JobCreationError
from sisyphus.tools import finished_results_cache

__all__ = ["Manager", "ManagerLock", "ManagerLockError", "STOP_SIGNALS", "stop_message"]

ACTIVE = (states.RUNNABLE, states.RUNNING, states.QUEUE, states.INTERRUPTED_RESUMABLE, states.UNKNOWN)
FAILED = (states.ERROR, states.QUEUE_ERROR, states.RETRY_ERROR, states.INTERRUPTED_NOT_RESUMABLE)


class ManagerLockError(Exception):
    """Another manager already runs on this setup's work directory."""


class ManagerLock:
    """An exclusive ``flock`` on ``work/.sis_manager.lock``: one manager per work directory.

    The kernel drops the lock when its holder dies, so a killed manager never blocks the next.
    """

    def __init__(self, work_dir):
        self.path = os.path.join(work_dir, ".sis_manager.lock")
        self.fd = None

    def acquire(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                holder = f.read().strip() or "unknown process"
            os.close(self.fd)
            self.fd = None
            raise ManagerLockError(f"another manager is already running on {os.path.dirname(self.path)} "
                                   f"({holder}); wait for it to finish or stop it first") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"pid {os.getpid()} on {gs.HOSTNAME} since {time.ctime()}\n".encode())

    def release(self):
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


# Order of the overview lines: errors last, so they are what stays on screen.
STATE_ORDER = [states.INPUT_PATH, states.FINISHED, states.HOLD, states.WAITING, states.QUEUE, states.RUNNING,
               states.RUNNABLE, states.INTERRUPTED_RESUMABLE, states.INTERRUPTED_NOT_RESUMABLE, states.UNKNOWN,
               states.QUEUE_ERROR, states.RETRY_ERROR, states.ERROR, states.INPUT_MISSING]
# Log level of each state's lines in the overview (the rest: INFO, or DEBUG where noted).
_ERROR_STATES = (states.INPUT_MISSING, states.RETRY_ERROR, states.INTERRUPTED_NOT_RESUMABLE, states.ERROR,
                 states.QUEUE_ERROR)
_WARNING_STATES = (states.INTERRUPTED_RESUMABLE, states.UNKNOWN)
START_PROMPT = ("Start manager (y), print verbose overview (v), update aliases and outputs (u), "
                "setup runnable jobs (s), or exit (n)? ")
DONE_PROMPT = "All calculations are done, print verbose overview (v), update outputs and alias (u), cancel (c)? "


# Signals that stop the manager loop, leaving submitted tasks running (README "When things go wrong").
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_message(signum) -> str:
    """The one line logged when a stop signal arrives: the same for Ctrl-C, `kill` and a closed terminal."""
    return (f"{signal.Signals(signum).name}: stopping the manager; submitted tasks keep running "
            "and a rerun of the same command picks them up")


def _state_rank(state):
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)


def _job_line(job, state):
    name = job.get_one_alias()
    label = f"alias/{name}" if name else job._sis_path()
    parts = [f"{state}: Job<{label}>"]
    if gs.SHOW_VIS_NAME_IN_MANAGER and job.get_vis_name():
        parts.append(f"[{job.get_vis_name()}]")
    if state == states.RUNNING:
        try:
            info = job.info()
        except Exception:  # noqa: BLE001 (info() is cosmetic)
            info = None
        if info:
            parts.append(f"{{{info}}}")
    return " ".join(parts)


class Manager:
    """The manager loop (docs/SISYPHUS_COMPAT.md §5.7)."""

    def __init__(self, graph, engine, config_manager, start_computations=True, clear_errors_once=False,
                 clear_interrupts_once=False, interactive=False):
        self.graph = graph
        self.engine = engine
        self.config_manager = config_manager
        self.write_output = start_computations
        self.clear_errors_once = clear_errors_once
        self.clear_interrupts_once = clear_interrupts_once
        self.interactive = interactive
        self.never_submit = set()
        self.submit_failed = {}  # sis_id -> message
        self._last_overview = None
        self._last_overview_time = 0.0
        self._printed_errors = set()
        self._stop = False
        self._stop_signal = None  # the signal that stopped the loop (exit code 128 + it)
        # what the status page (``--http``) shows: the latest cycle's states and the manager's phase
        self.last_by_state = None
        self.last_update = None
        self.status = "starting"
        if gs.CACHE_FINISHED_RESULTS:
            # before the first state update, so even the start-up overview need not ask the
            # file system about jobs known to be finished
            finished_results_cache.read_from_file()

    # ------------------------------------------------------------------ helpers
    def _clear_job(self, job):
        d = job._sis_path(abspath=True)
        n = 1
        while os.path.exists(f"{d}.cleared.{n:04d}"):
            n += 1
        os.rename(d, f"{d}.cleared.{n:04d}")
        job._sis_finished_cache = False
        logging.info("cleared %s (moved to %s.cleared.%04d)", job._sis_path(), job._sis_path(), n)

    def _full_disk_tasks(self, job) -> list:
        """``(task, task_id)`` of ``job`` whose error was a full disk (the worker's marker)."""
        from sisyphus.worker import ENOSPC_MARKER

        return [(task, i) for task in job._sis_tasks() for i in task.task_ids()
                if os.path.exists(task.path("error", i)) and os.path.exists(task.path(ENOSPC_MARKER, i))]

    def _retry_after_full_disk(self, job) -> bool:
        """At start-up, clear errors that were only a full disk (keeping their logs), so they run again."""
        from sisyphus.worker import ENOSPC_MARKER

        tasks = self._full_disk_tasks(job)
        failed = [(t, i) for t in job._sis_tasks() for i in t.task_ids() if os.path.exists(t.path("error", i))]
        if not tasks or len(tasks) != len(failed):
            return False
        for task, i in tasks:
            log = task.path("log", i)
            used = sum(1 for f in os.listdir(job._sis_path(abspath=True))
                       if f.startswith(f"log.{task.name()}.{i}.error."))
            if os.path.exists(log):
                os.rename(log, f"{log}.error.{used + 1:02d}")
            os.unlink(task.path("error", i))
            os.unlink(task.path(ENOSPC_MARKER, i))
        logging.warning("%s: its last run stopped on a full disk (No space left on device); running it again",
                        job._sis_path())
        return True

    def _retry_with_tries(self, job) -> bool:
        """Consume one of a task's ``tries``: keep the old log, delete the error marker."""
        d = job._sis_path(abspath=True)
        retried = False
        for task in job._sis_tasks():
            if task.tries() <= 1:
                continue
            for i in task.task_ids():
                marker = os.path.join(d, f"error.{task.name()}.{i}")
                if not os.path.exists(marker):
                    continue
                log = os.path.join(d, f"log.{task.name()}.{i}")
                used = sum(1 for f in os.listdir(d) if f.startswith(f"log.{task.name()}.{i}.error."))
                if used + 1 >= task.tries():
                    continue
                if os.path.exists(log):
                    os.rename(log, f"{log}.error.{used + 1:02d}")
                os.unlink(marker)
                logging.warning("%s: task %s.%d failed; retrying (try %d of %d)", job._sis_path(), task.name(), i,
                                used + 2, task.tries())
                retried = True
        return retried

    def _overview(self, by_state, verbose=False):
        """``([(level, line)], summary)``: one line per job (finished ones only when verbose), then counts."""
        lines = []
        for st in sorted(by_state, key=_state_rank):
            if st == states.FINISHED and not verbose:
                continue
            if st == states.HOLD and not (gs.PRINT_HOLD or verbose):
                continue
            level = logging.ERROR if st in _ERROR_STATES else logging.WARNING if st in _WARNING_STATES \
                else logging.INFO
            for job in sorted(by_state[st]):
                lines.append((level, _job_line(job, st)))
        missing = sorted(self.graph.missing_inputs())
        for p in missing:
            lines.append((logging.ERROR, f"{states.INPUT_MISSING}: {p.get_path()}"))
        counts = [f"{st}({len(jobs)})" for st, jobs in by_state.items()]
        if missing:
            counts.append(f"{states.INPUT_MISSING}({len(missing)})")
        return lines, " ".join(sorted(counts))

    def print_state_overview(self, by_state=None, verbose=False):
        """Log the experiment directory, one line per job that is not finished, and the state counts."""
        if by_state is None:
            self.engine.reset_cache()
            by_state = self.graph.get_jobs_by_status(self.engine)
        lines, summary = self._overview(by_state, verbose)
        logging.info("Experiment directory: %s      Call: %s", os.path.abspath(gs.BASE_DIR), " ".join(sys.argv))
        for level, line in lines:
            logging.log(level, line)
        logging.info("%s", summary or "(no jobs)")
        self._last_overview = (tuple(lines), summary)
        self._last_overview_time = time.time()
        return by_state

    def _print_overview(self, by_state):
        lines, summary = self._overview(by_state)
        overview = (tuple(lines), summary)
        stale = gs.PRINT_STALE_STATE_OVERVIEW_PERIOD
        if overview != self._last_overview or (stale and time.time() - self._last_overview_time > stale):
            for level, line in lines:
                logging.log(level, line)
            logging.info(summary)
            self._last_overview = overview
            self._last_overview_time = time.time()
        for job in by_state.get(states.ERROR, [])[: gs.PRINT_ERROR_TASKS]:
            if gs.PRINT_ERROR and job._sis_id() not in self._printed_errors:
                self._printed_errors.add(job._sis_id())
                logging.error("job %s failed (created at %s); log tail:\n%s", job._sis_path(abspath=True),
                              job._sis_creation_site, job._sis_print_error())
                if self._full_disk_tasks(job):
                    logging.error("%s: No space left on device; free space and run the manager again: "
                                  "the job is then retried (finished jobs are kept)", job._sis_path())

    def _update_targets(self):
        done = True
        for target in list(self.graph.targets):
            try:
                if not target.update(self.write_output):
                    done = False
            except Exception:  # noqa: BLE001 (targets must never stop the manager)
                logging.exception("updating target %s failed", target.name)
                done = False
        return done

    def _submit(self, job, resubmit=False) -> bool:
        if job._sis_id() in self.never_submit or job._sis_id() in self.submit_failed:
            return False
        try:
            task = job._sis_next_task(self.engine)
            if task is None:
                return False
            if self.interactive:
                ans = input(f"submit {job._sis_path()} task {task.name()}? [y]es/[s]kip/[n]ever: ").strip().lower()
                if ans.startswith("n"):
                    self.never_submit.add(job._sis_id())
                    return False
                if ans.startswith("s"):
                    return False
            job._sis_setup_directory()
            self.engine.submit(task)
            logging.info("%s: %s", "resubmit" if resubmit else "submit", _job_line(job, task.name()).split(": ", 1)[1])
            return True
        except DeferSubmission:
            return False
        except (SubmissionError, JobCreationError, OSError) as e:
            self.submit_failed[job._sis_id()] = str(e)
            logging.error("cannot submit %s: %s", job._sis_path(), e)
            return False
        except EOFError:
            raise  # the interactive prompt lost its terminal: that ends the manager, not one job
        except Exception as e:  # noqa: BLE001 (recipe code: tasks() of one job must not stop the manager)
            # the job's own tasks() (or a hook) raised, e.g. i6_core's PipelineJob sizing its
            # inputs there: the job cannot run, every other job still can
            site = getattr(job, "_sis_creation_site", "?")
            msg = f"{type(job).__name__} (created at {site}): {type(e).__name__}: {e}"
            self.submit_failed[job._sis_id()] = msg
            logging.exception("cannot submit %s: %s", job._sis_path(), msg)
            return False

    def _create_aliases(self):
        alias_root = os.path.join(gs.BASE_DIR, gs.ALIAS_DIR)
        links = [(os.path.normpath(os.path.join(prefix, alias)), job) for job in self.graph.jobs()
                 for prefix in job._sis_alias_prefixes for alias in job.get_aliases() or ()]
        names = {name for name, _ in links}
        for name, job in links:
            link = os.path.join(alias_root, name)
            target = os.path.realpath(job._sis_path(abspath=True))
            parents = [os.path.join(*name.split(os.sep)[:i]) for i in range(1, name.count(os.sep) + 1)]
            inside = next((p for p in parents if p in names), None) or _link_above(link, alias_root)
            if inside is not None:
                # e.g. aliases "recog/x" and "recog/x/device0": the second would be made inside the
                # first one's job directory
                logging.warning("alias %s of %s lies inside the alias %s; not created", name, job._sis_path(),
                                os.path.relpath(inside, alias_root) if os.path.isabs(inside) else inside)
                continue
            if os.path.islink(link):
                if os.readlink(link) == target:
                    continue
                os.unlink(link)
            elif os.path.exists(link):
                logging.warning("alias %s exists and is not a link", link)
                continue
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(target, link)

    def _publish(self, by_state, status):
        self.last_by_state = {st: list(jobs) for st, jobs in by_state.items()}
        self.last_update = time.time()
        self.status = status

    # ------------------------------------------------------------------ startup
    def _ask(self, prompt):
        try:
            return input(prompt).strip().lower()
        except EOFError:
            return "n"

    def _update_outputs_and_aliases(self):
        logging.info("Update outputs and aliases")
        before, self.write_output = self.write_output, True
        try:
            self._create_aliases()
            self._update_targets()
        finally:
            self.write_output = before

    def startup(self, run_now: bool, ignore_once: bool = False) -> bool:
        """Show the state overview before the loop; returns whether to start the loop.

        With ``run_now`` (``-r``) it only prints the overview. Otherwise it asks as upstream does
        (clear error jobs? then start (y) / verbose overview (v) / update outputs (u) / set up
        runnable jobs (s) / exit (n)); without a terminal on stdin it prints the overview, says how
        to start, and returns False without touching anything.
        """
        tty = sys.stdin.isatty()
        self.engine.reset_cache()
        self.config_manager.step_readers()
        by_state = self.graph.get_jobs_by_status(self.engine)
        finished_results_cache.write_to_file()
        self._publish(by_state, "waiting for the start (not submitting)")
        logging.info("Finished updating job states")
        unfinished = any(st != states.FINISHED for st in by_state) or self.graph.missing_inputs()
        if not unfinished and not self.config_manager.has_pending_readers() and not run_now:
            self.print_state_overview(by_state)
            if not tty:
                logging.info("All calculations are done. Not a terminal: nothing started; run "
                             "`sis manager -r CONFIG` to update outputs and aliases.")
                return False
            answer = self._ask(DONE_PROMPT)
            if answer in ("y", "v"):
                self.print_state_overview(verbose=True)
            elif answer == "u":
                self._update_outputs_and_aliases()
            return False
        self.print_state_overview(by_state)
        if run_now:
            return True

        for st, once, label in ((states.ERROR, self.clear_errors_once, "error"),
                                (states.INTERRUPTED_NOT_RESUMABLE, self.clear_interrupts_once,
                                 "interrupted_not_resumable")):
            if not by_state.get(st) or once or ignore_once or not tty:
                continue
            if self._ask(f"Clear jobs in {label} state? [y/N] ") == "y":
                for job in by_state[st]:
                    self._clear_job(job)
                by_state = self.print_state_overview()

        if not tty:
            logging.info("Not starting: stdin is not a terminal, so I cannot ask. "
                         "Start the manager with `sis manager -r %s` to run the jobs above.",
                         " ".join(getattr(self.config_manager, "loaded", None) or ["CONFIG"]))
            return False
        while True:
            answer = self._ask(START_PROMPT)
            if answer == "y":
                logging.info("Start manager")
                return True
            if answer == "v":
                self.print_state_overview(verbose=True)
            elif answer == "u":
                self._update_outputs_and_aliases()
            elif answer == "s":
                logging.info("Setup runnable jobs")
                for job in sorted(self.graph.get_jobs_by_status(self.engine).get(states.RUNNABLE, [])):
                    logging.info("Setup: %s", job._sis_path())
                    job._sis_setup_directory()
            elif answer == "n":
                logging.info("Exit manager")
                return False
            else:
                logging.warning("Unknown command: %s", answer)

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        """Run until all targets are done or nothing can progress; returns the exit code.

        SIGINT, SIGTERM and SIGHUP all stop the loop the same way: submitted tasks keep running in
        their own sessions and a rerun of the same command adopts them. Exit code: 128 + signal.
        """
        self.engine.start_engine()
        previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

        def on_stop_signal(signum, frame):
            # A closed terminal (SIGHUP) or a `kill` (SIGTERM) must not lose more than Ctrl-C does.
            logging.warning("%s", stop_message(signum))
            self._stop_signal = signum
            self._stop = True
            self.engine.wakeup.set()

        for sig in STOP_SIGNALS:
            signal.signal(sig, on_stop_signal)
        try:
            if self.write_output:
                self._create_aliases()
            code = self._loop()
            self.status = f"stopped (exit code {code})"
            return code
        finally:
            try:
                self.write_output and self._update_targets()
                self.engine.stop_engine()
            finally:
                # only now: a second signal during this clean-up must not interrupt it
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    def _loop(self) -> int:
        first = True
        while not self._stop:
            self.engine.reset_cache()
            self.config_manager.step_readers()
            by_state = self.graph.get_jobs_by_status(self.engine)
            finished_results_cache.write_to_file()  # a no-op unless this cycle learned something
            self._publish(by_state, "running")

            if first:
                first = False
                # space has presumably been freed since: such jobs start again without -ce
                if any([self._retry_after_full_disk(job) for job in by_state.get(states.ERROR, [])]):
                    continue
                if self.clear_errors_once or self.clear_interrupts_once:
                    kinds = ([states.ERROR] if self.clear_errors_once else []) + \
                            ([states.INTERRUPTED_NOT_RESUMABLE] if self.clear_interrupts_once else [])
                    for st in kinds:
                        for job in by_state.get(st, []):
                            self._clear_job(job)
                    continue
            if gs.CLEAR_ERROR and by_state.get(states.ERROR):
                for job in by_state[states.ERROR]:
                    self._clear_job(job)
                continue
            if any(self._retry_with_tries(job) for job in by_state.get(states.ERROR, [])):
                continue
            for job in by_state.get(states.ERROR, []):
                try:
                    gs.on_job_failure(job)
                except Exception:  # noqa: BLE001
                    logging.exception("on_job_failure hook failed for %s", job._sis_id())

            self._print_overview(by_state)
            targets_done = self._update_targets()
            if targets_done and not self.config_manager.has_pending_readers():
                logging.info("All output calculated")
                return 1 if self._report_failures(by_state) else 0

            submitted = False
            for job in sorted(by_state.get(states.INTERRUPTED_RESUMABLE, [])):
                submitted |= self._submit(job, resubmit=True)
            for job in sorted(by_state.get(states.RUNNABLE, [])):
                submitted |= self._submit(job)

            active = [j for st in ACTIVE for j in by_state.get(st, []) if j._sis_id() not in self.submit_failed]
            if not active and not submitted and not self.config_manager.has_pending_readers():
                logging.info("There is nothing I can do, good bye!")
                self._report_failures(by_state)
                return 1
            timeout = 0.05 if submitted else gs.WAIT_PERIOD_BETWEEN_CHECKS
            self.engine.wakeup.wait(timeout)
            self.engine.wakeup.clear()
        return 128 + int(self._stop_signal or signal.SIGINT)

    def _rerun_command(self, flag: str) -> str:
        """The command that reruns this manager with ``flag`` added, for messages."""
        configs = " ".join(getattr(self.config_manager, "loaded", None) or ["CONFIG"])
        return f"sis manager -r {flag} {configs}"

    def _explain_not_resumable(self, job):
        """Why an interrupted_not_resumable job stays as it is, and the way out (``-cio``)."""
        tasks = []
        for task in job._sis_tasks():
            for i in task.task_ids():
                if task.state(self.engine, i) == states.INTERRUPTED_NOT_RESUMABLE:
                    usage = task.read_usage(i) or {}
                    how = "it was killed for memory" if usage.get("out_of_memory") else \
                        "it ended without a finished or error marker: killed, or its machine went down"
                    tasks.append(f"task {task.name()}.{i} was interrupted ({how}; log {task.path('log', i)})")
        logging.error("%s: %s. The job declares no resume method (Task(..., resume=...)), so the manager does "
                      "not restart it on its own: a restart could build on partial output. Check the log, then "
                      "clear the job and rerun it with: %s", job._sis_path(), "; ".join(tasks) or "interrupted",
                      self._rerun_command("-cio"))

    def _report_failures(self, by_state) -> bool:
        failed = False
        for st in FAILED:
            for job in by_state.get(st, []):
                failed = True
                logging.error("%s: %s (created at %s)", st, job._sis_path(abspath=True), job._sis_creation_site)
                tail = job._sis_print_error()
                if tail:
                    logging.error("log tail of %s", tail)
                if st == states.INTERRUPTED_NOT_RESUMABLE:
                    self._explain_not_resumable(job)
        for sis_id, msg in self.submit_failed.items():
            failed = True
            logging.error("not submitted: %s: %s", sis_id, msg)
        missing = self.graph.missing_inputs()
        for p in sorted(missing):
            failed = True
            logging.error("input missing: %s", p.get_path())
        for job in by_state.get(states.HOLD, []):
            failed = True
            logging.warning("on hold: %s", job._sis_path())
        if by_state.get(states.WAITING) and not missing:
            failed = True
        return failed


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal (no terminal: no)."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _link_above(path: str, root: str):
    """The first symlink among the folders between ``root`` and ``path`` (None if there is none)."""
    rel = os.path.relpath(os.path.dirname(path), root)
    if rel.startswith(os.pardir):
        return None
    current = root
    for part in ([] if rel == os.curdir else rel.split(os.sep)):
        current = os.path.join(current, part)
        if os.path.islink(current):
            return current
    return None
