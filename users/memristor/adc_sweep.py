"""An ADC sweep on the main study's devices: how fine must the ADC be for memristor ASR?

Takes the built main study, so its jobs are the same ones: the trained QAT model and its programmed
devices are reused through the graph, nothing is trained or programmed again. Each ADC precision
is a :class:`~memristor_asr.memristor.config.ReadConfig`, which only the recognitions read; the
result is one table (and plot) of WER over devices per precision, with the float baseline as
reference. ``converter_sweep.py`` sweeps the ADC's range bits and the DAC as well.

Run with ``sis manager -r config/adc_sweep.py`` (before, after or together with the main study).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from memristor_asr.report.jobs import DeviceSweepTableJob
from users.memristor.converter_sweep import read_sweep
from users.memristor.memristor_ted import Study

__all__ = ["run_adc_sweep"]


def run_adc_sweep(study: Study, *, adc_bits: Sequence[int] = (2, 3, 4, 6, 8), weight_bits: int = 4,
                  prefix: str = "adc_sweep") -> DeviceSweepTableJob:
    """Read the ``weight_bits`` QAT model's devices of ``study`` with each ADC precision in ``adc_bits``.

    :param study: the built main study (``run_memristor_ted``; its devices, scales and other read
        settings are used)
    :param adc_bits: ADC precision bits P to try (ReadConfig.output_precision_bits)
    :param weight_bits: which QAT model's devices (one of the setup's ``memristor_bits``)
    :param prefix: output folder of the sweep
    :return: the sweep's table job (``output/<prefix>/table.md`` …)
    """
    reads = {bits: dataclasses.replace(study.setup.read, output_precision_bits=bits) for bits in adc_bits}
    return read_sweep(study, reads, weight_bits=weight_bits, prefix=prefix, setting="ADC precision bits",
                      what=f"QAT-{weight_bits} on simulated memristor hardware by ADC precision")
