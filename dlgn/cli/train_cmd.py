"""``dlgn train --dataset NAME ... -o model.pt``: build a LogicNet with the data set's
recommended encoder, train it (optionally on N processes with DDP) and save it with its
encoder, so that ``dlgn compile model.pt`` works."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger("dlgn.train")

__all__ = ["add_parser", "run", "parse_layers", "build_net"]


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
            raise ValueError(f"bad --layers {text!r}: use e.g. 4x8000 or 8000,8000") from None
    if not out or any(w < 1 for w in out):
        raise ValueError(f"bad --layers {text!r}: need at least one layer of >= 1 gates")
    return out


def add_parser(sub):
    p = sub.add_parser("train", help="train a logic gate network on a data set",
                       description="Train a Light DLGN on an offline data set and save it "
                                   "(weights, connections and input encoder) to -o.")
    p.add_argument("--dataset", required=True, help="mnist, fashion-mnist, adult, "
                   "breast-cancer, digits, monk1/2/3, cifar10, cifar100")
    p.add_argument("--root", help="data directory (CIFAR)")
    p.add_argument("--limit", type=int, help="use only the first N training (and test) rows")
    p.add_argument("--bits", type=int, help="thermometer bits per feature (overrides the "
                   "data set's recommended encoding)")
    p.add_argument("--layers", default="4x8000", help="e.g. 4x8000 or 8000,8000,4000")
    p.add_argument("--arity", type=int, default=2)
    p.add_argument("--parametrization", default="iwp", choices=["iwp", "op"])
    p.add_argument("--init", default="residual", choices=["residual", "gaussian"])
    p.add_argument("--connections", default="random", choices=["random", "unique"])
    p.add_argument("--phi", default="sigmoid", choices=["sigmoid", "sin"])
    p.add_argument("--tau", type=float, default=10.0)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256, help="global batch size")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--devices", type=int, default=1,
                   help="train on N processes with DistributedDataParallel (gloo on the CPU, "
                        "nccl on CUDA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads per process (0: torch's default; with --devices N "
                        "on the CPU: cores / N)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="parameter and activation precision for training")
    p.add_argument("--checkpoint", help="checkpoint file, written every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--eval-every", type=int, default=1)
    p.add_argument("--log", help="append each epoch's metrics to this JSON-lines file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-o", "--output", required=True, help="model file (.pt)")
    p.set_defaults(func=run)
    return p


def build_net(args, data):
    """The LogicNet for ``args`` (argparse namespace) and a loaded Dataset."""
    from ..frontend.data import make_encoder
    from ..frontend.net import LogicNet
    spec = dict(data.encoder)
    if args.bits is not None:
        if args.bits < 1:
            raise ValueError(f"--bits must be >= 1, got {args.bits}")
        if spec.get("kind") == "thermometer":
            spec["n_bits"] = args.bits
        elif spec.get("kind") == "mixed":
            spec["numeric"] = dict(spec.get("numeric", {}), n_bits=args.bits)
        else:
            raise ValueError(f"--bits does not apply to {data.name}'s "
                             f"{spec.get('kind')} encoding")
    encoder = make_encoder(data, spec)
    net = LogicNet(data.n_features, layers=parse_layers(args.layers),
                   n_classes=data.n_classes, arity=args.arity,
                   parametrization=args.parametrization, init=args.init, tau=args.tau,
                   connections=args.connections, phi=args.phi, encoder=encoder,
                   seed=args.seed)
    if getattr(args, "dtype", "float32") == "float64":
        net = net.double()
    return net


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
    data = _load(args)
    net = build_net(args, data)
    if rank == 0:
        n_gates = sum(parse_layers(args.layers))
        log.info("%s: %d train / %d test rows, %d features -> %d gates in %d layers",
                 data.name, len(data.x_train), len(data.x_test), data.n_features, n_gates,
                 len(parse_layers(args.layers)))
    hist = train(net, data, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 device=args.device, seed=args.seed, checkpoint=args.checkpoint,
                 resume=args.resume, eval_every=args.eval_every,
                 progress=not args.no_progress and rank == 0, log=args.log)
    if rank == 0:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        final = {k: hist[k][-1] for k in ("soft_acc", "discrete_acc", "loss") if hist[k]}
        save_model(net.cpu(), out, dataset=data.name, history=json.dumps(hist))
        log.info("saved %s: test soft %.4f, discrete %.4f", out,
                 final.get("soft_acc") or 0.0, final.get("discrete_acc") or 0.0)
    return hist


def _spawned(rank: int, args):
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(message)s")
    _train_and_save(rank, args)


def run(args) -> int:
    if args.resume and not args.checkpoint:
        raise ValueError("--resume needs --checkpoint")
    if args.devices < 1:
        raise ValueError(f"--devices must be >= 1, got {args.devices}")
    parse_layers(args.layers)
    if args.devices > 1:
        from ..frontend.train import spawn
        cuda = args.device.startswith("cuda")
        spawn(_spawned, args.devices, args, backend="nccl" if cuda else "gloo")
        return 0
    rank = int(os.environ.get("RANK", "0"))
    _train_and_save(rank, args)
    return 0
