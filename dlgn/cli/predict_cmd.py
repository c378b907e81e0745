"""``dlgn predict ARTIFACT --input X.npy --output y.npy [--target sim|c|cuda]``.

The input is a ``.npy`` array or a ``.csv`` file, one sample per row, holding either the
netlist's input bits (0/1 of any integer, float or bool dtype) or, for a netlist with an
encoder, the raw features -- in a CSV also category names (``Private``, ``Bachelors``) for
the encoder's categorical columns.  Which of the two the rows were read as is logged."""
from __future__ import annotations

import csv
import logging
import time
import zipfile
from pathlib import Path

import numpy as np

from ..compiler.atomic import atomic_write
from ..errors import DlgnError
from . import check_output_file

log = logging.getLogger("dlgn.predict")

__all__ = ["add_parser", "run", "load_input", "input_bits", "save_npy", "InputError"]

_NPY_MAGIC = b"\x93NUMPY"
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")


class InputError(DlgnError, ValueError):
    """An ``--input`` file that cannot be read as samples for this netlist."""


def add_parser(sub):
    p = sub.add_parser("predict", help="predict classes with a compiled model",
                       description="Run ARTIFACT (compile dir, .dlgn.npz netlist or .pt model) "
                                   "on the samples in --input.  The input holds either the "
                                   "netlist's input bits (0/1, any integer, float or bool "
                                   "dtype) or, for a model with an encoder, the raw features "
                                   "(in a .csv also the names of categories).")
    p.add_argument("artifact", help="compile directory, .dlgn.npz netlist or .pt model")
    p.add_argument("--input", required=True,
                   help=".npy array or .csv file, one sample per row")
    p.add_argument("--output", required=True, help=".npy file for the predicted classes")
    p.add_argument("--scores", help="also write the integer class counts to this .npy file "
                                    "(default: none)")
    p.add_argument("--target", default="sim", choices=["sim", "c", "cuda"],
                   help="who runs the netlist: the reference simulator, C or CUDA")
    p.add_argument("--threads", type=_nonneg_int, default=0,
                   help="C: worker threads (0: all cores)")
    p.set_defaults(func=run)
    return p


def _nonneg_int(text):
    from .train_cmd import nonneg_int
    return nonneg_int(text)


