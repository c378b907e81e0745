"""Training: Adam on the relaxed net, evaluation of soft and discretized accuracy, exact
resumption from checkpoints, and DistributedDataParallel when torch.distributed is up.

* :func:`train` -- minibatch Adam on cross-entropy of the GroupSum scores. The batch order of
  epoch ``e`` is ``randperm(N)`` of a generator seeded with ``(seed, e)``, so a run resumed
  from a checkpoint (model + optimizer + RNG states + epoch/step) replays exactly the batches
  an uninterrupted run would have seen and ends with bit-identical parameters.
* :func:`evaluate` -- accuracy of the relaxed forward (``train()`` mode, "soft") and of the
  hard discretized forward (``eval()`` mode, "discrete": the function the compiler lowers).
* Checkpoints are plain dicts of tensors, numbers and strings written atomically and durably
  (:func:`dlgn.compiler.atomic.atomic_write`), loadable with
  ``torch.load(path, weights_only=True)``.
* DDP: when ``torch.distributed`` is initialized with world size W > 1 (torchrun, or
  ``dlgn train --devices N`` which spawns the processes), the net is wrapped in
  ``DistributedDataParallel`` and each global batch of ``batch_size`` rows is split into W
  contiguous shards; every rank's loss is ``sum(ce) * W / batch_size`` so that DDP's gradient
  average equals the gradient of the mean loss over the global batch, i.e. the same update as
  one process. Evaluation and checkpoints happen on rank 0 only.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DlgnError

__all__ = ["train", "evaluate", "load_checkpoint", "CHECKPOINT_FORMAT", "spawn",
           "init_distributed_from_env", "TrainingInterrupted", "TrainingError",
           "TrainDataTypeError", "DeviceError", "CheckpointMismatchError",
           "DISCRETE_GAP_WARNING"]

logger = logging.getLogger("dlgn.train")

CHECKPOINT_FORMAT = "dlgn-train-checkpoint/1"

#: train() warns when the final discrete test accuracy is this far below the soft one: the
#: relaxed net has not settled on hard gates, and the compiled model is the discrete one.
DISCRETE_GAP_WARNING = 0.10


class TrainingError(DlgnError, ValueError):
    """Training data or settings that cannot be used (shapes, labels, NaN, lr, ...)."""


class TrainDataTypeError(TrainingError, TypeError):
    """Training data of a type that cannot be used (not numbers, labels not integers)."""


class DeviceError(DlgnError, RuntimeError):
    """The requested device is not there (no CUDA, fewer GPUs than processes)."""


class CheckpointMismatchError(TrainingError):
    """``resume`` from a checkpoint of a different net."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during :func:`train`: it stopped after a whole step and wrote the
    checkpoint first, when it had one (``checkpoint``; None without)."""

    def __init__(self, epoch: int, step: int, checkpoint=None):
        super().__init__(f"training interrupted at epoch {epoch + 1}, step {step}"
                         + (f"; checkpoint {checkpoint} saved" if checkpoint else ""))
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint


# ---------------------------------------------------------------- input handling
def _as_arrays(data) -> tuple:
    """A Dataset, a dict, or a tuple (x_train, y_train[, x_test, y_test])."""
    if hasattr(data, "x_train"):
        return data.x_train, data.y_train, getattr(data, "x_test", None), getattr(data, "y_test", None)
    if isinstance(data, dict):
        return data["x_train"], data["y_train"], data.get("x_test"), data.get("y_test")
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):
        return tuple(data) + (None, None) * (len(data) == 2)
    raise TypeError("data must be a Dataset, a dict with x_train/y_train[/x_test/y_test] or a "
                    f"tuple (x_train, y_train[, x_test, y_test]); got {type(data).__name__}")


def _n_classes(net) -> int | None:
    cfg = getattr(net, "config", None) or {}
    n = cfg.get("n_classes") if isinstance(cfg, dict) else None
    return int(n) if n is not None else None


def _in_features(net) -> int | None:
    cfg = getattr(net, "config", None) or {}
    n = cfg.get("in_features") if isinstance(cfg, dict) else None
    return int(n) if n is not None else None


def _check_xy(net, x, y, what: str):
    """Validate and convert one split: x float32 [N, F] finite, y int64 [N] in range."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TrainDataTypeError(f"{what}: x must be a numeric array, got dtype {x.dtype}")
    if x.ndim != 2:
        raise TrainingError(f"{what}: x must be 2-D [samples, features], got shape {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise TrainingError(f"{what}: y must be 1-D with {len(x)} labels, got shape {y.shape}")
    if len(x) == 0:
        raise TrainingError(f"{what}: no samples")
    if not np.issubdtype(y.dtype, np.integer):
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise TrainDataTypeError(f"{what}: labels must be integers, got dtype {y.dtype}")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise TrainingError(f"{what}: x contains NaN or infinite values")
    nf = _in_features(net)
    if nf is not None and x.shape[1] != nf:
        raise TrainingError(f"{what}: x has {x.shape[1]} features, the net expects {nf}")
    nc = _n_classes(net)
    if y.min() < 0 or (nc is not None and y.max() >= nc):
        raise TrainingError(f"{what}: labels must lie in [0, {nc}), got [{y.min()}, {y.max()}]")
    return x, y.astype(np.int64, copy=False)


def _resolve_device(device) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' requested but CUDA is not available")
    return dev


def _can_encode(net) -> bool:
    """Whether the net's encoder is fixed and can run once up front: the net has ``encode``
    and ``forward_bits``, and the encoder (if any) has no trainable parameters."""
    enc = getattr(net, "encoder", None)
    learns = isinstance(enc, torch.nn.Module) and any(p.requires_grad for p in enc.parameters())
    return callable(getattr(net, "encode", None)) and callable(getattr(net, "forward_bits", None)) \
        and not learns


def _forward_bits(net, bits: torch.Tensor) -> torch.Tensor:
    fb = getattr(net, "forward_bits", None)
    if callable(fb):
        return fb(bits)
    raise TypeError(f"{type(net).__name__} has no forward_bits(bits): it cannot be trained on "
                    f"pre-encoded bits")


@torch.no_grad()
def _encode(net, x: np.ndarray, device, batch: int = 8192) -> torch.Tensor:
    """Encode raw features once (the encoder is fixed), in chunks, on ``device``: uint8 when
    the result is 0/1 bits (converted to the parameters' dtype per batch), else float32."""
    xt = torch.from_numpy(np.ascontiguousarray(x))
    if not _can_encode(net):
        return xt.to(device)
    bits = torch.cat([net.encode(xt[i:i + batch]) for i in range(0, len(xt), batch)])
    if bool(((bits == 0) | (bits == 1)).all()):
        bits = bits.to(torch.uint8)          # exact, and 4x smaller than float32
    else:
        bits = bits.to(torch.float32)        # no encoder: soft inputs in [0, 1] stay as they are
    return bits.to(device)


def _param_dtype(net) -> torch.dtype:
    p = next(iter(net.parameters()), None)
    return p.dtype if p is not None else torch.get_default_dtype()


def _forward(net, xb: torch.Tensor, encoded: bool) -> torch.Tensor:
    if encoded:
        xb = xb.to(_param_dtype(net))   # the stored bits are uint8
        return net(xb) if isinstance(net, _Bits) or _is_ddp(net) else _forward_bits(net, xb)
    return net(xb)


def _is_ddp(net) -> bool:
    from torch.nn.parallel import DistributedDataParallel
    return isinstance(net, DistributedDataParallel)


class _Bits(torch.nn.Module):
    """The net from its input bits on, as ``forward`` (so DDP's hooks see the call)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, bits):
        return _forward_bits(self.net, bits)


# ---------------------------------------------------------------- evaluation
@torch.no_grad()
def _accuracy(net, x: torch.Tensor, y: torch.Tensor, encoded: bool, batch: int) -> float:
    correct = 0
    for i in range(0, len(x), batch):
        s = _forward(net, x[i:i + batch], encoded)
        correct += int((s.argmax(1) == y[i:i + batch]).sum())
    return correct / max(1, len(x))


def evaluate(net, x, y, *, batch_size: int = 1024, device=None,
             discrete: str = "auto") -> dict:
    """Soft (relaxed, ``train()`` mode) and discrete accuracy of ``net`` on raw features
    ``x`` and labels ``y``. The net's mode is restored afterwards.

    ``discrete``: ``"eval"`` runs the net in ``eval()`` mode (the hard torch forward);
    ``"netlist"`` runs the reference simulator on ``net.discretize()`` over the encoded
    bits (the same function by DESIGN.md s.5, and much faster on the CPU); ``"auto"`` picks
    ``"netlist"`` when the net can discretize, else ``"eval"``."""
    x, y = _check_xy(net, x, y, "evaluate")
    module = getattr(net, "module", net)
    dev = _resolve_device(device) if device is not None else next(
        (p.device for p in module.parameters()), torch.device("cpu"))
    encoded = _can_encode(module)
    xt, yt = _encode(module, x, dev), torch.from_numpy(y).to(dev)
    return _evaluate_encoded(module, xt, yt, encoded, batch_size, discrete)


def _discrete_mode(net, encoded: bool, discrete: str) -> str:
    if discrete not in ("auto", "eval", "netlist"):
        raise ValueError(f"discrete must be 'auto', 'eval' or 'netlist', got {discrete!r}")
    can = encoded and callable(getattr(net, "discretize", None))
    if discrete == "netlist" and not can:
        raise ValueError("discrete='netlist' needs a net with encode() and discretize()")
    if discrete == "auto":
        return "netlist" if can else "eval"
    return discrete


def _evaluate_encoded(net, xt, yt, encoded, batch_size, discrete="auto") -> dict:
    mode = _discrete_mode(net, encoded, discrete)
    was_training = net.training
    try:
        net.train()
        soft = _accuracy(net, xt, yt, encoded, batch_size)
        if mode == "netlist":
            from dlgn.compiler.simulate import predict
            bits = xt.detach().cpu().numpy()
            pred = predict(net.discretize(), (bits >= 0.5).astype(np.uint8))
            hard = float((pred == yt.detach().cpu().numpy()).mean())
        else:
            net.eval()
            hard = _accuracy(net, xt, yt, encoded, batch_size)
    finally:
        net.train(was_training)
    return {"soft_acc": soft, "discrete_acc": hard}


# ---------------------------------------------------------------- checkpoints
def _rng_state() -> dict:
    np_state = np.random.get_state()
    st = {"torch": torch.get_rng_state(),
          "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
          "numpy_pos": int(np_state[2]), "numpy_has_gauss": int(np_state[3]),
          "numpy_gauss": float(np_state[4]),
          "python": [int(v) for v in random.getstate()[1]]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict):
    torch.set_rng_state(st["torch"])
    np.random.set_state(("MT19937", st["numpy_keys"].numpy().astype(np.uint32),
                         st["numpy_pos"], st["numpy_has_gauss"], st["numpy_gauss"]))
    random.setstate((3, tuple(st["python"]), None))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _atomic_save(obj, path: Path):
    """The checkpoint writer: the one atomic, durable writer (dlgn.compiler.atomic), whose
    next write also removes the temp file of a writer killed mid-write."""
    from .checkpoint import save_torch
    path.parent.mkdir(parents=True, exist_ok=True)
    save_torch(obj, path)


def load_checkpoint(path) -> dict:
    """Read a training checkpoint (``weights_only=True``: nothing in it runs) and check its
    format; raises :class:`dlgn.frontend.checkpoint.CheckpointError` (a ValueError)."""
    from .checkpoint import CheckpointError, load_torch
    ck = load_torch(Path(path), "dlgn training checkpoint", CheckpointError)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a dlgn training checkpoint ({CHECKPOINT_FORMAT})")
    for key, (typ, what) in _CK_FIELDS.items():
        v = ck.get(key)
        if not isinstance(v, typ) or isinstance(v, bool) or (key == "partial" and len(v) != 3):
            raise CheckpointError(f"{path}: field {key!r} of the checkpoint is missing or "
                                  f"not {what}")
    best = ck.get("best")
    if best is not None and not (isinstance(best, dict) and isinstance(best.get("acc"), float)
                                 and isinstance(best.get("epoch"), int)
                                 and isinstance(best.get("model", {}), dict)):
        raise CheckpointError(f"{path}: field 'best' of the checkpoint is not "
                              f"{{acc, epoch, model}}")
    return ck


_CK_FIELDS = {"model": (dict, "a dict"), "optimizer": (dict, "a dict"), "rng": (dict, "a dict"),
              "epoch": (int, "an int"), "step_in_epoch": (int, "an int"),
              "step": (int, "an int"), "seconds": ((float, int), "a number"),
              "partial": ((list, tuple), "3 numbers"), "config": (str, "a str"),
              "history": (str, "a str")}


def _config_json(net) -> str:
    """The net's config as JSON, without the seed: the seed only draws the connections and
    initial weights, which the checkpoint's state_dict restores anyway."""
    cfg = getattr(net, "config", None)
    if isinstance(cfg, dict):
        cfg = {k: v for k, v in cfg.items() if k != "seed"}
    try:
        return json.dumps(cfg, sort_keys=True, default=str)
    except TypeError:
        return "null"


# ---------------------------------------------------------------- distributed
def _dist() -> tuple[int, int]:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _free_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank, world, backend, port, fn, args):
    import torch.distributed as dist
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if backend == "gloo":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    else:
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        fn(rank, *args)
        dist.barrier()           # e.g. rank 0 still writing the model: leave together
    finally:
        dist.destroy_process_group()
    # Done and in step with the others: leave without interpreter finalization, where gloo's
    # worker threads can still be torn down and abort the process ("terminate called without
    # an active exception", SIGABRT) after the work itself succeeded.
    import gc
    gc.collect()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spawn(fn, nprocs: int, *args, backend: str | None = None):
    """Run ``fn(rank, *args)`` in ``nprocs`` processes with torch.distributed initialized
    (gloo on the CPU, nccl when ``backend="nccl"``). ``fn`` must be picklable (a module-level
    function). Raises if any process fails."""
    nprocs = int(nprocs)
    if nprocs < 1:
        raise ValueError(f"need at least one process, got {nprocs}")
    backend = backend or "gloo"
    if backend == "nccl" and torch.cuda.device_count() < nprocs:
        raise DeviceError(f"{nprocs} processes on nccl need {nprocs} GPUs, "
                           f"found {torch.cuda.device_count()}")
    import torch.multiprocessing as mp
    mp.spawn(_worker, args=(nprocs, backend, _free_port(), fn, args), nprocs=nprocs, join=True)


