r"""One MSE objective for classification *and* regression: a test of the paper's unification claim.

Every MNIST image is rotated by a known angle from ``U[-max_angle, max_angle]``; the network predicts the digit
*and* the angle (optionally the standardised *ink mass*). All methods share the ``mlp`` trunk; only the last
layer's width and the loss differ (:func:`method_loss`): ``unified_mse`` (one sum of squared errors over ``10 + R``
outputs, no task weight), ``unified_mse_or`` (Output Reset on the class outputs), ``separate_heads`` (CE plus the
regression's squared error: ``10 + R`` linear units *are* two heads side by side), ``classifier_only`` and
``regressor_only``. The images rotate once, batched on the device (torchvision's ``rotate``; tested); training is
:func:`sigmse.train.train_epoch`, with one evaluation after the last epoch.

Reference: K. Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax Cross-Entropy in
Neural Network Classification*, arXiv:2411.11213, 2024.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sigmse.checks import check_choice
from sigmse.losses.functional import check_reduction, sigmoid_mse, sigmoid_mse_or
from sigmse.data.datasets import Dataset, load_dataset, resolve_data_dir
from sigmse.models import get_model
from sigmse.seeds import stream_seed
from sigmse.data.splits import subset_indices, validation_split
from sigmse.train import TrainingRun, evaluate_logits, resolve_device, train_epoch
from sigmse.unification.config import METHODS, UnificationConfig

__all__ = ["rotate_images", "RotatedData", "prepare_rotated", "unified_mse", "method_loss", "train_unification"]

SPLIT_SEED = 0  # validation split and training subset, as in sigmse.train
ROTATE_CHUNK = 8192  # images per affine_grid/grid_sample call: bounds the grid's memory (N*H*W*2 floats)


def rotate_images(images: Tensor, angles: Tensor) -> Tensor:
    """Rotate each image of ``images`` (N, C, H, W) counter-clockwise by ``angles`` (N,) degrees about its centre:
    torchvision's ``rotate(image, angle, BILINEAR)`` for square images (zero fill), in chunks of ``ROTATE_CHUNK``."""
    if images.ndim != 4 or angles.shape != images.shape[:1]:
        raise ValueError(f"images must be (N, C, H, W) and angles (N,); got {tuple(images.shape)} and "
                         f"{tuple(angles.shape)}")
    if images.shape[2] != images.shape[3]:
        raise ValueError(f"images must be square, got {images.shape[2]}x{images.shape[3]}")
    radians = angles.to(images.dtype).deg2rad()
    cos, sin = radians.cos(), radians.sin()
    # output pixel (x, y), in normalised coordinates with y down, reads the input at R(-angle) (x, y)
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                         torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)  # (N, 2, 3)
    out = []
    for start in range(0, len(images), ROTATE_CHUNK):  # over chunks, never over images
        block = images[start:start + ROTATE_CHUNK]
        grid = F.affine_grid(theta[start:start + ROTATE_CHUNK], list(block.shape), align_corners=False)
        out.append(F.grid_sample(block, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    return torch.cat(out) if out else images.clone()


@dataclass(frozen=True)
class RotatedData:
    """Rotated, normalised images, labels and standardised regression targets of one run, on the device."""

    train_images: Tensor  # (N, C, H, W) float32, normalised
    train_labels: Tensor  # (N,) int64
    train_targets: Tensor  # (N, R) float32, standardised
    val_images: Tensor
    val_labels: Tensor
    val_targets: Tensor
    test_images: Tensor
    test_labels: Tensor
    test_targets: Tensor
    target_scale: Tensor  # (R,): a standardised target times this (plus target_offset) is in its own unit
    target_offset: Tensor  # (R,)
    num_classes: int


def _angles(n_train: int, n_test: int, config: UnificationConfig) -> tuple[Tensor, Tensor]:
    """Angles in degrees for *every* train and test image, from ``angle_seed`` on the CPU (same on any device)."""
    generator = torch.Generator().manual_seed(stream_seed("rotation-angle", config.angle_seed))
    draws = torch.rand(n_train + n_test, generator=generator, dtype=torch.float64)
    angles = ((2 * draws - 1) * config.max_angle).float()
    return angles[:n_train], angles[n_train:]


_PREPARED: dict[tuple[Any, ...], "RotatedData"] = {}  # the last prepared data (one entry): a sweep rotates once


def prepare_rotated(config: UnificationConfig, device: torch.device, data_dir: str | Path | None = None,
                    dataset: Dataset | None = None) -> RotatedData:
    """Load, split, rotate, normalise and make the regression targets, on ``device``. The angle is divided by the
    std of ``U[-a, a]``, ``a / sqrt(3)``; the ink mass standardised on the training part; images with the dataset's
    pixel mean and std. Cached for the next call with the same data settings, unless ``dataset`` is passed in."""
    if dataset is not None:
        return _prepare_rotated(config, device, dataset)
    key = (config.dataset, config.targets, config.max_angle, config.angle_seed, config.train_subset,  # all it reads
           config.test_subset, config.val_size, str(device), str(resolve_data_dir(data_dir).resolve()))
    if key not in _PREPARED:
        _PREPARED.clear()  # one entry: full MNIST on a GPU is ~0.2 GB
        _PREPARED[key] = _prepare_rotated(config, device, load_dataset(config.dataset, data_dir))
    return _PREPARED[key]


def _prepare_rotated(config: UnificationConfig, device: torch.device, dataset: Dataset) -> RotatedData:
    """:func:`prepare_rotated` without the cache."""
    spec = dataset.spec
    train_angles, test_angles = _angles(len(dataset.train_labels), len(dataset.test_labels), config)
    train_index, val_index = validation_split(len(dataset.train_labels), config.val_size, seed=SPLIT_SEED)
    if config.train_subset is not None and config.train_subset < len(train_index):
        picked = subset_indices(dataset.train_labels[train_index], config.train_subset, seed=SPLIT_SEED)
        train_index = train_index[picked]
    n_test = len(dataset.test_labels) if config.test_subset is None else config.test_subset
    kept = torch.cat([train_index, val_index])  # rotate only the images this run uses
    images01 = torch.cat([dataset.train_images[kept], dataset.test_images[:n_test]]).to(device).float().div_(255)
    angles = torch.cat([train_angles[kept], test_angles[:n_test]]).to(device)  # (N,) degrees
    labels = torch.cat([dataset.train_labels[kept], dataset.test_labels[:n_test]]).to(device)
    rotated = rotate_images(images01, angles)  # (N, C, H, W) in [0, 1]
    n_train, n_fit = len(train_index), len(kept)

    standard = {"angle": (angles, 0.0, config.max_angle / math.sqrt(3))}  # per target: values (N,), offset, scale
    if "ink" in config.targets:
        ink = rotated.mean(dim=(1, 2, 3))
        standard["ink"] = (ink, float(ink[:n_train].mean()), float(ink[:n_train].std()))
    raw, offset, scale = zip(*(standard[target] for target in config.targets))
    offset_t, scale_t = torch.tensor(offset, device=device), torch.tensor(scale, device=device)
    targets = (torch.stack(raw, 1) - offset_t) / scale_t  # (N, R)
    mean = torch.tensor(spec.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, -1, 1, 1)
    splits = [(t[:n_train], t[n_train:n_fit], t[n_fit:]) for t in ((rotated - mean) / std, labels, targets)]
    # RotatedData's order: train images, labels, targets, then val, then test
    return RotatedData(*(part for split in zip(*splits) for part in split), scale_t, offset_t, spec.num_classes)


def _squared_error(outputs: Tensor, targets: Tensor) -> Tensor:
    """Per-sample sum of squared errors, (N,)."""
    return (outputs - targets).square().sum(dim=1)


def unified_mse(outputs: Tensor, labels: Tensor, targets: Tensor, *, num_classes: int,
                output_reset: bool = False, reduction: str = "mean") -> Tensor:
    r"""One squared-error objective over class and regression outputs.

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(\sigma(z_{n,i}) - t_{n,i}\bigr)^2
              + \sum_{j=1}^{R} \bigl(z_{n,C+j} - y_{n,j}\bigr)^2,

    with :math:`t_{n,i}` the one-hot targets (or, with ``output_reset=True``, the Output Reset targets of
    :func:`sigmse.losses.functional.sigmoid_mse_or`) and :math:`y_n` the standardised regression targets; combined
    over samples by ``reduction`` (``"none"`` | ``"mean"`` | ``"sum"``). There is no task weight.

    Shape:
        outputs :math:`(N, C + R)`, ``num_classes`` :math:`= C`; labels :math:`(N,)`; targets :math:`(N, R)`.
    """
    if outputs.ndim != 2 or targets.ndim != 2 or outputs.shape != (len(targets), num_classes + targets.shape[1]):
        raise ValueError(f"outputs must be (N, num_classes + R) = (N, {num_classes} + R) with targets (N, R); got "
                         f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)}")
    check_reduction(reduction)
    classify = sigmoid_mse_or if output_reset else sigmoid_mse
    per_sample = classify(outputs[:, :num_classes], labels, reduction="none")
    per_sample = per_sample + _squared_error(outputs[:, num_classes:], targets)
    return per_sample.mean() if reduction == "mean" else per_sample.sum() if reduction == "sum" else per_sample


def method_loss(method: str, outputs: Tensor, labels: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """The mean training loss of ``method`` on a batch (see the module docstring)."""
    check_choice("method", method, METHODS)
    if method in ("unified_mse", "unified_mse_or"):
        return unified_mse(outputs, labels, targets, num_classes=num_classes, output_reset=method == "unified_mse_or")
    if method == "separate_heads":
        return (F.cross_entropy(outputs[:, :num_classes], labels)
                + _squared_error(outputs[:, num_classes:], targets).mean())
    if method == "classifier_only":
        return F.cross_entropy(outputs, labels)
    return _squared_error(outputs, targets).mean()  # regressor_only


def _metrics(config: UnificationConfig, outputs: Tensor, labels: Tensor, targets: Tensor, data: RotatedData,
             split: str) -> dict[str, float]:
    """Accuracy, and per regression target RMSE (in the target's unit: degrees for the angle) and R^2."""
    c = data.num_classes if config.classifies else 0  # outputs: c class logits, then the regression outputs
    result: dict[str, float] = {}
    if config.classifies:
        result[f"{split}_acc"] = float((outputs[:, :c].argmax(1) == labels).float().mean())
    if config.regresses:
        error = (outputs[:, c:] - targets) * data.target_scale  # (N, R) in the targets' units
        truth = targets * data.target_scale
        sse, sst = error.square().sum(0), (truth - truth.mean(0)).square().sum(0)
        for j, name in enumerate(config.targets):
            result[f"{split}_rmse_{name}"] = math.sqrt(float(sse[j]) / len(targets))
            result[f"{split}_r2_{name}"] = 1.0 - float(sse[j]) / max(float(sst[j]), 1e-12)
    return result


def _final_task_metrics(config: UnificationConfig, model: nn.Module, data: RotatedData) -> dict[str, float] | None:
    """Validation and test metrics after the last epoch; ``None`` if any output is not finite (diverged)."""
    splits = {"val": (data.val_images, data.val_labels, data.val_targets),
              "test": (data.test_images, data.test_labels, data.test_targets)}
    outputs = {name: evaluate_logits(model, images) for name, (images, _, _) in splits.items() if len(images)}
    if not all(bool(torch.isfinite(out).all()) for out in outputs.values()):
        return None
    return {key: value for name, out in outputs.items()
            for key, value in _metrics(config, out, *splits[name][1:], data, name).items()}


class _UnificationRun(TrainingRun):
    """One unification run for :func:`sigmse.train.train_epoch`: the ``mlp`` trunk, Adam at ``config.lr`` without a
    schedule, and the method's loss. Torch's default (for-loop) Adam, not the fused one of :func:`sigmse.train.train`:
    the two agree only to rounding, so changing it would change every stored record."""

    def __init__(self, config: UnificationConfig, data: RotatedData, device: torch.device) -> None:
        torch.manual_seed(config.seed)
        width = (data.num_classes if config.classifies else 0) + (len(config.targets) if config.regresses else 0)
        model = get_model("mlp", tuple(data.train_images.shape[1:]), width).to(device)
        super().__init__(model, torch.optim.Adam(model.parameters(), lr=config.lr), n_train=len(data.train_labels),
                         batch_size=config.batch_size, seed=config.seed, device=device)
        self.config, self.data = config, data

    def batch_loss(self, index: Tensor, start: int, sums: Tensor) -> Tensor:
        """:func:`method_loss` of the examples ``index``; adds it times their number to ``sums``."""
        data = self.data
        images, labels, targets = (torch.index_select(tensor, 0, index)
                                   for tensor in (data.train_images, data.train_labels, data.train_targets))
        loss = method_loss(self.config.method, self.model(images), labels, targets, data.num_classes)
        sums.add_(loss.detach() * len(index))
        return loss


def train_unification(config: UnificationConfig, data_dir: str | Path | None = None, *,
                      dataset: Dataset | None = None) -> dict[str, Any]:
    """Train one run; return ``{"status", "history", "metrics"}`` in plain JSON types, ``diverged`` if a training
    loss or a final output is not finite. ``dataset`` replaces loading ``config.dataset`` (tests pass small ones)."""
    device = resolve_device(config.device)
    if config.threads is not None:  # the run's own arithmetic: its thread count is part of its configuration
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    data = prepare_rotated(config, device, data_dir, dataset)
    setup_seconds = time.perf_counter() - started
    run = _UnificationRun(config, data, device)
    history: list[dict[str, Any]] = []
    for epoch in range(config.epochs):  # up to the first epoch with a non-finite training loss
        loss_sum = torch.zeros((), device=run.device)
        seconds = train_epoch(run, loss_sum)[1]
        train_loss = float(loss_sum) / run.n_train  # the one host sync of the epoch's training
        history.append({"epoch": epoch + 1, "train_loss": train_loss if math.isfinite(train_loss) else None,
                        "seconds": seconds})
        if history[-1]["train_loss"] is None:
            break
    final = _final_task_metrics(config, run.model, data) if history[-1]["train_loss"] is not None else None
    metrics: dict[str, Any] = {"train_seconds": sum(h["seconds"] for h in history), "setup_seconds": setup_seconds,
                               "epochs_run": len(history), "n_train": run.n_train, "n_test": len(data.test_labels)}
    if final is not None:
        metrics.update(final, train_loss=history[-1]["train_loss"])
    return {"status": "diverged" if final is None else "ok", "history": history, "metrics": metrics}
