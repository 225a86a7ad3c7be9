"""Loading configs: ``config/memristor_ted.py`` → module ``config.memristor_ted``, function ``py``."""
import ast
import asyncio
import importlib
import logging
import os
import sys
import time
import traceback

from sisyphus import global_settings as gs

__all__ = ["ConfigError", "config_manager", "setup_import_paths", "parse_entry"]


class ConfigError(Exception):
    """A config could not be loaded; the message names the file (and line)."""


def setup_import_paths():
    """Make ``config.*``, ``recipe.*`` and the packages inside ``recipe/`` importable."""
    base = gs.BASE_DIR
    extra = []
    for p in gs.IMPORT_PATHS:
        if p.endswith("/"):
            extra.append(os.path.join(base, p.rstrip("/")))  # packages inside the folder, top level
        else:
            extra.append(base)  # the folder itself is a package below the setup root
    for p in reversed(list(dict.fromkeys(extra))):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)


def parse_entry(entry: str):
    """``path/to/module.func(args)`` → (module name, function name, args tuple)."""
    args = ()
    if entry.endswith(")") and "(" in entry:
        entry, arg_str = entry[:-1].split("(", 1)
        try:
            args = ast.literal_eval(f"({arg_str},)") if arg_str.strip() else ()
        except (ValueError, SyntaxError) as e:
            raise ConfigError(f"cannot parse the arguments of config entry {entry}({arg_str}): {e}") from None
    entry = _relative_to_setup(entry)
    for p in gs.IMPORT_PATHS:
        if p.endswith("/") and entry.startswith(p):
            entry = entry[len(p):]
    entry = entry.replace("/", ".")
    if "." not in entry:
        raise ConfigError(f"config entry {entry!r} must name a module and a function, e.g. config/my.py")
    module, func = entry.rsplit(".", 1)
    return module, func, args


def _relative_to_setup(entry: str) -> str:
    """An entry as a path below the setup directory: absolute paths (shell completion from elsewhere)
    and ``./`` prefixes are made relative; a file outside the setup cannot be imported as a module."""
    if "/" not in entry:
        return entry
    base = os.path.abspath(gs.BASE_DIR)
    # The shell's logical cwd ($PWD) may name the setup through a link that getcwd() resolved.
    bases = [base] + [p for p in (os.environ.get("PWD"),) if p and os.path.realpath(p) == os.path.realpath(base)]
    for b in bases:
        rel = os.path.relpath(os.path.normpath(os.path.join(b, entry)), b)
        if rel != ".." and not rel.startswith("../"):
            return rel
    rel = os.path.relpath(os.path.realpath(os.path.join(base, entry)), os.path.realpath(base))
    if rel != ".." and not rel.startswith("../"):
        return rel
    raise _outside_setup(entry)


def _outside_setup(entry: str) -> ConfigError:
    return ConfigError(f"config file {entry} is outside the setup directory {os.path.abspath(gs.BASE_DIR)}; configs "
                       "are imported as modules below it: give a path below it (e.g. config/my.py) or run sis "
                       "from the setup that holds the file")


def _module_file(module: str) -> str:
    rel = module.replace(".", os.sep)
    for cand in (rel + ".py", os.path.join(rel, "__init__.py")):
        if os.path.exists(os.path.join(gs.BASE_DIR, cand)):
            return cand
    if os.path.isdir(os.path.join(gs.BASE_DIR, rel)):
        return rel + "/"  # a folder without __init__.py (namespace package), e.g. config/
    return rel + ".py"


class ConfigManager:
    """Loads config entries and keeps their async readers (``async def`` config functions)."""

    def __init__(self):
        self.current_config = None
        self.loaded = []
        self.readers = []  # pending coroutines, stepped by the manager (see toolkit.async_run)

    def load_configs(self, entries):
        from sisyphus.block import sub_block

        setup_import_paths()
        if not entries:
            if os.path.isfile(os.path.join(gs.BASE_DIR, gs.CONFIG_FILE_DEFAULT)):
                entries = [gs.CONFIG_FILE_DEFAULT]
            else:
                entries = [gs.CONFIG_FUNCTION_DEFAULT]
        for entry in entries:
            start = time.time()
            module, func, args = parse_entry(entry)
            self.current_config = entry
            with sub_block(entry):
                self._load_one(entry, module, func, args)
            logging.info("loaded config %s in %.2f s", entry, time.time() - start)
            self.loaded.append(entry)
        self.current_config = None

    def _load_one(self, entry, module, func, args):
        fname = _module_file(module)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name and (module == e.name or module.startswith(e.name + ".")):
                raise ConfigError(f"config file {fname} not found (entry {entry!r}, run from {gs.BASE_DIR})") from None
            raise ConfigError(_describe(e, f"while importing config {fname}")) from e
        except SyntaxError as e:
            raise ConfigError(f"{os.path.relpath(e.filename or fname, gs.BASE_DIR)}:{e.lineno}: syntax error: {e.msg}"
                              ) from None
        except Exception as e:  # noqa: BLE001
            raise ConfigError(_describe(e, f"while importing config {fname}")) from e
        f = getattr(mod, func, None)
        if f is None and func != "py":
            # As upstream: only the default ``py`` may be missing. ``config/raises`` (no .py) means
            # function raises() of module config, which is rarely what was meant: say so.
            hint = ""
            as_file = _module_file(f"{module}.{func}")
            if os.path.exists(os.path.join(gs.BASE_DIR, as_file)):
                hint = f"; to load the file {as_file}, give the entry {as_file!r}"
            raise ConfigError(f"config entry {entry!r}: {fname} has no function {func}(){hint}")
        if f is None:
            if gs.WARNING_NO_FUNCTION_CALLED:
                logging.warning("config %s has no function %s(); importing it was the whole config", fname, func)
            return
        try:
            res = f(*args)
        except Exception as e:  # noqa: BLE001
            raise ConfigError(_describe(e, f"in {fname}: {func}()")) from e
        if asyncio.iscoroutine(res):
            self.readers.append(res)
            self.step_readers()

    # ------------------------------------------------------------------ async configs
    def step_readers(self):
        """Advance every pending async config to its next wait; re-raise their errors."""
        pending = []
        for coro in self.readers:
            try:
                coro.send(None)
                pending.append(coro)
            except StopIteration:
                pass
        self.readers = pending

    def has_pending_readers(self) -> bool:
        return bool(self.readers)

    def cancel_all_readers(self):
        for coro in self.readers:
            coro.close()
        self.readers = []


def _describe(e: BaseException, where: str) -> str:
    """One message: the error, where it happened, and the innermost line in the setup's files."""
    tb = traceback.extract_tb(e.__traceback__)
    base = gs.BASE_DIR.rstrip("/") + "/"
    engine_dir = os.path.dirname(os.path.abspath(__file__)) + "/"
    frames = [fr for fr in tb if fr.filename.startswith(base) and not fr.filename.startswith(engine_dir)]
    site = f" (at {os.path.relpath(frames[-1].filename, base)}:{frames[-1].lineno})" if frames else ""
    notes = "".join(f" ({note})" for note in getattr(e, "__notes__", ()))
    return f"{type(e).__name__} {where}{site}: {e}{notes}"


config_manager = ConfigManager()
