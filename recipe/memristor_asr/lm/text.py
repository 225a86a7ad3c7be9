"""Text for the n-gram LM: the corpus's LM/ folder plus transcripts, and transcripts alone."""
from __future__ import annotations

import glob
import gzip
import os
from typing import Dict, Sequence

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.corpus.stm import normalize_text
from memristor_asr.util import uopen

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


def _gz_writer(path):
    # fixed mtime and no file name in the gzip header: same text -> same bytes
    raw = open(path, "wb")
    return raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)


def write_lm_text(out_path, sources: Sequence = (), manifests: Sequence = (), normalize: bool = True) -> Dict[str, int]:
    """Write the LM training text: ``sources`` (plain/gzipped text files) then the transcripts of
    ``manifests``, one sentence per line, gzipped.

    :param normalize: apply the STM text normalisation (typo fixes, apostrophe splitting) to the
        source text too, so that LM tokens match the transcripts
    :return: line counts per input
    """
    counts: Dict[str, int] = {}
    raw, out = _gz_writer(out_path)
    with raw, out:
        for src in sources:
            n = 0
            with uopen(src, "rb") as f:
                for lineno, raw_line in enumerate(f, 1):
                    try:
                        line = raw_line.decode("utf-8")
                    except UnicodeDecodeError as e:
                        raise ValueError(f"{src}:{lineno}: not valid UTF-8 (byte 0x{raw_line[e.start]:02x} "
                                         f"at column {e.start + 1})") from None
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
