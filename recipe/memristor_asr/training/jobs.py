"""Sisyphus jobs of the training area: :class:`TrainJob` (float or QAT) and :class:`PriorJob`.

All work happens in :mod:`memristor_asr.training.trainer` and :mod:`memristor_asr.training.prior`.
"""
from __future__ import annotations

import csv
import os
from typing import Optional

from sisyphus import tk

from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.nn.checkpoint import load_model
from memristor_asr.nn.config import ModelConfig
from memristor_asr.training.data import CTCDataset
from memristor_asr.lexicon.lexicon import read_labels
from memristor_asr.training.prior import compute_log_prior, write_prior
from memristor_asr.training.convergence import ConvergenceCheck
from memristor_asr.training.trainer import TrainConfig, TrainProgress, train
from memristor_asr.recipe_job import RecipeJob
from memristor_asr.util import ProgressFile, setup_task, task_device

__all__ = ["TrainJob", "PriorJob"]


class TrainJob(RecipeJob):
    """Train a Conformer-CTC acoustic model, float or QAT (``model_config["weight_bits"]``).

    Resumable: checkpoints of every sub-epoch are kept in ``work/checkpoints``; a restarted task
    continues after the newest one and ends with the same weights as an uninterrupted run.
    Outputs: ``model.pt`` (the final checkpoint) and ``losses.csv`` (train/dev loss and greedy dev
    label error rate per sub-epoch). A training that ends on the CTC blank plateau or diverged
    fails the job (:mod:`memristor_asr.training.convergence`) instead of writing ``model.pt``.
    """

    DEFAULT_RQMT = {"cpu": 2, "gpu": 0, "mem": 8.0, "time": 24.0}
    UNHASHED = ("convergence",)

    def __init__(self, *, train_features: tk.Path, dev_features: tk.Path, train_manifest: tk.Path,
                 dev_manifest: tk.Path, lexicon: tk.Path, labels: tk.Path, model_config: ModelConfig,
                 train_config: TrainConfig,
                 init_checkpoint: Optional[tk.Path] = None, convergence: ConvergenceCheck = ConvergenceCheck(),
                 rqmt: Optional[dict] = None):
        """
        :param train_features: HDF5 features of the training segments
        :param dev_features: HDF5 features of the dev segments (the CV set)
        :param train_manifest: training segments (text) to train on, e.g. the lexicon job's filtered manifest
        :param dev_manifest: dev segments; those with words outside the lexicon are skipped and counted
        :param lexicon: training lexicon (first pronunciation per word)
        :param labels: label inventory, blank last
        :param model_config: the model (float, or QAT with ``weight_bits`` set)
        :param train_config: the training schedule, optimiser and seed
        :param init_checkpoint: start from this model's weights (e.g. QAT fine-tuning of a float model)
            instead of a random initialisation
        :param convergence: when the finished training counts as failed; not hashed (a looser check
            on a failed job resumes from its checkpoints instead of training again)
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (cpu cores, also torch's threads;
            gpu count; mem GB; time hours); with a GPU, training runs on CUDA; not hashed
        """
        self.train_features = train_features
        self.dev_features = dev_features
        self.train_manifest = train_manifest
        self.dev_manifest = dev_manifest
        self.lexicon = lexicon
        self.labels = labels
        self.model_config = ModelConfig.require(model_config, "TrainJob: model_config",
                                                " (from a dict: ModelConfig.from_dict(d))")
        self.train_config = TrainConfig.require(train_config, "TrainJob: train_config",
                                                " (from a dict: TrainConfig.from_dict(d))")
        self.init_checkpoint = init_checkpoint
        self.convergence = convergence
        self.rqmt = self.resources(rqmt)
        self.out_checkpoint = self.output_path("model.pt")
        self.out_losses = self.output_path("losses.csv")

    def run(self):
        setup_task(self.rqmt["cpu"])
        load = dict(lexicon_path=tk.uncached_path(self.lexicon), labels_path=tk.uncached_path(self.labels))
        num_labels = len(read_labels(load["labels_path"]))
        if num_labels != self.model_config.num_labels:
            raise ValueError(f"TrainJob {self.job_id()}: {load['labels_path']} lists {num_labels} labels but "
                             f"ModelConfig.num_labels is {self.model_config.num_labels}")
        train_data = CTCDataset.load(features_path=tk.uncached_path(self.train_features),
                                     manifest_path=tk.uncached_path(self.train_manifest), name="train", **load)
        dev_data = CTCDataset.load(features_path=tk.uncached_path(self.dev_features),
                                   manifest_path=tk.uncached_path(self.dev_manifest), skip_oov=True, name="dev",
                                   **load)
        progress_file = ProgressFile(os.path.join(self.work_path(), "progress.txt"))

        def progress(p: TrainProgress):
            dev = f", dev loss {p.last_dev_loss:.3f}" if p.last_dev_loss is not None else ""
            progress_file.write(f"sub-epoch {p.sub_epoch}/{p.num_sub_epochs} step {p.step}/{p.num_steps} "
                                f"loss {p.loss:.3f}{dev}", force=p.step == p.num_steps)

        train(model_cfg=self.model_config, train_cfg=self.train_config, train_data=train_data, dev_data=dev_data,
              checkpoint_dir=os.path.join(self.work_path(), "checkpoints"),
              losses_csv=self.out_losses.get_path(), final_checkpoint=self.out_checkpoint.get_path(),
              device=task_device(self.rqmt["gpu"]), progress=progress, convergence=self.convergence,
              name=f"TrainJob {self.job_id()}",
              init_checkpoint=None if self.init_checkpoint is None else tk.uncached_path(self.init_checkpoint))

    def _sub_epochs_done(self) -> int:
        try:
            with open(self.out_losses.get_path(), encoding="utf-8") as f:
                return sum(1 for _ in csv.DictReader(f))
        except OSError:
            return 0

    def info(self):
        return ProgressFile.read(os.path.join(self.work_path(), "progress.txt"))

    def completed_fraction(self):
        return self._sub_epochs_done() / self.train_config.num_sub_epochs


