"""CUDA backend on a GPU: build, check against the simulator, measure samples/s.

    python benchmarks/cuda_bench.py [--model PATH] [--vectors 1000000] [--big-gates 1000000]
                                    [--conv examples/mnist_conv/mnist-conv-lsh.dlgn.npz]

For each net (the MNIST net from ``--model``, default a random layered 800 -> 6 x 8000 ->
10-class net; and a ~1M-gate random layered net): compile with nvcc (timed), run on 10^6
random input vectors as a torch CUDA tensor and compare class ids and counts with the
reference simulator (``--check-big`` vectors for the big net: the numpy simulator is
slow there), then time, with CUDA events after warm-up, (a) the whole launch from uint8
rows (packing + kernel) and (b) the kernel on pre-packed words, for 32- and 64-bit words.
``--conv`` adds a convolutional net in both of its forms side by side: weight-shared (one
kernel a stage, launched over the positions; ``optimize_shared``) and flat (optimized),
both checked against the flat form's simulator.
Prints a table; ``--json PATH`` also writes the figures.  Needs torch with CUDA and nvcc.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _sim():
    return importlib.import_module("dlgn.compiler.simulate")


def load_net(args):
    from dlgn.compiler import random_layered
    if args.model:
        from dlgn.cli.models import load_netlist
        return "mnist:" + args.model, load_netlist(args.model, optimize=True)
    # the MNIST net's shape: 800 input bits (20x20 crop, 2-bit thermometer), 6 x 8000 gates
    return "random 800-6x8000-10", random_layered(0, 800, (8000,) * 6, n_classes=10)


def big_net(gates: int):
    from dlgn.compiler import random_layered
    width = 20000
    layers = max(1, gates // width)
    return f"random {layers}x{width} ({layers * width} gates)", \
        random_layered(1, 784, (width,) * layers, n_classes=10)


def time_events(fn, warmup: int, iters: int) -> float:
    import torch
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iters):
        fn()
    stop.record()
    torch.cuda.synchronize()
    return start.elapsed_time(stop) / 1000.0 / iters


def conv_nets(path: str, n_check: int):
    """The conv net of ``path`` as (label, net, reference netlist, vectors checked), shared
    form then flat form."""
    from dlgn.cli.models import load_shared_form
    from dlgn.compiler import optimize
    from dlgn.compiler.shared import optimize_shared
    sn = load_shared_form(path)
    if sn is None:
        raise SystemExit(f"{path}: not a convolutional net (no weight-shared form)")
    flat = optimize(sn.expand())
    opt = optimize_shared(sn)
    return [(f"conv shared ({opt.n_kernel_gates} kernel+tail gates)", opt, flat, n_check),
            (f"conv flat ({flat.n_gates} gates)", flat, flat, n_check)]


def bench(label, net, n_check, args, rows, ref=None):
    import torch
    from dlgn.runtime.cuda_build import build_cuda
    sim = _sim()
    rng = np.random.default_rng(0)
    n = args.vectors
    X = rng.integers(0, 2, size=(n, net.n_inputs), dtype=np.uint8)
    Xt = torch.from_numpy(X).cuda()
    n_check = min(n, n_check)
    ref = net if ref is None else ref
    ref_pred = ref_scores = None
    for wb in args.word_bits:
        t0 = time.perf_counter()
        model = build_cuda(net, word_bits=wb, min_blocks=args.min_blocks,
                           chunk_gates=args.chunk_gates)
        t_build = time.perf_counter() - t0
        # correctness on the GPU against the simulator
        if ref_pred is None:
            t0 = time.perf_counter()
            ref_scores = sim.scores(ref, X[:n_check])
            ref_pred = sim.argmax_first(ref_scores)
            t_sim = time.perf_counter() - t0
        sc = model.scores(Xt[:n_check]).cpu().numpy()
        pr = model.predict(Xt[:n_check]).cpu().numpy()
        ok = bool(np.array_equal(sc, ref_scores) and np.array_equal(pr, ref_pred))
        # throughput: one launch per segment, device buffers allocated once
        seg = min(n, model.segment())
        ws = torch.empty(model.workspace_bytes(seg), dtype=torch.uint8, device="cuda")
        cls = torch.empty(seg, dtype=torch.int64, device="cuda")
        stream = torch.cuda.current_stream().cuda_stream
        lib = model.lib
        xp, wp, cp = Xt.data_ptr(), ws.data_ptr(), cls.data_ptr()

        def full():
            for s in range(0, n, seg):
                m = min(seg, n - s)
                model.run_device(xp + s * net.n_inputs, m, wp, cp, 0, 0, stream)

        packed = lib("packed_bytes", seg)

        def packed_only():
            for s in range(0, n, seg):
                m = min(seg, n - s)
                lib("eval_packed", wp, m, wp + packed, cp, 0, 0, stream)

        model.run_device(xp, seg, wp, cp, 0, 0, stream)   # packs the first segment
        t_full = time_events(full, args.warmup, args.iters)
        t_eval = time_events(packed_only, args.warmup, args.iters)
        rows.append({"net": label, "gates": net.n_gates, "word_bits": wb,
                     "form": getattr(model, "mode", "flat"),
                     "storage": model.storage, "build_s": round(t_build, 1),
                     "checked_vectors": n_check, "bit_exact": ok,
                     "samples_per_s_full": n / t_full,
                     "samples_per_s_prepacked": n / t_eval,
                     "sim_s": round(t_sim, 1)})
        print(f"{label:34s} {net.n_gates:>9d} {wb:>3d} {model.storage:>9s} "
              f"{t_build:8.1f} {n_check:>9d} {str(ok):>5s} {n / t_full:12.3e} "
              f"{n / t_eval:12.3e}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="trained model / netlist / compile dir (default: random)")
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--big-gates", type=int, default=1_000_000, help="0 skips the big net")
    ap.add_argument("--check-big", type=int, default=65_536,
                    help="vectors checked against the simulator on the big net")
    ap.add_argument("--conv", help="a convolutional model / shared netlist: both forms")
    ap.add_argument("--check-conv", type=int, default=65_536,
                    help="vectors checked against the simulator on the conv net")
    ap.add_argument("--word-bits", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--min-blocks", type=int, default=0,
                    help="__launch_bounds__ min blocks per SM (caps registers; 0: nvcc)")
    ap.add_argument("--chunk-gates", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        print("no CUDA GPU: nothing to measure", file=sys.stderr)
        return 2
    print(f"device: {torch.cuda.get_device_name()}; {args.vectors} vectors per run; "
          f"samples/s from CUDA events, mean of {args.iters} runs after {args.warmup} warm-ups")
    print(f"{'net':34s} {'gates':>9s} {'wb':>3s} {'storage':>9s} {'build_s':>8s} "
          f"{'checked':>9s} {'exact':>5s} {'full/s':>12s} {'prepacked/s':>12s}", flush=True)
    rows = []
    nets = []
    if args.conv:
        nets += conv_nets(args.conv, args.check_conv)
    nets.append(load_net(args) + (None, args.vectors))
    if args.big_gates:
        nets.append(big_net(args.big_gates) + (None, args.check_big))
    for label, net, ref, n_check in nets:
        bench(label, net, n_check, args, rows, ref=ref)
        if args.json:   # write after each net: a timeout later keeps what was measured
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
    return 0 if all(r["bit_exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
