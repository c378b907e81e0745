"""The C backend at scale (issue 12): build cost and predict speed of random layered nets.

    nice python benchmarks/c_scale.py [--sizes 125K,500K,1M] [--samples 16384] [--threads 1,2]
                                      [--mode auto|straight|program]

For each size N it makes ``random_layered(seed, 784, (N/4,)*4, n_classes=10)``, optimizes
it (``dlgn.compiler.optimize``, not timed), and in a fresh child process (so that the
peak-memory figures are this size's alone):

* builds it with ``build_c(mode=--mode)`` into an empty cache (**mode**: the one ``auto``
  chose -- straight-line code for small nets, the gate program above
  ``dlgn.backends.c.PROGRAM_GATES`` gates): **build wall** (seconds, wall clock:
  the machine may be shared, so this is also affected by other load), **build CPU**
  (user+sys of the compiler processes, ``getrusage(RUSAGE_CHILDREN)``), **cc peak**
  (``ru_maxrss`` of the children: the largest single compiler process), **cc sum peak**
  (the largest sum of the RSS of all live descendants, sampled from /proc every 20 ms:
  what parallel compiler processes need together) and **py peak** (the emitting Python
  process's own ``ru_maxrss``);
* predicts ``--samples`` random rows with 1 and 2 threads: **CPU per gate-sample**
  (``time.process_time`` -- CPU time of all threads of the process -- over samples x
  gates of the optimized net), **samples/s** predicted for an idle machine from the CPU
  time (threads x samples / CPU seconds; the wall-clock rate is printed next to it), and
  the **2-thread speedup** measured in wall time (meaningful on an idle machine only).

The prediction is checked against the reference simulator on the first 256 rows.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

ROOT = Path(__file__).resolve().parents[1]


def _parse_size(s: str) -> int:
    s = s.strip().upper()
    mul = {"K": 1000, "M": 1000_000}.get(s[-1:], 1)
    return int(float(s.rstrip("KM")) * mul)


def _descendants_rss(pid: int) -> int:
    """Sum of VmRSS (bytes) of the descendants of ``pid`` (from /proc)."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            with open(f"/proc/{d}/statm") as f:
                rss[int(d)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    total, todo = 0, list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += kids.get(p, [])
    return total


def child(size: int, seed: int, samples: int, threads: list[int], reps: int,
          mode: str = "auto") -> dict:
    import resource
    import tempfile

    import numpy as np

    sys.path.insert(0, os.environ.get("DLGN_SCALE_PATH", str(ROOT)))
    from dlgn.compiler import optimize, random_layered
    import importlib
    sim = importlib.import_module("dlgn.compiler.simulate")
    from dlgn.runtime import c_build

    w = size // 4
    t0 = time.perf_counter()
    net = optimize(random_layered(seed, 784, (w,) * 4, n_classes=10))
    t_opt = time.perf_counter() - t0
    from dlgn.compiler.passes import live_gates
    live = int(np.count_nonzero(live_gates(net)))

    peak = [0]
    done = threading.Event()

    def sampler():
        me = os.getpid()
        while not done.wait(0.02):
            peak[0] = max(peak[0], _descendants_rss(me))

    th = threading.Thread(target=sampler, daemon=True)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as cache_dir:
        th.start()
        t0 = time.perf_counter()
        m = c_build.build_c(net, threads=1, cache_dir=cache_dir, mode=mode)
        t_build = time.perf_counter() - t0
        done.set()
        th.join()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        rng = np.random.default_rng(seed + 1)
        X = rng.integers(0, 2, size=(samples, net.n_inputs), dtype=np.uint8)
        ref = sim.argmax_first(sim.scores_from_bits(net, sim.simulate(net, X[:256])))
        got = m.predict(X[:256])
        if not np.array_equal(np.asarray(ref), np.asarray(got)):
            raise SystemExit(f"size {size}: C prediction differs from the simulator")
        res = {"size": size, "gates": int(net.n_gates), "live": live, "opt_s": t_opt,
               "build_wall_s": t_build,
               "build_cpu_s": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime),
               "cc_peak_mb": ru1.ru_maxrss / 1024, "cc_sum_peak_mb": peak[0] / 2**20,
               "py_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               "word_bits": m.word_bits, "mode": m.mode, "run": {}}
        m.predict(X[:4096])     # warm up
        for t in threads:
            m.threads = t
            best_cpu, best_wall = float("inf"), float("inf")
            for _ in range(reps):
                c0, w0 = time.process_time(), time.perf_counter()
                m.predict(X)
                best_cpu = min(best_cpu, time.process_time() - c0)
                best_wall = min(best_wall, time.perf_counter() - w0)
            res["run"][t] = {"cpu_s": best_cpu, "wall_s": best_wall,
                             "ps_per_gate_sample": best_cpu / (samples * net.n_gates) * 1e12,
                             "samples_per_s_cpu": t * samples / best_cpu,
                             "samples_per_s_wall": samples / best_wall}
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="125K,500K,1M")
    ap.add_argument("--samples", type=int, default=16384)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mode", default="auto", choices=("auto", "straight", "program"))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    threads = [int(t) for t in a.threads.split(",")]
    if a.child:
        print(json.dumps(child(int(a.child), a.seed, a.samples, threads, a.reps, a.mode)))
        return
    rows = []
    for s in [_parse_size(x) for x in a.sizes.split(",")]:
        r = subprocess.run([sys.executable, __file__, "--child", str(s), "--samples",
                            str(a.samples), "--threads", a.threads, "--reps", str(a.reps),
                            "--seed", str(a.seed), "--mode", a.mode], capture_output=True,
                           text=True)
        if r.returncode:
            print(r.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"size {s} failed")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        rows.append(res)
        print(json.dumps(res), file=sys.stderr, flush=True)
    hdr = ("| gates (opt) → live | build wall | build CPU | cc peak | cc sum peak | py peak "
           "| mode | wb | " + " | ".join(f"{t}T CPU ps/gate-sample | {t}T samples/s (CPU; wall)"
                                  for t in threads) + " | 2T/1T wall |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        run = {int(k): v for k, v in r["run"].items()}
        cells = [f"{r['size'] / 1000:.0f}K ({r['gates']}) → {r['live']}",
                 f"{r['build_wall_s']:.1f} s", f"{r['build_cpu_s']:.1f} s",
                 f"{r['cc_peak_mb']:.0f} MB", f"{r['cc_sum_peak_mb']:.0f} MB",
                 f"{r['py_peak_mb']:.0f} MB", r.get("mode", "straight"), str(r["word_bits"])]
        for t in threads:
            v = run[t]
            cells += [f"{v['ps_per_gate_sample']:.2f}",
                      f"{v['samples_per_s_cpu'] / 1e3:.0f} K ; {v['samples_per_s_wall'] / 1e3:.0f} K"]
        sp = (run[1]["wall_s"] / run[2]["wall_s"]) if 1 in run and 2 in run else float("nan")
        cells.append(f"{sp:.2f}x")
        print("| " + " | ".join(cells) + " |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
