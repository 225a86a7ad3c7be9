"""Phonemes vs. BPE on memristors: ``sis manager -r config/label_units.py``.

Builds the main study (same corpus and setup choice as ``config/memristor_ted.py``, its jobs shared
through the graph) and its BPE variant (``users/memristor/label_units.py``): a sentencepiece model of
the train transcripts, the float baseline, QAT and memristor rows of the setup's ``label_units`` grid,
lexicon search with the same word-level LM and a lexicon-free search with a piece n-gram. The table
with a label-unit column and the plot: ``output/label_units/``.
"""
from users.memristor.entry import main_study


def py():
    from users.memristor.label_units import run_label_units

    run_label_units(main_study())
