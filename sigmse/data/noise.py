"""Label noise and input noise, seeded and vectorised, for the robustness experiments.

Label noise (Patrini et al. 2017, *Making deep neural networks robust to label noise: a loss correction approach*)
changes exactly ``round(rate * n)`` labels: ``symmetric`` of all labels, each to a uniformly drawn *other* class;
``asymmetric`` of each source class of :data:`ASYMMETRIC_FLIPS`, to its paired look-alike class. Input noise adds
Gaussian noise of standard deviation ``sigma`` on the [0, 1] pixel scale and clips back, so ``sigma`` means the same
for every dataset. Every draw has its own seeded ``torch.Generator``, independent of anything else drawn.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from sigmse.checks import check_number
from sigmse.seeds import stream_seed

__all__ = ["LABEL_NOISE_KINDS", "INPUT_NOISE_WHERE", "ASYMMETRIC_FLIPS", "LabelNoise", "corrupt_labels",
           "add_input_noise"]

LABEL_NOISE_KINDS = ("none", "symmetric", "asymmetric")
INPUT_NOISE_WHERE = ("train", "test", "both")  # which split's images get input noise

# Pair flips, source class -> target class (Patrini et al. 2017 for MNIST and CIFAR-10; for Fashion-MNIST the
# usual look-alike pairs). CIFAR-10: airplane 0, automobile 1, bird 2, cat 3, deer 4, dog 5, horse 7, truck 9.
ASYMMETRIC_FLIPS: dict[str, dict[int, int]] = {
    "mnist": {2: 7, 3: 8, 5: 6, 6: 5, 7: 1},
    "fashion-mnist": {0: 6, 6: 0, 2: 4, 4: 2, 5: 7, 7: 5},  # T-shirt<->Shirt, Pullover<->Coat, Sandal<->Sneaker
    "cifar10": {9: 1, 2: 0, 4: 7, 3: 5, 5: 3},  # truck->automobile, bird->airplane, deer->horse, cat<->dog
}


class LabelNoise(NamedTuple):
    """Noisy labels and what changed."""

    labels: torch.Tensor  # (N,) int64, the noisy labels
    flipped: torch.Tensor  # (N,) bool, True where the label was changed
    realised_rate: float  # share of all N labels that changed


def corrupt_labels(labels: torch.Tensor, *, kind: str, rate: float, num_classes: int, dataset: str | None = None,
                   seed: int) -> LabelNoise:
    """Corrupt ``labels`` ((N,) integers in ``[0, num_classes)``, on any device; drawn on the CPU) with ``kind``
    noise (``"none"`` needs ``rate == 0``) at ``rate`` in [0, 1), reproducibly from ``seed``. Symmetric: ``rate`` is
    the share of all labels changed; asymmetric (``dataset`` a key of :data:`ASYMMETRIC_FLIPS`): the share of each
    source class moved to its pair. Counts are rounded by ``round`` (halves to even)."""
    if kind not in LABEL_NOISE_KINDS:
        raise ValueError(f"unknown label noise kind {kind!r}; valid kinds are: {', '.join(LABEL_NOISE_KINDS)}")
    check_number("label noise rate", rate, low=0.0, high=1.0, high_open=True, allowed="a number in [0, 1)")
    rate = float(rate)
    check_number("num_classes", num_classes, low=2, integer=True, allowed="an integer >= 2")
    if labels.ndim != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be a 1-D integer tensor, got dtype {labels.dtype} "
                        f"and shape {tuple(labels.shape)}")
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got values from {int(labels.min())} "
                         f"to {int(labels.max())}")
    if kind == "none" and rate != 0.0:
        raise ValueError(f"label noise kind 'none' needs rate 0, got {rate!r}; use 'symmetric' or 'asymmetric'")
    clean = labels.detach().to("cpu", torch.int64)
    generator = torch.Generator().manual_seed(stream_seed("label-noise", seed))
    noisy = clean.clone()
    if kind == "symmetric":  # exactly round(rate * N) random labels, each to a uniformly drawn *other* class
        chosen = torch.randperm(clean.numel(), generator=generator)[: round(rate * clean.numel())]
        offsets = torch.randint(1, num_classes, (chosen.numel(),), generator=generator)  # never 0: the class changes
        noisy[chosen] = (clean[chosen] + offsets) % num_classes
    elif kind == "asymmetric":
        if dataset not in ASYMMETRIC_FLIPS:
            raise ValueError(f"asymmetric label noise needs dataset, one of: {', '.join(ASYMMETRIC_FLIPS)}; "
                             f"got {dataset!r}")
        for source, target in ASYMMETRIC_FLIPS[dataset].items():  # a loop over the (at most 10) pairs
            members = (clean == source).nonzero().squeeze(1)  # the *clean* labels decide membership, so 5<->6 swaps
            chosen = torch.randperm(members.numel(), generator=generator)[: round(rate * members.numel())]
            noisy[members[chosen]] = target
    flipped = noisy != clean
    return LabelNoise(noisy.to(labels.device), flipped.to(labels.device), float(flipped.sum()) / max(1, clean.numel()))


def add_input_noise(images: torch.Tensor, sigma: float, *, generator: torch.Generator) -> torch.Tensor:
    """A new tensor ``clip(images + sigma * eps, 0, 1)``, ``eps ~ N(0, 1)`` drawn from ``generator`` (on the images'
    device), for float ``images`` of any shape on the [0, 1] scale; ``sigma == 0`` returns ``images`` itself."""
    check_number("input noise sigma", sigma, low=0.0, allowed="a finite number >= 0")
    if not images.dtype.is_floating_point:
        raise TypeError(f"images must be floating point on the [0, 1] scale, got dtype {images.dtype}")
    if sigma == 0:
        return images
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype, device=images.device)
    return (images + sigma * noise).clamp_(0.0, 1.0)
