"""Crossbar budget: counts per layer as the mapping defines them, energy arithmetic, bad input."""
import math

import pytest

from memristor_asr.memristor.budget import (EnergyConstants, adc_envelope_joules, crossbar_budget, layer_budget)
from memristor_asr.memristor.config import ProgrammingConfig, ReadConfig

# one paper Conformer block (docs/CROSSBAR_MAPPING.md §2.9): in, out of its eight mapped linears
PAPER_BLOCK = [(384, 1536), (1536, 384), (384, 1152), (384, 384), (384, 768), (384, 384), (384, 1536), (1536, 384)]


def test_a_layer_of_whole_tiles():
    lay = layer_budget("ff", 384, 1536, 4)
    assert lay.array_pairs == 3 * 12 * 3                       # input tiles x output tiles x planes
    assert lay.cells == 2 * lay.array_pairs * 128 * 128
    assert lay.dac_per_frame == 384 * 12 * 3                     # every array pair drives its own rows
    assert lay.adc_per_frame == 1536 * 3 * 3                     # every column, plane and input tile
    assert lay.cell_reads_per_frame == 2 * 384 * 1536 * 3


def test_partial_tiles_hold_padding_cells_but_convert_and_read_only_real_ones():
    lay = layer_budget("odd", 100, 200, 3, ProgrammingConfig(tile_inputs=64, tile_outputs=128))
    assert lay.array_pairs == 2 * 2 * 2
    assert lay.cells == 2 * 8 * 64 * 128
    assert lay.dac_per_frame == 100 * 2 * 2 and lay.adc_per_frame == 200 * 2 * 2
    assert lay.cell_reads_per_frame == 2 * 100 * 200 * 2


def test_the_paper_model_has_207_tiles_per_block():
    shapes = {f"b{i}.{j}": (n_in, n_out, 3) for i in range(12) for j, (n_in, n_out) in enumerate(PAPER_BLOCK)}
    budget = crossbar_budget(shapes, ProgrammingConfig(), ReadConfig(), frames_per_second=25.0)
    assert budget.array_pairs == 12 * 207 * 2                   # 207 tiles, N - 1 = 2 planes
    assert budget.cells == 12 * 207 * 4 * 16384                 # ≈ 163 M cells for N = 3
    macs = 12 * sum(i * o for i, o in PAPER_BLOCK)
    assert budget.per_second("cell_reads") == 25.0 * 2 * 2 * macs
    # square layers of whole tiles: as many DAC as ADC conversions
    assert budget.per_second("dac") == budget.per_second("adc") == 25.0 * 2 * macs / 128


def test_energy_is_operations_times_constants():
    e = EnergyConstants(dac_joules=2e-12, cell_read_joules=3e-12)
    budget = crossbar_budget({"l": (256, 128, 5)}, ProgrammingConfig(), ReadConfig(), 10.0, e)
    j = budget.joules_per_second()
    assert budget.adc_bits == 8                                  # the default read: 4 precision + 4 range bits
    assert j["adc"] == pytest.approx(budget.per_second("adc") * 1.67e-12)
    assert j["dac"] == pytest.approx(10.0 * 256 * 1 * 4 * 2e-12)
    assert j["cells"] == pytest.approx(10.0 * 2 * 256 * 128 * 4 * 3e-12)
    assert j["total"] == pytest.approx(j["adc"] + j["dac"] + j["cells"])
    assert j["adc_envelope"] < j["adc"]
    s = budget.summary()
    assert s["total_joules_per_second"] == j["total"] and s["array_pairs"] == 2 * 1 * 4


def test_adc_envelope_matches_the_survey_fit():
    # Murmann's survey envelope (docs/HARDWARE_STUDIES.md §7): 8 bit 48 fJ at <= 100 MS/s, 0.64 pJ at 1 GS/s
    assert adc_envelope_joules(8, 1e8) == pytest.approx(48e-15, rel=0.02)
    assert adc_envelope_joules(8, 1e9) == pytest.approx(0.64e-12, rel=0.02)
    assert adc_envelope_joules(4, 1e9) == pytest.approx(2.5e-15, rel=0.05)
    assert adc_envelope_joules(6, 1e9) / adc_envelope_joules(5, 1e9) == pytest.approx(10 ** 0.602)


def test_bad_input_names_the_setting_or_layer():
    with pytest.raises(ValueError, match="no energy for a 10-bit ADC"):
        crossbar_budget({"l": (8, 8, 4)}, ProgrammingConfig(), ReadConfig(output_precision_bits=6), 25.0)
    with pytest.raises(ValueError, match="enc.ff: weight bits must be an int in 2..8"):
        layer_budget("enc.ff", 8, 8, 9)
    with pytest.raises(ValueError, match="frames_per_second must be > 0"):
        crossbar_budget({"l": (8, 8, 4)}, ProgrammingConfig(), ReadConfig(), 0.0)
    with pytest.raises(ValueError, match="no mapped layers"):
        crossbar_budget({}, ProgrammingConfig(), ReadConfig(), 25.0)
    with pytest.raises(ValueError, match="must be a number > 0"):
        EnergyConstants(dac_joules=-1.0)
    with pytest.raises(TypeError, match="read must be a ReadConfig"):
        crossbar_budget({"l": (8, 8, 4)}, ProgrammingConfig(), {"output_precision_bits": 4}, 25.0)
    assert math.isfinite(adc_envelope_joules(2, 1e9))
    with pytest.raises(ValueError):
        adc_envelope_joules(0, 1e9)


def test_the_rough_count_of_the_docs_for_a_512_dim_model():
    # docs/HARDWARE_STUDIES.md §7: 512-dim, 12 blocks, FF 2048, 4-bit weights, 25 frames/s
    block = [(512, 2048), (2048, 512), (512, 1536), (512, 512), (512, 1024), (512, 512), (512, 2048), (2048, 512)]
    shapes = {f"b{i}.{j}": (n_in, n_out, 4) for i in range(12) for j, (n_in, n_out) in enumerate(block)}
    budget = crossbar_budget(shapes, ProgrammingConfig(), ReadConfig(), 25.0)
    assert budget.per_second("adc") / 25.0 == 1_695_744          # ≈ 1.71 M per frame in the docs' estimate
    assert budget.per_second("cell_reads") == pytest.approx(1.1e10, rel=0.02)
    j = budget.joules_per_second()
    assert j["adc"] == pytest.approx(72e-6, rel=0.02) and j["cells"] == pytest.approx(9e-3, rel=0.02)
