"""LogicLayer: one layer of k-input logic gates, IWP (k = 1..6) or OP (k = 2).

``train()`` mode evaluates the relaxed gates (the reduced multilinear form of
:mod:`dlgn.frontend.functional`); ``eval()`` mode evaluates the discretized gates exactly
(inputs thresholded at 0.5, outputs 0/1): the function that ``tables()`` and ``fanin()``
hand to the compiler.
"""
from __future__ import annotations

import importlib
import logging
import math

import numpy as np
import torch
from torch import nn

from dlgn.compiler.gates import GATE_TABLES, MAX_ARITY, passthrough_table, table_bits
from dlgn.compiler.lower import add_layer
from .functional import logic_forward_hard, logic_forward_torch, select_candidates
from .relax import N_GATES, PHI_NAMES, op_soft_table, phi_fn

__all__ = ["LogicLayer", "GateTables", "init_gate_weight", "make_connections",
           "PARAMETRIZATIONS", "INITS", "CONNECTIONS", "BACKENDS", "ESTIMATORS", "SELECTIONS",
           "RI_MU", "RI_SIGMA", "OP_RI_LOGIT"]

log = logging.getLogger(__name__)

PARAMETRIZATIONS = ("iwp", "op")
INITS = ("residual", "gaussian")
CONNECTIONS = ("random", "unique", "learned")
BACKENDS = ("auto", "torch", "triton")
#: How a training-mode gate forwards: "soft" (the relaxation), "hard" (the 0/1 output of
#: the relaxation thresholded at 0.5, with the relaxation's gradient: straight-through),
#: "gumbel" (hard, with logistic noise on the IWP weights / Gumbel noise on the OP logits).
ESTIMATORS = ("soft", "hard", "gumbel")
#: How a learned connection forwards in training: "soft" (the softmax mixture of its
#: candidates), "hard" (the arg-max candidate, with the mixture's gradient), "gumbel" (hard,
#: the arg-max of Gumbel-perturbed logits).
SELECTIONS = ("soft", "hard", "gumbel")
RI_SIGMA = 0.25
RI_MU = {"sigmoid": 3.0, "sin": 1.2}
OP_RI_LOGIT = 5.0
#: difflogic op id of the pass-through gate A (table 0b1100 = 12).
_OP_GATE_A = int(np.flatnonzero(GATE_TABLES == passthrough_table(2, 0))[0])


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _random_connections(n_in, n_out, k, gen):
    """difflogic's scheme: every input used about equally often; repeats are allowed."""
    c = torch.randperm(k * n_out, generator=gen) % n_in
    c = torch.randperm(n_in, generator=gen)[c]
    return c.reshape(k, n_out).t().contiguous()


def _unique_connections(n_in, n_out, k, gen):
    """Distinct inputs within a gate and distinct (sorted) input tuples across gates."""
    if n_in < k:
        raise ValueError(f"unique connections need at least arity={k} inputs, got {n_in}")
    n_tuples = math.comb(n_in, k)
    if n_out > n_tuples:
        raise ValueError(f"unique connections: {n_out} gates need {n_out} distinct {k}-input "
                         f"tuples but {n_in} inputs only have C({n_in},{k}) = {n_tuples}")
    if n_out == 0:
        return torch.zeros(0, k, dtype=torch.long)
    if n_tuples <= max(4 * n_out, 4096):
        # few tuples: enumerate them all (lexicographic) and pick a random subset
        import itertools
        all_t = torch.tensor(list(itertools.combinations(range(n_in), k)), dtype=torch.long)
        pick = torch.randperm(n_tuples, generator=gen)[:n_out]
        idx = all_t[pick]
    else:
        idx = _random_connections(n_in, n_out, k, gen)
        base = torch.tensor([n_in ** (k - 1 - i) for i in range(k)], dtype=torch.long) \
            if n_in ** k < 2 ** 62 else None
        for _ in range(1000):
            srt = idx.sort(dim=1).values
            bad = (srt[:, 1:] == srt[:, :-1]).any(dim=1)
            if base is not None:
                key = (srt * base).sum(1)
            else:
                key = torch.tensor([hash(tuple(r)) for r in srt.tolist()], dtype=torch.long)
            key = torch.where(bad, torch.full_like(key, -1), key)
            _, first = np.unique(key.numpy(), return_index=True)
            keep = torch.zeros(n_out, dtype=torch.bool)
            keep[torch.as_tensor(first)] = True
            keep &= ~bad
            n_redo = int((~keep).sum())
            if n_redo == 0:
                break
            # redraw the offenders: k distinct inputs each
            r = torch.rand(n_redo, n_in, generator=gen).argsort(dim=1)[:, :k] if n_in <= 4096 \
                else torch.randint(0, n_in, (n_redo, k), generator=gen)
            idx[~keep] = r
        else:
            raise RuntimeError("could not draw unique connections (1000 rounds)")
    perm = torch.rand(n_out, k, generator=gen).argsort(dim=1)  # random order inside a gate
    return idx.gather(1, perm).contiguous()


