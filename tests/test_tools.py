"""dlgn.tools: the process-group runner (no grandchild survives a timeout or an interrupt),
ABC's verdict and counterexample parsing on sample logs, the one cec call, and the layering
(the compiler never imports the tools; the tools never import torch or the backends)."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from dlgn.compiler import Netlist, random_netlist
from dlgn.compiler.equiv import PROOF_METHODS, check_equivalent
from dlgn.tools import ToolError, ToolTimeout
from dlgn.tools.abc import abc_equivalent, cec, cec_verdict, counterexample, find_abc
from dlgn.tools.process import run, run_checked

needs_abc = pytest.mark.skipif(find_abc() is None, reason="no ABC binary (pyosys or berkeley-abc)")


def gone(pid: int, wait: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (absent, or a zombie waiting for its reaper)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        except OSError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            state = "R"
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def read_pid(path, wait: float = 5.0) -> int:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.02)
    raise AssertionError("the child never wrote its grandchild's pid")


def tree(pidfile, tail="sleep 60"):
    # sh starts a grandchild (sleep 60 in the background), then waits or exits
    return ["sh", "-c", f"sleep 60 & echo $! > '{pidfile}'; {tail}"]


# ---------------------------------------------------------------- the process runner
def test_timeout_kills_the_whole_group(tmp_path):
    pidfile = tmp_path / "pid"
    t0 = time.monotonic()
    with pytest.raises(ToolTimeout) as e:
        run(tree(pidfile), timeout=0.5)
    assert time.monotonic() - t0 < 10
    assert isinstance(e.value, ToolError) and isinstance(e.value, subprocess.TimeoutExpired)
    assert "timed out" in str(e.value)
    assert gone(read_pid(pidfile)), "the grandchild survived the timeout"


def test_interrupt_kills_the_whole_group(tmp_path):
    pidfile = tmp_path / "pid"
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run(tree(pidfile), timeout=30)
    finally:
        timer.cancel()
    assert gone(read_pid(pidfile)), "the grandchild survived the interrupt"


def test_leftovers_of_a_normal_exit_are_stopped(tmp_path):
    pidfile = tmp_path / "pid"
    p = run(["sh", "-c", f"sleep 60 >/dev/null 2>&1 & echo $! > '{pidfile}'; echo done"],
            timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "done"
    assert gone(read_pid(pidfile))


def test_exit_status_and_missing_programs():
    p = run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")
    with pytest.raises(ToolError, match=r"sh failed \(exit 3\):\nout\nerr"):
        run_checked(["sh", "-c", "echo out; echo err >&2; exit 3"])

    class Mine(RuntimeError):
        pass
    with pytest.raises(Mine):
        run_checked(["sh", "-c", "exit 1"], error=Mine)
    assert run_checked(["sh", "-c", "cat"], input="fed\n") == "fed\n"
    with pytest.raises(ToolError, match="cannot run"):
        run(["/nonexistent/dlgn-tool"])


# ---------------------------------------------------------------- ABC's verdicts
BERKELEY_NOT = """ABC command line: "cec -n a.blif b.blif".

