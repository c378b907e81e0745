"""``Netlist.load`` on hostile files (issue 12): whatever the bytes, it returns a valid
Netlist or raises NetlistFormatError (one line, naming the file), within 2 s of CPU and
200 MB of memory for any file of at most 10 MB.

Hypothesis drives two families: corruptions of valid saved files (bit flips, truncations,
byte overwrites, insertions, deletions) and archives crafted member by member (``.npy``
headers with arbitrary shapes, dtypes, versions and sizes; arbitrary JSON headers;
compression methods; missing and extra members).  A corrupted file that still loads must be
*the same* netlist (the zip CRCs cover all data), never a silently different one.  The
10 MB worst cases (a large valid net, JSON built for the most memory per byte, a huge
central directory, members claiming far more than they hold) run each in a fresh
interpreter that measures its own CPU time and peak resident memory."""
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from numpy.lib import format as npy_format

from dlgn.compiler import Netlist, NetlistFormatError, random_netlist
from dlgn.compiler.netlist import MAX_HEADER_CONTAINERS, MAX_HEADER_VALUES, MAX_NODES

TIME_S = 2.0
MEMORY = 200 << 20


def _save_bytes(net) -> bytes:
    buf = io.BytesIO()
    net.check()
    header = json.dumps({"format": "dlgn-netlist", "version": 1, "n_inputs": net.n_inputs,
                         "tau": net.tau, "meta": net.meta}, sort_keys=True).encode()
    np.savez(buf, header=np.frombuffer(header, np.uint8),
             **{k: getattr(net, k) for k in ("fanin", "arity", "table", "outputs", "invert",
                                              "group_sizes")})
    return buf.getvalue()


def _bases():
    if not _bases.cache:
        nets = [random_netlist(3, n_inputs=5, n_gates=20, max_arity=3, n_outputs=6,
                               n_classes=2, tau=2.5),
                random_netlist(4, n_inputs=9, n_gates=40, max_arity=6, n_outputs=5,
                               n_classes=0, tau=1.0),
                Netlist(0, np.zeros((0, 1), np.int32), [], [], [0, 1], [True, False])]
        nets[0].meta = {"encoder": {"type": "identity", "n_features": 5}, "note": "héllo"}
        _bases.cache = [(n, _save_bytes(n)) for n in nets]
    return _bases.cache


_bases.cache = []


def _load_bounded(path):
    """Load under tracemalloc; check the outcome, the time and the peak memory."""
    tracemalloc.start()
    try:
        t = time.process_time()
        try:
            result = Netlist.load(path)
        except NetlistFormatError as e:
            msg = str(e)
            assert str(path) in msg and "\n" not in msg, msg
            result = None
        elapsed = time.process_time() - t
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < TIME_S, elapsed
    assert peak < MEMORY, peak
    if result is not None:
        result.check()
        for name, dt in (("fanin", np.int32), ("arity", np.uint8), ("table", np.uint64),
                         ("outputs", np.int32), ("invert", np.bool_),
                         ("group_sizes", np.int32)):
            assert getattr(result, name).dtype == dt
        assert 0 <= result.n_inputs and result.n_nodes <= MAX_NODES
    return result


# ------------------------------------------------------------------ corrupted valid files
_op = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20)),
    st.tuples(st.just("overwrite"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 64)),
    st.tuples(st.just("int"), st.integers(0, 1 << 20),
              st.sampled_from([0, 1, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000])),
)


def _mutate(raw: bytes, ops) -> bytes:
    b = bytearray(raw)
    for op in ops:
        if not b:
            break
        pos = op[1] % len(b)
        if op[0] == "flip":
            b[pos] ^= 1 << op[2]
        elif op[0] == "truncate":
            del b[pos:]
        elif op[0] == "overwrite":
            b[pos:pos + len(op[2])] = op[2]
        elif op[0] == "insert":
            b[pos:pos] = op[2]
        elif op[0] == "delete":
            del b[pos:pos + op[2]]
        else:                       # a 16- or 32-bit zip field (size, offset, count)
            width = 4 if op[2] > 0xFFFF else 2
            b[pos:pos + width] = op[2].to_bytes(width, "little")
    return bytes(b)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2), st.lists(_op, min_size=1, max_size=3))
