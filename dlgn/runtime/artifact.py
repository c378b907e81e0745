"""Finding the netlist behind a path: a netlist file or a compile output directory.

Trained models (``.pt``) are the frontend's: discretizing one needs torch, so it happens in
the CLI (:func:`dlgn.cli.models.load_netlist`, also ``dlgn.load_netlist``), never here."""
from __future__ import annotations

import logging
from pathlib import Path

from ..compiler.netlist import Netlist, NetlistFormatError

__all__ = ["load_netlist", "NETLIST_SUFFIX", "MODEL_SUFFIXES"]

log = logging.getLogger(__name__)
NETLIST_SUFFIX = ".dlgn.npz"
MODEL_SUFFIXES = (".pt", ".pth")


def netlist_path(path) -> Path:
    """The netlist file a path names: itself, or the one ``*.dlgn.npz`` in a directory."""
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*" + NETLIST_SUFFIX))
        if len(found) != 1:
            raise NetlistFormatError(f"{p}: expected one *{NETLIST_SUFFIX} file in the "
                                     f"directory, found {len(found)}")
        p = found[0]
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such model, netlist or directory")
    return p


def load_netlist(path) -> Netlist:
    """A Netlist from a netlist file or a compile output directory (one ``*.dlgn.npz``).
    A convolutional net's shared-form file (:mod:`dlgn.compiler.shared`) comes back as its
    flat netlist, the function it stands for (:func:`load_shared_form` keeps it shared)."""
    from ..compiler.shared import SharedNet, SharedNetError, is_packed
    p = netlist_path(path)
    if p.suffix in MODEL_SUFFIXES:
        raise NetlistFormatError(f"{p}: a trained model, not a netlist; discretize it with "
                                 f"dlgn.load_netlist() or `dlgn compile`")
    net = Netlist.load(p)
    if is_packed(net):
        try:
            return SharedNet.from_netlist(net).expand()
        except SharedNetError as e:
            raise NetlistFormatError(f"{p}: {e}") from None
    return net
