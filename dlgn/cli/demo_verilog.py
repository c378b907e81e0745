"""The ``dlgn demo`` Verilog step: emit, simulate with Icarus Verilog, synthesize for iCE40.

One step function over the demo's shared :class:`~dlgn.cli.demo_cmd.DemoContext`, listed
in :data:`dlgn.cli.demo_cmd.STEPS`.  The emitter, the simulator driver and the synthesis
report it calls are the Verilog backend's (:mod:`dlgn.backends.verilog`,
:mod:`~dlgn.backends.verilog_sim`, :mod:`~dlgn.backends.verilog_synth`); a missing tool
is reported in the step's line, never raised.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..backends.verilog import layout
from ..backends.verilog_sim import VerilogSimError, simulate_verilog
from ..backends.verilog_synth import synthesize
from ..compiler.simulate import predict, scores
from ..tools import ToolError

log = logging.getLogger("dlgn.demo")

__all__ = ["demo_step"]


def demo_step(ctx) -> None:
    """Emit the netlist (pipelined, a register bank every 2 levels), simulate it with
    Icarus Verilog against the reference simulator and, when pyosys is installed, report
    an iCE40 synthesis (written under ``ctx.out / "verilog"`` when the demo has an
    output folder)."""
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
        sim = (f"Icarus Verilog: {X.shape[0]} vectors "
               f"{'identical to' if exact else 'DIFFER from'} the reference")
    except (ToolError, VerilogSimError) as e:
        res.update(simulated=False, error=str(e))
        sim = f"simulation skipped ({str(e).splitlines()[0]})"
    if out is not None:
        syn = synthesize(net, out, pipeline=2, targets=("ice40",))["ice40"]
        res["ice40"] = {k: v for k, v in syn.items() if k != "cells"}
        if "error" not in syn:
            sim += f"; iCE40: {syn['luts']} LUT4, {syn['ffs']} FF, depth {syn['depth']}"
    ctx.results["verilog"] = res
    ctx.say(f"[verilog]  {lay.live_gates} live gates, pipelined (latency {lay.latency} cycles); "
            + sim)
