"""Optimizer benchmark: optimize time, peak extra memory per gate and simulate throughput on
random layered netlists of two-input gates, plus live gates after the passes and the Yosys
``abc -lut 6`` LUT count on a random 10K-gate layered net of the 16 gate types.

    nice python benchmarks/optimize_bench.py [--sizes 1e6,1e7] [--no-yosys]

Targets (issue 3): optimize 1M gates <= 5 s, 10M <= 60 s, <= 64 bytes of extra peak memory
per gate.  Memory is measured with tracemalloc (numpy reports its buffers to it) in a
second run, so the timing run is not slowed down."""
from __future__ import annotations

import argparse
import gc
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dlgn.compiler import GATE_TABLES, optimize, random_layered  # noqa: E402
from dlgn.compiler.io.blif import write_blif  # noqa: E402
from dlgn.compiler.simulate import pack_bits, simulate_words  # noqa: E402


def layered(n_gates, seed=0):
    w = n_gates // 4
    w -= w % 10
    return random_layered(seed, n_inputs=784, layers=(w,) * 4, n_classes=10)


def bench_size(n_gates, sim_samples):
    net = layered(n_gates)
    gc.collect()
    t0 = time.perf_counter()
    opt = optimize(net)
    t_opt = time.perf_counter() - t0
    del opt
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    opt = optimize(net)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    X = np.random.default_rng(0).integers(0, 2, (sim_samples, net.n_inputs), dtype=np.uint8)
    P = pack_bits(X)
    t0 = time.perf_counter()
    simulate_words(net, P)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate_words(opt, P)
    t_sim_opt = time.perf_counter() - t0
    return {"gates": net.n_gates, "live": opt.n_gates, "optimize_s": t_opt,
            "bytes_per_gate": peak / net.n_gates,
            "sim_samples": sim_samples,
            "sim_gate_evals_per_s": net.n_gates * sim_samples / t_sim,
            "sim_opt_samples_per_s": sim_samples / t_sim_opt}


def yosys_lut6(net):
    """LUT-6 count of Yosys ``techmap; opt -fast; abc -lut 6`` on the netlist (pyosys, in a
    subprocess; read_blif makes $lut cells that abc alone leaves untouched)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "n.blif")
        write_blif(net, path)
        code = ("from pyosys import libyosys as ys\n"
                "d = ys.Design()\n"
                f"ys.run_pass('read_blif {path}', d)\n"
                "ys.run_pass('hierarchy -auto-top', d)\n"
                "for c in ('techmap', 'opt -fast', 'abc -lut 6', 'opt_clean', 'stat'):\n"
                "    ys.run_pass(c, d)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=900)
    m = re.findall(r"(\d+)\s+\$lut", r.stdout)
    if not m:
        raise RuntimeError(f"no LUT count in the Yosys log:\n{r.stdout[-2000:]}{r.stderr}")
    return int(m[-1])


def per_pass(path):
    """What each pass run removes on a trained model: one row per pass and iteration."""
    from dlgn.compiler import optimize_with_report
    from dlgn.cli.models import load_netlist
    net = load_netlist(path)
    opt, rows = optimize_with_report(net)
    print(f"{path}: {net.n_gates:,} gates -> {opt.n_gates:,}, depth {opt.depth()}")
    for r in rows:
        rm = {k: v for k, v in r["removed"].items() if v}
        print(f"  {r['pass']:<16} it {r['iteration']}  {r['gates_before']:>9,} -> "
              f"{r['gates_after']:>9,}  {r['seconds']:7.3f} s  {rm}")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--no-yosys", action="store_true")
    ap.add_argument("--model", help="also report what each pass removes on this trained "
                    "model (.pt) or netlist (.dlgn.npz)")
    args = ap.parse_args()
    if args.model:
        per_pass(args.model)
    print(f"{'gates':>10} {'live':>10} {'optimize s':>10} {'target s':>8} {'B/gate':>7} "
          f"{'sim gate-evals/s':>17} {'sim opt samples/s':>18}")
    for s in args.sizes.split(","):
        n = int(float(s))
        r = bench_size(n, 4096 if n <= 2_000_000 else 256)
        target = 5 if n <= 1_000_000 else 60
        print(f"{r['gates']:>10,} {r['live']:>10,} {r['optimize_s']:>10.2f} {target:>8} "
              f"{r['bytes_per_gate']:>7.1f} {r['sim_gate_evals_per_s']:>17.3g} "
              f"{r['sim_opt_samples_per_s']:>18.3g}", flush=True)
    net = random_layered(0, n_inputs=784, layers=(2000,) * 5, n_classes=10,
                         tables=GATE_TABLES.astype(np.uint64))
    opt = optimize(net)
    print(f"\nrandom 10K-gate layered net (uniform gate types, 5 x 2000): "
          f"{opt.n_gates:,} live gates after the passes (reference: simple passes 2,665)")
    if not args.no_yosys:
        t0 = time.perf_counter()
        luts = yosys_lut6(net)
        print(f"Yosys abc -lut 6 on the unoptimized net: {luts:,} LUT-6 "
              f"(reference 1,368; {time.perf_counter() - t0:.1f} s)")
        luts = yosys_lut6(opt)
        print(f"Yosys abc -lut 6 on the optimized net: {luts:,} LUT-6")


if __name__ == "__main__":
    main()
