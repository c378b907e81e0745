"""The data-driven evaluator of the C backend for large nets (issue 12): a gate program.

Straight-line code (:mod:`dlgn.backends.cfamily`) is the fastest evaluation of a small net,
but past a few hundred thousand gates it is tens of MB of machine code streamed from memory
on every block, GCC needs minutes to build it, and threads contend for the memory bus.
Here the netlist becomes *data*: a compact program of 12-byte instructions interpreted by
one small hot loop over words (the word width machinery of the C backend), so the build is
seconds and the cost per gate is the same at any size.

Instruction ``(w, a, b)`` (three little-endian ``uint32``), ``w = anf | kind << 4 |
dst << 6``:

* kind 0, a gate: ``v[dst] = c0 ^ (A & ca) ^ (B & (cb ^ (A & cab)))`` over whole words --
  the algebraic normal form of a two-input function, branch-free for all 16 -- with
  ``A = v[a]``, ``B = v[b]`` and ``anf`` bits 0..3 = ``c0, ca, cb, cab``;
* kind 1, output ``dst``: ``y = v[a]``, inverted when ``b & 1``; stored to ``o[dst]``
  when the caller wants the output words, else (``scores``/``predict``) added to the
  4-plane bit-sliced *low counter* of class ``b >> 1`` (:data:`LOW_BITS` planes per class
  in ``r`` after the count planes);
* kind 2, flush class ``dst`` (scores/predict only): its low counter is added into its
  ``count_bits`` count planes (ripple-carry) and cleared.  The program flushes a class
  after every 15th add and once at the end, so a low counter never overflows.

The GroupSum head is not lowered to gates here: a popcount in gates costs ~5 gates per
output, and an interpreted gate costs more than a whole add.

The value array ``v`` is the block's input bit-planes (``v[0 .. n_inputs)``, as the C
runtime packs them), the constants 0 and 1 (``v[n_inputs]``, ``v[n_inputs + 1]``), then
the registers.  Registers are allocated by liveness in emission order (LIFO free list,
a gate's dead fan-ins are freed before its result is allocated -- every instruction reads
both operands before it writes), so ``v`` is as small as the widest cut of the net and
stays in the cache.  Gates of arity 1 read the constant 0 as ``B``; wider gates are
Shannon-expanded on ``x_0`` (as :func:`~dlgn.backends.cfamily.expr_template`) into
two-input instructions over temporary registers.

Everything is deterministic: the same netlist gives the same program bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..compiler.netlist import Netlist, NetlistTooLargeError
from .cfamily import Program, last_use, lower_program

__all__ = ["GateProgram", "gate_program", "anf_of", "MAX_INDEX", "emit_code"]

#: destinations are 26 bits of the instruction word: registers, outputs and result words
#: each stay below this
MAX_INDEX = 1 << 26
#: planes of a class's low counter: flushed after every 2**LOW_BITS - 1 adds
LOW_BITS = 4


def anf_of(table: int) -> int:
    """The 4-bit ANF code (c0, ca, cb, cab) of a two-input table (``u = 2a + b``)."""
    t = [(int(table) >> u) & 1 for u in range(4)]
    return t[0] | (t[0] ^ t[2]) << 1 | (t[0] ^ t[1]) << 2 | (t[0] ^ t[1] ^ t[2] ^ t[3]) << 3


_ANF = [anf_of(t) for t in range(16)]
_XOR = _ANF[6]
_AND = _ANF[8]


@dataclass
class GateProgram:
    """A lowered net as instructions: ``code`` uint32[n, 3] (see the module doc),
    ``n_values`` words of ``v`` (inputs, the two constants, the registers); class ``c``'s
    count lives in ``count_bits[c]`` planes (LSB first) at ``count_offset[c]`` of the
    ``n_results`` words of ``r``."""
    program: Program       # what was lowered (headless)
    code: np.ndarray       # uint32[n_instructions, 3]
    n_values: int
    count_offset: list
    count_bits: list

    @property
    def n_inputs(self) -> int:
        return self.program.net.n_inputs

    @property
    def n_classes(self) -> int:
        return len(self.count_bits)

    @property
    def n_counts(self) -> int:
        """Words of ``r`` holding the counts (the low counters follow them)."""
        return int(sum(self.count_bits))

    @property
    def n_results(self) -> int:
        """Words of ``r``: the count planes, then :data:`LOW_BITS` per class."""
        return self.n_counts + LOW_BITS * self.n_classes

    @property
    def n_registers(self) -> int:
        """Words of ``v`` after the inputs: the two constants and the registers."""
        return self.n_values - self.n_inputs

    def to_bytes(self) -> bytes:
        return np.ascontiguousarray(self.code, dtype="<u4").tobytes()


def gate_program(netlist: Netlist) -> GateProgram:
    """Lower ``netlist`` (:func:`~dlgn.backends.cfamily.lower_program`, headless: the
    head is the count adds of the output instructions) to a gate program.

    Raises :class:`~dlgn.compiler.netlist.NetlistTooLargeError` when a register or output
    index would not fit the instruction's 26-bit destination."""
    p = lower_program(netlist, head=False)
    net = p.net
    NI, first = net.n_inputs, net.first_gate
    if p.n_outputs >= MAX_INDEX:
        raise NetlistTooLargeError(f"the C backend's program mode addresses at most "
                                   f"{MAX_INDEX - 1} outputs, got {p.n_outputs}")
    sizes = netlist.group_sizes.astype(np.int64)
    count_bits = [int(x).bit_length() for x in sizes.tolist()]
    count_offset = np.concatenate([[0], np.cumsum(count_bits, dtype=np.int64)[:-1]]) \
        .astype(np.int64).tolist() if count_bits else []
    cls = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes).tolist() if sizes.size \
        else [0] * p.n_outputs
    ZERO, ONE = NI, NI + 1
    order = p.order
    _, last = last_use(net, order)
    last_l = last.tolist()
    fan_l = net.fanin[order].tolist()
    ar_l = net.arity[order].tolist()
    tab_l = net.table[order].tolist()
    stores = p.stores
    code: list[int] = []   # flat: w, a, b, w, a, b, ...
    val = [0] * net.n_gates  # gate -> its index in v
    free: list[int] = []
    top = [NI + 2]         # next never-used register

    def alloc() -> int:
        if free:
            return free.pop()
        r = top[0]
        top[0] += 1
        return r

    def ref(node: int) -> int:
        if node < 2:
            return ZERO + node
        if node < first:
            return node - 2
        return val[node - first]

    pending = [0] * len(count_bits)    # adds into each class's low counter since a flush
    full = (1 << LOW_BITS) - 1

    def store(node: int, vi: int):
        for _kind, k, inv in stores.get(node, ()):   # headless: every store is an output
            code.extend((1 << 4 | k << 6, vi, int(inv) | cls[k] << 1))
            if count_bits:
                c = cls[k]
                pending[c] += 1
                if pending[c] == full:
                    code.extend((2 << 4 | c << 6, ZERO, ZERO))
                    pending[c] = 0

    def shannon(table: int, ops: list) -> tuple[int, bool]:
        """Instructions computing ``table`` over ``ops`` -> (v index, a fresh register?)."""
        k = len(ops)
        full = (1 << (1 << k)) - 1
        if table == 0:
            return ZERO, False
        if table == full:
            return ONE, False
        if k == 1:
            if table == 2:
                return ops[0], False
            r = alloc()
            code.extend((_ANF[(table & 1) | (table & 2) << 1] | r << 6, ops[0], ZERO))
            return r, True
        if k == 2:
            r = alloc()
            code.extend((_ANF[table] | r << 6, ops[0], ops[1]))
            return r, True
        half = 1 << (k - 1)
        m = (1 << half) - 1
        f0, f1 = table & m, table >> half
        if f0 == f1:
            return shannon(f0, ops[1:])
        x = ops[0]
        e0, o0 = shannon(f0, ops[1:])
        e1, o1 = shannon(f1, ops[1:])
        # x ? e1 : e0 = e0 ^ (x & (e0 ^ e1)); the cheap forms first
        r = alloc()
        if f0 == 0:
            code.extend((_AND | r << 6, x, e1))
        elif f1 == 0:
            code.extend((_ANF[0b0100] | r << 6, e0, x))           # e0 & ~x
        else:
            code.extend((_XOR | r << 6, e0, e1))
            code.extend((_AND | r << 6, x, r))
            code.extend((_XOR | r << 6, e0, r))
        for e, o in ((e0, o0), (e1, o1)):
            if o:
                free.append(e)
        return r, True

    for n in sorted(x for x in stores if x < first):
        store(n, ref(n))
    for i, gi in enumerate(order.tolist()):
        k = ar_l[i]
        fan = fan_l[i][:k]
        ops = [ref(f_) for f_ in fan]
        dying = []
        for f_ in fan:
            if f_ >= first and last_l[f_ - first] == i:
                j = f_ - first
                if val[j] >= NI + 2:
                    dying.append(val[j])
                    val[j] = -1
        t = tab_l[i]
        if k <= 2:
            free.extend(dying)    # read before written: the result may take their place
            if k == 0:
                vi = ONE if t & 1 else ZERO
            else:
                vi, fresh = shannon(t, ops)
                if not fresh and vi >= NI + 2:   # a copy of a gate: a register of its own
                    r = alloc()
                    code.extend((_XOR | r << 6, vi, ZERO))
                    vi = r
        else:
            vi, fresh = shannon(t, ops)
            if not fresh and vi >= NI + 2:
                r = alloc()
                code.extend((_XOR | r << 6, vi, ZERO))
                vi = r
            free.extend(dying)
        val[gi] = vi
        node = first + gi
        if node in stores:
            store(node, vi)
        if last_l[gi] == i and vi >= NI + 2:   # no gate reads it: free after its stores
            free.append(vi)
            val[gi] = -1
    for c, n in enumerate(pending):
        if n:
            code.extend((2 << 4 | c << 6, ZERO, ZERO))
    if top[0] >= MAX_INDEX:
        raise NetlistTooLargeError(f"the C backend's program mode addresses at most "
                                   f"{MAX_INDEX - 1} words, this net needs {top[0]}")
    arr = np.array(code, dtype=np.uint32).reshape(-1, 3)
    return GateProgram(p, arr, top[0], count_offset, count_bits)


_ESC = ["\\" + format(c, "o") for c in range(256)]


def emit_code(data: bytes, name: str, width: int = 40) -> str:
    """``static const unsigned char name[...] = "...";`` holding ``data`` (a string literal:
    GCC reads MBs of it in a fraction of a second, 10x faster than a list of numbers).
    Every byte is an octal escape, so the shortest escape is unambiguous."""
    n = len(data)
    if n == 0:
        return f"static const unsigned char {name}[1] = {{0}};\n"
    lines = ['"' + "".join(map(_ESC.__getitem__, data[i:i + width])) + '"'
             for i in range(0, n, width)]
    return f"static const unsigned char {name}[{n}] =\n" + "\n".join(lines) + ";\n"
