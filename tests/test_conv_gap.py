"""benchmarks/conv_gap.py: the soft/discrete table of a conv net's two parts, on the
validation rows of its recipe (a tiny conv net on scikit-learn's 8x8 digits)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _script_util import load_script

from dlgn.frontend.checkpoint import save_model
from dlgn.frontend.convnet import ConvLogicNet
from dlgn.frontend.data import load_dataset, make_encoder
from dlgn.frontend.train import _split_validation, train


def _bench():
    return load_script("benchmarks/conv_gap.py")


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    d = load_dataset("digits")
    net = ConvLogicNet(64, image=(1, 8, 8), conv=[dict(channels=8, padding=1, pool=2)],
                       layers=[200], n_classes=10, tau=4.0, encoder=make_encoder(d), seed=0,
                       estimator="hard")
    train(net, d, epochs=2, batch_size=64, lr=0.05, progress=False, val_split=0.2, seed=3)
    return d, net


def test_the_table_of_a_model_file(trained, tmp_path):
    d, net = trained
    path = tmp_path / "m.pt"
    save_model(net, path, dataset=d.name, recipe=json.dumps({"dataset": d.name,
                                                              "val_split": 0.2, "seed": 3}))
    out = tmp_path / "gap.json"
    assert _bench().main(["--model", str(path), "--json", str(out)]) == 0
    got = json.loads(out.read_text())
    assert list(got["accuracy"]) == ["soft/soft", "discrete/soft", "soft/discrete",
                                     "discrete/discrete"]
    _, (xv, yv) = _split_validation(net, d, d.x_train, d.y_train, 0.2, 3)
    assert got["rows"] == f"{len(xv)} validation rows"
    net.eval()
    want = (net.predict(xv).numpy() == yv).mean()
    assert got["accuracy"]["discrete/discrete"] == pytest.approx(want)
    # soft/soft: the relaxed forward with the soft estimator, though the net trained hard
    net.train()
    for m in net.layers:
        if hasattr(m, "estimator"):
            m.estimator = "soft"
    with torch.no_grad():
        soft = (net(torch.as_tensor(xv)).argmax(1).numpy() == yv).mean()
    for m in net.layers:
        if hasattr(m, "estimator"):
            m.estimator = "hard"
    assert got["accuracy"]["soft/soft"] == pytest.approx(soft)
    assert len(set(got["accuracy"].values())) > 1


def test_it_restores_the_net_and_refuses_a_dense_one(trained):
    d, net = trained
    net.train()
    table = _bench().gap_table(net, d.x_train[:50], d.y_train[:50])
    assert all(0.0 <= v <= 1.0 for v in table.values())
    assert net.training and {m.estimator for m in net.layers if hasattr(m, "estimator")} \
        == {"hard"}
    from dlgn.frontend.net import LogicNet
    dense = LogicNet(64, layers=[20], n_classes=10, encoder=make_encoder(d), seed=0)
    with pytest.raises(SystemExit, match="no convolutions"):
        _bench().gap_table(dense, d.x_train[:5], d.y_train[:5])
    assert np.isfinite(list(table.values())).all()
