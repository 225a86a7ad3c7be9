"""Paper tables as data: rows of numbers rendered to Markdown, LaTeX (booktabs) and CSV."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from memristor_asr.report.bootstrap import NUM_RESAMPLES, WerEstimate

__all__ = ["Table", "EvalSet", "describe_sets", "table2", "table3", "label_unit_table", "budget_table", "device_stats",
           "fmt"]


def fmt(value, digits: int = 1) -> str:
    """A table cell: numbers with ``digits`` decimals, a WER estimate as ``value [lo, hi]`` (with
    ``± seed std`` before the interval when averaged over seeds), None/NaN as "n.a."."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n.a."
    if isinstance(value, WerEstimate):
        spread = f" ± {value.seed_std:.{digits}f}" if value.seed_std is not None else ""
        return f"{value.wer:.{digits}f}{spread} [{value.lo:.{digits}f}, {value.hi:.{digits}f}]"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


@dataclass
class Table:
    """A titled table; ``digits`` gives the decimals per column (default 1)."""

    title: str
    header: List[str]
    rows: List[List[object]]
    digits: Optional[List[int]] = None
    note: str = ""
    caption: str = field(default="")

    def _cells(self, row) -> List[str]:
        digits = self.digits or [1] * len(self.header)
        return [fmt(v, d) for v, d in zip(row, digits)]

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.header) + " |",
                 "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(self._cells(r)) + " |" for r in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines) + "\n"

    def latex(self) -> str:
        def esc(s: str) -> str:
            return s.replace("%", r"\%").replace("_", r"\_").replace("&", r"\&").replace("±", r"$\pm$")

        cols = "l" + "r" * (len(self.header) - 1)
        out = [r"\begin{table}[t]", r"  \centering", f"  \\caption{{{esc(self.caption or self.title)}}}",
               f"  \\begin{{tabular}}{{{cols}}}", r"    \toprule",
               "    " + " & ".join(esc(h) for h in self.header) + r" \\", r"    \midrule"]
        out += ["    " + " & ".join(esc(c) for c in self._cells(r)) + r" \\" for r in self.rows]
        out += [r"    \bottomrule", r"  \end{tabular}", r"\end{table}"]
        return "\n".join(out) + "\n"

    def csv(self) -> str:
        """Plain numbers; a column of WER estimates becomes ``X, X_ci_lo, X_ci_hi`` (and
        ``X_seed_std`` when some cell averages several seeds)."""
        estimate_cols = {i for r in self.rows for i, v in enumerate(r) if isinstance(v, WerEstimate)}
        seed_cols = {i for r in self.rows for i, v in enumerate(r) if isinstance(v, WerEstimate) and v.num_seeds > 1}
        header = []
        for i, h in enumerate(self.header):
            header.append(h)
            if i in estimate_cols:
                header += [f"{h}_ci_lo", f"{h}_ci_hi"] + ([f"{h}_seed_std"] if i in seed_cols else [])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        for r in self.rows:
            cells = []
            for i, v in enumerate(r):
                if i in estimate_cols:
                    e = v if isinstance(v, WerEstimate) else None
                    cells += [_num(e.wer), _num(e.lo), _num(e.hi)] if e else [_num(v), "", ""]
                    if i in seed_cols:
                        cells.append(_num(e.seed_std) if e and e.seed_std is not None else "")
                else:
                    cells.append("" if v is None else v)
            w.writerow(cells)
        return buf.getvalue()


def _num(v) -> str:
    return "" if v is None else f"{float(v):.3f}"


def device_stats(wers: Sequence[float]) -> dict:
    """Mean, population std (ddof 0, as the paper's numpy std), min and max over devices."""
    a = np.asarray(list(wers), dtype=np.float64)
    if a.size == 0:
        raise ValueError("no device results")
    if np.any(np.isnan(a)) or np.any(a < 0):
        raise ValueError(f"invalid WERs {a.tolist()}")
    return {"avg": float(a.mean()), "std": float(a.std(ddof=0)), "min": float(a.min()), "max": float(a.max()),
            "n": int(a.size)}


@dataclass(frozen=True)
class EvalSet:
    """What the WERs were measured on, for captions: corpus name, split, segments and words."""

    corpus: str
    split: str
    segments: int
    words: int

    def describe(self) -> str:
        return f"{self.corpus}, {self.split}: {self.segments} segments, {self.words} words"


