"""Lexicon job: labels, training and decoding lexicons, and the train manifest they cover."""
from __future__ import annotations

import json
import logging
import os
from typing import Dict, Optional

from sisyphus import Task, tk

from memristor_asr.lexicon.bpe import BpeConfig
from memristor_asr.lexicon.g2p import G2PConfig
from memristor_asr.recipe_job import RecipeJob
from memristor_asr.util import setup_logging

__all__ = ["TrainG2PJob", "TedliumLexiconJob", "TrainSentencePieceJob", "BpeLexiconJob"]

# a lexicon job warns when it has to drop more than this share of the train audio
MAX_DROPPED_TRAIN_AUDIO = 0.01


class TrainG2PJob(RecipeJob):
    """Train a Sequitur G2P model on TEDLIUM.152k.dic (after the i6 fixes, all variants), as the
    paper's i6 setup does for the train OOVs: a first model and ``num_ramp_ups`` ramp-ups."""

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 4.0, "time": 12.0}

    def __init__(self, *, corpus_root: tk.Path, config: G2PConfig = G2PConfig(),
                 dictionary_name: str = "TEDLIUM.152k.dic", rqmt: Optional[dict] = None):
        """
        :param corpus_root: TEDLIUM_release2 directory holding the dictionary
        :param config: sequitur settings (training and, for later application, variants)
        :param dictionary_name: dictionary file inside ``corpus_root``
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (mem GB; time hours: the embedded
            3.6k-word dictionary takes ~25 s, the 152k one an estimated several hours); not hashed
        """
        self.corpus_root = corpus_root
        self.config = config
        self.dictionary_name = dictionary_name
        self.rqmt = self.resources(rqmt)
        self.out_training_lexicon = self.output_path("g2p.train.lexicon.txt")
        self.out_model = self.output_path("g2p.model")

    def run(self):
        import shutil

        from memristor_asr.lexicon.dictionary import read_tedlium_dic
        from memristor_asr.lexicon.g2p import train_g2p, write_g2p_lexicon

        dic_path = os.path.join(tk.uncached_path(self.corpus_root), self.dictionary_name)
        if not os.path.isfile(dic_path):
            raise FileNotFoundError(f"dictionary {dic_path} does not exist")
        n = write_g2p_lexicon(read_tedlium_dic(dic_path).prons, self.out_training_lexicon.get_path())
        if n < 20:
            raise ValueError(f"{dic_path}: {n} pronunciations are too few to train a G2P model")
        models = train_g2p(self.out_training_lexicon.get_path(), os.getcwd(), self.config)
        shutil.copyfile(models[-1], self.out_model.get_path())

    @classmethod
    def hash(cls, parsed_args):
        # models trained before the sequitur launcher's fixes (lexicon/sequitur_launcher.py) stopped
        # early without an error; the version makes finished jobs of that kind train again
        return super().hash({**parsed_args, "trainer_version": 2})


