"""C backend benchmark: dlgn's bit-parallel C vs a difflogic-style baseline, side by side.

    nice python benchmarks/c_bench.py [--model PATH] [--big-gates 1000000] [--samples 65536]

For each net (an MNIST-size net: ``--model`` or a random layered 6x8000 net with 784
inputs and 10 classes; and a random ~1M-gate net) it builds, in one run on the same
netlist and inputs:

* ours: ``dlgn.runtime.c_build.build_c`` (vector words, chunked, bit-sliced head), cold
  cache;
* baseline: C emitted the way difflogic's ``CompiledLogicNet`` does it (written here): one
  64-bit statement per gate in one function, inputs packed bit by bit, a bit-serial
  ripple-carry GroupSum per class, ``gcc -O1``, loaded through cffi the same way;

and prints build time and samples/s with 1 and 2 threads (the main figure: uint8 rows in,
classes out, for both; ours also on rows pre-packed with ``np.packbits(..., bitorder="little")``
as a secondary figure, packing not timed) (the baseline's 2 threads are two
Python threads on halves of the batch; the GIL is released), plus the machine's ceiling: a
C loop of vector XOR/AND statements over L1-resident words, in gate-evaluations per second,
with ours as a fraction of it.  Both predictions are checked against the simulator.
"""
from __future__ import annotations

import argparse
import importlib
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# The simulator's reference calls use numpy's BLAS, whose idle threads spin on the other core
# for a while afterwards: that inflated the CPU-time rates and stole the second core from
# the 2-thread runs (seen as a 1.0x "second thread").  Neither compiled model uses BLAS.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlgn.compiler import random_layered  # noqa: E402
from dlgn.runtime import c_build  # noqa: E402

sim = importlib.import_module("dlgn.compiler.simulate")


# ---------------------------------------------------------------- the difflogic-style baseline
def baseline_source(net) -> str:
    """C in the style of difflogic's CompiledLogicNet (its structure, our netlist)."""
    from dlgn.backends.cfamily import expr_template
    if net.n_classes == 0 or len(set(net.group_sizes.tolist())) != 1:
        raise ValueError("the baseline needs equal class groups")
    ni, first, C = net.n_inputs, net.first_gate, net.n_classes
    gsz = int(net.group_sizes[0])
    bits = max(1, gsz.bit_length())

    def ref(n):
        if n < 2:
            return "0ULL" if n == 0 else "~0ULL"
        return f"inp[{n - 2}]" if n < first else f"v{n - first}"

    lines = []
    tm = {}
    for g in range(net.n_gates):
        k = int(net.arity[g])
        t = tm.setdefault((k, int(net.table[g])), expr_template(int(net.table[g]), k)
                          .replace("{Z}", "0ULL").replace("{O}", "~0ULL"))
        ops = [ref(int(f)) for f in net.fanin[g, :k]]
        lines.append(f"    const uint64_t v{g} = {t.format(*ops)};")
    for o, (n, inv) in enumerate(zip(net.outputs.tolist(), net.invert.tolist())):
        lines.append(f"    out[{o}] = {'~' if inv else ''}{ref(n)};")
    body = "\n".join(lines)
    return f"""#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
void logic_gate_net(const uint64_t *inp, uint64_t *out)
{{
{body}
}}

void apply_logic_gate_net(const uint8_t *inp, int32_t *cls, size_t len)
{{
    uint64_t *inp_temp = malloc({ni + 1} * sizeof(uint64_t));
    uint64_t *out_temp = malloc({net.n_outputs + 1} * sizeof(uint64_t));
    uint64_t out_temp_o[{bits}];
    int32_t score[64 * {C}];
    for (size_t i = 0; i < (len + 63) / 64; ++i) {{
        size_t rows = len - i * 64 < 64 ? len - i * 64 : 64;
        for (size_t d = 0; d < {ni}; ++d) {{
            inp_temp[d] = 0;
            for (size_t b = 0; b < rows; ++b)
                inp_temp[d] |= (uint64_t)(inp[(i * 64 + b) * {ni} + d] & 1) << b;
        }}
        logic_gate_net(inp_temp, out_temp);
        for (size_t c = 0; c < {C}; ++c) {{
            for (size_t d = 0; d < {bits}; ++d) out_temp_o[d] = 0;
            for (size_t a = 0; a < {gsz}; ++a) {{
                uint64_t carry = out_temp[c * {gsz} + a];
                for (int d = {bits} - 1; d >= 0; --d) {{
                    uint64_t o = out_temp_o[d];
                    out_temp_o[d] = carry ^ o;
                    carry = carry & o;
                }}
            }}
            for (size_t b = 0; b < 64; ++b) {{
                int32_t res = 0;
                for (size_t d = 0; d < {bits}; ++d)
                    res = (res << 1) + (int32_t)((out_temp_o[d] >> b) & 1);
                score[b * {C} + c] = res;
            }}
        }}
        for (size_t b = 0; b < rows; ++b) {{
            int32_t best = 0;
            for (size_t c = 1; c < {C}; ++c)
                if (score[b * {C} + c] > score[b * {C} + best]) best = (int32_t)c;
            cls[i * 64 + b] = best;
        }}
    }}
    free(inp_temp);
    free(out_temp);
}}
"""


