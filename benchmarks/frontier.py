"""The frontier recipes (issue 13): train a ``dlgn train --preset`` recipe for one or more
seeds, compile each net and report the DISCRETE test accuracy of its C build.

    nice python benchmarks/frontier.py --preset mnist-8k --seeds 0,1,2
    nice python benchmarks/frontier.py --preset fashion-64k --ship examples/fashion_64k
    python benchmarks/frontier.py --preset mnist-8k --seeds 1 --model m.pt   # trained before
    python benchmarks/frontier.py --preset mnist-8k --limit 3000 --epochs 1     # smoke run

Each seed runs exactly what ``dlgn train --preset NAME --seed S`` runs (the model is
selected on the preset's validation split; the test set is evaluated once, at the end),
then ``dlgn.compiler.optimize`` and the C backend: the accuracy reported is the C build's
on the raw test images (encoded by the netlist's own encoder metadata), checked equal to
the reference simulator's.  Training time is reported as wall and CPU seconds of this
process (the machines are shared).  ``--ship DIR`` writes the first seed's optimized
netlist to ``DIR/<preset>.dlgn.npz`` with the recipe, the seed and the measured figures in
its metadata (``meta["training"]``), which the CI test of the shipped examples re-checks.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from dlgn.cli import main as dlgn_main  # noqa: E402


def run_seed(preset: str, seed: int, args, work: Path) -> dict:
    if args.model:            # a model file trained before: evaluate it, train nothing
        model, wall, cpu = Path(args.model), None, None
    else:
        model = work / f"{preset}-{seed}.pt"
        wall, cpu = _train(preset, seed, args, model)
    return evaluate_model(preset, seed, model, args, wall, cpu)


def _train(preset: str, seed: int, args, model: Path) -> tuple[float, float]:
    argv = ["-q", "train", "--preset", preset, "--seed", str(seed), "--no-progress",
            "--threads", str(args.threads), "-o", str(model)]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    if args.epochs:
        argv += ["--epochs", str(args.epochs)]
    if args.log:
        argv += ["--log", f"{args.log}.{preset}-{seed}.jsonl"]
    t, c = time.perf_counter(), time.process_time()
    if dlgn_main(argv) != 0:
        raise SystemExit(f"dlgn train failed for seed {seed}")
    return time.perf_counter() - t, time.process_time() - c


def _check_recipe(preset: str, seed: int, model: Path, text) -> None:
    """A model file given with --model must have been trained by the preset it is reported
    (and shipped) as; files of a dlgn that did not record the recipe are taken on trust."""
    from dlgn.frontend.data import PRESETS
    if text is None:
        logging.warning("%s records no recipe: taking it as preset %s, seed %d", model,
                        preset, seed)
        return
    used = json.loads(text)
    want = {k: v for k, v in PRESETS[preset].items() if k != "dataset"}
    diff = [k for k, v in want.items() if json.loads(json.dumps(v)) != used.get(k)]
    if used.get("seed") != seed:
        diff.append("seed")
    if diff:
        raise SystemExit(f"{model} was not trained by preset {preset} with seed {seed}: "
                         f"{', '.join(diff)} differ")


def evaluate_model(preset: str, seed: int, model: Path, args, wall, cpu) -> dict:
    """Compile a trained model file, run its C build on the test set, check it against the
    reference simulator: the benchmark's result row (with the optimized netlist)."""
    from dlgn.compiler import optimize
    from dlgn.compiler.encoding import encode
    from dlgn.compiler.simulate import predict
    from dlgn.frontend.checkpoint import model_from_dict, read_model_file
    from dlgn.frontend.data import PRESETS, load_dataset
    from dlgn.runtime import build
    obj = read_model_file(model)          # read once: the history, the recipe and the net
    extra = obj["extra"]
    hist = json.loads(extra["history"])
    if args.model:
        _check_recipe(preset, seed, model, extra.get("recipe"))
    net = model_from_dict(obj)
    raw = net.discretize()
    opt = optimize(raw)
    recipe = dict(PRESETS[preset])
    data = load_dataset(recipe.get("dataset", preset), limit=args.limit)
    bits = encode(opt.meta["encoder"], data.x_test)
    pred_c = build(opt, target="c").predict(bits)
    if not np.array_equal(pred_c, predict(raw, bits)):
        raise SystemExit("the C build disagrees with the reference simulator")
    correct = int((pred_c == data.y_test).sum())
    return {"preset": preset, "seed": seed, "test_acc": correct / len(data.y_test),
            "test_correct": correct, "n_test": int(len(data.y_test)),
            "val_acc": max(v for v in hist["val_discrete_acc"] if v is not None)
            if any(v is not None for v in hist.get("val_discrete_acc", [])) else None,
            "best_epoch": hist.get("best_epoch"), "epochs": len(hist["epoch"]),
            "gates": raw.n_gates, "gates_optimized": opt.n_gates, "inputs": raw.n_inputs,
            "train_wall_s": None if wall is None else round(wall, 1),
            "train_cpu_s": None if cpu is None else round(cpu, 1),
            "training_s": hist["seconds"][-1], "netlist": opt}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", required=True)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, help="first N train/test rows (smoke runs)")
    ap.add_argument("--epochs", type=int, help="override the preset's epochs (smoke runs)")
    ap.add_argument("--ship", help="write the first seed's optimized netlist into this folder")
    ap.add_argument("--json", help="append the result rows (JSON lines) to this file")
    ap.add_argument("--log", help="per-epoch metrics of each seed to LOG.<preset>-<seed>.jsonl")
    ap.add_argument("--model", help="evaluate (and --ship) this model file, trained before "
                    "with dlgn train --preset PRESET --seed SEED, instead of training (one seed)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if (args.limit or args.epochs) and args.ship:
        ap.error("--ship takes a full run (no --limit / --epochs)")
    from dlgn.frontend.data import PRESETS
    if args.model and ("," in args.seeds or args.limit or args.epochs):
        ap.error("--model takes one --seeds value and no --limit / --epochs")
    if args.model and not Path(args.model).is_file():
        ap.error(f"--model {args.model}: no such file")
    if args.preset not in PRESETS:
        ap.error(f"unknown preset {args.preset!r}; known: {', '.join(PRESETS)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in (int(v) for v in args.seeds.split(",")):
            r = run_seed(args.preset, s, args, Path(tmp))
            net = r.pop("netlist")
            rows.append(r)
            print(json.dumps(r), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
            if args.ship and len(rows) == 1:
                out = Path(args.ship)
                out.mkdir(parents=True, exist_ok=True)
                net.meta["training"] = {"preset": args.preset, "recipe": PRESETS[args.preset],
                                        **{k: v for k, v in r.items() if k != "preset"}}
                net.save(out / f"{args.preset}.dlgn.npz")
                print(f"# shipped {out / (args.preset + '.dlgn.npz')}", flush=True)
    accs = [100 * r["test_acc"] for r in rows]
    spread = f" ± {statistics.stdev(accs):.2f} (min {min(accs):.2f}, max {max(accs):.2f})" \
        if len(accs) > 1 else ""
    print(f"\n{args.preset}: discrete test accuracy (C build) {statistics.mean(accs):.2f} %"
          f"{spread} over seeds {args.seeds}; {rows[0]['gates']} gates "
          f"({rows[0]['gates_optimized']} after optimize); training "
          + (f"{statistics.mean(r['train_cpu_s'] for r in rows) / 60:.1f} CPU min, "
             f"{statistics.mean(r['train_wall_s'] for r in rows) / 60:.1f} wall min per seed"
             if rows[0]["train_cpu_s"] is not None else
             f"{statistics.mean(r['training_s'] for r in rows) / 60:.1f} min per seed "
             f"(the model file's own training time)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
