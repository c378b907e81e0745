"""Encoders: torch modules against the torch-free numpy runtime encoder, semantics, errors."""
import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from dlgn.frontend.encoders import IdentityEncoder, OneHotEncoder, ThermometerEncoder, \
    encoder_from_dict
from dlgn.compiler.encoding import EncodingError, encode, encoder_n_bits


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _same(enc, X):
    """torch forward == numpy encode(to_dict()) (after a JSON round trip), bit for bit."""
    d = json.loads(json.dumps(enc.to_dict()))
    ref = encode(d, X)
    got = enc(torch.from_numpy(X) if isinstance(X, np.ndarray) else X)
    assert got.dtype == torch.float32 and ref.dtype == np.uint8
    assert np.array_equal(got.numpy(), ref.astype(np.float32))
    assert np.array_equal(encoder_from_dict(d)(X).numpy(), got.numpy())
    assert encoder_n_bits(d) == enc.n_bits == ref.shape[1]
    return ref


@pytest.mark.parametrize("method", ["uniform", "quantile"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
def test_thermometer_torch_equals_numpy(method, dtype):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(200, 6)) * 20).astype(dtype)
    enc = ThermometerEncoder(7, method).fit(X)
    assert enc.n_features == 6 and enc.n_bits == 42 and enc.thresholds.dtype == torch.float64
    bits = _same(enc, X)
    # thermometer code: per feature, bits are 1...1 0...0 (thresholds increase)
    b = bits.reshape(200, 6, 7).astype(int)
    assert (np.diff(b, axis=2) <= 0).all()
    # values exactly at a threshold encode as 0 (strict >)
    thr = enc.thresholds.numpy()
    Xt = np.tile(thr[:, 3], (2, 1)).astype(np.float64)
    _same(enc, Xt)
    assert encode(enc.to_dict(), Xt).reshape(2, 6, 7)[:, :, 3].sum() == 0


def test_thermometer_thresholds():
    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    assert ThermometerEncoder(3).fit(X).thresholds.flatten().tolist() == [1.0, 2.0, 3.0]
    q = ThermometerEncoder(1, "quantile").fit(X).thresholds.item()
    assert q == 2.0
    Xq = np.random.default_rng(1).exponential(size=(4000, 1))
    b = encode(ThermometerEncoder(3, "quantile").fit(Xq).to_dict(), Xq)
    assert np.allclose(b.mean(0), [0.75, 0.5, 0.25], atol=0.01)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, width=32), min_size=2, max_size=30), st.integers(1, 8),
       st.sampled_from(["uniform", "quantile"]))
def test_property_thermometer_torch_equals_numpy(vals, n, method):
    X = np.array(vals, dtype=np.float32).reshape(-1, 1)
    _same(ThermometerEncoder(n, method).fit(X), X)


def test_onehot_torch_equals_numpy_and_unknowns():
    rng = np.random.default_rng(0)
    X = np.stack([rng.integers(0, 4, 100), rng.integers(10, 13, 100)], 1)
    enc = OneHotEncoder().fit(X)
    assert enc.categories == [[0.0, 1.0, 2.0, 3.0], [10.0, 11.0, 12.0]] and enc.n_bits == 7
    bits = _same(enc, X)
    assert (bits[:, :4].sum(1) == 1).all() and (bits[:, 4:].sum(1) == 1).all()
    assert bits[0, X[0, 0]] == 1 and bits[0, 4 + X[0, 1] - 10] == 1
    bad = np.array([[1, 10], [5, 11]])
    with pytest.raises(ValueError, match="unknown category 5.0 of feature 0"):
        enc(bad)
    with pytest.raises(ValueError, match="unknown category"):
        encode(enc.to_dict(), bad)
    ign = OneHotEncoder(enc.categories, handle_unknown="ignore")
    assert _same(ign, bad)[1, :4].sum() == 0
    given_cats = OneHotEncoder([[1, 2], [3]])
    assert given_cats.n_features == 2 and given_cats.n_bits == 3
    with pytest.raises(ValueError, match="distinct"):
        OneHotEncoder([[1, 1]])


