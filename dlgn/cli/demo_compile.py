"""The compile half of ``dlgn demo``: optimize and prove, build and check C, and run the
CUDA kernel where a GPU is present.  Each step is ``step(ctx)`` over the demo's shared
:class:`~dlgn.cli.demo_cmd.DemoContext`; the Verilog step lives with the Verilog backend
(:func:`dlgn.cli.demo_verilog.demo_step`)."""
from __future__ import annotations

import logging
import time

import numpy as np

from ..errors import DlgnError

log = logging.getLogger("dlgn.demo")

__all__ = ["step_optimize", "step_c", "step_cuda"]


def step_optimize(ctx):
    """Run the pass pipeline and prove the optimized netlist equal to the discretized one."""
    from ..compiler import optimize_with_report
    from ..compiler.equiv import check_equivalent
    raw = ctx.raw_netlist = ctx.netlist   # ctx.test_bits: encoded by the discretize step
    t0 = time.perf_counter()
    opt, report = optimize_with_report(raw)
    secs = time.perf_counter() - t0
    proofs = {}
    for method in ("exhaustive" if raw.n_inputs <= 20 else "random", "sat"):
        try:
            r = check_equivalent(raw, opt, method=method)
        except ImportError as e:  # python-sat missing: say so, keep going
            proofs[method] = f"unavailable ({e})"
            continue
        proofs[method] = bool(r.equivalent)
        if not r.equivalent:
            raise RuntimeError(f"the optimized netlist differs from the discretized one "
                               f"({method}, output {r.output})")
    ctx.netlist = opt
    ctx.results["optimize"] = {"gates_before": raw.n_gates, "gates_after": opt.n_gates,
                               "depth_before": raw.depth(), "depth_after": opt.depth(),
                               "seconds": round(secs, 3), "passes": len(report),
                               "equivalence": proofs}
    how = " and ".join(f"{m} ({'proven' if m == 'sat' else 'checked'})"
                       for m, ok in proofs.items() if ok is True)
    ctx.say(f"[optimize] {raw.n_gates} -> {opt.n_gates} gates, depth {raw.depth()} -> "
            f"{opt.depth()} in {secs:.2f} s; equal to the discretized net: {how}")


def step_c(ctx):
    """Build the optimized netlist as C, check it against the simulator, measure it."""
    from ..compiler.simulate import predict, scores
    from ..runtime import build
    net, X = ctx.netlist, ctx.test_bits
    try:
        t0 = time.perf_counter()
        model = build(net, target="c")
        build_s = time.perf_counter() - t0
    except (DlgnError, OSError) as e:  # no C compiler: the rest of the demo still runs
        ctx.results["c"] = {"error": str(e)}
        ctx.say(f"[c]        skipped: {str(e).splitlines()[0]}")
        return
    exact = bool(np.array_equal(model.scores(X), scores(net, X))
                 and np.array_equal(model.predict(X), predict(net, X)))
    reps = max(1, (1 << 18) // max(1, len(X)))
    big = np.tile(X, (reps, 1))
    t0 = time.perf_counter()
    model.predict(big)
    rate = len(big) / (time.perf_counter() - t0)
    acc = float((model.predict(X) == ctx.data.y_test).mean())
    ctx.results["c"] = {"build_seconds": round(build_s, 2), "bit_exact": exact,
                        "samples_per_second": round(rate), "test_accuracy": acc,
                        "word_bits": model.word_bits, "threads": model.threads}
    if ctx.out is not None:
        from ..backends import write_files
        files = write_files(net, "c", ctx.out / "c", name="model")
        ctx.results["c"]["files"] = [str(f) for f in files]
    ctx.say(f"[c]        built in {build_s:.1f} s ({model.word_bits}-bit words); "
            f"{'bit-exact with' if exact else 'DIFFERENT FROM'} the simulator on "
            f"{len(X)} test rows; {rate / 1e6:.1f} M samples/s with {model.threads} thread(s)")
    if not exact:
        raise RuntimeError("the C model disagrees with the reference simulator")


def step_cuda(ctx):
    """Build and check the CUDA kernel when a GPU and nvcc are present; else say why not."""
    from ..compiler.simulate import predict
    try:
        import torch
        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        ctx.results["cuda"] = {"skipped": "no CUDA GPU"}
        ctx.say("[cuda]     skipped: no CUDA GPU on this machine "
                "(CI checks the same kernel source on the CPU)")
        return
    from ..runtime import build
    from ..runtime.cuda_build import CudaUnavailableError
    net, X = ctx.netlist, ctx.test_bits
    try:
        model = build(net, target="cuda")
    except CudaUnavailableError as e:
        ctx.results["cuda"] = {"skipped": str(e)}
        ctx.say(f"[cuda]     skipped: {e}")
        return
    exact = bool(np.array_equal(model.predict(X), predict(net, X)))
    ctx.results["cuda"] = {"bit_exact": exact}
    ctx.say(f"[cuda]     {'bit-exact with' if exact else 'DIFFERENT FROM'} the simulator "
            f"on {len(X)} test rows")
    if not exact:
        raise RuntimeError("the CUDA model disagrees with the reference simulator")
