"""Report jobs: the paper's tables (Markdown, LaTeX, CSV) and the WER-vs-bits plot.

Every WER comes from a ScliteJob's per-segment scores (``out_segment_scores``), so that each
table cell carries a bootstrap interval over the evaluation segments. A cell's input is given
per training seed: ``[[grid point, ...] for each seed]`` for tuned systems (the best grid point
of each seed is reported, as in the paper), ``[[device, ...] for each seed]`` for memristor runs.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

from sisyphus import Job, Task, tk

from memristor_asr.report.bootstrap import ScoredSystem, WerEstimate, estimate, load_scores
from memristor_asr.report.tables import EvalSet, Table, device_stats, table2, table3

__all__ = ["Table2Job", "Table3Job", "WerPlotJob", "write_table", "best_of_grid", "tuned_estimate"]

PerSeed = Sequence[Sequence[tk.Path]]  # [seed][grid point or device] -> segment scores


def best_of_grid(grid: Sequence[tk.Path]) -> ScoredSystem:
    """The grid point with the lowest corpus-level WER (first one on ties).

    :raises ValueError: for an empty grid
    """
    if not grid:
        raise ValueError("empty tuning grid")
    systems = [load_scores(tk.uncached_path(p)) for p in grid]
    return min(systems, key=lambda s: s.wer)


def tuned_estimate(per_seed: PerSeed) -> WerEstimate:
    """The estimate of a tuned system: each seed's best grid point, averaged over seeds."""
    return _tuned(per_seed)[0]


def _tuned(per_seed: PerSeed):
    """(estimate, the first seed's best system) of a tuned system."""
    best = [best_of_grid(grid) for grid in per_seed]
    return estimate([[b] for b in best]), best[0]


def devices_estimate(per_seed: PerSeed):
    """(estimate of the device average, every device's WER) of a memristor setting."""
    systems = [[load_scores(tk.uncached_path(p)) for p in devices] for devices in per_seed]
    return estimate(systems), [s.wer for seed in systems for s in seed]


def eval_set(corpus: str, split: str, system: ScoredSystem) -> EvalSet:
    return EvalSet(corpus, split, len(system.scores), sum(s.words for s in system.scores))


def write_table(table: Table, job) -> None:
    """Write a table into the job's ``out_markdown``, ``out_latex`` and ``out_csv``."""
    for out, text in ((job.out_markdown, table.markdown()), (job.out_latex, table.latex()),
                      (job.out_csv, table.csv())):
        with open(out.get_path(), "w", encoding="utf-8") as f:
            f.write(text)


class _TableJob(Job):
    def _declare_outputs(self):
        self.out_markdown = self.output_path("table.md")
        self.out_latex = self.output_path("table.tex")
        self.out_csv = self.output_path("table.csv")

    def tasks(self):
        yield Task("run", mini_task=True)


class Table2Job(_TableJob):
    """Table 2: PTQ vs QAT WER per weight bits, plus the non-quantised baseline, with 95 % intervals."""

    def __init__(self, *, baseline: PerSeed, ptq: Dict[int, PerSeed], qat: Dict[int, PerSeed], corpus: str,
                 split: str = "dev"):
        """
        :param baseline: segment scores of the float model, per seed and grid point
        :param ptq: weight bits -> segment scores of the post-training quantised float model
        :param qat: weight bits -> segment scores of the QAT model
        :param corpus: name of the corpus in titles and captions
        :param split: name of the evaluation split
        """
        self.baseline = baseline
        self.ptq = ptq
        self.qat = qat
        self.corpus = corpus
        self.split = split
        self._declare_outputs()

    def run(self):
        bits = sorted(set(self.ptq) | set(self.qat), reverse=True)
        base, base_system = _tuned(self.baseline)
        t = table2(base, {b: tuned_estimate(v) for b, v in self.ptq.items()},
                   {b: tuned_estimate(v) for b, v in self.qat.items()}, bits,
                   eval_set(self.corpus, self.split, base_system))
        write_table(t, self)


class Table3Job(_TableJob):
    """Table 3: QAT models on simulated memristor hardware: avg (with its 95 % interval), std (ddof 0),
    min, max over devices."""

    def __init__(self, *, baseline: PerSeed, devices: Dict[int, PerSeed], corpus: str, split: str = "dev"):
        """
        :param baseline: segment scores of the float model, per seed and grid point
        :param devices: weight bits -> segment scores per seed and programmed device
        :param corpus: name of the corpus in titles and captions
        :param split: name of the evaluation split
        """
        self.baseline = baseline
        self.devices = devices
        self.corpus = corpus
        self.split = split
        self._declare_outputs()

    def run(self):
        bits = sorted(self.devices, reverse=True)
        base, base_system = _tuned(self.baseline)
        write_table(table3(base, {b: devices_estimate(self.devices[b]) for b in bits}, bits,
                           eval_set(self.corpus, self.split, base_system)), self)


class WerPlotJob(Job):
    """PNG plot of WER against weight bits: baseline, PTQ, QAT and memristor avg with 95 % intervals
    (error bars; the baseline's as a band) and the memristor min–max over devices."""

    def __init__(self, *, baseline: PerSeed, ptq: Dict[int, PerSeed], qat: Dict[int, PerSeed],
                 devices: Dict[int, PerSeed], corpus: str, split: str = "dev"):
        """
        :param baseline: segment scores of the float model, per seed and grid point
        :param ptq: weight bits -> segment scores of PTQ models
        :param qat: weight bits -> segment scores of QAT models
        :param devices: weight bits -> segment scores per seed and memristor device
        :param corpus: name of the corpus in the title
        :param split: name of the evaluation split
        """
        self.baseline = baseline
        self.ptq = ptq
        self.qat = qat
        self.devices = devices
        self.corpus = corpus
        self.split = split
        self.out_plot = self.output_path("wer_vs_bits.png")

    def tasks(self):
        yield Task("run", mini_task=True)

    def run(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        def errorbar(ax, bits: List[int], ests: List[WerEstimate], **kw):
            ax.errorbar(bits, [e.wer for e in ests], yerr=[[e.wer - e.lo for e in ests], [e.hi - e.wer for e in ests]],
                        capsize=3, **kw)

        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
        base, base_system = _tuned(self.baseline)
        ax.axhline(base.wer, color="k", linestyle="--", label="float baseline (95 % CI band)")
        ax.axhspan(base.lo, base.hi, color="k", alpha=0.08)
        for name, data, marker in (("PTQ", self.ptq, "s"), ("QAT", self.qat, "o")):
            bits = sorted(data)
            errorbar(ax, bits, [tuned_estimate(data[b]) for b in bits], marker=marker, label=name)
        bits = sorted(self.devices)
        if bits:
            stats = [devices_estimate(self.devices[b]) for b in bits]
            errorbar(ax, bits, [s[0] for s in stats], marker="^", color="tab:red", label="QAT on memristors (avg)")
            ranges = [device_stats(s[1]) for s in stats]
            ax.fill_between(bits, [r["min"] for r in ranges], [r["max"] for r in ranges], color="tab:red", alpha=0.2,
                            label="memristor min–max over devices")
        ax.set_xlabel("weight bits")
        ax.set_ylabel("WER [%]")
        where = eval_set(self.corpus, self.split, base_system)
        ax.set_title(f"{self.corpus} {self.split}", fontsize=10)
        ax.text(0.99, 0.01, f"{where.segments} segments, {where.words} words; bars: 95 % bootstrap CI",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.4")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(self.out_plot.get_path())
        plt.close(fig)
