"""Converter sweep on the main study's devices: how fine must the ADC and the DAC be?

Reads one QAT model's programmed devices with other converter settings: the ADC's precision and
range bits (``ReadConfig.output_precision_bits`` P, ``output_range_bits`` Rb: step 2^−P, clipping
at ±2^(Rb−1)), and the DAC's input bits B. Read settings go only to the recognitions, so nothing is
trained or programmed again; the main study's setting (P = Rb = 4, B = 8) is the main study's own
recognitions. Each sweep gives a table of WER over devices (avg with its 95 % interval, std, min,
max) and a plot.

Run with ``sis manager -r config/hardware_studies.py``.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

from memristor_asr.memristor.config import ReadConfig
from memristor_asr.report.jobs import DeviceSweepTableJob
from users.memristor.memristor_ted import Study, register_sweep

__all__ = ["read_sweep", "run_converter_sweep"]

# (P, Rb): precision 8 down to 2 at the default range, then the range at the default precision
ADC_SETTINGS: Tuple[Tuple[int, int], ...] = ((8, 4), (6, 4), (4, 4), (3, 4), (2, 4), (4, 6), (4, 3), (4, 2))
DAC_BITS: Tuple[int, ...] = (8, 6, 4, 3, 2)


def read_sweep(study: Study, reads: Dict[object, ReadConfig], *, weight_bits: int, setting: str, what: str,
               prefix: str, num_devices: Optional[int] = None) -> DeviceSweepTableJob:
    """Recognise the ``weight_bits`` QAT model's devices once per read config; one table and one plot.

    :param reads: row label -> read config, in row order
    :param setting: the rows' setting, the table's first header and the plot's x label
    :param what: what the rows are, for title and caption
    :param prefix: output folder (``output/<prefix>/table.md``, ``plot.png``)
    :param num_devices: read only the first devices (None: all of the study's)
    :raises ValueError: if the study has no devices of ``weight_bits``
    """
    setup = study.setup
    devices = study.qat_devices(weight_bits, prefix)[:num_devices]
    model = study.models[f"qat{weight_bits}"]
    rows = {}
    for label, read in reads.items():
        ReadConfig.require(read, f"{prefix}: read setting {label!r}")
        rows[label] = [study.recognize_devices(str(label), model, devices, prefix=prefix, read=read)]  # one seed
    table = DeviceSweepTableJob(baseline=study.baseline, devices=rows, setting=setting, what=what, corpus=study.corpus,
                                splits=setup.eval_splits)
    register_sweep(study, table, prefix)
    return table


def run_converter_sweep(study: Study, *, adc: Sequence[Tuple[int, int]] = ADC_SETTINGS,
                        dac_bits: Sequence[int] = DAC_BITS, weight_bits: int = 4, num_devices: Optional[int] = None,
                        prefix: str = "converter_sweep") -> Dict[str, DeviceSweepTableJob]:
    """The ADC sweep (``adc``: (precision, range) bits) and the DAC sweep (``dac_bits``) on the devices
    of the ``weight_bits`` QAT model; other read settings as the study's. ``num_devices``: devices
    read per setting (None: the setup's ``sweep_devices``).

    :return: the table jobs, ``{"adc": ..., "dac": ...}`` (outputs under ``output/<prefix>/adc|dac/``)
    """
    base = study.setup.read
    if num_devices is None:
        num_devices = study.setup.sweep_devices
    adc_reads = {f"P{p}-R{rb}": dataclasses.replace(base, output_precision_bits=p, output_range_bits=rb)
                 for p, rb in adc}
    dac_reads = {f"B{b}": dataclasses.replace(base, input_bits=b) for b in dac_bits}
    return {
        "adc": read_sweep(study, adc_reads, weight_bits=weight_bits, num_devices=num_devices, prefix=f"{prefix}/adc",
                          setting="ADC precision P / range Rb bits",
                          what=f"QAT-{weight_bits} on simulated memristor hardware by ADC resolution"),
        "dac": read_sweep(study, dac_reads, weight_bits=weight_bits, num_devices=num_devices, prefix=f"{prefix}/dac",
                          setting="DAC input bits B",
                          what=f"QAT-{weight_bits} on simulated memristor hardware by DAC resolution"),
    }
