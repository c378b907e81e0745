"""LUT-6 mapping benchmark: dlgn's ``lut_map`` against ABC's mapping flows, on the same nets.

    nice python benchmarks/lut_map_bench.py [--k 6] [--sizes 10000,100000,1000000]
        [--abc-max-gates 200000] [--flows if,dch_if_mfs2,gia_if,...] [--no-prove] [--json]
        [--yosys-max-gates 60000]

Nets: random layered nets of two-input gates (the non-degenerate ones: no constants, wires
or inverters) of about 10K, 100K and 1M gates after ``optimize``, and the shipped trained
nets (``examples/mnist``, ``examples/mnist_8k``, ``examples/fashion_64k``), optimized first.
For each net: our LUT count, LUT depth and seconds (``lut_map(net, k)``), then each ABC flow
of :data:`dlgn.tools.abc_map.ABC_FLOWS` (read back and folded the same way, so output
buffers and inverters are not counted as LUTs) on nets up to ``--abc-max-gates`` gates for
the slow ``dch`` flows (``if`` and ``gia_if`` run on every net), and Yosys's
``synth -flatten; abc -lut K; opt_clean`` on the net's emitted Verilog (logic only, no head)
on nets up to ``--yosys-max-gates`` gates (when pyosys is installed).  Each of our mappings is
checked equal to its net by simulation (exhaustive, or 65,536 random vectors; 4,096 past
``--abc-max-gates``) and, unless
``--no-prove``, proven by ABC ``cec`` on nets up to ``--abc-max-gates`` gates.  The
acceptance (issue 15): within 5 % of ABC's best LUT count, no deeper, 1M gates in <= 30 s.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from dlgn.compiler import GATE_TABLES, Netlist, lut_map, optimize, random_layered
from dlgn.compiler.equiv import check_equivalent
from dlgn.tools.abc import find_abc
from dlgn.tools.abc_map import ABC_FLOWS, abc_lut_map

ROOT = Path(__file__).resolve().parent.parent
TRAINED = {"mnist_6x8000": "examples/mnist/mnist_6x8000.dlgn.npz",
           "mnist-8k": "examples/mnist_8k/mnist-8k.dlgn.npz",
           "fashion-64k": "examples/fashion_64k/fashion-64k.dlgn.npz",
           "mnist-lut-l": "examples/mnist_lut/mnist-lut-l.dlgn.npz",
           "mnist-lut-hw": "examples/mnist_lut/mnist-lut-hw.dlgn.npz",
           "mnist-lut-b2": "examples/mnist_lut/mnist-lut-b2.dlgn.npz"}
FAST_FLOWS = ("if", "gia_if")       # the others run up to --abc-max-gates


def random_net(gates: int, seed: int = 0) -> Netlist:
    """A layered net of random non-degenerate two-input gates, ~``gates`` after optimize."""
    tabs = GATE_TABLES.astype(np.uint64)
    tabs = tabs[[t not in (0, 3, 5, 10, 12, 15) for t in tabs.tolist()]]
    depth = 8
    width = max(16, int(gates * 1.2) // depth)
    return optimize(random_layered(seed, n_inputs=min(1024, max(64, width // 8)),
                                   layers=(width,) * depth, n_classes=0, tables=tabs))


def bench(name: str, net: Netlist, args) -> dict:
    row = {"net": name, "gates": net.n_gates, "depth": net.depth()}
    t0 = time.perf_counter()
    res = lut_map(net, args.k)
    row["ours"] = {"luts": res.stats["luts"], "depth": res.stats["depth"],
                   "seconds": round(time.perf_counter() - t0, 3)}
    small = net.n_gates <= args.abc_max_gates
    # (simulation memory is nodes x vectors / 8 bytes: fewer vectors on the big nets)
    row["ours"]["equal"] = bool(check_equivalent(net, res.net,
                                                 n_random=65536 if small else 4096).equivalent)
    if find_abc() is not None:
        if not args.no_prove and small:
            row["ours"]["abc_cec"] = bool(check_equivalent(net, res.net, method="abc").equivalent)
        row["abc"] = {}
        for flow in args.flows:
            if flow not in FAST_FLOWS and not small:
                continue
            a = abc_lut_map(net, args.k, flow, timeout=args.abc_timeout)
            row["abc"][flow] = {"luts": a.luts, "depth": a.depth, "seconds": round(a.seconds, 3)}
        if row["abc"]:
            best = min(row["abc"].values(), key=lambda r: (r["luts"], r["depth"]))
            row["abc_best"] = best
            row["ratio"] = round(row["ours"]["luts"] / max(1, best["luts"]), 4)
            row["no_deeper"] = row["ours"]["depth"] <= min(r["depth"] for r in row["abc"].values())
    if args.yosys and net.n_gates <= args.yosys_max_gates:
        row["yosys"] = yosys_lut(net, args.abc_timeout)     # beside ABC, not in its best
    return row


def yosys_lut(net: Netlist, timeout: float) -> dict:
    """Yosys ``synth; abc -lut 6`` on the net's logic (its outputs, no head)."""
    import tempfile
    from dlgn.backends.verilog_synth import synthesize
    logic = net.logic()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = synthesize(logic, tmp, pipeline=0, targets=("lut6",), timeout=timeout)["lut6"]
    if "error" in r:
        return r
    return {"luts": r["luts"], "depth": r["depth"], "seconds": round(time.perf_counter() - t0, 3)}


