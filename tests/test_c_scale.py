"""The C backend at scale (issue 12): several translation units, size limits."""
import importlib
import subprocess
import time

import numpy as np
import pytest

from dlgn.backends import c as cback
from dlgn.backends.cfamily import LIMITS, lower_program
from dlgn.compiler import Netlist, optimize, random_layered, random_netlist
from dlgn.compiler.netlist import NetlistTooLargeError
from dlgn.runtime.c_build import build_c

sim = importlib.import_module("dlgn.compiler.simulate")


@pytest.mark.parametrize("parts", [2, 5])
def test_parts_build_equals_simulator(tmp_path, parts):
    net = optimize(random_layered(7, 70, (300,) * 3, n_classes=5))
    m = build_c(net, parts=parts, chunk_gates=16, cache_dir=tmp_path, threads=2)
    names = {p.name for p in m.build_dir.iterdir()}
    assert {f"model_part{k}.c" for k in range(1, parts + 1)} <= names
    assert not any(n.endswith(".o") for n in names)
    X = np.random.default_rng(1).integers(0, 2, (513, 70), dtype=np.uint8)
    assert np.array_equal(m.outputs(X), sim.simulate(net, X))
    assert np.array_equal(m.scores(X), sim.scores(net, X))
    assert np.array_equal(m.predict(X[:65]), sim.argmax_first(sim.scores(net, X[:65])))
    # only the build's own entry points are exported: the chunk functions stay hidden
    nm = subprocess.run(["nm", "-D", "--defined-only", str(m.library)], capture_output=True,
                        text=True)
    if nm.returncode == 0:
        assert "dlgn_chunk" not in nm.stdout and "_chunk_" not in nm.stdout


def test_parts_edge_nets(tmp_path):
    """Random nets incl. constants, wide gates and outputs that are inputs, split in parts."""
    for seed in range(3):
        net = random_netlist(seed, n_inputs=9, n_gates=120, max_arity=4, n_outputs=12, n_classes=3)
        m = build_c(net, parts=3, chunk_gates=8, cache_dir=tmp_path)
        X = np.random.default_rng(seed).integers(0, 2, (130, 9), dtype=np.uint8)
        assert np.array_equal(m.outputs(X), sim.simulate(net, X))


def test_emit_sources_one_part_is_emit():
    net = random_layered(0, 16, (40, 40), n_classes=4)
    assert cback.emit_sources(net, 1) == [cback.emit(net)]
    srcs = cback.emit_sources(net, 3, chunk_gates=10)
    assert len(srcs) == 4
    assert cback.emit_sources(net, 3, chunk_gates=10) == srcs   # deterministic
    assert cback.auto_parts(net) == 1


def test_absurd_size_refused_quickly():
    """Issue 12 item 4: 2**26 inputs and a few gates must be refused before any allocation."""
    n_in = 1 << 26
    net = Netlist(n_in, np.array([[2, 3]], dtype=np.int32), np.array([2], dtype=np.uint8),
                  np.array([6], dtype=np.uint64), np.array([2 + n_in], dtype=np.int32),
                  np.array([False]))
    t0 = time.perf_counter()
    with pytest.raises(NetlistTooLargeError, match="inputs"):
        lower_program(net)
    with pytest.raises(NetlistTooLargeError):
        cback.emit(net)
    assert time.perf_counter() - t0 < 2.0
    assert n_in > LIMITS["limit_inputs"]


def test_auto_mode_is_the_gate_program_above_the_threshold():
    """A net over PROGRAM_GATES gates is emitted as one small-code source (the gate
    program: its size is data, ~12 bytes per gate and output, not code)."""
    net = random_layered(0, 64, (cback.PROGRAM_GATES // 2 + 1,) * 2, n_classes=0)
    assert net.n_gates > cback.PROGRAM_GATES
    assert cback.resolve_mode(net) == "program"
    t0 = time.perf_counter()
    srcs = cback.emit_sources(net, cback.auto_parts(net))
    assert len(srcs) == 1 and "gate program" in srcs[0]
    assert time.perf_counter() - t0 < 20.0
    assert cback.resolve_mode(random_layered(0, 64, (100, 100))) == "straight"


def test_program_lowering_scales_linearly():
    from dlgn.backends.cprogram import gate_program
    times = []
    for w in (5000, 20000):
        net = random_layered(1, 100, (w,) * 3, n_classes=10)
        t0 = time.perf_counter()
        gp = gate_program(net)
        times.append(time.perf_counter() - t0)
        assert gp.n_registers < 1.2 * w + 200   # about one layer live, not the net
    assert times[1] < 8 * times[0] + 0.5
