"""The Netlist IR: check() names every violated invariant; the constructor refuses lossy
casts; the file format round-trips and rejects truncated, corrupt, wrong-version and hostile
files (zip bombs, members claiming more than they hold, unbounded n_inputs) with a
NetlistFormatError naming the file, whatever the underlying exception would have been."""
import io
import json
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from dlgn.compiler import Netlist, NetlistError, NetlistFormatError, optimize, random_netlist
from dlgn.compiler.netlist import FORMAT_VERSION, MAX_NODES, NetlistTooLargeError


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


# ---------------------------------------------------------------------------------------
# Hostile files (issue 12, items 3-5): every failure is a NetlistFormatError naming the
# file, and nothing is decompressed, allocated or parsed before its size is bounded.


def _members(net=None):
    """name -> bytes of every member of a valid saved file (a fresh dict)."""
    (net or good()).save(_members.tmp)
    with zipfile.ZipFile(_members.tmp) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _npy(descr, shape, data=b"", version=(1, 0), fortran=False):
    buf = io.BytesIO()
    d = {"descr": descr, "fortran_order": fortran, "shape": shape}
    if version == (1, 0):
        npy_format.write_array_header_1_0(buf, d)
    else:
        npy_format.write_array_header_2_0(buf, d)
    return buf.getvalue() + data


