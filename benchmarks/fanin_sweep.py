"""Fan-in sweep (issue 13, item 2): discrete test accuracy of k-input IWP nets, k = 2, 3,
4, 6, at an equal gate count and at an equal parameter budget (gates x 2**k held at the
2-input net's), same data, recipe and seed.

Every net is trained with :func:`dlgn.frontend.train.train` (a validation split carved from
the training set picks the epoch; the test set is evaluated once) and the reported accuracy
is the discretized net's on the test set.  Times are training CPU seconds of this process
(the machines are shared; wall time is printed too).

    python benchmarks/fanin_sweep.py --dataset fashion-mnist --layers 2000,2000 --epochs 5
    python benchmarks/fanin_sweep.py --limit 5000 --epochs 2        # quick look
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled


def run_one(data, encoder, widths, k, args) -> dict:
    from dlgn.frontend.net import LogicNet
    from dlgn.frontend.train import train
    net = LogicNet(data.n_features, widths, n_classes=data.n_classes, arity=k, tau=args.tau,
                   encoder=encoder, seed=args.seed, connections=args.connections,
                   candidates=args.candidates)
    t, c = time.perf_counter(), time.process_time()
    hist = train(net, data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 seed=args.seed, progress=False, schedule="cosine", val_split=args.val_split)
    return {"k": k, "layers": widths, "gates": sum(widths),
            "params": sum(p.numel() for p in net.parameters()),
            "test_discrete": hist["discrete_acc"][-1],
            "best_val_discrete": max(v for v in hist["val_discrete_acc"] if v is not None),
            "cpu_s": round(time.process_time() - c, 1),
            "wall_s": round(time.perf_counter() - t, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--layers", default="2000,2000", help="the 2-input net's widths")
    ap.add_argument("--arities", default="2,3,4,6")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--tau", type=float, default=10.0)
    ap.add_argument("--connections", default="random", choices=["random", "learned"])
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--val-split", type=float, default=0.1)
    ap.add_argument("--limit", type=int, default=None, help="first N training rows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the rows to this file")
    args = ap.parse_args(argv)
    import logging

    import torch
    from dlgn.frontend.data import load_dataset, make_encoder
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    from dlgn.frontend.heap import retain_freed_memory
    retain_freed_memory()                 # as dlgn train does (dlgn.frontend.heap)
    data = load_dataset(args.dataset, limit=args.limit,
                        test_limit=None if args.limit is None else 10000)
    encoder = make_encoder(data)
    base = [int(w) for w in args.layers.split(",")]
    rows = []
    for budget in ("gates", "params"):
        for k in (int(a) for a in args.arities.split(",")):
            if budget == "params" and k == 2:
                continue                 # the same net as the equal-gate one
            scale = 1.0 if budget == "gates" else 4.0 / (1 << k)
            widths = [max(data.n_classes, int(round(w * scale / data.n_classes)) * data.n_classes)
                      for w in base]
            r = dict(run_one(data, encoder, widths, k, args), budget=budget)
            rows.append(r)
            print(json.dumps(r), flush=True)
    print(f"\n{args.dataset}, 2-input widths {args.layers}, {args.connections} connections, "
          f"{args.epochs} epochs")
    print(f"{'budget':<8}{'k':>3}{'gates':>8}{'params':>9}{'test acc':>10}{'CPU s':>8}")
    for r in rows:
        print(f"{r['budget']:<8}{r['k']:>3}{r['gates']:>8}{r['params']:>9}"
              f"{100 * r['test_discrete']:>9.2f}%{r['cpu_s']:>8}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
