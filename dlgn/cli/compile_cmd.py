"""``dlgn compile MODEL -o DIR [--target c,verilog,cuda] [--report] [--synth]``."""
from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

from ..errors import UsageError

log = logging.getLogger("dlgn.compile")


def add_parser(sub):
    p = sub.add_parser("compile", help="discretize, optimize and emit a model",
                       description="Lower MODEL (a trained .pt or a .dlgn.npz netlist) to an "
                                   "optimized netlist and emit source for each target.")
    p.add_argument("model", help="trained model (.pt), netlist (.dlgn.npz) or compile dir")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--target", default="", help="comma-separated: c, verilog, cuda")
    p.add_argument("--name", default="model", help="base name of the emitted files")
    p.add_argument("--json", action="store_true",
                   help="print the report (gates, depth, passes, files) as JSON on stdout")
    p.add_argument("--report", action="store_true",
                   help="write report.json: gates, depth and what each pass removed")
    p.add_argument("--no-optimize", action="store_true", help="skip the pass pipeline")
    p.add_argument("--passes", default=None, metavar="A,B,C",
                   help="the pass pipeline, run to a fixed point (default: fold,dead,renumber;"
                        " passes: const_prop, dup_fanins, support, bypass, absorb, strash, "
                        "fold, dead, renumber)")
    p.add_argument("--pipeline", type=int, default=0, metavar="L",
                   help="Verilog: a register stage every L logic levels (0: combinational)")
    p.add_argument("--head-stride", type=int, default=1, metavar="S",
                   help="Verilog, pipelined: register the head's adder/argmax trees every S "
                        "levels (fewer flip-flops, longer paths)")
    p.add_argument("--lut", type=int, default=None, metavar="K",
                   help="map the (optimized) netlist onto K-input LUTs, K in 2..6, before "
                        "emitting: every gate one LUT (dlgn's mapper: priority cuts, depth-"
                        "optimal, then area recovery); the written netlist is the mapped one")
    p.add_argument("--abc", default=None, metavar="FLOW",
                   help="map with ABC (berkeley-abc) instead of dlgn's mapper, with one of "
                        "its LUT flows: " + ", ".join(_abc_flows()) + "; K from --lut "
                        "(default 6); ABC's result is read back and proven equal by ABC cec")
    p.add_argument("--design", action="store_true",
                   help="Verilog: also write the whole FPGA design (<name>_design.v: the "
                        "encoder on raw integer features, the logic, the head; one LUT-6 "
                        "per gate) and with --synth report its LUTs per part")
    p.add_argument("--raw-width", type=int, default=8, metavar="W",
                   help="--design: bits of each raw integer feature (default 8)")
    p.add_argument("--raw-scale", default="1/256", metavar="S",
                   help="--design: the feature value of raw integer q is q*S (default 1/256, "
                        "as the MNIST-family loaders give pixels); a number or a fraction")
    p.add_argument("--synth", action="store_true",
                   help="Verilog: run Yosys synthesis (xc7 LUT-6, iCE40) and report")
    p.add_argument("--pnr", action="store_true",
                   help="Verilog: also place and route on iCE40 for an fmax (slow)")
    p.set_defaults(func=run)
    return p


_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _abc_flows() -> tuple:
    from ..tools.abc_map import ABC_FLOWS
    return tuple(ABC_FLOWS)


def _check_args(args) -> list[str]:
    """Validate every option before any work (nothing is written on a bad one); returns the
    targets, lower-cased and deduplicated."""
    from ..backends import TARGETS
    from .options import parse_targets
    targets = parse_targets(args.target, TARGETS)
    if not _NAME.match(args.name) or args.name in (".", ".."):
        raise UsageError(f"--name {args.name!r} must be a plain file name (letters, digits, "
                         f"'_', '-', '.'), not a path")
    if args.pipeline < 0:
        raise UsageError(f"--pipeline must be >= 0, got {args.pipeline}")
    if args.head_stride < 1:
        raise UsageError(f"--head-stride must be >= 1, got {args.head_stride}")
    args.raw_scale_value = _scale(args.raw_scale)
    if args.design and "verilog" not in targets:
        raise UsageError("--design is a Verilog option: add --target verilog")
    if not 1 <= args.raw_width <= 16:
        raise UsageError(f"--raw-width must be in 1..16, got {args.raw_width}")
    if args.pnr and not args.synth:
        raise UsageError("--pnr places and routes the synthesized design: add --synth")
    if args.lut is not None and not 2 <= args.lut <= 6:
        raise UsageError(f"--lut must be in 2..6, got {args.lut}")
    if args.abc is not None:
        from ..tools.abc import find_abc
        if args.abc not in _abc_flows():
            raise UsageError(f"--abc {args.abc!r} is not an ABC flow; choose one of "
                             f"{', '.join(_abc_flows())}")
        if find_abc() is None:
            raise UsageError("--abc needs ABC: apt install berkeley-abc (or put yosys-abc "
                             "on PATH)")
        if args.lut is None:
            args.lut = 6
    if args.passes is not None:
        from ..compiler.pipeline import resolve_passes
        resolve_passes(args.passes)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o {out}: exists and is not a directory")
    return targets


