"""DistributedDataParallel on the CPU: 2 gloo processes give the same training result as one
process with the same global batch (within float tolerance); evaluation and checkpoints
happen on rank 0 only."""
from __future__ import annotations

import json
from argparse import Namespace

import pytest
import torch

torch_dist = pytest.importorskip("torch.distributed")
if not torch_dist.is_available() or not torch_dist.is_gloo_available():
    pytest.skip("torch.distributed with gloo is not available", allow_module_level=True)

ARGV = ["--dataset", "monk1", "--layers", "2x300", "--tau", "6",
        "--epochs", "2", "--batch-size", "32", "--lr", "0.05", "--seed", "5", "--no-progress",
        "--dtype", "float64"]
# float64: in float32, Adam turns the last-bit differences of a near-zero gradient (summation
# order differs across ranks) into lr-sized steps on a few weights; in float64 that noise is
# far below Adam's eps, so the two runs agree to rounding.


def _args(tmp_path, devices: int, tag: str) -> Namespace:
    from dlgn.cli import build_parser
    return build_parser().parse_args(
        ["train", *ARGV, "--devices", str(devices), "--checkpoint", str(tmp_path / f"{tag}.ck"),
         "--log", str(tmp_path / f"{tag}.jsonl"), "-o", str(tmp_path / f"{tag}.pt")])


def _one_process(tmp_path):
    """The reference: one process, same global batch, same net (built the same way)."""
    from dlgn.cli.train_cmd import _train_and_save
    torch.set_num_threads(1)
    _train_and_save(0, _args(tmp_path, 1, "one"))


def test_two_gloo_processes_match_one(tmp_path):
    from dlgn.cli import main
    from dlgn.frontend.checkpoint import load_model
    from dlgn.frontend.train import load_checkpoint
    _one_process(tmp_path)
    rc = main(["-q", "train", *ARGV, "--devices", "2", "--checkpoint", str(tmp_path / "two.ck"),
               "--log", str(tmp_path / "two.jsonl"), "-o", str(tmp_path / "two.pt")])
    assert rc == 0
    one, two = load_model(tmp_path / "one.pt"), load_model(tmp_path / "two.pt")
    s1, s2 = one.state_dict(), two.state_dict()
    assert s1.keys() == s2.keys()
    moved = 0.0
    for k in s1:
        if s1[k].is_floating_point():
            # the files hold float32 copies of the float64 weights: equal up to one rounding
            torch.testing.assert_close(s2[k], s1[k], rtol=1e-6, atol=1e-6, msg=k)
        else:
            assert torch.equal(s1[k], s2[k]), k        # connections
    # the training really moved the weights (the comparison is not vacuous)
    from dlgn.frontend.data import load_dataset, make_encoder
    from dlgn.frontend.net import LogicNet
    d = load_dataset("monk1")
    init = LogicNet(6, layers=[300, 300], n_classes=2, tau=6, encoder=make_encoder(d), seed=5)
    for k, v in init.state_dict().items():
        if v.is_floating_point():
            moved = max(moved, float((s1[k] - v).abs().max()))
    assert moved > 1e-2
    # rank 0 alone wrote the log (2 epochs, once each) and the checkpoint, with the world size
    rows = [json.loads(x) for x in (tmp_path / "two.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    ref = [json.loads(x) for x in (tmp_path / "one.jsonl").read_text().splitlines()]
    for a, b in zip(rows, ref):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-9)
        assert a["step"] == b["step"] == 4 * a["epoch"]      # 124 rows, batch 32
    ck = load_checkpoint(tmp_path / "two.ck")
    assert ck["args"]["world_size"] == 2 and ck["step"] == 8
    assert not list(tmp_path.glob(".*tmp"))


def test_spawn_errors():
    from dlgn.frontend.train import spawn
    with pytest.raises(ValueError, match="at least one"):
        spawn(print, 0)
    if torch.cuda.device_count() < 2:
        with pytest.raises(RuntimeError, match="GPUs"):
            spawn(print, 2, backend="nccl")
