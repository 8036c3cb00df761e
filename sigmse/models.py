"""Networks used in the experiments, and a registry that builds them by name.

Every model maps a float image batch ``(N, C, H, W)`` to ``num_classes`` raw
logits; the loss decides whether they pass through a sigmoid or a softmax.

* ``mlp``: 784-256-256-C with ReLU (the paper's fully connected setting; any
  image shape is flattened, so it also runs on CIFAR-10).
* ``cnn``: two 3x3 conv blocks and a hidden layer, for 28x28 inputs.
* ``resnet9``: the residual network of Page's *How to train your ResNet* (the
  DAWNBench CIFAR-10 winner, 94% in 24 epochs), with a width multiplier;
  ``resnet9_small`` is the same net at a quarter of the width, for CPU runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = ["ModelSpec", "MODELS", "model_names", "get_model"]


def _mlp(image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    in_features = image_shape[0] * image_shape[1] * image_shape[2]
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, 256), nn.ReLU(inplace=True),
        nn.Linear(256, 256), nn.ReLU(inplace=True),
        nn.Linear(256, num_classes),
    )


def _cnn(image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    channels, height, width = image_shape
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N, 32, H/2, W/2)
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N, 64, H/4, W/4)
        nn.Flatten(),
        nn.Linear(64 * (height // 4) * (width // 4), 128), nn.ReLU(inplace=True),
        nn.Linear(128, num_classes),
    )


def _conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class _Residual(nn.Module):
    """``x + f(x)`` with ``f`` two conv-BN-ReLU blocks of the same width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(channels, channels), _conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(nn.Module):
    """Page's ResNet-9 for 32x32 inputs: prep, three stages (two residual), max-pool head.

    The logits are multiplied by ``logit_scale`` (0.125 in Page's recipe), which
    keeps the initial outputs small for every loss.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 64, logit_scale: float = 0.125) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(in_channels, w),                                   # (N, w, 32, 32)
            _conv_bn(w, 2 * w), nn.MaxPool2d(2), _Residual(2 * w),      # (N, 2w, 16, 16)
            _conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),                    # (N, 4w, 8, 8)
            _conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), _Residual(8 * w),  # (N, 8w, 4, 4)
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),                      # (N, 8w)
        )
        self.classifier = nn.Linear(8 * w, num_classes)
        self.logit_scale = logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)) * self.logit_scale


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build a model for an image shape and class count."""

    name: str
    build: Callable[[tuple[int, int, int], int], nn.Module]
    description: str


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", _mlp, "fully connected 784-256-256-C, ReLU"),
        ModelSpec("cnn", _cnn, "two conv blocks (32, 64) and a 128-unit hidden layer"),
        ModelSpec("resnet9", lambda shape, c: ResNet9(shape[0], c, width=64), "Page's ResNet-9 (CIFAR-10)"),
        ModelSpec("resnet9_small", lambda shape, c: ResNet9(shape[0], c, width=16), "ResNet-9 at 1/4 width, for CPU"),
    )
}


def model_names() -> list[str]:
    """The registered model names, sorted."""
    return sorted(MODELS)


def get_model(name: str, image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """Build the model called ``name`` for images of ``image_shape`` (C, H, W).

    Raises:
        ValueError: ``name`` is not registered (the message lists the valid names).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(model_names())}")
    return MODELS[name].build(tuple(image_shape), num_classes)
