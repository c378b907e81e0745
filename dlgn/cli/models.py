"""What a user may pass where a netlist is expected: a netlist, a compile directory, or a
trained model (``.pt``), which is discretized here (this imports torch, lazily)."""
from __future__ import annotations

from pathlib import Path

from ..compiler.netlist import Netlist
from ..runtime.artifact import MODEL_SUFFIXES, load_netlist as _load_netlist, netlist_path

__all__ = ["load_netlist", "load_shared_form", "is_model_path"]


def load_shared_form(path):
    """The weight-shared form (:class:`dlgn.compiler.shared.SharedNet`) of a convolutional
    model or shared netlist file, or None for anything else."""
    from ..compiler.shared import is_packed, load_shared
    p = netlist_path(path)
    if is_model_path(p):
        from ..frontend.checkpoint import load_model  # torch
        net = load_model(p)
        return net.discretize_shared() if hasattr(net, "discretize_shared") else None
    return load_shared(p) if is_packed(Netlist.load(p)) else None


def is_model_path(path) -> bool:
    return Path(path).suffix in MODEL_SUFFIXES


def load_netlist(path, *, optimize: bool = False, passes=None) -> Netlist:
    """A Netlist from a netlist file, a compile output directory, or a trained model (.pt).

    A directory must hold exactly one ``*.dlgn.npz`` file.  A ``.pt`` model is discretized;
    ``optimize=True`` then runs the pass pipeline (``passes``, default the standard one)."""
    p = netlist_path(path)
    if not is_model_path(p):
        return _load_netlist(p)
    from ..frontend.checkpoint import load_model  # torch
    net = load_model(p).discretize()
    if optimize:
        from ..compiler import optimize as _opt
        net = _opt(net, passes=passes)
    return net
