"""Hashing must be bit-exact with upstream Sisyphus: job directory names depend on it."""
import collections
import enum
import os
import sys
import textwrap

import pytest

from sisyphus import Path
from sisyphus.hash import sis_hash_helper, short_hash

NT = collections.namedtuple("NT", ["a", "b"])


class Cfg:
    def __init__(self):
        self.x = 1
        self._private = "p"


class Color(enum.Enum):
    RED = 1


@pytest.mark.parametrize("obj, helper, short", [
    (5, b"(int, 5)", "p3DN9tL9CLLR"),
    ({}, b"(dict)", "n7Yd9EbtVi13"),
    ({"b": 2, "a": 1}, b"(dict, (tuple, (str, 'a'), (int, 1)), (tuple, (str, 'b'), (int, 2)))", "rxXMbgNCBPIm"),
    ([1, "a"], b"(list, (int, 1), (str, 'a'))", "XkZLHmlvd22g"),
    ({3, 1}, b"(set, (int, 1), (int, 3))", "veZ107xVUtQo"),
    (None, b"(NoneType)", "ofRJhp5ks8fN"),
])
def test_spec_vectors(obj, helper, short):
    assert sis_hash_helper(obj) == helper
    assert short_hash(obj) == short


def test_structured_vectors():
    assert sis_hash_helper(os.path.join) == b"(function, (tuple, (str, 'posixpath'), (str, 'join')))"
    assert sis_hash_helper(NT(1, 2)) == b"(NT, (tuple, (tuple, (int, 1), (int, 2)), (dict)))"
    assert sis_hash_helper(Cfg()) == \
        b"(Cfg, (dict, (tuple, (str, '_private'), (str, 'p')), (tuple, (str, 'x'), (int, 1))))"
    assert short_hash(({"a": 1}, 2)) == "yvE8ZZTE8dpp"


def test_scalars_and_special_cases():
    assert sis_hash_helper(0.1) == b"(float, 0.1)"
    assert sis_hash_helper(float("nan")) == b"(float, nan)"
    assert sis_hash_helper(True) == b"(bool, True)"
    assert sis_hash_helper("it's") == b"(str, \"it's\")"
    assert sis_hash_helper(b"xy") == b"(bytes, xy)"
    assert sis_hash_helper(Color) == b"(EnumMeta, (tuple, (str, 'tests.sisyphus.test_hash'), (str, 'Color')))"
    # enum members: _sort_order_ (Python >= 3.11 only) is not hashed
    assert b"_sort_order_" not in sis_hash_helper(Color.RED)
    assert sis_hash_helper(Path("/data/corpus.txt")) == b"(Path, (tuple, (NoneType), (str, '/data/corpus.txt')))"


def test_long_values_are_digested():
    h = sis_hash_helper(list(range(2000)))
    assert len(h) == 32 and not h.startswith(b"(")


def test_lambdas_are_rejected():
    with pytest.raises(ValueError, match="lambda"):
        sis_hash_helper(lambda x: x)


@pytest.fixture(scope="module")
def recipe_dir(tmp_path_factory):
    """A recipe folder with the spec's example jobs and i6_core stand-ins (same module paths)."""
    root = tmp_path_factory.mktemp("recipe")
    (root / "mypkg").mkdir()
    (root / "mypkg" / "__init__.py").write_text("")
    (root / "mypkg" / "jobs.py").write_text(textwrap.dedent("""
        from sisyphus import Job, Task

        class WordCount(Job):
            def __init__(self, text, lowercase=True, ngram=1):
                self.text = text
                self.out = self.output_path("counts.txt")

        class X(Job):
            __sis_hash_exclude__ = {"new_opt": None}
            def __init__(self, a, new_opt=None):
                self.a = a

        class V(Job):
            __sis_version__ = 2
            def __init__(self, a):
                self.a = a
    """))
    lib = root / "i6_core" / "datasets"
    lib.mkdir(parents=True)
    (root / "i6_core" / "__init__.py").write_text("")
    (lib / "__init__.py").write_text("")
    (lib / "librispeech.py").write_text(textwrap.dedent("""
        from sisyphus import Job

        class DownloadLibriSpeechCorpusJob(Job):
            def __init__(self, corpus_key):
                self.out_corpus_folder = self.output_path(corpus_key)

        class DownloadLibriSpeechMetadataJob(Job):
            def __init__(self):
                self.out_speakers = self.output_path("SPEAKERS.TXT")

        class LibriSpeechCreateBlissCorpusJob(Job):
            def __init__(self, corpus_folder, speaker_metadata):
                self.corpus_folder = corpus_folder
    """))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


def test_job_ids(recipe_dir):
    from mypkg.jobs import V, WordCount, X

    wc = WordCount(Path("/data/corpus.txt"))
    assert wc._sis_id() == "mypkg/jobs/WordCount.hVqLKAbasDXA"
    assert wc.out._sis_hash() == \
        b"(Path, (tuple, (str, 'mypkg/jobs/WordCount.hVqLKAbasDXA/output'), (str, 'counts.txt')))"
    assert WordCount(wc.out, ngram=2)._sis_id() == "mypkg/jobs/WordCount.vbY4bOSxn9QO"
    assert WordCount(Path("/data/corpus.txt")) is wc  # singleton
    assert X(5)._sis_id().endswith(".qZFggKy9sUZy")
    assert X(5, new_opt=None) is X(5)
    assert X(5, new_opt=3)._sis_id().endswith(".TzecnLpP94SK")
    assert V(1)._sis_id().endswith(".yvE8ZZTE8dpp")


def test_i6_core_cross_check(recipe_dir):
    from i6_core.datasets.librispeech import (DownloadLibriSpeechCorpusJob, DownloadLibriSpeechMetadataJob,
                                              LibriSpeechCreateBlissCorpusJob)

    dev = DownloadLibriSpeechCorpusJob(corpus_key="dev-clean")
    assert dev._sis_id() == "i6_core/datasets/librispeech/DownloadLibriSpeechCorpusJob.CeoY6kKnh8B3"
    assert DownloadLibriSpeechCorpusJob(corpus_key="train-other-500")._sis_id().endswith(".8iqSB1tz3OMD")
    meta = DownloadLibriSpeechMetadataJob()
    assert meta._sis_id().endswith(".n7Yd9EbtVi13")
    bliss = LibriSpeechCreateBlissCorpusJob(corpus_folder=dev.out_corpus_folder, speaker_metadata=meta.out_speakers)
    assert bliss._sis_id().endswith(".wjSkfzJS1Ge2")
