"""Emit-time benchmark: C and CUDA source generation for a 1M-gate net and the MNIST net.

    python benchmarks/emit_bench.py [--gates 250000] [--repeat 1] [--model PATH]

Nets:

* ``random_1M``: ``random_layered(0, 784, (G,) * 4, n_classes=10)`` (G = ``--gates``,
  default 250,000: 1M gates, 250,000 outputs in 10 groups of 25,000);
* ``mnist``: the shipped ``examples/mnist/mnist_6x8000.dlgn.npz``.

For each it prints the wall time of ``dlgn.backends.c.emit`` and ``dlgn.backends.cuda.emit``
(best of ``--repeat``), of ``dlgn.backends.cfamily.lower_program`` (the part of an emit
that is not printing: head, support, liveness, order) and, where the tree has it, of
``dlgn.compiler.head.lower_head`` alone.  Run against another checkout (e.g. a
``git worktree`` of an older commit) with
``PYTHONPATH=/that/checkout python benchmarks/emit_bench.py`` to compare: the script
imports ``dlgn`` from ``PYTHONPATH`` first and only falls back to this checkout.
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("dlgn") is None:  # pragma: no cover - run from a checkout
    sys.path.insert(0, str(ROOT))

from dlgn.backends import c as cback  # noqa: E402
from dlgn.backends import cuda as cuback  # noqa: E402
from dlgn.compiler import Netlist, random_layered  # noqa: E402

log = logging.getLogger("dlgn.benchmarks.emit")


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(name: str, net: Netlist, repeat: int) -> dict:
    row = {"net": name, "gates": net.n_gates, "outputs": net.n_outputs}
    try:
        from dlgn.compiler.head import lower_head
    except ImportError:
        lower_head = None
    if lower_head is not None:
        row["lower_head_s"] = _best(lambda: lower_head(net), repeat)
    from dlgn.backends.cfamily import lower_program  # the compiler work of a C/CUDA emit
    row["lower_program_s"] = _best(lambda: lower_program(net), repeat)
    row["c_emit_s"] = _best(lambda: cback.emit(net), repeat)
    row["cuda_emit_s"] = _best(lambda: cuback.emit(net), repeat)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gates", type=int, default=250_000, help="gates per layer (4 layers)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--model", default=str(ROOT / "examples" / "mnist" / "mnist_6x8000.dlgn.npz"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import dlgn
    log.info("dlgn from %s", os.path.dirname(dlgn.__file__))
    nets = [("random_1M", lambda: random_layered(0, 784, (args.gates,) * 4, n_classes=10))]
    if Path(args.model).is_file():
        nets.append(("mnist", lambda: Netlist.load(args.model)))
    else:
        log.info("no model at %s: skipping the MNIST net", args.model)
    for name, make in nets:
        net = make()
        row = bench(name, net, args.repeat)
        cols = "  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in row.items())
        log.info("%s", cols)
    return 0


if __name__ == "__main__":
    sys.exit(main())
