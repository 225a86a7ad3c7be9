"""A small probabilistic grammar that writes TED-talk-like English sentences.

Sentences come out as token lists in TED-LIUM's tokenisation (lower case, no punctuation,
clitics split off: ``it 's``, ``don 't``, ``we 'll``). Open-class words are drawn with Zipf
weights over the frequency-ordered lists of :mod:`.words`, so a few hundred words carry most of
the text and the long tail is rare. Every word the grammar can emit has a pronunciation in the
CMU dictionary or in :data:`.words.CLITIC_PRONUNCIATIONS` (checked in :func:`build_inventory`),
except the invented names, which are only used when asked for.
"""
from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from memristor_asr.corpus.embedded import words as W

__all__ = ["Inventory", "build_inventory", "SentenceGenerator", "spoken_text"]

_VOWEL_PHONEMES = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())

# Closed-class words the templates write literally (all are in the CMU dictionary or the clitic table).
_FUNCTION_WORDS = """
i you we they he she it this that these those there here what why how when if while because so
and but or then now not no the a an my our your their his her its every one another each some
many all most few more me us him them everything something nothing is am are was were be been
being do does did have has had can could will would should might must to of like let want tell
talk show about today story right years ago last next year future day time in for miss up
""".split()


@dataclass(frozen=True)
class Noun:
    singular: str
    plural: Optional[str]      # None: uncountable, or the plural has no CMU pronunciation
    countable: bool


@dataclass(frozen=True)
class Verb:
    base: str
    third: str
    past: str
    ing: str


@dataclass
class Inventory:
    """The words the grammar may use, in frequency order, with their pronunciations."""

    nouns: List[Noun]
    plural_only: List[str]
    verbs: List[Verb]
    transitive: List[Verb]
    intransitive: List[Verb]
    clause: List[Verb]
    control: List[Verb]
    adjectives: List[str]
    adverbs: List[str]
    intensifiers: List[str]
    prepositions: List[str]
    numbers: List[str]
    pronunciations: Dict[str, Tuple[Tuple[str, ...], ...]] = field(repr=False)

    def words(self) -> List[str]:
        """Every word the grammar can produce (without the invented names), sorted."""
        return sorted(self.pronunciations)


def build_inventory(cmu: Dict[str, Tuple[Tuple[str, ...], ...]]) -> Inventory:
    """Keep the listed words whose every needed form has a pronunciation in ``cmu``."""
    prons: Dict[str, Tuple[Tuple[str, ...], ...]] = {}

    def known(*forms: str) -> bool:
        return all(f in cmu or f in W.CLITIC_PRONUNCIATIONS for f in forms)

    def use(*forms: str) -> None:
        for f in forms:
            prons[f] = tuple(tuple(p) for p in W.CLITIC_PRONUNCIATIONS[f]) if f in W.CLITIC_PRONUNCIATIONS else cmu[f]

    nouns = []
    for n in W.NOUNS:
        if not known(n):
            continue
        pl = W.plural(n)
        countable = pl != ""
        plural = pl if countable and known(pl) else None
        use(n, *([plural] if plural else []))
        nouns.append(Noun(n, plural, countable))
    plural_only = [n for n in W.PLURAL_ONLY_NOUNS if known(n)]
    use(*plural_only)
    verbs = []
    for v in W.VERBS:
        f = W.verb_forms(v)
        if known(*f.values()):
            use(*f.values())
            verbs.append(Verb(**f))
    simple = [w for w in itertools.chain(W.ADJECTIVES, W.ADVERBS, W.INTENSIFIERS, W.PREPOSITIONS,
                                         W.NUMBERS, _FUNCTION_WORDS) if known(w)]
    use(*simple)
    use(*W.CLITIC_PRONUNCIATIONS)
    for w in ("don", "can", "won"):  # stems of don 't / can 't / won 't
        use(w)
    keep = set(simple)
    return Inventory(
        nouns=nouns,
        plural_only=plural_only,
        verbs=verbs,
        transitive=[v for v in verbs if v.base not in W.INTRANSITIVE_ONLY_VERBS],
        intransitive=[v for v in verbs if v.base in W.INTRANSITIVE_VERBS or v.base in W.INTRANSITIVE_ONLY_VERBS],
        clause=[v for v in verbs if v.base in W.CLAUSE_VERBS],
        control=[v for v in verbs if v.base in W.CONTROL_VERBS],
        adjectives=[w for w in W.ADJECTIVES if w in keep],
        adverbs=[w for w in W.ADVERBS if w in keep],
        intensifiers=[w for w in W.INTENSIFIERS if w in keep],
        prepositions=[w for w in W.PREPOSITIONS if w in keep],
        numbers=[w for w in W.NUMBERS if w in keep],
        pronunciations=prons,
    )


