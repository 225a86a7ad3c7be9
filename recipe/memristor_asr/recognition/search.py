"""Lexicon-constrained prefix-tree beam search (flashlight) with a KenLM n-gram LM, and for subword
labels a lexicon-free beam search with a KenLM n-gram over the pieces.

The network's label scores are searched over a trie of the decoding lexicon's pronunciations
(``word P1 .. Pn#``), scored by the LM at word ends. As in the paper, the CTC blank doubles as the
silence token and words the LM does not know are scored as its ``<unk>``.

Model scores given to the search: ``log_softmax(logits) - prior_scale * log_prior`` per frame.
"""
from __future__ import annotations

import math
import multiprocessing
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from memristor_asr.config import Config
from memristor_asr.lexicon.lexicon import BLANK, read_labels, read_lexicon

__all__ = ["SearchConfig", "LexiconSearch", "LexiconFreeSearch", "decode_parallel", "apply_prior",
           "LexiconMismatchError", "LMVocabulary", "unsearched_homophones", "homophone_ranks"]

UNK_WORD = "<unk>"

#: LM log10-score step that orders homophones of equal LM score (see :class:`TieBreakingLM`). Large
#: enough to survive flashlight's float32 scores (ulp ~ 1e-6 at |score| <= 16), small against any
#: real score difference.
HOMOPHONE_TIE_STEP = 1e-5


class LexiconMismatchError(ValueError):
    """Labels, lexicon and LM do not fit together; the message names the token or word."""


@dataclass(frozen=True)
class SearchConfig(Config):
    """Beam search settings (paper: beam 1024, token beam 12, threshold 14). The LM scale is not one of
    them: a recognition tries a grid of LM scales on one forward pass (``LexiconSearch(lm_scale=)``).

    :param beam_size: hypotheses kept per frame
    :param beam_size_token: labels considered per frame
    :param beam_threshold: score distance to the best hypothesis beyond which hypotheses are pruned
    :param word_score: score added per word (insertion bonus)
    :param sil_score: score added per silence (= blank) frame
    """

    beam_size: int = 1024
    beam_size_token: int = 12
    beam_threshold: float = 14.0
    word_score: float = 0.0
    sil_score: float = 0.0


class _BeamSearch:
    """What both searches share: ``self.labels``, ``self.decoder`` (a flashlight decoder) and
    ``_words(result)``, the words of one of its hypotheses."""

    labels: List[str]

    def decode(self, scores: np.ndarray) -> List[str]:
        """Best word sequence for one utterance.

        :param scores: float32 [T, V] label scores (log-probabilities minus scaled log prior)
        """
        if scores.ndim != 2 or scores.shape[1] != len(self.labels):
            raise ValueError(f"scores must be [T, {len(self.labels)}], got {tuple(scores.shape)}")
        if scores.shape[0] == 0:
            return []
        em = np.ascontiguousarray(scores, dtype=np.float32)
        results = self.decoder.decode(em.ctypes.data, em.shape[0], em.shape[1])
        if not results:
            return []
        # flashlight orders hypotheses of equal score by memory address: pick among the best ones by
        # their words, so that the result does not depend on the process's allocation history
        best = max(r.score for r in results)
        candidates = [self._words(r) for r in results if r.score == best]
        return min(candidates)

    def _words(self, result) -> List[str]:
        raise NotImplementedError


