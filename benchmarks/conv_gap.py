"""Where a trained conv logic net loses accuracy when it is discretized (issue 14).

    python benchmarks/conv_gap.py --checkpoint ck.pt --preset mnist-conv-ls    # best epoch
    python benchmarks/conv_gap.py --checkpoint ck.pt --preset mnist-conv-ls --last
    python benchmarks/conv_gap.py --model m.pt          # a model file of ``dlgn train -o``

Evaluates the net four ways on the validation rows its recipe carves from the training set
(the trainer's own split: same ``val_split`` and seed; the test set stays untouched), each
part either **soft** (the relaxed training-mode forward with the soft estimator, whatever
the net trained with) or **discrete** (eval mode: thresholded truth tables, OR pooling):

    convs soft / tail soft, convs discrete / tail soft, convs soft / tail discrete, both
    discrete (= the exported netlist)

so the two parts' shares of the discretization gap can be read off.  ``--json`` writes the
table.  A recipe without a validation split is measured on the last ``--rows`` training rows.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

PARTS = [("soft", "soft"), ("discrete", "soft"), ("soft", "discrete"), ("discrete", "discrete")]


def _from_checkpoint(path: str, preset: str, last: bool, seed: int):
    """(net, recipe) from a trainer checkpoint of ``preset``'s recipe."""
    import torch

    from dlgn.cli.train_cmd import PRESET_DEFAULTS, build_net
    from dlgn.frontend.data import PRESETS, load_dataset
    from dlgn.frontend.train import load_checkpoint
    if preset not in PRESETS:
        raise SystemExit(f"conv_gap: no preset {preset!r} (see dlgn train --help)")
    recipe = dict(PRESETS[preset])
    ns = argparse.Namespace(**{**PRESET_DEFAULTS, "parametrization": "iwp", "init": "residual",
                               "phi": "sigmoid", "seed": seed, **recipe})
    ck = load_checkpoint(path)
    data = load_dataset(recipe["dataset"])
    net = build_net(ns, data)
    best = ck.get("best") or {}
    state = ck["model"] if last or "model" not in best else best["model"]
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise SystemExit(f"conv_gap: {path} is not a checkpoint of preset {preset} "
                         f"({str(e).splitlines()[0]})") from None
    logging.info("%s: epoch %s of preset %s", path,
                 ck["epoch"] if last or "model" not in best else best["epoch"], preset)
    torch.manual_seed(seed)
    return net, recipe, data


def _from_model(path: str):
    from dlgn.frontend.checkpoint import load_model, read_model_file
    from dlgn.frontend.data import load_dataset
    extra = read_model_file(path).get("extra", {})
    recipe = json.loads(extra.get("recipe", "{}"))
    name = recipe.get("dataset") or extra.get("dataset")
    if not name:
        raise SystemExit(f"conv_gap: {path} does not name its data set")
    return load_model(path), recipe, load_dataset(name)


def gap_table(net, x, y, batch: int = 500) -> dict:
    """Accuracy of ``net`` on raw rows ``x`` with each part soft or discrete: a dict
    ``"<convs>/<tail>"`` -> accuracy (see the module docstring)."""
    import torch

    from dlgn.frontend.conv import LogicConv2d, OrPool2d
    image = [m for m in net.layers if isinstance(m, (LogicConv2d, OrPool2d))]
    if not image:
        raise SystemExit("conv_gap: the net has no convolutions")
    x, y = torch.as_tensor(np.asarray(x)), torch.as_tensor(np.asarray(y))
    was = net.training
    relaxed = [m for m in net.layers if getattr(m, "estimator", "soft") != "soft"]
    estimators = [m.estimator for m in relaxed]
    for m in relaxed:       # "soft" is the relaxation, whatever the net was trained with
        m.estimator = "soft"
    out = {}
    try:
        for conv, tail in PARTS:
            net.eval()
            for m in net.layers:
                m.train((conv if m in image else tail) == "soft")
            with torch.no_grad():
                scores = [net(x[i:i + batch]) for i in range(0, len(x), batch)]
            pred = torch.cat(scores).argmax(1) if scores else torch.zeros(0, dtype=torch.long)
            out[f"{conv}/{tail}"] = float((pred == y).float().mean()) if len(y) else float("nan")
    finally:
        net.train(was)
        for m, est in zip(relaxed, estimators):
            m.estimator = est
    return out


def main(argv=None) -> int:
    import torch
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a trainer checkpoint (dlgn train --checkpoint)")
    src.add_argument("--model", help="a model file (dlgn train -o)")
    ap.add_argument("--preset", help="the checkpoint's recipe (with --checkpoint)")
    ap.add_argument("--last", action="store_true",
                    help="the checkpoint's last epoch, not its selected (best) one")
    ap.add_argument("--seed", type=int, default=0, help="the run's seed (its validation split)")
    ap.add_argument("--rows", type=int, default=5000,
                    help="without a validation split: the last N training rows")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write the table here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    if args.checkpoint:
        if not args.preset:
            ap.error("--checkpoint needs --preset (the recipe it was trained with)")
        net, recipe, data = _from_checkpoint(args.checkpoint, args.preset, args.last, args.seed)
    else:
        net, recipe, data = _from_model(args.model)
    from dlgn.frontend.train import _split_validation
    val_split = float(recipe.get("val_split") or 0.0)
    if val_split:
        _, (x, y) = _split_validation(net, data, data.x_train, data.y_train, val_split,
                                      int(recipe.get("seed", args.seed)))
        where = f"{len(x)} validation rows"
    else:
        x, y = data.x_train[-args.rows:], data.y_train[-args.rows:]
        where = f"the last {len(x)} training rows"
    table = gap_table(net, x, y)
    print(f"{data.name}, {where}:")
    print("| convs | tail | accuracy |\n|---|---|---|")
    for key, acc in table.items():
        conv, tail = key.split("/")
        print(f"| {conv} | {tail} | {100 * acc:.2f} % |")
    if args.json:
        Path(args.json).write_text(json.dumps({"dataset": data.name, "rows": where,
                                               "accuracy": table}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
