"""Datasets: MNIST, Fashion-MNIST and CIFAR-10 as whole ``uint8`` tensors, from the official files.

``load_dataset(name)`` returns both splits as ``uint8`` images ``(N, C, H, W)`` with ``int64`` labels, decoded once
from the official files and cached as ``.npy``; ``check_datasets`` reports what is where (``sigmse data check``).

Why it is built this way (after torchvision's ``datasets/mnist.py``, ``cifar.py`` and ``utils.py``):

* A manifest (:data:`MANIFEST_MD5`) holds the MD5 of each official file's *uncompressed* content, so the check is the
  same whether a file is stored raw, ``.gz`` or ``.xz``; it runs on the first decode, with the example counts, and
  a mismatch names the file and both checksums.
* The files are read from a *data root* (argument, ``$SIGMSE_DATA_DIR``, else ``./data``) holding torchvision's layout
  (``MNIST/raw/``, ``FashionMNIST/raw/``, ``cifar-10-batches-py/``) or plain folders (``mnist/``, ``fashion-mnist/``,
  ``cifar-10-batches-bin/``). Only ``download=True`` touches the network, through torchvision's own download.
* Nothing is unpickled here: IDX files and CIFAR-10's *binary* batches are plain bytes. CIFAR-10's *python* batches
  are pickles, so they are read only through torchvision's ``CIFAR10``, after their md5s are checked.
* The decode is vectorised (``np.frombuffer`` + reshape, files decompressed in parallel threads) and the arrays are
  cached as ``.npy`` under a key made of the source files' paths, sizes and mtimes: a second load takes a fraction
  of a second, and a changed file is decoded (and verified) again. The data root may be read-only.

References: LeCun, Cortes & Burges, *The MNIST database* (IDX format); Xiao, Rasul & Vollgraf 2017, *Fashion-MNIST*;
Krizhevsky 2009, *Learning Multiple Layers of Features from Tiny Images* (CIFAR-10).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sigmse.seeds import stream_seed

__all__ = [
    "DATA_DIR_ENV",
    "CACHE_DIR_ENV",
    "MANIFEST_MD5",
    "DatasetSpec",
    "DATASETS",
    "dataset_names",
    "get_dataset_spec",
    "DatasetNotFoundError",
    "DatasetIntegrityError",
    "Dataset",
    "resolve_data_dir",
    "resolve_cache_dir",
    "load_dataset",
    "require_dataset_files",
    "DatasetReport",
    "check_datasets",
    "format_report",
    "validation_split",
    "subset_indices",
]

DATA_DIR_ENV = "SIGMSE_DATA_DIR"
CACHE_DIR_ENV = "SIGMSE_CACHE_DIR"
_DEFAULT_DATA_DIR = Path("data")
_DEFAULT_CACHE_DIR = Path("~/.cache/sigmse")
_CACHE_VERSION = 1  # bump when the cached arrays change meaning, so old entries are ignored

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_BIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)  # 5 train, then test
_CIFAR_PY_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")
_CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue planes, each 32x32 row-major

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

# Per layout: the files it needs (without compression suffix) and the suffixes accepted, preferred first.
_LAYOUT_FILES: dict[str, tuple[str, ...]] = {
    "idx": _IDX_FILES,
    "cifar-bin": _CIFAR_BIN_FILES,
    "cifar-python": _CIFAR_PY_FILES,
}
_LAYOUT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "idx": ("", ".gz"),
    "cifar-bin": ("", ".gz", ".xz"),
    "cifar-python": ("",),  # torchvision's extracted tarball
}


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
    layouts: tuple[tuple[str, str], ...]  # (folder under the data root, layout), searched in this order
    torchvision_class: str  # the torchvision.datasets class used for download=True


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            num_classes=10,
            image_shape=(1, 28, 28),
            class_names=tuple(str(digit) for digit in range(10)),
            train_size=60000,
            test_size=10000,
            mean=(0.1307,),
            std=(0.3081,),
            layouts=(("MNIST/raw", "idx"), ("mnist", "idx")),
            torchvision_class="MNIST",
        ),
        DatasetSpec(
            name="fashion-mnist",
            num_classes=10,
            image_shape=(1, 28, 28),
            class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            train_size=60000,
            test_size=10000,
            mean=(0.2860,),
            std=(0.3530,),
            layouts=(("FashionMNIST/raw", "idx"), ("fashion-mnist", "idx")),
            torchvision_class="FashionMNIST",
        ),
        DatasetSpec(
            name="cifar10",
            num_classes=10,
            image_shape=(3, 32, 32),
            class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
            train_size=50000,
            test_size=10000,
            mean=(0.4914, 0.4822, 0.4465),
            std=(0.2470, 0.2435, 0.2616),
            # Binary first: it needs no pickle at all.
            layouts=(("cifar-10-batches-bin", "cifar-bin"), ("cifar-10-batches-py", "cifar-python")),
            torchvision_class="CIFAR10",
        ),
    )
}


def dataset_names() -> tuple[str, ...]:
    """The registered dataset names, in registry order."""
    return tuple(DATASETS)


def get_dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``; an unknown name raises ``ValueError`` listing the valid ones."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names are: {', '.join(DATASETS)}")
    return DATASETS[name]


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the places looked; the message lists them and how to fix it."""


