"""Recognition: network forward (float, fake-quant or programmed memristor crossbars) + lexical
beam search with a KenLM 4-gram, over a grid of LM and prior scales; one CTM per grid point."""
import os
from typing import Optional, Sequence

from sisyphus import tk

from memristor_asr.memristor.config import ReadConfig
from memristor_asr.recognition.search import SearchConfig
from memristor_asr.recipe_job import RecipeJob
from memristor_asr.util import ProgressFile, setup_task

__all__ = ["RecognitionJob", "grid_key"]


def grid_key(lm_scale: float, prior_scale: float) -> str:
    """Name of one grid point's outputs, e.g. ``lm2.0-prior0.5``."""
    return f"lm{lm_scale:g}-prior{prior_scale:g}"


class RecognitionJob(RecipeJob):
    """Recognise one split with one model.

    Model modes follow from the inputs: a float checkpoint runs float; a quantised (QAT/PTQ)
    checkpoint runs fake-quantised; with ``programmed_device`` the block linears run on those
    simulated crossbars, read with ``read`` (read noise seeded with ``noise_seed``). Decoding runs in
    parallel over ``cpu`` processes. Outputs one CTM per (LM scale, prior scale) in
    ``out_ctm[grid_key(...)]``.

    Hash: with ``programmed_device``, ``read=None`` hashes as ``ReadConfig()`` (the same job).
    """

    DEFAULT_RQMT = {"cpu": 2, "gpu": 0, "mem": 4.0, "time": 2.0}
    UNHASHED = ("max_empty_fraction",)

    def __init__(self, *, checkpoint: tk.Path, features: tk.Path, segments: tk.Path, labels: tk.Path,
                 lexicon: Optional[tk.Path], lm: tk.Path, prior: Optional[tk.Path] = None,
                 lm_scales: Sequence[float] = (2.0,), prior_scales: Sequence[float] = (0.5,),
                 search: SearchConfig = SearchConfig(), programmed_device: Optional[tk.Path] = None,
                 read: Optional[ReadConfig] = None, noise_seed: int = 0, batch_seconds: float = 60.0,
                 max_empty_fraction: Optional[float] = 0.5, rqmt: Optional[dict] = None):
        """
        :param checkpoint: model checkpoint (float, QAT or PTQ)
        :param features: HDF5 features of the split
        :param segments: the split's segment manifest (times for the CTM; every segment gets a hypothesis)
        :param labels: label inventory (blank last: 79 phoneme labels, or a BPE model's pieces)
        :param lexicon: decoding lexicon (flashlight format); None: lexicon-free search over
            sentencepiece labels (``lm`` is then an n-gram over the pieces)
        :param lm: KenLM model (binary or ARPA): over words, or over pieces without a lexicon
        :param prior: ``prior.txt`` (log prior); required when a prior scale is not 0
        :param lm_scales: LM weights to try
        :param prior_scales: prior scales to try
        :param search: beam settings
        :param programmed_device: a ProgramCrossbarsJob's device file: run on memristor crossbars
        :param read: how the programmed crossbars are read (DAC, ADC, noise, read path); None: the
            paper's ``ReadConfig()``. Only with ``programmed_device``
        :param noise_seed: seed of the crossbar read noise
        :param batch_seconds: audio per forward batch, seconds
        :param max_empty_fraction: fail when a grid point has more empty hypotheses than this share
            (None: no check, for systems expected to collapse); not hashed
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (cpu: decoding processes and
            forward threads; gpu: GPUs for the forward pass; mem GB; time hours); not hashed
        """
        self.checkpoint = checkpoint
        self.features = features
        self.segments = segments
        self.labels = labels
        self.lexicon = lexicon
        self.lm = lm
        self.prior = prior
        self.lm_scales = list(lm_scales)
        self.prior_scales = list(prior_scales)
        self.search = SearchConfig.require(search, "RecognitionJob: search")
        self.programmed_device = programmed_device
        if read is not None:
            ReadConfig.require(read, "RecognitionJob: read", " or None")
        if read is not None and read != ReadConfig() and programmed_device is None:
            raise ValueError("RecognitionJob: read settings need a programmed_device (they configure the crossbars)")
        self.read = read
        self.noise_seed = noise_seed
        self.batch_seconds = batch_seconds
        self.max_empty_fraction = max_empty_fraction
        self.rqmt = self.resources(rqmt)
        if prior is None and any(p != 0 for p in self.prior_scales):
            raise ValueError("prior scales other than 0 need a prior")
        self.out_ctm = {grid_key(lm_s, pr_s): self.output_path(f"{grid_key(lm_s, pr_s)}.ctm")
                        for lm_s in self.lm_scales for pr_s in self.prior_scales}
        self.out_hypotheses = self.output_path("hypotheses.json.gz")
        self.out_report = self.output_path("report.json")

    def info(self):
        return ProgressFile.read(os.path.join(self.work_path(), "progress.txt"))

    def run(self):
        from memristor_asr.recognition.run import recognize

        setup_task(self.rqmt["cpu"])  # torch threads for the forward; the search forks cpu processes
        progress_file = ProgressFile(os.path.join(self.work_path(), "progress.txt"))

        def progress(line, force=False):
            progress_file.write(line, force=force)

        recognize(
            checkpoint=tk.uncached_path(self.checkpoint), features=tk.uncached_path(self.features),
            segments=tk.uncached_path(self.segments), labels=tk.uncached_path(self.labels),
            lexicon=tk.uncached_path(self.lexicon) if self.lexicon is not None else None, lm=tk.uncached_path(self.lm),
            prior=tk.uncached_path(self.prior) if self.prior is not None else None,
            grid=[(lm_s, pr_s, self.out_ctm[grid_key(lm_s, pr_s)].get_path())
                  for lm_s in self.lm_scales for pr_s in self.prior_scales],
            search=self.search,
            programmed_device=tk.uncached_path(self.programmed_device) if self.programmed_device else None,
            read=self.read, noise_seed=self.noise_seed, batch_seconds=self.batch_seconds,
            num_workers=self.rqmt["cpu"], gpu=self.rqmt["gpu"], hypotheses_path=self.out_hypotheses.get_path(),
            report_path=self.out_report.get_path(), max_empty_fraction=self.max_empty_fraction,
            name=f"RecognitionJob {self.job_id()}", progress=progress)

    @classmethod
    def hash(cls, parsed_args):
        args = dict(parsed_args)
        if args["programmed_device"] is not None and args["read"] is None:
            args["read"] = ReadConfig()  # the default read-out, stated or not, is one job
        return super().hash(args)