def build_baseline(net, tmp: Path, cc: str):
    src = baseline_source(net)
    cdef = "void apply_logic_gate_net(const uint8_t *inp, int32_t *cls, size_t len);"
    mod = f"_dlgn_baseline_{os.getpid()}_{net.n_gates}"
    with _BuildClock() as bc:
        src = baseline_source(net)
        c_build._compile(tmp, mod, src, cdef, cc, ["-O1"])
    dt = bc.cpu
    import sysconfig
    m = c_build._load(tmp / (mod + sysconfig.get_config_var("EXT_SUFFIX")), mod)
    return m, dt


def baseline_predict(m, X, threads=1):
    def run(Xp):
        out = np.empty(Xp.shape[0], dtype=np.int32)
        if Xp.shape[0]:
            m.lib.apply_logic_gate_net(m.ffi.from_buffer("uint8_t[]", Xp), m.ffi.from_buffer(
                "int32_t[]", out), Xp.shape[0])
        return out
    if threads == 1:
        return run(X)
    cut = (X.shape[0] // 2 // 64) * 64
    with ThreadPoolExecutor(2) as ex:
        a, b = ex.map(run, [np.ascontiguousarray(X[:cut]), np.ascontiguousarray(X[cut:])])
    return np.concatenate([a, b])


# ---------------------------------------------------------------- the machine's ceiling
CEILING_C = r"""
#include <stdint.h>
#include <stddef.h>
typedef uint64_t w_t __attribute__((vector_size(WB / 8)));
double ceiling_ops(long reps)
{
    static w_t w[512];
    long r; size_t j;
    for (j = 0; j < 512; j++) { w_t v = {0}; v[0] = j * 0x9E3779B97F4A7C15ULL; w[j] = v; }
    for (r = 0; r < reps; r++) {
        for (j = 0; j + 2 < 512; j += 2) {
            w[j] = w[j + 1] ^ w[j + 2];
            w[j + 1] = w[j] & w[j + 2];
        }
        __asm__ volatile("" ::: "memory");
    }
    return (double)reps * 510.0;
}
"""


def ceiling(tmp: Path, cc: str, wb: int):
    mod = f"_dlgn_ceiling_{os.getpid()}"
    c_build._compile(tmp, mod, CEILING_C.replace("WB", str(wb)), "double ceiling_ops(long reps);",
                     cc, ["-O2", "-march=native"])
    import sysconfig
    m = c_build._load(tmp / (mod + sysconfig.get_config_var("EXT_SUFFIX")), mod)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        ops = m.lib.ceiling_ops(20000)
        best = max(best, ops / (time.perf_counter() - t0))
    return best * wb  # gate evaluations (one op on one sample) per second


# ---------------------------------------------------------------- measuring
def rate(fn, X, repeats=3, cpu=False):
    """Samples/s, median of ``repeats``: wall clock, or this process's CPU time (``cpu``:
    for single-threaded calls; robust to other jobs on a shared machine)."""
    clock = time.process_time if cpu else time.perf_counter
    fn(X[:4096])
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn(X)
        times.append(clock() - t0)
    return X.shape[0] / statistics.median(times)


class _BuildClock:
    """Build time as CPU seconds: this process (emission) plus its children (the compiler)."""

    def __enter__(self):
        self.t0 = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime \
            + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
        self.w0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = time.process_time() + ch.ru_utime + ch.ru_stime - self.t0
        self.wall = time.perf_counter() - self.w0


def bench_net(label, net, X, args, tmp: Path, rows: list, variants=(None,)):
    print(f"\n## {label}: {net}", flush=True)
    ref = sim.predict(net, X[:2048])
    for opt in variants:  # None: the runtime's default flags (c_build.default_cflags)
        with _BuildClock() as bc:
            ours = c_build.build_c(net, threads=1, cache_dir=tmp / "cache", cc=args.cc,
                                   cflags=None if opt is None else [opt, "-march=native"])
        opt = opt or "default"
        assert (ours.predict(X[:2048]) == ref).all(), "ours disagrees with the simulator"
        r1 = rate(ours.predict, X, cpu=True)
        r1w = rate(ours.predict, X)
        # secondary figure: rows pre-packed along features (packbits little), packing untimed
        Xp = np.packbits(X, axis=1, bitorder="little")
        assert (ours.predict_packed(Xp[:2048]) == ref).all(), "ours (packed) disagrees"
        rp = rate(ours.predict_packed, Xp, cpu=True)
        ours.threads = 2
        r2 = rate(ours.predict, X)
        print(f"ours {opt}: build {bc.cpu:.1f} s CPU ({bc.wall:.1f} s wall), {r1 / 1e6:.2f} M/s "
              f"(1 thread, CPU time), {r1w / 1e6:.2f} M/s (1 thread, wall), {r2 / 1e6:.2f} M/s "
              f"(2 threads, wall); pre-packed rows {rp / 1e6:.2f} M/s (1 thread, CPU time); "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
        row = {"net": f"{label} (ours {opt})", "gates": net.n_gates, "ours_build": bc.cpu,
               "ours_1t": r1, "ours_1tw": r1w, "ours_2t": r2, "word_bits": ours.word_bits,
               "ours_1t_packed": rp}
        rows.append(row)
    if net.n_gates <= args.baseline_max_gates:
        bdir = tmp / f"base_{net.n_gates}"
        bdir.mkdir()
        base, b_build = build_baseline(net, bdir, args.cc or c_build.default_cc())
        assert (baseline_predict(base, X[:2048]) == ref).all(), "baseline disagrees"
        b1 = rate(lambda Z: baseline_predict(base, Z), X, cpu=True)
        b1w = rate(lambda Z: baseline_predict(base, Z), X)
        b2 = rate(lambda Z: baseline_predict(base, Z, 2), X)
        print(f"baseline: build {b_build:.1f} s CPU, {b1 / 1e6:.2f} M/s (1 thread, CPU time), "
              f"{b1w / 1e6:.2f} M/s (1 thread, wall), {b2 / 1e6:.2f} M/s (2 threads, wall); "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
        for r in rows:
            if r["gates"] == net.n_gates:
                r.update(base_build=b_build, base_1t=b1, base_1tw=b1w, base_2t=b2)
    else:
        print(f"baseline: skipped (more than --baseline-max-gates={args.baseline_max_gates})")


def main():
    ap = argparse.ArgumentParser(description="dlgn C backend vs a difflogic-style baseline")
    ap.add_argument("--model", help="trained model or netlist for the MNIST-size net")
    ap.add_argument("--layers", default="8000,8000,8000,8000,8000,8000")
    ap.add_argument("--big-gates", type=int, default=1_000_000, help="0 skips the big net")
    ap.add_argument("--samples", type=int, default=65536)
    ap.add_argument("--baseline-max-gates", type=int, default=100_000)
    ap.add_argument("--cc", default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows: list = []
    with tempfile.TemporaryDirectory(prefix="dlgn-c-bench-") as td:
        tmp = Path(td)
        if args.model:
            from dlgn.cli.models import load_netlist
            net = load_netlist(args.model)
        else:
            net = random_layered(0, n_inputs=784, layers=[int(v) for v in args.layers.split(",")],
                                 arity=2, n_classes=10)
        X = rng.integers(0, 2, size=(args.samples, net.n_inputs), dtype=np.uint8)
        bench_net("mnist-size", net, X, args, tmp, rows, variants=(None, "-O2"))
        if args.big_gates:
            w = args.big_gates // 5
            big = random_layered(1, n_inputs=784, layers=[w - w % 10] * 5, arity=2, n_classes=10)
            Xb = X[: max(4096, args.samples // 4)]
            bench_net("big", big, Xb, args, tmp, rows)
        wb = rows[0]["word_bits"]
        ceil = ceiling(tmp, args.cc or c_build.default_cc(), wb)
    nan = float("nan")
    print("\n| net | gates | build ours (CPU s) | build baseline (CPU s) | build ratio | ours 1t "
          "(M/s) | baseline 1t (M/s) | speedup 1t | ours 2t (M/s, wall) | baseline 2t (M/s, "
          "wall) | 2nd thread (wall) | ours / ceiling | ours 1t, pre-packed rows (M/s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        g = r.get
        print(f"| {r['net']} | {r['gates']} | {r['ours_build']:.1f} | {g('base_build', nan):.1f} "
              f"| {g('base_build', nan) / r['ours_build']:.1f}x | {r['ours_1t'] / 1e6:.2f} | "
              f"{g('base_1t', nan) / 1e6:.2f} | {r['ours_1t'] / g('base_1t', nan):.1f}x | "
              f"{r['ours_2t'] / 1e6:.2f} | {g('base_2t', nan) / 1e6:.2f} | "
              f"{r['ours_2t'] / r['ours_1tw']:.2f}x | {r['ours_1t'] * r['gates'] / ceil:.2%} | "
              f"{r['ours_1t_packed'] / 1e6:.2f} |")
    print("\n1-thread rates use this process's CPU time and build times the CPU seconds of "
          "emission + compiler (robust on a shared machine); 2-thread rates are wall clock "
          f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs).")
    print(f"\nceiling: {ceil / 1e9:.1f} G gate-evaluations/s ({wb}-bit words, L1-resident); "
          f"'ours / ceiling' counts only the net's gates (the head is extra work).")


if __name__ == "__main__":
    main()