def init_distributed_from_env(device="cpu") -> bool:
    """Initialize torch.distributed from torchrun's environment (RANK, WORLD_SIZE, ...)
    when WORLD_SIZE > 1 and it is not initialized yet. Returns whether it is initialized."""
    import torch.distributed as dist
    if dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo")
    return True


def _barrier(world: int):
    if world > 1:
        import torch.distributed as dist
        dist.barrier()


# ---------------------------------------------------------------- training
def _split_validation(net, data, xtr, ytr, val_split, seed):
    """((x_train, y_train), (x_val, y_val) or None): ``val_split`` rows of the training set
    (a fraction, or a count), drawn by a permutation of ``seed`` and removed from it; else
    the data set's own validation split when it has one."""
    if isinstance(val_split, bool) or not isinstance(val_split, (int, float)) \
            or not math.isfinite(val_split) or val_split < 0:
        raise TrainingError(f"val_split must be a fraction in [0, 1) or a row count, got "
                            f"{val_split!r}")
    if val_split == 0:
        if isinstance(data, dict):
            xva, yva = data.get("x_val"), data.get("y_val")
        else:
            xva, yva = getattr(data, "x_val", None), getattr(data, "y_val", None)
        if xva is None or yva is None:
            return (xtr, ytr), None
        return (xtr, ytr), _check_xy(net, xva, yva, "validation")
    n_val = int(round(val_split * len(xtr))) if val_split < 1 else int(val_split)
    if not 1 <= n_val < len(xtr):
        raise TrainingError(f"val_split {val_split!r} gives {n_val} validation rows of "
                            f"{len(xtr)}: need at least one on each side")
    g = torch.Generator().manual_seed(int(seed) + 7919)
    perm = torch.randperm(len(xtr), generator=g).numpy()
    va, tr = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return (xtr[tr], ytr[tr]), (xtr[va], ytr[va])


