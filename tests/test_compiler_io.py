"""File formats in dlgn.compiler.io: AIGER (ascii and binary) and BLIF round trips against
the reference simulator, ABC reading our AIGER, and malformed files rejected by name."""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _compiler_util import all_inputs, same_function
from dlgn.compiler import Netlist, NetlistFormatError, random_netlist, simulate
from dlgn.compiler.io import AigerFormatError, BlifFormatError, aiger_bytes, aiger_text, \
    blif_text, parse_aiger, parse_blif, read_aiger, read_blif, write_aiger, write_blif
from dlgn.tools.abc import cec, find_abc, run_abc

needs_abc = pytest.mark.skipif(find_abc() is None, reason="no ABC binary (pyosys or berkeley-abc)")


def nets(n_inputs=8, n=12):
    """Random nets of every arity 1..6 (and 0), duplicate and constant fan-ins, outputs that
    are constants or inputs, inverted outputs."""
    for seed in range(n):
        yield random_netlist(seed, n_inputs=n_inputs, n_gates=60, max_arity=1 + seed % 6,
                             min_arity=0 if seed % 3 == 0 else 1, n_outputs=9, n_classes=3,
                             p_const=0.15, p_dup=0.25, p_special_output=0.3)


def header(data):
    line = (data if isinstance(data, bytes) else data.encode()).split(b"\n", 1)[0]
    kind, *nums = line.split()
    return kind.decode(), [int(x) for x in nums]


# ---------------------------------------------------------------- AIGER round trips
@pytest.mark.parametrize("binary", [False, True])
def test_aiger_round_trip_exhaustive(binary, tmp_path):
    for i, net in enumerate(nets()):
        data = aiger_bytes(net) if binary else aiger_text(net)
        assert data == (aiger_bytes(net) if binary else aiger_text(net))  # deterministic
        path = tmp_path / f"n{i}.{'aig' if binary else 'aag'}"
        assert write_aiger(net, path, binary=binary) == data
        kind, (M, I, L, O, A) = header(data)
        assert kind == ("aig" if binary else "aag") and L == 0 and M == I + A
        assert (I, O) == (net.n_inputs, net.n_outputs)
        for back in (read_aiger(path, group_sizes=net.group_sizes),
                     parse_aiger(data, group_sizes=net.group_sizes)):
            assert back.n_gates == A and (back.n_gates == 0 or back.max_arity == 2)
            assert np.array_equal(back.group_sizes, net.group_sizes)
            assert same_function(net, back)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 6), n_inputs=st.integers(0, 9),
       p_const=st.sampled_from([0.0, 0.3]), p_dup=st.sampled_from([0.0, 0.5]))
def test_aiger_round_trip_property(seed, k, n_inputs, p_const, p_dup):
    net = random_netlist(seed, n_inputs=n_inputs, n_gates=40, max_arity=k, min_arity=0,
                         n_outputs=6, n_classes=2, p_const=p_const, p_dup=p_dup,
                         p_special_output=0.3)
    assert same_function(net, parse_aiger(aiger_bytes(net), group_sizes=net.group_sizes))
    assert same_function(net, parse_aiger(aiger_text(net), group_sizes=net.group_sizes))


def test_aiger_round_trip_random_vectors():
    net = random_netlist(7, n_inputs=40, n_gates=2000, max_arity=6, n_outputs=50,
                         n_classes=5, p_const=0.05, p_dup=0.2, window=300)
    X = np.random.default_rng(0).integers(0, 2, size=(4000, 40), dtype=np.uint8)
    ref = simulate(net, X)
    for data in (aiger_bytes(net), aiger_text(net)):
        back = parse_aiger(data, group_sizes=net.group_sizes)
        assert np.array_equal(simulate(back, X), ref)
        folded = parse_aiger(data, group_sizes=net.group_sizes, rewrite=True)
        assert folded.n_gates <= back.n_gates
        assert np.array_equal(simulate(folded, X), ref)


