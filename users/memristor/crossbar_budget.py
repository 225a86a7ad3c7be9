"""The crossbar budget of the main study's memristor models: WER beside what the hardware costs.

For every QAT model the main study puts on memristors, one of its programmed devices gives the
layer shapes and tiles (all devices of a model have the same budget); ``CrossbarBudgetJob`` counts
array pairs, cells, DAC and ADC conversions and cell reads per second of audio and prices them with
literature energies (``memristor.budget``, ``docs/HARDWARE_STUDIES.md`` §7). The table puts the
WER over devices beside it; the plot shows WER against the energy estimate. Nothing is trained,
programmed or recognised again: the main study's jobs are reused through the graph.

Run with ``sis manager -r config/hardware_studies.py``.
"""
from __future__ import annotations

from sisyphus import tk

from memristor_asr.memristor.budget import EnergyConstants
from memristor_asr.memristor.jobs import CrossbarBudgetJob
from memristor_asr.report.jobs import CrossbarBudgetTableJob
from users.memristor.memristor_ted import Study, print_tables, register_table

__all__ = ["run_crossbar_budget"]


def run_crossbar_budget(study: Study, *, energy: EnergyConstants = EnergyConstants(),
                        prefix: str = "crossbar_budget") -> CrossbarBudgetTableJob:
    """Budget and WER of every memristor model of ``study`` (one training seed's devices).

    :param study: the built main study (``run_memristor_ted``)
    :param energy: per-operation energies
    :param prefix: output folder (``output/<prefix>/table.md``, ``wer_vs_energy.png`` …)
    """
    setup = study.setup
    if not study.device_scores:
        raise ValueError(f"run_crossbar_budget: the {setup.name!r} setup puts no model on memristors")
    budgets = {}
    for bits in study.device_scores:
        budget = CrossbarBudgetJob(programmed_device=study.devices[f"qat{bits}"][0], read=setup.read, energy=energy)
        tk.register_output(f"{prefix}/qat{bits}.budget.json", budget.out_budget)
        budgets[bits] = budget.out_budget
    table = CrossbarBudgetTableJob(devices=study.device_scores, budgets=budgets, corpus=study.corpus,
                                   splits=setup.eval_splits)
    register_table(table, f"{prefix}/table")
    tk.register_callback(print_tables, table.out_markdown)
    tk.register_output(f"{prefix}/wer_vs_energy.png", table.out_plot)
    return table

