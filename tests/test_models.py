"""helpers.course.models: the seed's architecture, the deeper CNN, training, the shipped weights, the tabular MLP."""

import contextlib
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset
from torchvision import datasets

from helpers.course.data import DATA_DIR, breast_cancer, shortcut_mnist
from helpers.course.models import (
    PRETRAINED,
    RECIPES,
    DeeperCNN,
    SimpleCNN,
    TabularMLP,
    _as_tensors,
    accuracy,
    load_pretrained,
    predict,
    train,
    train_reference_model,
)

from bad_arguments import int_error
from side_effects import global_rngs_untouched


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
    state = torch.load(PRETRAINED["mnist"], map_location="cpu", weights_only=True)
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
    assert all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )


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
        ({"epochs": 1.5, "seed": 0}, TypeError, "epochs must be a positive int"),
        ({"epochs": 1, "seed": 0, "batch_size": 0}, ValueError, "batch_size"),
        ({"epochs": 1, "seed": 0, "lr": -1.0}, ValueError, "lr must be positive"),
    ],
)
def test_training_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        train(nn.Linear(2, 2), _toy_data(8), progress=False, **kwargs)


def test_training_rejects_a_non_module_and_an_empty_dataset():
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        train(lambda x: x, _toy_data(8), epochs=1, seed=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dataset is empty"):
        train(nn.Linear(2, 2), torch.utils.data.TensorDataset(torch.zeros(0, 2), torch.zeros(0)), epochs=1, seed=0)


def test_predict_restores_the_mode_and_matches_the_model(test_set):
    model = load_pretrained().train()
    subset = torch.utils.data.Subset(test_set, range(100))
    predicted = predict(model, subset, batch_size=32)
    assert model.training
    images, _ = _as_tensors(subset)
    with torch.no_grad():
        assert torch.equal(predicted, model.eval()(images).argmax(1))


def test_accuracy_does_not_touch_the_global_rng(trained_model, test_set):
    subset = torch.utils.data.Subset(test_set, range(10))
    state = torch.random.get_rng_state()
    accuracy(trained_model, subset)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_load_pretrained_does_not_touch_the_global_rng():
    state = torch.random.get_rng_state()
    load_pretrained()
    assert torch.equal(torch.random.get_rng_state(), state)


def test_predict_reads_mnist_as_one_tensor_and_returns_the_predictions_only(monkeypatch, trained_model, test_set):
    """predict used to load MNIST item by item through PIL, and returned (predictions, labels)."""
    with torch.no_grad():
        expected = trained_model(torch.stack([test_set[i][0] for i in range(100)])).argmax(1)
    small = copy.copy(test_set)  # still torchvision's MNIST, with the first 1000 test images only
    small.data, small.targets = test_set.data[:1000], test_set.targets[:1000]
    model = load_pretrained().train()
    model.conv1.eval()  # mixed modes come back as they were
    before = [m.training for m in model.modules()]
    items = []
    getitem = datasets.MNIST.__getitem__

    def counted_getitem(self, index):
        items.append(index)
        return getitem(self, index)

    monkeypatch.setattr(datasets.MNIST, "__getitem__", counted_getitem)
    sizes = []
    handle = model.register_forward_hook(lambda module, inputs, output: sizes.append(len(inputs[0])))
    try:
        predicted = predict(model, small, batch_size=384)
        correct = accuracy(model, small, batch_size=384)
    finally:
        handle.remove()
    assert items == [], "an MNIST item went through __getitem__ (PIL and ToTensor, one image at a time)"
    assert isinstance(predicted, torch.Tensor)
    assert predicted.shape == (1000,) and predicted.dtype == torch.long
    assert torch.equal(predicted[:100], expected)
    assert correct == (predicted == small.targets).float().mean().item()
    assert sizes == [384, 384, 232] * 2  # batch_size images per pass, for predict then accuracy
    assert [m.training for m in model.modules()] == before


# --- the shipped models by name: "mnist", "shortcut" and "deeper" ---------------------------------


def test_every_shipped_model_has_a_file_and_a_recipe():
    assert list(PRETRAINED) == ["mnist", "shortcut", "deeper"] and list(RECIPES) == list(PRETRAINED)
    files = {"mnist": "simple_cnn_mnist.pt", "shortcut": "simple_cnn_shortcut.pt", "deeper": "deeper_cnn_mnist.pt"}
    for name, path in PRETRAINED.items():
        assert path == DATA_DIR / files[name] and path.exists()
    # as data/README.md describes them
    assert RECIPES["mnist"] == {"epochs": 4, "seed": 0, "batch_size": 64, "lr": 1e-3}
    assert RECIPES["shortcut"] == {"epochs": 2, "seed": 0, "batch_size": 64, "lr": 1e-3}
    assert RECIPES["deeper"] == {"epochs": 4, "seed": 0, "batch_size": 64, "lr": 1e-3}


def _shipped_state(name):
    return torch.load(PRETRAINED[name], map_location="cpu", weights_only=True)


def _assert_state(model, state, architecture=SimpleCNN):
    assert type(model) is architecture and not model.training
    assert not any(module.training for module in model.modules())
    assert list(model.state_dict()) == list(state)
    assert all(torch.equal(value, state[key]) for key, value in model.state_dict().items())


def test_load_pretrained_by_default_and_by_name_mnist_is_the_mnist_file():
    state = _shipped_state("mnist")
    _assert_state(load_pretrained(), state)
    _assert_state(load_pretrained("mnist"), state)


ARCHITECTURES = {"mnist": SimpleCNN, "shortcut": SimpleCNN, "deeper": DeeperCNN}


@pytest.mark.parametrize("as_type", [str, Path])
@pytest.mark.parametrize("name", ["mnist", "shortcut", "deeper"])
def test_load_pretrained_from_a_path_picks_the_class_from_the_keys(name, as_type):
    _assert_state(load_pretrained(as_type(PRETRAINED[name])), _shipped_state(name), ARCHITECTURES[name])


def test_load_pretrained_reads_a_copied_file_by_its_keys_not_its_name(tmp_path):
    """A DeeperCNN state dict under a SimpleCNN-like name is still a DeeperCNN, and the reverse."""
    for name, other in (("deeper", "simple_cnn_mnist.pt"), ("mnist", "deeper_cnn_mnist.pt")):
        path = tmp_path / other
        path.write_bytes(PRETRAINED[name].read_bytes())
        _assert_state(load_pretrained(path), _shipped_state(name), ARCHITECTURES[name])


NEITHER = {
    "linear": lambda: {"weight": torch.zeros(2, 2), "bias": torch.zeros(2)},
    "extra-key": lambda: {**_shipped_state("mnist"), "extra.weight": torch.zeros(1)},  # SimpleCNN's keys and one more
    "missing-key": lambda: {k: v for k, v in _shipped_state("deeper").items() if k != "fc2.bias"},  # one key short
    "empty": dict,
}


@pytest.mark.parametrize("state", NEITHER)
def test_a_state_dict_of_neither_class_is_a_value_error_naming_both(tmp_path, state):
    path = tmp_path / "other.pt"
    torch.save(NEITHER[state](), path)
    with pytest.raises(ValueError, match=r"other\.pt holds the keys .*neither SimpleCNN nor DeeperCNN") as caught:
        load_pretrained(path)
    assert "conv1.weight" in str(caught.value) and "fc2.bias" in str(caught.value)  # the keys each class expects


def test_a_file_that_is_not_a_state_dict_is_a_value_error(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(
        ValueError, match=r"tensor\.pt holds a Tensor, not a state dict.*neither SimpleCNN nor DeeperCNN"
    ):
        load_pretrained(path)


def test_a_state_dict_of_neither_class_does_not_touch_the_global_rngs(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(nn.Linear(2, 2).state_dict(), path)
    with global_rngs_untouched(), pytest.raises(ValueError):
        load_pretrained(path)


@pytest.fixture(scope="module")
def shortcut_model():
    return load_pretrained("shortcut")


def test_shortcut_model_is_its_file_in_eval_mode(shortcut_model):
    state = _shipped_state("shortcut")
    _assert_state(shortcut_model, state)
    assert not torch.equal(state["fc1.weight"], _shipped_state("mnist")["fc1.weight"])
    assert set(state) == {"conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias"}


def test_shortcut_model_follows_a_moved_mark(shortcut_model):
    """The course's promise: on digits carrying another class's mark, it predicts the mark's class."""
    moved = shortcut_mnist(train=False, moved=True)
    follows = accuracy(shortcut_model, TensorDataset(moved.images, moved.mark_labels))
    assert follows >= 0.90, f"the prediction follows the mark on {follows:.2%} of moved-mark test digits"


def test_shortcut_model_reads_correctly_marked_digits(shortcut_model):
    marked = shortcut_mnist(train=False)
    correct = accuracy(shortcut_model, TensorDataset(marked.images, marked.labels))
    assert correct >= 0.97, f"{correct:.2%} of correctly marked test digits"


def test_an_unknown_name_lists_the_shipped_models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "resnet" is read as a path: make sure no such file is here
    with pytest.raises(FileNotFoundError, match=r"resnet.*the shipped models are 'mnist', 'shortcut', 'deeper'"):
        load_pretrained("resnet")


@pytest.mark.parametrize("name", [None, 0, b"mnist", ["mnist"]])
def test_load_pretrained_rejects_a_name_that_is_neither_a_str_nor_a_path(name):
    with pytest.raises(TypeError, match=r"name must be one of \['deeper', 'mnist', 'shortcut'\] or a path"):
        load_pretrained(name)


@pytest.mark.parametrize("name", ["mnist", "shortcut", "deeper"])
def test_load_pretrained_does_not_touch_the_global_rngs(name):
    with global_rngs_untouched():
        load_pretrained(name)


def test_train_reference_model_rejects_an_unknown_name():
    with pytest.raises(ValueError, match=r"name must be one of 'mnist', 'shortcut', 'deeper', got 'resnet'"):
        train_reference_model("resnet", progress=False)


# --- the deeper model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deeper_model():
    return load_pretrained("deeper")


def test_deeper_architecture():
    model = DeeperCNN()
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "conv1.weight": (16, 1, 3, 3),
        "conv1.bias": (16,),
        "conv2.weight": (32, 16, 3, 3),
        "conv2.bias": (32,),
        "conv3.weight": (32, 32, 3, 3),
        "conv3.bias": (32,),
        "fc1.weight": (64, 32 * 7 * 7),
        "fc1.bias": (64,),
        "fc2.weight": (10, 64),
        "fc2.bias": (10,),
    }
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 4 and len(set(map(id, relus))) == 4 and not any(relu.inplace for relu in relus)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2


def test_deeper_model_is_its_file_in_eval_mode(deeper_model):
    _assert_state(deeper_model, _shipped_state("deeper"), DeeperCNN)
    assert all(p.device.type == "cpu" for p in deeper_model.parameters())


def test_deeper_file_is_small():
    assert PRETRAINED["deeper"].stat().st_size <= 2 * 1024 * 1024


def test_deeper_model_accuracy_is_at_least_99_percent(deeper_model, test_set):
    assert accuracy(deeper_model, test_set) >= 0.99


def test_deeper_conv3_maps_are_7_by_7(deeper_model, test_images):
    """The coarse grid Grad-CAM works on in notebook 04."""
    shapes = []
    handle = deeper_model.conv3.register_forward_hook(lambda module, inputs, output: shapes.append(output.shape))
    try:
        with torch.no_grad():
            assert deeper_model(test_images[:2]).shape == (2, 10)
    finally:
        handle.remove()
    assert shapes == [torch.Size([2, 32, 7, 7])]


def test_train_reference_model_builds_a_deeper_cnn_without_touching_the_global_rngs(monkeypatch):
    """The recipe and its seeded initial weights, without the 60,000-digit training run."""
    runs = []

    def fake_train(model, dataset, **kwargs):
        runs.append((model, len(dataset), kwargs))
        return []

    monkeypatch.setattr("helpers.course.models.train", fake_train)
    with global_rngs_untouched():
        model = train_reference_model("deeper", progress=False)
    again = train_reference_model("deeper", progress=False)
    assert type(model) is DeeperCNN and not model.training
    (first, size, kwargs), _ = runs
    assert first is model and size == 60_000
    recipe = RECIPES["deeper"]
    assert kwargs == {
        "epochs": recipe["epochs"],
        "seed": recipe["seed"],
        "batch_size": recipe["batch_size"],
        "lr": recipe["lr"],
        "progress": False,
    }
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))


