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

from sisyphus import tk

from memristor_asr.memristor.jobs import ProgramCrossbarsJob
from memristor_asr.report.jobs import DeviceSweepPlotJob, MultiLevelTableJob
from users.memristor.memristor_ted import Study, print_tables, register_table
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
    sweep = setup.multilevel if sweep is None else sweep
    if not isinstance(sweep, MultiLevelSweep):
        raise TypeError(f"run_multilevel: sweep must be a MultiLevelSweep, got {type(sweep).__name__}")
    if num_devices is None:
        num_devices = setup.sweep_devices or setup.num_devices
    lm_s, pr_s = setup.memristor_scales
    tables = {}
    for bits in sweep.weight_bits:
        name = f"qat{bits}"
        if name not in study.devices:
            raise ValueError(f"{prefix}: the {setup.name!r} setup programs no {bits}-bit devices "
                             f"(memristor_bits={setup.memristor_bits}); multilevel.weight_bits={sweep.weight_bits}")
        model, out = study.models[name], f"{prefix}/{name}"
        rows, files = {}, {}
        settings = [(2, study.devices[name][:num_devices])]  # the main study's binary devices
        for levels in sweep.levels:
            jobs = [ProgramCrossbarsJob(checkpoint=model.checkpoint, device_index=k,
                                        programming=dataclasses.replace(setup.programming, levels=levels),
                                        rqmt=setup.program_rqmt) for k in range(num_devices)]
            for k, job in enumerate(jobs):
                job.add_alias(f"{out}/devices/levels{levels}/device{k}")
            settings.append((levels, [j.out_device for j in jobs]))
        for levels, devices in settings:
            label = f"{levels} levels"
            runs = []
            for k, device in enumerate(devices):
                runs += study.recognize(f"levels{levels}/device{k}", model, (lm_s,), (pr_s,), prefix=out,
                                        programmed_device=device, read=setup.read, noise_seed=k)
            rows[label], files[label] = [runs], devices[0]  # one training seed
        what = f"QAT-{bits} on simulated memristor hardware with multi-level cells"
        setting = "cell levels"
        table = MultiLevelTableJob(baseline=study.baseline, devices=rows, device_files=files, setting=setting,
                                   what=what, corpus=study.corpus, splits=setup.eval_splits)
        register_table(table, f"{out}/table")
        plot = DeviceSweepPlotJob(baseline=study.baseline, devices=rows, setting=setting, what=what,
                                  corpus=study.corpus, splits=setup.eval_splits)
        tk.register_output(f"{out}/plot.png", plot.out_plot)
        tk.register_callback(print_tables, table.out_markdown)
        tables[bits] = table
    return tables