def _open_uniform(like: torch.Tensor) -> torch.Tensor:
    """Uniform noise in (0, 1) shaped like ``like``, from torch's global RNG (so that a
    resumed run replays it)."""
    return torch.rand(like.shape, device=like.device).clamp_(1e-10, 1 - 1e-10)


def _gumbel(u: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise from uniform noise ``u`` in (0, 1)."""
    return -torch.log(-torch.log(u))


def make_connections(n_in: int, n_out: int, k: int, kind: str = "random", generator=None):
    """Connection indices long[n_out, k] into ``n_in`` inputs ("random" or "unique")."""
    _choice("connections", kind, CONNECTIONS)
    if n_in < 1 and n_out > 0:
        raise ValueError("a layer with gates needs at least one input")
    gen = generator if generator is not None else torch.Generator().manual_seed(
        int(torch.randint(0, 2 ** 62, (1,)).item()))
    if kind == "random":
        return _random_connections(n_in, n_out, k, gen)
    return _unique_connections(n_in, n_out, k, gen)


def init_gate_weight(n: int, k: int, parametrization: str, init: str, phi: str, gen,
                     z: float | None = None) -> torch.Tensor:
    """Initial weights of ``n`` gates of arity ``k``: IWP [n, 2**k] or OP logits [n, 16].
    ``init="residual"``: every gate starts as the pass-through of its first input (IWP:
    ``z * sign + N(0, RI_SIGMA)``, ``z`` = :data:`RI_MU` of ``phi`` unless given; OP: logit
    :data:`OP_RI_LOGIT` on gate A); ``"gaussian"``: N(0, 1)."""
    if parametrization == "op":
        if init == "gaussian":
            return torch.randn(n, N_GATES, generator=gen)
        w = torch.zeros(n, N_GATES)
        w[:, _OP_GATE_A] = OP_RI_LOGIT if z is None else float(z)
        return w
    if init == "gaussian":
        return torch.randn(n, 1 << k, generator=gen)
    sign = torch.as_tensor(table_bits(passthrough_table(k, 0), k), dtype=torch.float32) * 2 - 1
    mu = RI_MU[phi] if z is None else float(z)
    return torch.randn(n, 1 << k, generator=gen) * RI_SIGMA + mu * sign


def triton_for(backend: str, x: torch.Tensor):
    """The Triton kernels module when ``backend`` ("auto", "torch", "triton") picks them for
    activations ``x``, else None: "triton" always (an ImportError naming the fix if triton
    is missing), "auto" on a CUDA tensor of float32/bfloat16 where the kernels can run."""
    if backend == "torch":
        return None
    if backend == "triton" or (backend == "auto" and x.is_cuda):
        try:
            mod = importlib.import_module("dlgn.frontend.triton_layer")
        except ImportError as e:
            if backend == "triton":
                raise ImportError("backend='triton' needs triton and "
                                  f"dlgn.frontend.triton_layer ({e}); pip install triton, "
                                  "or use backend='torch'") from e
            log.debug("triton backend unavailable (%s); using torch", e)
            return None
        if backend == "triton":
            return mod
        # auto: only where the kernels can run (GPU or interpreter) on their dtypes
        if mod.triton_available(x.device) and x.dtype in (torch.float32, torch.bfloat16):
            return mod
        log.debug("triton kernels cannot run on %s/%s; using torch", x.device, x.dtype)
    return None


class GateTables:
    """What a module of learned gates shares (a mixin over ``weight``, ``parametrization``,
    ``phi`` and ``arity``): the soft truth tables, the discretized ones, and the noisy ones
    of the Gumbel estimator."""

    def omega(self) -> torch.Tensor:
        """The soft truth table [gates, 2**k]: phi(W) (IWP) or the OP soft table."""
        if self.parametrization == "op":
            return op_soft_table(self.weight)
        return phi_fn(self.phi)(self.weight)

    def table_bits(self) -> torch.Tensor:
        """Discretized truth tables as bool [gates, 2**k] (entry u = output on input u)."""
        with torch.no_grad():
            if self.parametrization == "op":
                tabs = torch.tensor(GATE_TABLES, device=self.weight.device)[self.weight.argmax(1)]
                return ((tabs.unsqueeze(1) >> torch.arange(4, device=tabs.device)) & 1).bool()
            return self.omega() >= 0.5

    def _tables_long(self) -> torch.Tensor:
        bits = self.table_bits().long()
        w = torch.ones(1 << self.arity, dtype=torch.long, device=bits.device)
        w = w << torch.arange(1 << self.arity, device=bits.device)  # 1 << 63 wraps to int64 min
        return (bits * w).sum(1)  # int64 two's complement of the uint64 table

    def tables(self) -> np.ndarray:
        """Discretized truth tables, uint64 numpy [gates] (DESIGN.md convention)."""
        return self._tables_long().cpu().numpy().astype(np.uint64)

    def _noisy_omega(self):
        """omega with the Gumbel-max trick's noise: logistic noise on each IWP weight (the
        binary case), Gumbel noise on each OP logit; drawn from torch's global RNG (so a
        resumed run replays it)."""
        u = _open_uniform(self.weight)
        if self.parametrization == "op":
            return op_soft_table(self.weight + _gumbel(u))
        return phi_fn(self.phi)(self.weight + torch.log(u) - torch.log1p(-u))


class LogicLayer(GateTables, nn.Module):
    """A layer of ``out_features`` gates of ``arity`` inputs each (see the module docstring).

    Parameters: ``weight`` [out, 2**k] (IWP: omega = phi(weight)) or [out, 16] (OP logits).
    Buffer: ``idx`` long [out, k], the connections (saved in the state_dict).
    ``connections="learned"``: instead of ``idx``, each gate input has ``candidates`` K
    candidate sources (buffer ``cand`` [out, k, K], K independent random wirings drawn once;
    ``candidates=0``: every input of the layer, no buffer) and learns which one to read
    (parameter ``conn_weight`` [out, k, K], logits, softmax at temperature ``conn_tau``;
    ``selection`` says how training forwards it, see :data:`SELECTIONS`).  The discretized
    layer reads each input's arg-max candidate (:meth:`wires`), so its netlist is a plain
    one.  ``estimator``: see :data:`ESTIMATORS`
    (eval mode is exact whatever it is).
    Randomness (connections, then init) comes from ``generator`` if given, else from a
    generator seeded with ``seed``, else from torch's global RNG.  ``backend``: "torch" (the
    reduced form), "triton" (``dlgn.frontend.triton_layer.logic_forward_triton``) or "auto"
    (Triton on CUDA tensors when it imports, else torch).  Eval mode reads inputs as
    ``x >= 0.5`` and always uses the exact table lookup."""

    def __init__(self, in_features: int, out_features: int, arity: int = 2,
                 parametrization: str = "iwp", init: str = "residual",
                 connections: str = "random", phi: str = "sigmoid", backend: str = "auto",
                 seed: int | None = None, generator: torch.Generator | None = None,
                 candidates: int = 8, selection: str = "hard", estimator: str = "soft",
                 conn_tau: float = 1.0):
        super().__init__()
        _choice("parametrization", parametrization, PARAMETRIZATIONS)
        _choice("estimator", estimator, ESTIMATORS)
        _choice("selection", selection, SELECTIONS)
        _choice("init", init, INITS)
        _choice("phi", phi, PHI_NAMES)
        _choice("backend", backend, BACKENDS)
        for name, v in (("in_features", in_features), ("out_features", out_features),
                        ("arity", arity)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {type(v).__name__}")
        if in_features < 1 or out_features < 1:
            raise ValueError(f"in_features and out_features must be >= 1, got "
                             f"{in_features}, {out_features}")
        if not 1 <= arity <= MAX_ARITY:
            raise ValueError(f"arity must be 1..{MAX_ARITY}, got {arity}")
        if parametrization == "op" and arity != 2:
            raise ValueError(f"the OP parametrization has 2**(2**k) gates per node and is only "
                             f"supported for arity 2 (got {arity}); use parametrization='iwp'")
        self.in_features, self.out_features, self.arity = int(in_features), int(out_features), int(arity)
        self.parametrization, self.init, self.phi, self.backend = parametrization, init, phi, backend
        self.connections, self.estimator, self.selection = connections, estimator, selection
        gen = generator if generator is not None else (
            torch.Generator().manual_seed(int(seed)) if seed is not None else None)
        if gen is None:
            gen = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 62, (1,)).item()))
        if connections == "learned":
            if isinstance(candidates, bool) or not isinstance(candidates, (int, np.integer)) \
                    or not 0 <= candidates <= 1024:
                raise ValueError(f"candidates must be an int in 0..1024 (0: every input), "
                                 f"got {candidates!r}")
            if not (isinstance(conn_tau, (int, float)) and math.isfinite(conn_tau) and conn_tau > 0):
                raise ValueError(f"conn_tau must be a finite number > 0, got {conn_tau!r}")
            self.candidates, self.conn_tau = int(candidates), float(conn_tau)
            if self.candidates == 0:
                # every input is a candidate: no buffer; random logits make the first
                # arg-max a random wiring
                self.conn_weight = nn.Parameter(0.01 * torch.randn(
                    self.out_features, self.arity, self.in_features, generator=gen))
            else:
                # K independent balanced random wirings: candidate j of every gate input
                cand = torch.stack([_random_connections(self.in_features, self.out_features,
                                                        self.arity, gen)
                                    for _ in range(self.candidates)], dim=2)
                self.register_buffer("cand", cand.contiguous())           # [out, k, K]
                self.conn_weight = nn.Parameter(torch.zeros(self.out_features, self.arity,
                                                            self.candidates))
        else:
            self.candidates, self.conn_tau = 1, 1.0
            self.register_buffer("idx", make_connections(self.in_features, self.out_features,
                                                         self.arity, connections, gen))
        self.weight = nn.Parameter(self._init_weight(gen))

    # ------------------------------------------------------------------ init
    def _init_weight(self, gen):
        return init_gate_weight(self.out_features, self.arity, self.parametrization, self.init,
                                self.phi, gen)

    # ------------------------------------------------------------------ views
    @property
    def n_params(self) -> int:
        return self.weight.numel()

    @property
    def learned(self) -> bool:
        return self.connections == "learned"

    def wires(self) -> torch.Tensor:
        """The connections of the discretized layer, long [out, k]: the fixed ``idx``, or for
        learned connections each input's arg-max candidate (the first one on ties)."""
        if not self.learned:
            return self.idx
        with torch.no_grad():
            best = self.conn_weight.argmax(2)
            return best if self.candidates == 0 else self.cand.gather(2, best[..., None]).squeeze(2)

    def fanin(self) -> np.ndarray:
        """Connections as int64 numpy [out, k]."""
        return self.wires().detach().cpu().numpy().astype(np.int64)

    # ------------------------------------------------------------------ forward
    def lower(self, builder, in_lits) -> np.ndarray:
        """Add the discretized gates to ``builder`` reading ``in_lits`` (one literal per
        input feature); returns the literals of the outputs."""
        if len(in_lits) != self.in_features:
            raise ValueError(f"{type(self).__name__} reads {self.in_features} features, "
                             f"got {len(in_lits)} literals")
        return add_layer(builder, in_lits, self.fanin(), self.tables())

    def _relaxed_fn(self, x):
        mod = triton_for(self.backend, x)
        return logic_forward_torch if mod is None else mod.logic_forward_triton

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"LogicLayer expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"LogicLayer expects input [batch, {self.in_features}], "
                             f"got {tuple(x.shape)}")
        if not self.training:
            return logic_forward_hard(x, self.wires(), self._tables_long())
        if not x.dtype.is_floating_point:
            raise TypeError(f"training-mode input must be floating point, got {x.dtype}")
        idx = self.idx if not self.learned else None
        if self.learned:     # the chosen (or mixed) candidates, then gates reading them in order
            x = self._select(x)
            idx = torch.arange(x.shape[1], device=x.device).view(self.out_features, self.arity)
        omega = self.omega()
        if self.estimator == "gumbel":
            omega = self._noisy_omega()
        y = self._relaxed_fn(x)(x, idx, omega)
        if self.estimator == "soft":
            return y
        return y + ((y >= 0.5).to(y.dtype) - y).detach()

    def _select(self, x):
        logits = self.conn_weight.reshape(-1, self.conn_weight.shape[2])
        cand = None if self.candidates == 0 else self.cand.reshape(logits.shape)
        if self.selection == "gumbel":
            logits = logits + _gumbel(_open_uniform(logits))
        # (a temperature of 1 divides nothing: two passes over the logits saved)
        p = torch.softmax(logits if self.conn_tau == 1.0 else logits / self.conn_tau, dim=1)
        choice = None if self.selection == "soft" else logits.detach().argmax(1)
        return select_candidates(x, cand, p, choice)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"arity={self.arity}, parametrization={self.parametrization!r}, "
                f"init={self.init!r}, connections={self.connections!r}, phi={self.phi!r}"
                + (f", candidates={self.candidates}, selection={self.selection!r}"
                   if self.learned else "")
                + (f", estimator={self.estimator!r}" if self.estimator != "soft" else ""))
