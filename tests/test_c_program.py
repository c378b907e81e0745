"""The C backend's gate-program mode (issue 12): bit-exact with the reference simulator."""
import importlib
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dlgn.backends import c as cback
from dlgn.backends.cprogram import LOW_BITS, anf_of, emit_code, gate_program
from dlgn.compiler import Netlist, optimize, random_layered, random_netlist
from dlgn.compiler.gates import eval_table
from dlgn.runtime.c_build import build_c

from _compiler_util import check_c_model, netlists, union

sim = importlib.import_module("dlgn.compiler.simulate")
BATCHES = (0, 1, 63, 64, 65)


def _check(model, net, rng, batches=BATCHES):
    check_c_model(model, net, rng, batches)


def test_anf_codes_evaluate_every_two_input_table():
    for t in range(16):
        c = anf_of(t)
        for a in (0, 1):
            for b in (0, 1):
                y = (c & 1) ^ (a & (c >> 1)) ^ (b & ((c >> 2) ^ (a & (c >> 3)))) & 1
                assert y & 1 == (t >> (2 * a + b)) & 1, (t, a, b)


def _run_program(gp, X):
    """Interpret a GateProgram in Python (numpy bools) -> (outputs, class counts)."""
    NI = gp.n_inputs
    v = np.zeros((gp.n_values, X.shape[0]), dtype=bool)
    v[:NI] = X.T
    v[NI + 1] = True
    O = gp.program.n_outputs
    out = np.zeros((O, X.shape[0]), dtype=bool)
    cnt = np.zeros((max(gp.n_classes, 1), X.shape[0]), dtype=np.int64)
    low = np.zeros_like(cnt)
    for w, a, b in gp.code.tolist():
        kind, d = (w >> 4) & 3, w >> 6
        if kind == 0:
            A, B = v[a], v[b]
            v[d] = bool(w & 1) ^ (A & bool(w & 2)) ^ (B & (bool(w & 4) ^ (A & bool(w & 8))))
        elif kind == 1:
            y = v[a] ^ bool(b & 1)
            out[d] = y
            if gp.n_classes:
                low[b >> 1] += y
                assert (low < 1 << LOW_BITS).all()
        else:
            cnt[d] += low[d]
            low[d] = 0
    assert not low.any()
    return out.T, cnt[:gp.n_classes].T


