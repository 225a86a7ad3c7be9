"""Model structure: size, subsampling, masking, SpecAugment, config round trip."""
import dataclasses

import pytest
import torch

from memristor_asr.nn import ConformerCTCModel, ModelConfig, count_parameters
from memristor_asr.nn.config import SpecAugmentConfig
from memristor_asr.nn.specaugment import spec_augment

SMALL = ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=32, ff_dim=64, num_heads=2, num_blocks=2,
                    conv_kernel_size=7)


def test_paper_size_has_about_42m_parameters():
    n = count_parameters(ConformerCTCModel(ModelConfig()))
    assert 41.5e6 < n < 42.5e6, n


def test_paper_size_block_composition():
    model = ConformerCTCModel(ModelConfig())
    assert len(model.encoder.blocks) == 12
    block = model.encoder.blocks[0]
    assert (block.ff1.linear_ff.in_features, block.ff1.linear_ff.out_features) == (384, 1536)
    assert (block.mhsa.in_proj.in_features, block.mhsa.in_proj.out_features) == (384, 1152)
    assert block.mhsa.num_heads == 4 and block.mhsa.head_dim == 96
    assert block.conv.depthwise_conv.kernel_size == (31,) and block.conv.depthwise_conv.groups == 384
    assert model.encoder.frontend.linear.in_features == 32 * 80
    assert model.final_linear.out_features == 79


def test_output_shapes_and_subsampling():
    model = ConformerCTCModel(SMALL).eval()
    lengths = torch.tensor([101, 64, 7, 4])
    log_probs, out_lengths = model(torch.randn(4, 101, 80), lengths)
    assert log_probs.shape == (4, 25, 79)
    assert out_lengths.tolist() == [25, 16, 1, 1]
    # log-softmax over labels
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(4, 25))


def test_padding_does_not_change_valid_outputs():
    """A sequence gives the same outputs alone and inside a padded batch (frontend and conv mask)."""
    torch.manual_seed(1)
    model = ConformerCTCModel(SMALL).eval()
    long, short = torch.randn(1, 120, 80), torch.randn(1, 57, 80)
    batch = torch.zeros(2, 120, 80)
    batch[0] = long[0]
    batch[1, :57] = short[0]
    batch[1, 57:] = 5.0  # padding garbage must not matter
    with torch.no_grad():
        both, lens = model(batch, torch.tensor([120, 57]))
        alone, alone_len = model(short, torch.tensor([57]))
    assert lens[1] == alone_len[0] == 14
    torch.testing.assert_close(both[1, :14], alone[0, :14], atol=1e-5, rtol=1e-5)


def test_training_mode_is_stochastic_and_eval_is_not():
    model = ConformerCTCModel(SMALL)
    x, lengths = torch.randn(2, 80, 80), torch.tensor([80, 60])
    model.train()
    a, _ = model(x, lengths)
    b, _ = model(x, lengths)
    assert not torch.equal(a, b)
    model.eval()
    with torch.no_grad():
        c, _ = model(x, lengths)
        d, _ = model(x, lengths)
    assert torch.equal(c, d)


def test_spec_augment_mask_counts_and_widths():
    cfg = SpecAugmentConfig()
    torch.manual_seed(0)
    frames, bins = 1000, 80
    lengths = torch.tensor([1000, 400])
    for _ in range(20):
        out = spec_augment(torch.ones(2, frames, bins), lengths, cfg)
        for b in range(2):
            masked_bins = (out[b] == 0).all(dim=0)  # frequency bands are masked over all frames
            nb = int(masked_bins.sum())
            assert 1 <= nb <= cfg.freq_max_num_masks * cfg.freq_mask_max_size
            masked_frames = (out[b] == 0).all(dim=1)
            n_t = int(masked_frames.sum())
            max_masks = max(cfg.time_min_num_masks, int(lengths[b]) // cfg.time_max_mask_per_n_frames)
            assert 1 <= n_t <= max_masks * cfg.time_mask_max_size
            # masks start inside the valid part, so at most one mask width can reach past it
            assert int(masked_frames[int(lengths[b]) + cfg.time_mask_max_size:].sum()) == 0
    # the number of time masks grows with the length: more masked frames for longer sequences
    torch.manual_seed(1)
    long_frac = sum(float((spec_augment(torch.ones(1, 2000, 80), torch.tensor([2000]), cfg)[0] == 0).all(1).float().mean())
                    for _ in range(20))
    short_frac = sum(float((spec_augment(torch.ones(1, 2000, 80), torch.tensor([100]), cfg)[0] == 0).all(1).float().mean())
                     for _ in range(20))
    assert long_frac > 3 * short_frac


def test_config_round_trip_and_unknown_keys():
    cfg = dataclasses.replace(SMALL, weight_bits=3)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    d = cfg.to_dict()
    d["colour"] = "red"
    with pytest.raises(ValueError, match="colour"):
        ModelConfig.from_dict(d)
    with pytest.raises(ValueError, match="weight_bits"):
        ModelConfig(weight_bits=1)
    q = SMALL.quantized_variant(4)
    assert q.weight_bits == 4 and q.att_weights_dropout == 0.0


def test_feature_normalization_buffers_are_applied():
    cfg = dataclasses.replace(SMALL, feature_normalization=True)
    model = ConformerCTCModel(cfg).eval()
    assert {"feature_mean", "feature_std"} <= set(model.state_dict())
    x, lengths = torch.randn(1, 40, 80) * 3 + 7, torch.tensor([40])
    with torch.no_grad():
        model.set_feature_statistics(torch.full((80,), 7.0), torch.full((80,), 3.0))
        normalised, _ = model(x, lengths)
        plain = ConformerCTCModel(SMALL).eval()
        plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("feature_")})
        reference, _ = plain((x - 7.0) / 3.0, lengths)
    torch.testing.assert_close(normalised, reference)
    with pytest.raises(ValueError, match="feature_normalization=False"):
        plain.set_feature_statistics(torch.zeros(80), torch.ones(80))
