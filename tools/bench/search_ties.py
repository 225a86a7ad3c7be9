"""Search benchmark: the cost of ordering equal-score homophones (TieBreakingLM) in the lexical search.

    .venv/bin/python tools/bench/search_ties.py [--beams 16,64,1024] [--repeats 3]

The search wraps KenLM in a Python LM that adds a tiny per-word offset when the lexicon has
homophones the LM knows (see ``recognition/search.py``); every LM score then costs a Python call.
This times the same decoding with the wrapper (as the pipeline runs it) and with the native KenLM
(the baseline, measured in the same run), one process, on the embedded ci corpus's dev split, its
lexicon and 4-gram (built through the real jobs), with the label scores of a mini-size model
(random weights: flat scores keep the beam full, the search's worst case).
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recognition import build_data  # noqa: E402  (the benchmarks' shared data build)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beams", default="16,64,1024", help="beam sizes (paper: 1024)")
    ap.add_argument("--repeats", type=int, default=3, help="timings per variant; the minimum is reported")
    args = ap.parse_args()

    import torch

    from memristor_asr.corpus.manifest import read_manifest
    from memristor_asr.features.hdf5 import FeatureReader
    from memristor_asr.nn.model import ConformerCTCModel
    from memristor_asr.recognition import search
    from memristor_asr.recognition.forward import compute_log_probs
    from users.memristor.setups import setup_named

    torch.set_num_threads(1)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        data = build_data(root)
        audio = sum(s.duration for s in read_manifest(data["segments"]))
        model = ConformerCTCModel(setup_named("mini").training.model).eval()
        log_probs = compute_log_probs(model, FeatureReader(data["features"]), batch_seconds=30.0)
        scores = [log_probs[i] for i in sorted(log_probs)]
        rows = []
        for beam in [int(b) for b in args.beams.split(",")]:
            config = search.SearchConfig(beam_size=beam)
            timings = {}
            for variant, tie_step in (("native KenLM", 0.0), ("TieBreakingLM", search.HOMOPHONE_TIE_STEP)):
                decoder = search.LexiconSearch(data["labels"], data["lexicon"], data["lm"], config, tie_step=tie_step)
                lm_kind = type(decoder.lm).__name__
                best = float("inf")
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    for s in scores:
                        decoder.decode(s)
                    best = min(best, time.perf_counter() - t)
                timings[variant] = (best, lm_kind)
            base = timings["native KenLM"][0]
            for variant, (sec, lm_kind) in timings.items():
                rows.append((beam, variant, lm_kind, sec, sec / audio, sec / base))
        print(f"audio: {audio:.1f} s of dev speech ({len(scores)} segments), 1 process, min of {args.repeats}")
        print(f"{'beam':>5s} {'variant':16s} {'LM object':14s} {'seconds':>9s} {'RTF':>8s} {'ratio':>6s}")
        for beam, variant, lm_kind, sec, rtf, ratio in rows:
            print(f"{beam:5d} {variant:16s} {lm_kind:14s} {sec:9.3f} {rtf:8.4f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
