"""``dlgn predict ARTIFACT --input X.npy --output y.npy [--target sim|c|cuda]``."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..compiler.atomic import atomic_write

log = logging.getLogger("dlgn.predict")


def add_parser(sub):
    p = sub.add_parser("predict", help="predict classes with a compiled model",
                       description="Run ARTIFACT (compile dir, .dlgn.npz netlist or .pt model) "
                                   "on the samples in --input.  The input holds either the "
                                   "encoded bits (bool/uint8 0/1) or, for a model with an "
                                   "encoder, the raw features.")
    p.add_argument("artifact")
    p.add_argument("--input", required=True, help=".npy file, one sample per row")
    p.add_argument("--output", required=True, help=".npy file for the predicted classes")
    p.add_argument("--scores", help="also write the integer class counts to this .npy file")
    p.add_argument("--target", default="sim", choices=["sim", "c", "cuda"])
    p.add_argument("--threads", type=int, default=0, help="C: worker threads (0: all cores)")
    p.set_defaults(func=run)
    return p


def input_bits(net, X: np.ndarray) -> np.ndarray:
    """The netlist's input bits from X: X itself if it already is bits, else encoded."""
    enc = net.meta.get("encoder")
    is_bits = X.ndim == 2 and X.shape[1] == net.n_inputs and (
        X.dtype == np.bool_ or (X.dtype == np.uint8 and (X.size == 0 or X.max() <= 1)))
    if is_bits or not enc:
        return X
    from ..compiler.encoding import encode
    return encode(enc, X)


def save_npy(path, array: np.ndarray) -> Path:
    """``np.save`` through the one atomic writer (all or nothing, fsync-ed); like np.save,
    ``.npy`` is appended to a name without it."""
    p = Path(path)
    if not p.name.endswith(".npy"):
        p = p.with_name(p.name + ".npy")
    with atomic_write(p) as f:
        np.save(f, array, allow_pickle=False)
    return p


def run(args) -> int:
    from ..compiler.simulate import argmax_first
    from ..runtime import build
    from .models import load_netlist

    net = load_netlist(args.artifact, optimize=True)
    X = np.load(args.input, allow_pickle=False)
    bits = input_bits(net, X)
    opts = {"threads": args.threads} if args.target == "c" and args.threads else {}
    model = build(net, target=args.target, **opts)
    t0 = time.perf_counter()
    if args.scores:
        s = model.scores(bits)
        y = argmax_first(s)
        save_npy(args.scores, s)
    else:
        y = model.predict(bits)
    dt = time.perf_counter() - t0
    save_npy(args.output, np.asarray(y, dtype=np.int64))
    log.info("%d samples predicted with %s in %.3f s", len(y), args.target, dt)
    return 0