class TedliumLexiconJob(RecipeJob):
    """From TEDLIUM.152k.dic (i6 fixes, 39-phoneme check): 79 output labels (39 phonemes, their
    end-of-word copies, blank), the training lexicon (first pronunciation; train OOVs pronounced by
    a Sequitur G2P model as in i6, or looked up in the CMU dictionary when none is given), the
    flashlight decoding lexicon (dic words, all variants) and the train segments whose words all
    have a pronunciation (the others are dropped, logged with their words, and counted)."""

    def __init__(self, *, corpus_root: tk.Path, train_segments: tk.Path,
                 eval_segments: Optional[Dict[str, tk.Path]] = None, dictionary_name: str = "TEDLIUM.152k.dic",
                 g2p_model: Optional[tk.Path] = None, g2p_config: G2PConfig = G2PConfig()):
        """
        :param corpus_root: TEDLIUM_release2 directory holding the dictionary
        :param train_segments: train manifest (segments.jsonl.gz)
        :param eval_segments: optional {name: manifest} whose OOV rate against the decoding lexicon is reported
        :param dictionary_name: dictionary file inside ``corpus_root``
        :param g2p_model: TrainG2PJob.out_model; None: train OOVs from the CMU dictionary (None and
            g2p_config are left out of the hash then)
        :param g2p_config: variants settings of the G2P application (i6: 1 variant, mass 1.0)
        """
        self.corpus_root = corpus_root
        self.train_segments = train_segments
        self.eval_segments = eval_segments or {}
        self.dictionary_name = dictionary_name
        self.g2p_model = g2p_model
        self.g2p_config = g2p_config
        self.out_labels = self.output_path("labels.txt")
        self.out_training_lexicon = self.output_path("training.lexicon.txt")
        self.out_decoding_lexicon = self.output_path("decoding.lexicon.txt")
        self.out_vocabulary = self.output_path("vocabulary.txt")
        self.out_train_segments = self.output_path("train.segments.jsonl.gz")
        self.out_report = self.output_path("report.json")
        self.out_num_dropped_segments = self.output_var("num_dropped_segments")

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 2, "time": 1})

    def run(self):
        from memristor_asr.corpus.manifest import read_manifest, write_manifest
        from memristor_asr.lexicon.cmu import load_cmu_dict
        from memristor_asr.lexicon.dictionary import build_lexicons, cmu_pronouncer, oov_rate, read_tedlium_dic
        from memristor_asr.lexicon.g2p import apply_g2p
        from memristor_asr.lexicon.lexicon import eow_labels, write_labels, write_lexicon

        setup_logging()

        dic_path = os.path.join(tk.uncached_path(self.corpus_root), self.dictionary_name)
        if not os.path.isfile(dic_path):
            raise FileNotFoundError(f"dictionary {dic_path} does not exist")
        dic = read_tedlium_dic(dic_path)
        if self.g2p_model is None:
            pronounce, oov_source = cmu_pronouncer(load_cmu_dict()), "CMU dictionary"
        else:
            model = tk.uncached_path(self.g2p_model)
            pronounce, oov_source = (lambda words: apply_g2p(model, words, os.getcwd(), self.g2p_config)), \
                f"Sequitur G2P {model}"
        built = build_lexicons(dic, read_manifest(tk.uncached_path(self.train_segments)), pronounce)
        dropped_share = built.dropped_seconds / built.total_seconds if built.total_seconds else 0.0
        log = logging.getLogger("memristor_asr.lexicon")
        for seg_id, words in list(built.dropped_segments.items())[:20]:
            log.info("dropped train segment %s: no pronunciation for %s", seg_id, " ".join(words))
        msg = (f"{len(built.dropped_segments)} of {len(built.dropped_segments) + len(built.kept_segments)} train "
               f"segments dropped ({100 * dropped_share:.2f} % of the train audio) for words without a "
               f"pronunciation; train OOVs pronounced from the {oov_source}: {len(built.oov_pronunciations)}")
        if dropped_share > MAX_DROPPED_TRAIN_AUDIO:
            log.warning("%s -- more than %.0f %% of the train audio; see %s", msg, 100 * MAX_DROPPED_TRAIN_AUDIO,
                        self.out_report.get_path())
        else:
            log.info("%s", msg)
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
            "train_oov_source": oov_source,
            "train_oov_pronunciations": {w: " ".join(p) for w, p in sorted(built.oov_pronunciations.items())},
            "train_words_without_pronunciation": dict(sorted(built.unknown_words.items())),
            "train_segments_kept": len(built.kept_segments),
            "train_segments_dropped": len(built.dropped_segments),
            "train_audio_dropped_fraction": dropped_share,
            "train_segments_dropped_why": dict(list(built.dropped_segments.items())[:100]),
            "eval_oov_vs_decoding_lexicon": {name: oov_rate(read_manifest(tk.uncached_path(p)), decoding_words)
                                             for name, p in sorted(self.eval_segments.items())},
        }
        with open(self.out_report.get_path(), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
        self.out_num_dropped_segments.set(len(built.dropped_segments))

    @classmethod
    def hash(cls, parsed_args):
        # without a G2P model the G2P settings are unused: they stay out of the hash
        excluded = ("g2p_model", "g2p_config") if parsed_args["g2p_model"] is None else ()
        return super().hash({k: v for k, v in parsed_args.items() if k not in excluded})


class TrainSentencePieceJob(RecipeJob):
    """Train a sentencepiece model (BPE or unigram) on a text, one sentence per line: the train
    transcripts as the study normalised them (``ManifestTextJob`` of the lexicon job's train segments).
    Outputs the model and its pieces in id order (``vocab.txt``)."""

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 4.0, "time": 1.0}

    def __init__(self, *, text: tk.Path, config: BpeConfig = BpeConfig(), rqmt: Optional[dict] = None):
        """
        :param text: training text (plain or .gz), one sentence per line
        :param config: vocabulary size and model type
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (the 207 h transcripts take about
            a minute); not hashed
        """
        self.text = text
        self.config = BpeConfig.require(config, "TrainSentencePieceJob: config")
        self.rqmt = self.resources(rqmt)
        self.out_model = self.output_path("spm.model")
        self.out_vocab = self.output_path("vocab.txt")

    def run(self):
        import shutil

        from memristor_asr.lexicon.bpe import SentencePieceSpeller, train_sentencepiece
        from memristor_asr.util import uopen

        text = tk.uncached_path(self.text)
        plain = text
        if text.endswith(".gz"):  # sentencepiece reads plain text only
            plain = "text.txt"
            with uopen(text, "rt") as src, open(plain, "w", encoding="utf-8") as dst:
                shutil.copyfileobj(src, dst)
        train_sentencepiece(plain, self.out_model.get_path(), self.config)
        with open(self.out_vocab.get_path(), "w", encoding="utf-8") as f:
            f.write("".join(p + "\n" for p in SentencePieceSpeller(self.out_model.get_path()).pieces))


