"""A small learnable synthetic corpus for tests and benchmarks (no audio involved).

Written with the project's real writers (manifest, labels, lexicon, HDF5 features), so the
training code reads it exactly like the real corpus. Each label has a fixed random spectral
pattern; an utterance is the label sequence of random words from a tiny lexicon, each label
held for a few frames, with quiet gaps between words and Gaussian noise on top. A model can
learn it, so falling losses are meaningful.
"""
from __future__ import annotations

import os
from typing import Dict, List, Tuple

import numpy as np

from memristor_asr.corpus.manifest import Segment, write_manifest
from memristor_asr.features.hdf5 import write_features
from memristor_asr.lexicon.lexicon import BLANK, write_labels, write_lexicon

__all__ = ["ARPABET", "make_synthetic_corpus"]

ARPABET = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW "
           "V W Y Z ZH").split()


def make_synthetic_corpus(directory, *, num_train: int = 40, num_dev: int = 10, num_words: int = 24,
                          max_words: int = 4, frames_per_label: Tuple[int, int] = (4, 9), num_features: int = 80,
                          noise: float = 0.3, seed: int = 0) -> Dict[str, str]:
    """Write ``labels.txt``, ``lexicon.txt``, ``{train,dev}.segments.jsonl.gz`` and ``{train,dev}.hdf5``.

    :param frames_per_label: inclusive range of frames each label is held (10 ms frames)
    :return: name → path of the written files (keys: labels, lexicon, train_manifest, dev_manifest,
        train_features, dev_features)
    """
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = ARPABET + [p + "#" for p in ARPABET] + [BLANK]
    label_index = {lab: i for i, lab in enumerate(labels)}
    patterns = rng.normal(0.0, 1.0, size=(len(labels), num_features)).astype(np.float32)
    words: List[Tuple[str, List[str]]] = []
    for w in range(num_words):
        phons = list(rng.choice(ARPABET, size=int(rng.integers(2, 5))))
        words.append((f"w{w}", phons[:-1] + [phons[-1] + "#"]))
    paths = {"labels": os.path.join(directory, "labels.txt"), "lexicon": os.path.join(directory, "lexicon.txt")}
    write_labels(paths["labels"], labels)
    write_lexicon(paths["lexicon"], words)
    for split, count in (("train", num_train), ("dev", num_dev)):
        segments, feats = [], []
        for n in range(count):
            chosen = [words[i] for i in rng.integers(0, num_words, size=int(rng.integers(1, max_words + 1)))]
            frames = [np.full((int(rng.integers(3, 10)), num_features), -2.0, dtype=np.float32)]
            for _, phons in chosen:
                for p in phons:
                    hold = int(rng.integers(frames_per_label[0], frames_per_label[1] + 1))
                    frames.append(np.repeat(patterns[label_index[p]][None], hold, axis=0))
                frames.append(np.full((int(rng.integers(2, 8)), num_features), -2.0, dtype=np.float32))
            x = np.concatenate(frames)
            x = x + rng.normal(0.0, noise, size=x.shape).astype(np.float32)
            seg_id = f"{split}_talk{n // 5}/{n % 5 + 1}"
            duration = round(len(x) * 0.01, 2)
            segments.append(Segment(seg_id, f"synthetic/{split}_talk{n // 5}.wav", 0.0, duration,
                                    f"{split}_talk{n // 5}", None, " ".join(w for w, _ in chosen)))
            feats.append((seg_id, x))
        paths[f"{split}_manifest"] = os.path.join(directory, f"{split}.segments.jsonl.gz")
        paths[f"{split}_features"] = os.path.join(directory, f"{split}.hdf5")
        write_manifest(paths[f"{split}_manifest"], segments)
        write_features(paths[f"{split}_features"], feats, attrs={"sample_rate": 16000, "hop_length": 160,
                                                                 "num_features": num_features})
    return paths
