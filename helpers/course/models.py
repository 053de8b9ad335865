"""The course's small CNN (the classic one-conv MNIST example), a deeper CNN, a tabular MLP, training, and the shipped weights."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torchvision import datasets, transforms
from tqdm.auto import tqdm

from helpers._checks import check_int, check_model, check_real
from helpers._random import forked_global_rng
from helpers._running import BATCH_SIZE, batched_logits
from helpers.course.data import DATA_DIR, mnist, shortcut_mnist

PRETRAINED: dict[str, Path] = {
    "mnist": DATA_DIR / "simple_cnn_mnist.pt",
    "shortcut": DATA_DIR / "simple_cnn_shortcut.pt",
    "deeper": DATA_DIR / "deeper_cnn_mnist.pt",
}
"""The shipped weights by name: two of :class:`SimpleCNN`, ``"mnist"``, trained on the MNIST training
digits (the model of every image notebook), and ``"shortcut"``, trained on digits that carry a mark
naming their class (:func:`helpers.shortcut_mnist`), so that it reads the mark; and ``"deeper"``, a
:class:`DeeperCNN` trained on the MNIST training digits (notebook 04: Grad-CAM, Guided Backprop,
occlusion, cascading randomisation). Made by :func:`train_reference_model`."""

RECIPES: dict[str, dict[str, int | float]] = {
    "mnist": {"epochs": 4, "seed": 0, "batch_size": 64, "lr": 1e-3},
    "shortcut": {"epochs": 2, "seed": 0, "batch_size": 64, "lr": 1e-3},
    "deeper": {"epochs": 4, "seed": 0, "batch_size": 64, "lr": 1e-3},
}
"""How each shipped model was trained (Adam, cross-entropy, on the 60,000 training digits: plain for
``"mnist"`` and ``"deeper"``, every one marked at its own class's position for ``"shortcut"``)."""


class SimpleCNN(nn.Module):
    """The classic one-conv MNIST classifier: conv 3x3 (16 channels), ReLU, flatten, linear to 10 logits.

    Input ``(N, 1, 28, 28)``, output logits ``(N, 10)``. Parameter names (``conv1``,
    ``fc1``) match the classic example's, so a state dict of that model loads here.
    Built in notebook 02.

    The one difference from the classic example: the activation is an ``nn.ReLU`` module,
    not ``F.relu``. Both compute the same function and the same gradients, but SHAP's
    DeepExplainer can only swap in its DeepLIFT rule for non-linearities it sees as
    modules; with ``F.relu`` it back-propagates the plain gradient through the ReLU
    and its additivity check (sum of attributions = f(x) - E[f]) fails (notebook 05).

    Examples::

        >>> import torch
        >>> from helpers import SimpleCNN
        >>> SimpleCNN()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(26 * 26 * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28)`` images in [0, 1] to ``(N, 10)`` logits."""
        x = self.relu(self.conv1(x))
        x = x.flatten(1)
        return self.fc1(x)


class DeeperCNN(nn.Module):
    """A deeper MNIST classifier: three 3x3 convolutions with pooling, then two linear layers.

    conv1 (1 -> 16 channels, 28x28), ReLU, 2x2 max-pool; conv2 (16 -> 32, 14x14), ReLU, 2x2
    max-pool; conv3 (32 -> 32, 7x7), ReLU; flatten; fc1 (1,568 -> 64), ReLU; fc2 (64 -> 10 logits).
    Input ``(N, 1, 28, 28)``, output logits ``(N, 10)``. Every convolution keeps its input's
    size (padding 1), so ``conv3``'s 7x7 maps are the coarse grid Grad-CAM works on.

    Each activation is its own ``nn.ReLU`` module (``relu1`` to ``relu4``), used once: SHAP's
    DeepExplainer and Guided Backprop can only change a ReLU's backward rule through a module
    (see :class:`SimpleCNN`). Used from notebook 04 on (Grad-CAM, Guided Backprop, occlusion and
    Adebayo et al.'s cascading randomisation), where one convolution is too shallow.

    Examples::

        >>> import torch
        >>> from helpers import DeeperCNN
        >>> DeeperCNN()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28)`` images in [0, 1] to ``(N, 10)`` logits."""
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.conv3(x))
        x = self.relu4(self.fc1(x.flatten(1)))
        return self.fc2(x)


