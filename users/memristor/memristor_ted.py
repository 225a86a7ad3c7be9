"""The TED-LIUM v2 memristor study (Rossenbach et al., 2025) as one job graph.

Stages: corpus → i6 preparation → lexicon → log-mel features → 4-gram KenLM → float and QAT
Conformer-CTC trainings → PTQ of the float model → priors → recognition over LM/prior-scale grids →
sclite on dev and test → crossbar programming of the QAT models (device k: seed k, k + 1 pre-cycling
steps) → memristor recognition with fixed scales → Tables 1–3 (scales tuned on dev, applied to test)
and the WER plot.

Only composition lives here: the jobs do the work, the profiles below and in
``memristor_asr.training.profiles`` hold the sizes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from sisyphus import tk

from memristor_asr.corpus.jobs import EmbeddedCorpusJob, PrepareTedliumJob
from memristor_asr.features.jobs import LogMelFeatureJob
from memristor_asr.lexicon.g2p import G2PConfig
from memristor_asr.lexicon.jobs import TedliumLexiconJob, TrainG2PJob
from memristor_asr.lm.jobs import (KenLMBinaryJob, KenLMEstimateJob, KenLMInterpolatedJob, KenLMPerplexityJob,
                                   ManifestTextJob, TedliumLmTextJob)
from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig
from memristor_asr.memristor.jobs import ProgramCrossbarsJob, SingleCellTableJob
from memristor_asr.quantization.jobs import PTQJob
from memristor_asr.recognition.jobs import RecognitionJob, grid_key
from memristor_asr.recognition.search import SearchConfig
from memristor_asr.report.jobs import GridPoint, Table2Job, Table3Job, WerPlotJob
from memristor_asr.scoring.jobs import ScliteJob
from memristor_asr.training.convergence import ConvergenceCheck
from memristor_asr.training.jobs import PriorJob, TrainJob
from memristor_asr.training.profiles import get_profile

__all__ = ["Experiment", "EXPERIMENTS", "run_memristor_ted", "print_tables"]


@dataclass(frozen=True)
class Experiment:
    """Recognition and hardware settings of one profile (model/training sizes: training.profiles).

    :param corpus_profile: embedded corpus size when no TED-LIUM root is given
    :param feature_chunks: parallel feature tasks per split
    :param search: beam settings
    :param lm_scales: LM scales tried for float, QAT and PTQ models (best reported)
    :param qat_prior_scales: prior scales tried for float and QAT models
    :param ptq_prior_scales: prior scales tried for PTQ models
    :param memristor_scales: fixed (LM, prior) scales of the memristor runs (paper: 2.0 / 0.5)
    :param memristor_bits: QAT weight bits run on simulated crossbars
    :param num_devices: programmed devices per weight-bit setting (paper: 10)
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

    corpus_profile: Optional[str]
    feature_chunks: int
    search: SearchConfig
    lm_scales: Tuple[float, ...]
    qat_prior_scales: Tuple[float, ...]
    ptq_prior_scales: Tuple[float, ...]
    memristor_scales: Tuple[float, float] = (2.0, 0.5)
    memristor_bits: Tuple[int, ...] = (8, 6, 5, 4, 3)
    num_devices: int = 10
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

    def __post_init__(self):
        if not isinstance(self.num_seeds, int) or self.num_seeds < 1:
            raise ValueError(f"Experiment.num_seeds must be a positive number of training seeds, got {self.num_seeds!r}")
        if not isinstance(self.programming, ProgrammingConfig) or not isinstance(self.read, ReadConfig):
            raise TypeError(f"Experiment.programming must be a ProgrammingConfig and Experiment.read a ReadConfig, "
                            f"got {type(self.programming).__name__} and {type(self.read).__name__}")
        if self.num_devices < 1:
            raise ValueError(f"Experiment.num_devices must be >= 1, got {self.num_devices!r}")
        if tuple(self.eval_splits) not in (("dev",), ("dev", "test")):
            # the scales are tuned on the first split: tuning on test would report a tuned test WER
            raise ValueError(f"Experiment.eval_splits must be ('dev',) or ('dev', 'test') (dev tunes the scales), "
                             f"got {self.eval_splits!r}")


