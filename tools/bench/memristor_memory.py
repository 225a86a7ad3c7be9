"""Peak memory of the paper-size memristor model: programming a whole device and the memristor forward,
against the digital (fake-quantised) forward of the same model measured in the same run.

    python tools/bench/memristor_memory.py [--bits 3 8] [--seconds 30] [--threads N]

Each measurement runs in a fresh interpreter (``spawn``), which reports its peak resident memory
(``ru_maxrss``) and wall time, as the jobs do: programming writes the device file
(``ProgramCrossbarsJob``), the memristor forward loads it (``RecognitionJob``). Programming uses no
pre-cycling pulses: its memory is the state of one chunk of cells (``default_cells_per_chunk``) plus
the stored states of the device, and does not depend on the number of pulses (which only take
time: see ``tools/bench/memristor.py``).
The model is the paper setup's Conformer (12 × 384, ``ModelConfig()``) with random weights and
observers set by one training-mode forward; the forward reads ``--seconds`` of random features
(100 frames per second) as one sequence, as a recognition batch of that length would.
Goal (issue 19, point 3): both peaks fit the paper setup's ``mem`` rqmt of programming and recognition.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _paper_model(bits: int):
    import torch

    from memristor_asr.nn.config import ModelConfig
    from memristor_asr.nn.model import ConformerCTCModel

    torch.manual_seed(0)
    model = ConformerCTCModel(ModelConfig().quantized_variant(bits))
    model.train()
    with torch.no_grad():
        model(torch.randn(1, 400, 80), torch.tensor([400]))  # the observers see data
    return model.eval()


def _measure(what: str, bits: int, seconds: float, threads: int, device_file: str, queue) -> None:
    sys.path[:0] = [os.path.join(REPO, "recipe"), os.path.join(REPO, "tools")]
    import torch

    from memristor_asr.memristor.config import ProgrammingConfig
    from memristor_asr.memristor.convert import load_programmed, load_programmed_file, program_model, save_programmed

    if threads:
        torch.set_num_threads(threads)
    model = _paper_model(bits)
    frames = int(seconds * 100)
    x, lengths = torch.randn(1, frames, 80), torch.tensor([frames])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    cells = 0
    with torch.inference_mode():
        if what == "digital forward":
            model(x, lengths)
        elif what == "programming":
            state = program_model(model, ProgrammingConfig(pulses_per_cycle=0), seed=0, num_cycles=0)
            cells = state.num_cells
            save_programmed(state, device_file)
        else:
            state = load_programmed_file(device_file)
            cells = state.num_cells
            load_programmed(model, state)
            model(x, lengths)
    queue.put((what, bits, cells, time.perf_counter() - t0, base / 2 ** 20,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bits", type=int, nargs="+", default=[3, 8])
    ap.add_argument("--seconds", type=float, default=30.0, help="audio seconds of the forward's one sequence")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    args = ap.parse_args()
    if args.threads < 0:
        ap.error("--threads must be >= 0")
    sys.path[:0] = [REPO]
    from users.memristor.setups import PAPER

    import tempfile

    ctx = mp.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bits in args.bits:
            device_file = os.path.join(tmp, f"device{bits}.pt")
            for what in ("digital forward", "programming", "memristor forward"):
                queue = ctx.Queue()
                proc = ctx.Process(target=_measure, args=(what, bits, args.seconds, args.threads, device_file, queue))
                proc.start()
                row = queue.get()
                proc.join()
                rows.append(row)
                print(f"  measured {what}, {bits} bit: {row[5]:.2f} GB peak", flush=True)
    limits = {"programming": PAPER.program_rqmt["mem"], "memristor forward": PAPER.recog_rqmt["mem"],
              "digital forward": PAPER.recog_rqmt["mem"]}
    print(f"\npaper-size model (12 x 384), forward of one {args.seconds:g} s sequence; peak resident memory "
          f"of a fresh process (the model alone: 'before')")
    head = (f"{'N':>2} {'what':<18} {'cells [M]':>9} {'seconds':>8} {'before GB':>9} {'peak GB':>8} "
            f"{'x digital':>9} {'rqmt GB':>7} {'fits':>4}")
    print(head)
    print("-" * len(head))
    digital = {b: peak for what, b, _, _, _, peak in rows if what == "digital forward"}
    for what, bits, cells, secs, before, peak in rows:
        print(f"{bits:>2} {what:<18} {cells / 1e6:9.1f} {secs:8.1f} {before:9.2f} {peak:8.2f} "
              f"{peak / digital[bits]:9.2f} {limits[what]:7.0f} {'yes' if peak <= limits[what] else 'no':>4}")


if __name__ == "__main__":
    main()
