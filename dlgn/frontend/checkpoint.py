"""Model files: ``torch.save`` of a plain dict, loadable with ``torch.load(weights_only=True)``.

Layout (version 1)::

    {"format": "dlgn-model", "version": 1,
     "config": LogicNet.config (JSON types), "state_dict": {name: CPU tensor},
     "extra": {...}}   # caller's data: tensors, dicts, lists, str, numbers, bool, None

No pickled classes: the net is rebuilt from ``config`` and its state_dict (connections are
buffers, so they come back exactly).
"""
from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch

from ..compiler.atomic import atomic_write
from ..errors import DlgnError
from .convnet import ConvLogicNet
from .net import LogicNet

__all__ = ["MODEL_FORMAT", "MODEL_VERSION", "ModelFileError", "CheckpointError", "save_model",
           "load_model", "read_model_file", "model_from_dict", "check_safe", "save_torch",
           "load_torch"]

MODEL_FORMAT = "dlgn-model"
MODEL_VERSION = 1


class ModelFileError(DlgnError, ValueError):
    """A file that is not a (readable, supported) dlgn model file."""


class CheckpointError(ModelFileError):
    """A file that is not a (readable, supported) dlgn training checkpoint."""


# what torch.load raises on a damaged, foreign or hostile file (weights-only: nothing runs)
_LOAD_ERRORS = (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile,
                ValueError, OSError, AttributeError, KeyError, IndexError, TypeError,
                ImportError, RecursionError, OverflowError, UnicodeDecodeError)


def save_torch(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` through the one atomic writer
    (:func:`dlgn.compiler.atomic.atomic_write`: temp file, fsync, rename, fsync of the
    directory; a killed writer's temp is removed by the next write)."""
    path = Path(path)
    with atomic_write(path) as f:
        torch.save(obj, f)
    return path


def load_torch(path, what: str = "dlgn model file", error=ModelFileError,
               map_location="cpu"):
    """``torch.load(path, weights_only=True)``: only tensors and plain containers are
    rebuilt, no pickled code ever runs; any failure (damaged, foreign or hostile file) is
    ``error`` with a one-line message that names the file."""
    try:
        if os.path.getsize(path) == 0:
            raise error(f"{path} is not a readable {what}: the file is empty (0 bytes)")
    except (OSError, TypeError):
        pass                         # not a path (a file object), or torch.load will say
    try:
        with warnings.catch_warnings():   # torch warns about foreign pickle protocols
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except _LOAD_ERRORS as e:
        raise error(f"{path} is not a readable {what}: {_one_line(e)}") from e


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _one_line(e: BaseException) -> str:
    """The gist of a torch.load error, in plain words and one line: the weights-only
    unpickler's refusal (naming the class it refused, not its advice to retry with
    weights_only=False or to allow-list the class), a damaged archive, an empty or cut-off
    file; else the first line, without terminal escape codes."""
    text = _ANSI.sub("", str(e))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if isinstance(e, pickle.UnpicklingError) and lines and "eights only" in lines[0]:
        glob = re.search(r"GLOBAL ([\w.]+)", text)
        if glob:
            return (f"it holds a pickled Python object ({glob.group(1)}), not only tensors "
                    "and plain data; it was not loaded (a dlgn model file is written by "
                    "`dlgn train` or dlgn.frontend.checkpoint.save_model)")
        why = [ln for ln in lines[1:] if re.search(r"unsupported|blocked|not allowed", ln, re.I)]
        detail = re.sub(r"^WeightsUnpickler error:\s*", "", why[0]) if why else "refused"
        detail = re.split(r"\.\s+(?:Please|Check)\b", detail)[0]
        return f"it holds more than tensors and plain data (not loaded: {detail})"
    if isinstance(e, EOFError) or (isinstance(e, RuntimeError) and "zip archive" in text):
        return "the file is damaged or cut off (not a complete torch archive)"
    if isinstance(e, zipfile.BadZipFile):
        return f"the file is damaged or cut off ({lines[0] if lines else 'bad zip archive'})"
    return lines[0] if lines else type(e).__name__


def check_safe(obj, where: str = "extra") -> None:
    """Raise TypeError unless ``obj`` holds only tensors, dicts (str keys), lists/tuples, str,
    numbers, bool and None -- what ``torch.load(weights_only=True)`` reads back."""
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: dict keys must be str or int, got {type(k).__name__}")
            check_safe(v, f"{where}[{k!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_safe(v, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: {type(obj).__name__} cannot be stored in a weights-only model "
                    f"file (use tensors, dicts, lists, str, numbers)")


def save_model(net: LogicNet, path, **extra) -> Path:
    """Write ``net`` (config + CPU state_dict) and ``extra`` to ``path`` atomically."""
    if not isinstance(net, LogicNet):
        raise TypeError(f"save_model expects a LogicNet, got {type(net).__name__}")
    check_safe(extra)
    obj = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "config": net.config,
           "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
           "extra": extra}
    return save_torch(obj, path)


def read_model_file(path, map_location="cpu") -> dict:
    """Load and validate the dict of a model file (weights-only).  Raises ModelFileError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    obj = load_torch(path, "dlgn model file", ModelFileError, map_location)
    if not isinstance(obj, dict) or obj.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} is not a dlgn model file (no format={MODEL_FORMAT!r})")
    if obj.get("version") != MODEL_VERSION:
        raise ModelFileError(f"{path}: unsupported model file version {obj.get('version')!r} "
                             f"(this dlgn reads version {MODEL_VERSION})")
    for key, typ in (("config", dict), ("state_dict", dict), ("extra", dict)):
        if not isinstance(obj.get(key), typ):
            raise ModelFileError(f"{path}: field {key!r} is missing or not a {typ.__name__}")
    return obj


def model_from_dict(obj: dict) -> LogicNet:
    """Rebuild the LogicNet of a validated model dict (eval mode)."""
    try:
        cfg = obj["config"]
        kind = ConvLogicNet if isinstance(cfg, dict) and "conv" in cfg else LogicNet
        net = kind.from_config(cfg)
        net.load_state_dict(obj["state_dict"], strict=True)
    except (TypeError, ValueError, RuntimeError, KeyError) as e:
        raise ModelFileError(f"model file does not describe a valid LogicNet: {e}") from e
    return net.eval()


def load_model(path, map_location="cpu") -> LogicNet:
    """Load a LogicNet saved by :func:`save_model` (returned in eval mode)."""
    return model_from_dict(read_model_file(path, map_location))
