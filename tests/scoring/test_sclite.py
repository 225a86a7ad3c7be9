"""sclite scoring on a crafted reference: counts must match a hand alignment."""
import pytest

from memristor_asr.corpus.manifest import Segment
from memristor_asr.scoring.sclite import parse_raw_summary, run_sclite, write_ctm

STM = """;; crafted reference
TalkA 1 TalkA 0.00 2.00 <o,f0,male> the cat sat
TalkA 1 TalkA 3.00 5.00 <o,f0,male> on the mat
TalkB 1 TalkB 0.00 2.00 <o,f0,female> a dog
"""

SEGMENTS = [Segment("TalkA/1", "TalkA.sph", 0.0, 2.0, "TalkA", "male", "the cat sat"),
            Segment("TalkA/2", "TalkA.sph", 3.0, 5.0, "TalkA", "male", "on the mat"),
            Segment("TalkB/1", "TalkB.sph", 0.0, 2.0, "TalkB", "female", "a dog")]


def test_sclite_counts(tmp_path):
    (tmp_path / "ref.stm").write_text(STM)
    hyps = {"TalkA/1": ["the", "cat", "sat", "down"], "TalkA/2": ["on", "a", "mat"], "TalkB/1": []}
    assert write_ctm(tmp_path / "hyp.ctm", SEGMENTS, hyps) == 7
    res = run_sclite(tmp_path / "ref.stm", tmp_path / "hyp.ctm", tmp_path / "out")
    # 8 reference words: 1 insertion (down), 1 substitution (the->a), 2 deletions (a dog)
    assert (res.words, res.substitutions, res.deletions, res.insertions) == (8, 1, 2, 1)
    assert res.wer == pytest.approx(50.0)
    assert (tmp_path / "out" / "hyp.pra").exists()


def test_perfect_hypothesis_scores_zero(tmp_path):
    (tmp_path / "ref.stm").write_text(STM)
    write_ctm(tmp_path / "hyp.ctm", SEGMENTS, {s.id: s.text.split() for s in SEGMENTS})
    assert run_sclite(tmp_path / "ref.stm", tmp_path / "hyp.ctm", tmp_path / "out").wer == 0.0


def test_missing_hypotheses_are_an_error(tmp_path):
    with pytest.raises(KeyError, match="TalkB/1"):
        write_ctm(tmp_path / "hyp.ctm", SEGMENTS, {"TalkA/1": [], "TalkA/2": []})


def test_raw_summary_without_sum_line(tmp_path):
    (tmp_path / "x.raw").write_text("nothing here\n")
    with pytest.raises(ValueError, match="Sum"):
        parse_raw_summary(tmp_path / "x.raw")


def test_no_hypotheses_at_all(tmp_path):
    with pytest.raises(ValueError, match="hypotheses are empty"):
        write_ctm(tmp_path / "hyp.ctm", SEGMENTS, {})


def test_per_segment_counts_from_the_sgml_report_add_up(tmp_path):
    from memristor_asr.scoring.sclite import parse_sgml_segments, read_segment_scores, write_segment_scores

    (tmp_path / "ref.stm").write_text(STM)
    hyps = {"TalkA/1": ["the", "cat", "sat", "down"], "TalkA/2": ["on", "a", "mat"], "TalkB/1": []}
    write_ctm(tmp_path / "hyp.ctm", SEGMENTS, hyps)
    run_sclite(tmp_path / "ref.stm", tmp_path / "hyp.ctm", tmp_path / "out")
    segs = parse_sgml_segments(tmp_path / "out" / "hyp.sgml")
    by_id = {s.segment: (s.words, s.errors) for s in segs}
    assert by_id == {"talka@0.000-2.000": (3, 1), "talka@3.000-5.000": (3, 1), "talkb@0.000-2.000": (2, 2)}
    write_segment_scores(tmp_path / "s.tsv", segs)
    assert read_segment_scores(tmp_path / "s.tsv") == segs
    (tmp_path / "bad.tsv").write_text("segment\twords\terrors\nx\t3\n")
    with pytest.raises(ValueError, match="bad.tsv:2"):
        read_segment_scores(tmp_path / "bad.tsv")
