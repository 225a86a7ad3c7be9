"""Scoring jobs."""
from sisyphus import Job, Task, tk

import os

from memristor_asr.scoring.sclite import parse_sgml_segments, run_sclite, write_segment_scores

__all__ = ["ScliteJob"]


class ScliteJob(Job):
    """Score a CTM against an STM reference with sclite; keeps sclite's reports.

    Outputs the WER in percent and the raw error counts as Variables, and the per-segment counts
    (``segment_scores.tsv``: segment, reference words, errors) that the tables bootstrap over.
    """

    def __init__(self, *, ref: tk.Path, hyp: tk.Path):
        """
        :param ref: STM reference (the corpus job's per-split STM)
        :param hyp: CTM hypothesis (a recognition job's output)
        """
        self.ref = ref
        self.hyp = hyp
        self.out_report_dir = self.output_path("reports", directory=True)
        self.out_segment_scores = self.output_path("segment_scores.tsv")
        self.out_wer = self.output_var("wer")
        self.out_num_words = self.output_var("num_words")
        self.out_num_errors = self.output_var("num_errors")
        self.out_substitutions = self.output_var("substitutions")
        self.out_deletions = self.output_var("deletions")
        self.out_insertions = self.output_var("insertions")
        self.set_vis_name("Sclite - WER")

    def tasks(self):
        yield Task("run", resume="run", mini_task=True)

    def run(self):
        res = run_sclite(tk.uncached_path(self.ref), tk.uncached_path(self.hyp), self.out_report_dir.get_path())
        sgml = os.path.join(self.out_report_dir.get_path(), "hyp.sgml")
        segments = parse_sgml_segments(sgml)
        words, errors = sum(s.words for s in segments), sum(s.errors for s in segments)
        if (words, errors) != (res.words, res.errors):
            raise ValueError(f"{sgml}: per-segment counts ({words} words, {errors} errors) disagree with "
                             f"sclite's summary ({res.words} words, {res.errors} errors)")
        write_segment_scores(self.out_segment_scores.get_path(), segments)
        self.out_wer.set(round(res.wer, 3))
        self.out_num_words.set(res.words)
        self.out_num_errors.set(res.errors)
        self.out_substitutions.set(res.substitutions)
        self.out_deletions.set(res.deletions)
        self.out_insertions.set(res.insertions)
