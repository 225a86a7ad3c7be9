"""LM jobs: LM text, 4-gram estimation with lmplz, per-source interpolation, binary conversion, perplexity."""
from __future__ import annotations

import json
import os
from typing import Optional, Sequence, Union

from sisyphus import Job, Task, tk

from memristor_asr.recipe_job import RecipeJob

__all__ = ["TedliumLmTextJob", "ManifestTextJob", "SentencePieceTextJob", "KenLMEstimateJob", "KenLMInterpolatedJob",
           "KenLMBinaryJob", "KenLMPerplexityJob"]


class TedliumLmTextJob(Job):
    """The LM training text: the corpus's ``LM/*.gz`` plus (optionally) train transcripts, without
    sentence markers, ``<unk>`` and noise tokens (:func:`memristor_asr.lm.text.lm_words`; their
    counts are in ``removed_tokens``)."""

    def __init__(self, *, corpus_root: tk.Path, train_segments: Optional[tk.Path] = None, normalize: bool = True):
        """
        :param corpus_root: TEDLIUM_release2 directory with an ``LM/`` folder of gzipped text
        :param train_segments: manifest whose transcripts are appended
        :param normalize: apply the STM text normalisation to the LM/ text as well
        """
        self.corpus_root = corpus_root
        self.train_segments = train_segments
        self.normalize = normalize
        self.out_text = self.output_path("lm_text.txt.gz")
        self.out_line_counts = self.output_var("line_counts")
        self.out_removed_tokens = self.output_var("removed_tokens")

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 1, "time": 2})

    def run(self):
        from memristor_asr.lm.text import lm_source_files, write_lm_text

        sources = lm_source_files(tk.uncached_path(self.corpus_root))
        manifests = [tk.uncached_path(self.train_segments)] if self.train_segments is not None else []
        removed = {}
        counts = write_lm_text(self.out_text.get_path(), sources, manifests, normalize=self.normalize, removed=removed)
        self.out_line_counts.set(counts)
        self.out_removed_tokens.set(dict(sorted(removed.items())))


class ManifestTextJob(Job):
    """The transcripts of a manifest, one per line (e.g. dev text for a perplexity)."""

    def __init__(self, *, segments: tk.Path):
        """:param segments: manifest (segments.jsonl.gz)"""
        self.segments = segments
        self.out_text = self.output_path("text.txt.gz")

    def tasks(self):
        yield Task("run", resume="run", mini_task=True)

    def run(self):
        from memristor_asr.lm.text import write_manifest_text

        write_manifest_text(self.out_text.get_path(), tk.uncached_path(self.segments))


class SentencePieceTextJob(Job):
    """A text spelled in the pieces of a sentencepiece model, one sentence per line (the LM text of
    the lexicon-free search's piece n-gram). A word that the model cannot spell is left out of its
    line and counted in ``out_dropped_words`` (the piece LM must not see ``<unk>`` as a piece)."""

    def __init__(self, *, text: tk.Path, sentencepiece_model: tk.Path):
        """
        :param text: plain or gzipped text, one sentence per line (e.g. TedliumLmTextJob.out_text)
        :param sentencepiece_model: TrainSentencePieceJob.out_model
        """
        self.text = text
        self.sentencepiece_model = sentencepiece_model
        self.out_text = self.output_path("pieces.txt.gz")
        self.out_dropped_words = self.output_var("dropped_words")

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 2, "time": 2})

    def run(self):
        from memristor_asr.lexicon.bpe import SentencePieceSpeller, UnencodableWordError
        from memristor_asr.util import uopen

        speller = SentencePieceSpeller(tk.uncached_path(self.sentencepiece_model))
        cache, dropped = {}, 0
        with uopen(tk.uncached_path(self.text), "rt") as src, uopen(self.out_text.get_path(), "wt") as dst:
            for line in src:
                pieces = []
                for word in line.split():
                    if word not in cache:
                        try:
                            cache[word] = speller.spell(word)
                        except UnencodableWordError:
                            cache[word] = None
                    if cache[word] is None:
                        dropped += 1
                    else:
                        pieces += cache[word]
                if pieces:
                    dst.write(" ".join(pieces) + "\n")
        self.out_dropped_words.set(dropped)


