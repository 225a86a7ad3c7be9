"""Sequitur G2P (the paper's tool): train a joint-sequence model on a dictionary, pronounce words.

Wraps the ``g2p.py`` command of the ``sequitur-g2p`` package as i6_core's G2P jobs do: a first
model, then ``num_ramp_ups`` ramp-ups (each adds one order of context), every stage with
``--devel`` held out and the same size constraints; the last model is the result. Applying it
with one variant per word (the i6 setting: 1 variant, mass 1.0, i.e. the best pronunciation) runs
sequitur's first-best translation, which writes ``word<TAB>PH PH ...``; more variants run its n-best
search, which writes ``word<TAB>variant<TAB>posterior<TAB>PH PH ...``. A word the model cannot
pronounce gets no line. (The n-best search of the PyPI wheel 1.0.1668.30 fails with the SWIG error
"'SwigPyObject' object has no attribute 'thisown'"; the first-best path is unaffected.)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

__all__ = ["G2PConfig", "G2PError", "g2p_command", "seeded_g2p_command", "write_g2p_lexicon", "train_g2p", "apply_g2p",
           "parse_g2p_output"]

Pron = Tuple[str, ...]


@dataclass(frozen=True)
class G2PConfig:
    """Sequitur training and application settings (defaults: the i6 TED-LIUM setup).

    :param num_ramp_ups: ramp-up stages after the first model (model order = 1 + ramp-ups)
    :param min_iter: minimum EM iterations per stage
    :param max_iter: maximum EM iterations per stage
    :param devel: held-out share of the training lexicon for the stopping criterion ("5%") or a file
    :param size_constraints: multigram sizes ``l1,l2,r1,r2`` (letters, phonemes per multigram)
    :param variants_mass: when applying, variants until their posteriors sum to this
    :param variants_number: when applying, at most this many variants per word
    :param seed: seeds sequitur's random choice of the ``devel`` share (it draws it unseeded, so
        two trainings on the same lexicon gave different models and different train OOV
        pronunciations); string hashing is fixed too, since the draw shuffles a set of words
    """

    num_ramp_ups: int = 4
    min_iter: int = 1
    max_iter: int = 60
    devel: str = "5%"
    size_constraints: str = "0,1,0,1"
    variants_mass: float = 1.0
    variants_number: int = 1
    seed: int = 1

    def __post_init__(self):
        if self.num_ramp_ups < 0 or self.min_iter < 1 or self.max_iter < self.min_iter:
            raise ValueError(f"G2PConfig: need num_ramp_ups >= 0 and 1 <= min_iter <= max_iter, got {self}")
        if self.variants_number < 1 or not 0.0 < self.variants_mass <= 1.0:
            raise ValueError(f"G2PConfig: need variants_number >= 1 and 0 < variants_mass <= 1, got {self}")


class G2PError(RuntimeError):
    """Sequitur failed to train or apply; the message names the log file."""


def g2p_command() -> List[str]:
    """The ``g2p.py`` script of the installed ``sequitur-g2p``, run by this interpreter."""
    script = os.path.join(os.path.dirname(sys.executable), "g2p.py")
    if not os.path.isfile(script):
        script = shutil.which("g2p.py") or ""
    if not script:
        raise G2PError("sequitur-g2p is not installed (no g2p.py next to the Python interpreter or on PATH); "
                       "run tools/install.sh or `pip install sequitur-g2p`")
    return [sys.executable, script]


def write_g2p_lexicon(prons: Mapping[str, Sequence[Pron]], path: str) -> int:
    """Write ``word PH PH ...`` lines, every variant (sequitur's training format); returns the lines."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for word in sorted(prons):
            for pron in prons[word]:
                f.write(f"{word} {' '.join(pron)}\n")
                n += 1
    return n


def seeded_g2p_command(seed: int) -> List[str]:
    """:func:`g2p_command` through :mod:`memristor_asr.lexicon.sequitur_launcher`: Python's ``random``
    seeded, and the wheel's SWIG and NumPy 2 problems worked around."""
    from memristor_asr.lexicon import sequitur_launcher

    python, script = g2p_command()
    return [python, os.path.abspath(sequitur_launcher.__file__), str(int(seed)), script]


def _refuse_caught_error(lines: List[str], what: str, log_path: str) -> None:
    """Sequitur catches an error inside an iteration, keeps what it had and exits 0: a traceback in
    its log is a failure.

    :raises G2PError: naming the log, with the traceback
    """
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            raise G2PError(f"{what} stopped on an error it caught (exit 0, the result of an earlier "
                           f"iteration), log {log_path}:\n{''.join(lines[i:i + 15])}")


def _run(args: List[str], log_path: str, what: str, seed: int) -> None:
    env = dict(os.environ, PYTHONHASHSEED="0")  # the devel draw shuffles a set of strings
    with open(log_path, "w", encoding="utf-8") as log:
        res = subprocess.run(seeded_g2p_command(seed) + args, stdout=log, stderr=subprocess.STDOUT, env=env)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    if res.returncode != 0:
        raise G2PError(f"sequitur {what} failed (exit {res.returncode}), log {log_path}:\n{''.join(lines[-15:])}")
    _refuse_caught_error(lines, f"sequitur {what}", log_path)


def train_g2p(lexicon_path: str, work_dir: str, cfg: G2PConfig) -> List[str]:
    """Train the model stages; returns their paths (the last one is the result).

    :raises G2PError: naming the stage's log when sequitur fails or writes no model
    """
    common = ["--train", lexicon_path, "--devel", cfg.devel, "--size-constraints", cfg.size_constraints,
              "--min-iterations", str(cfg.min_iter), "--max-iterations", str(cfg.max_iter)]
    models = []
    for stage in range(1, cfg.num_ramp_ups + 2):
        model = os.path.join(work_dir, f"model-{stage}")
        init = [] if stage == 1 else ["--model", models[-1], "--ramp-up"]
        log = os.path.join(work_dir, f"train-{stage}.log")
        _run(init + common + ["--write-model", model], log, f"training stage {stage} on {lexicon_path}", cfg.seed)
        if not os.path.isfile(model) or os.path.getsize(model) == 0:
            raise G2PError(f"sequitur training stage {stage} wrote no model (log {log})")
        models.append(model)
    return models


def parse_g2p_output(lines: Iterable[str]) -> Dict[str, List[Pron]]:
    """``word<TAB>phonemes`` (first-best) or ``word<TAB>variant<TAB>posterior<TAB>phonemes`` (n-best)
    lines -> word -> variants in output order."""
    out: Dict[str, List[Pron]] = {}
    for line in lines:
        fields = line.rstrip("\n").split("\t")
        if len(fields) not in (2, 4) or not fields[-1].strip():
            continue  # sequitur's own diagnostics, or a word it could not pronounce
        out.setdefault(fields[0], []).append(tuple(fields[-1].split()))
    return out


def apply_g2p(model: str, words: Sequence[str], work_dir: str, cfg: G2PConfig) -> Dict[str, List[Pron]]:
    """Pronounce ``words``; words the model cannot pronounce are absent from the result."""
    if not words:
        return {}
    words_path = os.path.join(work_dir, "g2p_words.txt")
    with open(words_path, "w", encoding="utf-8") as f:
        f.write("".join(w + "\n" for w in words))
    out_path = os.path.join(work_dir, "g2p_output.txt")
    args = ["--model", model, "--apply", words_path]
    if cfg.variants_number > 1:
        args += ["--variants-mass", str(cfg.variants_mass), "--variants-number", str(cfg.variants_number)]
    with open(out_path, "w", encoding="utf-8") as out, open(out_path + ".log", "w") as log:
        res = subprocess.run(seeded_g2p_command(cfg.seed) + args, stdout=out, stderr=log,
                             env=dict(os.environ, PYTHONHASHSEED="0"))
    if res.returncode != 0:
        raise G2PError(f"sequitur apply of {model} failed (exit {res.returncode}), log {out_path}.log")
    with open(out_path + ".log", encoding="utf-8", errors="replace") as f:
        _refuse_caught_error(f.readlines(), f"sequitur apply of {model}", out_path + ".log")
    with open(out_path, encoding="utf-8") as f:
        return parse_g2p_output(f)
