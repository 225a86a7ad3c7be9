"""Shared test data: the embedded corpus in its `ci` profile, synthesised once per test session."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import pytest


@pytest.fixture(scope="session")
def ci_corpus(tmp_path_factory) -> Path:
    """A TEDLIUM_release2-style directory (espeak-ng audio, about 2 minutes); treat it as read-only."""
    from memristor_asr.corpus.embedded.synth import ensure_embedded_corpus

    root = tmp_path_factory.getbasetemp() / "ci_corpus" / "TEDLIUM_release2"
    return Path(ensure_embedded_corpus(str(root), profile="ci", seed=0))


@pytest.fixture(scope="session")
def ci_prepared(ci_corpus, tmp_path_factory) -> Dict[str, Dict[str, Path]]:
    """Manifests and STM references of the ci corpus: ``{split: {"segments": path, "stm": path}}``."""
    from memristor_asr.corpus.manifest import write_manifest
    from memristor_asr.corpus.stm import write_stm
    from memristor_asr.corpus.tedlium import SPLITS, prepare_split

    out = tmp_path_factory.mktemp("ci_prepared")
    result = {}
    for split in SPLITS:
        prepared = prepare_split(ci_corpus, split)
        paths = {"segments": out / f"{split}.segments.jsonl.gz", "stm": out / f"{split}.stm"}
        write_manifest(paths["segments"], prepared.segments)
        write_stm(paths["stm"], prepared.references)
        result[split] = paths
    return result
