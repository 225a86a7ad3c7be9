"""Lexicon job: labels, training and decoding lexicons, and the train manifest they cover."""
from __future__ import annotations

import json
import os
from typing import Dict, Optional

from sisyphus import Job, Task, tk

__all__ = ["TedliumLexiconJob"]


class TedliumLexiconJob(Job):
    """From TEDLIUM.152k.dic (i6 fixes, 39-phoneme check): 79 output labels (39 phonemes, their
    end-of-word copies, blank), the training lexicon (first pronunciation; train OOVs from the
    CMU dictionary), the flashlight decoding lexicon (dic words, all variants) and the train
    segments whose words all have a pronunciation (the others are dropped and counted)."""

    def __init__(self, *, corpus_root: tk.Path, train_segments: tk.Path,
                 eval_segments: Optional[Dict[str, tk.Path]] = None, dictionary_name: str = "TEDLIUM.152k.dic"):
        """
        :param corpus_root: TEDLIUM_release2 directory holding the dictionary
        :param train_segments: train manifest (segments.jsonl.gz)
        :param eval_segments: optional {name: manifest} whose OOV rate against the decoding lexicon is reported
        :param dictionary_name: dictionary file inside ``corpus_root``
        """
        self.corpus_root = corpus_root
        self.train_segments = train_segments
        self.eval_segments = eval_segments or {}
        self.dictionary_name = dictionary_name
        self.out_labels = self.output_path("labels.txt")
        self.out_training_lexicon = self.output_path("training.lexicon.txt")
        self.out_decoding_lexicon = self.output_path("decoding.lexicon.txt")
        self.out_vocabulary = self.output_path("vocabulary.txt")
        self.out_train_segments = self.output_path("train.segments.jsonl.gz")
        self.out_report = self.output_path("report.json")
        self.out_num_dropped_segments = self.output_var("num_dropped_segments")

    def tasks(self):
        yield Task("run", rqmt={"cpu": 1, "mem": 2, "time": 1})

    def run(self):
        from memristor_asr.corpus.manifest import read_manifest, write_manifest
        from memristor_asr.lexicon.cmu import load_cmu_dict
        from memristor_asr.lexicon.dictionary import build_lexicons, oov_rate, read_tedlium_dic
        from memristor_asr.lexicon.lexicon import eow_labels, write_labels, write_lexicon

        dic_path = os.path.join(tk.uncached_path(self.corpus_root), self.dictionary_name)
        if not os.path.isfile(dic_path):
            raise FileNotFoundError(f"dictionary {dic_path} does not exist")
        dic = read_tedlium_dic(dic_path)
        built = build_lexicons(dic, read_manifest(tk.uncached_path(self.train_segments)), load_cmu_dict())
        labels = eow_labels()
        write_labels(self.out_labels.get_path(), labels)
        write_lexicon(self.out_training_lexicon.get_path(), sorted(built.training.items()))
        write_lexicon(self.out_decoding_lexicon.get_path(), built.decoding)
        with open(self.out_vocabulary.get_path(), "w", encoding="utf-8") as f:
            f.write("".join(w + "\n" for w in sorted(built.training)))
        write_manifest(self.out_train_segments.get_path(), built.kept_segments)
        decoding_words = {w for w, _ in built.decoding}
        report = {
            "dictionary": dic_path,
            "dictionary_words": len(dic.prons),
            "dictionary_pronunciations": len(built.decoding),
            "i6_fixes": dic.fixes,
            "special_entries_dropped": dic.special_dropped,
            "labels": len(labels),
            "train_oov_from_cmu": {w: " ".join(p) for w, p in sorted(built.oov_from_cmu.items())},
            "train_words_without_pronunciation": dict(sorted(built.unknown_words.items())),
            "train_segments_kept": len(built.kept_segments),
            "train_segments_dropped": len(built.dropped_segments),
            "train_segments_dropped_ids": built.dropped_segments[:100],
            "eval_oov_vs_decoding_lexicon": {name: oov_rate(read_manifest(tk.uncached_path(p)), decoding_words)
                                             for name, p in sorted(self.eval_segments.items())},
        }
        with open(self.out_report.get_path(), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
        self.out_num_dropped_segments.set(len(built.dropped_segments))
