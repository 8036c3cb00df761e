"""The official dataset files: where they may lie under a data root, their checksums, and how they decode.

Three layouts: ``idx`` (MNIST, Fashion-MNIST), ``cifar-bin`` (CIFAR-10's binary batches) and ``cifar-python``
(its python batches, as torchvision extracts them). The manifest (:data:`sigmse.data.table.MANIFEST_MD5`) holds the
md5 of each file's *uncompressed* content, so raw, ``.gz`` and ``.xz`` files check alike; a mismatch
(:class:`DatasetIntegrityError`) names the file and both checksums. Nothing is unpickled here: the python batches
are read only through torchvision, after their md5s are checked. The decode is ``np.frombuffer`` + reshape, the
files decompressed in parallel threads.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sigmse.data.table import CIFAR_BIN_FILES, CIFAR_PY_FILES, IDX_FILES, MANIFEST_MD5, DatasetSpec

__all__ = ["DatasetIntegrityError", "DatasetFiles", "DatasetArrays", "find_dataset_files", "torchvision_class",
           "decode_dataset_files"]

_CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue planes, each 32x32 row-major

# Per layout: the files it needs (without compression suffix) and the suffixes accepted, preferred first.
_LAYOUT_FILES = {"idx": IDX_FILES, "cifar-bin": CIFAR_BIN_FILES, "cifar-python": CIFAR_PY_FILES}
_LAYOUT_SUFFIXES = {"idx": ("", ".gz"), "cifar-bin": ("", ".gz", ".xz"),
                    "cifar-python": ("",)}  # cifar-python: torchvision's extracted tarball


class DatasetIntegrityError(RuntimeError):
    """The files were found but are not the official ones: an md5 or an example count differs from the manifest."""


@dataclass(frozen=True)
class DatasetFiles:
    """A complete set of one dataset's files in one folder."""

    folder: Path
    layout: str  # a key of _LAYOUT_FILES
    suffix: str  # compression suffix shared by all files: "", ".gz" or ".xz"
    files: tuple[Path, ...]  # in _LAYOUT_FILES order

    @property
    def format(self) -> str:
        return self.layout + self.suffix


# What a decode gives: train images (N, C, H, W) uint8, train labels (N,) int64, then the same for the test split.
DatasetArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def find_dataset_files(spec: DatasetSpec, root: Path) -> tuple[DatasetFiles | None, tuple[str, ...]]:
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
                return DatasetFiles(folder, layout, suffix, files), ()
            if fewest_missing is None or len(missing) < len(fewest_missing):
                fewest_missing = missing
        forms = " or ".join(suffix or "raw" for suffix in _LAYOUT_SUFFIXES[layout])
        looked.append(f"{folder.absolute()}  [{layout}]: missing {', '.join(fewest_missing or [])} ({forms})")
    return None, tuple(looked)


def torchvision_class(spec: DatasetSpec) -> Any:  # a torchvision VisionDataset subclass
    """torchvision's dataset class for ``spec``, imported late: only downloads and python batches need it."""
    import torchvision.datasets

    return getattr(torchvision.datasets, spec.torchvision_class)


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()  # an integrity check, not security


def _read(path: Path, expected_md5: str | None) -> bytes:
    """The uncompressed bytes of ``path`` (by suffix: .gz, .xz or raw), checked against ``expected_md5`` if given."""
    try:
        data = {".gz": gzip.decompress, ".xz": lzma.decompress}.get(path.suffix, bytes)(path.read_bytes())
    except (EOFError, gzip.BadGzipFile, zlib.error, lzma.LZMAError) as err:  # truncated or damaged archive
        raise DatasetIntegrityError(f"{path}: not a complete {path.suffix} file ({err}): truncated or damaged, e.g. "
                                    f"by an interrupted copy or download; replace it, or delete it and use --download."
                                    ) from err
    if expected_md5 is not None and (actual := _md5(data)) != expected_md5:
        raise DatasetIntegrityError(f"{path}: md5 of the uncompressed content is {actual}, expected {expected_md5}. "
                                    f"The file is not the official one (corrupt, truncated or a different version); "
                                    f"replace it, or delete it and use --download.")
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


def _decode_idx(blobs: Sequence[bytes], paths: Sequence[Path]) -> DatasetArrays:
    train_x, train_y, test_x, test_y = (_parse_idx(*entry) for entry in zip(blobs, paths, (3, 1, 3, 1)))
    # (N, 1, H, W); a copy, as frombuffer's array is read-only
    return train_x[:, None].copy(), train_y.astype(np.int64), test_x[:, None].copy(), test_y.astype(np.int64)


def _cifar_records(blobs: Sequence[bytes], paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 3, 32, 32)`` and labels ``(N,)`` from CIFAR-10 binary batches, in file order."""
    for blob, path in zip(blobs, paths):
        if len(blob) % _CIFAR_RECORD:
            raise ValueError(f"{path}: {len(blob)} bytes is not a whole number of {_CIFAR_RECORD}-byte "
                             f"CIFAR-10 records (1 label byte + 3072 pixel bytes)")
    records = np.concatenate([np.frombuffer(blob, dtype=np.uint8).reshape(-1, _CIFAR_RECORD) for blob in blobs])
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32)  # planes R, G, B, each row-major
    return images, records[:, 0].astype(np.int64)


def _decode_cifar_python(spec: DatasetSpec, source: DatasetFiles) -> DatasetArrays:
    """CIFAR-10 python batches through torchvision, always md5-checked first since they are pickles."""
    cifar = torchvision_class(spec)
    official = [*cifar.train_list, *cifar.test_list, [cifar.meta["filename"], cifar.meta["md5"]]]
    contents = _read_all([source.folder / name for name, _ in official], [None] * len(official))
    for (name, expected), content in zip(official, contents):
        if (actual := _md5(content)) != expected:
            raise DatasetIntegrityError(f"{source.folder / name}: md5 is {actual}, expected {expected}. It is not the "
                                        f"official file, and as a pickle it is never loaded unverified; replace it, "
                                        f"or delete it and use --download.")
    train = cifar(str(source.folder.parent), train=True, download=False)
    test = cifar(str(source.folder.parent), train=False, download=False)
    return (np.ascontiguousarray(train.data.transpose(0, 3, 1, 2)),  # (N, H, W, C) -> (N, C, H, W)
            np.asarray(train.targets, dtype=np.int64),
            np.ascontiguousarray(test.data.transpose(0, 3, 1, 2)), np.asarray(test.targets, dtype=np.int64))


def _check_arrays(spec: DatasetSpec, source: DatasetFiles, arrays: DatasetArrays, verify: bool) -> None:
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


def decode_dataset_files(spec: DatasetSpec, source: DatasetFiles, verify: bool) -> DatasetArrays:
    """Decode ``source`` into numpy arrays and check them (md5s and counts when ``verify``)."""
    if source.layout == "cifar-python":
        arrays = _decode_cifar_python(spec, source)
    else:
        md5s = [MANIFEST_MD5[spec.name][name] if verify else None for name in _LAYOUT_FILES[source.layout]]
        blobs, paths = _read_all(source.files, md5s), source.files
        arrays = (_decode_idx(blobs, paths) if source.layout == "idx"  # cifar-bin: 5 train batches, then test
                  else (*_cifar_records(blobs[:5], paths[:5]), *_cifar_records(blobs[5:], paths[5:])))
    _check_arrays(spec, source, arrays, verify)
    return arrays