@pytest.fixture
def tensor_items(monkeypatch):
    """The indices that go through ``TensorDataset.__getitem__`` from now on."""
    items = []
    getitem = TensorDataset.__getitem__

    def counted_getitem(self, index):
        items.append(index)
        return getitem(self, index)

    monkeypatch.setattr(TensorDataset, "__getitem__", counted_getitem)
    return items


def test_a_tensor_dataset_is_read_as_its_tensors(tensor_items):
    images, labels = torch.rand(300, 1, 28, 28), torch.arange(300, dtype=torch.int32) % 10
    got_images, got_labels = _as_tensors(TensorDataset(images, labels))
    assert tensor_items == [], "a TensorDataset was read item by item"
    assert got_images is images
    assert got_labels.dtype == torch.long and torch.equal(got_labels, labels.long())
    # the same as item by item
    slow_images, slow_labels = _as_tensors(torch.utils.data.Subset(TensorDataset(images, labels), range(300)))
    assert torch.equal(slow_images, images) and torch.equal(slow_labels, got_labels)


class _Brighter(TensorDataset):
    """A TensorDataset whose items are transformed: it must be read through its own __getitem__."""

    def __getitem__(self, index):
        x, y = super().__getitem__(index)
        return x + 1, y


def test_a_tensor_dataset_subclass_with_its_own_getitem_is_read_item_by_item():
    images, labels = torch.rand(10, 1, 28, 28), torch.arange(10)
    got_images, got_labels = _as_tensors(_Brighter(images, labels))
    assert torch.equal(got_images, images + 1) and torch.equal(got_labels, labels)


