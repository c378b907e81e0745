"""dlgn.runtime: build, cache, load and predict.

``build(netlist, target)`` returns a :class:`CompiledModel` (:mod:`dlgn.runtime.model`):
``.predict(X)``, ``.scores(X)``, ``.outputs(X)`` on input bits -- numpy arrays, torch
tensors or lists of 0/1 (bool or any integer dtype), the result in the caller's type -- or
on raw features with ``encode=True`` (the netlist's encoder):

* ``"sim"``  — the reference simulator (:mod:`dlgn.compiler.simulate`), always available;
* ``"c"``    — bit-parallel C, a plain shared library loaded with dlopen
  (:mod:`dlgn.runtime.c_build`; needs a C compiler, not the Python headers);
* ``"cuda"`` — the CUDA kernel built with nvcc (:mod:`dlgn.runtime.cuda_build`).

Builds are cached (:mod:`dlgn.runtime.cache`; ``dlgn cache info|clear``).
"""
from __future__ import annotations

import importlib

from .artifact import load_netlist
from .model import CompiledModel
from .sim import SimModel

__all__ = ["build", "load_netlist", "CompiledModel", "SimModel", "BUILDERS", "TARGETS"]

BUILDERS = {"c": ("dlgn.runtime.c_build", "build_c"),
            "cuda": ("dlgn.runtime.cuda_build", "build_cuda")}
TARGETS = ("sim", *BUILDERS)


def build(netlist, target: str = "c", **options) -> CompiledModel:
    """Compile ``netlist`` for ``target`` ("sim", "c" or "cuda") and load it."""
    if target == "sim":
        if options:
            raise TypeError(f"the sim target takes no options, got {', '.join(options)}")
        return SimModel(netlist)
    if target not in BUILDERS:
        raise ValueError(f"unknown target {target!r}; choose sim, {', '.join(BUILDERS)}")
    mod, fn = BUILDERS[target]
    return getattr(importlib.import_module(mod), fn)(netlist, **options)
