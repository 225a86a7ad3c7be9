"""Label units: does the output unit change how a model survives on memristors?

The study of the main setup (phonemes, the paper) is run again with BPE labels
(``StudySetup.label_unit = "bpe"``, the setup's ``bpe`` sentencepiece model): the float baseline, QAT
at the ``label_units.qat_bits`` and those of ``label_units.memristor_bits`` on the setup's devices. The
corpus, features, segments, vocabulary and word-level LM are the main study's jobs (shared through
the graph); only the labels, the lexicons in pieces and the models are new. The BPE models are also
decoded lexicon-free, with an n-gram over pieces of the LM text. One table (a label-unit column) and
one plot put both units side by side: ``output/label_units/``; the BPE study's own Tables 2 and 3 are
under ``output/label_units/bpe/``.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from sisyphus import tk

from memristor_asr.lm.jobs import KenLMBinaryJob, KenLMEstimateJob, SentencePieceTextJob
from memristor_asr.report.jobs import LabelUnitPlotJob, LabelUnitTableJob
from users.memristor.memristor_ted import Study, print_tables, register_table, run_memristor_ted
from users.memristor.setups import LabelUnitSweep

__all__ = ["run_label_units"]


def run_label_units(study: Study, *, sweep: Optional[LabelUnitSweep] = None, prefix: str = "label_units") -> Study:
    """Add the BPE variant of ``study`` and the label-unit table and plot.

    :param study: the phoneme study (``run_memristor_ted``)
    :param sweep: instead of the setup's ``label_units`` grid
    :param prefix: output folder
    :return: the BPE study
    """
    setup = study.setup
    grid = setup.grid("label_units", sweep)
    bpe_setup = grid.bpe_setup(setup)
    bpe = run_memristor_ted(bpe_setup, corpus_root=study.data.corpus_root, prefix=f"{prefix}/bpe")

    # lexicon-free: the BPE models over a piece n-gram of the word LM's text
    piece_text = SentencePieceTextJob(text=bpe.data.lm_text, sentencepiece_model=bpe.data.sentencepiece_model)
    piece_lm = KenLMBinaryJob(arpa=KenLMEstimateJob(text=piece_text.out_text, order=grid.piece_lm_order).out_arpa)
    free = dict(lexicon=None, lm=piece_lm.out_binary)
    lm_scales = grid.lexicon_free_lm_scales

    def rows_of(s: Study, unit: str) -> List[Dict]:
        rows = [dict(labels=unit, decoding="lexicon", system="float baseline", bits=None, tuned=s.baseline)]
        for bits in grid.qat_bits:
            rows.append(dict(labels=unit, decoding="lexicon", system=f"QAT-{bits}", bits=bits,
                             tuned=s.qat_scores[bits]))
            if bits in grid.memristor_bits:
                rows.append(dict(labels=unit, decoding="lexicon", system=f"QAT-{bits} on memristors", bits=bits,
                                 devices=s.device_scores[bits]))
        return rows

    systems = rows_of(study, "phoneme") + rows_of(bpe, "bpe")
    for name, bits in [("float", None)] + [(f"qat{b}", b) for b in grid.qat_bits]:
        scores = bpe.recognize(f"{name}-lexicon-free", bpe.models[name], lm_scales, setup.qat_prior_scales,
                               prefix=f"{prefix}/bpe", **free)
        systems.append(dict(labels="bpe", decoding="lexicon-free", bits=bits, tuned=[scores],
                            system="float baseline" if bits is None else f"QAT-{bits}"))
    table = LabelUnitTableJob(systems=systems, corpus=study.corpus, splits=setup.eval_splits)
    register_table(table, f"{prefix}/table")
    plot = LabelUnitPlotJob(baseline=study.baseline, systems=systems, corpus=study.corpus, splits=setup.eval_splits)
    tk.register_output(f"{prefix}/wer_vs_bits.png", plot.out_plot)
    tk.register_callback(print_tables, table.out_markdown)
    return bpe
