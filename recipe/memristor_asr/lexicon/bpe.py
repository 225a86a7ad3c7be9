"""Subword (sentencepiece) labels: the model, each word's spelling in pieces, the label inventory.

With BPE labels the study keeps its lexicon files and its search: a word's "pronunciation" is its
sentencepiece spelling (``hello`` -> ``▁he llo``), so training targets, the output layer (one output
per piece plus the blank), the prior and flashlight's lexicon search follow unchanged. Pieces never
cross a space (sentencepiece's ``split_by_whitespace``), so spelling a transcript word by word gives
exactly the pieces of the whole transcript.

Settings that keep the text as the study prepared it: the ``identity`` normalisation (the transcripts
are already normalised as the LM text is), full character coverage, and no ``<s>``/``</s>`` pieces
(CTC has no use for them). The ``<unk>`` piece (id 0) exists in every sentencepiece model; it is not a
CTC output, and a word that would need it is an error naming the word.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence

from memristor_asr.config import Config

__all__ = ["LABEL_UNITS", "BpeConfig", "WORD_START", "UnencodableWordError", "train_sentencepiece",
           "SentencePieceSpeller", "pieces_to_words"]

#: the study's label units (``StudySetup.label_unit``): ARPAbet phonemes with word-end copies (the
#: paper) or sentencepiece subwords
LABEL_UNITS = ("phoneme", "bpe")

#: sentencepiece's word-start marker (U+2581): a piece that begins with it begins a word
WORD_START = "\u2581"


class UnencodableWordError(ValueError):
    """A word that the sentencepiece model cannot spell without its ``<unk>`` piece."""


@dataclass(frozen=True)
class BpeConfig(Config):
    """A sentencepiece model of the train transcripts.

    :param vocab_size: pieces including ``<unk>``; the network has as many outputs (``vocab_size - 1``
        pieces and the blank). ESPnet's TED-LIUM v2 recipe: 500
    :param model_type: ``bpe`` or ``unigram`` (sentencepiece's model types for a fixed vocabulary)
    """

    vocab_size: int = 500
    model_type: str = "bpe"

    def __post_init__(self):
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 2:
            raise ValueError(f"BpeConfig.vocab_size must be an integer >= 2, got {self.vocab_size!r}")
        if self.model_type not in ("bpe", "unigram"):
            raise ValueError(f"BpeConfig.model_type must be 'bpe' or 'unigram', got {self.model_type!r}")

    @property
    def num_labels(self) -> int:
        """Network outputs: every piece but ``<unk>``, and the blank."""
        return self.vocab_size


def train_sentencepiece(text_path: str, model_path: str, config: BpeConfig) -> None:
    """Train a sentencepiece model on ``text_path`` (one sentence per line) into ``model_path``.

    :raises ValueError: naming ``BpeConfig.vocab_size`` when the text does not support that many pieces
    """
    import sentencepiece as spm

    prefix = model_path[: -len(".model")] if model_path.endswith(".model") else model_path
    try:
        spm.SentencePieceTrainer.train(
            input=text_path, model_prefix=prefix, vocab_size=config.vocab_size, model_type=config.model_type,
            character_coverage=1.0, normalization_rule_name="identity", unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
            # every sentence, one thread: the same text gives the same model
            input_sentence_size=0, shuffle_input_sentence=False, num_threads=1, minloglevel=2)
    except RuntimeError as e:
        if "Vocabulary size" in str(e) or "vocab_size" in str(e):
            raise ValueError(f"BpeConfig.vocab_size={config.vocab_size} is larger than {text_path} supports: "
                             f"{e}") from None
        raise
    if prefix + ".model" != model_path:
        os.replace(prefix + ".model", model_path)


class SentencePieceSpeller:
    """Spell words in the pieces of a sentencepiece model.

    :param model_path: a ``.model`` file of :func:`train_sentencepiece`
    """

    def __init__(self, model_path: str):
        import sentencepiece as spm

        self.model_path = os.fspath(model_path)
        self._sp = spm.SentencePieceProcessor(model_file=self.model_path)
        self._unk = self._sp.unk_id()

    @property
    def pieces(self) -> List[str]:
        """The model's pieces in id order, ``<unk>`` left out: the label inventory before the blank."""
        return [self._sp.id_to_piece(i) for i in range(self._sp.get_piece_size()) if i != self._unk]

    def spell(self, word: str) -> List[str]:
        """``word`` as pieces (the first begins with :data:`WORD_START`).

        :raises UnencodableWordError: naming the word, if a part of it maps to ``<unk>``
        """
        ids = self._sp.encode(word)
        if not ids or self._unk in ids:
            raise UnencodableWordError(f"word {word!r} cannot be spelled in the pieces of {self.model_path} "
                                       f"(a character that the train transcripts do not have)")
        return [self._sp.id_to_piece(i) for i in ids]

    def spell_all(self, words: Iterable[str]) -> Dict[str, List[str]]:
        """``word -> pieces`` for every word (first occurrence order)."""
        out: Dict[str, List[str]] = {}
        for w in words:
            if w not in out:
                out[w] = self.spell(w)
        return out


def pieces_to_words(pieces: Sequence[str]) -> List[str]:
    """Join pieces into words at :data:`WORD_START` (a lexicon-free hypothesis): ``▁he llo ▁w`` ->
    ``[hello, w]``."""
    text = "".join(pieces).replace(WORD_START, " ")
    return text.split()
