"""ADC sweep on the main study's 4-bit devices: ``sis manager -r config/adc_sweep.py``.

Same corpus and setup choice as ``config/memristor_ted.py``; the main study's trainings and devices
are shared with it through the graph. ``config/hardware_studies.py`` runs this sweep and the other
hardware studies together.
"""
from users.memristor.entry import main_study


def py():
    from users.memristor.adc_sweep import run_adc_sweep

    run_adc_sweep(main_study(), weight_bits=4)