class KenLMEstimateJob(RecipeJob):
    """Estimate an n-gram ARPA LM with KenLM ``lmplz`` (interpolated modified Kneser-Ney, no
    pruning by default). ``--discount_fallback`` is used only when lmplz reports that the text is
    too small or artificial for its discount estimation (``out_used_discount_fallback``)."""

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 2.0, "time": 1.0}

    def __init__(self, *, text: Union[tk.Path, Sequence[tk.Path]], order: int = 4,
                 vocabulary: Optional[tk.Path] = None, prune: Optional[Sequence[int]] = None,
                 discount_fallback: str = "auto", rqmt: Optional[dict] = None):
        """
        :param text: one or more plain/gzipped text files, one sentence per line
        :param order: n-gram order
        :param vocabulary: optional word list; n-grams with other words are dropped (``--limit_vocab_file``)
        :param prune: optional count thresholds per order (``--prune``)
        :param discount_fallback: "auto" (only when lmplz asks for it), "always" or "never"
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (mem GB: lmplz's ``-S`` is set to get 75 % of it;
            time hours); not hashed
        """
        self.text = text
        self.order = order
        self.vocabulary = vocabulary
        self.prune = prune
        self.discount_fallback = discount_fallback
        self.rqmt = self.resources(rqmt)
        self.out_arpa = self.output_path("lm.arpa.gz")
        self.out_used_discount_fallback = self.output_var("used_discount_fallback")
        self.out_ngram_counts = self.output_var("ngram_counts")

    def run(self):
        from memristor_asr.lm.kenlm_tools import estimate_arpa

        texts = [self.text] if isinstance(self.text, (tk.Path, str)) else list(self.text)
        memory = f"{max(64, int(self.rqmt['mem'] * 1024 * 0.75))}M"
        result = estimate_arpa([tk.uncached_path(t) for t in texts], self.out_arpa.get_path(), order=self.order,
                               memory=memory, tmp_dir=".", discount_fallback=self.discount_fallback,
                               vocab_file=tk.uncached_path(self.vocabulary) if self.vocabulary is not None else None,
                               prune=self.prune, log_path="lmplz.log")
        self.out_used_discount_fallback.set(result["discount_fallback"])
        self.out_ngram_counts.set(result["ngrams"])