Networks are NOT EQUIVALENT.  Time =     0.01 sec
Verification failed for at least 1 outputs:  po0
Output po0: Value in Network1 = 0. Value in Network2 = 1.
Input pattern:  pi0=1 pi1=0
"""
YOSYS_NOT = """======== ABC command line "cec -n a.blif b.blif"
Networks are NOT EQUIVALENT.  Time =     0.01 sec
INPUT: pi0 = 1'h1, pi1 = 1'h0.  OUTPUT: po0 = 1'h0 (a), po0 = 1'h1 (b).
Verification failed for at least 1 outputs:  po0
Output po0: Value in Network1 = 0. Value in Network2 = 1.
Input pattern:  pi0=1 pi1=0
"""
EQUIVALENT = ['ABC command line: "cec -n a.blif a.blif".\n\n'
              "Networks are equivalent after structural hashing.  Time =     0.00 sec\n",
              "Networks are equivalent.  Time =     0.12 sec\n",
              "Networks are equivalent after SAT sweeping.  Time = 1.00 sec\n"]
UNREADABLE = ['ABC command line: "cec -n a.blif nope.blif".\n\n'
              'Cannot open input file "nope.blif". \n',
              "Networks are UNDECIDED.   Time =     3.00 sec\n", ""]


def test_cec_verdict_on_sample_logs():
    assert cec_verdict(BERKELEY_NOT) is False and cec_verdict(YOSYS_NOT) is False
    for text in EQUIVALENT:
        assert cec_verdict(text) is True
    for text in UNREADABLE:
        with pytest.raises(ToolError, match="verdict"):
            cec_verdict(text)


def test_counterexample_is_confirmed_by_the_simulator():
    a = Netlist(2, [[2, 3]], [2], [8], [4]).check()  # a AND b
    b = Netlist(2, [[2, 3]], [2], [12], [4]).check()  # a
    for text in (BERKELEY_NOT, YOSYS_NOT):
        x, out = counterexample(a, b, text)
        assert x.tolist() == [True, False] and out == 0
    # a pattern that does not separate the nets is not returned
    assert counterexample(a, b, "Input pattern:  pi0=1 pi1=1\n") is None
    assert counterexample(a, b, "no pattern at all") is None


# ---------------------------------------------------------------- the one cec call
def test_abc_is_a_registered_proof_method():
    assert PROOF_METHODS["abc"] is abc_equivalent
    net = random_netlist(0, n_inputs=4, n_gates=0, n_outputs=0, n_classes=0)
    assert cec(net, net) == (True, "no outputs: trivially equivalent")
    with pytest.raises(ValueError, match="inputs"):
        cec(net, random_netlist(0, n_inputs=5, n_gates=0, n_outputs=0, n_classes=0))


def test_missing_abc_is_a_tool_error(monkeypatch):
    import dlgn.tools.abc as A
    monkeypatch.setattr(A, "find_abc", lambda abc=None: None)
    net = random_netlist(1, n_inputs=4, n_outputs=2, n_classes=0)
    with pytest.raises(ToolError, match="no ABC binary"):
        cec(net, net)


@needs_abc
def test_cec_on_netlists_and_awkward_paths(tmp_path):
    from dlgn.compiler.io import write_aiger, write_blif
    net = random_netlist(4, n_inputs=10, n_gates=80, max_arity=4, n_outputs=6, n_classes=2)
    bad = net.copy()
    bad.invert[1] = ~bad.invert[1]
    d = tmp_path / "a dir; with spaces"
    d.mkdir()
    write_blif(net, d / "net one.blif")
    write_aiger(bad, d / "bad;one.aig")
    assert cec(net, net)[0] and cec(d / "net one.blif", net)[0]
    ok, log = cec(d / "net one.blif", d / "bad;one.aig")
    assert not ok and "NOT EQUIVALENT" in log
    r = check_equivalent(net, bad, "abc")
    assert not r.equivalent and r.method == "abc"
    if r.counterexample is not None:
        assert r.output == 1
    with pytest.raises(FileNotFoundError):
        cec(d / "missing.blif", net)
    assert cec(net, net, abc=find_abc())[0]


# ---------------------------------------------------------------- layering
def test_layering_of_tools_and_compiler():
    code = ("import sys\n"
            "import dlgn.compiler, dlgn.compiler.equiv, dlgn.compiler.io, dlgn.compiler.sat\n"
            "assert not [m for m in sys.modules if m.startswith('dlgn.tools')], 'compiler'\n"
            "import dlgn.tools\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'triton') or\n"
            "       m.startswith(('dlgn.backends', 'dlgn.runtime', 'dlgn.cli', 'dlgn.frontend'))]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_unregistered_method_says_where_it_comes_from(monkeypatch):
    monkeypatch.delitem(PROOF_METHODS, "abc")
    net = random_netlist(2, n_inputs=3, n_outputs=2, n_classes=0)
    with pytest.raises(ValueError, match="dlgn.tools"):
        check_equivalent(net, net, "abc")
    assert check_equivalent(net, net, "sat").equivalent
    assert np.all(check_equivalent(net, net, "exhaustive").equivalent)
