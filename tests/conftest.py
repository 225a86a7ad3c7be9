"""Shared test data: the embedded corpus in its `ci` profile, synthesised once per test session."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest


@pytest.fixture(scope="session")
def ci_corpus(tmp_path_factory) -> Path:
    """A TEDLIUM_release2-style directory (espeak-ng audio, about 11 minutes); treat it as read-only."""
    from memristor_asr.corpus.embedded.plan import CI_CORPUS
    from memristor_asr.corpus.embedded.synth import ensure_embedded_corpus

    root = tmp_path_factory.getbasetemp() / "ci_corpus" / "TEDLIUM_release2"
    return Path(ensure_embedded_corpus(str(root), CI_CORPUS, seed=0))


@pytest.fixture(scope="session")
def ci_prepared(ci_corpus, tmp_path_factory) -> Dict[str, Dict[str, Path]]:
    """Manifests and STM references of the ci corpus: ``{split: {"segments": path, "stm": path}}``."""
    from memristor_asr.corpus.manifest import write_manifest
    from memristor_asr.corpus.stm import write_stm
    from memristor_asr.corpus.tedlium import SPLITS, prepare_split

    out = tmp_path_factory.mktemp("ci_prepared")
    result = {}
    for split in SPLITS:
        prepared = prepare_split(ci_corpus, split)
        paths = {"segments": out / f"{split}.segments.jsonl.gz", "stm": out / f"{split}.stm"}
        write_manifest(paths["segments"], prepared.segments)
        write_stm(paths["stm"], prepared.references)
        result[split] = paths
    return result


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than about 20 s")


_REPO = Path(__file__).resolve().parent.parent

# Runs the data jobs through the real engine (tk.run -> `sis worker` subprocesses) and prints
# the output paths plus a few job ids as JSON.
_DATA_GRAPH = '''
import json
from sisyphus import tk
tk.setup_script_mode()
from memristor_asr.corpus.embedded.plan import CI_CORPUS
from memristor_asr.corpus.jobs import EmbeddedCorpusJob, PrepareTedliumJob
from memristor_asr.features.jobs import LogMelFeatureJob
from memristor_asr.lexicon.bpe import BpeConfig
from memristor_asr.lexicon.jobs import BpeLexiconJob, TedliumLexiconJob, TrainSentencePieceJob
from memristor_asr.lm.jobs import (KenLMBinaryJob, KenLMEstimateJob, KenLMPerplexityJob, ManifestTextJob,
                                   SentencePieceTextJob, TedliumLmTextJob)

corpus = EmbeddedCorpusJob(size=CI_CORPUS, seed=0, num_workers=2)
prep = PrepareTedliumJob(corpus_root=corpus.out_corpus_root)
lex = TedliumLexiconJob(corpus_root=corpus.out_corpus_root, train_segments=prep.out_segments["train"],
                        eval_segments={"dev": prep.out_segments["dev"]})
feats = LogMelFeatureJob(segments=prep.out_segments["dev"], num_chunks=2)
text = TedliumLmTextJob(corpus_root=corpus.out_corpus_root, train_segments=lex.out_train_segments)
arpa = KenLMEstimateJob(text=text.out_text, order=4, rqmt={"mem": 0.5})
binary = KenLMBinaryJob(arpa=arpa.out_arpa)
ppl = KenLMPerplexityJob(lm=binary.out_binary, text=ManifestTextJob(segments=prep.out_segments["dev"]).out_text)
spm = TrainSentencePieceJob(text=ManifestTextJob(segments=lex.out_train_segments).out_text,
                            config=BpeConfig(vocab_size=64))
bpe = BpeLexiconJob(sentencepiece_model=spm.out_model, training_lexicon=lex.out_training_lexicon,
                    decoding_lexicon=lex.out_decoding_lexicon)
piece_text = SentencePieceTextJob(text=text.out_text, sentencepiece_model=spm.out_model)
piece_lm = KenLMBinaryJob(arpa=KenLMEstimateJob(text=piece_text.out_text, order=6, rqmt={"mem": 0.5}).out_arpa)
outputs = {
    "corpus_root": corpus.out_corpus_root, "corpus_stats": corpus.out_stats,
    "segments": prep.out_segments, "stm": prep.out_stm, "prepare_report": prep.out_report,
    "labels": lex.out_labels, "training_lexicon": lex.out_training_lexicon,
    "decoding_lexicon": lex.out_decoding_lexicon, "vocabulary": lex.out_vocabulary,
    "train_segments": lex.out_train_segments, "lexicon_report": lex.out_report,
    "features": feats.out_features, "arpa": arpa.out_arpa, "binary": binary.out_binary,
    "perplexity_report": ppl.out_report, "lm_text": text.out_text,
    "spm_model": spm.out_model, "spm_vocab": spm.out_vocab, "bpe_labels": bpe.out_labels,
    "bpe_training_lexicon": bpe.out_training_lexicon, "bpe_decoding_lexicon": bpe.out_decoding_lexicon,
    "bpe_report": bpe.out_report, "piece_text": piece_text.out_text, "piece_lm": piece_lm.out_binary,
}
tk.run([outputs, ppl.out_perplexity, feats.out_num_segments, lex.out_num_dropped_segments,
        arpa.out_used_discount_fallback, piece_text.out_dropped_words], quiet=True)
paths = lambda o: ({k: paths(v) for k, v in o.items()} if isinstance(o, dict) else o.get_path())  # noqa: E731
print("RESULT " + json.dumps({
    "paths": paths(outputs),
    "values": {"perplexity": ppl.out_perplexity.get(), "num_feature_segments": feats.out_num_segments.get(),
               "num_dropped_segments": lex.out_num_dropped_segments.get(),
               "used_discount_fallback": arpa.out_used_discount_fallback.get(),
               "piece_text_dropped_words": piece_text.out_dropped_words.get()},
    "ids": {"corpus": corpus._sis_id(), "corpus_3_workers": EmbeddedCorpusJob(size=CI_CORPUS, num_workers=3)._sis_id(),
            "corpus_seed_1": EmbeddedCorpusJob(size=CI_CORPUS, seed=1)._sis_id(),
            "features": feats._sis_id(),
            "features_4_chunks": LogMelFeatureJob(segments=prep.out_segments["dev"], num_chunks=4)._sis_id(),
            "arpa": arpa._sis_id(), "arpa_more_memory": KenLMEstimateJob(text=text.out_text, rqmt={"mem": 8})._sis_id()},
}))
'''


@pytest.fixture(scope="session")
def ci_data_jobs(tmp_path_factory) -> Dict:
    """The data jobs run through the engine on the ci profile: ``{"paths", "values", "ids"}``."""
    import json
    import os
    import subprocess
    import sys

    setup = tmp_path_factory.mktemp("sis_setup")
    (setup / "settings.py").write_text(
        "from sisyphus.localengine import LocalEngine\n"
        "DEFAULT_ENVIRONMENT_KEEP = DEFAULT_ENVIRONMENT_KEEP | {'PYTHONPATH'}  # noqa: F821\n"
        "def engine():\n    return LocalEngine(cpus=2, mem=8)\n")
    (setup / "graph.py").write_text(_DATA_GRAPH)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(_REPO / "tools"), str(_REPO / "recipe"), str(_REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop("SIS_GLOBAL_SETTINGS_FILE", None)
    res = subprocess.run([sys.executable, "graph.py"], cwd=setup, env=env, capture_output=True, text=True, timeout=600)
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        raise AssertionError(f"data job graph failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}")
    return json.loads(lines[-1][len("RESULT "):])
