"""Memristor jobs: programming a QAT model's crossbars ("a device"), the single-cell table, and a
device's crossbar budget."""
import os
from typing import Optional

from sisyphus import Job, Task, tk

from memristor_asr.memristor.budget import EnergyConstants
from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig, WriteVerifyConfig
from memristor_asr.recipe_job import RecipeJob
from memristor_asr.util import ProgressFile, setup_task, task_device

__all__ = ["ProgramCrossbarsJob", "SingleCellTableJob", "CrossbarBudgetJob"]


class ProgramCrossbarsJob(RecipeJob):
    """Program every encoder-block linear of a QAT model onto fresh simulated crossbars.

    Device k of the paper's 10 uses seed k and k + 1 pre-cycling steps (× 50 random pulses per
    array). The device is stored compactly (the final cell state r of each pair, float16) with its
    programming config. Read settings (DAC, ADC, noise) are not an input: they belong to the
    recognitions (``RecognitionJob(read=...)``), so a read-setting sweep reuses the same devices.
    With ``write_verify``, every array gets write-verify rounds after its SET, and ``out_write_verify``
    (JSON) says what they did: rounds, re-cycled cells and pulses per cell, the share of cells out of
    tolerance before and after.
    """

    DEFAULT_RQMT = {"cpu": 1, "gpu": 0, "mem": 6.0, "time": 1.0}

    def __init__(self, *, checkpoint: tk.Path, device_index: int, programming: ProgrammingConfig = ProgrammingConfig(),
                 write_verify: Optional[WriteVerifyConfig] = None, rqmt: Optional[dict] = None):
        """
        :param checkpoint: a quantised (QAT) model checkpoint with observer statistics
        :param device_index: k: seed k, num_cycles k + 1
        :param programming: tile sizes and programming pulses (default: the paper's)
        :param write_verify: write-verify rounds after the SET (None: none, as the paper; then the
            argument is left out of the hash, so devices programmed before it existed keep their ids)
        :param rqmt: resources, ``DEFAULT_RQMT`` updated by this dict (cpu threads; gpu: with one, the
            cells are simulated on the GPU; mem GB; time hours); not hashed
        """
        self.checkpoint = checkpoint
        self.device_index = device_index
        self.programming = ProgrammingConfig.require(
            programming, "ProgramCrossbarsJob: programming", " (read settings go to RecognitionJob(read=...))")
        self.write_verify = None if write_verify is None else WriteVerifyConfig.require(
            write_verify, "ProgramCrossbarsJob: write_verify")
        self.rqmt = self.resources(rqmt)
        self.out_device = self.output_path("crossbars.pt")
        self.out_num_cells = self.output_var("num_cells")
        if self.write_verify is not None:
            self.out_write_verify = self.output_path("write_verify.json")

    @classmethod
    def hash(cls, parsed_args):
        if parsed_args.get("write_verify") is None:
            parsed_args = {k: v for k, v in parsed_args.items() if k != "write_verify"}
        return super().hash(parsed_args)

    def info(self):
        return ProgressFile.read(os.path.join(self.work_path(), "progress.txt"))

    def run(self):
        from memristor_asr.memristor.config import device_programming
        from memristor_asr.memristor.convert import program_model, save_programmed
        from memristor_asr.nn.checkpoint import load_model
        setup_task(self.rqmt["cpu"])
        path = tk.uncached_path(self.checkpoint)
        model, _ = load_model(path)
        if not model.cfg.quantized:
            raise ValueError(f"{self._sis_id()}: {path} is not a quantised (QAT) model; crossbars need "
                             "integer weights and the observers' scales")
        progress = ProgressFile(os.path.join(self.work_path(), "progress.txt"))
        device = task_device(self.rqmt["gpu"])
        try:
            state = program_model(model.to(device), self.programming, **device_programming(self.device_index),
                                  device=device, write_verify=self.write_verify,
                                  progress=lambda line: (print(line, flush=True), progress.write(line)))
        except ValueError as e:  # e.g. observers that never saw data
            raise ValueError(f"{self._sis_id()}: cannot program {path}: {e}") from None
        save_programmed(state, self.out_device.get_path())
        if self.write_verify is not None:
            import json
            with open(self.out_write_verify.get_path(), "w", encoding="utf-8") as f:
                json.dump({"write_verify": self.write_verify.to_dict(), **state.write_verify_summary}, f, indent=1)
        self.out_num_cells.set(state.num_cells)


