"""The compiled fast-read kernel: Threefry known answers, the normals' distribution and numbering, the
fused epilogue against a torch reference, its use in MemristorLinear, and the fallback without it."""

import math
import os
import subprocess
import sys

import pytest
import torch

from memristor_asr.memristor import kernel, linear, read_plan
from memristor_asr.memristor.config import HardwareConfig
from memristor_asr.memristor.crossbar import integer_weights, program_layer
from memristor_asr.memristor.linear import MemristorLinear, dac

pytestmark = pytest.mark.skipif(not kernel.available(), reason=f"kernel unavailable: {kernel.unavailable_reason()}")


def test_threefry_matches_the_random123_known_answers():
    # kat_vectors of Random123 (Salmon et al., SC'11), threefry4x32 with 20 rounds
    cases = [
        ([0, 0, 0, 0], [0, 0, 0, 0], [0x9C6CA96A, 0xE17EAE66, 0xFC10ECD4, 0x5256A7D8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 4, [0x2A881696, 0x57012287, 0xF6C7446E, 0xA16A6732]),
        ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0, 0x082EFA98, 0xEC4E6C89],
         [0x59CD1DBB, 0xB8879579, 0x86B5D00C, 0xAC8B6D84]),
    ]
    for counter, key, expected in cases:
        assert kernel.threefry4x32_20(counter, key) == expected


def test_normals_are_standard_normal():
    n = 2 ** 21
    z = kernel.normal(n, seed=11, stream=5).double()
    assert torch.isfinite(z).all()
    se = 1 / math.sqrt(n)
    assert abs(z.mean().item()) < 5 * se
    assert z.var().item() == pytest.approx(1.0, abs=5 * math.sqrt(2) * se)
    assert abs((z ** 3).mean().item()) < 5 * math.sqrt(15) * se  # skewness 0
    assert (z ** 4).mean().item() == pytest.approx(3.0, abs=5 * math.sqrt(96) * se)  # kurtosis 3
    # Kolmogorov–Smirnov distance to Φ; 1.95/sqrt(n) is the 0.1 % critical value
    zs = z.sort().values
    cdf = torch.special.ndtr(zs)
    ranks = torch.arange(1, n + 1, dtype=torch.float64) / n
    ks = torch.maximum(ranks - cdf, cdf - (ranks - 1 / n)).max().item()
    assert ks < 1.95 / math.sqrt(n)
    for k in (2.0, 3.0, 4.0):  # two-sided tail masses
        p = math.erfc(k / math.sqrt(2))
        observed = (z.abs() > k).double().mean().item()
        assert observed == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))


def test_normals_are_numbered_independently_of_the_window():
    full = kernel.normal(1000, seed=1, stream=2)
    for first, n in ((0, 1), (3, 61), (63, 2), (64, 64), (100, 900), (999, 1)):
        assert torch.equal(kernel.normal(n, seed=1, stream=2, first=first), full[first:first + n])


def test_seeds_and_streams_give_independent_normals():
    base = kernel.normal(2 ** 16, seed=1, stream=0)
    for other in (kernel.normal(2 ** 16, seed=2, stream=0), kernel.normal(2 ** 16, seed=1, stream=1),
                  kernel.normal(2 ** 16, seed=1, stream=2 ** 40)):
        corr = torch.corrcoef(torch.stack([base, other]))[0, 1].item()
        assert abs(corr) < 5 / math.sqrt(2 ** 16)
    # neighbours within one stream too (cos and sin of one Box–Muller pair are uncorrelated)
    corr = torch.corrcoef(torch.stack([base[:-1], base[1:]]))[0, 1].item()
    assert abs(corr) < 5 / math.sqrt(2 ** 16)


def reference_epilogue(mean, var, base, cols, weights, lim, seed, stream0, row0, block, n_blocks):
    """What adc_accumulate computes, in torch: [tiles, rows, planes, width] → [rows, cols]."""
    tiles, rows, planes, width = mean.shape
    v = mean.clone()
    if isinstance(var, kernel.VarianceCounts):
        var = var.row_scale[:, :, None, None] * var.col_scale[:, None] * (var.counts + var.row_offset[:, :, None, None])
    if var is not None:
        for t in range(tiles):
            for r in range(rows):
                first = ((row0 + r) * n_blocks + block) * planes * width
                z = kernel.normal(planes * width, seed=seed, stream=stream0 + t, first=first).view(planes, width)
                v[t, r] += (var[t, r].float() + base[t, r]).clamp(min=0).sqrt() * z
    q = v.clamp(-lim, lim).round()
    return (q * weights.view(1, 1, -1, 1)).sum((0, 2))[:, :cols]


