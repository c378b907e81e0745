"""``dlgn verify MODEL [--vectors N] [--formal] [--targets sim,c,cuda]``.

Loads MODEL, optimizes it and checks, printing one row per check:

* a ``.pt`` model: the frontend's eval-mode predictions equal the simulator's (random bits);
* the optimized netlist equals the unoptimized one (exhaustive for <= 20 inputs, else N
  random vectors; with ``--formal`` also proven by a SAT miter and by ABC ``cec``);
* each requested target other than ``sim`` (built with ``dlgn.runtime.build``) gives the
  simulator's scores and predictions on N random vectors.

The N vectors are drawn and checked in batches of ``--batch`` rows, so memory stays bounded
whatever N is (a progress bar on stderr shows how far it got).  Verdicts: ``ok``,
``MISMATCH`` (the forms differ: exit 1), ``SKIP`` (a check that cannot run here, such as
CUDA without a GPU or ABC without a binary: not a failure) and ``ERROR`` (a requested step
failed, e.g. the C build: exit 1).
"""
from __future__ import annotations

import logging
import time

import numpy as np

from ..errors import UsageError

log = logging.getLogger("dlgn.verify")

TARGETS = ("sim", "c", "cuda")


def add_parser(sub):
    p = sub.add_parser("verify", help="check that every form of a model computes the same function",
                       description="Optimize MODEL (.pt, .dlgn.npz or compile dir) and check "
                                   "the optimized netlist and each target against the reference "
                                   "simulator.")
    p.add_argument("model", help="trained model (.pt), netlist (.dlgn.npz) or compile dir")
    p.add_argument("--vectors", type=int, default=10000, metavar="N",
                   help="random input vectors per check (default 10000)")
    p.add_argument("--batch", type=int, default=None, metavar="B",
                   help="vectors checked at a time (bounds the memory; default: as many as "
                        "fit in about 512 MB of scratch for this net's size)")
    p.add_argument("--formal", action="store_true",
                   help="also prove optimized == unoptimized with a SAT miter and ABC cec")
    p.add_argument("--targets", default="sim", help="comma-separated: sim, c, cuda (default sim)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random vectors (default 0)")
    p.add_argument("--json", action="store_true",
                   help="print the checks as one JSON object on stdout")
    p.set_defaults(func=run)
    return p


class _Rows:
    def __init__(self):
        self.rows = []

    def add(self, name, verdict, detail, t0, seconds=None):
        """A row; its time is ``seconds``, or the time since ``t0``."""
        dt = time.perf_counter() - t0 if seconds is None else seconds
        self.rows.append((name, verdict, f"{dt:.2f}s", detail))

    def check(self, name, bad, total, what, seconds):
        self.add(name, "ok" if bad == 0 else "MISMATCH",
                 f"{bad} {what} differ of {total}" if bad else f"{total} {what} equal", None,
                 seconds)


def _targets(text: str) -> list[str]:
    from .options import parse_targets
    return parse_targets(text, TARGETS)


def _build_targets(opt, targets, rows):
    """Built models by target; unavailable targets are SKIP rows, failed builds ERROR rows."""
    from ..runtime import build
    models = {}
    for t in targets:
        if t == "sim":
            continue
        t0 = time.perf_counter()
        try:
            models[t] = build(opt, t)
        except Exception as e:  # noqa: BLE001 - each kind gets its verdict below
            from ..runtime.cuda_build import CudaUnavailableError
            if isinstance(e, (CudaUnavailableError, ImportError)):
                rows.add(f"{t} == simulator", "SKIP", f"unavailable here: {e}", t0)
            elif isinstance(e, (RuntimeError, OSError, ValueError)):
                rows.add(f"{t} == simulator", "ERROR", f"could not build: {e}", t0)
            else:
                raise
    return models


