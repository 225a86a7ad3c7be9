"""Runs sequitur's ``g2p.py`` as ``__main__`` (``python sequitur_launcher.py SEED G2P_SCRIPT ARGS...``;
standard library, numpy and sequitur only), with three things the PyPI wheel (sequitur-g2p
1.0.1668.30) needs here:

- Python's ``random`` seeded: sequitur draws its ``--devel`` share with it and has no seed option.
- The SWIG type capsule pinned. The wheel's SWIG 4.2.1 code decrements the module's type capsule
  when it frees an owned object, also for objects that became owned later (sequitur's
  ``evidence.thisown = True``) and never incremented it; after a few hundred freed objects the
  capsule is freed, SWIG clears its type table, and every later call returns a bare
  ``SwigPyObject`` (``'SwigPyObject' object has no attribute 'thisown'``). Sequitur catches that,
  writes the model of the last good iteration and exits 0, so training silently stopped after a
  few iterations (on any lexicon above a few thousand entries, at the first). Every such object
  takes one reference too many, so the capsule gets 2^40 references that are never released: it
  stays alive, and nothing else changes.
- ``numpy.sometrue`` (removed in NumPy 2.0, used by sequitur's discount search) as ``numpy.any``.
"""
import ctypes
import importlib
import random
import runpy
import sys


def _pin_swig_capsule() -> None:
    importlib.import_module("sequitur_")  # the compiled module, which creates the capsule

    for name, module in list(sys.modules.items()):
        capsule = getattr(module, "type_pointer_capsule", None) if name.startswith("swig_runtime_data") else None
        if capsule is not None:
            # the references SWIG never took, one per object that became owned later: more than any run frees
            ctypes.c_ssize_t.from_address(id(capsule)).value += 1 << 40


def main(argv) -> None:
    seed, script, args = int(argv[0]), argv[1], argv[2:]
    random.seed(seed)
    import numpy

    if not hasattr(numpy, "sometrue"):
        numpy.sometrue = numpy.any
    _pin_swig_capsule()
    sys.argv = [script] + args
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
