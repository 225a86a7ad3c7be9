"""DAC, ADC and MemristorLinear: both read paths, recombination, noise statistics, input checks."""

import pytest
import torch

from memristor_asr.memristor.cells import polyval
from memristor_asr.memristor.config import HardwareConfig
from memristor_asr.memristor.crossbar import integer_weights, program_layer
from memristor_asr.memristor.linear import MemristorLinear, adc, dac
from memristor_asr.memristor.params import cached_default_params

P = cached_default_params().to("cpu")
# small tiles so a small layer still has several input/output tiles and a padded last tile
TILES = dict(tile_inputs=16, tile_outputs=8)
HIGH_ADC = dict(output_precision_bits=12, output_range_bits=12)


@pytest.fixture(scope="module")
def layer():
    """A programmed 4-bit 40 -> 20 layer with its scales and a test input."""
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(20, 40, generator=g) * 0.2
    s_w = float(weight.abs().max() / 7)
    w_int = integer_weights(weight, s_w, 4)
    lay = program_layer(w_int, 4, config=HardwareConfig(**TILES), seed=1, num_cycles=1)
    x = torch.randn(3, 5, 40, generator=g)
    s_a = float(x.abs().max() / 127)
    bias = torch.randn(20, generator=g)
    return dict(lay=lay, s_w=s_w, s_a=s_a, w_int=w_int, x=x, bias=bias)


def make(layer, **cfg):
    config = HardwareConfig(**{**TILES, **cfg})
    return MemristorLinear(layer["lay"], weight_scale=layer["s_w"], input_scale=layer["s_a"], bias=layer["bias"],
                           config=config, noise_seed=3)


def test_dac_grid_and_clipping():
    cfg = HardwareConfig()
    x = torch.tensor([-3.0, -1.0, -0.5 / 128, 0.0, 1.5 / 128, 0.3, 1.0, 2.0])
    v = dac(x, 1.0, cfg)
    steps = v / (0.6 / 128)
    assert torch.equal(steps, steps.round())  # 257 levels of 0.6/128 V
    assert v[0] == -0.6 and v[-1] == 0.6 and v[1] == -0.6 and v[-2] == 0.6  # clip at ±max|x|
    assert v[2] == 0.0 and steps[4] == 2.0  # round half to even
    assert dac(torch.linspace(-1, 1, 10001), 1.0, cfg).unique().numel() == 257


def test_adc_grid_and_clipping():
    cfg = HardwareConfig(output_precision_bits=4, output_range_bits=4)
    vals = torch.tensor([-20.0, -8.01, -3.0 / 32, 1.0 / 32, 0.51, 7.99, 100.0])
    q = adc(vals, cfg)
    assert torch.equal(q * 16, (q * 16).round())  # grid 1/16
    assert q[0] == -8.0 and q[1] == -8.0 and q[-1] == 8.0 and q[-2] == 8.0  # ±2^(Rb−1)
    assert q[2] == -2.0 / 16 and q[3] == 0.0  # half to even: −1.5 → −2, 0.5 → 0
    assert q[4] == 8.0 / 16
    assert adc(torch.linspace(-10, 10, 100001), cfg).unique().numel() == 2 ** 8 + 1


def reference_forward(layer, config: HardwareConfig):
    """Noiseless docs/CROSSBAR_MAPPING.md §2.6–§2.8 written out with loops in float64: Σ_b 2^b Σ_j ADC(c·Σ_i ΔI) · s_w s_a 127 + b."""
    lay, x = layer["lay"], layer["x"].double()
    volts = dac(x, 1.0 / (layer["s_a"] * 127), config)
    d = polyval(P.hhrs_poly, volts) - polyval(P.llrs_poly, volts)
    n_planes = lay.r_pos.shape[0]
    out = torch.zeros(*x.shape[:-1], lay.out_features, dtype=torch.float64)
    for p in range(n_planes):
        for j in range(0, lay.in_features, config.tile_inputs):
            rows = slice(j, j + config.tile_inputs)
            delta = (lay.r_pos[p, rows] - lay.r_neg[p, rows]).double()
            out += 2 ** (n_planes - 1 - p) * adc(config.current_scaling * d[..., rows] @ delta, config)
    return out * layer["s_w"] * layer["s_a"] * 127 + layer["bias"].double()