@given(netlists(max_inputs=8, max_gates=40), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_program_semantics_equal_simulator(net, seed):
    """The lowering (registers by liveness, Shannon expansion, stores, count flushes),
    checked without a compiler: a Python interpreter of the program."""
    gp = gate_program(net)
    X = np.random.default_rng(seed).integers(0, 2, (37, net.n_inputs)).astype(bool)
    out, cnt = _run_program(gp, X)
    np.testing.assert_array_equal(out, sim.simulate(net, X))
    if net.n_classes:
        np.testing.assert_array_equal(cnt, sim.scores(net, X))


@pytest.mark.parametrize("word_bits", [64, 512])
def test_many_random_nets_in_one_program_build(word_bits, tmp_path):
    """Edge cases (arity 0-6, duplicate and constant fan-ins, outputs that are constants
    or inputs) of 60 random nets, forced into program mode, one build per word width."""
    nets = [random_netlist(s, n_inputs=int(1 + s % 9), n_gates=int(s * 7 % 80), max_arity=6,
                           min_arity=s % 2, n_outputs=int(1 + s % 10), p_const=0.2, p_dup=0.3,
                           p_special_output=0.2) for s in range(60)]
    net = union(nets)
    m = build_c(net, mode="program", word_bits=word_bits, cache_dir=tmp_path, threads=2)
    assert m.mode == "program"
    _check(m, net, np.random.default_rng(word_bits), batches=BATCHES + (513,))


@pytest.mark.parametrize("seed", range(4))
def test_program_with_head_equals_simulator(seed, tmp_path):
    net = random_netlist(seed, n_inputs=11, n_gates=150, max_arity=6, n_outputs=40,
                         n_classes=1 + seed, p_const=0.1, p_dup=0.2, p_special_output=0.2)
    m = build_c(net, mode="program", word_bits=64, cache_dir=tmp_path,
                threads=1 + seed % 2)
    _check(m, net, np.random.default_rng(seed))


def test_big_groups_flush_the_low_counters(tmp_path):
    """Groups of 1..100 outputs (many flushes of a low counter, counts > 2**LOW_BITS), the
    outputs' classes interleaved in gate order, and ties for the first maximum."""
    net = random_layered(3, 30, (60, 330), n_classes=0)
    perm = np.random.default_rng(0).permutation(net.n_outputs)
    sizes = [1, 100, 2, 15, 16, 17, 31, 0, 148]
    net = Netlist(net.n_inputs, net.fanin, net.arity, net.table, net.outputs[perm],
                  net.invert[perm] ^ (np.arange(330) % 3 == 0), group_sizes=sizes).check()
    m = build_c(net, mode="program", cache_dir=tmp_path)
    _check(m, net, np.random.default_rng(1), batches=(65, 700))
    X = np.zeros((3, net.n_inputs), dtype=np.uint8)
    np.testing.assert_array_equal(m.predict(X), sim.predict(net, X))


def test_zero_outputs_and_empty_nets(tmp_path):
    for net in (Netlist(3, np.zeros((0, 1)), [], [], outputs=np.zeros(0, np.int32)),
                Netlist(0, np.zeros((0, 1)), [], [], outputs=[0, 1], invert=[True, False],
                        group_sizes=[1, 1]),
                Netlist(2, [[2, 3]], [2], [6], outputs=[4, 2, 0], group_sizes=[2, 1])):
        net.check()
        m = build_c(net, mode="program", word_bits=64, cache_dir=tmp_path)
        _check(m, net, np.random.default_rng(0))


def test_layered_optimized_net_threads(tmp_path):
    net = optimize(random_layered(5, 64, (400,) * 3, n_classes=8))
    m = build_c(net, mode="program", cache_dir=tmp_path, threads=3)
    X = np.random.default_rng(2).integers(0, 2, (5000, 64), dtype=np.uint8)
    np.testing.assert_array_equal(m.scores(X), sim.scores(net, X))
    np.testing.assert_array_equal(m.predict(X), sim.predict(net, X))
    # registers by liveness: the value array is as wide as a cut, not the whole net
    gp = gate_program(net)
    assert gp.n_registers < 0.6 * net.n_gates + 2


def test_modes_emit_and_auto_threshold(monkeypatch):
    net = random_layered(0, 16, (40, 40), n_classes=4)
    prog = cback.emit(net, mode="program")
    assert prog == cback.emit(net, mode="program")          # deterministic bytes
    assert cback.emit(net) == cback.emit(net, mode="straight")
    assert "gate program" in prog and prog != cback.emit(net)
    assert cback.emit_sources(net, 3, mode="program") == [prog]
    assert cback.resolve_mode(net) == "straight"
    monkeypatch.setattr(cback, "PROGRAM_GATES", 10)
    assert cback.resolve_mode(net) == "program"
    assert cback.emit(net) == prog
    with pytest.raises(ValueError, match="mode"):
        cback.emit(net, mode="fast")
    with pytest.raises(ValueError, match="mode"):
        build_c(net, mode="fast")


def test_auto_build_uses_the_program_above_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(cback, "PROGRAM_GATES", 50)
    net = optimize(random_layered(1, 20, (60, 60), n_classes=5))
    m = build_c(net, cache_dir=tmp_path)
    assert m.mode == "program" and sorted(p.name for p in m.build_dir.glob("*.c")) \
        == ["glue.c", "model.c"]
    _check(m, net, np.random.default_rng(3))


def test_emit_code_is_a_c_string_of_the_bytes(tmp_path):
    data = bytes(range(256)) + b"\x00\x07\x08\x09\x30\x31" + bytes(40)
    src = "#include <stdio.h>\n" + emit_code(data, "blob") + \
        "int main(void) { fwrite(blob, 1, sizeof blob, stdout); return 0; }\n"
    (tmp_path / "t.c").write_text(src)
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", str(tmp_path / "t.c"), "-o",
                    str(tmp_path / "t")], check=True)
    assert subprocess.run([str(tmp_path / "t")], capture_output=True, check=True).stdout == data
    assert emit_code(b"", "e").count("[1]") == 1


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_program_c_compiles_warning_free(cc, tmp_path):
    if not shutil.which(cc):
        pytest.skip(f"{cc} not installed")
    nets = {"head": random_netlist(0, n_inputs=9, n_gates=60, max_arity=6, n_outputs=12,
                                   n_classes=3),
            "nohead": random_netlist(1, n_inputs=9, n_gates=30, max_arity=3, n_outputs=5),
            "empty": Netlist(3, np.zeros((0, 1)), [], [], outputs=np.zeros(0, np.int32))}
    procs = []
    for name, net in nets.items():
        src = cback.write_files(net, tmp_path / name, mode="program")[0]
        for wb, extra in ((64, []), (512, []), (256, ["-DDLGN_NO_THREADS"])):
            cmd = [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1",
                   f"-DDLGN_WORD_BITS={wb}", *extra, "-c", str(src), "-o",
                   str(tmp_path / f"{name}_{wb}.o")]
            procs.append((cmd, subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)))
    for cmd, p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, f"{' '.join(cmd)}\n{err}"


def test_program_evaluates_wide_gates_exactly():
    """Arity 3..6 gates with random tables on every input row: the Shannon expansion."""
    rng = np.random.default_rng(7)
    for k in (3, 4, 5, 6):
        tabs = rng.integers(0, 1 << 62, 20).astype(np.uint64) & np.uint64((1 << (1 << k)) - 1)
        net = Netlist(k, np.tile(np.arange(2, 2 + k), (20, 1)), [k] * 20, tabs,
                      outputs=2 + k + np.arange(20)).check()
        X = ((np.arange(1 << k)[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(bool)
        out, _ = _run_program(gate_program(net), X)
        want = [[eval_table(int(t), k, row.tolist()) for t in tabs.tolist()] for row in X]
        np.testing.assert_array_equal(out, np.array(want, dtype=bool))