class LexiconSearch(_BeamSearch):
    """A flashlight ``LexiconDecoder`` over a label inventory, a lexicon and a KenLM model.

    :param labels_file: ``labels.txt`` (blank last)
    :param lexicon_file: flashlight decoding lexicon ``word P1 .. Pn#`` (variants on extra lines)
    :param lm_file: KenLM ARPA or binary model
    :param config: search settings
    :param lm_scale: weight of the LM log10-probabilities (flashlight's ``lm_weight``; the paper: 2.0)
    :param tie_step: LM log10-score step between homophones of equal LM score (see
        :class:`~memristor_asr.recognition.tie_breaking_lm.TieBreakingLM`); 0: the native KenLM, whose
        equal-score homophones are ordered by memory address (for benchmarks and tests only)
    """

    def __init__(self, labels_file, lexicon_file, lm_file, config: SearchConfig, lm_scale: float = 2.0, *,
                 tie_step: float = HOMOPHONE_TIE_STEP):
        from flashlight.lib.text.decoder import (CriterionType, LexiconDecoder, LexiconDecoderOptions, SmearingMode,
                                                 Trie)
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary, create_word_dict

        from memristor_asr.recognition.tie_breaking_lm import TieBreakingLM

        self.labels = read_labels(labels_file)
        token_dict = Dictionary(self.labels)
        label_index = {lab: i for i, lab in enumerate(self.labels)}
        lexicon = read_lexicon(lexicon_file, first_only=False)
        if not lexicon:
            raise LexiconMismatchError(f"{lexicon_file}: the decoding lexicon is empty")
        for word, prons in lexicon.items():
            for pron in prons:
                for tok in pron:
                    if tok not in label_index:
                        raise LexiconMismatchError(
                            f"{lexicon_file}: word {word!r} uses token {tok!r}, which is not in the labels "
                            f"{labels_file}")
        if UNK_WORD not in lexicon:
            lexicon_with_unk = dict(lexicon)
            lexicon_with_unk[UNK_WORD] = []
        else:
            lexicon_with_unk = lexicon
        self.word_dict = create_word_dict(lexicon_with_unk)
        if not os.path.exists(os.fspath(lm_file)):
            raise FileNotFoundError(f"language model {lm_file} does not exist")
        self.unsearched_homophones = unsearched_homophones(lexicon, LMVocabulary(lm_file))
        searched = {w: [p for p in prons if (w, tuple(p)) not in self.unsearched_homophones]
                    for w, prons in lexicon.items()}
        ranks = homophone_ranks(searched)
        kenlm_model = KenLM(os.fspath(lm_file), self.word_dict)
        if tie_step and any(ranks.values()):
            offsets = [0.0] * self.word_dict.index_size()
            for word, rank in ranks.items():
                offsets[self.word_dict.get_index(word)] = -tie_step * rank
            self.lm = TieBreakingLM(kenlm_model, offsets)
        else:  # no homophones (or no step): the native LM, without the Python call per score
            self.lm = kenlm_model
        blank = label_index[BLANK]
        self.blank = blank
        trie = Trie(len(self.labels), blank)
        start = self.lm.start(False)
        for word, prons in lexicon.items():
            word_idx = self.word_dict.get_index(word)
            _, score = self.lm.score(start, word_idx)
            for pron in prons:
                if (word, tuple(pron)) not in self.unsearched_homophones:
                    trie.insert([token_dict.get_index(t) for t in pron], word_idx, score)
        trie.smear(SmearingMode.MAX)
        opts = LexiconDecoderOptions(
            beam_size=config.beam_size, beam_size_token=config.beam_size_token,
            beam_threshold=config.beam_threshold, lm_weight=lm_scale, word_score=config.word_score,
            unk_score=-math.inf, sil_score=config.sil_score, log_add=False, criterion_type=CriterionType.CTC)
        self._trie = trie  # the decoder keeps a reference, but keep ours alive too
        self.decoder = LexiconDecoder(opts, trie, self.lm, blank, blank, self.word_dict.get_index(UNK_WORD), [], False)

    def _words(self, result) -> List[str]:
        words = [self.word_dict.get_entry(w) for w in result.words if w >= 0]
        return [w for w in words if not w.startswith("[") and w != UNK_WORD]


class LexiconFreeSearch(_BeamSearch):
    """A flashlight ``LexiconFreeDecoder`` over sentencepiece labels and a KenLM n-gram over the pieces
    (``lm_file`` estimated on the LM text spelled in pieces): any piece sequence is a hypothesis, and
    words are the pieces joined at sentencepiece's word-start marker. The CTC blank doubles as silence
    (it never reaches the LM); pieces the LM does not know are scored as its ``<unk>``.

    :param labels_file: ``labels.txt`` of the pieces (blank last)
    :param lm_file: KenLM ARPA or binary model over pieces
    :param config: search settings (``word_score`` is not used: the search has no word ends)
    :param lm_scale: weight of the piece LM's log10-probabilities
    """

    def __init__(self, labels_file, lm_file, config: SearchConfig, lm_scale: float = 1.0):
        from flashlight.lib.text.decoder import CriterionType, LexiconFreeDecoder, LexiconFreeDecoderOptions
        from flashlight.lib.text.decoder.kenlm import KenLM
        from flashlight.lib.text.dictionary import Dictionary

        from memristor_asr.lexicon.bpe import WORD_START

        self.labels = read_labels(labels_file)
        if not any(lab.startswith(WORD_START) for lab in self.labels):
            raise LexiconMismatchError(f"{labels_file}: lexicon-free search needs sentencepiece labels (pieces "
                                       f"starting with {WORD_START!r}); phoneme labels need a lexicon")
        if not os.path.exists(os.fspath(lm_file)):
            raise FileNotFoundError(f"language model {lm_file} does not exist")
        self.blank = len(self.labels) - 1
        self._token_dict = Dictionary(self.labels)
        self.lm = KenLM(os.fspath(lm_file), self._token_dict)
        opts = LexiconFreeDecoderOptions(
            beam_size=config.beam_size, beam_size_token=config.beam_size_token,
            beam_threshold=config.beam_threshold, lm_weight=lm_scale, sil_score=config.sil_score, log_add=False,
            criterion_type=CriterionType.CTC)
        self.decoder = LexiconFreeDecoder(opts, self.lm, self.blank, self.blank, [])

    def _words(self, result) -> List[str]:
        from memristor_asr.lexicon.bpe import pieces_to_words

        return pieces_to_words([self.labels[t] for t in ctc_collapse(result.tokens, self.blank)])


