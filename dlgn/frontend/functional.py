"""The logic layer as functions of (inputs, connections, soft truth table).

Shapes: ``x[B, in]`` (float, values in [0, 1]), ``idx[out, k]`` (long, input indices, x_0 is
the first column), ``omega[out, 2**k]`` (the soft truth table: ``omega[:, u]`` is the
probability that the gate outputs 1 on input ``u = sum_i x_i 2**(k-1-i)``, DESIGN.md s.2).

* :func:`logic_forward_torch` -- the REDUCED multilinear form, the default training path.
  k = 2: ``y = c0 + c1 a + c2 b + c3 ab`` with the c's from omega; k = 1: ``c0 + c1 a``;
  k >= 3: successive linear interpolation over the inputs, x_0 (the most significant bit of
  u) first: ``v <- v[:, :h] + x_i (v[:, h:] - v[:, :h])``.  Differentiable in x and omega.
  On 0/1 inputs (checked; what every layer after a hard-estimated one reads) the same values
  and gradients come from a table lookup instead (:class:`_GateVertex`): side by side on
  mnist-32k-shift's net (16000, 8000, 8000 four-input gates, batch 128, 2 threads,
  benchmarks/learned_bench.py) a training step of 381 ms against 509 ms.
* :func:`logic_forward_literal` -- ``y = sum_u omega_u prod_i x_i^{u_i} (1 - x_i)^{1 - u_i}``,
  term by term: the test reference.
* :func:`logic_forward_hard` -- truth-table lookup on 0/1 inputs (eval mode).

Layout: internally feature-major (``[features, B]``): the gather of a gate's inputs is then
an ``index_select`` of whole contiguous rows, and its backward an ``index_add_`` of rows.
The result is returned as the transposed view ``[B, out]`` of a contiguous ``[out, B]``
tensor, so that a chain of layers never copies: the next layer's ``x.t()`` is contiguous
again.  k = 2 has a hand-written backward (:class:`_Gate2`).  Measured with
benchmarks/train_step_bench.py (4 x 8000 gates, batch 256, one CPU thread, eager, no
torch.compile): a training step 1.75x faster and 2x less step memory than the same reduced
form written batch-major for autograd, 4x faster than the literal IWP formula.
"""
from __future__ import annotations

import torch

from dlgn.compiler.gates import MAX_ARITY

__all__ = ["logic_forward_torch", "logic_forward_literal", "logic_forward_hard",
           "check_layer_args", "reduced_coeffs", "select_candidates", "select_candidates_literal",
           "dense_selection", "tree_level"]