def _train_small_cnn(dataset):
    torch.manual_seed(0)
    model = SimpleCNN()
    return model, train(model, dataset, epochs=2, seed=0, batch_size=64, progress=False)


def test_training_on_a_tensor_dataset_of_marked_digits(tensor_items):
    marked = shortcut_mnist(train=False)
    dataset = TensorDataset(marked.images[:256], marked.labels[:256])
    model, losses = _train_small_cnn(dataset)
    assert tensor_items == [], "train() read the TensorDataset item by item"
    assert len(losses) == 2 and losses[1] < losses[0]
    # item by item (a Subset is not a TensorDataset): the same data, so the same run
    slow_model, slow_losses = _train_small_cnn(torch.utils.data.Subset(dataset, range(256)))
    assert len(tensor_items) == 256
    assert losses == slow_losses, "the TensorDataset fast path trained on other data than item by item"
    assert all(
        torch.equal(a, b) for a, b in zip(model.state_dict().values(), slow_model.state_dict().values(), strict=True)
    )


class Raising(nn.Module):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.error = error

    def forward(self, x):
        raise self.error


def test_a_model_running_out_of_memory_is_not_reported_as_a_shape_error():
    error = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
    with pytest.raises(torch.OutOfMemoryError) as caught:
        accuracy(Raising(error), _toy_data(8))
    assert caught.value is error


