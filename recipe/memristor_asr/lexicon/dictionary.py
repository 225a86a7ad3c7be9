"""TEDLIUM.152k.dic reading (with the i6 fixes) and the training / decoding lexicons built from it.

Dictionary format: one pronunciation per line, ``word PH PH ...``, further variants of a word as
``word(2) ...``, ``word(3) ...``; ARPAbet without stress. The i6 fixes (docs/STUDY_SETUP.md §1):
variant indices are stripped, ``ayışığı`` is deleted, ``'d`` ``D IY`` -> ``D`` and ``'ll``
``EH L EH L`` -> ``L``. Entries of bracketed special tokens (``<s>``, ``</s>``, ``<unk>``, which
Kaldi's recipe also removes) are not words: they are dropped and counted. Any other phoneme
outside the 39-phoneme inventory is an error naming file and line.
"""
from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from memristor_asr.corpus.manifest import Segment
from memristor_asr.lexicon.lexicon import PHONEMES, add_eow
from memristor_asr.corpus.lines import utf8_lines

__all__ = ["DictionaryError", "Dictionary", "read_tedlium_dic", "LexiconBuild", "OovPronouncer", "cmu_pronouncer",
           "build_lexicons", "oov_rate"]

_VARIANT_INDEX = re.compile(r"\(\d+\)$")
_SPECIAL_WORD = re.compile(r"^<[^<>\s]+>$")
_PHONEME_SET = frozenset(PHONEMES)
# (word, pronunciation as written) -> replacement; None deletes the entry
_I6_FIXES: Dict[Tuple[str, Tuple[str, ...]], Optional[Tuple[str, ...]]] = {
    ("'d", ("D", "IY")): ("D",),
    ("'ll", ("EH", "L", "EH", "L")): ("L",),
}
_I6_DELETED_WORDS = frozenset({"ayışığı"})

Pron = Tuple[str, ...]


class DictionaryError(ValueError):
    """A malformed dictionary line; the message starts with ``file:line:``."""


@dataclass
class Dictionary:
    prons: Dict[str, List[Pron]]                          # word -> variants, file order, no duplicates
    fixes: List[str] = field(default_factory=list)         # "file:line: what was changed"
    special_dropped: List[str] = field(default_factory=list)

    def __contains__(self, word: str) -> bool:
        return word in self.prons


def read_tedlium_dic(path) -> Dictionary:
    """Read a TEDLIUM.152k.dic-style dictionary with the i6 fixes and the inventory check.

    :raises DictionaryError: non-UTF-8 line, a word without pronunciation, or a phoneme outside
        the 39-phoneme inventory (file, line, word and symbol named)
    """
    dic = Dictionary(prons={})
    for where, line in utf8_lines(path, DictionaryError):
        fields = line.split()
        if not fields:
            continue
        word, pron = _VARIANT_INDEX.sub("", fields[0]), tuple(fields[1:])
        if _SPECIAL_WORD.match(word):
            dic.special_dropped.append(f"{where}: {fields[0]}")
            continue
        if not pron:
            raise DictionaryError(f"{where}: word {fields[0]!r} has no pronunciation")
        if word in _I6_DELETED_WORDS:
            dic.fixes.append(f"{where}: deleted entry {word} {' '.join(pron)}")
            continue
        if (word, pron) in _I6_FIXES:
            fixed = _I6_FIXES[(word, pron)]
            dic.fixes.append(f"{where}: {word} {' '.join(pron)} -> {' '.join(fixed)}")
            pron = fixed
        for p in pron:
            if p not in _PHONEME_SET:
                raise DictionaryError(f"{where}: unknown phoneme {p!r} in the pronunciation of {fields[0]!r}; "
                                      f"allowed are the 39 ARPAbet phonemes without stress ({' '.join(PHONEMES)})")
        variants = dic.prons.setdefault(word, [])
        if pron not in variants:
            variants.append(pron)
    return dic


@dataclass
class LexiconBuild:
    """Everything the lexicon job writes."""

    training: Dict[str, List[str]]                 # word -> first pronunciation with EOW
    decoding: List[Tuple[str, List[str]]]          # (word, pronunciation with EOW), all dic variants
    oov_pronunciations: Dict[str, Pron]            # train OOVs with the pronunciation they were given
    unknown_words: Dict[str, int]                  # train words without any pronunciation -> occurrences
    kept_segments: List[Segment]
    dropped_segments: Dict[str, List[str]]         # id of a dropped train segment -> its unknown words
    dropped_seconds: float                         # audio of the dropped segments
    total_seconds: float                           # audio of all train segments


# words (train OOVs) -> their pronunciation variants, best first; a word it cannot pronounce is absent
OovPronouncer = Callable[[Sequence[str]], Mapping[str, Sequence[Sequence[str]]]]


def cmu_pronouncer(cmu: Mapping[str, Sequence[Pron]]) -> OovPronouncer:
    """Train OOVs looked up in a CMU-style dictionary (the fallback when no G2P model is given)."""
    return lambda words: {w: cmu[w] for w in words if w in cmu}


def build_lexicons(dic: Dictionary, train_segments: Iterable[Segment], pronounce: OovPronouncer) -> LexiconBuild:
    """Training lexicon (dic + train OOVs pronounced by ``pronounce``, first pronunciation), decoding
    lexicon (dic only, all variants) and the train segments that remain: a segment is dropped only
    when one of its words got no pronunciation inside the 39-phoneme inventory."""
    segments = list(train_segments)
    oov_words = sorted({w for seg in segments for w in seg.words if w not in dic})
    given = pronounce(oov_words)
    oov: Dict[str, Pron] = {}
    for w in oov_words:
        cands = [tuple(p) for p in given.get(w, ()) if p and all(x in _PHONEME_SET for x in p)]
        if cands:
            oov[w] = cands[0]
    unknown: Dict[str, int] = collections.Counter(w for seg in segments for w in seg.words
                                                  if w not in dic and w not in oov)
    kept, dropped, dropped_seconds = [], {}, 0.0
    for seg in segments:
        missing = sorted({w for w in seg.words if w in unknown})
        if missing:
            dropped[seg.id] = missing
            dropped_seconds += seg.duration
        else:
            kept.append(seg)
    training = {w: add_eow(v[0]) for w, v in dic.prons.items()}
    training.update({w: add_eow(p) for w, p in sorted(oov.items())})
    decoding = [(w, add_eow(p)) for w, variants in dic.prons.items() for p in variants]
    return LexiconBuild(training=training, decoding=decoding, oov_pronunciations=oov, unknown_words=dict(unknown),
                        kept_segments=kept, dropped_segments=dropped, dropped_seconds=dropped_seconds,
                        total_seconds=sum(seg.duration for seg in segments))


def oov_rate(segments: Iterable[Segment], vocabulary) -> Dict[str, float]:
    """Running-word OOV statistics of ``segments`` against ``vocabulary``."""
    total, oov = 0, collections.Counter()
    for seg in segments:
        for w in seg.words:
            total += 1
            if w not in vocabulary:
                oov[w] += 1
    n = sum(oov.values())
    return {"words": total, "oov_words": n, "oov_rate": n / total if total else 0.0, "oov_types": len(oov)}
