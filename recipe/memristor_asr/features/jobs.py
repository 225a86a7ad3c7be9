"""Feature job: log-mel features of a manifest's segments into one HDF5 file."""
from __future__ import annotations

import glob
import os

from typing import Optional

from sisyphus import Task, tk

from memristor_asr.recipe_job import RecipeJob

__all__ = ["LogMelFeatureJob"]


class LogMelFeatureJob(RecipeJob):
    """80-dim log10-mel features (docs/STUDY_SETUP.md §2) for every segment of a manifest, computed
    in parallel chunks (one task per chunk) and merged into ``features.hdf5`` in manifest order."""

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 2.0, "time": 1.0}
    UNHASHED = ("num_chunks",)

    def __init__(self, *, segments: tk.Path, num_filters: int = 80, f_min: float = 60.0, f_max: float = 7600.0,
                 preemphasis: float = 0.97, peak_normalization: bool = True, num_chunks: int = 2,
                 rqmt: Optional[dict] = None):
        """
        :param segments: manifest (segments.jsonl.gz) whose recordings are 16 kHz audio files
        :param num_filters: mel bins
        :param f_min: lowest mel filter edge in Hz
        :param f_max: highest mel filter edge in Hz
        :param preemphasis: pre-emphasis coefficient applied before peak normalisation (0: off)
        :param peak_normalization: divide each segment's waveform by its maximum magnitude
        :param num_chunks: parallel tasks (resource only, not hashed; same output)
        :param rqmt: resources of a chunk task (and of the merge), ``DEFAULT_RQMT`` updated by this dict
            (cpu threads, mem GB, time hours); not hashed
        """
        self.segments = segments
        self.num_filters = num_filters
        self.f_min = f_min
        self.f_max = f_max
        self.preemphasis = preemphasis
        self.peak_normalization = peak_normalization
        self.num_chunks = num_chunks
        self.rqmt = self.resources(rqmt)
        self.out_features = self.output_path("features.hdf5")
        self.out_num_segments = self.output_var("num_segments")

    def tasks(self):
        yield Task("run", resume="run", rqmt=self.rqmt, args=range(1, self.num_chunks + 1))
        yield Task("merge", resume="merge", rqmt={**self.rqmt, "cpu": 1})

    def _config(self):
        from memristor_asr.features.logmel import LogMelConfig

        return LogMelConfig(num_filters=self.num_filters, f_min=self.f_min, f_max=self.f_max,
                            preemphasis=self.preemphasis, peak_normalization=self.peak_normalization)

    def run(self, chunk: int):
        import torch
        from tqdm import tqdm

        from memristor_asr.corpus.manifest import read_manifest
        from memristor_asr.features.extract import chunk_bounds, segment_features
        from memristor_asr.features.hdf5 import write_features

        torch.set_num_threads(self.rqmt["cpu"])
        segments = list(read_manifest(tk.uncached_path(self.segments)))
        begin, end = chunk_bounds(len(segments), self.num_chunks, chunk)
        part = segments[begin:end]
        bar = tqdm(total=len(part), desc=f"log-mel chunk {chunk}/{self.num_chunks}", unit="seg", mininterval=10)

        def progress(done: int):
            bar.update(done - bar.n)
            if done % 50 == 0 or done == len(part):
                with open(f"progress.{chunk}", "w") as f:
                    f.write(f"{done} {len(part)}\n")

        cfg = self._config()
        write_features(f"features.{chunk}.hdf5", segment_features(part, cfg, progress), cfg.as_attrs())
        bar.close()

    def merge(self):
        from memristor_asr.corpus.manifest import read_manifest
        from memristor_asr.features.hdf5 import FeatureFileError, FeatureReader, merge_features

        chunks = [f"features.{c}.hdf5" for c in range(1, self.num_chunks + 1)]
        expected = [s.id for s in read_manifest(tk.uncached_path(self.segments))]
        out = self.out_features.get_path()
        if all(os.path.exists(c) for c in chunks):
            merge_features(out, chunks, self._config().as_attrs())
        elif not os.path.exists(out):
            missing = [c for c in chunks if not os.path.exists(c)]
            raise RuntimeError(f"{self.work_path()}: chunk files {missing} are missing and no merged "
                               f"{out} exists; run the job again from scratch (sis manager -cio)")
        # else: an interrupted earlier merge had finished writing and begun removing the chunks
        try:
            got = FeatureReader(out, in_memory=False).segment_ids
        except FeatureFileError as e:
            raise RuntimeError(f"merged features are unreadable ({e}); rerun the job from scratch") from e
        if got != expected:
            raise RuntimeError(f"{out} holds {len(got)} segments, the manifest {len(expected)} (or the order differs)")
        self.out_num_segments.set(len(got))
        for c in chunks:  # only once the merged file is known good
            if os.path.exists(c):
                os.remove(c)

    def info(self):
        done = total = 0
        for p in glob.glob(os.path.join(self.work_path(), "progress.*")):
            try:
                with open(p) as f:
                    d, t = f.read().split()
                done, total = done + int(d), total + int(t)
            except (OSError, ValueError):
                continue
        return f"segments {done}/{total} (chunks reporting)" if total else None
