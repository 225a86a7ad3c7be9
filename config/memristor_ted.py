"""Entry config of the study: ``sis manager -r config/memristor_ted.py``.

With a TED-LIUM v2 root (``TEDLIUM2_ROOT`` in the environment or settings.py) it runs the ``PAPER``
setup on the real corpus (its layout is checked when the config loads); otherwise the embedded
mini corpus with the ``MINI`` setup (``users/memristor/setups.py``). Another shipped setup can be
forced with ``SIS_MEMRISTOR_PROFILE=paper|mini|ci``; for your own variant, write a config like this
one that passes your ``StudySetup`` value.
"""
import logging

from sisyphus import gs, tk

from memristor_asr.corpus.tedlium import check_release_root


def py():
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
        run_memristor_ted(setup_named(name or "paper"), corpus_root=tk.Path(root))
    else:
        name = name or "mini"
        logging.warning("notice: no TED-LIUM v2 root configured (TEDLIUM2_ROOT); running on the embedded "
                        "synthetic corpus with the %r setup", name)
        run_memristor_ted(setup_named(name))
