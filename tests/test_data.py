"""sigmse.data: decoding the official formats, the checks, the error messages, the cache, the splits.

Tiny generated files (see conftest.py) cover every format and layout; the real datasets are checked when the shared
data root is present (``shared_data`` marker), decoded once per session into a temporary cache.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

from sigmse import data
from sigmse.data import (
    DatasetIntegrityError,
    DatasetNotFoundError,
    check_datasets,
    dataset_names,
    format_report,
    get_dataset_spec,
    load_dataset,
    resolve_cache_dir,
    resolve_data_dir,
    subset_indices,
    validation_split,
)


def assert_matches(dataset: data.Dataset, fake) -> None:
    """The loaded tensors equal the arrays the fake files were written from, with the promised dtypes."""
    assert dataset.source == fake.folder
    for loaded, expected in ((dataset.train_images, fake.train_images), (dataset.train_labels, fake.train_labels),
                             (dataset.test_images, fake.test_images), (dataset.test_labels, fake.test_labels)):
        assert loaded.is_contiguous()
        np.testing.assert_array_equal(loaded.numpy(), expected)
    assert dataset.train_images.dtype == torch.uint8 and dataset.train_labels.dtype == torch.int64
    assert dataset.train_images.shape[1:] == dataset.spec.image_shape


# ---------------------------------------------------------------------------------------------------------- registry


def test_registry() -> None:
    assert dataset_names() == ("mnist", "fashion-mnist", "cifar10")
    fashion = get_dataset_spec("fashion-mnist")
    assert fashion.class_names == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    cifar = get_dataset_spec("cifar10")
    assert cifar.image_shape == (3, 32, 32) and cifar.mean == (0.4914, 0.4822, 0.4465)
    assert (cifar.train_size, cifar.test_size) == (50000, 10000)
    for spec in data.DATASETS.values():
        assert len(spec.class_names) == spec.num_classes
        assert len(spec.mean) == len(spec.std) == spec.image_shape[0]
    with pytest.raises(ValueError, match=r"'svhn'.*mnist, fashion-mnist, cifar10"):
        get_dataset_spec("svhn")


def test_resolve_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(data.CACHE_DIR_ENV, raising=False)
    assert resolve_data_dir() == Path("data")
    assert resolve_cache_dir() == Path("~/.cache/sigmse").expanduser()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "env"))
    monkeypatch.setenv(data.CACHE_DIR_ENV, str(tmp_path / "cache"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_cache_dir() == tmp_path / "cache"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"  # the argument wins
    assert resolve_cache_dir(tmp_path / "c2") == tmp_path / "c2"


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
    expected = data.MANIFEST_MD5["fashion-mnist"]["train-images-idx3-ubyte"]
    with pytest.raises(DatasetIntegrityError, match=rf"idx3-ubyte.gz: md5 .* is {actual}, expected {expected}"):
        load_dataset("fashion-mnist", tmp_path, cache_dir=tmp_path / "cache")  # verify defaults to True


def test_count_check_is_part_of_verification(make_fake_idx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = make_fake_idx(tmp_path, "mnist", "plain", "", n_train=30, n_test=20)
    for name, md5 in fake.md5.items():  # make the tiny files "official" so only the counts differ
        monkeypatch.setitem(data.MANIFEST_MD5["mnist"], name, md5)
    with pytest.raises(DatasetIntegrityError, match=r"30 train / 20 test examples, expected 60000 / 10000"):
        load_dataset("mnist", tmp_path, cache_dir=tmp_path / "cache")


def test_missing_dataset_lists_places_and_fix(make_fake_idx, tmp_path: Path) -> None:
    fake = make_fake_idx(tmp_path, "mnist", "plain", ".gz")
    (fake.folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("mnist", tmp_path, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)
    assert f"{tmp_path / 'MNIST' / 'raw'}  [idx]: no such folder" in message
    assert f"{tmp_path / 'mnist'}  [idx]: missing t10k-labels-idx1-ubyte (raw or .gz)" in message
    for fix in ("--data-dir", data.DATA_DIR_ENV, "--download", "download=True"):
        assert fix in message
    with pytest.raises(DatasetNotFoundError, match=r"cifar-10-batches-bin.*\n.*cifar-10-batches-py"):
        load_dataset("cifar10", tmp_path / "nowhere", cache_dir=tmp_path / "cache")


def test_download_goes_through_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_fake_idx) -> None:
    import torchvision.datasets

    calls = []

    class FakeMNIST:  # stands in for torchvision's MNIST: "downloads" tiny files into its own layout
        def __init__(self, root: str, train: bool, download: bool) -> None:
            calls.append((root, train, download))
            make_fake_idx(Path(root), "mnist", "torchvision", "")

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    dataset = load_dataset("mnist", tmp_path, download=True, cache_dir=tmp_path / "cache", verify=False)
    assert calls == [(str(tmp_path), False, True)] and dataset.source == tmp_path / "MNIST" / "raw"
    load_dataset("mnist", tmp_path, download=True, cache_dir=tmp_path / "cache", verify=False)
    assert len(calls) == 1  # present now: no second download

    class Offline:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)
    with pytest.raises(DatasetNotFoundError, match=r"(?s)Looked in.*download into .* failed: Error downloading"):
        load_dataset("fashion-mnist", tmp_path, download=True, cache_dir=tmp_path / "cache")


def test_check_datasets_reports_found_missing_and_errors(make_fake_idx, make_fake_cifar_bin, tmp_path: Path) -> None:
    make_fake_idx(tmp_path, "mnist", "plain", ".gz")  # tiny, so its md5s fail
    reports = {r.name: r for r in check_datasets(tmp_path, cache_dir=tmp_path / "cache")}
    assert reports["mnist"].found and not reports["mnist"].ok and "md5" in reports["mnist"].error
    assert not reports["cifar10"].found and len(reports["cifar10"].looked) == 2
    table = format_report(list(reports.values()))
    assert table.splitlines()[0].split()[:3] == ["dataset", "status", "format"]
    assert "cifar10: not found. Looked in:" in table and "--data-dir" in table and "mnist: " in table


# ---------------------------------------------------------------------------------------------------------- cache


def test_cache_hit_and_invalidation(make_fake_idx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = []
    real_decode = data._decode

    def counting_decode(*args):
        decodes.append(args[1].folder)
        return real_decode(*args)

    monkeypatch.setattr(data, "_decode", counting_decode)
    fake = make_fake_idx(tmp_path / "root", "mnist", "plain", ".gz", seed=1)
    first = load_dataset("mnist", tmp_path / "root", cache_dir=tmp_path / "cache", verify=False)
    second = load_dataset("mnist", tmp_path / "root", cache_dir=tmp_path / "cache", verify=False)
    assert len(decodes) == 1
    assert torch.equal(first.train_images, second.train_images) and torch.equal(first.test_labels, second.test_labels)
    entries = [p for p in (tmp_path / "cache").iterdir()]
    assert len(entries) == 1 and entries[0].name.startswith("mnist-")  # published atomically: no temp left behind
    for npy in entries[0].glob("*.npy"):
        np.load(npy, allow_pickle=False)

    changed = make_fake_idx(tmp_path / "root", "mnist", "plain", ".gz", seed=2)  # new content, same paths
    stamp = time.time_ns() + 10**9
    for path in fake.folder.iterdir():
        os.utime(path, ns=(stamp, stamp))
    third = load_dataset("mnist", tmp_path / "root", cache_dir=tmp_path / "cache", verify=False)
    assert len(decodes) == 2
    np.testing.assert_array_equal(third.train_images.numpy(), changed.train_images)


def test_unwritable_cache_warns_and_still_loads(make_fake_idx, tmp_path: Path) -> None:
    make_fake_idx(tmp_path, "mnist", "plain", "")
    (tmp_path / "not-a-dir").write_text("")
    with pytest.warns(UserWarning, match="could not write the decode cache"):
        dataset = load_dataset("mnist", tmp_path, cache_dir=tmp_path / "not-a-dir", verify=False)
    assert len(dataset.train_labels) == 30


# ---------------------------------------------------------------------------------------------------------- splits


def test_validation_split_deterministic_disjoint_complete() -> None:
    train, val = validation_split(1000, 100, seed=3)
    again_train, again_val = validation_split(1000, 100, seed=3)
    assert torch.equal(train, again_train) and torch.equal(val, again_val)
    assert len(val) == 100 and len(train) == 900
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(1000))  # disjoint and complete
    assert not torch.equal(val, validation_split(1000, 100, seed=4)[1])
    assert len(validation_split(10, 0)[1]) == 0
    for bad in (-1, 1000, 2.5, True):
        with pytest.raises(ValueError, match=rf"val_size must be an integer with 0 <= val_size < 1000, got {bad!r}"):
            validation_split(1000, bad)


def test_subset_indices_stratified_and_deterministic() -> None:
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate([600, 300, 100])])[torch.randperm(1000)]
    chosen = subset_indices(labels, 101, seed=5)
    assert torch.equal(chosen, subset_indices(labels, 101, seed=5))
    assert not torch.equal(chosen, subset_indices(labels, 101, seed=6))
    assert len(chosen) == 101 and len(chosen.unique()) == 101 and torch.equal(chosen, chosen.sort().values)
    counts = torch.bincount(labels[chosen], minlength=3).tolist()
    assert counts in ([61, 30, 10], [60, 31, 10], [60, 30, 11])  # exact shares 60.6, 30.3, 10.1
    assert torch.equal(subset_indices(labels, 1000), torch.arange(1000))
    with pytest.raises(ValueError, match=r"size must be an integer with 1 <= size < 1001, got 0"):
        subset_indices(labels, 0)


# ---------------------------------------------------------------------------------------------------------- real data


def channel_mean_std(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std on the [0, 1] scale, exactly, from a 256-bin histogram (no float copy of the data)."""
    values = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for channel in range(images.shape[1]):
        counts = torch.bincount(images[:, channel].flatten(), minlength=256).double()
        mean = (counts * values).sum() / counts.sum()
        means.append(mean)
        stds.append(((counts * (values - mean) ** 2).sum() / (counts.sum() - 1)).sqrt())
    return torch.stack(means), torch.stack(stds)


