"""Analysis on a fixed tiny net (golden values), networkx export keeps duplicate edges."""
import numpy as np
import pytest

from dlgn.compiler import Netlist, random_layered
from dlgn.compiler.analysis import cone_nodes, stats, to_dot, to_networkx
from dlgn.compiler.gates import table_of


def tiny():
    # x0..x2 = nodes 2..4; g0 = AND(x0, x1) (5); g1 = XOR(g0, x2) (6); g2 = OR(x0, x0) (7)
    fan = np.array([[2, 3], [5, 4], [2, 2]])
    tab = [table_of("AND"), table_of("XOR"), table_of("OR")]
    return Netlist(3, fan, [2, 2, 2], tab, [6, 7, 1, 3], [False, True, False, False],
                   [2, 2], tau=1.0).check()


def test_stats_golden():
    assert stats(tiny()) == {
        "inputs": 3, "gates": 3, "outputs": 4, "classes": 2, "depth": 2,
        "arity_histogram": {"2": 3}, "gates_per_level": [2, 1],
        "fanout_max": 1, "fanout_mean": 0.333333,
        "constant_outputs": 1, "input_outputs": 1, "inverted_outputs": 1,
    }


def test_networkx_keeps_duplicate_edges():
    g = to_networkx(tiny())
    assert g.is_multigraph() and g.number_of_nodes() == 8 and g.number_of_edges() == 6
    assert g.number_of_edges(2, 7) == 2
    assert g.nodes[7]["label"] == "OR" and g.nodes[6]["level"] == 2
    assert g.nodes[3]["kind"] == "input" and g.nodes[1]["kind"] == "const"
    assert g.graph["outputs"] == [6, 7, 1, 3]
    cone = to_networkx(tiny(), cone=[0])
    assert sorted(cone.nodes) == [2, 3, 4, 5, 6]
    assert cone_nodes(tiny(), [7], by="node").tolist() == [2, 7]
    with pytest.raises(ValueError):
        cone_nodes(tiny(), [9])


def test_dot_golden(tmp_path):
    text = to_dot(tiny(), cone=[1], path=tmp_path / "c.dot")
    assert text == (tmp_path / "c.dot").read_text()
    assert text == (
        "digraph dlgn {\n"
        "  rankdir=LR;\n"
        '  n2 [label="x0", shape=box];\n'
        '  n7 [label="OR", shape=ellipse];\n'
        '  n2 -> n7 [label="0"];\n'
        '  n2 -> n7 [label="1"];\n'
        '  y1 [label="y1", shape=doublecircle];\n'
        '  n7 -> y1 [style=dashed, label="NOT"];\n'
        "}\n")


def test_stats_on_a_layered_net():
    net = random_layered(0, n_inputs=20, layers=(50, 40, 30), n_classes=3)
    s = stats(net)
    assert s["gates"] == 120 and s["depth"] == 3 and s["gates_per_level"] == [50, 40, 30]
    assert s["arity_histogram"] == {"2": 120}
    g = to_networkx(net)
    assert g.number_of_edges() == 240


def test_cone_matches_a_gate_by_gate_sweep():
    from dlgn.compiler import random_netlist
    for seed in range(5):
        net = random_netlist(seed, n_inputs=6, n_gates=60, max_arity=4, n_outputs=5, window=8)
        for o in range(net.n_outputs):
            mark = np.zeros(net.n_nodes, bool)
            mark[net.outputs[o]] = True
            for g in range(net.n_gates - 1, -1, -1):
                if mark[net.first_gate + g]:
                    mark[net.fanin[g, :net.arity[g]]] = True
            assert cone_nodes(net, [o]).tolist() == np.flatnonzero(mark).tolist()
