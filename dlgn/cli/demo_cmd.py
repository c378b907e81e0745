"""``dlgn demo``: the end-to-end job on an embedded, offline data set.

The demo is a list of steps (:data:`STEPS`), each a function ``step(ctx) -> None`` that reads
and extends the shared :class:`DemoContext` and prints what it did. Later stages
(optimization, C, Verilog, CUDA) append their own steps to ``STEPS`` (or insert them before
``summary``) without touching the others.

Default: MONK-1 (generated from the rules shipped in the package, no download), 17 one-hot
input bits, a 4 x 64-gate IWP net, 40 epochs (~1 s of CPU): 99-100 % test accuracy.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("dlgn.demo")

__all__ = ["add_parser", "run", "STEPS", "DemoContext", "DEMO_PRESETS"]


def _demo_preset(name: str) -> dict:
    from ..frontend.data import PRESETS
    from .train_cmd import parse_layers
    p = dict(PRESETS[name])
    return dict(p, layers=parse_layers(p["layers"]))


#: The demo's data sets: small and quick, with the training recipe of ``dlgn train``'s
#: preset (:data:`dlgn.frontend.data.PRESETS`).
DEMO_PRESETS = {name: _demo_preset(name)
                for name in ("monk1", "monk2", "monk3", "breast-cancer", "digits")}


@dataclass
class DemoContext:
    """What the steps share. ``results`` is written to ``out/results.json`` at the end."""

    dataset: str = "monk1"
    epochs: int | None = None
    out: Path | None = None
    seed: int = 0
    preset: dict = field(default_factory=dict)
    data: Any = None
    net: Any = None
    netlist: Any = None          # the discretized netlist; optimized by the optimize step
    raw_netlist: Any = None      # the discretized netlist before optimization
    test_bits: Any = None        # encoded test rows (uint8 bits) for the compiled forms
    results: dict = field(default_factory=dict)

    def say(self, text: str):
        print(text, flush=True)


def step_data(ctx: DemoContext):
    from ..frontend.data import load_dataset
    ctx.data = load_dataset(ctx.dataset)
    d = ctx.data
    ctx.results["dataset"] = {"name": d.name, "train": len(d.x_train), "test": len(d.x_test),
                              "features": d.n_features, "classes": d.n_classes}
    ctx.say(f"[data]     {d.name}: {len(d.x_train)} train / {len(d.x_test)} test rows, "
            f"{d.n_features} features, {d.n_classes} classes ({d.description})")


def step_model(ctx: DemoContext):
    from ..frontend.data import make_encoder
    from ..frontend.net import LogicNet
    p = ctx.preset
    enc = make_encoder(ctx.data)
    ctx.net = LogicNet(ctx.data.n_features, layers=list(p["layers"]),
                       n_classes=ctx.data.n_classes, arity=2, parametrization="iwp",
                       init="residual", tau=p["tau"], encoder=enc, seed=ctx.seed)
    n_bits = _n_bits(ctx.net, ctx.data)
    ctx.results["model"] = {"layers": list(p["layers"]), "input_bits": n_bits,
                            "parametrization": "iwp", "tau": p["tau"]}
    ctx.say(f"[model]    {n_bits} input bits -> {' -> '.join(map(str, p['layers']))} IWP gates "
            f"-> GroupSum({ctx.data.n_classes}, tau={p['tau']:g})")


def _n_bits(net, data) -> int:
    import torch
    with torch.no_grad():
        return int(net.encode(torch.from_numpy(data.x_train[:1])).shape[1])


def step_train(ctx: DemoContext):
    import torch

    from ..frontend.train import train
    p = ctx.preset
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    train_log = logging.getLogger("dlgn.train")
    level = train_log.level
    try:
        # small nets: one thread is fastest (and several threads stall on a busy machine)
        torch.set_num_threads(1)
        if not log.isEnabledFor(logging.DEBUG):
            train_log.setLevel(logging.WARNING)     # the demo prints its own summary
        hist = train(ctx.net, ctx.data, epochs=p["epochs"], batch_size=p["batch_size"],
                     lr=p["lr"], seed=ctx.seed, eval_every=0, progress=False,
                     schedule=p.get("schedule", "constant"))
    finally:
        torch.set_num_threads(threads)
        train_log.setLevel(level)
    secs = time.perf_counter() - t0
    r = {"epochs": p["epochs"], "seconds": round(secs, 2), "loss": hist["loss"][-1],
         "soft_acc": hist["soft_acc"][-1], "discrete_acc": hist["discrete_acc"][-1]}
    ctx.results["train"] = r
    ctx.say(f"[train]    {p['epochs']} epochs in {secs:.1f} s, final loss {r['loss']:.4f}; "
            f"test accuracy: soft {100 * r['soft_acc']:.2f} %, "
            f"discrete {100 * r['discrete_acc']:.2f} %")


def step_discretize(ctx: DemoContext):
    import numpy as np
    import torch

    from ..compiler.gates import GATE_NAMES, GATE_TABLES
    from ..compiler.simulate import predict
    nl = ctx.netlist = ctx.net.discretize()
    nl.check()
    two = nl.arity == 2
    counts = {}
    for t in nl.table[two]:
        name = GATE_NAMES[int(np.flatnonzero(GATE_TABLES == int(t))[0])] \
            if int(t) in GATE_TABLES else hex(int(t))
        counts[name] = counts.get(name, 0) + 1
    with torch.no_grad():
        bits = ctx.test_bits = \
            ctx.net.encode(torch.from_numpy(ctx.data.x_test)).numpy().astype(np.uint8)
        ctx.net.eval()
        torch_pred = ctx.net(torch.from_numpy(ctx.data.x_test)).argmax(1).numpy()
        ctx.net.train()
    sim_pred = predict(nl, bits)
    agree = bool(np.array_equal(sim_pred, torch_pred))
    acc = float((sim_pred == ctx.data.y_test).mean())
    ctx.results["netlist"] = {"gates": int(nl.n_gates), "depth": int(nl.depth()),
                              "inputs": int(nl.n_inputs), "outputs": int(nl.n_outputs),
                              "gate_counts": dict(sorted(counts.items())),
                              "simulator_accuracy": acc, "simulator_matches_torch": agree}
    top = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])[:6])
    ctx.say(f"[netlist]  {nl.n_gates} gates, depth {nl.depth()}, {nl.n_inputs} inputs, "
            f"{nl.n_outputs} outputs; most used: {top}")
    ctx.say(f"[simulate] reference simulator: test accuracy {100 * acc:.2f} %, "
            f"{'identical to' if agree else 'DIFFERENT FROM'} the torch discretized forward")
    if not agree:
        raise RuntimeError("the netlist simulator disagrees with the discretized torch net")


def step_save(ctx: DemoContext):
    if ctx.out is None:
        return
    from ..frontend.checkpoint import save_model
    ctx.out.mkdir(parents=True, exist_ok=True)
    save_model(ctx.net, ctx.out / "model.pt", dataset=ctx.data.name)
    ctx.netlist.save(ctx.out / "model.dlgn.npz")
    ctx.say(f"[save]     {ctx.out / 'model.pt'}, {ctx.out / 'model.dlgn.npz'}")


def step_summary(ctx: DemoContext):
    if ctx.out is not None:
        ctx.out.mkdir(parents=True, exist_ok=True)
        (ctx.out / "results.json").write_text(json.dumps(ctx.results, indent=2,
                                                         sort_keys=True) + "\n")
        ctx.say(f"[summary]  results in {ctx.out / 'results.json'}")


from .demo_compile import step_c, step_cuda, step_optimize  # noqa: E402
from .demo_verilog import demo_step as verilog_demo_step  # noqa: E402

#: The demo's steps in order: (name, function). Append or insert to extend the demo.
STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("data", step_data),
    ("model", step_model),
    ("train", step_train),
    ("discretize", step_discretize),
    ("optimize", step_optimize),
    ("save", step_save),
    ("c", step_c),
    ("verilog", verilog_demo_step),
    ("cuda", step_cuda),
    ("summary", step_summary),
]


def add_parser(sub):
    p = sub.add_parser("demo", help="train, discretize and check a small net end to end",
                       description="Train a small Light DLGN on an embedded offline data set "
                                   "(MONK-1 by default), discretize it and report soft and "
                                   "discrete accuracy and gate counts.")
    from .train_cmd import positive_int
    p.add_argument("--dataset", default="monk1", choices=sorted(DEMO_PRESETS),
                   help="the embedded data set to train on")
    p.add_argument("--epochs", type=positive_int,
                   help="override the preset's number of epochs (default: the preset's)")
    p.add_argument("--out", help="directory for model.pt, the netlist, the C and Verilog "
                                 "files and results.json (default: keep nothing)")
    p.add_argument("--seed", type=int, default=0, help="connections, weights, batch order")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from . import check_output_dir
    preset = dict(DEMO_PRESETS[args.dataset])
    if args.epochs is not None:
        preset["epochs"] = args.epochs
    if args.out:                      # before six stages of work, not after
        check_output_dir(args.out, "--out")
    ctx = DemoContext(dataset=args.dataset, epochs=args.epochs, seed=args.seed, preset=preset,
                      out=Path(args.out) if args.out else None)
    t0 = time.perf_counter()
    for name, fn in STEPS:
        log.debug("demo step %s", name)
        fn(ctx)
    ctx.say(f"[done]     {time.perf_counter() - t0:.1f} s")
    return 0
