"""Noise-aware training: does QAT with Gaussian weight noise per bit plane make a model survive
memristors better?

For each QAT model of the setup's ``noise_training`` grid and each noise level d, the QAT model is
trained again with ``ModelConfig.weight_noise = d`` (in training mode every quantised linear and
depthwise conv adds noise of std √2·d·2^i weight steps per magnitude bit plane i, ``nn/quant.py``;
docs/HARDWARE_STUDIES.md §4), the same way as the main study's QAT model (fine-tuned from the
float model when the setup's QAT is). Its devices are programmed as the main study's (device k:
seed k, same pre-cycling) and read with the same settings. The table gives, per model, the WER
over devices (avg with its 95 % interval, std, min, max) and the digital WER (fake-quantised, no
noise); the plain QAT model's row is the main study's own jobs, reused through the graph.

Run with ``sis manager -r config/hardware_studies.py``.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Optional

from memristor_asr.memristor.jobs import ProgramCrossbarsJob
from memristor_asr.report.jobs import NoiseTrainingTableJob
from users.memristor.memristor_ted import Study, register_sweep
from users.memristor.setups import NoiseTrainingSweep

__all__ = ["run_noise_training"]


def run_noise_training(study: Study, sweep: Optional[NoiseTrainingSweep] = None, *, num_devices: Optional[int] = None,
                       prefix: str = "noise_training") -> Dict[int, NoiseTrainingTableJob]:
    """One table and plot per weight bits of ``sweep`` (None: the setup's ``noise_training``); the
    first training seed's models.

    :param num_devices: devices per model (None: the setup's ``sweep_devices``, or all of its devices)
    :return: weight bits -> table job (outputs under ``output/<prefix>/qat<bits>/``)
    :raises ValueError: naming the weight bits if the study has no memristor devices of them
    """
    setup = study.setup
    sweep = setup.grid("noise_training", sweep)
    num_devices = study.sweep_size(num_devices)
    train_p = setup.training
    init = study.models["float"].checkpoint if train_p.qat_finetune is not None else None
    tables = {}
    for bits in sweep.weight_bits:
        plain = study.qat_devices(bits, prefix)[:num_devices]
        name, out = f"qat{bits}", f"{prefix}/qat{bits}"
        rows, digital = {}, {}

        def recognize(label: str, model, devices):
            digital[label] = [study.recognize(f"{label}/digital", model, setup.lm_scales, setup.qat_prior_scales,
                                              prefix=out)]
            rows[label] = [study.recognize_devices(label, model, devices, prefix=out)]  # one training seed

        # the main study's QAT model, its devices and recognitions (same jobs): the reference row
        recognize("none", study.models[name], plain)
        for noise in sweep.noise:
            label = f"noise{noise:g}"
            model = study.train(f"{name}-{label}", bits, train_p.train.seed, init_checkpoint=init, prefix=out,
                                model_config=dataclasses.replace(train_p.model_for(bits), weight_noise=noise))
            jobs = [ProgramCrossbarsJob(checkpoint=model.checkpoint, device_index=k, programming=setup.programming,
                                        rqmt=setup.program_rqmt) for k in range(num_devices)]
            for k, job in enumerate(jobs):
                job.add_alias(f"{out}/devices/{label}/device{k}")
            recognize(label, model, [j.out_device for j in jobs])
        table = NoiseTrainingTableJob(baseline=study.baseline, devices=rows, digital=digital,
                                      setting="training weight noise (per bit plane)",
                                      what=f"QAT-{bits} trained with bit-plane weight noise, on simulated memristor "
                                           "hardware", corpus=study.corpus, splits=setup.eval_splits)
        register_sweep(study, table, out)
        tables[bits] = table
    return tables
