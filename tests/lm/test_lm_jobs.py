"""LM text, KenLM estimation/binary and perplexity jobs through the engine."""
import json
import math
from pathlib import Path

import pytest

from memristor_asr.lm.kenlm_tools import arpa_ngram_counts

pytestmark = pytest.mark.slow


def test_lm_jobs(ci_data_jobs):
    paths, values = ci_data_jobs["paths"], ci_data_jobs["values"]
    assert sorted(arpa_ngram_counts(paths["arpa"])) == [1, 2, 3, 4]
    assert Path(paths["binary"]).stat().st_size > 0
    assert values["used_discount_fallback"] is False          # the ci LM text is big enough for KN discounts
    report = json.loads(Path(paths["perplexity_report"]).read_text())
    assert report["perplexity"] == values["perplexity"]
    assert math.isfinite(values["perplexity"]) and 1 < values["perplexity"] < 2000
    assert report["sentences"] > 0 and report["order"] == 4
