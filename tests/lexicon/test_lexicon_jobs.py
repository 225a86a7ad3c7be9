"""TedliumLexiconJob through the engine."""
import json
from pathlib import Path

import pytest

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.lexicon.lexicon import eow_labels, read_labels, read_lexicon, words_to_label_ids

pytestmark = pytest.mark.slow


def test_lexicon_job_outputs(ci_data_jobs):
    paths, values = ci_data_jobs["paths"], ci_data_jobs["values"]
    labels = read_labels(paths["labels"])
    assert labels == eow_labels() and len(labels) == 79
    training = read_lexicon(paths["training_lexicon"])
    decoding = read_lexicon(paths["decoding_lexicon"], first_only=False)
    report = json.loads(Path(paths["lexicon_report"]).read_text())
    assert set(training) == set(decoding) | set(report["train_oov_pronunciations"])
    assert sum(len(v) for v in decoding.values()) == report["dictionary_pronunciations"] > len(decoding)
    kept = list(read_manifest(paths["train_segments"]))
    all_train = list(read_manifest(paths["segments"]["train"]))
    assert len(kept) == report["train_segments_kept"] == len(all_train) - values["num_dropped_segments"]
    assert values["num_dropped_segments"] == report["train_segments_dropped"] > 0
    assert report["train_oov_source"] == "CMU dictionary"
    assert len(report["train_segments_dropped_why"]) == report["train_segments_dropped"]  # each with its words
    assert 0 < report["train_audio_dropped_fraction"] < 1
    index = {lab: i for i, lab in enumerate(labels)}
    for seg in kept:
        assert words_to_label_ids(seg.words, training, index)
    assert Path(paths["vocabulary"]).read_text().split() == sorted(training)
    assert report["eval_oov_vs_decoding_lexicon"]["dev"]["words"] > 0


def test_decoding_lexicon_builds_a_flashlight_trie(ci_data_jobs):
    from flashlight.lib.text.decoder import SmearingMode, Trie
    from flashlight.lib.text.dictionary import Dictionary, load_words

    paths = ci_data_jobs["paths"]
    tokens = Dictionary()
    for lab in read_labels(paths["labels"]):
        tokens.add_entry(lab)
    lexicon = load_words(paths["decoding_lexicon"])     # flashlight adds "<unk>" itself
    words = Dictionary()
    for w in lexicon:
        words.add_entry(w)
    trie = Trie(len(read_labels(paths["labels"])), tokens.get_index("[blank]"))
    for w, spellings in lexicon.items():
        for spelling in spellings:
            trie.insert([tokens.get_index(t) for t in spelling], words.get_index(w), 0.0)
    trie.smear(SmearingMode.MAX)
    assert set(lexicon) == set(read_lexicon(paths["decoding_lexicon"])) | {"<unk>"}
    assert sum(len(v) for v in lexicon.values()) == len(open(paths["decoding_lexicon"]).read().splitlines())
