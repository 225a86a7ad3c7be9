"""Report jobs: the paper's tables (Markdown, LaTeX, CSV) and the WER-vs-bits plot.

Every WER comes from a ScliteJob's per-segment scores (``out_segment_scores``), so that each
table cell carries a bootstrap interval over the evaluation segments. A system's result is a grid
point: ``{split: segment scores}``, one entry per evaluation split (dev, test). A cell's input is
given per training seed: ``[[grid point, ...] for each seed]`` for tuned systems (each seed's grid
point with the lowest WER on the tuning split, the first of ``splits``, is reported on every split:
scales tuned on dev, applied to test), ``[[device, ...] for each seed]`` for memristor runs.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

from sisyphus import Job, Task, tk

from memristor_asr.report.bootstrap import ScoredSystem, WerEstimate, estimate, load_scores
from memristor_asr.report.tables import EvalSet, Table, budget_table, device_stats, label_unit_table, table2, table3

__all__ = ["GridPoint", "Table2Job", "Table3Job", "DeviceSweepTableJob", "DeviceSweepPlotJob", "WerPlotJob",
           "CrossbarBudgetTableJob", "WriteVerifyTableJob", "NoiseTrainingTableJob", "MultiLevelTableJob",
           "LabelUnitTableJob", "LabelUnitPlotJob",
           "write_table", "best_of_grid", "tuned_estimates", "devices_estimates"]

GridPoint = Mapping[str, tk.Path]      # split -> segment scores of one recognition (grid point or device)
PerSeed = Sequence[Sequence[GridPoint]]  # [seed][grid point or device]


def _load(point: GridPoint, split: str) -> ScoredSystem:
    if split not in point:
        raise ValueError(f"a grid point has no {split} scores (it has {sorted(point)})")
    return load_scores(tk.uncached_path(point[split]))


def best_of_grid(grid: Sequence[GridPoint], splits: Sequence[str]) -> Dict[str, ScoredSystem]:
    """The grid point with the lowest corpus-level WER on ``splits[0]`` (first one on ties), scored on
    every split.

    :raises ValueError: for an empty grid or a point without one of the splits
    """
    if not grid:
        raise ValueError("empty tuning grid")
    tuning = [_load(p, splits[0]) for p in grid]
    best = min(range(len(grid)), key=lambda i: tuning[i].wer)
    return {s: tuning[best] if s == splits[0] else _load(grid[best], s) for s in splits}


def tuned_estimates(per_seed: PerSeed, splits: Sequence[str]) -> Dict[str, WerEstimate]:
    """A tuned system's estimate per split: each seed's best grid point, averaged over seeds."""
    return _tuned(per_seed, splits)[0]


def _tuned(per_seed: PerSeed, splits: Sequence[str]) -> Tuple[Dict[str, WerEstimate], Dict[str, ScoredSystem]]:
    """(split -> estimate, split -> the first seed's best system) of a tuned system."""
    best = [best_of_grid(grid, splits) for grid in per_seed]
    return {s: estimate([[b[s]] for b in best]) for s in splits}, best[0]


def devices_estimates(per_seed: PerSeed, splits: Sequence[str]) -> Dict[str, Tuple[WerEstimate, List[float]]]:
    """split -> (estimate of the device average, every device's WER) of a memristor setting."""
    out = {}
    for s in splits:
        systems = [[_load(p, s) for p in devices] for devices in per_seed]
        out[s] = (estimate(systems), [x.wer for seed in systems for x in seed])
    return out


def eval_sets(corpus: str, systems: Mapping[str, ScoredSystem], splits: Sequence[str]) -> List[EvalSet]:
    """What the tables were measured on, per split (from one scored system per split)."""
    return [EvalSet(corpus, s, len(systems[s].scores), sum(x.words for x in systems[s].scores)) for s in splits]


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
        yield Task("run", resume="run", mini_task=True)


class Table2Job(_TableJob):
    """Table 2: PTQ vs QAT WER per weight bits and split, plus the non-quantised baseline, with 95 %
    intervals; scales tuned on the first split."""

    def __init__(self, *, baseline: PerSeed, ptq: Dict[int, PerSeed], qat: Dict[int, PerSeed], corpus: str,
                 splits: Sequence[str] = ("dev",)):
        """
        :param baseline: segment scores of the float model, per seed and grid point
        :param ptq: weight bits -> segment scores of the post-training quantised float model
        :param qat: weight bits -> segment scores of the QAT model
        :param corpus: name of the corpus in titles and captions
        :param splits: evaluation splits, in column order; the first one tunes the scales
        """
        self.baseline = baseline
        self.ptq = ptq
        self.qat = qat
        self.corpus = corpus
        self.splits = tuple(splits)
        self._declare_outputs()

    def run(self):
        bits = sorted(set(self.ptq) | set(self.qat), reverse=True)
        base, base_systems = _tuned(self.baseline, self.splits)
        t = table2(base, {b: tuned_estimates(v, self.splits) for b, v in self.ptq.items()},
                   {b: tuned_estimates(v, self.splits) for b, v in self.qat.items()}, bits,
                   eval_sets(self.corpus, base_systems, self.splits))
        write_table(t, self)


class Table3Job(_TableJob):
    """Table 3: QAT models on simulated memristor hardware, per split: avg (with its 95 % interval),
    std (ddof 0), min, max over devices."""

    def __init__(self, *, baseline: PerSeed, devices: Dict[int, PerSeed], corpus: str,
                 splits: Sequence[str] = ("dev",)):
        """
        :param baseline: segment scores of the float model, per seed and grid point
        :param devices: weight bits -> segment scores per seed and programmed device
        :param corpus: name of the corpus in titles and captions
        :param splits: evaluation splits, in column order; the first one tunes the baseline's scales
        """
        self.baseline = baseline
        self.devices = devices
        self.corpus = corpus
        self.splits = tuple(splits)
        self._declare_outputs()

    def run(self):
        bits = sorted(self.devices, reverse=True)
        base, base_systems = _tuned(self.baseline, self.splits)
        write_table(table3(base, {b: devices_estimates(self.devices[b], self.splits) for b in bits}, bits,
                           eval_sets(self.corpus, base_systems, self.splits)), self)


class DeviceSweepTableJob(Table3Job):
    """Table 3's statistics over devices for the values of one setting (e.g. ADC precision bits of a
    read sweep on the same devices): avg (with its 95 % interval), std, min, max per split.

    Takes Table3Job's arguments, with ``devices`` keyed by the setting's values (in row order), and:

    :param setting: the setting's name, the first column's header (e.g. ``ADC precision bits``)
    :param what: what the rows are, for title and caption (e.g. ``QAT-4 on memristors by ADC precision``)
    """

    def __init__(self, *, baseline: PerSeed, devices: Dict[object, PerSeed], setting: str, what: str, corpus: str,
                 splits: Sequence[str] = ("dev",)):
        super().__init__(baseline=baseline, devices=devices, corpus=corpus, splits=splits)
        self.setting = setting
        self.what = what

    def _table(self) -> Table:
        base, base_systems = _tuned(self.baseline, self.splits)
        return table3(base, {v: devices_estimates(d, self.splits) for v, d in self.devices.items()},
                      list(self.devices), eval_sets(self.corpus, base_systems, self.splits),
                      row_label=self.setting, label=None, what=self.what)

    def _with_columns(self, table: Table, columns: Sequence[Tuple[str, int]], values: Mapping[object, Sequence]) -> Table:
        """``table`` with further columns (header, digits): ``values[row value]`` per sweep row, "n.a."
        for rows without values and for the baseline row."""
        table.header += [c[0] for c in columns]
        table.digits += [c[1] for c in columns]
        for value, row in zip(list(self.devices) + [None], table.rows):
            row += list(values[value]) if value in values else [None] * len(columns)
        return table

    def run(self):
        write_table(self._table(), self)


class WriteVerifyTableJob(DeviceSweepTableJob):
    """A device sweep over write-verify settings: DeviceSweepTableJob's WER columns, then what the
    verify rounds did, averaged over a row's devices (their ProgramCrossbarsJob ``out_write_verify``):
    rounds run, correction pulses per cell, and the share of cells out of tolerance before and after (all, ON).

    Takes DeviceSweepTableJob's arguments and:

    :param reports: row value -> the ``out_write_verify`` of each device in that row (a row without
        write-verify, e.g. the plain devices, is left out and shows "n.a.")
    """

    COLUMNS = (("verify rounds", "rounds", 1, 1), ("correction pulses per cell", "pulses_per_cell", 2, 1),
               ("out of tol. before [%]", "out_of_tolerance_before", 1, 100),
               ("out of tol. after [%]", "out_of_tolerance_after", 1, 100),
               ("ON out of tol. after [%]", "on_out_of_tolerance_after", 1, 100))

    def __init__(self, *, baseline: PerSeed, devices: Dict[object, PerSeed], reports: Dict[object, Sequence[tk.Path]],
                 setting: str, what: str, corpus: str, splits: Sequence[str] = ("dev",)):
        super().__init__(baseline=baseline, devices=devices, setting=setting, what=what, corpus=corpus, splits=splits)
        self.reports = reports

    def run(self):
        import json

        import numpy as np

        values = {}
        for value, paths in self.reports.items():
            summaries = []
            for path in paths:
                with open(tk.uncached_path(path), encoding="utf-8") as f:
                    summaries.append(json.load(f))
            values[value] = [float(np.mean([x[key] for x in summaries])) * scale for _, key, _, scale in self.COLUMNS]
        t = self._with_columns(self._table(), [(c[0], c[2]) for c in self.COLUMNS], values)
        t.note += (" Write-verify columns: means over the row's devices; correction pulses: the RESET and SET "
                   "pulses that act on a flagged cell, two per round it is flagged in.")
        write_table(t, self)


class NoiseTrainingTableJob(DeviceSweepTableJob):
    """A device sweep over the models of a noise-aware training sweep: DeviceSweepTableJob's WER
    columns over devices, then each model's digital (fake-quantised, noise off) WER per split.

    Takes DeviceSweepTableJob's arguments (``devices`` keyed by the rows, e.g. the training noise) and:

    :param digital: row value -> segment scores of that model's digital recognition, per seed and
        grid point (tuned on the first split, as Table 2)
    """

    def __init__(self, *, baseline: PerSeed, devices: Dict[object, PerSeed], digital: Dict[object, PerSeed],
                 setting: str, what: str, corpus: str, splits: Sequence[str] = ("dev",)):
        super().__init__(baseline=baseline, devices=devices, setting=setting, what=what, corpus=corpus, splits=splits)
        self.digital = digital

    def run(self):
        values = {v: [tuned_estimates(grid, self.splits)[s] for s in self.splits] for v, grid in self.digital.items()}
        t = self._with_columns(self._table(), [(f"{s} digital", 1) for s in self.splits], values)
        t.note += (" Digital: the same model fake-quantised, without memristors and without training noise "
                   "(scales tuned on the first split).")
        write_table(t, self)


class MultiLevelTableJob(DeviceSweepTableJob):
    """A device sweep over cells with more conductance levels: DeviceSweepTableJob's WER columns, then
    what one device of the row needs: digit planes per weight, array pairs and cells (the simulated
    cells of partial tiles' padding excluded, as in the device file).

    Takes DeviceSweepTableJob's arguments and:

    :param device_files: row value -> one programmed device of that row (``out_device``)
    """

    def __init__(self, *, baseline: PerSeed, devices: Dict[object, PerSeed], device_files: Dict[object, tk.Path],
                 setting: str, what: str, corpus: str, splits: Sequence[str] = ("dev",)):
        super().__init__(baseline=baseline, devices=devices, setting=setting, what=what, corpus=corpus, splits=splits)
        self.device_files = device_files

    def run(self):
        import math

        from memristor_asr.memristor.convert import load_programmed_file

        values = {}
        for value, path in self.device_files.items():
            state = load_programmed_file(tk.uncached_path(path))
            p = state.programming
            planes = {lay.num_planes for lay in state.layers.values()}
            pairs = sum(lay.num_planes * math.ceil(lay.in_features / p.tile_inputs)
                        * math.ceil(lay.out_features / p.tile_outputs) for lay in state.layers.values())
            values[value] = ["/".join(map(str, sorted(planes))), pairs, state.num_cells / 1e6]
        t = self._with_columns(self._table(), [("planes", 0), ("array pairs", 0), ("cells [M]", 1)], values)
        t.note += " Planes per weight, array pairs and cells: of one device of the row."
        write_table(t, self)


def _label_unit_rows(systems: Sequence[Mapping], splits: Sequence[str]) -> List[tuple]:
    """``(labels, decoding, system, split -> estimate, split -> device WERs or None)`` per entry of a
    label-unit comparison (see :class:`LabelUnitTableJob`)."""
    rows = []
    for entry in systems:
        if ("tuned" in entry) == ("devices" in entry):
            raise ValueError(f"label-unit entry {entry.get('system')!r}: give exactly one of 'tuned' and 'devices'")
        if "tuned" in entry:
            rows.append((entry["labels"], entry["decoding"], entry["system"], tuned_estimates(entry["tuned"], splits),
                         None))
        else:
            est = devices_estimates(entry["devices"], splits)
            rows.append((entry["labels"], entry["decoding"], entry["system"], {s: est[s][0] for s in splits},
                         {s: est[s][1] for s in splits}))
    return rows


class LabelUnitTableJob(_TableJob):
    """Systems of the phoneme study and of its BPE variant in one table, with a label-unit column:
    WER per split with its 95 % interval (tuned systems: scales tuned on the first split; memristor
    systems: mean over devices, and the std over devices)."""

    def __init__(self, *, systems: Sequence[Mapping], corpus: str, splits: Sequence[str] = ("dev",)):
        """
        :param systems: one dict per row, in row order: ``labels`` (``phoneme``/``bpe``), ``decoding``
            (``lexicon``/``lexicon-free``), ``system`` (e.g. ``QAT-4 on memristors``), and either ``tuned``
            (segment scores per seed and grid point) or ``devices`` (per seed and device)
        :param corpus: name of the corpus in titles and captions
        :param splits: evaluation splits, in column order; the first one tunes the scales
        """
        self.systems = list(systems)
        self.corpus = corpus
        self.splits = tuple(splits)
        self._declare_outputs()

    def run(self):
        first = self.systems[0]
        point = (first["tuned"] if "tuned" in first else first["devices"])[0][0]  # any has the splits' sizes
        systems = {s: _load(point, s) for s in self.splits}
        write_table(label_unit_table(_label_unit_rows(self.systems, self.splits),
                                     eval_sets(self.corpus, systems, self.splits)), self)


class _PlotJob(Job):
    """``out_plot``: a PNG of WER with one panel per split over the float baseline's band; a subclass
    sets ``self.baseline``, ``self.corpus``, ``self.splits``, estimates its series once in
    ``_series`` and draws a split's panel from them in ``_draw``."""

    panel_width = 6.4  # inches
    baseline_label = "float baseline (95 % CI band)"

    def tasks(self):
        yield Task("run", resume="run", mini_task=True)

    def _series(self):
        raise NotImplementedError

    def _draw(self, ax, split: str, series) -> None:
        raise NotImplementedError

    def run(self):
        plt = _pyplot()
        base, base_systems = _tuned(self.baseline, self.splits)
        series = self._series()
        fig, axes = plt.subplots(1, len(self.splits), figsize=(self.panel_width * len(self.splits), 4.2), dpi=150,
                                 sharey=True, squeeze=False)
        for ax, split, ev in zip(axes[0], self.splits, eval_sets(self.corpus, base_systems, self.splits)):
            _baseline_band(ax, base[split], self.baseline_label)
            self._draw(ax, split, series)
            ax.set_ylabel("WER [%]")
            _footnote(ax, ev)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(self.out_plot.get_path())
        plt.close(fig)


class DeviceSweepPlotJob(_PlotJob):
    """PNG plot of a device sweep (the rows of :class:`DeviceSweepTableJob`), one panel per split: the
    device average with its 95 % interval, the min–max over devices and the float baseline's band."""

    panel_width = 6.0

    def __init__(self, *, baseline: PerSeed, devices: Dict[object, PerSeed], setting: str, what: str, corpus: str,
                 splits: Sequence[str] = ("dev",)):
        """Arguments as :class:`DeviceSweepTableJob`'s (``devices`` keyed by the setting's values, in
        plot order)."""
        self.baseline = baseline
        self.devices = devices
        self.setting = setting
        self.what = what
        self.corpus = corpus
        self.splits = tuple(splits)
        self.out_plot = self.output_path("plot.png")

    def _series(self):
        return {v: devices_estimates(d, self.splits) for v, d in self.devices.items()}

    def _draw(self, ax, split: str, series) -> None:
        x = list(range(len(series)))
        _device_band(ax, x, [est[split] for est in series.values()], "avg over devices", "min–max over devices")
        ax.set_xticks(x, [str(v) for v in series])
        ax.set_xlabel(self.setting)
        ax.set_title(f"{self.what}\n{self.corpus} {split}", fontsize=9)


def _errorbar(ax, x: Sequence[float], ests: Sequence[WerEstimate], **kw) -> None:
    """WER estimates at ``x`` with their 95 % intervals as error bars."""
    ax.errorbar(list(x), [e.wer for e in ests], yerr=[[e.wer - e.lo for e in ests], [e.hi - e.wer for e in ests]],
                capsize=3, **kw)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _baseline_band(ax, est: WerEstimate, label: str) -> None:
    ax.axhline(est.wer, color="k", linestyle="--", label=label)
    ax.axhspan(est.lo, est.hi, color="k", alpha=0.08)


def _device_band(ax, x: Sequence[float], per_x: Sequence[Tuple[WerEstimate, List[float]]], avg_label: str,
                 range_label: str) -> None:
    """The device average at each ``x`` with its 95 % interval, and the min–max over devices as a band."""
    _errorbar(ax, x, [avg for avg, _ in per_x], marker="^", color="tab:red", label=avg_label)
    ranges = [device_stats(wers) for _, wers in per_x]
    ax.fill_between(list(x), [r["min"] for r in ranges], [r["max"] for r in ranges], color="tab:red", alpha=0.2,
                    label=range_label)


def _footnote(ax, ev: EvalSet) -> None:
    ax.text(0.99, 0.01, f"{ev.segments} segments, {ev.words} words; bars: 95 % bootstrap CI",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.4")


class WerPlotJob(_PlotJob):
    """PNG plot of WER against weight bits, one panel per split: baseline, PTQ, QAT and memristor avg
    with 95 % intervals (error bars; the baseline's as a band) and the memristor min–max over devices."""

    def __init__(self, *, baseline: PerSeed, ptq: Dict[int, PerSeed], qat: Dict[int, PerSeed],
                 devices: Dict[int, PerSeed], corpus: str, splits: Sequence[str] = ("dev",)):
        """
        :param baseline: segment scores of the float model, per seed and grid point
        :param ptq: weight bits -> segment scores of PTQ models
        :param qat: weight bits -> segment scores of QAT models
        :param devices: weight bits -> segment scores per seed and memristor device
        :param corpus: name of the corpus in the title
        :param splits: evaluation splits, one panel each; the first one tunes the scales
        """
        self.baseline = baseline
        self.ptq = ptq
        self.qat = qat
        self.devices = devices
        self.corpus = corpus
        self.splits = tuple(splits)
        self.out_plot = self.output_path("wer_vs_bits.png")

    def _series(self):
        splits = self.splits
        tuned = {name: {b: tuned_estimates(data[b], splits) for b in sorted(data)}
                 for name, data in (("PTQ", self.ptq), ("QAT", self.qat))}
        return tuned, {b: devices_estimates(self.devices[b], splits) for b in sorted(self.devices)}

    def _draw(self, ax, split: str, series) -> None:
        tuned, memristors = series
        for (name, per_bits), marker in zip(tuned.items(), ("s", "o")):
            _errorbar(ax, list(per_bits), [est[split] for est in per_bits.values()], marker=marker, label=name)
        if memristors:
            _device_band(ax, list(memristors), [est[split] for est in memristors.values()],
                         "QAT on memristors (avg)", "memristor min–max over devices")
        ax.set_xlabel("weight bits")
        splits = self.splits
        tuning = "" if split == splits[0] else f" (scales tuned on {splits[0]})"
        ax.set_title(f"{self.corpus} {split}{tuning}", fontsize=10)


class LabelUnitPlotJob(_PlotJob):
    """PNG plot of WER against weight bits per label unit (lexicon search), one panel per split: QAT
    and QAT on memristors (device mean) of each unit with 95 % intervals, the phoneme float baseline's
    band and the other units' float baselines as lines."""

    baseline_label = "phoneme float baseline (95 % CI band)"

    def __init__(self, *, baseline: PerSeed, systems: Sequence[Mapping], corpus: str, splits: Sequence[str] = ("dev",)):
        """
        :param baseline: segment scores of the phoneme float model, per seed and grid point (the band)
        :param systems: the rows of :class:`LabelUnitTableJob`; those with ``bits`` (QAT and memristor
            rows) are drawn against it, float rows (``bits`` None) of other units as lines
        """
        self.baseline = baseline
        self.systems = list(systems)
        self.corpus = corpus
        self.splits = tuple(splits)
        self.out_plot = self.output_path("wer_vs_bits.png")

    def _series(self):
        lexicon = [e for e in self.systems if e["decoding"] == "lexicon"]
        return [(e, row) for e, row in zip(lexicon, _label_unit_rows(lexicon, self.splits))]

    def _draw(self, ax, split: str, series) -> None:
        curves: Dict[tuple, Dict[int, WerEstimate]] = {}
        for entry, (unit, _, _, ests, _) in series:
            if entry.get("bits") is None:
                if unit != "phoneme":
                    ax.axhline(ests[split].wer, linestyle=":", color="tab:green", label=f"{unit} float baseline")
                continue
            kind = "QAT on memristors (avg)" if "devices" in entry else "QAT"
            curves.setdefault((unit, kind), {})[entry["bits"]] = ests[split]
        # side by side at each bit width, so that the intervals of the four series do not hide each other
        offsets = {key: 0.08 * (i - (len(curves) - 1) / 2) for i, key in enumerate(curves)}
        for (unit, kind), per_bits in curves.items():
            bits = sorted(per_bits)
            _errorbar(ax, [b + offsets[unit, kind] for b in bits], [per_bits[b] for b in bits],
                      marker="^" if "memristors" in kind else "o", linestyle="-" if unit == "phoneme" else "--",
                      label=f"{unit} {kind}")
        all_bits = sorted({b for per_bits in curves.values() for b in per_bits})
        ax.set_xticks(all_bits, [str(b) for b in all_bits])
        ax.set_xlim(min(all_bits) - 0.5, max(all_bits) + 0.5)
        ax.set_xlabel("weight bits")
        ax.set_title(f"phonemes vs. BPE, {self.corpus} {split}", fontsize=10)


class CrossbarBudgetTableJob(_TableJob):
    """WER over devices beside each model's crossbar budget (array pairs, cells, converter operations and
    energy per second of audio), as a table and a plot of WER against the energy estimate."""

    def __init__(self, *, devices: Dict[int, PerSeed], budgets: Dict[int, tk.Path], corpus: str,
                 splits: Sequence[str] = ("dev",)):
        """
        :param devices: weight bits -> segment scores per seed and programmed device
        :param budgets: weight bits -> a CrossbarBudgetJob's ``out_budget`` (of one of those devices)
        :param corpus: name of the corpus in titles and captions
        :param splits: evaluation splits, in column order
        """
        self.devices = devices
        self.budgets = budgets
        self.corpus = corpus
        self.splits = tuple(splits)
        self._declare_outputs()
        self.out_plot = self.output_path("wer_vs_energy.png")

    def run(self):
        import json

        plt = _pyplot()
        bits = sorted(self.devices, reverse=True)
        budgets = {}
        for b in bits:
            with open(tk.uncached_path(self.budgets[b]), encoding="utf-8") as f:
                budgets[b] = json.load(f)["summary"]
        estimates = {b: devices_estimates(self.devices[b], self.splits) for b in bits}
        systems = {s: _load(self.devices[bits[0]][0][0], s) for s in self.splits}
        where = eval_sets(self.corpus, systems, self.splits)
        write_table(budget_table(estimates, budgets, bits, where), self)

        fig, axes = plt.subplots(1, len(self.splits), figsize=(6.0 * len(self.splits), 4.2), dpi=150, sharey=True,
                                 squeeze=False)
        energy = [budgets[b]["total_joules_per_second"] * 1e6 for b in bits]
        for ax, split, ev in zip(axes[0], self.splits, where):
            ests = [estimates[b][split][0] for b in bits]
            _errorbar(ax, energy, ests, marker="^", color="tab:red", linestyle="-")
            for b, x, e in zip(bits, energy, ests):
                ax.annotate(f"{b} bit", (x, e.wer), textcoords="offset points", xytext=(5, 5), fontsize=8)
            ax.set_xscale("log")
            ax.set_xlabel("energy estimate per second of audio [µJ] (ADC + DAC + cell bound)")
            ax.set_ylabel("WER [%], mean over devices")
            ax.set_title(f"{self.corpus} {split}", fontsize=10)
            _footnote(ax, ev)
            ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        fig.savefig(self.out_plot.get_path())
        plt.close(fig)
