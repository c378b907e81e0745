"""Shared test configuration: GPU-marked tests skip without a CUDA device; build caches go
to a per-session temporary directory so CI starts cold and tests never touch ~/.cache."""
import os
import signal
import tempfile

import pytest

os.environ.setdefault("DLGN_CACHE_DIR", tempfile.mkdtemp(prefix="dlgn-test-cache-"))

# A test run started in the background (``cmd &``) inherits SIGINT ignored, and Python then
# installs no KeyboardInterrupt handler: the Ctrl-C tests would wait for an interrupt that
# never comes (and leave their child runs behind).  Restore what a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def one_torch_thread():
    """Small tensors: on a shared 2-core machine, 2 torch threads ran ~30x slower than 1."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _has_cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:  # torch missing or broken: no GPU for our purposes
        return False


def pytest_collection_modifyitems(config, items):
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
