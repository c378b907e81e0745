"""Learned connections against plain random wiring: training-step time and peak memory,
side by side (issue 13, item 6).

Every variant trains the same net shape (``--layers``, ``--inputs`` input bits, batch
``--batch``, GroupSum over 10 classes, cross-entropy, Adam) on random 0/1 inputs; only the
wiring differs: random (fixed ``idx``) or learned with K candidates per gate input, in the
training forward "hard" (the arg-max candidate, straight-through) or "soft" (the softmax
mixture).  Each variant runs in a fresh subprocess, so its peak RSS above the RSS after
setup is its own; the step times are the best of ``--repeats`` steps (CPU time of the
process is printed too, since the machines are shared).

    python benchmarks/learned_bench.py                       # 4000,2000,2000 on 784 inputs
    python benchmarks/learned_bench.py --layers 1000,1000 --repeats 3   # quick
    python benchmarks/learned_bench.py --layers 16000,8000,8000 --inputs 800 --arity 4 \
        --threads 2 --variants K64first-hard-gates,K64first-hard-gates-interp  # mnist-32k-shift
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

#: name -> (connections, candidates, selection, optimizer, estimator, vertex); candidates
#: "a,b,c" = one per layer; optimizer "trainer" is the one ``train`` uses (fused Adam),
#: "unfused" torch's default Adam (what ``train`` used before); estimator "hard" makes every
#: layer's input 0/1, so that gates of 3+ inputs take the table-lookup (vertex) path, which
#: vertex=False turns off (the interpolation it replaced, for the side-by-side figure)
VARIANTS = {
    "random": ("random", "8", "hard", "trainer", "soft", True),
    "learned-K8-hard": ("learned", "8", "hard", "trainer", "soft", True),
    "learned-K8-soft": ("learned", "8", "soft", "trainer", "soft", True),
    "learned-K64first-hard": ("learned", "64,8,8", "hard", "trainer", "soft", True),
    "learned-K64-hard": ("learned", "64", "hard", "trainer", "soft", True),
    "learned-Kall-first-hard": ("learned", "0,8,8", "hard", "trainer", "soft", True),
    "learned-Kall-first-hard-unfused": ("learned", "0,8,8", "hard", "unfused", "soft", True),
    "K64first-hard-gates": ("learned", "64,8,8", "hard", "trainer", "hard", True),
    "K64first-hard-gates-interp": ("learned", "64,8,8", "hard", "trainer", "hard", False),
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_variant(name: str, args) -> dict:
    import torch
    from dlgn.frontend.net import LogicNet
    from dlgn.frontend.train import adam_optimizer
    torch.set_num_threads(args.threads)
    conn, cand, sel, optimizer, estimator, vertex = VARIANTS[name]
    if not vertex:
        from dlgn.frontend import functional
        functional.is_binary = lambda x: False
    layers = [int(w) for w in args.layers.split(",")]
    ks = [int(c) for c in cand.split(",")]
    ks = ks[0] if len(ks) == 1 else (ks + [ks[-1]] * len(layers))[:len(layers)]
    net = LogicNet(args.inputs, layers, n_classes=10, connections=conn, candidates=ks,
                   arity=args.arity, selection=sel, estimator=estimator, seed=0)
    opt = adam_optimizer(net, lr=0.01) if optimizer == "trainer" else \
        torch.optim.Adam(net.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(args.batch, args.inputs, generator=g) > 0.5).float()
    y = torch.randint(0, 10, (args.batch,), generator=g)
    base = _maxrss_mb()
    best = float("inf")
    cpu0 = time.process_time()
    for _ in range(args.repeats):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net.forward_bits(x), y).backward()
        opt.step()
        best = min(best, time.perf_counter() - t)
    return {"variant": name, "step_ms": round(best * 1e3, 1),
            "cpu_ms_per_step": round((time.process_time() - cpu0) / args.repeats * 1e3, 1),
            "peak_mb": round(_maxrss_mb() - base, 1),
            "params": sum(p.numel() for p in net.parameters())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", default="4000,2000,2000")
    ap.add_argument("--inputs", type=int, default=784)
    ap.add_argument("--arity", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_variant(args.one, args)))
        return 0
    rows = []
    for name in args.variants.split(","):
        if name not in VARIANTS:
            ap.error(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
        cmd = [sys.executable, __file__, "--one", name, "--layers", args.layers,
               "--inputs", str(args.inputs), "--arity", str(args.arity), "--batch", str(args.batch),
               "--repeats", str(args.repeats), "--threads", str(args.threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    ref = rows[0]["step_ms"] if rows and rows[0]["variant"] == "random" else None
    print(f"layers {args.layers} of {args.arity}-input gates, {args.inputs} inputs, batch {args.batch}, "
          f"{args.threads} thread(s), best of {args.repeats} steps")
    print(f"{'variant':<32}{'step ms':>9}{'CPU ms':>9}{'x random':>10}{'peak MB':>9}{'params':>10}")
    for r in rows:
        rel = f"{r['step_ms'] / ref:.2f}" if ref else "-"
        print(f"{r['variant']:<32}{r['step_ms']:>9}{r['cpu_ms_per_step']:>9}{rel:>10}"
              f"{r['peak_mb']:>9}{r['params']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
