"""Text for the n-gram LM: the corpus's LM/ folder plus transcripts, and transcripts alone."""
from __future__ import annotations

import glob
import os
import re
from typing import Dict, List, Optional, Sequence

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.corpus.lines import deterministic_gzip, utf8_lines
from memristor_asr.corpus.stm import normalize_text

__all__ = ["lm_source_files", "lm_words", "write_lm_text", "write_manifest_text"]

# Tokens that are not words of the LM: the sentence markers (the release's LM/*.en.gz end every line
# with " </s>"; ESPnet and Kaldi strip it too), <unk> (lmplz adds its own unknown-word entry and
# refuses these three in its input), and the transcripts' non-lexical events: {NOISE}, {BREATH},
# {SMACK}, {COUGH}, <sil> and the like. They carry no word-sequence information, and the
# recogniser's lexicon has no pronunciation for them, so the 4-gram never predicts them.
_NON_WORD = re.compile(r"^(<[^<>\s]*>|\{[^{}\s]*\}|\[[^\[\]\s]*\])$")


def lm_source_files(corpus_root) -> list:
    """The gzipped text files of ``<corpus_root>/LM`` (sorted).

    :raises FileNotFoundError: if the folder is missing or holds no ``*.gz`` file
    """
    lm_dir = os.path.join(os.fspath(corpus_root), "LM")
    files = sorted(glob.glob(os.path.join(lm_dir, "*.gz")))
    if not files:
        raise FileNotFoundError(f"{lm_dir}: no gzipped LM text (*.gz) found")
    return files


def lm_words(text: str, removed: Optional[Dict[str, int]] = None) -> List[str]:
    """The words of ``text`` for the LM: sentence markers, ``<unk>`` and noise tokens (``{...}``,
    ``<...>``, ``[...]``) dropped; ``removed`` (if given) counts the dropped tokens by spelling."""
    words = []
    for w in text.split():
        if _NON_WORD.match(w):
            if removed is not None:
                removed[w] = removed.get(w, 0) + 1
        else:
            words.append(w)
    return words


def write_lm_text(out_path, sources: Sequence = (), manifests: Sequence = (), normalize: bool = True,
                  removed: Optional[Dict[str, int]] = None) -> Dict[str, int]:
    """Write the LM training text: ``sources`` (plain/gzipped text files) then the transcripts of
    ``manifests``, one sentence per line, gzipped, without the tokens that :func:`lm_words` drops.

    :param normalize: apply the STM text normalisation (typo fixes, apostrophe splitting) to the
        source text too, so that LM tokens match the transcripts
    :param removed: filled with the count of every dropped token
    :return: line counts per input (lines left empty are not written)
    """
    counts: Dict[str, int] = {}

    def lines(src, is_manifest: bool):
        if is_manifest:
            yield from (seg.text for seg in read_manifest(src))
        else:
            for _, line in utf8_lines(src):
                yield normalize_text(line) if normalize else line

    with deterministic_gzip(out_path) as out:
        for src, is_manifest in [(s, False) for s in sources] + [(m, True) for m in manifests]:
            n = 0
            for text in lines(src, is_manifest):
                words = lm_words(text, removed)
                if words:
                    out.write((" ".join(words) + "\n").encode("utf-8"))
                    n += 1
            counts[os.fspath(src)] = n
    return counts


def write_manifest_text(out_path, manifest) -> int:
    """The transcripts of a manifest, one per line (e.g. dev text for perplexity)."""
    return write_lm_text(out_path, manifests=[manifest])[os.fspath(manifest)]
