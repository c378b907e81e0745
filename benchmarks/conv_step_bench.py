"""A conv net's training step on the CPU: the tree levels' fast paths against their
references, side by side.

    python benchmarks/conv_step_bench.py                           # mnist-conv-lsh, batch 128
    python benchmarks/conv_step_bench.py --preset fashion-conv --repeats 3
    python benchmarks/conv_step_bench.py --preset mnist-conv-wide --heap both

The net is the preset's (built as ``dlgn train --preset`` builds it, seed 0) on the first
``--batch`` training images.  Each tree level runs through :func:`dlgn.frontend.functional.
tree_level` ("fast": the two-input reduced form :class:`_Tree2` on relaxed inputs, the
in-place table lookup :class:`_TreeVertex` on 0/1 inputs) or through the paths it replaced
("reference": the successive interpolation :class:`_Tree`, and :class:`_GateVertex`, which
gathers the pre-gathered rows once more).  Both estimators are timed: "soft" (relaxed gates,
0/1 inputs only at the first tree level) and "hard" (every level on 0/1 inputs: the hard
epochs of ``--hard-epochs``).  Reported: the least CPU seconds and wall seconds of a full
step (zero_grad, forward, backward, Adam) over ``--repeats`` steps run round robin in one
process, so that every variant sees the same machine load.  ``--heap both`` runs it with
glibc's malloc defaults and with freed memory retained in the heap (as ``dlgn train``
runs, :mod:`dlgn.frontend.heap`), each in its own process, alternately, twice.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled


def reference_tree_level(v, omega):
    """tree_level as it was: the interpolation, or _GateVertex over an identity gather."""
    import torch

    from dlgn.frontend import functional as F
    if F.is_binary(v):
        g, k, m = v.shape
        idx = torch.arange(g * k, device=v.device).view(g, k)
        return F._GateVertex.apply(v.reshape(g * k, m), idx, omega.to(v.dtype))
    return F._Tree.apply(v, omega.to(v.dtype))


def _both_heaps(argv: list) -> int:
    """Run this benchmark with --heap system and --heap retain, alternately, twice (the
    malloc setting is process-wide and cannot be undone, so each run is its own process)."""
    import subprocess
    rest = [a for i, a in enumerate(argv)
            if a != "--heap" and not a.startswith("--heap=")
            and not (i and argv[i - 1] == "--heap")]
    for _ in range(2):
        for heap in ("system", "retain"):
            r = subprocess.run([sys.executable, __file__, *rest, "--heap", heap])
            if r.returncode:
                return r.returncode
    return 0


def main(argv=None) -> int:
    import torch

    from dlgn.cli.train_cmd import PRESET_DEFAULTS, build_net
    from dlgn.frontend import conv
    from dlgn.frontend.data import PRESETS, load_dataset
    from dlgn.frontend.functional import tree_level
    from dlgn.frontend.train import adam_optimizer
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-conv-lsh")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--heap", choices=("retain", "system", "both"), default="retain",
                    help="retain: freed memory stays in the heap, as dlgn train runs "
                         "(dlgn.frontend.heap); system: glibc's defaults; both: each in "
                         "its own process, alternately, twice")
    args = ap.parse_args(argv)
    if args.preset not in PRESETS or "conv" not in PRESETS[args.preset]:
        ap.error(f"--preset must name a conv preset, got {args.preset!r}")
    if args.heap == "both":
        return _both_heaps(argv if argv is not None else sys.argv[1:])
    if args.heap == "retain":
        from dlgn.frontend.heap import retain_freed_memory
        retain_freed_memory()
    torch.set_num_threads(args.threads)
    recipe = dict(PRESETS[args.preset])
    ns = argparse.Namespace(**{**PRESET_DEFAULTS, "parametrization": "iwp", "init": "residual",
                               "phi": "sigmoid", "seed": 0, **recipe})
    data = load_dataset(recipe["dataset"], limit=args.batch)
    torch.manual_seed(0)
    base = build_net(ns, data)
    x = torch.as_tensor(data.x_train[:args.batch], dtype=torch.float32)
    y = torch.as_tensor(data.y_train[:args.batch], dtype=torch.long)
    paths = {"fast": tree_level, "reference": reference_tree_level}
    runs = {}
    for est in ("soft", "hard"):
        for name in paths:
            net = copy.deepcopy(base).train()
            for m in net.modules():
                if getattr(m, "estimator", None) == "soft":
                    m.estimator = est
            runs[est, name] = (net, adam_optimizer(net, lr=recipe["lr"]), [], [])
    try:
        for rep in range(args.repeats + 1):               # the first round warms up
            for (_est, name), (net, opt, cpu, wall) in runs.items():
                conv.tree_level = paths[name]
                c, t = time.process_time(), time.perf_counter()
                opt.zero_grad(set_to_none=True)
                torch.nn.functional.cross_entropy(net(x), y).backward()
                opt.step()
                if rep:
                    cpu.append(time.process_time() - c)
                    wall.append(time.perf_counter() - t)
    finally:
        conv.tree_level = tree_level
    print(f"{args.preset}: batch {args.batch}, {args.threads} thread(s), heap {args.heap}, "
          f"best of {args.repeats} steps")
    print(f"{'estimator':<11}{'tree levels':<13}{'CPU s':>8}{'wall s':>8}")
    for (est, name), (_, _, cpu, wall) in runs.items():
        print(f"{est:<11}{name:<13}{min(cpu):>8.3f}{min(wall):>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
