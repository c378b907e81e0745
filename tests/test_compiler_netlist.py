"""The Netlist IR: check() names every violated invariant; the file format round-trips
and rejects truncated, corrupt, wrong-version and hostile files."""
import io
import json
import zipfile

import numpy as np
import pytest

from dlgn.compiler import Netlist, NetlistError, NetlistFormatError, optimize, random_netlist
from dlgn.compiler.netlist import FORMAT_VERSION


def good():
    return random_netlist(3, n_inputs=5, n_gates=20, max_arity=3, n_outputs=6, n_classes=2,
                          tau=2.5)


def test_save_load_round_trip(tmp_path):
    net = good()
    net.meta = {"encoder": None, "note": "hello", "n": [1, 2]}
    p = tmp_path / "m.dlgn.npz"
    net.save(p)
    back = Netlist.load(p)
    assert back.same_structure(net) and back.meta == net.meta and back.tau == 2.5
    opt = optimize(net)
    opt.save(p)
    assert Netlist.load(p).same_structure(opt)


def _rewrite(src, dst, **changes):
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(dst, **{k: v for k, v in arrays.items() if v is not None})


def _header(**over):
    h = {"format": "dlgn-netlist", "version": FORMAT_VERSION, "n_inputs": 5, "tau": 2.5,
         "meta": {}}
    h.update(over)
    return np.frombuffer(json.dumps(h).encode(), dtype=np.uint8)


def test_bad_files_raise_format_errors(tmp_path):
    net = good()
    p = tmp_path / "m.dlgn.npz"
    net.save(p)
    raw = p.read_bytes()
    cases = {}
    cases["truncated"] = raw[: len(raw) // 2]
    cases["empty"] = b""
    corrupt = bytearray(raw)
    corrupt[len(raw) // 3: len(raw) // 3 + 64] = b"\xff" * 64
    cases["corrupt"] = bytes(corrupt)
    cases["text"] = b"this is not a netlist"
    for name, data in cases.items():
        q = tmp_path / f"{name}.dlgn.npz"
        q.write_bytes(data)
        with pytest.raises(NetlistFormatError):
            Netlist.load(q)
    variants = {
        "wrong_version": {"header": _header(version=FORMAT_VERSION + 1)},
        "wrong_format": {"header": _header(format="other")},
        "bad_header_json": {"header": np.frombuffer(b"{not json", np.uint8)},
        "header_not_dict": {"header": np.frombuffer(b"[1, 2]", np.uint8)},
        "bad_n_inputs": {"header": _header(n_inputs="5")},
        "missing_table": {"table": None},
        "wrong_dtype": {"table": np.zeros(20, np.float64)},
        "hostile_object_array": {"table": np.array([object(), None], dtype=object)},
        "invariant_broken": {"outputs": np.array([10**6] * 6, np.int32)},
        "fanin_1d": {"fanin": np.zeros(20, np.int32)},
    }
    for name, change in variants.items():
        q = tmp_path / f"{name}.dlgn.npz"
        if name == "hostile_object_array":
            with np.load(p) as z:
                arrays = {k: z[k] for k in z.files}
            arrays["table"] = change["table"]
            with open(q, "wb") as f:
                np.savez(f, **arrays)  # np.savez pickles object arrays
        else:
            _rewrite(p, q, **change)
        with pytest.raises(NetlistFormatError):
            Netlist.load(q)
    with pytest.raises(NetlistFormatError):
        Netlist.load(tmp_path / "absent.dlgn.npz")


def test_a_pickle_is_never_unpickled(tmp_path, monkeypatch):
    import pickle

    called = []

    class Boom:
        def __reduce__(self):
            return (called.append, ("unpickled!",))

    q = tmp_path / "evil.dlgn.npz"
    with zipfile.ZipFile(q, "w") as z:
        buf = io.BytesIO()
        np.save(buf, np.array([Boom()], dtype=object), allow_pickle=True)
        z.writestr("header.npy", buf.getvalue())
    with pytest.raises(NetlistFormatError):
        Netlist.load(q)
    assert called == []
    del pickle


def _mut(fn):
    n = good()
    fn(n)
    return n


@pytest.mark.parametrize("name,fn,msg", [
    ("neg_inputs", lambda n: setattr(n, "n_inputs", -1), "n_inputs"),
    ("fanin_3d", lambda n: setattr(n, "fanin", n.fanin[:, :, None]), "2-D"),
    ("K_too_wide", lambda n: setattr(n, "fanin", np.zeros((n.n_gates, 7), np.int32)), "K=7"),
    ("arity_rows", lambda n: setattr(n, "arity", n.arity[:-1]), "rows"),
    ("arity_gt_K", lambda n: n.arity.__setitem__(0, 5), "arity 5"),
    ("negative_fanin", lambda n: n.fanin.__setitem__((0, 0), -3), "negative"),
    ("late_fanin", lambda n: n.fanin.__setitem__((0, 0), n.first_gate), "precede"),
    ("junk_past_arity", lambda n: (n.arity.__setitem__(0, 1), n.fanin.__setitem__((0, 1), 2),
                                   n.table.__setitem__(0, 1)), "past its arity"),
    ("wide_table", lambda n: n.table.__setitem__(0, np.uint64(1 << 40)), "wider"),
    ("invert_len", lambda n: setattr(n, "invert", n.invert[:-1]), "invert"),
    ("output_range", lambda n: n.outputs.__setitem__(0, n.n_nodes), "outside"),
    ("negative_group", lambda n: setattr(n, "group_sizes", np.array([-1, 7], np.int32)),
     "negative"),
    ("group_sum", lambda n: setattr(n, "group_sizes", np.array([1, 1], np.int32)), "sum"),
    ("tau", lambda n: setattr(n, "tau", float("nan")), "tau"),
    ("meta", lambda n: setattr(n, "meta", {"x": object()}), "JSON"),
])
def test_check_names_each_invariant(name, fn, msg):
    good().check()
    n = _mut(fn)
    with pytest.raises(NetlistError, match=msg):
        n.check()
