"""Checks of the accelerator code paths, prepared to run in one go on a lent GPU machine.

The test suite runs on CPU (CI has no GPU), so this script exercises what only a GPU can: cell
programming, both crossbar read paths, the mapping options (depthwise conv, 4-level cells), float and
QAT training and the converted model's forward on
CUDA, each compared with the CPU result or checked for learning. It prints one line per check and a
table of timings, and exits non-zero if a check fails.

    PYTHONPATH=recipe:tools python3 tools/gpu_check.py [--device cuda] [--quick]

It needs torch, numpy and h5py only (no corpus, no decoder); ``--device cpu`` runs the same
checks on the CPU, which is how the script itself is tested.
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from typing import Callable, List, Tuple

import torch
import torch.nn.functional as F

from bench.memristor import timed as bench_timed
from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.memristor.config import HardwareConfig, ProgrammingConfig, ReadConfig
from memristor_asr.memristor.convert import load_programmed, program_model
from memristor_asr.memristor.crossbar import integer_weights, program_layer
from memristor_asr.memristor.conv import MemristorDepthwiseConv1d
from memristor_asr.memristor.levels import digit_planes, plane_weights
from memristor_asr.memristor.linear import MemristorLinear
from memristor_asr.nn import ModelConfig, load_model
from memristor_asr.training.data import CTCDataset
from memristor_asr.training.synthetic import make_synthetic_corpus
from memristor_asr.training.trainer import TrainConfig, train

RESULTS: List[Tuple[str, bool, str]] = []
TIMINGS: List[Tuple[str, float]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, bool(ok), detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}", flush=True)


def record(name: str, fn: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """Median seconds of ``fn()`` (after a warm-up call), added to the timing table."""
    seconds = bench_timed(fn, device, repeats) / 1e3
    TIMINGS.append((name, seconds))
    return seconds


def check_programming(device: torch.device, n_in: int, n_out: int) -> None:
    """Cells programmed on the device have the distribution of cells programmed on the CPU."""
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(n_out, n_in, generator=g) * 0.05
    s_w = float(weight.abs().max() / 7)
    w_int = integer_weights(weight, s_w, 4)
    cfg = HardwareConfig()
    t0 = time.perf_counter()
    on_dev = program_layer(w_int, 4, config=cfg, seed=1, num_cycles=1, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    TIMINGS.append((f"program {n_in}x{n_out}, 4 bit, 52 pulses", time.perf_counter() - t0))
    on_cpu = program_layer(w_int, 4, config=cfg, seed=1, num_cycles=1, device="cpu")
    for name in ("r_pos", "r_neg"):
        a, b = getattr(on_dev, name).float().cpu(), getattr(on_cpu, name).float()
        check(f"programming on {device.type}: {name} is finite", bool(torch.isfinite(a).all()))
        for label, sel in (("SET", a < 0.5), ("RESET", a >= 0.5)):
            sel_b = b < 0.5 if label == "SET" else b >= 0.5
            share_a, share_b = sel.float().mean().item(), sel_b.float().mean().item()
            ma, mb = a[sel].mean().item(), b[sel_b].mean().item()
            sa, sb = a[sel].std().item(), b[sel_b].std().item()
            check(f"programming {name} {label} cells match CPU",
                  abs(share_a - share_b) < 0.01 and abs(ma - mb) < 0.01 and abs(sa / sb - 1) < 0.1,
                  f"share {share_a:.4f}/{share_b:.4f} mean {ma:.4f}/{mb:.4f} std {sa:.4f}/{sb:.4f}")


def check_reads(device: torch.device, frames: int, n_in: int, n_out: int) -> None:
    """Both read paths on the device against the CPU: equal without noise, same statistics with."""
    g = torch.Generator().manual_seed(1)
    weight = torch.randn(n_out, n_in, generator=g) * 0.05
    bias = torch.randn(n_out, generator=g) * 0.1
    x = torch.randn(1, frames, n_in, generator=g)
    s_a = float(x.abs().max() / 127)
    for bits in (3, 4, 8):
        s_w = float(weight.abs().max() / (2 ** (bits - 1) - 1))
        lay = program_layer(integer_weights(weight, s_w, bits), bits, config=HardwareConfig(pulses_per_cycle=5),
                            seed=bits, num_cycles=1)

        def make(**cfg) -> MemristorLinear:
            return MemristorLinear(lay, weight_scale=s_w, input_scale=s_a, bias=bias, config=HardwareConfig(**cfg),
                                   noise_seed=0)

        lsb = s_w * s_a * 127 / 2 ** 12
        with torch.no_grad():
            for path in ("fast", "exact"):
                xs = x[:, :64] if path == "exact" else x
                m = make(noise="off", read_path=path, output_precision_bits=12, output_range_bits=12)
                y_cpu = m(xs)
                y_dev = m.to(device)(xs.to(device)).cpu()
                err = (y_dev - y_cpu).abs().max().item()
                check(f"{bits}-bit {path} read, noise off: {device.type} = cpu", err <= 2 * lsb + 1e-5,
                      f"max |diff| {err:.2e} (2 lsb {2 * lsb:.2e})")
            xs = x[:, :32]
            reps = 100
            outs = {}
            for where in ("cpu", device.type):
                m = make(output_precision_bits=10, output_range_bits=8).to(where)
                outs[where] = torch.stack([m(xs.to(where)).cpu() for _ in range(reps)]).double()
            a, b = outs[device.type], outs["cpu"]
            z = (a.mean(0) - b.mean(0)) / torch.sqrt((a.var(0) + b.var(0)) / reps).clamp(min=1e-12)
            ratio = (a.std(0) / b.std(0).clamp(min=1e-12)).mean().item()
            check(f"{bits}-bit fast read with noise: {device.type} statistics = cpu",
                  z.abs().max().item() < 6 and abs(ratio - 1) < 0.05,
                  f"max |z| {z.abs().max().item():.2f}, std ratio {ratio:.3f}")
            m = make().to(device)
            xd, wd, bd = x.to(device), weight.to(device), bias.to(device)
            t_lin = record(f"fp32 linear, {frames} frames", lambda: F.linear(xd, wd, bd), device)
            t_fast = record(f"{bits}-bit fast read, {frames} frames", lambda: m(xd), device)
            TIMINGS.append((f"  ratio fast/fp32 at {bits} bit", t_fast / t_lin))


def check_training_and_conversion(device: torch.device, quick: bool) -> None:
    """Float and 4-bit QAT training on the device learn; the converted model runs there like on CPU."""
    tiny = ModelConfig(frontend_channels=(4, 8, 8, 4), model_dim=64, ff_dim=128, num_heads=2, num_blocks=2,
                       conv_kernel_size=7, feature_normalization=True)
    train_cfg = TrainConfig(num_epochs=4 if quick else 8, partition_epoch=1, batch_seconds=4.0, seqs_per_bin=16,
                            lr_start=1e-4, lr_peak=3e-3, lr_after_decay=1e-3, lr_final=1e-4, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_synthetic_corpus(tmp, num_train=60, num_dev=12, seed=0)

        def data(split: str) -> CTCDataset:
            return CTCDataset.load(features_path=corpus[f"{split}_features"], manifest_path=corpus[f"{split}_manifest"],
                                   lexicon_path=corpus["lexicon"], labels_path=corpus["labels"])

        for bits in (None, 4):
            cfg = ModelConfig(**{**tiny.__dict__, "weight_bits": bits, "dropout": 0.0, "att_weights_dropout": 0.0})
            tag = "float" if bits is None else f"{bits}-bit QAT"
            t0 = time.perf_counter()
            rows = train(model_cfg=cfg, train_cfg=train_cfg, train_data=data("train"), dev_data=data("dev"),
                         checkpoint_dir=f"{tmp}/ckpt{bits}", losses_csv=f"{tmp}/losses{bits}.csv",
                         final_checkpoint=f"{tmp}/model{bits}.pt", device=device,
                         convergence=None)  # throughput on a tiny synthetic corpus, not learning
            TIMINGS.append((f"train {tag}, {train_cfg.num_epochs} epochs of the synthetic corpus",
                            time.perf_counter() - t0))
            first, last = float(rows[0]["dev_loss"]), float(rows[-1]["dev_loss"])
            check(f"{tag} training on {device.type} learns", math.isfinite(last) and last < 0.7 * first,
                  f"dev loss {first:.3f} -> {last:.3f}")
        def qat_model() -> torch.nn.Module:
            return load_model(f"{tmp}/model4.pt")[0].eval()

        feats = torch.from_numpy(FeatureReader(corpus["dev_features"])[0].copy())[None]
        lengths = torch.tensor([feats.shape[1]])
        state = program_model(qat_model(), ProgrammingConfig(pulses_per_cycle=5), seed=0, num_cycles=1, device="cpu")
        read = ReadConfig(noise="off")
        with torch.no_grad():
            ref, _ = load_programmed(qat_model(), state, read)(feats, lengths)
            out, _ = load_programmed(qat_model(), state, read).to(device)(feats.to(device), lengths.to(device))
        err = (out.cpu() - ref).abs().max().item()
        check(f"converted 4-bit model on {device.type} = cpu (noise off)", err < 0.05, f"max |Δ log-prob| {err:.2e}")
        t0 = time.perf_counter()
        state_dev = program_model(qat_model().to(device), ProgrammingConfig(pulses_per_cycle=5), seed=0, num_cycles=2,
                                  device=device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        TIMINGS.append(("program the tiny QAT model (2 x 5 pulses)", time.perf_counter() - t0))
        check(f"program_model on {device.type}", state_dev.device_type == device.type and len(state_dev.layers) > 0)


def check_mappings(device: torch.device) -> None:
    """The options of the mapping on the device against the CPU: the depthwise conv's noise-off read;
    4-level cells' programmed states per level and their noise-off read."""
    g = torch.Generator().manual_seed(2)
    weight = torch.randn(64, 15, generator=g) * 0.1  # 64 channels, 15 taps
    s_w = float(weight.abs().max() / 7)
    lay = program_layer(integer_weights(weight, s_w, 4), 4, config=HardwareConfig(pulses_per_cycle=2), seed=1,
                        num_cycles=1)
    x = torch.randn(2, 64, 200, generator=g)
    s_a = float(x.abs().max() / 127)
    conv = MemristorDepthwiseConv1d(lay, weight_scale=s_w, input_scale=s_a, config=HardwareConfig(
        noise="off", output_precision_bits=12, output_range_bits=12))
    lsb = s_w * s_a * 127 / 2 ** 12
    with torch.no_grad():
        y_cpu = conv(x)
        err = (conv.to(device)(x.to(device)).cpu() - y_cpu).abs().max().item()
    check(f"depthwise conv read, noise off: {device.type} = cpu", err <= 2 * lsb + 1e-5,
          f"max |diff| {err:.2e} (2 lsb {2 * lsb:.2e})")

    weight = torch.randn(128, 256, generator=g) * 0.05
    s_w = float(weight.abs().max() / 7)
    w_int = integer_weights(weight, s_w, 4)
    cfg = HardwareConfig(levels=4, pulses_per_cycle=2)
    on_dev = program_layer(w_int, 4, config=cfg, seed=1, num_cycles=1, device=device)
    on_cpu = program_layer(w_int, 4, config=cfg, seed=1, num_cycles=1, device="cpu")
    digits = digit_planes(w_int, 4, 4).clamp(min=0)  # the positive line's levels
    means = [(on_dev.r_pos.cpu()[digits == d].mean().item(), on_cpu.r_pos[digits == d].mean().item()) for d in range(4)]
    check(f"4-level programming on {device.type}: r per level matches CPU",
          all(abs(a - b) < 0.02 for a, b in means), " ".join(f"{a:.3f}/{b:.3f}" for a, b in means))
    x = torch.randn(1, 100, 256, generator=g)
    s_a = float(x.abs().max() / 127)
    lin = MemristorLinear(on_cpu, weight_scale=s_w, input_scale=s_a, config=cfg.replace(
        noise="off", output_precision_bits=12, output_range_bits=12))
    lsb = s_w * s_a * 127 / 2 ** 12 * max(plane_weights(on_cpu.num_planes, 4))
    with torch.no_grad():
        y_cpu = lin(x)
        err = (lin.to(device)(x.to(device)).cpu() - y_cpu).abs().max().item()
    check(f"4-level fast read, noise off: {device.type} = cpu", err <= 2 * lsb + 1e-5,
          f"max |diff| {err:.2e} (2 lsb {2 * lsb:.2e})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--frames", type=int, default=16000, help="frames of the read-path timing")
    ap.add_argument("--quick", action="store_true", help="shorter training (for a CPU run of the script)")
    ap.add_argument("--layer", type=int, nargs=2, default=(384, 1536), metavar=("IN", "OUT"),
                    help="linear layer of the programming and read checks (default: a paper-size FF layer)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            sys.exit("gpu_check: no CUDA device (use --device cpu to run the checks on the CPU)")
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name(device)}", flush=True)
    else:
        print(f"torch {torch.__version__}, device {device}", flush=True)
    n_in, n_out = args.layer
    steps = [("programming", lambda: check_programming(device, n_in, n_out)),
             ("reads", lambda: check_reads(device, args.frames, n_in, n_out)),
             ("mapping options", lambda: check_mappings(device)),
             ("training and conversion", lambda: check_training_and_conversion(device, args.quick))]
    for name, step in steps:
        try:
            step()
        except Exception as e:  # a crash is a failed check; go on with the others
            check(f"{name} ran", False, f"{type(e).__name__}: {e}")
    print("\ntimings")
    for name, value in TIMINGS:
        print(f"  {name:<58} {value:10.4f}{'' if name.strip().startswith('ratio') else ' s'}")
    failed = [r for r in RESULTS if not r[1]]
    print(f"\n{len(RESULTS) - len(failed)} of {len(RESULTS)} checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
