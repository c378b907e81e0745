"""Finding the netlist behind whatever a user passes on the command line."""
from __future__ import annotations

import logging
from pathlib import Path

from ..compiler.netlist import Netlist, NetlistFormatError

__all__ = ["load_netlist", "NETLIST_SUFFIX"]

log = logging.getLogger(__name__)
NETLIST_SUFFIX = ".dlgn.npz"


def load_netlist(path, *, optimize: bool = False) -> Netlist:
    """A Netlist from a netlist file, a compile output directory, or a trained model (.pt).

    A directory must hold exactly one ``*.dlgn.npz`` file.  A ``.pt`` model is discretized
    (this imports torch); ``optimize=True`` then runs the pass pipeline on it."""
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*" + NETLIST_SUFFIX))
        if len(found) != 1:
            raise NetlistFormatError(f"{p}: expected one *{NETLIST_SUFFIX} file in the "
                                     f"directory, found {len(found)}")
        p = found[0]
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such model, netlist or directory")
    if p.suffix in (".pt", ".pth"):
        from ..frontend.checkpoint import load_model  # torch, lazily
        net = load_model(p).discretize()
        if optimize:
            from ..compiler import optimize as _opt
            net = _opt(net)
        return net
    return Netlist.load(p)
