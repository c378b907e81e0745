"""Issue 11 item 1: the emitted Verilog must simulate fast in an event-driven simulator.

A mid-size net (about 3,000 gates, a 1,000-output head of 10 classes) runs its default
self-checking testbench in Icarus, and the CPU time of the ``vvp`` child process
(``RUSAGE_CHILDREN``, not wall time: the machine may be loaded) gives vectors/s.

Measured on the 2-core development machine, 256 vectors (vectors/s of vvp CPU time):

=============  =====================================  ================
form           before (per-bit ``assign y[o]``,        after
               ``y[j]`` read per output bit)
=============  =====================================  ================
combinational  < 0.06 (8 vectors not done in 130 s)    ~1,000
pipelined (2)  ~215                                   ~1,200
=============  =====================================  ================

This is a guard against text that simulates pathologically slowly (orders of magnitude,
as the old combinational form), not a speed figure: the floor is 30 vectors/s, ~30x below
what the text does on a loaded machine, so noise cannot fail it.  The speed figures
(Icarus and Verilator side by side, both forms) are ``benchmarks/verilog_bench.py``'s.
"""
from __future__ import annotations

import resource
import subprocess

import numpy as np
import pytest

from _verilog_util import need_iverilog
from dlgn.backends.verilog import write_files
from dlgn.compiler.generate import random_layered

N_VECTORS = 200
#: vectors per CPU second of vvp that the emitted text must beat
FLOORS = {0: 30.0, 2: 30.0}


def _mid_net():
    # two-input tables that read both inputs, so that (like a trained net) little folds
    return random_layered(0, n_inputs=256, layers=(500, 500, 500, 500, 1000), n_classes=10,
                          tables=[1, 2, 4, 6, 7, 8, 9, 11, 13, 14])


def _cpu_limit(seconds):
    def limit():
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    return limit


@pytest.mark.parametrize("pipeline", [0, 2])
def test_icarus_vectors_per_second_on_a_mid_size_net(pipeline, tmp_path):
    need_iverilog()
    net = _mid_net()
    assert net.n_outputs == 1000 and 2000 <= net.n_gates <= 5000
    write_files(net, tmp_path, name="model", pipeline=pipeline, n_vectors=N_VECTORS)
    subprocess.run(["iverilog", "-g2012", "-o", "sim", "-s", "dlgn_model_tb", "model.v",
                    "model_tb.v"], cwd=tmp_path, check=True, capture_output=True, timeout=300)
    # a regression must fail, not hang: vvp may use 10x the CPU time the floor allows
    budget = int(np.ceil(10 * N_VECTORS / FLOORS[pipeline])) + 5
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(["vvp", "-n", "sim"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=600, preexec_fn=_cpu_limit(budget))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert p.returncode == 0, f"vvp stopped (exit {p.returncode}) after {cpu:.1f} s of CPU " \
                              f"time: the text simulates far too slowly\n{p.stdout[-2000:]}"
    assert f"PASS: {N_VECTORS} vectors, 0 mismatches" in p.stdout, p.stdout[-2000:]
    rate = N_VECTORS / max(cpu, 1e-6)
    assert rate >= FLOORS[pipeline], \
        f"Icarus ran {rate:.0f} vectors/s (CPU), below the floor {FLOORS[pipeline]:.0f}"
