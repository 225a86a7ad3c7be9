"""TED-LIUM release 2 preparation: STMs -> segment manifests and sclite references.

Runs on the LIUM ``TEDLIUM_release2`` directory and, unchanged, on the embedded corpus
(:mod:`memristor_asr.corpus.embedded`), which has the same layout.
"""
from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from memristor_asr.corpus.audio import AudioError, AudioInfo, audio_info
from memristor_asr.corpus.manifest import Segment
from memristor_asr.corpus.stm import StmSegment, pad_segments, read_stm

__all__ = ["SPLITS", "DIC_NAME", "check_layout", "check_release_root", "PreparedSplit", "prepare_split", "SAMPLE_RATE",
           "END_TOLERANCE"]

SPLITS = ("train", "dev", "test")
DIC_NAME = "TEDLIUM.152k.dic"
SAMPLE_RATE = 16000
# STM times have two decimals: an end up to this far past the audio is rounding and gets clipped.
END_TOLERANCE = 0.1


def check_layout(root, splits: Sequence[str] = SPLITS, files: Sequence[str] = ()) -> None:
    """Fail with one message listing everything missing from a release-2 directory: the ``stm`` and
    ``sph`` folders of ``splits`` and the top-level ``files`` (e.g. :data:`DIC_NAME`), so that each
    reader asks only for what it reads."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"TED-LIUM corpus root {root} does not exist or is not a directory")
    missing = [p for p in list(files) + [f"{s}/{d}" for s in splits for d in ("stm", "sph")]
               if not os.path.exists(os.path.join(root, p))]
    if missing:
        raise FileNotFoundError(f"{root} is not a TEDLIUM_release2 directory: missing {', '.join(missing)}")


def check_release_root(root, name: str = "corpus root") -> None:
    """Check, by existence only (cheap enough for config load), that ``root`` holds everything the
    study reads: ``{train,dev,test}/{stm,sph}``, :data:`DIC_NAME` and gzipped LM text in ``LM/``.

    :param name: how the caller names the root in the message, e.g. ``TEDLIUM2_ROOT``
    :raises FileNotFoundError: one line naming the root and everything missing
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{name} {root} does not exist or is not a directory "
                                "(expected the unpacked TEDLIUM_release2 folder)")
    missing = [p for p in [DIC_NAME] + [f"{s}/{d}" for s in SPLITS for d in ("stm", "sph")]
               if not os.path.exists(os.path.join(root, p))]
    lm_dir = os.path.join(root, "LM")
    if not os.path.isdir(lm_dir) or not any(f.endswith(".gz") for f in os.listdir(lm_dir)):
        missing.append("LM/*.gz")
    if missing:
        raise FileNotFoundError(f"{name} {root} is not a TEDLIUM_release2 directory: missing {', '.join(missing)}")


@dataclass
class PreparedSplit:
    split: str
    segments: List[Segment]
    references: List[StmSegment]                                  # what sclite scores against
    skipped: Dict[str, List[str]] = field(default_factory=dict)    # reason -> file:line locations
    clipped_to_audio_end: List[str] = field(default_factory=list)

    def report(self, max_locations: int = 20) -> Dict:
        """Counts for the job's report (with the first few locations of every skip)."""
        secs = sum(s.duration for s in self.segments)
        return {
            "segments": len(self.segments),
            "recordings": len({s.recording for s in self.segments}),
            "speakers": len({s.speaker for s in self.segments}),
            "hours": round(secs / 3600, 4),
            "words": sum(len(s.words) for s in self.segments),
            "skipped": {k: {"count": len(v), "first": v[:max_locations]} for k, v in self.skipped.items()},
            "clipped_to_audio_end": {"count": len(self.clipped_to_audio_end),
                                     "first": self.clipped_to_audio_end[:max_locations]},
        }


def _check_audio(info: AudioInfo, stm_where: str) -> None:
    if info.sample_rate != SAMPLE_RATE or info.channels != 1:
        raise AudioError(f"{info.path} (used by {stm_where}): expected 16 kHz mono audio, got "
                         f"{info.sample_rate} Hz with {info.channels} channel(s)")


def prepare_split(root, split: str, pad: bool = None) -> PreparedSplit:
    """Read every ``<root>/<split>/stm/*.stm`` with the i6 rules and check it against its audio.

    :param pad: apply the train padding (0.15 s / 0.10 s); default: only for ``train``
    :raises FileNotFoundError: missing directories or audio files (naming the STM line)
    :raises StmError: malformed STM lines (file and line)
    :raises AudioError: corrupt/truncated audio, or a segment ending past its audio (file and line)
    """
    root = os.path.abspath(os.fspath(root))
    check_layout(root, [split])
    pad = (split == "train") if pad is None else pad
    stm_dir, sph_dir = os.path.join(root, split, "stm"), os.path.join(root, split, "sph")
    stm_files = sorted(f for f in os.listdir(stm_dir) if f.endswith(".stm"))
    if not stm_files:
        raise FileNotFoundError(f"{stm_dir} contains no .stm files")
    result = PreparedSplit(split, [], [], skipped=collections.defaultdict(list))
    infos: Dict[str, AudioInfo] = {}
    by_recording: Dict[str, List[StmSegment]] = collections.defaultdict(list)
    for name in stm_files:
        # zero-length segments: kept where padding gives them audio (train, as i6); in unpadded
        # splits there is nothing to recognise, so they are skipped and counted (i6 keeps them)
        segs, skipped = read_stm(os.path.join(stm_dir, name), keep_zero_length=pad)
        for reason, where in skipped.items():
            result.skipped[reason].extend(where)
        for seg in segs:
            if seg.recording not in infos:
                sph = os.path.join(sph_dir, seg.recording + ".sph")
                if not os.path.isfile(sph):
                    raise FileNotFoundError(f"{seg.where}: audio {sph} for recording {seg.recording!r} does not exist")
                infos[seg.recording] = audio_info(sph)
                _check_audio(infos[seg.recording], seg.where)
            duration = infos[seg.recording].duration
            if seg.end > duration:
                if seg.end > duration + END_TOLERANCE or seg.start >= duration:
                    raise AudioError(f"{seg.where}: segment {seg.start:.2f}-{seg.end:.2f} s lies past the end of "
                                     f"{infos[seg.recording].path} ({duration:.2f} s)")
                result.clipped_to_audio_end.append(seg.where)
                seg = StmSegment(**{**seg.__dict__, "end": duration})
            by_recording[seg.recording].append(seg)
    for rec in sorted(by_recording):
        # file order, as i6: its segment ids count the lines of a recording as they come, and its
        # padding looks at the neighbouring lines (sclite's reference is sorted by write_stm)
        segs = by_recording[rec]
        result.references.extend(segs)
        timed = pad_segments(segs, duration=infos[rec].duration) if pad else segs
        for n, s in enumerate(timed, 1):
            result.segments.append(Segment(id=f"{rec}/{n}", recording=infos[rec].path, start=s.start, end=s.end,
                                           speaker=s.speaker, gender=s.gender, text=s.text))
    result.skipped = dict(result.skipped)
    return result