@pytest.mark.parametrize("subset", [False, True], ids=["mnist", "subset"])
def test_accuracy_of_a_flat_model_on_images_says_to_add_nn_flatten(test_set, subset):
    """It used to raise PyTorch's bare RuntimeError about shapes that cannot be multiplied."""
    flat_model = nn.Sequential(nn.Linear(784, 10))
    dataset = torch.utils.data.Subset(test_set, range(20)) if subset else test_set
    with pytest.raises(ValueError, match=r"make nn\.Flatten\(\) its first layer") as caught:
        accuracy(flat_model, dataset)
    assert "unsqueeze" not in str(caught.value)
    assert isinstance(caught.value.__cause__, RuntimeError)


# --- TabularMLP ------------------------------------------------------------------------------------


def test_tabular_mlp_shapes():
    torch.manual_seed(0)
    model = TabularMLP(5, classes=3, hidden=7)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(7, 5), (7,), (7, 7), (7,), (3, 7), (3,)]
    assert model(torch.randn(4, 5)).shape == (4, 3)
    assert TabularMLP(30)(torch.randn(2, 30)).shape == (2, 2)  # defaults: two classes, 16 hidden
    assert sum(p.numel() for p in TabularMLP(30).parameters()) == 30 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2


def _linear_layers_and_relus(model):
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    return layers, relus


