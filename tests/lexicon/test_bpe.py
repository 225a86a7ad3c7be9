"""Subword labels: the sentencepiece job, the BPE lexicons and targets, and the label-unit setting."""
import dataclasses

import pytest

from memristor_asr.lexicon.bpe import (BpeConfig, SentencePieceSpeller, UnencodableWordError, WORD_START,
                                       pieces_to_words, train_sentencepiece)
from memristor_asr.lexicon.lexicon import BLANK, read_labels, read_lexicon, words_to_label_ids

TINY_TEXT = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the mat and the log",
             "cats and dogs sat"] * 3


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("spm")
    (d / "text.txt").write_text("".join(line + "\n" for line in TINY_TEXT))
    train_sentencepiece(str(d / "text.txt"), str(d / "spm.model"), BpeConfig(vocab_size=24))
    return d


def test_the_vocabulary_has_the_requested_size_and_words_round_trip(tiny_model):
    speller = SentencePieceSpeller(str(tiny_model / "spm.model"))
    assert len(speller.pieces) == 24 - 1  # every piece but <unk>
    assert "<unk>" not in speller.pieces and BLANK not in speller.pieces
    for line in TINY_TEXT[:5]:
        pieces = [p for w in line.split() for p in speller.spell(w)]
        assert pieces_to_words(pieces) == line.split()
    for word in ("cat", "dogs", "mat"):
        spelled = speller.spell(word)
        assert spelled[0].startswith(WORD_START) and not any(p.startswith(WORD_START) for p in spelled[1:])


def test_training_is_deterministic(tiny_model, tmp_path):
    import sentencepiece as spm

    train_sentencepiece(str(tiny_model / "text.txt"), str(tmp_path / "again.model"), BpeConfig(vocab_size=24))
    # the files differ only in the paths they record (trainer_spec); the pieces and scores are the same

    def pieces(path):
        sp = spm.SentencePieceProcessor(model_file=str(path))
        return [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]

    assert pieces(tmp_path / "again.model") == pieces(tiny_model / "spm.model")


def test_a_vocabulary_larger_than_the_text_supports_names_the_setting(tiny_model, tmp_path):
    with pytest.raises(ValueError, match=r"BpeConfig.vocab_size=500 is larger than .*text.txt supports"):
        train_sentencepiece(str(tiny_model / "text.txt"), str(tmp_path / "big.model"), BpeConfig(vocab_size=500))


def test_a_word_with_unknown_characters_is_an_error_naming_it(tiny_model):
    speller = SentencePieceSpeller(str(tiny_model / "spm.model"))
    with pytest.raises(UnencodableWordError, match="word 'zebra'"):
        speller.spell("zebra")  # z, e, b, r are not in the text


def test_bad_configs_name_the_field():
    with pytest.raises(ValueError, match="BpeConfig.vocab_size"):
        BpeConfig(vocab_size=1)
    with pytest.raises(ValueError, match="BpeConfig.model_type"):
        BpeConfig(model_type="wordpiece")


def test_the_bpe_lexicons_spell_the_phoneme_lexicons_words(ci_data_jobs):
    p = ci_data_jobs["paths"]
    labels = read_labels(p["bpe_labels"])
    vocab = open(p["spm_vocab"], encoding="utf-8").read().split()
    assert len(labels) == 64 and labels[-1] == BLANK and labels[:-1] == vocab  # BpeConfig(vocab_size=64)
    speller = SentencePieceSpeller(p["spm_model"])
    for name in ("training_lexicon", "decoding_lexicon"):
        phon = read_lexicon(p[name])
        bpe = read_lexicon(p[f"bpe_{name}"])
        assert list(bpe) == list(phon) if name == "decoding_lexicon" else sorted(bpe) == sorted(phon)
        for word in list(bpe)[:200]:
            assert bpe[word] == [speller.spell(word)] and "".join(bpe[word][0]) == WORD_START + word
    # the piece LM's text: the LM text in pieces, nothing dropped (the ci LM text has the train characters)
    assert ci_data_jobs["values"]["piece_text_dropped_words"] == 0


def test_bpe_targets_of_a_sentence_are_its_sentencepiece_encoding(ci_data_jobs):
    """Spelling word by word (the lexicon) gives the ids sentencepiece gives the whole sentence."""
    import sentencepiece as spm

    from memristor_asr.corpus.manifest import read_manifest

    p = ci_data_jobs["paths"]
    labels = read_labels(p["bpe_labels"])
    index = {lab: i for i, lab in enumerate(labels[:-1])}
    lexicon = read_lexicon(p["bpe_training_lexicon"])
    sp = spm.SentencePieceProcessor(model_file=p["spm_model"])
    checked = 0
    for seg in list(read_manifest(p["train_segments"]))[:20]:
        targets = words_to_label_ids(seg.words, lexicon, index)
        # label index = piece id - 1: <unk> (id 0) is not an output
        assert targets == [i - 1 for i in sp.encode(" ".join(seg.words))]
        checked += 1
    assert checked == 20
    assert words_to_label_ids(["the"], lexicon, index) == [index[WORD_START + "the"]]


def test_label_unit_setting_is_checked():
    from users.memristor.setups import CI

    assert CI.num_labels is None  # phonemes: the model config's 79
    bpe = dataclasses.replace(CI, label_unit="bpe")
    assert bpe.num_labels == CI.bpe.vocab_size
    with pytest.raises(ValueError, match=r"StudySetup.label_unit: unknown label unit 'chars'; known: \['phoneme', 'bpe'\]"):
        dataclasses.replace(CI, label_unit="chars")
    with pytest.raises(TypeError, match="StudySetup.bpe must be a BpeConfig"):
        dataclasses.replace(CI, bpe={"vocab_size": 64})
