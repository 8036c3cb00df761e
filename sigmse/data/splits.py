"""Which training examples a run uses: a seeded validation split and a class-stratified subset, as index tensors.

Each draws one ``torch.randperm`` on the CPU from its own :func:`sigmse.seeds.stream_seed`, so the same seed gives
the same indices on every machine, with no loop over examples.
"""

from __future__ import annotations

import torch

from sigmse.checks import check_number
from sigmse.seeds import stream_seed

__all__ = ["validation_split", "subset_indices"]


def validation_split(num_train: int, val_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``range(num_train)`` into disjoint, sorted (train, validation) index tensors, by a seeded permutation."""
    check_number("num_train", num_train, low=1, integer=True, allowed="an integer with 1 <= num_train")
    check_number("val_size", val_size, low=0, high=num_train, high_open=True, integer=True,
                 allowed=f"an integer with 0 <= val_size < {num_train}")
    generator = torch.Generator().manual_seed(stream_seed("validation-split", seed))
    permutation = torch.randperm(num_train, generator=generator)
    return permutation[val_size:].sort().values, permutation[:val_size].sort().values


def subset_indices(labels: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """``size`` sorted indices into ``labels``, class-stratified: each class keeps its share, chosen at random.

    Shares are ``size * n_class / N`` rounded by largest remainder, so they sum to ``size`` exactly.
    """
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
    check_number("size", size, low=1, high=labels.numel() + 1, high_open=True, integer=True,
                 allowed=f"an integer with 1 <= size < {labels.numel() + 1}")
    cpu_labels = labels.cpu()
    generator = torch.Generator().manual_seed(stream_seed("train-subset", seed))
    permutation = torch.randperm(labels.numel(), generator=generator)
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
