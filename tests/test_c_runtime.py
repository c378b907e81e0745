"""C runtime: the built model equals the reference simulator bit for bit."""
import importlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import dlgn
from dlgn.compiler import Netlist, NetlistError, random_layered, random_netlist
from dlgn.runtime.c_build import CompiledCModel, build_c

from _compiler_util import check_c_model, union

sim = importlib.import_module("dlgn.compiler.simulate")
BATCHES = (0, 1, 63, 64, 65, 511, 513)


def _check(model, net, rng, batches=BATCHES):
    check_c_model(model, net, rng, batches)


@pytest.mark.parametrize("word_bits", [64, 128, 256, 512])
def test_many_random_nets_in_one_build(word_bits):
    rng = np.random.default_rng(word_bits)
    nets = [random_netlist(int(s), n_inputs=int(rng.integers(0, 9)),
                           n_gates=int(rng.integers(0, 40)), max_arity=int(rng.integers(1, 7)),
                           min_arity=0, n_outputs=int(rng.integers(0, 6)), n_classes=0,
                           p_const=0.15, p_invert=0.3, p_special_output=0.2)
            for s in rng.integers(0, 1 << 30, size=25)]
    net = union(nets)
    model = build_c(net, word_bits=word_bits, threads=2, chunk_gates=int(rng.integers(5, 60)))
    _check(model, net, rng)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n_inputs=st.integers(0, 12), n_gates=st.integers(0, 50),
       max_arity=st.integers(1, 6), n_outputs=st.integers(1, 14), n_classes=st.integers(0, 5),
       word_bits=st.sampled_from([64, 128, 256, 512]), chunk=st.integers(1, 30))
def test_random_nets_with_head_match_simulator(seed, n_inputs, n_gates, max_arity, n_outputs,
                                               n_classes, word_bits, chunk):
    net = random_netlist(seed, n_inputs=n_inputs, n_gates=n_gates, max_arity=max_arity,
                         min_arity=0, n_outputs=n_outputs, n_classes=n_classes, p_const=0.1)
    model = build_c(net, word_bits=word_bits, threads=2, chunk_gates=chunk)
    _check(model, net, np.random.default_rng(seed), batches=(0, 1, 63, 64, 65, 300))


def test_edge_nets():
    rng = np.random.default_rng(5)
    empty = Netlist(4, np.zeros((0, 1)), [], [], outputs=[0, 1, 2, 5], invert=[0, 1, 1, 0],
                    group_sizes=[1, 3], tau=2.0)
    single = Netlist(2, [[2, 3]], [2], [6], outputs=[4, 4], invert=[0, 1], group_sizes=[1, 1])
    ties = Netlist(3, np.zeros((0, 1)), [], [], outputs=[2, 3, 4], group_sizes=[1, 1, 1])
    for net in (empty, single, ties):
        _check(build_c(net, threads=1, word_bits=256), net, rng)
    # ties: all-ones rows must pick class 0 (first maximum)
    m = build_c(ties, threads=1, word_bits=256)
    np.testing.assert_array_equal(m.predict(np.ones((5, 3), np.uint8)), np.zeros(5))


def test_layered_net_threads_and_a_million_samples():
    net = random_layered(2, n_inputs=9, layers=(40, 30), arity=2, n_classes=3)
    model = build_c(net, threads=2)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, size=(1_000_000, 9)).astype(np.uint8)
    p = model.predict(X)
    np.testing.assert_array_equal(p, sim.predict(net, X))
    model1 = build_c(net, threads=1)
    np.testing.assert_array_equal(model1.scores(X[:70_001]), model.scores(X[:70_001]))


