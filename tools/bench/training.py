#!/usr/bin/env python3
"""Training throughput on CPU: seconds of audio trained per wall-clock second, float vs fake-quant.

For the ``mini`` and ``paper`` model sizes, times complete training steps (forward incl. SpecAugment
as configured, CTC loss, backward, gradient clipping, RAdam step) on a batch of random log-mel
features with random label targets, first for the float model and then for its 4-bit QAT variant
(8-bit activations, q/k/v/softmax quantised), and prints a table with the fake-quant/float time ratio
measured in the same run.

usage: tools/bench/training.py [--steps N] [--threads T] [--sizes mini,paper]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from memristor_asr.nn import ConformerCTCModel, count_parameters
from users.memristor.setups import setup_named
from memristor_asr.training.trainer import ctc_loss_sum

# batch per size: (number of utterances, seconds each); the paper uses 300 s batches on a GPU, on
# CPU a smaller batch gives the same per-second throughput without minutes per step
BATCHES = {"mini": (6, 4.0), "paper": (2, 8.0)}


def make_batch(num: int, seconds: float, num_labels: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    frames = int(seconds * 100)
    features = torch.randn(num, frames, 80, generator=gen) * 2 - 5
    lengths = torch.full((num,), frames, dtype=torch.int64)
    target_lengths = torch.full((num,), int(seconds * 12), dtype=torch.int64)  # ~12 phonemes per second
    targets = torch.randint(0, num_labels - 1, (int(target_lengths.sum()),), generator=gen)
    return features, lengths, targets, target_lengths


def time_steps(model_cfg, batch, steps: int) -> float:
    """Median seconds per training step (after one warm-up step; the median resists other load)."""
    torch.manual_seed(0)
    model = ConformerCTCModel(model_cfg).train()
    optimizer = torch.optim.RAdam(model.parameters(), lr=1e-4, eps=1e-16, weight_decay=1e-2,
                                  decoupled_weight_decay=True, foreach=True)
    features, lengths, targets, target_lengths = batch

    def step():
        log_probs, out_lengths = model(features, lengths)
        loss = ctc_loss_sum(log_probs, out_lengths, targets, target_lengths) / int(target_lengths.sum())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration (median reported)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: robust against other load on a shared machine)")
    parser.add_argument("--sizes", default="mini,paper", help="comma-separated profile names")
    parser.add_argument("--bits", type=int, default=4, help="weight bits of the fake-quant variant")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for size in args.sizes.split(","):
        profile = setup_named(size).training
        num, seconds = BATCHES.get(size, (4, 4.0))
        batch = make_batch(num, seconds, profile.model.num_labels)
        audio = num * seconds
        float_step = time_steps(profile.model, batch, args.steps)
        quant_step = time_steps(profile.model.quantized_variant(args.bits), batch, args.steps)
        rows.append((size, count_parameters(ConformerCTCModel(profile.model)) / 1e6, audio, float_step,
                     audio / float_step, quant_step, audio / quant_step, quant_step / float_step))

    print(f"training throughput on CPU ({args.threads} threads, median of {args.steps} steps, QAT = {args.bits}-bit "
          f"weights + 8-bit activations)")
    header = ("size", "params [M]", "batch [s audio]", "float [s/step]", "float [s audio/s]", "QAT [s/step]",
              "QAT [s audio/s]", "QAT/float time")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for size, params, audio, fs, fa, qs, qa, ratio in rows:
        print(f"| {size} | {params:.2f} | {audio:.0f} | {fs:.3f} | {fa:.1f} | {qs:.3f} | {qa:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
