"""Text for the n-gram LM: the corpus's LM/ folder plus transcripts, and transcripts alone."""
from __future__ import annotations

import glob
import os
from typing import Dict, Sequence

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.corpus.lines import deterministic_gzip, utf8_lines
from memristor_asr.corpus.stm import normalize_text

__all__ = ["lm_source_files", "write_lm_text", "write_manifest_text"]


def lm_source_files(corpus_root) -> list:
    """The gzipped text files of ``<corpus_root>/LM`` (sorted).

    :raises FileNotFoundError: if the folder is missing or holds no ``*.gz`` file
    """
    lm_dir = os.path.join(os.fspath(corpus_root), "LM")
    files = sorted(glob.glob(os.path.join(lm_dir, "*.gz")))
    if not files:
        raise FileNotFoundError(f"{lm_dir}: no gzipped LM text (*.gz) found")
    return files


def write_lm_text(out_path, sources: Sequence = (), manifests: Sequence = (), normalize: bool = True) -> Dict[str, int]:
    """Write the LM training text: ``sources`` (plain/gzipped text files) then the transcripts of
    ``manifests``, one sentence per line, gzipped.

    :param normalize: apply the STM text normalisation (typo fixes, apostrophe splitting) to the
        source text too, so that LM tokens match the transcripts
    :return: line counts per input
    """
    counts: Dict[str, int] = {}
    with deterministic_gzip(out_path) as out:
        for src in sources:
            n = 0
            for _, line in utf8_lines(src):
                text = normalize_text(line) if normalize else " ".join(line.split())
                if text:
                    out.write((text + "\n").encode("utf-8"))
                    n += 1
            counts[os.fspath(src)] = n
        for man in manifests:
            n = 0
            for seg in read_manifest(man):
                if seg.text:
                    out.write((seg.text + "\n").encode("utf-8"))
                    n += 1
            counts[os.fspath(man)] = n
    return counts


def write_manifest_text(out_path, manifest) -> int:
    """The transcripts of a manifest, one per line (e.g. dev text for perplexity)."""
    return write_lm_text(out_path, manifests=[manifest])[os.fspath(manifest)]
