"""Reliability (issue 12): items 6, 8, 9 and 10.

6. a netlist with 0 outputs: every runtime returns outputs of shape (N, 0);
8. bool arrays whose bytes are not 0/1: one rule (``check_bits``) and one message in the
   simulator, the C runtime and the CUDA shim;
9. checkpoints and the CLI's files go through the one atomic writer: a writer killed
   mid-write leaves a temp file that the next write removes;
10. a hostile checkpoint (``--resume``) or CIFAR batch is one CLI error line; nothing runs.
"""
from __future__ import annotations

import importlib
import inspect
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from dlgn import cli
from dlgn.compiler import Netlist, random_netlist
from dlgn.runtime import build

sim = importlib.import_module("dlgn.compiler.simulate")   # the package exports simulate()

HAS_CC = shutil.which(os.environ.get("CC") or "gcc") is not None or shutil.which("cc") is not None
HAS_CXX = bool(os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++"))
needs_cc = pytest.mark.skipif(not HAS_CC, reason="no C compiler")
needs_cxx = pytest.mark.skipif(not HAS_CXX, reason="no host C++ compiler for the CUDA shim")


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


# ------------------------------------------------------------------ item 6: 0 outputs
def _zero_output_nets():
    no_gates = Netlist(3, np.zeros((0, 2)), [], [], outputs=[], invert=[],
                       group_sizes=[]).check()
    gates = random_netlist(66, n_inputs=5, n_gates=12, max_arity=3, n_outputs=3, n_classes=0)
    dead = Netlist(gates.n_inputs, gates.fanin, gates.arity, gates.table, outputs=[],
                   invert=[], group_sizes=[]).check()
    return [no_gates, dead]


@needs_cxx
@pytest.mark.parametrize("word_bits", [32, 64])
def test_cuda_shim_outputs_of_a_netlist_without_outputs(word_bits):
    for net in _zero_output_nets():
        m = build(net, "cuda", cpu_shim=True, word_bits=word_bits)
        for n in (0, 1, 5, 300):
            X = np.random.default_rng(n).integers(0, 2, size=(n, net.n_inputs)).astype(bool)
            got = m.outputs(X)
            assert got.shape == (n, 0) and got.dtype == bool
            assert got.shape == sim.simulate(net, X).shape
            t = m.outputs(torch.from_numpy(X))             # CPU tensors take the numpy path
            assert tuple(t.shape) == (n, 0)


@needs_cc
def test_c_and_sim_outputs_of_a_netlist_without_outputs():
    for net in _zero_output_nets():
        X = np.zeros((7, net.n_inputs), np.uint8)
        for target in ("sim", "c"):
            assert build(net, target).outputs(X).shape == (7, 0)


# ------------------------------------------------------------------ item 8: bool bytes
NET8 = random_netlist(88, n_inputs=77, n_gates=60, max_arity=3, n_outputs=8, n_classes=4)


def _bool_with_byte(value, r, c, n=130):
    X = np.random.default_rng(8).integers(0, 2, size=(n, NET8.n_inputs)).astype(np.uint8)
    X[r, c] = value
    return X.view(np.bool_)


def _message(fn, X):
    with pytest.raises(ValueError) as e:
        fn(X)
    return str(e.value)


def test_check_bits_rule_for_bool_bytes():
    X = np.frombuffer(bytes([0, 1, 2, 255]), dtype=bool).reshape(1, 4)
    with pytest.raises(ValueError, match=r"input bits must be 0/1 \(got byte 255 in a bool "
                                         r"array\)"):
        sim.check_bits(X, 4)
    with pytest.raises(ValueError, match="got byte 2 in a bool array"):
        sim.check_bits(np.frombuffer(bytes([0, 2, 1, 1]), dtype=bool).reshape(2, 2), 2)
    # proper bools, empty arrays and non-contiguous views pass; the uint8 rule is unchanged
    ok = np.array([[True, False], [False, True]])
    assert sim.check_bits(ok, 2) is ok
    assert sim.check_bits(np.zeros((0, 2), bool), 2).shape == (0, 2)
    bad = np.frombuffer(bytes([1, 3, 0, 1]), dtype=bool).reshape(2, 2)
    assert sim.check_bits(bad[:, ::2], 1) is not None       # the bad byte is skipped
    with pytest.raises(ValueError, match="got byte 3"):
        sim.check_bits(bad[:, 1:], 1)
    with pytest.raises(ValueError, match=r"uint8 input bits must be 0 or 1 \(found 2\)"):
        sim.check_bits(np.array([[2]], np.uint8), 1)
    with pytest.raises(ValueError, match="got byte 7"):
        sim.check_bit_bytes(7, True)
    sim.check_bit_bytes(1, True)


def _targets():
    out = [("sim", {})]
    if HAS_CC:
        out += [("c", {"word_bits": 64, "threads": 2}), ("c", {"word_bits": 256, "threads": 1})]
    if HAS_CXX:
        out += [("cuda", {"cpu_shim": True})]
    return out


@pytest.mark.parametrize("target,opts", _targets(), ids=lambda v: str(v))
def test_non_0_1_bool_bytes_rejected_the_same_way_everywhere(target, opts):
    model = build(NET8, target, **opts)
    for value, r, c in [(2, 0, 0), (255, 129, 76), (3, 64, 40), (128, 70, 31), (17, 1, 64)]:
        X = _bool_with_byte(value, r, c)
        want = _message(lambda A: sim.check_bits(A, NET8.n_inputs), X)
        assert want == f"input bits must be 0/1 (got byte {value} in a bool array)"
        for fn in (model.outputs, model.scores, model.predict):
            assert _message(fn, X) == want, (target, fn.__name__)
        assert _message(model.predict, X[r:r + 1]) == want      # a one-row batch
    # the byte the simulator used to read as True is not silently accepted anywhere, and
    # the same bits as a proper bool array still predict like the simulator
    X = _bool_with_byte(2, 5, 5)
    good = X.view(np.uint8) != 0
    np.testing.assert_array_equal(model.predict(good), sim.predict(NET8, good))


@needs_cxx
def test_cuda_shim_rejects_bool_bytes_of_a_cpu_tensor():
    model = build(NET8, "cuda", cpu_shim=True)
    X = _bool_with_byte(2, 3, 3)
    with pytest.raises(ValueError, match="got byte 2 in a bool array"):
        model.predict(torch.from_numpy(X))


# ------------------------------------------------------------------ item 9: temp files
_TEMP = re.compile(r"^\.ck\.pt\.\d+\.[0-9a-f]{8}\.tmp$")

_KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import importlib
    import torch
    checkpoint = importlib.import_module("dlgn.frontend.checkpoint")
    train = importlib.import_module("dlgn.frontend.train")

    def dying_save(obj, f, *a, **k):          # half a checkpoint, then SIGKILL
        f.write(b"PK" + b"x" * 200000)
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = dying_save
    path = Path(sys.argv[2])
    if sys.argv[1] == "checkpoint":
        train._atomic_save({"format": "whatever"}, path)
    else:
        from dlgn.frontend.net import LogicNet
        checkpoint.save_model(LogicNet(4, layers=[8], n_classes=2), path)
""")


def _kill_mid_write(kind, path):
    r = subprocess.run([sys.executable, "-c", _KILLED_WRITER, kind, str(path)], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == -9, r.stderr
    left = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert len(left) == 1 and re.match(rf"^\.{re.escape(path.name)}\.\d+\.[0-9a-f]{{8}}\.tmp$",
                                       left[0]), left
    return left[0]


def test_a_killed_checkpoint_write_leaves_no_temp_after_the_next_write(tmp_path):
    from dlgn.frontend.data import load_dataset, make_encoder
    from dlgn.frontend.net import LogicNet
    from dlgn.frontend.train import load_checkpoint, train
    ck = tmp_path / "ck.pt"
    leftover = _kill_mid_write("checkpoint", ck)
    assert _TEMP.match(leftover) and not ck.exists()
    data = load_dataset("monk1")
    net = LogicNet(data.n_features, layers=[16], n_classes=2, encoder=make_encoder(data),
                   seed=0)
    torch.set_num_threads(1)
    train(net, data, epochs=1, batch_size=64, progress=False, checkpoint=ck)
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]
    assert load_checkpoint(ck)["epoch"] == 1


def test_a_killed_model_save_leaves_no_temp_after_the_next_save(tmp_path):
    from dlgn.frontend.checkpoint import load_model, save_model
    from dlgn.frontend.net import LogicNet
    p = tmp_path / "model.pt"
    _kill_mid_write("model", p)
    net = LogicNet(4, layers=[8], n_classes=2, seed=1)
    save_model(net, p)
    assert [x.name for x in tmp_path.iterdir()] == ["model.pt"]
    assert load_model(p).config == net.config


def test_checkpoint_writers_use_the_one_atomic_writer():
    checkpoint = importlib.import_module("dlgn.frontend.checkpoint")
    train = importlib.import_module("dlgn.frontend.train")
    for mod in (checkpoint, train):
        src = inspect.getsource(mod)
        assert "os.replace" not in src and ".tmp" not in src, mod.__name__
    assert "atomic_write" in inspect.getsource(checkpoint.save_torch)


def test_predict_writes_atomically(tmp_path):
    net = random_netlist(5, n_inputs=6, n_gates=20, max_arity=2, n_outputs=4, n_classes=2)
    net.save(tmp_path / "n.dlgn.npz")
    X = np.random.default_rng(0).integers(0, 2, size=(40, 6)).astype(np.uint8)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "out"
    out.mkdir()
    assert cli.main(["-q", "predict", str(tmp_path / "n.dlgn.npz"), "--input",
                     str(tmp_path / "x.npy"), "--output", str(out / "y.npy"), "--scores",
                     str(out / "s")]) == 0             # like np.save: ".npy" appended
    assert sorted(p.name for p in out.iterdir()) == ["s.npy", "y.npy"]
    np.testing.assert_array_equal(np.load(out / "y.npy"), sim.predict(net, X))
    np.testing.assert_array_equal(np.load(out / "s.npy"), sim.scores(net, X))


# ------------------------------------------------------------------ item 10: hostile pickles
class _Payload:
    """Unpickling this creates the witness file (what a hostile pickle would do first)."""

    def __init__(self, witness):
        self.witness = str(witness)

    def __reduce__(self):
        return (open, (self.witness, "w"))


def _one_error_line(capsys, command):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"dlgn {command}: error: "), err
    return err[0]


def _hostile_checkpoints(tmp_path, witness):
    from fractions import Fraction

    from dlgn.frontend.train import CHECKPOINT_FORMAT
    files = {}
    files["torch-zip payload"] = tmp_path / "payload.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": _Payload(witness)},
               files["torch-zip payload"])
    files["legacy torch payload"] = tmp_path / "legacy.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "x": _Payload(witness)},
               files["legacy torch payload"], _use_new_zipfile_serialization=False)
    files["plain pickle payload"] = tmp_path / "plain.pt"
    files["plain pickle payload"].write_bytes(
        pickle.dumps({"format": CHECKPOINT_FORMAT, "x": _Payload(witness)}, protocol=4))
    files["harmless non-weights-only class"] = tmp_path / "fraction.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "x": Fraction(1, 3)},
               files["harmless non-weights-only class"])
    files["weights-only but not a checkpoint"] = tmp_path / "fields.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": [1, 2]},
               files["weights-only but not a checkpoint"])
    files["truncated"] = tmp_path / "trunc.pt"
    files["truncated"].write_bytes(files["torch-zip payload"].read_bytes()[:100])
    return files


def test_hostile_checkpoint_with_resume_is_one_error_line(tmp_path, capsys):
    witness = tmp_path / "the-payload-ran"
    for kind, ck in _hostile_checkpoints(tmp_path, witness).items():
        out = tmp_path / f"out-{ck.stem}.pt"
        rc = cli.main(["-q", "train", "--dataset", "monk1", "--layers", "1x8", "--epochs",
                       "1", "--batch-size", "64", "--no-progress", "--checkpoint", str(ck),
                       "--resume", "-o", str(out)])
        assert rc == 1, kind
        line = _one_error_line(capsys, "train")
        assert str(ck) in line and "weights_only=False" not in line, (kind, line)
        assert not witness.exists(), kind
        assert not out.exists(), kind


def test_load_checkpoint_raises_the_typed_error(tmp_path):
    from dlgn.frontend.checkpoint import CheckpointError
    from dlgn.frontend.train import load_checkpoint
    witness = tmp_path / "ran"
    for kind, ck in _hostile_checkpoints(tmp_path, witness).items():
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(ck)
        assert isinstance(e.value, ValueError) and "\n" not in str(e.value), kind
    assert not witness.exists()


def test_hostile_model_file_is_one_error_line(tmp_path, capsys):
    witness = tmp_path / "ran"
    m = tmp_path / "model.pt"
    torch.save({"format": "dlgn-model", "version": 1, "x": _Payload(witness)}, m)
    np.save(tmp_path / "x.npy", np.zeros((2, 3), np.uint8))
    rc = cli.main(["-q", "predict", str(m), "--input", str(tmp_path / "x.npy"), "--output",
                   str(tmp_path / "y.npy")])
    assert rc == 1
    assert "not a readable dlgn model file" in _one_error_line(capsys, "predict")
    assert not witness.exists() and not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_hostile_cifar_batch_is_one_error_line(tmp_path, capsys, protocol):
    witness = tmp_path / "the-payload-ran"
    root = tmp_path / "cifar"
    root.mkdir()
    blob = pickle.dumps({b"data": _Payload(witness), b"labels": [1]}, protocol=protocol)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (root / name).write_bytes(blob)
    out = tmp_path / "m.pt"
    rc = cli.main(["-q", "train", "--dataset", "cifar10", "--root", str(root), "--layers",
                   "1x8", "--epochs", "1", "--no-progress", "-o", str(out)])
    assert rc == 1
    line = _one_error_line(capsys, "train")
    assert "data_batch_1 is not a readable CIFAR batch" in line and "refusing" in line
    assert not witness.exists() and not out.exists()


def test_damaged_cifar_batch_is_one_error_line(tmp_path, capsys):
    root = tmp_path / "cifar"
    root.mkdir()
    good = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]},
                        protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (root / name).write_bytes(good[:len(good) // 2])      # truncated
    rc = cli.main(["-q", "train", "--dataset", "cifar10", "--root", str(root), "--layers",
                   "1x8", "--epochs", "1", "--no-progress", "-o", str(tmp_path / "m.pt")])
    assert rc == 1
    assert "not a readable CIFAR batch" in _one_error_line(capsys, "train")


def test_the_cifar_error_is_a_dataset_error_and_still_an_unpickling_error(tmp_path):
    from dlgn.frontend.data import DatasetError, load_dataset
    blob = pickle.dumps({b"data": _Payload(tmp_path / "ran")}, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (tmp_path / name).write_bytes(blob)
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", root=tmp_path)
    assert isinstance(e.value, pickle.UnpicklingError)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("target,opts", _targets(), ids=lambda v: str(v))
def test_bool_bytes_are_checked_even_with_nothing_to_compute(target, opts):
    net = _zero_output_nets()[1]
    X = np.random.default_rng(1).integers(0, 2, size=(9, net.n_inputs)).astype(np.uint8)
    X[4, 2] = 2
    model = build(net, target, **opts)
    assert model.outputs(X.view(bool)[:4]).shape == (4, 0)
    with pytest.raises(ValueError, match=r"^input bits must be 0/1 \(got byte 2 in a bool "
                                         r"array\)$"):
        model.outputs(X.view(bool))
