"""EmbeddedCorpusJob and PrepareTedliumJob through the engine (2 synthesis workers)."""
import json
from pathlib import Path

import pytest

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.corpus.tedlium import prepare_split

pytestmark = pytest.mark.slow


def _files(root: Path):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_job_corpus_equals_the_single_process_build(ci_data_jobs, ci_corpus):
    # parallel synthesis in two engine tasks gives byte-identical files to a one-process build
    job_files = _files(Path(ci_data_jobs["paths"]["corpus_root"]))
    lib_files = _files(ci_corpus)
    assert job_files.keys() == lib_files.keys()
    different = [k for k in job_files if job_files[k] != lib_files[k] and k != "README"]
    assert not different
    stats = json.loads(Path(ci_data_jobs["paths"]["corpus_stats"]).read_text())
    assert {s for s in stats["splits"]} == {"train", "dev", "test"}
    assert 5 * 60 / 3600 < stats["splits"]["train"]["hours"] < 15 * 60 / 3600     # about 10 minutes
    assert len(stats["talks"]) == sum(s["talks"] for s in stats["splits"].values())


def test_resource_arguments_do_not_change_the_hash(ci_data_jobs):
    ids = ci_data_jobs["ids"]
    assert ids["corpus"] == ids["corpus_3_workers"] != ids["corpus_seed_1"]
    assert ids["features"] == ids["features_4_chunks"]
    assert ids["arpa"] == ids["arpa_more_memory"]


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_prepare_job_outputs(ci_data_jobs, split):
    paths = ci_data_jobs["paths"]
    segments = list(read_manifest(paths["segments"][split]))
    expected = prepare_split(paths["corpus_root"], split).segments
    assert segments == expected
    refs = [line for line in Path(paths["stm"][split]).read_text().splitlines() if not line.startswith(";;")]
    assert len(refs) == len(segments)
    report = json.loads(Path(paths["prepare_report"][split]).read_text())
    assert report["segments"] == len(segments) and report["skipped"]["ignored"]["count"] >= 0
