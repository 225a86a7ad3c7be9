"""A smaller ci study for the tests that run the whole graph once more (through Slurm, on the release
format): one QAT and one PTQ width instead of six each. They test a code path (an engine, a corpus
format), which every width takes alike; the full ci study runs in test_ci_pipeline.py."""
from pathlib import Path

# a Sisyphus config: the ci setup as a value, on TEDLIUM2_ROOT when set (checked as
# config/memristor_ted.py checks it), else on the embedded corpus
CONFIG = '''
import dataclasses

from sisyphus import gs, tk

from memristor_asr.corpus.tedlium import check_release_root


def py():
    from users.memristor.memristor_ted import run_memristor_ted
    from users.memristor.setups import CI

    root = getattr(gs, "TEDLIUM2_ROOT", None)
    if root:
        check_release_root(root, name="TEDLIUM2_ROOT")
    training = dataclasses.replace(CI.training, qat_bits=(4,), ptq_bits=(4,))
    run_memristor_ted(dataclasses.replace(CI, name="ci-small", training=training, eval_splits=EVAL_SPLITS),
                      corpus_root=tk.Path(root) if root else None)
'''


def write_config(setup_dir, eval_splits=("dev", "test")) -> str:
    """Write the config into ``setup_dir/config/``; returns its path for ``sis manager -r``.

    :param eval_splits: the splits recognised (``("dev",)``: half the recognitions)
    """
    config = Path(setup_dir) / "config"
    config.mkdir(exist_ok=True)
    (config / "small_study.py").write_text(f"EVAL_SPLITS = {tuple(eval_splits)!r}\n" + CONFIG)
    return "config/small_study.py"
