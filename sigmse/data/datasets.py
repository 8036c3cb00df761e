"""Datasets: MNIST, Fashion-MNIST and CIFAR-10 as whole ``uint8`` tensors, from the official files.

After torchvision's ``datasets/mnist.py``, ``cifar.py`` and ``utils.py``: the files are read from a *data root*
(argument, ``$SIGMSE_DATA_DIR``, else ``./data``) in torchvision's layout or plain folders; only ``download=True``
touches the network (torchvision's download); a missing dataset raises :class:`DatasetNotFoundError`, which lists
the places looked and how to fix it. :mod:`sigmse.data.files` checks the md5s and decodes (never unpickling an
unverified file); the arrays are cached as ``.npy`` under a key of the files' paths, sizes and mtimes, so a second
load takes a fraction of a second and a changed file is decoded again. The data root may be read-only.

References: LeCun, Cortes & Burges, *The MNIST database*; Xiao, Rasul & Vollgraf 2017, *Fashion-MNIST*;
Krizhevsky 2009, *Learning Multiple Layers of Features from Tiny Images* (CIFAR-10).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sigmse.data.files import (DatasetArrays, DatasetFiles, decode_dataset_files, find_dataset_files,
                               torchvision_class)
from sigmse.data.table import DATASETS, DatasetSpec

__all__ = ["DATA_DIR_ENV", "CACHE_DIR_ENV", "DatasetSpec", "DATASETS", "dataset_names", "get_dataset_spec",
           "DatasetNotFoundError", "Dataset", "resolve_data_dir", "resolve_cache_dir", "load_dataset",
           "require_dataset_files", "missing_datasets", "ensure_datasets", "load_arrays"]

DATA_DIR_ENV = "SIGMSE_DATA_DIR"
CACHE_DIR_ENV = "SIGMSE_CACHE_DIR"
_DEFAULT_DATA_DIR = Path("data")
_DEFAULT_CACHE_DIR = Path("~/.cache/sigmse")
_CACHE_VERSION = 1  # bump when the cached arrays change meaning, so old entries are ignored


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


_ARRAY_NAMES = ("train_images", "train_labels", "test_images", "test_labels")


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
    chosen = cache_dir if cache_dir is not None else os.environ.get(CACHE_DIR_ENV) or _DEFAULT_CACHE_DIR
    return Path(chosen).expanduser()


def _not_found_message(spec: DatasetSpec, root: Path, origin: str, looked: Sequence[str]) -> str:
    root_note = "" if root.is_dir() else " (which does not exist)"
    places = "\n".join(f"  {line}" for line in looked)
    return (f"Dataset {spec.name!r} not found under the data root {root.absolute()}{root_note}, from {origin}.\n"
            f"Looked in:\n{places}\n"
            f"To fix it, either point the data root at the folder holding the official files, with --data-dir PATH "
            f"(Python: data_dir=PATH) or the environment variable {DATA_DIR_ENV}=PATH, or let torchvision download "
            f"them into the data root with --download (Python: download=True).")


def _locate(spec: DatasetSpec, data_dir: str | os.PathLike[str] | None, download: bool) -> DatasetFiles:
    """The dataset's files under the data root, downloading them first when allowed and missing."""
    root, origin = _data_dir_and_origin(data_dir)
    source, looked = find_dataset_files(spec, root)
    if source is not None:
        return source
    if not download:
        raise DatasetNotFoundError(_not_found_message(spec, root, origin, looked))
    try:
        # train=False: torchvision downloads every file but then parses only the (smaller) test split.
        torchvision_class(spec)(str(root), train=False, download=True)
    except (RuntimeError, OSError) as err:  # torchvision raises RuntimeError; URLError is an OSError
        note, cause = f"The download into {root.absolute()} failed: {err}", err
    else:
        source, looked = find_dataset_files(spec, root)
        if source is not None:
            return source
        note, cause = "torchvision's download finished, yet the files are still missing.", None
    raise DatasetNotFoundError(f"{_not_found_message(spec, root, origin, looked)}\n{note}") from cause


def require_dataset_files(names: Sequence[str], data_dir: str | os.PathLike[str] | None = None) -> None:
    """Raise :class:`DatasetNotFoundError` unless every dataset in ``names`` has its files under the data root.
    It only looks (no reading, no md5): a sweep calls it first, so a missing dataset is one error up front."""
    for name in dict.fromkeys(names):
        _locate(get_dataset_spec(name), data_dir, download=False)


