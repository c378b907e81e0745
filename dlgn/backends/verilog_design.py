"""The whole FPGA design in Verilog: encoder, logic and head from raw integer features.

``emit_design(netlist)`` is ``dlgn.emit(netlist, "verilog", design=True)``: the netlist's
:func:`~dlgn.compiler.design.build_design` (the encoder from its metadata as comparators
over raw ``raw_width``-bit integers, the logic, the GroupSum head as LUT-6 counters and an
argmax), mapped onto 6-input LUTs part by part, printed by
:func:`~dlgn.backends.verilog_lut.emit_lut` with one LUT per gate and every LUT named after
its part (``encoder_l*``, ``logic_l*``, ``head_l*``).  The module takes ``x``: feature ``f``
is ``x[f*raw_width +: raw_width]`` (LSB first) and outputs ``y``: the predicted class
(LSB first; the first class with the largest count).

``synthesize_design(netlist, outdir)`` runs Yosys ``synth_xilinx -family xc7 -flatten`` on
the ``primitives="xilinx"`` form (the LUT instances are kept as they are) and reports, as a
dict (and :func:`breakdown_table` as text), what the count includes: LUTs of the encoder,
the logic and the head (Yosys's own count of each part's instances, and the total LUT cells
of the design), flip-flops (pipeline registers and the valid chain), the LUT depth, and
the netlist's figures beside them.  Nothing else is in the design: no I/O buffers or clock
logic (``-flatten`` without ``-iopad``).  ``timing``: Yosys ``sta`` over the xc7 cell
delays of Yosys's ``cells_sim.v`` (LUTs, carry chains; the longest combinational path, and
between pipeline registers when pipelined) -- no routing delay, so ``fmax_cells_mhz`` is
an upper bound on the clock; place and route gives the real one.
"""
from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

from ..compiler.atomic import write_text_atomic
from ..compiler.design import PARTS, Design, build_design
from .verilog_lut import emit_lut, lut_layout, part_lut_selection, write_lut_files

__all__ = ["emit_design", "design_of", "write_design_files", "synthesize_design",
           "breakdown_table", "DESIGN_OPTIONS"]

log = logging.getLogger("dlgn.verilog")

DESIGN_OPTIONS = ("raw_width", "raw_scale", "head", "mapping")


def design_of(netlist, *, raw_width: int = 8, raw_scale: float = 1 / 256, head: str = "lut6",
              mapping: str = "parts") -> Design:
    """The LUT-6 design of ``netlist`` (:func:`~dlgn.compiler.design.build_design`)."""
    return build_design(netlist, raw_width, raw_scale, head=head, lut=6, mapping=mapping)


def _split(opts: dict) -> tuple[dict, dict]:
    d = {k: opts.pop(k) for k in DESIGN_OPTIONS if k in opts}
    return d, opts


def _lut_opts(des: Design, opts: dict) -> dict:
    return {"primitives": "xilinx", **opts, "input_ports": (des.n_features, des.raw_width),
            "parts": (des.parts, list(PARTS)),
            "output_names": [f"class index bit {i}" for i in range(des.index_bits)]}


def emit_design(netlist, *, module: str = "dlgn_design", **opts) -> str:
    """Verilog of the whole design (see the module docstring); ``opts``: the design's
    (``raw_width``, ``raw_scale``, ``head``, ``mapping``) and :func:`emit_lut`'s
    (``primitives``, default ``"xilinx"``; ``pipeline``)."""
    d, rest = _split(dict(opts))
    des = design_of(netlist, **d)
    return emit_lut(des.net, module=module, **_lut_opts(des, rest))


def write_design_files(netlist, outdir, name: str = "model", *, raw_vectors=None,
                       n_vectors: int = 256, seed: int = 0, testbench: bool = True,
                       **opts) -> list[Path]:
    """Write ``<name>_design.v`` (+ its testbench and vectors, see
    :func:`~dlgn.backends.verilog_lut.write_lut_files`) and ``<name>_design.json`` (the
    design's per-part LUT counts).  ``raw_vectors``: raw integer features [N, F] for the
    testbench (default: random raw values)."""
    import numpy as np
    d, rest = _split(dict(opts))
    des = design_of(netlist, **d)
    lo = _lut_opts(des, rest)
    vec = None
    if raw_vectors is not None:
        vec = des.raw_bits(np.asarray(raw_vectors))
    elif testbench:
        rng = np.random.default_rng(seed)
        vec = des.raw_bits(rng.integers(0, 1 << des.raw_width,
                                        size=(n_vectors, des.n_features)))
    stem = f"{name}_design"
    files = write_lut_files(des.net, outdir, name=stem, testbench=testbench, vectors=vec,
                            **{"module": "dlgn_" + re.sub(r"[^A-Za-z0-9_]", "_", stem), **lo})
    info = {**des.breakdown(), "raw": des.meta["encoder_raw"],
            "luts_in_text": lut_layout(des.net, **lo).luts}
    p = Path(outdir) / f"{stem}.json"
    write_text_atomic(p, json.dumps(info, indent=2, sort_keys=True) + "\n")
    return files + [p]


