"""sigmse.data.datasets: the registry, the data root and the not-found message, downloads, the decode cache, the real datasets.

Tiny generated files (see conftest.py) cover the error paths and the cache; the real datasets are checked when the
shared data root is present (``shared_data`` marker), decoded once per session into a temporary cache. The formats
themselves are tested in ``tests/test_data_files.py``.
"""

from __future__ import annotations

import http.server
import os
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

from sigmse.data import datasets as data
from sigmse.data.datasets import (
    DatasetNotFoundError,
    dataset_names,
    get_dataset_spec,
    load_dataset,
    resolve_cache_dir,
    resolve_data_dir,
)


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


# ---------------------------------------------------------------------------------------------------------- not found


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


# A port nothing listens on: torchvision's download is refused at once, as offline, without mocking torchvision.
UNREACHABLE = "http://127.0.0.1:9/"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """torchvision's real download, pointed at an unreachable mirror (its class attributes ``mirrors`` / ``url``)."""
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [UNREACHABLE])
    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", [UNREACHABLE])
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", UNREACHABLE + "cifar-10-python.tar.gz")


def test_ensure_datasets_offline_is_one_line_naming_the_root_and_both_fixes(tmp_path: Path, offline: None) -> None:
    root = tmp_path / "data"
    with pytest.raises(DatasetNotFoundError) as error:
        data.ensure_datasets(["mnist", "cifar10"], root)
    message = str(error.value)
    assert "\n" not in message
    assert f"dataset mnist, cifar10 not found under the data root {root}" in message
    assert "torchvision could not download mnist there" in message and "Connection refused" in message
    assert "--data-dir PATH or SIGMSE_DATA_DIR=PATH" in message and "run where downloads work" in message


def test_ensure_datasets_without_download_says_how_to_fill_the_root(tmp_path: Path, make_fake_idx) -> None:
    make_fake_idx(tmp_path)  # mnist is there: only fashion-mnist is missing, and nothing is fetched
    assert data.missing_datasets(["mnist", "fashion-mnist", "mnist"], tmp_path) == ["fashion-mnist"]
    with pytest.raises(DatasetNotFoundError, match=r"^dataset fashion-mnist not found under the data root .*"
                                                   r"--data-dir PATH or SIGMSE_DATA_DIR=PATH.*--download"):
        data.ensure_datasets(["mnist", "fashion-mnist"], tmp_path, download=False)
    assert data.ensure_datasets(["mnist"], tmp_path, download=False) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist"]


@pytest.mark.shared_data
def test_ensure_datasets_downloads_from_a_mirror_and_checks_the_md5s(tmp_path: Path, shared_data_dir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With a reachable mirror (the shared data's official MNIST files over HTTP on 127.0.0.1), the real
    torchvision download fills an empty data root, which then loads with every md5 checked."""
    import functools
    import hashlib
    import threading

    import torchvision.datasets

    if not (shared_data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip("the shared data has no gzipped MNIST files to serve")
    handler = functools.partial(_QuietHandler, directory=str(shared_data_dir / "mnist"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
        # The shared files are the official content, gzipped anew: torchvision checks the .gz files' own md5s,
        # so its manifest names these; sigmse's check of the uncompressed content (below) is the official one.
        served = [(name, hashlib.md5((shared_data_dir / "mnist" / name).read_bytes()).hexdigest())
                  for name, _ in torchvision.datasets.MNIST.resources]
        monkeypatch.setattr(torchvision.datasets.MNIST, "resources", served)
        root = tmp_path / "fresh"
        assert data.ensure_datasets(["mnist"], root) == ["mnist"]
    finally:
        server.shutdown()
        server.server_close()
    assert data.ensure_datasets(["mnist"], root) == []  # there now: nothing fetched again
    dataset = load_dataset("mnist", root, cache_dir=tmp_path / "cache")  # verify=True: official md5s
    assert dataset.source == root / "MNIST" / "raw" and len(dataset.train_labels) == 60000


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


# ---------------------------------------------------------------------------------------------------------- cache


def test_cache_hit_and_invalidation(make_fake_idx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes = []
    real_decode = data.decode_dataset_files

    def counting_decode(*args):
        decodes.append(args[1].folder)
        return real_decode(*args)

    monkeypatch.setattr(data, "decode_dataset_files", counting_decode)
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
    # user-mode CPU seconds of this process, not wall time: a busy machine (a sweep beside the tests) stretches the
    # wall clock, while decoding the xz batches again costs several user seconds whatever the load (9.5 on a 2-core
    # VM). The kernel's side of reading 150 MB of .npy into fresh memory (system time) is left out: on some VMs it
    # alone took up to 2 s, varying with the state of the host's memory, and a decode does not hide in it
    start = os.times().user
    again = load_dataset("cifar10", shared_data_dir, cache_dir=real.cache)
    assert os.times().user - start < 1.0
    assert torch.equal(again.train_images, cifar.train_images) and torch.equal(again.test_labels, cifar.test_labels)
