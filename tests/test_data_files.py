"""sigmse.data.files: decoding every official format and layout, the md5 and count checks, and the error messages.

Tiny generated files (see conftest.py) cover every format and layout, written independently of the decoder; they go
through :func:`sigmse.data.datasets.load_dataset`, as a user's files do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sigmse.data.datasets import Dataset, get_dataset_spec, load_dataset
from sigmse.data.files import DatasetIntegrityError
from sigmse.data.table import MANIFEST_MD5


def assert_matches(dataset: Dataset, fake) -> None:
    """The loaded tensors equal the arrays the fake files were written from, with the promised dtypes."""
    assert dataset.source == fake.folder
    for loaded, expected in ((dataset.train_images, fake.train_images), (dataset.train_labels, fake.train_labels),
                             (dataset.test_images, fake.test_images), (dataset.test_labels, fake.test_labels)):
        assert loaded.is_contiguous()
        np.testing.assert_array_equal(loaded.numpy(), expected)
    assert dataset.train_images.dtype == torch.uint8 and dataset.train_labels.dtype == torch.int64
    assert dataset.train_images.shape[1:] == dataset.spec.image_shape


# ---------------------------------------------------------------------------------------------------------- formats


@pytest.mark.parametrize("compression", [".gz", ""])
@pytest.mark.parametrize("layout", ["torchvision", "plain"])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_round_trip(make_fake_idx, tmp_path: Path, name: str, layout: str, compression: str) -> None:
    fake = make_fake_idx(tmp_path / "root", name, layout, compression)
    dataset = load_dataset(name, tmp_path / "root", cache_dir=tmp_path / "cache", verify=False)
    assert_matches(dataset, fake)
    assert dataset.format == "idx" + compression
    assert dataset.class_names == get_dataset_spec(name).class_names


@pytest.mark.parametrize("compression", ["", ".gz", ".xz"])
def test_cifar_binary_round_trip(make_fake_cifar_bin, tmp_path: Path, compression: str) -> None:
    fake = make_fake_cifar_bin(tmp_path / "root", compression)
    dataset = load_dataset("cifar10", tmp_path / "root", cache_dir=tmp_path / "cache", verify=False)
    assert_matches(dataset, fake)
    assert dataset.format == "cifar-bin" + compression


def test_cifar_python_round_trip_through_torchvision(fake_cifar_python, tmp_path: Path) -> None:
    dataset = load_dataset("cifar10", tmp_path, cache_dir=tmp_path / "cache", verify=False)
    assert_matches(dataset, fake_cifar_python)
    assert dataset.format == "cifar-python"


def test_cifar_python_is_never_unpickled_unverified(fake_cifar_python, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets.cifar

    class NoPickle:
        @staticmethod
        def load(*args, **kwargs):
            raise AssertionError("unpickled a file that failed its md5 check")

    monkeypatch.setattr(torchvision.datasets.cifar, "pickle", NoPickle)
    (fake_cifar_python.folder / "data_batch_3").write_bytes(b"not the official pickle")
    expected = fake_cifar_python.md5["data_batch_3"]
    with pytest.raises(DatasetIntegrityError, match=rf"data_batch_3: md5 is .*expected {expected}"):
        load_dataset("cifar10", tmp_path, cache_dir=tmp_path / "cache", verify=False)  # pickles: verified regardless


def test_malformed_files_name_the_problem(make_fake_idx, make_fake_cifar_bin, tmp_path: Path) -> None:
    fake = make_fake_idx(tmp_path, "mnist", "plain", "")
    (fake.folder / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x03" + bytes(12))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: IDX type code 0x0d, expected 0x08"):
        load_dataset("mnist", tmp_path, cache_dir=tmp_path / "cache", verify=False)
    cifar = make_fake_cifar_bin(tmp_path)
    path = cifar.folder / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"test_batch.bin: \d+ bytes is not a whole number of 3073-byte"):
        load_dataset("cifar10", tmp_path, cache_dir=tmp_path / "cache", verify=False)


# ---------------------------------------------------------------------------------------------------------- checks


def test_checksum_mismatch_names_file_and_both_md5s(make_fake_idx, tmp_path: Path) -> None:
    fake = make_fake_idx(tmp_path, "fashion-mnist", "plain", ".gz")
    actual = fake.md5["train-images-idx3-ubyte"]
    expected = MANIFEST_MD5["fashion-mnist"]["train-images-idx3-ubyte"]
    with pytest.raises(DatasetIntegrityError, match=rf"idx3-ubyte.gz: md5 .* is {actual}, expected {expected}"):
        load_dataset("fashion-mnist", tmp_path, cache_dir=tmp_path / "cache")  # verify defaults to True


def test_count_check_is_part_of_verification(make_fake_idx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = make_fake_idx(tmp_path, "mnist", "plain", "", n_train=30, n_test=20)
    for name, md5 in fake.md5.items():  # make the tiny files "official" so only the counts differ
        monkeypatch.setitem(MANIFEST_MD5["mnist"], name, md5)
    with pytest.raises(DatasetIntegrityError, match=r"30 train / 20 test examples, expected 60000 / 10000"):
        load_dataset("mnist", tmp_path, cache_dir=tmp_path / "cache")
