"""benchmarks/gatek_bench.py: a tiny run times both backwards, checks their gradients equal,
and restores the current one; bad sizes are a usage error."""
from __future__ import annotations

import pytest
from _script_util import load_script

from dlgn.frontend import functional as F


def _bench():
    return load_script("benchmarks/gatek_bench.py")


def test_gatek_bench_smoke(capsys):
    current = F._interp_backward
    bench = _bench()
    assert bench.main(["--gates", "40", "--inputs", "30", "--batch", "9", "--arity", "3", "4",
                       "6", "--repeats", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split()[0] for r in rows[2:]] == ["3", "4", "6"] and rows[2].endswith("x")
    assert F._interp_backward is current


@pytest.mark.parametrize("bad", [["--arity", "2"], ["--batch", "0"], ["--gates", "-1"]])
def test_gatek_bench_rejects_bad_sizes(bad):
    with pytest.raises(SystemExit) as e:
        _bench().main(bad)
    assert e.value.code == 2
