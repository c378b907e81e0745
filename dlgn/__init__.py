"""dlgn: train Light Differentiable Logic Gate Networks and compile them to Verilog,
bit-parallel C and CUDA that compute exactly the same function.

The torch-based frontend is imported lazily, so ``import dlgn`` and the compiler,
backends and runtime work without touching torch until a layer or net is used.
"""
from __future__ import annotations

import importlib
import logging

__version__ = "0.1.0"

logging.getLogger("dlgn").addHandler(logging.NullHandler())

_LAZY = {
    # the root of every user error (dlgn.errors imports nothing)
    "DlgnError": "dlgn.errors",
    "UsageError": "dlgn.errors",
    # compiler (numpy only)
    "Netlist": "dlgn.compiler",
    "NetlistError": "dlgn.compiler",
    "simulate": "dlgn.compiler",
    "scores": "dlgn.compiler",
    "predict": "dlgn.compiler",
    "optimize": "dlgn.compiler",
    # backends and runtime
    "emit": "dlgn.backends",
    "build": "dlgn.runtime",
    "load_netlist": "dlgn.cli.models",
    # frontend (torch)
    "LogicLayer": "dlgn.frontend",
    "LogicNet": "dlgn.frontend",
    "GroupSum": "dlgn.frontend",
    "train": "dlgn.frontend",
    "load_dataset": "dlgn.frontend",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'dlgn' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