def ctc_collapse(frames: Sequence[int], blank: int) -> List[int]:
    """A CTC frame sequence as labels: repeats merged, then blanks (and flashlight's -1 padding) removed."""
    out: List[int] = []
    prev = None
    for t in frames:
        if t != prev and t != blank and t >= 0:
            out.append(t)
        prev = t
    return out


class LMVocabulary:
    """Membership test ``word in vocab`` against a KenLM model (ARPA or binary; a binary one is
    memory-mapped, so this costs little). kenlm's Python API has no vocabulary listing."""

    def __init__(self, lm_file):
        import kenlm

        self._model = kenlm.Model(os.fspath(lm_file))

    def __contains__(self, word: str) -> bool:
        return word in self._model


def homophone_ranks(lexicon: Dict[str, List[List[str]]]) -> Dict[str, int]:
    """A rank per word such that words sharing a pronunciation have different ranks; the first in
    lexicon order gets 0 (so a word without homophones always has rank 0). Greedy colouring, since a
    word with several pronunciations can be in several homophone groups.

    :param lexicon: ``word -> pronunciations`` as searched
    """
    groups: Dict[Tuple[str, ...], List[str]] = {}
    for word, prons in lexicon.items():
        for pron in prons:
            groups.setdefault(tuple(pron), []).append(word)
    ranks: Dict[str, int] = {}
    for word, prons in lexicon.items():
        taken = {ranks[other] for pron in prons for other in groups[tuple(pron)] if other in ranks}
        rank = 0
        while rank in taken:
            rank += 1
        ranks[word] = rank
    return ranks


def unsearched_homophones(lexicon: Dict[str, List[List[str]]], lm_words) -> Set[Tuple[str, Tuple[str, ...]]]:
    """``(word, pronunciation)`` entries left out of the search tree: of the words with the same
    pronunciation that the LM does not know (all scored as its ``<unk>``), all but the first in
    lexicon order. Their hypotheses would tie exactly, and flashlight breaks such ties by memory
    address, so the recognised word (and the WER) changed from run to run; with one of them searched
    the result is reproducible, and no choice among indistinguishable words is lost."""
    first: Dict[Tuple[str, ...], str] = {}
    left_out = set()
    for word, prons in lexicon.items():
        if word in lm_words:
            continue
        for pron in prons:
            key = tuple(pron)
            if first.setdefault(key, word) != word:
                left_out.add((word, key))
    return left_out


_worker_search = None  # LexiconSearch or LexiconFreeSearch
_worker_error: Optional[BaseException] = None


def make_search(labels_file, lexicon_file, lm_file, config: SearchConfig, lm_scale: float = 2.0):
    """The search of a recognition: over the lexicon, or lexicon-free when ``lexicon_file`` is None."""
    if lexicon_file is None:
        return LexiconFreeSearch(labels_file, lm_file, config, lm_scale)
    return LexiconSearch(labels_file, lexicon_file, lm_file, config, lm_scale)


def _init_worker(args):
    # no torch calls here: a forked child must not touch the parent's OpenMP thread pool
    global _worker_search, _worker_error
    _worker_search, _worker_error = None, None  # the serial path runs this in the caller's process
    try:
        _worker_search = make_search(*args)
    except Exception as e:
        # raised by the first decode instead: a failing Pool initializer makes the pool replace its
        # worker again and again, and the recognition hangs without a word
        _worker_error = e


def _decode_one(scores):
    if _worker_error is not None:
        raise _worker_error
    return _worker_search.decode(scores)


def decode_parallel(search_args: tuple, scores: Sequence[np.ndarray], num_workers: int,
                    progress=None) -> List[List[str]]:
    """Decode many utterances over ``num_workers`` processes (each builds its own decoder).

    :param search_args: ``(labels_file, lexicon_file, lm_file, SearchConfig, lm_scale)`` (lexicon None:
        lexicon-free)
    :param progress: optional callable ``progress(done, total)``
    """
    out: List[List[str]] = []
    if num_workers <= 1:
        _init_worker(search_args)
        for i, s in enumerate(scores):
            out.append(_decode_one(s))
            if progress:
                progress(i + 1, len(scores))
        return out
    ctx = multiprocessing.get_context("fork")
    # Longest utterances first in chunks of one keep the processes evenly busy.
    with ctx.Pool(num_workers, initializer=_init_worker, initargs=(search_args,)) as pool:
        for i, words in enumerate(pool.imap(_decode_one, scores, chunksize=1)):
            out.append(words)
            if progress:
                progress(i + 1, len(scores))
    return out


def apply_prior(log_probs: np.ndarray, log_prior: Optional[np.ndarray], prior_scale: float) -> np.ndarray:
    """``log_probs - prior_scale * log_prior`` (no change when there is no prior or the scale is 0)."""
    if log_prior is None or prior_scale == 0.0:
        return log_probs
    return log_probs - prior_scale * log_prior[None, :]

