"""The embedded corpus: release-2 layout, real espeak-ng audio, dictionary, LM text, determinism."""
import collections
import gzip
import re

import numpy as np
import soundfile

from memristor_asr.corpus.audio import audio_info, parse_sphere_header
from memristor_asr.corpus.embedded import words as W
from memristor_asr.corpus.embedded.grammar import SentenceGenerator, spoken_text
from memristor_asr.corpus.embedded.plan import CI_CORPUS, MINI_CORPUS, make_plan
from memristor_asr.corpus.embedded.synth import DIC_NAME, synthesize_talk
from memristor_asr.lexicon.lexicon import PHONEMES

SPLITS = ("train", "dev", "test")
STM_LINE = re.compile(r"^(\S+) 1 (\S+) (\d+\.\d\d) (\d+\.\d\d) (<o,f0,(male|female)>|<F0_[MF]>) (.+)$")


def test_layout_is_release_2(ci_corpus):
    assert sorted(p.name for p in ci_corpus.iterdir()) == sorted(["LM", "README", DIC_NAME, *SPLITS])
    for split in SPLITS:
        assert sorted(p.name for p in (ci_corpus / split).iterdir()) == ["sph", "stm"]
        talks = sorted(p.stem for p in (ci_corpus / split / "stm").glob("*.stm"))
        assert talks and talks == sorted(p.stem for p in (ci_corpus / split / "sph").glob("*.sph"))
        assert len(list((ci_corpus / split / "stm").iterdir())) == len(talks)  # nothing else in there
    lm_files = sorted((ci_corpus / "LM").iterdir())
    assert lm_files and all(p.name.endswith(".en.gz") for p in lm_files)


def test_audio_is_16k_mono_pcm_sphere_with_speech(ci_corpus):
    for sph in ci_corpus.glob("*/sph/*.sph"):
        header = parse_sphere_header(sph)
        assert header["sample_rate"] == 16000 and header["channel_count"] == 1 and header["sample_n_bytes"] == 2
        assert header["sample_coding"] == "pcm"
        info = soundfile.info(str(sph))
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("NIST", "PCM_16", 16000, 1)
        assert info.frames == header["sample_count"]
        x, _ = soundfile.read(str(sph), dtype="float32")
        assert 0.2 < np.abs(x).max() < 0.9           # gain chosen per talk, no clipping
        assert np.std(x[:1000]) > 0                  # a noise floor, never digital silence


def test_stm_lines_are_realistic_and_inside_the_audio(ci_corpus):
    genders = collections.defaultdict(set)
    for stm in ci_corpus.glob("*/stm/*.stm"):
        duration = audio_info(stm.parent.parent / "sph" / f"{stm.stem}.sph").duration
        last_end = 0.0
        for line in stm.read_text().splitlines():
            m = STM_LINE.match(line)
            assert m, line
            assert m.group(1) == stm.stem
            start, end = float(m.group(3)), float(m.group(4))
            assert last_end <= start < end <= duration
            last_end = end
            if m.group(7) == "ignore_time_segment_in_scoring":
                assert m.group(2) == "inter_segment_gap"
            else:
                assert m.group(2) == stm.stem
                genders[stm.parent.parent.name].add(m.group(5))
    assert all(len(g) >= 2 for g in genders.values())       # male and female speakers in every split


def test_plan_is_deterministic_speaker_disjoint_and_profiled():
    plan, again, other = make_plan(CI_CORPUS, 0), make_plan(CI_CORPUS, 0), make_plan(CI_CORPUS, 1)
    assert plan.talks == again.talks and plan.train_oov_words == again.train_oov_words
    assert plan.talks != other.talks
    voices = {s: {(t.speaker.voice, t.speaker.variant) for t in plan.split_talks(s)} for s in SPLITS}
    assert not (voices["train"] & voices["dev"] or voices["train"] & voices["test"] or voices["dev"] & voices["test"])
    assert len({t.talk_id for t in plan.talks}) == len(plan.talks)
    assert all(len(t.segments) >= 2 for t in plan.talks)
    assert MINI_CORPUS.train_seconds >= 30 * 60 and CI_CORPUS.train_seconds <= 15 * 60
    # the rare dev/test words never occur in train, but do occur in dev/test
    train_words = {w for seg in plan.sentences(["train"]) for w in seg}
    eval_words = {w for seg in plan.sentences(["dev", "test"]) for w in seg}
    assert not train_words & plan.reserved_words
    assert eval_words & plan.reserved_words
    assert plan.train_oov_words <= train_words


def test_grammar_inventory_and_zipf_repetition():
    plan = make_plan(CI_CORPUS, 0)
    inv = plan.inventory
    assert len(inv.words()) >= 1000
    gen = SentenceGenerator(inv, __import__("random").Random(5))
    counts = collections.Counter(w for _ in range(3000) for w in gen.sentence())
    assert len(counts) >= 1000                                  # a large vocabulary is actually used
    assert set(counts) <= set(inv.pronunciations)               # every emitted word has a pronunciation
    top = sum(c for _, c in counts.most_common(50))
    assert top / sum(counts.values()) > 0.4                     # ... with a Zipf-like head that repeats
    assert sum(1 for c in counts.values() if c == 1) > 100      # ... and a long tail of rare words
    assert spoken_text(["it", "'s", "the", "world", "'s", "end"]) == "it's the world's end"


def test_dictionary_format(ci_corpus):
    plan = make_plan(CI_CORPUS, 0)
    lines = (ci_corpus / DIC_NAME).read_text(encoding="utf-8").splitlines()
    words = [line.split()[0] for line in lines]
    assert words == sorted(words, key=lambda w: re.sub(r"\(\d+\)$", "", w))
    assert any(re.fullmatch(r"\S+\(2\)", w) for w in words)                 # variants as word(2)
    phones = {p for line in lines for p in line.split()[1:]}
    assert phones - set(PHONEMES) == {"SIL"}                                # no stress digits; SIL only for <s> etc.
    assert {"<s> SIL", "</s> SIL", "<unk> SIL", "ayışığı EY", "'d D IY", "'ll EH L EH L"} <= set(lines)
    base_words = {re.sub(r"\(\d+\)$", "", w) for w in words}
    assert not base_words & plan.train_oov_words                            # the deliberate train OOVs
    assert not base_words & set(W.INVENTED_NAMES)
    assert len(base_words) >= 1000


def test_lm_text_is_disjoint_from_dev_and_test(ci_corpus):
    plan = make_plan(CI_CORPUS, 0)
    lines = [line.rstrip("\n") for p in sorted((ci_corpus / "LM").glob("*.gz")) for line in gzip.open(p, "rt")]
    assert all(line.endswith(" </s>") for line in lines)  # as the release's LM files
    lm = [line[: -len(" </s>")] for line in lines]
    assert len(lm) == CI_CORPUS.lm_sentences
    held_out = {" ".join(s) for s in plan.sentences(["dev", "test"])}
    assert held_out and not held_out & set(lm)
    assert not set(W.INVENTED_NAMES) & {w for line in lm for w in line.split()}


def test_synthesis_is_deterministic(tmp_path):
    plan = make_plan(CI_CORPUS, 0)
    talk = min(plan.talks, key=lambda t: len(t.segments))
    for d in ("a", "b"):
        synthesize_talk(talk, str(tmp_path / d))
    for sub, ext in (("sph", "sph"), ("stm", "stm")):
        a = (tmp_path / "a" / sub / f"{talk.talk_id}.{ext}").read_bytes()
        assert a == (tmp_path / "b" / sub / f"{talk.talk_id}.{ext}").read_bytes()