def missing_datasets(names: Sequence[str], data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The datasets of ``names`` (each once, in order) whose files are not under the data root (no reading)."""
    root = resolve_data_dir(data_dir)
    return [name for name in dict.fromkeys(names) if find_dataset_files(get_dataset_spec(name), root)[0] is None]


def ensure_datasets(names: Sequence[str], data_dir: str | os.PathLike[str] | None = None, *,
                    download: bool = True) -> list[str]:
    """Make sure every dataset of ``names`` is under the data root, fetching the missing ones; return those fetched.

    A missing one is downloaded with torchvision (as ``sigmse data download`` does) and md5-checked at once, so a
    bad download fails here, not in a run; torchvision's stdout lines are kept off stdout, its progress bars stay.

    Raises:
        DatasetNotFoundError: a dataset is missing and ``download`` is off, or its download failed; the message
            is one line: the data root, and the two ways to fill it.
        DatasetIntegrityError (:mod:`sigmse.data.files`): a downloaded file is not the official one.
    """
    root = resolve_data_dir(data_dir)
    missing = missing_datasets(names, root)
    if not missing:
        return []
    where = f"the data root {root.absolute()}"
    point = (f"point the data root at a folder of the official files with --data-dir PATH or {DATA_DIR_ENV}=PATH "
             f"(Python: data_dir=PATH)")
    if not download:
        raise DatasetNotFoundError(f"dataset {', '.join(missing)} not found under {where}; either {point}, or let "
                                   f"torchvision download them there (--download; needs internet)")
    for name in missing:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                load_dataset(name, root, download=True)
        except DatasetNotFoundError as error:
            reason = str(error.__cause__ or error).strip().splitlines()[-1].strip()
            raise DatasetNotFoundError(
                f"dataset {', '.join(missing[missing.index(name):])} not found under {where}, and torchvision could "
                f"not download {name} there ({reason}); either {point}, or run where downloads work") from error
    return missing


def _cache_entry(cache_dir: Path, spec: DatasetSpec, source: DatasetFiles, verify: bool) -> Path:
    """The cache folder for this exact set of files: keyed by their paths, sizes and mtimes, and ``verify``."""
    stats = [(str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns) for path in source.files]
    key = json.dumps({"version": _CACHE_VERSION, "name": spec.name, "format": source.format,
                      "verify": verify, "files": stats})
    return cache_dir / f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _load_cached(entry: Path) -> DatasetArrays | None:
    if not entry.is_dir():
        return None
    try:
        return tuple(np.load(entry / f"{name}.npy", allow_pickle=False) for name in _ARRAY_NAMES)
    except (OSError, ValueError, EOFError) as err:  # EOFError: an empty (truncated) .npy
        warnings.warn(f"ignoring the unreadable cache entry {entry} ({err}); decoding again", stacklevel=3)
        return None


def _store_cached(entry: Path, arrays: DatasetArrays) -> None:
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


def load_arrays(spec: DatasetSpec, source: DatasetFiles, cache_dir: Path, verify: bool) -> DatasetArrays:
    """The cached arrays for ``source``, decoding (and caching) them on a miss (also for ``sigmse data check``)."""
    entry = _cache_entry(cache_dir, spec, source, verify)
    if (arrays := _load_cached(entry)) is None:
        arrays = decode_dataset_files(spec, source, verify)
        _store_cached(entry, arrays)
    return arrays


def load_dataset(name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = False,
                 cache_dir: str | os.PathLike[str] | None = None, verify: bool = True) -> Dataset:
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
        DatasetIntegrityError (:mod:`sigmse.data.files`): a file's md5 or the example counts differ from the
            official ones.
        ValueError: a file is malformed (bad IDX header, partial CIFAR record, wrong image shape or label range).
    """
    spec = get_dataset_spec(name)
    source = _locate(spec, data_dir, download)
    arrays = (torch.from_numpy(array) for array in load_arrays(spec, source, resolve_cache_dir(cache_dir), verify))
    return Dataset(spec.name, spec, *arrays, source=source.folder, format=source.format)
