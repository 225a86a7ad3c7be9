"""Dictionary fixes, the 39-phoneme check, 79 labels, training/decoding lexicons and train OOVs."""
import pytest

from memristor_asr.corpus.manifest import Segment, read_manifest
from memristor_asr.corpus.embedded.plan import CI_CORPUS, make_plan
from memristor_asr.lexicon.cmu import load_cmu_dict, strip_stress
from memristor_asr.lexicon.dictionary import (DictionaryError, build_lexicons, cmu_pronouncer, oov_rate,
                                             read_tedlium_dic)
from memristor_asr.lexicon.lexicon import (BLANK, PHONEMES, add_eow, eow_labels, read_labels, read_lexicon,
                                           words_to_label_ids, write_labels, write_lexicon)

RAW_DIC = """'d D IY
'd(2) D
'll EH L EH L
<s> SIL
</s> SIL
<unk> SIL
a AH
a(2) EY
a(3) AH
ayışığı EY
cat K AE T
read R IY D
read(2) R EH D
"""


def _dic(tmp_path, text=RAW_DIC, mode="w"):
    p = tmp_path / "TEDLIUM.152k.dic"
    p.write_bytes(text) if mode == "wb" else p.write_text(text, encoding="utf-8")
    return p


def test_i6_fixes_variants_and_special_entries(tmp_path):
    path = _dic(tmp_path)
    dic = read_tedlium_dic(path)
    assert dic.prons == {"'d": [("D",)], "'ll": [("L",)], "a": [("AH",), ("EY",)], "cat": [("K", "AE", "T")],
                         "read": [("R", "IY", "D"), ("R", "EH", "D")]}
    assert dic.fixes == [f"{path}:1: 'd D IY -> D", f"{path}:3: 'll EH L EH L -> L", f"{path}:10: deleted entry ayışığı EY"]
    assert dic.special_dropped == [f"{path}:4: <s>", f"{path}:5: </s>", f"{path}:6: <unk>"]


@pytest.mark.parametrize("line, message", [
    ("dog D AO1 G", "unknown phoneme 'AO1' in the pronunciation of 'dog'"),
    ("dog D SIL G", "unknown phoneme 'SIL' in the pronunciation of 'dog'"),
    ("dog(2) D ax G", "unknown phoneme 'ax' in the pronunciation of 'dog(2)'"),
    ("dog", "word 'dog' has no pronunciation"),
])
def test_bad_entries_name_file_and_line(tmp_path, line, message):
    path = _dic(tmp_path, RAW_DIC + line + "\n")
    with pytest.raises(DictionaryError) as e:
        read_tedlium_dic(path)
    assert str(e.value).startswith(f"{path}:14: {message}")


def test_non_utf8_dictionary(tmp_path):
    path = _dic(tmp_path, b"cat K AE T\ncaf\xe9 K AE F EY\n", mode="wb")
    with pytest.raises(DictionaryError, match=rf"^{path}:2: not valid UTF-8"):
        read_tedlium_dic(path)


def test_label_inventory_is_79(tmp_path):
    labels = eow_labels()
    assert len(PHONEMES) == 39 and len(labels) == 79 and len(set(labels)) == 79
    assert labels[-1] == BLANK
    assert set(labels[:-1]) == set(PHONEMES) | {p + "#" for p in PHONEMES}
    write_labels(tmp_path / "labels.txt", labels)
    assert read_labels(tmp_path / "labels.txt") == labels
    # the CMU dictionary's own phone set is exactly the 39
    cmu = load_cmu_dict()
    assert {p for prons in cmu.values() for pron in prons for p in pron} == set(PHONEMES)
    assert strip_stress(["R", "EH2", "K", "AH0"]) == ("R", "EH", "K", "AH")
    assert add_eow(["K", "AE", "T"]) == ["K", "AE", "T#"]


def test_lexicons_and_oovs_on_crafted_segments(tmp_path):
    dic = read_tedlium_dic(_dic(tmp_path))
    segs = [Segment("t/1", "t.sph", 0, 1, "t", "male", "a cat read"),
            Segment("t/2", "t.sph", 1, 2, "t", "male", "a dog 'd read"),       # dog: from the CMU dictionary
            Segment("t/3", "t.sph", 2, 3, "t", "male", "a zorbleck cat"),      # zorbleck: nowhere -> dropped
            Segment("t/4", "t.sph", 3, 4, "t", "male", "zorbleck zorbleck")]
    built = build_lexicons(dic, segs, cmu_pronouncer(load_cmu_dict()))
    assert built.oov_pronunciations == {"dog": ("D", "AO", "G")}
    assert built.unknown_words == {"zorbleck": 3}
    assert built.dropped_segments == {"t/3": ["zorbleck"], "t/4": ["zorbleck"]}
    assert [s.id for s in built.kept_segments] == ["t/1", "t/2"]
    assert built.dropped_seconds == 2.0 and built.total_seconds == 4.0
    assert built.training["read"] == ["R", "IY", "D#"] and built.training["dog"] == ["D", "AO", "G#"]
    assert built.training["'ll"] == ["L#"]
    assert ("read", ["R", "EH", "D#"]) in built.decoding and ("read", ["R", "IY", "D#"]) in built.decoding
    assert "dog" not in {w for w, _ in built.decoding}                 # decoding: dic words only
    labels = {lab: i for i, lab in enumerate(eow_labels())}
    write_lexicon(tmp_path / "train.lex", sorted(built.training.items()))
    lex = read_lexicon(tmp_path / "train.lex")
    ids = words_to_label_ids("a dog".split(), lex, labels)
    assert [eow_labels()[i] for i in ids] == ["AH#", "D", "AO", "G#"]
    assert oov_rate(segs, {w for w, _ in built.decoding}) == {"words": 12, "oov_words": 4, "oov_rate": 4 / 12, "oov_types": 2}


def test_lexicons_on_the_embedded_corpus(ci_corpus, ci_prepared, tmp_path):
    plan = make_plan(CI_CORPUS, 0)
    dic = read_tedlium_dic(ci_corpus / "TEDLIUM.152k.dic")
    assert len(dic.fixes) == 3 and len(dic.special_dropped) == 3
    train = list(read_manifest(ci_prepared["train"]["segments"]))
    built = build_lexicons(dic, train, cmu_pronouncer(load_cmu_dict()))
    assert set(built.oov_pronunciations) == plan.train_oov_words                 # the deliberate OOVs, found in CMU
    invented = {w for s in train for w in s.words if w not in dic and w not in load_cmu_dict()}
    assert invented and set(built.unknown_words) == invented
    assert len(built.dropped_segments) == sum(1 for s in train if set(s.words) & invented) > 0
    assert len(built.kept_segments) + len(built.dropped_segments) == len(train)
    # every kept train segment maps to labels of the 79-inventory
    write_lexicon(tmp_path / "train.lex", sorted(built.training.items()))
    lex = read_lexicon(tmp_path / "train.lex")
    labels = {lab: i for i, lab in enumerate(eow_labels())}
    for seg in built.kept_segments:
        ids = words_to_label_ids(seg.words, lex, labels)
        assert len(ids) >= len(seg.words) and max(ids) < 78
    write_lexicon(tmp_path / "decoding.lex", built.decoding)
    lines = (tmp_path / "decoding.lex").read_text().splitlines()
    assert len(lines) > len(dic.prons)                                       # variants on separate lines
    assert all(line.split()[-1].endswith("#") and not line.split()[0].endswith(")") for line in lines)
