"""The study's setups as values: :data:`PAPER` (the paper, on the real TED-LIUM v2), :data:`MINI` (the
embedded corpus on 2 CPU cores, the main command) and :data:`CI` (the test suite's whole-graph run).

A setup is one :class:`StudySetup`: data, model and training sizes, recognition grids and hardware in one
frozen value. A variant is a new value, e.g. ``dataclasses.replace(MINI, num_devices=3)``, passed to
``run_memristor_ted`` in your own ``users/`` file; nothing here needs editing.

* ``PAPER``: the paper's 12×384 Conformer (≈42M parameters), 50 epochs of 5 sub-epochs, 300 s
  batches, speed perturbation, GPU training (docs/STUDY_SETUP.md §3), the paper's grids and 10 devices.
* ``MINI``: a 2×144 Conformer and a few epochs, sized so that all seven trainings (float + QAT at 8, 6,
  5, 4, 3, 2 bits) take a few minutes together on 2 CPU cores; the QAT models are fine-tuned from the
  float model.
* ``CI``: the mini recipe at 64 instead of 144 dimensions on 10 min of speech, about a minute and a half
  per float training, with models that learn enough to emit words; QAT and PTQ at 8, 4 and 2 bits, one
  memristor bit width (4), 2 devices.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from memristor_asr.corpus.embedded.plan import CI_CORPUS, MINI_CORPUS, CorpusSize
from memristor_asr.lexicon.bpe import LABEL_UNITS, BpeConfig
from memristor_asr.lexicon.g2p import G2PConfig
from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig, WriteVerifyConfig
from memristor_asr.nn.config import ModelConfig, SpecAugmentConfig
from memristor_asr.recognition.search import SearchConfig
from memristor_asr.training.convergence import ConvergenceCheck
from memristor_asr.training.setup import TrainingSetup
from memristor_asr.training.trainer import TrainConfig

__all__ = ["WriteVerifySweep", "NoiseTrainingSweep", "MultiLevelSweep", "LabelUnitSweep", "StudySetup", "PAPER", "MINI",
           "CI", "SETUPS", "setup_named"]


@dataclass(frozen=True)
class WriteVerifySweep:
    """The grid of the write-verify study (``users/memristor/write_verify.py``); the default is the
    authors' follow-up grid: 4-, 5- and 8-bit models, up to 10 verify rounds at 0.4 V, tolerances
    1e-4 … 0.2.

    :param weight_bits: QAT models whose devices are programmed again with write-verify
    :param settings: write-verify settings, one table row each, beside the plain devices' row
    """

    weight_bits: Tuple[int, ...] = (4, 5, 8)
    settings: Tuple[WriteVerifyConfig, ...] = tuple(WriteVerifyConfig(tolerance=t)
                                                    for t in (1e-4, 0.025, 0.05, 0.1, 0.2))

    def __post_init__(self):
        if not self.weight_bits or not self.settings:
            raise ValueError(f"WriteVerifySweep needs weight bits and settings, got {self.weight_bits!r} and "
                             f"{len(self.settings)} setting(s)")
        for i, v in enumerate(self.settings):
            WriteVerifyConfig.require(v, f"WriteVerifySweep.settings[{i}]")


@dataclass(frozen=True)
class NoiseTrainingSweep:
    """The grid of the noise-aware training study (``users/memristor/noise_training.py``); the default
    is the authors' follow-up grid: 4- and 8-bit QAT with weight noise 0.05 (``ModelConfig.weight_noise``).

    :param weight_bits: QAT models trained again with weight noise (their plain devices are the reference)
    :param noise: training weight-noise levels, one table row each
    """

    weight_bits: Tuple[int, ...] = (4, 8)
    noise: Tuple[float, ...] = (0.05,)

    def __post_init__(self):
        if not self.weight_bits or not self.noise:
            raise ValueError(f"NoiseTrainingSweep needs weight bits and noise levels, got {self.weight_bits!r} and "
                             f"{self.noise!r}")
        for d in self.noise:
            if isinstance(d, bool) or not isinstance(d, (int, float)) or not d > 0:
                raise ValueError(f"NoiseTrainingSweep.noise: levels must be numbers > 0, got {d!r}")


@dataclass(frozen=True)
class MultiLevelSweep:
    """The grid of the multi-level cell study (``users/memristor/multilevel.py``): QAT models whose
    devices are programmed again with L-level cells (``ProgrammingConfig.levels``), fewer digit planes.

    :param weight_bits: QAT models (their binary devices are the reference row)
    :param levels: conductance states per cell, one table row each (> 2)
    """

    weight_bits: Tuple[int, ...] = (4, 8)
    levels: Tuple[int, ...] = (3, 4)

    def __post_init__(self):
        if not self.weight_bits or not self.levels or any(not isinstance(v, int) or v <= 2 for v in self.levels):
            raise ValueError(f"MultiLevelSweep needs weight bits and levels > 2, got {self.weight_bits!r} and "
                             f"{self.levels!r}")


@dataclass(frozen=True)
class LabelUnitSweep:
    """The label-unit comparison (``users/memristor/label_units.py``): the study run again with BPE
    labels (``StudySetup.bpe``) at a subset of its bit widths, beside the phoneme rows.

    :param qat_bits: BPE QAT models trained (fine-tuned from the BPE float model where the setup's QAT does)
    :param memristor_bits: of those, the ones programmed onto the setup's ``num_devices`` devices
    :param piece_lm_order: n-gram order of the lexicon-free search's LM over pieces (a word takes
        two or more pieces at the embedded corpus's 64, so 6 pieces span about two to three words)
    :param lexicon_free_lm_scales: piece-LM scales tried by the lexicon-free search (with the setup's
        QAT prior scales; best on dev reported)
    :param float_training: the BPE float model's training instead of the setup's (None: the same);
        QAT models fine-tune or train as the setup's do
    """

    qat_bits: Tuple[int, ...] = (8, 4)
    memristor_bits: Tuple[int, ...] = (8, 4)
    piece_lm_order: int = 6
    lexicon_free_lm_scales: Tuple[float, ...] = (0.5, 1.0)
    float_training: Optional[TrainConfig] = None

    def __post_init__(self):
        if not set(self.memristor_bits) <= set(self.qat_bits):
            raise ValueError(f"LabelUnitSweep.memristor_bits {self.memristor_bits!r} must be among its qat_bits "
                             f"{self.qat_bits!r} (a device is programmed from a QAT model)")
        if not isinstance(self.piece_lm_order, int) or self.piece_lm_order < 2:
            raise ValueError(f"LabelUnitSweep.piece_lm_order must be an integer >= 2, got {self.piece_lm_order!r}")
        if self.float_training is not None:
            TrainConfig.require(self.float_training, "LabelUnitSweep.float_training", " or None")

    def bpe_setup(self, setup: "StudySetup") -> "StudySetup":
        """The BPE variant of the phoneme ``setup`` that the comparison runs: its label unit, these
        bits, no PTQ, and ``float_training``.

        :raises ValueError: naming the setting, if the bits are not the setup's (no phoneme row to compare)
        """
        if setup.label_unit != "phoneme":
            raise ValueError(f"the label-unit comparison needs a phoneme setup, not label_unit={setup.label_unit!r}")
        for name, bits, have in (("qat_bits", self.qat_bits, setup.training.qat_bits),
                                 ("memristor_bits", self.memristor_bits, setup.memristor_bits)):
            missing = [b for b in bits if b not in have]
            if missing:
                raise ValueError(f"label_units.{name} {missing} are not among the {setup.name!r} setup's {name} "
                                 f"{tuple(have)} (the phoneme rows to compare with)")
        training = dataclasses.replace(setup.training, qat_bits=self.qat_bits, ptq_bits=(),
                                       train=self.float_training or setup.training.train)
        return dataclasses.replace(setup, name=f"{setup.name}-bpe", label_unit="bpe", training=training,
                                   memristor_bits=self.memristor_bits)


@dataclass(frozen=True)
class StudySetup:
    """Everything that sizes one run of the study: data, model and training, recognition grids, hardware.

    A value: compose a variant with ``dataclasses.replace(MINI, num_devices=3)`` in your own file.

    :param name: what the setup is called in logs (``paper``, ``mini``, ``ci`` for the shipped ones)
    :param corpus: the embedded corpus to synthesise when no TED-LIUM root is given (``MINI_CORPUS``,
        ``CI_CORPUS`` or a ``CorpusSize`` of your own); None: the setup needs the real corpus
    :param feature_chunks: parallel feature tasks per split
    :param training: model and training sizes (float, QAT, PTQ)
    :param search: beam settings
    :param lm_scales: LM scales tried for float, QAT and PTQ models (best reported)
    :param qat_prior_scales: prior scales tried for float and QAT models
    :param ptq_prior_scales: prior scales tried for PTQ models
    :param memristor_scales: fixed (LM, prior) scales of the memristor runs (paper: 2.0 / 0.5)
    :param memristor_bits: QAT weight bits run on simulated crossbars
    :param num_devices: programmed devices per weight-bit setting (paper: 10)
    :param sweep_devices: devices per setting in the hardware studies' sweeps (read sweeps
        ``users/memristor/converter_sweep.py``, write-verify ``users/memristor/write_verify.py``);
        None: all ``num_devices``
    :param write_verify: the write-verify study's grid
    :param noise_training: the noise-aware training study's grid
    :param multilevel: the multi-level cell study's grid
    :param depthwise_conv_bits: QAT models whose devices the depthwise-conv study programs again with
        the blocks' depthwise convs on crossbars too (``users/memristor/depthwise_conv.py``)
    :param label_unit: the network's output labels, one of ``LABEL_UNITS``: ``phoneme`` (the paper: 39
        ARPAbet phonemes, their word-end copies and the blank) or ``bpe`` (the pieces of a sentencepiece
        model of the train transcripts, ``bpe``, and the blank); targets, output layer, prior and the
        decoding lexicon follow from it, the word-level LM and the vocabulary stay the same
    :param bpe: the sentencepiece model of ``label_unit="bpe"`` (paper profile: BPE 500, as ESPnet's
        TED-LIUM v2 recipe)
    :param label_units: the label-unit comparison's grid
    :param cell_pairs: pairs for the single-cell table (paper: 5000)
    :param programming: crossbar tiles and programming pulses of the devices (a change programs new
        devices)
    :param read: how the memristor recognitions read the devices: DAC, ADC, noise, read path (a change
        re-runs only the recognitions, on the same devices)
    :param convergence: when a finished training counts as failed (its job stops with an error)
    :param max_empty_fraction: a recognition of a float, QAT or memristor model with a larger share
        of empty hypotheses fails (None: no check)
    :param g2p: Sequitur G2P settings for the train OOVs (the i6 setup's); None: look them up in the CMU
        dictionary instead
    :param lm_interpolation: True (the paper): per-source 4-grams interpolated with weights tuned on
        dev; False: one 4-gram on all LM text (both dev perplexities are registered either way)
    :param num_seeds: training seeds per model (seeds 1..n); with more than one, the tables report
        the mean ± std over seeds (the paper: 1)
    :param eval_splits: splits every system is recognised and scored on: dev tunes the scales (the grid
        point with the lowest dev WER is reported on every split), test only applies them
    :param recog_rqmt: rqmt of a recognition task (cpu = decoding processes)
    :param program_rqmt: rqmt of a crossbar programming task
    """

    name: str
    corpus: Optional[CorpusSize]
    feature_chunks: int
    training: TrainingSetup
    search: SearchConfig
    lm_scales: Tuple[float, ...]
    qat_prior_scales: Tuple[float, ...]
    ptq_prior_scales: Tuple[float, ...]
    memristor_scales: Tuple[float, float] = (2.0, 0.5)
    memristor_bits: Tuple[int, ...] = (8, 6, 5, 4, 3)
    num_devices: int = 10
    sweep_devices: Optional[int] = None
    write_verify: WriteVerifySweep = WriteVerifySweep()
    noise_training: NoiseTrainingSweep = NoiseTrainingSweep()
    multilevel: MultiLevelSweep = MultiLevelSweep()
    depthwise_conv_bits: Tuple[int, ...] = (8, 5, 4)
    label_unit: str = "phoneme"
    bpe: BpeConfig = BpeConfig()
    label_units: LabelUnitSweep = LabelUnitSweep()
    cell_pairs: int = 5000
    programming: ProgrammingConfig = ProgrammingConfig()
    read: ReadConfig = ReadConfig()
    convergence: ConvergenceCheck = ConvergenceCheck()
    max_empty_fraction: Optional[float] = 0.5
    g2p: Optional[G2PConfig] = G2PConfig()
    lm_interpolation: bool = True
    num_seeds: int = 1
    eval_splits: Tuple[str, ...] = ("dev", "test")
    recog_rqmt: Dict[str, float] = field(default_factory=lambda: {"cpu": 2, "mem": 4, "time": 2, "gpu": 0})
    program_rqmt: Dict[str, float] = field(default_factory=lambda: {"cpu": 1, "mem": 4, "time": 1, "gpu": 0})

    def grid(self, name: str, value=None):
        """The hardware-study grid ``name`` of this setup (e.g. ``write_verify``), or ``value`` instead.

        :raises TypeError: if ``value`` is not of the grid's type
        """
        default = getattr(self, name)
        if value is None:
            return default
        if not isinstance(value, type(default)):
            raise TypeError(f"StudySetup.{name}: expected a {type(default).__name__}, got {type(value).__name__}")
        return value

    @property
    def num_labels(self) -> Optional[int]:
        """The network's outputs for the label unit; None: the model config's (the 79 phoneme labels)."""
        return self.bpe.num_labels if self.label_unit == "bpe" else None

    def model_for(self, weight_bits: Optional[int] = None, model: Optional[ModelConfig] = None) -> ModelConfig:
        """The model the study trains for ``weight_bits`` (``TrainingSetup.model_for``), or ``model``,
        with the output layer of the label unit."""
        cfg = self.training.model_for(weight_bits) if model is None else model
        return cfg if self.num_labels is None else cfg.replace(num_labels=self.num_labels)

    def __post_init__(self):
        if self.label_unit not in LABEL_UNITS:
            raise ValueError(f"StudySetup.label_unit: unknown label unit {self.label_unit!r}; known: {list(LABEL_UNITS)}")
        if not isinstance(self.bpe, BpeConfig):
            raise TypeError(f"StudySetup.bpe must be a BpeConfig, got {type(self.bpe).__name__}")
        if not isinstance(self.num_seeds, int) or self.num_seeds < 1:
            raise ValueError(f"StudySetup.num_seeds must be a positive number of training seeds, got {self.num_seeds!r}")
        if not isinstance(self.programming, ProgrammingConfig) or not isinstance(self.read, ReadConfig):
            raise TypeError(f"StudySetup.programming must be a ProgrammingConfig and StudySetup.read a ReadConfig, "
                            f"got {type(self.programming).__name__} and {type(self.read).__name__}")
        if self.num_devices < 1:
            raise ValueError(f"StudySetup.num_devices must be >= 1, got {self.num_devices!r}")
        if tuple(self.eval_splits) not in (("dev",), ("dev", "test")):
            # the scales are tuned on the first split: tuning on test would report a tuned test WER
            raise ValueError(f"StudySetup.eval_splits must be ('dev',) or ('dev', 'test') (dev tunes the scales), "
                             f"got {self.eval_splits!r}")


PAPER = StudySetup(
    name="paper",
    corpus=None, feature_chunks=20,
    search=SearchConfig(beam_size=1024, beam_size_token=12, beam_threshold=14.0),
    lm_scales=(1.8, 2.0, 2.2, 2.4, 2.6, 2.8), qat_prior_scales=(0.1, 0.3, 0.5, 0.7, 0.9),
    ptq_prior_scales=(0.5, 0.7, 0.9, 1.1),
    recog_rqmt={"cpu": 8, "mem": 16, "time": 48, "gpu": 1},
    program_rqmt={"cpu": 4, "mem": 16, "time": 12, "gpu": 1},
    training=TrainingSetup(
        model=ModelConfig(),
        train=TrainConfig(num_epochs=50, partition_epoch=5, batch_seconds=300.0, seqs_per_bin=1000,
                          speed_factors=(0.9, 1.0, 1.1)),
        qat_seqs_per_bin=4000,
        batch_seconds_eval=300.0,
        # the 207 h train split's features (~24 GB float32) are read per sequence, not held in memory
        # (FeatureReader loads only files that fit); 16 GB covers the model, the batches and workers
        train_rqmt={"cpu": 8, "gpu": 1, "mem": 16, "time": 168},
        eval_rqmt={"cpu": 4, "gpu": 1, "mem": 32, "time": 12},
    ),
)


MINI = StudySetup(
    name="mini",
    corpus=MINI_CORPUS, feature_chunks=2,
    search=SearchConfig(beam_size=64, beam_size_token=12, beam_threshold=14.0),
    # the grids include the memristor runs' fixed prior scale 0.5, so that a QAT/memristor difference
    # is not a prior-scale difference (a grid point costs ~0.7 s of search; the forward is shared)
    lm_scales=(1.0, 2.0), qat_prior_scales=(0.3, 0.5), ptq_prior_scales=(0.3, 0.5), cell_pairs=5000,
    # the converter sweeps read 3 of the 10 devices per setting: 11 settings x 10 devices would take
    # about an hour on 2 cores
    sweep_devices=3,
    # write-verify on the 4-bit model: the follow-up's 0.4 V test input (where an ON cell reads ~0.72,
    # so it fails any tolerance up to 0.2 and is only re-cycled) at one tolerance, and the DAC's full
    # scale 0.6 V (ON ~1.1) at three; each setting programs its devices anew (4.3 CPU-minutes in all)
    write_verify=WriteVerifySweep(weight_bits=(4,), settings=(
        WriteVerifyConfig(tolerance=0.1, test_voltage=0.4),
        *(WriteVerifyConfig(tolerance=t, test_voltage=0.6) for t in (0.2, 0.1, 0.05)))),
    # noise-aware training of the 4-bit model: the follow-up's 0.05 (≈ 0.3 weight steps in all at 4 bits)
    # and 0.2 (≈ 1.3 steps); each level is one more QAT fine-tune and its devices
    noise_training=NoiseTrainingSweep(weight_bits=(4,), noise=(0.05, 0.2)),
    depthwise_conv_bits=(4,),
    # 3 and 4 levels: 2 digit planes instead of 3 bit planes at 4 bits; 8 levels: one plane
    multilevel=MultiLevelSweep(weight_bits=(4,), levels=(3, 4, 8)),
    # pre-cycling: 2 instead of 50 random pulses per cycle step (device k: 2(k + 1) pulses) to fit
    # the time budget on 2 cores (programming cost is linear in the pulses: with 5, the 50 devices
    # took 17 core-minutes); devices stay independent through their seeds
    programming=ProgrammingConfig(pulses_per_cycle=2),
    # the network forward dominates and runs in one thread: one core per recognition task
    recog_rqmt={"cpu": 1, "mem": 4, "time": 2, "gpu": 0},
    training=TrainingSetup(
        # Measured on ~45 min of espeak-ng speech (2 cores): with no dropout, no SpecAugment and
        # normalised input, two wide blocks leave the CTC blank plateau within ~500 steps; the runs
        # are far too short (2 epochs) to overfit, so the regularisers only slowed learning down.
        model=ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=144, ff_dim=288, num_heads=4, num_blocks=2,
                          conv_kernel_size=15, dropout=0.0, att_weights_dropout=0.0, final_dropout=0.0,
                          feature_normalization=True, specaugment=SpecAugmentConfig(enabled=False)),
        # The CTC blank plateau lasts about 2 epochs here whatever the batch size (3, 6 or 12 s) and
        # learning rate (measured on 2 cores); with the former 4 epochs at a 3e-3 peak some seeds never
        # left it. Hence 6 epochs, so that the plateau takes at most about a third of the training, a
        # rate of 1e-3 from the start (1.5e-3 peak after 10 % of the run, then a long decay), and 12 s
        # batches, which halve the per-step overhead of these small models on CPU.
        train=TrainConfig(num_epochs=6, partition_epoch=4, batch_seconds=12.0, seqs_per_bin=100,
                          lr_start=1e-3, lr_peak=1.5e-3, lr_after_decay=4e-4, lr_final=1e-5,
                          lr_up_fraction=0.1, lr_down_fraction=0.6, speed_factors=(0.9, 1.0, 1.1)),
        qat_seqs_per_bin=400,
        # QAT fine-tunes the float model of its seed for one epoch instead of six from scratch: on
        # 2 cores the seven trainings took 21 min, most of the 30-minute budget (a QAT epoch costs 1.5
        # float epochs), and a fine-tuned model never meets the blank plateau. Measured (seed 1):
        # QAT-8 dev loss 1.56 after one epoch (float 1.57), QAT-2 2.01
        qat_finetune=TrainConfig(num_epochs=1, partition_epoch=4, batch_seconds=12.0, seqs_per_bin=400,
                                 lr_start=3e-4, lr_peak=3e-4, lr_after_decay=1e-4, lr_final=1e-5,
                                 lr_up_fraction=0.25, lr_down_fraction=0.5, speed_factors=(0.9, 1.0, 1.1)),
        batch_seconds_eval=60.0,
        train_rqmt={"cpu": 1, "gpu": 0, "mem": 4, "time": 1},
        eval_rqmt={"cpu": 1, "gpu": 0, "mem": 2, "time": 1},
    ),
)


# BPE on the embedded corpus (1057 train word types): 64 pieces (2–3 per word). The BPE float model
# stays on the CTC blank plateau longer than the phoneme one (measured, seed 1, 2 cores: it leaves it
# after about 3.5 epochs with 64 pieces and 4.5 with 128, against 2 for phonemes; with the phoneme
# recipe's 6 epochs BPE 128 ended at a greedy dev error rate of 0.86), hence 64 pieces and 12 epochs
MINI = dataclasses.replace(MINI, bpe=BpeConfig(vocab_size=64), label_units=LabelUnitSweep(
    float_training=dataclasses.replace(MINI.training.train, num_epochs=12)))


CI = StudySetup(
    name="ci",
    corpus=CI_CORPUS, feature_chunks=2,
    search=SearchConfig(beam_size=16, beam_size_token=8, beam_threshold=14.0),
    lm_scales=(2.0,), qat_prior_scales=(0.5,), ptq_prior_scales=(0.5,),
    memristor_bits=(4,), num_devices=2, cell_pairs=500,
    write_verify=WriteVerifySweep(weight_bits=(4,), settings=(WriteVerifyConfig(tolerance=0.1, test_voltage=0.6),)),
    noise_training=NoiseTrainingSweep(weight_bits=(4,), noise=(0.2,)),
    depthwise_conv_bits=(4,),
    multilevel=MultiLevelSweep(weight_bits=(4,), levels=(4,)),
    # BPE on the ci corpus's few hundred words: 32 pieces, QAT-4 and its devices; the float model
    # trains twice as long as the phoneme one (see MINI's BPE note)
    bpe=BpeConfig(vocab_size=32),
    programming=ProgrammingConfig(pulses_per_cycle=5),
    # the ci models learn (a minute of training on 10 min of speech): the same convergence and
    # empty-hypothesis checks as mini and paper
    recog_rqmt={"cpu": 1, "mem": 2, "time": 1, "gpu": 0},
    training=TrainingSetup(
        # The mini recipe at 64 instead of 144 dimensions, on 10 min of speech: it leaves the blank plateau
        # after 3-7 of its 12 epochs (measured for seeds 1-3 on 2 cores: dev greedy label error rate
        # 0.43-0.63 at the end), so the test suite's models emit words. 32 dims with dropout and
        # SpecAugment on 80 s of speech never left the plateau.
        model=dataclasses.replace(MINI.training.model, model_dim=64, ff_dim=128, conv_kernel_size=7),
        # 3 s batches and one sub-epoch per epoch on the small corpus; no speed perturbation
        train=dataclasses.replace(MINI.training.train, num_epochs=12, partition_epoch=1, batch_seconds=3.0,
                                  seqs_per_bin=50, speed_factors=()),
        qat_seqs_per_bin=50,
        # as in mini: QAT fine-tunes the float model of its seed (two epochs)
        qat_finetune=dataclasses.replace(MINI.training.qat_finetune, num_epochs=2, partition_epoch=2,
                                         batch_seconds=3.0, seqs_per_bin=100, speed_factors=()),
        # three of the six widths (the top, the memristor width and the bottom): the whole graph and its
        # tables as with six, at half the suite's cost; the graph tests build all six for mini and paper
        qat_bits=(8, 4, 2), ptq_bits=(8, 4, 2),
        ptq_num_segments=20,
        batch_seconds_eval=30.0,
        train_rqmt={"cpu": 1, "gpu": 0, "mem": 2, "time": 0.5},
        eval_rqmt={"cpu": 1, "gpu": 0, "mem": 2, "time": 0.5},
    ),
)


CI = dataclasses.replace(CI, label_units=LabelUnitSweep(
    qat_bits=(4,), memristor_bits=(4,), float_training=dataclasses.replace(CI.training.train, num_epochs=24)))


#: the shipped setups by name (for the ``SIS_MEMRISTOR_PROFILE`` override of the entry config)
SETUPS: Dict[str, StudySetup] = {s.name: s for s in (PAPER, MINI, CI)}


def setup_named(name: str) -> StudySetup:
    """:raises KeyError: naming the known setups"""
    try:
        return SETUPS[name]
    except KeyError:
        raise KeyError(f"unknown setup {name!r}; known: {sorted(SETUPS)}") from None