def test_corrupted_files_load_the_same_net_or_fail_cleanly(tmp_path, which, ops):
    net, raw = _bases()[which]
    p = tmp_path / "c.dlgn.npz"
    p.write_bytes(_mutate(raw, ops))
    back = _load_bounded(p)
    if back is not None:
        assert back.same_structure(net) and back.meta == net.meta and back.tau == net.tau


# ------------------------------------------------------------------ crafted archives
_NAMES = ("header", "fanin", "arity", "table", "outputs", "invert", "group_sizes")
_DESCRS = ("<i4", ">i4", "<u8", ">u8", "|u1", "|b1", "<i8", "<f8", "<f4", "|O", "<U3",
           "|V4", "<c16")
_dims = st.one_of(st.integers(0, 24), st.sampled_from([MAX_NODES, MAX_NODES + 1, 2 ** 32,
                                                       2 ** 40, 2 ** 63, 2 ** 70, -1]))
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8)),
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(st.text(max_size=4), kids, max_size=4)),
    max_leaves=12)
_numberish = st.one_of(st.integers(-3, 30), st.sampled_from([MAX_NODES - 2, MAX_NODES, 2 ** 40,
                                                             10 ** 30]),
                       st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                       st.none(), st.text(max_size=3), st.just("10" * 300))


@st.composite
def _header_text(draw):
    h = {"format": draw(st.sampled_from(["dlgn-netlist", "dlgn-netlist", "other"])),
         "version": draw(st.sampled_from([1, 1, 1, 2, True, "1", 1.0])),
         "n_inputs": draw(_numberish), "tau": draw(_numberish), "meta": draw(_json)}
    for key in draw(st.lists(st.sampled_from(sorted(h)), max_size=2)):
        h.pop(key, None)
    text = json.dumps(h)
    kind = draw(st.sampled_from(["json", "json", "json", "raw", "deep", "tau400"]))
    if kind == "raw":
        return draw(st.binary(max_size=64))
    if kind == "deep":
        d = draw(st.integers(1, 200_000))
        text = text.replace('"meta": ', '"meta": ' + "[" * d + "0" + "]" * d + ", \"m\": ", 1)
    if kind == "tau400":
        text = text.replace('"tau": ', '"tau": 1' + "0" * 400 + ', "t": ', 1)
    return text.encode("utf-8", "surrogatepass")


def _npy(descr, shape, data, version=(1, 0), fortran=False):
    buf = io.BytesIO()
    d = {"descr": descr, "fortran_order": fortran, "shape": shape}
    (npy_format.write_array_header_1_0 if version == (1, 0)
     else npy_format.write_array_header_2_0)(buf, d)
    return buf.getvalue() + data


@st.composite
def _member(draw, name, valid: bytes):
    kind = draw(st.sampled_from(["valid", "valid", "valid", "crafted", "junk"]))
    if kind == "valid":
        return valid
    if kind == "junk":
        return draw(st.binary(max_size=200))
    descr = draw(st.sampled_from(_DESCRS))
    shape = tuple(draw(st.lists(_dims, min_size=0, max_size=3)))
    try:
        itemsize = np.dtype(descr).itemsize
    except TypeError:
        itemsize = 1
    n = 1
    for d in shape:
        n *= max(d, 0)
    exact = itemsize * n if itemsize * n <= 4096 else 64
    size = draw(st.sampled_from([exact, exact, max(exact - 1, 0), exact + 1, 0, 64]))
    data = draw(st.binary(min_size=size, max_size=size)) if size <= 256 else bytes(size)
    version = draw(st.sampled_from([(1, 0), (2, 0)]))
    return _npy(descr, shape, data, version, draw(st.booleans()))