def describe_sets(eval_sets: Sequence[EvalSet]) -> str:
    """``corpus, dev: N segments, W words; test: ...`` (the corpus named once)."""
    if not eval_sets:
        raise ValueError("no evaluation sets")
    parts = [f"{e.split}: {e.segments} segments, {e.words} words" for e in eval_sets]
    return f"{eval_sets[0].corpus}, " + "; ".join(parts)


def _splits_phrase(eval_sets: Sequence[EvalSet]) -> str:
    """``dev`` or ``dev and test (scales tuned on dev)``."""
    names = [e.split for e in eval_sets]
    if len(names) == 1:
        return names[0]
    return f"{' and '.join(names)} (scales tuned on {names[0]})"


_CI_NOTE = ("WER [%] with its 95 % confidence interval [lo, hi] from a bootstrap over the evaluation segments "
            f"({NUM_RESAMPLES:,} resamples)")


def table2(baseline: Dict[str, WerEstimate], ptq: Dict[int, Dict[str, WerEstimate]],
           qat: Dict[int, Dict[str, WerEstimate]], bits: Sequence[int], eval_sets: Sequence[EvalSet]) -> Table:
    """Table 2: PTQ vs QAT WER per weight bits (8-bit activations) and the float baseline, one column
    per method and evaluation split.

    :param baseline: split -> estimate of the float model
    :param ptq: bits -> split -> estimate (a missing bits entry renders as n.a.)
    :param qat: bits -> split -> estimate
    :param eval_sets: one per split, in column order (the first tunes the scales)
    """
    splits = [e.split for e in eval_sets]
    header = ["weight bits"] + [f"{m} {s}" for m in ("PTQ", "QAT") for s in splits]
    rows = [[b] + [(d.get(b) or {}).get(s) for d in (ptq, qat) for s in splits] for b in bits]
    rows.append(["non-quantised baseline"] + [baseline.get(s) for s in splits] + [None] * len(splits))
    every = [baseline, *ptq.values(), *qat.values()]
    seeds = _seed_note([e for d in every if d for e in d.values()])
    where = describe_sets(eval_sets)
    return Table(f"Table 2: PTQ vs. QAT, WER [%] on {_splits_phrase(eval_sets)}, activations 8 bit "
                 f"({eval_sets[0].corpus})",
                 header, rows, digits=[0] + [1] * (len(header) - 1),
                 note=f"{_CI_NOTE}{seeds}. Evaluated on {where}.",
                 caption=f"PTQ vs. QAT, {where}; WER [%] with 95 % bootstrap interval{seeds}")


def table3(baseline: Dict[str, WerEstimate], devices: Dict[object, Dict[str, tuple]], bits: Sequence[object],
           eval_sets: Sequence[EvalSet], *, row_label: str = "weight bits", label: Optional[str] = "Table 3",
           what: str = "QAT models on simulated memristor hardware") -> Table:
    """Table 3: QAT models on simulated memristor hardware, statistics over devices per weight bits
    and evaluation split (or, with ``row_label``, per value of another setting, e.g. a read sweep).

    :param baseline: split -> estimate of the float model
    :param devices: row value (weight bits) -> split -> (estimate of the device average, list of per-device WERs)
    :param bits: the row values, in row order
    :param eval_sets: one per split, in column order
    :param row_label: header of the first column
    :param label: the title's prefix (None: none)
    :param what: what the rows are, in title and caption
    """
    splits = [e.split for e in eval_sets]
    header, digits = [row_label], [0]
    for s in splits:
        header += [f"{s} avg", f"{s} std", f"{s} min", f"{s} max"]
        digits += [1, 2, 1, 1]
    header.append("devices")
    digits.append(0)
    rows = []
    for b in bits:
        row, counts = [b], set()
        for s in splits:
            avg, wers = devices[b][s]
            st = device_stats(wers)
            row += [avg, st["std"], st["min"], st["max"]]
            counts.add(st["n"])
        if len(counts) != 1:
            raise ValueError(f"{b}-bit devices: different numbers of device results per split {sorted(counts)}")
        rows.append(row + [counts.pop()])
    base_row = ["non-quantised baseline"]
    for s in splits:
        base_row += [baseline.get(s), None, None, None]
    rows.append(base_row + [None])
    seeds = _seed_note(list(baseline.values()) + [devices[b][s][0] for b in bits for s in splits])
    where = describe_sets(eval_sets)
    return Table(f"{label + ': ' if label else ''}{what}, WER [%] over devices on "
                 f"{' and '.join(splits)} ({eval_sets[0].corpus})",
                 header, rows, digits=digits,
                 note=(f"avg: mean over devices with its 95 % bootstrap interval over the evaluation segments"
                       f"{seeds}; std (ddof 0), min, max: over devices. Evaluated on {where}."),
                 caption=f"{what}, {where}; WER [%] over devices")


