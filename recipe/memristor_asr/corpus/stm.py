"""STM files: parsing with the i6 TED-LIUM v2 rules, train-segment padding, and writing.

An STM line is ``recording channel speaker start end [<label>] transcript`` (sclite's format).
The TED-LIUM v2 rules (i6 ``CreateTEDLIUM2BlissCorpusJob``, docs/STUDY_SETUP.md §1), in order:

1. skip empty lines and ``;;`` comments;
2. drop every line containing ``ignore_time_segment_in_scoring``;
3. map the labels ``<F0_M>`` -> ``<o,f0,male>`` and ``<F0_F>`` -> ``<o,f0,female>``;
4. normalise the text: the typos ``imiss`` -> ``i miss`` and ``uptheir`` -> ``up their`` (whole
   words), and a space before every apostrophe that sits between a word character and a letter
   (``it's`` -> ``it 's``);
5. train only: pad segments by 0.15 s before and 0.10 s after, never into a neighbour.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from memristor_asr.corpus.lines import utf8_lines
from memristor_asr.util import uopen

__all__ = ["IGNORE_TOKEN", "StmSegment", "StmError", "normalize_text", "map_label", "parse_stm_line",
           "read_stm", "pad_segments", "write_stm", "STM_HEADER"]

IGNORE_TOKEN = "ignore_time_segment_in_scoring"
_LABEL_MAP = {"<F0_M>": "<o,f0,male>", "<F0_F>": "<o,f0,female>"}
_TYPO_FIXES = {"imiss": "i miss", "uptheir": "up their"}
# i6 (CreateTEDLIUM2BlissCorpusJob.make_stm): a space before every apostrophe between a word
# character and an ASCII letter, matches taken left to right without overlap, so that the letter
# after one apostrophe cannot start the next match: "rock'n'roll" -> "rock 'n'roll", "don't" -> "don 't"
_APOSTROPHE_SPLIT = re.compile(r"(\w)'([a-zA-Z])")

# sclite reads these label descriptions for its per-gender breakdown (as Kaldi's TED-LIUM recipe writes them)
STM_HEADER = (';; LABEL "o" "Overall" "Overall results"\n'
              ';; LABEL "f0" "f0" "Wideband channel"\n'
              ';; LABEL "male" "Male" "Male Talkers"\n'
              ';; LABEL "female" "Female" "Female Talkers"\n')


class StmError(ValueError):
    """A malformed STM line; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class StmSegment:
    """One scored segment of an STM file (times in seconds)."""

    recording: str
    channel: str
    speaker: str
    start: float
    end: float
    label: Optional[str]    # e.g. "<o,f0,male>", None when the line has no label
    text: str
    where: str = ""          # "file:line" of the source line, for messages

    @property
    def gender(self) -> Optional[str]:
        """"male"/"female" from the label's third field, else None."""
        if not self.label:
            return None
        parts = self.label.strip("<>").split(",")
        return parts[2] if len(parts) >= 3 and parts[2] in ("male", "female") else None

    def stm_line(self) -> str:
        label = f" {self.label}" if self.label else ""
        return f"{self.recording} {self.channel} {self.speaker} {self.start:.2f} {self.end:.2f}{label} {self.text}".rstrip()


def normalize_text(text: str) -> str:
    """The i6 text normalisation: typo fixes, apostrophe splitting, single spaces."""
    words = [_TYPO_FIXES.get(w, w) for w in text.split()]
    return _APOSTROPHE_SPLIT.sub(r"\1 '\2", " ".join(words))


def map_label(label: str) -> str:
    return _LABEL_MAP.get(label, label)


def _parse_time(field: str, name: str, where: str) -> float:
    try:
        t = float(field)
    except ValueError:
        raise StmError(f"{where}: {name} time {field!r} is not a number") from None
    if not math.isfinite(t) or t < 0:
        raise StmError(f"{where}: {name} time {field!r} must be a finite number >= 0")
    return t