def _swap_relus_for_identity(model):
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, nn.Identity())


def test_tabular_mlp_activations_are_relu_modules_and_nothing_else():
    """DeepExplainer replaces the gradient only at nn.ReLU modules, and stores each module's last
    input on the module itself: a functional relu, or one ReLU module used twice, breaks it."""
    torch.manual_seed(0)
    model = TabularMLP(6, classes=3, hidden=8).double()
    (first, second, third), relus = _linear_layers_and_relus(model)
    assert len(relus) == 2 and relus[0] is not relus[1]
    assert not any(relu.inplace for relu in relus)
    x = torch.randn(64, 6, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(model(x), third(torch.relu(second(torch.relu(first(x))))))
        _swap_relus_for_identity(model)
        # With the modules gone the network must be exactly affine: any other non-linearity
        # (a functional relu in forward, say) would show on these random rows.
        assert torch.allclose(model(x), third(second(first(x))), rtol=1e-12, atol=1e-12)
        assert not torch.allclose(model(x), third(torch.relu(second(torch.relu(first(x))))))


@pytest.mark.parametrize("name", ["features", "classes", "hidden"])
@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3", None])
def test_tabular_mlp_rejects_bad_sizes(name, value):
    kwargs = {"features": 4, "classes": 2, "hidden": 3, name: value}
    with pytest.raises(int_error(value), match=f"{name} must be a positive int"):
        TabularMLP(**kwargs)


@contextlib.contextmanager
def _one_thread():
    """Train on one thread: on a busy two-core machine two threads can be twenty times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train_reference_mlp(table):
    """The notebook's recipe."""
    with _one_thread():
        torch.manual_seed(0)
        model = TabularMLP(30).double()
        data = TensorDataset(table.x_train, table.y_train)
        losses = train(model, data, epochs=30, seed=0, batch_size=32, progress=False)
    return model, losses


@pytest.fixture(scope="module")
def table():
    return breast_cancer()


@pytest.fixture(scope="module")
def trained_mlp(table):
    return _train_reference_mlp(table)


def test_tabular_mlp_learns_the_breast_cancer_table(table, trained_mlp):
    model, losses = trained_mlp
    assert len(losses) == 30 and losses[-1] < 0.2 < losses[0]
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert accuracy(model, TensorDataset(table.x_test, table.y_test)) >= 0.93


def test_tabular_mlp_training_is_bit_identical_when_repeated(table, trained_mlp):
    model, losses = trained_mlp
    again, losses_again = _train_reference_mlp(table)
    assert losses_again == losses
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))


def test_tabular_mlp_passes_deep_explainers_additivity_check(table, trained_mlp):
    shap = pytest.importorskip("shap")
    model = copy.deepcopy(trained_mlp[0]).eval()
    background, rows = table.x_train[:50], table.x_test[:4]
    values = np.asarray(shap.DeepExplainer(model, background).shap_values(rows, check_additivity=True))
    assert values.shape == (4, 30, 2)
    with torch.no_grad():
        expected = (model(rows) - model(background).mean(dim=0)).numpy()
    np.testing.assert_allclose(values.sum(axis=1), expected, rtol=1e-6, atol=1e-8)