def test_aiger_decomposition_sizes():
    """An AND is one AND, an XOR three; constant, wire and inverter gates none."""
    def ands(k, table, outputs=(5,)):
        fan = [[2, 3, 4][:k] + [0] * (3 - k)] if k else [[0, 0, 0]]
        net = Netlist(3, fan, [k], [table], list(outputs)).check()
        return header(aiger_bytes(net))[1][4]
    assert ands(2, 8) == 1 and ands(2, 7) == 1 and ands(2, 2) == 1  # AND, NAND, !a&b
    assert ands(2, 6) == 3 and ands(2, 9) == 3                       # XOR, XNOR
    assert ands(1, 1) == 0 and ands(1, 2) == 0 and ands(0, 1) == 0 and ands(2, 12) == 0
    assert ands(3, 0x80) == 2                                        # AND3
    # every 3-input function fits in 3 muxes: at most 3 * 3 ANDs, and round-trips
    for t in range(256):
        net = Netlist(3, [[2, 3, 4]], [3], [t], [5, 5], [False, True]).check()
        for data in (aiger_bytes(net), aiger_text(net)):
            back = parse_aiger(data)
            assert back.n_gates <= 9
            assert np.array_equal(simulate(back, all_inputs(3)), simulate(net, all_inputs(3)))


@pytest.mark.parametrize("kw", [dict(n_inputs=0, n_gates=4), dict(n_inputs=3, n_gates=0),
                                dict(n_inputs=4, n_gates=5, n_outputs=0, n_classes=0)])
def test_aiger_degenerate_nets(kw):
    for seed in range(4):
        net = random_netlist(seed, **kw, min_arity=0, p_special_output=0.6)
        for data in (aiger_bytes(net), aiger_text(net)):
            back = parse_aiger(data, group_sizes=net.group_sizes)
            assert back.n_inputs == net.n_inputs and back.n_outputs == net.n_outputs
            assert same_function(net, back)


def test_aiger_reads_foreign_ascii():
    """ANDs out of order, symbols, comments, CRLF line ends and an AIGER 1.9 header."""
    text = ("aag 5 2 0 2 3 0 0 0 0\r\n2\r\n4\r\n10\r\n7\r\n"
            "10 7 9\r\n6 2 4\r\n8 3 5\r\n"       # 10 = !(a&b) & !(!a&!b) = a XOR b
            "i0 a\r\ni1 b\r\no0 xor\r\nc\r\nanything at all\r\n")
    net = parse_aiger(text)
    X = all_inputs(2)
    y = simulate(net, X)
    assert np.array_equal(y[:, 0], (X[:, 0] ^ X[:, 1]).astype(bool))
    assert np.array_equal(y[:, 1], ~(X[:, 0] & X[:, 1]).astype(bool))
    # constants and inputs as outputs, a variable index gap (M larger than needed)
    net = parse_aiger("aag 9 1 0 4 0\n2\n0\n1\n2\n3\n")
    assert simulate(net, all_inputs(1)).tolist() == [[False, True, False, True],
                                                    [False, True, True, False]]


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"hello world\n", "not an AIGER file"),
    (b"aag 1 1 0 1\n2\n2\n", "bad header"),
    (b"aag 1 x 0 1 0\n2\n2\n", "bad header"),
    (b"aag 3 1 1 1 1\n2\n4 6\n6\n6 2 4\n", "latch"),
    (b"aig 2 1 1 1 0\n2\n4\n", "latch"),
    (b"aag 1 1 0 0 0 1 0 0 0\n2\n2\n", "bad-state"),
    (b"aag 2 1 0 1 1\n2\n4\n4 2 8\n", "exceeds"),
    (b"aag 3 1 0 1 1\n2\n4\n4 2 6\n", "never defined"),
    (b"aag 2 1 0 1 1\n2\n4\n2 2 2\n", "defined twice"),
    (b"aag 2 1 0 1 1\n3\n4\n4 2 2\n", "even"),
    (b"aag 3 1 0 1 2\n2\n4\n4 2 6\n6 4 2\n", "cycle"),
    (b"aag 2 1 0 1 1\n2\n4\n4 2\n", "expected 3"),
    (b"aag 2 1 0 1 1\n2\n4\n", "truncated"),
    (b"aag 2 1 0 1 1\n2\n4\n4 2 2\ngarbage here\n", "unexpected data"),
    (b"aag 99999999 2 0 1 99999990\n2\n", "truncated"),
    (b"aig 2 1 0 1 1\n4\n\x00\x00", "corrupt"),
])
def test_aiger_rejects(data, match, tmp_path):
    with pytest.raises(AigerFormatError, match=match):
        parse_aiger(data)
    path = tmp_path / "bad file.aig"
    path.write_bytes(data)
    with pytest.raises(AigerFormatError, match="bad file.aig") as e:
        read_aiger(path)
    assert isinstance(e.value, NetlistFormatError) and isinstance(e.value, ValueError)


