"""Shared test configuration: GPU-marked tests skip without a CUDA device; build caches go
to a per-session temporary directory so CI starts cold and tests never touch ~/.cache."""
import os
import tempfile

import pytest

os.environ.setdefault("DLGN_CACHE_DIR", tempfile.mkdtemp(prefix="dlgn-test-cache-"))


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
