"""recognize(): a (random) model's forward + search end to end, and its input checks."""
import os

import pytest
import torch

from memristor_asr.nn.checkpoint import save_checkpoint
from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.model import ConformerCTCModel
from memristor_asr.recognition.run import load_recognition_model, recognize
from memristor_asr.recognition.search import SearchConfig

TINY = dict(frontend_channels=(2, 4, 4, 2), model_dim=32, ff_dim=64, num_heads=2, num_blocks=1, conv_kernel_size=7)


@pytest.fixture(scope="module")
def float_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    cfg = ModelConfig(**TINY)
    path = str(tmp_path_factory.mktemp("ckpt") / "float.pt")
    save_checkpoint(path, ConformerCTCModel(cfg), cfg, epoch=0)
    return path


def test_recognize_writes_a_ctm_per_grid_point(ci_data_jobs, float_ckpt, tmp_path):
    p = ci_data_jobs["paths"]
    grid = [(lm, 0.0, str(tmp_path / f"lm{lm}.ctm")) for lm in (1.0, 2.0)]
    report = recognize(checkpoint=float_ckpt, features=p["features"], segments=p["segments"]["dev"],
                       labels=p["labels"], lexicon=p["decoding_lexicon"], lm=p["binary"], prior=None, grid=grid,
                       search=SearchConfig(beam_size=8), num_workers=2,
                       hypotheses_path=str(tmp_path / "hyps.json.gz"), report_path=str(tmp_path / "report.json"))
    assert report["mode"] == "float" and set(report["grid"]) == {"lm1.0", "lm2.0"}
    for _, _, ctm in grid:
        lines = [line for line in open(ctm) if not line.startswith(";;")]
        assert all(len(line.split()) == 5 for line in lines)
    assert os.path.exists(tmp_path / "hyps.json.gz")


def test_label_count_mismatch(ci_data_jobs, tmp_path):
    p = ci_data_jobs["paths"]
    cfg = ModelConfig(**{**TINY, "num_labels": 40})
    ckpt = str(tmp_path / "m.pt")
    save_checkpoint(ckpt, ConformerCTCModel(cfg), cfg, epoch=0)
    with pytest.raises(ValueError, match="has 40 outputs"):
        recognize(checkpoint=ckpt, features=p["features"], segments=p["segments"]["dev"], labels=p["labels"],
                  lexicon=p["decoding_lexicon"], lm=p["binary"], prior=None, grid=[(1.0, 0.0, str(tmp_path / "x"))],
                  search=SearchConfig(beam_size=4))


def test_float_model_cannot_run_on_crossbars(float_ckpt, tmp_path):
    with pytest.raises(ValueError, match="float model"):
        load_recognition_model(float_ckpt, programmed_device=str(tmp_path / "dev.pt"), read=None, noise_seed=0,
                               device=torch.device("cpu"))


def test_a_programmed_device_is_read_with_the_recognitions_read_config(tmp_path):
    """The device file holds the programming config; the read settings come from the recognition."""
    from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig
    from memristor_asr.memristor.convert import program_model, save_programmed
    from memristor_asr.memristor.linear import MemristorLinear

    torch.manual_seed(0)
    cfg = ModelConfig(**TINY, weight_bits=4)
    model = ConformerCTCModel(cfg).train()
    with torch.no_grad():  # calibrate the observers
        model(torch.randn(2, 60, cfg.feature_dim), torch.tensor([60, 50]))
    ckpt = str(tmp_path / "qat.pt")
    save_checkpoint(ckpt, model.eval(), cfg, epoch=0)
    programming = ProgrammingConfig(tile_inputs=16, tile_outputs=16, pulses_per_cycle=0)
    device = str(tmp_path / "crossbars.pt")
    save_programmed(program_model(model, programming, seed=0, num_cycles=1), device)
    for read in (None, ReadConfig(output_precision_bits=6, noise="off")):
        m, mode = load_recognition_model(ckpt, programmed_device=device, read=read, noise_seed=0,
                                         device=torch.device("cpu"))
        layers = [mod for mod in m.modules() if isinstance(mod, MemristorLinear)]
        assert mode == "memristor" and len(layers) == 8
        assert all(lay.config.programming == programming and lay.config.read == (read or ReadConfig())
                   for lay in layers)
