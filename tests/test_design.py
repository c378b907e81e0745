"""The whole hardware design (dlgn.compiler.design): encoder + logic + head from raw integer
features, equal to the netlist's own prediction on the encoded features, exactly, for every
representable raw value; per-part counts that add up; typed errors on bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlgn.compiler import random_netlist
from dlgn.compiler.design import (PARTS, Design, DesignError, build_design, encoder_netlist,
                                  encoder_tables)
from dlgn.compiler.encoding import encode
from dlgn.compiler.netlist import Netlist
from dlgn.compiler.simulate import predict, simulate

HEAD = "lut6"


def _with_encoder(net: Netlist, enc: dict) -> Netlist:
    return Netlist(net.n_inputs, net.fanin, net.arity, net.table, net.outputs, net.invert,
                   net.group_sizes, net.tau, {"encoder": enc})


def _thermometer(F, n, rng, W, scale):
    thr = np.sort(rng.uniform(-0.5, (1 << W) + 0.5, size=(F, n)) * scale, axis=1)
    return {"type": "thermometer", "n_features": F, "bits_per_feature": n, "method": "uniform",
            "thresholds": thr.tolist()}


def _encoders(rng, W, scale):
    """Every encoder kind: thermometer, one-hot (known and impossible values), identity
    (1-bit features), a concat of columns with a select over a wider raw row."""
    F = int(rng.integers(1, 4))
    th = _thermometer(F, int(rng.integers(1, 4)), rng, W, scale)
    cats = [sorted(set((rng.integers(0, 1 << W, size=3) * scale).tolist()) | {0.3333})
            for _ in range(F)]
    oh = {"type": "onehot", "n_features": F, "categories": cats, "handle_unknown": "error"}
    mixed = {"type": "concat", "n_features": F + 2,
             "parts": [dict(_thermometer(2, 2, rng, W, scale), raw_features=F + 2,
                            select=[F + 1, 0]),
                       dict(oh, raw_features=F + 2, select=list(range(F)))]}
    cropped = dict(th, raw_features=F + 1, select=list(range(F - 1, -1, -1)))
    return [th, oh, mixed, cropped]


def _all_raw(R, W, rng, n=300):
    """Raw rows: every value in every column (each row a shifted ramp) plus random rows."""
    ramp = (np.arange(1 << W)[:, None] + 37 * np.arange(R)[None, :]) % (1 << W)
    return np.concatenate([ramp, rng.integers(0, 1 << W, size=(n, R))]).astype(np.int64)


@pytest.mark.parametrize("W,scale", [(3, 1.0), (4, 0.25), (8, 1 / 256)])
def test_encoder_netlist_is_the_encoder(W, scale):
    rng = np.random.default_rng(W)
    for enc in _encoders(rng, W, scale):
        E = encoder_netlist(enc, W, scale)
        d = Design(E, np.zeros(E.n_gates, np.int8), W, scale, E.n_inputs // W, 0)
        Q = _all_raw(E.n_inputs // W, W, rng)
        X = Q * scale
        ignore = dict(enc)
        if enc["type"] == "onehot":
            ignore["handle_unknown"] = "ignore"
        elif enc["type"] == "concat":
            ignore["parts"] = [dict(p, handle_unknown="ignore") if p["type"] == "onehot"
                               else p for p in enc["parts"]]
        np.testing.assert_array_equal(simulate(E, d.raw_bits(Q)), encode(ignore, X))
        assert E.max_arity <= 6


def test_thermometer_thresholds_read_only_the_bits_they_need():
    """q > 127 is bit 7; q > 63 and q > 191 read bits 7 and 6 (the mnist-lut thresholds)."""
    enc = {"type": "thermometer", "n_features": 1, "bits_per_feature": 3, "method": "uniform",
           "thresholds": [[63.5 / 256, 127.5 / 256, 191.5 / 256]]}
    E = encoder_netlist(enc)
    assert E.outputs[1] == 2 + 7 and not E.invert[1]
    assert E.n_gates == 2 and set(E.fanin[:, :2].reshape(-1).tolist()) == {2 + 6, 2 + 7}
    src, tab = encoder_tables(enc, 8, 1 / 256)
    assert src.tolist() == [0, 0, 0] and tab[64].tolist() == [1, 0, 0]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["parts", "joint"]),
       st.sampled_from([6, 4, None]))
def test_design_predicts_as_the_netlist(seed, mapping, lut):
    rng = np.random.default_rng(seed)
    W, scale = 4, 1 / 16
    enc = _encoders(rng, W, scale)[int(rng.integers(0, 4))]
    from dlgn.compiler.encoding import encoder_n_bits, encoder_raw_features
    nb = encoder_n_bits(enc)
    C = int(rng.integers(1, 5))
    net = random_netlist(seed, n_inputs=nb, n_gates=int(rng.integers(0, 40)), max_arity=6,
                         n_outputs=C * int(rng.integers(1, 5)), n_classes=C, p_const=0.1,
                         p_dup=0.2, p_special_output=0.2)
    net = _with_encoder(net, enc)
    des = build_design(net, W, scale, head=HEAD, lut=lut, mapping=mapping)
    R = encoder_raw_features(enc)
    for n in (0, 1, 63, 64, 65):
        Q = rng.integers(0, 1 << W, size=(n, R))
        want = predict(net, encode(_ignore_unknown(enc), Q * scale))
        np.testing.assert_array_equal(des.predict_raw(Q), want)
    b = des.breakdown()
    assert sum(b[p] for p in PARTS) == b["total"] == des.net.n_gates
    if lut:
        assert des.net.max_arity <= lut


def _ignore_unknown(enc):
    if enc["type"] == "onehot":
        return dict(enc, handle_unknown="ignore")
    if enc["type"] == "concat":
        return dict(enc, parts=[_ignore_unknown(p) for p in enc["parts"]])
    return enc


def test_design_rejects_bad_input():
    net = random_netlist(1, n_inputs=4, n_gates=10, n_outputs=4, n_classes=2)
    with pytest.raises(DesignError, match="encoder"):
        build_design(net)
    enc = {"type": "thermometer", "n_features": 2, "bits_per_feature": 2, "method": "uniform",
           "thresholds": [[0.1, 0.5], [0.2, 0.6]]}
    good = _with_encoder(net, enc)
    for kw, msg in [({"raw_width": 0}, "raw_width"), ({"raw_width": 40}, "raw_width"),
                    ({"raw_scale": -1.0}, "raw_scale"), ({"lut": 9}, "lut"),
                    ({"mapping": "best"}, "mapping")]:
        with pytest.raises(DesignError, match=msg):
            build_design(good, **kw)
    headless = _with_encoder(random_netlist(2, n_inputs=4, n_gates=5, n_outputs=2,
                                            n_classes=0), enc)
    with pytest.raises(DesignError, match="head"):
        build_design(headless)
    with pytest.raises(DesignError, match="bits but the netlist"):
        build_design(_with_encoder(net, dict(enc, n_features=1, thresholds=[[0.1, 0.5]])))
    des = build_design(good, 4, 1 / 16)
    with pytest.raises(DesignError, match="lie in"):
        des.raw_bits(np.array([[0, 16]]))
    with pytest.raises(DesignError, match=r"\[N, 2\]"):
        des.raw_bits(np.zeros((3, 5), np.int64))
    with pytest.raises(DesignError, match="multiples"):
        des.to_raw(np.array([[0.01, 0.5]]))


def test_design_is_deterministic():
    enc = {"type": "thermometer", "n_features": 3, "bits_per_feature": 2, "method": "uniform",
           "thresholds": [[0.1, 0.5], [0.2, 0.6], [0.3, 0.7]]}
    net = _with_encoder(random_netlist(5, n_inputs=6, n_gates=60, max_arity=3, n_outputs=9,
                                       n_classes=3), enc)
    a, b = build_design(net, 8), build_design(net, 8)
    assert a.net.content_hash() == b.net.content_hash()
    assert np.array_equal(a.parts, b.parts)
