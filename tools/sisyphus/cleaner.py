"""Clean-up helpers (``tk.cleaner``): find and remove job directories no config uses any more.

The functions follow upstream's ``sisyphus.cleaner`` names, arguments and file formats:

- ``list_all_graph_directories()`` / ``extract_keep_values_from_graph()`` give ``{dir: status}``
  for the loaded graph (``status`` is a keep value or one of the negative codes below);
- ``save_used_paths`` / ``load_used_paths`` store that as ``<dir> <status>`` lines;
- ``search_for_unused`` / ``find_too_low_keep_value`` turn it into the set of removable dirs;
- ``save_remove_list`` / ``load_remove_list`` store such a set one dir a line;
- ``remove_directories`` lists them and removes ("remove"), moves ("move") or only lists ("dryrun");
- ``cleanup_unused``, ``cleanup_keep_value`` and ``cleanup_jobs`` combine the steps.

Removing asks for confirmation on a terminal; without one nothing is removed unless ``force=True``.
"""
import logging
import os
import shutil
import subprocess
import sys
import tarfile

from sisyphus import global_settings as gs
from sisyphus.tools import finished_results_cache

__all__ = [
    "DIR_IN_GRAPH", "JOB_NOT_FINSIHED", "JOB_NOT_FINISHED", "JOB_STILL_NEEDED", "JOB_WITHOUT_KEEP_VALUE",
    "list_all_graph_directories", "extract_keep_values_from_graph", "save_used_paths", "load_used_paths",
    "save_remove_list", "load_remove_list", "search_for_unused", "find_too_low_keep_value",
    "remove_directories", "cleanup_unused", "cleanup_keep_value", "cleanup_jobs", "job_cleanable",
    "cleanup_job", "list_all_job_dirs",
]

# Status codes of a directory in a used-paths listing (upstream's values and spelling).
DIR_IN_GRAPH = -4
JOB_NOT_FINSIHED = JOB_NOT_FINISHED = -3
JOB_STILL_NEEDED = -2
JOB_WITHOUT_KEEP_VALUE = -1

# Files in the work dir that belong to the manager, not to any job: never offered for removal.
_PROTECTED = (".sis_manager.lock",)


def _graph():
    from sisyphus.graph import sis_graph

    return sis_graph


def _add_parents(job_dirs, path):
    parent = os.path.dirname(path)
    while parent:
        job_dirs.setdefault(parent, DIR_IN_GRAPH)
        parent = os.path.dirname(parent)


def list_all_graph_directories():
    """``{job dir: JOB_STILL_NEEDED}`` for every job of the loaded graph, plus its parent dirs."""
    job_dirs = {}
    for job in _graph().jobs():
        job_dirs[job._sis_path()] = JOB_STILL_NEEDED
    for path in list(job_dirs):
        _add_parents(job_dirs, path)
    return job_dirs


def extract_keep_values_from_graph():
    """``{job dir: status}``: the keep value of finished jobs no unfinished job still needs.

    Jobs that an unfinished job (or an output still being computed) needs are JOB_STILL_NEEDED,
    unfinished jobs JOB_NOT_FINISHED; a finished job without an explicit keep value gets
    JOB_WITHOUT_KEEP_VALUE (treated as ``gs.JOB_DEFAULT_KEEP_VALUE`` when filtering).
    """
    jobs = _graph().jobs()
    needed = set()
    for job in jobs:
        if not job._sis_finished():
            for p in job._sis_inputs:
                if p.creator is not None:
                    needed.add(p.creator._sis_id())
    job_dirs = {}
    for job in jobs:
        if job._sis_id() in needed:
            status = JOB_STILL_NEEDED
        elif not job._sis_finished():
            status = JOB_NOT_FINISHED
        elif job._sis_keep_value is None:
            status = JOB_WITHOUT_KEEP_VALUE
        else:
            status = job._sis_keep_value
        job_dirs[job._sis_path()] = status
    for path in list(job_dirs):
        _add_parents(job_dirs, path)
    return job_dirs


def save_used_paths(outfile=None, job_dirs=None):
    """Append ``<dir> <status>`` lines (default: the loaded graph's dirs) to ``outfile`` (or stdout)."""
    if job_dirs is None:
        job_dirs = list_all_graph_directories()
    out = open(outfile, "a", encoding="utf-8") if outfile else sys.stdout
    try:
        for path, status in job_dirs.items():
            out.write(f"{path} {int(status)}\n")
    finally:
        if outfile:
            out.close()