def _param_groups(net, weight_decay: float) -> list:
    """Adam's parameter groups: no weight decay on IWP truth tables, connection logits or a
    learned head's weights."""
    free, decayed = [], []
    for module in net.modules():
        for name, p in module.named_parameters(recurse=False):
            iwp = name == "weight" and getattr(module, "parametrization", None) == "iwp"
            (free if iwp or name in ("conn_weight", "score_weight") else decayed).append(p)
    return [g for g in ({"params": free, "weight_decay": 0.0},
                        {"params": decayed, "weight_decay": weight_decay}) if g["params"]]


def adam_optimizer(net, weight_decay: float = 0.0, lr: float = 0.02):
    """Adam over :func:`_param_groups`, fused (one pass over each tensor per step instead of
    a dozen: 10x faster on a CPU for the millions of connection logits of a learned layer)
    where torch has a fused kernel for the parameters' device, else torch's default."""
    groups = _param_groups(net, weight_decay)
    devices = {p.device.type for g in groups for p in g["params"]}
    if devices <= {"cpu", "cuda"}:
        try:
            return torch.optim.Adam(groups, lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError) as e:   # a build without the kernel
            logger.debug("fused Adam unavailable (%s); using the default", e)
    return torch.optim.Adam(groups, lr=lr)


