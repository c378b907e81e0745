"""The Verilog emitter's text: golden file, determinism, structure, options and errors."""
import re

import pytest

from _verilog_util import GOLDEN, small_netlist, update_golden
from dlgn.backends import emit as emit_any
from dlgn.backends.verilog import emit, layout, write_files
from dlgn.compiler.generate import random_layered, random_netlist


@pytest.mark.parametrize("pipeline", [0, 2])
def test_golden_text(pipeline):
    text = emit(small_netlist(), pipeline=pipeline)
    path = GOLDEN / f"verilog_small_p{pipeline}.v"
    if update_golden() or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"emitted text changed; review and regenerate {path} " \
                                     "with DLGN_UPDATE_GOLDEN=1"


def test_deterministic_and_dispatch():
    net = random_netlist(3, n_inputs=12, n_gates=80, max_arity=4, n_outputs=10, n_classes=3)
    a = emit(net, pipeline=3)
    assert a == emit(net.copy(), pipeline=3)
    assert a == emit_any(net, target="verilog", pipeline=3)
    assert a != emit(net, pipeline=2)


def test_header_and_structure():
    net = small_netlist()
    text = emit(net, module="acc_top")
    assert net.content_hash() in text
    assert "gates 7 (0-input 1, 1-input 1, 2-input 4, 3-input 1), live gates 6" in text
    for m in ("acc_top", "acc_top_logic", "acc_top_head"):
        assert re.search(rf"^module {m} \(", text, re.M)
    # one assign per live gate; the dead gate g6 is not emitted
    assert len(re.findall(r"^  assign g\d+ = ", text, re.M)) == 6
    assert "g6" not in text
    assert "T3[{g1, g2, 1'b1}]" in text and "localparam [7:0] T3 = 8'he8;" in text
    assert "assign x0 = x[0];" in text and "assign g0 = x0 & x1;" in text
    assert "assign g4 = ~(g3 | x0);" in text
    # y is one concatenation (most significant first), never bit by bit
    assert "assign y = {~g1, g5, x0, ~g3, g4};" in text and "assign y[" not in text
    # documented ports of the combinational top
    top = text[text.index("module acc_top ("):text.index("endmodule")]
    assert "input wire [3:0] x" in top and "output wire [0:0] class_id" in top
    assert "output wire [3:0] scores" in top and "clk" not in top


def test_pipelined_ports_and_latency():
    net = random_layered(1, n_inputs=16, layers=(40, 40, 40, 40, 20), n_classes=4)
    lay = layout(net, pipeline=2)
    assert lay.logic_latency == 3  # depth 5 -> stages of 2, 2, 1
    assert lay.head_latency == 3 + 2  # popcount of 5 bits, argmax of 4 classes
    text = emit(net, pipeline=2)
    top = text[:text.index("endmodule")]
    for port in ("input wire clk", "input wire rst", "input wire in_valid", "output wire out_valid",
                 "output wire [1:0] class_id", "output wire [11:0] scores"):
        assert port in top
    assert f"localparam integer LATENCY = {lay.latency};" in top
    # register banks: after level 2, 4 and the last
    assert text.count("// register bank") == 3


def test_no_head_top_has_y_only():
    net = random_netlist(5, n_inputs=6, n_gates=20, n_outputs=5, n_classes=0)
    text = emit(net)
    top = text[:text.index("endmodule")]
    assert "output wire [4:0] y" in top and "class_id" not in text and "_head" not in text


def test_bad_arguments():
    net = small_netlist()
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError):
            emit(net, pipeline=bad)
    for bad in ("1abc", "module", "a-b", ""):
        with pytest.raises(ValueError):
            emit(net, module=bad)
    for bad in (0, -2, 1.0):
        with pytest.raises(ValueError, match="head_stride"):
            emit(net, pipeline=2, head_stride=bad)
    with pytest.raises(TypeError):
        emit("not a netlist")
    empty = random_netlist(0, n_inputs=3, n_gates=4, n_outputs=0, n_classes=0)
    with pytest.raises(ValueError, match="no outputs"):
        emit(empty)


def test_write_files(tmp_path):
    net = small_netlist()
    files = write_files(net, tmp_path, name="m1", pipeline=1, n_vectors=20)
    names = sorted(f.name for f in files)
    assert names == ["m1.v", "m1_expect.hex", "m1_in.hex", "m1_tb.v"]
    assert (tmp_path / "m1.v").read_text() == emit(net, pipeline=1, module="dlgn_m1")
    assert len((tmp_path / "m1_in.hex").read_text().split()) == 20
    again = tmp_path / "again"
    write_files(net, again, name="m1", pipeline=1, n_vectors=20)
    for f in names:
        assert (again / f).read_bytes() == (tmp_path / f).read_bytes()


def test_too_large_netlists_are_refused_before_allocating(tmp_path):
    """Issue 12 item 4: a tiny netlist with 2**26 inputs ran the Verilog target out of
    memory; layout (which emit, write_files, the simulators and synthesis go through)
    refuses it first, in constant time and memory."""
    import time
    import tracemalloc

    import numpy as np

    from dlgn.compiler.netlist import Netlist, NetlistTooLargeError
    from dlgn.backends.verilog import LIMITS
    huge = Netlist(1 << 26, np.zeros((0, 1)), [], [], [2, 3], None, [1, 1]).check()
    tracemalloc.start()
    t0 = time.perf_counter()
    for call in (lambda: layout(huge), lambda: emit(huge),
                 lambda: write_files(huge, tmp_path / "out")):
        with pytest.raises(NetlistTooLargeError, match="Verilog target.*inputs"):
            call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 5 and peak < 1 << 20
    assert not (tmp_path / "out").exists()
    n = LIMITS["limit_outputs"] + 1
    wide = Netlist(1, np.zeros((0, 1)), [], [], np.full(n, 2), None, None)
    with pytest.raises(NetlistTooLargeError, match="outputs"):
        layout(wide)
