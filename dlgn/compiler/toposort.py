"""Ordering named signal definitions, dependencies first: what the netlist readers (BLIF,
Verilog) need to number gates topologically.  Iterative, so deep nets do not recurse."""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, Iterator

__all__ = ["dependencies_first"]


def dependencies_first(roots: Iterable[Hashable], known, deps: Callable[[Hashable], Iterable],
                       loop_error: Callable[[Hashable], Exception]) -> Iterator:
    """Yield every signal reachable from ``roots`` and not in ``known``, each one after all
    the signals it reads (a post-order depth-first walk).

    ``known`` (a dict or set) is read lazily: the caller adds each yielded signal to it
    before the next one is asked for.  ``deps(s)`` lists what ``s`` reads (and raises for a
    signal that is never defined); a loop raises ``loop_error(signal)``."""
    expanded: set = set()
    for root in roots:
        stack = [root]
        while stack:
            s = stack[-1]
            if s in known:
                stack.pop()
                continue
            if s not in expanded:   # first visit: push what it reads
                expanded.add(s)
                for x in deps(s):
                    if x not in known:
                        if x in expanded:   # expanded, unfinished: an ancestor of s
                            raise loop_error(x)
                        stack.append(x)
                continue
            stack.pop()             # second visit: everything it reads is known
            yield s