def test_identity_encoder():
    X = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.uint8)
    enc = IdentityEncoder().fit(X)
    assert enc.n_bits == 3
    _same(enc, X)
    _same(enc, X.astype(bool))
    with pytest.raises(ValueError, match="0/1"):
        enc(np.array([[0, 2, 1]]))
    with pytest.raises(ValueError, match="0/1"):
        encode(enc.to_dict(), np.array([[0.5, 1, 1]]))


@pytest.mark.parametrize("make", [lambda X: ThermometerEncoder(3).fit(X),
                                  lambda X: OneHotEncoder().fit(X.round()),
                                  lambda X: IdentityEncoder().fit((X > 0).astype(np.uint8))])
def test_bad_inputs_raise_in_torch_and_numpy(make):
    X = np.random.default_rng(0).normal(size=(20, 3))
    enc = make(X)
    d = enc.to_dict()
    nan = np.zeros((2, 3))
    nan[1, 2] = np.nan
    cases = [(np.zeros((2, 4)), ValueError, "expected 3 features"),
             (nan, ValueError, "NaN"),
             (np.full((2, 3), np.inf), ValueError, "infinite"),
             (np.array([["a", "b", "c"]]), TypeError, "numeric"),
             (np.zeros((2, 3), dtype=complex), TypeError, "numeric"),
             (np.zeros(3), ValueError, "2-D")]
    for X_bad, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            encode(d, X_bad)
        with pytest.raises(exc, match=msg):
            enc(X_bad)
    with pytest.raises(ValueError, match="NaN"):
        enc(torch.from_numpy(nan))
    with pytest.raises(TypeError, match="numeric"):
        enc(torch.zeros(2, 3, dtype=torch.complex64))
    with pytest.raises(TypeError):
        enc("abc")


def test_unfitted_and_bad_dicts_raise():
    with pytest.raises(RuntimeError, match="not fitted"):
        ThermometerEncoder(3)(torch.zeros(2, 2))
    with pytest.raises(RuntimeError, match="not fitted"):
        ThermometerEncoder(3).to_dict()
    with pytest.raises(ValueError):
        ThermometerEncoder(0)
    with pytest.raises(ValueError, match="method"):
        ThermometerEncoder(3, "kmeans")
    with pytest.raises(ValueError, match="zero samples"):
        ThermometerEncoder(3).fit(np.zeros((0, 2)))
    d = ThermometerEncoder(2).fit(np.random.rand(10, 3)).to_dict()
    for bad in ({**d, "type": "mystery"}, {**d, "thresholds": [[0.0]]}, {**d, "n_features": -1},
                {**d, "thresholds": [[0.0, float("nan")]] * 3}, [1, 2]):
        with pytest.raises(EncodingError):
            encode(bad, np.zeros((1, 3)))
        with pytest.raises(EncodingError):
            encoder_from_dict(bad)
    with pytest.raises(ValueError, match="type 'thermometer'"):
        OneHotEncoder.from_dict(d)


def test_encoder_state_dict_and_device_move():
    X = np.random.default_rng(0).normal(size=(30, 2))
    enc = ThermometerEncoder(4).fit(X)
    other = ThermometerEncoder.from_dict(enc.to_dict())
    assert torch.equal(other.state_dict()["thresholds"], enc.state_dict()["thresholds"])
    moved = enc.to(torch.float32).half()  # must not round the float64 thresholds
    assert moved.thresholds.dtype == torch.float64
    assert torch.equal(moved.thresholds, other.thresholds)
    assert np.array_equal(moved(X).numpy(), encode(enc.to_dict(), X))
    oh = OneHotEncoder([[0.1, 0.2]]).to(torch.float32)
    assert oh.cat_values.dtype == torch.float64 and oh(np.array([[0.1]])).tolist() == [[1.0, 0.0]]


