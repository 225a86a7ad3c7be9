"""ADC sweep on the main study's 4-bit devices: ``sis manager -r config/adc_sweep.py``.

Same corpus choice as ``config/memristor_ted.py`` (TEDLIUM2_ROOT: the PAPER setup on the real corpus;
otherwise MINI on the embedded one; ``SIS_MEMRISTOR_PROFILE`` forces a shipped setup). The main
study's trainings and devices are shared with it through the graph.
"""
from sisyphus import gs, tk

from memristor_asr.corpus.tedlium import check_release_root


def py():
    root = getattr(gs, "TEDLIUM2_ROOT", None)
    if root:
        check_release_root(root, name="TEDLIUM2_ROOT")
    from users.memristor.adc_sweep import run_adc_sweep
    from users.memristor.setups import setup_named

    name = getattr(gs, "MEMRISTOR_PROFILE", None) or ("paper" if root else "mini")
    setup = setup_named(name)
    run_adc_sweep(setup, weight_bits=4, corpus_root=tk.Path(root) if root else None)