@pytest.mark.parametrize("var_kind", [None, "float32", "counts"])
def test_epilogue_matches_the_torch_reference(var_kind):
    g = torch.Generator().manual_seed(0)
    tiles, rows, planes, width, cols = 3, 37, 5, 64, 50
    mean = torch.randn(tiles, rows, planes, width, generator=g) * 40
    var = torch.rand(tiles, rows, planes, width, generator=g) * 9 if var_kind == "float32" else None
    if var_kind == "counts":  # as an integer matmul of 8-bit codes over 128 inputs gives them
        var = kernel.VarianceCounts(torch.randint(-127 * 255 * 128, 127 * 255 * 128, (tiles, rows, planes, width),
                                                  generator=g, dtype=torch.int32),
                                    torch.rand(tiles, rows, generator=g) * 1e-3,
                                    torch.randint(0, 127 * 255 * 128, (tiles, rows), generator=g, dtype=torch.int32),
                                    torch.rand(tiles, planes, width, generator=g) * 1e-3)
    base = torch.rand(tiles, rows, generator=g) - 0.2 if var_kind else None  # some σ² < 0: clipped at 0
    weights = torch.tensor([2.0 ** (planes - 1 - p) for p in range(planes)])
    args = dict(cols=cols, plane_weight=weights, lim=64.0, seed=7, stream0=9, row0=100, block=3, n_blocks=5)
    ref = reference_epilogue(mean, var, base, cols, weights, 64.0, 7, 9, 100, 3, 5)
    for threads in (1, 2, 3):
        out = torch.full((rows, cols + 4), 0.5)
        kernel.adc_accumulate(mean, var, base, out[:, :cols], threads=threads, **args)
        got = out[:, :cols] - 0.5
        assert torch.equal(out[:, cols:], torch.full((rows, 4), 0.5))  # columns beyond the block untouched
        if var is None:
            assert torch.equal(got, ref)
        else:
            # the kernel forms σ·z as sqrt(σ²·ρ²)·direction, the reference as sqrt(σ²)·(sqrt(ρ²)·direction):
            # a last-bit difference may move a value across an ADC threshold, rarely
            diff = (got - ref).abs()
            assert (diff == 0).float().mean() > 0.999
            assert diff.max() <= weights[0]


def test_epilogue_rejects_bad_arguments():
    mean = torch.zeros(1, 2, 3, 64)
    w = torch.ones(3)
    args = dict(plane_weight=w, lim=8.0, seed=0, stream0=0, row0=0, block=0, n_blocks=1)
    with pytest.raises(ValueError, match="cols"):
        kernel.adc_accumulate(mean, None, None, torch.zeros(2, 64), cols=65, **args)
    with pytest.raises(ValueError, match="mean must be"):
        kernel.adc_accumulate(mean[0], None, None, torch.zeros(2, 64), cols=64, **args)
    with pytest.raises(ValueError, match="var"):
        kernel.adc_accumulate(mean, torch.zeros(1, 2, 3, 32), torch.zeros(1, 2), torch.zeros(2, 64), cols=64, **args)
    with pytest.raises(ValueError, match="out must be"):
        kernel.adc_accumulate(mean, None, None, torch.zeros(3, 64), cols=64, **args)
    with pytest.raises(ValueError, match="contiguous"):
        kernel.adc_accumulate(mean.double(), None, None, torch.zeros(2, 64), cols=64, **args)


@pytest.fixture(scope="module")
def layer():
    """A programmed 5-bit 300 → 70 layer (3 input tiles, 2 column blocks) and a test input."""
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(70, 300, generator=g) * 0.1
    s_w = float(weight.abs().max() / 15)
    lay = program_layer(integer_weights(weight, s_w, 5), 5, config=HardwareConfig(pulses_per_cycle=0), seed=2,
                        num_cycles=1)
    x = torch.randn(2, 40, 300, generator=g)
    return dict(lay=lay, s_w=s_w, s_a=float(x.abs().max() / 127), x=x, bias=torch.randn(70, generator=g))


def make(layer, **cfg):
    return MemristorLinear(layer["lay"], weight_scale=layer["s_w"], input_scale=layer["s_a"], bias=layer["bias"],
                           config=HardwareConfig(**cfg), noise_seed=5)


def test_forward_uses_the_normals_of_crossbar_values(layer, monkeypatch):
    """The kernel's forward equals the ADC of the fast crossbar_values of the same noise call."""
    monkeypatch.setenv("MEMRISTOR_ASR_VARIANCE_DTYPE", "float32")  # as crossbar_values' torch matmul
    m = make(layer, output_precision_bits=6, output_range_bits=6)
    y = m(layer["x"])
    m.reset_noise()
    volts = dac(layer["x"], 1.0 / (layer["s_a"] * 127), m.config)
    vals = m.crossbar_values(volts)  # [P, T_in, ..., out], the first noise call after the reset
    q = linear.adc(vals, m.config)
    weights = torch.tensor(m.plane_weights).view(-1, 1, 1, 1, 1)
    y_ref = (q * weights).sum((0, 1)) * m.output_factor + layer["bias"]
    diff = (y - y_ref).abs()
    step = m.output_factor / 2 ** 6
    assert (diff < 1e-3 * step + 1e-5).float().mean() > 0.999
    assert diff.max() <= 2 ** (m.num_planes - 1) * step * 1.001