def test_aiger_truncated_binary_and_missing_file(tmp_path):
    net = random_netlist(3, n_inputs=10, n_gates=200, max_arity=4, n_outputs=8, n_classes=2)
    data = aiger_bytes(net)
    body = data[:data.index(b"i0 x0")]  # drop the symbols: the AND section is the end
    for cut in (1, 2, 7, len(body) // 3):
        with pytest.raises(AigerFormatError, match="truncated|corrupt"):
            parse_aiger(body[:-cut])
    with pytest.raises(AigerFormatError, match="nope.aig"):
        read_aiger(tmp_path / "nope.aig")
    with pytest.raises(TypeError):
        parse_aiger(12)
    with pytest.raises(AigerFormatError, match="group sizes"):
        parse_aiger(data, group_sizes=[1, 2])


# ---------------------------------------------------------------- BLIF
def test_blif_round_trip_path_and_text(tmp_path):
    for i, net in enumerate(nets(n=8)):
        p = tmp_path / f"n{i}.blif"
        text = write_blif(net, p)
        assert text == blif_text(net) == p.read_text()
        for back in (read_blif(p, group_sizes=net.group_sizes, tau=net.tau),
                     parse_blif(text, group_sizes=net.group_sizes, tau=net.tau)):
            assert back.tau == net.tau and same_function(net, back)
        folded = parse_blif(text, group_sizes=net.group_sizes, rewrite=True)
        assert folded.n_gates <= net.n_gates and same_function(net, folded)


def test_blif_errors_name_the_file(tmp_path):
    p = tmp_path / "loop.blif"
    p.write_text(".inputs a\n.outputs o\n.names a p o\n11 1\n.names o p\n1 1\n")
    with pytest.raises(BlifFormatError, match="loop.blif: combinational loop"):
        read_blif(p)
    with pytest.raises(BlifFormatError, match="missing.blif"):
        read_blif(tmp_path / "missing.blif")
    with pytest.raises(TypeError, match="read_blif"):
        parse_blif(p)  # a path is not text: no guessing
    with pytest.raises(BlifFormatError, match="bad cube"):
        parse_blif(".inputs a b\n.outputs o\n.names a b o\n1x 1\n")


# ---------------------------------------------------------------- ABC reads our AIGER
@needs_abc
def test_abc_reads_our_aiger(tmp_path):
    for i, net in enumerate(nets(n_inputs=12, n=6)):
        f = tmp_path / f"n{i}.aig"
        write_aiger(net, f)
        ok, log = cec(f, net)  # ABC: our AIGER against our BLIF of the same net
        assert ok, log
        bad = net.copy()
        bad.invert[0] = ~bad.invert[0]
        assert not cec(f, bad)[0]
        A = header(f.read_bytes())[1][4]
        stats = run_abc(f"read_aiger n{i}.aig; print_stats", cwd=tmp_path)
        io = re.search(r"i/o =\s*(\d+)/\s*(\d+).*?and =\s*(\d+)", stats)
        assert io, stats
        assert (int(io[1]), int(io[2])) == (net.n_inputs, net.n_outputs) and int(io[3]) <= A
        # and ABC's own binary AIGER reads back into the same function
        run_abc(f"&r n{i}.aig; &w abc{i}.aig", cwd=tmp_path)
        back = read_aiger(tmp_path / f"abc{i}.aig", group_sizes=net.group_sizes)
        assert same_function(net, back)
