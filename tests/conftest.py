"""Shared fixtures: the shipped model and the offline MNIST test set, loaded once per session."""

import pytest
import torch

from helpers import DeeperCNN, load_pretrained, mnist


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


@pytest.fixture(scope="session")
def deeper():
    """A seeded, untrained :class:`helpers.DeeperCNN` in eval mode: the explainers' tests compare it with Captum."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return DeeperCNN().eval()


@pytest.fixture(scope="session")
def digits(test_images) -> torch.Tensor:
    """Six MNIST test digits ``(6, 1, 28, 28)``: 7 2 1 0 4 1."""
    return test_images[:6]
