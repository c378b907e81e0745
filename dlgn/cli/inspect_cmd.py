"""``dlgn inspect NETLIST [--json] [--dot FILE [--cone 0,3]]``: what a netlist holds.

Prints sizes (inputs, gates, outputs, classes), depth, the arity histogram, the most common
gate types, the width of every logic level and fan-out, plus the encoder the netlist carries;
``--json`` prints the same as one JSON object; ``--dot`` writes the Graphviz drawing of the
whole net or of the cones of ``--cone`` outputs.
"""
from __future__ import annotations

import json
import logging
import sys

from ..errors import UsageError

log = logging.getLogger("dlgn.inspect")


def add_parser(sub):
    p = sub.add_parser("inspect", help="statistics of a netlist (or model)",
                       description="Print the statistics of NETLIST (a .dlgn.npz, a compile "
                                   "directory or a trained .pt model, discretized).")
    p.add_argument("netlist", help="netlist (.dlgn.npz), compile directory or model (.pt)")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.add_argument("--dot", metavar="FILE", help="write a Graphviz DOT drawing to FILE")
    p.add_argument("--cone", metavar="I,J", default=None,
                   help="with --dot: draw only the cones of these output indices")
    p.set_defaults(func=run)
    return p


def _cone(text, n_outputs):
    if text is None:
        return None
    try:
        idx = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"--cone takes comma-separated output indices, got {text!r}") from None
    bad = [i for i in idx if not 0 <= i < n_outputs]
    if bad or not idx:
        raise UsageError(f"--cone: output indices must lie in 0..{n_outputs - 1}")
    return idx


def summary(net) -> dict:
    from ..compiler.analysis import gate_types, stats
    s = stats(net)
    enc = net.meta.get("encoder")
    s["gate_types"] = gate_types(net)
    s["tau"] = net.tau
    s["group_sizes"] = net.group_sizes.tolist()
    s["encoder"] = None if not enc else {
        k: v for k, v in enc.items() if k in ("type", "n_features", "bits_per_feature",
                                               "method", "code", "raw_features")}
    return s


def run(args) -> int:
    from .models import load_netlist
    net = load_netlist(args.netlist)
    cone = _cone(args.cone, net.n_outputs)
    if args.cone is not None and not args.dot:
        raise UsageError("--cone selects what --dot draws: add --dot FILE")
    s = summary(net)
    if args.dot:
        from ..compiler.analysis import to_dot
        from ..compiler.atomic import write_text_atomic
        write_text_atomic(args.dot, to_dot(net, cone))
        s["dot"] = args.dot
    if args.json:
        sys.stdout.write(json.dumps(s, sort_keys=True) + "\n")
        return 0
    lev = s["gates_per_level"]
    rows = [("inputs", s["inputs"]), ("gates", s["gates"]), ("outputs", s["outputs"]),
            ("classes", f"{s['classes']} (groups {_short(s['group_sizes'])}, tau {s['tau']:g})"
             if s["classes"] else "0 (no head)"),
            ("depth", s["depth"]),
            ("arity", ", ".join(f"{k}: {v}" for k, v in s["arity_histogram"].items()) or "-"),
            ("gate types", ", ".join(f"{t['gate']} {t['count']}" for t in s["gate_types"])
             or "-"),
            ("level widths", _short(lev) if lev else "-"),
            ("fan-out", f"max {s['fanout_max']}, mean {s['fanout_mean']:.2f}"),
            ("outputs special", f"{s['constant_outputs']} constant, {s['input_outputs']} "
                                f"inputs, {s['inverted_outputs']} inverted"),
            ("encoder", json.dumps(s["encoder"]) if s["encoder"] else "none (inputs are bits)")]
    if args.dot:
        rows.append(("dot", args.dot))
    w = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")
    return 0


def _short(values, n=12) -> str:
    values = list(values)
    if len(values) <= n:
        return " ".join(str(v) for v in values)
    return " ".join(str(v) for v in values[:n // 2]) + " ... " + \
        " ".join(str(v) for v in values[-n // 2:]) + f" ({len(values)} values)"
