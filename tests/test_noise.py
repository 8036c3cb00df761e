"""sigmse.data.noise: realised rates, which labels may flip where, seeding, validation, and input noise."""

from __future__ import annotations

import pytest
import torch

from sigmse.data.datasets import get_dataset_spec
from sigmse.data.noise import ASYMMETRIC_FLIPS, LABEL_NOISE_KINDS, add_input_noise, corrupt_labels

N = 50_000


@pytest.fixture(scope="module")
def labels() -> torch.Tensor:
    return torch.randint(0, 10, (N,), generator=torch.Generator().manual_seed(0))


def test_flip_table_matches_the_named_pairs() -> None:
    """The pairs, written by class *name* and translated through the dataset registry."""
    named = {
        "mnist": [("2", "7"), ("3", "8"), ("5", "6"), ("6", "5"), ("7", "1")],
        "fashion-mnist": [("T-shirt/top", "Shirt"), ("Shirt", "T-shirt/top"), ("Pullover", "Coat"),
                          ("Coat", "Pullover"), ("Sandal", "Sneaker"), ("Sneaker", "Sandal")],
        "cifar10": [("truck", "automobile"), ("bird", "airplane"), ("deer", "horse"), ("cat", "dog"), ("dog", "cat")],
    }
    assert set(ASYMMETRIC_FLIPS) == set(named)
    for dataset, pairs in named.items():
        index = get_dataset_spec(dataset).class_names.index
        assert ASYMMETRIC_FLIPS[dataset] == {index(source): index(target) for source, target in pairs}


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.45, 0.8])
def test_symmetric_rate_and_targets(labels: torch.Tensor, rate: float) -> None:
    noisy = corrupt_labels(labels, kind="symmetric", rate=rate, num_classes=10, seed=1)
    assert noisy.labels.dtype == torch.int64 and noisy.labels.shape == labels.shape
    assert int(noisy.flipped.sum()) == round(rate * N)  # exactly, every chosen label really changes
    assert abs(noisy.realised_rate - rate) <= 0.01
    assert torch.equal(noisy.flipped, noisy.labels != labels)
    if rate:  # the new class is uniform over the 9 other classes: each offset 1..9 gets about 1/9 of the flips
        offsets = (noisy.labels - labels)[noisy.flipped] % 10
        share = torch.bincount(offsets, minlength=10).double() / offsets.numel()
        assert share[0] == 0 and (share[1:] - 1 / 9).abs().max() < 0.015


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "cifar10"])
@pytest.mark.parametrize("rate", [0.2, 0.4])
def test_asymmetric_rate_and_pairs(labels: torch.Tensor, dataset: str, rate: float) -> None:
    flips = ASYMMETRIC_FLIPS[dataset]
    noisy = corrupt_labels(labels, kind="asymmetric", rate=rate, num_classes=10, dataset=dataset, seed=2)
    changed = noisy.flipped
    pairs = set(zip(labels[changed].tolist(), noisy.labels[changed].tolist()))
    assert pairs <= set(flips.items())  # only along the listed pairs
    is_source = torch.isin(labels, torch.tensor(list(flips)))
    assert not changed[~is_source].any()  # other classes untouched
    for source in flips:  # exactly round(rate * n) of each source class
        members = labels == source
        assert int(changed[members].sum()) == round(rate * int(members.sum()))
    assert abs(float(changed[is_source].double().mean()) - rate) <= 0.01
    assert noisy.realised_rate == pytest.approx(float(changed.double().mean()))


def test_same_seed_same_noise_other_seed_other_noise(labels: torch.Tensor) -> None:
    for kind, dataset in (("symmetric", None), ("asymmetric", "cifar10")):
        first = corrupt_labels(labels, kind=kind, rate=0.3, num_classes=10, dataset=dataset, seed=7)
        again = corrupt_labels(labels, kind=kind, rate=0.3, num_classes=10, dataset=dataset, seed=7)
        other = corrupt_labels(labels, kind=kind, rate=0.3, num_classes=10, dataset=dataset, seed=8)
        assert torch.equal(first.labels, again.labels)
        assert not torch.equal(first.labels, other.labels)


def test_none_leaves_labels_unchanged(labels: torch.Tensor) -> None:
    clean = corrupt_labels(labels.int(), kind="none", rate=0.0, num_classes=10, seed=0)
    assert torch.equal(clean.labels, labels) and clean.labels.dtype == torch.int64
    assert clean.realised_rate == 0.0 and not clean.flipped.any()


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, float("nan")])
def test_bad_rate_is_quoted(labels: torch.Tensor, rate: float) -> None:
    with pytest.raises(ValueError, match=rf"rate must be a number in \[0, 1\), got {rate!r}"):
        corrupt_labels(labels, kind="symmetric", rate=rate, num_classes=10, seed=0)


def test_bad_kind_dataset_labels_are_quoted(labels: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=r"'pairflip'; valid kinds are: none, symmetric, asymmetric"):
        corrupt_labels(labels, kind="pairflip", rate=0.2, num_classes=10, seed=0)
    assert LABEL_NOISE_KINDS == ("none", "symmetric", "asymmetric")
    with pytest.raises(ValueError, match=r"needs dataset, one of: mnist, fashion-mnist, cifar10; got 'svhn'"):
        corrupt_labels(labels, kind="asymmetric", rate=0.2, num_classes=10, dataset="svhn", seed=0)
    with pytest.raises(ValueError, match=r"'none' needs rate 0, got 0.2"):
        corrupt_labels(labels, kind="none", rate=0.2, num_classes=10, seed=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\), got values from 0 to 9"):
        corrupt_labels(labels, kind="symmetric", rate=0.2, num_classes=5, seed=0)
    with pytest.raises(TypeError, match=r"1-D integer tensor, got dtype torch.float32"):
        corrupt_labels(labels.float(), kind="symmetric", rate=0.2, num_classes=10, seed=0)


def test_input_noise() -> None:
    images = torch.full((64, 3, 32, 32), 0.5)
    assert add_input_noise(images, 0.0, generator=torch.Generator().manual_seed(0)) is images  # sigma 0: identity
    noisy = add_input_noise(images, 0.05, generator=torch.Generator().manual_seed(0))
    again = add_input_noise(images, 0.05, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again) and noisy.shape == images.shape
    assert torch.equal(images, torch.full_like(images, 0.5))  # the input is left alone
    assert abs(float((noisy - images).std()) - 0.05) < 0.001  # 10 sigma from the bounds: no clipping
    clipped = add_input_noise(torch.zeros(10_000), 1.0, generator=torch.Generator().manual_seed(1))
    assert clipped.min() == 0 and clipped.max() <= 1
    assert abs(float((clipped == 0).double().mean()) - 0.5) < 0.02  # the negative half clips to 0
    for sigma in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=rf"sigma must be a finite number >= 0, got {sigma!r}"):
            add_input_noise(images, sigma, generator=torch.Generator())
    with pytest.raises(TypeError, match=r"floating point on the \[0, 1\] scale, got dtype torch.uint8"):
        add_input_noise(images.to(torch.uint8), 0.1, generator=torch.Generator())
