"""dlgn.frontend: PyTorch layers (IWP and OP), encoders, GroupSum, LogicNet, data sets and
training.  Submodules are imported lazily so that a missing optional piece never breaks
``import dlgn.frontend``."""
from __future__ import annotations

import importlib

_LAZY = {
    "LogicLayer": "layer",
    "GroupSum": "head",
    "LogicNet": "net",
    "ThermometerEncoder": "encoders",
    "OneHotEncoder": "encoders",
    "save_model": "checkpoint",
    "load_model": "checkpoint",
    "load_dataset": "data",
    "DATASETS": "data",
    "train": "train",
    "evaluate": "train",
    "ImageShift": "augment",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'dlgn.frontend' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dlgn.frontend.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