class BpeLexiconJob(RecipeJob):
    """The phoneme lexicons' words spelled in sentencepiece pieces: the BPE label inventory (every piece
    but ``<unk>``, then the blank), the training lexicon (the same words as the phoneme training
    lexicon: dictionary words and train OOVs) and the decoding lexicon (the same words as the phoneme
    decoding lexicon, one spelling each), so that both label units train on the same segments and
    decode the same vocabulary with the same LM."""

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 2.0, "time": 1.0}

    def __init__(self, *, sentencepiece_model: tk.Path, training_lexicon: tk.Path, decoding_lexicon: tk.Path,
                 rqmt: Optional[dict] = None):
        """
        :param sentencepiece_model: TrainSentencePieceJob.out_model
        :param training_lexicon: the phoneme training lexicon (TedliumLexiconJob.out_training_lexicon)
        :param decoding_lexicon: the phoneme decoding lexicon (TedliumLexiconJob.out_decoding_lexicon)
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict; not hashed
        """
        self.sentencepiece_model = sentencepiece_model
        self.training_lexicon = training_lexicon
        self.decoding_lexicon = decoding_lexicon
        self.rqmt = self.resources(rqmt)
        self.out_labels = self.output_path("labels.txt")
        self.out_training_lexicon = self.output_path("training.lexicon.txt")
        self.out_decoding_lexicon = self.output_path("decoding.lexicon.txt")
        self.out_report = self.output_path("report.json")

    def run(self):
        from memristor_asr.lexicon.bpe import SentencePieceSpeller
        from memristor_asr.lexicon.lexicon import BLANK, read_lexicon, write_labels, write_lexicon

        speller = SentencePieceSpeller(tk.uncached_path(self.sentencepiece_model))
        pieces = speller.pieces
        if BLANK in pieces:
            raise ValueError(f"{speller.model_path}: a piece is the blank label {BLANK!r}")
        spelled = {}
        for name, path in (("training", self.training_lexicon), ("decoding", self.decoding_lexicon)):
            path = tk.uncached_path(path)
            try:
                spelled[name] = speller.spell_all(read_lexicon(path, first_only=True))
            except ValueError as e:
                raise type(e)(f"{path}: {e}") from None
        write_labels(self.out_labels.get_path(), pieces + [BLANK])
        write_lexicon(self.out_training_lexicon.get_path(), sorted(spelled["training"].items()))
        write_lexicon(self.out_decoding_lexicon.get_path(), list(spelled["decoding"].items()))
        lengths = [len(p) for p in spelled["training"].values()]
        report = {"sentencepiece_model": speller.model_path, "labels": len(pieces) + 1,
                  "training_words": len(spelled["training"]), "decoding_words": len(spelled["decoding"]),
                  "pieces_per_training_word": sum(lengths) / max(len(lengths), 1),
                  "unused_pieces": sorted(set(pieces) - {p for s in spelled["training"].values() for p in s})}
        with open(self.out_report.get_path(), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
