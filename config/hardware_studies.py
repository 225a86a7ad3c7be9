"""The hardware studies on top of the main study: ``sis manager -r config/hardware_studies.py``.

Builds the main study (same corpus and setup choice as ``config/memristor_ted.py``, its jobs shared
through the graph) and adds:

- the converter sweep on the 4-bit devices: ADC precision and range bits, DAC bits
  (``users/memristor/converter_sweep.py``, ``output/converter_sweep/adc|dac/``);
- write-verify programming of the setup's ``write_verify`` grid: devices programmed again with
  verify rounds (``users/memristor/write_verify.py``, ``output/write_verify/qat<bits>/``);
- noise-aware training of the setup's ``noise_training`` grid: QAT models trained again with weight
  noise, on their own devices (``users/memristor/noise_training.py``, ``output/noise_training/qat<bits>/``);
- the memristive depthwise conv: devices of the ``depthwise_conv_bits`` models programmed again with
  the depthwise convs on crossbars too (``users/memristor/depthwise_conv.py``, ``output/depthwise_conv/``);
- multi-level cells of the setup's ``multilevel`` grid: devices programmed again with more conductance
  states per cell and fewer planes (``users/memristor/multilevel.py``, ``output/multilevel/qat<bits>/``);
- the crossbar budget of every memristor model beside its WER (``users/memristor/crossbar_budget.py``,
  ``output/crossbar_budget/``).
"""
from users.memristor.entry import main_study


def py():
    from users.memristor.converter_sweep import run_converter_sweep
    from users.memristor.crossbar_budget import run_crossbar_budget
    from users.memristor.depthwise_conv import run_depthwise_conv
    from users.memristor.multilevel import run_multilevel
    from users.memristor.noise_training import run_noise_training
    from users.memristor.write_verify import run_write_verify

    study = main_study()
    run_converter_sweep(study, weight_bits=4)
    run_write_verify(study)
    run_noise_training(study)
    run_depthwise_conv(study)
    run_multilevel(study)
    run_crossbar_budget(study)