def test_a_nudged_threshold_is_caught():
    """Negative test: moving one threshold by one ulp changes the bits of a sample at it."""
    X = np.random.default_rng(2).normal(size=(40, 2))
    enc = ThermometerEncoder(3, "quantile").fit(X)
    d = enc.to_dict()
    t = d["thresholds"][1][2]
    d["thresholds"][1][2] = float(np.nextafter(t, -np.inf))
    probe = np.array([[0.0, t]])
    assert not np.array_equal(encode(d, probe), enc(probe).numpy().astype(np.uint8))


def test_runtime_encoding_does_not_import_torch():
    import subprocess
    import sys
    code = ("import sys, numpy as np; from dlgn.compiler.encoding import encode; "
            "encode({'type': 'identity', 'n_features': 2}, np.zeros((1, 2))); "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0



@pytest.mark.parametrize("make", [lambda: ThermometerEncoder(3),
                                  lambda: OneHotEncoder(),
                                  lambda: IdentityEncoder()])
def test_a_crop_selects_columns_of_the_raw_row(make):
    from dlgn.compiler.encoding import central_crop, encoder_raw_features
    from dlgn.frontend.encoders import encoder_from_dict
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 2, (50, 36)).astype(np.float32)   # 6x6 "images" of 0/1 pixels
    sel = central_crop(6, 6, 4)
    assert sel[:4] == [7, 8, 9, 10] and len(sel) == 16
    enc = make().fit(raw[:, sel]).crop(sel, 36)
    assert enc.n_features == 16 and enc.n_raw_features == 36
    d = enc.to_dict()
    assert d["select"] == sel and d["raw_features"] == 36 and encoder_raw_features(d) == 36
    got = enc(torch.from_numpy(raw)).numpy().astype(np.uint8)
    np.testing.assert_array_equal(got, encode(d, raw))                 # torch == numpy
    np.testing.assert_array_equal(got, encode({k: v for k, v in d.items()
                                               if k not in ("select", "raw_features")},
                                              raw[:, sel]))            # == encoding the crop
    again = encoder_from_dict(json.loads(json.dumps(d)))
    np.testing.assert_array_equal(again(raw).numpy(), enc(raw).numpy())
    with pytest.raises(ValueError, match="36 features"):
        enc(raw[:, :16])
    with pytest.raises(EncodingError, match="select"):
        encode(dict(d, select=sel[:-1]), raw)
    with pytest.raises(EncodingError):
        encode(dict(d, select=[99] * 16), raw)


def test_a_cropped_encoder_travels_with_the_netlist(tmp_path):
    from dlgn.compiler import Netlist, predict
    from dlgn.compiler.encoding import central_crop
    from dlgn.frontend.net import LogicNet
    rng = np.random.default_rng(1)
    raw = rng.random((80, 64)).astype(np.float32)               # 8x8 images
    sel = central_crop(8, 8, 6)
    enc = ThermometerEncoder(2).fit(raw[:, sel]).crop(sel, 64)
    net = LogicNet(64, layers=[60, 30], n_classes=3, encoder=enc, seed=2).eval()
    nl = net.discretize()
    nl.save(tmp_path / "m.dlgn.npz")
    back = Netlist.load(tmp_path / "m.dlgn.npz")
    assert back.n_inputs == 72
    np.testing.assert_array_equal(predict(back, encode(back.meta["encoder"], raw)),
                                  net.predict(torch.from_numpy(raw)).numpy())
    with pytest.raises(ValueError, match="raw features"):
        LogicNet(36, layers=[30], n_classes=3, encoder=enc)