@pytest.mark.parametrize("adc_bits", [dict(), HIGH_ADC])
def test_noiseless_paths_equal_the_written_out_reference(layer, adc_bits):
    ref = reference_forward(layer, HardwareConfig(**TILES, **adc_bits))
    lsb = layer["s_w"] * layer["s_a"] * 127 / 2 ** HardwareConfig(**adc_bits).output_precision_bits
    for path in ("fast", "exact"):
        y = make(layer, noise="off", read_path=path, **adc_bits)(layer["x"])
        diff = (y.double() - ref).abs()
        # float32 summation order may flip a rounding: at most a few outputs, by whole ADC steps
        assert (diff > 1e-4).float().mean() < 0.02, path
        assert diff.max() <= 4 * lsb + 1e-4, path


def test_noiseless_fast_and_exact_agree_before_the_adc(layer):
    m = make(layer, noise="off")
    volts = dac(layer["x"], 1.0 / (layer["s_a"] * 127), m.config)
    exact = m.crossbar_values(volts, path="exact")
    fast = m.crossbar_values(volts, path="fast")
    assert exact.shape == fast.shape == (3, 3, 3, 5, 20)  # planes, input tiles, batch, time, out
    assert torch.allclose(fast, exact, rtol=1e-5, atol=1e-5)
    assert exact.abs().max() > 1.0


def test_crossbar_approximates_the_quantised_layer(layer):
    y = make(layer, noise="off")(layer["x"])
    ideal = torch.nn.functional.linear(layer["x"], layer["w_int"].float() * layer["s_w"], layer["bias"])
    corr = torch.corrcoef(torch.stack([y.flatten(), ideal.flatten()]))[0, 1]
    assert corr > 0.97
    assert ((y - ideal).norm() / (ideal - layer["bias"]).norm()) < 0.3


@pytest.mark.parametrize("noise", ["paper", "physical"])
def test_noisy_paths_agree_statistically(layer, noise):
    """Mean and std over repeated reads of the same input, pre-ADC resolution high enough to see the noise."""
    x = layer["x"][:1]  # batch of one: the exact path's batch sharing plays no role
    reps = 300
    outs = {}
    for path in ("fast", "exact"):
        m = make(layer, noise=noise, read_path=path, output_precision_bits=10, output_range_bits=8)
        outs[path] = torch.stack([m(x) for _ in range(reps)]).double()
    mf, me = outs["fast"].mean(0), outs["exact"].mean(0)
    sf, se = outs["fast"].std(0), outs["exact"].std(0)
    assert (se > 0).all()
    z = (mf - me) / torch.sqrt((sf ** 2 + se ** 2) / reps)
    assert z.abs().max() < 5.0  # 100 outputs: 5 sigma is a generous family-wise bound
    ratio = (sf / se).mean()
    assert ratio == pytest.approx(1.0, abs=0.04)
    assert ((sf / se).log().abs() < 0.35).all()  # std estimates from 300 reads agree to ~±12 % (3 sigma)


def test_paper_noise_is_larger_than_physical(layer):
    x = layer["x"][:1]
    stds = {}
    for noise in ("paper", "physical"):
        m = make(layer, noise=noise, **HIGH_ADC)
        stds[noise] = torch.stack([m(x) for _ in range(100)]).std(0).mean().item()
    assert stds["paper"] > 10 * stds["physical"]


def test_exact_path_shares_noise_over_the_batch(layer):
    x = layer["x"][:1].expand(2, -1, -1).contiguous()  # two identical sequences
    ye = make(layer, noise="paper", read_path="exact", **HIGH_ADC)(x)
    yf = make(layer, noise="paper", read_path="fast", **HIGH_ADC)(x)
    assert torch.equal(ye[0], ye[1])  # the paper's broadcast_noise_dims = 1
    assert not torch.equal(yf[0], yf[1])  # fast draws per row


def test_noise_is_seeded_and_fresh_per_call(layer):
    a, b = make(layer), make(layer)
    ya1, ya2, yb1 = a(layer["x"]), a(layer["x"]), b(layer["x"])
    assert torch.equal(ya1, yb1) and not torch.equal(ya1, ya2)
    a.reset_noise()
    assert torch.equal(a(layer["x"]), ya1)