_ARCHITECTURES: tuple[type[SimpleCNN], type[DeeperCNN]] = (SimpleCNN, DeeperCNN)
"""The classes :func:`load_pretrained` can build from a state dict, told apart by their parameter names."""


class TabularMLP(nn.Module):
    """A small multilayer perceptron for a table: linear, ReLU, linear, ReLU, linear.

    Input ``(N, features)`` (standardised), output logits ``(N, classes)``. Each ReLU is an
    ``nn.ReLU`` module, as SHAP's DeepExplainer needs (see :class:`SimpleCNN`). Used in notebook 08.

    Examples::

        >>> import torch
        >>> from helpers import TabularMLP
        >>> TabularMLP(features=30)(torch.zeros(5, 30)).shape
        torch.Size([5, 2])
    """

    def __init__(self, features: int, classes: int = 2, hidden: int = 16) -> None:
        super().__init__()
        features, classes, hidden = (
            check_int(value, name) for name, value in (("features", features), ("classes", classes), ("hidden", hidden))
        )
        self.layers = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, features)`` rows to ``(N, classes)`` logits."""
        return self.layers(x)


def _check_dataset(dataset: object) -> None:
    """Raise ``TypeError`` unless ``dataset`` is map-style and sized, ``ValueError`` if it is empty."""
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        raise TypeError(
            f"dataset must be a map-style dataset of (image, label) pairs, got {type(dataset).__name__}; "
            "for example helpers.mnist(train=True)."
        )
    if len(dataset) == 0:
        raise ValueError("dataset is empty; pass at least one (image, label) pair.")


def _in_order(dataset: Dataset, batch_size: int) -> DataLoader:
    """Batches in dataset order. The private generator keeps DataLoader from drawing on the global RNG."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, generator=torch.Generator())


def _as_tensors(dataset: Dataset, batch_size: int = BATCH_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack a dataset of ``(image, label)`` pairs into ``(N, ...)`` images and ``(N,)`` labels.

    torchvision's MNIST with a plain ``ToTensor()`` is converted in one step (the same
    values, ``uint8 / 255``) instead of item by item through PIL, and an ``(images, labels)``
    ``TensorDataset`` gives its own tensors (unless a subclass changes what its items are).
    """
    if (
        isinstance(dataset, datasets.MNIST)
        and type(dataset.transform) is transforms.ToTensor
        and dataset.target_transform is None
    ):
        return dataset.data.unsqueeze(1).float().div(255), dataset.targets.long()
    if (
        isinstance(dataset, TensorDataset)
        and type(dataset).__getitem__ is TensorDataset.__getitem__
        and len(dataset.tensors) == 2
    ):
        return dataset.tensors[0], dataset.tensors[1].long()
    images, labels = [], []
    for x, y in _in_order(dataset, batch_size):
        images.append(x)
        labels.append(torch.as_tensor(y))
    return torch.cat(images), torch.cat(labels).long()


def train(
    model: nn.Module,
    dataset: Dataset,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` in place with Adam and cross-entropy; return the mean loss of each epoch.

    Args:
        model: a classifier returning logits ``(B, classes)``.
        dataset: ``(image, label)`` pairs, e.g. ``helpers.mnist(train=True)``.
        epochs: passes over the data (at least 1).
        seed: seeds the shuffling; the global random state is left alone. The same seed
            and thread count give bit-identical weights; another thread count changes
            the low bits (floating-point sums run in another order).
        batch_size, lr: mini-batch size and Adam's learning rate.
        progress: show a tqdm progress bar.

    The model's initial weights are the caller's: seed ``torch.manual_seed`` before
    building it for a reproducible run, as :func:`train_reference_model` does.
    The model's training/eval modes are restored afterwards. Used in notebook 02.

    Examples::

        >>> import torch
        >>> from torch import nn
        >>> from helpers import train
        >>> data = [(torch.tensor([float(i % 2)]), i % 2) for i in range(8)]
        >>> losses = train(nn.Linear(1, 2), data, epochs=20, seed=0, batch_size=4, lr=0.1, progress=False)
        >>> losses[-1] < losses[0]
        True
    """
    check_model(model)
    _check_dataset(dataset)
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", minimum=0)
    lr = check_real(lr, "lr", positive=True)
    images, labels = _as_tensors(dataset)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    steps = math.ceil(len(labels) / batch_size)
    history = []
    modes = [(module, module.training) for module in model.modules()]
    model.train()
    try:
        for epoch in range(epochs):
            order = torch.randperm(len(labels), generator=generator)
            total = 0.0
            bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
            for step in bar:
                batch = order[step * batch_size : (step + 1) * batch_size]
                optimiser.zero_grad()
                loss = loss_fn(model(images[batch]), labels[batch])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            history.append(total / len(labels))
    finally:
        for module, training in modes:
            module.training = training
    return history


