"""Paper tables as data: rows of numbers rendered to Markdown, LaTeX (booktabs) and CSV."""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

__all__ = ["Table", "table2", "table3", "device_stats", "fmt"]


def fmt(value, digits: int = 1) -> str:
    """A table cell: numbers with ``digits`` decimals, None/NaN as "n.a."."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n.a."
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
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.header)
        for r in self.rows:
            w.writerow(["" if v is None else v for v in r])
        return buf.getvalue()


def device_stats(wers: Sequence[float]) -> dict:
    """Mean, population std (ddof 0, as the paper's numpy std), min and max over devices."""
    a = np.asarray(list(wers), dtype=np.float64)
    if a.size == 0:
        raise ValueError("no device results")
    if np.any(np.isnan(a)) or np.any(a < 0):
        raise ValueError(f"invalid WERs {a.tolist()}")
    return {"avg": float(a.mean()), "std": float(a.std(ddof=0)), "min": float(a.min()), "max": float(a.max()),
            "n": int(a.size)}


def table2(baseline: float, ptq: dict, qat: dict, bits: Sequence[int]) -> Table:
    """Table 2: PTQ vs QAT WER per weight bits (8-bit activations) and the float baseline."""
    rows = [[b, ptq.get(b), qat.get(b)] for b in bits]
    rows.append(["non-quantised baseline", baseline, None])
    return Table("Table 2: PTQ vs. QAT, dev WER [%], activations 8 bit", ["weight bits", "PTQ", "QAT"], rows,
                 digits=[0, 1, 1])


def table3(baseline: float, devices: dict, bits: Sequence[int]) -> Table:
    """Table 3: QAT models on simulated memristor hardware, statistics over devices per weight bits."""
    rows = []
    for b in bits:
        s = device_stats(devices[b])
        rows.append([b, s["avg"], s["std"], s["min"], s["max"], s["n"]])
    rows.append(["non-quantised baseline", baseline, None, None, None, None])
    return Table("Table 3: QAT models on simulated memristor hardware, dev WER [%] over devices",
                 ["weight bits", "avg", "std", "min", "max", "devices"], rows, digits=[0, 1, 2, 1, 1, 0])
