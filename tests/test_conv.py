"""Convolutional logic nets (issue 14): LogicConv2d / OrPool2d against references, the flat
and weight-shared lowerings proven equal, the packed file form, ConvLogicNet, the C build of
the shared form on every batch size, ABC on the flat form, Verilator on a small conv net."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dlgn.compiler.builder import NetlistBuilder
from dlgn.compiler.netlist import NetlistFormatError
from dlgn.compiler.shared import (PoolStage, SharedNet, SharedNetError, is_packed,
                                  load_shared, simulate_shared)
from dlgn.compiler.simulate import predict, simulate
from dlgn.frontend.conv import LogicConv2d, OrPool2d
from dlgn.frontend.convnet import ConvLogicNet
from dlgn.frontend.encoders import ThermometerEncoder
from dlgn.frontend.functional import logic_forward_literal, tree_level

# (arity, depth, kernel, padding, stride, interleave, tree_channels)
GEOMETRIES = [(2, 2, 3, 1, 1, 2, 2), (3, 2, 3, 0, 2, 1, 2), (4, 1, 3, 2, 1, 4, 1),
              (2, 3, 3, 1, 1, 1, 2), (1, 2, 2, 0, 1, 1, 4), (6, 1, 1, 0, 1, 1, 1),
              (2, 2, 3, 3, 3, 2, 3)]


def _conv(geom, in_shape=(4, 6, 5), out=3, seed=1, **kw):
    a, d, k, p, s, il, tc = geom
    return LogicConv2d(in_shape, out, kernel_size=k, depth=d, arity=a, tree_channels=tc,
                       stride=s, padding=p, interleave=il, init="gaussian", seed=seed, **kw)


def _bits(n, f, seed=0):
    return (torch.rand(n, f, generator=torch.Generator().manual_seed(seed)) > 0.5).float()


def _flat(modules, n_in):
    b = NetlistBuilder(n_in, rewrite=False)
    lits = b.input_lits()
    for m in modules:
        lits = m.lower(b, lits)
    return b.finish(lits)


# ----------------------------------------------------------------------- the relaxation
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_tree_level_gradcheck(k):
    g = torch.Generator().manual_seed(k)
    v = torch.rand(5, k, 7, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.rand(5, 1 << k, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(tree_level, (v, w))
    # the literal multilinear formula, gate by gate
    for r in range(5):
        x = v[r].t()                                            # [M, k]
        ref = logic_forward_literal(x, torch.arange(k).view(1, k), w[r:r + 1])[:, 0]
        assert torch.allclose(tree_level(v, w)[r], ref)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_tree_level_on_bits_is_the_table_lookup_with_the_literal_gradients(k, monkeypatch):
    g = torch.Generator().manual_seed(30 + k)
    v = (torch.rand(5, k, 7, dtype=torch.float64, generator=g) > 0.5).double().requires_grad_()
    w = torch.rand(5, 1 << k, dtype=torch.float64, generator=g, requires_grad=True)
    gy = torch.randn(5, 7, dtype=torch.float64, generator=g)
    refs = []
    for r in range(5):
        x = v[r].t()
        refs.append(logic_forward_literal(x, torch.arange(k).view(1, k), w[r:r + 1])[:, 0])
    ref = torch.stack(refs)
    rv, rw = torch.autograd.grad((ref * gy).sum(), (v, w))
    monkeypatch.setattr("dlgn.frontend.functional._Tree.apply", None)   # the vertex path
    monkeypatch.setattr("dlgn.frontend.functional._Tree2.apply", None)
    y = tree_level(v, w)
    gv, gw = torch.autograd.grad((y * gy).sum(), (v, w))
    for a, b in ((y, ref), (gv, rv), (gw, rw)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("m", [0, 1, 63, 64, 65])
@pytest.mark.parametrize("binary", [False, True])
def test_tree_level_fast_paths_equal_the_interpolation(m, binary):
    """Two-input levels take the reduced form (_Tree2), 0/1 inputs the in-place lookup
    (_TreeVertex): both give the interpolation's values and gradients (float32 rounding)."""
    from dlgn.frontend.functional import _Tree
    g = torch.Generator().manual_seed(m)
    for k in (2, 3) if binary else (2,):
        v = torch.rand(9, k, m, generator=g)
        v = (v > 0.5).float() if binary else v
        v.requires_grad_()
        w = torch.rand(9, 1 << k, generator=g, requires_grad=True)
        gy = torch.randn(9, m, generator=g)
        ref = _Tree.apply(v, w)
        got = tree_level(v, w)
        for a, b in zip((got, *torch.autograd.grad((got * gy).sum(), (v, w))),
                        (ref, *torch.autograd.grad((ref * gy).sum(), (v, w)))):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def _reference_trees(conv, x):
    """The relaxed conv written plainly: gather every leaf, then each node with the literal
    formula of its own gate."""
    B = x.shape[0]
    ext = torch.cat([x, torch.zeros(B, 1, dtype=x.dtype)], dim=1)
    v = ext[:, torch.from_numpy(conv._gather_index())].view(
        B, conv.out_channels, conv.n_leaves, conv.n_positions)
    omega, off, a = conv.omega(), 0, conv.arity
    for n in conv.level_sizes:
        nxt = torch.empty(B, conv.out_channels, n, conv.n_positions, dtype=x.dtype)
        for o in range(conv.out_channels):
            for j in range(n):
                ins = v[:, o, j * a:(j + 1) * a, :].permute(0, 2, 1).reshape(-1, a)
                w = omega[off + o * n + j:off + o * n + j + 1]
                nxt[:, o, j] = logic_forward_literal(ins, torch.arange(a).view(1, a), w)[:, 0] \
                    .view(B, conv.n_positions)
        off += conv.out_channels * n
        v = nxt
    return v.reshape(B, -1)