def _zip(path, members, compress=None):
    """Write ``members`` (name -> bytes) as a zip; ``compress`` maps names to methods."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data, compress_type=(compress or {}).get(name, zipfile.ZIP_STORED))
    return path


def _patch_member_field(path, name, local_off, central_off, fmt, value):
    """Overwrite one field of member ``name`` in its local header and its central entry."""
    raw = bytearray(open(path, "rb").read())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    struct.pack_into(fmt, raw, info.header_offset + local_off, value)
    cd = raw.find(b"PK\x01\x02")
    while cd >= 0:
        n = struct.unpack_from("<H", raw, cd + 28)[0]
        if raw[cd + 46: cd + 46 + n] == name.encode():
            struct.pack_into(fmt, raw, cd + central_off, value)
        cd = raw.find(b"PK\x01\x02", cd + 4)
    open(path, "wb").write(bytes(raw))
    return path


def _header_bytes(text):
    return _npy("|u1", (len(text),), text)


def _load_error(p):
    with pytest.raises(NetlistFormatError) as e:
        Netlist.load(p)
    msg = str(e.value)
    assert str(p) in msg and "\n" not in msg, msg
    return msg


@pytest.fixture
def members(tmp_path):
    _members.tmp = tmp_path / "base.dlgn.npz"
    return _members()


def test_deflated_members_are_refused(tmp_path, members):
    """Item 3: the format is stored-only; np.savez_compressed output is refused."""
    q = tmp_path / "deflated.dlgn.npz"
    _zip(q, members, compress={"table.npy": zipfile.ZIP_DEFLATED})
    assert "compressed" in _load_error(q)


def test_deflate_bomb_is_refused_before_inflating(tmp_path, members):
    """Item 3: a 64 MB table deflated to ~64 KB is refused without inflating it."""
    q = tmp_path / "bomb.dlgn.npz"
    members["table.npy"] = _npy("<u8", (8 << 20,), bytes(64 << 20))
    _zip(q, members, compress={"table.npy": zipfile.ZIP_DEFLATED})
    assert q.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        t = time.perf_counter()
        _load_error(q)
        elapsed = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20 and elapsed < 2, (peak, elapsed)


@pytest.mark.parametrize("shape", [(2 ** 40,), (2 ** 31,), (2 ** 70,), (-1,)])
def test_member_claiming_more_elements_than_it_stores(tmp_path, members, shape):
    """Items 3, 5: a .npy header claiming 2**40 elements is a MemoryError in np.load."""
    q = tmp_path / "huge.dlgn.npz"
    members["table.npy"] = _npy("<u8", shape, bytes(8 * 20))
    _zip(q, members)
    tracemalloc.start()
    try:
        _load_error(q)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_member_sizes_must_match_their_headers(tmp_path, members):
    """Item 3: counts are checked across members before any data is read."""
    cases = {
        "short_table": ("table.npy", _npy("<u8", (19,), bytes(8 * 19))),
        "long_data": ("table.npy", _npy("<u8", (20,), bytes(8 * 21))),
        "invert_len": ("invert.npy", _npy("|b1", (5,), bytes(5))),
        "K_zero": ("fanin.npy", _npy("<i4", (20, 0))),
        "K_seven": ("fanin.npy", _npy("<i4", (20, 7), bytes(4 * 140))),
        "fanin_3d": ("fanin.npy", _npy("<i4", (20, 3, 1), bytes(4 * 60))),
        "npy_v3": ("arity.npy", _npy("|u1", (20,), bytes(20), version=(2, 0))
                   .replace(b"NUMPY\x02", b"NUMPY\x03", 1)),
        "not_npy": ("arity.npy", b"hello world, this is not an array"),
        "object": ("group_sizes.npy", _npy("|O", (2,), bytes(16))),
        "structured": ("arity.npy", _npy([("a", "|u1")], (20,), bytes(20))),
    }
    for label, (name, data) in cases.items():
        m = dict(members)
        m[name] = data
        _load_error(_zip(tmp_path / f"{label}.dlgn.npz", m))


def test_central_directory_claiming_a_huge_member(tmp_path, members):
    """Item 3: a member whose directory entry claims 2 GB in a 2 KB file."""
    q = _zip(tmp_path / "claim.dlgn.npz", members)
    _patch_member_field(q, "table.npy", 18, 20, "<I", 0x7FFF0000)      # compressed size
    _patch_member_field(q, "table.npy", 22, 24, "<I", 0x7FFF0000)      # file size
    assert "more than the file holds" in _load_error(q)


def test_a_plain_npy_file(tmp_path):
    """Item 5: np.load returns an ndarray here, and `with` on it was a TypeError."""
    q = tmp_path / "plain.dlgn.npz"
    with open(q, "wb") as f:
        np.save(f, np.arange(10))
    assert ".npy" in _load_error(q)


def test_deeply_nested_meta(tmp_path, members):
    """Item 5: json.loads of 100 000 nested lists raises RecursionError."""
    deep = "[" * 100_000 + "]" * 100_000
    text = ('{"format": "dlgn-netlist", "version": 1, "n_inputs": 5, "tau": 2.5, '
            f'"meta": {{"x": {deep}}}}}').encode()
    members["header.npy"] = _header_bytes(text)
    assert "nested" in _load_error(_zip(tmp_path / "deep.dlgn.npz", members))


def _with_header(tmp_path, members, label, text):
    members = dict(members)
    members["header.npy"] = _header_bytes(text.encode() if isinstance(text, str) else text)
    return _zip(tmp_path / f"{label}.dlgn.npz", members)


@pytest.mark.parametrize("label,fields", [
    ("tau_1e400", '"n_inputs": 5, "tau": 1e400'),
    ("tau_10_400", '"n_inputs": 5, "tau": 1' + "0" * 400),        # OverflowError in float()
    ("tau_nan", '"n_inputs": 5, "tau": NaN'),
    ("tau_zero", '"n_inputs": 5, "tau": 0'),
    ("tau_string", '"n_inputs": 5, "tau": "2.5"'),
    ("tau_bool", '"n_inputs": 5, "tau": true'),
    ("n_inputs_10_30", '"n_inputs": 1' + "0" * 30 + ', "tau": 2.5'),
    ("n_inputs_2_40", f'"n_inputs": {2 ** 40}, "tau": 2.5'),
    ("n_inputs_2_31", f'"n_inputs": {2 ** 31 - 2}, "tau": 2.5'),
    ("n_inputs_huge_digits", '"n_inputs": 1' + "0" * 5000 + ', "tau": 2.5'),
    ("n_inputs_float", '"n_inputs": 5.0, "tau": 2.5'),
    ("n_inputs_bool", '"n_inputs": true, "tau": 2.5'),
    ("n_inputs_negative", '"n_inputs": -1, "tau": 2.5'),
    ("meta_list", '"n_inputs": 5, "tau": 2.5, "meta": [1, 2]'),
    ("meta_string", '"n_inputs": 5, "tau": 2.5, "meta": "x"'),
    ("version_true", '"n_inputs": 5, "tau": 2.5, "version": true'),
])
def test_malformed_header_values(tmp_path, members, label, fields):
    """Items 4, 5: huge or non-integral n_inputs, non-finite tau, non-object meta."""
    text = '{"format": "dlgn-netlist", "version": 1, ' + fields + "}"
    if '"version": true' in fields:
        text = '{"format": "dlgn-netlist", ' + fields + "}"
    _load_error(_with_header(tmp_path, members, label, text))


def test_header_size_limits(tmp_path, members):
    """Item 3: the header member is bounded before it is parsed."""
    many = "[" + ",".join(["{}"] * 300_000) + "]"
    text = '{"format": "dlgn-netlist", "version": 1, "n_inputs": 5, "tau": 2.5, ' \
           f'"meta": {{"x": {many}}}}}'
    assert "arrays/objects" in _load_error(_with_header(tmp_path, members, "many", text))
    text = text.replace(many, "[" + ",".join(["0"] * 1_100_000) + "]")
    assert "values" in _load_error(_with_header(tmp_path, members, "values", text))
    assert "UTF-8" in _load_error(_with_header(tmp_path, members, "latin1",
                                               b'{"format": "dlgn-netlist", "\xff": 1}'))


@pytest.mark.parametrize("flag,field", [(0x1, "encrypted"),        # RuntimeError in zipfile
                                         (0x20, None),              # NotImplementedError
                                         (0x40, None)])
def test_flag_bits_in_zip_headers(tmp_path, members, flag, field):
    """Item 5: encryption / patched-data flags raised RuntimeError / NotImplementedError."""
    q = _zip(tmp_path / f"flag{flag}.dlgn.npz", members)
    _patch_member_field(q, "fanin.npy", 6, 8, "<H", flag)
    msg = _load_error(q)
    assert field is None or field in msg


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, 99])
def test_other_compression_methods(tmp_path, members, method):
    """Item 5: unsupported methods raised NotImplementedError; others decompress."""
    q = _zip(tmp_path / f"m{method}.dlgn.npz", members)
    _patch_member_field(q, "arity.npy", 8, 10, "<H", method)
    assert "compressed" in _load_error(q)


def test_corrupt_deflate_stream(tmp_path, members):
    """Item 5: a damaged deflate stream raised zlib.error from np.load."""
    q = _zip(tmp_path / "z.dlgn.npz", members, compress={"table.npy": zipfile.ZIP_DEFLATED})
    raw = bytearray(q.read_bytes())
    with zipfile.ZipFile(q) as z:
        info = z.getinfo("table.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start: start + 8] = b"\xff" * 8
    q.write_bytes(bytes(raw))
    _load_error(q)


def test_central_directory_is_bounded(tmp_path, members):
    """Thousands of directory entries are refused before zipfile parses them."""
    m = dict(members)
    for i in range(3000):
        m[f"x{i}"] = b""
    assert "central directory" in _load_error(_zip(tmp_path / "many.dlgn.npz", m))


def test_duplicate_member_names(tmp_path, members):
    q = tmp_path / "dup.dlgn.npz"
    with pytest.warns(UserWarning):
        with zipfile.ZipFile(q, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
            z.writestr("table.npy", members["table.npy"])
    assert "twice" in _load_error(q)


def test_invert_bytes_other_than_0_1(tmp_path, members):
    m = dict(members)
    m["invert.npy"] = _npy("|b1", (6,), b"\x00\x02\x00\x01\x00\x00")
    _load_error(_zip(tmp_path / "inv.dlgn.npz", m))


def test_big_endian_and_fortran_members_load(tmp_path, members):
    """Either byte order and either memory order of the same values load the same net."""
    _members.tmp = tmp_path / "be.dlgn.npz"
    net = good()
    m = _members(net)
    m["table.npy"] = _npy(">u8", (net.n_gates,), net.table.astype(">u8").tobytes())
    m["fanin.npy"] = _npy("<i4", net.fanin.shape, np.asfortranarray(net.fanin).tobytes("F"),
                          fortran=True)
    back = Netlist.load(_zip(tmp_path / "be2.dlgn.npz", m))
    assert back.same_structure(net) and back.table.dtype == np.uint64


def test_single_bit_flips_in_zip_structures(tmp_path):
    """Item 5: every single-bit flip of the zip records (end record, one central entry, one
    local header) loads the same netlist or raises NetlistFormatError, never anything else."""
    net = good()
    p = tmp_path / "m.dlgn.npz"
    net.save(p)
    raw = p.read_bytes()
    with zipfile.ZipFile(p) as z:
        info = z.getinfo("fanin.npy")
    local = range(info.header_offset, info.header_offset + 30 + len("fanin.npy") + 20)
    cd = raw.find(b"PK\x01\x02")
    entries = []
    while cd >= 0:
        entries.append(cd)
        cd = raw.find(b"PK\x01\x02", cd + 4)
    central = range(entries[1], entries[2])           # fanin's entry
    eocd = range(raw.rfind(b"PK\x05\x06"), len(raw))
    q = tmp_path / "flip.dlgn.npz"
    loaded = 0
    for pos in [*local, *central, *eocd]:
        for bit in range(8):
            b = bytearray(raw)
            b[pos] ^= 1 << bit
            q.write_bytes(bytes(b))
            try:
                back = Netlist.load(q)
            except NetlistFormatError as e:
                assert str(q) in str(e) and "\n" not in str(e)
                continue
            assert back.same_structure(net) and back.meta == net.meta
            loaded += 1
    assert loaded > 0      # flips of ignored fields (times, attributes) still load


# ---------------------------------------------------------------------------------------
# n_inputs and sizes (issue 12, item 4)
def test_check_bounds_n_inputs_and_n_nodes():
    net = good()
    for n in (10 ** 30, 2 ** 40, MAX_NODES - 2 - net.n_gates + 1):
        bad = net.copy()
        bad.n_inputs = n
        with pytest.raises(NetlistError, match="n_nodes|int32"):
            bad.check()
    ok = Netlist(MAX_NODES - 2, np.zeros((0, 1), np.int32), [], [], [0, 1])
    assert ok.check().n_nodes == MAX_NODES
    for v in (True, 5.0, "5"):
        bad = net.copy()
        bad.n_inputs = v
        with pytest.raises(NetlistError, match="n_inputs"):
            bad.check()


@pytest.mark.parametrize("v", [True, np.bool_(True), 5.0, np.float64(5), "5", None, 2.5])
def test_constructor_rejects_non_integer_n_inputs(v):
    net = good()
    with pytest.raises(NetlistError, match="n_inputs"):
        Netlist(v, net.fanin, net.arity, net.table, net.outputs)


def test_constructor_accepts_numpy_integers():
    net = good()
    n = Netlist(np.int64(net.n_inputs), net.fanin, net.arity, net.table, net.outputs,
                net.invert, net.group_sizes, np.float32(2.5))
    assert type(n.n_inputs) is int and n.check().same_structure(net)


def test_check_size():
    net = good()
    assert net.check_size() is net
    assert net.check_size(limit_nodes=net.n_nodes, limit_inputs=5, limit_gates=20,
                          limit_outputs=6) is net
    for kw, noun in [({"limit_nodes": net.n_nodes - 1}, "nodes"),
                     ({"limit_inputs": 4}, "inputs"), ({"limit_gates": 19}, "gates"),
                     ({"limit_outputs": 5}, "outputs")]:
        with pytest.raises(NetlistTooLargeError, match=f"the C target cannot .* {noun}"):
            net.check_size(what="the C target", **kw)
    big = Netlist(2 ** 26, np.zeros((0, 1), np.int32), [], [], [0])
    with pytest.raises(NetlistError):
        big.check_size(limit_inputs=1 << 20, what="the Verilog target")
    assert issubclass(NetlistTooLargeError, NetlistError)


# ---------------------------------------------------------------------------------------
# Lossy casts in the constructor (issue 12, item 7)
def _parts():
    n = good()
    return dict(n_inputs=n.n_inputs, fanin=n.fanin, arity=n.arity, table=n.table,
                outputs=n.outputs, invert=n.invert, group_sizes=n.group_sizes, tau=n.tau)


@pytest.mark.parametrize("name,value,match", [
    ("fanin", lambda p: (p["fanin"].astype(np.int64) + (2 ** 32) * (p["fanin"] == 2)),
     "fanin holds 4294967298"),
    ("fanin", lambda p: p["fanin"].astype(np.float64), "fanin has dtype float64"),
    ("fanin", lambda p: p["fanin"].astype(np.float64).tolist(), "fanin holds"),
    ("fanin", lambda p: p["fanin"] + 0.5, "fanin has dtype float64"),
    ("arity", lambda p: p["arity"].astype(np.int64) + 256 * (np.arange(20) == 0),
     "arity holds 25"),
    ("arity", lambda p: p["arity"].astype(np.float32), "arity has dtype float32"),
    ("arity", lambda p: np.where(np.arange(20) == 0, -1, p["arity"].astype(np.int16)),
     "arity holds -1"),
    ("table", lambda p: p["table"].astype(np.float64), "table has dtype float64"),
    ("table", lambda p: p["table"].astype(np.int64) - 2 * (np.arange(20) == 3),
     "table holds -"),
    ("table", lambda p: [1.5] * 20, "table holds 1.5"),
    ("table", lambda p: [-1] + [0] * 19, "table holds -1"),
    ("outputs", lambda p: p["outputs"].astype(np.int64) + 2 ** 32, "outputs holds"),
    ("outputs", lambda p: p["outputs"].astype(np.float64), "outputs has dtype"),
    ("invert", lambda p: np.array([0, 2, 0, 0, 0, 0]), "invert holds 2"),
    ("invert", lambda p: np.full(6, 0.5), "invert has dtype"),
    ("group_sizes", lambda p: np.array([2 ** 32 + 3, 3]), "group_sizes holds"),
    ("group_sizes", lambda p: np.array([3.0, 3.0]), "group_sizes has dtype"),
    ("fanin", lambda p: np.array([object()] * 3), "fanin has dtype object"),
    ("table", lambda p: np.array(["a"] * 20), "table has dtype"),
])
def test_constructor_rejects_lossy_casts(name, value, match):
    p = _parts()
    p[name] = value(p)
    with pytest.raises(NetlistError, match=match):
        Netlist(**p)


def test_constructor_accepts_exact_casts():
    p = _parts()
    ref = Netlist(**p)
    exact = dict(p, fanin=p["fanin"].astype(np.int64), arity=p["arity"].astype(np.int64),
                 table=p["table"].astype(np.int64), outputs=p["outputs"].astype(np.uint16),
                 invert=p["invert"].astype(np.int8), group_sizes=p["group_sizes"].tolist(),
                 tau=2.5)
    assert Netlist(**exact).check().same_structure(ref)
    lists = dict(p, fanin=p["fanin"].tolist(), arity=p["arity"].tolist(),
                 table=p["table"].tolist(), outputs=p["outputs"].tolist(),
                 invert=p["invert"].tolist())
    assert Netlist(**lists).check().same_structure(ref)
    # Python ints beyond int64 (numpy reads [1, 2**63 + 1] as float64) stay exact.
    n = Netlist(6, [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5]], [6, 6],
                [1, 2 ** 63 + 1], [8, 9]).check()
    assert n.table.tolist() == [1, 2 ** 63 + 1] and n.table.dtype == np.uint64
    empty = Netlist(3, [], [], [], [], [], []).check()      # empty lists are float64
    assert empty.fanin.shape == (0, 1) and empty.outputs.dtype == np.int32
    with pytest.raises(NetlistError, match="tau"):
        Netlist(**dict(p, tau=10 ** 400))
    with pytest.raises(NetlistError, match="meta"):
        Netlist(**p, meta=[("a", 1)])


def test_check_rejects_arrays_set_with_the_wrong_dtype():
    n = good()
    n.fanin = n.fanin.astype(np.int64)
    with pytest.raises(NetlistError, match="fanin must be a numpy int32"):
        n.check()
    m = good()
    m.tau = 10 ** 400
    with pytest.raises(NetlistError, match="tau"):
        m.check()


def test_save_refuses_headers_load_would_refuse(tmp_path):
    n = good()
    n.meta = {"x": [[]] * 300_000}
    with pytest.raises(NetlistError, match="cannot save"):
        n.save(tmp_path / "big.dlgn.npz")
    assert not (tmp_path / "big.dlgn.npz").exists()


def test_logic_drops_the_head_and_meta_but_keeps_the_function():
    from dlgn.compiler.simulate import simulate
    net = random_netlist(3, n_inputs=12, n_gates=40, n_outputs=6)
    net = Netlist(net.n_inputs, net.fanin, net.arity, net.table, net.outputs, net.invert,
                  np.array([3, 3]), 2.5, {"encoder": {"type": "identity", "n_features": 12}})
    logic = net.logic()
    logic.check()
    assert logic.n_classes == 0 and logic.meta == {} and logic.n_gates == net.n_gates
    assert net.n_classes == 2 and "encoder" in net.meta           # the source is untouched
    X = np.random.default_rng(0).integers(0, 2, (65, 12)).astype(np.uint8)
    np.testing.assert_array_equal(simulate(logic, X), simulate(net, X))
