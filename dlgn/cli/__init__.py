"""The ``dlgn`` command: one CLI with subcommands, each in a module of its own here.

Each subcommand module defines ``add_parser(subparsers)`` (registering its arguments and
``func``) so the main parser stays a list."""
from __future__ import annotations

import argparse
import importlib
import logging
import pickle
import sys

__all__ = ["main", "SUBCOMMANDS"]

SUBCOMMANDS = ("train", "compile", "predict", "verify", "inspect", "demo")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dlgn", description="Train Light Differentiable Logic "
                                "Gate Networks and compile them to C, Verilog and CUDA.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"dlgn.cli.{name}_cmd").add_parser(sub)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    try:
        rc = args.func(args)
    except (ValueError, TypeError, ImportError, RuntimeError, OSError,
            pickle.UnpicklingError, EOFError) as e:
        # the project's errors are ValueError/RuntimeError subclasses (NetlistFormatError,
        # ModelFileError, CheckpointError, DatasetError, CacheError, ...); a refused or
        # damaged pickle that some reader did not wrap still ends in this one line
        logging.getLogger("dlgn").debug("error", exc_info=True)
        print(f"dlgn {args.command}: error: {e}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
