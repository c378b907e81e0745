"""The ``dlgn`` command: one CLI with subcommands, each in a module of its own here.

Each subcommand module defines ``add_parser(subparsers)`` (registering its arguments and
``func``) so the main parser stays a list.

Exit codes: 0 done; 1 an error (every :class:`dlgn.DlgnError`, a file that cannot be read
or written, data that does not fit the model, a tool that is missing): one line on stderr,
``dlgn CMD: error: ...`` (``-vv`` logs the traceback too); 2 a usage error (argparse's own,
or :class:`dlgn.errors.UsageError`); 130 interrupted (Ctrl-C)."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from ..errors import DlgnError, UsageError

__all__ = ["main", "build_parser", "one_line", "check_output_file", "check_output_dir",
           "SUBCOMMANDS", "USER_ERRORS", "HelpFormatter", "RawHelpFormatter"]

SUBCOMMANDS = ("train", "compile", "predict", "verify", "inspect", "demo", "cache")

#: What the command reports as one line with exit 1.  DlgnError is the project's root; the
#: built-in families stay for what the standard library, numpy and torch raise on a user's
#: files and environment (no such file, a full disk, a missing optional package, no CUDA,
#: out of memory).  TypeError is a bug, not a user error: it keeps its traceback.
USER_ERRORS = (DlgnError, OSError, ValueError, ImportError, RuntimeError, MemoryError)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default (argparse's default-showing formatter) but not
    "(default: None)" for options without one, nor for flags."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is None or action.default is False \
                or action.default is argparse.SUPPRESS or "%(default)" in text \
                or "default:" in text or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


class RawHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`HelpFormatter` that keeps the description's and epilog's line breaks."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    p = argparse.ArgumentParser(prog="dlgn", formatter_class=HelpFormatter,
                                description="Train Light Differentiable Logic Gate Networks "
                                            "and compile them to C, Verilog and CUDA.")
    p.add_argument("--version", action="version", version=f"dlgn {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="more logging (-vv: debug, with the traceback of an error)")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND",
                           help="the command to run; dlgn COMMAND --help for its options")
    sub.required = True
    for name in SUBCOMMANDS:
        importlib.import_module(f"dlgn.cli.{name}_cmd").add_parser(sub)
    for cmd in sub.choices.values():       # every subcommand's --help shows the defaults
        if cmd.formatter_class is argparse.HelpFormatter:
            cmd.formatter_class = HelpFormatter
    return p


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def one_line(e: BaseException) -> str:
    """An exception's message as the one line the CLI prints: its first non-empty line
    without terminal escape codes (the whole message is in the -vv debug log), with the
    file name of an OSError that does not mention it."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(e)).splitlines() if ln.strip()]
    text = lines[0] if lines else type(e).__name__
    if isinstance(e, OSError) and e.filename is not None and str(e.filename) not in text:
        text = f"{e.filename}: {text}"
    if len(lines) > 1:
        text += " (-vv shows the whole message)"
    return text


def check_output_file(path, what: str, *, append: bool = False) -> Path:
    """Check, before any work, that ``path`` can be written as a file: it is not a folder,
    its folder exists or can be made (it is made), and a file can be created there (tried
    with a temporary file, which is removed).  ``append``: an existing file is kept and must
    be writable.  Raises :class:`DlgnError` naming ``what`` (the option)."""
    p = Path(path)
    if str(path).endswith(("/", os.sep)) or p.is_dir():
        raise DlgnError(f"{what} {path}: is a directory; give a file name")
    _writable_dir(p.parent, what, path, f".{p.name}.", p if append and p.exists() else None)
    return p


def check_output_dir(path, what: str) -> Path:
    """Like :func:`check_output_file` for a folder the command fills: made now (with its
    parents) and tried with a temporary file."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise DlgnError(f"{what} {path}: exists and is not a directory")
    _writable_dir(p, what, path, ".dlgn.")
    return p


def _writable_dir(d: Path, what: str, path, probe_prefix: str, append_to=None) -> None:
    """Make folder ``d`` (with its parents) and show it takes a new file, or that
    ``append_to`` opens for appending; a file in the way or no permission is a
    :class:`DlgnError` about ``what`` ``path``."""
    for up in (d, *d.parents):
        if up.exists():
            if not up.is_dir():
                raise DlgnError(f"{what} {path}: {up} is a file, not a directory")
            break
    try:
        d.mkdir(parents=True, exist_ok=True)
        if append_to is not None:
            with open(append_to, "a"):
                pass
        else:
            fd, tmp = tempfile.mkstemp(dir=d, prefix=probe_prefix, suffix=".probe")
            os.close(fd)
            os.unlink(tmp)
    except OSError as e:
        raise DlgnError(f"{what} {path}: cannot write there ({e.strerror or e})") from None


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:          # argparse: usage error (2), --help or --version (0)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    args.argv = argv          # what was asked, e.g. for train's "resume with: ..." hint
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    log = logging.getLogger("dlgn")
    try:
        rc = args.func(args)
    except UsageError as e:
        log.debug("usage error", exc_info=True)
        print(f"dlgn {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        log.debug("interrupted", exc_info=True)
        why = f": {one_line(e)}" if str(e).strip() else ""
        print(f"dlgn {args.command}: interrupted{why}", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        log.debug("error", exc_info=True)
        print(f"dlgn {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 1
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
