"""TED-LIUM preparation on the embedded ci corpus, and its errors on bad input."""
import json
import shutil

import numpy as np
import pytest
import soundfile

from memristor_asr.corpus.audio import AudioError
from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.corpus.stm import IGNORE_TOKEN, StmError, parse_stm_line
from memristor_asr.corpus.tedlium import DIC_NAME, check_layout, check_release_root, prepare_split


def _stm_lines(root, split):
    return [(p, line) for p in sorted((root / split / "stm").glob("*.stm")) for line in p.read_text().splitlines()]


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_prepare_split_on_embedded_corpus(ci_corpus, split):
    prepared = prepare_split(ci_corpus, split)
    lines = _stm_lines(ci_corpus, split)
    scored = [parse_stm_line(line) for _, line in lines if IGNORE_TOKEN not in line]
    assert len(prepared.segments) == len(scored) == len(prepared.references)
    assert prepared.skipped["ignored"] == [f"{p}:{i}" for p in sorted((ci_corpus / split / "stm").glob("*.stm"))
                                           for i, line in enumerate(p.read_text().splitlines(), 1) if IGNORE_TOKEN in line]
    by_talk = {}
    for seg in prepared.segments:
        talk, n = seg.id.rsplit("/", 1)
        by_talk.setdefault(talk, []).append(int(n))
        assert seg.recording == str(ci_corpus / split / "sph" / f"{talk}.sph")
        assert seg.gender in ("male", "female")            # <F0_M>/<F0_F> mapped too
        assert " imiss " not in f" {seg.text} " and " uptheir " not in f" {seg.text} "
        assert "'" not in seg.text.replace(" '", "")       # apostrophes split off
    assert all(ns == list(range(1, len(ns) + 1)) for ns in by_talk.values())
    ref = {(s.recording, round(s.start, 2)): s for s in prepared.references}
    for seg, orig in zip(prepared.segments, prepared.references):
        assert seg.text == orig.text
        if split == "train":                               # padded, and never into a neighbour
            assert orig.start - 0.15 - 1e-9 <= seg.start <= orig.start and orig.end <= seg.end <= orig.end + 0.1 + 1e-9
        else:
            assert (seg.start, seg.end) == (orig.start, orig.end)
    assert len(ref) == len(prepared.references)
    if split == "train":
        for a, b in zip(prepared.segments, prepared.segments[1:]):
            if a.recording == b.recording:
                assert a.end <= b.start + 1e-9
    report = prepared.report()
    assert report["segments"] == len(scored) and report["hours"] > 0 and report["words"] > 0
    json.dumps(report)


def test_manifest_round_trip(ci_prepared):
    segs = list(read_manifest(ci_prepared["dev"]["segments"]))
    assert segs and all(s.duration > 0 for s in segs)
    stm = [line for line in ci_prepared["dev"]["stm"].read_text().splitlines() if not line.startswith(";;")]
    assert len(stm) == len(segs)


@pytest.fixture
def small_root(ci_corpus, tmp_path):
    """A copy of the ci corpus's dev split (two talks) plus the dictionary, for corrupting."""
    root = tmp_path / "TEDLIUM_release2"
    shutil.copytree(ci_corpus / "dev", root / "dev")
    shutil.copy(ci_corpus / DIC_NAME, root / DIC_NAME)
    return root


def _first_talk(root):
    stm = sorted((root / "dev" / "stm").glob("*.stm"))[0]
    return stm, root / "dev" / "sph" / f"{stm.stem}.sph"


def test_missing_root_and_layout(tmp_path, small_root):
    with pytest.raises(FileNotFoundError, match=f"corpus root {tmp_path / 'nowhere'} does not exist"):
        prepare_split(tmp_path / "nowhere", "dev")
    with pytest.raises(FileNotFoundError, match=r"missing train/stm, train/sph"):
        check_layout(small_root, ["dev", "train"])
    (small_root / DIC_NAME).unlink()
    with pytest.raises(FileNotFoundError, match=f"missing {DIC_NAME}"):
        check_layout(small_root, [], files=[DIC_NAME])
    # preparing the STM and audio of a split does not need the dictionary
    assert prepare_split(small_root, "dev").segments


