"""Networks used in the experiments, and a registry that builds them by name (:data:`MODELS` describes each).

Every model maps a float image batch ``(N, C, H, W)`` to ``num_classes`` raw logits; the loss decides whether they
pass through a sigmoid or a softmax. ``resnet9`` is Page's *How to train your ResNet* network (DAWNBench CIFAR-10
winner), ``airbench`` Keller Jordan's airbench94 network; their ``_small``/``_quarter`` forms are a quarter of the
width, for CPU runs. A model that needs the training images first (airbench's whitening) has the method named by
:data:`DATA_INIT_HOOK`, which the trainer calls once before the first step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = ["ModelSpec", "MODELS", "model_names", "get_model", "Airbench", "PatchWhitening", "DATA_INIT_HOOK"]

DATA_INIT_HOOK = "init_from_data"  # the method a model has when it needs the training images first


def _mlp(image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    in_features = image_shape[0] * image_shape[1] * image_shape[2]
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, 256), nn.ReLU(inplace=True),
                         nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Linear(256, num_classes))


def _cnn(image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    channels, height, width = image_shape
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N, 32, H/2, W/2)
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N, 64, H/4, W/4)
        nn.Flatten(), nn.Linear(64 * (height // 4) * (width // 4), 128), nn.ReLU(inplace=True),
        nn.Linear(128, num_classes))


def _conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class _Residual(nn.Module):
    """``x + f(x)`` with ``f`` two conv-BN-ReLU blocks of the same width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(channels, channels), _conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(nn.Module):
    """Page's ResNet-9 for 32x32 inputs: prep, three stages (two residual), max-pool head; the logits are multiplied
    by ``logit_scale`` (0.125 in Page's recipe), which keeps the initial outputs small for every loss."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 64, logit_scale: float = 0.125) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(in_channels, w),                                   # (N, w, 32, 32)
            _conv_bn(w, 2 * w), nn.MaxPool2d(2), _Residual(2 * w),      # (N, 2w, 16, 16)
            _conv_bn(2 * w, 4 * w), nn.MaxPool2d(2),                    # (N, 4w, 8, 8)
            _conv_bn(4 * w, 8 * w), nn.MaxPool2d(2), _Residual(8 * w),  # (N, 8w, 4, 4)
            nn.AdaptiveMaxPool2d(1), nn.Flatten())                      # (N, 8w)
        self.classifier = nn.Linear(8 * w, num_classes)
        self.logit_scale = logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)) * self.logit_scale


class PatchWhitening(nn.Module):
    """A ``k x k`` convolution whose filters whiten the image patches of the training set, frozen (airbench94).

    :meth:`init_from_data` takes the eigenvectors ``v_i`` and eigenvalues ``l_i`` of the (uncentred: the images are
    normalised) second-moment matrix of every ``C k k`` patch and sets the filters ``+-v_i / sqrt(l_i + eps)``: the
    negated half lets the GELU after it keep both signs. The bias trains. Float64 estimate, eigendecomposition on the
    CPU: the same on every device up to the summation order.
    """

    def __init__(self, in_channels: int, kernel_size: int = 2, eps: float = 5e-4, max_images: int = 5000) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 2 * in_channels * kernel_size ** 2, kernel_size, padding=0, bias=True)
        self.conv.weight.requires_grad_(False)
        self.eps, self.max_images = eps, max_images  # airbench94's: 5e-4 and its first 5000 training images

    @property
    def out_channels(self) -> int:
        return self.conv.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    @torch.no_grad()
    def patch_second_moment(self, images: torch.Tensor, chunk: int = 500) -> torch.Tensor:
        """``E[p p^T]`` over every ``k x k`` patch ``p`` (flattened as the filters are) of ``images``, float64."""
        k = self.conv.kernel_size
        moment = torch.zeros(self.conv.in_channels * k[0] * k[1], self.conv.in_channels * k[0] * k[1],
                             dtype=torch.float64, device=images.device)
        count = 0
        for start in range(0, len(images), chunk):
            patches = nn.functional.unfold(images[start:start + chunk].double(), k)  # (n, C k k, positions)
            moment += torch.einsum("nip,njp->ij", patches, patches)
            count += patches.shape[0] * patches.shape[2]
        return moment / count

    @torch.no_grad()
    def init_from_data(self, train_images: torch.Tensor) -> None:
        """Set the filters from the first ``max_images`` of ``train_images`` ``(N, C, H, W)`` (normalised)."""
        moment = self.patch_second_moment(train_images[:self.max_images]).cpu()
        eigenvalues, eigenvectors = torch.linalg.eigh(moment)  # ascending; columns are the eigenvectors
        order = torch.arange(len(eigenvalues) - 1, -1, -1)  # largest first, as airbench94
        filters = (eigenvectors[:, order] / torch.sqrt(eigenvalues[order] + self.eps)).T  # (C k k, C k k)
        filters = filters.reshape(-1, *self.conv.weight.shape[1:])  # (C k k, C, k, k): unfold's order
        self.conv.weight.copy_(torch.cat([filters, -filters]).to(self.conv.weight))


class _AirbenchConv(nn.Conv2d):
    """3x3 ``same`` convolution without bias, initialised near the identity (airbench94): Dirac filters on the
    first ``min(in, out)`` output channels, so each block starts close to passing its input through."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 3, padding="same", bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.dirac_(self.weight[:self.in_channels])


