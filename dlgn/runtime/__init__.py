"""dlgn.runtime: build, cache, load and predict.

``build(netlist, target)`` returns a compiled model with ``.predict(X)`` and ``.scores(X)``
on numpy arrays of input bits (2-D, bool or uint8 0/1):

* ``"sim"``  — the reference simulator (:mod:`dlgn.compiler.simulate`), always available;
* ``"c"``    — bit-parallel C built through cffi (:mod:`dlgn.runtime.c_build`);
* ``"cuda"`` — the CUDA kernel built with nvcc (:mod:`dlgn.runtime.cuda_build`).
"""
from __future__ import annotations

import importlib

from .artifact import load_netlist
from .sim import SimModel

__all__ = ["build", "load_netlist", "SimModel", "BUILDERS"]

BUILDERS = {"c": ("dlgn.runtime.c_build", "build_c"),
            "cuda": ("dlgn.runtime.cuda_build", "build_cuda")}


def build(netlist, target: str = "c", **options):
    """Compile ``netlist`` for ``target`` ("sim", "c" or "cuda") and load it."""
    if target == "sim":
        return SimModel(netlist)
    if target not in BUILDERS:
        raise ValueError(f"unknown target {target!r}; choose sim, {', '.join(BUILDERS)}")
    mod, fn = BUILDERS[target]
    return getattr(importlib.import_module(mod), fn)(netlist, **options)
