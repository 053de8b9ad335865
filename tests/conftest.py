"""Shared fixtures: the shipped model and the offline MNIST test set, loaded once per session."""

import pytest
import torch

from helpers import load_pretrained, mnist


@pytest.fixture(scope="session")
def test_set():
    return mnist(train=False)


@pytest.fixture(scope="session")
def trained_model():
    return load_pretrained()


@pytest.fixture(scope="session")
def test_images(test_set) -> torch.Tensor:
    """The first 64 test images, ``(64, 1, 28, 28)``."""
    return torch.stack([test_set[i][0] for i in range(64)])
