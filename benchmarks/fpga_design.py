"""The whole FPGA design of a shipped netlist (issue 15): build it (raw-integer encoder,
logic, LUT-6 head), check it against the netlist on every test image, simulate its Verilog
on test images, and report the resource breakdown of Yosys ``synth_xilinx``.

    nice python benchmarks/fpga_design.py examples/mnist/mnist_6x8000.dlgn.npz --dataset mnist
    nice python benchmarks/fpga_design.py NET --dataset mnist --simulate 10000 --simulator verilator
    python benchmarks/fpga_design.py NET --dataset mnist --no-synth --json out.json

Raw features are the data set's own values divided by ``--raw-scale`` (MNIST and
Fashion-MNIST pixels are q/256, so q is the 8-bit pixel).  Every figure is one run on this
machine; Yosys and simulation times are wall seconds.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("netlist")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--raw-width", type=int, default=8)
    ap.add_argument("--raw-scale", type=float, default=1 / 256)
    ap.add_argument("--mapping", default="parts", choices=("parts", "joint"))
    ap.add_argument("--head", default="lut6", choices=("lut6", "adders"))
    ap.add_argument("--simulate", type=int, default=0, metavar="N",
                    help="simulate the Verilog on the first N test images")
    ap.add_argument("--simulator", default="verilator", choices=("verilator", "iverilog"))
    ap.add_argument("--pipeline", type=int, default=0)
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--work", default="fpga_design_work")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import dlgn
    from dlgn.backends.verilog_design import breakdown_table, design_of, synthesize_design
    from dlgn.compiler.design import PARTS
    from dlgn.compiler.encoding import encode
    from dlgn.compiler.simulate import predict
    from dlgn.frontend.data import load_dataset
    net = dlgn.load_netlist(args.netlist)
    d = load_dataset(args.dataset)
    t = time.perf_counter()
    des = design_of(net, raw_width=args.raw_width, raw_scale=args.raw_scale, head=args.head,
                    mapping=args.mapping)
    out = {"netlist": args.netlist, "design": des.breakdown(),
           "build_s": round(time.perf_counter() - t, 2)}
    want = predict(net, encode(net.meta["encoder"], d.x_test))
    Q = des.to_raw(d.x_test)
    got = des.predict_raw(Q)
    out["design_equals_netlist"] = bool(np.array_equal(got, want))
    out["accuracy"] = float((got == d.y_test).mean())
    out["n_test"] = int(len(d.y_test))
    if args.simulate:
        from dlgn.backends.verilog_lut import simulate_lut
        n = min(args.simulate, len(Q))
        t = time.perf_counter()
        r = simulate_lut(des.net, des.raw_bits(Q[:n]), simulator=args.simulator,
                         primitives="xilinx", pipeline=args.pipeline,
                         input_ports=(des.n_features, des.raw_width),
                         parts=(des.parts, list(PARTS)))
        y = r["y"].astype(np.int64)
        idx = (y << np.arange(y.shape[1])[None, :]).sum(axis=1)
        out["simulation"] = {"simulator": args.simulator, "images": n,
                             "passed": bool(r["passed"]), "mismatches": r["mismatches"],
                             "equals_netlist": bool(np.array_equal(idx, want[:n])),
                             "seconds": round(time.perf_counter() - t, 1)}
    if not args.no_synth:
        rep = synthesize_design(net, args.work, name="design", pipeline=args.pipeline,
                                raw_width=args.raw_width, raw_scale=args.raw_scale,
                                head=args.head, mapping=args.mapping)
        out["synth"] = rep
        print(breakdown_table(rep))
    line = json.dumps(out, default=str)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")
    ok = out["design_equals_netlist"] and out.get("simulation", {}).get("equals_netlist", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
