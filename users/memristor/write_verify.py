"""Write-verify programming on the main study's QAT models: does correcting the cells pay off in WER?

For each QAT model of the setup's ``write_verify`` grid and each write-verify setting, the devices
are programmed again, now with verify rounds after the SET (``ProgramCrossbarsJob(write_verify=...)``,
``memristor.crossbar.write_verify``): each cell is read alone at the test voltage and re-cycled while
its normalised current is further than the tolerance from its target bit, for at most ``max_cycles``
rounds. Device k keeps its seed and pre-cycling, so a row differs from the plain devices' row only
by the verify rounds. The table gives WER over devices (avg with its 95 % interval, std, min, max)
beside what the rounds cost (rounds, re-cycles per cell) and achieved (cells out of tolerance
before and after); the plot shows WER per setting. The plain devices, their recognitions and the
trained models are the main study's, reused through the graph.

Run with ``sis manager -r config/hardware_studies.py``.
"""
from __future__ import annotations

from typing import Dict, Optional

from sisyphus import tk

from memristor_asr.memristor.config import WriteVerifyConfig
from memristor_asr.memristor.jobs import ProgramCrossbarsJob
from memristor_asr.report.jobs import DeviceSweepPlotJob, WriteVerifyTableJob
from users.memristor.memristor_ted import Study, print_tables, register_table
from users.memristor.setups import WriteVerifySweep

__all__ = ["setting_label", "run_write_verify"]


def setting_label(verify: WriteVerifyConfig) -> str:
    """A row label (also a folder name): test voltage and tolerance, and the rounds when not 10."""
    rounds = "" if verify.max_cycles == WriteVerifyConfig().max_cycles else f"-K{verify.max_cycles}"
    return f"{verify.test_voltage:g}V-tol{verify.tolerance:g}{rounds}"


def run_write_verify(study: Study, sweep: Optional[WriteVerifySweep] = None, *, num_devices: Optional[int] = None,
                     prefix: str = "write_verify") -> Dict[int, WriteVerifyTableJob]:
    """One table and plot per weight bits of ``sweep`` (None: the setup's ``write_verify``).

    :param num_devices: devices per setting (None: the setup's ``sweep_devices``, or all of its devices)
    :return: weight bits -> table job (outputs under ``output/<prefix>/qat<bits>/``)
    :raises ValueError: naming the weight bits if the study has no memristor devices of them
    """
    setup = study.setup
    sweep = setup.write_verify if sweep is None else sweep
    if not isinstance(sweep, WriteVerifySweep):
        raise TypeError(f"run_write_verify: sweep must be a WriteVerifySweep, got {type(sweep).__name__}")
    if num_devices is None:
        num_devices = setup.sweep_devices or setup.num_devices
    lm_s, pr_s = setup.memristor_scales
    tables = {}
    for bits in sweep.weight_bits:
        name = f"qat{bits}"
        if name not in study.devices:
            raise ValueError(f"{prefix}: the {setup.name!r} setup programs no {bits}-bit devices "
                             f"(memristor_bits={setup.memristor_bits}); write_verify.weight_bits={sweep.weight_bits}")
        model, out = study.models[name], f"{prefix}/{name}"
        rows, reports = {}, {}

        def recognize(label: str, devices):
            runs = []
            for k, device in enumerate(devices):
                runs += study.recognize(f"{label}/device{k}", model, (lm_s,), (pr_s,), prefix=out,
                                        programmed_device=device, read=setup.read, noise_seed=k)
            rows[label] = [runs]  # one training seed

        # the main study's devices and recognitions (same jobs), the reference row
        recognize("none", study.devices[name][:num_devices])
        for verify in sweep.settings:
            label = setting_label(verify)
            jobs = [ProgramCrossbarsJob(checkpoint=model.checkpoint, device_index=k, programming=setup.programming,
                                        write_verify=verify, rqmt=setup.program_rqmt) for k in range(num_devices)]
            for k, job in enumerate(jobs):
                job.add_alias(f"{out}/devices/{label}/device{k}")
            recognize(label, [j.out_device for j in jobs])
            reports[label] = [j.out_write_verify for j in jobs]
        what = f"QAT-{bits} on simulated memristor hardware with write-verify programming"
        table = WriteVerifyTableJob(baseline=study.baseline, devices=rows, reports=reports,
                                    setting="write-verify (test input, tolerance)", what=what, corpus=study.corpus,
                                    splits=setup.eval_splits)
        register_table(table, f"{out}/table")
        plot = DeviceSweepPlotJob(baseline=study.baseline, devices=rows, setting="write-verify (test input, tolerance)",
                                  what=what, corpus=study.corpus, splits=setup.eval_splits)
        tk.register_output(f"{out}/plot.png", plot.out_plot)
        tk.register_callback(print_tables, table.out_markdown)
        tables[bits] = table
    return tables
