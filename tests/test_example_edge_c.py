"""examples/edge_c: the standalone C program agrees with the Python runtime."""
import importlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _script_util import load_script

from dlgn.runtime.c_build import build_c

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "edge_c"
sim = importlib.import_module("dlgn.compiler.simulate")


@pytest.mark.parametrize("target", ["edge", "nothreads"])
def test_edge_c_example(tmp_path, target):
    if not shutil.which("make") or not shutil.which("cc"):
        pytest.skip("needs make and a C compiler")
    mod = load_script(EXAMPLE / "make_model.py", "edge_make_model")
    net, X = mod.make(tmp_path, samples=777)
    goal = str(tmp_path / "edge") if target == "edge" else "nothreads"
    r = subprocess.run(["make", "-C", str(EXAMPLE), f"MODEL_DIR={tmp_path}", f"OUT={tmp_path}",
                        "CFLAGS=-std=c99 -O1 -Wall -Wextra -Werror", goal],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(tmp_path / "edge"), str(tmp_path / "samples.bin")],
                       capture_output=True, text=True, check=True)
    classes = np.array([int(v) for v in r.stdout.split()])
    np.testing.assert_array_equal(classes, sim.predict(net, X))
    np.testing.assert_array_equal(classes, build_c(net, word_bits=128).predict(X))
