"""LogMelFeatureJob through the engine (2 chunk tasks + merge)."""
import numpy as np
import pytest

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.features.extract import segment_features
from memristor_asr.features.hdf5 import FeatureReader

pytestmark = pytest.mark.slow


def test_feature_job_equals_library_features(ci_data_jobs):
    paths = ci_data_jobs["paths"]
    segs = list(read_manifest(paths["segments"]["dev"]))
    reader = FeatureReader(paths["features"])
    assert reader.segment_ids == [s.id for s in segs] and ci_data_jobs["values"]["num_feature_segments"] == len(segs)
    for i, (sid, feats) in enumerate(segment_features(segs)):
        np.testing.assert_array_equal(reader[i], feats)
    assert reader.attrs["num_filters"] == 80 and reader.attrs["f_min"] == 60.0 and reader.attrs["f_max"] == 7600.0