def _scale(text: str) -> float:
    from fractions import Fraction
    try:
        v = float(Fraction(str(text).strip()))
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--raw-scale {text!r} is not a number or a fraction such as "
                         f"1/256") from None
    if not v > 0:
        raise UsageError(f"--raw-scale must be positive, got {text!r}")
    return v


def _lut_map(net, k: int, flow: str | None):
    """``net`` mapped onto k-LUTs by dlgn's mapper, or by ABC's ``flow`` (read back and
    proven equal with ABC ``cec``); returns (mapped net, report dict)."""
    import time

    from ..errors import DlgnError
    gates = net.n_gates
    if flow is None:
        from ..compiler.passes.lut_map import lut_map
        t0 = time.perf_counter()
        mapped = lut_map(net, k).net
        rep = {"mapper": "dlgn", "seconds": round(time.perf_counter() - t0, 3)}
    else:
        from ..compiler.equiv import check_equivalent
        from ..tools.abc_map import abc_lut_map
        res = abc_lut_map(net, k, flow)
        mapped = res.net
        t0 = time.perf_counter()
        verdict = check_equivalent(net, mapped, method="abc")
        if not verdict.equivalent:
            raise DlgnError(f"ABC's {flow} mapping read back differs from the netlist "
                            f"(ABC cec); nothing written from it")
        rep = {"mapper": f"abc:{flow}", "script": res.script, "seconds": round(res.seconds, 3),
               "proof": "abc cec", "proof_seconds": round(time.perf_counter() - t0, 3)}
    rep.update(k=int(k), gates_before=int(gates), luts=int(mapped.n_gates),
               depth=int(mapped.depth()))
    log.info("LUT-%d mapping (%s): %d gates -> %d LUTs, depth %d", k, rep["mapper"], gates,
             mapped.n_gates, rep["depth"])
    return mapped, rep


def run(args) -> int:
    from ..backends import write_files
    from ..compiler import optimize_with_report
    from ..compiler.analysis import stats
    from ..compiler.atomic import write_text_atomic
    from ..runtime.artifact import NETLIST_SUFFIX
    from .models import load_netlist, load_shared_form

    targets = _check_args(args)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    net = load_netlist(args.model)
    before = stats(net)
    passes = []
    if not args.no_optimize:
        net, passes = optimize_with_report(net, passes=args.passes)
    lut_report = None
    if args.lut is not None:
        net, lut_report = _lut_map(net, args.lut, args.abc)
    path = out / (args.name + NETLIST_SUFFIX)
    net.save(path)
    log.info("netlist: %d inputs, %d gates -> %d gates, depth %d, written to %s",
             net.n_inputs, before["gates"], net.n_gates, net.depth(), path)
    report = {"model": str(args.model), "netlist": path.name, "before": before,
              "after": stats(net), "passes": passes, "files": {}}
    if lut_report is not None:
        report["lut_map"] = lut_report
    shared = load_shared_form(args.model) if {"c", "cuda"} & set(targets) else None
    if shared is not None:      # a conv net: C and CUDA loop its kernels, nothing unrolled
        from ..compiler.shared import optimize_shared
        report["shared"] = {"kernel_gates": shared.n_kernel_gates, "flat_gates": shared.n_gates}
        if not args.no_optimize:
            shared = optimize_shared(shared)
        report["shared"]["kernel_gates_optimized"] = shared.n_kernel_gates
    for t in targets:
        opts = {"pipeline": args.pipeline, "head_stride": args.head_stride} \
            if t == "verilog" else {}
        if t in ("c", "cuda") and shared is not None:
            from ..backends.cshared import write_files as write_c_shared
            from ..backends.cudashared import write_files as write_cuda_shared
            write = write_c_shared if t == "c" else write_cuda_shared
            files = write(shared, out, name=args.name)
        else:
            files = write_files(net, t, out, name=args.name, **opts)
        if t == "verilog" and args.design:
            files += write_files(net, t, out, name=args.name, design=True,
                                 pipeline=args.pipeline, raw_width=args.raw_width,
                                 raw_scale=args.raw_scale_value)
        report["files"][t] = [f.name for f in files]
        log.info("%s: %s", t, ", ".join(str(f) for f in files))
    if args.synth:
        from ..backends.verilog_synth import synthesize
        report["synth"] = synthesize(net, out.resolve(), pipeline=args.pipeline, pnr=args.pnr,
                                     head_stride=args.head_stride, name=args.name)
        log.info("synthesis: %s", json.dumps(report["synth"]))
        failed = {k: v["error"] for k, v in report["synth"].items()
                  if isinstance(v, dict) and "error" in v}
        if args.design:
            from ..backends.verilog_design import breakdown_table, synthesize_design
            rep = synthesize_design(net, out.resolve(), name=args.name, pipeline=args.pipeline,
                                    raw_width=args.raw_width, raw_scale=args.raw_scale_value)
            report["synth"]["design"] = rep
            log.info("design resources (xc7):\n%s", breakdown_table(rep))
            if "error" in rep.get("xc7", {}):
                failed["design"] = rep["xc7"]["error"]
    if args.report:
        write_text_atomic(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
        log.info("report: %s", out / "report.json")
    if args.json:
        sys.stdout.write(json.dumps(report, sort_keys=True) + "\n")
    if args.synth and failed:
        for k, e in failed.items():
            log.error("synthesis %s failed: %s", k, e.splitlines()[0] if e else "")
        return 1
    return 0
