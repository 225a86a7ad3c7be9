"""STM parsing with the i6 TED-LIUM rules, on crafted lines."""
import pytest

from memristor_asr.corpus.stm import (StmError, StmSegment, normalize_text, pad_segments, parse_stm_line, read_stm,
                                      write_stm)


def test_ignored_comment_and_empty_lines_are_skipped():
    assert parse_stm_line("") is None
    assert parse_stm_line(";; LABEL \"o\" \"Overall\"") is None
    assert parse_stm_line("Talk_2010 1 inter_segment_gap 3.10 4.20 <o,,unknown> ignore_time_segment_in_scoring") is None
    # the i6 rule drops any line containing the marker, wherever it is
    assert parse_stm_line("Talk_2010 1 Talk_2010 3.10 4.20 <o,f0,male> ignore_time_segment_in_scoring") is None


def test_fields_and_label_mapping():
    seg = parse_stm_line("AlGore_2009 1 AlGore_2009 17.82 28.81 <F0_M> last year i showed these two slides", "x.stm:3")
    assert (seg.recording, seg.channel, seg.speaker) == ("AlGore_2009", "1", "AlGore_2009")
    assert (seg.start, seg.end) == (17.82, 28.81)
    assert seg.label == "<o,f0,male>" and seg.gender == "male"
    assert seg.text == "last year i showed these two slides"
    assert seg.where == "x.stm:3"
    assert parse_stm_line("T 1 T 0 1 <F0_F> hello").label == "<o,f0,female>"
    assert parse_stm_line("T 1 T 0 1 <o,f0,female> hello").gender == "female"
    unlabelled = parse_stm_line("T 1 T 0 1 hello there")
    assert unlabelled.label is None and unlabelled.gender is None and unlabelled.text == "hello there"


