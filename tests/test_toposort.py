"""dependencies_first: the ordering both netlist readers (BLIF, Verilog) build gates in."""
import pytest

from dlgn.backends.verilog_read import VerilogReadError, parse_verilog_logic
from dlgn.compiler.io.blif import parse_blif
from dlgn.compiler.netlist import NetlistError
from dlgn.compiler.toposort import dependencies_first


def _order(graph, roots, known=()):
    known = set(known)
    out = []
    for s in dependencies_first(roots, known, lambda s: graph[s], lambda x: ValueError(x)):
        assert all(d in known for d in graph[s]), f"{s} yielded before what it reads"
        known.add(s)
        out.append(s)
    return out


def test_every_signal_once_after_its_dependencies():
    g = {"o": ["a", "b", "a"], "a": ["x", "c"], "b": ["c", "x"], "c": ["x", "x"], "p": ["b"]}
    order = _order(g, ["o", "p", "c"], known={"x"})
    assert sorted(order) == ["a", "b", "c", "o", "p"] and order.index("c") == 0
    assert _order(g, ["x"], known={"x"}) == []
    # diamonds are not loops
    assert _order({"t": ["l", "r"], "l": ["b"], "r": ["b"], "b": []}, ["t"])[0] == "b"


@pytest.mark.parametrize("g,root", [({"a": ["a"]}, "a"), ({"a": ["b"], "b": ["c"], "c": ["a"]}, "a"),
                                    ({"o": ["a"], "a": ["b", "c"], "b": [], "c": ["a"]}, "o")])
def test_loops_raise(g, root):
    with pytest.raises(ValueError):
        _order(g, [root])


def test_readers_report_loops_and_undefined_signals():
    with pytest.raises(NetlistError, match="loop through"):
        parse_blif(".inputs a\n.outputs o\n.names a p o\n11 1\n.names o p\n1 1\n")
    with pytest.raises(NetlistError, match="never defined"):
        parse_blif(".inputs a\n.outputs o\n.names a z o\n11 1\n")
    pytest.importorskip("pyverilog")
    head = "module m_logic(input wire [1:0] x, output wire [0:0] y);\n"
    with pytest.raises(VerilogReadError, match="loop through"):
        parse_verilog_logic(head + "wire a, b;\nassign a = b & x[0];\nassign b = a | x[1];\n"
                           "assign y[0] = a;\nendmodule\n", module="m")
    with pytest.raises(VerilogReadError, match="never assigned"):
        parse_verilog_logic(head + "wire a, b;\nassign a = b & x[0];\nassign y[0] = a;\n"
                           "endmodule\n", module="m")


def test_read_takes_a_path_and_parse_takes_text(tmp_path):
    import pytest as _pytest
    from dlgn.backends.verilog import emit
    from dlgn.backends.verilog_read import read_verilog_logic
    from dlgn.compiler import random_layered
    net = random_layered(0, n_inputs=6, layers=(8, 4), n_classes=2)
    text = emit(net)
    (tmp_path / "m.v").write_text(text)
    a, b = read_verilog_logic(tmp_path / "m.v"), parse_verilog_logic(text)
    assert a.same_structure(b)
    with _pytest.raises(TypeError, match="parse_verilog_logic"):
        read_verilog_logic(text)
    with _pytest.raises(FileNotFoundError):
        read_verilog_logic(tmp_path / "nope.v")
