"""Simulated memristor crossbars (docs/DEVICE_MODEL.md, docs/CROSSBAR_MAPPING.md): the Synaptogen cell model and its use for
quantised linear layers.

Modules: ``params`` (the shipped Synaptogen parameter file), ``cells`` (vectorised cell physics),
``config`` (tile/DAC/ADC/noise/pulse settings), ``crossbar`` (bit planes, tiles, programming),
``linear`` (``MemristorLinear``: DAC, crossbar read, ADC), ``convert`` (model → crossbars, programmed
device files), ``cells_table`` (the paper's Table 1: ``python -m memristor_asr.memristor.cells_table``).
"""