def _batch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator()
    g.manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2 ** 63))
    return torch.randperm(n, generator=g)


def _check_run_args(ck_path, saved, now: dict) -> None:
    """Refuse to resume a checkpoint written with other training settings: the run would
    silently become neither the old one nor the new one (a different batch order, learning
    rate curve, validation split or augmentation from the resumed step on).  Settings an
    older checkpoint did not record are not checked; ``epochs`` may change (to extend a run)."""
    if not isinstance(saved, dict):
        return
    for key, value in now.items():
        if key in saved and saved[key] != value:
            raise CheckpointMismatchError(
                f"{ck_path}: checkpoint of a run with {key} {saved[key]!r}, this one has "
                f"{value!r}; resume with the same training settings, or start afresh")


def _augment_key(augment) -> str | None:
    """What a checkpoint records of the augmentation: its repr (``ImageShift(shape=...,
    max_shift=1)``) without the memory addresses a plain function's or a lambda's repr has,
    which differ in every process and would refuse every resume of such a run."""
    return None if augment is None else re.sub(r" at 0x[0-9a-fA-F]+", "", repr(augment))


def _augmented(net, augment, x: np.ndarray, seed: int, epoch: int, dev) -> torch.Tensor:
    """The epoch's augmented training rows, encoded: a pure function of (seed, epoch)."""
    rng = np.random.default_rng([int(seed) % (2 ** 63), int(epoch), 0xA06])
    xa = np.asarray(augment(x, rng))
    if xa.shape != x.shape:
        raise TrainingError(f"augment returned rows of shape {xa.shape}, not {x.shape}")
    return _encode(net, xa.astype(x.dtype, copy=False), dev)


