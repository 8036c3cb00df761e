"""Shared fixtures: tiny fake files in the official dataset formats, and the shared data root.

The fake files are written here independently of ``sigmse.data.datasets`` (straight from the format descriptions), so a
round trip through the loader checks the decoder against the formats, not against itself.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# Folder of each dataset under a data root, per layout (torchvision's, or the plain one /work/shared/data uses).
IDX_FOLDERS = {
    ("mnist", "torchvision"): "MNIST/raw",
    ("mnist", "plain"): "mnist",
    ("fashion-mnist", "torchvision"): "FashionMNIST/raw",
    ("fashion-mnist", "plain"): "fashion-mnist",
}


@dataclass(frozen=True)
class FakeFiles:
    """What a fake dataset holds, to compare with what the loader returns."""

    folder: Path
    train_images: np.ndarray  # (N, C, H, W) uint8
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray
    test_labels: np.ndarray
    md5: dict[str, str]  # uncompressed file name -> md5 of its content


def _compress(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path``, gzip- or xz-compressed according to its suffix."""
    if path.suffix == ".gz":
        content = gzip.compress(content)
    elif path.suffix == ".xz":
        content = lzma.compress(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: two zero bytes, type 0x08 (ubyte), the number of dimensions, big-endian int32 sizes, the data."""
    assert array.dtype == np.uint8
    return bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes() + array.tobytes()


def cifar_bin_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: per image, the label byte, then 1024 red, 1024 green, 1024 blue bytes."""
    # Each image is (3, 32, 32) in C order: the three planes, each row-major.
    records = [bytes([int(label)]) + image.tobytes() for image, label in zip(images, labels)]
    return b"".join(records)


def _random_split(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


@pytest.fixture
def make_fake_idx() -> Callable[..., FakeFiles]:
    """``make(root, dataset, layout, compression, n_train, n_test, seed)``: MNIST-like IDX files under ``root``."""

    def make(root: Path, dataset: str = "mnist", layout: str = "plain", compression: str = ".gz",
             n_train: int = 30, n_test: int = 20, seed: int = 0) -> FakeFiles:
        rng = np.random.default_rng(seed)
        train_x, train_y = _random_split(rng, n_train, (28, 28))
        test_x, test_y = _random_split(rng, n_test, (28, 28))
        folder = root / IDX_FOLDERS[(dataset, layout)]
        contents = {
            "train-images-idx3-ubyte": idx_bytes(train_x),
            "train-labels-idx1-ubyte": idx_bytes(train_y.astype(np.uint8)),
            "t10k-images-idx3-ubyte": idx_bytes(test_x),
            "t10k-labels-idx1-ubyte": idx_bytes(test_y.astype(np.uint8)),
        }
        for name, content in contents.items():
            _compress(folder / (name + compression), content)
        md5 = {name: hashlib.md5(content).hexdigest() for name, content in contents.items()}
        return FakeFiles(folder, train_x[:, None], train_y, test_x[:, None], test_y, md5)

    return make


@pytest.fixture
def make_fake_cifar_bin() -> Callable[..., FakeFiles]:
    """``make(root, compression, per_file, seed)``: CIFAR-10 binary batches in ``root/cifar-10-batches-bin``."""

    def make(root: Path, compression: str = "", per_file: int = 6, seed: int = 0) -> FakeFiles:
        rng = np.random.default_rng(seed)
        folder = root / "cifar-10-batches-bin"
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        batches = [_random_split(rng, per_file, (3, 32, 32)) for _ in names]
        md5 = {}
        for name, (images, labels) in zip(names, batches):
            content = cifar_bin_bytes(images, labels)
            _compress(folder / (name + compression), content)
            md5[name] = hashlib.md5(content).hexdigest()
        (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_CLASSES) + "\n")
        train_x = np.concatenate([images for images, _ in batches[:5]])
        train_y = np.concatenate([labels for _, labels in batches[:5]])
        return FakeFiles(folder, train_x, train_y, batches[5][0], batches[5][1], md5)

    return make


@pytest.fixture
def fake_cifar_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeFiles:
    """Tiny CIFAR-10 *python* batches in ``tmp_path/cifar-10-batches-py``, with torchvision's ``CIFAR10`` manifest
    patched to their md5s (torchvision checks them before unpickling, as it does for the official files)."""
    import torchvision.datasets

    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = [_random_split(rng, 4, (3, 32, 32)) for _ in names]
    md5 = {}
    for name, (images, labels) in zip(names, batches):
        entry = {"batch_label": name, "data": images.reshape(len(images), -1), "labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(entry))
        md5[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    meta = pickle.dumps({"label_names": list(CIFAR10_CLASSES)})
    (folder / "batches.meta").write_bytes(meta)
    md5["batches.meta"] = hashlib.md5(meta).hexdigest()
    cifar = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cifar, "train_list", [[name, md5[name]] for name in names[:5]])
    monkeypatch.setattr(cifar, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(cifar, "meta", {**cifar.meta, "md5": md5["batches.meta"]})
    train_x = np.concatenate([images for images, _ in batches[:5]])
    train_y = np.concatenate([labels for _, labels in batches[:5]])
    return FakeFiles(folder, train_x, train_y, batches[5][0], batches[5][1], md5)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The data root with the official files: ``$SIGMSE_DATA_DIR``, else ``../shared/data`` beside the repository.

    Tests using it are marked ``shared_data`` and skipped when it is absent.
    """
    root = Path(os.environ.get("SIGMSE_DATA_DIR") or REPO_ROOT.parent / "shared" / "data")
    if not root.is_dir():
        pytest.skip(f"no shared data root at {root} (set SIGMSE_DATA_DIR)")
    return root


@pytest.fixture(scope="session")
def smoke_book(shared_data_dir: Path) -> Path:
    """The real book, every chapter executed with the ``smoke`` profile, built once per session.

    The chapters' runs train first in a pool of two processes (``sweep_jobs=2``), as ``make book`` does.
    Executed notebooks, results and HTML go under ``_build/smoke*`` (git-ignored build output), so a
    failing build can be inspected afterwards. Returns the HTML folder.
    """
    from sigmse.site.book import build_book

    return build_book("smoke", root=REPO_ROOT, results_dir=REPO_ROOT / "_build" / "smoke-results",
                      data_dir=shared_data_dir, build_dir=REPO_ROOT / "_build" / "smoke", sweep_jobs=2)