def test_planes_are_recombined_by_powers_of_two(layer):
    """Swap in crafted states: only the MSB plane of output 0 has a SET cell on input 0."""
    lay = layer["lay"]
    r_hrs, r_lrs = 0.84, 0.16
    r_pos = torch.full_like(lay.r_pos, r_hrs)
    r_neg = torch.full_like(lay.r_neg, r_hrs)
    crafted = type(lay)(r_pos=r_pos, r_neg=r_neg, weight_bits=4, weight_digest="")
    x = torch.zeros(1, 40)
    x[0, 0] = layer["s_a"] * 127  # full-scale input: 0.6 V
    outs = []
    for plane in range(3):
        r_pos.fill_(r_hrs)
        r_pos[plane, 0, 0] = r_lrs
        m = MemristorLinear(crafted, weight_scale=1.0, input_scale=layer["s_a"],
                            config=HardwareConfig(noise="off", **HIGH_ADC))
        outs.append(m(x)[0, 0].item() / (layer["s_a"] * 127))
    pair = 8020.0 * (r_hrs - r_lrs) * float(polyval(P.llrs_poly, torch.tensor(0.6)) - polyval(P.hhrs_poly, torch.tensor(0.6)))
    assert outs == pytest.approx([4 * pair, 2 * pair, pair], abs=4 / 2 ** 12)
    assert pair == pytest.approx(1.0, abs=0.01)  # c = 8020 normalises one LRS/HRS pair at 0.6 V to about 1


def test_bad_inputs_are_reported(layer):
    m = make(layer)
    with pytest.raises(ValueError, match=r"input must be \[..., 40\], got \(3, 39\)"):
        m(torch.zeros(3, 39))
    with pytest.raises(TypeError, match="float32, got torch.float64"):
        m(torch.zeros(3, 40, dtype=torch.float64))
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        m([0.0] * 40)
    with pytest.raises(ValueError, match="input_scale must be finite"):
        MemristorLinear(layer["lay"], weight_scale=1.0, input_scale=float("nan"))
    with pytest.raises(ValueError, match="bias must be 20 finite values"):
        MemristorLinear(layer["lay"], weight_scale=1.0, input_scale=1.0, bias=torch.zeros(19))
    broken = type(layer["lay"])(r_pos=layer["lay"].r_pos[:2], r_neg=layer["lay"].r_neg, weight_bits=4, weight_digest="")
    with pytest.raises(ValueError, match=r"r_pos must be a float \[3, in, out\]"):
        MemristorLinear(broken, weight_scale=1.0, input_scale=1.0)


def test_output_shape_and_leading_dims(layer):
    m = make(layer)
    assert m(torch.zeros(40)).shape == (20,)
    assert m(torch.zeros(2, 3, 4, 40)).shape == (2, 3, 4, 20)
    y0 = m(torch.zeros(7, 40))
    assert torch.allclose(y0, layer["bias"].expand(7, -1))  # 0 V: no current, no noise
    assert m(torch.zeros(0, 40)).shape == (0, 20)  # an empty batch


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_fast_and_exact_on_cuda(layer):
    for path in ("fast", "exact"):
        m = make(layer, noise="off", read_path=path, **HIGH_ADC)
        y_cpu = m(layer["x"])
        y_gpu = m.to("cuda")(layer["x"].cuda()).cpu()
        lsb = layer["s_w"] * layer["s_a"] * 127 / 2 ** 12
        assert torch.allclose(y_cpu, y_gpu, atol=2 * lsb + 1e-5)


def test_fast_noise_does_not_depend_on_the_thread_count(layer):
    before = torch.get_num_threads()
    outs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            outs.append(make(layer)(layer["x"]))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_runs_under_no_grad_and_inference_mode(layer, mode):
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the noise is then drawn in worker threads
    try:
        with getattr(torch, mode)():
            y = make(layer)(layer["x"])
    finally:
        torch.set_num_threads(before)
    assert torch.equal(y, make(layer)(layer["x"]))


def test_copies_restart_the_noise_from_the_seed(layer):
    import copy
    import io

    m = make(layer)
    y = m(layer["x"])  # generators and cached matrices exist now
    twin = copy.deepcopy(m)
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    for other in (twin, loaded):
        assert torch.equal(other(layer["x"]), y)
