"""What the embedded corpus contains: talks, speakers, sentences, dictionary gaps (no audio yet).

The plan is a pure function of (size, seed), cheap to compute (well under a second plus the
CMU dictionary load), so every parallel synthesis task recomputes it instead of passing it around.
"""
from __future__ import annotations

import collections
import dataclasses
import random
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Sequence, Tuple

from memristor_asr.config import Config
from memristor_asr.corpus.embedded import words as W
from memristor_asr.corpus.embedded.grammar import Inventory, SentenceGenerator, build_inventory
from memristor_asr.lexicon.cmu import load_cmu_dict

__all__ = ["CorpusSize", "MINI_CORPUS", "CI_CORPUS", "Speaker", "Talk", "CorpusPlan", "make_plan", "SPLITS"]

SPLITS = ("train", "dev", "test")

# espeak-ng English voices (accents) and voice variants (timbre), by gender of the variant.
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                 "en-029", "en-us-nyc")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "adam", "Andy", "david", "ed", "john",
                 "max", "paul", "rob", "robert", "Michael", "Mike", "Lee")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Alicia", "Andrea", "Annie", "belinda", "linda", "steph",
                   "steph2", "anika", "aunty")


@dataclass(frozen=True)
class CorpusSize(Config):
    """Size of an embedded corpus (audio durations are targets; the synthesis reports actual ones).

    A value passed whole (``EmbeddedCorpusJob(size=...)``, ``StudySetup.corpus``); a new size is a new
    value, e.g. ``MINI_CORPUS.replace(name="mini-long-dev", dev_seconds=3600)``.

    :param name: what the corpus is called in its README and in logs (not in its content)
    :param train_seconds: train audio, seconds
    :param dev_seconds: dev audio, seconds (at least ``MIN_EVAL_SECONDS``)
    :param test_seconds: test audio, seconds (at least ``MIN_EVAL_SECONDS``)
    :param talk_seconds: range of talk lengths, seconds
    :param lm_sentences: sentences of LM text (besides the train transcripts)
    :param train_oov_words: train words left out of the dic (found in the CMU dictionary)
    :param invented_rate: share of train sentences with a word no dictionary knows
    :param reserved_words: rare words that occur in dev/test (and the LM text) but never in train
    """

    name: str
    train_seconds: float
    dev_seconds: float
    test_seconds: float
    talk_seconds: Tuple[float, float]
    lm_sentences: int
    train_oov_words: int
    invented_rate: float
    reserved_words: int

    # a segment lasts ~4-6 s: 60 s of dev (and of test) give the 10 segments a bootstrap interval needs
    MIN_EVAL_SECONDS = 60.0

    def __post_init__(self):
        for name in ("dev_seconds", "test_seconds"):
            if getattr(self, name) < self.MIN_EVAL_SECONDS:
                raise ValueError(f"CorpusSize {self.name!r}: {name}={getattr(self, name):g} is too small for a WER "
                                 f"confidence interval (at least {self.MIN_EVAL_SECONDS:g} s, about 10 segments)")
        if self.train_seconds <= 0:
            raise ValueError(f"CorpusSize {self.name!r}: train_seconds must be > 0, got {self.train_seconds}")
        object.__setattr__(self, "talk_seconds", tuple(self.talk_seconds))


# The main command's corpus. dev: ~10 min (~1,500 words, ~155 segments); measured 95 % bootstrap
# half-width at 40 % WER: ~5 points (an interval of ±2 would need ~6x the segments, beyond the mini
# time budget)
MINI_CORPUS = CorpusSize(name="mini", train_seconds=40 * 60, dev_seconds=10 * 60, test_seconds=10 * 60,
                         talk_seconds=(60, 150), lm_sentences=40000, train_oov_words=8, invented_rate=0.01,
                         reserved_words=40)
# The test suite's corpus. train: 10 min, on which the ci model leaves the CTC blank plateau after 4-7
# epochs (on 5 min: 11-17)
CI_CORPUS = CorpusSize(name="ci", train_seconds=10 * 60, dev_seconds=60, test_seconds=60, talk_seconds=(12, 25),
                       lm_sentences=3000, train_oov_words=3, invented_rate=0.08, reserved_words=20)


@dataclass(frozen=True)
class Speaker:
    """A synthetic speaker: espeak-ng voice + variant, speaking rate and pitch."""

    voice: str          # accent, e.g. "en-gb-scotland"
    variant: str        # timbre, e.g. "f2"
    gender: str         # "male" | "female"
    rate: int           # words per minute (espeak -s)
    pitch: int          # 0..99 (espeak -p)
    word_gap: int       # extra pause between words in units of 10 ms (espeak -g)

    @property
    def espeak_voice(self) -> str:
        return f"{self.voice}+{self.variant}"


@dataclass(frozen=True)
class Talk:
    """One recording: a speaker reading segments (each a token list in TED-LIUM tokenisation)."""

    talk_id: str
    split: str
    speaker: Speaker
    segments: Tuple[Tuple[str, ...], ...]
    f0_labels: bool     # write the old <F0_M>/<F0_F> labels instead of <o,f0,male|female>
    seed: int           # seeds the pauses, noise and raw-text quirks of this talk


