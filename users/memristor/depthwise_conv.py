"""The memristive depthwise convolution: what does it cost in WER to put the convs on crossbars too?

In the paper only the blocks' linear layers run on crossbars; the depthwise conv of each conv module
stays digital. Here the QAT models of ``StudySetup.depthwise_conv_bits`` get devices programmed
again with ``ProgrammingConfig.depthwise_conv``: the linears as before and each block's depthwise
conv as per-channel columns (``memristor.conv``, docs/CROSSBAR_MAPPING.md §2.11). Device k keeps its
seed, pre-cycling and read settings, and the linears' cells draw from the same per-layer seeds, so
the rows differ only by the conv. The table gives the WER over devices (avg with its 95 % interval,
std, min, max) with and without the conv on crossbars; the linears-only row is the main study's
own devices and recognitions, reused through the graph.

Run with ``sis manager -r config/hardware_studies.py``.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Sequence

from memristor_asr.memristor.jobs import ProgramCrossbarsJob
from memristor_asr.report.jobs import DeviceSweepTableJob
from users.memristor.memristor_ted import Study, register_sweep

__all__ = ["run_depthwise_conv"]

ROWS = ("linears", "linears + depthwise conv")


def run_depthwise_conv(study: Study, weight_bits: Optional[Sequence[int]] = None, *, num_devices: Optional[int] = None,
                       prefix: str = "depthwise_conv") -> DeviceSweepTableJob:
    """One table (rows: weight bits × mapping) and one plot for the QAT models of ``weight_bits``
    (None: the setup's ``depthwise_conv_bits``).

    :param num_devices: devices per model (None: the setup's ``sweep_devices``, or all of its devices)
    :raises ValueError: naming the weight bits if the study has no memristor devices of them
    """
    setup = study.setup
    weight_bits = setup.depthwise_conv_bits if weight_bits is None else tuple(weight_bits)
    num_devices = study.sweep_size(num_devices)
    programming = dataclasses.replace(setup.programming, depthwise_conv=True)
    rows: Dict[str, list] = {}
    for bits in weight_bits:
        plain = study.qat_devices(bits, prefix)[:num_devices]
        name, model = f"qat{bits}", study.models[f"qat{bits}"]
        jobs = [ProgramCrossbarsJob(checkpoint=model.checkpoint, device_index=k, programming=programming,
                                    rqmt=setup.program_rqmt) for k in range(num_devices)]
        for k, job in enumerate(jobs):
            job.add_alias(f"{prefix}/devices/{name}-conv/device{k}")
        for label, tag, devices in ((ROWS[0], f"{name}-linears", plain),
                                    (ROWS[1], f"{name}-conv", [j.out_device for j in jobs])):
            rows[f"QAT-{bits}: {label}"] = [study.recognize_devices(tag, model, devices, prefix=prefix)]
    table = DeviceSweepTableJob(baseline=study.baseline, devices=rows, setting="model: mapped layers",
                                what="QAT models on simulated memristor hardware, depthwise conv digital or on crossbars",
                                corpus=study.corpus, splits=setup.eval_splits)
    register_sweep(study, table, prefix)
    return table
