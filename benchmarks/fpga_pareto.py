"""MNIST accuracy against FPGA LUTs (issue 15): the whole design of each net (raw-integer
encoder, logic, LUT-6 head) beside the field's published anchors, as a PNG and a table.

    nice python benchmarks/fpga_pareto.py                     # every shipped MNIST net
    nice python benchmarks/fpga_pareto.py examples/mnist_lut/mnist-lut-hw.dlgn.npz --json rows.json
    nice python benchmarks/fpga_pareto.py --synth --png pareto.png      # Yosys xc7 counts (slow)
    nice python benchmarks/fpga_pareto.py --train mnist-lut-hw --shipped      # a new run beside them
    python benchmarks/fpga_pareto.py --train mnist-lut --epochs 1 --limit 2000 --test-limit 500

Accuracy is the netlist's DISCRETE test accuracy (the reference simulator on the raw MNIST
test images, encoded by the netlist's own encoder metadata; all 10,000 unless
``--test-limit``), reported beside the figure recorded in ``meta["training"]`` when there is
one.  LUTs are :func:`dlgn.compiler.design.build_design`'s LUT-6 counts of the whole design
(8-bit raw pixels in, the predicted class out), whose predictions are checked equal to the
netlist's on the same images (``--no-check`` skips that); ``--synth`` counts Yosys ``synth_xilinx``'s
xc7 LUT cells instead (about a minute a net).  ``--train P[,P...]`` trains presets first
(``dlgn train --preset P``, then ``discretize`` and ``dlgn.compiler.optimize``).

The anchors are FRONTIER.md's, as their authors count them: DWN through dwn2rtl, 97.76 % in
3,464 LUTs with its encoder (xc7a35t); the DWN paper's "2000-1000" model, 4,600 LUT6 after
implementation (its accuracy not stated there: a vertical line); and the issue's target,
97.5 % in at most 4,000 LUTs.  Default output: ``fpga_pareto.png``.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout, uninstalled

log = logging.getLogger("fpga_pareto")

MNIST_FEATURES = 784
#: published points (FRONTIER.md, "Hardware"); accuracy None: not stated -> a vertical line
ANCHORS = (
    {"name": "DWN (dwn2rtl, xc7a35t)", "luts": 3464, "accuracy": 97.76,
     "note": "incl. encoder", "source": "FRONTIER.md: DWN via dwn2rtl, MNIST 2x[1000,500]"},
    {"name": "DWN 2000-1000", "luts": 4600, "accuracy": None,
     "note": "LUT6 after implementation", "source": "FRONTIER.md: DWN paper (issue thread)"},
)
#: the issue's target: at least this accuracy (%) in at most this many LUTs
TARGET = {"accuracy": 97.5, "luts": 4000}


class InputError(Exception):
    """A bad input: one line, exit status 2, nothing written."""


# ----------------------------------------------------------------------------- inputs
def _stem(path: Path) -> str:
    name = path.name
    for suf in (".dlgn.npz", ".npz"):
        if name.endswith(suf):
            return name[:-len(suf)]
    return path.stem


def _net_dataset(net, path: Path) -> str | None:
    """The data set a netlist was trained on, where its metadata or file name says."""
    from dlgn.frontend.data import PRESETS
    t = net.meta.get("training") if isinstance(net.meta.get("training"), dict) else {}
    if t.get("dataset"):
        return str(t["dataset"])
    recipe = t.get("recipe") if isinstance(t.get("recipe"), dict) else None
    if recipe and recipe.get("dataset"):
        return str(recipe["dataset"])
    preset = t.get("preset")
    if isinstance(preset, str):
        if "fashion" in preset:
            return "fashion-mnist"
        if preset in PRESETS:
            return str(PRESETS[preset].get("dataset", preset))
    if "fashion" in path.name.lower():
        return "fashion-mnist"
    return None


def check_net(net, path: Path) -> None:
    """Raise InputError unless ``net`` can make an MNIST design (head, encoder, 784 pixels)."""
    from dlgn.compiler.encoding import check_encoder_dict, encoder_n_bits, encoder_raw_features
    if net.n_classes == 0:
        raise InputError(f"{path}: the netlist has no GroupSum head (group_sizes)")
    enc = net.meta.get("encoder")
    if not enc:
        raise InputError(f"{path}: the netlist has no encoder metadata (meta['encoder'])")
    try:
        enc = check_encoder_dict(enc)
        raw, nbits = encoder_raw_features(enc), encoder_n_bits(enc)
    except Exception as e:  # noqa: BLE001 - any bad encoder is one input error
        raise InputError(f"{path}: bad encoder metadata ({str(e).splitlines()[0] if str(e) else e!r})") \
            from None
    if nbits != net.n_inputs:
        raise InputError(f"{path}: the encoder gives {nbits} bits but the netlist reads {net.n_inputs}")
    if raw != MNIST_FEATURES:
        raise InputError(f"{path}: not an MNIST net (its encoder reads {raw} raw features, "
                         f"MNIST has {MNIST_FEATURES})")
    ds = _net_dataset(net, path)
    if ds is not None and ds != "mnist":
        raise InputError(f"{path}: not an MNIST net (trained on {ds})")


def load_input(path: Path):
    from dlgn.errors import DlgnError
    from dlgn.runtime.artifact import load_netlist
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        net = load_netlist(path)        # a conv net's shared form comes back flat
    except (DlgnError, OSError) as e:
        raise InputError(str(e).splitlines()[0]) from None
    check_net(net, path)
    return net


def default_inputs() -> list[Path]:
    """Every shipped ``examples/*/*.dlgn.npz`` that is an MNIST net (Fashion-MNIST,
    monk1 and other data sets skipped)."""
    out = []
    for p in sorted((ROOT / "examples").glob("*/*.dlgn.npz")):
        try:
            load_input(p)
        except InputError as e:
            log.debug("skipped %s", e)
            continue
        out.append(p)
    return out


