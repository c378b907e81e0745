"""The CUDA backend: the generated kernel, compiled on the CPU through the shim header,
equals the reference simulator bit for bit; nvcc accepts the same source for sm_80/sm_90;
a one-bit change of the netlist is caught; the text is deterministic (a golden file);
on a GPU (pytest -m gpu) the nvcc build equals the simulator on numpy and torch inputs."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import dlgn
from dlgn.backends import cuda
from dlgn.compiler import Netlist, predict, random_layered, random_netlist, scores, simulate
from dlgn.runtime import build
from dlgn.runtime.cuda_build import CudaUnavailableError, build_cuda, compile_check

GOLDEN = Path(__file__).parent / "golden" / "cuda_small.cu"
BATCHES = (0, 1, 31, 32, 33, 63, 64, 65, 1000)
HAS_CXX = shutil.which("g++") or shutil.which("clang++")
needs_cxx = pytest.mark.skipif(not HAS_CXX, reason="no host C++ compiler for the CUDA shim")


def _nvcc():
    from dlgn.runtime.cuda_build import find_nvcc
    return find_nvcc()


needs_nvcc = pytest.mark.skipif(_nvcc() is None, reason="nvcc not installed")


def _bits(rng, n, k):
    return rng.integers(0, 2, size=(n, k)).astype(np.uint8)


def _assert_same(model, net, X):
    np.testing.assert_array_equal(model.outputs(X), simulate(net, X))
    if net.n_classes:
        np.testing.assert_array_equal(model.scores(X), scores(net, X))
        np.testing.assert_array_equal(model.predict(X), predict(net, X))


def _small_net(seed=7):
    return random_netlist(seed, n_inputs=9, n_gates=40, max_arity=6, min_arity=0,
                          n_outputs=10, n_classes=3, p_const=0.1, p_invert=0.3)


# ------------------------------------------------------------------ shim == simulator
@needs_cxx
@pytest.mark.parametrize("seed,word_bits,storage,chunk", [
    (1, 32, "auto", 2000),      # arity 0..6 in one chunk: registers
    (2, 64, "auto", 2000),
    (3, 32, "shared", 17),      # many chunks, slots in __shared__
    (4, 64, "global", 23),      # many chunks, slots in the global scratch buffer
])
def test_shim_kernel_equals_simulator(seed, word_bits, storage, chunk):
    net = random_netlist(seed, n_inputs=12, n_gates=150, max_arity=6, min_arity=0,
                         n_outputs=24, n_classes=4, p_const=0.08, p_dup=0.15, p_invert=0.3,
                         p_special_output=0.15)
    model = build_cuda(net, cpu_shim=True, word_bits=word_bits, storage=storage,
                       chunk_gates=chunk)
    assert model.storage == (storage if storage != "auto" else "registers")
    rng = np.random.default_rng(seed)
    for n in BATCHES:
        X = _bits(rng, n, net.n_inputs)
        _assert_same(model, net, X)
    # bool input and ties in the argmax (all-zero inputs make many classes tie)
    X = _bits(rng, 77, net.n_inputs).astype(bool)
    X[:20] = False
    _assert_same(model, net, X)


@needs_cxx
def test_shim_kernel_exhaustive_small_arity_nets():
    """Every 2^n input of nets of each arity 1..6, with constant fan-ins and outputs."""
    rng = np.random.default_rng(0)
    for k in range(1, 7):
        net = random_netlist(100 + k, n_inputs=8, n_gates=30, max_arity=k, min_arity=k,
                             n_outputs=7, n_classes=2, p_const=0.2, p_invert=0.5,
                             p_special_output=0.3)
        X = ((np.arange(256)[:, None] >> np.arange(7, -1, -1)) & 1).astype(np.uint8)
        X = X[rng.permutation(256)]
        model = build_cuda(net, cpu_shim=True, word_bits=32 if k % 2 else 64,
                           chunk_gates=9, storage="global" if k > 3 else "shared")
        _assert_same(model, net, X)


@needs_cxx
def test_shim_edge_netlists():
    # no gates at all: outputs are inputs and constants
    net0 = Netlist(3, np.zeros((0, 2)), [], [], outputs=[0, 1, 2, 4, 3], invert=[0, 1, 1, 0, 0],
                   group_sizes=[2, 0, 3]).check()
    # no head: raw outputs only
    net1 = random_netlist(5, n_inputs=6, n_gates=20, max_arity=3, n_outputs=5, n_classes=0)
    # one class
    net2 = random_netlist(6, n_inputs=6, n_gates=20, max_arity=3, n_outputs=4, n_classes=1)
    rng = np.random.default_rng(1)
    for net in (net0, net1, net2):
        model = build_cuda(net, cpu_shim=True)
        for n in (0, 1, 33, 300):
            _assert_same(model, net, _bits(rng, n, net.n_inputs))
    with pytest.raises(dlgn.NetlistError, match="no GroupSum head"):
        build_cuda(net1, cpu_shim=True).predict(_bits(rng, 4, 6))


@needs_cxx
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), max_arity=st.integers(1, 6),
       n_gates=st.integers(0, 60), n_classes=st.integers(0, 5),
       word_bits=st.sampled_from([32, 64]), chunk=st.sampled_from([3, 25, 2000]),
       storage=st.sampled_from(["auto", "shared", "global"]), n=st.integers(0, 200))
def test_shim_property_random_netlists(seed, max_arity, n_gates, n_classes, word_bits, chunk,
                                       storage, n):
    net = random_netlist(seed, n_inputs=7, n_gates=n_gates, max_arity=max_arity, min_arity=0,
                         n_outputs=max(n_classes, 6), n_classes=n_classes, p_const=0.1,
                         p_invert=0.3, p_special_output=0.2)
    model = build_cuda(net, cpu_shim=True, word_bits=word_bits, chunk_gates=chunk,
                       storage=storage)
    _assert_same(model, net, _bits(np.random.default_rng(seed), n, net.n_inputs))


@pytest.mark.skipif(not shutil.which("clang++"), reason="clang++ not installed")
def test_shim_builds_with_clang(monkeypatch):
    monkeypatch.setenv("CXX", shutil.which("clang++"))
    net = _small_net(13)
    model = build_cuda(net, cpu_shim=True, storage="global", chunk_gates=10)
    _assert_same(model, net, _bits(np.random.default_rng(6), 99, net.n_inputs))


@needs_cxx
def test_shim_layered_trained_size_net():
    """A layered net of trained size (784 inputs, 2 x 4000 gates, 10 classes)."""
    net = random_layered(11, n_inputs=784, layers=(4000, 4000), n_classes=10)
    model = build_cuda(net, cpu_shim=True, word_bits=64)
    assert model.storage == "global"
    rng = np.random.default_rng(2)
    X = _bits(rng, 300, 784)
    _assert_same(model, net, X)


@needs_cxx
def test_flipped_bit_netlist_is_caught():
    """One truth-table bit flipped: the kernel follows the flipped netlist, so the
    comparison with the simulator of the original fails."""
    net = random_netlist(21, n_inputs=8, n_gates=60, max_arity=4, min_arity=2, n_outputs=12,
                         n_classes=3)
    X = ((np.arange(256)[:, None] >> np.arange(7, -1, -1)) & 1).astype(np.uint8)
    ref = simulate(net, X)
    bad = None
    for g in range(net.n_gates - 1, -1, -1):       # the last gates feed the outputs
        k = int(net.arity[g])
        for u in range(1 << k):
            cand = net.copy()
            cand.table[g] ^= np.uint64(1 << u)
            if not np.array_equal(simulate(cand, X), ref):
                bad = cand
                break
        if bad is not None:
            break
    assert bad is not None
    assert cuda.emit(bad) != cuda.emit(net)
    model = build_cuda(bad, cpu_shim=True)
    np.testing.assert_array_equal(model.outputs(X), simulate(bad, X))
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(model.outputs(X), ref)


@needs_cxx
def test_large_batches_are_split_into_segments(monkeypatch):
    import dlgn.runtime.cuda_build as cb
    net = random_netlist(12, n_inputs=10, n_gates=80, max_arity=3, n_outputs=8, n_classes=2)
    model = build_cuda(net, cpu_shim=True, storage="global", chunk_gates=20)
    monkeypatch.setattr(cb, "_MAX_WORKSPACE", 1)      # one tile of words per launch
    assert model.segment() == model.word_bits * model.block
    X = _bits(np.random.default_rng(5), 3 * model.segment() + 77, net.n_inputs)
    _assert_same(model, net, X)


@needs_cxx
def test_ctypes_loader_when_cffi_is_missing(monkeypatch):
    import sys
    net = _small_net(8)
    monkeypatch.setitem(sys.modules, "cffi", None)      # import cffi -> ImportError
    model = build_cuda(net, cpu_shim=True)
    assert model.lib.loader == "ctypes"
    _assert_same(model, net, _bits(np.random.default_rng(4), 100, net.n_inputs))


# ------------------------------------------------------------------ text
def test_emit_is_deterministic_and_matches_golden(tmp_path):
    net = _small_net()
    text = dlgn.emit(net, target="cuda", word_bits=32, name="golden", chunk_gates=16)
    assert text == cuda.emit(net.copy(), word_bits=32, name="golden", chunk_gates=16)
    if os.environ.get("DLGN_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "regenerate with DLGN_UPDATE_GOLDEN=1 if intended"
    files = dlgn.backends.write_files(net, "cuda", tmp_path, name="golden", chunk_gates=16)
    assert [f.name for f in files] == ["golden.cu", cuda.SHIM_HEADER]
    assert files[0].read_text() == text


@needs_cxx
def test_two_models_link_into_one_library(tmp_path):
    """Every exported or kernel symbol carries the name, so two models can share a binary."""
    import subprocess
    for name, seed in (("net_a", 1), ("net_b", 2)):
        cuda.write_files(_small_net(seed), tmp_path, name=name)
    cxx = shutil.which("g++") or shutil.which("clang++")
    r = subprocess.run([cxx, "-x", "c++", "-fPIC", "-shared", "-I", str(tmp_path),
                        str(tmp_path / "net_a.cu"), str(tmp_path / "net_b.cu"),
                        "-o", str(tmp_path / "both.so")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def test_emit_rejects_bad_options():
    net = _small_net()
    with pytest.raises(ValueError, match="word_bits"):
        cuda.emit(net, word_bits=16)
    with pytest.raises(ValueError, match="storage"):
        cuda.emit(net, storage="texture")
    with pytest.raises(ValueError, match="registers"):
        cuda.emit(random_layered(0, 16, (300, 300), n_classes=2), storage="registers",
                  chunk_gates=100)


@needs_cxx
def test_bad_inputs_raise():
    net = _small_net()
    model = build(net, "cuda", cpu_shim=True)
    with pytest.raises(ValueError, match="columns"):
        model.predict(np.zeros((3, 4), np.uint8))
    with pytest.raises(ValueError, match="0 or 1"):
        model.predict(np.full((3, 9), 2, np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        model.predict(np.zeros((3, 9), np.float32))


# ------------------------------------------------------------------ nvcc
@needs_nvcc
@pytest.mark.parametrize("storage,word_bits", [("registers", 32), ("global", 64)])
def test_nvcc_compiles_for_sm80_and_sm90(tmp_path, storage, word_bits):
    net = random_netlist(9, n_inputs=12, n_gates=120, max_arity=6, min_arity=1,
                         n_outputs=16, n_classes=4)
    src = cuda.emit(net, word_bits=word_bits, storage=storage,
                    chunk_gates=2000 if storage == "registers" else 40,
                    min_blocks=0 if storage == "registers" else 4)
    for arch in ("sm_80", "sm_90"):
        obj = compile_check(src, arch, tmp_path)
        assert obj.stat().st_size > 0


@needs_nvcc
def test_nvcc_compiles_shared_storage(tmp_path):
    src = cuda.emit(_small_net(), storage="shared", chunk_gates=8)
    assert compile_check(src, "sm_90", tmp_path).stat().st_size > 0


def test_no_gpu_or_no_nvcc_is_a_clear_error(monkeypatch):
    net = _small_net()
    import dlgn.runtime.cuda_build as cb
    monkeypatch.setattr(cb, "find_nvcc", lambda: None)
    with pytest.raises(CudaUnavailableError, match="nvcc"):
        build(net, "cuda")
    monkeypatch.undo()
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available() or _nvcc() is None:
        pytest.skip("checks the no-GPU message: needs nvcc and no GPU")
    with pytest.raises(CudaUnavailableError, match="GPU"):
        build(net, "cuda")


# ------------------------------------------------------------------ GPU
@pytest.mark.gpu
def test_gpu_kernel_equals_simulator_numpy_and_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for net, wb, kw in ((_small_net(), 32, {}),
                        (random_netlist(4, n_inputs=12, n_gates=150, max_arity=6,
                                        n_outputs=24, n_classes=4), 64,
                         {"storage": "shared", "chunk_gates": 20}),
                        (random_layered(5, 784, (2000, 2000), n_classes=10), 32,
                         {"storage": "global"})):
        model = build(net, "cuda", word_bits=wb, **kw)
        for n in BATCHES + (100_003,):
            X = _bits(rng, n, net.n_inputs)
            _assert_same(model, net, X)
            Xt = torch.from_numpy(X).cuda()
            np.testing.assert_array_equal(model.predict(Xt).cpu().numpy(), predict(net, X))
            np.testing.assert_array_equal(model.scores(Xt.bool()).cpu().numpy(),
                                          scores(net, X))