class _Zipf:
    """Draw items with weight 1/(rank + 1.5): a Zipf-like law over the given order."""

    def __init__(self, items: Sequence, boost: Optional[Dict] = None, key=lambda x: x):
        self.items = list(items)
        if not self.items:
            raise ValueError("empty word class")
        weights = [(boost or {}).get(key(it), 1.0) / (r + 1.5) for r, it in enumerate(self.items)]
        self.cum = list(itertools.accumulate(weights))

    def __call__(self, rng: random.Random):
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


def _pick(rng: random.Random, weighted: Sequence[Tuple[object, float]]):
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for item, w in weighted:
        x -= w
        if x < 0:
            return item
    return weighted[-1][0]


# person: "1" (i), "3" (singular third person), "p" (you, we, they, plural NPs)
_PRONOUN_SUBJECTS = [("i", "1", 10), ("we", "p", 10), ("you", "p", 6), ("they", "p", 5), ("it", "3", 5),
                     ("he", "3", 2), ("she", "3", 2), ("this", "3", 3), ("that", "3", 2)]
_OBJECT_PRONOUNS = [("it", 6), ("them", 4), ("this", 4), ("that", 2), ("everything", 1), ("something", 2),
                    ("nothing", 1), ("us", 1), ("you", 2), ("me", 1), ("him", 1), ("her", 1)]
_SG_DETS = [("the", 40), ("a", 22), ("this", 8), ("that", 4), ("my", 5), ("our", 5), ("your", 3),
            ("their", 3), ("his", 2), ("her", 2), ("every", 2), ("one", 1), ("another", 1), ("each", 1)]
_MASS_DETS = [("the", 30), ("this", 4), ("our", 4), ("my", 2), ("their", 2), ("some", 4), ("more", 3),
              ("no", 1), ("all", 2), ("", 8)]
_PL_DETS = [("the", 30), ("these", 5), ("those", 4), ("our", 5), ("my", 3), ("their", 4), ("some", 5),
            ("many", 4), ("all", 3), ("most", 2), ("a few", 2), ("NUM", 6), ("", 10)]
_CONTRACTED_BE = {("i", "1"): "'m", ("we", "p"): "'re", ("you", "p"): "'re", ("they", "p"): "'re",
                  ("it", "3"): "'s", ("he", "3"): "'s", ("she", "3"): "'s", ("that", "3"): "'s"}
_TIME_PHRASES = [["last", "year"], ["every", "day"], ["right", "now"], ["in", "the", "future"], ["today"],
                 ["NUM", "years", "ago"], ["for", "NUM", "years"], ["next", "year"], ["at", "night"]]


