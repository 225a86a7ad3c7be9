"""Clean-up helpers (``tk.cleaner``): find and remove job directories no config uses any more."""
import os
import shutil

from sisyphus import global_settings as gs

__all__ = ["list_all_job_dirs", "cleanup_unused", "cleanup_keep_value", "save_used_paths"]


def list_all_job_dirs(work_dir=None):
    """All job directories below the work dir (``<module path>/<Class>.<hash>``)."""
    work_dir = work_dir or os.path.join(gs.BASE_DIR, gs.WORK_DIR)
    out = []
    for root, dirs, files in os.walk(work_dir):
        if gs.JOB_SAVE in files or gs.JOB_INFO in files:
            out.append(os.path.relpath(root, gs.BASE_DIR))
            dirs[:] = []
    return out


def _used_dirs():
    from sisyphus.graph import sis_graph

    return {j._sis_path() for j in sis_graph.jobs()}


def save_used_paths(outfile):
    with open(outfile, "w", encoding="utf-8") as f:
        for d in sorted(_used_dirs()):
            f.write(d + "\n")


def cleanup_unused(mode="dryrun", work_dir=None):
    """Remove (mode "remove") or list ("dryrun") job dirs that no loaded config uses."""
    used = _used_dirs()
    unused = [d for d in list_all_job_dirs(work_dir) if d not in used]
    for d in unused:
        print(f"{mode}: {d}")
        if mode == "remove" and not os.path.islink(os.path.join(gs.BASE_DIR, d)):
            shutil.rmtree(os.path.join(gs.BASE_DIR, d))
    return unused


def cleanup_keep_value(min_keep_value, mode="dryrun"):
    """Remove the ``work/`` scratch dirs of finished jobs whose keep value is below the threshold."""
    from sisyphus.graph import sis_graph

    out = []
    for job in sis_graph.jobs():
        if job.keep_value() < min_keep_value and job._sis_finished():
            w = job._sis_path(gs.JOB_WORK_DIR, abspath=True)
            if os.path.isdir(w) and not os.path.islink(job._sis_path(abspath=True)):
                print(f"{mode}: {w}")
                if mode == "remove":
                    shutil.rmtree(w)
                out.append(job)
    return out
