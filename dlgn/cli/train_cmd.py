"""``dlgn train --dataset NAME ... -o model.pt``: build a LogicNet with the data set's
recommended encoder and training recipe (:data:`dlgn.frontend.data.PRESETS`; every option
given on the command line overrides it), train it (optionally on N processes with DDP) and
save it with its encoder, so that ``dlgn compile model.pt`` works.

Every output path (``-o``, ``--checkpoint``, ``--log``) is checked before the data is
loaded, so a run is never lost to a path that cannot be written at its end.  Ctrl-C stops
at the next step: the checkpoint (when ``--checkpoint`` was given) is written first and the
command says how to resume."""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shlex
from pathlib import Path

from ..errors import UsageError
from . import check_output_file

log = logging.getLogger("dlgn.train")

__all__ = ["add_parser", "run", "parse_layers", "build_net", "resolve_preset", "augmentation"]

#: The options a preset fills in when they are not given (argparse default None), and the
#: value each takes when the preset does not say.
PRESET_DEFAULTS = {"layers": None, "epochs": None, "batch_size": None, "lr": None, "tau": None,
                   "schedule": "constant", "arity": 2, "connections": "random",
                   "candidates": 8, "selection": "hard", "estimator": "soft", "bits": None,
                   "crop": None, "learn_thresholds": False, "aligned": False,
                   "code": "unary",
                   "val_split": 0.0, "shift": 0, "flip": False, "hard_epochs": 0,
                   "hard_lr": None,
                   "conv": None, "image": None, "init_z": None, "head_weights": 0}
PRESET_OPTIONS = tuple(PRESET_DEFAULTS)


def parse_layers(text: str) -> list[int]:
    """``"4x8000"`` -> [8000]*4; ``"8000,8000,4000"`` -> that list; mixtures like
    ``"2x8000,4000"`` work too."""
    out = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "x" in part:
                n, w = part.split("x", 1)
                out += [int(w)] * int(n)
            else:
                out.append(int(part))
        except ValueError:
            raise UsageError(f"bad --layers {text!r}: use e.g. 4x8000 or 8000,8000") from None
    if not out or any(w < 1 for w in out):
        raise UsageError(f"bad --layers {text!r}: need at least one layer of >= 1 gates")
    return out


