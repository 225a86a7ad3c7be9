"""The recognition procedure behind RecognitionJob: forward once, search every grid point."""
from __future__ import annotations

import gzip
import json
import logging
import os
import time
from typing import Callable, List, Optional, Sequence, Tuple


import torch

from memristor_asr.corpus.manifest import read_manifest
from memristor_asr.features.hdf5 import FeatureReader
from memristor_asr.lexicon.lexicon import read_labels
from memristor_asr.lm.kenlm_tools import verify_binary
from memristor_asr.memristor.config import ReadConfig
from memristor_asr.recognition.forward import compute_log_probs
from memristor_asr.recognition.search import SearchConfig, apply_prior, decode_parallel
from memristor_asr.scoring.sclite import write_ctm
from memristor_asr.training.prior import read_prior
from memristor_asr.util import task_device

__all__ = ["recognize", "load_recognition_model", "EmptyRecognitionError"]

log = logging.getLogger(__name__)


class EmptyRecognitionError(RuntimeError):
    """Most hypotheses of a grid point are empty: the model (or its hardware) emits only blanks."""


def load_recognition_model(checkpoint: str, *, programmed_device: Optional[str], read: Optional[ReadConfig] = None,
                           noise_seed: int, device: torch.device):
    """The model of a checkpoint, on ``device``; with a programmed device its block linears run on
    the simulated crossbars, read with ``read`` (None: ``ReadConfig()``). Returns (model, mode) with
    mode "float", "fake-quant" or "memristor"."""
    from memristor_asr.nn.checkpoint import load_model

    model, _ = load_model(checkpoint)
    mode = "fake-quant" if model.cfg.quantized else "float"
    if programmed_device is not None:
        from memristor_asr.memristor.convert import load_programmed, load_programmed_file

        if not model.cfg.quantized:
            raise ValueError(f"{checkpoint} is a float model: memristor crossbars need a quantised (QAT) model")
        state = load_programmed_file(programmed_device)
        try:
            load_programmed(model, state, read or ReadConfig(), noise_seed=noise_seed)
        except ValueError as e:
            raise ValueError(f"{programmed_device} does not fit {checkpoint}: {e}") from None
        mode = "memristor"
    return model.to(device), mode


def recognize(*, checkpoint: str, features: str, segments: str, labels: str, lexicon: Optional[str], lm: str,
              prior: Optional[str], grid: Sequence[Tuple[float, float, str]], search: SearchConfig,
              programmed_device: Optional[str] = None, read: Optional[ReadConfig] = None, noise_seed: int = 0,
              batch_seconds: float = 60.0, num_workers: int = 1, gpu: int = 0, hypotheses_path: Optional[str] = None,
              report_path: Optional[str] = None, max_empty_fraction: Optional[float] = 0.5, name: str = "recognition",
              progress: Callable[..., None] = lambda line, force=False: None):
    """Forward ``features`` through the model once, then decode with every (lm_scale, prior_scale)
    of ``grid`` and write each grid point's CTM (third tuple element).

    :param lexicon: decoding lexicon; None: lexicon-free search (sentencepiece labels, ``lm`` over pieces)
    :param read: read settings of the programmed crossbars (None: ``ReadConfig()``)
    :param max_empty_fraction: a grid point with a larger share of empty hypotheses fails the
        recognition (after all outputs are written, for inspection); None: no check (a system
        that is expected to collapse, e.g. 2-bit PTQ)
    :param name: the recognition's name in error messages (its job id)
    :raises ValueError: naming the file when labels, model, features and manifest do not fit
    :raises EmptyRecognitionError: see ``max_empty_fraction``
    """
    device = task_device(gpu)
    torch.manual_seed(noise_seed)
    label_list = read_labels(labels)
    verify_binary(lm)  # before the forward, and once, not in every decoding process
    model, mode = load_recognition_model(checkpoint, programmed_device=programmed_device, read=read,
                                         noise_seed=noise_seed, device=device)
    if model.cfg.num_labels != len(label_list):
        raise ValueError(f"{checkpoint} has {model.cfg.num_labels} outputs but {labels} lists {len(label_list)} labels")
    segs = list(read_manifest(segments))
    reader = FeatureReader(features)
    missing = [s.id for s in segs if s.id not in reader.index]
    if missing:
        raise ValueError(f"{features} lacks {len(missing)} segments of {segments}, e.g. {missing[:3]}")
    log_prior = read_prior(prior) if prior is not None else None
    if log_prior is not None and log_prior.shape[0] != len(label_list):
        raise ValueError(f"{prior} has {log_prior.shape[0]} entries, {labels} has {len(label_list)} labels")

    t0 = time.perf_counter()
    log_probs = compute_log_probs(model, reader, batch_seconds=batch_seconds, device=device,
                                  progress=lambda d, n: progress(f"{mode} forward {d}/{n} segments"))
    forward_s = time.perf_counter() - t0
    audio_s = sum(s.duration for s in segs)
    ids = [s.id for s in segs if s.id in log_probs]
    too_short = [s.id for s in segs if s.id not in log_probs]
    all_hyps, report = {}, {"mode": mode, "device": device.type, "segments": len(segs), "audio_seconds": audio_s,
                            "too_short_for_subsampling": too_short, "forward_seconds": forward_s, "grid": {}}
    search_args_base = (labels, lexicon, lm)
    for n, (lm_scale, prior_scale, ctm_path) in enumerate(grid):
        scores = [apply_prior(log_probs[i], log_prior, prior_scale) for i in ids]
        t1 = time.perf_counter()
        words: List[List[str]] = decode_parallel(
            search_args_base + (search, lm_scale), scores, num_workers,
            progress=lambda d, total: progress(f"search {n + 1}/{len(grid)} (lm {lm_scale:g}, prior {prior_scale:g}) "
                                               f"{d}/{total} segments"))
        search_s = time.perf_counter() - t1
        hyps = dict(zip(ids, words))
        hyps.update({i: [] for i in too_short})
        write_ctm(ctm_path, segs, hyps)
        key = os.path.basename(ctm_path)[: -len(".ctm")]
        all_hyps[key] = {i: " ".join(w) for i, w in hyps.items()}
        report["grid"][key] = {"search_seconds": search_s, "rtf_per_process": search_s * num_workers / audio_s,
                               "empty_hypotheses": sum(1 for w in hyps.values() if not w)}
    report["forward_rtf"] = forward_s / audio_s if audio_s else None
    progress(f"{mode}: done ({len(grid)} grid points)", force=True)
    if hypotheses_path:
        with gzip.open(hypotheses_path, "wt", encoding="utf-8") as f:
            json.dump(all_hyps, f, indent=1, sort_keys=True)
    if report_path:
        with open(report_path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    if max_empty_fraction is not None:
        bad = {k: v["empty_hypotheses"] for k, v in report["grid"].items()
               if v["empty_hypotheses"] > max_empty_fraction * len(segs)}
        if bad:
            worst = ", ".join(f"{k}: {n}/{len(segs)}" for k, n in bad.items())
            raise EmptyRecognitionError(
                f"{name}: most hypotheses are empty ({worst}; limit {max_empty_fraction:.0%}) with {mode} model "
                f"{checkpoint}{' on ' + programmed_device if programmed_device else ''}: the model emits (almost) "
                "only blanks. Check its training (losses.csv, dev_label_error_rate), the prior and LM scales, or "
                "the hardware settings; the CTMs and report.json are kept in the job's output")
    return report