class PriorJob(RecipeJob):
    """Average CTC posterior of a model over the training frames, stored as log (``prior.txt``)."""

    DEFAULT_RQMT = {"cpu": 2, "gpu": 0, "mem": 8.0, "time": 4.0}
    UNHASHED = ("batch_seconds",)

    def __init__(self, *, checkpoint: tk.Path, features: tk.Path, batch_seconds: float = 300.0,
                 rqmt: Optional[dict] = None):
        """
        :param checkpoint: model checkpoint (float, QAT or PTQ)
        :param features: HDF5 features of the training data
        :param batch_seconds: padded audio per forward batch (does not change the result beyond rounding)
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (cpu cores, also torch's threads;
            gpu count; mem GB; time hours); not hashed
        """
        self.checkpoint = checkpoint
        self.features = features
        self.batch_seconds = batch_seconds
        self.rqmt = self.resources(rqmt)
        self.out_prior = self.output_path("prior.txt")
        self.out_num_frames = self.output_var("num_frames")

    def run(self):
        setup_task(self.rqmt["cpu"])
        device = task_device(self.rqmt["gpu"])
        model, _ = load_model(tk.uncached_path(self.checkpoint))
        progress_file = ProgressFile(os.path.join(self.work_path(), "progress.txt"))
        log_prior, frames = compute_log_prior(
            model.to(device), FeatureReader(tk.uncached_path(self.features)), batch_seconds=self.batch_seconds,
            device=device, progress=lambda done, total: progress_file.write(f"{done}/{total} segments"))
        write_prior(self.out_prior.get_path(), log_prior)
        self.out_num_frames.set(frames)

    def info(self):
        return ProgressFile.read(os.path.join(self.work_path(), "progress.txt"))
