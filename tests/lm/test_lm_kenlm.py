"""4-gram KenLM on the ci corpus: lmplz, build_binary, kenlm and flashlight-text loading, perplexity."""
import gzip
import math

import pytest

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.lm.kenlm_tools import KenLMError, arpa_ngram_counts, build_binary, estimate_arpa, perplexity
from memristor_asr.lm.text import lm_source_files, lm_words, write_lm_text, write_manifest_text


@pytest.fixture(scope="module")
def ci_lm(ci_corpus, ci_prepared, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    counts = write_lm_text(out / "lm_text.txt.gz", lm_source_files(ci_corpus), [ci_prepared["train"]["segments"]])
    result = estimate_arpa([out / "lm_text.txt.gz"], str(out / "lm.arpa.gz"), order=4, memory="200M", tmp_dir=str(out),
                           log_path=str(out / "lmplz.log"))
    build_binary(str(out / "lm.arpa.gz"), str(out / "lm.bin"))
    write_manifest_text(out / "dev.txt.gz", ci_prepared["dev"]["segments"])
    return {"dir": out, "counts": counts, "result": result}


def test_lm_text_holds_lm_folder_and_train_transcripts(ci_lm, ci_prepared):
    lines = gzip.open(ci_lm["dir"] / "lm_text.txt.gz", "rt").read().splitlines()
    train = [s.text for s in read_manifest(ci_prepared["train"]["segments"])]
    assert lines[-len(train):] == train
    assert len(lines) == sum(ci_lm["counts"].values()) > len(train)


def test_arpa_is_a_4gram(ci_lm):
    counts = arpa_ngram_counts(ci_lm["dir"] / "lm.arpa.gz")
    assert sorted(counts) == [1, 2, 3, 4] and all(c > 0 for c in counts.values())
    assert ci_lm["result"]["ngrams"] == counts
    assert "discount_fallback" in ci_lm["result"]
    assert "lmplz -o 4 -S 200M" in (ci_lm["dir"] / "lmplz.log").read_text()


def test_arpa_and_binary_load_in_kenlm_and_flashlight(ci_lm):
    import kenlm
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    sentence = gzip.open(ci_lm["dir"] / "dev.txt.gz", "rt").readline().split()
    words = Dictionary()
    for w in ["<unk>"] + sentence:
        words.add_entry(w)
    for path in ("lm.arpa.gz", "lm.bin"):
        ref = [s for s, _, _ in kenlm.Model(str(ci_lm["dir"] / path)).full_scores(" ".join(sentence))]
        lm = KenLM(str(ci_lm["dir"] / path), words)
        state, got = lm.start(False), []
        for w in sentence:
            state, score = lm.score(state, words.get_index(w))
            got.append(score)
        got.append(lm.finish(state)[1])
        assert got == pytest.approx(ref, abs=1e-5)
        assert all(math.isfinite(s) and s < 0 for s in got)


def test_dev_perplexity_is_finite_and_the_binary_agrees(ci_lm):
    arpa = perplexity(str(ci_lm["dir"] / "lm.arpa.gz"), [ci_lm["dir"] / "dev.txt.gz"])
    binary = perplexity(str(ci_lm["dir"] / "lm.bin"), [ci_lm["dir"] / "dev.txt.gz"])
    assert arpa == pytest.approx(binary)
    assert 1.0 < arpa["perplexity"] < 2000 and math.isfinite(arpa["perplexity_with_oov"])
    assert arpa["order"] == 4 and arpa["sentences"] > 0 and arpa["words"] > arpa["sentences"]
    # the text the LM was trained on is much more likely than shuffled words of it
    shuffled = ci_lm["dir"] / "shuffled.txt"
    dev = gzip.open(ci_lm["dir"] / "dev.txt.gz", "rt").read().split("\n")
    shuffled.write_text("\n".join(" ".join(reversed(line.split())) for line in dev if line) + "\n")
    assert perplexity(str(ci_lm["dir"] / "lm.bin"), [shuffled])["perplexity"] > arpa["perplexity"]


def test_discount_fallback_only_when_needed(tmp_path):
    # a tiny artificial corpus on which modified Kneser-Ney discounts cannot be estimated
    text = tmp_path / "tiny.txt"
    text.write_text("".join(f"the cat sees the {w} today\n" for w in ("dog", "house", "dog", "tree") * 3))
    with pytest.raises(KenLMError, match=r"lmplz failed .*\n(.|\n)*discount_fallback"):
        estimate_arpa([text], str(tmp_path / "never.arpa"), memory="64M", tmp_dir=str(tmp_path), discount_fallback="never")
    auto = estimate_arpa([text], str(tmp_path / "auto.arpa"), memory="64M", tmp_dir=str(tmp_path))
    assert auto["discount_fallback"] is True and auto["ngrams"][1] == 10     # 7 words + <s> </s> <unk>
    with pytest.raises(ValueError, match="discount_fallback must be"):
        estimate_arpa([text], str(tmp_path / "x.arpa"), discount_fallback="sometimes")


def test_lm_text_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'LM'}: no gzipped LM text"):
        lm_source_files(tmp_path)
    bad = tmp_path / "bad.en.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"fine line\nit's caf\xe9\n")
    with pytest.raises(ValueError, match=rf"{bad}:2: not valid UTF-8"):
        write_lm_text(tmp_path / "out.gz", [bad])
    good = tmp_path / "good.txt"
    good.write_text("imiss it's\n\n  \nok\n")
    assert write_lm_text(tmp_path / "out.gz", [good]) == {str(good): 2}
    assert gzip.open(tmp_path / "out.gz", "rt").read() == "i miss it 's\nok\n"


