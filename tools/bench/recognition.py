"""Recognition benchmark: real-time factor per core of the network forward and of the lexical
beam search, for the float model and the same model on simulated memristor crossbars, at the
mini and the paper size (random weights; observers calibrated on the audio itself).

    .venv/bin/python tools/bench/recognition.py [--sizes mini,paper] [--bits 4] [--threads 1]

Data: the embedded corpus's `ci` dev split, lexicon and 4-gram, built through the real jobs
(`tk.run`) in a temporary setup. RTF per core = processing seconds × cores / audio seconds.
Baseline for the ratio column: the float forward of the same size, in the same run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DATA_GRAPH = '''
import json
from sisyphus import tk
tk.setup_script_mode()
from memristor_asr.corpus.embedded.plan import CI_CORPUS
from memristor_asr.corpus.jobs import EmbeddedCorpusJob, PrepareTedliumJob
from memristor_asr.features.jobs import LogMelFeatureJob
from memristor_asr.lexicon.jobs import TedliumLexiconJob
from memristor_asr.lm.jobs import KenLMBinaryJob, KenLMEstimateJob, TedliumLmTextJob
corpus = EmbeddedCorpusJob(size=CI_CORPUS, seed=0)
prep = PrepareTedliumJob(corpus_root=corpus.out_corpus_root)
lex = TedliumLexiconJob(corpus_root=corpus.out_corpus_root, train_segments=prep.out_segments["train"])
feats = LogMelFeatureJob(segments=prep.out_segments["dev"], num_chunks=1)
text = TedliumLmTextJob(corpus_root=corpus.out_corpus_root, train_segments=lex.out_train_segments)
lm = KenLMBinaryJob(arpa=KenLMEstimateJob(text=text.out_text, order=4, rqmt={"mem": 1}).out_arpa)
out = {"features": feats.out_features, "segments": prep.out_segments["dev"], "labels": lex.out_labels,
       "lexicon": lex.out_decoding_lexicon, "lm": lm.out_binary}
tk.run(out, quiet=True)
print("RESULT " + json.dumps({k: v.get_path() for k, v in out.items()}))
'''


def build_data(root):
    with open(os.path.join(root, "settings.py"), "w") as f:
        f.write("from sisyphus.localengine import LocalEngine\n"
                "DEFAULT_ENVIRONMENT_KEEP = DEFAULT_ENVIRONMENT_KEEP | {'PYTHONPATH'}  # noqa: F821\n"
                "def engine():\n    return LocalEngine(cpus=2, mem=8)\n")
    with open(os.path.join(root, "graph.py"), "w") as f:
        f.write(DATA_GRAPH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(REPO, p) for p in ("tools", "recipe", "")]))
    res = subprocess.run([sys.executable, "graph.py"], cwd=root, env=env, capture_output=True, text=True)
    line = [x for x in res.stdout.splitlines() if x.startswith("RESULT ")]
    if res.returncode or not line:
        sys.exit(f"building the benchmark data failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return json.loads(line[-1][len("RESULT "):])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="mini,paper")
    ap.add_argument("--bits", type=int, default=4, help="weight bits of the quantised / memristor model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--beam", type=int, default=64, help="beam size of the search (paper: 1024)")
    args = ap.parse_args()

    import torch

    from memristor_asr.corpus.manifest import read_manifest
    from memristor_asr.features.hdf5 import FeatureReader
    from memristor_asr.memristor.config import ProgrammingConfig
    from memristor_asr.memristor.convert import load_programmed, program_model
    from memristor_asr.nn.model import ConformerCTCModel
    from memristor_asr.nn.quant import observing
    from memristor_asr.recognition.forward import compute_log_probs
    from memristor_asr.recognition.search import SearchConfig, decode_parallel
    from users.memristor.setups import setup_named

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        data = build_data(root)
        reader = FeatureReader(data["features"])
        audio = sum(s.duration for s in read_manifest(data["segments"]))
        rows = []
        for size in args.sizes.split(","):
            prof = setup_named(size).training
            float_model = ConformerCTCModel(prof.model).eval()
            qcfg = prof.model.quantized_variant(args.bits)
            qmodel = ConformerCTCModel(qcfg)
            qmodel.load_state_dict(float_model.state_dict(), strict=False)
            with observing(qmodel, True):  # calibrate the observers on the data itself
                compute_log_probs(qmodel, reader, batch_seconds=30.0)
            qmodel.eval()
            t = time.perf_counter()
            lp_float = compute_log_probs(float_model, reader, batch_seconds=30.0)
            base = time.perf_counter() - t
            rows.append((size, "float forward", base, 1.0))
            t = time.perf_counter()
            compute_log_probs(qmodel, reader, batch_seconds=30.0)
            fq = time.perf_counter() - t
            rows.append((size, f"fake-quant {args.bits} bit forward", fq, fq / base))
            t = time.perf_counter()
            # programming speed is benchmarked in tools/bench/memristor.py: no pre-cycling here
            state = program_model(qmodel, ProgrammingConfig(pulses_per_cycle=0), seed=0, num_cycles=1)
            prog = time.perf_counter() - t
            load_programmed(qmodel, state)
            t = time.perf_counter()
            compute_log_probs(qmodel, reader, batch_seconds=30.0)
            mem = time.perf_counter() - t
            rows.append((size, f"memristor {args.bits} bit forward", mem, mem / base))
            ids = list(lp_float)
            search_args = (data["labels"], data["lexicon"], data["lm"], SearchConfig(beam_size=args.beam))
            t = time.perf_counter()
            decode_parallel(search_args, [lp_float[i] for i in ids], 1)
            search = time.perf_counter() - t
            rows.append((size, f"search, beam {args.beam}", search, search / base))
            rows.append((size, "(programming, no pre-cycling)", prog, prog / base))
        print(f"audio: {audio:.1f} s of dev speech; threads: {args.threads}; RTF per core = seconds × cores / audio")
        print(f"{'size':6s} {'stage':34s} {'seconds':>9s} {'RTF/core':>9s} {'ratio':>7s}")
        for size, stage, sec, ratio in rows:
            print(f"{size:6s} {stage:34s} {sec:9.2f} {sec * args.threads / audio:9.4f} {ratio:7.2f}")


if __name__ == "__main__":
    main()
