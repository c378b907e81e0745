"""benchmarks/frontier.py --model: a model file trained before by ``dlgn train --preset P
--seed S`` is compiled, run as a C build and shipped with the recipe it records; a file
trained by another recipe or seed is refused before anything is written."""
from __future__ import annotations

import json

import pytest
from _script_util import load_script

pytest.importorskip("torch")

from dlgn.cli import main  # noqa: E402
from dlgn.compiler import Netlist  # noqa: E402


def _script():
    return load_script("benchmarks/frontier.py")


def test_model_is_evaluated_and_shipped_with_its_recipe(tmp_path, capsys):
    m = tmp_path / "m.pt"
    assert main(["-q", "train", "--preset", "monk1", "--seed", "2", "--threads", "1",
                 "--no-progress", "-o", str(m)]) == 0
    from dlgn.frontend.checkpoint import read_model_file
    recipe = json.loads(read_model_file(m)["extra"]["recipe"])
    assert recipe["seed"] == 2 and recipe["layers"] == "4x64" and recipe["shift"] == 0
    fr = _script()
    ship = tmp_path / "ship"
    assert fr.main(["--preset", "monk1", "--seeds", "2", "--model", str(m),
                    "--ship", str(ship)]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["seed"] == 2 and row["n_test"] == 432 and row["test_acc"] >= 0.9
    net = Netlist.load(ship / "monk1.dlgn.npz")
    assert net.meta["training"]["test_correct"] == row["test_correct"]
    assert net.meta["training"]["recipe"]["layers"] == "4x64"
    for bad in (["--preset", "monk1", "--seeds", "0"],        # another seed
                ["--preset", "monk3", "--seeds", "2"]):       # another recipe
        with pytest.raises(SystemExit, match="not trained by preset"):
            fr.main([*bad, "--model", str(m), "--ship", str(tmp_path / "no")])
        assert not (tmp_path / "no").exists()
    with pytest.raises(SystemExit):
        fr.main(["--preset", "monk1", "--seeds", "0,1", "--model", str(m)])
