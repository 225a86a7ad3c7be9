"""Bootstrap intervals of WERs: known counts give known intervals; bad input is named."""
import math

import pytest

from memristor_asr.report.bootstrap import MIN_SEGMENTS, ScoredSystem, bootstrap_wer, estimate
from memristor_asr.scoring.sclite import SegmentScore


def _system(counts, name="sys"):
    return ScoredSystem(name, [SegmentScore(f"rec@{i}", w, e) for i, (w, e) in enumerate(counts)])


def test_interval_of_identical_segments_is_the_point():
    est = bootstrap_wer([_system([(10, 2)] * 20)])
    assert est.wer == pytest.approx(20.0) and est.lo == pytest.approx(20.0) and est.hi == pytest.approx(20.0)


def test_binomial_segments_give_the_normal_interval():
    # 400 one-word segments, 100 errors: the WER's sampling std is sqrt(p(1-p)/n) = 2.165 points
    counts = [(1, 1)] * 100 + [(1, 0)] * 300
    est = bootstrap_wer([_system(counts)], num_resamples=4000)
    half = 1.96 * 100 * math.sqrt(0.25 * 0.75 / 400)
    assert est.wer == pytest.approx(25.0)
    assert est.lo == pytest.approx(25.0 - half, abs=0.35) and est.hi == pytest.approx(25.0 + half, abs=0.35)
    assert est.half_width == pytest.approx(half, rel=0.1)


def test_joint_resampling_of_systems_averages_them():
    a = _system([(1, 1)] * 10 + [(1, 0)] * 30, "a")
    b = _system([(1, 0)] * 10 + [(1, 1)] * 10 + [(1, 0)] * 20, "b")
    est = bootstrap_wer([a, b])
    assert est.wer == pytest.approx(25.0)
    assert est.lo < 25.0 < est.hi
    # the same draw for both systems: identical systems give the single system's interval
    single = bootstrap_wer([a])
    both = bootstrap_wer([a, a])
    assert (both.lo, both.hi) == (single.lo, single.hi)


def test_seeded_and_deterministic():
    sys_ = _system([(5, i % 3) for i in range(50)])
    assert bootstrap_wer([sys_], seed=1) == bootstrap_wer([sys_], seed=1)


def test_seeds_report_their_spread():
    s1 = _system([(10, 1)] * 20, "seed1")
    s2 = _system([(10, 3)] * 20, "seed2")
    est = estimate([[s1], [s2]])
    assert est.wer == pytest.approx(20.0) and est.num_seeds == 2
    assert est.seed_std == pytest.approx(math.sqrt(2) * 10.0)  # sample std of 10 and 30


def test_too_few_segments_and_mismatched_systems_are_errors():
    with pytest.raises(ValueError, match=f"too few.*at least {MIN_SEGMENTS}"):
        bootstrap_wer([_system([(5, 1)] * (MIN_SEGMENTS - 1), "small.tsv")])
    a = _system([(5, 1)] * 12, "a.tsv")
    b = ScoredSystem("b.tsv", [SegmentScore(f"other@{i}", 5, 1) for i in range(12)])
    with pytest.raises(ValueError, match="b.tsv and a.tsv were scored on different segments"):
        bootstrap_wer([a, b])


def test_settings_that_cannot_give_an_interval_are_named():
    from memristor_asr.corpus.embedded.plan import CorpusSize

    with pytest.raises(ValueError, match="dev_seconds=20 is too small"):
        CorpusSize(name="x", train_seconds=80, dev_seconds=20, test_seconds=60, talk_seconds=(12, 25), lm_sentences=10,
                train_oov_words=1, invented_rate=0.1, reserved_words=1)
    with pytest.raises(ValueError, match="test_seconds=25 is too small"):
        CorpusSize(name="x", train_seconds=80, dev_seconds=60, test_seconds=25, talk_seconds=(12, 25), lm_sentences=10,
                train_oov_words=1, invented_rate=0.1, reserved_words=1)
    from users.memristor.setups import MINI
    import dataclasses

    with pytest.raises(ValueError, match="StudySetup.num_seeds must be a positive"):
        dataclasses.replace(MINI, num_seeds=0)
    with pytest.raises(ValueError, match="dev tunes the scales"):
        dataclasses.replace(MINI, eval_splits=("test", "dev"))