EXPERIMENTS: Dict[str, Experiment] = {
    "paper": Experiment(
        corpus_profile=None, feature_chunks=20,
        search=SearchConfig(beam_size=1024, beam_size_token=12, beam_threshold=14.0),
        lm_scales=(1.8, 2.0, 2.2, 2.4, 2.6, 2.8), qat_prior_scales=(0.1, 0.3, 0.5, 0.7, 0.9),
        ptq_prior_scales=(0.5, 0.7, 0.9, 1.1),
        recog_rqmt={"cpu": 8, "mem": 16, "time": 48, "gpu": 1},
        program_rqmt={"cpu": 4, "mem": 16, "time": 12, "gpu": 1}),
    "mini": Experiment(
        corpus_profile="mini", feature_chunks=2,
        search=SearchConfig(beam_size=64, beam_size_token=12, beam_threshold=14.0),
        # the grids include the memristor runs' fixed prior scale 0.5, so that a QAT/memristor difference
        # is not a prior-scale difference (a grid point costs ~0.7 s of search; the forward is shared)
        lm_scales=(1.0, 2.0), qat_prior_scales=(0.3, 0.5), ptq_prior_scales=(0.3, 0.5), cell_pairs=5000,
        # pre-cycling: 2 instead of 50 random pulses per cycle step (device k: 2(k + 1) pulses) to fit
        # the time budget on 2 cores (programming cost is linear in the pulses: with 5, the 50 devices
        # took 17 core-minutes); devices stay independent through their seeds
        programming=ProgrammingConfig(pulses_per_cycle=2),
        # the network forward dominates and runs in one thread: one core per recognition task
        recog_rqmt={"cpu": 1, "mem": 4, "time": 2, "gpu": 0}),
    "ci": Experiment(
        corpus_profile="ci", feature_chunks=2,
        search=SearchConfig(beam_size=16, beam_size_token=8, beam_threshold=14.0),
        lm_scales=(2.0,), qat_prior_scales=(0.5,), ptq_prior_scales=(0.5,),
        memristor_bits=(4,), num_devices=2, cell_pairs=500,
        programming=ProgrammingConfig(pulses_per_cycle=5),
        # the ci models learn (a minute of training on 10 min of speech): the same convergence and
        # empty-hypothesis checks as mini and paper
        recog_rqmt={"cpu": 1, "mem": 2, "time": 1, "gpu": 0}),
}


@dataclass(frozen=True)
class StudyData:
    """The prepared data of a study: what the trainings and recognitions read (tk.Paths)."""

    train_segments: tk.Path
    train_features: tk.Path
    eval_segments: Dict[str, tk.Path]   # split -> segment manifest
    eval_stm: Dict[str, tk.Path]        # split -> reference STM
    eval_features: Dict[str, tk.Path]   # split -> features
    training_lexicon: tk.Path
    decoding_lexicon: tk.Path
    labels: tk.Path
    lm: tk.Path


def prepare_data(exp: "Experiment", *, corpus_root: Optional[tk.Path], prefix: str) -> StudyData:
    """Corpus (embedded when ``corpus_root`` is None) → i6 preparation → lexicon, features, 4-gram LM.

    Evaluation data are prepared for ``exp.eval_splits`` (dev first: it tunes the LM and the scales).

    Registers the LM's dev perplexity, the lexicon report and the prepared data under
    ``output/<prefix>/`` (``data/`` holds what tools/bench/convergence.py trains on).
    """
    if corpus_root is None:
        corpus = EmbeddedCorpusJob(profile=exp.corpus_profile, seed=0)
        corpus.add_alias(f"{prefix}/corpus")
        corpus_root = corpus.out_corpus_root
    prep = PrepareTedliumJob(corpus_root=corpus_root)
    splits = exp.eval_splits
    eval_segments = {s: prep.out_segments[s] for s in splits}
    g2p_model = None
    if exp.g2p is not None:
        g2p = TrainG2PJob(corpus_root=corpus_root, config=exp.g2p)
        g2p.add_alias(f"{prefix}/g2p")
        g2p_model = g2p.out_model
    lexicon = TedliumLexiconJob(corpus_root=corpus_root, train_segments=prep.out_segments["train"],
                                eval_segments=eval_segments, g2p_model=g2p_model,
                                g2p_config=exp.g2p or G2PConfig())
    train_features = LogMelFeatureJob(segments=lexicon.out_train_segments, num_chunks=exp.feature_chunks)
    eval_features = {s: LogMelFeatureJob(segments=seg, num_chunks=exp.feature_chunks).out_features
                     for s, seg in eval_segments.items()}
    dev_text = ManifestTextJob(segments=eval_segments["dev"]).out_text
    lm_text = TedliumLmTextJob(corpus_root=corpus_root, train_segments=lexicon.out_train_segments)
    arpas = {"single": KenLMEstimateJob(text=lm_text.out_text, order=4).out_arpa}
    interpolated = KenLMInterpolatedJob(corpus_root=corpus_root, train_segments=lexicon.out_train_segments,
                                        tuning_text=dev_text, order=4)
    arpas["interpolated"] = interpolated.out_arpa
    tk.register_output(f"{prefix}/lm/interpolation_report.json", interpolated.out_report)
    binaries = {}
    for name, arpa in arpas.items():
        binaries[name] = KenLMBinaryJob(arpa=arpa).out_binary
        perplexity = KenLMPerplexityJob(lm=binaries[name], text=dev_text)
        tk.register_output(f"{prefix}/lm/dev_perplexity_{name}", perplexity.out_perplexity)
    lm = binaries["interpolated" if exp.lm_interpolation else "single"]
    tk.register_output(f"{prefix}/lexicon/report.json", lexicon.out_report)
    data = StudyData(train_segments=lexicon.out_train_segments, train_features=train_features.out_features,
                     eval_segments=eval_segments, eval_stm={s: prep.out_stm[s] for s in splits},
                     eval_features=eval_features, training_lexicon=lexicon.out_training_lexicon,
                     decoding_lexicon=lexicon.out_decoding_lexicon, labels=lexicon.out_labels, lm=lm)
    registered = {"train_segments": data.train_segments, "dev_segments": eval_segments["dev"],
                  "train_features": data.train_features, "dev_features": eval_features["dev"],
                  "training_lexicon": data.training_lexicon, "labels": data.labels}
    for name, path in registered.items():
        suffix = os.path.basename(path.path).split(".", 1)[-1]  # keep .jsonl.gz etc.: readers go by suffix
        tk.register_output(f"{prefix}/data/{name}.{suffix}", path)
    return data


