"""Feature extraction speed: our log-mel (pre-emphasis + peak normalisation + 80 Slaney mel bins)
against torchaudio.compliance.kaldi.fbank (80 bins) on the same audio, one thread.

    .venv/bin/python tools/bench/features.py [--seconds 120] [--repeats 3] [--audio file.sph ...]

Without --audio it speaks sentences of the embedded corpus's grammar with espeak-ng (16 kHz) and
cuts them into TED-like segments of 2-8 s. Speed is x real time per core (audio seconds per
second of one thread's processing, best of --repeats); the ratio column is against the Kaldi
fbank baseline measured in the same run.
"""
import argparse
import random
import time

import torch


def synthetic_segments(seconds: float, seed: int = 0):
    """Segments of espeak-ng speech (16 kHz float32) totalling about ``seconds``."""
    import torchaudio.functional as AF

    from memristor_asr.corpus.embedded.grammar import SentenceGenerator, spoken_text
    from memristor_asr.corpus.embedded.plan import CI_CORPUS, make_plan
    from memristor_asr.corpus.embedded.synth import ESPEAK_RATE, SAMPLE_RATE, espeak

    plan = make_plan(CI_CORPUS, seed)
    gen = SentenceGenerator(plan.inventory, random.Random(seed))
    speakers = [t.speaker for t in plan.talks]
    segments, total = [], 0.0
    while total < seconds:
        audio = espeak(spoken_text(gen.sentence()), speakers[len(segments) % len(speakers)])
        x = AF.resample(torch.from_numpy(audio), ESPEAK_RATE, SAMPLE_RATE).numpy()
        segments.append(x)
        total += len(x) / SAMPLE_RATE
    return segments


def file_segments(paths, seg_seconds: float = 6.0):
    from memristor_asr.corpus.audio import read_audio

    out = []
    for p in paths:
        x = read_audio(p)
        step = int(seg_seconds * 16000)
        out += [x[i:i + step] for i in range(0, len(x) - 400, step)]
    return out


def time_it(fn, segments, repeats):
    best, frames = float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        frames = sum(fn(x) for x in segments)
        best = min(best, time.perf_counter() - t0)
    return best, frames


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120.0, help="synthetic audio to generate")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--audio", nargs="*", help="16 kHz audio files to use instead (cut into 6 s segments)")
    args = ap.parse_args()

    import torchaudio.compliance.kaldi as kaldi

    from memristor_asr.features.logmel import LogMelFeatureExtraction

    torch.set_num_threads(1)
    segments = file_segments(args.audio) if args.audio else synthetic_segments(args.seconds)
    audio_seconds = sum(len(x) for x in segments) / 16000
    ours = LogMelFeatureExtraction()

    def run_ours(x):
        return ours.extract(x).shape[0]

    def run_kaldi(x):
        with torch.no_grad():
            return kaldi.fbank(torch.from_numpy(x)[None] * 32768, num_mel_bins=80, sample_frequency=16000,
                               dither=0.0).shape[0]

    run_ours(segments[0]), run_kaldi(segments[0])  # warm-up (allocations, filterbank caches)
    t_kaldi, f_kaldi = time_it(run_kaldi, segments, args.repeats)
    t_ours, f_ours = time_it(run_ours, segments, args.repeats)
    print(f"{len(segments)} segments, {audio_seconds:.1f} s of audio, 1 thread, best of {args.repeats}")
    print(f"{'extractor':<52} {'frames':>8} {'time [s]':>9} {'x real time':>12} {'ratio':>6}")
    rows = [("torchaudio.compliance.kaldi.fbank, 80 bins (baseline)", f_kaldi, t_kaldi),
            ("memristor_asr log-mel (pre-emph + peak norm + Slaney)", f_ours, t_ours)]
    for name, frames, t in rows:
        print(f"{name:<52} {frames:>8} {t:>9.3f} {audio_seconds / t:>12.0f} {t_kaldi / t:>6.2f}")


if __name__ == "__main__":
    main()
