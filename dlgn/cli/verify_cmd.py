"""``dlgn verify MODEL [--vectors N] [--formal] [--targets sim,c]``.

Loads MODEL, optimizes it and checks, printing one row per check and exiting non-zero on
any mismatch:

* a ``.pt`` model: the frontend's eval-mode predictions equal the simulator's (random bits);
* the optimized netlist equals the unoptimized one (exhaustive for <= 20 inputs, else N
  random vectors; with ``--formal`` also proven by a SAT miter and by ABC ``cec``);
* each requested target other than ``sim`` (built with ``dlgn.runtime.build``) gives the
  simulator's scores and predictions on N random vectors.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("dlgn.verify")


def add_parser(sub):
    p = sub.add_parser("verify", help="check that every form of a model computes the same function",
                       description="Optimize MODEL (.pt, .dlgn.npz or compile dir) and check "
                                   "the optimized netlist and each target against the reference "
                                   "simulator.")
    p.add_argument("model")
    p.add_argument("--vectors", type=int, default=10000, metavar="N",
                   help="random input vectors per check (default 10000)")
    p.add_argument("--formal", action="store_true",
                   help="also prove optimized == unoptimized with a SAT miter and ABC cec")
    p.add_argument("--targets", default="sim", help="comma-separated: sim, c, cuda")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
    return p


def _frontend_check(path, net, X):
    """Eval-mode predictions of the torch model vs the simulator on the bits X."""
    import torch
    from ..compiler.simulate import predict
    from ..frontend.checkpoint import load_model
    model = load_model(path)
    model.eval()
    with torch.no_grad():
        xb = torch.from_numpy(X.astype(np.float32))
        s = model.forward_bits(xb)  # random *bits*: past the encoder, into the layers
        y = s.argmax(dim=1).cpu().numpy().astype(np.int64)
    ref = predict(net, X)
    bad = int((y != ref).sum())
    return bad == 0, f"{bad} of {len(y)} predictions differ" if bad else f"{len(y)} predictions equal"


def run(args) -> int:
    from ..compiler import optimize
    from ..compiler.equiv import check_equivalent
    from ..compiler.simulate import predict, scores
    from ..runtime import build
    from .models import load_netlist

    if args.vectors < 1:
        raise ValueError("--vectors must be >= 1")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in targets:
        if t not in ("sim", "c", "cuda"):
            raise ValueError(f"unknown target {t!r}; choose sim, c, cuda")
    rows = []

    def row(name, ok, detail, t0):
        rows.append((name, "ok" if ok else "MISMATCH", f"{time.perf_counter() - t0:.2f}s", detail))

    net = load_netlist(args.model)
    rng = np.random.default_rng(args.seed)
    X = rng.integers(0, 2, size=(args.vectors, net.n_inputs), dtype=np.uint8)
    if Path(args.model).suffix in (".pt", ".pth"):
        t0 = time.perf_counter()
        ok, detail = _frontend_check(args.model, net, X)
        row("frontend == simulator", ok, detail, t0)
    t0 = time.perf_counter()
    opt = optimize(net)
    row("optimize", True, f"{net.n_gates} -> {opt.n_gates} gates, depth {opt.depth()}", t0)
    t0 = time.perf_counter()
    r = check_equivalent(net, opt, "auto", vectors=X, n_random=0)
    row(f"optimized == original ({r.method})", r.equivalent,
        "" if r.equivalent else f"output {r.output} differs", t0)
    if args.formal:
        for method in ("sat", "abc"):
            t0 = time.perf_counter()
            r = check_equivalent(net, opt, method)
            row(f"optimized == original ({method})", r.equivalent,
                "proved" if r.equivalent else f"counterexample on output {r.output}", t0)
    has_head = opt.n_classes > 0
    if has_head and any(t != "sim" for t in targets):
        ref_s, ref_y = scores(opt, X), predict(opt, X)
    for t in targets:
        if t == "sim":
            continue
        t0 = time.perf_counter()
        try:
            model = build(opt, t)
        except (ImportError, RuntimeError, OSError) as e:
            row(f"{t} == simulator", False, f"could not build: {e}", t0)
            continue
        if not has_head:  # no head: compare the output bits
            if not hasattr(model, "outputs"):
                row(f"{t} == simulator", False, "no head, and the model gives no output bits", t0)
                continue
            from ..compiler.simulate import simulate
            got = np.asarray(model.outputs(X)).astype(bool)
            ref = simulate(opt, X)
            bad = int((got != ref).any(axis=1).sum()) if got.shape == ref.shape else len(X)
            row(f"{t} == simulator", bad == 0, f"{bad} output rows differ of {len(X)}", t0)
            continue
        s = np.asarray(model.scores(X))
        y = np.asarray(model.predict(X))
        bad = int((s != ref_s).any(axis=1).sum()) if s.shape == ref_s.shape else len(X)
        bad_y = int((y != ref_y).sum()) if y.shape == ref_y.shape else len(X)
        row(f"{t} == simulator", bad == 0 and bad_y == 0,
            f"{bad} score rows, {bad_y} predictions differ of {len(X)}", t0)
    w = max(len(r[0]) for r in rows)
    for name, verdict, dt, detail in rows:
        log.info("%-*s  %-8s %8s  %s", w, name, verdict, dt, detail)
    failed = [r for r in rows if r[1] != "ok"]
    if failed:
        log.error("verify: %d check(s) failed", len(failed))
        return 1
    log.info("verify: all %d checks passed", len(rows))
    return 0
