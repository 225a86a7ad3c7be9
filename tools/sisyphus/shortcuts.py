"""``sis shortcut …`` (``sis s …``): maintenance commands, and ``tk.remove_job_and_descendants``.

Sub-commands and options as upstream's: ``clean_unused``, ``clean_jobs``, ``clean_by_keep_value``,
``import_from_dir``, ``remove_job_and_descendants``, ``show_jobs_in_webserver``. Config files
(``ARGV``) may come before or after the options. Unlike upstream, everything runs in this
process (no ``sis console`` per config), and ``--force`` confirms removals without a terminal.
"""
import logging
import os
import shutil
import sys
import time

from sisyphus import global_settings as gs
from sisyphus.tools import finished_results_cache

__all__ = ["remove_job_and_descendants", "add_subparsers"]


# ---------------------------------------------------------------------- tk.remove_job_and_descendants
def _descendants(sources, jobs):
    """Jobs of ``jobs`` that are a source job or use (directly or through other jobs) a source."""
    from sisyphus.job import Job

    doomed_ids, doomed_paths = set(), set()
    for s in sources:
        if isinstance(s, Job):
            doomed_ids.add(s._sis_id())
        else:
            doomed_paths.add(s.get_path() if hasattr(s, "get_path") else os.path.abspath(str(s)))
    by_id = {j._sis_id(): j for j in jobs}
    for s in sources:
        if isinstance(s, Job):
            by_id.setdefault(s._sis_id(), s)
    changed = True
    while changed:
        changed = False
        for jid, job in by_id.items():
            if jid in doomed_ids:
                continue
            for p in job._sis_inputs:
                if p.get_path() in doomed_paths or any(p.get_path().startswith(d.rstrip("/") + "/")
                                                       for d in doomed_paths) or \
                        (p.creator is not None and p.creator._sis_id() in doomed_ids):
                    doomed_ids.add(jid)
                    changed = True
                    break
    return [by_id[i] for i in sorted(doomed_ids)]


def _move_aside(d):
    n = 1
    while os.path.lexists(f"{d}.cleared.{n:04d}"):
        n += 1
    os.rename(d, f"{d}.cleared.{n:04d}")
    return f"{d}.cleared.{n:04d}"


def remove_job_and_descendants(jobs, mode="remove", force=False):
    """Remove the given jobs (or the jobs using the given paths) and every job that depends on them.

    ``jobs``: a Job, Path or path string, or a list of them. For a job, the job itself goes too;
    for a path, the jobs that use it (not its creator). ``mode``: "remove" (delete), "move" (move
    aside to ``<dir>.cleared.NNNN``) or "dryrun" (only list). Asks ``Start deleting? (y/N)`` first;
    without a terminal nothing changes unless ``force``. Returns the jobs whose directories went.
    """
    from sisyphus.graph import sis_graph
    from sisyphus.job import Job

    if mode not in ("remove", "move", "dryrun"):
        raise ValueError(f"mode must be 'remove', 'move' or 'dryrun', not {mode!r}")
    if not isinstance(jobs, (list, tuple, set)):
        jobs = [jobs]
    for s in jobs:
        print(f"Check for {s._sis_path(abspath=True) if isinstance(s, Job) else s}")
    affected = _descendants(list(jobs), sis_graph.jobs())
    existing = [j for j in affected if os.path.lexists(j._sis_path(abspath=True))]
    if not existing:
        if not affected:
            print("No job depending on input found")
        else:
            print("No job depending on input is setup, these are the depending jobs:")
            for j in affected:
                print(j._sis_path())
        return []
    print("Deleting the following directories:")
    for j in existing:
        print(j._sis_path())
    if mode == "dryrun":
        return []
    if not force:
        if not sys.stdin.isatty():
            print("Not a terminal, so I cannot ask: nothing deleted (confirm on a terminal or pass --force)")
            return []
        try:
            answer = input("Start deleting? (y/N): ").strip()
        except EOFError:
            answer = ""
        if answer != "y":
            print("Abort")
            return []
    for j in existing:
        d = j._sis_path(abspath=True)
        if mode == "move":
            logging.info("Move: %s to %s", j._sis_path(), _move_aside(d))
        else:
            logging.info("Delete: %s", j._sis_path())
            if os.path.islink(d):
                os.unlink(d)
            else:
                shutil.rmtree(d)
        j._sis_finished_cache = False
        finished_results_cache.forget_job(j._sis_path())
    return existing


# ---------------------------------------------------------------------- command line
def _load(args):
    from sisyphus.__main__ import _load_configs

    return _load_configs(list(getattr(args, "config", [])) + list(args.argv))


def _stamp():
    return time.strftime("%Y%m%d%H%M%S")


def _mode(args):
    if args.mode not in ("remove", "move", "dryrun"):
        logging.error("--mode must be 'remove', 'move' or 'dryrun', not %r", args.mode)
        sys.exit(2)
    return args.mode


def _clean_by_list(args, collect, find, default_used, message):
    from sisyphus import cleaner

    mode = _mode(args)
    if args.load_used_path:
        used = args.load_used_path
    else:
        used = args.used_path or f"{default_used}.{_stamp()}.txt"
        _load(args)
        cleaner.save_used_paths(used, collect())
        logging.info("used paths written to %s", used)
    if args.only_find_used_paths:
        return 0
    to_remove = args.to_remove or f"to_remove.{_stamp()}.txt"
    cleaner.save_remove_list(find(used), to_remove)
    logging.info("directories to remove written to %s", to_remove)
    if args.skip_remove:
        return 0
    cleaner.remove_directories(to_remove, message, move_postfix=args.move_postfix, mode=mode, force=args.force)
    return 0


