"""Shared fixtures for the engine tests: the devices every exactness test runs on."""

import pytest
import torch

CUDA = pytest.param(
    "cuda",
    marks=[
        pytest.mark.cuda,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    ],
    id="cuda",
)


@pytest.fixture(params=["cpu", CUDA])
def device(request) -> str:
    """The device name: cpu, and cuda where a GPU is visible (skipped cleanly elsewhere)."""
    return request.param
