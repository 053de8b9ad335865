"""helpers.data: offline MNIST, checksums, clear errors, and the seed's own loader call."""

import gzip
import shutil
import urllib.request

import pytest
import torch
from torchvision import datasets, transforms

from helpers.data import DATA_DIR, MNIST_MD5, mnist, prepare_mnist


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
    assert 0.0 <= image.min() and image.max() <= 1.0
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


def test_train_must_be_a_bool():
    with pytest.raises(TypeError, match="train must be True or False"):
        mnist(train="yes")