# ---------------------------------------------------------------- argparse types
def _int_at_least(lo: int):
    def check(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {v}")
        return v
    check.__name__ = f"int >= {lo}"
    return check


def positive_float(text):
    """A finite float > 0 (no inf, nan, 0 or negative: --lr inf trains NaN weights)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def _layers_text(text):
    try:
        parse_layers(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _dataset_name(text):
    from ..frontend.data import DATASETS
    key = str(text).lower().replace("_", "-")
    if key not in DATASETS:
        raise argparse.ArgumentTypeError(f"unknown data set {text!r}; known: "
                                         f"{', '.join(DATASETS)}")
    return key


def _head_weight(text):
    from ..frontend.head import MAX_HEAD_WEIGHT
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= v <= MAX_HEAD_WEIGHT:
        raise argparse.ArgumentTypeError(f"must be 0..{MAX_HEAD_WEIGHT}, got {v}")
    return v


def _fraction(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and 0 <= v < 1):
        raise argparse.ArgumentTypeError(f"must be a fraction in [0, 1), got {text}")
    return v


def _candidates(text):
    try:
        vals = [0 if v.strip() == "all" else int(v) for v in str(text).split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number or numbers like 64,8,8 "
                                         f"(all: every input)") from None
    if any(not 0 <= v <= 1024 for v in vals):
        raise argparse.ArgumentTypeError(f"candidates must be 1..1024 or all (0), got {text}")
    return vals[0] if len(vals) == 1 else vals


positive_int = _int_at_least(1)
nonneg_int = _int_at_least(0)


def add_parser(sub):
    from ..frontend.data import DATASETS, PRESETS
    from . import RawHelpFormatter
    width = max(map(len, PRESETS))
    recipes = "\n".join(f"  {k:<{width}}  {_describe(v)}" for k, v in PRESETS.items())
    p = sub.add_parser(
        "train", help="train a logic gate network on a data set",
        formatter_class=RawHelpFormatter,
        description="Train a Light DLGN on an offline data set and save it (weights,\n"
                    "connections and input encoder) to -o.  The network and the training\n"
                    "recipe come from the data set's preset, measured to give a good\n"
                    "discrete model; each option given here overrides its part.",
        epilog=f"presets (--preset NAME; default: the --dataset's own):\n{recipes}")
    p.add_argument("--dataset", type=_dataset_name, default=None,
                   help=f"one of: {', '.join(DATASETS)} (default: the --preset's)")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS), metavar="NAME",
                   help="training recipe (network, encoding, epochs, batch size, lr, tau, "
                        "schedule; see below) (default: the --dataset's own)")
    p.add_argument("--root", help="data directory (CIFAR; Fashion-MNIST elsewhere than the "
                                  "Debian package's)")
    p.add_argument("--limit", type=positive_int,
                   help="use only the first N training (and test) rows (default: all)")
    p.add_argument("--bits", type=positive_int, help="thermometer bits per numeric feature "
                   "(default: the preset's, else the data set's recommended encoding)")
    p.add_argument("--crop", type=positive_int, default=None,
                   help="read only the central N x N pixels of image rows (default: preset, "
                        "else the whole image)")
    p.add_argument("--learn-thresholds", action="store_const", const=True, default=None,
                   help="train the thermometer thresholds with the net (default: preset)")
    p.add_argument("--aligned-thresholds", dest="aligned", action="store_const", const=True,
                   default=None,
                   help="put the thermometer thresholds halfway between the raw integer "
                        "levels, at fractions 1/(bits+1) of the next power of two, so a "
                        "hardware encoder compares only the top bits (8-bit pixels, 3 bits: "
                        "q >= 64, 128, 192) (default: preset)")
    p.add_argument("--binary-code", dest="code", action="store_const", const="binary",
                   default=None,
                   help="give each feature 2**bits - 1 thresholds and write its level as "
                        "bits binary digits instead of bits thermometer bits; with "
                        "--aligned-thresholds on 8-bit pixels the digits are the pixel's "
                        "top bits themselves, an encoder of no LUTs (default: preset)")
    p.add_argument("--layers", type=_layers_text, default=None,
                   help="gates per layer, e.g. 4x8000 or 8000,8000,4000 (default: preset)")
    p.add_argument("--arity", type=positive_int, default=None,
                   help="inputs per gate (1-6) (default: preset, else 2)")
    p.add_argument("--parametrization", default="iwp", choices=["iwp", "op"],
                   help="iwp: 2^arity input-wise parameters per gate; op: 16 gate logits")
    p.add_argument("--init", default="residual", choices=["residual", "gaussian"],
                   help="initial weights (residual: near the pass-through gate)")
    p.add_argument("--connections", default=None, choices=["random", "unique", "learned"],
                   help="how each gate's inputs are drawn from the layer before; learned: "
                        "each input learns which of --candidates sources to read "
                        "(default: preset, else random)")
    p.add_argument("--candidates", type=_candidates, default=None,
                   help="candidate sources per gate input of learned connections: one number, "
                        "or one per layer (e.g. all,8,8; all or 0: every input of the layer) "
                        "(default: preset, else 8)")
    p.add_argument("--selection", default=None, choices=["soft", "hard", "gumbel"],
                   help="how a learned connection forwards in training: the softmax "
                        "mixture, the arg-max candidate (straight-through), or Gumbel-max "
                        "(default: preset, else hard)")
    p.add_argument("--estimator", default=None, choices=["soft", "hard", "gumbel"],
                   help="how a gate forwards in training: relaxed, thresholded "
                        "(straight-through) or Gumbel-perturbed and thresholded "
                        "(default: preset, else soft)")
    p.add_argument("--hard-epochs", type=nonneg_int, default=None, metavar="N",
                   help="train the last N epochs with the hard estimator (0/1 outputs, the "
                        "relaxation's gradient), so that the net learns the function it is "
                        "exported as (default: preset, else 0)")
    p.add_argument("--hard-lr", type=positive_float, default=None, metavar="LR",
                   help="restart the learning rate at LR for the hard epochs: the soft "
                        "epochs run the schedule over themselves alone, the hard ones start "
                        "again at LR (default: preset, else one schedule over all epochs)")
    p.add_argument("--head-weights", type=_head_weight, default=None, metavar="W",
                   help="learn an integer weight in 0..W for every output bit of the last "
                        "layer (a class's score is the weighted count; weight 0 drops the "
                        "output); 1..15 (default: preset, else 0: the plain GroupSum)")
    p.add_argument("--shift", type=nonneg_int, default=None, metavar="N",
                   help="augment image data: every epoch, shift each training image by a "
                        "random offset of up to N pixels in each direction (validation and "
                        "test images stay as they are) (default: preset, else 0: none)")
    p.add_argument("--flip", action="store_const", const=True, default=None,
                   help="augment image data: every epoch, mirror each training image left "
                        "to right with probability 1/2 (for images whose classes survive "
                        "the mirror, e.g. Fashion-MNIST; not digits) (default: preset, else "
                        "none)")
    p.add_argument("--val-split", type=_fraction, default=None,
                   help="fraction of the training rows held out for model selection: the "
                        "epoch of best validation accuracy is kept and the test set is "
                        "evaluated once, at the end (default: preset, else 0: none)")
    p.add_argument("--phi", default="sigmoid", choices=["sigmoid", "sin"],
                   help="the relaxation of the IWP parameters")
    p.add_argument("--tau", type=positive_float, default=None,
                   help="GroupSum temperature (default: preset)")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="passes over the training set (default: preset)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="global batch size (default: preset)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="Adam learning rate (default: preset)")
    p.add_argument("--schedule", choices=["constant", "cosine"], default=None,
                   help="learning-rate schedule (default: preset)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    p.add_argument("--devices", type=positive_int, default=1,
                   help="train on N processes with DistributedDataParallel (gloo on the CPU, "
                        "nccl on CUDA)")
    p.add_argument("--seed", type=int, default=0, help="connections, weights, batch order")
    p.add_argument("--threads", type=nonneg_int, default=0,
                   help="torch CPU threads per process (0: torch's default; with --devices N "
                        "on the CPU: cores / N)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="parameter and activation precision for training")
    p.add_argument("--system-malloc", dest="system_malloc", action="store_true",
                   help="leave glibc's malloc as it is (by default freed memory stays in the "
                        "heap: a conv step ran 1.4-1.6x faster, at a higher "
                        "peak memory)")
    p.add_argument("--checkpoint", help="checkpoint file, written every epoch and on Ctrl-C "
                                        "(default: none)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--eval-every", type=nonneg_int, default=1,
                   help="evaluate test accuracy every N epochs (0: only after the last)")
    p.add_argument("--log", help="append each epoch's metrics to this JSON-lines file "
                                 "(default: none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-o", "--output", required=True, help="model file to write (.pt)")
    p.set_defaults(func=run)
    return p


def _describe(recipe: dict) -> str:
    parts = [f"{recipe['layers']}"]
    if recipe.get("arity", 2) != 2:
        parts.append(f"{recipe['arity']}-input gates")
    if recipe.get("connections", "random") != "random":
        ks = recipe.get("candidates", 8)
        ks = ",".join("all" if k == 0 else str(k) for k in (ks if isinstance(ks, list) else [ks]))
        parts.append(f"{recipe['connections']} connections"
                     + (f" (K={ks})" if recipe["connections"] == "learned" else ""))
    if recipe.get("estimator", "soft") != "soft":
        parts.append(f"{recipe['estimator']} gates")
    if recipe.get("hard_epochs"):
        n = recipe["hard_epochs"]
        parts.append(f"hard gates in the last {n} epoch{'s' if n > 1 else ''}"
                     + (f" (lr restarted at {recipe['hard_lr']:g})"
                        if recipe.get("hard_lr") is not None else ""))
    if recipe.get("crop"):
        parts.append(f"{recipe['crop']}x{recipe['crop']} crop")
    binary = recipe.get("code", "unary") == "binary"
    if recipe.get("bits") or recipe.get("learn_thresholds") or recipe.get("aligned") or binary:
        parts.append(f"{recipe.get('bits') or 'default'}-bit "
                     + ("learned " if recipe.get("learn_thresholds") else "")
                     + ("aligned " if recipe.get("aligned") else "")
                     + ("binary-coded " if binary else "") + "thermometer")
    parts.append(f"{recipe['epochs']} epochs, batch {recipe['batch_size']}, "
                 f"lr {recipe['lr']:g}, tau {recipe['tau']:g}")
    if recipe.get("schedule", "constant") != "constant":
        parts.append(recipe["schedule"])
    if recipe.get("head_weights"):
        parts.append(f"head weights 0..{recipe['head_weights']}")
    if recipe.get("shift"):
        parts.append(f"shifts of up to {recipe['shift']} px")
    if recipe.get("flip"):
        parts.append("horizontal flips")
    if recipe.get("val_split"):
        parts.append(f"validation {recipe['val_split']:g}")
    return (f"{recipe['dataset']}: " if recipe.get("dataset") else "") + ", ".join(parts)


def resolve_preset(args) -> dict:
    """Fill the options left at None from the preset (``--preset``, else the data set's
    own); returns the recipe used."""
    from ..frontend.data import PRESETS
    if args.preset is None and args.dataset is None:
        raise UsageError("give --dataset NAME or --preset NAME")
    name = args.preset or args.dataset
    recipe = dict(PRESETS[name])
    own = recipe.get("dataset", name)
    if args.dataset is None:
        args.dataset = own
    elif args.preset is not None and args.dataset != own:
        raise UsageError(f"preset {name} is a recipe for {own}, not for --dataset "
                         f"{args.dataset}")
    for key in PRESET_OPTIONS:
        if getattr(args, key, None) is None:
            setattr(args, key, recipe.get(key, PRESET_DEFAULTS[key]))
    return {"name": name, "dataset": args.dataset,
            **{k: getattr(args, k) for k in PRESET_OPTIONS}}


def build_net(args, data):
    """The LogicNet for ``args`` (argparse namespace) and a loaded Dataset."""
    from ..frontend.data import make_encoder
    from ..frontend.net import LogicNet
    spec = dict(data.encoder)
    if args.bits is not None:
        if args.bits < 1:
            raise UsageError(f"--bits must be >= 1, got {args.bits}")
        if spec.get("kind") == "thermometer":
            spec["n_bits"] = args.bits
        elif spec.get("kind") == "mixed":
            spec["numeric"] = dict(spec.get("numeric", {}), n_bits=args.bits)
        else:
            raise UsageError(f"--bits does not apply to {data.name}'s "
                             f"{spec.get('kind')} encoding")
    aligned = bool(getattr(args, "aligned", False))
    code = getattr(args, "code", None) or "unary"
    if args.crop or args.learn_thresholds or aligned or code != "unary":
        if spec.get("kind") != "thermometer":
            raise UsageError(f"--crop, --learn-thresholds, --aligned-thresholds and "
                             f"--binary-code apply to a thermometer encoding, not to "
                             f"{data.name}'s {spec.get('kind')}")
        if aligned and args.learn_thresholds:
            raise UsageError("--aligned-thresholds fixes the thresholds; it cannot be combined "
                             "with --learn-thresholds")
        if code == "binary" and args.learn_thresholds:
            raise UsageError("--binary-code thresholds cannot be learned; drop "
                             "--learn-thresholds")
        from ..compiler.encoding import MAX_BINARY_BITS
        if code == "binary" and int(spec.get("n_bits", 1)) > MAX_BINARY_BITS:
            raise UsageError(f"--binary-code takes at most {MAX_BINARY_BITS} bits a feature, "
                             f"got {spec.get('n_bits')}")
        spec.update(crop=args.crop, learnable=bool(args.learn_thresholds), aligned=aligned,
                    code=code)
    encoder = make_encoder(data, spec)
    conv = getattr(args, "conv", None)
    if conv:                    # a convolutional recipe (a preset's "conv" blocks)
        from ..frontend.convnet import ConvLogicNet
        image = getattr(args, "image", None) or _image_shape(data.n_features)
        if args.crop:
            image = [image[0], int(args.crop), int(args.crop)]
        net = ConvLogicNet(encoder.n_raw_features if args.crop else data.n_features,
                           image, conv, layers=parse_layers(args.layers) if args.layers else [],
                           n_classes=data.n_classes, arity=args.arity,
                           parametrization=args.parametrization, init=args.init, tau=args.tau,
                           connections=args.connections, phi=args.phi, encoder=encoder,
                           seed=args.seed, candidates=args.candidates,
                           selection=args.selection, estimator=args.estimator,
                           init_z=getattr(args, "init_z", None),
                           head_weights=getattr(args, "head_weights", 0) or 0)
        return net.double() if getattr(args, "dtype", "float32") == "float64" else net
    net = LogicNet(data.n_features, layers=parse_layers(args.layers),
                   n_classes=data.n_classes, arity=args.arity,
                   parametrization=args.parametrization, init=args.init, tau=args.tau,
                   connections=args.connections, phi=args.phi, encoder=encoder,
                   seed=args.seed, candidates=args.candidates, selection=args.selection,
                   estimator=args.estimator,
                   head_weights=getattr(args, "head_weights", 0) or 0)
    if getattr(args, "dtype", "float32") == "float64":
        net = net.double()
    return net


def augmentation(args, data):
    """The training-data augmentation ``--shift`` and ``--flip`` ask for (None: none; both:
    the shift, then the flip); a usage error before any training when the data are not
    images or the shift does not fit them."""
    shift, flip = getattr(args, "shift", 0), getattr(args, "flip", False)
    if not shift and not flip:
        return None
    from ..frontend.augment import AugmentError, Compose, ImageFlip, ImageShift, image_shape
    try:
        shape = image_shape(data.n_features)
        augs = ([ImageShift(shape, int(shift))] if shift else []) + \
            ([ImageFlip(shape)] if flip else [])
    except AugmentError as e:
        what = " ".join(([f"--shift {shift}"] if shift else []) + (["--flip"] if flip else []))
        raise UsageError(f"{what}: {e}") from None
    return augs[0] if len(augs) == 1 else Compose(augs)


def _image_shape(n_features: int) -> list[int]:
    """(C, H, W) of a square image data set's rows (1 or 3 channels)."""
    from ..frontend.augment import AugmentError, image_shape
    try:
        return list(image_shape(n_features))
    except AugmentError as e:
        raise UsageError(f"a convolutional recipe needs image rows: {e}") from None


def _load(args):
    from ..frontend.data import load_dataset
    kw = {"root": args.root} if args.root else {}
    return load_dataset(args.dataset, limit=args.limit, **kw)


def _train_and_save(rank: int, args) -> dict:
    import torch
    import torch.distributed as dist

    from ..frontend.train import init_distributed_from_env
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not getattr(args, "system_malloc", False):
        from ..frontend.heap import retain_freed_memory
        retain_freed_memory()
    own_group = not dist.is_initialized() and init_distributed_from_env(args.device)
    try:
        hist = _train_rank(rank, args)
        if own_group:            # torchrun: wait for rank 0's save, then leave together
            dist.barrier()
        return hist
    finally:
        if own_group:
            dist.destroy_process_group()


def _train_rank(rank: int, args) -> dict:
    from ..frontend.checkpoint import save_model
    from ..frontend.train import train
    resolve_preset(args)          # idempotent: also for callers that skip run()
    data = _load(args)
    augment = augmentation(args, data)
    net = build_net(args, data)
    if rank == 0:
        widths = parse_layers(args.layers)
        convs = len(args.conv or [])
        log.info("%s: %d train / %d test rows, %d features -> %d input bits -> %d gates in "
                 "%s%d layers", data.name, len(data.x_train), len(data.x_test), data.n_features,
                 net.n_inputs, net.n_gates, f"{convs} conv blocks and " if convs else "",
                 len(widths))
    hist = train(net, data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 device=args.device, seed=args.seed, checkpoint=args.checkpoint,
                 resume=args.resume, eval_every=args.eval_every, schedule=args.schedule,
                 progress=not args.no_progress and rank == 0, log=args.log,
                 val_split=args.val_split, augment=augment, hard_epochs=args.hard_epochs,
                 hard_lr=args.hard_lr)
    if rank == 0:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        recipe = dict(resolve_preset(args), seed=int(args.seed))
        save_model(net.cpu(), out, dataset=data.name, history=json.dumps(hist),
                   recipe=json.dumps(recipe, sort_keys=True))
        log.info("saved %s: test accuracy soft %s, discrete %s", out,
                 _last(hist, "soft_acc"), _last(hist, "discrete_acc"))
    return hist


def _last(hist: dict, key: str) -> str:
    """The last measured value of ``key`` as a percentage, or "not measured"."""
    vals = [v for v in hist.get(key, []) if v is not None]
    return f"{100 * vals[-1]:.2f} %" if vals else "not measured"


def _spawned(rank: int, args):
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(message)s")
    _train_and_save(rank, args)


def check_outputs(args) -> None:
    """Every path the run writes, checked (and its folder created) before any work."""
    paths = {"-o": args.output, "--checkpoint": args.checkpoint, "--log": args.log}
    given = {k: Path(v).resolve() for k, v in paths.items() if v}
    seen = {}
    for opt, p in given.items():
        if p in seen:
            raise UsageError(f"{opt} and {seen[p]} name the same file {paths[opt]}")
        seen[p] = opt
    check_output_file(args.output, "-o")
    if args.log:
        check_output_file(args.log, "--log", append=True)
    if args.checkpoint:
        check_output_file(args.checkpoint, "--checkpoint")


def _resume_hint(args) -> str:
    argv = list(getattr(args, "argv", None) or [])
    if "train" in argv:
        return shlex.join(["dlgn", *argv] + ([] if "--resume" in argv else ["--resume"]))
    return f"the same dlgn train command with --checkpoint {args.checkpoint} --resume"


def run(args) -> int:
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint")
    recipe = resolve_preset(args)
    if args.arity > 6:
        raise UsageError(f"--arity must be 1..6, got {args.arity}")
    if args.hard_epochs > args.epochs:
        raise UsageError(f"--hard-epochs {args.hard_epochs} is more than the "
                         f"{args.epochs} epochs (hard_epochs must be 0..epochs)")
    if args.hard_lr is not None and not args.hard_epochs:
        raise UsageError("--hard-lr restarts the learning rate for the hard epochs: it needs "
                         "--hard-epochs N (N >= 1)")
    parse_layers(args.layers)
    check_outputs(args)
    log.info("recipe (preset %s; options given here override it): %s", recipe["name"],
             _describe(recipe))
    try:
        if args.devices > 1:
            from ..frontend.train import spawn
            cuda = args.device.startswith("cuda")
            spawn(_spawned, args.devices, args, backend="nccl" if cuda else "gloo")
            return 0
        rank = int(os.environ.get("RANK", "0"))
        _train_and_save(rank, args)
    except KeyboardInterrupt as e:
        from ..frontend.train import TrainingInterrupted
        where = f" at epoch {e.epoch + 1}, step {e.step}" \
            if isinstance(e, TrainingInterrupted) else ""
        if isinstance(e, TrainingInterrupted) and e.checkpoint is not None:
            raise KeyboardInterrupt(f"stopped{where}; checkpoint {e.checkpoint} saved; resume "
                                    f"with: {_resume_hint(args)}") from None
        if args.checkpoint and Path(args.checkpoint).is_file():   # e.g. DDP: the last epoch's
            raise KeyboardInterrupt(f"stopped; the last checkpoint {args.checkpoint} is kept; "
                                    f"resume with: {_resume_hint(args)}") from None
        raise KeyboardInterrupt(f"stopped{where}; nothing saved (--checkpoint FILE keeps an "
                                "interrupted run resumable)") from None
    return 0
