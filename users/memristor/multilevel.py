"""Multi-level cells: fewer bit planes per weight with more conductance states per cell, at what WER?

For each QAT model of the setup's ``multilevel`` grid and each level count L, the devices are
programmed again with ``ProgrammingConfig.levels = L``: a weight is split into base-L digits
instead of bits (4-bit weights: 2 planes at 3 or 4 levels, 1 at 8, instead of 3), a cell holds a
digit as a SET followed by a partial RESET to its calibrated level (``memristor.levels``,
docs/CROSSBAR_MAPPING.md §2.12), and the read recombines the planes with weights (L − 1)·L^p.
Device k keeps its seed, pre-cycling and read settings. The table gives the WER over devices (avg
with its 95 % interval, std, min, max) beside the planes, array pairs and cells of a device; the
binary row is the main study's own devices and recognitions, reused through the graph.

Run with ``sis manager -r config/hardware_studies.py``.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional

from memristor_asr.memristor.jobs import ProgramCrossbarsJob
from memristor_asr.report.jobs import MultiLevelTableJob
from users.memristor.memristor_ted import Study, register_sweep
from users.memristor.setups import MultiLevelSweep

__all__ = ["run_multilevel"]


def run_multilevel(study: Study, sweep: Optional[MultiLevelSweep] = None, *, num_devices: Optional[int] = None,
                   prefix: str = "multilevel") -> Dict[int, MultiLevelTableJob]:
    """One table and plot per weight bits of ``sweep`` (None: the setup's ``multilevel``).

    :param num_devices: devices per setting (None: the setup's ``sweep_devices``, or all of its devices)
    :return: weight bits -> table job (outputs under ``output/<prefix>/qat<bits>/``)
    :raises ValueError: naming the weight bits if the study has no memristor devices of them
    """
    setup = study.setup
    sweep = setup.grid("multilevel", sweep)
    num_devices = study.sweep_size(num_devices)
    tables = {}
    for bits in sweep.weight_bits:
        settings = [(2, study.qat_devices(bits, prefix)[:num_devices])]  # the main study's binary devices
        model, out = study.models[f"qat{bits}"], f"{prefix}/qat{bits}"
        for levels in sweep.levels:
            jobs = [ProgramCrossbarsJob(checkpoint=model.checkpoint, device_index=k,
                                        programming=dataclasses.replace(setup.programming, levels=levels),
                                        rqmt=setup.program_rqmt) for k in range(num_devices)]
            for k, job in enumerate(jobs):
                job.add_alias(f"{out}/devices/levels{levels}/device{k}")
            settings.append((levels, [j.out_device for j in jobs]))
        rows = {f"{levels} levels": [study.recognize_devices(f"levels{levels}", model, devices, prefix=out)]
                for levels, devices in settings}  # one training seed
        files = {f"{levels} levels": devices[0] for levels, devices in settings}
        table = MultiLevelTableJob(baseline=study.baseline, devices=rows, device_files=files, setting="cell levels",
                                   what=f"QAT-{bits} on simulated memristor hardware with multi-level cells",
                                   corpus=study.corpus, splits=setup.eval_splits)
        register_sweep(study, table, out)
        tables[bits] = table
    return tables
