"""Convolutional logic nets on MNIST / Fashion-MNIST (issue 14): train, compile, check, time.

    nice python benchmarks/conv_mnist.py --preset mnist-conv --out /tmp/conv      # train + all
    python benchmarks/conv_mnist.py --model examples/mnist_conv/mnist-conv-lsh.dlgn.npz  # compile only
    python benchmarks/conv_mnist.py --preset mnist-conv --limit 2000 --epochs 1     # smoke run

Training runs the ``dlgn train --preset`` recipe (:data:`dlgn.frontend.data.PRESETS`; any
option given here overrides it) with the model selected on the preset's validation split.
Then it compiles the trained net two ways, side by side in one run:

* the **weight-shared** C build (one kernel function per conv, looped over positions);
* the **flat** C build (every position its own gates, after ``dlgn.compiler.optimize``);

checks that both predict exactly what the frontend's eval forward predicts on every test
image, and times build seconds (wall) and single-thread throughput (images/s, wall, the
best of ``--repeat`` runs over the test set).  ``--json`` writes every figure; ``--ship
DIR`` writes the shared netlist (packed file form) with its recipe and figures in
``meta["training"]``.
"""
from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled


def _train(args) -> tuple:
    import torch

    from dlgn.cli.train_cmd import PRESET_DEFAULTS, augmentation, build_net
    from dlgn.frontend.data import PRESETS, load_dataset
    from dlgn.frontend.train import train
    recipe = dict(PRESETS[args.preset])
    for key in ("epochs", "batch_size", "lr", "tau", "estimator", "bits", "shift", "hard_epochs",
                "hard_lr"):
        if getattr(args, key) is not None:
            recipe[key] = getattr(args, key)
    ns = argparse.Namespace(**{**PRESET_DEFAULTS, "parametrization": "iwp", "init": "residual",
                               "phi": "sigmoid", "seed": args.seed, **recipe})
    data = load_dataset(recipe["dataset"], limit=args.limit)
    torch.manual_seed(args.seed)
    net = build_net(ns, data)
    logging.info("%s: %s, %d gates (flat)", args.preset, data.name, net.n_gates)
    t0, c0 = time.time(), time.process_time()
    hist = train(net, data, epochs=ns.epochs, batch_size=ns.batch_size, lr=ns.lr, seed=args.seed,
                 schedule=ns.schedule, val_split=ns.val_split, progress=False, log=args.log,
                 eval_every=1, checkpoint=args.checkpoint, resume=bool(args.checkpoint),
                 augment=augmentation(ns, data), hard_epochs=ns.hard_epochs,
                 hard_lr=ns.hard_lr)
    wall, cpu = time.time() - t0, time.process_time() - c0
    return net, data, hist, recipe, wall, cpu


