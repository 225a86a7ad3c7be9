"""Audio file checks and reading (NIST SPHERE and anything else libsndfile reads).

libsndfile reads a truncated SPHERE file without complaint (it just returns fewer samples), so
:func:`audio_info` compares the header's ``sample_count`` with the bytes actually present.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import soundfile

__all__ = ["AudioInfo", "AudioError", "audio_info", "read_audio", "parse_sphere_header"]


class AudioError(ValueError):
    """An unreadable, truncated or unsupported audio file; the message names the file."""


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    num_samples: int
    channels: int

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate


def parse_sphere_header(path) -> Optional[Dict[str, object]]:
    """The fields of a NIST SPHERE header (plus ``header_bytes``), or None if ``path`` is not SPHERE.

    :raises AudioError: on a malformed header
    """
    with open(path, "rb") as f:
        head = f.read(1024)
        if not head.startswith(b"NIST_1A"):
            return None
        lines = head.split(b"\n")
        try:
            size = int(lines[1].strip())
        except (IndexError, ValueError):
            raise AudioError(f"{path}: malformed NIST SPHERE header (no header size on line 2)") from None
        if size > len(head):
            head += f.read(size - len(head))
    fields: Dict[str, object] = {"header_bytes": size}
    for raw in head[:size].split(b"\n")[2:]:
        line = raw.decode("ascii", "replace").strip()
        if line == "end_head":
            return fields
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1].startswith("-"):
            name, kind, value = parts
            fields[name] = int(value) if kind == "-i" else (float(value) if kind == "-r" else value)
    raise AudioError(f"{path}: malformed NIST SPHERE header (no end_head within {size} bytes)")


def audio_info(path) -> AudioInfo:
    """Sample rate, length and channels of an audio file, after checking it is complete.

    :raises FileNotFoundError: if the file does not exist
    :raises AudioError: if it is corrupt, truncated or compressed in a way we cannot decode
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"audio file {path} does not exist")
    header = parse_sphere_header(path)
    if header is not None:
        coding = str(header.get("sample_coding", "pcm"))
        if "shorten" in coding or "wavpack" in coding:
            raise AudioError(f"{path}: SPHERE sample_coding {coding!r} is compressed; libsndfile cannot "
                             f"decode it (convert it to PCM first, e.g. with sph2pipe)")
        count = header.get("sample_count")
        if isinstance(count, int):
            need = int(header["header_bytes"]) + count * int(header.get("sample_n_bytes", 2)) * int(header.get("channel_count", 1))
            have = os.path.getsize(path)
            if have < need:
                raise AudioError(f"{path}: truncated SPHERE file: the header announces {count} samples "
                                 f"({need} bytes) but the file has {have} bytes")
    try:
        info = soundfile.info(path)
    except (soundfile.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{path}: cannot read audio: {e}") from None
    return AudioInfo(path=path, sample_rate=int(info.samplerate), num_samples=int(info.frames), channels=int(info.channels))


def read_audio(path, start: float = 0.0, end: Optional[float] = None, info: Optional[AudioInfo] = None) -> np.ndarray:
    """Samples ``[start, end)`` seconds of the first channel of ``path`` as float32 in [-1, 1].

    :raises AudioError: if the requested range lies past the end of the audio
    """
    info = info or audio_info(path)
    first = int(round(start * info.sample_rate))
    last = info.num_samples if end is None else int(round(end * info.sample_rate))
    if first < 0 or last > info.num_samples or last < first:
        raise AudioError(f"{path}: samples {first}..{last} requested, but the file has {info.num_samples} "
                         f"({info.duration:.2f} s)")
    data, _ = soundfile.read(path, start=first, stop=last, dtype="float32", always_2d=True)
    if data.shape[0] != last - first:
        raise AudioError(f"{path}: read {data.shape[0]} samples instead of {last - first} (file damaged?)")
    return data[:, 0]
