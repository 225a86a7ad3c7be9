"""Log-mel features for the segments of a manifest (audio read from the recordings with soundfile)."""
from __future__ import annotations

from typing import Callable, Iterator, Optional, Sequence, Tuple

import numpy as np

from memristor_asr.corpus.audio import AudioError, AudioInfo, audio_info, read_audio
from memristor_asr.corpus.manifest import Segment
from memristor_asr.features.logmel import LogMelConfig, LogMelFeatureExtraction

__all__ = ["FeatureError", "segment_features", "chunk_bounds"]


class FeatureError(ValueError):
    """A segment that cannot be featurised; the message names the segment and its audio."""


def chunk_bounds(num_items: int, num_chunks: int, chunk: int) -> Tuple[int, int]:
    """``[begin, end)`` of 1-based ``chunk`` of ``num_chunks`` contiguous, near-equal chunks."""
    if not 1 <= chunk <= num_chunks:
        raise ValueError(f"chunk {chunk} is not in 1..{num_chunks}")
    return (chunk - 1) * num_items // num_chunks, chunk * num_items // num_chunks


def segment_features(segments: Sequence[Segment], config: LogMelConfig = LogMelConfig(),
                     on_progress: Optional[Callable[[int], None]] = None) -> Iterator[Tuple[str, np.ndarray]]:
    """Yield ``(segment id, float32 [T, num_filters])`` for each segment, in order.

    Each recording is read once for a run of consecutive segments from it.

    :param on_progress: called with the number of segments done so far
    :raises FeatureError: for a segment outside its audio or shorter than one window
    :raises AudioError: for unreadable, truncated or non-16 kHz audio
    """
    extractor = LogMelFeatureExtraction(config)
    info: Optional[AudioInfo] = None
    audio: Optional[np.ndarray] = None
    for done, seg in enumerate(segments, 1):
        if info is None or info.path != seg.recording:
            info = audio_info(seg.recording)
            if info.sample_rate != config.sample_rate:
                raise AudioError(f"{seg.recording}: sample rate {info.sample_rate} Hz, the features need "
                                 f"{config.sample_rate} Hz (segment {seg.id})")
            audio = read_audio(seg.recording, info=info)
        first, last = int(round(seg.start * info.sample_rate)), int(round(seg.end * info.sample_rate))
        if first < 0 or last > info.num_samples or last <= first:
            raise FeatureError(f"segment {seg.id}: {seg.start:.2f}-{seg.end:.2f} s is outside {seg.recording} "
                               f"(0-{info.duration:.2f} s)")
        if last - first < config.win_length:
            raise FeatureError(f"segment {seg.id}: {last - first} samples is shorter than one "
                               f"{config.win_length}-sample window")
        yield seg.id, extractor.extract(audio[first:last])
        if on_progress is not None:
            on_progress(done)

