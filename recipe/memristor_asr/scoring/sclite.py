"""WER scoring with NIST sclite (Debian package ``sctk``): CTM writing, running, parsing."""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from typing import Dict, List, Sequence

from memristor_asr.corpus.manifest import Segment
from memristor_asr.util import find_tool

__all__ = ["ScoreResult", "SegmentScore", "write_ctm", "run_sclite", "parse_raw_summary", "parse_sgml_segments",
           "write_segment_scores", "read_segment_scores", "recording_name"]


@dataclass(frozen=True)
class ScoreResult:
    """Error counts from sclite's raw summary (``Sum`` line)."""

    sentences: int
    words: int
    correct: int
    substitutions: int
    deletions: int
    insertions: int
    errors: int
    sentence_errors: int

    @property
    def wer(self) -> float:
        """Word error rate in percent."""
        return 100.0 * self.errors / self.words if self.words else 0.0


@dataclass(frozen=True)
class SegmentScore:
    """One reference segment's alignment counts (sclite SGML ``PATH``).

    :param segment: ``<recording>@<start>-<end>`` of the STM segment (seconds, 3 decimals; sclite
        lower-cases the recording)
    :param words: reference words (correct + substitutions + deletions)
    :param errors: substitutions + deletions + insertions
    """

    segment: str
    words: int
    errors: int


def recording_name(segment_id: str) -> str:
    """The STM/CTM recording field of a manifest segment id ``<recording>/<n>``."""
    return segment_id.rsplit("/", 1)[0]


def write_ctm(path, segments: Sequence[Segment], hypotheses: Dict[str, List[str]]) -> int:
    """Write a CTM: each segment's words spread evenly over the segment, one line per word.

    Every segment must have an entry in ``hypotheses`` (an empty list is an empty hypothesis).

    :raises ValueError: if there are no segments or no hypotheses at all
    :raises KeyError: naming the first segments without a hypothesis
    :returns: the number of words written
    """
    if not segments:
        raise ValueError(f"{path}: no reference segments to write a CTM for")
    if not hypotheses:
        raise ValueError(f"{path}: the hypotheses are empty (no segment was recognised at all)")
    missing = [s.id for s in segments if s.id not in hypotheses]
    if missing:
        raise KeyError(f"{len(missing)} reference segments have no hypothesis, e.g. {missing[:3]}")
    lines = []
    for seg in segments:
        words = hypotheses[seg.id]
        if not words:
            continue
        dur = (seg.end - seg.start) / len(words)
        for i, w in enumerate(words):
            lines.append((recording_name(seg.id), seg.start + i * dur, dur, w))
    lines.sort(key=lambda x: (x[0], x[1]))
    with open(path, "w", encoding="utf-8") as f:
        f.write(";; recording channel start duration word\n")
        for rec, start, dur, w in lines:
            f.write(f"{rec} 1 {start:.3f} {dur:.3f} {w}\n")
    return len(lines)


_SUM_RE = re.compile(r"^\|\s*Sum\s*\|(.*)\|(.*)\|\s*$")


def parse_raw_summary(path) -> ScoreResult:
    """Parse the ``Sum`` line of an sclite raw summary (``*.raw``): counts, not percentages."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = _SUM_RE.match(line.strip())
            if m:
                snt, wrd = (int(x) for x in m.group(1).split())
                corr, sub, dele, ins, err, serr = (int(x) for x in m.group(2).split())
                return ScoreResult(snt, wrd, corr, sub, dele, ins, err, serr)
    raise ValueError(f"{path}: no 'Sum' line found in sclite's raw summary")


_PATH_RE = re.compile(r'<PATH id="[^"]*" word_cnt="\d+" labels="[^"]*" file="([^"]*)" channel="[^"]*" '
                      r'sequence="\d+" R_T1="([\d.]+)" R_T2="([\d.]+)"')
_ALIGN_RE = re.compile(r'(?:^|:)([CSDI]),')


def parse_sgml_segments(path) -> List[SegmentScore]:
    """Per-segment counts from sclite's SGML report (``-o sgml``), in report order.

    :raises ValueError: naming the file when a ``PATH`` has no alignment line or none is found
    """
    out: List[SegmentScore] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines):
        m = _PATH_RE.match(line)
        if not m:
            continue
        if n + 1 >= len(lines):
            raise ValueError(f"{path}:{n + 1}: PATH without an alignment line")
        align = lines[n + 1] if not lines[n + 1].startswith("</PATH>") else ""
        ops = _ALIGN_RE.findall(align)
        words = sum(1 for o in ops if o != "I")
        errors = sum(1 for o in ops if o != "C")
        out.append(SegmentScore(f"{m.group(1)}@{float(m.group(2)):.3f}-{float(m.group(3)):.3f}", words, errors))
    if not out:
        raise ValueError(f"{path}: no segment (PATH) in sclite's SGML report")
    return out


def write_segment_scores(path, scores: Sequence[SegmentScore]) -> None:
    """Tab-separated ``segment words errors``, one line per reference segment, with a header."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("segment\twords\terrors\n")
        for s in scores:
            f.write(f"{s.segment}\t{s.words}\t{s.errors}\n")


def read_segment_scores(path) -> List[SegmentScore]:
    """Read :func:`write_segment_scores` output.

    :raises ValueError: naming file and line of a malformed line
    """
    out = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        if header != "segment\twords\terrors":
            raise ValueError(f"{path}:1: not a segment-score file (header {header!r})")
        for n, line in enumerate(f, 2):
            parts = line.rstrip("\n").split("\t")
            try:
                seg, words, errors = parts[0], int(parts[1]), int(parts[2])
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{n}: expected 'segment<TAB>words<TAB>errors', got {line.strip()!r}") from None
            if words < 0 or errors < 0 or len(parts) != 3:
                raise ValueError(f"{path}:{n}: invalid counts {line.strip()!r}")
            out.append(SegmentScore(seg, words, errors))
    if not out:
        raise ValueError(f"{path}: no segment scores")
    return out


def run_sclite(ref_stm, hyp_ctm, out_dir, name: str = "hyp") -> ScoreResult:
    """Score ``hyp_ctm`` against ``ref_stm``; keeps sclite's reports (sum, raw, dtl, pra, sgml) in ``out_dir``."""
    sctk = find_tool("sctk", setting="SCTK_PATH")
    os.makedirs(out_dir, exist_ok=True)
    cmd = [sctk, "sclite", "-r", os.fspath(ref_stm), "stm", "-h", os.fspath(hyp_ctm), "ctm", "-n", name,
           "-o", "all", "sgml", "-O", os.fspath(out_dir)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    raw = os.path.join(out_dir, f"{name}.raw")
    if res.returncode != 0 or not os.path.exists(raw):
        raise RuntimeError(f"sclite failed on {hyp_ctm} vs {ref_stm} (exit {res.returncode}):\n"
                           f"{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return parse_raw_summary(raw)