def load_used_paths(infile):
    job_dirs = {}
    with open(infile, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                path, status = line.rsplit(None, 1)
                # a dir listed by several configs: the most protective status wins
                job_dirs[path] = min(int(status), job_dirs.get(path, 100))
    return job_dirs


def save_remove_list(to_remove, outfile):
    with open(outfile, "w", encoding="utf-8") as f:
        for d in sorted(str(d) for d in to_remove):
            f.write(d + "\n")


def load_remove_list(infile):
    with open(infile, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def search_for_unused(job_dirs, current=None, verbose=True, filter_unused=None):
    """Entries below ``current`` (default: the work dir) that no dir in ``job_dirs`` uses.

    Descends only into dirs that contain used job dirs (DIR_IN_GRAPH); with ``filter_unused`` only
    entries whose path contains one of those substrings are returned.
    """
    if isinstance(job_dirs, str):
        job_dirs = load_used_paths(job_dirs)
    current = gs.WORK_DIR if current is None else current
    unused = set()
    try:
        entries = sorted(os.listdir(current))
    except FileNotFoundError:
        return unused
    if verbose:
        logging.info("Directories in %s: %d", current, len(entries))
    for name in entries:
        path = os.path.join(current, name)
        if name in _PROTECTED:
            continue
        status = job_dirs.get(path)
        if status is None:
            if filter_unused is None or any(x in path for x in filter_unused):
                unused.add(path)
        elif status == DIR_IN_GRAPH and os.path.isdir(path) and not os.path.islink(path):
            found = search_for_unused(job_dirs, path, verbose, filter_unused)
            unused |= found
            if verbose:
                logging.info("found %d unused directories in %s (total so far: %d)", len(found), path, len(unused))
    return unused


def find_too_low_keep_value(job_dirs, min_keep_value, filter_removed_jobs=None):
    """Job dirs of finished, no longer needed jobs whose keep value is below ``min_keep_value``."""
    if isinstance(job_dirs, str):
        job_dirs = load_used_paths(job_dirs)
    out = set()
    for path, status in job_dirs.items():
        if status in (DIR_IN_GRAPH, JOB_NOT_FINISHED, JOB_STILL_NEEDED):
            continue
        value = gs.JOB_DEFAULT_KEEP_VALUE if status == JOB_WITHOUT_KEEP_VALUE else status
        if value < min_keep_value and (filter_removed_jobs is None or any(x in path for x in filter_removed_jobs)):
            out.add(path)
    return out


def _confirm(question, default_yes=False):
    """Ask on a terminal; without one the answer is no."""
    if not sys.stdin.isatty():
        return False
    try:
        answer = input(question).strip().lower()
    except EOFError:
        return False
    return answer in ("y", "yes") or (default_yes and answer == "")


def _alias_note(d):
    if not getattr(gs, "CLEANER_PRINT_ALIAS", True):
        return ""
    try:
        with open(os.path.join(d, gs.JOB_INFO), encoding="utf-8", errors="replace") as f:
            aliases = [line.strip()[len("ALIAS:"):].strip() for line in f if line.startswith("ALIAS:")]
    except OSError:
        return ""
    return f"  (alias at creation: {', '.join(aliases)})" if aliases else ""


def _moved_name(d, move_postfix):
    postfix = move_postfix if move_postfix.startswith(".") else "." + move_postfix
    target = d + postfix
    n = 1
    while os.path.lexists(target):
        target = f"{d}{postfix}.{n:04d}"
        n += 1
    return target


def remove_directories(dirs, message, move_postfix=".cleanup", mode="remove", force=False, filter_printed=None):
    """List ``dirs`` (a set, or a remove-list file), then remove, move aside or (``dryrun``) keep them.

    On a terminal it offers to compute their size and asks before changing anything; without a
    terminal nothing is removed or moved unless ``force``. Returns the dirs that were changed.
    """
    if mode not in ("remove", "move", "dryrun"):
        raise ValueError(f"mode must be 'remove', 'move' or 'dryrun', not {mode!r}")
    if isinstance(dirs, str):
        dirs = load_remove_list(dirs)
    dirs = sorted({str(d) for d in dirs})
    logging.info("%s", message)
    logging.info("Number of affected directories: %d", len(dirs))
    if not dirs:
        return []
    if sys.stdin.isatty() and _confirm("Calculate size of affected directories? (Y/n): ", default_yes=True):
        subprocess.run(["du", "-sch", "--", *dirs], check=False)
    logging.info("Affected directories:")
    for d in dirs:
        if filter_printed is None or any(x in d for x in filter_printed):
            logging.info("%s%s", d, _alias_note(d))
    if mode == "dryrun":
        logging.info("dry run: nothing removed (use mode 'remove' or 'move')")
        return []
    verb = "Move" if mode == "move" else "Delete"
    if not force:
        if not sys.stdin.isatty():
            logging.error("not a terminal, so I cannot ask: nothing %s; confirm on a terminal or pass force "
                          "(--force on the command line)", "moved" if mode == "move" else "deleted")
            return []
        if not _confirm(f"{verb} directories? (y/n): "):
            logging.error("Abort")
            return []
    done = []
    for num, d in enumerate(dirs, 1):
        if mode == "move":
            target = _moved_name(d, move_postfix)
            logging.info("move: %s -> %s", d, target)
            os.rename(d, target)
        else:
            logging.info("Delete: (%d/%d) %s", num, len(dirs), d)
            try:
                if os.path.islink(d) or not os.path.isdir(d):
                    os.unlink(d)
                else:
                    shutil.rmtree(d)
            except OSError as e:
                logging.error("could not delete %s: %s", d, e)
                continue
        finished_results_cache.forget_job(d)  # gone or moved aside: no longer finished
        done.append(d)
    return done


def cleanup_unused(load_from="", job_dirs=None, mode="remove", filter_unused=None, filter_printed=None,
                   force=False):
    """Remove (or move/list) everything in the work dir that the loaded graph does not use."""
    if not job_dirs:
        job_dirs = load_used_paths(load_from) if load_from else list_all_graph_directories()
    to_remove = search_for_unused(job_dirs, verbose=True, filter_unused=filter_unused)
    return remove_directories(to_remove, "Not used in graph", mode=mode, force=force, filter_printed=filter_printed)


def cleanup_keep_value(min_keep_value, load_from="", mode="remove", filter_removed_jobs=None, filter_printed=None,
                       force=False):
    """Remove finished, unneeded jobs of the loaded graph whose keep value is below ``min_keep_value``."""
    if min_keep_value <= 0:
        logging.error("Keep value must be larger than 0")
        return []
    job_dirs = load_used_paths(load_from) if load_from else extract_keep_values_from_graph()
    to_remove = find_too_low_keep_value(job_dirs, min_keep_value, filter_removed_jobs=filter_removed_jobs)
    return remove_directories(to_remove, "Remove jobs with lower keep value than min", mode=mode, force=force,
                              filter_printed=filter_printed)


def job_cleanable(job) -> bool:
    """Finished, a real directory (not an imported link) and not cleaned yet."""
    d = job._sis_path(abspath=True)
    return (not os.path.islink(d) and os.path.isdir(d) and job._sis_finished()
            and not os.path.exists(os.path.join(d, gs.JOB_FINISHED_ARCHIVE)))


def cleanup_job(job):
    """Clean one finished job: delete ``work/`` and pack logs and markers into ``finished.tar.gz``.

    ``output/``, ``info`` (and ``input/`` with ``gs.JOB_CLEANUP_KEEP_INPUT``; ``work/`` with
    ``gs.JOB_CLEANUP_KEEP_WORK``) stay; the archive keeps the job finished.
    """
    d = job._sis_path(abspath=True)
    keep = {gs.JOB_OUTPUT, gs.JOB_INFO, gs.JOB_WORK_DIR}
    if gs.JOB_CLEANUP_KEEP_INPUT:
        keep.add(gs.JOB_INPUT)
    if not gs.JOB_CLEANUP_KEEP_WORK:
        shutil.rmtree(os.path.join(d, gs.JOB_WORK_DIR), ignore_errors=True)
    files = sorted(f for f in os.listdir(d) if f not in keep)
    tmp = os.path.join(d, f".{gs.JOB_FINISHED_ARCHIVE}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for f in files:
            tar.add(os.path.join(d, f), arcname=f)
    os.replace(tmp, os.path.join(d, gs.JOB_FINISHED_ARCHIVE))
    for f in files:
        p = os.path.join(d, f)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def cleanup_jobs():
    """Clean every finished job of the loaded graph (see ``cleanup_job``); returns the cleaned jobs."""
    cleaned = []
    for job in sorted(_graph().jobs()):
        if job_cleanable(job):
            logging.info("cleanup: %s", job._sis_path())
            cleanup_job(job)
            cleaned.append(job)
    return cleaned


def list_all_job_dirs(work_dir=None):
    """All job directories below the work dir (``<module path>/<Class>.<hash>``), relative to BASE_DIR."""
    work_dir = work_dir or os.path.join(gs.BASE_DIR, gs.WORK_DIR)
    out = []
    for root, dirs, files in os.walk(work_dir):
        if gs.JOB_SAVE in files or gs.JOB_INFO in files:
            out.append(os.path.relpath(root, gs.BASE_DIR))
            dirs[:] = []
    return out