def _label(net, path: Path | None, fallback: str) -> str:
    t = net.meta.get("training") if isinstance(net.meta.get("training"), dict) else {}
    if isinstance(t.get("preset"), str):
        return t["preset"]
    return _stem(path) if path is not None else fallback


def _recorded(net) -> tuple[float | None, int | None, int | None]:
    """(accuracy, correct, n_test) recorded in meta["training"], where there."""
    t = net.meta.get("training") if isinstance(net.meta.get("training"), dict) else {}
    correct, n = t.get("test_correct"), t.get("n_test")
    acc = t.get("test_acc", t.get("accuracy"))
    if acc is None and correct is not None and n:
        acc = correct / n
    return (None if acc is None else float(acc), correct, n)


# ----------------------------------------------------------------------------- training
def train_preset(preset: str, args, work: Path):
    """``dlgn train --preset`` -> discretize -> optimize (the frontier recipe's netlist)."""
    from dlgn.cli import main as dlgn_main
    from dlgn.compiler import optimize
    from dlgn.frontend.checkpoint import load_model
    model = work / f"{preset}.pt"
    argv = ["-q", "train", "--preset", preset, "--no-progress", "--threads", str(args.threads),
            "-o", str(model)]
    if args.epochs:
        argv += ["--epochs", str(args.epochs)]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    t = time.perf_counter()
    if dlgn_main(argv) != 0:
        raise SystemExit(f"fpga_pareto: dlgn train --preset {preset} failed")
    net = optimize(load_model(model).discretize())
    log.info("trained %s in %.0f s: %d gates after optimize", preset, time.perf_counter() - t,
             net.n_gates)
    return net


