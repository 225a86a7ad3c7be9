"""KenLM: n-gram estimation with ``lmplz``, log-linear interpolation with ``interpolate``,
``build_binary``, and perplexity via the ``kenlm`` module.

``lmplz`` estimates interpolated modified Kneser-Ney. On small or artificial text it cannot
compute the discounts for some order (it aborts with a ``BadDiscountException`` and suggests
``--discount_fallback``); :func:`estimate_arpa` then reruns it with that flag and says so in
its result. Real corpora do not need it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from typing import Dict, Iterable, Optional, Sequence

from memristor_asr.corpus.lines import deterministic_gzip
from memristor_asr.util import file_sha256, find_tool, uopen

__all__ = ["KenLMError", "estimate_arpa", "estimate_intermediate", "interpolate_lms", "build_binary",
           "verify_binary", "arpa_ngram_counts", "perplexity", "iter_text_lines"]

_NEEDS_FALLBACK = re.compile(r"BadDiscountException|--discount_fallback")


class KenLMError(RuntimeError):
    """A KenLM tool failed; the message holds the command and the end of its error output."""


def iter_text_lines(paths: Sequence) -> Iterable[str]:
    """Non-empty lines of plain or gzipped text files, in order."""
    for p in paths:
        with uopen(p, "rt") as f:
            for line in f:
                if line.strip():
                    yield line if line.endswith("\n") else line + "\n"


def _run_lmplz(cmd: Sequence[str], texts: Sequence, log_path: Optional[str]) -> subprocess.CompletedProcess:
    """Run lmplz feeding the texts through stdin (so gzipped and multiple files just work)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr_chunks = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    try:
        for line in iter_text_lines(texts):
            proc.stdin.write(line.encode("utf-8"))
        proc.stdin.close()
    except BrokenPipeError:
        pass  # lmplz died early; its stderr says why
    proc.wait()
    reader.join()
    err = b"".join(stderr_chunks).decode("utf-8", "replace")
    if log_path:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write("$ " + " ".join(cmd) + "\n" + err + "\n")
    return subprocess.CompletedProcess(cmd, proc.returncode, "", err)


def _lmplz(cmd: Sequence[str], texts: Sequence, discount_fallback: str, log_path: Optional[str]) -> bool:
    """Run lmplz, retrying with ``--discount_fallback`` when ``discount_fallback`` is "auto" and it
    asks for it; returns whether the fallback was used.

    :raises KenLMError: naming the command and lmplz's message
    """
    if discount_fallback not in ("auto", "always", "never"):
        raise ValueError(f"discount_fallback must be auto, always or never, not {discount_fallback!r}")
    use_fallback = discount_fallback == "always"
    res = _run_lmplz(list(cmd) + (["--discount_fallback"] if use_fallback else []), texts, log_path)
    if res.returncode != 0 and discount_fallback == "auto" and _NEEDS_FALLBACK.search(res.stderr):
        use_fallback = True
        res = _run_lmplz(list(cmd) + ["--discount_fallback"], texts, log_path)
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-8:])
        raise KenLMError(f"lmplz failed (exit {res.returncode}): {' '.join(res.args)}\n{tail}")
    return use_fallback


def _lmplz_cmd(order: int, memory: str, tmp_dir: str, vocab_file: Optional[str],
               prune: Optional[Sequence[int]]) -> list:
    cmd = [find_tool("lmplz", "KENLM_BIN"), "-o", str(order), "-S", memory, "-T", tmp_dir]
    if vocab_file:
        cmd += ["--limit_vocab_file", os.fspath(vocab_file)]
    if prune:
        cmd += ["--prune"] + [str(int(p)) for p in prune]
    return cmd