def run_memristor_ted(*, profile: str, corpus_root: Optional[tk.Path] = None, prefix: str = "memristor_ted"):
    """Build the whole study; registers tables under ``output/<prefix>/``.

    :param profile: ``paper``, ``mini`` or ``ci``
    :param corpus_root: a TEDLIUM_release2 directory; None: synthesise the embedded corpus
    :return: dict of the table jobs (for callers that want to add more)
    """
    train_p = get_profile(profile)
    exp = EXPERIMENTS[profile]

    embedded = corpus_root is None
    prepared = prepare_data(exp, corpus_root=corpus_root, prefix=prefix)
    train_features = prepared.train_features
    # the trainings' dev loss (convergence check, checkpoint choice) is on dev whatever the eval splits
    data = dict(train_features=train_features, dev_features=prepared.eval_features["dev"],
                train_manifest=prepared.train_segments, dev_manifest=prepared.eval_segments["dev"],
                lexicon=prepared.training_lexicon, labels=prepared.labels)
    eval_rqmt = {k: train_p.eval_rqmt[k] for k in ("cpu", "gpu", "mem", "time")}
    recog_common = dict(labels=prepared.labels, lexicon=prepared.decoding_lexicon, lm=prepared.lm, search=exp.search,
                        rqmt=exp.recog_rqmt)

    def recognize(name: str, checkpoint, prior, lm_scales, prior_scales, **extra) -> List[GridPoint]:
        """Recognition of every eval split over a scale grid; returns per grid point the segment scores
        per split (the table jobs pick the point by its WER on the first split)."""
        extra.setdefault("max_empty_fraction", exp.max_empty_fraction)
        keys = [grid_key(lm_s, pr_s) for lm_s in lm_scales for pr_s in prior_scales]
        points = [{} for _ in keys]
        for split in exp.eval_splits:
            recog = RecognitionJob(checkpoint=checkpoint, prior=prior, lm_scales=lm_scales, prior_scales=prior_scales,
                                   features=prepared.eval_features[split], segments=prepared.eval_segments[split],
                                   **recog_common, **extra)
            recog.add_alias(f"{prefix}/recog/{split}/{name}")
            for key, point in zip(keys, points):
                score = ScliteJob(ref=prepared.eval_stm[split], hyp=recog.out_ctm[key])
                tk.register_output(f"{prefix}/wer/{split}/{name}/{key}", score.out_wer)
                point[split] = score.out_segment_scores
        return points

    def train(name: str, weight_bits: Optional[int], seed: int, init_checkpoint: Optional[tk.Path] = None):
        job = TrainJob(model_config=train_p.model_config(weight_bits), train_config=train_p.train_config(weight_bits, seed),
                       init_checkpoint=init_checkpoint, convergence=exp.convergence, **data,
                       rqmt=train_p.train_rqmt)
        job.add_alias(f"{prefix}/train/{name}")
        tk.register_output(f"{prefix}/train/{name}/losses.csv", job.out_losses)
        prior = PriorJob(checkpoint=job.out_checkpoint, features=train_features,
                         batch_seconds=train_p.batch_seconds_eval, rqmt=eval_rqmt)
        return job.out_checkpoint, prior.out_prior

    # Results per table cell and training seed: [seed][grid point] (tuned) or [seed][device].
    seeds = [train_p.train.seed + i for i in range(exp.num_seeds)]
    baseline, ptq, qat, devices = [], {}, {}, {}
    lm_s, pr_s = exp.memristor_scales
    for seed in seeds:
        tag = "" if seed == seeds[0] else f"/seed{seed}"  # the first seed keeps the single-seed names
        # ------------------------------------------------------------ float baseline and PTQ
        float_ckpt, float_prior = train(f"float{tag}", None, seed)
        baseline.append(recognize(f"float{tag}", float_ckpt, float_prior, exp.lm_scales, exp.qat_prior_scales))
        for bits in train_p.ptq_bits:
            ptq_ckpt = PTQJob(float_checkpoint=float_ckpt, train_features=train_features,
                              weight_bits=bits, num_segments=train_p.ptq_num_segments, seed=train_p.ptq_seed,
                              batch_seconds=train_p.batch_seconds_eval, rqmt=eval_rqmt).out_checkpoint
            # the float model's prior: PTQ changes the weights, not what the model was trained to output;
            # low-bit PTQ may collapse (a result, not a failure), so no empty-hypothesis check
            ptq.setdefault(bits, []).append(recognize(f"ptq{bits}{tag}", ptq_ckpt, float_prior, exp.lm_scales,
                                                      exp.ptq_prior_scales, max_empty_fraction=None))
        # ------------------------------------------------------------ QAT, and QAT on memristors
        for bits in train_p.qat_bits:
            ckpt, prior = train(f"qat{bits}{tag}", bits, seed,
                                init_checkpoint=float_ckpt if train_p.qat_finetune is not None else None)
            qat.setdefault(bits, []).append(recognize(f"qat{bits}{tag}", ckpt, prior, exp.lm_scales,
                                                      exp.qat_prior_scales))
            if bits not in exp.memristor_bits:
                continue
            runs = []
            for k in range(exp.num_devices):
                device = ProgramCrossbarsJob(checkpoint=ckpt, device_index=k, programming=exp.programming,
                                             rqmt=exp.program_rqmt)
                device.add_alias(f"{prefix}/devices/qat{bits}{tag}/device{k}")
                runs += recognize(f"memristor{bits}{tag}/device{k}", ckpt, prior, (lm_s,), (pr_s,),
                                  programmed_device=device.out_device, read=exp.read, noise_seed=k)
            devices.setdefault(bits, []).append(runs)

    # ---------------------------------------------------------------- tables
    corpus = corpus_name(embedded=embedded)
    table1 = SingleCellTableJob(pairs=exp.cell_pairs, seed=0)
    table2 = Table2Job(baseline=baseline, ptq=ptq, qat=qat, corpus=corpus, splits=exp.eval_splits)
    table3 = Table3Job(baseline=baseline, devices=devices, corpus=corpus, splits=exp.eval_splits)
    plot = WerPlotJob(baseline=baseline, ptq=ptq, qat=qat, devices=devices, corpus=corpus, splits=exp.eval_splits)
    for name, job in (("table1", table1), ("table2", table2), ("table3", table3)):
        for ext in ("markdown", "latex", "csv"):
            out = getattr(job, f"out_{ext}")
            tk.register_output(f"{prefix}/{name}.{out.path.rsplit('.', 1)[1]}", out)
    tk.register_output(f"{prefix}/wer_vs_bits.png", plot.out_plot)
    tk.register_callback(print_tables, table2.out_markdown, table3.out_markdown)
    return {"table1": table1, "table2": table2, "table3": table3, "plot": plot}


def corpus_name(*, embedded: bool) -> str:
    """The corpus as titles and captions name it."""
    return "embedded synthetic corpus (TED-LIUM v2 layout)" if embedded else "TED-LIUM v2"


def print_tables(*paths: tk.Path) -> None:
    """Print finished tables to the manager's log (the main command ends with them)."""
    for p in paths:
        with open(p.get_path(), encoding="utf-8") as f:
            print("\n" + f.read(), flush=True)