def synthesize_design(netlist, outdir, *, name: str = "model", timeout: float | None = 3600,
                      pipeline: int = 0, **opts) -> dict:
    """Yosys ``synth_xilinx`` of the whole design; the resource breakdown as a dict
    (see the module docstring).  A missing Yosys or a failed run gives ``{"error": ...}``
    for the synthesis part, never an exception."""
    from ..tools.process import ToolTimeout
    from ..tools.yosys import pyosys_available, run_yosys, synth_work_dir
    d, rest = _split(dict(opts))
    t0 = time.perf_counter()
    des = design_of(netlist, **d)
    lo = _lut_opts(des, {**rest, "primitives": "xilinx", "pipeline": pipeline})
    work = synth_work_dir(outdir)
    module = "dlgn_" + re.sub(r"[^A-Za-z0-9_]", "_", name) + "_design"
    text = emit_lut(des.net, module=module, **lo)
    lay = lut_layout(des.net, module=module, **lo)
    vpath = work / f"{name}_design.v"
    write_text_atomic(vpath, text)
    b = des.breakdown()
    report = {"includes": "LUTs: raw-integer encoder, logic, GroupSum head (popcount and "
                          "argmax); flip-flops: pipeline registers and the valid chain; "
                          "not counted: the I/O buffers synth_xilinx adds (IBUF/OBUF/BUFG)",
              "netlist": {p: b[p] for p in PARTS} | {"total": b["total"], "depth": b["depth"]},
              "luts_in_text": lay.luts, "registers": lay.registers, "latency": lay.latency,
              "pipeline": int(pipeline), "verilog": str(vpath),
              "raw": des.meta["encoder_raw"], "build_seconds": round(time.perf_counter() - t0, 2)}
    if not pyosys_available():
        report["xc7"] = {"error": "Yosys is not available: pip install pyosys"}
        return report
    stat = work / "stat_design.json"
    cmds = [f"read_verilog -sv {vpath}", f"synth_xilinx -family xc7 -flatten -top {module}",
            f"tee -q -o {stat} stat -json"]
    cmds += [f"select -count {part_lut_selection(p)}" for p in PARTS]
    sta = work / "sta_design.txt"
    cmds += ["read_verilog -lib -specify +/xilinx/cells_sim.v", f"tee -q -o {sta} sta"]
    t1 = time.perf_counter()
    try:
        out = run_yosys(cmds, cwd=work, timeout=timeout)
    except ToolTimeout:
        report["xc7"] = {"error": f"Yosys timed out after {timeout} s"}
        return report
    except Exception as e:  # noqa: BLE001 - a report entry, never a crash
        report["xc7"] = {"error": str(e)[-2000:]}
        return report
    (work / "yosys_design.log").write_text(out)
    from .verilog_synth import read_cells
    cells = read_cells(stat, module)
    if "error" in cells:
        report["xc7"] = cells
        return report
    counts = [int(x) for x in re.findall(r"^(\d+) objects\.", out, re.M)][-len(PARTS):]
    luts = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]|INV", c))
    ffs = sum(n for c, n in cells.items() if re.fullmatch(r"FD[A-Z]*", c))
    report["xc7"] = {"luts": luts, "ffs": ffs, "cells": dict(sorted(cells.items())),
                     "seconds": round(time.perf_counter() - t1, 2),
                     **({f"{p}_luts": n for p, n in zip(PARTS, counts)}
                        if len(counts) == len(PARTS) else {})}
    report["timing"] = read_sta(sta)
    return report


def read_sta(path) -> dict:
    """The critical path of a Yosys ``sta`` report (picoseconds of cell delay) and the
    clock it would allow, or ``{"error": ...}``."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        return {"error": f"no sta report: {e}"}
    m = re.search(r"Latest arrival time in '[^']*' is (\d+)", text)
    if not m:
        return {"error": "sta found no timed path"}
    ps = int(m.group(1))
    return {"critical_path_ps": ps,
            "fmax_cells_mhz": round(1e6 / ps, 1) if ps else None,
            "includes": "xc7 cell delays of Yosys cells_sim.v (LUTs, carry chains), no "
                        "routing: an upper bound on fmax"}


def breakdown_table(report: dict) -> str:
    """The report of :func:`synthesize_design` as a small text table."""
    n = report["netlist"]
    x = report.get("xc7", {})
    rows = [("part", "netlist LUT-6", "xc7 LUTs (Yosys)")]
    for p in PARTS:
        rows.append((p, str(n[p]), str(x.get(f"{p}_luts", "-"))))
    rows.append(("total", str(n["total"]), str(x.get("luts", x.get("error", "-")))[:60]))
    rows.append(("flip-flops", str(report["registers"]), str(x.get("ffs", "-"))))
    rows.append(("LUT depth", str(n["depth"]), ""))
    t = report.get("timing", {})
    if "critical_path_ps" in t:
        rows.append(("cell delay", "", f"{t['critical_path_ps']} ps (fmax <= "
                                        f"{t['fmax_cells_mhz']} MHz, no routing)"))
    w = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    lines.append(f"includes: {report['includes']}")
    return "\n".join(lines)
