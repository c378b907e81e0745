"""Running an external tool so that nothing it starts outlives it.

Every driver in :mod:`dlgn.tools` runs its command through :func:`run`.  The command
starts in a **process group of its own** (``start_new_session=True``); when it runs past
its timeout, or the caller is interrupted (``KeyboardInterrupt``, or any exception while
waiting), the whole group is sent ``SIGTERM``, given :data:`GRACE_S` seconds, then
``SIGKILL``.  That reaches the grandchildren a plain ``subprocess.run(timeout=...)``
leaves running: ``yosys-abc`` under Yosys, ``cc1plus`` under ``make`` under Verilator, the
simulation under ``vvp``.  After a normal exit the group is swept the same way, so a
background process the tool forgot is not left holding its pipes or the CPU.

Errors: :class:`ToolError` (a ``RuntimeError``) for a tool that is missing or failed;
:class:`ToolTimeout`, both a ``ToolError`` and a :class:`subprocess.TimeoutExpired`, for a
tool that ran past its timeout.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from ..errors import DlgnError

__all__ = ["ToolError", "ToolTimeout", "run", "run_checked", "kill_group", "GRACE_S"]

log = logging.getLogger(__name__)

#: Seconds between SIGTERM and SIGKILL when a process group is stopped.
GRACE_S = 2.0


class ToolError(DlgnError, RuntimeError):
    """An external tool (ABC, Yosys, Icarus Verilog, Verilator, ...) is missing or failed."""


class ToolTimeout(ToolError, subprocess.TimeoutExpired):
    """An external tool ran past its timeout (its whole process group was stopped)."""

    def __init__(self, cmd, timeout, output=None, stderr=None):
        subprocess.TimeoutExpired.__init__(self, cmd, timeout, output, stderr)

    def __str__(self) -> str:
        return f"{_name(self.cmd)} timed out after {self.timeout:g} s"


def _name(cmd) -> str:
    return Path(str(cmd[0] if isinstance(cmd, (list, tuple)) else cmd)).name


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member we cannot signal (setuid): treat it as alive
        return True
    return True


def kill_group(pgid: int, grace: float = GRACE_S) -> None:
    """``SIGTERM`` the process group ``pgid``, then ``SIGKILL`` what is left after ``grace``
    seconds.  A group that is already gone is fine."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pgid):
            return
        time.sleep(0.02)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(cmd, *, cwd=None, env=None, timeout: float | None = None, input: str | None = None,
        text: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` (a list) in its own process group and capture stdout and stderr.

    Returns the :class:`subprocess.CompletedProcess` whatever the exit status (see
    :func:`run_checked` to raise on failure).  Raises :class:`ToolTimeout` after
    ``timeout`` seconds and :class:`ToolError` when the program cannot be started; either
    way, and on ``KeyboardInterrupt``, no process of the group survives."""
    cmd = [os.fspath(c) for c in cmd]
    log.debug("run: %s (cwd=%s)", " ".join(cmd), cwd)
    try:
        p = subprocess.Popen(cmd, cwd=cwd, env=env, text=text, start_new_session=True,
                             stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise ToolError(f"cannot run {cmd[0]}: {e}") from e
    pgid = p.pid  # the new session's leader: its pid is the group id
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(pgid)
        out, err = p.communicate()
        raise ToolTimeout(cmd, timeout, out, err) from None
    except BaseException:  # KeyboardInterrupt, SystemExit, a signal turned exception
        kill_group(pgid)
        p.communicate()
        raise
    kill_group(pgid, grace=0.2)  # leftovers of a normal exit (normally none)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def run_checked(cmd, *, cwd=None, env=None, timeout: float | None = None,
                input: str | None = None, error=ToolError, what: str | None = None) -> str:
    """:func:`run`, then raise ``error`` (a :class:`ToolError` subclass by default) with the
    end of the log when the exit status is not 0; returns stdout + stderr."""
    p = run(cmd, cwd=cwd, env=env, timeout=timeout, input=input)
    text = (p.stdout or "") + (p.stderr or "")
    if p.returncode != 0:
        raise error(f"{what or _name(cmd)} failed (exit {p.returncode}):\n{text[-4000:]}")
    return text
