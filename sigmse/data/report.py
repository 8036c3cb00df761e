"""``sigmse data check``: per dataset, whether its files are under the data root, in which format, whether they
match the official checksums and counts, and how balanced its classes are. :func:`check_datasets` never downloads
and never raises (a missing or broken dataset is a row with the places looked or the error); the checks are
:func:`sigmse.data.datasets.load_dataset`'s, and the decode cache serves later checks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sigmse.data.datasets import DATA_DIR_ENV, DATASETS, load_arrays, resolve_cache_dir, resolve_data_dir
from sigmse.data.files import DatasetIntegrityError, find_dataset_files
from sigmse.data.table import DatasetSpec

__all__ = ["DatasetReport", "check_datasets", "format_report"]


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


def _check_dataset(spec: DatasetSpec, root: Path, cache_dir: Path) -> DatasetReport:
    source, looked = find_dataset_files(spec, root)
    if source is None:
        return DatasetReport(spec.name, found=False, looked=looked)
    try:
        _, train_y, _, test_y = load_arrays(spec, source, cache_dir, verify=True)
    except (DatasetIntegrityError, ValueError, OSError) as err:
        return DatasetReport(spec.name, True, source.folder, source.format, error=str(err))
    train_counts, test_counts = (tuple(np.bincount(y, minlength=spec.num_classes).tolist()) for y in (train_y, test_y))
    return DatasetReport(spec.name, True, source.folder, source.format, len(train_y), len(test_y), train_counts,
                         test_counts, verified=True)


def check_datasets(data_dir: str | os.PathLike[str] | None = None, *,
                   cache_dir: str | os.PathLike[str] | None = None) -> list[DatasetReport]:
    """A :class:`DatasetReport` for every registered dataset under the data root; never downloads, never raises."""
    root = resolve_data_dir(data_dir)
    return [_check_dataset(spec, root, resolve_cache_dir(cache_dir)) for spec in DATASETS.values()]


def _class_counts_cell(report: DatasetReport) -> str:
    if not report.train_class_counts:
        return "-"
    if report.balanced:
        return f"{report.train_class_counts[0]} each"
    return f"{min(report.train_class_counts)}-{max(report.train_class_counts)} (max/min {report.imbalance:.2f})"


def format_report(reports: Sequence[DatasetReport]) -> str:
    """A plain-text table of ``reports``, then where each missing dataset was looked for and each error."""
    header = ("dataset", "status", "format", "train", "test", "per class (train)", "md5 + counts", "source")
    rows = [header] + [(r.name, "ok" if r.ok else ("error" if r.found else "missing"), r.format or "-",
                        str(r.train_size) if r.ok else "-", str(r.test_size) if r.ok else "-", _class_counts_cell(r),
                        "verified" if r.verified else "-", str(r.source) if r.source else "-") for r in reports]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    for r in reports:
        if not r.found:
            lines += ["", f"{r.name}: not found. Looked in:", *(f"  {line}" for line in r.looked)]
        elif r.error:
            lines += ["", f"{r.name}: {r.error}"]
    if any(not r.found for r in reports):
        lines += ["", f"To fix a missing dataset, pass --data-dir PATH or set {DATA_DIR_ENV}=PATH to the folder "
                      f"holding the official files, or fetch them with `sigmse data download` (needs internet)."]
    return "\n".join(lines)