def test_bad_inputs_raise_clear_errors():
    net = random_netlist(1, n_inputs=5, n_classes=2)
    m = build_c(net, threads=1, word_bits=64)
    with pytest.raises(ValueError, match="2-D"):
        m.predict(np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="5 input bits"):
        m.predict(np.zeros((3, 4), np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        m.predict(np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match="0 or 1"):
        m.scores(np.full((3, 5), 2, np.uint8))
    with pytest.raises(TypeError, match="dtype"):      # a list of strings is no bit array
        m.outputs([["0", "1", "0", "1", "0"]])
    with pytest.raises(ValueError, match="0 or 1"):    # wider ints: 0/1 only, checked
        m.predict(np.array([[0, 1, 0, -1, 0]], np.int64))
    nohead = build_c(random_netlist(1, n_inputs=5, n_classes=0), word_bits=64)
    with pytest.raises(NetlistError, match="head"):
        nohead.predict(np.zeros((1, 5), np.uint8))
    with pytest.raises(ValueError):
        build_c(net, word_bits=32)
    with pytest.raises(TypeError):
        build_c("net")


def test_flipped_bit_netlist_is_caught():
    net = random_layered(3, n_inputs=8, layers=(24, 12), arity=2, n_classes=2)
    X = np.array(list(np.ndindex(*(2,) * 8)), dtype=np.uint8)  # all 256 inputs
    ref = sim.simulate(net, X)
    for g in range(net.n_gates - 1, -1, -1):  # a flip the simulator can observe
        bad = net.copy()
        bad.table[g] ^= np.uint64(1 << (g % 4))
        if not (sim.simulate(bad, X) == ref).all():
            break
    m = build_c(bad, word_bits=128, threads=1)
    got = m.outputs(X)
    np.testing.assert_array_equal(got, sim.simulate(bad, X))  # the build is faithful ...
    assert not (got == ref).all()  # ... so comparing it with the original catches the flip


def test_dispatch_and_cache_hit(tmp_path):
    net = random_netlist(9, n_inputs=6, n_classes=2)
    m = dlgn.build(net, "c", cache_dir=tmp_path, word_bits=64)
    assert isinstance(m, CompiledCModel)
    m2 = build_c(net, cache_dir=tmp_path, word_bits=64)
    assert m2.build_dir == m.build_dir
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


_CHILD = textwrap.dedent("""
    import sys, numpy as np
    from dlgn.compiler import random_layered
    from dlgn.compiler.simulate import predict
    from dlgn.runtime.c_build import build_c
    net = random_layered(11, n_inputs=30, layers=(300, 200), arity=2, n_classes=4)
    m = build_c(net, cache_dir=sys.argv[1], word_bits=128)
    X = np.random.default_rng(0).integers(0, 2, size=(1000, 30)).astype(np.uint8)
    assert (m.predict(X) == predict(net, X)).all()
    print("ok", m.build_dir)
""")


def test_concurrent_builds_of_one_model(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.startswith("ok")
    assert outs[0][0] == outs[1][0]  # same published build directory
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("word_bits", [64, 128, 256, 512])
def test_packing_paths_and_the_0_1_check_in_c(word_bits):
    """77 inputs: the 64-row x 32-input fast path, the 8-input path and the byte tail;
    batches around 64-row and word boundaries; a byte that is not 0/1 anywhere (any path,
    any thread) gives the simulator's own ValueError."""
    net = random_layered(5, n_inputs=77, layers=(60, 40), arity=2, n_classes=4)
    m = build_c(net, word_bits=word_bits, threads=2, chunk_gates=17)
    rng = np.random.default_rng(word_bits)
    _check(m, net, rng, batches=(1, 63, 64, 65, 130, 700, 1100))
    X = rng.integers(0, 2, size=(1100, 77)).astype(np.uint8)
    for r, c, v in [(0, 0, 2), (1099, 76, 255), (640, 70, 3), (70, 31, 128), (1, 64, 17)]:
        Y = X.copy()
        Y[r, c] = v
        with pytest.raises(ValueError) as got:
            m.predict(Y)
        with pytest.raises(ValueError) as want:
            sim.check_bits(Y, 77)
        assert str(got.value) == str(want.value)
        with pytest.raises(ValueError, match="0 or 1"):
            m.outputs(Y[r:r + 1])


@pytest.mark.parametrize("word_bits", [64, 512])
def test_predict_on_pre_packed_rows(word_bits):
    """predict_packed on np.packbits(X, axis=1, bitorder='little') rows equals predict on X:
    the fast 64-row x 256-input path, the byte tail and the padding bits of the last byte."""
    for n_in in (3, 300, 517):
        net = random_layered(n_in, n_inputs=n_in, layers=(50, 30), arity=2, n_classes=3)
        m = build_c(net, word_bits=word_bits, threads=2, chunk_gates=23)
        rng = np.random.default_rng(n_in)
        for n in (0, 1, 63, 64, 65, 700):
            X = rng.integers(0, 2, size=(n, n_in)).astype(np.uint8)
            Xp = np.packbits(X, axis=1, bitorder="little")
            if n_in % 8:
                Xp[:, -1] |= np.uint8(0xFF << (n_in % 8) & 0xFF)  # padding bits: ignored
            np.testing.assert_array_equal(m.predict_packed(Xp), sim.predict(net, X))
    with pytest.raises(ValueError, match="packbits"):
        m.predict_packed(X)


# ---------------------------------------------------------------- C loads without Python.h
def _no_python_headers(tmp_path, monkeypatch):
    """This process's Python include directories point at an empty folder, and the compiler
    is a wrapper that refuses any include-path option: a build that needs Python.h (a
    CPython extension) cannot succeed."""
    import shutil
    import sysconfig
    empty = tmp_path / "no-python-include"
    empty.mkdir()
    real = sysconfig.get_paths
    monkeypatch.setattr(sysconfig, "get_paths",
                        lambda *a, **k: {**real(*a, **k), "include": str(empty),
                                         "platinclude": str(empty)})
    monkeypatch.setattr(sysconfig, "get_path",
                        lambda name, *a, **k: str(empty) if "include" in name
                        else real(*a, **k)[name])
    for var in ("CPATH", "C_INCLUDE_PATH"):
        monkeypatch.delenv(var, raising=False)
    cc = shutil.which("gcc") or shutil.which("clang") or shutil.which("cc")
    wrapper = tmp_path / "cc-without-includes"
    wrapper.write_text("#!/bin/sh\n"
                       "for a in \"$@\"; do case \"$a\" in\n"
                       "  -I*|-isystem*) echo \"include path $a refused\" >&2; exit 1;;\n"
                       "esac; done\n"
                       f"exec {cc} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper)


def test_c_builds_and_loads_without_python_headers(tmp_path, monkeypatch):
    cc = _no_python_headers(tmp_path, monkeypatch)
    net = random_layered(21, n_inputs=13, layers=(60, 40), arity=2, n_classes=4)
    m = build_c(net, cc=cc, cache_dir=tmp_path / "cache", word_bits=128, threads=2)
    X = np.random.default_rng(2).integers(0, 2, size=(777, 13)).astype(np.uint8)
    np.testing.assert_array_equal(m.predict(X), sim.predict(net, X))
    np.testing.assert_array_equal(m.scores(X), sim.scores(net, X))
    np.testing.assert_array_equal(m.outputs(X), sim.simulate(net, X))
    cmd = (m.build_dir / "build.txt").read_text()
    assert "-I" not in cmd and "python" not in cmd.lower()
    for p in m.build_dir.iterdir():
        if p.suffix == ".c":
            assert "Python.h" not in p.read_text()


def test_c_library_exports_only_names_of_its_own(tmp_path):
    """Hidden symbols, as for the extension before: the generic dlgn_* entry points stay
    inside the library, only the build's own names (unique per cache key) are exported."""
    import ctypes
    a = build_c(random_netlist(31, n_inputs=6, n_classes=2), cache_dir=tmp_path, word_bits=64)
    b = build_c(random_netlist(32, n_inputs=6, n_classes=2), cache_dir=tmp_path, word_bits=64)
    assert a.library != b.library
    for m in (a, b):
        lib = ctypes.CDLL(str(m.library), mode=os.RTLD_NOW | os.RTLD_LOCAL)
        for name in ("dlgn_predict_mt", "dlgn_outputs", "dlgn_n_inputs", "dlgn_run"):
            assert not hasattr(lib, name), name
        tag = m._clib.tag
        assert tag.startswith("dlgnm_") and hasattr(lib, tag + "_predict_mt")
    assert a._clib.tag != b._clib.tag


def test_c_model_loads_with_ctypes_when_cffi_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cffi", None)       # import cffi -> ImportError
    net = random_layered(22, n_inputs=11, layers=(30, 21), arity=2, n_classes=3)
    m = build_c(net, cache_dir=tmp_path, word_bits=64, threads=2)
    assert m.loader == "ctypes"
    X = np.random.default_rng(3).integers(0, 2, size=(300, 11)).astype(np.uint8)
    np.testing.assert_array_equal(m.predict(X), sim.predict(net, X))
    np.testing.assert_array_equal(m.outputs(X), sim.simulate(net, X))
    np.testing.assert_array_equal(m.predict_packed(np.packbits(X, axis=1, bitorder="little")),
                                  sim.predict(net, X))
    X[7, 3] = 2
    with pytest.raises(ValueError, match="0 or 1"):
        m.scores(X)


def test_a_ready_model_logs_no_info_line(tmp_path, caplog):
    """The "C model ready in ... (cache path, word_bits)" line is DEBUG: it no longer leaks
    into the output of demo, predict and verify."""
    net = random_netlist(33, n_inputs=6, n_classes=2)
    with caplog.at_level("DEBUG", logger="dlgn"):
        build_c(net, cache_dir=tmp_path, word_bits=64)       # a cold build
        build_c(net, cache_dir=tmp_path, word_bits=64)       # and a cache hit
    ready = [r for r in caplog.records if "C model ready" in r.getMessage()]
    assert ready and all(r.levelname == "DEBUG" for r in ready)
    assert not [r for r in caplog.records if r.name.startswith("dlgn.runtime")
                and r.levelno >= 20], "INFO or louder from the runtime on a good build"


def test_predict_cli_does_not_print_the_cache_path(tmp_path):
    """The real command, in a process of its own (its logging goes to stderr)."""
    cache = tmp_path / "cache"
    net = random_netlist(34, n_inputs=6, n_classes=2)
    net.save(tmp_path / "n.dlgn.npz")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 2, (9, 6)).astype(np.uint8))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), DLGN_CACHE_DIR=str(cache))
    r = subprocess.run([sys.executable, "-m", "dlgn", "predict", str(tmp_path / "n.dlgn.npz"),
                        "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"),
                        "--target", "c"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "C model ready" not in r.stderr and str(cache) not in r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  sim.predict(net, np.load(tmp_path / "x.npy")))


def test_glue_exports_every_entry_point_of_the_c_api():
    from dlgn.backends import c as cback
    from dlgn.runtime.c_build import CBuildError, _glue
    for n_classes in (0, 3):
        net = random_netlist(35, n_inputs=6, n_outputs=6, n_classes=n_classes)
        decl = cback.cdef(net)
        source, decls, sigs = _glue(decl, "dlgnm_t")
        names = [ln.split("(")[0].split()[-1] for ln in decl.splitlines() if "(" in ln]
        assert names and all(f"dlgnm_t{n[len('dlgn'):]}" in sigs for n in names)
        assert all(f"dlgnm_t_const_{c}" in sigs for c in ("n_inputs", "n_outputs", "n_classes"))
        assert ('"model.c"' in source) and source.count("DLGN_GLUE_EXPORT") == len(sigs) + 2
    with pytest.raises(CBuildError, match="glue"):
        _glue("int something_else(void);", "dlgnm_t")
