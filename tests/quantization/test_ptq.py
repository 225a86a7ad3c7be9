"""PTQ: seeded calibration subset, observers filled, a checkpoint that loads as a quantised model."""
import numpy as np
import pytest
import torch

from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.nn import CheckpointError, ConformerCTCModel, ModelConfig, load_model, save_checkpoint
from memristor_asr.nn.quant import QuantLinear, fake_quantizers
from memristor_asr.quantization.ptq import choose_calibration_segments, quantize_checkpoint
from memristor_asr.training.synthetic import make_synthetic_corpus

TINY = ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=32, ff_dim=64, num_heads=2, num_blocks=2,
                   conv_kernel_size=7)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ptq")
    corpus = make_synthetic_corpus(root / "corpus", num_train=30, num_dev=4, seed=1)
    torch.manual_seed(0)
    model = ConformerCTCModel(TINY)
    save_checkpoint(root / "float.pt", model, TINY, epoch=12)
    return root, corpus


def test_calibration_subset_is_seeded(setup):
    root, corpus = setup
    reader = FeatureReader(corpus["train_features"])
    a = choose_calibration_segments(reader, 10, seed=0)
    assert len(a) == len(set(a.tolist())) == 10
    assert np.array_equal(a, choose_calibration_segments(reader, 10, seed=0))
    assert not np.array_equal(a, choose_calibration_segments(reader, 10, seed=1))
    assert len(choose_calibration_segments(reader, 100, seed=0)) == 30  # all, when fewer exist


@pytest.mark.parametrize("bits", [8, 3])
def test_ptq_checkpoint_loads_as_quantised_model(setup, bits):
    root, corpus = setup
    out = root / f"ptq{bits}.pt"
    info = quantize_checkpoint(root / "float.pt", out, features=corpus["train_features"], weight_bits=bits,
                               num_segments=12, seed=0, batch_seconds=5.0)
    assert info["num_segments"] == 12 and len(info["segment_ids"]) == 12
    model, data = load_model(out)  # strict: every observer present
    assert data["epoch"] == 12 and data["ptq"]["weight_bits"] == bits
    assert model.cfg.weight_bits == bits and model.cfg.activation_bits == 8 and model.cfg.quantize_layer_output
    for name, q in fake_quantizers(model):
        assert q.observed, name
    layer = model.encoder.blocks[1].mhsa.out_proj
    assert isinstance(layer, QuantLinear) and layer.out_quant is not None
    w_int = torch.round(layer.weight / layer.weight_quant.scale)
    assert w_int.abs().max() <= 2 ** (bits - 1) - 1 + 1e-6  # observer range covers the weights
    # float weights are carried over unchanged
    float_model, _ = load_model(root / "float.pt")
    assert torch.equal(float_model.encoder.blocks[1].mhsa.out_proj.weight, layer.weight)


def test_ptq_is_deterministic_and_8bit_close_to_float(setup):
    root, corpus = setup
    for name in ("a", "b"):
        quantize_checkpoint(root / "float.pt", root / f"{name}.pt", features=corpus["train_features"], weight_bits=8,
                            num_segments=12, seed=0, batch_seconds=5.0)
    a, b = torch.load(root / "a.pt", weights_only=True), torch.load(root / "b.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    quantize_checkpoint(root / "float.pt", root / "q2.pt", features=corpus["train_features"], weight_bits=2,
                        num_segments=12, seed=0, batch_seconds=5.0)
    reader = FeatureReader(corpus["dev_features"])
    x = torch.from_numpy(reader[0])[None]
    lengths = torch.tensor([x.shape[1]])
    outs = {}
    for name in ("float", "a", "q2"):
        model, _ = load_model(root / f"{name}.pt")
        with torch.no_grad():
            outs[name] = model(x, lengths)[0].exp()
    err8 = float((outs["a"] - outs["float"]).abs().max())
    err2 = float((outs["q2"] - outs["float"]).abs().max())
    assert err8 < 0.01 and err2 > 5 * err8


def test_ptq_refuses_a_quantised_input(setup):
    root, corpus = setup
    qcfg = TINY.quantized_variant(4)
    save_checkpoint(root / "qat.pt", ConformerCTCModel(qcfg), qcfg, epoch=1)
    with pytest.raises(CheckpointError, match="qat.pt: PTQ needs a float model"):
        quantize_checkpoint(root / "qat.pt", root / "x.pt", features=corpus["train_features"], weight_bits=4)
