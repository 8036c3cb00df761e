"""sigmse.data.splits: the validation split and the stratified subset are deterministic, disjoint and exact, and bad
sizes are errors that quote the value."""

from __future__ import annotations

import pytest
import torch

from sigmse.data.splits import subset_indices, validation_split


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