def label_unit_table(rows: Sequence[tuple], eval_sets: Sequence[EvalSet]) -> Table:
    """Systems of several label units side by side: one row per (label unit, decoding, system), the
    WER per split, and for memristor rows the std over devices and their number.

    :param rows: ``(label unit, decoding, system, {split: estimate}, {split: per-device WERs} or None)``
    :param eval_sets: one per split, in column order (the first tunes the scales)
    """
    splits = [e.split for e in eval_sets]
    header = ["labels", "decoding", "system"] + [f"{s} WER" for s in splits] + [f"{s} device std" for s in splits] + \
        ["devices"]
    table_rows = []
    for unit, decoding, system, ests, device_wers in rows:
        stats = {s: device_stats(device_wers[s]) for s in splits} if device_wers else None
        table_rows.append([unit, decoding, system] + [ests[s] for s in splits] +
                          [stats[s]["std"] if stats else None for s in splits] +
                          [stats[splits[0]]["n"] if stats else None])
    seeds = _seed_note([e for r in rows for e in r[3].values()])
    where = describe_sets(eval_sets)
    return Table(f"Label units, phonemes vs. BPE: WER [%] on {_splits_phrase(eval_sets)}; {eval_sets[0].corpus}",
                 header, table_rows, digits=[0, 0, 0] + [1] * len(splits) + [2] * len(splits) + [0],
                 note=(f"{_CI_NOTE}{seeds}; memristor rows: mean over devices (its interval) and the std "
                       f"(ddof 0) over devices. Evaluated on {where}."),
                 caption=f"Phonemes vs. BPE, {where}; WER [%] with 95 % bootstrap interval{seeds}")


def _seed_note(estimates) -> str:
    n = max((e.num_seeds for e in estimates if isinstance(e, WerEstimate)), default=1)
    return f"; mean ± std (ddof 1) over {n} training seeds" if n > 1 else ""


def budget_table(devices: Dict[int, Dict[str, tuple]], budgets: Dict[int, dict], bits: Sequence[int],
                 eval_sets: Sequence[EvalSet], *, what: str = "QAT models on simulated memristor hardware") -> Table:
    """WER over devices beside the crossbar budget, per weight bits.

    :param devices: weight bits -> split -> (estimate of the device average, per-device WERs)
    :param budgets: weight bits -> ``CrossbarBudget.summary()`` of that model's device
    :param bits: the row values, in row order
    :param eval_sets: one per split, in column order
    """
    splits = [e.split for e in eval_sets]
    header = ["weight bits"] + [f"{s} WER avg" for s in splits] + [
        "array pairs", "cells [M]", "DAC conv. [M/s]", "ADC conv. [M/s]", "cell reads [G/s]",
        "energy [µJ/s]", "ADC [µJ/s]", "ADC envelope [µJ/s]"]
    digits = [0] + [1] * len(splits) + [0, 1, 1, 1, 2, 1, 1, 2]
    rows = []
    for b in bits:
        if b not in budgets:
            raise ValueError(f"{b}-bit devices: no crossbar budget")
        s = budgets[b]
        rows.append([b] + [devices[b][split][0] for split in splits] + [
            int(s["array_pairs"]), s["cells"] / 1e6, s["dac_per_second"] / 1e6, s["adc_per_second"] / 1e6,
            s["cell_reads_per_second"] / 1e9, s["total_joules_per_second"] * 1e6, s["adc_joules_per_second"] * 1e6,
            s["adc_envelope_joules_per_second"] * 1e6])
    adc_bits = sorted({int(budgets[b]["adc_bits"]) for b in bits})
    fps = sorted({float(budgets[b]["frames_per_second"]) for b in bits})
    where = describe_sets(eval_sets)
    return Table(f"{what}: WER [%] and crossbar budget per second of audio ({eval_sets[0].corpus})",
                 header, rows, digits=digits,
                 note=(f"WER: mean over devices with its 95 % bootstrap interval, evaluated on {where}. Budget of one "
                       f"device (128 × 128 array pairs, cells incl. padding), {'/'.join(f'{f:g}' for f in fps)} "
                       f"encoder frames per second, {'/'.join(map(str, adc_bits))}-bit ADC. Energy = ADC (ISAAC) + "
                       f"DAC + cell reads; the cell term is a full-scale upper bound, the ADC envelope the best "
                       f"published converters (docs/HARDWARE_STUDIES.md §7)."),
                 caption=f"{what}: WER and crossbar budget, {where}")