# ----------------------------------------------------------------------------- measuring
def measure(net, label: str, path, data, args, work: Path) -> dict:
    from dlgn.backends.verilog_design import design_of
    from dlgn.compiler.encoding import encode
    from dlgn.compiler.simulate import predict
    t = time.perf_counter()
    pred = predict(net, encode(net.meta["encoder"], data.x_test))
    correct = int((pred == data.y_test).sum())
    n = int(len(data.y_test))
    des = design_of(net)
    b = des.breakdown()
    row = {"net": label, "path": None if path is None else str(path),
           "accuracy": correct / n, "correct": correct, "n_test": n,
           **{k: b[k] for k in ("encoder", "logic", "head", "total", "depth")},
           "gates": int(net.n_gates), "luts": b["total"], "luts_source": "netlist LUT-6"}
    acc, rc, rn = _recorded(net)
    row["recorded_accuracy"] = acc
    row["matches_recorded"] = None
    if acc is not None and rn == n:
        row["matches_recorded"] = (rc == correct) if rc is not None else abs(acc - correct / n) < 1e-9
        if not row["matches_recorded"]:
            log.warning("%s: %d/%d correct here, %s/%s recorded in meta['training']", label,
                        correct, n, rc, rn)
    if not args.no_check:
        got = des.predict_raw(des.to_raw(data.x_test))
        row["design_equals_netlist"] = bool(np.array_equal(got, pred))
        if not row["design_equals_netlist"]:
            log.error("%s: the design disagrees with the netlist on %d test images", label,
                      int((got != pred).sum()))
    if args.synth:
        from dlgn.backends.verilog_design import synthesize_design
        safe = "".join(c if c.isalnum() else "_" for c in label)
        rep = synthesize_design(net, work / safe, name=safe)
        x = rep.get("xc7", {})
        if "error" in x:
            log.warning("%s: Yosys failed (%s); plotted with the netlist counts", label,
                        str(x["error"]).splitlines()[-1] if str(x["error"]) else "?")
            row["xc7_error"] = str(x["error"])[-500:]
        else:
            row.update(xc7_luts=int(x["luts"]), xc7_ffs=int(x["ffs"]),
                       **{f"xc7_{p}": x[f"{p}_luts"] for p in ("encoder", "logic", "head")
                          if f"{p}_luts" in x},
                       luts=int(x["luts"]), luts_source="Yosys synth_xilinx xc7")
    log.info("%s: %.2f %% (%d/%d), %d LUTs (%s), %.1f s", label, 100 * row["accuracy"], correct,
             n, row["luts"], row["luts_source"], time.perf_counter() - t)
    return row


# ----------------------------------------------------------------------------- output
def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f} %"


