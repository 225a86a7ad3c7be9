#!/usr/bin/env python3
"""Does every training of a setup learn, whatever the seed and thread count?

Trains the float model and the QAT models of a setup (``users/memristor/setups.py``) on the data that
the main command prepared (``output/memristor_ted/data/``), for several seeds and torch thread
counts, exactly as TrainJob would (same configs, same trainer, same convergence check), and
prints the final train/dev loss, the greedy dev label error rate and the number of labels
emitted per reference label of every run. The ratio column compares each run's final dev loss
with the float model's of the same seed and threads, measured in the same run. Where the profile
fine-tunes QAT from the float model (``qat_finetune``), the float runs go first and each QAT run
starts from the float model of its seed and thread count.

With ``--label-unit bpe`` it trains the BPE variant of the setup that ``config/label_units.py`` runs
(``StudySetup.label_units.bpe_setup``) on the BPE study's data (default
``output/label_units/bpe/data``), its output layer sized by the label unit as in the study.

usage: tools/bench/convergence.py [--data output/memristor_ted/data] [--profile mini] [--label-unit bpe]
           [--seeds 1,2,3] [--threads 1,2] [--models float,8,6,5,4,3,2] [--jobs N]
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


DATA_FILES = ("train_features", "dev_features", "train_segments", "dev_segments", "training_lexicon", "labels")


def find_data(data: str) -> dict:
    """name -> path of the prepared data files (``<name>.<suffix>`` in ``data``)."""
    found = {}
    for name in DATA_FILES:
        hits = sorted(f for f in os.listdir(data) if f.startswith(name + ".")) if os.path.isdir(data) else []
        if not hits:
            sys.exit(f"convergence.py: no {name}.* in {data}; run the main command first (it registers the "
                     "prepared data under output/<prefix>/data/)")
        found[name] = os.path.join(data, hits[0])
    return found


def bench_setup(profile: str, label_unit: str):
    """The shipped setup ``profile``, or its BPE variant of the label-unit comparison."""
    from users.memristor.setups import setup_named

    setup = setup_named(profile)
    return setup.label_units.bpe_setup(setup) if label_unit == "bpe" else setup


def train_one(data: str, profile: str, label_unit: str, model: str, seed: int, threads: int, init: str = None,
              keep: str = None) -> dict:
    """One training; ``init``: start from this checkpoint, ``keep``: where to leave the final model."""
    import torch

    from memristor_asr.training.convergence import TrainingNotConvergedError
    from memristor_asr.training.data import CTCDataset
    from memristor_asr.training.trainer import train

    torch.set_num_threads(threads)
    setup = bench_setup(profile, label_unit)
    bits = None if model == "float" else int(model)
    files = find_data(data)
    model_cfg = setup.model_for(bits)  # as Study.train: the output layer of the label unit
    train_cfg = setup.training.training_for(bits, seed)
    load = dict(lexicon_path=files["training_lexicon"], labels_path=files["labels"])
    train_data = CTCDataset.load(features_path=files["train_features"], manifest_path=files["train_segments"],
                                 name="train", **load)
    dev_data = CTCDataset.load(features_path=files["dev_features"], manifest_path=files["dev_segments"],
                               skip_oov=True, name="dev", **load)
    start = time.perf_counter()
    verdict = "ok"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            history = train(model_cfg=model_cfg, train_cfg=train_cfg, train_data=train_data, dev_data=dev_data,
                            checkpoint_dir=os.path.join(tmp, "ckpt"), losses_csv=os.path.join(tmp, "losses.csv"),
                            final_checkpoint=keep or os.path.join(tmp, "model.pt"), device="cpu",
                            name=f"{model} seed {seed} threads {threads}", init_checkpoint=init)
        except TrainingNotConvergedError:
            verdict = "FAILED"
            with open(os.path.join(tmp, "losses.csv")) as f:
                history = list(csv.DictReader(f))
    last = history[-1]
    return {"model": model, "seed": seed, "threads": threads, "train_loss": float(last["train_loss"]),
            "dev_loss": float(last["dev_loss"]), "ler": float(last["dev_label_error_rate"]),
            "emitted": float(last["dev_emission_ratio"]), "verdict": verdict,
            "wall": time.perf_counter() - start}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="default: output/memristor_ted/data, with --label-unit bpe "
                    "output/label_units/bpe/data")
    ap.add_argument("--profile", default="mini")
    ap.add_argument("--label-unit", default="phoneme", choices=("phoneme", "bpe"))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="float,8,6,5,4,3,2")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="cores to fill with runs")
    args = ap.parse_args()
    if args.data is None:
        args.data = "output/label_units/bpe/data" if args.label_unit == "bpe" else "output/memristor_ted/data"
    find_data(args.data)
    seeds = [int(s) for s in args.seeds.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    if any(t < 1 for t in threads):
        sys.exit("convergence.py: thread counts must be >= 1")
    models = args.models.split(",")
    runs = [(m, s, t) for t in threads for s in seeds for m in models]
    print(f"# convergence of the {args.profile!r} trainings ({args.label_unit} labels, {args.data}) on "
          f"{_cpu_model()} ({os.cpu_count()} cores), {len(runs)} runs", flush=True)

    # with QAT fine-tuning (the mini profile), the QAT runs of a (seed, threads) start from its float model
    finetune = bench_setup(args.profile, args.label_unit).training.qat_finetune is not None and "float" in models
    results = []
    ctx = multiprocessing.get_context("spawn")
    keep_dir = tempfile.mkdtemp(prefix="convergence-")

    def report(r):
        results.append(r)
        print(f"#   done: {r['model']} seed {r['seed']} threads {r['threads']}: dev loss {r['dev_loss']:.3f} "
              f"({r['verdict']}, {r['wall']:.0f} s)", flush=True)

    for t in threads:  # runs of one thread count side by side, as many as fit the cores
        batch = [r for r in runs if r[2] == t]
        phases = [[r for r in batch if r[0] == "float"], [r for r in batch if r[0] != "float"]] if finetune else [batch]
        with cf.ProcessPoolExecutor(max_workers=max(1, args.jobs // t), mp_context=ctx) as pool:
            for phase in phases:
                futures = []
                for m, s, _ in phase:
                    ckpt = os.path.join(keep_dir, f"float-{s}-{t}.pt")
                    if finetune and m != "float" and not os.path.exists(ckpt):
                        results.append({"model": m, "seed": s, "threads": t, "train_loss": float("nan"),
                                        "dev_loss": float("nan"), "ler": float("nan"), "emitted": float("nan"),
                                        "verdict": "no float model", "wall": 0.0})
                        continue
                    futures.append(pool.submit(train_one, args.data, args.profile, args.label_unit, m, s, t,
                                               init=ckpt if finetune and m != "float" else None,
                                               keep=ckpt if finetune and m == "float" else None))
                for fut in cf.as_completed(futures):
                    report(fut.result())
    shutil.rmtree(keep_dir, ignore_errors=True)
    base = {(r["seed"], r["threads"]): r["dev_loss"] for r in results if r["model"] == "float"}
    order = {m: i for i, m in enumerate(models)}
    results.sort(key=lambda r: (r["threads"], r["seed"], order[r["model"]]))
    print("\n| threads | seed | model | train loss | dev loss | dev greedy LER | emitted/ref | dev loss / float "
          "| check | wall [s] |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ratio = r["dev_loss"] / base[(r["seed"], r["threads"])] if (r["seed"], r["threads"]) in base else float("nan")
        name = r["model"] if r["model"] == "float" else f"QAT {r['model']}"
        print(f"| {r['threads']} | {r['seed']} | {name} | {r['train_loss']:.3f} | {r['dev_loss']:.3f} | {r['ler']:.3f} "
              f"| {r['emitted']:.2f} | {ratio:.2f} | {r['verdict']} | {r['wall']:.0f} |")
    failed = [r for r in results if r["verdict"] != "ok"]
    print(f"\n{len(results) - len(failed)} of {len(results)} runs converged")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
