"""Label inventory and lexicon files shared by training, decoding and the lexicon jobs.

Files:

* ``labels.txt`` -- one label per line; the line number is the network output index.
  78 phoneme labels (39 ARPAbet phonemes and their end-of-word copies ``X#``) followed by
  the CTC blank ``[blank]`` as the last entry: 79 outputs.
* lexicon files -- one pronunciation per line, ``word P1 P2 ... Pn#`` (whitespace separated,
  last phoneme in its end-of-word form). The training lexicon has exactly one line per word
  (the first pronunciation); the decoding lexicon (flashlight format) may have several.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

from memristor_asr.util import uopen

__all__ = ["BLANK", "PHONEMES", "EOW", "eow_labels", "add_eow", "read_labels", "write_labels", "read_lexicon",
           "write_lexicon", "words_to_label_ids"]

BLANK = "[blank]"
# The 39 ARPAbet phonemes (no stress) of TEDLIUM.152k.dic and the CMU dictionary.
PHONEMES = tuple("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
                 "UH UW V W Y Z ZH".split())
EOW = "#"  # suffix of the end-of-word copy of a phoneme


def eow_labels(phonemes=PHONEMES) -> List[str]:
    """The output inventory: every phoneme and its end-of-word copy, sorted, then the blank (79 for 39)."""
    return sorted(list(phonemes) + [p + EOW for p in phonemes]) + [BLANK]


def add_eow(pron: Sequence[str]) -> List[str]:
    """Mark the last phoneme of a pronunciation as word-final: ``[K, AE, T]`` -> ``[K, AE, T#]``."""
    if not pron:
        raise ValueError("empty pronunciation")
    return list(pron[:-1]) + [pron[-1] + EOW]


def write_labels(path, labels: Sequence[str]) -> None:
    with uopen(path, "wt") as f:
        for lab in labels:
            f.write(lab + "\n")


def read_labels(path) -> List[str]:
    """Read a label inventory; the blank must be the last entry."""
    with uopen(path, "rt") as f:
        labels = [line.strip() for line in f if line.strip()]
    if not labels or labels[-1] != BLANK:
        raise ValueError(f"{path}: the last label must be the blank {BLANK!r}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"{path}: duplicate labels")
    return labels


def write_lexicon(path, entries: Sequence[tuple]) -> None:
    """Write ``(word, [phonemes...])`` pairs, one pronunciation per line."""
    with uopen(path, "wt") as f:
        for word, phons in entries:
            f.write(word + " " + " ".join(phons) + "\n")


def read_lexicon(path, first_only: bool = True) -> Dict[str, List[List[str]]]:
    """Read a lexicon file into ``word -> [pronunciation, ...]`` (file order kept).

    :param first_only: keep only the first pronunciation of each word
    :raises ValueError: naming the file and line of an entry without pronunciation
    """
    lex: Dict[str, List[List[str]]] = {}
    with uopen(path, "rt") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise ValueError(f"{path}:{lineno}: word {parts[0]!r} has no pronunciation")
            prons = lex.setdefault(parts[0], [])
            if not (first_only and prons):
                prons.append(parts[1:])
    return lex


def words_to_label_ids(words: Sequence[str], lexicon: Dict[str, List[List[str]]],
                       label_index: Dict[str, int]) -> List[int]:
    """Map a word sequence to label ids with the first pronunciation of each word.

    :raises KeyError: naming the first word missing from the lexicon or phoneme missing from labels
    """
    ids: List[int] = []
    for w in words:
        try:
            pron = lexicon[w][0]
        except KeyError:
            raise KeyError(f"word {w!r} is not in the lexicon") from None
        for p in pron:
            try:
                ids.append(label_index[p])
            except KeyError:
                raise KeyError(f"label {p!r} (word {w!r}) is not in the label inventory") from None
    return ids
