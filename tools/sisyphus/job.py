"""Job: a node of the dependency graph, identified by the hash of its constructor arguments."""
import copy
import gzip
import inspect
import logging
import os
import pickle
import sys

from sisyphus import block as _block
from sisyphus import global_settings as gs
from sisyphus import states
from sisyphus.job_path import AbstractPath, Path, Variable
from sisyphus.task import Task
from sisyphus.tools import extract_paths, finished_results_cache

__all__ = ["Job", "JobSingleton", "JobCreationError"]

_registry = {}  # sis_id -> Job: one object per job in a process
_TAG_CHARS = set("-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


@finished_results_cache.caching(get_key=lambda job_dir: ("job", job_dir))
def _job_dir_finished(job_dir: str) -> bool:
    """True if the job directory ``job_dir`` (relative to the setup, or absolute) holds the
    ``finished`` marker or the cleaner's archive; a True answer is kept in the finished-results
    cache when that is enabled, so a restarted manager need not ask the file system again."""
    d = job_dir if os.path.isabs(job_dir) else os.path.join(gs.BASE_DIR, job_dir)
    return os.path.exists(os.path.join(d, gs.JOB_FINISHED_MARKER)) or \
        os.path.exists(os.path.join(d, gs.JOB_FINISHED_ARCHIVE))


def _remember_finished(job_dir: str) -> None:
    """Record in the finished-results cache (when enabled) that ``job_dir`` is finished, for the
    places that learn it from a directory listing rather than from :func:`_job_dir_finished`."""
    if gs.CACHE_FINISHED_RESULTS:
        finished_results_cache[("job", job_dir)] = True


class JobCreationError(Exception):
    """The engine could not create a job (an argument cannot be hashed or pickled, or the job cannot be
    saved); the message names the class, the argument and the config line. An exception raised by a
    job's own ``__init__`` is passed on unchanged, with a note naming the job and the line."""


def _caller_site(frame) -> str:
    """``file:line`` of the first frame outside the engine (the config line creating a job)."""
    engine_dir = os.path.dirname(os.path.abspath(__file__))
    while frame is not None:
        fn = os.path.abspath(frame.f_code.co_filename)
        if not fn.startswith(engine_dir + os.sep):
            return f"{os.path.relpath(fn, gs.BASE_DIR) if fn.startswith(gs.BASE_DIR) else fn}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def _module_path(cls) -> str:
    mod = cls.__module__
    if mod.startswith("recipe."):
        mod = mod[len("recipe."):]
    return mod.replace(".", "/")


class JobSingleton(type):
    """Metaclass: binds arguments, hashes them, and returns one object per job id."""

    def __call__(cls, *args, **kwargs):
        sis_tags = kwargs.pop("sis_tags", None)
        site = _caller_site(sys._getframe(1))
        try:
            bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{cls.__module__}.{cls.__name__}() at {site}: {e}") from None
        bound.apply_defaults()
        parsed = dict(bound.arguments)
        parsed.pop(next(iter(inspect.signature(cls.__init__).parameters)))
        try:
            sis_hash = cls.hash(parsed)
        except (ValueError, TypeError, AssertionError, RecursionError) as e:
            # the engine's own hashing reports cleanly; a recipe's hash() override keeps its traceback
            raise JobCreationError(_hash_error_message(cls, site, parsed, e)) from (
                None if cls.hash.__func__ is Job.hash.__func__ else e)
        sis_id = f"{_module_path(cls)}/{cls.__name__}.{sis_hash}"

        job = _registry.get(sis_id)
        if job is None:
            for name, value in parsed.items():
                _check_picklable(cls, site, name, value)
            job = cls.__new__(cls)
            job._sis_init_internal(sis_id, parsed, site, sis_tags)
            try:
                job.__init__(*copy.deepcopy(args), **copy.deepcopy(kwargs))
            except Exception as e:
                # the recipe's own exception goes on, as upstream's does (a config may catch it); the
                # note names the job and the config line
                e.add_note(f"{cls.__name__}.__init__ failed for the job created at {site}")
                raise
            job._sis_collect_inputs(parsed)
            _registry[sis_id] = job
        job._sis_alias_prefixes.add(gs.ALIAS_AND_OUTPUT_SUBDIR)
        _block.register_job(job)
        return job


def _describe_hash_error(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "it refers to itself (a cycle, e.g. a child object pointing back to its parent), which cannot be hashed"
    return f"{type(e).__name__}: {e}"


def _hash_error_message(cls, site, parsed, error) -> str:
    """Name the job class, the argument that cannot be hashed and the config line.

    The job's ``hash()`` only says that hashing failed somewhere; hashing each argument alone
    finds the culprit (first failing one, in signature order) so the message can point at it.
    """
    for name, value in parsed.items():
        try:
            gs.SIS_HASH(value)
        except (ValueError, TypeError, AssertionError, RecursionError) as e:
            return (f"{cls.__module__}.{cls.__name__} created at {site}: argument {name!r} "
                    f"({type(value).__name__}) cannot be hashed: {_describe_hash_error(e)}")
    return f"{cls.__module__}.{cls.__name__} created at {site}: cannot hash its arguments: {_describe_hash_error(error)}"


def _check_picklable(cls, site, name, value):
    try:
        pickle.dumps(value)
    except Exception as e:  # noqa: BLE001 (any pickling failure is reported the same way)
        raise JobCreationError(f"{cls.__module__}.{cls.__name__} created at {site}: argument {name!r} cannot be pickled "
                               f"({type(e).__name__}: {e}); a worker could not load the job") from None


class Job(metaclass=JobSingleton):
    """Base class of all jobs. See docs/SISYPHUS_COMPAT.md §1.2–§1.3 for the semantics."""

    __sis_hash_exclude__ = {}
    __sis_hash_overwrite__ = []
    __sis_version__ = None

    # ------------------------------------------------------------------ construction
    def __new__(cls, *args):
        if args and isinstance(args[0], str) and args[0] in _registry:
            return _registry[args[0]]  # unpickling a job this process already knows
        return object.__new__(cls)

    def _sis_init_internal(self, sis_id, parsed_args, site, sis_tags):
        self._sis_id_cache = sis_id
        self._sis_kwargs = parsed_args
        self._sis_creation_site = site
        self._sis_inputs = set()
        self._sis_outputs = {}
        self._sis_aliases = None
        self._sis_alias_prefixes = set()
        self._sis_vis_name = None
        self._sis_keep_value = None
        self._sis_environment = {}
        self._sis_task_rqmt_overwrite = {}
        self._sis_hold = False
        self._sis_tasks_cache = None
        self._sis_finished_cache = False
        self._sis_worker_wrapper = gs.worker_wrapper
        if sis_tags is not None:
            bad = [t for t in sis_tags if not set(t) <= _TAG_CHARS]
            if bad:
                raise ValueError(f"invalid sis_tags {bad}: allowed characters are [-.0-9A-Za-z_]")
            self._sis_tags = set(sis_tags)
        else:
            self._sis_tags = None

    def _sis_collect_inputs(self, parsed_args):
        found = extract_paths(self.__dict__) | extract_paths(parsed_args)
        for p in found:
            if p.creator is not self:
                self._sis_inputs.add(p)
                p.users.add(self)
                if isinstance(p.creator, Job) is False and p.creator is not None:
                    logging.warning("%s: input path %s has a creator that is not a Job", self._sis_id(), p)
        for value in parsed_args.values():
            if isinstance(value, Job):
                logging.warning("%s: a Job object was passed as an argument; pass one of its outputs instead",
                                self._sis_id())

    # ------------------------------------------------------------------ identity
    @classmethod
    def hash(cls, parsed_args):
        d = dict(parsed_args)
        for k, default in cls.__sis_hash_exclude__.items():
            if k in d and d[k] == default:
                del d[k]
        for k, orig, repl in cls.__sis_hash_overwrite__:
            if k in d and d[k] == orig:
                d[k] = repl
        if cls.__sis_version__ is None:
            return gs.SIS_HASH(d)
        return gs.SIS_HASH((d, cls.__sis_version__))

    def _sis_id(self) -> str:
        return self._sis_id_cache

    def job_id(self) -> str:
        return self._sis_id_cache

    def _sis_hash(self) -> bytes:
        return self._sis_id_cache.encode()

    def __eq__(self, other):
        return isinstance(other, Job) and other._sis_id_cache == self._sis_id_cache

    def __hash__(self):
        return hash(self._sis_id_cache)

    def __lt__(self, other):
        return self._sis_id_cache < other._sis_id_cache

    def __repr__(self):
        return f"Job<{self._sis_id_cache}>"

    def __deepcopy__(self, memo):
        return self

    def __getnewargs__(self):
        return (self._sis_id_cache,)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_sis_tasks_cache"] = None
        state["_sis_finished_cache"] = False
        return state

    def __setstate__(self, state):
        if "_sis_id_cache" in self.__dict__:
            return  # already known in this process: keep the live object
        self.__dict__.update(state)
        _registry.setdefault(self._sis_id_cache, self)

    # ------------------------------------------------------------------ paths
    def _sis_path(self, sub=None, task_id=None, abspath=False) -> str:
        p = os.path.join(gs.WORK_DIR, self._sis_id_cache)
        if sub is not None:
            p = os.path.join(p, sub)
        if task_id is not None:
            p = f"{p}.{task_id}"
        if abspath and not os.path.isabs(p):
            p = os.path.join(gs.BASE_DIR, p)
        return p

    def work_path(self) -> str:
        return self._sis_path(gs.JOB_WORK_DIR, abspath=True)

    def output_path(self, filename, directory=False, cached=False) -> Path:
        """Declare an output file (or directory) ``<jobdir>/output/<filename>``."""
        if filename in self._sis_outputs:
            logging.warning("%s: output %s declared twice", self._sis_id(), filename)
            return self._sis_outputs[filename]
        p = Path(filename, creator=self, cached=cached)
        p._sis_directory = directory
        self._sis_outputs[filename] = p
        return p

    def output_var(self, filename, pickle=False, backup=None) -> Variable:
        """Declare an output Variable ``<jobdir>/output/<filename>`` (unset reads return ``backup``)."""
        if filename in self._sis_outputs:
            logging.warning("%s: output %s declared twice", self._sis_id(), filename)
            return self._sis_outputs[filename]
        v = Variable(filename, creator=self, pickle=pickle, backup=backup)
        self._sis_outputs[filename] = v
        return v

    def add_input(self, path: AbstractPath) -> AbstractPath:
        assert isinstance(path, AbstractPath), f"add_input takes a Path, got {path!r}"
        self._sis_inputs.add(path)
        path.users.add(self)
        return path

    # ------------------------------------------------------------------ overridable hooks
    def tasks(self):
        yield Task("run")

    def update(self):
        """Called when all current inputs are available; may add inputs (dynamic graphs)."""

    def path_available(self, path) -> bool:
        return self._sis_finished()

    def info(self):
        return None

    def completed_fraction(self):
        return None

    # ------------------------------------------------------------------ user helpers
    def add_alias(self, name):
        if self._sis_aliases is None:
            self._sis_aliases = set()
        self._sis_aliases.add(name)
        return self

    def get_aliases(self):
        return self._sis_aliases

    def get_one_alias(self):
        return next(iter(sorted(self._sis_aliases))) if self._sis_aliases else None

    def set_vis_name(self, name):
        self._sis_vis_name = name
        return self

    def get_vis_name(self):
        return self._sis_vis_name

    def set_keep_value(self, value):
        assert 0 <= value < 100, "keep value must be in [0, 100)"
        self._sis_keep_value = value
        return self

    def keep_value(self, value=None):
        if value is not None:
            return self.set_keep_value(value)
        return gs.JOB_DEFAULT_KEEP_VALUE if self._sis_keep_value is None else self._sis_keep_value

    def set_rqmt(self, task_name, rqmt):
        self._sis_task_rqmt_overwrite[task_name] = (True, dict(rqmt))
        return self

    def update_rqmt(self, task_name, rqmt):
        replace, old = self._sis_task_rqmt_overwrite.get(task_name, (False, {}))
        self._sis_task_rqmt_overwrite[task_name] = (replace, {**old, **rqmt})
        return self

    def set_env(self, key, value, verbatim=True):
        self._sis_environment[key] = (value, verbatim)
        return self

    def hold(self):
        self._sis_hold = True
        return self

    def set_attrs(self, attrs):
        for k, v in attrs.items():
            if k == "self":
                continue
            if hasattr(self, k):
                logging.warning("%s: set_attrs skips existing attribute %s", self._sis_id(), k)
                continue
            setattr(self, k, v)

    def sh(self, command, *args, **kwargs):
        """Run ``command.format(**self.__dict__, **kwargs)`` through :func:`sisyphus.tools.sh`.

        Positional arguments after ``command`` are ``tools.sh``'s options in upstream's order
        (``capture_output, pipefail, executable, except_return_codes``), not format arguments:
        i6_core writes ``self.sh(cmd, True)`` to capture the output.
        """
        from sisyphus import tools

        replace = {k: v for k, v in self.__dict__.items() if not k.startswith("_sis_")}
        return tools.sh(command, *args, sis_replace=replace, **kwargs)

    @property
    def tags(self):
        if self._sis_tags is not None:
            return self._sis_tags
        out = set()
        for p in self._sis_inputs:
            out |= p.tags
        return out

    # ------------------------------------------------------------------ engine-side helpers
    def _sis_tasks(self):
        if self._sis_tasks_cache is None:
            tasks = list(self.tasks())
            if not tasks:
                raise ValueError(f"{self._sis_id()}: tasks() returned no task")
            for t in tasks:
                t.set_job(self)
            self._sis_tasks_cache = tasks
        return self._sis_tasks_cache

    def _sis_get_task(self, name):
        for t in self._sis_tasks():
            if t.name() == name:
                return t
        raise KeyError(f"{self._sis_id()} has no task {name!r} (tasks: {[t.name() for t in self._sis_tasks()]})")

    def _sis_dir_exists(self) -> bool:
        return os.path.isdir(self._sis_path(abspath=True))

    def _sis_finished(self) -> bool:
        """True once the job's ``finished`` marker (or the cleaner's archive) exists."""
        if self._sis_finished_cache:
            return True
        if _job_dir_finished(self._sis_path()):
            self._sis_finished_cache = True
        return self._sis_finished_cache

    def _sis_is_held(self, files=None) -> bool:
        if self._sis_hold:
            return True
        if files is not None:
            return gs.JOB_HOLD_MARKER in files
        return os.path.exists(self._sis_path(gs.JOB_HOLD_MARKER, abspath=True))

    def _sis_all_inputs_available(self) -> bool:
        return all(p.available() for p in self._sis_inputs)

    def _sis_runnable(self) -> bool:
        """All inputs available, after letting ``update()`` add inputs until nothing changes."""
        for _ in range(100):
            if not self._sis_all_inputs_available():
                return False
            before = set(self._sis_inputs)
            self.update()
            if self._sis_inputs == before:
                return True
        raise RuntimeError(f"{self._sis_id()}: update() keeps adding inputs")

    def _sis_setup_directory(self):
        """Create the job directory (idempotent): output/, work/, input/ links, engine/, job.save, info."""
        d = self._sis_path(abspath=True)
        for sub in (gs.JOB_OUTPUT, gs.JOB_WORK_DIR, gs.JOB_INPUT, gs.JOB_ENGINE_DIR):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        for p in self._sis_outputs.values():
            if getattr(p, "_sis_directory", False):
                os.makedirs(p.get_path(), exist_ok=True)
        for p in self._sis_inputs:
            if isinstance(p.creator, Job):
                name = p.creator._sis_id().replace("/", "_")
                if len(name.encode()) > 255:
                    name = p.creator._sis_id().split("/")[-1]
                link = os.path.join(d, gs.JOB_INPUT, name)
                if not os.path.islink(link):
                    try:
                        os.symlink(p.creator._sis_path(abspath=True), link)
                    except FileExistsError:
                        pass
        tmp = os.path.join(d, f".{gs.JOB_SAVE}.tmp.{os.getpid()}")
        try:
            with gzip.open(tmp, "wb") as f:
                pickle.dump(self, f)
        except Exception as e:  # noqa: BLE001
            os.unlink(tmp)
            raise JobCreationError(f"{self._sis_id()} (created at {self._sis_creation_site}) cannot be saved "
                                   f"for the worker: {type(e).__name__}: {e}") from None
        os.replace(tmp, os.path.join(d, gs.JOB_SAVE))
        self._sis_write_info(d)

    def _sis_write_info(self, d):
        lines = [f"TAG: {t}" for t in sorted(self.tags)]
        lines += [f"INPUT: {p.get_path()}" for p in sorted(self._sis_inputs)]
        for name in sorted(self._sis_kwargs):
            lines.append(f"PARAMETER: {name}: {self._sis_kwargs[name]}")
        lines += [f"ALIAS: {a}" for a in sorted(self._sis_aliases or ())]
        lines.append(f"CREATED_AT: {self._sis_creation_site}")
        tmp = os.path.join(d, f".{gs.JOB_INFO}.tmp.{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, os.path.join(d, gs.JOB_INFO))

    def _sis_state(self, engine, files=None) -> str:
        """The job's state, read from its directory and the engine (docs/SISYPHUS_COMPAT.md §4.1)."""
        if self._sis_finished():
            return states.FINISHED
        if not self._sis_runnable():
            return states.WAITING
        d = self._sis_path(abspath=True)
        if files is None:
            try:
                files = set(os.listdir(d))
            except FileNotFoundError:
                files = None
        if files is None:
            return states.HOLD if self._sis_is_held() else states.RUNNABLE
        if self._sis_is_held(files):
            return states.HOLD
        if gs.JOB_FINISHED_MARKER in files or gs.JOB_FINISHED_ARCHIVE in files:
            self._sis_finished_cache = True
            _remember_finished(self._sis_path())
            return states.FINISHED
        for task in self._sis_tasks():
            st = self._sis_task_state(task, engine, files)
            if st != states.FINISHED:
                return st
        self._sis_mark_finished()
        return states.FINISHED

    @staticmethod
    def _sis_task_state(task, engine, files) -> str:
        ids_states = {task.state(engine, i, files) for i in task.task_ids()}
        for st in states.TASK_STATE_PRIORITY:
            if st in ids_states:
                return st
        return states.UNKNOWN

    def _sis_mark_finished(self):
        try:
            with open(self._sis_path(gs.JOB_FINISHED_MARKER, abspath=True), "w"):
                pass
        except PermissionError:
            pass
        self._sis_finished_cache = True
        _remember_finished(self._sis_path())
        try:
            gs.on_job_finished(self)
        except Exception:  # noqa: BLE001
            logging.exception("on_job_finished hook failed for %s", self._sis_id())

    def _sis_next_task(self, engine, files=None):
        """The first task that is not finished (tasks run strictly in order), or None."""
        if files is None:
            try:
                files = set(os.listdir(self._sis_path(abspath=True)))
            except FileNotFoundError:
                files = set()
        for task in self._sis_tasks():
            if self._sis_task_state(task, engine, files) != states.FINISHED:
                return task
        return None

    def _sis_print_error(self, lines=None):
        """Log file tail of the first failing task, for the manager's error report."""
        lines = gs.PRINT_ERROR_LINES if lines is None else lines
        d = self._sis_path(abspath=True)
        try:
            files = sorted(os.listdir(d))
        except FileNotFoundError:
            return ""
        for f in files:
            if f.startswith("error."):
                log = os.path.join(d, "log." + f[len("error."):])
                try:
                    with open(log, encoding="utf-8", errors="replace") as fh:
                        tail = fh.read().splitlines()[-lines:]
                except FileNotFoundError:
                    tail = ["(no log file)"]
                return f"{log}:\n" + "\n".join(tail)
        return ""
