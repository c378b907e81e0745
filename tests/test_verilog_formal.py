"""The emitted Verilog proven equal to the netlist: pyverilog re-read + equivalence, Yosys ->
BLIF -> ABC cec, and Verilator 5.48 ``--lint-only -Wall``; broken netlists/emitters caught."""
import subprocess

import numpy as np
import pytest

import dlgn.backends.verilog as V
from _verilog_util import need_iverilog, need_pyosys, small_netlist, verilator_or_skip
from dlgn.backends.verilog import emit
from dlgn.compiler.equiv import check_equivalent
from dlgn.compiler.generate import random_layered, random_netlist
from dlgn.compiler.simulate import simulate

def reread(net, pipeline=0):
    pytest.importorskip("pyverilog", reason="pip install pyverilog==1.3.0")
    from dlgn.backends.verilog_read import parse_verilog_logic
    r = parse_verilog_logic(emit(net, pipeline=pipeline))
    r.group_sizes = net.group_sizes.copy()
    r.tau = net.tau
    return r


def observable_flip(net, seed=0):
    """A copy of ``net`` with one truth-table bit flipped that changes some output."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(4096, net.n_inputs), dtype=np.uint8)
    ref = simulate(net, X)
    for g in rng.permutation(net.n_gates):
        k = int(net.arity[g])
        for u in rng.permutation(1 << k):
            bad = net.copy()
            bad.table[g] ^= np.uint64(1 << int(u))
            if not np.array_equal(simulate(bad, X), ref):
                return bad
    raise AssertionError("no observable single-bit flip found")


# ---------------------------------------------------------------- pyverilog re-read
@pytest.mark.parametrize("pipeline", [0, 3])
def test_reread_small_nets_exhaustive(pipeline):
    need_iverilog()
    for seed, k in enumerate([2, 3, 6, 1]):
        net = random_netlist(seed, n_inputs=10, n_gates=60, max_arity=k, min_arity=0,
                             n_outputs=9, n_classes=3, p_const=0.1)
        assert check_equivalent(net, reread(net, pipeline), method="exhaustive")


def test_reread_mid_net_abc_and_sat():
    need_iverilog()
    net = random_layered(3, n_inputs=48, layers=(500, 400, 300, 200), n_classes=10)
    r = reread(net)
    assert check_equivalent(net, r, method="abc")
    assert check_equivalent(net, r, method="sat")


def test_reread_catches_a_broken_emitter(monkeypatch):
    need_iverilog()
    net = small_netlist()
    # XOR written as XNOR
    monkeypatch.setattr(V.gates, "EXPR2", {**V.gates.EXPR2, 6: "~({0} ^ {1})"})
    assert not check_equivalent(net, reread(net), method="exhaustive")


# ---------------------------------------------------------------- Yosys + ABC proof
def test_formal_proof_small_and_mid():
    need_pyosys()
    from dlgn.backends.verilog_read import prove_verilog
    for seed, k in enumerate([2, 4, 6]):
        net = random_netlist(seed, n_inputs=14, n_gates=120, max_arity=k, min_arity=0,
                             n_outputs=12, n_classes=4, p_const=0.1)
        ok, log = prove_verilog(net, emit(net))
        assert ok, log[-2000:]
    net = random_layered(4, n_inputs=100, layers=(1500, 1000, 1000, 500), n_classes=10)
    ok, log = prove_verilog(net, emit(net))
    assert ok, log[-2000:]


def test_formal_proof_catches_flipped_bit():
    need_pyosys()
    from dlgn.backends.verilog_read import prove_verilog
    for seed, k in ((0, 2), (1, 5)):
        net = random_netlist(seed + 10, n_inputs=12, n_gates=100, max_arity=k, min_arity=1,
                             n_outputs=10, n_classes=2)
        bad = observable_flip(net, seed)
        ok, _ = prove_verilog(net, emit(bad))
        assert not ok
        ok, _ = prove_verilog(bad, emit(net))
        assert not ok


def test_formal_proof_catches_broken_emitter(monkeypatch):
    need_pyosys()
    from dlgn.backends.verilog_read import prove_verilog
    net = small_netlist()
    assert prove_verilog(net, emit(net))[0]
    with pytest.raises(ValueError, match="combinational form"):
        prove_verilog(net, emit(net, pipeline=1))
    monkeypatch.setattr(V.gates, "EXPR2", {**V.gates.EXPR2, 8: "{0} | {1}"})
    ok, _ = prove_verilog(net, emit(net))
    assert not ok


# ---------------------------------------------------------------- lint
def test_verilator_lint_clean(tmp_path):
    exe, env = verilator_or_skip()
    nets = [small_netlist(),
            random_netlist(2, n_inputs=20, n_gates=200, max_arity=6, min_arity=0,
                           n_outputs=15, n_classes=5, p_const=0.1),
            random_netlist(3, n_inputs=8, n_gates=40, max_arity=2, n_outputs=6, n_classes=0),
            random_netlist(4, n_inputs=8, n_gates=40, max_arity=3, n_outputs=6, n_classes=1),
            random_layered(5, n_inputs=32, layers=(100, 100, 50), n_classes=10)]
    for i, net in enumerate(nets):
        for pipeline, stride in ((0, 1), (1, 1), (3, 1), (2, 2), (1, 3)):
            f = tmp_path / f"m{i}_{pipeline}_{stride}.v"
            f.write_text(emit(net, pipeline=pipeline, head_stride=stride))
            p = subprocess.run([exe, "--lint-only", "-Wall", str(f)], env=env,
                               capture_output=True, text=True)
            assert p.returncode == 0 and "%Warning" not in p.stderr, p.stderr[-3000:]


# ---------------------------------------------------------------- the head, proven
def gold_head_verilog(net, lay) -> str:
    """A behavioural reference for the top: the (separately proven) logic module, loops
    counting each group and a first-maximum argmax."""
    C, SW, CW = net.n_classes, lay.score_width, lay.class_width
    bounds = np.concatenate([[0], np.cumsum(net.group_sizes)]).astype(int)
    body = []
    for c in range(C):
        body.append(f"    s = {SW}'d0;")
        body.append(f"    for (j = {bounds[c]}; j < {bounds[c + 1]}; j = j + 1) s = s + y[j];")
        body.append(f"    scores[{c * SW} +: {SW}] = s;")
        body.append(f"    if ({c} == 0 || s > best) begin best = s; class_id = {CW}'d{c}; end")
    return "\n".join([
        f"module gold (input wire [{lay.x_width - 1}:0] x, output reg [{CW - 1}:0] class_id,",
        f"             output reg [{C * SW - 1}:0] scores);",
        f"  wire [{net.n_outputs - 1}:0] y;",
        "  dlgn_model_logic u (.x(x), .y(y));",
        "  integer j;",
        f"  reg [{SW - 1}:0] s, best;",
        "  always @* begin",
        f"    best = {SW}'d0; class_id = {CW}'d0; scores = {C * SW}'d0; s = {SW}'d0;",
        *body,
        "  end",
        "endmodule", ""])


def prove_top(net, tmp_path, text=None):
    from dlgn.backends.verilog import layout
    from dlgn.backends.verilog_synth import run_yosys
    lay = layout(net)
    (tmp_path / "dut.v").write_text(text or emit(net))
    (tmp_path / "gold.v").write_text(gold_head_verilog(net, lay))
    try:
        run_yosys([f"read_verilog -sv {tmp_path / 'dut.v'}", f"read_verilog -sv {tmp_path / 'gold.v'}",
                   "proc", "flatten", "opt_clean",
                   "miter -equiv -flatten -make_outputs gold dlgn_model miter",
                   "hierarchy -top miter", "sat -verify -prove trigger 0 -show-inputs miter"],
                  cwd=tmp_path, timeout=300)
        return True
    except RuntimeError as e:
        assert "failed" in str(e).lower()
        return False


@pytest.mark.parametrize("seed,C", [(0, 3), (1, 5), (2, 2), (3, 7)])
def test_head_proven_against_behavioural_reference(seed, C, tmp_path):
    """popcount + argmax (ties to the first class, empty groups) proven with a Yosys miter."""
    need_pyosys()
    net = random_netlist(seed, n_inputs=10, n_gates=50, max_arity=3, n_outputs=4 * C,
                         n_classes=C, p_special_output=0.3)
    assert prove_top(net, tmp_path)


def test_head_proof_catches_a_wrong_tie_rule(tmp_path):
    """Outputs wired straight to inputs: ties between classes are common, and an argmax
    that lets the last maximum win (`>` for `>=`) is caught."""
    need_pyosys()
    from dlgn.compiler.netlist import Netlist
    net = Netlist(6, np.zeros((0, 2), np.int64), [], [], [2, 3, 4, 5, 6, 7], None,
                  [2, 1, 3]).check()
    good = emit(net)
    assert " >= " in good
    assert prove_top(net, tmp_path, good)
    assert not prove_top(net, tmp_path, good.replace(" >= ", " > "))