class SingleCellTableJob(Job):
    """Table 1: pairs of single cells multiplying input × weight (docs/DEVICE_MODEL.md §3)."""

    def __init__(self, *, pairs: int = 5000, seed: int = 0, noise: str = "physical"):
        """
        :param pairs: cell pairs per row (the paper: 5000)
        :param seed: generator seed
        :param noise: read noise mode (the paper's table: physical)
        """
        self.pairs = pairs
        self.seed = seed
        self.noise = noise
        self.out_json = self.output_path("table1.json")
        self.out_markdown = self.output_path("table.md")
        self.out_latex = self.output_path("table.tex")
        self.out_csv = self.output_path("table.csv")

    def tasks(self):
        yield Task("run", resume="run", mini_task=True)

    def run(self):
        import json

        from memristor_asr.memristor.cells_table import cell_table
        from memristor_asr.report.jobs import write_table
        from memristor_asr.report.tables import Table

        rows, u_half = cell_table(pairs=self.pairs, seed=self.seed, noise=self.noise)
        with open(self.out_json.get_path(), "w", encoding="utf-8") as f:
            json.dump({"u_half": u_half, "pairs": self.pairs, "seed": self.seed, "noise": self.noise,
                       "rows": [r.__dict__ for r in rows]}, f, indent=1)
        table = Table("Table 1: single memristor pairs, input × weight (normalised)",
                      ["input × weight", "mean", "std", "min", "max"],
                      [[f"{r.input:g} × {r.weight:g}", r.mean, r.std, r.min, r.max] for r in rows], digits=[0, 3, 3, 3, 3],
                      note=f"{self.pairs} pairs, {self.noise} read noise, c = {ReadConfig().current_scaling:g} A⁻¹, "
                           f"u₀.₅ = {u_half:.2f} V")
        write_table(table, self)


class CrossbarBudgetJob(Job):
    """The crossbar budget of a programmed device (``memristor.budget``): array pairs, cells, DAC and
    ADC conversions and cell reads per second of audio, and the energy estimate, as JSON."""

    def __init__(self, *, programmed_device: tk.Path, read: ReadConfig = ReadConfig(),
                 energy: EnergyConstants = EnergyConstants(), frames_per_second: Optional[float] = None):
        """
        :param programmed_device: a ProgramCrossbarsJob's ``out_device`` (layer shapes, bits, tile sizes)
        :param read: the read settings the recognitions use (their ADC resolution prices the conversions)
        :param energy: per-operation energies
        :param frames_per_second: encoder frames per second of audio (None: the feature hop of
            ``features.logmel.LogMelConfig`` and the frontend's subsampling, 100 / 4 = 25)
        """
        self.programmed_device = programmed_device
        self.read = ReadConfig.require(read, "CrossbarBudgetJob: read")
        self.energy = EnergyConstants.require(energy, "CrossbarBudgetJob: energy")
        self.frames_per_second = frames_per_second
        self.out_budget = self.output_path("budget.json")

    def tasks(self):
        yield Task("run", resume="run", rqmt={"cpu": 1, "mem": 4, "time": 0.5})  # loads the device file

    def run(self):
        import json

        from memristor_asr.features.logmel import LogMelConfig
        from memristor_asr.memristor.budget import crossbar_budget
        from memristor_asr.memristor.convert import load_programmed_file
        from memristor_asr.nn.frontend import SUBSAMPLING

        fps = self.frames_per_second
        if fps is None:
            fps = 1.0 / LogMelConfig().hop_size / SUBSAMPLING
        state = load_programmed_file(tk.uncached_path(self.programmed_device))
        if state.programming.depthwise_conv or state.programming.levels != 2:
            raise ValueError(f"{self._sis_id()}: {tk.uncached_path(self.programmed_device)} maps the depthwise convs "
                             f"or has {state.programming.levels}-level cells (ProgrammingConfig); the budget counts "
                             "linear crossbars of binary cells only")
        shapes = {name: (lay.in_features, lay.out_features, lay.weight_bits) for name, lay in state.layers.items()}
        budget = crossbar_budget(shapes, state.programming, self.read, fps, self.energy)
        with open(self.out_budget.get_path(), "w", encoding="utf-8") as f:
            json.dump({"summary": budget.summary(), "layers": [lay.__dict__ for lay in budget.layers]}, f, indent=1)
