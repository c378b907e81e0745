"""Write model.c / model.h and samples.bin for the edge example.

    python make_model.py [--model PATH] [-o DIR] [--samples N]

Without --model a small random layered net stands in for a trained one; with --model, any
artifact ``dlgn.runtime.load_netlist`` reads (a .dlgn.npz netlist, a trained model)."""
import argparse
from pathlib import Path

import numpy as np

from dlgn.backends import write_files
from dlgn.compiler import random_layered


def make(outdir, model=None, samples=1000, seed=0):
    outdir = Path(outdir)
    if model:
        from dlgn.cli.models import load_netlist
        net = load_netlist(model)
    else:
        net = random_layered(seed, n_inputs=64, layers=(512, 400), arity=2, n_classes=10)
    write_files(net, "c", outdir, name="model")
    X = np.random.default_rng(seed).integers(0, 2, size=(samples, net.n_inputs), dtype=np.uint8)
    X.tofile(outdir / "samples.bin")
    return net, X


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="trained model or netlist (default: a random net)")
    ap.add_argument("-o", "--output", default=".", help="directory for model.c/.h, samples.bin")
    ap.add_argument("--samples", type=int, default=1000)
    a = ap.parse_args()
    net, X = make(a.output, a.model, a.samples)
    print(f"wrote model.c, model.h ({net.n_gates} gates) and samples.bin "
          f"({X.shape[0]} x {X.shape[1]} bytes) to {a.output}")


if __name__ == "__main__":
    main()