class RealData(NamedTuple):
    datasets: dict[str, data.Dataset]
    cache: Path


@pytest.fixture(scope="module")
def real(shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RealData:
    """Every real dataset decoded (and verified) once per module, into a temporary cache."""
    cache = tmp_path_factory.mktemp("sigmse-cache")
    return RealData({name: load_dataset(name, shared_data_dir, cache_dir=cache) for name in dataset_names()}, cache)


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_real_datasets(real: RealData, name: str) -> None:
    dataset = real.datasets[name]
    spec = dataset.spec
    assert dataset.train_images.shape == (spec.train_size, *spec.image_shape)
    assert dataset.test_images.shape == (spec.test_size, *spec.image_shape)
    for labels in (dataset.train_labels, dataset.test_labels):
        counts = torch.bincount(labels, minlength=spec.num_classes)
        assert len(counts) == spec.num_classes and counts.max() / counts.min() < 1.3  # balanced-ish (MNIST: 1.24)
    mean, std = channel_mean_std(dataset.train_images)
    torch.testing.assert_close(mean, torch.tensor(spec.mean, dtype=torch.float64), atol=1e-3, rtol=0)
    torch.testing.assert_close(std, torch.tensor(spec.std, dtype=torch.float64), atol=1e-3, rtol=0)


@pytest.mark.shared_data
def test_real_cifar_mean_and_cached_second_load(real: RealData, shared_data_dir: Path) -> None:
    cifar = real.datasets["cifar10"]
    mean, _ = channel_mean_std(cifar.train_images)
    torch.testing.assert_close(mean, torch.tensor([0.4914, 0.4822, 0.4465], dtype=torch.float64), atol=1e-3, rtol=0)
    start = time.perf_counter()
    again = load_dataset("cifar10", shared_data_dir, cache_dir=real.cache)
    assert time.perf_counter() - start < 1.0
    assert torch.equal(again.train_images, cifar.train_images) and torch.equal(again.test_labels, cifar.test_labels)


@pytest.mark.shared_data
def test_real_check_datasets(real: RealData, shared_data_dir: Path) -> None:
    reports = check_datasets(shared_data_dir, cache_dir=real.cache)  # cache hits: verified when first decoded
    assert [r.name for r in reports] == list(dataset_names())
    assert all(r.ok and r.verified for r in reports)
    assert [(r.train_size, r.test_size) for r in reports] == [(60000, 10000), (60000, 10000), (50000, 10000)]
    assert [r.balanced for r in reports] == [False, True, True]
    assert "5421-6742 (max/min 1.24)" in format_report(reports)