def estimate_arpa(texts: Sequence, out_arpa: str, *, order: int = 4, memory: str = "1G", tmp_dir: str = ".",
                  discount_fallback: str = "auto", vocab_file: Optional[str] = None,
                  prune: Optional[Sequence[int]] = None, log_path: Optional[str] = None) -> Dict[str, object]:
    """Estimate an ARPA LM from ``texts`` (one sentence per line) with lmplz.

    :param out_arpa: output path; gzipped if it ends in ``.gz``
    :param memory: lmplz ``-S`` cap (e.g. "1G", "20%")
    :param discount_fallback: "auto" (retry with it only when lmplz asks), "always" or "never"
    :param vocab_file: restrict the vocabulary (lmplz ``--limit_vocab_file``)
    :param prune: count thresholds per order (lmplz ``--prune``)
    :return: ``{"discount_fallback": bool, "ngrams": {order: count}}``
    :raises KenLMError: naming the command and lmplz's message
    """
    plain = out_arpa[:-3] if out_arpa.endswith(".gz") else out_arpa
    tmp_arpa = plain + ".partial"
    cmd = _lmplz_cmd(order, memory, tmp_dir, vocab_file, prune) + ["--arpa", tmp_arpa]
    use_fallback = _lmplz(cmd, texts, discount_fallback, log_path)
    if out_arpa.endswith(".gz"):
        with open(tmp_arpa, "rb") as src, deterministic_gzip(out_arpa) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.remove(tmp_arpa)
    else:
        os.replace(tmp_arpa, out_arpa)
    return {"discount_fallback": use_fallback, "ngrams": arpa_ngram_counts(out_arpa)}


def estimate_intermediate(texts: Sequence, prefix: str, *, order: int = 4, memory: str = "1G", tmp_dir: str = ".",
                          discount_fallback: str = "auto", log_path: Optional[str] = None) -> bool:
    """Estimate a model in KenLM's intermediate format (files ``<prefix>.*``), the input of
    :func:`interpolate_lms`; returns whether ``--discount_fallback`` was needed."""
    cmd = _lmplz_cmd(order, memory, tmp_dir, None, None) + ["--intermediate", prefix]
    return _lmplz(cmd, texts, discount_fallback, log_path)


_FINAL_WEIGHTS = re.compile(r"Final weights:\s*([-+0-9.eE\s]+)")


def interpolate_lms(models: Sequence[str], tuning_text: Optional[str], out_arpa: str, *, memory_mb: int = 1024,
                    tmp_prefix: str = "./interpolate", log_path: Optional[str] = None,
                    weights: Optional[Sequence[float]] = None) -> list:
    """Log-linear interpolation of intermediate-format models with KenLM ``interpolate``, the
    weights tuned to minimise the perplexity of ``tuning_text`` (plain text, one sentence per line),
    or fixed to ``weights``.

    :param out_arpa: the interpolated ARPA; gzipped if it ends in ``.gz``
    :param memory_mb: sorting memory (``-S``); the sort blocks get 1/16 of it each, because with
        fewer than about four blocks (e.g. ``-S 200M`` at the default 64M blocks) interpolate 0.3.0
        deadlocks ("Last input should have been poison") instead of failing
    :return: the tuned weights, in the order of ``models``
    :raises KenLMError: naming the command and the tool's message
    """
    plain = out_arpa[:-3] if out_arpa.endswith(".gz") else out_arpa
    if (tuning_text is None) == (weights is None):
        raise ValueError("interpolate_lms needs exactly one of tuning_text and weights")
    memory_mb = max(64, int(memory_mb))
    how = ["-t", os.fspath(tuning_text)] if weights is None else ["-w", *(repr(float(w)) for w in weights)]
    cmd = [find_tool("interpolate", "KENLM_BIN"), "-m", *models, *how,
           "-S", f"{memory_mb}M", "--sort_block", f"{max(1, memory_mb // 16)}M", "-T", tmp_prefix]
    with open(plain + ".partial", "wb") as out:
        res = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE)
    err = res.stderr.decode("utf-8", "replace")
    if log_path:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write("$ " + " ".join(cmd) + "\n" + err + "\n")
    m = _FINAL_WEIGHTS.search(err) if weights is None else None
    if res.returncode != 0 or (weights is None and not m):
        tail = "\n".join(err.strip().splitlines()[-8:])
        raise KenLMError(f"interpolate failed (exit {res.returncode}): {' '.join(cmd)}\n{tail}")
    weights = [float(x) for x in m.group(1).split()] if weights is None else [float(w) for w in weights]
    if out_arpa.endswith(".gz"):
        with open(plain + ".partial", "rb") as src, deterministic_gzip(out_arpa) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.remove(plain + ".partial")
    else:
        os.replace(plain + ".partial", out_arpa)
    if len(weights) != len(models):
        raise KenLMError(f"interpolate: {len(weights)} weights for {len(models)} models ({' '.join(cmd)})")
    return weights


