"""Regenerate this example: emit a trained model's Verilog, its testbench and vectors.

    python examples/fpga/make_example.py [--model MODEL.pt|.dlgn.npz] [--pipeline 2]

Default model: ``monk1.dlgn.npz`` here (a MONK-1 net trained by ``dlgn demo --out DIR``:
17 one-hot input bits, 3 x 64 gates, 2 classes).  The testbench vectors are the 432 MONK
points, one-hot encoded (the encoding ``dlgn demo`` trains on); expected results come
from dlgn's reference simulator.
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def monk_points() -> np.ndarray:
    domains = [3, 3, 2, 3, 4, 2]
    rows = []
    for point in itertools.product(*[range(d) for d in domains]):
        rows.append([1 if i == v else 0 for v, d in zip(point, domains) for i in range(d)])
    return np.array(rows, dtype=np.uint8)


def main(argv=None) -> int:
    from dlgn.backends.verilog import write_files
    from dlgn.compiler import optimize
    from dlgn.cli.models import load_netlist

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(HERE / "monk1.dlgn.npz"))
    ap.add_argument("--pipeline", type=int, default=2)
    ap.add_argument("-o", "--output", default=str(HERE))
    args = ap.parse_args(argv)
    net = load_netlist(args.model)
    net = optimize(net)
    X = monk_points() if net.n_inputs == 17 else \
        np.random.default_rng(0).integers(0, 2, size=(1000, net.n_inputs), dtype=np.uint8)
    files = write_files(net, args.output, name="model", pipeline=args.pipeline,
                        module="dlgn_model", vectors=X)
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
