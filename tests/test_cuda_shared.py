"""The CUDA backend of the weight-shared conv form (dlgn.backends.cudashared), run on the CPU
through the shim: equal to the stage-by-stage reference (simulate_shared) and to the flat
form's simulator, on every batch size, word size and tail storage; deterministic; compiled
by nvcc where it is installed."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from dlgn.backends.cudashared import SharedCudaEmitter, emit_shared, write_files
from dlgn.compiler import optimize, predict, scores
from dlgn.compiler.builder import NetlistBuilder
from dlgn.compiler.shared import ConvStage, PoolStage, SharedNet, optimize_shared, \
    simulate_shared
from dlgn.compiler.simulate import simulate
from dlgn.frontend.convnet import ConvLogicNet
from dlgn.frontend.encoders import ThermometerEncoder
from dlgn.runtime.cuda_build import build_cuda


def _trained_case(seed=2, **kw):
    """A small ConvLogicNet (2-bit thermometer, two conv blocks with pooling, stride and
    padding) and input bits for it."""
    X = np.random.default_rng(seed).random((30, 100)).astype(np.float32)
    enc = ThermometerEncoder(2).fit(X)
    cfg = dict(image=(1, 10, 10), conv=[dict(channels=4, padding=1, pool=2),
                                        dict(channels=6, depth=3, arity=3, padding=2, pool=3)],
               layers=[30], n_classes=3, encoder=enc, seed=seed, init="gaussian")
    cfg.update(kw)
    net = ConvLogicNet(100, **cfg).eval()
    bits = net.encode(torch.from_numpy(np.concatenate([X] * 5))).numpy().astype(np.uint8)
    return net.discretize_shared(), bits


def _random_kernel(rng, n_in, n_out, n_gates):
    b = NetlistBuilder(n_in, rewrite=False)
    lits = list(b.input_lits()) + [0, 1]                  # constants among the fan-ins
    for _ in range(n_gates):
        k = int(rng.integers(1, 4))
        fan = rng.choice(lits, size=k)                    # duplicate fan-ins allowed
        t = int(rng.integers(0, 1 << (1 << k)))
        lits.append(int(b.add(np.asarray([fan]), np.asarray([t], np.uint64))[0]))
    outs = rng.choice(lits, size=n_out)                   # inputs and constants as outputs
    return b.finish(np.asarray(outs) ^ rng.integers(0, 2, n_out))


def _random_shared(seed):
    """A random SharedNet: conv (interleaved first input, padding, stride), pool, conv, tail
    with a head."""
    rng = np.random.default_rng(seed)
    C, H, W = 2 * int(rng.integers(1, 3)), int(rng.integers(4, 8)), int(rng.integers(4, 8))
    k, p, s = int(rng.integers(1, 4)), int(rng.integers(0, 2)), int(rng.integers(1, 3))
    il = 2 if C % 2 == 0 else 1
    c1 = ConvStage((C, H, W), k, s, p, _random_kernel(rng, C * k * k, 3, 12), il)
    stages = [c1]
    shape = c1.out_shape
    if min(shape[1:]) >= 2:
        stages.append(PoolStage(shape, 2, int(rng.integers(1, 3))))
        shape = stages[-1].out_shape
    c2 = ConvStage(shape, 1, 1, 1, _random_kernel(rng, shape[0], 2, 6))
    stages.append(c2)
    nf = int(np.prod(c2.out_shape))
    tb = NetlistBuilder(nf, rewrite=False)
    lit = tb.input_lits()
    g = tb.add(rng.choice(lit, size=(12, 2)), rng.integers(0, 16, 12).astype(np.uint64))
    tail = tb.finish(np.concatenate([g, lit[:3]]), group_sizes=[5, 5, 5], tau=2.0)
    return SharedNet(stages, tail)


def _check(model, sn, bits):
    flat = sn.expand()
    want_o = simulate_shared(sn, bits)
    assert (want_o == simulate(flat, bits)).all()
    for n in (0, 1, 31, 32, 63, 64, 65, len(bits)):
        assert (model.outputs(bits[:n]) == want_o[:n]).all()
        if sn.n_classes:
            assert (model.predict(bits[:n]) == predict(flat, bits[:n])).all()
            assert (model.scores(bits[:n]) == scores(flat, bits[:n])).all()


@pytest.mark.parametrize("word_bits,storage", [(32, "auto"), (64, "global"), (32, "shared")])
def test_shim_shared_equals_reference(word_bits, storage, tmp_path):
    sn, bits = _trained_case()
    m = build_cuda(sn, cpu_shim=True, word_bits=word_bits, storage=storage,
                   cache_dir=tmp_path)
    assert m.mode == "shared" and m.word_bits == word_bits
    _check(m, sn, bits)


def test_shim_shared_packed_file_and_optimized_forms(tmp_path):
    sn, bits = _trained_case(4)
    for form in (sn.to_netlist(), optimize_shared(sn), sn.map_nets(optimize)):
        m = build_cuda(form, cpu_shim=True, cache_dir=tmp_path)
        assert m.mode == "shared"
        assert (m.predict(bits) == predict(sn.expand(), bits)).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), word_bits=st.sampled_from([32, 64]))
def test_shim_shared_random_nets(seed, word_bits, tmp_path_factory):
    sn = _random_shared(seed)
    bits = np.random.default_rng(seed).integers(0, 2, (70, sn.n_inputs), dtype=np.uint8)
    m = build_cuda(sn, cpu_shim=True, word_bits=word_bits,
                   cache_dir=tmp_path_factory.mktemp("cache"))
    _check(m, sn, bits)


def test_shared_without_stages_is_the_tail(tmp_path):
    sn, bits = _trained_case()
    bare = SharedNet([], sn.tail)
    feats = simulate_shared(SharedNet(sn.stages, _identity(sn.tail.n_inputs)), bits)
    m = build_cuda(bare, cpu_shim=True, cache_dir=tmp_path)
    assert (m.outputs(feats) == simulate(sn.tail, feats)).all()


def _identity(n):
    b = NetlistBuilder(n, rewrite=False)
    return b.finish(b.input_lits())


def test_emit_is_deterministic_and_kernels_written_once(tmp_path):
    sn, _ = _trained_case(3)
    a, b = emit_shared(sn, name="conv"), emit_shared(sn, name="conv")
    assert a == b
    # each kernel gate once, not once per position
    assert a.count("const W v") < sn.n_kernel_gates + sn.tail.n_gates + 200 < sn.n_gates
    files = write_files(sn, tmp_path, name="conv")
    assert [f.name for f in files] == ["conv.cu", "cuda_shim.h"]
    assert files[0].read_text() == a


def test_bad_inputs_are_clear_errors():
    sn, _ = _trained_case()
    with pytest.raises(TypeError, match="SharedNet"):
        SharedCudaEmitter(sn.tail)
    with pytest.raises(ValueError, match="word_bits"):
        emit_shared(sn, word_bits=16)
    m = build_cuda(sn, cpu_shim=True)
    with pytest.raises(ValueError):
        m.predict(np.zeros((3, sn.n_inputs + 1), np.uint8))


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_nvcc_compiles_shared_form(arch, tmp_path):
    from dlgn.runtime.cuda_build import compile_check, find_nvcc
    if find_nvcc() is None:
        pytest.skip("nvcc is not installed")
    sn, _ = _trained_case()
    assert compile_check(emit_shared(sn, word_bits=64), arch, tmp_path).stat().st_size > 0


def test_dirty_workspace_gives_the_same_answer(tmp_path):
    """On a GPU the workspace is uninitialized memory: the zero borders of the stage buffers
    must be cleared by the launch itself."""
    sn, bits = _trained_case(5)
    m = build_cuda(sn, cpu_shim=True, cache_dir=tmp_path)
    X = np.ascontiguousarray(bits)
    n = len(X)
    ws = np.full(m.workspace_bytes(n), 0xFF, dtype=np.uint8)
    cls = np.zeros(n, dtype=np.int64)
    m.run_device(X.ctypes.data, n, ws.ctypes.data, cls.ctypes.data)
    assert (cls == predict(sn.expand(), bits)).all()


def test_cli_compile_conv_model_to_shared_cuda(tmp_path):
    """``dlgn compile conv.pt --target cuda`` writes the weight-shared .cu (its kernels once),
    which a host C++ compiler builds with the shipped shim header."""
    import shutil
    import subprocess

    from dlgn.cli import main
    from dlgn.frontend.checkpoint import save_model
    X = np.random.default_rng(1).random((20, 100)).astype(np.float32)
    net = ConvLogicNet(100, image=(1, 10, 10), conv=[dict(channels=4, padding=1, pool=2)],
                       layers=[30], n_classes=3, encoder=ThermometerEncoder(2).fit(X), seed=1)
    save_model(net, tmp_path / "m.pt")
    out = tmp_path / "out"
    assert main(["compile", str(tmp_path / "m.pt"), "-o", str(out), "--target", "c,cuda"]) == 0
    cu = (out / "model.cu").read_text()
    assert "weight-shared form" in cu and "model_stage0_kernel" in cu
    assert "weight-shared form" in (out / "model.c").read_text()
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx:
        subprocess.run([cxx, "-x", "c++", "-std=c++17", "-O1", "-fPIC", "-shared", "-include",
                        str(out / "cuda_shim.h"), str(out / "model.cu"), "-o",
                        str(tmp_path / "model.so")], check=True)