# ---------------------------------------------------------------- concat, category names
def _table_encoder():
    """A table of 4 columns: 0 and 2 numeric, 1 and 3 categorical (codes, with names)."""
    from dlgn.frontend.encoders import ConcatEncoder
    rng = np.random.default_rng(0)
    X = np.stack([rng.normal(size=60), rng.integers(0, 3, 60), rng.random(60),
                  rng.integers(0, 2, 60)], 1)
    num0 = ThermometerEncoder(3, "quantile").fit(X[:, [0]]).crop([0], 4)
    num2 = ThermometerEncoder(2).fit(X[:, [2]]).crop([2], 4)
    cats = OneHotEncoder([[0, 1, 2], [0, 1]], category_names=[["red", "green", "blue"],
                                                              ["no", "yes"]]).crop([1, 3], 4)
    return ConcatEncoder([num0, num2, cats], 4), X


def test_concat_encoder_torch_equals_numpy_and_travels():
    from dlgn.compiler.encoding import encoder_raw_features
    from dlgn.frontend.encoders import encoder_from_dict
    enc, X = _table_encoder()
    assert enc.n_bits == 3 + 2 + 5 and enc.n_features == 4
    bits = _same(enc, X)
    np.testing.assert_array_equal(bits[:, 5:8].argmax(1), X[:, 1])       # the one-hot part
    d = json.loads(json.dumps(enc.to_dict()))
    assert d["type"] == "concat" and encoder_n_bits(d) == 10 and encoder_raw_features(d) == 4
    assert d["parts"][2]["category_names"][0] == ["red", "green", "blue"]
    np.testing.assert_array_equal(encoder_from_dict(d)(X).numpy(), enc(X).numpy())
    with pytest.raises(EncodingError, match="reads 3 raw features"):
        encode(dict(d, parts=[dict(d["parts"][0], raw_features=3, select=[0])]), X)
    with pytest.raises(EncodingError, match="itself a concat"):
        encode(dict(d, parts=[d]), X)


@pytest.mark.parametrize("bad", [99.0, -1.0, 1.5])
def test_concat_encoder_refuses_codes_that_are_no_category(bad):
    enc, X = _table_encoder()
    X = X.copy()
    X[4, 1] = bad
    for run in (lambda: encode(enc.to_dict(), X), lambda: enc(X)):
        with pytest.raises(EncodingError, match=f"unknown category {bad!r} of feature 0 "
                                                r"\(raw column 1\) \(sample 4\); known: "
                                                "0=red, 1=green, 2=blue"):
            run()


def test_rows_of_names_become_codes():
    from dlgn.compiler.encoding import features_from_rows
    enc, X = _table_encoder()
    d = enc.to_dict()
    rows = [["0.5", "green", "0.25", "yes"], [" -1 ", "red", "1", "no"], ["2", "2", "0", "1"]]
    F = features_from_rows(rows, d)
    np.testing.assert_array_equal(F, [[0.5, 1, 0.25, 1], [-1, 0, 1, 0], [2, 2, 0, 1]])
    np.testing.assert_array_equal(encode(d, F), enc(F).numpy())
    with pytest.raises(EncodingError, match="row 2, column 1: 'purple' is no category"):
        features_from_rows([rows[0], ["1", "purple", "0", "no"]], d)
    with pytest.raises(EncodingError, match="row 1, column 0: 'abc' is not a number"):
        features_from_rows([["abc", "red", "0", "no"]], d)
    with pytest.raises(EncodingError, match="row 1 has 3 fields, expected 4"):
        features_from_rows([["1", "red", "0"]], d)
    with pytest.raises(EncodingError, match="category_names"):
        OneHotEncoder([[0, 1]], category_names=[["a"]])


