"""The main study as the entry configs build it: the corpus and setup come from the settings.

With a TED-LIUM v2 root (``TEDLIUM2_ROOT`` in the environment or settings.py) the ``PAPER`` setup
runs on the real corpus (its layout is checked first); otherwise the ``MINI`` setup on the embedded
corpus. ``SIS_MEMRISTOR_PROFILE=paper|mini|ci`` forces a shipped setup.
"""
import logging

from sisyphus import gs, tk

from memristor_asr.corpus.tedlium import check_release_root

__all__ = ["main_study"]


def main_study():
    """Build the main study (``run_memristor_ted``) for the configured corpus and setup; returns the Study."""
    root = getattr(gs, "TEDLIUM2_ROOT", None)
    name = getattr(gs, "MEMRISTOR_PROFILE", None)
    if root:
        # Checked here, before any job exists: a wrong root would otherwise fail deep inside the
        # first preparation job, its message buried in the manager's output.
        check_release_root(root, name="TEDLIUM2_ROOT")
    # Imported after the check: the study imports torch (seconds), a wrong root need not wait for it.
    from users.memristor.memristor_ted import run_memristor_ted
    from users.memristor.setups import setup_named

    if root:
        return run_memristor_ted(setup_named(name or "paper"), corpus_root=tk.Path(root))
    name = name or "mini"
    logging.warning("notice: no TED-LIUM v2 root configured (TEDLIUM2_ROOT); running on the embedded "
                    "synthetic corpus with the %r setup", name)
    return run_memristor_ted(setup_named(name))
