"""Loading a benchmark or example script (not a package module) by its path, for the tests
of those scripts (not a test module)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(path: str | Path, name: str | None = None, *, register: bool = False) -> ModuleType:
    """The module of the script at ``path`` (relative to the checkout's root, or absolute),
    named ``name`` (default: the file's stem); ``register`` also puts it in ``sys.modules``
    (unless that name is taken) before it runs, for scripts whose classes must be found by
    name."""
    path = ROOT / path
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    if register:
        sys.modules.setdefault(name, mod)
    spec.loader.exec_module(mod)
    return mod