@dataclass(frozen=True)
class CorpusPlan:
    size: CorpusSize
    seed: int
    talks: Tuple[Talk, ...]
    reserved_words: FrozenSet[str]      # never in train
    train_oov_words: FrozenSet[str]     # in train, left out of the dic, in the CMU dictionary
    inventory: Inventory = dataclasses.field(repr=False, compare=False)

    def split_talks(self, split: str) -> List[Talk]:
        return [t for t in self.talks if t.split == split]

    def sentences(self, splits: Sequence[str]) -> List[Tuple[str, ...]]:
        return [seg for t in self.talks if t.split in splits for seg in t.segments]


def _estimated_seconds(tokens: Sequence[str], rate: int) -> float:
    # espeak-ng's speech lasts about 0.8 x the nominal words/rate, plus ~0.4 s of edge silence
    # (fitted on the synthesised mini corpus)
    return 0.8 * len(tokens) * 60.0 / rate + 0.4


def _speakers(rng: random.Random, counts: Dict[str, int]) -> Dict[str, List[Speaker]]:
    """Speakers per split; a (voice, variant) pair belongs to one split only (speaker-disjoint)."""
    pools = {}
    for gender, variants in (("male", MALE_VARIANTS), ("female", FEMALE_VARIANTS)):
        pairs = [(v, x) for v in ESPEAK_VOICES for x in variants]
        rng.shuffle(pairs)
        pools[gender] = pairs
    out: Dict[str, List[Speaker]] = {}
    for split in ("dev", "test", "train"):  # dev/test first so that they always get their own pairs
        speakers = []
        for i in range(counts[split]):
            gender = ("female", "male")[i % 2]
            voice, variant = pools[gender].pop()
            speakers.append(Speaker(voice, variant, gender, rate=rng.randint(135, 185), pitch=rng.randint(25, 75),
                                    word_gap=rng.choice((0, 0, 0, 1, 2))))
        out[split] = speakers
    return out


def _talk_ids(rng: random.Random, n: int) -> List[str]:
    ids: List[str] = []
    while len(ids) < n:
        tid = (rng.choice(W.SPEAKER_FIRST_NAMES) + rng.choice(W.SPEAKER_LAST_NAMES) + "_"
               + str(rng.randint(2006, 2014)) + rng.choice(("", "", "X", "P", "G", "S", "U")))
        if tid not in ids:
            ids.append(tid)
    return ids


def _segments(gen: SentenceGenerator, rng: random.Random, seconds: float, rate: int) -> List[Tuple[str, ...]]:
    segs, total = [], 0.0
    while total < seconds or len(segs) < 2:  # a talk has several segments
        toks = gen.sentence()
        if rng.random() < 0.3:  # some segments hold two sentences, as in TED-LIUM's long segments
            toks = toks + gen.sentence()
        segs.append(tuple(toks))
        total += _estimated_seconds(toks, rate) + 0.6
    return segs


def make_plan(size: CorpusSize = MINI_CORPUS, seed: int = 0) -> CorpusPlan:
    """Decide every talk, speaker and sentence of the embedded corpus of ``size`` for ``seed``."""
    CorpusSize.require(size, "make_plan: size", " (e.g. MINI_CORPUS)")
    inv = build_inventory(load_cmu_dict())
    rng = random.Random(f"embedded-tedlium/{seed}/plan")

    # Rare words of dev/test: drawn from the tails of the noun and adjective lists.
    tail = [n.singular for n in inv.nouns[len(inv.nouns) // 2:]] + inv.adjectives[len(inv.adjectives) // 2:]
    reserved = frozenset(rng.sample(tail, size.reserved_words))
    reserved_forms = set(reserved) | {n.plural for n in inv.nouns if n.singular in reserved and n.plural}

    # Talk layout: how many talks per split, each of random length within the size's range.
    lengths: Dict[str, List[float]] = {}
    for split, target in zip(SPLITS, (size.train_seconds, size.dev_seconds, size.test_seconds)):
        lens: List[float] = []
        while sum(lens) < target:
            lens.append(min(rng.uniform(*size.talk_seconds), max(target - sum(lens), size.talk_seconds[0] / 2)))
        lengths[split] = lens
    speakers = _speakers(rng, {s: len(v) for s, v in lengths.items()})
    ids = _talk_ids(rng, sum(len(v) for v in lengths.values()))

    talks: List[Talk] = []
    for split in SPLITS:
        text_rng = random.Random(f"embedded-tedlium/{seed}/{split}/text")
        if split == "train":
            gen = SentenceGenerator(inv, text_rng, exclude=frozenset(reserved_forms), invented_rate=size.invented_rate)
        else:
            gen = SentenceGenerator(inv, text_rng, boost={w: 25.0 for w in reserved})
        for i, (seconds, spk) in enumerate(zip(lengths[split], speakers[split])):
            segs = _segments(gen, text_rng, seconds, spk.rate)
            talks.append(Talk(talk_id=ids[len(talks)], split=split, speaker=spk, segments=tuple(segs),
                              f0_labels=(split == "dev" and i % 2 == 0), seed=rng.randrange(2**31)))

    # Train words to leave out of the dic: rare content words of train that the CMU dictionary has.
    counts = collections.Counter(w for t in talks if t.split == "train" for seg in t.segments for w in seg)
    content = {n.singular for n in inv.nouns} | {n.plural for n in inv.nouns if n.plural} | set(inv.adjectives)
    candidates = sorted(w for w, c in counts.items() if c <= 3 and w in content and w not in W.INVENTED_NAMES)
    oov = frozenset(rng.sample(candidates, min(size.train_oov_words, len(candidates))))
    return CorpusPlan(size=size, seed=seed, talks=tuple(talks), reserved_words=frozenset(reserved_forms),
                      train_oov_words=oov, inventory=inv)
