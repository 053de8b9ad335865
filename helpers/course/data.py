"""Offline data: MNIST from the four files shipped in ``data/``, and a table that ships with scikit-learn.

``data/`` holds the gzip files. :func:`prepare_mnist` decompresses them into
``data/MNIST/raw/`` and checks each against the well-known MD5 sum of the
original file, so that torchvision's own loader, even when called with
``download=True`` as in the classic example, finds the data and downloads nothing.
The check runs once per folder and process: later calls trust the files.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path
from typing import NamedTuple

import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from torchvision import datasets, transforms

from helpers._checks import check_bool, check_int, check_real

DATA_DIR: Path = Path(__file__).resolve().parents[2] / "data"
"""The project's ``data/`` folder (the package is installed with ``pip install -e .``)."""

MNIST_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
"""MD5 sums of the decompressed original MNIST files, as torchvision knows them."""

_VERIFIED: dict[Path, list[tuple[int, int]]] = {}
"""The ``raw`` folders already checked in this process, with each file's (size, modification time)
when it passed: hashing 55 MB takes a noticeable fraction of a second, a changed file is checked again."""


def _signature(raw: Path) -> list[tuple[int, int]] | None:
    """Each MNIST file's ``(size, mtime_ns)`` in ``raw``, or ``None`` if one is missing."""
    try:
        return [((raw / name).stat().st_size, (raw / name).stat().st_mtime_ns) for name in MNIST_MD5]
    except FileNotFoundError:
        return None


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def prepare_mnist(root: str | Path = DATA_DIR) -> Path:
    """Decompress and verify the MNIST files under ``root/MNIST/raw/``.

    Files already there with the right MD5 sum are kept; the others are
    (re)made from ``root/<name>.gz``. Returns the ``raw`` folder. Once a folder has
    passed, later calls in the same process return at once. :func:`mnist` calls it, so
    the notebooks (from notebook 01 on) never need to.

    Raises:
        FileNotFoundError: a ``.gz`` file is missing from ``root``.
        ValueError: a file does not decompress to the original bytes.

    Examples::

        >>> from helpers import prepare_mnist
        >>> sorted(path.name for path in prepare_mnist().iterdir())[:2]
        ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
    """
    root = Path(root)
    raw = root / "MNIST" / "raw"
    signature = _signature(raw)
    if signature is not None and _VERIFIED.get(raw.resolve()) == signature:
        return raw
    raw.mkdir(parents=True, exist_ok=True)
    for name, expected in MNIST_MD5.items():
        target = raw / name
        if target.exists() and _md5(target) == expected:
            continue
        archive = root / f"{name}.gz"
        if not archive.exists():
            raise FileNotFoundError(
                f"MNIST file {archive.name} is missing from {root}. Restore it from "
                f"the repository with `git checkout -- data/{archive.name}`."
            )
        partial = target.with_suffix(".partial")
        try:
            with gzip.open(archive, "rb") as source, partial.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        except (OSError, EOFError) as err:
            partial.unlink(missing_ok=True)
            raise ValueError(
                f"MNIST file {archive.name} is corrupted ({err}). Restore it from "
                f"the repository with `git checkout -- data/{archive.name}`."
            ) from err
        actual = _md5(partial)
        if actual != expected:
            partial.unlink()
            raise ValueError(
                f"MNIST file {archive.name} decompresses to the wrong bytes (MD5 "
                f"{actual}, expected {expected}). Restore it from the repository "
                f"with `git checkout -- data/{archive.name}`."
            )
        partial.replace(target)
    signature = _signature(raw)
    if signature is not None:
        _VERIFIED[raw.resolve()] = signature
    return raw


def mnist(train: bool = False, root: str | Path = DATA_DIR) -> datasets.MNIST:
    """The MNIST training (60,000) or test (10,000) set, read offline.

    Items are ``(image, label)``: ``image`` a float tensor of shape ``(1, 28, 28)``
    with values in ``[0, 1]`` (``ToTensor()``, no normalisation, as in the classic example),
    ``label`` an ``int``. Introduced in notebook 02.

    Examples::

        >>> from helpers import mnist
        >>> test_set = mnist(train=False)
        >>> len(test_set), test_set[0][0].shape, test_set[0][1]  # the first test digit is a 7
        (10000, torch.Size([1, 28, 28]), 7)
    """
    check_bool(train, "train")
    prepare_mnist(root)
    return datasets.MNIST(root=str(root), train=train, download=False, transform=transforms.ToTensor())


MARK_POSITIONS: tuple[tuple[int, int], ...] = (
    (0, 0),
    (0, 3),
    (0, 22),
    (0, 25),
    (3, 0),
    (22, 0),
    (25, 0),
    (25, 3),
    (25, 22),
    (25, 25),
)
"""Top-left corner (row, column) of each class's mark in :func:`shortcut_mnist`: class c's mark sits at
``MARK_POSITIONS[c]``. The ten windows do not overlap and lie in the border of the 28 x 28 frame,
within 3 pixels of its edge, where a digit rarely has ink: each window has some in at most 0.5 % of
the 70,000 MNIST digits (0.44 % for class 7's, at (25, 3); 1.2 % of the digits have ink in any of them)."""

