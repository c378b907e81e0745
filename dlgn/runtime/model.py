"""One interface for every loaded model: :class:`CompiledModel`.

The simulator (:class:`dlgn.runtime.sim.SimModel`), the C model
(:class:`dlgn.runtime.c_build.CompiledCModel`) and the CUDA model
(:class:`dlgn.runtime.cuda_build.CompiledCudaModel`) all derive from it, so they take the
same inputs and give the same outputs:

* ``predict(X)`` -- class ids int64[N] (first maximum on ties);
* ``scores(X)``  -- GroupSum counts int32[N, n_classes] (divide by ``netlist.tau``);
* ``outputs(X)`` -- output bits bool[N, n_outputs] (polarity applied);
* ``n_inputs``, ``n_outputs``, ``n_classes``, ``netlist``, ``target``, ``encoder``.

``X`` is a 2-D batch of input bits (samples x ``n_inputs``): a numpy array, a torch tensor
(CPU; CUDA tensors run on the GPU for the CUDA model and are copied through the host for
the others) or an array-like (nested lists), of bool or any integer dtype holding only 0
and 1.  The result has the caller's type: numpy in (or a list) -> numpy out, torch in ->
torch out on the input's device.  torch is imported only when the input is a tensor.

``predict(X, encode=True)`` (and ``scores``/``outputs``) take *raw features* instead and
encode them first with the encoder the netlist carries (``netlist.meta["encoder"]``,
:func:`dlgn.compiler.encoding.encode`); :meth:`CompiledModel.encode` does that step alone.

The value rule for bool/uint8 bits is :func:`dlgn.compiler.simulate.check_bits` (applied by
each model, the C one inside its packing loop); wider integer dtypes are range-checked here
and narrowed to uint8 first.
"""
from __future__ import annotations

import abc

import numpy as np

from ..compiler.encoding import EncodingError, encode as _encode
from ..compiler.netlist import Netlist
from ..errors import DlgnError

__all__ = ["CompiledModel", "BitsError", "BitsTypeError", "is_torch", "as_bit_array"]


class BitsError(DlgnError, ValueError):
    """Input bits with a value other than 0 and 1 in an integer array or tensor."""


class BitsTypeError(DlgnError, TypeError):
    """Input bits of a type that is no bit array (floats, strings, objects)."""

def is_torch(x) -> bool:
    """Whether ``x`` is a torch tensor, decided without importing torch."""
    return type(x).__module__.split(".", 1)[0] == "torch"


def _range_error(lo: int, hi: int, dtype) -> BitsError:
    bad = lo if lo < 0 else hi
    return BitsError(f"input bits must be 0 or 1 (found {bad} in a {dtype} array); encode "
                      f"raw features first (predict(X, encode=True))")


def as_bit_array(X) -> np.ndarray:
    """``X`` (numpy array or array-like) as a numpy array the models validate: bool and
    uint8 arrays unchanged (their shape and bytes are :func:`~dlgn.compiler.simulate.
    check_bits`' to check), other integer dtypes range-checked (0/1) and narrowed to uint8;
    any other dtype is a :class:`BitsTypeError`."""
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except ValueError as e:       # ragged nested lists
            raise BitsTypeError(f"input bits must be a 2-D array of 0/1, got "
                                f"{type(X).__name__} that is none ({e})") from None
    k = X.dtype.kind
    if X.dtype == np.uint8 or k == "b":
        return X
    if k not in "iu":
        raise BitsTypeError(f"input bits must be bool or 0/1 integers, got dtype {X.dtype}; "
                            f"encode raw features first (predict(X, encode=True))")
    if X.size:
        lo, hi = int(X.min()), int(X.max())
        if lo < 0 or hi > 1:
            raise _range_error(lo, hi, X.dtype)
    return X.astype(np.uint8)


def _torch_bits(X):
    """A tensor of bool/uint8 bits on ``X``'s device (integer dtypes checked and narrowed)."""
    import torch
    X = X.detach()
    if X.dtype in (torch.bool, torch.uint8):
        return X
    if X.dtype.is_floating_point or X.dtype.is_complex:
        raise BitsTypeError(f"input bits must be bool or 0/1 integers, got dtype {X.dtype}; "
                            f"encode raw features first (predict(X, encode=True))")
    if X.numel():
        lo, hi = int(X.min()), int(X.max())
        if lo < 0 or hi > 1:
            raise _range_error(lo, hi, X.dtype)
    return X.to(torch.uint8)


class CompiledModel(abc.ABC):
    """A netlist loaded for evaluation (see the module docstring for the input rules).

    Subclasses set ``netlist`` and ``target`` and implement ``_predict``, ``_scores`` and
    ``_outputs`` on numpy input bits (bool/uint8, not yet value-checked); a model that runs
    on device tensors sets ``_device_tensors = True`` and implements ``_on_device``."""

    target: str = ""
    netlist: Netlist
    _device_tensors = False

    # ---- what the netlist is
    @property
    def n_inputs(self) -> int:
        return self.netlist.n_inputs

    @property
    def n_outputs(self) -> int:
        return self.netlist.n_outputs

    @property
    def n_classes(self) -> int:
        return self.netlist.n_classes

    @property
    def encoder(self) -> dict | None:
        """The netlist's encoder description (``netlist.meta["encoder"]``), or None."""
        enc = self.netlist.meta.get("encoder") if self.netlist.meta else None
        return enc or None

    # ---- public API
    def predict(self, X, *, encode: bool = False):
        """Predicted class ids int64[N] (first maximum on ties)."""
        return self._dispatch("predict", X, encode)

    def scores(self, X, *, encode: bool = False):
        """GroupSum counts int32[N, n_classes] (the real scores are these / tau)."""
        return self._dispatch("scores", X, encode)

    def outputs(self, X, *, encode: bool = False):
        """Output bits bool[N, n_outputs] (polarity applied), like ``dlgn.simulate``."""
        return self._dispatch("outputs", X, encode)

    def encode(self, X) -> np.ndarray:
        """Raw features [N, F] -> input bits uint8[N, n_inputs] with the netlist's encoder."""
        enc = self.encoder
        if enc is None:
            raise EncodingError("this netlist carries no encoder (meta['encoder']): pass "
                                "input bits, or encode the features yourself")
        bits = _encode(enc, X)
        if bits.shape[1] != self.n_inputs:
            raise EncodingError(f"the netlist's encoder gives {bits.shape[1]} bits, the "
                                f"netlist reads {self.n_inputs}")
        return bits

    def __call__(self, X, *, encode: bool = False):
        return self.predict(X, encode=encode)

    # ---- plumbing
    def _dispatch(self, kind: str, X, encode: bool):
        if is_torch(X):
            device = X.device
            if encode:
                res = self._numpy(kind, self.encode(X))
            else:
                Xt = _torch_bits(X)
                if Xt.is_cuda and self._device_tensors:
                    return self._on_device(kind, Xt)
                res = self._numpy(kind, Xt.cpu().numpy())
            import torch
            out = torch.from_numpy(res)
            return out if device.type == "cpu" else out.to(device)
        if encode:
            return self._numpy(kind, self.encode(X))
        return self._numpy(kind, as_bit_array(X))

    def _numpy(self, kind: str, X: np.ndarray) -> np.ndarray:
        return getattr(self, "_" + kind)(X)

    def _on_device(self, kind: str, X):
        raise NotImplementedError  # pragma: no cover - only device models dispatch here

    @abc.abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _scores(self, X: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _outputs(self, X: np.ndarray) -> np.ndarray: ...
