"""Checkpoint round trip and clear errors for corrupt or mismatched files."""
import dataclasses

import pytest
import torch

from memristor_asr.nn import CheckpointError, ConformerCTCModel, ModelConfig, load_model, save_checkpoint

SMALL = ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=32, ff_dim=64, num_heads=2, num_blocks=2,
                    conv_kernel_size=7)


def test_round_trip(tmp_path):
    model = ConformerCTCModel(SMALL)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, SMALL, epoch=7, note="x")
    loaded, data = load_model(path)
    assert data["epoch"] == 7 and data["note"] == "x" and data["model_config"] == SMALL.to_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    assert not loaded.training


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "broken.pt"
    save_checkpoint(path, ConformerCTCModel(SMALL), SMALL, epoch=1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated write
    with pytest.raises(CheckpointError, match="broken.pt.*not a readable checkpoint"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_model(tmp_path / "nothere.pt")


def test_mismatch_lists_the_keys(tmp_path):
    path = tmp_path / "other.pt"
    bigger = dataclasses.replace(SMALL, num_blocks=3, ff_dim=48)
    save_checkpoint(path, ConformerCTCModel(bigger), bigger, epoch=1)
    with pytest.raises(CheckpointError) as err:
        load_model(path, config=SMALL)
    msg = str(err.value)
    assert "other.pt" in msg
    assert "unexpected keys [encoder.blocks.2." in msg and "more)" in msg
    assert "shape mismatches" in msg and "encoder.blocks.0.ff1.linear_ff.weight: checkpoint (48, 32) vs model (64, 32)" in msg


def test_missing_entries_and_bad_config(tmp_path):
    path = tmp_path / "nomodel.pt"
    torch.save({"epoch": 3}, path)
    with pytest.raises(CheckpointError, match=r"nomodel.pt: missing entries \['model', 'model_config'\]"):
        load_model(path)
    path = tmp_path / "badcfg.pt"
    torch.save({"model": {}, "model_config": {"layers": 3}, "epoch": 1}, path)
    with pytest.raises(CheckpointError, match="badcfg.pt: invalid model_config.*layers"):
        load_model(path)