class DatasetIntegrityError(RuntimeError):
    """The files were found but are not the official ones: an md5 or an example count differs from the manifest."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensors with == is elementwise, not a bool
class Dataset:
    """Both splits of one dataset, whole, as CPU tensors, and where they were read from."""

    name: str
    spec: DatasetSpec
    train_images: torch.Tensor  # (N, C, H, W) uint8
    train_labels: torch.Tensor  # (N,) int64
    test_images: torch.Tensor  # (M, C, H, W) uint8
    test_labels: torch.Tensor  # (M,) int64
    source: Path  # the folder holding the files that were decoded
    format: str  # layout and compression, e.g. "idx.gz", "cifar-bin.xz", "cifar-python"

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.class_names


@dataclass(frozen=True)
class _Source:
    """A complete set of one dataset's files in one folder."""

    folder: Path
    layout: str  # a key of _LAYOUT_FILES
    suffix: str  # compression suffix shared by all files: "", ".gz" or ".xz"
    files: tuple[Path, ...]  # in _LAYOUT_FILES order

    @property
    def format(self) -> str:
        return self.layout + self.suffix


_Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # train images, train labels, test images, test labels
_ARRAY_NAMES = ("train_images", "train_labels", "test_images", "test_labels")


# ---------------------------------------------------------------------------------------------------------- locating


