"""A flashlight LM that adds a fixed per-word offset to another LM's scores.

Kept apart from :mod:`memristor_asr.recognition.search` because it subclasses a flashlight class
at import time, and the configs import the search settings without needing flashlight.
"""
from __future__ import annotations

from typing import Sequence, Tuple

from flashlight.lib.text.decoder import LM, LMState

__all__ = ["TieBreakingLM"]


class TieBreakingLM(LM):
    """``score(state, w) = lm.score(state, w) + offsets[w]``; start and finish are ``lm``'s.

    Used to order homophones whose LM scores are exactly equal (e.g. two singletons of a small LM
    text): their hypotheses tie exactly, and flashlight breaks such ties by memory address, so which
    one survives the beam changed with the process's allocation history. The offsets make every
    such pair differ by a fixed, documented amount instead.

    :param lm: the wrapped flashlight LM (e.g. ``KenLM``); its states are passed through unchanged
    :param offsets: log10 score offset per word index of the decoder's word dictionary
    """

    def __init__(self, lm: LM, offsets: Sequence[float]):
        LM.__init__(self)
        self._lm = lm
        self._offsets = list(offsets)

    def start(self, start_with_nothing: bool) -> LMState:
        return self._lm.start(start_with_nothing)

    def score(self, state: LMState, usr_token_idx: int) -> Tuple[LMState, float]:
        next_state, score = self._lm.score(state, usr_token_idx)
        return next_state, score + self._offsets[usr_token_idx]

    def finish(self, state: LMState) -> Tuple[LMState, float]:
        return self._lm.finish(state)
