"""Entry config of the study: ``sis manager -r config/memristor_ted.py``.

With a TED-LIUM v2 root (``TEDLIUM2_ROOT`` in the environment or settings.py) it runs the paper
profile on the real corpus (its layout is checked when the config loads); otherwise the embedded
mini corpus with the ``mini`` profile. The profile can be forced with
``SIS_MEMRISTOR_PROFILE=paper|mini|ci``.
"""
import logging

from sisyphus import gs, tk

from memristor_asr.corpus.tedlium import check_release_root


def py():
    root = getattr(gs, "TEDLIUM2_ROOT", None)
    profile = getattr(gs, "MEMRISTOR_PROFILE", None)
    if root:
        # Checked here, before any job exists: a wrong root would otherwise fail deep inside the
        # first preparation job, its message buried in the manager's output.
        check_release_root(root, name="TEDLIUM2_ROOT")
    # Imported after the check: the study imports torch (seconds), a wrong root need not wait for it.
    from users.memristor.memristor_ted import run_memristor_ted

    if root:
        run_memristor_ted(profile=profile or "paper", corpus_root=tk.Path(root))
    else:
        profile = profile or "mini"
        logging.warning("notice: no TED-LIUM v2 root configured (TEDLIUM2_ROOT); running on the embedded "
                        "synthetic corpus with profile %r", profile)
        run_memristor_ted(profile=profile)