def _emit(log_to, record: dict):
    if log_to is None:
        return
    if callable(log_to):
        log_to(record)
        return
    with open(log_to, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


def train(net, data, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.01,
          device="cpu", seed: int = 0, checkpoint=None, resume: bool = False,
          eval_every: int = 1, progress: bool = True,
          log: Callable[[dict], Any] | str | os.PathLike | None = None,
          checkpoint_every: int = 0, max_steps: int | None = None,
          eval_batch_size: int = 1024, weight_decay: float = 0.0,
          eval_train: int = 0, schedule: str = "constant",
          discrete: str = "auto", val_split: float = 0.0, select_best: bool = True,
          augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
          hard_epochs: int = 0, hard_lr: float | None = None) -> dict:
    """Train ``net`` on ``data`` with Adam; returns the history dict.

    ``data``: a :class:`~dlgn.frontend.data.Dataset` (raw features, encoded by the net) or
    ``(x_train, y_train[, x_test, y_test])``. ``checkpoint``: a path written atomically at
    the end of every epoch (and every ``checkpoint_every`` steps if > 0); with ``resume``
    and an existing file, training continues from it exactly. ``max_steps`` stops after
    that many global steps (writing the checkpoint) -- an interruption on purpose.
    ``eval_every``: evaluate soft/discrete test accuracy every that many epochs (0: only at
    the end); ``eval_train`` > 0 also evaluates the first that many training rows.
    ``log``: a callable receiving each epoch's record, or a JSON-lines file path.
    ``schedule``: ``"constant"`` learning rate, or ``"cosine"`` decay from ``lr`` to 0 over
    all steps (a function of the global step, so it resumes exactly).
    ``discrete``: how discrete accuracy is measured, see :func:`evaluate`.
    ``val_split``: a fraction in (0, 1) (or a row count >= 1) of the training rows carved off
    as a validation set (a fixed permutation of ``seed``; a Dataset's own ``x_val``/``y_val``
    are used when it has them and ``val_split`` is 0).  With a validation set, every
    evaluation is on it, the test set is evaluated once, at the end, and with
    ``select_best`` the net ends with the parameters of the epoch of best discrete
    validation accuracy (the first such epoch; kept in the checkpoint, so it resumes).
    ``augment``: a callable ``(x_raw, rng) -> x_raw'`` (e.g.
    :class:`~dlgn.frontend.augment.ImageShift`) applied to the raw training rows at the start
    of every epoch, before the encoder; ``rng`` is seeded from ``seed`` and the epoch, so a
    resumed run sees the same data. Validation and test rows are never augmented.
    ``weight_decay`` never applies to IWP truth-table weights (decay pulls omega towards the
    undecided 1/2) nor to connection logits (towards the uniform mixture).
    ``hard_epochs``: the last that many epochs train with the hard estimator (every module
    whose ``estimator`` is "soft" forwards its 0/1 outputs with the relaxation's gradient),
    so that the net learns the discretized function it will be exported as; the modules
    get their own estimators back when training ends (a function of the epoch: it resumes
    exactly).
    ``hard_lr``: with ``hard_epochs``, the hard phase restarts the learning rate at this
    value: the soft epochs then run the schedule over themselves alone (cosine: down to 0
    at their end) and the hard epochs start again at ``hard_lr`` (cosine: down to 0 at the
    last step; constant: ``hard_lr`` throughout). None (default): one schedule over all
    epochs. Adam's moments carry over the restart.
    History: lists ``epoch``, ``step``, ``loss``, ``train_acc`` (running, soft),
    ``soft_acc``, ``discrete_acc`` (test; None when not evaluated), ``seconds``.
    """
    if int(epochs) < 0 or int(batch_size) < 1 or not (math.isfinite(float(lr)) and lr > 0):
        raise TrainingError(f"need epochs >= 0, batch_size >= 1, a finite lr > 0; got {epochs}, "
                         f"{batch_size}, {lr}")
    if int(eval_every) < 0 or int(eval_train) < 0 or int(checkpoint_every) < 0:
        raise TrainingError("eval_every, eval_train and checkpoint_every must be >= 0")
    if schedule not in ("constant", "cosine"):
        raise TrainingError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if augment is not None and not callable(augment):
        raise TrainingError(f"augment must be a callable (x, rng) -> x, got {augment!r}")
    if isinstance(hard_epochs, bool) or not isinstance(hard_epochs, (int, np.integer)) \
            or not 0 <= hard_epochs <= int(epochs):
        raise TrainingError(f"hard_epochs must be an int in 0..epochs ({int(epochs)}), got "
                            f"{hard_epochs!r}")
    if hard_lr is not None and not (isinstance(hard_lr, (int, float, np.floating))
                                    and not isinstance(hard_lr, bool)
                                    and math.isfinite(float(hard_lr)) and hard_lr > 0):
        raise TrainingError(f"hard_lr must be a finite number > 0 (or None), got {hard_lr!r}")
    if hard_lr is not None and not hard_epochs:
        raise TrainingError("hard_lr restarts the learning rate for the hard epochs: it needs "
                            "hard_epochs >= 1")
    rank, world = _dist()
    dev = _resolve_device(device)
    if dev.type == "cuda" and dev.index is None and world > 1:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    xtr, ytr, xte, yte = _as_arrays(data)
    xtr, ytr = _check_xy(net, xtr, ytr, "train")
    (xtr, ytr), val = _split_validation(net, data, xtr, ytr, val_split, seed)
    has_val = val is not None
    has_test = xte is not None and yte is not None
    if has_test:
        xte, yte = _check_xy(net, xte, yte, "test")
    if world > 1 and batch_size < world:
        raise TrainingError(f"batch_size {batch_size} is smaller than the world size {world}")

    # a checkpoint to resume is read and checked before any long work (encoding the data)
    ck_path = Path(checkpoint) if checkpoint else None
    run_args = {"batch_size": int(batch_size), "lr": float(lr), "seed": int(seed),
                "world_size": world, "schedule": schedule, "val_split": float(val_split),
                "augment": _augment_key(augment), "hard_epochs": int(hard_epochs),
                "hard_lr": None if hard_lr is None else float(hard_lr)}
    ck = None
    if resume and ck_path is not None and ck_path.exists():
        ck = load_checkpoint(ck_path)
        if ck.get("config") != _config_json(net):
            raise CheckpointMismatchError(f"{ck_path}: checkpoint of a different net config")
        _check_run_args(ck_path, ck.get("args"), run_args)

    net.to(dev)
    encoded = _can_encode(net)
    _discrete_mode(net, encoded, discrete)
    # with an augmentation, every epoch encodes its own shifted copy (below) instead
    Xtr = _encode(net, xtr, dev) if augment is None else None
    Ytr = torch.from_numpy(ytr).to(dev)
    if has_test:
        Xte, Yte = _encode(net, xte, dev), torch.from_numpy(yte).to(dev)
    if has_val:
        Xva, Yva = _encode(net, val[0], dev), torch.from_numpy(val[1]).to(dev)
    opt = adam_optimizer(net, float(weight_decay), float(lr))
    torch.manual_seed(seed)
    hist = {k: [] for k in ("epoch", "step", "loss", "train_acc", "soft_acc",
                            "discrete_acc", "train_soft_acc", "train_discrete_acc",
                            "val_soft_acc", "val_discrete_acc", "seconds")}
    best = {"acc": -1.0, "epoch": 0, "model": None}
    start_epoch, start_in_epoch, step, elapsed = 0, 0, 0, 0.0
    partial, loss_sum, correct, seen = None, 0.0, 0, 0
    if ck is not None:
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        _set_rng_state(ck["rng"])
        start_epoch, start_in_epoch = int(ck["epoch"]), int(ck["step_in_epoch"])
        step, elapsed = int(ck["step"]), float(ck["seconds"])
        hist = json.loads(ck["history"])
        for k in ("val_soft_acc", "val_discrete_acc"):     # a checkpoint of an older dlgn
            hist.setdefault(k, [None] * len(hist["epoch"]))
        if isinstance(ck.get("best"), dict):
            best = {"acc": float(ck["best"]["acc"]), "epoch": int(ck["best"]["epoch"]),
                    "model": ck["best"].get("model")}
        partial = (float(ck["partial"][0]), int(ck["partial"][1]), int(ck["partial"][2]))
        logger.info("resumed from %s at epoch %d, step %d", ck_path, start_epoch, step)
    elif resume and ck_path is not None:
        logger.info("no checkpoint at %s: starting fresh", ck_path)

    model = _Bits(net) if encoded else net
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        model = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    n = len(xtr)
    steps_per_epoch = math.ceil(n / batch_size)
    main = rank == 0

    def save(epoch_, in_epoch_, secs):
        if ck_path is None:
            return
        part = [float(loss_sum), int(correct), int(seen)]
        if world > 1 and in_epoch_:     # every rank calls save at the same steps
            import torch.distributed as dist
            tot = torch.tensor(part, dtype=torch.float64, device=dev)
            dist.all_reduce(tot)
            part = [float(tot[0]), int(tot[1]), int(tot[2])]
        if not main:
            return
        _atomic_save({"format": CHECKPOINT_FORMAT, "model": net.state_dict(),
                      "optimizer": opt.state_dict(), "rng": _rng_state(), "epoch": epoch_,
                      "step_in_epoch": in_epoch_, "step": step, "seconds": secs,
                      "partial": part, "best": {k: v for k, v in best.items() if v is not None},
                      "config": _config_json(net), "history": json.dumps(hist),
                      "args": run_args}, ck_path)

    stopped = False
    interrupted = _SigintFlag(enabled=world == 1)
    soft = [m for m in net.modules() if getattr(m, "estimator", None) == "soft"]
    with interrupted, _restoring_estimators(soft):
        for epoch in range(start_epoch, int(epochs)):
            t0 = time.perf_counter()
            for m in soft:
                m.estimator = "hard" if epoch >= int(epochs) - int(hard_epochs) else "soft"
            if augment is not None:
                Xtr = _augmented(net, augment, xtr, seed, epoch, dev)
            order = _batch_order(n, seed, epoch).to(dev)
            net.train()
            loss_sum, correct, seen = 0.0, 0, 0
            first = start_in_epoch if epoch == start_epoch else 0
            if first and partial is not None and main:    # global sums, restored once
                loss_sum, correct, seen = partial
            bar = range(first, steps_per_epoch)
            if progress and main:
                from tqdm.auto import tqdm
                bar = tqdm(bar, desc=f"epoch {epoch + 1}/{epochs}", leave=False,
                           total=steps_per_epoch, initial=first, dynamic_ncols=True)
            for s in bar:
                idx = order[s * batch_size:(s + 1) * batch_size]
                gsize = len(idx)
                if world > 1:
                    idx = torch.tensor_split(idx, world)[rank]
                xb, yb = Xtr.index_select(0, idx), Ytr.index_select(0, idx)
                rate = _scheduled_lr(step, steps_per_epoch, int(epochs), schedule, float(lr),
                                     int(hard_epochs), hard_lr)
                if rate is not None:
                    for g in opt.param_groups:
                        g["lr"] = rate
                scores = _forward(model, xb, encoded)
                ce = F.cross_entropy(scores, yb, reduction="sum")
                loss = ce * (world / gsize)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                loss_sum += float(ce.detach())
                correct += int((scores.detach().argmax(1) == yb).sum())
                seen += len(idx)
                if progress and main and hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{loss_sum / max(1, seen):.4f}",
                                    acc=f"{correct / max(1, seen):.3f}", refresh=False)
                at_end = s + 1 == steps_per_epoch
                if max_steps is not None and step >= int(max_steps) and not at_end:
                    save(epoch, s + 1, elapsed + time.perf_counter() - t0)
                    stopped = True
                    break
                if checkpoint_every and step % int(checkpoint_every) == 0 and not at_end:
                    save(epoch, s + 1, elapsed + time.perf_counter() - t0)
                if interrupted:         # Ctrl-C: stop after a whole step, saved first
                    if hasattr(bar, "close"):
                        bar.close()
                    save(epoch, s + 1, elapsed + time.perf_counter() - t0)
                    raise TrainingInterrupted(epoch, step, ck_path)
            if hasattr(bar, "close"):
                bar.close()
            if stopped:
                break
            epoch_secs = time.perf_counter() - t0       # training time, without evaluation
            elapsed += epoch_secs
            if world > 1:   # the epoch's loss and accuracy over all ranks' shards
                import torch.distributed as dist
                tot = torch.tensor([loss_sum, correct, seen], dtype=torch.float64, device=dev)
                dist.all_reduce(tot)
                loss_sum, correct, seen = float(tot[0]), int(tot[1]), int(tot[2])
            record = {"epoch": epoch + 1, "step": step, "loss": loss_sum / max(1, seen),
                      "train_acc": correct / max(1, seen), "soft_acc": None, "discrete_acc": None,
                      "train_soft_acc": None, "train_discrete_acc": None,
                      "val_soft_acc": None, "val_discrete_acc": None,
                      "seconds": round(elapsed, 3)}
            last = epoch + 1 == int(epochs)
            if main and (last or (eval_every and (epoch + 1) % int(eval_every) == 0)):
                if has_val:
                    r = _evaluate_encoded(net, Xva, Yva, encoded, eval_batch_size, discrete)
                    record["val_soft_acc"], record["val_discrete_acc"] = r["soft_acc"], r["discrete_acc"]
                    if select_best and r["discrete_acc"] > best["acc"]:
                        best = {"acc": r["discrete_acc"], "epoch": epoch + 1,
                                "model": {k: v.detach().cpu().clone()
                                          for k, v in net.state_dict().items()}}
                    if last and select_best and best["model"] is not None:
                        net.load_state_dict(best["model"])
                        logger.info("selected epoch %d (validation discrete accuracy %.4f)",
                                    best["epoch"], best["acc"])
                if has_test and (last or not has_val):
                    record.update(_evaluate_encoded(net, Xte, Yte, encoded, eval_batch_size,
                                                    discrete))
                if eval_train:
                    r = _evaluate_encoded(net, Xtr[:int(eval_train)], Ytr[:int(eval_train)],
                                          encoded, eval_batch_size, discrete)
                    record["train_soft_acc"], record["train_discrete_acc"] = r["soft_acc"], r["discrete_acc"]
            for k in hist:
                hist[k].append(record[k])
            if main:
                logger.info("epoch %d/%d  loss %.4f  train %.4f  %s  test soft %s  discrete %s  "
                            "(training: epoch %.1f s, total %.1f s)", epoch + 1, epochs,
                            record["loss"], record["train_acc"],
                            f"val soft {_fmt(record['val_soft_acc'])} discrete "
                            f"{_fmt(record['val_discrete_acc'])}" if has_val else "",
                            _fmt(record["soft_acc"]),
                            _fmt(record["discrete_acc"]), epoch_secs, elapsed)
                _emit(log, record)
            save(epoch + 1, 0, elapsed)
            _barrier(world)
            if interrupted:
                raise TrainingInterrupted(epoch + 1, step, ck_path)
            if max_steps is not None and step >= int(max_steps):
                stopped = True
                break
    net.train()
    hist["stopped"] = stopped
    hist["steps"] = step
    hist["best_epoch"] = best["epoch"] if best["model"] is not None else None
    if rank == 0:
        _warn_discrete_gap(hist)
    return hist