def _data_dir_and_origin(data_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The data root and where it came from (for the not-found message)."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "the data_dir argument"
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser(), f"${DATA_DIR_ENV}"
    return _DEFAULT_DATA_DIR, f"the default, as neither data_dir nor ${DATA_DIR_ENV} was set"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``data_dir`` if given, else ``$SIGMSE_DATA_DIR`` if set, else ``./data``."""
    return _data_dir_and_origin(data_dir)[0]


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The decode cache: ``cache_dir`` if given, else ``$SIGMSE_CACHE_DIR`` if set, else ``~/.cache/sigmse``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get(CACHE_DIR_ENV) or _DEFAULT_CACHE_DIR).expanduser()


def _find_source(spec: DatasetSpec, root: Path) -> tuple[_Source | None, tuple[str, ...]]:
    """The first complete set of files under ``root``, or None and a line per place looked saying what was missing."""
    looked = []
    for relative, layout in spec.layouts:
        folder = root / relative
        if not folder.is_dir():
            looked.append(f"{folder.absolute()}  [{layout}]: no such folder")
            continue
        fewest_missing: list[str] | None = None
        for suffix in _LAYOUT_SUFFIXES[layout]:
            files = tuple(folder / (name + suffix) for name in _LAYOUT_FILES[layout])
            missing = [name for name, path in zip(_LAYOUT_FILES[layout], files) if not path.is_file()]
            if not missing:
                return _Source(folder, layout, suffix, files), ()
            if fewest_missing is None or len(missing) < len(fewest_missing):
                fewest_missing = missing
        forms = " or ".join(suffix or "raw" for suffix in _LAYOUT_SUFFIXES[layout])
        looked.append(f"{folder.absolute()}  [{layout}]: missing {', '.join(fewest_missing or [])} ({forms})")
    return None, tuple(looked)


def _not_found_message(spec: DatasetSpec, root: Path, origin: str, looked: Sequence[str]) -> str:
    root_note = "" if root.is_dir() else " (which does not exist)"
    places = "\n".join(f"  {line}" for line in looked)
    return (
        f"Dataset {spec.name!r} not found under the data root {root.absolute()}{root_note}, from {origin}.\n"
        f"Looked in:\n{places}\n"
        f"To fix it, either point the data root at the folder holding the official files, with --data-dir PATH "
        f"(Python: data_dir=PATH) or the environment variable {DATA_DIR_ENV}=PATH, or let torchvision download "
        f"them into the data root with --download (Python: download=True)."
    )


def _torchvision_class(spec: DatasetSpec) -> Any:  # a torchvision VisionDataset subclass
    """torchvision's dataset class for ``spec``, imported late: only downloads and python batches need it."""
    import torchvision.datasets

    return getattr(torchvision.datasets, spec.torchvision_class)


def _locate(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None, download: bool) -> _Source:
    """The dataset's files under the data root, downloading them first when allowed and missing."""
    root, origin = _data_dir_and_origin(data_dir)
    source, looked = _find_source(spec, root)
    if source is not None:
        return source
    if not download:
        raise DatasetNotFoundError(_not_found_message(spec, root, origin, looked))
    try:
        # train=False: torchvision downloads every file but then parses only the (smaller) test split.
        _torchvision_class(spec)(str(root), train=False, download=True)
    except (RuntimeError, OSError) as err:  # torchvision raises RuntimeError; URLError is an OSError
        message = _not_found_message(spec, root, origin, looked)
        raise DatasetNotFoundError(f"{message}\nThe download into {root.absolute()} failed: {err}") from err
    source, looked = _find_source(spec, root)
    if source is None:
        message = _not_found_message(spec, root, origin, looked)
        raise DatasetNotFoundError(f"{message}\ntorchvision's download finished, yet the files are still missing.")
    return source


def require_dataset_files(names: Sequence[str], data_dir: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`DatasetNotFoundError` unless every dataset in ``names`` has its files under the data root.

    It only looks for the files (no reading, no md5), so a sweep calls it before its first run: a missing
    dataset is then one clear error up front instead of every run failing with it.
    """
    for name in dict.fromkeys(names):
        _locate(get_dataset_spec(name), data_dir, download=False)


# ---------------------------------------------------------------------------------------------------------- decoding


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()  # an integrity check, not security


def _read(path: Path, expected_md5: str | None) -> bytes:
    """The uncompressed bytes of ``path`` (by suffix: .gz, .xz or raw), checked against ``expected_md5`` if given."""
    if path.suffix == ".gz":
        data = gzip.decompress(path.read_bytes())
    elif path.suffix == ".xz":
        data = lzma.decompress(path.read_bytes())
    else:
        data = path.read_bytes()
    if expected_md5 is not None and (actual := _md5(data)) != expected_md5:
        raise DatasetIntegrityError(
            f"{path}: md5 of the uncompressed content is {actual}, expected {expected_md5}. The file is not the "
            f"official one (corrupt, truncated or a different version); replace it, or delete it and use --download."
        )
    return data


def _read_all(paths: Sequence[Path], md5s: Sequence[str | None]) -> list[bytes]:
    """:func:`_read` for each path, in parallel threads (zlib, lzma and hashlib release the GIL)."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(paths), os.cpu_count() or 1))) as pool:
        return list(pool.map(_read, paths, md5s))


def _parse_idx(data: bytes, path: Path, ndim: int) -> np.ndarray:
    """An IDX file's ``uint8`` array: 2 zero bytes, type 0x08, ``ndim``, big-endian int32 sizes, then the data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (first bytes {data[:4].hex()}, expected 0000 then type and ndim)")
    if data[2] != 0x08:
        raise ValueError(f"{path}: IDX type code 0x{data[2]:02x}, expected 0x08 (unsigned byte)")
    if data[3] != ndim:
        raise ValueError(f"{path}: IDX with {data[3]} dimensions, expected {ndim}")
    header = 4 + 4 * ndim
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">i4", count=ndim, offset=4))
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(f"{path}: {len(data)} bytes, but an IDX header of shape {shape} implies "
                         f"{header + int(np.prod(shape))}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _decode_idx(spec: DatasetSpec, source: _Source, verify: bool) -> _Arrays:
    md5s = [MANIFEST_MD5[spec.name][name] if verify else None for name in _IDX_FILES]
    blobs = _read_all(source.files, md5s)
    train_x, train_y, test_x, test_y = (
        _parse_idx(blob, path, ndim) for blob, path, ndim in zip(blobs, source.files, (3, 1, 3, 1))
    )
    return (
        train_x[:, None].copy(),  # (N, 1, H, W); a copy, as frombuffer's array is read-only
        train_y.astype(np.int64),
        test_x[:, None].copy(),
        test_y.astype(np.int64),
    )


def _cifar_records(blobs: Sequence[bytes], paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` and labels ``(N,)`` from CIFAR-10 binary batches, in file order."""
    for blob, path in zip(blobs, paths):
        if len(blob) % _CIFAR_RECORD:
            raise ValueError(f"{path}: {len(blob)} bytes is not a whole number of {_CIFAR_RECORD}-byte "
                             f"CIFAR-10 records (1 label byte + 3072 pixel bytes)")
    records = np.concatenate([np.frombuffer(blob, dtype=np.uint8).reshape(-1, _CIFAR_RECORD) for blob in blobs])
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32)  # planes R, G, B, each row-major
    return images, records[:, 0].astype(np.int64)


def _decode_cifar_bin(spec: DatasetSpec, source: _Source, verify: bool) -> _Arrays:
    md5s = [MANIFEST_MD5[spec.name][name] if verify else None for name in _CIFAR_BIN_FILES]
    blobs = _read_all(source.files, md5s)
    return (*_cifar_records(blobs[:5], source.files[:5]), *_cifar_records(blobs[5:], source.files[5:]))


def _decode_cifar_python(spec: DatasetSpec, source: _Source) -> _Arrays:
    """CIFAR-10 python batches through torchvision, always md5-checked first since they are pickles."""
    cifar = _torchvision_class(spec)
    official = [*cifar.train_list, *cifar.test_list, [cifar.meta["filename"], cifar.meta["md5"]]]
    contents = _read_all([source.folder / name for name, _ in official], [None] * len(official))
    for (name, expected), content in zip(official, contents):
        if (actual := _md5(content)) != expected:
            raise DatasetIntegrityError(
                f"{source.folder / name}: md5 is {actual}, expected {expected}. It is not the official file, "
                f"and as a pickle it is never loaded unverified; replace it, or delete it and use --download."
            )
    train = cifar(str(source.folder.parent), train=True, download=False)
    test = cifar(str(source.folder.parent), train=False, download=False)
    return (
        np.ascontiguousarray(train.data.transpose(0, 3, 1, 2)),  # (N, H, W, C) -> (N, C, H, W)
        np.asarray(train.targets, dtype=np.int64),
        np.ascontiguousarray(test.data.transpose(0, 3, 1, 2)),
        np.asarray(test.targets, dtype=np.int64),
    )


def _check_arrays(spec: DatasetSpec, source: _Source, arrays: _Arrays, verify: bool) -> None:
    """Shapes and label range always; the official example counts when verifying."""
    train_x, train_y, test_x, test_y = arrays
    for split, images, labels in (("train", train_x, train_y), ("test", test_x, test_y)):
        if images.shape[1:] != spec.image_shape:
            raise ValueError(f"{source.folder}: {split} images have shape {images.shape[1:]} each, "
                             f"expected {spec.image_shape} for {spec.name}")
        if len(labels) != len(images):
            raise ValueError(f"{source.folder}: {len(images)} {split} images but {len(labels)} labels")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < spec.num_classes:
            raise ValueError(f"{source.folder}: {split} labels span {int(labels.min())}..{int(labels.max())}, "
                             f"expected 0..{spec.num_classes - 1}")
    if verify and (len(train_y), len(test_y)) != (spec.train_size, spec.test_size):
        raise DatasetIntegrityError(f"{source.folder}: {len(train_y)} train / {len(test_y)} test examples, "
                                    f"expected {spec.train_size} / {spec.test_size} for {spec.name}")


def _decode(spec: DatasetSpec, source: _Source, verify: bool) -> _Arrays:
    """Decode ``source`` into numpy arrays and check them (md5s and counts when ``verify``)."""
    if source.layout == "idx":
        arrays = _decode_idx(spec, source, verify)
    elif source.layout == "cifar-bin":
        arrays = _decode_cifar_bin(spec, source, verify)
    else:
        arrays = _decode_cifar_python(spec, source)
    _check_arrays(spec, source, arrays, verify)
    return arrays


# ---------------------------------------------------------------------------------------------------------- caching


def _cache_entry(cache_dir: Path, spec: DatasetSpec, source: _Source, verify: bool) -> Path:
    """The cache folder for this exact set of files: keyed by their paths, sizes and mtimes, and ``verify``."""
    stats = [(str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns) for path in source.files]
    key = json.dumps({"version": _CACHE_VERSION, "name": spec.name, "format": source.format,
                      "verify": verify, "files": stats})
    return cache_dir / f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _load_cached(entry: Path) -> _Arrays | None:
    if not entry.is_dir():
        return None
    try:
        train_x, train_y, test_x, test_y = (np.load(entry / f"{name}.npy", allow_pickle=False) for name in _ARRAY_NAMES)
    except (OSError, ValueError) as err:
        warnings.warn(f"ignoring the unreadable cache entry {entry} ({err}); decoding again", stacklevel=3)
        return None
    return train_x, train_y, test_x, test_y


def _store_cached(entry: Path, arrays: _Arrays) -> None:
    """Write the arrays to a temporary folder, then publish it with one atomic ``os.replace``."""
    temporary: Path | None = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        for name, array in zip(_ARRAY_NAMES, arrays):
            np.save(temporary / f"{name}.npy", array, allow_pickle=False)
        os.replace(temporary, entry)  # fails if a concurrent load published the same entry first; theirs is as good
    except OSError as err:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        if not entry.is_dir():
            warnings.warn(f"could not write the decode cache {entry} ({err}); the next load decodes again. "
                          f"Set ${CACHE_DIR_ENV} to a writable folder.", stacklevel=3)


def _load_arrays(spec: DatasetSpec, source: _Source, cache_dir: Path, verify: bool) -> _Arrays:
    """The cached arrays for ``source``, decoding (and caching) them on a miss."""
    entry = _cache_entry(cache_dir, spec, source, verify)
    arrays = _load_cached(entry)
    if arrays is None:
        arrays = _decode(spec, source, verify)
        _store_cached(entry, arrays)
    return arrays


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    verify: bool = True,
) -> Dataset:
    """Both splits of dataset ``name`` as ``uint8`` images ``(N, C, H, W)`` and ``int64`` labels.

    Args:
        name: one of :func:`dataset_names`.
        data_dir: the data root (see :func:`resolve_data_dir`); may be read-only.
        download: when the files are not under the data root, download them there with torchvision.
        cache_dir: where decoded arrays are cached (see :func:`resolve_cache_dir`).
        verify: check each file's md5 and the official example counts on decode. ``False`` exists for tiny
            generated test files only; CIFAR-10 python batches are md5-checked regardless, being pickles.

    Raises:
        DatasetNotFoundError: no complete set of files under the data root (and no download, or it failed).
        DatasetIntegrityError: a file's md5 or the example counts differ from the official ones.
        ValueError: a file is malformed (bad IDX header, partial CIFAR record, wrong image shape or label range).
    """
    spec = get_dataset_spec(name)
    source = _locate(spec, data_dir, download)
    arrays = _load_arrays(spec, source, resolve_cache_dir(cache_dir), verify)
    train_x, train_y, test_x, test_y = (torch.from_numpy(array) for array in arrays)
    return Dataset(spec.name, spec, train_x, train_y, test_x, test_y, source=source.folder, format=source.format)


