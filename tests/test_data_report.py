"""sigmse.data.report: what ``sigmse data check`` reports for found, missing and broken datasets, and the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from sigmse.data.datasets import dataset_names
from sigmse.data.report import check_datasets, format_report


def test_check_datasets_reports_found_missing_and_errors(make_fake_idx, make_fake_cifar_bin, tmp_path: Path) -> None:
    make_fake_idx(tmp_path, "mnist", "plain", ".gz")  # tiny, so its md5s fail
    reports = {r.name: r for r in check_datasets(tmp_path, cache_dir=tmp_path / "cache")}
    assert reports["mnist"].found and not reports["mnist"].ok and "md5" in reports["mnist"].error
    assert not reports["cifar10"].found and len(reports["cifar10"].looked) == 2
    table = format_report(list(reports.values()))
    assert table.splitlines()[0].split()[:3] == ["dataset", "status", "format"]
    assert "cifar10: not found. Looked in:" in table and "--data-dir" in table and "mnist: " in table


@pytest.mark.shared_data
def test_real_check_datasets(shared_data_dir: Path, tmp_path: Path) -> None:
    reports = check_datasets(shared_data_dir, cache_dir=tmp_path / "cache")  # decoded and verified here
    assert [r.name for r in reports] == list(dataset_names())
    assert all(r.ok and r.verified for r in reports)
    assert [(r.train_size, r.test_size) for r in reports] == [(60000, 10000), (60000, 10000), (50000, 10000)]
    assert [r.balanced for r in reports] == [False, True, True]
    assert "5421-6742 (max/min 1.24)" in format_report(reports)