def parse_stm_line(line: str, where: str = "<stm>") -> Optional[StmSegment]:
    """Parse and normalise one STM line.

    :param where: ``file:line`` used in error messages
    :return: the segment, or None for an empty line, a ``;;`` comment or an ignored segment
    :raises StmError: on a line with fewer than 6 fields (label or text missing), unparsable or negative
        times, or an end before the start
    """
    stripped = line.strip()
    if not stripped or stripped.startswith(";;") or IGNORE_TOKEN in stripped:
        return None
    fields = stripped.split(None, 5)
    # six fields at least: a line that ends after the times has lost its label and transcript (a
    # truncated file, not an empty segment; an empty transcript still has its label)
    if len(fields) < 6:
        raise StmError(f"{where}: expected 'recording channel speaker start end <label> text', "
                       f"got {len(fields)} field(s): {stripped[:80]!r}")
    rec, chan, spk, start_s, end_s, rest = fields
    start = _parse_time(start_s, "start", where)
    end = _parse_time(end_s, "end", where)
    if end < start:
        raise StmError(f"{where}: end time {end_s} is before start time {start_s}")
    label = None
    if rest.startswith("<"):
        close = rest.find(">")
        if close < 0:
            raise StmError(f"{where}: unterminated label {rest.split()[0]!r}")
        label, rest = map_label(rest[:close + 1]), rest[close + 1:]
    return StmSegment(rec, chan, spk, start, end, label, normalize_text(rest), where)


def read_stm(path, keep_zero_length: bool = False) -> Tuple[List[StmSegment], Dict[str, List[str]]]:
    """Read one STM file with the i6 rules.

    :param keep_zero_length: keep segments that end where they start (i6 keeps them; in the
        padded train split they gain 0.25 s of audio), else skip them as ``zero_length``

    :return: (segments in file order, skipped) where ``skipped`` maps a reason ("ignored",
        "empty_transcript", "zero_length") to the ``file:line`` locations of the skipped lines
    :raises StmError: naming the file and line of a malformed or non-UTF-8 line
    """
    segments: List[StmSegment] = []
    skipped: Dict[str, List[str]] = {"ignored": [], "empty_transcript": [], "zero_length": []}
    for where, line in utf8_lines(path, StmError):
        if IGNORE_TOKEN in line:
            skipped["ignored"].append(where)
            continue
        seg = parse_stm_line(line, where)
        if seg is None:
            continue
        if not seg.text:
            skipped["empty_transcript"].append(where)
        elif seg.end == seg.start and not keep_zero_length:
            skipped["zero_length"].append(where)
        else:
            segments.append(seg)
    return segments, skipped


def pad_segments(segments: Sequence[StmSegment], before: float = 0.15, after: float = 0.10,
                 duration: Optional[float] = None) -> List[StmSegment]:
    """The i6 / Kaldi train padding of the segments of one recording, in the given (file) order.

    As i6's ``CreateTEDLIUM2BlissCorpusJob.make_stm``: each segment starts ``before`` earlier, but
    not before the previous segment's padded end (start padding first), and ends ``after`` later,
    but not after the next segment's padded start (when that is later than this end); times are
    rounded to 10 ms after each segment, as i6 writes them with two decimals. Beyond i6: a start
    pushed past the segment's own end (it lay inside its predecessor) stops at that end, and ends
    stop at ``duration`` (the audio length), never before the unpadded end.
    """
    segs = list(segments)
    out: List[StmSegment] = []
    for i, s in enumerate(segs):
        prev_end = out[-1].end if out else 0.0
        start = min(max(s.start - before, prev_end), s.end)
        next_start = s.end + after
        if i + 1 < len(segs):
            next_start = max(segs[i + 1].start - before, s.end)
        end = min(s.end + after, next_start)
        if duration is not None:
            end = min(end, max(duration, s.end))
        out.append(replace(s, start=round(start, 2), end=round(end, 2)))
    return out


def write_stm(path, segments: Iterable[StmSegment], header: bool = True) -> int:
    """Write an sclite STM reference, sorted by recording, channel and start time."""
    segs = sorted(segments, key=lambda s: (s.recording, s.channel, s.start, s.end))
    with uopen(path, "wt") as f:
        if header:
            f.write(STM_HEADER)
        for s in segs:
            f.write(s.stm_line() + "\n")
    return len(segs)