def table(rows, flows) -> str:
    head = ["net", "gates", "ours LUTs", "depth", "s"]
    for f in flows:
        head += [f"{f} LUTs", "depth", "s"]
    head += ["ours/best"]
    lines = [head]
    for r in rows:
        line = [r["net"], f"{r['gates']:,}", f"{r['ours']['luts']:,}", str(r["ours"]["depth"]),
                f"{r['ours']['seconds']:.2f}"]
        for f in flows:
            a = r.get("yosys") if f == "yosys" else r.get("abc", {}).get(f)
            line += [f"{a['luts']:,}", str(a["depth"]), f"{a['seconds']:.2f}"] \
                if a and "error" not in a else ["-", "-", "-"]
        line.append(f"{r['ratio']:.3f}" if "ratio" in r else "-")     # against ABC's best
        lines.append(line)
    w = [max(len(x[i]) for x in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w[i]) for i, c in enumerate(x)) for x in lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=6)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--flows", default=",".join(ABC_FLOWS))
    ap.add_argument("--abc-max-gates", type=int, default=200_000,
                    help="largest net for the slow (dch) flows and the cec proof")
    ap.add_argument("--abc-timeout", type=float, default=900)
    ap.add_argument("--no-prove", action="store_true")
    ap.add_argument("--yosys-max-gates", type=int, default=60_000,
                    help="largest net for the Yosys abc -lut flow (0: none)")
    ap.add_argument("--no-trained", action="store_true")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = ap.parse_args(argv)
    args.flows = [f for f in args.flows.split(",") if f]
    from dlgn.backends.verilog_synth import pyosys_available
    args.yosys = args.yosys_max_gates > 0 and args.k == 6 and pyosys_available()
    nets = []
    if not args.no_trained:
        for name, rel in TRAINED.items():
            if (ROOT / rel).is_file():
                nets.append((name, lambda rel=rel: optimize(Netlist.load(ROOT / rel))))
    for s in (int(x) for x in args.sizes.split(",") if x):
        nets.append((f"random-{s // 1000}k", lambda s=s: random_net(s)))
    rows = []
    for name, make in nets:
        rows.append(bench(name, make(), args))
        print(f"# {name}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"k": args.k, "rows": rows}, indent=1))
    else:
        print(table(rows, args.flows + (["yosys"] if args.yosys else [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
