"""Command line: ``sis manager|console|worker|shortcut`` (docs/SISYPHUS_COMPAT.md §5)."""
import argparse
import logging
import os
import sys

from sisyphus import global_settings as gs


def _setup_logging(level):
    logging.basicConfig(level=level, format="[%(asctime)s] %(levelname)s: %(message)s", stream=sys.stderr)


def _load_configs(entries):
    from sisyphus.loader import ConfigError, config_manager

    try:
        config_manager.load_configs(entries)
    except ConfigError as e:
        logging.error("%s", e)
        sys.exit(2)
    return config_manager


def cmd_manager(args) -> int:
    from sisyphus import toolkit as tk
    from sisyphus.manager import Manager, ManagerLock, ManagerLockError, confirm

    if args.clear_errors_once and args.ignore_once:
        logging.error("-co (clear error jobs) and -io (ignore error jobs) cannot be combined")
        return 2
    http = None
    if args.http is not None:
        # Bind the port before anything else: a port in use must not leave a half-started manager.
        from sisyphus.http_server import StatusServerError, bind_status_server

        try:
            http = bind_status_server(args.http)
        except StatusServerError as e:
            logging.error("%s", e)
            return 2
    try:
        return _manager_main(args, tk, Manager, ManagerLock, ManagerLockError, confirm, http)
    finally:
        if http is not None:
            http.stop()


def _raise_interrupt(signum, frame):
    """Outside the manager loop, SIGTERM and SIGHUP stop the manager as Ctrl-C does."""
    raise _Stopped(signum)


class _Stopped(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) before the manager loop took over its handling."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _manager_main(args, tk, Manager, ManagerLock, ManagerLockError, confirm, http) -> int:
    import signal

    from sisyphus.manager import STOP_SIGNALS, stop_message

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_interrupt)  # Manager.run() installs its own while it loops
    try:
        return _manager_steps(args, tk, Manager, ManagerLock, ManagerLockError, confirm, http)
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        logging.warning("%s (before any task was submitted)", stop_message(signum))
        return 128 + int(signum)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _manager_steps(args, tk, Manager, ManagerLock, ManagerLockError, confirm, http) -> int:
    work = os.path.join(gs.BASE_DIR, gs.WORK_DIR)
    create_work = False
    if not os.path.isdir(work):
        # Ask first (the answer does not depend on the config), create only once the config loaded:
        # an invocation that fails must not leave a new, empty work directory behind.
        if not (args.run or confirm(f"The work directory {work} does not exist. Create it? [y/N] ")):
            logging.error("no work directory %s; create it (or a link to big storage) or start with -r", work)
            return 2
        create_work = True
    tk.set_running_in_manager(True)
    config_manager = _load_configs(args.config + args.argv)
    try:
        engine = tk.cached_engine()
    except Exception as e:  # noqa: BLE001 (settings.py is user code: one line, not a traceback)
        logging.error("settings.py: engine() failed: %s: %s", type(e).__name__, e)
        return 2
    if create_work:
        logging.info("creating work directory %s", work)
        os.makedirs(work, exist_ok=True)
    lock = ManagerLock(work)
    try:
        lock.acquire()
    except ManagerLockError as e:
        logging.error("%s", e)
        return 3
    try:
        manager = Manager(tk.sis_graph, engine, config_manager, start_computations=True,
                          clear_errors_once=args.clear_errors_once,
                          clear_interrupts_once=args.clear_interrupts_once,
                          interactive=args.interactive)
        if http is not None:
            http.serve(tk.sis_graph, engine, manager)
        if not manager.startup(run_now=args.run, ignore_once=args.ignore_once):
            return 0
        return manager.run()
    finally:
        lock.release()


def cmd_worker(args) -> int:
    from sisyphus.worker import worker

    return worker(args.jobdir, args.task_name, args.task_id, engine_key=args.engine,
                  redirect_output=args.redirect_output)


def cmd_console(args) -> int:
    from sisyphus import toolkit as tk
    from sisyphus.worker import load_job

    ns = {"tk": tk, "gs": gs}
    if not args.skip_config:
        ns["config_manager"] = _load_configs(args.config + args.argv)
        ns["config_files"] = ns["config_manager"].loaded
    if args.load:
        ns["jobs"] = [load_job(p) for p in args.load]
    for cmd in args.commands:
        exec(compile(cmd, "<sis console -c>", "exec"), ns)  # noqa: S102 (the user's own commands)
    if args.script:
        return 0
    try:
        from IPython import embed

        embed(user_ns=ns, colors="neutral")
    except ImportError:
        import code

        code.interact(local=ns, banner="sis console (tk, gs)")
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="sis", description="Sisyphus-compatible workflow manager")
    p.add_argument("--log_level", type=int, default=20)
    p.add_argument("--config", action="append", default=[], help="config entry (repeatable)")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("manager", aliases=["m"], help="run the graph")
    m.add_argument("-r", dest="run", action="store_true", help="start without asking")
    m.add_argument("-co", dest="clear_errors_once", action="store_true", help="clear jobs in error once")
    m.add_argument("-cio", dest="clear_interrupts_once", action="store_true",
                   help="clear interrupted_not_resumable jobs once")
    m.add_argument("-io", dest="ignore_once", action="store_true",
                   help="ignore error jobs at start: do not ask whether to clear them")
    m.add_argument("-i", "--interactive", action="store_true", help="ask before each submission")
    m.add_argument("--ui", action="store_true", help="(not supported; accepted for compatibility)")
    m.add_argument("--http", type=int, default=None, metavar="PORT",
                   help="serve a status page (job states, details, outputs) on this port while the manager runs")
    m.add_argument("--fs", default=None, help="(deprecated; ignored)")
    m.add_argument("argv", nargs="*", help="config entries, e.g. config/memristor_ted.py")
    m.set_defaults(func=cmd_manager)

    c = sub.add_parser("console", aliases=["c"], help="interactive console with the graph loaded")
    c.add_argument("--load", action="append", default=[], help="job dir or job.save to load into `jobs`")
    c.add_argument("--skip_config", action="store_true")
    c.add_argument("-c", dest="commands", action="append", default=[], help="command to run (repeatable)")
    c.add_argument("--script", "-s", action="store_true", help="run the commands and exit")
    c.add_argument("argv", nargs="*")
    c.set_defaults(func=cmd_console)

    w = sub.add_parser("worker", help="run one task of a job (internal)")
    w.add_argument("jobdir")
    w.add_argument("task_name")
    w.add_argument("task_id", nargs="?", default=None, type=int)
    w.add_argument("--engine", default=None)
    w.add_argument("--redirect_output", action="store_true")
    w.add_argument("--force_resume", "--fr", action="store_true")
    w.set_defaults(func=cmd_worker)

    from sisyphus import shortcuts

    shortcuts.add_subparsers(sub)
    return p


def parse_args(argv=None):
    """Parse like upstream, but config files may also come after the options (``sis m -r a.py -i b.py``)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    unknown = [x for x in extra if x.startswith("-")]
    if unknown or (extra and not hasattr(args, "argv")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
    if extra:
        args.argv = list(args.argv) + extra
    return args


def main(argv=None):
    args = parse_args(argv)
    _setup_logging(args.log_level)
    sys.exit(args.func(args) or 0)


if __name__ == "__main__":
    main()
