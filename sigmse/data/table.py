"""The dataset table: what each dataset is, where its files may lie, and the md5s of its official files, like the
class attributes of torchvision's ``datasets/mnist.py`` and ``cifar.py``. Adding a dataset is one
:class:`DatasetSpec` here, its files and their md5s.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DatasetSpec", "DATASETS", "IDX_FILES", "CIFAR_BIN_FILES", "CIFAR_PY_FILES", "MANIFEST_MD5"]


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is (shape, classes, sizes, normalisation) and where its files may lie under a data root."""

    name: str
    num_classes: int
    image_shape: tuple[int, int, int]  # (C, H, W)
    class_names: tuple[str, ...]
    train_size: int
    test_size: int
    mean: tuple[float, ...]  # per channel, over the training set, pixels on the [0, 1] scale
    std: tuple[float, ...]  # per channel, over all training pixels (not the mean of per-image stds)
    layouts: tuple[tuple[str, str], ...]  # (folder under the data root, layout of data_files), searched in order
    torchvision_class: str  # the torchvision.datasets class used for download=True


DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in (
    DatasetSpec(name="mnist", num_classes=10, image_shape=(1, 28, 28),
                class_names=tuple(str(digit) for digit in range(10)), train_size=60000, test_size=10000,
                mean=(0.1307,), std=(0.3081,), layouts=(("MNIST/raw", "idx"), ("mnist", "idx")),
                torchvision_class="MNIST"),
    DatasetSpec(name="fashion-mnist", num_classes=10, image_shape=(1, 28, 28),
                class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                             "Bag", "Ankle boot"), train_size=60000, test_size=10000,
                mean=(0.2860,), std=(0.3530,), layouts=(("FashionMNIST/raw", "idx"), ("fashion-mnist", "idx")),
                torchvision_class="FashionMNIST"),
    DatasetSpec(name="cifar10", num_classes=10, image_shape=(3, 32, 32),
                class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                             "truck"), train_size=50000, test_size=10000,
                mean=(0.4914, 0.4822, 0.4465), std=(0.2470, 0.2435, 0.2616),
                layouts=(("cifar-10-batches-bin", "cifar-bin"),  # binary first: it needs no pickle at all
                         ("cifar-10-batches-py", "cifar-python")),
                torchvision_class="CIFAR10"))}


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_BIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)  # 5 train, then test
CIFAR_PY_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")

# MD5 of the *uncompressed* official files (the raw MNIST and CIFAR-10 binary checksums published with them).
MANIFEST_MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    "cifar10": {
        "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
        "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
        "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
        "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
        "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
        "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
    },
}
