"""Verilog backend benchmark: size after synthesis, fmax and simulation throughput.

    python benchmarks/verilog_bench.py [--model PATH] [--layers 8000x6] [--pipeline 4]
                                       [--targets lut6,xc7,ice40] [--vectors 2000]
                                       [--no-synth] [--no-pnr] [--no-sim]

Default net: ``random_layered(layers=(8000,)*6)`` (784 inputs, 10 classes, ~48K gates),
optimized by dlgn's pass pipeline.  Reports live gates, LUTs, flip-flops and depth after
Yosys synthesis (combinational and pipelined), an iCE40 place-and-route fmax of the
pipelined form of a ~1K-gate net (nextpnr, when installed), and the testbench throughput
(vectors/s) with Icarus Verilog and Verilator 5.48, side by side in one run.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _net(args):
    from dlgn.compiler.generate import random_layered
    if args.model:
        from dlgn.cli.models import load_netlist
        return load_netlist(args.model)
    width, depth = (int(v) for v in args.layers.lower().split("x"))
    layers = (width,) * depth
    # "nondegenerate": only the 10 two-input functions that read both inputs, so that
    # (like a trained net) little folds away; "random": all 16 (most cones collapse)
    tables = [1, 2, 4, 6, 7, 8, 9, 11, 13, 14] if args.tables == "nondegenerate" else None
    return random_layered(0, n_inputs=784, layers=layers, n_classes=10, tables=tables)


def _row(name, d):
    if "error" in d:
        return f"| {name} | error: {d['error'][:100]} |"
    return (f"| {name} | {d['luts']:,} | {d['ffs']:,} | {d.get('carry', 0):,} | "
            f"{d['depth']} | {d['seconds']:.0f} s |")


def main(argv=None) -> int:
    from dlgn.backends.verilog import layout
    from dlgn.backends.verilog_sim import simulate_verilog
    from dlgn.backends.verilog_synth import synthesize
    from dlgn.compiler import optimize
    from dlgn.compiler.generate import random_layered
    from dlgn.compiler.simulate import predict, scores

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--layers", default="8000x6", help="WIDTHxDEPTH of the random net")
    ap.add_argument("--tables", choices=["random", "nondegenerate"], default="random",
                    help="truth tables of the random net")
    ap.add_argument("--pipeline", type=int, default=4)
    ap.add_argument("--targets", default="lut6,xc7,ice40")
    ap.add_argument("--vectors", type=int, default=2000)
    ap.add_argument("--iverilog-vectors", type=int, default=200)
    ap.add_argument("--iverilog-comb-vectors", type=int, default=5,
                    help="Icarus on the combinational form (slow: see verilog_sim)")
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-pnr", action="store_true")
    ap.add_argument("--no-sim", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    out = {}
    t0 = time.perf_counter()
    raw = _net(args)
    net = optimize(raw)
    lay0, layp = layout(net, 0), layout(net, args.pipeline)
    out["net"] = {"gates": raw.n_gates, "optimized_gates": net.n_gates,
                  "live_gates": lay0.live_gates, "depth": lay0.depth,
                  "latency": layp.latency, "pipeline": args.pipeline}
    print(f"net: {raw.n_gates:,} gates -> {net.n_gates:,} after optimize, "
          f"{lay0.live_gates:,} live, depth {lay0.depth}; pipelined L={args.pipeline}: "
          f"latency {layp.latency} cycles ({time.perf_counter() - t0:.0f} s)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="dlgn-vbench-"))
    targets = tuple(t for t in args.targets.split(",") if t)
    if not args.no_synth:
        print("\n| design / target | LUTs | FFs | carry | depth (cells) | time |")
        print("|---|---:|---:|---:|---:|---:|", flush=True)
        for L in (0, args.pipeline):
            r = synthesize(net, work / f"L{L}", pipeline=L, targets=targets)
            out[f"synth_L{L}"] = r
            for t in targets:
                print(_row(f"{'comb' if L == 0 else f'pipelined L={L}'} / {t}", r[t]), flush=True)
    if not args.no_pnr:
        small = optimize(random_layered(1, n_inputs=64, layers=(250,) * 4, n_classes=10,
                                        tables=[1, 2, 4, 6, 7, 8, 9, 11, 13, 14]))
        r = synthesize(small, work / "pnr", pipeline=2, targets=("ice40",), pnr=True)
        out["pnr_1k"] = {"gates": small.n_gates, "ice40": r["ice40"], "pnr": r.get("pnr")}
        p = r.get("pnr", {})
        print(f"\nplace and route (iCE40, {small.n_gates} gates, pipelined L=2): "
              + (f"fmax {p['fmax_mhz']:.1f} MHz on {p['device']} ({p['seconds']:.0f} s), "
                 f"{r['ice40'].get('luts')} LUT4, {r['ice40'].get('ffs')} FF"
                 if "fmax_mhz" in p else f"{p.get('error', 'not run')}"), flush=True)
    if not args.no_sim:
        rng = np.random.default_rng(0)
        print("\n| simulator | form | vectors | build | run | vectors/s | exact |")
        print("|---|---|---:|---:|---:|---:|---|", flush=True)
        # Icarus is event-driven: the combinational head re-evaluates on every change of
        # any output bit, so the combinational form gets few vectors
        for sim, n0 in (("iverilog", args.iverilog_vectors), ("verilator", args.vectors)):
            for L in (0, args.pipeline):
                n = args.iverilog_comb_vectors if (sim == "iverilog" and L == 0) else n0
                if n <= 0:
                    continue
                X = rng.integers(0, 2, size=(n, net.n_inputs), dtype=np.uint8)
                ref_s, ref_c = scores(net, X), predict(net, X)
                try:
                    r = simulate_verilog(net, X, pipeline=L, simulator=sim,
                                         workdir=work / f"sim_{sim}_{L}")
                except Exception as e:  # noqa: BLE001 - report and go on
                    print(f"| {sim} | L={L} | {n} | error: {str(e)[:120]} |", flush=True)
                    continue
                ok = bool(np.array_equal(r["scores"], ref_s) and np.array_equal(r["class_id"], ref_c))
                s = r["seconds"]
                vps = n / s["run"] if s["run"] else float("inf")
                out[f"sim_{sim}_L{L}"] = {"vectors": n, **s, "vectors_per_s": vps, "exact": ok}
                print(f"| {sim} | {'comb' if L == 0 else f'L={L}'} | {n} | {s['build']:.1f} s | "
                      f"{s['run']:.1f} s | {vps:,.0f} | {ok} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    print(f"\nwork files: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