@st.composite
def _archive(draw):
    _, raw = _bases()[draw(st.integers(0, 2))]
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        valid = {i.filename: z.read(i) for i in z.infolist()}
    members = {}
    for name in _NAMES:
        key = name + ".npy"
        if draw(st.integers(0, 19)) == 0:
            continue                                            # missing member
        if name == "header" and draw(st.booleans()):
            text = draw(_header_text())
            members[key] = _npy("|u1", (len(text),), text)
        else:
            members[key] = draw(_member(name, valid[key]))
    for i in range(draw(st.integers(0, 2))):
        members[f"extra{i}.npy"] = draw(st.binary(max_size=32))
    methods = {k: draw(st.sampled_from([zipfile.ZIP_STORED] * 6 + [zipfile.ZIP_DEFLATED,
                                                                   zipfile.ZIP_BZIP2,
                                                                   zipfile.ZIP_LZMA]))
               for k in members}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, data in members.items():
            z.writestr(k, data, compress_type=methods[k])
    return buf.getvalue()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(_archive())
def test_crafted_archives_load_or_fail_cleanly(tmp_path, data):
    p = tmp_path / "x.dlgn.npz"
    p.write_bytes(data)
    _load_bounded(p)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=512))
def test_arbitrary_bytes(tmp_path, data):
    p = tmp_path / "b.dlgn.npz"
    p.write_bytes(data)
    assert _load_bounded(p) is None or len(data) > 0


# ------------------------------------------------------------------ 10 MB worst cases
_CHILD = textwrap.dedent("""
    # One interpreter imports dlgn once, then forks a fresh process per file, so that each
    # load's CPU time and peak RSS growth are its own.
    import json, os, resource, sys, time
    from dlgn.compiler import Netlist, NetlistFormatError
    for path in sys.argv[1:]:
        sys.stdout.flush()
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
            continue
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.process_time()
        try:
            net = Netlist.load(path)
            outcome = "loaded %d gates" % net.n_gates
        except NetlistFormatError as e:
            outcome = "NetlistFormatError: " + str(e)
            if path not in str(e) or "\\n" in str(e):
                outcome = "BAD MESSAGE " + outcome
        except BaseException as e:
            outcome = "WRONG EXCEPTION %s: %s" % (type(e).__name__, e)
        cpu = time.process_time() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"path": path, "cpu": cpu, "rss_kb": rss1 - rss0,
                          "outcome": outcome[:300]}))
        sys.stdout.flush()
        os._exit(0)
""")

_TEN_MB = 10 << 20