@pytest.mark.parametrize("geom", GEOMETRIES[:5])
def test_conv_training_forward_matches_reference(geom):
    conv = _conv(geom).double()
    x = torch.rand(3, conv.in_features, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(3))
    conv.train()
    y = conv(x)
    assert y.shape == (3, conv.out_features)
    assert torch.allclose(y, _reference_trees(conv, x))
    y.pow(2).sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_conv_gradient_flows_to_input():
    conv = _conv(GEOMETRIES[0]).double()
    x = torch.rand(2, conv.in_features, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: conv(t), (x,))


def test_orpool_training_is_max_and_eval_is_or():
    pool = OrPool2d((3, 7, 6), 2)
    x = torch.rand(4, 3 * 7 * 6)
    ref = torch.nn.functional.max_pool2d(x.view(4, 3, 7, 6), 2).reshape(4, -1)
    assert torch.equal(pool(x), ref)
    pool.eval()
    xb = _bits(4, 3 * 7 * 6)
    assert torch.equal(pool(xb), torch.nn.functional.max_pool2d(xb.view(4, 3, 7, 6), 2)
                       .reshape(4, -1))
    net = _flat([pool], pool.in_features)
    assert (simulate(net, xb.numpy().astype(np.uint8)) == pool(xb).numpy().astype(bool)).all()
    big = OrPool2d((2, 9, 9), 3, stride=2)             # 9-input windows: an OR tree
    big.eval()
    xb = _bits(5, 2 * 81, seed=4)
    net = _flat([big], big.in_features)
    assert (simulate(net, xb.numpy().astype(np.uint8)) == big(xb).numpy().astype(bool)).all()


# ----------------------------------------------------------------------- the two lowerings
@pytest.mark.parametrize("geom", GEOMETRIES)
def test_eval_flat_and_shared_agree(geom):
    conv = _conv(geom)
    pool = OrPool2d(conv.out_shape, 2 if min(conv.out_hw) >= 2 else 1)
    conv2 = LogicConv2d(pool.out_shape, 2, kernel_size=1, depth=1, init="gaussian", seed=2)
    mods = [conv, pool, conv2]
    for m in mods:
        m.eval()
    x = _bits(9, conv.in_features)
    y = conv2(pool(conv(x))).numpy().astype(bool)
    flat = _flat(mods, conv.in_features)
    tb = NetlistBuilder(conv2.out_features, rewrite=False)
    sn = SharedNet([m.stage() for m in mods], tb.finish(tb.input_lits()))
    X = x.numpy().astype(np.uint8)
    assert (simulate(flat, X) == y).all()
    assert (simulate_shared(sn, X) == y).all()
    assert sn.expand().same_structure(flat)
    assert sn.n_gates == flat.n_gates


