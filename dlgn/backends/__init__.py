"""dlgn.backends: one emitter per target.  Each target module provides

* ``emit(netlist, **options) -> str`` — the main source text, deterministic;
* ``write_files(netlist, outdir, name="model", **options) -> list[pathlib.Path]`` — every
  file a user ships (e.g. ``.c`` + ``.h``; ``.v`` + testbench), deterministic bytes.

``target="verilog"`` with ``design=True`` gives the whole FPGA design instead (raw-integer
encoder, logic and head, one LUT-6 per gate: :mod:`dlgn.backends.verilog_design`).

Target modules are imported lazily; backends never import the frontend.
"""
from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["TARGETS", "emit", "write_files"]

TARGETS = {"c": "dlgn.backends.c", "verilog": "dlgn.backends.verilog", "cuda": "dlgn.backends.cuda"}


def _module(target: str):
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    return importlib.import_module(TARGETS[target])


def _design(target: str, options: dict) -> bool:
    if not options.pop("design", False):
        return False
    if target != "verilog":
        raise ValueError(f"design=True is a Verilog option, not one of target {target!r}")
    return True


def emit(netlist, target: str = "c", **options) -> str:
    """Source text of ``netlist`` for ``target`` ("c", "verilog" or "cuda");
    ``design=True`` (Verilog): the whole design, encoder and head included."""
    if _design(target, options):
        from .verilog_design import emit_design
        return emit_design(netlist, **options)
    return _module(target).emit(netlist, **options)


def write_files(netlist, target: str, outdir, name: str = "model", **options) -> list[Path]:
    """Write the target's files into ``outdir`` (created if needed); returns their paths."""
    if _design(target, options):
        from .verilog_design import write_design_files
        return write_design_files(netlist, outdir, name=name, **options)
    Path(outdir).mkdir(parents=True, exist_ok=True)
    return _module(target).write_files(netlist, Path(outdir), name=name, **options)