def table(rows: list[dict]) -> str:
    synth = any("xc7_luts" in r for r in rows)
    head = ["net", "accuracy", "recorded", "encoder", "logic", "head", "total LUTs", "depth"]
    head += ["xc7 LUTs (Yosys)"] if synth else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"`{r['net']}`", _pct(r["accuracy"]), _pct(r["recorded_accuracy"]),
                 f"{r['encoder']:,}", f"{r['logic']:,}", f"{r['head']:,}", f"{r['total']:,}",
                 str(r["depth"])]
        if synth:
            cells.append(f"{r['xc7_luts']:,}" if "xc7_luts" in r else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both fewer LUTs and higher accuracy, by LUTs."""
    front, best = [], -1.0
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _place_labels(fig, ax, items, obstacles=()):
    """Annotate each (x, y, text, color) at the offset whose box overlaps least of what is
    placed already (labels, markers, the obstacles' boxes: line labels) and stays inside
    the axes -- a simple greedy placement, in the order given."""
    from matplotlib.transforms import Bbox
    offsets = [(8, 4), (8, -24), (-8, 4), (-8, -24), (8, 16), (-8, 16), (8, -36), (-8, -36),
               (8, 30), (-8, 30), (8, -50), (-8, -50)]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    taken = [o.get_window_extent(renderer) for o in obstacles]
    for x, y, _, _ in items:        # the markers themselves
        px, py = ax.transData.transform((x, y))
        taken.append(Bbox.from_extents(px - 6, py - 6, px + 6, py + 6))
    for x, y, text, color in items:
        best = None
        for dx, dy in offsets:
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                              fontsize=8, color=color, ha="left" if dx >= 0 else "right",
                              va="bottom", zorder=5)
            bb = ann.get_window_extent(renderer)
            out = max(0.0, frame.x0 - bb.x0) + max(0.0, bb.x1 - frame.x1) + \
                max(0.0, frame.y0 - bb.y0) + max(0.0, bb.y1 - frame.y1)
            cost = 1e3 * out + sum(_overlap(bb, o) for o in taken)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, ann, bb)
            else:
                ann.remove()
            if cost == 0:
                break
        taken.append(best[2])


def plot(plt, rows: list[dict], path: Path, *, synth: bool, n_test: int) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator
    fig, ax = plt.subplots(figsize=(9, 6), dpi=150)
    xs = [r["luts"] for r in rows]
    ys = [100 * r["accuracy"] for r in rows]
    known = [a for a in ANCHORS if a["accuracy"] is not None]
    allx = xs + [a["luts"] for a in ANCHORS] + [TARGET["luts"]]
    ally = ys + [a["accuracy"] for a in known] + [TARGET["accuracy"]]
    x0, x1 = min(allx) / 2.2, max(allx) * 2.2
    ylo, yhi = min(ally), max(ally)
    pad = max(0.25, 0.12 * (yhi - ylo))
    y0, y1 = ylo - pad, yhi + 1.5 * pad
    ax.set_xscale("log")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    # the target region: >= 97.5 % in <= 4,000 LUTs
    ax.axhline(TARGET["accuracy"], color="tab:green", ls="--", lw=1, zorder=1)
    ax.axvline(TARGET["luts"], color="tab:green", ls="--", lw=1, zorder=1)
    ax.fill_between([x0, TARGET["luts"]], TARGET["accuracy"], y1, color="tab:green", alpha=0.08,
                    zorder=0, label=f"target: ≥ {TARGET['accuracy']} % in ≤ {TARGET['luts']:,} LUTs")
    # anchors without an accuracy: vertical lines with their label
    obstacles = []
    for a in ANCHORS:
        if a["accuracy"] is None:
            ax.axvline(a["luts"], color="tab:red", ls=":", lw=1.2, zorder=1)
            obstacles.append(ax.text(a["luts"] * 1.015, y0 + 0.03 * (y1 - y0),
                                     f"{a['name']}: {a['luts']:,} {a['note']}\n(accuracy not stated)",
                                     rotation=90, fontsize=7, color="tab:red", va="bottom",
                                     ha="left", linespacing=1.1))
    # our Pareto front, then the points
    front = pareto_front(list(zip(xs, ys)))
    if len(front) > 1:
        fx, fy = zip(*front)
        ax.step(fx, fy, where="post", color="tab:blue", alpha=0.4, lw=1, zorder=2,
                label="dlgn Pareto front")
    ax.scatter(xs, ys, s=36, color="tab:blue", zorder=4,
               label="dlgn nets (" + ("Yosys synth_xilinx xc7 LUTs" if synth else
                                      "LUT-6 netlist counts") + ")")
    if known:
        ax.scatter([a["luts"] for a in known], [a["accuracy"] for a in known], marker="*", s=150,
                   color="tab:red", zorder=4, label="published (FRONTIER.md)")
    items = [(a["luts"], a["accuracy"], f"{a['name']}\n{a['accuracy']:.2f} %, {a['luts']:,} LUTs "
              f"{a['note']}", "tab:red") for a in known]
    items += [(x, y, f"{r['net']}\n{y:.2f} %, {x:,} LUTs", "tab:blue")
              for r, x, y in zip(rows, xs, ys)]
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_xlabel("FPGA LUTs, whole design: encoder + logic + head (log scale)")
    ax.set_ylabel(f"MNIST discrete test accuracy, % ({n_test:,} images)")
    ax.set_title("MNIST accuracy against FPGA LUTs: dlgn designs and published anchors", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=7.5,
              frameon=False)
    fig.tight_layout()
    _place_labels(fig, ax, items, obstacles)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    _write_atomic(path, buf.getvalue())


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


# ----------------------------------------------------------------------------- main
def _fail(msg: str) -> int:
    print(f"fpga_pareto: error: {msg}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("netlists", nargs="*", metavar="NETLIST",
                    help="*.dlgn.npz MNIST nets (default: every shipped examples/*/*.dlgn.npz "
                         "MNIST net)")
    ap.add_argument("--train", metavar="PRESET[,PRESET...]",
                    help="train these presets first and plot them (beside the NETLISTs given)")
    ap.add_argument("--shipped", action="store_true",
                    help="also plot every shipped MNIST net (the default without NETLIST or --train)")
    ap.add_argument("--epochs", type=int, help="--train: override the presets' epochs (smoke)")
    ap.add_argument("--limit", type=int, help="--train: first N training rows (smoke)")
    ap.add_argument("--threads", type=int, default=1, help="--train: torch threads (default 1)")
    ap.add_argument("--test-limit", type=int, metavar="N",
                    help="first N test images (default: all 10,000)")
    ap.add_argument("--synth", action="store_true",
                    help="count Yosys synth_xilinx xc7 LUTs (about a minute a net)")
    ap.add_argument("--work", help="keep trained models and Yosys files here (default: a temp dir)")
    ap.add_argument("--no-check", action="store_true",
                    help="skip checking each design equal to its netlist on the test images")
    ap.add_argument("--png", default="fpga_pareto.png")
    ap.add_argument("--json", help="write the rows (and the anchors) here")
    ap.add_argument("-q", "--quiet", action="store_true", help="warnings only")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    for name in ("epochs", "limit", "threads", "test_limit"):
        v = getattr(args, name)
        if v is not None and v < 1:
            return _fail(f"--{name.replace('_', '-')} must be >= 1, got {v}")
    if (args.epochs or args.limit) and not args.train:
        return _fail("--epochs / --limit apply to --train only")
    png = Path(args.png)
    outs = [png] + ([Path(args.json)] if args.json else [])
    for p in outs:
        if p.is_dir():
            return _fail(f"{p} is a folder")
        if not p.parent.is_dir():
            return _fail(f"{p}: folder {p.parent} does not exist")
    presets = [s.strip() for s in args.train.split(",") if s.strip()] if args.train else []
    if args.train is not None and not presets:
        return _fail("--train names no preset")
    if presets:
        from dlgn.frontend.data import PRESETS
        for p in presets:
            if p not in PRESETS:
                return _fail(f"--train: unknown preset {p!r}")
            if PRESETS[p].get("dataset", p) != "mnist":
                return _fail(f"--train: preset {p!r} is not an MNIST recipe")
            if PRESETS[p].get("conv"):
                return _fail(f"--train: {p!r} is a convolutional recipe; train it with "
                             "benchmarks/conv_mnist.py and pass its netlist")
    try:
        paths = [Path(p) for p in args.netlists]
        if args.shipped or not (paths or presets):
            paths += [p for p in default_inputs() if p.resolve() not in {q.resolve() for q in paths}]
        nets = [(load_input(p), p) for p in paths]
    except InputError as e:
        return _fail(str(e))
    if not nets and not presets:
        return _fail("no MNIST netlist to plot (none given, none shipped under examples/)")
    if args.synth:
        from dlgn.tools.yosys import pyosys_available
        if not pyosys_available():
            return _fail("--synth needs Yosys: pip install pyosys")
    plt = _pyplot()
    if plt is None:
        return _fail("matplotlib is not installed: pip install matplotlib")

    from dlgn.errors import DlgnError
    from dlgn.frontend.data import load_dataset
    try:
        data = load_dataset("mnist", test_limit=args.test_limit)
    except DlgnError as e:
        return _fail(str(e).splitlines()[0])
    log.info("MNIST: %d test images", len(data.y_test))
    with tempfile.TemporaryDirectory(prefix="fpga_pareto.") as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        items = [(net, _label(net, p, _stem(p)), p) for net, p in nets]
        for preset in presets:
            items.append((train_preset(preset, args, work), preset, None))
        seen: dict[str, int] = {}
        rows = []
        for net, label, p in items:
            seen[label] = seen.get(label, 0) + 1
            if seen[label] > 1:
                label = f"{label} #{seen[label]}"
            rows.append(measure(net, label, p, data, args, work))
    print(table(rows), flush=True)
    plot(plt, rows, png, synth=args.synth, n_test=int(len(data.y_test)))
    log.info("wrote %s", png)
    if args.json:
        doc = {"rows": rows, "anchors": list(ANCHORS), "target": TARGET,
               "n_test": int(len(data.y_test)), "luts": "Yosys xc7" if args.synth else "netlist LUT-6"}
        _write_atomic(Path(args.json), (json.dumps(doc, indent=2) + "\n").encode())
        log.info("wrote %s", args.json)
    return 0 if all(r.get("design_equals_netlist", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
