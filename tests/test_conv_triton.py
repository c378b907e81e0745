"""LogicConv2d's Triton path (each tree level through the fused kernels of
dlgn.frontend.triton_layer) against its torch path: the same training forward and the same
gradients for the input and the gate weights, on every arity, soft and hard.  Without CUDA
the kernels run in Triton's interpreter (TRITON_INTERPRET=1, set before triton is imported),
so the sizes are tiny."""
from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported anywhere
pytest.importorskip("triton", reason="triton is not installed (pip install triton)")

from dlgn.frontend.conv import LogicConv2d  # noqa: E402
from dlgn.frontend.convnet import ConvLogicNet  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"

# (arity, depth, kernel, padding, stride, interleave, tree_channels, estimator)
CASES = [(2, 2, 3, 1, 1, 2, 2, "soft"), (3, 2, 3, 0, 2, 1, 2, "soft"),
         (4, 1, 2, 1, 1, 1, 1, "hard"), (2, 3, 3, 1, 1, 1, 2, "hard"),
         (1, 2, 2, 0, 1, 1, 3, "soft"), (6, 1, 1, 0, 1, 1, 1, "soft"),
         (3, 2, 3, 1, 1, 1, 2, "gumbel")]


def _pair(case, seed=3):
    a, d, k, p, s, il, tc, est = case
    kw = dict(kernel_size=k, depth=d, arity=a, tree_channels=tc, stride=s, padding=p,
              interleave=il, init="gaussian", estimator=est)
    mods = [LogicConv2d((4, 5, 4), 3, seed=seed, backend=b, **kw).to(DEV)
            for b in ("torch", "triton")]
    mods[1].load_state_dict(mods[0].state_dict())
    return mods


@pytest.mark.parametrize("case", CASES)
def test_triton_trees_equal_torch_trees(case):
    ref, tri = _pair(case)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, ref.in_features, generator=g).to(DEV)
    if case[-1] != "soft":
        x = (x > 0.5).float()
    outs, grads = [], []
    for m in (ref, tri):
        m.train()
        xi = x.clone().requires_grad_(True)
        torch.manual_seed(7)        # the same Gumbel noise on both paths
        y = m(xi)
        w = torch.rand(y.shape, generator=torch.Generator().manual_seed(2)).to(DEV)
        (y * w).sum().backward()
        outs.append(y.detach())
        grads.append((xi.grad, m.weight.grad))
    torch.testing.assert_close(outs[1], outs[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[1][0], grads[0][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grads[1][1], grads[0][1], atol=1e-5, rtol=1e-5)


def test_convnet_passes_the_backend_and_eval_is_unchanged():
    net = ConvLogicNet(36, image=(1, 6, 6), conv=[dict(channels=3, padding=1, pool=2)],
                       layers=[12], n_classes=2, seed=0, backend="triton").to(DEV)
    assert net.layers[0].backend == "triton"
    x = torch.rand(4, 36, generator=torch.Generator().manual_seed(0)).to(DEV)
    net.train()
    net(x).sum().backward()
    assert net.layers[0].weight.grad is not None
    net.eval()
    ref = ConvLogicNet(36, image=(1, 6, 6), conv=[dict(channels=3, padding=1, pool=2)],
                       layers=[12], n_classes=2, seed=0, backend="torch").to(DEV).eval()
    assert (net.predict(x) == ref.predict(x)).all()


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="backend"):
        LogicConv2d((2, 4, 4), 2, backend="cuda")