def check_layer_args(x: torch.Tensor, idx: torch.Tensor, omega: torch.Tensor) -> int:
    """Validate shapes and dtypes; returns the arity k."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"x must be 2-D [batch, in_features], got shape {tuple(x.shape)}")
    if idx.dim() != 2 or idx.dtype != torch.long:
        raise ValueError(f"idx must be a long tensor [out, k], got {idx.dtype} {tuple(idx.shape)}")
    k = idx.shape[1]
    if not 1 <= k <= MAX_ARITY:
        raise ValueError(f"arity must be 1..{MAX_ARITY}, got {k}")
    if omega.dim() != 2 or omega.shape[0] != idx.shape[0] or omega.shape[1] != (1 << k):
        raise ValueError(f"omega must be [out={idx.shape[0]}, 2**k={1 << k}], "
                         f"got {tuple(omega.shape)}")
    return k


def reduced_coeffs(omega: torch.Tensor) -> torch.Tensor:
    """k = 2: omega[out, 4] -> (c0, c1, c2, c3)[out, 4] with y = c0 + c1 a + c2 b + c3 ab."""
    w00, w01, w10, w11 = omega.unbind(1)
    return torch.stack([w00, w10 - w00, w01 - w00, w11 - w10 - w01 + w00], dim=1)


class _Gate2(torch.autograd.Function):
    """k = 2, feature-major: y[out, B] = c0 + c1 a + c2 b + c3 ab with a, b gathered rows.

    A hand-written backward: it saves only the two gathered inputs, makes the incoming
    gradient contiguous once (the last layer receives a transposed one, which made every
    elementwise op of autograd's backward strided and ~3x slower), and scatters the input
    gradients with ``index_add_`` (deterministic on the CPU)."""

    @staticmethod
    def forward(ctx, xt, idx, c):
        a = xt.index_select(0, idx[:, 0])
        b = xt.index_select(0, idx[:, 1])
        ctx.save_for_backward(a, b, idx, c)
        ctx.n_in = xt.shape[0]
        return _gate2(a, b, c)

    @staticmethod
    def backward(ctx, g):
        a, b, idx, c = ctx.saved_tensors
        g = g.contiguous()
        gx = None
        if ctx.needs_input_grad[0]:
            gx = torch.zeros(ctx.n_in, g.shape[1], dtype=g.dtype, device=g.device)
            gx.index_add_(0, idx[:, 0], _gate2_dx(g, b, c, 1))
            gx.index_add_(0, idx[:, 1], _gate2_dx(g, a, c, 2))
        return gx, None, _gate2_dc(g, a, b) if ctx.needs_input_grad[2] else None


def _gate2(a, b, c):
    """y = c0 + c1 a + c2 b + c3 ab, rows of ``a``, ``b`` [out, M] and ``c`` [out, 4]."""
    c0, c1, c2, c3 = c[:, 0:1], c[:, 1:2], c[:, 2:3], c[:, 3:4]
    return torch.addcmul(torch.addcmul(c0, c2, b), a, torch.addcmul(c1, c3, b))


def _gate2_dx(g, other, c, j, out=None):
    """g * dy/dx for the input whose linear coefficient is c_j (1: a, 2: b); ``other`` is
    the other input."""
    return torch.mul(g, torch.addcmul(c[:, j:j + 1], c[:, 3:4], other), out=out)


def _gate2_dc(g, a, b):
    """dL/dc [out, 4] from g [out, M] (contiguous)."""
    ga = g * a
    return torch.stack([g.sum(1), ga.sum(1), (g * b).sum(1), (ga * b).sum(1)], dim=1)


class _Tree2(torch.autograd.Function):
    """A tree level of two-input gates on pre-gathered inputs, v[G, 2, M] and the reduced
    coefficients c[G, 4] -> y[G, M]: :class:`_Gate2`'s arithmetic, so that the backward
    makes [G, M] tensors only, where the interpolation's makes levels of 2 and 4 rows a gate
    (mnist-conv-lsh's soft training step, batch 128, one thread: 0.44 against 0.63 CPU s
    with the interpolation, benchmarks/conv_step_bench.py)."""

    @staticmethod
    def forward(ctx, v, c):
        ctx.save_for_backward(v, c)
        return _gate2(v[:, 0], v[:, 1], c)

    @staticmethod
    def backward(ctx, g):
        v, c = ctx.saved_tensors
        a, b = v[:, 0], v[:, 1]
        g = g.contiguous()
        gv = None
        if ctx.needs_input_grad[0]:
            gv = torch.empty_like(v)
            _gate2_dx(g, b, c, 1, out=gv[:, 0])
            _gate2_dx(g, a, c, 2, out=gv[:, 1])
        return gv, _gate2_dc(g, a, b) if ctx.needs_input_grad[1] else None


class _Select(torch.autograd.Function):
    """Learned connections, feature-major: row r of the result is the mixture
    ``sum_j p[r, j] * xt[cand[r, j]]`` (``hard``: the value of the chosen candidate
    ``xt[cand[r, choice[r]]]``, with the mixture's gradient -- a straight-through estimator).

    Neither path materializes the K gathered candidates ([R, K, B]).  ``dense=False``
    accumulates one candidate column at a time and the backward gathers each candidate row
    again instead of saving it (K gathers of [R, B] each way, memory of one); ``dense=True``
    scatters p into a matrix P [R, in] and uses two matrix products, which is several times
    faster once K is more than a few percent of the inputs (benchmarks/learned_bench.py)."""

    @staticmethod
    def forward(ctx, xt, cand, p, choice, dense):
        ctx.save_for_backward(xt, cand, p)
        ctx.dense = dense
        if choice is not None:
            src = choice if cand is None else cand.gather(1, choice.unsqueeze(1)).squeeze(1)
            return xt.index_select(0, src)
        if dense:
            return _scatter_p(cand, p, xt.shape[0]) @ xt
        acc = torch.zeros(cand.shape[0], xt.shape[1], dtype=xt.dtype, device=xt.device)
        for j in range(cand.shape[1]):
            acc.addcmul_(xt.index_select(0, cand[:, j]), p[:, j:j + 1])
        return acc

    @staticmethod
    def backward(ctx, g):
        xt, cand, p = ctx.saved_tensors
        g = g.contiguous()
        gx = gp = None
        if ctx.dense:
            if ctx.needs_input_grad[0]:
                gx = _scatter_p(cand, p, xt.shape[0]).t() @ g
            if ctx.needs_input_grad[2]:
                gp = g @ xt.t()
                gp = gp if cand is None else gp.gather(1, cand)
            return gx, None, gp, None, None
        if ctx.needs_input_grad[0]:
            gx = torch.zeros_like(xt)
        if ctx.needs_input_grad[2]:
            gp = torch.empty_like(p)
        for j in range(cand.shape[1]):
            if gp is not None:
                gp[:, j] = (g * xt.index_select(0, cand[:, j])).sum(1)
            if gx is not None:
                gx.index_add_(0, cand[:, j], g * p[:, j:j + 1])
        return gx, None, gp, None, None


def _scatter_p(cand, p, n_in):
    """P [R, n_in] with P[r, i] = the sum of p[r, j] over the candidates j that are input i
    (``cand=None``: every input is a candidate, in order: P is p)."""
    if cand is None:
        return p
    return torch.zeros(cand.shape[0], n_in, dtype=p.dtype, device=p.device).scatter_add_(1, cand, p)


def dense_selection(n_in: int, n_rows: int, k: int) -> bool:
    """Whether :func:`select_candidates` uses the matrix-product path: K >= 16 or K at least
    1 % of the inputs, while P [rows, in] stays under 2**26 entries."""
    return (k >= 16 or 100 * k >= n_in) and n_rows * n_in <= 1 << 26


def select_candidates(x: torch.Tensor, cand: torch.Tensor, p: torch.Tensor,
                      choice: torch.Tensor | None = None, dense: bool | None = None) -> torch.Tensor:
    """Learned wiring: x[B, in], cand long [R, K] (candidate inputs of R gate inputs; None:
    every input, K = in), p[R, K]
    (their weights, rows summing to 1) -> z[B, R] with ``z[:, r] = sum_j p[r, j] x[:, cand[r, j]]``.
    ``choice`` (long [R]): forward the chosen candidate only, backward as the mixture
    (straight-through).  ``dense``: the matrix-product path (None: :func:`dense_selection`
    decides).  Differentiable in x and p; the result is a transposed view."""
    if cand is None:                  # every input is a candidate
        if p.dim() != 2 or p.shape[1] != x.shape[1]:
            raise ValueError(f"with every input a candidate, p must be [R, {x.shape[1]}], "
                             f"got {tuple(p.shape)}")
        return _Select.apply(x.t(), None, p.to(x.dtype), choice, True).t()
    if cand.dim() != 2 or cand.dtype != torch.long or p.shape != cand.shape:
        raise ValueError(f"cand must be long [R, K] and p the same shape, got "
                         f"{cand.dtype} {tuple(cand.shape)} and {tuple(p.shape)}")
    if dense is None:
        dense = dense_selection(x.shape[1], cand.shape[0], cand.shape[1])
    return _Select.apply(x.t(), cand, p.to(x.dtype), choice, bool(dense)).t()


def select_candidates_literal(x, cand, p, choice=None):
    """The reference of :func:`select_candidates`: gathers all K candidates at once."""
    xs = x[:, cand]                                   # [B, R, K]
    soft = (xs * p.to(x.dtype)).sum(-1)
    if choice is None:
        return soft
    hard = xs.gather(2, choice.view(1, -1, 1).expand(x.shape[0], -1, 1)).squeeze(2)
    return soft + (hard - soft).detach()


class _GateK(torch.autograd.Function):
    """k >= 3, feature-major: the successive interpolation ``v <- lo + x_i (hi - lo)`` over
    the k gathered inputs, x_0 first, with a hand-written backward.

    It saves the gathered inputs and the differences ``hi - lo`` of every level (what the
    backward needs, nothing more) and runs the backward level by level into preallocated
    buffers: ``dx_i = sum_u g (hi - lo)``, ``g_hi = g x_i``, ``g_lo = g - g_hi``.  Measured
    against autograd's version of the same loop (4000 gates, batch 128, one thread, CPU time
    of forward + backward): 1.15-1.4x faster at k = 3, 4 and 6."""

    @staticmethod
    def forward(ctx, xt, idx, omega):
        k = idx.shape[1]
        xs = [xt.index_select(0, idx[:, i]).unsqueeze(1) for i in range(k)]   # [out, 1, B]
        v, ds = _interp_forward(xs, omega)
        ctx.save_for_backward(idx, *xs, *ds)
        ctx.n_in, ctx.k = xt.shape[0], k
        return v

    @staticmethod
    def backward(ctx, g):
        idx, *saved = ctx.saved_tensors
        k = ctx.k
        gx = torch.zeros(ctx.n_in, g.shape[1], dtype=g.dtype, device=g.device) \
            if ctx.needs_input_grad[0] else None

        def into(i, gi):
            if gx is not None:
                gx.index_add_(0, idx[:, i], gi)

        gw = _interp_backward(g, saved[:k], saved[k:], into, ctx.needs_input_grad[2])
        return gx, None, gw


def _interp_forward(xs, omega):
    """The successive interpolation of a k-input gate: ``xs`` the k inputs (each
    [out, 1, M]), ``omega`` [out, 2**k] -> (y [out, M], the differences of every level)."""
    v = omega.unsqueeze(2)
    ds = []
    for x in xs:
        h = v.shape[1] // 2
        d = v[:, h:] - v[:, :h]
        ds.append(d)
        v = torch.addcmul(v[:, :h], x, d)
    return v.squeeze(1), ds


def _interp_backward(g, xs, ds, into, need_w: bool):
    """The backward of :func:`_interp_forward`, level by level: ``into(i, dy/dx_i * g)``
    receives each input's gradient [out, M]; returns the gradient of omega (None unless
    ``need_w``).

    ``g`` is carried as ``[out, h, M]`` (h = 1, 2, ..., 2**(k-1): the gradient of every row
    of the level).  An input's gradient ``sum_j g[:, j] ds[:, j]`` is accumulated row by row
    into one [out, M] tensor (no [out, h, M] product to reduce over its middle axis); the
    first level's differences are constant over the columns (they come from omega alone),
    so its input gradient and omega's gradient are batched matrix products against
    ``g[out, 2**(k-1), M]`` -- the last level of rows, ``2**k`` a gate, is never made.
    Measured against the previous version (which made that level and reduced the products
    ``g * ds`` over their middle axis), forward + backward of 8,000 four-input gates, batch
    128, one thread: 0.045 against 0.101 CPU s (benchmarks/gatek_bench.py)."""
    k = len(xs)
    g = g.contiguous().unsqueeze(1)                                  # [out, 1, M]
    for i in range(k - 1, -1, -1):
        h, d = g.shape[1], ds[i]
        if d.shape[2] == 1:       # one column: the first level's (from omega), or M = 1
            into(i, torch.bmm(d.transpose(1, 2), g).squeeze(1))
        else:
            gi = g[:, 0] * d[:, 0]
            for j in range(1, h):
                gi.addcmul_(g[:, j], d[:, j])
            into(i, gi)
        if i == 0:
            if not need_w:
                return None
            g_hi = torch.bmm(g, xs[0].transpose(1, 2))                 # [out, h, 1]
            return torch.cat([g.sum(2, keepdim=True) - g_hi, g_hi], 1).squeeze(2)
        up = torch.empty(g.shape[0], 2 * h, g.shape[2], dtype=g.dtype, device=g.device)
        torch.mul(g, xs[i], out=up[:, h:])
        torch.sub(g, up[:, h:], out=up[:, :h])
        g = up


class _GateVertex(torch.autograd.Function):
    """Gates on 0/1 inputs (every layer after a hard-estimated one, and a net's first layer
    on thermometer bits; dense layers take it for k >= 3, tree levels for any k): the relaxed
    gate at a vertex of the cube is a table entry, so the forward is one ``gather`` of
    ``omega`` at the input's code u, ``dy/dx_i`` is ``omega[u | bit_i] - omega[u & ~bit_i]``
    (the multilinear form is linear in each input: one gather from that difference table,
    made per gate) and ``dy/domega`` scatters g into entry u.  Only [out, B] tensors are
    made, where the interpolation of :class:`_GateK` makes levels of 2**(k-1), ..., 1 rows
    per gate; the values are those of the interpolation at the same point (up to rounding)."""

    @staticmethod
    def forward(ctx, xt, idx, omega):
        u = _input_codes(xt, idx)
        ctx.save_for_backward(idx, u, omega)
        ctx.n_in = xt.shape[0]
        return omega.gather(1, u)

    @staticmethod
    def backward(ctx, g):
        idx, u, omega = ctx.saved_tensors
        k = idx.shape[1]
        g = g.contiguous()
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = torch.zeros(ctx.n_in, g.shape[1], dtype=g.dtype, device=g.device)
            for i in range(k):
                gx.index_add_(0, idx[:, i], _vertex_slope(omega, u, i).mul_(g))
        if ctx.needs_input_grad[2]:
            gw = torch.zeros_like(omega).scatter_add_(1, u, g)
        return gx, None, gw


def _codes(rows) -> torch.Tensor:
    """The k 0/1 input rows of the gates (floating point, each [out, M], x_0 first, the most
    significant bit: DESIGN.md s.2) -> each gate's input code u, long [out, M]; summed in
    floating point (exact: u < 2**6), which spares the conversion of every input to int64."""
    c = rows[0]
    for r in rows[1:]:
        c = torch.add(r, c, alpha=2)
    return c.to(torch.long)


def _input_codes(xt: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """xt [in, B] (0/1, floating point), idx [out, k] -> u long [out, B]: each gate's input
    code."""
    return _codes([xt.index_select(0, idx[:, i]) for i in range(idx.shape[1])])


def _vertex_slope(omega: torch.Tensor, u: torch.Tensor, i: int) -> torch.Tensor:
    """dy/dx_i of the gates at their input codes u: ``omega[u | bit_i] - omega[u & ~bit_i]``
    (a new [out, M] tensor)."""
    n, k = omega.shape[0], omega.shape[1].bit_length() - 1
    w = omega.view(n, 1 << i, 2, 1 << (k - 1 - i))
    return (w[:, :, 1:] - w[:, :, :1]).expand(-1, -1, 2, -1).reshape(n, -1).gather(1, u)


def is_binary(x: torch.Tensor) -> bool:
    """Whether every entry of ``x`` is exactly 0 or 1 (the vertex path's condition).  Its
    first entries are looked at first: relaxed values are seldom 0 or 1, so a soft tensor
    is told in a few thousand comparisons, not a pass over all of it."""
    if x.numel() > _BINARY_PROBE and x.is_contiguous():
        head = x.view(-1)[:_BINARY_PROBE]
        if not bool(torch.logical_or(head == 0, head == 1).all()):
            return False
    return bool(torch.logical_or(x == 0, x == 1).all())


_BINARY_PROBE = 4096


class _Tree(torch.autograd.Function):
    """One level of logic trees: v[G, k, M] (gate g's inputs are rows v[g, :, :], already
    gathered) and omega[G, 2**k] -> y[G, M], the interpolation of :class:`_GateK` (any k
    from 1), with its hand-written backward into v."""

    @staticmethod
    def forward(ctx, v, omega):
        k = v.shape[1]
        xs = [v[:, i:i + 1] for i in range(k)]
        y, ds = _interp_forward(xs, omega)
        ctx.save_for_backward(v, *ds)
        return y

    @staticmethod
    def backward(ctx, g):
        v, *ds = ctx.saved_tensors
        gv = torch.empty_like(v) if ctx.needs_input_grad[0] else None

        def into(i, gi):
            if gv is not None:
                gv[:, i] = gi

        gw = _interp_backward(g, [v[:, i:i + 1] for i in range(v.shape[1])], ds, into,
                              ctx.needs_input_grad[1])
        return gv, gw


class _TreeVertex(torch.autograd.Function):
    """One level of logic trees on 0/1 inputs (a conv's first level on thermometer bits,
    every level of a hard-estimated tree): :class:`_GateVertex`'s table lookup on inputs
    already gathered in gate order, so that nothing is gathered again, and the backward
    writes ``dy/dv[:, i] = g * (omega[u | bit_i] - omega[u & ~bit_i])`` straight into its
    slot (mnist-conv-lsh's hard training step, batch 128, one thread: 0.42 CPU s, 0.85
    before this and :func:`_codes`)."""

    @staticmethod
    def forward(ctx, v, omega):
        u = _codes(v.unbind(1))
        ctx.save_for_backward(u, omega)
        return omega.gather(1, u)

    @staticmethod
    def backward(ctx, g):
        u, omega = ctx.saved_tensors
        n, k = omega.shape[0], omega.shape[1].bit_length() - 1
        g = g.contiguous()
        gv = gw = None
        if ctx.needs_input_grad[0]:
            gv = torch.empty(n, k, g.shape[1], dtype=g.dtype, device=g.device)
            for i in range(k):
                torch.mul(_vertex_slope(omega, u, i), g, out=gv[:, i])
        if ctx.needs_input_grad[1]:
            gw = torch.zeros_like(omega).scatter_add_(1, u, g)
        return gv, gw


def tree_level(v: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Relaxed gates over pre-gathered inputs: ``v[G, k, M]`` (float, in [0, 1]; gate g
    reads ``v[g, 0..k-1, m]`` at column m) and ``omega[G, 2**k]`` -> ``y[G, M]``.  The
    convolutional trees run their levels through it (positions x samples are the M
    columns).  Differentiable in v and omega."""
    if v.dim() != 3 or omega.dim() != 2 or omega.shape[0] != v.shape[0] \
            or omega.shape[1] != 1 << v.shape[1] or not 1 <= v.shape[1] <= MAX_ARITY:
        raise ValueError(f"tree_level: v must be [G, k, M] and omega [G, 2**k], got "
                         f"{tuple(v.shape)} and {tuple(omega.shape)}")
    if is_binary(v):          # 0/1 inputs: the table lookup, rows in order
        return _TreeVertex.apply(v, omega.to(v.dtype))
    if v.shape[1] == 2:
        return _Tree2.apply(v, reduced_coeffs(omega.to(v.dtype)))
    return _Tree.apply(v, omega.to(v.dtype))


def _forward_fm(xt: torch.Tensor, idx: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Feature-major reduced form: xt[in, B] -> y[out, B]."""
    k = idx.shape[1]
    omega = omega.to(xt.dtype)
    if k == 1:
        a = xt.index_select(0, idx[:, 0])
        w0, w1 = omega[:, 0:1], omega[:, 1:2]
        return torch.addcmul(w0, a, w1 - w0)
    if k == 2:
        return _Gate2.apply(xt, idx, reduced_coeffs(omega))
    if is_binary(xt):                      # a vertex of the cube: a table lookup
        return _GateVertex.apply(xt, idx, omega)
    return _GateK.apply(xt, idx, omega)    # x_0, the most significant bit of u, first


def logic_forward_torch(x: torch.Tensor, idx: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """Relaxed logic layer, reduced multilinear form: y[B, out] (a transposed view)."""
    check_layer_args(x, idx, omega)
    return _forward_fm(x.t(), idx, omega).t()


def logic_forward_literal(x: torch.Tensor, idx: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """The literal multilinear formula sum_u omega_u prod_i x_i^{u_i}(1-x_i)^{1-u_i} (reference)."""
    k = check_layer_args(x, idx, omega)
    xs = [x[:, idx[:, i]] for i in range(k)]  # each [B, out]
    y = torch.zeros(x.shape[0], idx.shape[0], dtype=x.dtype, device=x.device)
    for u in range(1 << k):
        term = omega[:, u].to(x.dtype).expand_as(y)
        for i in range(k):
            bit = (u >> (k - 1 - i)) & 1
            term = term * (xs[i] if bit else 1 - xs[i])
        y = y + term
    return y


def logic_forward_hard(x_bits: torch.Tensor, idx: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """Truth-table lookup: exact 0/1 outputs y[B, out] (dtype of x_bits if floating, else float32).

    ``x_bits``: 0/1 values (bool, integer or float; a float is read as ``x >= 0.5``).
    ``tables``: int64 [out] in the convention of DESIGN.md (bit u = output on input u; a
    64-entry table is stored in two's complement, which keeps every bit)."""
    if x_bits.dim() != 2:
        raise ValueError(f"x_bits must be 2-D [batch, in_features], got shape {tuple(x_bits.shape)}")
    if idx.dim() != 2 or idx.dtype != torch.long:
        raise ValueError("idx must be a long tensor [out, k]")
    if tables.dim() != 1 or tables.shape[0] != idx.shape[0] or tables.dtype != torch.long:
        raise ValueError(f"tables must be int64 [out={idx.shape[0]}], got "
                         f"{tables.dtype} {tuple(tables.shape)}")
    if x_bits.dtype.is_floating_point:
        bits = x_bits >= 0.5
        out_dtype = x_bits.dtype
    else:
        bits = x_bits != 0
        out_dtype = torch.float32
    u = _input_codes(bits.t().to(torch.float32), idx)
    y = (tables.unsqueeze(1) >> u) & 1
    return y.to(out_dtype).t()
