"""``dlgn inspect``: the statistics of a netlist as a table and as JSON, a DOT cone."""
import json

import pytest

from dlgn.cli import main
from dlgn.compiler import random_netlist
from dlgn.compiler.analysis import gate_types, stats


@pytest.fixture
def netfile(tmp_path):
    net = random_netlist(3, n_inputs=6, n_gates=40, max_arity=6, n_outputs=6, n_classes=2)
    p = tmp_path / "n.dlgn.npz"
    net.save(p)
    return net, p


def test_inspect_json_and_table(netfile, capsys):
    net, p = netfile
    assert main(["inspect", str(p), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["gates"] == net.n_gates and s["depth"] == net.depth()
    assert sum(t["count"] for t in gate_types(net, top=10**6)) == net.n_gates
    assert s["gates_per_level"] == stats(net)["gates_per_level"]
    assert main(["inspect", str(p)]) == 0
    out = capsys.readouterr().out
    assert "gates" in out and "level widths" in out and "gate types" in out


def test_inspect_dot_cone(netfile, tmp_path):
    net, p = netfile
    assert main(["-q", "inspect", str(p), "--dot", str(tmp_path / "c.dot"), "--cone", "0"]) == 0
    assert (tmp_path / "c.dot").read_text().startswith("digraph dlgn {")
    assert main(["-q", "inspect", str(p), "--cone", "0"]) != 0          # --cone needs --dot
    assert main(["-q", "inspect", str(p), "--dot", str(tmp_path / "d.dot"), "--cone", "99"]) != 0
    assert not (tmp_path / "d.dot").exists()


def test_gate_types_names():
    from dlgn.compiler import Netlist
    from dlgn.compiler.gates import table_of
    net = Netlist(2, [[2, 3], [2, 3], [4, 0], [2, 3]], [2, 2, 1, 2],
                  [table_of("AND"), table_of("AND"), 1, table_of("XOR")], [4, 5, 6, 7]).check()
    assert gate_types(net) == [{"gate": "AND", "arity": 2, "count": 2},
                               {"gate": "NOT", "arity": 1, "count": 1},
                               {"gate": "XOR", "arity": 2, "count": 1}]
