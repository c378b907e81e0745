"""Every built C model keeps its own symbols, even in a process where an earlier import
switched dlopen to RTLD_GLOBAL (pyosys does this): two different models loaded one after
the other must each compute their own function."""
import os
import sys

import numpy as np
import pytest

from dlgn.compiler import random_netlist
from dlgn.compiler.simulate import predict, simulate
from dlgn.runtime import build


@pytest.mark.skipif(not hasattr(sys, "setdlopenflags"), reason="no dlopen flags here")
def test_models_stay_separate_under_rtld_global(tmp_path):
    old = sys.getdlopenflags()
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)
    try:
        nets = [random_netlist(s, n_inputs=10, n_gates=60, max_arity=3, n_outputs=6,
                               n_classes=3) for s in (101, 202, 303)]
        models = [build(n, target="c", cache_dir=tmp_path) for n in nets]
        assert sys.getdlopenflags() == os.RTLD_NOW | os.RTLD_GLOBAL  # restored
    finally:
        sys.setdlopenflags(old)
    X = (np.random.default_rng(0).random((500, 10)) < 0.5).astype(np.uint8)
    assert not np.array_equal(simulate(nets[0], X), simulate(nets[1], X))
    for n, m in zip(nets, models):
        np.testing.assert_array_equal(m.outputs(X), simulate(n, X))
        np.testing.assert_array_equal(m.predict(X), predict(n, X))


@pytest.mark.skipif(not hasattr(sys, "setdlopenflags"), reason="no dlopen flags here")
def test_cuda_shim_models_stay_separate_under_rtld_global(tmp_path):
    import shutil
    if not (shutil.which("g++") or shutil.which("clang++")):
        pytest.skip("no C++ compiler for the CUDA CPU shim")
    old = sys.getdlopenflags()
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)
    try:
        nets = [random_netlist(s, n_inputs=9, n_gates=50, max_arity=2, n_outputs=6,
                               n_classes=2) for s in (7, 8)]
        models = [build(n, target="cuda", cpu_shim=True, cache_dir=tmp_path) for n in nets]
    finally:
        sys.setdlopenflags(old)
    X = (np.random.default_rng(1).random((300, 9)) < 0.5).astype(np.uint8)
    assert not np.array_equal(predict(nets[0], X), predict(nets[1], X)) or \
        not np.array_equal(simulate(nets[0], X), simulate(nets[1], X))
    for n, m in zip(nets, models):
        np.testing.assert_array_equal(m.predict(X), predict(n, X))