def clean_unused(args):
    from sisyphus import cleaner

    return _clean_by_list(args, cleaner.list_all_graph_directories,
                          lambda used: cleaner.search_for_unused(used), "used_paths", "Unused directories:")


def clean_by_keep_value(args):
    from sisyphus import cleaner

    return _clean_by_list(args, cleaner.extract_keep_values_from_graph,
                          lambda used: cleaner.find_too_low_keep_value(used, args.keep_value),
                          "used_keep_values", "Unused directories:")


def clean_jobs(args):
    from sisyphus import cleaner

    _load(args)
    cleaned = cleaner.cleanup_jobs()
    logging.info("cleaned %d finished job(s)", len(cleaned))
    return 0


def import_from_dir(args):
    from sisyphus import toolkit as tk

    _load(args)
    tk.import_work_directory(args.dir, mode=args.mode or "symlink", use_alias=args.use_alias)
    return 0


def remove_job_and_descendants_cmd(args):
    from sisyphus import toolkit as tk

    if not args.path and not args.job:
        logging.error("give at least one --path or --job pattern")
        return 2
    if args.mode not in ("remove", "move", "dryrun"):
        logging.error("--mode must be 'remove', 'move' or 'dryrun', not %r", args.mode)
        return 2
    _load(args)
    found = []
    for pattern in args.path:
        found += tk.find_path(pattern)
    for pattern in args.job:
        found += tk.find_job(pattern)
    if not found:
        print("No job or path matches " + " ".join(args.path + args.job))
        return 1
    remove_job_and_descendants(found, mode=args.mode, force=args.force)
    return 0


def show_jobs_in_webserver(args):
    from sisyphus.http_server import StatusServerError, show_jobs_in_webserver as show
    from sisyphus.worker import load_job

    try:
        show(int(args.port), [load_job(j) for j in args.job])
    except StatusServerError as e:
        logging.error("%s", e)
        return 2
    return 0


def _argv(p):
    p.add_argument("argv", metavar="ARGV", nargs="*", help="config files to load")


def _removal_options(p, what):
    p.add_argument("--used_path", default=None, help=f"file the found {what} are appended to")
    p.add_argument("--load_used_path", default=None, help=f"skip finding the {what}; load them from this file")
    p.add_argument("--to_remove", default=None, help="file the dirs to remove are written to (overwritten)")
    p.add_argument("--only_find_used_paths", action="store_true", help="stop after writing the used-path file")
    p.add_argument("--skip_remove", action="store_true", help="stop after writing the to-remove file")
    p.add_argument("--mode", default="remove", help="'remove', 'move' or 'dryrun' (only list)")
    p.add_argument("--move_postfix", default=".cleanup", help="postfix of moved directories")
    p.add_argument("--force", action="store_true", help="do not ask before removing (needed without a terminal)")


def add_subparsers(subparsers):
    """Add ``shortcut``/``s`` with its sub-commands to a ``sis`` sub-parser collection."""
    s = subparsers.add_parser("shortcut", aliases=["s"], help="maintenance shortcuts")
    sub = s.add_subparsers(dest="shortcut", required=True, metavar="SHORTCUT")

    p = sub.add_parser("clean_unused", help="remove all work dirs the loaded graph does not use")
    _removal_options(p, "paths")
    _argv(p)
    p.set_defaults(func=clean_unused)

    p = sub.add_parser("clean_jobs", help="delete work/ and pack the logs of every finished job of the graph")
    _argv(p)
    p.set_defaults(func=clean_jobs)

    p = sub.add_parser("clean_by_keep_value", help="remove finished jobs with a keep value below --keep_value")
    _removal_options(p, "keep values")
    p.add_argument("--keep_value", type=int, default=0,
                   help=f"remove jobs with a smaller keep value (default keep value: {gs.JOB_DEFAULT_KEEP_VALUE})")
    _argv(p)
    p.set_defaults(func=clean_by_keep_value)

    p = sub.add_parser("import_from_dir", help="import finished jobs with the same hash from other work dirs")
    p.add_argument("--dir", action="append", default=[], help="work dir to import from (repeatable)")
    p.add_argument("--use_alias", action="store_true", help="the dirs contain aliases")
    p.add_argument("--mode", default="symlink", help="symlink (default), copy, hardlink or dryrun")
    _argv(p)
    p.set_defaults(func=import_from_dir)

    p = sub.add_parser("remove_job_and_descendants", help="remove jobs matching --job / using --path, and all "
                                                          "jobs depending on them")
    p.add_argument("--path", action="append", default=[], help="pattern matched against paths (repeatable)")
    p.add_argument("--job", action="append", default=[], help="pattern matched against jobs (repeatable)")
    p.add_argument("--mode", default="remove", help="'remove', 'move' (to .cleared.NNNN) or 'dryrun'")
    p.add_argument("--force", action="store_true", help="do not ask (needed without a terminal)")
    _argv(p)
    p.set_defaults(func=remove_job_and_descendants_cmd)

    p = sub.add_parser("show_jobs_in_webserver", help="serve a status page for the given job dirs")
    p.add_argument("--port", required=True, help="port to listen on")
    p.add_argument("--job", action="append", default=[], help="job dir (repeatable)")
    p.set_defaults(func=show_jobs_in_webserver)
    return s
