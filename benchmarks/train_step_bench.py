"""Training-step benchmark on the CPU: OP vs IWP, literal vs reduced forward, side by side.

Every variant trains the same net: ``--layers`` x ``--width`` gates of arity 2,
``--inputs`` inputs, batch ``--batch``, GroupSum head (10 classes), cross-entropy, Adam.
"IWP reduced, plain autograd" is the same reduced form written batch-major for autograd
(the layout the default replaced).  Reported per variant: the best forward, backward and
full-step (zero_grad + forward + backward + Adam) times over ``--repeats`` steps run round
robin in one process (so that every variant sees the same machine load), the peak RSS of
three steps above the RSS after setup (each variant in a fresh subprocess, so the peak is
its own), and the parameter count.

    nice python benchmarks/train_step_bench.py                 # 4 x 8000, 784 inputs, batch 256
    python benchmarks/train_step_bench.py --width 1000 --repeats 3   # small and quick
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

VARIANTS = {
    "op-literal": "OP literal (16-term sum)",
    "op-reduced": "OP reduced (soft table)",
    "iwp-literal": "IWP literal (4 minterms)",
    "iwp-reduced": "IWP reduced (default)",
    "iwp-plain": "IWP reduced, plain autograd",
}


def plain_reduced(x, idx, omega):
    """The plain-PyTorch reduced form: batch-major, autograd (the layout alternative)."""
    from dlgn.frontend.functional import reduced_coeffs
    c = reduced_coeffs(omega)
    a = x.index_select(1, idx[:, 0])
    b = x.index_select(1, idx[:, 1])
    return c[:, 0] + c[:, 1] * a + c[:, 2] * b + c[:, 3] * (a * b)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Variant:
    """One net + optimizer + forward formulation; ``step()`` times one training step."""

    def __init__(self, name, args):
        import torch
        from dlgn.frontend.functional import logic_forward_literal, logic_forward_torch
        from dlgn.frontend.net import LogicNet
        from dlgn.frontend.relax import op_literal_forward

        self.name, self.torch = name, torch
        param, form = name.split("-")
        self.net = net = LogicNet(args.inputs, [args.width] * args.layers, n_classes=10,
                                  arity=2, parametrization=param, init="residual",
                                  tau=args.tau, seed=0, backend="torch")
        if form == "literal" and param == "op":
            self.fwd = lambda layer, h: op_literal_forward(h, layer.idx, layer.weight)
        elif form == "literal":
            self.fwd = lambda layer, h: logic_forward_literal(h, layer.idx, layer.omega())
        elif form == "plain":
            self.fwd = lambda layer, h: plain_reduced(h, layer.idx, layer.omega())
        else:
            self.fwd = lambda layer, h: logic_forward_torch(h, layer.idx, layer.omega())
        g = torch.Generator().manual_seed(1)
        self.x = (torch.rand(args.batch, args.inputs, generator=g) > 0.5).float()
        self.y = torch.randint(0, 10, (args.batch,), generator=g)
        self.opt = torch.optim.Adam(net.parameters(), lr=0.01)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.times = []
        self.params = sum(p.numel() for p in net.parameters())

    def forward(self):
        h = self.x
        for layer in self.net.layers:
            h = self.fwd(layer, h)
        return self.net.head(h)

    def step(self, record=True):
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        loss = self.loss_fn(self.forward(), self.y)
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        self.opt.step()
        t4 = time.perf_counter()
        if record:
            self.times.append((t2 - t1, t3 - t2, t4 - t0))
        return float(loss.detach())


def peak_memory(name, args) -> dict:
    """In a fresh process: peak RSS of three training steps above the RSS after setup."""
    import torch
    torch.set_num_threads(args.threads)
    v = Variant(name, args)
    base = _maxrss_mb()  # after setup: inputs, parameters, connections
    for _ in range(3):
        v.step(record=False)
    return {"peak_rss_mb": _maxrss_mb(), "step_peak_extra_mb": _maxrss_mb() - base}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=8000)
    ap.add_argument("--inputs", type=int, default=784)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--tau", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--no-memory", action="store_true", help="skip the per-variant RSS runs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(peak_memory(args.child, args)))
        return 0
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    for n in names:
        if n not in VARIANTS:
            ap.error(f"unknown variant {n!r}; known: {', '.join(VARIANTS)}")
    import torch
    torch.set_num_threads(args.threads)
    passthrough = list(argv if argv is not None else sys.argv[1:])
    mem = {}
    if not args.no_memory:
        for n in names:
            out = subprocess.run([sys.executable, __file__, *passthrough, "--child", n],
                                 check=True, capture_output=True, text=True).stdout
            mem[n] = json.loads(out.strip().splitlines()[-1])
    variants = [Variant(n, args) for n in names]
    for v in variants:
        v.step(record=False)
    for _ in range(args.repeats):  # round robin: every variant sees the same machine load
        for v in variants:
            v.step()
    rows = []
    for v in variants:
        best = lambda j: min(t[j] for t in v.times)  # noqa: E731
        rows.append({"variant": v.name, "forward_s": best(0), "backward_s": best(1),
                     "step_s": best(2), "params": v.params,
                     **mem.get(v.name, {"peak_rss_mb": float("nan"),
                                        "step_peak_extra_mb": float("nan")})})
    ref = next((r for r in rows if r["variant"] == "iwp-reduced"), rows[-1])
    print(f"# {args.layers} x {args.width} gates (arity 2), {args.inputs} inputs, batch "
          f"{args.batch}, {args.threads} thread(s), best of {args.repeats} interleaved steps")
    hdr = (f"{'variant':28s} {'params':>10s} {'fwd s':>8s} {'bwd s':>8s} {'step s':>8s} "
           f"{'step/ref':>9s} {'peak RSS MB':>12s} {'step extra MB':>14s}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{VARIANTS[r['variant']]:28s} {r['params']:>10,d} {r['forward_s']:8.3f} "
              f"{r['backward_s']:8.3f} {r['step_s']:8.3f} {r['step_s'] / ref['step_s']:8.2f}x "
              f"{r['peak_rss_mb']:12.0f} {r['step_peak_extra_mb']:14.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
