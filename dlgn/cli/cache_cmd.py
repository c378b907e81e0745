"""``dlgn cache info|clear [--json] [--cache-dir DIR]``: the build cache of the C and CUDA
runtimes (:mod:`dlgn.runtime.cache`).

``info`` prints the root (and what chose it: ``--cache-dir``, ``$DLGN_CACHE_DIR``,
``$XDG_CACHE_HOME`` or the platform default), the number of builds and their size, plus
leftover temporary directories; it creates nothing.  ``clear`` removes the builds the cache
made (and its temporary directories older than an hour), each with one rename first, and
leaves anything else in the folder alone.  ``--json``: one JSON object on stdout.
"""
from __future__ import annotations

import json
import sys


def add_parser(sub):
    p = sub.add_parser("cache", help="show or clear the build cache of the C/CUDA runtimes",
                       description="Show (info) or empty (clear) the build cache that "
                                   "`dlgn predict`, `verify` and `dlgn.runtime.build` use for "
                                   "compiled C and CUDA models.")
    actions = p.add_subparsers(dest="action", metavar="ACTION",
                               help="info: where the cache is and what it holds; clear: remove its entries")
    actions.required = True
    for name, text in (("info", "print the cache root, its number of builds and their size"),
                       ("clear", "remove every build (and stale temporary directory) the "
                                 "cache made")):
        a = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        a.add_argument("--json", action="store_true", help="print one JSON object to stdout")
        a.add_argument("--cache-dir", metavar="DIR", default=None,
                       help="the cache root (default: $DLGN_CACHE_DIR, else $XDG_CACHE_HOME/"
                            "dlgn, else the platform's user cache directory)")
        a.set_defaults(func=run)
    return p


def human_bytes(n: int) -> str:
    """1234567 -> '1.2 MB' (decimal units, as du -h --si)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def run(args) -> int:
    from ..runtime import cache
    if args.action == "info":
        info = cache.cache_info(args.cache_dir)
        if args.json:
            sys.stdout.write(json.dumps(info, sort_keys=True) + "\n")
            return 0
        where = {"argument": "--cache-dir", "default": "the default"}.get(info["source"],
                                                                          "$" + info["source"])
        print(f"cache root  {info['root']}  (from {where})")
        if not info["exists"]:
            print("entries     0 (the folder does not exist yet)")
            return 0
        print(f"entries     {info['entries']} ({human_bytes(info['entry_bytes'])})")
        if info["temp_dirs"]:
            print(f"temporary   {info['temp_dirs']} ({human_bytes(info['temp_bytes'])})")
        if info["other"]:
            print(f"other       {info['other']} (not the cache's; left alone by clear)")
        print(f"total       {human_bytes(info['total_bytes'])}")
        return 0
    res = cache.clear_cache(args.cache_dir)
    if args.json:
        sys.stdout.write(json.dumps(res, sort_keys=True) + "\n")
        return 0
    if not res["exists"]:
        print(f"nothing to clear: {res['root']} does not exist")
        return 0
    what = _plural(res["removed"], "build", "builds")
    if res["removed_temp"]:
        what += f" and {_plural(res['removed_temp'], 'temporary directory', 'temporary directories')}"
    print(f"removed {what} ({human_bytes(res['freed_bytes'])}) from {res['root']}")
    for k in res["kept"]:
        print(f"kept {k['name']}: {k['why']}")
    return 0