def arpa_ngram_counts(path) -> Dict[int, int]:
    """The ``ngram N=count`` lines of an ARPA file's header."""
    counts: Dict[int, int] = {}
    with uopen(path, "rt") as f:
        for line in f:
            line = line.strip()
            if line.startswith("ngram ") and "=" in line:
                n, c = line[6:].split("=")
                counts[int(n)] = int(c)
            elif line.startswith("\\1-grams:"):
                break
    if not counts:
        raise KenLMError(f"{path}: no \\data\\ header with ngram counts (not an ARPA file?)")
    return counts


def build_binary(arpa: str, out: str, kind: str = "probing", log_path: Optional[str] = None) -> None:
    """Convert an ARPA file (plain or gzipped) to a KenLM binary of type ``kind`` (probing | trie)."""
    if kind not in ("probing", "trie"):
        raise ValueError(f"binary LM type must be probing or trie, not {kind!r}")
    cmd = [find_tool("build_binary", "KENLM_BIN"), kind, os.fspath(arpa), out]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if log_path:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write("$ " + " ".join(cmd) + "\n" + res.stdout + res.stderr + "\n")
    if res.returncode != 0:
        tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-8:])
        raise KenLMError(f"build_binary failed (exit {res.returncode}): {' '.join(cmd)}\n{tail}")
    # KenLM's binary format has no checksum, and a flipped byte in it changes scores silently
    with open(out + CHECKSUM_SUFFIX, "w", encoding="ascii") as f:
        f.write(file_sha256(out) + "\n")


CHECKSUM_SUFFIX = ".sha256"


def verify_binary(path: str) -> None:
    """Check a KenLM binary against the SHA-256 that :func:`build_binary` wrote beside it (a model
    without that file, e.g. an ARPA or a binary built elsewhere, is not checked).

    :raises KenLMError: naming the file when it does not match
    """
    sidecar = os.fspath(path) + CHECKSUM_SUFFIX
    if not os.path.exists(sidecar):
        return
    with open(sidecar, encoding="ascii") as f:
        want = f.read().strip()
    if file_sha256(path) != want:
        raise KenLMError(f"{path}: the language model is corrupt (its SHA-256 differs from {sidecar}, written "
                         f"when it was built); delete the job that built it and rerun")


def perplexity(lm_path: str, texts: Sequence) -> Dict[str, float]:
    """Perplexity of ``texts`` (one sentence per line, ``<s>``/``</s>`` added) under a KenLM model.

    ``perplexity`` excludes OOV words (SRILM's and KenLM query's convention; OOVs are counted
    separately), ``perplexity_with_oov`` includes them at the model's ``<unk>`` probability. Both
    count the sentence ends.
    """
    import kenlm

    verify_binary(lm_path)
    model = kenlm.Model(os.fspath(lm_path))
    log10_all = log10_known = 0.0
    sentences = words = oovs = 0
    for line in iter_text_lines(texts):
        sentences += 1
        toks = line.split()
        words += len(toks)
        for logp, _, is_oov in model.full_scores(" ".join(toks), bos=True, eos=True):
            log10_all += logp
            if is_oov:
                oovs += 1
            else:
                log10_known += logp
    if sentences == 0:
        raise ValueError(f"no text in {', '.join(map(str, texts))}")
    events = words + sentences  # words plus one </s> per sentence
    return {
        "perplexity": 10 ** (-log10_known / (events - oovs)),
        "perplexity_with_oov": 10 ** (-log10_all / events),
        "log10_prob": log10_all,
        "sentences": sentences,
        "words": words,
        "oovs": oovs,
        "oov_rate": oovs / words if words else 0.0,
        "order": model.order,
    }
