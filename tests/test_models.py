"""helpers.models: the seed's architecture, training, the shipped weights."""

import torch
import torch.nn.functional as F
import pytest
from torch import nn

from helpers.models import (
    PRETRAINED_PATH,
    SimpleCNN,
    _as_tensors,
    accuracy,
    load_pretrained,
    predict,
    train,
)


class SeedCNN(nn.Module):
    """The seed's model, verbatim (F.relu, view)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.fc1 = nn.Linear(26 * 26 * 16, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = x.view(x.size(0), -1)
        return self.fc1(x)


def test_architecture_is_the_seeds():
    model = SimpleCNN()
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {"conv1.weight": (16, 1, 3, 3), "conv1.bias": (16,), "fc1.weight": (10, 10816), "fc1.bias": (10,)}
    assert any(isinstance(m, nn.ReLU) for m in model.modules()), "DeepExplainer needs an nn.ReLU module"


def test_seed_state_dict_loads_and_gives_the_same_logits(test_images):
    seed = SeedCNN()
    model = SimpleCNN()
    model.load_state_dict(seed.state_dict())
    with torch.no_grad():
        assert torch.equal(model(test_images), seed(test_images))


def test_pretrained_accuracy_is_at_least_97_5_percent(trained_model, test_set):
    assert not trained_model.training
    assert accuracy(trained_model, test_set) >= 0.975


def test_pretrained_file_holds_only_tensors():
    state = torch.load(PRETRAINED_PATH, map_location="cpu", weights_only=True)
    assert set(state) == {"conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias"}


def test_missing_weights_say_how_to_restore_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="make weights"):
        load_pretrained(tmp_path / "nothing.pt")


def test_fast_mnist_conversion_equals_the_transform(test_set):
    images, labels = _as_tensors(test_set)
    subset = torch.utils.data.Subset(test_set, range(50))
    slow_images, slow_labels = _as_tensors(subset)
    assert torch.equal(images[:50], slow_images) and torch.equal(labels[:50], slow_labels)


def _toy_data(n=256, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return torch.utils.data.TensorDataset(x, y)


def test_training_learns_and_is_reproducible():
    data = _toy_data()
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = nn.Linear(2, 2)
        losses = train(model, data, epochs=5, seed=3, batch_size=32, lr=0.05, progress=False)
        runs.append((model, losses))
    (first, losses), (second, _) = runs
    assert losses[-1] < losses[0]
    assert accuracy(first, data) > 0.9
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


def test_shuffling_does_not_touch_the_global_rng():
    model, data = nn.Linear(2, 2), _toy_data(64)
    state = torch.random.get_rng_state()
    train(model, data, epochs=2, seed=0, progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_training_restores_each_submodules_mode():
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.1), nn.Linear(4, 2))
    model.eval()
    model[1].train()
    train(model, _toy_data(64), epochs=1, seed=0, progress=False)
    assert [m.training for m in model.modules()] == [False, False, True, False]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"epochs": 0, "seed": 0}, ValueError, "epochs must be a positive int"),
        ({"epochs": 1.5, "seed": 0}, ValueError, "epochs must be a positive int"),
        ({"epochs": 1, "seed": 0, "batch_size": 0}, ValueError, "batch_size"),
        ({"epochs": 1, "seed": 0, "lr": -1.0}, ValueError, "lr must be a positive number"),
    ],
)
def test_training_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        train(nn.Linear(2, 2), _toy_data(8), progress=False, **kwargs)


def test_training_rejects_a_non_module_and_an_empty_dataset():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train(lambda x: x, _toy_data(8), epochs=1, seed=0)
    with pytest.raises(ValueError, match="dataset is empty"):
        train(nn.Linear(2, 2), torch.utils.data.TensorDataset(torch.zeros(0, 2), torch.zeros(0)), epochs=1, seed=0)


def test_predict_restores_the_mode_and_matches_the_model(test_set):
    model = load_pretrained().train()
    subset = torch.utils.data.Subset(test_set, range(100))
    predicted, labels = predict(model, subset, batch_size=32)
    assert model.training
    images, expected_labels = _as_tensors(subset)
    with torch.no_grad():
        assert torch.equal(predicted, model.eval()(images).argmax(1))
    assert torch.equal(labels, expected_labels)


def test_accuracy_does_not_touch_the_global_rng(trained_model, test_set):
    subset = torch.utils.data.Subset(test_set, range(10))
    state = torch.random.get_rng_state()
    accuracy(trained_model, subset)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_load_pretrained_does_not_touch_the_global_rng():
    state = torch.random.get_rng_state()
    load_pretrained()
    assert torch.equal(torch.random.get_rng_state(), state)
