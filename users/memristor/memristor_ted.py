"""The TED-LIUM v2 memristor study (Rossenbach et al., 2025) as one job graph.

Stages: corpus → i6 preparation → lexicon → log-mel features → 4-gram KenLM → float and QAT
Conformer-CTC trainings → PTQ of the float model → priors → recognition over LM/prior-scale grids →
sclite on dev and test → crossbar programming of the QAT models (device k: seed k, k + 1 pre-cycling
steps) → memristor recognition with fixed scales → Tables 1–3 (scales tuned on dev, applied to test)
and the WER plot.

Only composition lives here: the jobs do the work, a :class:`~users.memristor.setups.StudySetup`
(``users/memristor/setups.py``) holds the sizes, and the returned :class:`Study` gives other users/
files the trained models, devices and a ``recognize`` helper, so that a further experiment reuses the
jobs of this one through the graph (``users/memristor/adc_sweep.py`` is an example).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from sisyphus import tk

from memristor_asr.corpus.jobs import EmbeddedCorpusJob, PrepareTedliumJob
from memristor_asr.features.jobs import LogMelFeatureJob
from memristor_asr.lexicon.g2p import G2PConfig
from memristor_asr.lexicon.jobs import BpeLexiconJob, TedliumLexiconJob, TrainG2PJob, TrainSentencePieceJob
from memristor_asr.lm.jobs import (KenLMBinaryJob, KenLMEstimateJob, KenLMInterpolatedJob, KenLMPerplexityJob,
                                   ManifestTextJob, TedliumLmTextJob)
from memristor_asr.memristor.jobs import ProgramCrossbarsJob, SingleCellTableJob
from memristor_asr.nn.config import ModelConfig
from memristor_asr.quantization.jobs import PTQJob
from memristor_asr.recognition.jobs import RecognitionJob, grid_key
from memristor_asr.report.jobs import DeviceSweepPlotJob, GridPoint, Table2Job, Table3Job, WerPlotJob
from memristor_asr.scoring.jobs import ScliteJob
from memristor_asr.training.jobs import PriorJob, TrainJob
from users.memristor.setups import StudySetup

__all__ = ["StudyData", "TrainedModel", "Study", "prepare_data", "run_memristor_ted", "register_table",
           "register_sweep", "print_tables"]


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
    corpus_root: Optional[tk.Path] = None  # the TEDLIUM_release2 directory given (None: the embedded corpus)
    lm_text: Optional[tk.Path] = None      # the word-level LM's training text
    sentencepiece_model: Optional[tk.Path] = None  # with BPE labels


def prepare_data(setup: StudySetup, *, corpus_root: Optional[tk.Path], prefix: str) -> StudyData:
    """Corpus (embedded when ``corpus_root`` is None) → i6 preparation → lexicon, features, 4-gram LM.

    Evaluation data are prepared for ``setup.eval_splits`` (dev first: it tunes the LM and the scales).
    With ``setup.label_unit == "bpe"`` a sentencepiece model of the train transcripts spells the
    phoneme lexicons' words: labels and lexicons in pieces, the same segments, vocabulary and LM.

    Registers the LM's dev perplexity, the lexicon report and the prepared data under
    ``output/<prefix>/`` (``data/`` holds what tools/bench/convergence.py trains on).
    """
    given_root = corpus_root
    if corpus_root is None:
        if setup.corpus is None:
            raise ValueError(f"setup {setup.name!r} has no embedded corpus (StudySetup.corpus is None): "
                             f"give it a TED-LIUM v2 root (TEDLIUM2_ROOT)")
        corpus = EmbeddedCorpusJob(size=setup.corpus, seed=0)
        corpus.add_alias(f"{prefix}/corpus")
        corpus_root = corpus.out_corpus_root
    prep = PrepareTedliumJob(corpus_root=corpus_root)
    splits = setup.eval_splits
    eval_segments = {s: prep.out_segments[s] for s in splits}
    g2p_model = None
    if setup.g2p is not None:
        g2p = TrainG2PJob(corpus_root=corpus_root, config=setup.g2p)
        g2p.add_alias(f"{prefix}/g2p")
        g2p_model = g2p.out_model
    lexicon = TedliumLexiconJob(corpus_root=corpus_root, train_segments=prep.out_segments["train"],
                                eval_segments=eval_segments, g2p_model=g2p_model,
                                g2p_config=setup.g2p or G2PConfig())
    train_features = LogMelFeatureJob(segments=lexicon.out_train_segments, num_chunks=setup.feature_chunks)
    eval_features = {s: LogMelFeatureJob(segments=seg, num_chunks=setup.feature_chunks).out_features
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
    lm = binaries["interpolated" if setup.lm_interpolation else "single"]
    tk.register_output(f"{prefix}/lexicon/report.json", lexicon.out_report)
    labels, training_lexicon, decoding_lexicon = \
        lexicon.out_labels, lexicon.out_training_lexicon, lexicon.out_decoding_lexicon
    sentencepiece_model = None
    if setup.label_unit == "bpe":
        sentencepiece = TrainSentencePieceJob(text=ManifestTextJob(segments=lexicon.out_train_segments).out_text,
                                              config=setup.bpe)
        sentencepiece.add_alias(f"{prefix}/sentencepiece")
        sentencepiece_model = sentencepiece.out_model
        pieces = BpeLexiconJob(sentencepiece_model=sentencepiece_model, training_lexicon=training_lexicon,
                               decoding_lexicon=decoding_lexicon)
        labels, training_lexicon, decoding_lexicon = \
            pieces.out_labels, pieces.out_training_lexicon, pieces.out_decoding_lexicon
        tk.register_output(f"{prefix}/lexicon/bpe_report.json", pieces.out_report)
        tk.register_output(f"{prefix}/lexicon/bpe_vocab.txt", sentencepiece.out_vocab)
    data = StudyData(train_segments=lexicon.out_train_segments, train_features=train_features.out_features,
                     eval_segments=eval_segments, eval_stm={s: prep.out_stm[s] for s in splits},
                     eval_features=eval_features, training_lexicon=training_lexicon,
                     decoding_lexicon=decoding_lexicon, labels=labels, lm=lm, corpus_root=given_root,
                     lm_text=lm_text.out_text, sentencepiece_model=sentencepiece_model)
    registered = {"train_segments": data.train_segments, "dev_segments": eval_segments["dev"],
                  "train_features": data.train_features, "dev_features": eval_features["dev"],
                  "training_lexicon": data.training_lexicon, "labels": data.labels}
    for name, path in registered.items():
        suffix = os.path.basename(path.path).split(".", 1)[-1]  # keep .jsonl.gz etc.: readers go by suffix
        tk.register_output(f"{prefix}/data/{name}.{suffix}", path)
    return data


@dataclass(frozen=True)
class TrainedModel:
    """A model of the study as recognitions use it: its checkpoint and the prior to subtract."""

    checkpoint: tk.Path
    prior: tk.Path


@dataclass
class Study:
    """The built study, for ``users/`` files that add experiments on top of it (same jobs, reused).

    :param setup: the setup it was built from
    :param prefix: its folder under ``output/`` and ``alias/``
    :param data: the prepared data
    :param models: by name: ``float``, ``qat8`` … ``qat2``, ``ptq8`` … ``ptq2`` (PTQ: with the float
        model's prior); further seeds as ``float/seed2`` …
    :param devices: programmed device files per QAT model name (``qat4`` …), device k at index k
    :param corpus: the corpus as titles and captions name it
    :param baseline: the float model's segment scores per seed and grid point (the tables' reference row)
    :param qat_scores: weight bits -> segment scores per seed and grid point of the QAT model (digital)
    :param device_scores: weight bits -> segment scores per seed and device of the QAT model on
        memristors (Table 3's input)
    :param tables: the report jobs: ``table1``, ``table2``, ``table3``, ``plot``
    """

    setup: StudySetup
    prefix: str
    data: StudyData
    corpus: str
    models: Dict[str, TrainedModel] = field(default_factory=dict)
    devices: Dict[str, List[tk.Path]] = field(default_factory=dict)
    baseline: List[List[GridPoint]] = field(default_factory=list)
    qat_scores: Dict[int, List[List[GridPoint]]] = field(default_factory=dict)
    device_scores: Dict[int, List[List[GridPoint]]] = field(default_factory=dict)
    tables: Dict[str, object] = field(default_factory=dict)

    def train(self, name: str, weight_bits: Optional[int], seed: int, *, init_checkpoint: Optional[tk.Path] = None,
              model_config: Optional[ModelConfig] = None, prefix: Optional[str] = None) -> TrainedModel:
        """Train a model of the setup (and its prior); registered in ``models`` under ``name``.

        :param weight_bits: None: the float model; else a QAT model of these bits (its training
            fine-tunes ``init_checkpoint`` when the setup's QAT does)
        :param model_config: instead of the setup's model for ``weight_bits`` (e.g. with weight noise)
        :param prefix: output folder (default: the study's); ``train/<name>/losses.csv`` under it
        """
        prefix = self.prefix if prefix is None else prefix
        train_p, data = self.setup.training, self.data
        job = TrainJob(model_config=self.setup.model_for(weight_bits, model_config),
                       train_config=train_p.training_for(weight_bits, seed), init_checkpoint=init_checkpoint,
                       convergence=self.setup.convergence, train_features=data.train_features,
                       # the dev loss (convergence check, checkpoint choice) is on dev whatever the eval splits
                       dev_features=data.eval_features["dev"], train_manifest=data.train_segments,
                       dev_manifest=data.eval_segments["dev"], lexicon=data.training_lexicon, labels=data.labels,
                       rqmt=train_p.train_rqmt)
        job.add_alias(f"{prefix}/train/{name}")
        tk.register_output(f"{prefix}/train/{name}/losses.csv", job.out_losses)
        prior = PriorJob(checkpoint=job.out_checkpoint, features=data.train_features,
                         batch_seconds=train_p.batch_seconds_eval, rqmt=self.eval_rqmt)
        self.models[name] = TrainedModel(job.out_checkpoint, prior.out_prior)
        return self.models[name]

    @property
    def eval_rqmt(self) -> Dict[str, float]:
        """rqmt of the model-evaluation jobs (prior, PTQ calibration)."""
        return {k: self.setup.training.eval_rqmt[k] for k in ("cpu", "gpu", "mem", "time")}

    def qat_devices(self, weight_bits: int, study: str) -> List[tk.Path]:
        """The programmed devices of the ``weight_bits`` QAT model (first training seed).

        :param study: who asks, for the message (e.g. ``write_verify``)
        :raises ValueError: if the setup puts no such model on memristors
        """
        name = f"qat{weight_bits}"
        if name not in self.devices:
            raise ValueError(f"{study}: the {self.setup.name!r} setup programs no {weight_bits}-bit devices "
                             f"(memristor_bits={self.setup.memristor_bits})")
        return self.devices[name]

    def sweep_size(self, num_devices: Optional[int] = None) -> int:
        """Devices per setting of a hardware study: ``num_devices``, else the setup's ``sweep_devices``,
        else all of its devices."""
        if num_devices is not None:
            return num_devices
        return self.setup.sweep_devices or self.setup.num_devices

    def recognize_devices(self, name: str, model: TrainedModel, devices: Sequence[tk.Path], *,
                          prefix: Optional[str] = None, read=None) -> List[GridPoint]:
        """Recognise ``model`` on each programmed device (device k as ``<name>/device<k>``, read-noise
        seed k) at the setup's fixed memristor scales, read with ``read`` (default: the setup's).

        :return: the segment scores per device, in device order
        """
        lm_s, pr_s = self.setup.memristor_scales
        read = self.setup.read if read is None else read
        runs = []
        for k, device in enumerate(devices):
            runs += self.recognize(f"{name}/device{k}", model, (lm_s,), (pr_s,), prefix=prefix,
                                   programmed_device=device, read=read, noise_seed=k)
        return runs

    def recognize(self, name: str, model: TrainedModel, lm_scales: Sequence[float], prior_scales: Sequence[float],
                  *, prefix: Optional[str] = None, **extra) -> List[GridPoint]:
        """Recognise and score every eval split over a scale grid (the grid point with the best WER on
        the first split is what a table reports).

        :param name: the recognition's name under ``alias/<prefix>/recog/<split>/`` and ``output/<prefix>/wer/``
        :param extra: further RecognitionJob arguments (``programmed_device``, ``read``, ``noise_seed``;
            ``max_empty_fraction``, ``lexicon`` and ``lm``, which default to the setup's, e.g.
            ``lexicon=None`` with a piece LM for a lexicon-free search)
        :param prefix: output folder (default: the study's)
        :return: per grid point, the segment scores per split
        """
        prefix = self.prefix if prefix is None else prefix
        setup, data = self.setup, self.data
        extra.setdefault("max_empty_fraction", setup.max_empty_fraction)
        extra.setdefault("lexicon", data.decoding_lexicon)
        extra.setdefault("lm", data.lm)
        keys = [grid_key(lm_s, pr_s) for lm_s in lm_scales for pr_s in prior_scales]
        points = [{} for _ in keys]
        for split in setup.eval_splits:
            recog = RecognitionJob(checkpoint=model.checkpoint, prior=model.prior, lm_scales=tuple(lm_scales),
                                   prior_scales=tuple(prior_scales), features=data.eval_features[split],
                                   segments=data.eval_segments[split], labels=data.labels, search=setup.search,
                                   rqmt=setup.recog_rqmt, **extra)
            recog.add_alias(f"{prefix}/recog/{split}/{name}")
            for key, point in zip(keys, points):
                score = ScliteJob(ref=data.eval_stm[split], hyp=recog.out_ctm[key])
                tk.register_output(f"{prefix}/wer/{split}/{name}/{key}", score.out_wer)
                point[split] = score.out_segment_scores
        return points


def run_memristor_ted(setup: StudySetup, *, corpus_root: Optional[tk.Path] = None,
                      prefix: str = "memristor_ted") -> Study:
    """Build the whole study; registers its tables and plot under ``output/<prefix>/``.

    :param setup: what to run (``users.memristor.setups``: PAPER, MINI, CI, or your own value)
    :param corpus_root: a TEDLIUM_release2 directory; None: synthesise the embedded corpus
    :param prefix: output folder
    """
    if not isinstance(setup, StudySetup):
        raise TypeError(f"run_memristor_ted needs a StudySetup (users.memristor.setups), got {setup!r}")
    train_p = setup.training
    embedded = corpus_root is None
    prepared = prepare_data(setup, corpus_root=corpus_root, prefix=prefix)
    study = Study(setup=setup, prefix=prefix, data=prepared, corpus=corpus_name(embedded=embedded))
    train_features = prepared.train_features
    eval_rqmt = study.eval_rqmt
    train = study.train

    # Results per table cell and training seed: [seed][grid point] (tuned) or [seed][device].
    seeds = [train_p.train.seed + i for i in range(setup.num_seeds)]
    baseline, ptq, qat, devices = study.baseline, {}, study.qat_scores, study.device_scores
    for seed in seeds:
        tag = "" if seed == seeds[0] else f"/seed{seed}"  # the first seed keeps the single-seed names
        # ------------------------------------------------------------ float baseline and PTQ
        float_model = train(f"float{tag}", None, seed)
        baseline.append(study.recognize(f"float{tag}", float_model, setup.lm_scales, setup.qat_prior_scales))
        for bits in train_p.ptq_bits:
            ptq_ckpt = PTQJob(float_checkpoint=float_model.checkpoint, train_features=train_features,
                              weight_bits=bits, num_segments=train_p.ptq_num_segments, seed=train_p.ptq_seed,
                              batch_seconds=train_p.batch_seconds_eval, rqmt=eval_rqmt).out_checkpoint
            # the float model's prior: PTQ changes the weights, not what the model was trained to output;
            # low-bit PTQ may collapse (a result, not a failure), so no empty-hypothesis check
            model = study.models[f"ptq{bits}{tag}"] = TrainedModel(ptq_ckpt, float_model.prior)
            ptq.setdefault(bits, []).append(study.recognize(f"ptq{bits}{tag}", model, setup.lm_scales,
                                                            setup.ptq_prior_scales, max_empty_fraction=None))
        # ------------------------------------------------------------ QAT, and QAT on memristors
        for bits in train_p.qat_bits:
            model = train(f"qat{bits}{tag}", bits, seed,
                          init_checkpoint=float_model.checkpoint if train_p.qat_finetune is not None else None)
            qat.setdefault(bits, []).append(study.recognize(f"qat{bits}{tag}", model, setup.lm_scales,
                                                            setup.qat_prior_scales))
            if bits not in setup.memristor_bits:
                continue
            files = []
            for k in range(setup.num_devices):
                device = ProgramCrossbarsJob(checkpoint=model.checkpoint, device_index=k, programming=setup.programming,
                                             rqmt=setup.program_rqmt)
                device.add_alias(f"{prefix}/devices/qat{bits}{tag}/device{k}")
                files.append(device.out_device)
            study.devices[f"qat{bits}{tag}"] = files
            devices.setdefault(bits, []).append(study.recognize_devices(f"memristor{bits}{tag}", model, files))

    # ---------------------------------------------------------------- tables
    corpus = study.corpus
    table1 = SingleCellTableJob(pairs=setup.cell_pairs, seed=0)
    table2 = Table2Job(baseline=baseline, ptq=ptq, qat=qat, corpus=corpus, splits=setup.eval_splits)
    table3 = Table3Job(baseline=baseline, devices=devices, corpus=corpus, splits=setup.eval_splits)
    plot = WerPlotJob(baseline=baseline, ptq=ptq, qat=qat, devices=devices, corpus=corpus, splits=setup.eval_splits)
    for name, job in (("table1", table1), ("table2", table2), ("table3", table3)):
        register_table(job, f"{prefix}/{name}")
    tk.register_output(f"{prefix}/wer_vs_bits.png", plot.out_plot)
    tk.register_callback(print_tables, table2.out_markdown, table3.out_markdown)
    study.tables.update(table1=table1, table2=table2, table3=table3, plot=plot)
    return study


def register_sweep(study: Study, table, prefix: str) -> None:
    """Register a device-sweep table job (``DeviceSweepTableJob`` or a subclass) under ``output/<prefix>/``
    (``table.md|tex|csv``), its plot (``plot.png``, a ``DeviceSweepPlotJob`` of the same rows) and the
    printout of the table when it is done."""
    register_table(table, f"{prefix}/table")
    plot = DeviceSweepPlotJob(baseline=table.baseline, devices=table.devices, setting=table.setting, what=table.what,
                              corpus=table.corpus, splits=table.splits)
    tk.register_output(f"{prefix}/plot.png", plot.out_plot)
    tk.register_callback(print_tables, table.out_markdown)


def register_table(job, name: str) -> None:
    """Register a table job's ``out_markdown``, ``out_latex`` and ``out_csv`` as ``output/<name>.md|tex|csv``."""
    for ext in ("markdown", "latex", "csv"):
        out = getattr(job, f"out_{ext}")
        tk.register_output(f"{name}.{out.path.rsplit('.', 1)[1]}", out)


def corpus_name(*, embedded: bool) -> str:
    """The corpus as titles and captions name it."""
    return "embedded synthetic corpus (TED-LIUM v2 layout)" if embedded else "TED-LIUM v2"


def print_tables(*paths: tk.Path) -> None:
    """Print finished tables to the manager's log (the main command ends with them)."""
    for p in paths:
        with open(p.get_path(), encoding="utf-8") as f:
            print("\n" + f.read(), flush=True)
