"""Optimize time and peak memory of two dlgn trees side by side (before/after a change).

    git worktree add /tmp/dlgn_before <rev>
    python3 benchmarks/optimize_ab.py --before /tmp/dlgn_before [--sizes 1e6,1e7] [--reps 2]

Each run is a fresh process (so peak RSS is its own) on the same random layered net
(784 inputs, 4 equal layers of two-input gates, 10 classes); the two trees alternate, and the
best wall time of ``--reps`` runs is reported with the live gates left and the peak RSS."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CODE = r'''
import json, resource, sys, time
from dlgn.compiler import optimize, random_layered
n = int(sys.argv[1]); w = n // 4; w -= w % 10
net = random_layered(0, n_inputs=784, layers=(w,) * 4, n_classes=10)
t = time.perf_counter(); o = optimize(net); dt = time.perf_counter() - t
print(json.dumps({"s": dt, "live": o.n_gates,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", required=True, help="root of the other dlgn tree")
    p.add_argument("--sizes", default="1e6,1e7", help="gate counts (default 1e6,1e7)")
    p.add_argument("--reps", type=int, default=2, help="runs per tree and size (default 2)")
    args = p.parse_args(argv)
    trees = {"before": str(Path(args.before).resolve()),
             "after": str(Path(__file__).resolve().parents[1])}
    print(f"{'gates':>10} {'tree':>7} {'best s':>8} {'live':>9} {'peak MB':>8}")
    for n in (int(float(s)) for s in args.sizes.split(",")):
        best = {}
        for _ in range(args.reps):
            for tag, root in trees.items():
                env = dict(os.environ, PYTHONPATH=root)
                r = subprocess.run([sys.executable, "-c", CODE, str(n)], capture_output=True,
                                   text=True, env=env, cwd="/", check=True)
                d = json.loads(r.stdout.strip().splitlines()[-1])
                b = best.setdefault(tag, d)
                if d["s"] < b["s"]:
                    best[tag] = dict(d, rss_mb=max(d["rss_mb"], b["rss_mb"]))
        for tag, d in best.items():
            print(f"{n:>10} {tag:>7} {d['s']:>8.2f} {d['live']:>9} {d['rss_mb']:>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