@pytest.mark.parametrize("raw, expected", [
    ("imiss my friends", "i miss my friends"),
    ("they gave uptheir homes", "they gave up their homes"),
    ("swimiss uptheirs", "swimiss uptheirs"),                 # only whole words are fixed
    ("it's what we've done and don't", "it 's what we 've done and don 't"),
    ("it 's already split", "it 's already split"),
    ("rock'n'roll", "rock 'n'roll"),                          # i6: left-to-right matches without overlap
    ("a'b'c'd", "a 'b'c 'd"),
    ("o'égal l'été", "o'égal l'été"),                         # i6: only before ASCII letters
    ("the '90s and 'cause", "the '90s and 'cause"),           # no word character before, or a digit after
    ("  many   spaces\there ", "many spaces here"),
])
def test_text_normalisation(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("line, message", [
    ("Talk 1 Talk 12.0", "got 4 field(s)"),
    ("Talk 1 Talk 12.0 13.0", "got 5 field(s)"),  # label and text lost: an error, not an empty segment
    ("Talk 1 Talk 12.0 11.5 <o,f0,male> text", "end time 11.5 is before start time 12.0"),
    ("Talk 1 Talk abc 11.5 <o,f0,male> text", "start time 'abc' is not a number"),
    ("Talk 1 Talk 1.0 nan <o,f0,male> text", "end time 'nan' must be a finite number"),
    ("Talk 1 Talk -1.0 2.0 <o,f0,male> text", "must be a finite number >= 0"),
    ("Talk 1 Talk 1.0 2.0 <o,f0,male text", "unterminated label"),
])
def test_malformed_lines_name_file_and_line(line, message):
    with pytest.raises(StmError) as e:
        parse_stm_line(line, "dev/stm/Talk.stm:7")
    assert str(e.value).startswith("dev/stm/Talk.stm:7: ")
    assert message in str(e.value)


def test_read_stm_counts_skips_and_reports_non_utf8(tmp_path):
    stm = tmp_path / "Talk.stm"
    stm.write_bytes(b"Talk 1 Talk 0.50 2.00 <o,f0,male> it's fine\n"
                    b"Talk 1 inter_segment_gap 2.00 3.00 <o,,unknown> ignore_time_segment_in_scoring\n"
                    b";; a comment\n"
                    b"Talk 1 Talk 3.00 4.00 <o,f0,male>\n"
                    b"Talk 1 Talk 5.00 5.00 <o,f0,male> nothing\n"
                    b"Talk 1 Talk 6.00 7.00 <o,f0,male> imiss you\n")
    segs, skipped = read_stm(stm)
    assert [s.text for s in segs] == ["it 's fine", "i miss you"]
    assert skipped == {"ignored": [f"{stm}:2"], "empty_transcript": [f"{stm}:4"], "zero_length": [f"{stm}:5"]}
    segs, skipped = read_stm(stm, keep_zero_length=True)  # the train split: padding gives them audio (i6)
    assert [s.text for s in segs] == ["it 's fine", "nothing", "i miss you"] and not skipped["zero_length"]
    assert [(s.start, s.end) for s in pad_segments(segs)] == [(0.35, 2.1), (4.85, 5.1), (5.85, 7.1)]
    stm.write_bytes(b"Talk 1 Talk 0.50 2.00 <o,f0,male> fine\nTalk 1 Talk 3.0 4.0 <o,f0,male> caf\xe9\n")
    with pytest.raises(StmError, match=rf"^{stm}:2: not valid UTF-8 \(byte 0xe9 at column 36\)"):
        read_stm(stm)


def _seg(start, end):
    return StmSegment("T", "1", "T", start, end, "<o,f0,male>", "x")


def test_padding_full_when_the_gaps_are_wide():
    out = pad_segments([_seg(1.0, 2.0), _seg(3.0, 4.0)], duration=10.0)
    assert [(s.start, s.end) for s in out] == [(0.85, 2.1), (2.85, 4.1)]


def test_padding_follows_i6_start_first_in_file_order():
    # gap of 0.1 s: the next segment's start padding wins (i6), this one's end stays unpadded
    out = pad_segments([_seg(1.0, 2.0), _seg(2.1, 3.0), _seg(2.9, 3.5)], duration=3.55)
    assert [s.start for s in out] == [0.85, 2.0, 3.0]    # the third lay inside the second: starts at its end
    assert [s.end for s in out] == [2.0, 3.0, 3.55]      # end clipped at the audio length
    assert all(a.end <= b.start for a, b in zip(out, out[1:]))
    assert pad_segments([_seg(0.05, 1.0)])[0].start == 0.0
    # i6 keeps file order: neighbours are the previous and next lines, whatever their times (the
    # first gets no end padding, as the next line "starts" before its end; i6 would start the
    # second at 6.0, after its own end: it stops at its end)
    out = pad_segments([_seg(5.0, 6.0), _seg(1.0, 2.0)])
    assert [(s.start, s.end) for s in out] == [(4.85, 6.0), (2.0, 2.1)]
    # a segment inside its padded predecessor: start stops at its own end (i6 would invert it)
    assert pad_segments([_seg(1.0, 3.0), _seg(1.5, 2.5)])[1].start == 2.5


def test_write_stm_sorts_and_writes_header(tmp_path):
    segs = [StmSegment("B", "1", "B", 1.0, 2.0, "<o,f0,male>", "b"), StmSegment("A", "1", "A", 5.0, 6.5, None, "a 's"),
            StmSegment("A", "1", "A", 1.25, 2.0, "<o,f0,female>", "first")]
    write_stm(tmp_path / "ref.stm", segs)
    lines = (tmp_path / "ref.stm").read_text().splitlines()
    assert all(line.startswith(";;") for line in lines[:4])
    assert lines[4:] == ["A 1 A 1.25 2.00 <o,f0,female> first", "A 1 A 5.00 6.50 a 's", "B 1 B 1.00 2.00 <o,f0,male> b"]
    again = [parse_stm_line(line) for line in lines[4:]]
    assert [s.text for s in again] == ["first", "a 's", "b"]