# ---------------------------------------------------------------- reading the input
def load_input(path, encoder: dict | None = None) -> np.ndarray:
    """The samples in ``path``: a ``.npy`` array (read without pickles) or a CSV file
    (``.csv``/``.tsv``/``.txt``; category names are turned into codes by ``encoder``'s
    ``category_names``).  Raises :class:`InputError` with a one-line reason."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--input {path}: no such file" if not p.exists()
                         else f"--input {path}: not a file")
    if p.suffix.lower() in _CSV_SUFFIXES:
        return _load_csv(p, encoder)
    with open(p, "rb") as f:
        head = f.read(8)
    if not head:
        raise InputError(f"--input {path}: the file is empty (0 bytes)")
    if head.startswith(b"PK"):
        kind = "an .npz archive" if zipfile.is_zipfile(p) and p.suffix == ".npz" else \
            "a zip archive (a torch .pt file or an .npz?)"
        raise InputError(f"--input {path}: {kind}, not a .npy array; save the samples with "
                         f"numpy.save(path, X) or as a .csv")
    if not head.startswith(_NPY_MAGIC):
        what = "text (a CSV? name it .csv)" if _looks_like_text(p) else "not a .npy array"
        raise InputError(f"--input {path}: {what}")
    try:
        X = np.load(p, allow_pickle=False)
    except ValueError as e:
        why = "it holds Python objects (pickles are not read)" if "pickle" in str(e) else \
            " ".join(str(e).split())
        raise InputError(f"--input {path}: not a readable .npy array: {why}") from None
    except (EOFError, OSError) as e:
        raise InputError(f"--input {path}: damaged or truncated .npy file "
                         f"({' '.join(str(e).split()) or type(e).__name__})") from None
    return X


def _looks_like_text(p: Path) -> bool:
    with open(p, "rb") as f:
        chunk = f.read(4096)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\0" not in chunk


def _load_csv(p: Path, encoder: dict | None) -> np.ndarray:
    from ..compiler.encoding import EncodingError, features_from_rows
    delim = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        with open(p, newline="") as f:
            rows = [[c.strip() for c in r] for r in csv.reader(f, delimiter=delim)
                    if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"--input {p}: not a readable CSV file ({e})") from None
    if not rows:
        raise InputError(f"--input {p}: no rows")
    try:
        return features_from_rows(rows, encoder)
    except EncodingError as e:
        raise InputError(f"--input {p}: {e}") from None


# ---------------------------------------------------------------- bits or features
def _is_bits(X: np.ndarray) -> bool:
    """Whether every value of X is 0 or 1 (X numeric)."""
    if X.dtype == np.bool_:
        return True
    if X.size == 0:
        return True
    return bool(np.isin(X, (0, 1)).all())


def input_bits(net, X: np.ndarray) -> np.ndarray:
    """The netlist's input bits (uint8) from the samples X, and why: X itself when its width
    is the netlist's input bits and it holds only 0/1 (of any integer, float or bool dtype);
    else raw features encoded with the netlist's encoder.  The interpretation is logged at
    INFO.  Raises :class:`InputError` for samples that are neither."""
    from ..compiler.encoding import EncodingError, encode, encoder_n_bits, encoder_raw_features
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise InputError(f"the samples must be numbers (bits or raw features), got dtype "
                         f"{X.dtype}")
    if X.ndim != 2:
        raise InputError(f"the samples must be a 2-D array (one row per sample), got shape "
                         f"{X.shape}")
    if X.shape[0] == 0:
        raise InputError(f"no samples: the input has 0 rows (shape {X.shape})")
    enc = net.meta.get("encoder") or None
    n_bits = net.n_inputs
    n_raw = encoder_raw_features(enc) if enc else None
    width = X.shape[1]
    if width == n_bits and (n_raw != width or _is_bits(X)):
        if not _is_bits(X):
            bad = X[~np.isin(X, (0, 1))].flat[0]
            raise InputError(f"{width} columns is the netlist's input-bit width, but the "
                             f"samples hold {bad!r}: input bits must be 0 or 1"
                             + (f" (raw features have {n_raw} columns)" if enc else ""))
        log.info("input: %d x %d read as the netlist's input bits (dtype %s)", len(X), width,
                 X.dtype)
        return X.astype(np.uint8)
    if enc and width == n_raw:
        try:
            bits = encode(enc, X)
        except EncodingError as e:
            raise InputError(str(e)) from None
        log.info("input: %d x %d read as raw features, encoded by the netlist's %s encoder "
                 "into %d bits", len(X), width, enc.get("type"), encoder_n_bits(enc))
        return bits
    if enc:
        raise InputError(f"the samples have {width} columns; this netlist takes {n_raw} raw "
                         f"features or {n_bits} input bits per row")
    raise InputError(f"the samples have {width} columns; this netlist (without an encoder) "
                     f"takes {n_bits} input bits (0/1) per row")


# ---------------------------------------------------------------- writing
def _npy_path(path) -> Path:
    p = Path(path)
    return p if p.name.endswith(".npy") else p.with_name(p.name + ".npy")


def check_npy_output(path, what: str) -> Path:
    """Where an output array goes (``.npy`` appended, as numpy does), checked before any
    work: not a folder, and writable."""
    if str(path).endswith(("/", "\\")) or Path(path).is_dir():
        raise DlgnError(f"{what} {path}: is a directory; give a .npy file name")
    p = _npy_path(path)
    if p != Path(path):
        log.info("%s %s: writing %s (.npy appended)", what, path, p)
    return check_output_file(p, what)


def save_npy(path, array: np.ndarray) -> Path:
    """``np.save`` through the one atomic writer (all or nothing, fsync-ed); like np.save,
    ``.npy`` is appended to a name without it."""
    p = _npy_path(path)
    with atomic_write(p) as f:
        np.save(f, array, allow_pickle=False)
    return p


def run(args) -> int:
    from ..compiler.simulate import argmax_first
    from ..runtime import build
    from .models import load_netlist

    out = check_npy_output(args.output, "--output")
    scores_out = check_npy_output(args.scores, "--scores") if args.scores else None
    if scores_out is not None and scores_out.resolve() == out.resolve():
        raise DlgnError(f"--output and --scores name the same file {out}")
    net = load_netlist(args.artifact, optimize=True)
    try:
        bits = input_bits(net, load_input(args.input, net.meta.get("encoder")))
    except InputError as e:
        msg = str(e)
        raise InputError(msg if msg.startswith("--input") else f"--input {args.input}: {msg}") \
            from None
    opts = {"threads": args.threads} if args.target == "c" and args.threads else {}
    model = build(net, target=args.target, **opts)
    t0 = time.perf_counter()
    if scores_out is not None:
        s = model.scores(bits)
        y = argmax_first(s)
        save_npy(scores_out, s)
    else:
        y = model.predict(bits)
    dt = time.perf_counter() - t0
    save_npy(out, np.asarray(y, dtype=np.int64))
    log.info("%d samples predicted with %s in %.3f s", len(y), args.target, dt)
    return 0
