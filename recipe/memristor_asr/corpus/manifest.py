"""Segment manifests: the corpus-independent list of segments that every later stage reads.

File format (``segments.jsonl.gz``): one JSON object per line, in corpus order::

    {"id": "AlGore_2009/3", "recording": "/abs/path/AlGore_2009.sph", "start": 12.31,
     "end": 17.02, "speaker": "AlGore_2009", "gender": "male", "text": "so i 'm here"}

``id`` is ``<recording name>/<n>`` with n = 1..N per recording (the i6 bliss convention);
times are in seconds; ``text`` is the normalised transcript (lower case, i6 tokenisation).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, List, Optional

from memristor_asr.util import uopen

__all__ = ["Segment", "read_manifest", "write_manifest"]


@dataclass(frozen=True)
class Segment:
    """One speech segment of a recording (times in seconds)."""

    id: str
    recording: str
    start: float
    end: float
    speaker: str
    gender: Optional[str]
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def words(self) -> List[str]:
        return self.text.split()


def write_manifest(path, segments: Iterable[Segment]) -> int:
    """Write segments to ``path`` (gzipped if it ends in .gz); returns the number written."""
    n = 0
    with uopen(path, "wt") as f:
        for seg in segments:
            f.write(json.dumps(asdict(seg), ensure_ascii=False) + "\n")
            n += 1
    return n


def read_manifest(path) -> Iterator[Segment]:
    """Yield the segments of a manifest file.

    :raises ValueError: naming the file and line of a malformed entry
    """
    with uopen(path, "rt") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                yield Segment(**d)
            except (json.JSONDecodeError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: malformed manifest entry: {e}") from None
