"""An ADC sweep on the main study's devices: how fine must the ADC be for memristor ASR?

Takes the built main study, so its jobs are the same ones: the trained QAT model and its programmed
devices are reused through the graph, nothing is trained or programmed again. Each
ADC precision is a :class:`~memristor_asr.memristor.config.ReadConfig`, which only the recognitions
read; the result is one table of WER over devices per precision, with the float baseline as reference.

Run with ``sis manager -r config/adc_sweep.py`` or ``config/hardware_studies.py`` (before, after or
together with the main study).
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

from sisyphus import tk

from memristor_asr.report.jobs import DeviceSweepTableJob
from users.memristor.memristor_ted import Study, print_tables, register_table

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
    setup = study.setup
    name = f"qat{weight_bits}"
    if name not in study.devices:
        raise ValueError(f"run_adc_sweep: the {setup.name!r} setup programs no {weight_bits}-bit devices "
                         f"(memristor_bits={setup.memristor_bits})")
    lm_s, pr_s = setup.memristor_scales
    rows = {}
    for bits in adc_bits:
        read = dataclasses.replace(setup.read, output_precision_bits=bits)
        runs = []
        for k, device in enumerate(study.devices[name]):
            runs += study.recognize(f"adc{bits}/device{k}", study.models[name], (lm_s,), (pr_s,), prefix=prefix,
                                    programmed_device=device, read=read, noise_seed=k)
        rows[bits] = [runs]  # one training seed
    table = DeviceSweepTableJob(baseline=study.baseline, devices=rows, setting="ADC precision bits",
                                what=f"QAT-{weight_bits} on simulated memristor hardware by ADC precision",
                                corpus=study.corpus, splits=setup.eval_splits)
    register_table(table, f"{prefix}/table")
    tk.register_callback(print_tables, table.out_markdown)
    return table