# ---------------------------------------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class DatasetReport:
    """What ``sigmse data check`` found for one dataset."""

    name: str
    found: bool
    source: Path | None = None
    format: str | None = None
    train_size: int = 0
    test_size: int = 0
    train_class_counts: tuple[int, ...] = ()
    test_class_counts: tuple[int, ...] = ()
    verified: bool = False  # md5s and counts matched the manifest when the files were decoded
    looked: tuple[str, ...] = ()  # the places searched, when not found
    error: str | None = None  # why files that were found could not be loaded

    @property
    def ok(self) -> bool:
        return self.found and self.error is None

    @property
    def balanced(self) -> bool:
        """Every class has the same number of training examples."""
        return bool(self.train_class_counts) and len(set(self.train_class_counts)) == 1

    @property
    def imbalance(self) -> float:
        """Largest over smallest training class count (1.0 = balanced); ``nan`` if unknown."""
        counts = self.train_class_counts
        return max(counts) / min(counts) if counts and min(counts) > 0 else float("nan")


def check_datasets(
    data_dir: str | os.PathLike[str] | None = None, *, cache_dir: str | os.PathLike[str] | None = None
) -> list[DatasetReport]:
    """A :class:`DatasetReport` for every registered dataset under the data root; never downloads, never raises."""
    root = resolve_data_dir(data_dir)
    reports = []
    for spec in DATASETS.values():
        source, looked = _find_source(spec, root)
        if source is None:
            reports.append(DatasetReport(spec.name, found=False, looked=looked))
            continue
        try:
            _, train_y, _, test_y = _load_arrays(spec, source, resolve_cache_dir(cache_dir), verify=True)
        except (DatasetIntegrityError, ValueError, OSError) as err:
            reports.append(DatasetReport(spec.name, True, source.folder, source.format, error=str(err)))
            continue
        reports.append(DatasetReport(
            spec.name, True, source.folder, source.format, len(train_y), len(test_y),
            tuple(np.bincount(train_y, minlength=spec.num_classes).tolist()),
            tuple(np.bincount(test_y, minlength=spec.num_classes).tolist()),
            verified=True,
        ))
    return reports


