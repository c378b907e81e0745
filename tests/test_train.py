"""Training loop, evaluation, exact resumption, checkpoints, and the train/demo CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dlgn.frontend.data import load_dataset, make_encoder
from dlgn.frontend.net import LogicNet
from dlgn.frontend.train import (CHECKPOINT_FORMAT, CheckpointMismatchError, evaluate,
                                 load_checkpoint, train)


@pytest.fixture(scope="module")
def monk1():
    return load_dataset("monk1")


def _net(d, layers=(64, 64, 64), tau=4.0, seed=0, **kw):
    return LogicNet(d.n_features, layers=list(layers), n_classes=d.n_classes, tau=tau,
                    encoder=make_encoder(d), seed=seed, **kw)


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_learns_monk1(monk1):
    """A 3 x 64-gate IWP net learns MONK-1 (rule (a1 == a2) or a5 == 1) to >= 90 % test
    accuracy after discretization (this seed: ~95 %); the untrained net is near chance."""
    torch.set_num_threads(1)
    net = _net(monk1)
    before = evaluate(net, monk1.x_test, monk1.y_test)
    hist = train(net, monk1, epochs=40, batch_size=16, lr=0.1, progress=False, eval_every=0)
    assert hist["discrete_acc"][-1] >= 0.90, hist["discrete_acc"][-1]
    assert hist["soft_acc"][-1] >= 0.90
    assert before["discrete_acc"] < 0.80
    assert hist["loss"][-1] < hist["loss"][0]
    assert len(hist["epoch"]) == 40 and hist["discrete_acc"][0] is None  # eval only at the end
    assert net.training            # train() leaves the net in train mode


def test_discrete_eval_equals_netlist(monk1):
    net = _net(monk1)
    train(net, monk1, epochs=8, batch_size=16, lr=0.1, progress=False, eval_every=0)
    a = evaluate(net, monk1.x_test, monk1.y_test, discrete="eval")
    b = evaluate(net, monk1.x_test, monk1.y_test, discrete="netlist")
    assert a == b
    # and per sample: the eval-mode net's predictions are the simulator's
    from dlgn.compiler.simulate import predict
    bits = net.encode(torch.from_numpy(monk1.x_test)).numpy().astype(np.uint8)
    assert np.array_equal(predict(net.discretize(), bits), net.predict(monk1.x_test).numpy())


def test_resume_is_exact(monk1, tmp_path):
    kw = dict(epochs=3, batch_size=32, lr=0.05, progress=False, eval_every=1, seed=7,
              schedule="cosine")
    ref = _net(monk1)
    h_ref = train(ref, monk1, checkpoint=tmp_path / "ref.pt", **kw)
    ck = tmp_path / "ck.pt"
    a = _net(monk1)
    h_a = train(a, monk1, checkpoint=ck, max_steps=6, **kw)   # 4 steps/epoch: stop mid-epoch 2
    assert h_a["stopped"] and h_a["steps"] == 6
    assert load_checkpoint(ck)["step_in_epoch"] == 2
    assert not _same_state(a.state_dict(), ref.state_dict())
    b = _net(monk1, seed=123)                                   # a different init: overwritten
    h_b = train(b, monk1, checkpoint=ck, resume=True, **kw)
    assert _same_state(b.state_dict(), ref.state_dict())
    for k in ("loss", "train_acc", "soft_acc", "discrete_acc", "step"):
        assert h_b[k] == h_ref[k], k
    opt_ref = load_checkpoint(tmp_path / "ref.pt")["optimizer"]
    opt_b = load_checkpoint(ck)["optimizer"]
    for pid, st in opt_ref["state"].items():
        assert all(torch.equal(st[n], opt_b["state"][pid][n]) for n in st)
    # resuming a finished run trains no further
    h_c = train(b, monk1, checkpoint=ck, resume=True, **kw)
    assert _same_state(b.state_dict(), ref.state_dict()) and h_c["steps"] == 12


def test_checkpoint_file(monk1, tmp_path, monkeypatch):
    ck = tmp_path / "sub" / "ck.pt"
    net = _net(monk1)
    train(net, monk1, epochs=1, batch_size=64, lr=0.05, progress=False, checkpoint=ck)
    obj = torch.load(ck, weights_only=True)        # no pickled classes
    assert obj["format"] == CHECKPOINT_FORMAT and obj["epoch"] == 1 and obj["step"] == 2
    assert _same_state(obj["model"], net.state_dict())
    assert isinstance(obj["rng"]["torch"], torch.Tensor)
    assert [p.name for p in ck.parent.iterdir()] == ["ck.pt"]   # no temporary file left
    # a checkpoint of another net is refused, and so is a non-checkpoint
    with pytest.raises(ValueError, match="different net config"):
        train(_net(monk1, layers=(32, 32)), monk1, epochs=2, progress=False, checkpoint=ck,
              resume=True)
    # so is one of the same net trained with other settings, and the checkpoint is kept
    before = ck.read_bytes()
    for change in (dict(batch_size=32), dict(lr=0.01), dict(seed=1), dict(schedule="cosine"),
                   dict(val_split=0.1)):
        kw = {**dict(epochs=2, batch_size=64, lr=0.05, progress=False, checkpoint=ck,
                     resume=True), **change}
        with pytest.raises(CheckpointMismatchError, match=next(iter(change))):
            train(_net(monk1), monk1, **kw)
    assert ck.read_bytes() == before
    # the refusal comes before any long work: no row of the data set is encoded
    import dlgn.frontend.train as T
    encoded, real_encode = [], T._encode
    monkeypatch.setattr(T, "_encode", lambda *a, **k: encoded.append(1) or real_encode(*a, **k))
    with pytest.raises(CheckpointMismatchError, match="lr"):
        train(_net(monk1), monk1, epochs=2, batch_size=64, lr=0.01, progress=False,
              checkpoint=ck, resume=True)
    assert encoded == []
    monkeypatch.undo()
    # more epochs is fine: the run goes on
    assert train(_net(monk1), monk1, epochs=2, batch_size=64, lr=0.05, progress=False,
                 checkpoint=ck, resume=True)["steps"] == 4
    torch.save({"format": "something-else"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a dlgn training checkpoint"):
        load_checkpoint(tmp_path / "x.pt")


def test_cosine_schedule_reaches_zero(monk1):
    net = _net(monk1, layers=(32, 32))
    seen = []
    train(net, monk1, epochs=2, batch_size=64, lr=0.1, progress=False, schedule="cosine",
          log=lambda r: seen.append(r))
    assert [r["epoch"] for r in seen] == [1, 2]


def test_log_file(monk1, tmp_path):
    net = _net(monk1, layers=(32, 32))
    train(net, monk1, epochs=2, batch_size=64, lr=0.1, progress=False, log=tmp_path / "l.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[1]["discrete_acc"] is not None


def test_tuple_data_without_encoder():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(64, 12)).astype(np.float32)
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    net = LogicNet(12, layers=[40, 40], n_classes=2, tau=2.0, seed=0)
    h = train(net, (x, y, x, y), epochs=3, batch_size=16, lr=0.1, progress=False)
    assert h["discrete_acc"][-1] is not None
    h = train(net, (x, y), epochs=1, batch_size=16, lr=0.1, progress=False)
    assert h["soft_acc"] == [None]
    # soft (non-binary) inputs are used as they are, not rounded to bits
    from dlgn.frontend.train import _encode
    xs = x * 0.6 + 0.2
    assert torch.equal(_encode(net, xs, "cpu"), torch.from_numpy(xs))
    assert _encode(net, x, "cpu").dtype == torch.uint8


def test_bad_input(monk1):
    net = _net(monk1, layers=(32, 32))
    x, y = monk1.x_train, monk1.y_train
    with pytest.raises(ValueError, match="features"):
        train(net, (x[:, :5], y), epochs=1, progress=False)
    xn = x.copy()
    xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train(net, (xn, y), epochs=1, progress=False)
    with pytest.raises(TypeError, match="numeric"):
        train(net, (x.astype(str), y), epochs=1, progress=False)
    with pytest.raises(TypeError, match="integers"):
        train(net, (x, y + 0.5), epochs=1, progress=False)
    with pytest.raises(ValueError, match="labels must lie"):
        train(net, (x, y + 5), epochs=1, progress=False)
    with pytest.raises(ValueError, match="labels"):
        train(net, (x, y[:-1]), epochs=1, progress=False)
    with pytest.raises(ValueError, match="lr > 0"):
        train(net, monk1, epochs=1, lr=0, progress=False)
    with pytest.raises(ValueError, match="schedule"):
        train(net, monk1, epochs=1, schedule="linear", progress=False)
    with pytest.raises(ValueError, match="discrete"):
        train(net, monk1, epochs=1, discrete="exact", progress=False)
    with pytest.raises(TypeError, match="data must be"):
        train(net, "monk1", epochs=1, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            train(net, monk1, epochs=1, device="cuda", progress=False)


@pytest.mark.gpu
def test_cuda_training(monk1):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    net = _net(monk1)
    h = train(net, monk1, epochs=20, batch_size=16, lr=0.1, device="cuda", progress=False)
    assert next(net.parameters()).is_cuda and h["discrete_acc"][-1] >= 0.8


# ---------------------------------------------------------------- CLI
def test_cli_train_end_to_end(tmp_path):
    from dlgn.cli import main
    from dlgn.frontend.checkpoint import load_model, read_model_file
    from dlgn.cli.models import load_netlist
    out, ck = tmp_path / "m.pt", tmp_path / "ck.pt"
    rc = main(["-q", "train", "--dataset", "monk1", "--layers", "2x40", "--tau", "4",
               "--epochs", "3", "--batch-size", "16", "--lr", "0.1", "--seed", "3",
               "--checkpoint", str(ck), "--no-progress", "-o", str(out)])
    assert rc == 0 and out.exists() and ck.exists()
    net = load_model(out)
    assert net.config["layers"] == [40, 40] and net.config["encoder"]["type"] == "onehot"
    extra = read_model_file(out)["extra"]
    assert extra["dataset"] == "monk1" and len(json.loads(extra["history"])["loss"]) == 3
    nl = load_netlist(out)                 # what `dlgn compile model.pt` reads
    assert nl.n_gates == 80 and nl.meta["encoder"]["type"] == "onehot"
    # --resume continues from the checkpoint to the same result as a straight run
    out2 = tmp_path / "m2.pt"
    rc = main(["-q", "train", "--dataset", "monk1", "--layers", "2x40", "--tau", "4",
               "--epochs", "3", "--batch-size", "16", "--lr", "0.1", "--seed", "3",
               "--checkpoint", str(ck), "--resume", "--no-progress", "-o", str(out2)])
    assert rc == 0 and _same_state(load_model(out2).state_dict(), net.state_dict())


def test_cli_train_bits_option(tmp_path):
    from dlgn.cli import main
    from dlgn.frontend.checkpoint import load_model
    out = tmp_path / "d.pt"
    rc = main(["-q", "train", "--dataset", "digits", "--limit", "200", "--bits", "2",
               "--layers", "1x100", "--epochs", "1", "--no-progress", "-o", str(out)])
    assert rc == 0 and load_model(out).n_inputs == 128


@pytest.mark.parametrize("argv,msg", [
    (["--dataset", "monk1", "--resume"], "--resume needs --checkpoint"),
    (["--dataset", "monk1", "--layers", "4xbig"], "bad --layers"),
    (["--dataset", "nope"], "unknown data set"),
    (["--dataset", "monk1", "--bits", "2"], "--bits does not apply"),
    (["--dataset", "monk1", "--devices", "0"], "--devices"),
])
def test_cli_train_errors(tmp_path, capsys, argv, msg):
    from dlgn.cli import main
    rc = main(["train", *argv, "--epochs", "1", "-o", str(tmp_path / "x.pt")])
    assert rc == 2 and msg in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_parse_layers():
    from dlgn.cli.train_cmd import parse_layers
    assert parse_layers("4x8000") == [8000] * 4
    assert parse_layers("8000,4000") == [8000, 4000]
    assert parse_layers("2x10,5") == [10, 10, 5]
    for bad in ("", "0", "x", "3x-1"):
        with pytest.raises(ValueError):
            parse_layers(bad)


def test_cli_demo(tmp_path, capsys):
    from dlgn.cli import main
    rc = main(["demo", "--epochs", "30", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    for tag in ("[data]", "[model]", "[train]", "[netlist]", "[simulate]", "[done]"):
        assert tag in out
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["netlist"]["simulator_matches_torch"] is True
    assert res["netlist"]["gates"] == 256 and sum(res["netlist"]["gate_counts"].values()) == 256
    assert res["train"]["discrete_acc"] >= 0.95          # this seed: 99.8 %
    assert (tmp_path / "model.pt").exists() and (tmp_path / "model.dlgn.npz").exists()


def test_demo_steps_are_extensible(monkeypatch, capsys):
    from dlgn.cli import demo_cmd, main
    calls = []
    monkeypatch.setattr(demo_cmd, "STEPS", [s for s in demo_cmd.STEPS if s[0] in ("data",)]
                        + [("extra", lambda ctx: calls.append(ctx.data.name))])
    assert main(["demo", "--dataset", "monk2"]) == 0
    assert calls == ["monk2"]


def test_validation_split_selects_the_best_epoch_and_tests_once(monk1, tmp_path):
    n = len(monk1.x_train)
    seen = []
    net = _net(monk1)
    hist = train(net, monk1, epochs=6, batch_size=16, lr=0.1, progress=False, seed=3,
                 val_split=0.25, log=seen.append)
    vals = hist["val_discrete_acc"]
    assert all(v is not None for v in vals)
    assert hist["discrete_acc"][:-1] == [None] * 5 and hist["discrete_acc"][-1] is not None
    best = max(range(6), key=lambda i: (vals[i], -i))
    assert hist["best_epoch"] == best + 1
    # the net ends with the best epoch's parameters: its validation accuracy is the best one
    from dlgn.frontend.train import _split_validation
    _, (xv, yv) = _split_validation(net, monk1, monk1.x_train, monk1.y_train, 0.25, 3)
    assert len(xv) == round(0.25 * n)
    assert evaluate(net, xv, yv)["discrete_acc"] == vals[best]
    # a row count works too, and the data set's own validation split is used when it has one
    h2 = train(_net(monk1), (monk1.x_train, monk1.y_train), epochs=1, batch_size=16,
               progress=False, val_split=10)
    assert h2["val_discrete_acc"][0] is not None and h2["discrete_acc"] == [None]
    d = {"x_train": monk1.x_train, "y_train": monk1.y_train, "x_val": monk1.x_test[:20],
         "y_val": monk1.y_test[:20]}
    assert train(_net(monk1), d, epochs=1, progress=False)["val_discrete_acc"][0] is not None
    for bad in (-0.1, 1.0 * n, float("nan"), "0.2"):
        with pytest.raises(ValueError, match="val_split"):
            train(_net(monk1), monk1, epochs=1, progress=False, val_split=bad)


def test_best_selection_resumes_exactly(monk1, tmp_path):
    kw = dict(epochs=4, batch_size=32, lr=0.05, progress=False, seed=5, val_split=0.2)
    ref = _net(monk1)
    h_ref = train(ref, monk1, **kw)
    ck = tmp_path / "ck.pt"
    train(_net(monk1), monk1, checkpoint=ck, max_steps=7, **kw)
    b = _net(monk1)
    h_b = train(b, monk1, checkpoint=ck, resume=True, **kw)
    assert _same_state(b.state_dict(), ref.state_dict())
    assert h_b["val_discrete_acc"] == h_ref["val_discrete_acc"]
    assert h_b["best_epoch"] == h_ref["best_epoch"]


def test_weight_decay_spares_iwp_tables(monk1):
    """Decay would pull omega towards 1/2; IWP weights and connection logits get none."""
    from dlgn.frontend.train import _param_groups
    iwp = _net(monk1, connections="learned", candidates=3)
    assert [g["weight_decay"] for g in _param_groups(iwp, 0.1)] == [0.0]
    op = _net(monk1, parametrization="op")
    assert [g["weight_decay"] for g in _param_groups(op, 0.1)] == [0.1]
    groups = _param_groups(iwp, 0.1)
    assert sum(len(g["params"]) for g in groups) == len(list(iwp.parameters()))


def test_adam_is_fused_on_the_cpu_and_computes_adam(monk1):
    """The trainer's Adam is torch's fused kernel where it has one (a single pass over each
    tensor: ~10x faster a step for a learned layer's millions of logits) and the same
    update as torch's default Adam up to rounding (random wiring: learned wiring's arg-max
    would turn rounding into another choice)."""
    from dlgn.frontend.train import adam_optimizer
    nets = [_net(monk1, seed=3) for _ in range(2)]
    fused = adam_optimizer(nets[0], 0.0, 0.05)
    plain = torch.optim.Adam(nets[1].parameters(), lr=0.05)
    assert fused.defaults["fused"] is True and not plain.defaults["fused"]
    x = torch.from_numpy(monk1.x_train[:32])
    y = torch.from_numpy(monk1.y_train[:32]).long()
    for _ in range(5):
        for net, opt in zip(nets, (fused, plain)):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.allclose(a, b, atol=1e-3), (a - b).abs().max()   # steps move 0.05 each


def test_adam_falls_back_where_no_kernel_is_fused(monk1, monkeypatch):
    from dlgn.frontend import train as tr
    real = torch.optim.Adam

    def no_fused(params, **kw):
        if kw.get("fused"):
            raise RuntimeError("`fused=True` requires all the params to be on a supported device")
        return real(params, **kw)
    monkeypatch.setattr(tr.torch.optim, "Adam", no_fused)
    opt = tr.adam_optimizer(_net(monk1), 0.0, 0.1)
    assert not opt.defaults["fused"]
    hist = train(_net(monk1), monk1, epochs=1, batch_size=16, lr=0.1, progress=False)
    assert hist["loss"]


def test_hard_epochs_switch_the_estimator_and_resume_exactly(monk1, tmp_path):
    """The last ``hard_epochs`` epochs forward 0/1 gate outputs (the soft accuracy the
    trainer measures is then the discrete one); the modules get "soft" back afterwards;
    an interrupted run resumes into the same hard phase."""
    kw = dict(epochs=3, batch_size=32, lr=0.05, progress=False, seed=4, schedule="cosine",
              hard_epochs=2)
    seen = []
    ref = _net(monk1)
    h_ref = train(ref, monk1, log=lambda r: seen.append([m.estimator for m in ref.layers]), **kw)
    assert seen == [["soft"] * 3, ["hard"] * 3, ["hard"] * 3]
    assert [m.estimator for m in ref.layers] == ["soft"] * 3
    assert h_ref["soft_acc"][-1] == h_ref["discrete_acc"][-1]
    plain = _net(monk1)
    train(plain, monk1, **{**kw, "hard_epochs": 0})
    assert not _same_state(plain.state_dict(), ref.state_dict())    # the phase is real
    ck = tmp_path / "ck.pt"
    train(_net(monk1), monk1, checkpoint=ck, max_steps=6, **kw)     # stops in epoch 2
    b = _net(monk1)
    h_b = train(b, monk1, checkpoint=ck, resume=True, **kw)
    assert _same_state(b.state_dict(), ref.state_dict())
    assert h_b["loss"] == h_ref["loss"]
    for other in (1, 0):
        with pytest.raises(CheckpointMismatchError, match="hard_epochs"):
            train(_net(monk1), monk1, checkpoint=ck, resume=True, **{**kw, "hard_epochs": other})


def test_scheduled_lr_restarts_for_the_hard_epochs():
    """With ``hard_lr``, the soft epochs run the cosine over themselves alone (from lr down
    to 0) and the hard ones start again at hard_lr; without it, one curve over all steps."""
    from dlgn.frontend.train import _scheduled_lr
    spe, epochs = 10, 5
    one = [_scheduled_lr(s, spe, epochs, "cosine", 0.1, 2, None) for s in range(50)]
    assert one[0] == pytest.approx(0.1) and all(a > b for a, b in zip(one, one[1:]))
    two = [_scheduled_lr(s, spe, epochs, "cosine", 0.1, 2, 0.04) for s in range(50)]
    assert two[0] == pytest.approx(0.1) and two[15] == pytest.approx(0.05)
    assert two[29] == pytest.approx(0.1 * 0.5 * (1 + np.cos(np.pi * 29 / 30)))
    assert two[30] == pytest.approx(0.04) and two[40] == pytest.approx(0.02)
    assert all(a > b for a, b in zip(two[30:], two[31:]))
    assert _scheduled_lr(3, spe, epochs, "constant", 0.1, 2, None) is None
    const = [_scheduled_lr(s, spe, epochs, "constant", 0.1, 2, 0.04) for s in (0, 29, 30, 49)]
    assert const == [0.1, 0.1, 0.04, 0.04]


def test_hard_lr_trains_the_restarted_curve_and_resumes_exactly(monk1, tmp_path,
                                                                monkeypatch):
    """A run with a restart for its hard phase differs from one without, resumes bit for
    bit from inside the hard phase, and refuses a checkpoint of another hard_lr."""
    kw = dict(epochs=3, batch_size=32, lr=0.05, progress=False, seed=4, schedule="cosine",
              hard_epochs=1, hard_lr=0.03)
    rates = []
    ref = _net(monk1)
    import dlgn.frontend.train as T
    orig = T._scheduled_lr
    monkeypatch.setattr(T, "_scheduled_lr", lambda *a: rates.append(orig(*a)) or rates[-1])
    h_ref = train(ref, monk1, **kw)
    monkeypatch.undo()
    spe = len(rates) // 3
    assert rates[2 * spe] == pytest.approx(0.03) and rates[2 * spe - 1] < 0.01
    plain = _net(monk1)
    train(plain, monk1, **{**kw, "hard_lr": None})
    assert not _same_state(plain.state_dict(), ref.state_dict())
    ck = tmp_path / "ck.pt"
    train(_net(monk1), monk1, checkpoint=ck, max_steps=2 * spe + 1, **kw)   # inside epoch 3
    b = _net(monk1)
    h_b = train(b, monk1, checkpoint=ck, resume=True, **kw)
    assert _same_state(b.state_dict(), ref.state_dict())
    assert h_b["loss"] == h_ref["loss"]
    for other in (0.02, None):
        with pytest.raises(CheckpointMismatchError, match="hard_lr"):
            train(_net(monk1), monk1, checkpoint=ck, resume=True, **{**kw, "hard_lr": other})


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf"), True, "0.1"])
def test_hard_lr_errors(monk1, bad):
    with pytest.raises(ValueError, match="hard_lr"):
        train(_net(monk1), monk1, epochs=3, progress=False, hard_epochs=1, hard_lr=bad)
    with pytest.raises(ValueError, match="hard_epochs"):     # a restart of no hard phase
        train(_net(monk1), monk1, epochs=3, progress=False, hard_lr=0.01)


@pytest.mark.parametrize("bad", [-1, 4, 1.5, True])
def test_hard_epochs_errors(monk1, bad):
    with pytest.raises(ValueError, match="hard_epochs"):
        train(_net(monk1), monk1, epochs=3, progress=False, hard_epochs=bad)