class KenLMInterpolatedJob(RecipeJob):
    """Per-source 4-grams interpolated with weights tuned on a tuning text (the paper's LM, with
    KenLM instead of SRILM): one model per ``LM/*.gz`` file, one on the train transcripts and one
    on all of them together (i6's "background" model), each estimated by ``lmplz`` like
    :class:`KenLMEstimateJob`; KenLM ``interpolate`` tunes the weights on ``tuning_text`` (the
    paper tunes on dev) and writes the interpolated ARPA. KenLM interpolates log-linearly (SRILM's
    ``compute-best-mix`` linearly). The LM text of every source is cleaned as in
    :class:`TedliumLmTextJob`."""

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 4.0, "time": 4.0}

    def __init__(self, *, corpus_root: tk.Path, train_segments: Optional[tk.Path], tuning_text: tk.Path,
                 order: int = 4, normalize: bool = True, rqmt: Optional[dict] = None):
        """
        :param corpus_root: TEDLIUM_release2 directory with an ``LM/`` folder of gzipped text
        :param train_segments: manifest whose transcripts form one more source (None: no such source)
        :param tuning_text: plain or gzipped text, one sentence per line (e.g. ManifestTextJob of dev)
        :param order: n-gram order
        :param normalize: apply the STM text normalisation to the LM/ text as well
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (mem GB: lmplz and interpolate get 75 % of it;
            time hours); not hashed
        """
        self.corpus_root = corpus_root
        self.train_segments = train_segments
        self.tuning_text = tuning_text
        self.order = order
        self.normalize = normalize
        self.rqmt = self.resources(rqmt)
        self.out_arpa = self.output_path("lm.arpa.gz")
        self.out_weights = self.output_var("weights")
        self.out_report = self.output_path("report.json")

    def run(self):
        from memristor_asr.lm.kenlm_tools import estimate_intermediate, interpolate_lms, iter_text_lines
        from memristor_asr.lm.text import lm_source_files, write_lm_text

        root = tk.uncached_path(self.corpus_root)
        components = [(os.path.basename(f).split(".")[0], [f], []) for f in lm_source_files(root)]
        train = [tk.uncached_path(self.train_segments)] if self.train_segments is not None else []
        if train:
            components.append(("train-transcripts", [], train))
        components.append(("background", [f for _, fs, _ in components for f in fs], train))
        memory_mb = max(64, int(self.rqmt["mem"] * 1024 * 0.75))
        memory = f"{memory_mb}M"
        report = {"components": {}}
        models = []
        for name, sources, manifests in components:
            text = f"{name}.txt.gz"
            removed = {}
            counts = write_lm_text(text, sources, manifests, normalize=self.normalize, removed=removed)
            fallback = estimate_intermediate([text], name, order=self.order, memory=memory, tmp_dir=".",
                                             log_path="lmplz.log")
            models.append(name)
            report["components"][name] = {"lines": sum(counts.values()), "discount_fallback": fallback,
                                          "removed_tokens": dict(sorted(removed.items()))}
        with open("tuning.txt", "w", encoding="utf-8") as f:
            f.writelines(iter_text_lines([tk.uncached_path(self.tuning_text)]))
        weights = interpolate_lms(models, "tuning.txt", self.out_arpa.get_path(), memory_mb=memory_mb,
                                  tmp_prefix="./interpolate", log_path="interpolate.log")
        report["weights"] = dict(zip(models, weights))
        with open(self.out_report.get_path(), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, sort_keys=True)
        self.out_weights.set(report["weights"])


class KenLMBinaryJob(Job):
    """Convert an ARPA LM to a KenLM binary (``build_binary``, default flags as in i6's CreateBinaryLMJob)."""

    def __init__(self, *, arpa: tk.Path, kind: str = "probing"):
        """
        :param arpa: ARPA file, plain or gzipped
        :param kind: "probing" (fastest) or "trie" (smallest)
        """
        self.arpa = arpa
        self.kind = kind
        self.out_binary = self.output_path("lm.bin")
        self.out_checksum = self.output_path("lm.bin.sha256")  # checked by every reader (verify_binary)

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 2, "time": 1})

    def run(self):
        from memristor_asr.lm.kenlm_tools import build_binary

        build_binary(tk.uncached_path(self.arpa), self.out_binary.get_path(), self.kind, log_path="build_binary.log")


class KenLMPerplexityJob(Job):
    """Perplexity of a text under a KenLM model (ARPA or binary) through the ``kenlm`` Python module."""

    def __init__(self, *, lm: tk.Path, text: tk.Path):
        """
        :param lm: ARPA (plain/gzipped) or KenLM binary
        :param text: plain or gzipped text, one sentence per line
        """
        self.lm = lm
        self.text = text
        self.out_perplexity = self.output_var("perplexity")
        self.out_report = self.output_path("perplexity.json")

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 2, "time": 1})

    def run(self):
        from memristor_asr.lm.kenlm_tools import perplexity

        result = perplexity(tk.uncached_path(self.lm), [tk.uncached_path(self.text)])
        with open(self.out_report.get_path(), "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
        self.out_perplexity.set(result["perplexity"])
