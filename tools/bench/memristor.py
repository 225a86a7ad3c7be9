"""Benchmark of the simulated memristor layer: forward time of one 384→1536 layer on 1000 frames,
against a plain fp32 linear and a fake-quantised linear measured in the same run, plus the cell
programming time per million cells.

    python tools/bench/memristor.py [--bits 3 4 8] [--frames 1000] [--device cpu] [--threads N]

Goal (issue 3): ``fast`` ≤ (2(N−1)+2) × fp32 on CPU. The fast path does two matmuls per bit plane:
the current in float32 (one fp32-linear equivalent per plane) and the noise variance (on CPU an
integer matmul of 8-bit codes, about a quarter of that); the rest is the Gaussian noise draw (one per
plane, input tile, output and frame), the ADC and the recombination, which on CPU run in the
compiled kernel (memristor_asr.memristor.kernel). The header line says whether the kernel is in use
and in which type the variance matmul runs. The fp32 and fake-quant baselines take a few ms, so
they are timed 5× as often as the simulated paths, for a stable median.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

from memristor_asr.memristor.config import HardwareConfig
from memristor_asr.memristor.crossbar import integer_weights, program_layer
from memristor_asr.memristor import kernel
from memristor_asr.memristor.linear import MemristorLinear
from memristor_asr.memristor.read_plan import variance_dtype


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn()`` in ms after one warm-up call."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bits", type=int, nargs="+", default=[3, 4, 8])
    ap.add_argument("--in-features", type=int, default=384)
    ap.add_argument("--out-features", type=int, default=1536)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--exact-frames", type=int, default=100,
                    help="frames for the (slow) exact path; its time is scaled to --frames")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--num-cycles", type=int, default=1, help="pre-cycling steps when programming (x50 pulses)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    n_in, n_out = args.in_features, args.out_features
    weight = (torch.randn(n_out, n_in, generator=gen) * 0.05).to(device)
    bias = (torch.randn(n_out, generator=gen) * 0.1).to(device)
    x = torch.randn(1, args.frames, n_in, generator=gen).to(device)
    x_exact = x[:, : args.exact_frames]
    s_a = float(x.abs().max() / 127)
    config = HardwareConfig()
    print(f"device {device}, torch threads {torch.get_num_threads()}, layer {n_in}->{n_out}, input {tuple(x.shape)}, "
          f"tiles {config.tile_inputs}x{config.tile_outputs}, ADC {config.output_precision_bits}+"
          f"{config.output_range_bits} bits, noise '{config.noise}'")
    if device.type == "cpu":
        if kernel.available():
            print(f"fast path: compiled kernel in use, variance matmul in {str(variance_dtype()).replace('torch.', '')}")
        else:
            print(f"fast path: compiled kernel unavailable ({kernel.unavailable_reason()}): plain torch, variance "
                  "matmul in float32")

    forward_rows, program_rows = [], []
    for bits in args.bits:
        qmax = 2 ** (bits - 1) - 1
        s_w = float(weight.abs().max() / qmax)
        w_int = integer_weights(weight, s_w, bits)
        t0 = time.perf_counter()
        lay = program_layer(w_int, bits, config=config, seed=0, num_cycles=args.num_cycles, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t_prog = time.perf_counter() - t0
        cells = (bits - 1) * math.ceil(n_in / config.tile_inputs) * math.ceil(n_out / config.tile_outputs) * 2 * (
            config.tile_inputs * config.tile_outputs)
        pulses = args.num_cycles * config.pulses_per_cycle + 2
        program_rows.append((bits, cells, pulses, t_prog))

        def layer(**changes):
            return MemristorLinear(lay, weight_scale=s_w, input_scale=s_a, bias=bias, config=config.replace(**changes),
                                   noise_seed=0).to(device)

        fast, fast_quiet, exact = layer(), layer(noise="off"), layer(read_path="exact")
        zero = torch.zeros((), dtype=torch.int32, device=device)
        with torch.no_grad():
            t_fp32 = timed(lambda: F.linear(x, weight, bias), device, 5 * args.repeats)
            t_fq = timed(lambda: F.linear(torch.fake_quantize_per_tensor_affine(x, s_a, 0, -127, 127),
                                          torch.fake_quantize_per_tensor_affine(weight, torch.tensor(s_w, device=device),
                                                                                zero, -qmax, qmax), bias),
                         device, 5 * args.repeats)
            t_fast = timed(lambda: fast(x), device, args.repeats)
            t_quiet = timed(lambda: fast_quiet(x), device, args.repeats)
            t_exact = timed(lambda: exact(x_exact), device, max(1, args.repeats // 5)) * args.frames / x_exact.shape[1]
        forward_rows.append((bits, t_fp32, t_fq, t_fast, t_quiet, t_exact))

    print(f"\nforward of {args.frames} frames, median of {args.repeats} (exact: measured on {x_exact.shape[1]} "
          f"frames, scaled)")
    head = f"{'N':>2} {'fp32 ms':>9} {'fakeq ms':>9} {'fast ms':>9} {'fast-nonoise':>12} {'exact ms':>10} " \
           f"{'fast/fp32':>9} {'goal':>5} {'met':>4}"
    print(head)
    print("-" * len(head))
    for bits, t_fp32, t_fq, t_fast, t_quiet, t_exact in forward_rows:
        ratio, goal = t_fast / t_fp32, 2 * (bits - 1) + 2
        print(f"{bits:>2} {t_fp32:9.2f} {t_fq:9.2f} {t_fast:9.2f} {t_quiet:12.2f} {t_exact:10.1f} {ratio:9.2f} "
              f"{goal:>5} {'yes' if ratio <= goal else 'no':>4}")

    print(f"\nprogramming (num_cycles {args.num_cycles}: {args.num_cycles} x {config.pulses_per_cycle} pre-cycling "
          f"pulses + RESET + SET), fresh cells per array")
    head = f"{'N':>2} {'cells':>10} {'pulses':>6} {'seconds':>8} {'s/Mcell':>8} {'ms/Mcell/pulse':>14}"
    print(head)
    print("-" * len(head))
    for bits, cells, pulses, t_prog in program_rows:
        per_m = t_prog / (cells / 1e6)
        print(f"{bits:>2} {cells:>10} {pulses:>6} {t_prog:8.2f} {per_m:8.2f} {1e3 * per_m / pulses:14.2f}")


if __name__ == "__main__":
    main()
