"""Our float Conformer block computes exactly what i6-models' ConformerBlockV1 computes."""
import pytest
import torch

from memristor_asr.nn.config import ModelConfig
from memristor_asr.nn.conformer import ConformerBlock

i6_conformer = pytest.importorskip("i6_models.assemblies.conformer.conformer_v1")
i6_parts = pytest.importorskip("i6_models.parts.conformer")


def _i6_block(cfg: ModelConfig):
    block_cfg = i6_conformer.ConformerBlockV1Config(
        ff_cfg=i6_parts.ConformerPositionwiseFeedForwardV1Config(
            input_dim=cfg.model_dim, hidden_dim=cfg.ff_dim, dropout=cfg.dropout, activation=torch.nn.functional.silu),
        mhsa_cfg=i6_parts.ConformerMHSAV1Config(input_dim=cfg.model_dim, num_att_heads=cfg.num_heads,
                                                att_weights_dropout=cfg.att_weights_dropout, dropout=cfg.dropout),
        conv_cfg=i6_parts.ConformerConvolutionV1Config(
            channels=cfg.model_dim, kernel_size=cfg.conv_kernel_size, dropout=cfg.dropout,
            activation=torch.nn.functional.silu, norm=i6_parts.LayerNormNC(cfg.model_dim)),
    )
    return i6_conformer.ConformerBlockV1(block_cfg)


def _i6_to_ours(i6_state):
    """Rename i6-models' parameter names to ours (docs/INTERFACES.md names)."""
    renames = {
        "mhsa.layernorm.": "mhsa.layer_norm.",
        "mhsa.mhsa.in_proj_weight": "mhsa.in_proj.weight",
        "mhsa.mhsa.in_proj_bias": "mhsa.in_proj.bias",
        "mhsa.mhsa.out_proj.": "mhsa.out_proj.",
    }
    out = {}
    for k, v in i6_state.items():
        for old, new in renames.items():
            if k.startswith(old):
                k = new + k[len(old):]
        out[k] = v
    return out


@pytest.mark.parametrize("dims", [(384, 1536, 4, 31), (64, 128, 2, 7)])
def test_block_matches_i6_models(dims):
    dim, ff, heads, kernel = dims
    cfg = ModelConfig(model_dim=dim, ff_dim=ff, num_heads=heads, conv_kernel_size=kernel)
    torch.manual_seed(0)
    ref = _i6_block(cfg).eval()
    with torch.no_grad():  # non-trivial LayerNorm parameters, so that a swapped norm would show
        for name, p in ref.named_parameters():
            if "norm" in name:
                p.add_(0.1 * torch.randn_like(p))
    ours = ConformerBlock(cfg).eval()
    ours.load_state_dict(_i6_to_ours(ref.state_dict()), strict=True)

    lengths = torch.tensor([50, 50, 37])
    x = torch.randn(3, 50, dim)
    mask = torch.arange(50)[None, :] < lengths[:, None]
    with torch.no_grad():
        expected = ref(x, sequence_mask=mask)
        got = ours(x, mask)
    # full-length sequences: everything equal
    torch.testing.assert_close(got[:2], expected[:2], atol=1e-5, rtol=0)
    # padded sequence: equal away from the end, where i6 lets padding leak into the depthwise conv
    # and we zero it (kernel // 2 frames affected)
    valid_far = int(lengths[2]) - kernel // 2
    torch.testing.assert_close(got[2, :valid_far], expected[2, :valid_far], atol=1e-5, rtol=0)
