"""A small corpus in the real TEDLIUM_release2 format with the release's quirks, made from the ci
embedded corpus (its audio, dictionary and LM files) by rewriting the STMs and LM text.

Quirks added on top of the embedded corpus's own (``<F0_M>``-style labels, ignored segments,
`` </s>`` line ends in ``LM/``, ``(2)`` variants and ``<s>``/``</s>``/``<unk>`` in the dictionary):
``<unk>``, ``{NOISE}``, ``{BREATH}`` and ``<sil>`` tokens and a ``(2)`` variant marker in train
transcripts, a zero-length segment per train and dev file, STM lines out of time order, an
apostrophe word (``rock'n'roll``), and ``<unk>``/``{NOISE}`` in the LM text.
"""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Dict

QUIRKS = {"<unk>", "{NOISE}", "{BREATH}", "<sil>"}


def _rewrite_stm(path: Path, split: str, counts: Dict[str, int]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    speech = [i for i, line in enumerate(lines) if "ignore_time_segment_in_scoring" not in line]
    if len(speech) < 3:
        return
    fields = [lines[i].split(" ", 6) for i in speech]
    if split == "train":
        edits = [lambda t: "<unk> " + t, lambda t: t + " {NOISE}", lambda t: "{BREATH} " + t,
                 lambda t: t.replace(" ", " <sil> ", 1), lambda t: t.split(" ", 1)[0] + "(2) " + t.split(" ", 1)[1]
                 if " " in t else t, lambda t: t + " rock'n'roll"]
        for k, (i, f) in enumerate(zip(speech, fields)):
            if k < len(edits) and len(f) == 7:
                f[6] = edits[k](f[6])
                lines[i] = " ".join(f)
                counts["edited"] += 1
    # a zero-length segment at the start of the second segment, and the first two lines swapped
    f = fields[1]
    lines.insert(speech[1], " ".join(f[:3] + [f[3], f[3]] + f[5:6] + ["uh"]))
    counts["zero_length"] += 1
    lines[speech[0]], lines[speech[0] + 1] = lines[speech[0] + 1], lines[speech[0]]
    counts["swapped"] += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_release_fixture(embedded_root: Path, out_root: Path) -> Dict[str, int]:
    """Copy ``embedded_root`` (a TEDLIUM_release2 directory) to ``out_root`` with the quirks above.

    :return: counts of what was added
    """
    out_root = Path(out_root)
    if out_root.exists():
        shutil.rmtree(out_root)
    shutil.copytree(embedded_root, out_root)
    counts = {"edited": 0, "zero_length": 0, "swapped": 0}
    # a few recordings per split, as in the release, where such tokens are rare
    for split in ("train", "dev"):
        for stm in sorted((out_root / split / "stm").glob("*.stm"))[:2]:
            _rewrite_stm(stm, split, counts)
    lm = sorted((out_root / "LM").glob("*.gz"))[0]
    with gzip.open(lm, "rt", encoding="utf-8") as f:
        text = f.read()
    with gzip.open(lm, "wt", encoding="utf-8") as f:
        f.write(text + "and then <unk> said {NOISE} something </s>\n")
    return counts
