import pytest

from memristor_asr.training.synthetic import make_synthetic_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A small learnable synthetic corpus (paths by name, see make_synthetic_corpus)."""
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), num_train=60, num_dev=12, seed=3)