def _zip_bytes(members, compress=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, data in members.items():
            z.writestr(k, data, compress_type=(compress or {}).get(k, zipfile.ZIP_STORED))
    return buf.getvalue()


def _valid_members():
    _, raw = _bases()[0]
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _with_meta(meta_json: str) -> bytes:
    m = _valid_members()
    text = ('{"format": "dlgn-netlist", "version": 1, "n_inputs": 5, "tau": 2.5, '
            '"meta": {"x": ' + meta_json + "}}").encode()
    m["header.npy"] = _npy("|u1", (len(text),), text)
    return _zip_bytes(m)


def _big_net(n_inputs=784, n_gates=300_000, K=6, n_outputs=1000, n_classes=10):
    """A valid random net, built vectorized (random_netlist takes ~1 min at this size)."""
    rng = np.random.default_rng(7)
    arity = rng.integers(0, K + 1, n_gates).astype(np.uint8)
    ids = 2 + n_inputs + np.arange(n_gates)
    fanin = (rng.random((n_gates, K)) * ids[:, None]).astype(np.int32)
    fanin[np.arange(K)[None, :] >= arity[:, None]] = 0
    bits = np.left_shift(1, arity.astype(np.int64))
    table = rng.integers(0, 2 ** 63, n_gates, dtype=np.uint64) * 2 + 1
    small = arity < 6
    table[small] &= (np.left_shift(np.uint64(1), bits[small].astype(np.uint64))
                     - np.uint64(1))
    outputs = rng.integers(0, ids[-1] + 1, n_outputs).astype(np.int32)
    return Netlist(n_inputs, fanin, arity, table, outputs, rng.random(n_outputs) < 0.5,
                   np.full(n_classes, n_outputs // n_classes), 3.0).check()


def _big_cases():
    big_raw = _save_bytes(_big_net())
    k = MAX_HEADER_CONTAINERS - 16
    v = MAX_HEADER_VALUES - 2 * k - 64
    cases = {
        "valid_300k_gates": big_raw,
        "valid_truncated": big_raw[: len(big_raw) // 2],
        "valid_bitflip": big_raw[:5_000_000] + bytes([big_raw[5_000_000] ^ 4])
        + big_raw[5_000_001:],
        # JSON at the header limits: the most Python objects per byte of file
        "json_dicts_and_strings": _with_meta(
            "[" + ",".join(['{"\u0101b":"\u0101c"}'] * k) + ","
            + ",".join(['"\u0101d"'] * v) + "]"),
        "json_floats": _with_meta("[" + ",".join(["1e5"] * (MAX_HEADER_VALUES - 64)) + "]"),
        "json_long_string": _with_meta('"' + "\u0101" * (_TEN_MB // 2 - 200) + '"'),
        "json_escapes": _with_meta('"' + "\\ud83d\\ude00" * (_TEN_MB // 12 - 100) + '"'),
        "json_too_many_values": _with_meta("[" + ",".join(["0"] * (_TEN_MB // 2 - 100)) + "]"),
        "json_deep": _with_meta("[" * (_TEN_MB // 2 - 100) + "]" * (_TEN_MB // 2 - 100)),
    }
    m = _valid_members()
    m["table.npy"] = _npy("<u8", (2 ** 40,), bytes(_TEN_MB - 4096))
    cases["npy_claims_2_40"] = _zip_bytes(m)
    m = _valid_members()
    m["fanin.npy"] = _npy("<i4", (MAX_NODES, 6), bytes(_TEN_MB - 4096), version=(2, 0))
    cases["npy_claims_max_nodes"] = _zip_bytes(m)
    m = _valid_members()
    m["junk.bin"] = bytes(_TEN_MB - 8192)
    cases["extra_10mb_member"] = _zip_bytes(m)
    m = _valid_members()
    m.update({f"{i:x}": b"" for i in range(105_000)})         # ~10 MB of directory
    cases["huge_central_directory"] = _zip_bytes(m)
    m = _valid_members()
    m["table.npy"] = _npy("<u8", (600_000,), bytes(4_800_000))
    cases["deflated_4_8mb"] = _zip_bytes(m, {"table.npy": zipfile.ZIP_DEFLATED})
    return cases


def test_ten_megabyte_worst_cases(tmp_path):
    """Each file loaded in its own (forked) process: CPU time and peak RSS growth."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    paths = {}
    for label, data in _big_cases().items():
        assert len(data) <= _TEN_MB + (64 << 10), (label, len(data))
        paths[label] = p = tmp_path / f"{label}.dlgn.npz"
        p.write_bytes(data)
    out = subprocess.run([sys.executable, "-c", _CHILD, *map(str, paths.values())], env=env,
                         check=True, capture_output=True, text=True, timeout=300)
    by_path = {r["path"]: r for r in map(json.loads, out.stdout.strip().splitlines())}
    results = {label: by_path[str(p)] for label, p in paths.items()}
    for label, r in results.items():
        assert r["cpu"] < TIME_S, (label, r)
        assert r["rss_kb"] * 1024 < MEMORY, (label, r)
        assert r["outcome"].startswith(("loaded", "NetlistFormatError")), (label, r)
    assert results["valid_300k_gates"]["outcome"] == "loaded 300000 gates"
    for label in ("json_dicts_and_strings", "json_floats", "json_long_string",
                  "json_escapes", "extra_10mb_member"):
        assert results[label]["outcome"].startswith("loaded"), (label, results[label])
    for label in ("valid_truncated", "valid_bitflip", "json_too_many_values", "json_deep",
                  "npy_claims_2_40", "npy_claims_max_nodes", "huge_central_directory",
                  "deflated_4_8mb"):
        assert results[label]["outcome"].startswith("NetlistFormatError"), (label, results)
    test_ten_megabyte_worst_cases.results = results


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_valid_files_round_trip(tmp_path, n):
    net, raw = _bases()[2 * n]
    p = tmp_path / "t.dlgn.npz"
    p.write_bytes(raw)
    assert _load_bounded(p).same_structure(net)