def _scheduled_lr(step: int, steps_per_epoch: int, epochs: int, schedule: str, lr: float,
                  hard_epochs: int, hard_lr: float | None) -> float | None:
    """The learning rate of global step ``step`` (None: leave the optimizer's as it is),
    a pure function of the step, so that a resumed run follows the same curve."""
    restart = hard_lr is not None and hard_epochs > 0
    if schedule != "cosine" and not restart:
        return None
    total = epochs * steps_per_epoch
    split = (epochs - hard_epochs) * steps_per_epoch if restart else total
    base, begin, length = (lr, 0, split) if step < split else (float(hard_lr), split,
                                                              total - split)
    if schedule != "cosine":
        return base
    return base * 0.5 * (1.0 + math.cos(math.pi * (step - begin) / max(1, length)))

def _fmt(v):
    return "-" if v is None else f"{v:.4f}"


@contextlib.contextmanager
def _restoring_estimators(modules):
    """Give ``modules`` their estimators back however training ends."""
    saved = [m.estimator for m in modules]
    try:
        yield
    finally:
        for m, est in zip(modules, saved):
            m.estimator = est


def _warn_discrete_gap(hist: dict) -> None:
    """Warn when the last measured discrete test accuracy is far below the soft one."""
    pairs = [(s, d) for s, d in zip(hist.get("soft_acc", []), hist.get("discrete_acc", []))
             if s is not None and d is not None]
    if pairs and pairs[-1][0] - pairs[-1][1] > DISCRETE_GAP_WARNING:
        soft, hard = pairs[-1]
        logger.warning("the discrete test accuracy %.1f %% is %.1f points below the soft "
                       "%.1f %%: the net has not settled on hard gates (and the compiled model "
                       "is the discrete one); train longer, or use the data set's preset "
                       "(dlgn train --dataset NAME without --layers/--lr/--tau)",
                       100 * hard, 100 * (soft - hard), 100 * soft)


class _SigintFlag:
    """While active (a ``with`` block in the main thread), Ctrl-C sets the flag instead of
    raising, so that training stops after a whole step with a consistent checkpoint; a
    second Ctrl-C raises at once.  Inactive (``enabled=False``, another thread, or a SIGINT
    handler that is not Python's default): a plain no-op whose flag stays False."""

    def __init__(self, enabled: bool = True):
        self.enabled, self.hit, self._old = enabled, False, None

    def __bool__(self):
        return self.hit

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True
        logger.warning("interrupted: stopping after this step (Ctrl-C again to stop now)")

    def __enter__(self):
        import signal
        import threading
        if self.enabled and threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            import signal
            signal.signal(signal.SIGINT, self._old)
            self._old = None
        return False