def test_kernel_and_torch_fast_paths_agree_statistically(layer, monkeypatch):
    x = layer["x"][:1, :8]
    reps = 200
    outs = {}
    for name in ("kernel", "torch"):
        if name == "torch":
            monkeypatch.setattr(kernel, "load", lambda: None)
        m = make(layer, output_precision_bits=10, output_range_bits=8)
        outs[name] = torch.stack([m(x) for _ in range(reps)]).double()
    mk, mt = outs["kernel"].mean(0), outs["torch"].mean(0)
    sk, st = outs["kernel"].std(0), outs["torch"].std(0)
    z = (mk - mt) / torch.sqrt((sk ** 2 + st ** 2) / reps)
    assert z.abs().max() < 5.5  # 560 outputs
    assert (sk / st).mean().item() == pytest.approx(1.0, abs=0.03)


def test_noiseless_kernel_path_equals_the_torch_path(layer, monkeypatch):
    y = make(layer, noise="off")(layer["x"])
    monkeypatch.setattr(kernel, "load", lambda: None)
    assert torch.allclose(make(layer, noise="off")(layer["x"]), y, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype, bound", [("float32", 1e-4), ("int8", 2 ** -7)])
def test_noise_sigma_of_the_fast_path_is_accurate(layer, monkeypatch, dtype, bound):
    """σ of every (row, plane, tile, column) from the fast path's two-part variance against the
    per-cell sum Σ_i w·|I| in float64, for both variance matmul types."""
    from memristor_asr.memristor.cells import noise_weight, polyval
    from memristor_asr.memristor.params import cached_default_params

    monkeypatch.setenv("MEMRISTOR_ASR_VARIANCE_DTYPE", dtype)
    m = make(layer)
    km = m.read_plan().arranged(read_plan.KERNEL)
    volts = dac(layer["x"].reshape(-1, 300), 1.0 / (layer["s_a"] * 127), m.config)
    volts[:3] = 0.0  # a frame with a single input: one term carries all of the r-dependent variance
    volts[:3, 7] = 0.3
    _, var_in, var_base = m.read_plan().inputs(volts, "paper")
    if dtype == "int8":
        assert km.var.dtype == torch.int8 and km.var_scale is not None
        codes, row_scale = read_plan.unsigned_codes(var_in, 2)
        counts = torch.stack([torch.stack([torch._int_mm(codes[j], km.var[b, j]) for j in range(len(codes))])
                              for b in range(len(km.var))])  # [blocks, T_in, R, P*cb]
        offset = 127 * codes.sum(2, dtype=torch.int32)
        var = row_scale * km.var_scale.flatten(2)[:, :, None] * (counts + offset[..., None]) + var_base
    else:
        assert km.var.dtype == torch.float32 and (km.var >= 0).all()
        var = torch.stack([torch.bmm(var_in, km.var[b]) + var_base for b in range(len(km.var))])
    n_blocks, t_in, rows = var.shape[:3]
    got = var.clamp(min=0).sqrt().view(n_blocks, t_in, rows, m.num_planes, km.cb).permute(1, 2, 3, 0, 4)
    got = got.reshape(t_in, rows, m.num_planes, -1)[..., :70].double()  # [T_in, R, P, out]

    params = cached_default_params()
    lsb2 = (8020.0 * 2 ** m.config.output_precision_bits) ** 2
    ref = torch.zeros(t_in, rows, m.num_planes, 70, dtype=torch.float64)
    for j in range(t_in):
        v = volts[:, j * 128:(j + 1) * 128, None].double()  # [R, ti, 1]
        w, i_l = noise_weight(v, "paper"), polyval(params.llrs_poly.double(), v)
        d = polyval(params.hhrs_poly.double(), v) - i_l
        for p in range(m.num_planes):
            for r in (layer["lay"].r_pos, layer["lay"].r_neg):
                cur = i_l + d * r[p, j * 128:(j + 1) * 128].double()  # [R, ti, out]
                ref[j, :, p] += (w * cur.abs()).sum(1) * lsb2
    ref = ref.sqrt()
    big = ref > 0.1  # σ above a tenth of an ADC step
    assert big.float().mean() > 0.5
    assert ((got - ref).abs() / ref)[big].max() < bound
    assert (got - ref).abs().max() < 0.02


@pytest.mark.parametrize("tile, n_in, n_out, bits, rows", [(64, 150, 70, 4, 1), (200, 450, 130, 6, 33),
                                                         (300, 300, 65, 3, 5), (128, 128, 1, 8, 7)])
def test_eight_bit_and_float32_variances_agree_for_any_layer_shape(monkeypatch, tile, n_in, n_out, bits, rows):
    """Same normals, σ from 8-bit codes or float32: the outputs differ far less than two noise draws
    do (odd tile sizes, a tile above 259 inputs, partial column blocks, a single output)."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(n_out, n_in, generator=g) * 0.1
    s_w = float(w.abs().max() / (2 ** (bits - 1) - 1))
    cfg = dict(tile_inputs=tile, tile_outputs=min(tile, 128), pulses_per_cycle=0)
    lay = program_layer(integer_weights(w, s_w, bits), bits, config=HardwareConfig(**cfg), seed=1, num_cycles=1)
    x = torch.randn(rows, n_in, generator=g)
    outs = {}
    for dtype in ("int8", "float32"):
        monkeypatch.setenv("MEMRISTOR_ASR_VARIANCE_DTYPE", dtype)
        m = MemristorLinear(lay, weight_scale=s_w, input_scale=float(x.abs().max() / 127), noise_seed=3,
                            config=HardwareConfig(**cfg, output_precision_bits=10, output_range_bits=8))
        outs[dtype] = (m(x), m(x))  # noise calls 0 and 1
    same = (outs["int8"][0] - outs["float32"][0]).abs().mean()
    other = (outs["int8"][1] - outs["float32"][0]).abs().mean()
    assert other > 0
    assert same < 0.05 * other


def test_eight_bit_codes_round_to_the_nearest_level():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 5, 128, generator=g) ** 3
    x[1, 2] = 0.0  # an all-zero row: scale 1, codes 0
    for fn, lo, hi, offset in ((read_plan.unsigned_codes, 0, 255, 0), (read_plan.centred_codes, -127, 127, 127)):
        codes, scale = fn(x, 2)
        assert scale.shape == (4, 5, 1) and scale[1, 2] == 1.0
        assert codes.int().min() >= lo and codes.int().max() == hi  # the row maximum takes the top code
        back = scale * (codes.float() + offset)
        assert ((back - x).abs() <= scale / 2 * (1 + 1e-5)).all()
        assert torch.equal(back[1, 2], torch.zeros(128))


def test_variance_dtype_setting(monkeypatch):
    monkeypatch.setenv("MEMRISTOR_ASR_VARIANCE_DTYPE", "float32")
    assert read_plan.variance_dtype() == torch.float32
    monkeypatch.setenv("MEMRISTOR_ASR_VARIANCE_DTYPE", "int8")
    assert read_plan.variance_dtype() == torch.int8
    monkeypatch.delenv("MEMRISTOR_ASR_VARIANCE_DTYPE")  # auto: int8 only with 8-bit dot products
    monkeypatch.setattr(read_plan.kernel, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert read_plan.variance_dtype() == torch.float32
    monkeypatch.setattr(read_plan.kernel, "cpu_flags", lambda: frozenset({"avx2", "avx512_vnni"}))
    assert read_plan.variance_dtype() == torch.int8
    monkeypatch.setenv("MEMRISTOR_ASR_VARIANCE_DTYPE", "bfloat16")
    with pytest.raises(ValueError, match="MEMRISTOR_ASR_VARIANCE_DTYPE"):
        read_plan.variance_dtype()


def test_missing_compiler_falls_back_to_torch_with_a_warning(tmp_path):
    code = ("import warnings, torch\n"
            "from memristor_asr.memristor import kernel\n"
            "from memristor_asr.memristor.crossbar import program_layer\n"
            "from memristor_asr.memristor.config import HardwareConfig\n"
            "from memristor_asr.memristor.linear import MemristorLinear\n"
            "lay = program_layer(torch.ones(4, 8, dtype=torch.int64), 3, config=HardwareConfig(pulses_per_cycle=0),"
            " seed=0, num_cycles=1)\n"
            "m = MemristorLinear(lay, weight_scale=0.1, input_scale=0.01)\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    y = m(torch.randn(3, 8))\n"
            "print(kernel.available(), y.shape[-1], [str(x.message) for x in w])\n")
    env = {**os.environ, "CC": "false", "MEMRISTOR_ASR_KERNEL_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False 4 ")
    assert "kernel unavailable" in out.stdout and "compiling the fast-read kernel failed" in out.stdout
    assert not list(tmp_path.glob("*.so"))  # no half-written library left behind


def test_build_is_cached_per_source_and_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMRISTOR_ASR_KERNEL_DIR", str(tmp_path))
    path = kernel.build()
    assert path.parent == tmp_path and path.exists()
    mtime = path.stat().st_mtime_ns
    assert kernel.build() == path and path.stat().st_mtime_ns == mtime  # not rebuilt