# ---------------------------------------------------------------- binary-coded thermometer
@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("method", ["uniform", "quantile"])
def test_binary_thermometer_torch_equals_numpy(n, method):
    """code="binary": 2**n - 1 thresholds, and the n bits are the binary digits (most
    significant first) of the level, the number of thresholds a value exceeds."""
    rng = np.random.default_rng(n)
    X = (rng.normal(size=(300, 4)) * 10).astype(np.float32)
    enc = ThermometerEncoder(n, method, code="binary").fit(X)
    assert enc.n_thresholds == 2 ** n - 1 and enc.n_bits == 4 * n
    assert tuple(enc.thresholds.shape) == (4, 2 ** n - 1)
    bits = _same(enc, X).reshape(300, 4, n).astype(np.int64)
    unary = ThermometerEncoder(2 ** n - 1, method).fit(X)
    level = encode(unary.to_dict(), X).reshape(300, 4, -1).sum(axis=2)
    np.testing.assert_array_equal((bits << np.arange(n - 1, -1, -1)).sum(axis=2), level)
    assert encode(enc.to_dict(), X[:0]).shape == (0, 4 * n)
    if n == 1:          # one threshold: the same bit as the unary thermometer
        np.testing.assert_array_equal(bits[:, :, 0], level)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, width=32), min_size=2, max_size=30), st.integers(1, 4),
       st.sampled_from(["uniform", "quantile"]))
def test_property_binary_thermometer_torch_equals_numpy(vals, n, method):
    """Also when fitted thresholds tie (a sample with repeats): the level still counts them."""
    X = np.array(vals, dtype=np.float32).reshape(-1, 1)
    _same(ThermometerEncoder(n, method, code="binary").fit(X), X)


def test_binary_thermometer_errors():
    X = np.arange(10, dtype=np.float64)[:, None]
    with pytest.raises(ValueError, match="learned"):
        ThermometerEncoder(2, learnable=True, code="binary")
    with pytest.raises(ValueError, match="code"):
        ThermometerEncoder(2, code="gray")
    with pytest.raises(ValueError, match="at most 8"):
        ThermometerEncoder(9, code="binary")
    with pytest.raises(ValueError, match="F x 3"):
        ThermometerEncoder(2, code="binary").fit_thresholds([[1.0, 2.0]])
    d = ThermometerEncoder(2, code="binary").fit(X).to_dict()
    assert d["code"] == "binary" and "code" not in ThermometerEncoder(2).fit(X).to_dict()
    for bad, msg in ((dict(d, code="gray"), "code"),
                     (dict(d, thresholds=[[1.0, 2.0]]), "1 x 3"),
                     (dict(d, bits_per_feature=9, thresholds=[list(range(511))]), "1..8")):
        with pytest.raises(EncodingError, match=msg):
            encode(bad, X)


def test_aligned_binary_thermometer_is_the_pixels_top_bits():
    """Aligned thresholds written in binary: over 8-bit pixels q / 256 the n bits are bits
    7 .. 8-n of q, and the hardware encoder built from it has no gates at all."""
    from dlgn.compiler.design import encoder_netlist
    from dlgn.compiler.simulate import simulate
    from dlgn.frontend import data as D
    q = np.arange(256)
    x = (q / 256).astype(np.float32)[:, None]
    for n in (1, 2, 3):
        spec = {"kind": "thermometer", "n_bits": n, "range": [0.0, 1.0], "levels": 256,
                "aligned": True, "code": "binary"}
        d = D.Dataset("t", x, np.zeros(256), x, np.zeros(256), 2, encoder=spec)
        enc = D.make_encoder(d)
        bits = _same(enc, x).astype(np.int64)
        np.testing.assert_array_equal(bits, (q[:, None] >> np.arange(7, 7 - n, -1)) & 1)
        hw = encoder_netlist(enc.to_dict())          # raw 8-bit integer in, encoder bits out
        assert hw.n_gates == 0
        raw = ((q[:, None] >> np.arange(8)) & 1).astype(np.uint8)
        np.testing.assert_array_equal(simulate(hw, raw), bits)
    with pytest.raises(D.DatasetError, match="learned"):
        D.make_encoder(d, dict(spec, learnable=True))
