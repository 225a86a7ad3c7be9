"""Corpus jobs: synthesise the embedded TED-LIUM-style corpus; prepare a TED-LIUM v2 directory."""
from __future__ import annotations

import json
import os
from typing import Sequence

from sisyphus import Job, Task, tk

from memristor_asr.corpus.embedded.plan import MINI_CORPUS, CorpusSize
from memristor_asr.corpus.tedlium import SPLITS
from memristor_asr.recipe_job import RecipeJob

__all__ = ["EmbeddedCorpusJob", "PrepareTedliumJob"]


class EmbeddedCorpusJob(RecipeJob):
    """Synthesise a small corpus in the exact TEDLIUM_release2 layout (espeak-ng voices, CMU
    pronunciations, a built-in sentence grammar); see :mod:`memristor_asr.corpus.embedded`."""

    UNHASHED = ("num_workers",)

    def __init__(self, *, size: CorpusSize = MINI_CORPUS, seed: int = 0, num_workers: int = 2):
        """
        :param size: how much audio and text: ``MINI_CORPUS`` (about 40 min train, 10 min dev, 10 min
            test), ``CI_CORPUS`` (about 10 min train, 1 min dev, 1 min test) or a value of your own
        :param seed: everything (text, speakers, pauses, noise) follows from it
        :param num_workers: parallel synthesis tasks (resource only, not hashed; same output)
        """
        self.size = CorpusSize.require(size, "EmbeddedCorpusJob: size", " (e.g. MINI_CORPUS)")
        self.seed = seed
        self.num_workers = num_workers
        self.out_corpus_root = self.output_path("TEDLIUM_release2", directory=True)
        self.out_stats = self.output_path("stats.json")
        self.rqmt = {"cpu": 1, "mem": 2, "time": 1}

    def tasks(self):
        yield Task("synthesize", resume="synthesize", rqmt=self.rqmt, args=range(1, self.num_workers + 1))
        yield Task("finalize", resume="finalize", mini_task=True)

    def synthesize(self, worker: int):
        from memristor_asr.corpus.embedded.plan import make_plan
        from memristor_asr.corpus.embedded.synth import synthesize_talks

        plan = make_plan(self.size, self.seed)
        talks = plan.talks[worker - 1::self.num_workers]
        stats = synthesize_talks(plan, self.out_corpus_root.get_path(), talks)
        with open(f"stats.{worker}.json", "w") as f:
            json.dump(stats, f, indent=1, sort_keys=True)

    def finalize(self):
        from memristor_asr.corpus.embedded.plan import make_plan
        from memristor_asr.corpus.embedded.synth import write_dictionary, write_lm_text, write_readme

        root = self.out_corpus_root.get_path()
        plan = make_plan(self.size, self.seed)
        stats = {}
        for worker in range(1, self.num_workers + 1):
            with open(f"stats.{worker}.json") as f:
                stats.update(json.load(f))
        missing = [f"{t.split}/{sub}/{t.talk_id}.{sub}" for t in plan.talks for sub in ("sph", "stm")
                   if not os.path.isfile(os.path.join(root, t.split, sub, f"{t.talk_id}.{sub}"))]
        if missing:
            raise RuntimeError(f"synthesis left out {len(missing)} files, e.g. {missing[:3]}")
        write_dictionary(plan, root)
        write_lm_text(plan, root)
        write_readme(plan, root, stats)
        totals = {s: {"talks": 0, "segments": 0, "hours": 0.0, "words": 0} for s in SPLITS}
        for st in stats.values():
            t = totals[st["split"]]
            t["talks"] += 1
            t["segments"] += st["segments"]
            t["hours"] += st["seconds"] / 3600
            t["words"] += st["words"]
        with open(self.out_stats.get_path(), "w") as f:
            json.dump({"splits": totals, "talks": stats, "train_oov_words": sorted(plan.train_oov_words),
                       "reserved_dev_test_words": sorted(plan.reserved_words)}, f, indent=1, sort_keys=True)


class PrepareTedliumJob(Job):
    """TED-LIUM v2 STMs -> segment manifests and sclite STM references, with the i6 rules
    (docs/STUDY_SETUP.md §1): ignored segments dropped, labels mapped, text normalised, train padded."""

    def __init__(self, *, corpus_root: tk.Path, splits: Sequence[str] = SPLITS, pad_train: bool = True):
        """
        :param corpus_root: a TEDLIUM_release2 directory (real or embedded)
        :param splits: which of train/dev/test to prepare
        :param pad_train: Kaldi-style padding of train segments (0.15 s before, 0.10 s after)
        """
        unknown = set(splits) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown splits {sorted(unknown)}; TED-LIUM has {SPLITS}")
        self.corpus_root = corpus_root
        self.splits = tuple(splits)
        self.pad_train = pad_train
        self.out_segments = {s: self.output_path(f"{s}.segments.jsonl.gz") for s in self.splits}
        self.out_stm = {s: self.output_path(f"{s}.stm") for s in self.splits}
        self.out_report = {s: self.output_path(f"{s}.report.json") for s in self.splits}

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 2, "time": 1}, args=self.splits)

    def run(self, split: str):
        from memristor_asr.corpus.manifest import write_manifest
        from memristor_asr.corpus.stm import write_stm
        from memristor_asr.corpus.tedlium import prepare_split

        prepared = prepare_split(tk.uncached_path(self.corpus_root), split, pad=self.pad_train and split == "train")
        write_manifest(self.out_segments[split].get_path(), prepared.segments)
        write_stm(self.out_stm[split].get_path(), prepared.references)
        with open(self.out_report[split].get_path(), "w") as f:
            json.dump(prepared.report(), f, indent=1, sort_keys=True)