def _airbench_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm as airbench94 sets it: running statistics with momentum 0.4 (its 0.6 in the other convention),
    eps 1e-12, the scale fixed at 1 (only the shift trains)."""
    norm = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    norm.weight.requires_grad_(False)
    return norm


class _AirbenchBlock(nn.Sequential):
    """conv, 2x2 max-pool, BatchNorm, GELU, then conv, BatchNorm, GELU: halves the height and width."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(_AirbenchConv(in_channels, out_channels), nn.MaxPool2d(2), _airbench_norm(out_channels),
                         nn.GELU(), _AirbenchConv(out_channels, out_channels), _airbench_norm(out_channels),
                         nn.GELU())


class Airbench(nn.Module):
    """The network of airbench94 (Keller Jordan, ``KellerJordan/cifar10-airbench``, ``airbench94.py``), written
    anew: a frozen 2x2 patch-whitening convolution and GELU, three :class:`_AirbenchBlock` of ``widths`` channels,
    a global max-pool and a linear layer without bias, its logits times ``logit_scale`` (airbench94's 1/9, the same
    for every loss). On CIFAR-10: (N, 3, 32, 32) -> (N, 24, 31, 31) -> (N, w1, 15, 15), (N, w2, 7, 7),
    (N, w3, 3, 3) -> (N, C). Left out of airbench94's recipe: label smoothing (it would change one side of the loss
    comparison), the lookahead/EMA of the weights, the larger rate for the BatchNorm shifts, and the whitening bias
    frozen after three epochs. Call :meth:`init_from_data` with the training images before training.
    """

    def __init__(self, in_channels: int, num_classes: int, widths: tuple[int, int, int] = (64, 256, 256),
                 logit_scale: float = 1 / 9) -> None:
        super().__init__()
        self.whiten = PatchWhitening(in_channels)
        self.features = nn.Sequential(
            nn.GELU(), _AirbenchBlock(self.whiten.out_channels, widths[0]), _AirbenchBlock(widths[0], widths[1]),
            _AirbenchBlock(widths[1], widths[2]), nn.AdaptiveMaxPool2d(1), nn.Flatten())  # airbench94's MaxPool2d(3)
        self.classifier = nn.Linear(widths[2], num_classes, bias=False)
        self.logit_scale = logit_scale

    def init_from_data(self, train_images: torch.Tensor) -> None:
        self.whiten.init_from_data(train_images)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.whiten(x))) * self.logit_scale


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build a model for an image shape and class count. ``channels_last_on_cpu``: the
    trainer runs it channels-last on a CPU too (on a GPU every conv model is); off for the models whose CPU records
    predate it, since the format changes the last bits of their runs."""

    name: str
    build: Callable[[tuple[int, int, int], int], nn.Module]
    description: str
    channels_last_on_cpu: bool = False


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("mlp", _mlp, "fully connected 784-256-256-C, ReLU"),
    ModelSpec("cnn", _cnn, "two conv blocks (32, 64) and a 128-unit hidden layer"),
    ModelSpec("resnet9", lambda shape, c: ResNet9(shape[0], c, width=64), "Page's ResNet-9 (CIFAR-10)"),
    ModelSpec("resnet9_small", lambda shape, c: ResNet9(shape[0], c, width=16), "ResNet-9 at 1/4 width, for CPU"),
    ModelSpec("airbench", lambda shape, c: Airbench(shape[0], c, widths=(64, 256, 256)),
              "airbench94's network: whitened 2x2 conv, blocks of 64, 256, 256 (CIFAR-10, GPU)",
              channels_last_on_cpu=True),
    ModelSpec("airbench_quarter", lambda shape, c: Airbench(shape[0], c, widths=(16, 64, 64)),
              "airbench94's network at 1/4 width: blocks of 16, 64, 64, for 2 CPU cores",
              channels_last_on_cpu=True))}


def model_names() -> list[str]:
    """The registered model names, sorted."""
    return sorted(MODELS)


def get_model(name: str, image_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """Build the model called ``name`` for images of ``image_shape`` (C, H, W); an unknown name raises
    ``ValueError`` listing the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(model_names())}")
    return MODELS[name].build(tuple(image_shape), num_classes)
