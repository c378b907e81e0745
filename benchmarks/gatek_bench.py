"""Relaxed k-input gates on the CPU: the interpolation's backward against the version it
replaced, side by side.

    python benchmarks/gatek_bench.py                       # k = 3, 4, 6; 8,000 gates, batch 128
    python benchmarks/gatek_bench.py --gates 16000 --batch 256 --threads 2

The dense layers' relaxed path for k >= 3 (:class:`dlgn.frontend.functional._GateK`, and the
tree levels' :class:`_Tree` through the same :func:`_interp_backward`) is timed forward +
backward on random relaxed inputs, once with the current backward and once with
:func:`reference_interp_backward` (the previous one: it reduced the products ``g * ds`` over
their middle axis and made the last level of ``2**k`` rows a gate before summing it into
omega's gradient).  Both give the same gradients (checked here, float32 rounding).
Reported: the least CPU seconds over ``--repeats`` rounds run round robin in one process.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled


def reference_interp_backward(g, xs, ds, into, need_w: bool):
    """_interp_backward as it was."""
    import torch
    k = len(xs)
    g = g.contiguous().unsqueeze(1)
    for i in range(k - 1, -1, -1):
        into(i, (g * ds[i]).sum(1))
        if i == 0 and not need_w:
            return None
        h = g.shape[1]
        up = torch.empty(g.shape[0], 2 * h, g.shape[2], dtype=g.dtype, device=g.device)
        torch.mul(g, xs[i], out=up[:, h:])
        torch.sub(g, up[:, h:], out=up[:, :h])
        g = up
    return g.sum(2) if need_w else None


def main(argv=None) -> int:
    import torch

    from dlgn.frontend import functional as F
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gates", type=int, default=8000)
    ap.add_argument("--inputs", type=int, default=8000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--arity", type=int, nargs="+", default=[3, 4, 6])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.gates < 1 or args.inputs < 1 or args.batch < 1 or args.repeats < 1 \
            or not all(3 <= k <= 6 for k in args.arity):
        ap.error("--gates, --inputs, --batch and --repeats must be positive, --arity 3..6")
    torch.set_num_threads(args.threads)
    paths = {"current": F._interp_backward, "reference": reference_interp_backward}
    gen = torch.Generator().manual_seed(0)
    print(f"{args.gates} gates on {args.inputs} inputs, batch {args.batch}, {args.threads} "
          f"thread(s), best of {args.repeats}: CPU s of forward + backward")
    print(f"{'k':>3}{'current':>10}{'reference':>11}{'ratio':>8}")
    try:
        for k in args.arity:
            xt = torch.rand(args.inputs, args.batch, generator=gen).requires_grad_()
            idx = torch.randint(0, args.inputs, (args.gates, k), generator=gen)
            om = torch.rand(args.gates, 1 << k, generator=gen).requires_grad_()
            gy = torch.randn(args.gates, args.batch, generator=gen)
            best, grads = {}, {}
            for rep in range(args.repeats + 1):           # the first round warms up
                for name, fn in paths.items():
                    F._interp_backward = fn
                    c = time.process_time()
                    gx, gw = torch.autograd.grad((F._GateK.apply(xt, idx, om) * gy).sum(),
                                                 (xt, om))
                    t = time.process_time() - c
                    if rep:
                        best[name] = min(best.get(name, t), t)
                    grads[name] = (gx, gw)
            for a, b in zip(grads["current"], grads["reference"]):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
            print(f"{k:>3}{best['current']:>10.3f}{best['reference']:>11.3f}"
                  f"{best['reference'] / best['current']:>7.2f}x")
    finally:
        F._interp_backward = paths["current"]
    return 0


if __name__ == "__main__":
    sys.exit(main())