def _throughput(model, bits: np.ndarray, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        model.predict(bits)
        best = min(best, time.perf_counter() - t)
    return len(bits) / best


def compile_and_check(sn, bits: np.ndarray, want: np.ndarray, y: np.ndarray,
                      repeat: int = 5, flat: bool = True) -> dict:
    """Build the shared (and flat) C of ``sn``; both must predict ``want`` on ``bits``."""
    from dlgn.compiler import optimize
    from dlgn.compiler.shared import optimize_shared
    from dlgn.runtime.c_build import build_c
    res = {"kernel_gates": sn.n_kernel_gates, "flat_gates": sn.n_gates}
    t = time.perf_counter()
    osn = optimize_shared(sn)
    res["shared_optimized_kernel_gates"] = osn.n_kernel_gates
    res["shared_optimized_flat_gates"] = osn.n_gates
    shared = build_c(osn, threads=1)
    res["shared_build_s"] = time.perf_counter() - t
    p = shared.predict(bits)
    res["shared_equal"] = bool((p == want).all())
    res["accuracy"] = float((p == y).mean())
    res["shared_img_per_s"] = _throughput(shared, bits, repeat)
    if flat:
        t = time.perf_counter()
        fnet = optimize(sn.expand())
        res["flat_optimized_gates"] = fnet.n_gates
        res["flat_optimize_s"] = time.perf_counter() - t
        t = time.perf_counter()
        fm = build_c(fnet, threads=1)
        res["flat_build_s"] = time.perf_counter() - t
        res["flat_mode"] = fm.mode
        res["flat_equal"] = bool((fm.predict(bits) == want).all())
        res["flat_img_per_s"] = _throughput(fm, bits, repeat)
    return res


def main(argv=None) -> int:
    import torch
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-conv")
    ap.add_argument("--model", help="a shipped shared netlist: compile and check only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch-size", dest="batch_size", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--tau", type=float)
    ap.add_argument("--bits", type=int)
    ap.add_argument("--estimator", choices=("soft", "hard", "gumbel"))
    ap.add_argument("--hard-epochs", dest="hard_epochs", type=int,
                    help="train the last N epochs with the hard estimator")
    ap.add_argument("--hard-lr", dest="hard_lr", type=float,
                    help="restart the learning rate at this value for the hard epochs")
    ap.add_argument("--shift", type=int, help="shift training images by up to N px (augmentation)")
    ap.add_argument("--limit", type=int, help="first N training/test rows (smoke runs)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--system-malloc", dest="system_malloc", action="store_true",
                    help="leave glibc's malloc as it is (as dlgn train --system-malloc)")
    ap.add_argument("--no-flat", action="store_true", help="skip the flat-form C build")
    ap.add_argument("--log", help="JSON-lines training log")
    ap.add_argument("--checkpoint", help="checkpoint file (resumed when it exists)")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--ship", help="write the shared netlist into this folder")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    if not args.system_malloc:
        from dlgn.frontend.heap import retain_freed_memory
        retain_freed_memory()
    from dlgn.compiler.encoding import encode
    from dlgn.compiler.shared import load_shared
    from dlgn.frontend.data import load_dataset
    out: dict = {"preset": args.preset, "seed": args.seed}
    if args.model:
        sn = load_shared(args.model)
        cfg = sn.meta.get("config", {})
        data = load_dataset(sn.meta.get("training", {}).get("dataset", "mnist"))
        bits = encode(sn.meta["encoder"], data.x_test).astype(np.uint8)
        from dlgn.compiler.shared import simulate_shared
        from dlgn.compiler.simulate import predict
        want = predict(sn.expand(), bits)
        out["simulated_equal"] = bool((simulate_shared(sn, bits).shape[0] == len(bits)))
        del cfg
    else:
        net, data, hist, recipe, wall, cpu = _train(args)
        secs = [x for x in hist.get("seconds", []) if x is not None]
        # train_s: the training loop's own seconds over every run of a resumed checkpoint;
        # train_wall_s / train_cpu_s: this process only (a resumed run counts from its resume)
        out.update(recipe=recipe, train_s=secs[-1] if secs else None, train_wall_s=wall,
                   train_cpu_s=cpu,
                   best_epoch=hist.get("best_epoch"), val_acc=hist.get("val_discrete_acc"),
                   max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        net.eval()
        with torch.no_grad():
            want = net.predict(data.x_test).numpy()
        sn = net.discretize_shared()
        bits = encode(sn.meta["encoder"], data.x_test).astype(np.uint8)
        out["eval_forward_accuracy"] = float((want == data.y_test).mean())
    out.update(compile_and_check(sn, bits, want, data.y_test, args.repeat, not args.no_flat))
    line = json.dumps(out, default=str)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")
    if args.ship and not args.model:
        d = Path(args.ship)
        d.mkdir(parents=True, exist_ok=True)
        sn.meta["training"] = {k: out[k] for k in ("preset", "seed", "recipe", "train_s",
                                                   "train_wall_s",
                                                   "train_cpu_s", "accuracy", "best_epoch")}
        sn.meta["training"].update(dataset=data.name, n_test=int(len(data.y_test)),
                                   test_correct=int((want == data.y_test).sum()))
        sn.save(d / f"{args.preset}.dlgn.npz")
        logging.info("shipped %s", d / f"{args.preset}.dlgn.npz")
    ok = out["shared_equal"] and out.get("flat_equal", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