class SentenceGenerator:
    """Deterministic (given ``rng``) generator of TED-style sentences as token lists.

    :param inventory: the words to use
    :param rng: the random source (the only one used)
    :param exclude: words that must never appear (e.g. words reserved for dev/test)
    :param boost: word -> weight multiplier (e.g. to make the reserved rare words appear in dev/test)
    :param invented_rate: probability that a sentence mentions one of the invented names
    """

    def __init__(self, inventory: Inventory, rng: random.Random, exclude: FrozenSet[str] = frozenset(),
                 boost: Optional[Dict[str, float]] = None, invented_rate: float = 0.0):
        inv = inventory
        self.rng = rng
        self.invented_rate = invented_rate
        ok = lambda ws: [w for w in ws if w not in exclude]  # noqa: E731
        nouns = [n for n in inv.nouns if n.singular not in exclude and n.plural not in exclude]
        self.count_nouns = _Zipf([n for n in nouns if n.countable and n.plural], boost, key=lambda n: n.singular)
        self.any_nouns = _Zipf(nouns, boost, key=lambda n: n.singular)
        self.plural_only = ok(inv.plural_only)
        verb_ok = lambda vs: [v for v in vs if not ({v.base, v.third, v.past, v.ing} & exclude)]  # noqa: E731
        self.transitive = _Zipf(verb_ok(inv.transitive), boost, key=lambda v: v.base)
        self.intransitive = _Zipf(verb_ok(inv.intransitive), boost, key=lambda v: v.base)
        self.clause_verbs = _Zipf(verb_ok(inv.clause), boost, key=lambda v: v.base)
        self.control_verbs = _Zipf(verb_ok(inv.control), boost, key=lambda v: v.base)
        self.adjectives = _Zipf(ok(inv.adjectives), boost)
        self.adverbs = _Zipf(ok(inv.adverbs), boost)
        self.intensifiers = _Zipf(ok(inv.intensifiers))
        self.prepositions = _Zipf(ok(inv.prepositions))
        self.numbers = _Zipf(ok(inv.numbers))
        self.pron = inv.pronunciations
        self._templates = [
            (self._declarative, 30), (self._discourse, 14), (self._embedded, 8), (self._subordinate, 6),
            (self._existential, 6), (self._copula, 8), (self._it_is_adj, 4), (self._intro, 6),
            (self._question, 5), (self._negation, 5), (self._modal, 7), (self._progressive, 5),
            (self._perfect_progressive, 2), (self._control, 5), (self._would_like, 2), (self._miss, 0.6),
            (self._up_their, 0.6),
        ]

    # ------------------------------------------------------------------ public
    def sentence(self, max_tokens: int = 24) -> List[str]:
        """One sentence of 3..``max_tokens`` tokens."""
        while True:
            if self.invented_rate and self.rng.random() < self.invented_rate:
                toks = self._invented()
            else:
                toks = _pick(self.rng, self._templates)()
            if 3 <= len(toks) <= max_tokens:
                return toks

    # ------------------------------------------------------------------ phrases
    def _num(self) -> str:
        return self.numbers(self.rng)

    def _article(self, det: str, next_word: str) -> List[str]:
        if det == "a" and self.pron[next_word][0][0] in _VOWEL_PHONEMES:
            return ["an"]
        return det.split() if det else []

    def _noun_phrase(self, plural: Optional[bool] = None, pp: float = 0.15, adj: float = 0.3) -> Tuple[List[str], str]:
        """(tokens, person) of a determiner + optional adjective + noun (+ PP) phrase."""
        rng = self.rng
        if plural is None:
            plural = rng.random() < 0.35
        mods = []
        if rng.random() < adj:
            if rng.random() < 0.1:
                mods.append(self.intensifiers(rng))
            mods.append(self.adjectives(rng))
        if plural:
            if self.plural_only and rng.random() < 0.12:
                noun = rng.choice(self.plural_only)
            else:
                noun = self.count_nouns(rng).plural
            det = _pick(rng, _PL_DETS)
            det_toks = [self._num()] if det == "NUM" else det.split()
            person = "p"
        else:
            n = self.any_nouns(rng)
            noun = n.singular
            det = _pick(rng, _SG_DETS if n.countable else _MASS_DETS)
            det_toks = self._article(det, (mods + [noun])[0])
            person = "3"
        toks = det_toks + mods + [noun]
        if rng.random() < 0.05 and det_toks in (["the"], ["our"], ["my"]):
            owner = self.any_nouns(rng).singular  # possessive: "the world 's problems"
            toks = det_toks + [owner, "'s"] + mods + [noun]
        if rng.random() < pp:
            toks += self._prep_phrase()
        return toks, person

    def _prep_phrase(self) -> List[str]:
        return [self.prepositions(self.rng)] + self._noun_phrase(pp=0.0, adj=0.2)[0]

    def _object(self) -> List[str]:
        if self.rng.random() < 0.15:
            return [_pick(self.rng, _OBJECT_PRONOUNS)]
        return self._noun_phrase()[0]

    def _subject(self) -> Tuple[List[str], str]:
        if self.rng.random() < 0.55:
            w, person = _pick(self.rng, [((w, p), n) for w, p, n in _PRONOUN_SUBJECTS])
            return [w], person
        if self.plural_only and self.rng.random() < 0.1:
            return [self.rng.choice(self.plural_only)], "p"
        return self._noun_phrase(pp=0.08)

    def _time_phrase(self) -> List[str]:
        return [self._num() if t == "NUM" else t for t in self.rng.choice(_TIME_PHRASES)]

    @staticmethod
    def _tensed(v: Verb, person: str, past: bool) -> str:
        return v.past if past else (v.third if person == "3" else v.base)

    def _be(self, subj: List[str], person: str, past: bool) -> List[str]:
        if past:
            return ["were" if person == "p" else "was"]
        key = (subj[0], person) if len(subj) == 1 else None
        if key in _CONTRACTED_BE and self.rng.random() < 0.6:
            return [_CONTRACTED_BE[key]]
        return [{"1": "am", "3": "is", "p": "are"}[person]]

    def _verb_phrase(self, person: str, past: bool, depth: int = 0) -> List[str]:
        rng = self.rng
        r = rng.random()
        adv = [self.adverbs(rng)] if rng.random() < 0.12 else []
        if r < 0.6:
            v = self.transitive(rng)
            toks = adv + [self._tensed(v, person, past)] + self._object()
            if rng.random() < 0.15:
                toks += self._prep_phrase()
        elif r < 0.72:
            v = self.intransitive(rng)
            toks = adv + [self._tensed(v, person, past)]
            toks += self._prep_phrase() if rng.random() < 0.5 else [self.adverbs(rng)]
        elif r < 0.86 and depth == 0:
            v = self.clause_verbs(rng)
            that = ["that"] if rng.random() < 0.6 else []
            toks = adv + [self._tensed(v, person, past)] + that + self._clause(depth + 1)
        else:
            v, inf = self.control_verbs(rng), self.transitive(rng)
            toks = adv + [self._tensed(v, person, past), "to", inf.base] + self._object()
        if rng.random() < 0.12:
            toks += self._time_phrase()
        return toks

    def _clause(self, depth: int = 0) -> List[str]:
        subj, person = self._subject()
        return subj + self._verb_phrase(person, self.rng.random() < 0.4, depth)

    # ------------------------------------------------------------------ templates
    def _declarative(self) -> List[str]:
        return self._clause()

    def _discourse(self) -> List[str]:
        lead = _pick(self.rng, [(["so"], 5), (["and"], 5), (["but"], 4), (["now"], 2), (["actually"], 1),
                                (["and", "then"], 1), (["because"], 1)])
        return lead + self._clause()

    def _embedded(self) -> List[str]:
        subj, person = _pick(self.rng, [((["i"], "1"), 5), ((["we"], "p"), 4), ((["you"], "p"), 2),
                                         ((["people"], "p"), 1)])
        v = self.clause_verbs(self.rng)
        that = ["that"] if self.rng.random() < 0.5 else []
        return subj + [self._tensed(v, person, self.rng.random() < 0.3)] + that + self._clause(1)

    def _subordinate(self) -> List[str]:
        conj = self.rng.choice(["when", "if", "because", "while"])
        return [conj] + self._clause(1) + self._clause(1)

    def _existential(self) -> List[str]:
        rng = self.rng
        if rng.random() < 0.5:
            toks = ["there", rng.choice(["are", "were"])] + self._noun_phrase(plural=True, pp=0.0)[0]
        else:
            toks = ["there"] + (["'s"] if rng.random() < 0.6 else ["is"]) + self._noun_phrase(plural=False, pp=0.0)[0]
        return toks + self._prep_phrase()

    def _copula(self) -> List[str]:
        subj, person = self._subject()
        past = self.rng.random() < 0.3
        intens = [self.intensifiers(self.rng)] if self.rng.random() < 0.35 else []
        toks = subj + self._be(subj, person, past) + intens + [self.adjectives(self.rng)]
        if self.rng.random() < 0.2:
            toks += self._prep_phrase()
        return toks

    def _it_is_adj(self) -> List[str]:
        be = ["'s"] if self.rng.random() < 0.7 else ["is"]
        return ["it"] + be + [self.adjectives(self.rng), "to", self.transitive(self.rng).base] + self._object()

    def _intro(self) -> List[str]:
        lead = _pick(self.rng, [(["today", "i", "want", "to", "talk", "about"], 3),
                                (["let", "me", "show", "you"], 2), (["i", "want", "to", "tell", "you", "about"], 2),
                                (["let", "me", "tell", "you", "a", "story", "about"], 1), (["this", "is"], 3),
                                (["here", "'s"], 1), (["that", "'s"], 2)])
        return lead + self._noun_phrase()[0]

    def _question(self) -> List[str]:
        rng = self.rng
        kind = rng.randrange(4)
        if kind == 0:
            return ["what", "if", "we", "could", self.transitive(rng).base] + self._object()
        if kind == 1:
            return ["how", "do", "we", self.transitive(rng).base] + self._object()
        if kind == 2:
            return ["why", "do"] + self._noun_phrase(plural=True, pp=0.0)[0] + [self.intransitive(rng).base]
        return ["what", "happens", "when"] + self._clause(1)

    def _negation(self) -> List[str]:
        subj, person = self._subject()
        if self.rng.random() < 0.4:
            neg = ["didn", "'t"]
        else:
            neg = ["doesn", "'t"] if person == "3" else ["don", "'t"]
        return subj + neg + [self.transitive(self.rng).base] + self._object()

    def _modal(self) -> List[str]:
        subj, _ = self._subject()
        modals = [(["can"], 5), (["could"], 4), (["will"], 3), (["should"], 3), (["might"], 2), (["must"], 1),
                  (["can", "'t"], 1), (["won", "'t"], 1)]
        if len(subj) == 1 and subj[0] in ("i", "we", "you", "they", "it"):
            modals += [(["'ll"], 4), (["'d"], 1)]
        modal = _pick(self.rng, modals)
        return subj + modal + [self.transitive(self.rng).base] + self._object()

    def _progressive(self) -> List[str]:
        subj, person = self._subject()
        past = self.rng.random() < 0.3
        return subj + self._be(subj, person, past) + [self.transitive(self.rng).ing] + self._object()

    def _perfect_progressive(self) -> List[str]:
        subj = self.rng.choice([["we", "'ve"], ["i", "'ve"], ["they", "'ve"], ["you", "'ve"]])
        return subj + ["been", self.transitive(self.rng).ing] + self._object() + ["for", self._num(), "years"]

    def _control(self) -> List[str]:
        subj, person = self._subject()
        return subj + self._verb_phrase_control(person)

    def _verb_phrase_control(self, person: str) -> List[str]:
        v, inf = self.control_verbs(self.rng), self.transitive(self.rng)
        return [self._tensed(v, person, self.rng.random() < 0.4), "to", inf.base] + self._object()

    def _would_like(self) -> List[str]:
        subj = self.rng.choice(["i", "we", "you"])
        return [subj, "'d", "like", "to", self.transitive(self.rng).base] + self._object()

    def _miss(self) -> List[str]:
        # "i miss ..." -- written "imiss" in some raw STM lines, one of the two i6 typo fixes
        return ["i", "miss"] + self._noun_phrase()[0]

    def _up_their(self) -> List[str]:
        # "... up their ..." -- written "uptheir" in some raw STM lines, the other i6 typo fix
        subj = self._noun_phrase(plural=True, pp=0.0)[0] if self.rng.random() < 0.5 else ["they"]
        verb = self.rng.choice(["picked", "gave", "opened", "cleaned", "filled", "used", "set"])
        noun = self.count_nouns(self.rng).plural
        return subj + [verb, "up", "their", noun]

    def _invented(self) -> List[str]:
        name = self.rng.choice(W.INVENTED_NAMES)
        v = self.clause_verbs(self.rng)
        return ["my", "friend", name, v.past, "that"] + self._clause(1)


def spoken_text(tokens: Sequence[str]) -> str:
    """The text to speak for a token list: clitics joined back ("it 's" -> "it's")."""
    return " ".join(tokens).replace(" '", "'")