def test_release_root_check_accepts_the_release_layout(ci_corpus, small_root):
    check_release_root(ci_corpus)  # the embedded corpus has the release-2 layout, LM/*.gz included
    with pytest.raises(FileNotFoundError, match=rf"^TEDLIUM2_ROOT {small_root} is not a TEDLIUM_release2 directory: "
                                                r"missing train/stm, train/sph, test/stm, test/sph, LM/\*\.gz$"):
        check_release_root(small_root, name="TEDLIUM2_ROOT")


def test_truncated_sphere(small_root):
    stm, sph = _first_talk(small_root)
    data = sph.read_bytes()
    sph.write_bytes(data[:len(data) // 2])
    with pytest.raises(AudioError, match=rf"{sph}: truncated SPHERE file: the header announces \d+ samples"):
        prepare_split(small_root, "dev")


def test_corrupt_sphere(small_root):
    stm, sph = _first_talk(small_root)
    sph.write_bytes(b"NIST_1A\n   1024\nsample_rate -i 16000\n" + b"\x00" * 2000)
    with pytest.raises(AudioError, match=rf"{sph}: malformed NIST SPHERE header"):
        prepare_split(small_root, "dev")
    sph.write_bytes(b"RIFFgarbage" * 100)
    with pytest.raises(AudioError, match=rf"{sph}: cannot read audio"):
        prepare_split(small_root, "dev")


def test_missing_audio_names_the_stm_line(small_root):
    stm, sph = _first_talk(small_root)
    sph.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{stm}:1: audio {sph} for recording"):
        prepare_split(small_root, "dev")


def _append(stm, line):
    n = len(stm.read_text().splitlines())
    stm.write_text(stm.read_text() + line + "\n")
    return n + 1


def test_segment_past_end_of_audio(small_root):
    stm, sph = _first_talk(small_root)
    duration = soundfile.info(str(sph)).duration
    lineno = _append(stm, f"{stm.stem} 1 {stm.stem} {duration - 1:.2f} {duration + 3:.2f} <o,f0,male> too long")
    with pytest.raises(AudioError, match=rf"{stm}:{lineno}: segment .* lies past the end of {sph}"):
        prepare_split(small_root, "dev")


def test_rounding_overshoot_is_clipped_and_counted(small_root):
    stm, sph = _first_talk(small_root)
    duration = soundfile.info(str(sph)).duration
    lineno = _append(stm, f"{stm.stem} 1 {stm.stem} {duration - 0.5:.2f} {duration + 0.05:.2f} <o,f0,male> the end")
    prepared = prepare_split(small_root, "dev")
    assert prepared.clipped_to_audio_end == [f"{stm}:{lineno}"]
    assert max(s.end for s in prepared.segments if s.id.rsplit("/", 1)[0] == stm.stem) == pytest.approx(duration)
    assert prepared.report()["clipped_to_audio_end"]["count"] == 1


@pytest.mark.parametrize("line, message", [
    ("{t} 1 {t} 3.0", "got 4 field"),
    ("{t} 1 {t} 3.0 2.0 <o,f0,male> backwards", "end time 2.0 is before start time 3.0"),
])
def test_malformed_stm_line_names_file_and_line(small_root, line, message):
    stm, _ = _first_talk(small_root)
    lineno = _append(stm, line.format(t=stm.stem))
    with pytest.raises(StmError, match=rf"^{stm}:{lineno}: .*{message}"):
        prepare_split(small_root, "dev")


def test_non_utf8_and_empty_transcripts(small_root):
    stm, _ = _first_talk(small_root)
    lineno = _append(stm, f"{stm.stem} 1 {stm.stem} 0.00 0.20 <o,f0,male>")
    prepared = prepare_split(small_root, "dev")
    assert prepared.skipped["empty_transcript"] == [f"{stm}:{lineno}"]
    assert prepared.report()["skipped"]["empty_transcript"]["count"] == 1
    with open(stm, "ab") as f:
        f.write(b"talk 1 talk 0.0 0.5 <o,f0,male> na\xefve\n")
    with pytest.raises(StmError, match=rf"^{stm}:{lineno + 1}: not valid UTF-8"):
        prepare_split(small_root, "dev")


def test_wrong_sample_rate(small_root):
    stm, sph = _first_talk(small_root)
    soundfile.write(str(sph), np.zeros(8000 * 60, dtype=np.int16), 8000, format="NIST", subtype="PCM_16")
    with pytest.raises(AudioError, match=rf"{sph} \(used by {stm}:1\): expected 16 kHz mono audio, got 8000 Hz"):
        prepare_split(small_root, "dev")
