"""helpers.course.data: offline MNIST, checksums, clear errors, the seed's own loader call, and the
breast-cancer table."""

import gzip
import os
import shutil
import socket
import urllib.request

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from torchvision import datasets, transforms

from helpers.course import data
from helpers.course.data import (
    DATA_DIR,
    MARK_POSITIONS,
    MARK_SIZE,
    MNIST_MD5,
    ShortcutMNIST,
    Table,
    breast_cancer,
    mnist,
    prepare_mnist,
    shortcut_mnist,
)

from bad_arguments import int_error, real_error
from side_effects import global_rngs_untouched, numpy_states_equal


@pytest.fixture
def data_copy(tmp_path):
    """A private copy of the four shipped .gz files, so tests can damage them."""
    for name in MNIST_MD5:
        shutil.copy(DATA_DIR / f"{name}.gz", tmp_path / f"{name}.gz")
    return tmp_path


def test_shipped_files_decompress_to_the_original_bytes(tmp_path, data_copy):
    raw = prepare_mnist(data_copy)
    assert raw == data_copy / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(MNIST_MD5)


def test_test_set_shapes_values_and_first_label(test_set):
    assert len(test_set) == 10_000
    image, label = test_set[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert label == 7


def test_training_set_size():
    assert len(mnist(train=True)) == 60_000


def test_seeds_own_call_finds_the_data_and_downloads_nothing(monkeypatch):
    prepare_mnist()

    def no_network(*args, **kwargs):
        raise AssertionError("torchvision tried to download MNIST")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(datasets.utils, "download_and_extract_archive", no_network)
    dataset = datasets.MNIST(root=DATA_DIR, train=False, download=True, transform=transforms.ToTensor())
    assert dataset[0][1] == 7


def test_missing_file_names_the_file_and_the_fix(data_copy):
    (data_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-labels-idx1-ubyte\.gz.*git checkout"):
        prepare_mnist(data_copy)


def test_corrupted_file_names_the_file_and_the_fix(data_copy):
    with gzip.open(data_copy / "t10k-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(b"not mnist")
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz.*wrong bytes.*git checkout"):
        prepare_mnist(data_copy)
    assert not (data_copy / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()


def test_truncated_archive_is_reported_as_corrupted(data_copy):
    archive = data_copy / "t10k-labels-idx1-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz.*corrupted"):
        prepare_mnist(data_copy)


def test_damaged_decompressed_file_is_rebuilt(data_copy):
    raw = prepare_mnist(data_copy)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"damaged")
    prepare_mnist(data_copy)
    assert mnist(train=False, root=data_copy)[0][1] == 7


@pytest.fixture
def hashed(monkeypatch):
    """The MNIST files ``helpers.course.data`` computes an MD5 sum of (``.partial`` while being made), from now on."""
    paths = []
    md5 = data._md5

    def recording(path):
        paths.append(path.name.removesuffix(".partial"))
        return md5(path)

    monkeypatch.setattr(data, "_md5", recording)
    return paths


def test_the_shipped_folder_is_not_hashed_again(test_set, hashed):
    """mnist() used to MD5-hash 55 MB on every call; the session's test_set fixture verified the folder."""
    assert len(mnist(train=False)) == 10_000
    assert len(mnist(train=True)) == 60_000
    prepare_mnist()
    assert hashed == []


def test_a_folder_is_hashed_once_per_process_then_again_when_a_file_changes(test_set, data_copy, hashed):
    raw = prepare_mnist(data_copy)
    # every file checked (as it is made): that the shipped folder passed does not vouch for another one
    assert sorted(set(hashed)) == sorted(MNIST_MD5)
    hashed.clear()
    prepare_mnist(data_copy)
    assert mnist(train=False, root=data_copy)[0][1] == 7
    assert hashed == [], "a folder already verified in this process was hashed again"
    labels = raw / "t10k-labels-idx1-ubyte"
    stat = labels.stat()
    os.utime(labels, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: same size, new time
    prepare_mnist(data_copy)
    assert "t10k-labels-idx1-ubyte" in hashed
    hashed.clear()
    labels.write_bytes(b"damaged")  # another size: checked again, found wrong, rebuilt
    assert mnist(train=False, root=data_copy)[0][1] == 7
    assert "t10k-labels-idx1-ubyte" in hashed
    assert labels.stat().st_size == stat.st_size
    hashed.clear()
    mnist(train=False, root=data_copy)
    assert hashed == []


def test_train_must_be_a_bool():
    with pytest.raises(TypeError, match="train must be True or False"):
        mnist(train="yes")  # type: ignore[arg-type]


# --- shortcut_mnist: digits carrying a planted mark whose position names a class ---------------


@pytest.fixture(scope="module")
def marked():
    return shortcut_mnist(train=False)


@pytest.fixture(scope="module")
def moved():
    return shortcut_mnist(train=False, moved=True)


def _mark_windows() -> torch.Tensor:
    """``(10, 28, 28)`` bool: class c's mark, the MARK_SIZE x MARK_SIZE square at MARK_POSITIONS[c]."""
    windows = torch.zeros(10, 28, 28, dtype=torch.bool)
    for label, (row, column) in enumerate(MARK_POSITIONS):
        windows[label, row : row + MARK_SIZE, column : column + MARK_SIZE] = True
    return windows


def _assert_mnist_with_marks(digits: ShortcutMNIST, plain: datasets.MNIST) -> None:
    """Shapes and dtypes; each digit's mask is its mark class's window; the image is 1.0 there and the
    plain MNIST image (uint8 / 255) everywhere else; the labels are MNIST's."""
    n = len(plain)
    assert isinstance(digits, ShortcutMNIST)
    assert digits.images.shape == (n, 1, 28, 28) and digits.images.dtype == torch.float32
    assert digits.masks.shape == (n, 1, 28, 28) and digits.masks.dtype == torch.bool
    assert digits.labels.shape == (n,) and digits.labels.dtype == torch.long
    assert digits.mark_labels.shape == (n,) and digits.mark_labels.dtype == torch.long
    assert torch.equal(digits.labels, plain.targets.long())
    assert ((digits.mark_labels >= 0) & (digits.mark_labels < 10)).all()
    # each mask is its mark class's window, so MARK_SIZE ** 2 pixels (each window's count is tested below)
    assert torch.equal(digits.masks[:, 0], _mark_windows()[digits.mark_labels])
    # so the images lie in [0, 1]
    unmarked = plain.data.unsqueeze(1).float() / 255
    assert torch.equal(digits.images, torch.where(digits.masks, 1.0, unmarked))


def test_shortcut_mnist_test_digits_carry_their_own_classs_mark(marked, test_set):
    _assert_mnist_with_marks(marked, test_set)
    assert torch.equal(marked.mark_labels, marked.labels)
    assert (marked.masks.sum(dim=(1, 2, 3)) == MARK_SIZE**2).all()
    assert marked.images.min() == 0.0 and marked.images.max() == 1.0
    # off the mark, exactly what helpers.mnist gives item by item (PIL, then ToTensor)
    items = torch.stack([test_set[i][0] for i in range(100)])
    assert torch.equal(marked.images[:100], torch.where(marked.masks[:100], 1.0, items))
    row, column = MARK_POSITIONS[7]  # the first test digit is a 7
    assert torch.equal(marked.images[0, 0, row : row + MARK_SIZE, column : column + MARK_SIZE], torch.ones(3, 3))


def test_shortcut_mnist_training_digits_carry_their_own_classs_mark():
    _assert_mnist_with_marks(training := shortcut_mnist(train=True), mnist(train=True))
    assert torch.equal(training.mark_labels, training.labels)


def test_moved_marks_name_another_class(moved, test_set):
    _assert_mnist_with_marks(moved, test_set)
    assert (moved.mark_labels != moved.labels).all()
    pairs = torch.bincount(moved.labels * 10 + moved.mark_labels, minlength=100).reshape(10, 10)
    assert (pairs.diagonal() == 0).all() and (pairs + torch.eye(10, dtype=torch.long) > 0).all()  # every other class


def test_moved_marks_are_drawn_uniformly_from_the_other_nine_classes(moved):
    offsets = torch.bincount((moved.mark_labels - moved.labels) % 10, minlength=10)
    assert offsets[0] == 0
    # 10,000 draws from 9 offsets: 1,111 each, standard deviation 31; 150 is about five of them
    assert ((offsets[1:] - 10_000 / 9).abs() < 150).all(), offsets.tolist()


def test_moved_marks_are_the_seeds(moved):
    again = shortcut_mnist(train=False, moved=True, seed=0)
    for a, b in zip(moved, again, strict=True):
        assert torch.equal(a, b)
    other = shortcut_mnist(train=False, moved=True, seed=1)
    assert torch.equal(other.labels, moved.labels)
    same = (other.mark_labels == moved.mark_labels).float().mean().item()
    assert 0.08 < same < 0.15, f"seed 1 gave {same:.1%} of the digits seed 0's mark (expected 1/9)"


def test_the_seed_only_moves_marks(marked):
    again = shortcut_mnist(train=False, seed=5)
    for a, b in zip(marked, again, strict=True):
        assert torch.equal(a, b)


def test_mark_positions_are_ten_separate_border_windows():
    assert MARK_SIZE == 3 and len(MARK_POSITIONS) == 10
    windows = _mark_windows()
    assert (windows.sum(dim=(1, 2)) == MARK_SIZE**2).all(), "a window runs off the 28 x 28 frame"
    assert windows.sum(dim=0).max() == 1, "two marks overlap"
    rows, columns = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    border = torch.minimum(torch.minimum(rows, columns), torch.minimum(27 - rows, 27 - columns)) < 3
    assert not (windows & ~border).any(), "a mark reaches more than 3 pixels in from the edge"


def test_mark_windows_hold_ink_in_at_most_half_a_percent_of_the_digits(test_set):
    """The claim in MARK_POSITIONS' docstring, over all 70,000 digits: a mark covers (almost) only background."""
    digits = torch.cat([mnist(train=True).data, test_set.data])
    assert len(digits) == 70_000
    inked = torch.stack(
        [
            digits[:, row : row + MARK_SIZE, column : column + MARK_SIZE].flatten(1).any(dim=1)
            for row, column in MARK_POSITIONS
        ]
    )
    shares = inked.float().mean(dim=1)
    assert (shares <= 0.005).all(), {c: f"{s:.2%}" for c, s in enumerate(shares.tolist())}


def test_shortcut_mnist_does_not_touch_the_global_rngs():
    with global_rngs_untouched():
        shortcut_mnist(train=False, moved=True, seed=3)


@pytest.mark.parametrize("name", ["train", "moved"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_shortcut_mnist_rejects_a_non_bool_flag(name, value):
    kwargs = {"train": False, name: value}
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        shortcut_mnist(**kwargs)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0", None])
def test_shortcut_mnist_rejects_a_bad_seed(seed):
    with pytest.raises(int_error(seed), match="seed must be a non-negative int"):
        shortcut_mnist(train=False, moved=True, seed=seed)


# --- breast_cancer: the Wisconsin table shipped inside scikit-learn -----------------------------


@pytest.fixture(scope="module")
def table():
    return breast_cancer()


def _raw_rows(table):
    """All rows, train then test, back in raw units, with their labels."""
    x = torch.cat([table.x_train, table.x_test]) * table.std + table.mean
    return x, torch.cat([table.y_train, table.y_test])


def test_breast_cancer_shapes_dtypes_and_names(table):
    assert isinstance(table, Table)
    assert table.x_train.shape == (426, 30) and table.x_test.shape == (143, 30)
    assert table.y_train.shape == (426,) and table.y_test.shape == (143,)
    assert table.mean.shape == (30,) and table.std.shape == (30,)
    for x in (table.x_train, table.x_test, table.mean, table.std):
        assert x.dtype == torch.float64
    for y in (table.y_train, table.y_test):
        assert y.dtype == torch.long
        assert set(y.tolist()) == {0, 1}
    assert table.class_names == ["malignant", "benign"]
    assert all(type(name) is str for name in table.class_names + table.feature_names)
    assert len(table.feature_names) == 30 and len(set(table.feature_names)) == 30
    assert table.feature_names[0] == "mean radius" and table.feature_names[-1] == "worst fractal dimension"


def test_breast_cancer_is_standardised_with_the_training_split_only(table):
    assert table.x_train.mean(dim=0).abs().max() < 1e-12
    assert (table.x_train.std(dim=0) - 1).abs().max() < 1e-12
    # Statistics computed on all rows, or on the test split itself, would make these (close to) exact.
    assert table.x_test.mean(dim=0).abs().max() > 1e-3
    assert (table.x_test.std(dim=0) - 1).abs().max() > 1e-3
    raw_train = table.x_train * table.std + table.mean
    assert torch.allclose(raw_train.mean(dim=0), table.mean, rtol=1e-12, atol=0)
    assert torch.allclose(raw_train.std(dim=0), table.std, rtol=1e-12, atol=0)
    assert (table.std > 0).all()


def test_breast_cancer_rows_are_scikit_learns_each_once_with_its_label(table):
    bunch = load_breast_cancer()
    reference, target = torch.from_numpy(bunch.data), torch.from_numpy(bunch.target).long()
    x, y = _raw_rows(table)
    nearest = torch.cdist(x, reference).argmin(dim=1)
    # Every row is one of the 569, none twice, so train and test are disjoint and cover them all.
    assert sorted(nearest.tolist()) == list(range(569))
    assert torch.allclose(x, reference[nearest], rtol=1e-12, atol=1e-12)
    assert torch.equal(y, target[nearest]), "a row lost its label"


@pytest.mark.parametrize("test_size, seed", [(0.25, 0), (0.2, 1), (0.5, 7)])
def test_breast_cancer_split_size_and_stratification(test_size, seed):
    table = breast_cancer(test_size=test_size, seed=seed)
    n_test = len(table.y_test)
    assert n_test == int(np.ceil(test_size * 569)) and len(table.y_train) == 569 - n_test
    for label, total in ((0, 212), (1, 357)):
        # Each class's share of the test split is its share of the table, to within one row.
        assert abs(int((table.y_test == label).sum()) - total * n_test / 569) <= 1


def test_breast_cancer_same_seed_same_split_other_seed_other_split(table):
    again, other = breast_cancer(seed=0), breast_cancer(seed=1)
    for a, b in zip(table, again, strict=True):
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) else a == b
    assert not torch.equal(table.mean, other.mean), "seed 1 drew the same training rows as seed 0"


def test_breast_cancer_does_not_touch_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("breast_cancer tried to reach the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert breast_cancer().x_train.shape == (426, 30)


def test_breast_cancer_does_not_touch_the_global_rngs():
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    breast_cancer(seed=3)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert numpy_states_equal(np.random.get_state(), numpy_state)


@pytest.mark.parametrize("test_size", [0, 1, 100, 0.0, 1.0, 1.5, -0.1, True, "0.2", None])
def test_breast_cancer_rejects_a_bad_test_size(test_size):
    # The helper's own message: scikit-learn's errors for 1 or 1.0 also name test_size, and it
    # would take the int 100 as a number of rows.
    with pytest.raises(real_error(test_size), match="test_size must"):
        breast_cancer(test_size=test_size)


@pytest.mark.parametrize("seed", [None, -1, 1.5, True, "0"])
def test_breast_cancer_rejects_a_bad_seed(seed):
    with pytest.raises(int_error(seed), match="seed must be a non-negative int"):
        breast_cancer(seed=seed)