def test_op_parametrization_and_hard_estimator():
    conv = LogicConv2d((2, 5, 5), 3, depth=2, parametrization="op", init="gaussian",
                       estimator="hard", seed=5)
    x = torch.rand(4, conv.in_features)
    y = conv(x)
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
    y.sum().backward()
    assert conv.weight.grad.abs().sum() > 0
    conv.eval()
    xb = _bits(6, conv.in_features)
    assert (simulate(_flat([conv], conv.in_features), xb.numpy().astype(np.uint8))
            == conv(xb).numpy().astype(bool)).all()


def test_gumbel_estimator_is_hard_noisy_and_replays():
    conv = LogicConv2d((2, 6, 6), 4, depth=2, arity=3, padding=1, seed=5)
    ref = LogicConv2d((2, 6, 6), 4, depth=2, arity=3, padding=1, estimator="gumbel", seed=5)
    assert torch.equal(conv.weight, ref.weight) and "gumbel" in repr(ref)
    x = (torch.rand(8, conv.in_features, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    outs = []
    for _ in range(2):
        torch.manual_seed(11)
        outs.append(ref(x))
    assert set(torch.unique(outs[0]).tolist()) <= {0.0, 1.0}
    assert torch.equal(outs[0], outs[1])                  # the noise is torch's global RNG
    torch.manual_seed(12)
    assert not torch.equal(ref(x), outs[0])               # ... drawn anew every forward
    outs[0].sum().backward()
    assert ref.weight.grad.abs().sum() > 0
    ref.eval()
    conv.eval()
    assert torch.equal(ref(x), conv(x))                   # eval: the plain truth tables


def test_convnet_gives_its_estimator_to_the_trees():
    net = ConvLogicNet(36, image=(1, 6, 6), conv=[dict(channels=3, padding=1, pool=2)],
                       layers=[12], n_classes=2, seed=0, estimator="gumbel")
    assert {m.estimator for m in net.layers if hasattr(m, "estimator")} == {"gumbel"}


@pytest.mark.parametrize("bad", [dict(out_channels=0), dict(kernel_size=9), dict(interleave=3),
                                 dict(parametrization="op", arity=3), dict(depth=0),
                                 dict(arity=7)])
def test_conv_errors(bad):
    kw = dict(in_shape=(4, 6, 5), out_channels=2)
    kw.update(bad)
    with pytest.raises(ValueError):
        LogicConv2d(**kw)
    with pytest.raises(ValueError):
        OrPool2d((1, 2, 2), 3)
    with pytest.raises(ValueError):
        _conv(GEOMETRIES[0])(torch.zeros(2, 7))


# ----------------------------------------------------------------------- the file form
def _small_net(seed=0, **kw):
    X = np.random.default_rng(seed).random((40, 100)).astype(np.float32)
    enc = ThermometerEncoder(2).fit(X)
    cfg = dict(image=(1, 10, 10), conv=[dict(channels=4, padding=1, pool=2),
                     dict(channels=6, depth=3, arity=3, padding=2, pool=3)],
               layers=[30], n_classes=3, encoder=enc, seed=seed, init="gaussian")
    cfg.update(kw)
    return ConvLogicNet(100, **cfg), X


def test_packed_round_trip_and_hostile_files(tmp_path):
    net, X = _small_net()
    sn = net.discretize_shared()
    packed = sn.to_netlist()
    assert is_packed(packed) and not is_packed(sn.tail)
    path = tmp_path / "m.dlgn.npz"
    sn.save(path)
    back = load_shared(path)
    bits = net.encode(torch.from_numpy(X)).numpy().astype(np.uint8)
    assert (simulate_shared(back, bits) == simulate_shared(sn, bits)).all()
    assert back.expand().same_structure(sn.expand())
    # a gate of the first kernel reading the tail's inputs
    bad = packed.copy()
    bad.fanin[0, 0] = 2 + packed.n_inputs - 1
    with pytest.raises(SharedNetError, match="outside its own"):
        SharedNet.from_netlist(bad)
    for key, value in [("parts", [[1, 2, 3]]), ("stages", "x"), ("version", 9),
                       ("parts", [[-1, 0, 0]] * 3)]:
        m = packed.copy()
        m.meta = dict(m.meta, shared=dict(m.meta["shared"], **{key: value}))
        m.save(tmp_path / "bad.dlgn.npz")
        with pytest.raises(NetlistFormatError, match="bad.dlgn.npz"):
            load_shared(tmp_path / "bad.dlgn.npz")
    with pytest.raises(SharedNetError):
        SharedNet.from_netlist(sn.tail)
    with pytest.raises(SharedNetError):          # a pool that does not chain
        SharedNet([PoolStage((2, 4, 4), 2, 2)], sn.tail)


# ----------------------------------------------------------------------- ConvLogicNet
def test_convnet_predict_checkpoint_and_training(tmp_path):
    from dlgn.frontend.checkpoint import load_model, save_model
    net, X = _small_net(1)
    net.eval()
    bits = net.encode(torch.from_numpy(X)).numpy().astype(np.uint8)
    p = net.predict(X).numpy()
    assert (predict(net.discretize(), bits) == p).all()
    assert (predict(net.discretize_shared().expand(), bits) == p).all()
    save_model(net, tmp_path / "m.pt")
    back = load_model(tmp_path / "m.pt")
    assert type(back) is ConvLogicNet and (back.predict(X).numpy() == p).all()
    # a few Adam steps lower the loss on a fixed batch
    net.train()
    y = torch.from_numpy(np.arange(len(X)) % 3)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    xt = torch.from_numpy(X)
    first = None
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(net(xt), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


@pytest.mark.parametrize("bad", [dict(conv=[]), dict(conv=[dict(channels=2, colour=1)]),
                                 dict(conv=[{"kernel": 3}]), dict(image=(1, 9, 9)),
                                 dict(layers=[31])])
def test_convnet_errors(bad):
    with pytest.raises(ValueError):
        _small_net(**bad)


def test_train_cli_conv_preset_smoke(tmp_path):
    """The ``dlgn train`` path of a conv recipe, on a tiny image data set."""
    import argparse

    from dlgn.cli.train_cmd import PRESET_DEFAULTS, build_net
    from dlgn.frontend.data import PRESETS, Dataset
    rng = np.random.default_rng(0)
    x = rng.random((30, 784)).astype(np.float32)
    data = Dataset("mnist", x, rng.integers(0, 10, 30), x[:10], rng.integers(0, 10, 10), 10,
                   encoder={"kind": "thermometer", "n_bits": 1, "method": "uniform",
                            "range": [0.0, 1.0]})
    recipe = dict(PRESETS["mnist-conv"])
    ns = argparse.Namespace(**{**PRESET_DEFAULTS, "parametrization": "iwp",
                               "init": "residual", "phi": "sigmoid", "seed": 0, **recipe})
    net = build_net(ns, data)
    assert isinstance(net, ConvLogicNet) and net.layers[0].interleave == 2
    assert net.layers[0].in_shape == (2, 28, 28)


# ----------------------------------------------------------------------- backends
def _shared_case(seed):
    net, X = _small_net(seed)
    net.eval()
    bits = net.encode(torch.from_numpy(np.concatenate([X] * 4))).numpy().astype(np.uint8)
    return net, net.discretize_shared(), bits


@pytest.mark.parametrize("wb", [64, 512])
def test_c_shared_every_batch_size(wb, tmp_path):
    from dlgn.compiler import optimize
    from dlgn.runtime.c_build import build_c
    net, sn, bits = _shared_case(2)
    want_o = simulate_shared(sn, bits)
    want_p = predict(sn.expand(), bits)
    for form in (sn, sn.to_netlist(), sn.map_nets(optimize)):
        m = build_c(form, word_bits=wb, threads=2, cache_dir=tmp_path)
        assert m.mode == "shared"
        for n in (0, 1, 63, 64, 65, len(bits)):
            assert (m.outputs(bits[:n]) == want_o[:n]).all()
            assert (m.predict(bits[:n]) == want_p[:n]).all()
            assert m.scores(bits[:n]).shape == (n, 3)
        packed = np.packbits(bits, axis=1, bitorder="little")
        assert (m.predict_packed(packed) == want_p).all()
    flat = build_c(optimize(sn.expand()), word_bits=wb, cache_dir=tmp_path)
    assert (flat.predict(bits) == want_p).all()


def test_prune_channels_keeps_the_function():
    from dlgn.compiler.shared import optimize_shared, prune_channels
    net, sn, bits = _shared_case(6)
    # a tail that reads one feature: every other channel of the last conv is dead
    tb = NetlistBuilder(sn.tail.n_inputs, rewrite=False)
    lit = tb.input_lits()
    tail = tb.finish(np.repeat(lit[:1], 3), group_sizes=[1, 1, 1])
    cut = SharedNet(sn.stages, tail, sn.meta)
    pruned, n = prune_channels(cut)
    last = pruned.stages[-2].net
    assert int((last.outputs == 0).sum()) == last.n_outputs - 1 and n >= last.n_outputs - 1
    opt = optimize_shared(cut)
    assert opt.n_kernel_gates < cut.n_kernel_gates
    assert (simulate_shared(opt, bits) == simulate_shared(cut, bits)).all()
    assert (simulate_shared(pruned, bits) == simulate_shared(cut, bits)).all()


def test_c_shared_is_deterministic_and_small():
    from dlgn.backends.cshared import emit_shared
    _, sn, _ = _shared_case(3)
    a, b = emit_shared(sn), emit_shared(sn)
    assert a == b
    # the code holds each kernel gate once, not once per position
    assert a.count("const dlgn_word v") < sn.n_kernel_gates + 100 < sn.n_gates


def test_abc_proves_flat_equal_to_expanded_shared():
    from dlgn.compiler import optimize
    from dlgn.tools.abc import abc_equivalent, find_abc
    if find_abc() is None:
        pytest.skip("ABC is not installed")
    net, sn, _ = _shared_case(4)
    flat = net.discretize()                              # the frontend's own lowering
    opt = sn.map_nets(optimize).expand()                 # optimized kernels, expanded
    assert not flat.same_structure(opt)
    assert abc_equivalent(flat, opt).equivalent


def test_verilator_small_conv_net():
    from _verilog_util import verilator_or_skip

    from dlgn.backends.verilog_sim import simulate_verilog
    from dlgn.compiler import optimize
    verilator_or_skip()
    net, sn, bits = _shared_case(5)
    flat = optimize(net.discretize())
    X = np.concatenate([bits] * 7)[:1000]
    res = simulate_verilog(flat, X, pipeline=2, simulator="verilator")
    assert res["passed"], res["log"][-500:]
    assert (res["class_id"] == predict(flat, X)).all()


def test_cli_compile_conv_model(tmp_path):
    """``dlgn compile`` of a conv model: shared C (compiles on its own), flat Verilog and
    netlist; a shared netlist file reads back everywhere as its flat function."""
    import shutil
    import subprocess

    from dlgn.cli import main
    from dlgn.frontend.checkpoint import save_model
    from dlgn.runtime.artifact import load_netlist
    net, X = _small_net(7)
    save_model(net, tmp_path / "m.pt")
    out = tmp_path / "out"
    assert main(["compile", str(tmp_path / "m.pt"), "-o", str(out), "--target", "c,verilog"]) == 0
    src = (out / "model.c").read_text()
    assert "weight-shared form" in src
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc:
        subprocess.run([cc, "-std=c99", "-O1", "-c", str(out / "model.c"), "-o",
                        str(tmp_path / "model.o")], check=True)
    net.eval()
    bits = net.encode(torch.from_numpy(X)).numpy().astype(np.uint8)
    flat = load_netlist(out)
    assert (predict(flat, bits) == net.predict(X).numpy()).all()
    net.discretize_shared().save(tmp_path / "s.dlgn.npz")
    assert (predict(load_netlist(tmp_path / "s.dlgn.npz"), bits) == net.predict(X).numpy()).all()


def test_cifar_conv_recipe_end_to_end(tmp_path):
    """The LogicTreeNet-S-like CIFAR-10 recipe, from a user's CIFAR directory (tiny files
    written here) through ``dlgn train`` and ``dlgn compile`` to the shared form."""
    import pickle

    from dlgn.cli import main
    from dlgn.frontend.checkpoint import load_model
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, size=(4, 3072), dtype=np.uint8),
             b"labels": [int(v) for v in rng.integers(0, 10, size=4)]}
        (root / name).write_bytes(pickle.dumps(d, protocol=2))
    model = tmp_path / "c.pt"
    assert main(["train", "--preset", "cifar10-conv", "--root", str(tmp_path), "--epochs", "1",
                 "--batch-size", "9", "--no-progress", "-o", str(model)]) == 0
    net = load_model(model)
    assert isinstance(net, ConvLogicNet) and net.layers[0].in_shape == (6, 32, 32)
    assert net.layers[0].weight.detach().abs().max() > 4      # residual init z = 5
    sn = net.discretize_shared()
    assert len(sn.stages) == 8 and sn.n_gates > 700_000 and sn.n_kernel_gates < 60_000
    assert main(["compile", str(model), "-o", str(tmp_path / "out"), "--target", "c"]) == 0
    assert "weight-shared form" in (tmp_path / "out" / "model.c").read_text()