def test_lm_text_drops_sentence_markers_unk_and_noise_so_lmplz_accepts_it(tmp_path):
    # the real release's LM/*.en.gz end every line with " </s>"; STM text has <unk> and noise tokens
    src = tmp_path / "LM" / "talks.en.gz"
    src.parent.mkdir()
    with gzip.open(src, "wt") as f:
        f.write("<s> we went home </s>\nthe cat <unk> sat </s>\n</s>\n{NOISE} <sil> [laughter]\n"
                + "".join(f"a dog and a {w} went home </s>\n" for w in ("cat", "tree", "house", "dog") * 5))
    removed = {}
    counts = write_lm_text(tmp_path / "lm.txt.gz", lm_source_files(tmp_path), removed=removed)
    lines = gzip.open(tmp_path / "lm.txt.gz", "rt").read().splitlines()
    assert lines[:2] == ["we went home", "the cat sat"] and len(lines) == 22 == counts[str(src)]
    assert removed == {"<s>": 1, "</s>": 23, "<unk>": 1, "{NOISE}": 1, "<sil>": 1, "[laughter]": 1}
    assert lm_words("it's {BREATH} fine") == ["it's", "fine"]
    result = estimate_arpa([tmp_path / "lm.txt.gz"], str(tmp_path / "lm.arpa"), order=3, memory="64M",
                           tmp_dir=str(tmp_path), log_path=str(tmp_path / "lmplz.log"))
    assert result["ngrams"][1] == 14  # 11 words + <s> </s> <unk>


def test_interpolation_tunes_weights_on_dev_and_lowers_its_perplexity(ci_lm, ci_corpus, ci_prepared):
    from memristor_asr.lm.kenlm_tools import estimate_intermediate, interpolate_lms

    out = ci_lm["dir"]
    sources = lm_source_files(ci_corpus)
    assert len(sources) >= 2  # the release (and the embedded corpus) have several LM sources
    models, ppl = [], {}
    for i, src in enumerate(sources):
        write_lm_text(out / f"src{i}.txt.gz", [src])
        estimate_intermediate([out / f"src{i}.txt.gz"], str(out / f"src{i}"), order=4, memory="200M",
                              tmp_dir=str(out))
        estimate_arpa([out / f"src{i}.txt.gz"], str(out / f"src{i}.arpa"), order=4, memory="200M", tmp_dir=str(out))
        ppl[i] = perplexity(str(out / f"src{i}.arpa"), [out / "dev.txt.gz"])["perplexity"]
        models.append(str(out / f"src{i}"))
    with gzip.open(out / "dev.txt.gz", "rt") as f, open(out / "dev.txt", "w") as g:
        g.write(f.read())
    weights = interpolate_lms(models, str(out / "dev.txt"), str(out / "mixed.arpa.gz"), memory_mb=200,
                              tmp_prefix=str(out / "interp"), log_path=str(out / "interpolate.log"))
    assert len(weights) == len(models) and all(math.isfinite(w) for w in weights)
    assert sorted(arpa_ngram_counts(out / "mixed.arpa.gz")) == [1, 2, 3, 4]
    # the tuned weights beat other weightings on dev (perplexity over the union vocabulary, OOVs at <unk>,
    # which is what interpolate minimises); single-source perplexities are not comparable (other vocabularies)
    def dev_ppl(path):
        return perplexity(path, [out / "dev.txt.gz"])["perplexity_with_oov"]

    tuned = dev_ppl(str(out / "mixed.arpa.gz"))
    for other in ([1.0] * len(models), [1.5] + [0.5] * (len(models) - 1), [0.5] * (len(models) - 1) + [1.5]):
        interpolate_lms(models, None, str(out / "other.arpa"), memory_mb=200, tmp_prefix=str(out / "interp"),
                        weights=other)
        assert tuned <= dev_ppl(str(out / "other.arpa")) * 1.001, (tuned, other, weights)
    assert all(math.isfinite(p) for p in ppl.values())


def test_interpolation_failure_names_the_command(tmp_path):
    from memristor_asr.lm.kenlm_tools import interpolate_lms

    (tmp_path / "tune.txt").write_text("a b\n")
    with pytest.raises(KenLMError, match="interpolate failed"):
        interpolate_lms([str(tmp_path / "missing")], str(tmp_path / "tune.txt"), str(tmp_path / "x.arpa"),
                        tmp_prefix=str(tmp_path / "t"))


def test_a_corrupt_binary_is_named_before_it_is_used(ci_lm, tmp_path):
    """KenLM binaries carry no checksum: build_binary writes a SHA-256 beside the file, and perplexity
    (like every recognition) refuses a binary that no longer matches it, naming the file."""
    import shutil

    from memristor_asr.lm.kenlm_tools import verify_binary

    good = ci_lm["dir"] / "lm.bin"
    assert (ci_lm["dir"] / "lm.bin.sha256").read_text().strip()
    verify_binary(str(good))
    bad = tmp_path / "lm.bin"
    shutil.copy(good, bad)
    shutil.copy(ci_lm["dir"] / "lm.bin.sha256", tmp_path / "lm.bin.sha256")
    data = bytearray(bad.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(b ^ 0xFF for b in data[middle:middle + 4096])
    bad.write_bytes(bytes(data))
    with pytest.raises(KenLMError, match=f"{bad}: the language model is corrupt"):
        perplexity(str(bad), ["a b c"])
    (tmp_path / "lm.bin.sha256").unlink()
    verify_binary(str(bad))  # a binary built elsewhere has no checksum to compare: not checked
