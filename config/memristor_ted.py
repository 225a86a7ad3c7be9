"""Entry config of the study: ``sis manager -r config/memristor_ted.py``.

With a TED-LIUM v2 root (``TEDLIUM2_ROOT`` in the environment or settings.py) it runs the ``PAPER``
setup on the real corpus (its layout is checked when the config loads); otherwise the embedded
mini corpus with the ``MINI`` setup (``users/memristor/setups.py``). Another shipped setup can be
forced with ``SIS_MEMRISTOR_PROFILE=paper|mini|ci``; for your own variant, write a config like this
one that passes your ``StudySetup`` value to ``run_memristor_ted``.
"""
from users.memristor.entry import main_study


def py():
    main_study()