def _progress(total: int, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    import sys
    return tqdm(total=total, unit="vec", desc="verify", leave=False,
                disable=not enabled or not sys.stderr.isatty())


def run(args) -> int:
    from .. import tools  # noqa: F401  (registers the ABC proof method)
    from ..compiler import optimize
    from ..compiler.equiv import EXHAUSTIVE_MAX_INPUTS, check_equivalent
    from ..compiler.simulate import predict, scores, simulate
    from .models import is_model_path, load_netlist

    if args.vectors < 1:
        raise UsageError("--vectors must be >= 1")
    if args.batch is not None and args.batch < 1:
        raise UsageError("--batch must be >= 1")
    targets = _targets(args.targets)
    rows = _Rows()
    net = load_netlist(args.model)
    frontend = None
    if is_model_path(args.model):
        from ..frontend.checkpoint import load_model
        frontend = load_model(args.model).eval()
    t0 = time.perf_counter()
    log.info("optimizing %d gates ...", net.n_gates)
    opt = optimize(net)
    rows.add("optimize", "ok", f"{net.n_gates} -> {opt.n_gates} gates, depth {opt.depth()}", t0)
    exhaustive = net.n_inputs <= EXHAUSTIVE_MAX_INPUTS
    if exhaustive:
        t0 = time.perf_counter()
        r = check_equivalent(net, opt, "exhaustive")
        rows.add("optimized == original (exhaustive)", "ok" if r.equivalent else "MISMATCH",
                 "" if r.equivalent else f"output {r.output} differs", t0)
    models = _build_targets(opt, targets, rows)
    has_head = opt.n_classes > 0
    bad = {"frontend": 0, "opt": 0, **{t: 0 for t in models}}
    secs = dict.fromkeys(bad, 0.0)
    rng = np.random.default_rng(args.seed)
    batch = args.batch or auto_batch(net.n_gates + net.n_inputs)
    bar = _progress(args.vectors, log.isEnabledFor(logging.INFO))

    def tally(key, fn, *fargs):  # count what differs, and the time it took
        t0 = time.perf_counter()
        bad[key] += fn(*fargs)
        secs[key] += time.perf_counter() - t0

    t_all = time.perf_counter()
    for start in range(0, args.vectors, batch):
        n = min(batch, args.vectors - start)
        X = rng.integers(0, 2, size=(n, net.n_inputs), dtype=np.uint8)
        if frontend is not None:
            tally("frontend", _frontend_bad, frontend, net, X)
        y_opt = simulate(opt, X) if not exhaustive or (models and not has_head) else None
        if not exhaustive:
            tally("opt", _rows_differ, simulate(net, X), y_opt)
        if models:
            ref = (scores(opt, X), predict(opt, X)) if has_head else y_opt
            for t, m in models.items():
                tally(t, _target_bad, m, X, ref, has_head)
        if bar is not None:
            bar.update(n)
    if bar is not None:
        bar.close()
    log.debug("random vectors checked in %.2f s", time.perf_counter() - t_all)
    N = args.vectors
    if frontend is not None:
        rows.check("frontend == simulator", bad["frontend"], N, "predictions", secs["frontend"])
    if not exhaustive:
        rows.check("optimized == original (random)", bad["opt"], N, "output rows", secs["opt"])
    for t in models:
        rows.check(f"{t} == simulator", bad[t], N,
                   "score/prediction rows" if has_head else "output rows", secs[t])
    if args.formal:
        _formal(net, opt, rows)
    return _report(rows.rows, as_json=getattr(args, "json", False))


def auto_batch(width: int, budget: int = 1 << 29) -> int:
    """Rows per batch: the torch eval forward needs about 8 bytes per gate and row."""
    return int(max(64, min(8192, budget // (8 * max(1, width)))))


def _frontend_bad(model, net, X) -> int:
    """Eval-mode predictions of the torch model that differ from the simulator's on X."""
    import torch

    from ..compiler.simulate import predict
    with torch.no_grad():
        s = model.forward_bits(torch.from_numpy(X).float())  # random *bits*: past the encoder
        y = s.argmax(dim=1).cpu().numpy().astype(np.int64)
    return int((y != predict(net, X)).sum())


def _rows_differ(a, b) -> int:
    """Rows of ``a`` that differ from the reference ``b`` (all of b's if the shapes differ)."""
    return int((a != b).any(axis=1).sum()) if a.shape == b.shape else len(b)


def _target_bad(model, X, ref, has_head) -> int:
    if not has_head:
        return _rows_differ(np.asarray(model.outputs(X)).astype(bool), ref)
    s, y = np.asarray(model.scores(X)), np.asarray(model.predict(X))
    if s.shape != ref[0].shape or y.shape != ref[1].shape:
        return len(X)
    return int(((s != ref[0]).any(axis=1) | (y != ref[1])).sum())


def _formal(net, opt, rows):
    from ..compiler.equiv import check_equivalent
    for method in ("sat", "abc"):
        t0 = time.perf_counter()
        log.info("proving optimized == original with %s (%d + %d gates) ...", method.upper(),
                 net.n_gates, opt.n_gates)
        if method == "abc":
            from ..tools.abc import find_abc
            if find_abc() is None:
                rows.add("optimized == original (abc)", "SKIP",
                         "unavailable here: no ABC binary (pip install pyosys, or apt-get "
                         "install berkeley-abc)", t0)
                continue
        try:
            r = check_equivalent(net, opt, method)
        except ImportError as e:
            rows.add(f"optimized == original ({method})", "SKIP", f"unavailable here: {e}", t0)
            continue
        rows.add(f"optimized == original ({method})", "ok" if r.equivalent else "MISMATCH",
                 "proved" if r.equivalent else f"counterexample on output {r.output}", t0)


def _report(rows, as_json: bool = False) -> int:
    if as_json:
        import json
        import sys
        failed = sum(r[1] in ("MISMATCH", "ERROR") for r in rows)
        sys.stdout.write(json.dumps({"passed": failed == 0, "checks": [
            {"check": n, "verdict": v, "seconds": float(dt.rstrip("s")), "detail": d}
            for n, v, dt, d in rows]}, sort_keys=True) + "\n")
        return 1 if failed else 0
    w = max(len(r[0]) for r in rows)
    for name, verdict, dt, detail in rows:
        log.info("%-*s  %-8s %8s  %s", w, name, verdict, dt, detail)
    failed = [r for r in rows if r[1] in ("MISMATCH", "ERROR")]
    skipped = [r for r in rows if r[1] == "SKIP"]
    if failed:
        log.error("verify: %d check(s) failed", len(failed))
        return 1
    log.info("verify: all %d checks passed%s", len(rows) - len(skipped),
             f" ({len(skipped)} skipped)" if skipped else "")
    return 0


__all__ = ["add_parser", "run", "TARGETS"]
