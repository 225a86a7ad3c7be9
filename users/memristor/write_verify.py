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

from memristor_asr.memristor.config import WriteVerifyConfig
from memristor_asr.memristor.jobs import ProgramCrossbarsJob
from memristor_asr.report.jobs import WriteVerifyTableJob
from users.memristor.memristor_ted import Study, register_sweep
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
    sweep = setup.grid("write_verify", sweep)
    num_devices = study.sweep_size(num_devices)
    tables = {}
    for bits in sweep.weight_bits:
        plain = study.qat_devices(bits, prefix)[:num_devices]
        model, out = study.models[f"qat{bits}"], f"{prefix}/qat{bits}"
        # the main study's devices and recognitions (same jobs), the reference row
        rows = {"none": [study.recognize_devices("none", model, plain, prefix=out)]}  # [seed][device]
        reports = {}
        for verify in sweep.settings:
            label = setting_label(verify)
            jobs = [ProgramCrossbarsJob(checkpoint=model.checkpoint, device_index=k, programming=setup.programming,
                                        write_verify=verify, rqmt=setup.program_rqmt) for k in range(num_devices)]
            for k, job in enumerate(jobs):
                job.add_alias(f"{out}/devices/{label}/device{k}")
            rows[label] = [study.recognize_devices(label, model, [j.out_device for j in jobs], prefix=out)]
            reports[label] = [j.out_write_verify for j in jobs]
        table = WriteVerifyTableJob(baseline=study.baseline, devices=rows, reports=reports,
                                    setting="write-verify (test input, tolerance)",
                                    what=f"QAT-{bits} on simulated memristor hardware with write-verify programming",
                                    corpus=study.corpus, splits=setup.eval_splits)
        register_sweep(study, table, out)
        tables[bits] = table
    return tables
