"""Report jobs: the paper's tables (Markdown, LaTeX, CSV) and the WER-vs-bits plot."""
from typing import Dict, List, Sequence, Union

from sisyphus import Job, Task, tk

from memristor_asr.report.tables import Table, device_stats, table2, table3

__all__ = ["Table2Job", "Table3Job", "WerPlotJob", "write_table", "best_wer"]

WerInput = Union[tk.Variable, Sequence[tk.Variable]]


def best_wer(value: WerInput) -> float:
    """The WER of a result, or the best (lowest) over a tuning grid of results.

    :raises ValueError: naming the job of a missing or out-of-range WER
    """
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    wers = []
    for v in items:
        w = v.get()
        if w is None or not (0.0 <= float(w)):
            raise ValueError(f"invalid WER {w!r} in {v.get_path()}")
        wers.append(float(w))
    if not wers:
        raise ValueError("empty list of WER results")
    return min(wers)


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
    """Table 2: PTQ vs QAT dev WER per weight bits, plus the non-quantised baseline.

    Each entry may be one WER or a list (a tuning grid): the best is reported, as in the paper.
    """

    def __init__(self, *, baseline: WerInput, ptq: Dict[int, WerInput], qat: Dict[int, WerInput]):
        """
        :param baseline: WER(s) of the float model
        :param ptq: weight bits -> WER(s) of the post-training quantised float model
        :param qat: weight bits -> WER(s) of the QAT model
        """
        self.baseline = baseline
        self.ptq = ptq
        self.qat = qat
        self._declare_outputs()

    def run(self):
        bits = sorted(set(self.ptq) | set(self.qat), reverse=True)
        t = table2(best_wer(self.baseline), {b: best_wer(v) for b, v in self.ptq.items()},
                   {b: best_wer(v) for b, v in self.qat.items()}, bits)
        write_table(t, self)


class Table3Job(_TableJob):
    """Table 3: QAT models on simulated memristor hardware: avg, std (ddof 0), min, max over devices."""

    def __init__(self, *, baseline: WerInput, devices: Dict[int, List[tk.Variable]]):
        """
        :param baseline: WER(s) of the float model
        :param devices: weight bits -> one WER per programmed device
        """
        self.baseline = baseline
        self.devices = devices
        self._declare_outputs()

    def run(self):
        bits = sorted(self.devices, reverse=True)
        devs = {b: [best_wer(v) for v in self.devices[b]] for b in bits}
        write_table(table3(best_wer(self.baseline), devs, bits), self)


class WerPlotJob(Job):
    """PNG plot of dev WER against weight bits: baseline, PTQ, QAT and memristor (min–max band)."""

    def __init__(self, *, baseline: WerInput, ptq: Dict[int, WerInput], qat: Dict[int, WerInput],
                 devices: Dict[int, List[tk.Variable]], title: str = "TED-LIUM v2 dev"):
        """
        :param baseline: WER(s) of the float model
        :param ptq: weight bits -> WER(s) of PTQ models
        :param qat: weight bits -> WER(s) of QAT models
        :param devices: weight bits -> WER per memristor device
        :param title: plot title
        """
        self.baseline = baseline
        self.ptq = ptq
        self.qat = qat
        self.devices = devices
        self.title = title
        self.out_plot = self.output_path("wer_vs_bits.png")

    def tasks(self):
        yield Task("run", mini_task=True)

    def run(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4), dpi=150)
        ax.axhline(best_wer(self.baseline), color="k", linestyle="--", label="float baseline")
        for name, data, marker in (("PTQ", self.ptq, "s"), ("QAT", self.qat, "o")):
            bits = sorted(data)
            ax.plot(bits, [best_wer(data[b]) for b in bits], marker=marker, label=name)
        bits = sorted(self.devices)
        stats = [device_stats([best_wer(v) for v in self.devices[b]]) for b in bits]
        ax.plot(bits, [s["avg"] for s in stats], marker="^", color="tab:red", label="QAT on memristors (avg)")
        ax.fill_between(bits, [s["min"] for s in stats], [s["max"] for s in stats], color="tab:red", alpha=0.2,
                        label="memristor min–max")
        ax.set_xlabel("weight bits")
        ax.set_ylabel("WER [%]")
        ax.set_title(self.title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(self.out_plot.get_path())
        plt.close(fig)