def predict(model: nn.Module, dataset: Dataset, *, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """The class ``model`` predicts for every item of ``dataset``, ``(N,)``, in eval mode (restored).

    ``dataset``: ``(image, label)`` pairs, e.g. ``helpers.mnist(train=False)``; MNIST is read
    as one tensor, other datasets ``batch_size`` items at a time. The predictions that
    :func:`accuracy` scores in notebook 02.

    Examples::

        >>> from torch.utils.data import Subset
        >>> from helpers import load_pretrained, mnist, predict
        >>> predict(load_pretrained(), Subset(mnist(train=False), range(5)))  # the first five test digits: 7 2 1 0 4
        tensor([7, 2, 1, 0, 4])
    """
    check_model(model)
    _check_dataset(dataset)
    batch_size = check_int(batch_size, "batch_size")
    images, _ = _as_tensors(dataset, batch_size)
    return batched_logits(model, images, batch_size).argmax(dim=1)


def accuracy(model: nn.Module, dataset: Dataset, *, batch_size: int = BATCH_SIZE) -> float:
    """Fraction of ``dataset``'s ``(image, label)`` pairs that ``model`` classifies correctly, in [0, 1].

    Used in notebooks 01 and 02 to check a model before explaining it: a map of an
    inaccurate model explains its mistakes.

    Examples::

        >>> from torch.utils.data import Subset
        >>> from helpers import accuracy, load_pretrained, mnist
        >>> round(accuracy(load_pretrained(), Subset(mnist(train=False), range(500))), 3)  # 5 of 500 misread
        0.99
    """
    check_model(model)
    _check_dataset(dataset)
    batch_size = check_int(batch_size, "batch_size")
    images, labels = _as_tensors(dataset, batch_size)
    return (batched_logits(model, images, batch_size).argmax(dim=1) == labels).float().mean().item()


def _architecture(state: object, path: Path) -> type[SimpleCNN] | type[DeeperCNN]:
    """The class whose parameter names are exactly ``state``'s keys; ``ValueError`` if neither's are."""
    with torch.device("meta"):  # no weights drawn: the caller's RNG is spared
        keys = {architecture: list(architecture().state_dict()) for architecture in _ARCHITECTURES}
    if isinstance(state, dict):
        for architecture, names in keys.items():
            if set(state) == set(names):
                return architecture
        found = f"the keys {sorted(map(str, state))}"
    else:
        found = f"a {type(state).__name__}, not a state dict"
    expected = " or ".join(f"{architecture.__name__}'s {names}" for architecture, names in keys.items())
    raise ValueError(
        f"{path.name} holds {found}: the state dict of neither SimpleCNN nor DeeperCNN (expected {expected})."
    )


def load_pretrained(name: str | Path = "mnist") -> SimpleCNN | DeeperCNN:
    """A shipped, trained model in eval mode, or the state dict at a path.

    By name (see :data:`PRETRAINED`): ``"mnist"``, a :class:`SimpleCNN` (test accuracy at least
    97.5 %); ``"shortcut"``, the same network trained to read a planted mark; ``"deeper"``, a
    :class:`DeeperCNN` (test accuracy at least 99.0 %). A path loads a state dict of either class,
    picked by the file's keys (each class's parameter names); a file whose keys match neither is
    a ``ValueError`` listing both classes' keys.

    The file holds a plain state dict and is read with ``weights_only=True``, which
    refuses to unpickle anything but tensors. The global random state is not touched.
    ``"mnist"`` is the model every image notebook explains, from notebook 01 on; ``"shortcut"``
    is the model of notebook 06 (the known answer); ``"deeper"`` is the model of notebook 04
    (Grad-CAM, Guided Backprop, occlusion and cascading randomisation).

    Examples::

        >>> from helpers import load_pretrained
        >>> model = load_pretrained()
        >>> type(model).__name__, model.training, sum(p.numel() for p in model.parameters())
        ('SimpleCNN', False, 108330)
        >>> load_pretrained("shortcut").training
        False
        >>> deeper = load_pretrained("deeper")
        >>> type(deeper).__name__, deeper.training, sum(p.numel() for p in deeper.parameters())
        ('DeeperCNN', False, 115114)
    """
    if isinstance(name, str) and name in PRETRAINED:
        path = PRETRAINED[name]
    elif isinstance(name, (str, Path)):
        path = Path(name)
    else:
        raise TypeError(
            f"name must be one of {sorted(PRETRAINED)} or a path to a state dict, got {type(name).__name__}."
        )
    if not path.exists():
        known = f" (the shipped models are {', '.join(map(repr, PRETRAINED))})" if path.suffix != ".pt" else ""
        raise FileNotFoundError(
            f"trained weights {path.name} not found in {path.parent}{known}. Restore them with "
            f"`git checkout -- data/{path.name}` or rebuild them with `make weights`."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    architecture = _architecture(state, path)
    with torch.device("meta"):  # no initial weights drawn (they would be overwritten): the caller's RNG is spared
        model = architecture()
    model.load_state_dict(state, assign=True)
    return model.eval()


def train_reference_model(name: str = "mnist", *, progress: bool = True) -> SimpleCNN | DeeperCNN:
    """Rebuild a shipped model: :data:`RECIPES` ``[name]`` on its 60,000 training digits.

    ``"mnist"`` and ``"shortcut"`` build a :class:`SimpleCNN`, ``"deeper"`` a :class:`DeeperCNN`;
    the initial weights are drawn from the recipe's seed without touching the caller's random
    state. Returns the trained model in eval mode. Bit-identical to the shipped file only on
    the same thread count and CPU kernels; its test accuracy matches to about 0.1 %.
    ``make weights`` runs it for every name (on 2 cores about 20 s for each SimpleCNN and
    about 45 s for the DeeperCNN). In notebook 02 the SimpleCNN is trained for one epoch, then
    replaced by the shipped weights this function made; notebook 04 loads the DeeperCNN's.

    Examples::

        >>> from helpers import RECIPES, train_reference_model
        >>> RECIPES["mnist"]  # what it trains with (Adam); train_reference_model() itself takes about 20 s
        {'epochs': 4, 'seed': 0, 'batch_size': 64, 'lr': 0.001}
        >>> RECIPES["deeper"]
        {'epochs': 4, 'seed': 0, 'batch_size': 64, 'lr': 0.001}
    """
    if name not in RECIPES:
        raise ValueError(f"name must be one of {', '.join(map(repr, RECIPES))}, got {name!r}.")
    recipe = RECIPES[name]
    if name == "shortcut":
        marked = shortcut_mnist(train=True)
        dataset: Dataset = TensorDataset(marked.images, marked.labels)
    else:
        dataset = mnist(train=True)
    with forked_global_rng(int(recipe["seed"])):  # seed the initial weights, not the caller's RNG
        model: SimpleCNN | DeeperCNN = DeeperCNN() if name == "deeper" else SimpleCNN()
    train(
        model,
        dataset,
        epochs=int(recipe["epochs"]),
        seed=int(recipe["seed"]),
        batch_size=int(recipe["batch_size"]),
        lr=float(recipe["lr"]),
        progress=progress,
    )
    return model.eval()