def _class_counts_cell(report: DatasetReport) -> str:
    if not report.train_class_counts:
        return "-"
    if report.balanced:
        return f"{report.train_class_counts[0]} each"
    return f"{min(report.train_class_counts)}-{max(report.train_class_counts)} (max/min {report.imbalance:.2f})"


def format_report(reports: Sequence[DatasetReport]) -> str:
    """A plain-text table of ``reports``, then where each missing dataset was looked for and each error."""
    header = ("dataset", "status", "format", "train", "test", "per class (train)", "md5 + counts", "source")
    rows = [header]
    for r in reports:
        status = "ok" if r.ok else ("error" if r.found else "missing")
        rows.append((
            r.name, status, r.format or "-", str(r.train_size) if r.ok else "-", str(r.test_size) if r.ok else "-",
            _class_counts_cell(r), "verified" if r.verified else "-", str(r.source) if r.source else "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    for r in reports:
        if not r.found:
            lines += ["", f"{r.name}: not found. Looked in:", *(f"  {line}" for line in r.looked)]
        elif r.error:
            lines += ["", f"{r.name}: {r.error}"]
    if any(not r.found for r in reports):
        lines += ["", f"To fix a missing dataset, pass --data-dir PATH or set {DATA_DIR_ENV}=PATH to the folder "
                      f"holding the official files, or download them with --download."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------- splits


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high)``; a ``ValueError`` quoting it otherwise."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low or (
        high is not None and value >= high
    ):
        allowed = f"an integer with {low} <= {name}" + (f" < {high}" if high is not None else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def validation_split(num_train: int, val_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``range(num_train)`` into (train, validation) index tensors, each sorted, by a seeded permutation.

    The same ``seed`` gives the same split on every machine (``torch.Generator`` on the CPU); the two parts are
    disjoint and together cover every index once.
    """
    num_train = _check_int("num_train", num_train, 1)
    val_size = _check_int("val_size", val_size, 0, num_train)
    permutation = torch.randperm(num_train, generator=torch.Generator().manual_seed(stream_seed("validation-split", seed)))
    return permutation[val_size:].sort().values, permutation[:val_size].sort().values


def subset_indices(labels: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """``size`` sorted indices into ``labels``, class-stratified: each class keeps its share, chosen at random.

    Shares are ``size * n_class / N`` rounded by largest remainder, so they sum to ``size`` exactly; which examples
    of a class are kept is decided by one seeded permutation (no loop over examples). For quick CPU profiles.
    """
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    size = _check_int("size", size, 1, labels.numel() + 1)
    cpu_labels = labels.cpu()
    permutation = torch.randperm(labels.numel(), generator=torch.Generator().manual_seed(stream_seed("train-subset", seed)))
    classes, counts = torch.unique(cpu_labels, return_counts=True)  # classes sorted
    exact = counts.double() * size / labels.numel()
    quota = exact.floor().long()
    leftover = size - int(quota.sum())
    quota[torch.argsort(exact - quota, descending=True, stable=True)[:leftover]] += 1
    shuffled = cpu_labels[permutation]
    order = torch.argsort(shuffled, stable=True)  # grouped by class, random order within each class
    class_index = torch.searchsorted(classes, shuffled[order])
    rank = torch.arange(labels.numel()) - (counts.cumsum(0) - counts)[class_index]  # position within its class
    return permutation[order[rank < quota[class_index]]].sort().values.to(labels.device)