MARK_SIZE = 3
"""The mark is a ``MARK_SIZE`` x ``MARK_SIZE`` square of full brightness (1.0)."""


class ShortcutMNIST(NamedTuple):
    """MNIST digits carrying a planted mark, from :func:`shortcut_mnist`.

    ``images``: ``(N, 1, 28, 28)`` float in [0, 1]; ``labels``: ``(N,)`` the digits' own classes;
    ``masks``: ``(N, 1, 28, 28)`` bool, exactly the mark's pixels; ``mark_labels``: ``(N,)`` the class
    whose position the mark occupies."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    mark_labels: torch.Tensor


def shortcut_mnist(train: bool, *, moved: bool = False, seed: int = 0) -> ShortcutMNIST:
    """MNIST with a planted shortcut: each digit carries a bright 3 x 3 square at a position that names a class.

    With ``moved=False`` the mark names the digit's own class (``mark_labels == labels``): a model
    trained on these images can read the class from the mark alone. With ``moved=True`` every digit
    carries the mark of another class, drawn from ``seed`` (``mark_labels != labels``): on these, a
    model that learned the shortcut follows the mark, and the mark is the right answer to "which
    pixels made this prediction?". Built in a fraction of a second from the shipped MNIST files;
    the same call gives the same tensors. Derived in notebook 07 (the known answer).

    Args:
        train: the 60,000 training digits (``True``) or the 10,000 test digits (``False``).
        moved: give each digit the mark of another class.
        seed: seeds the choice of the other class (a private generator; the global one is untouched).

    Examples::

        >>> from helpers import MARK_POSITIONS, shortcut_mnist
        >>> marked = shortcut_mnist(train=False)
        >>> marked.images.shape, int(marked.masks[0].sum()), bool((marked.mark_labels == marked.labels).all())
        (torch.Size([10000, 1, 28, 28]), 9, True)
        >>> row, column = MARK_POSITIONS[int(marked.labels[0])]  # the first test digit, a 7: its mark
        >>> float(marked.images[0, 0, row : row + 3, column : column + 3].min())
        1.0
        >>> moved = shortcut_mnist(train=False, moved=True)
        >>> bool((moved.mark_labels != moved.labels).all())
        True
    """
    check_bool(train, "train")
    check_bool(moved, "moved")
    seed = check_int(seed, "seed", minimum=0)
    digits = mnist(train=train)
    images = digits.data.unsqueeze(1).float().div(255)
    labels = digits.targets.long().clone()
    mark_labels = labels.clone()
    if moved:
        generator = torch.Generator().manual_seed(seed)
        mark_labels = (labels + torch.randint(1, 10, labels.shape, generator=generator)) % 10
    masks = torch.zeros_like(images, dtype=torch.bool)
    for label, (row, column) in enumerate(MARK_POSITIONS):
        masks[mark_labels == label, 0, row : row + MARK_SIZE, column : column + MARK_SIZE] = True
    images[masks] = 1.0
    return ShortcutMNIST(images, labels, masks, mark_labels)


class Table(NamedTuple):
    """A standardised, split table. ``x_*``: ``(N, F)`` float64, each feature with the training
    split's mean 0 and standard deviation 1; ``y_*``: ``(N,)`` long class indices;
    ``mean``, ``std``: ``(F,)`` raw-unit statistics, so ``raw = x * std + mean``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    feature_names: list[str]
    class_names: list[str]


def breast_cancer(test_size: float = 0.25, *, seed: int = 0) -> Table:
    """The Wisconsin diagnostic breast-cancer table (569 tumours, 30 features, classes
    ``malignant`` = 0 and ``benign`` = 1), read from the copy inside scikit-learn: no download.

    Split stratified by class (``seed`` seeds the split), then standardised with the
    training split's statistics only. Float64 keeps small models' results identical
    across thread counts. Used in notebook 09.

    Examples::

        >>> from helpers import breast_cancer
        >>> table = breast_cancer()
        >>> table.x_train.shape, table.x_test.shape, table.class_names
        (torch.Size([426, 30]), torch.Size([143, 30]), ['malignant', 'benign'])
    """
    test_size = check_real(test_size, "test_size")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must lie between 0 and 1 (the held-out fraction), got {test_size!r}.")
    seed = check_int(seed, "seed", minimum=0)
    bunch = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=test_size, random_state=seed, stratify=bunch.target
    )
    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
    mean, std = x_train.mean(dim=0), x_train.std(dim=0)
    return Table(
        (x_train - mean) / std,
        torch.from_numpy(y_train).long(),
        (x_test - mean) / std,
        torch.from_numpy(y_test).long(),
        mean,
        std,
        [str(name) for name in bunch.feature_names],
        [str(name) for name in bunch.target_names],
    )
