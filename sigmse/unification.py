r"""One MSE objective for classification *and* regression: a test of the paper's unification claim.

Tyagi et al. suggest that, since Sigmoid-MSE classifies as well as softmax cross-entropy, one squared-error
objective could serve classification and regression alike. This module tests that on MNIST with a regression
target made from the same images: every image is rotated by a known angle drawn uniformly from
``[-max_angle, max_angle]`` (45 degrees by default), and the network predicts the digit *and* the angle.
Optionally it also predicts the *ink mass* (mean pixel intensity of the rotated image, standardised); the
book's runs use the angle alone (``targets=("angle",)``).

Methods (all on the ``mlp`` trunk 784-256-256, ReLU; only the last layer's width and the loss differ):

* ``unified_mse``: one output layer of ``10 + R`` units and ONE objective, the sum of per-output squared
  errors: sigmoid of the 10 class outputs against 1/0 targets, the R regression outputs linear against the
  standardised targets. Summing (not weighting) means there is no task weight to tune.
* ``unified_mse_or``: the same with Output Reset on the 10 class outputs (:mod:`sigmse.output_reset`).
* ``separate_heads``: the same ``10 + R`` outputs read as two heads, cross-entropy on the 10 class logits plus
  the squared error of the R regression outputs, summed with weight 1. (A linear layer of ``10 + R`` units *is*
  a 10-unit and an R-unit head side by side: no weight is shared between rows, and Adam is per-parameter, so
  the two methods differ in the loss only.)
* ``classifier_only`` (cross-entropy, 10 outputs) and ``regressor_only`` (squared error, R outputs): the
  single-task references.

Every method trains with Adam at one fixed learning rate (``lr``, 1e-3 in every profile), without tuning: a
grid chosen on validation would need one criterion for two tasks, which is what a task weight is.

Data path, as in :mod:`sigmse.train`: the dataset is loaded once, the angles are drawn on the CPU from their own
seed (``angle_seed``: every method and training seed sees the same rotated images), the kept images are
rotated in one batched ``affine_grid``/``grid_sample`` pass on the device and normalised once; each epoch draws
one ``randperm`` on the device and trains on slices. Rotation is bilinear with zero fill and matches
:func:`torchvision.transforms.functional.rotate` (counter-clockwise for positive angles; tested).

Records are stored through :func:`sigmse.store.write_record` under ``<results_dir>/<profile>/unification/``.

Reference: K. Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax Cross-Entropy in
Neural Network Classification*, arXiv:2411.11213, 2024.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sigmse import functional
from sigmse.config import DEVICES, IdentifiedConfig, _choice, _number, check_data_budget, reject_unknown_keys
from sigmse.data import Dataset, load_dataset, resolve_data_dir
from sigmse.models import get_model
from sigmse.store import SCHEMA_VERSION, envelope_problems, provenance, read_record, write_record
from sigmse.seeds import stream_seed
from sigmse.splits import subset_indices, validation_split
from sigmse.train import evaluate_logits, resolve_device

__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "REGRESSION_TARGETS",
    "DATASETS",
    "UnificationConfig",
    "unification_config_from_dict",
    "rotate_images",
    "RotatedData",
    "prepare_rotated",
    "unified_mse",
    "method_loss",
    "train_unification",
    "unification_configs",
    "unification_record_path",
    "validate_unification_record",
    "read_unification_record",
    "run_or_load_unification",
    "run_unification_sweep",
    "unification_table",
    "unification_figure",
    "unification_verdict",
    "unification_versus_single",
    "unification_numbers",
    "unification_display",
    "unification_provenance",
]

METHODS = ("unified_mse", "unified_mse_or", "separate_heads", "classifier_only", "regressor_only")
METHOD_LABELS = {
    "unified_mse": "unified sigmoid-MSE",
    "unified_mse_or": "unified sigmoid-MSE + OR",
    "separate_heads": "separate heads (CE + MSE)",
    "classifier_only": "classifier only (CE)",
    "regressor_only": "regressor only (MSE)",
}
CLASSIFYING = ("unified_mse", "unified_mse_or", "separate_heads", "classifier_only")
REGRESSING = ("unified_mse", "unified_mse_or", "separate_heads", "regressor_only")
REGRESSION_TARGETS = ("angle", "ink")  # stored in this order whatever order they are given in
DATASETS = ("mnist", "fashion-mnist")  # 28x28 greyscale on a black background: zero fill is the background
LR = 1e-3  # Adam, every method and profile (see the module docstring)
SPLIT_SEED = 0  # validation split and training subset, as in sigmse.train
ROTATE_CHUNK = 8192  # images per affine_grid/grid_sample call: bounds the grid's memory (N*H*W*2 floats)


# ---- config ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnificationConfig(IdentifiedConfig):
    """One run of the unification experiment. Defaults: the quick profile's unified run with Output Reset."""

    method: str = "unified_mse_or"
    dataset: str = "mnist"
    targets: tuple[str, ...] = ("angle",)  # regression targets, a non-empty subset of REGRESSION_TARGETS
    max_angle: float = 45.0  # degrees; angles ~ U[-max_angle, max_angle]
    angle_seed: int = 0  # the angles' own seed: the same rotated data for every method and training seed
    epochs: int = 3
    lr: float = LR  # Adam
    batch_size: int = 128
    train_subset: int | None = 5000  # class-stratified subset of the training split; None = all of it
    test_subset: int | None = None  # the first N test images
    val_size: int = 5000  # validation images carved from the training set (fixed split)
    seed: int = 0  # initialisation and batch order
    device: str = "auto"

    def __post_init__(self) -> None:
        _choice("method", self.method, METHODS)
        _choice("dataset", self.dataset, DATASETS)
        targets = tuple(self.targets) if isinstance(self.targets, (tuple, list)) else None
        if not targets or len(set(targets)) != len(targets):
            raise ValueError(f"targets must be a non-empty list of distinct names from "
                             f"{', '.join(REGRESSION_TARGETS)}; got {self.targets!r}")
        for target in targets:
            _choice("regression target", target, REGRESSION_TARGETS)
        object.__setattr__(self, "targets", tuple(t for t in REGRESSION_TARGETS if t in targets))
        _number("max_angle", self.max_angle, low=0.0, high=180.0, low_open=True)
        _number("angle_seed", self.angle_seed, integer=True)
        _number("epochs", self.epochs, low=1, integer=True)
        _number("lr", self.lr, low=0.0, low_open=True)
        _number("batch_size", self.batch_size, low=1, integer=True)
        check_data_budget(self)
        _choice("device", self.device, DEVICES)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "targets": list(self.targets)}

    @property
    def classifies(self) -> bool:
        return self.method in CLASSIFYING

    @property
    def regresses(self) -> bool:
        return self.method in REGRESSING

    def with_(self, **changes: Any) -> "UnificationConfig":
        return replace(self, **changes)


def unification_config_from_dict(data: Mapping[str, Any]) -> UnificationConfig:
    """Build a :class:`UnificationConfig` from a mapping, rejecting unknown keys by name."""
    reject_unknown_keys(UnificationConfig, data)
    values = dict(data)
    if isinstance(values.get("targets"), list):
        values["targets"] = tuple(values["targets"])
    return UnificationConfig(**values)


# ---- data: rotated images and their regression targets --------------------------------------------------


def rotate_images(images: Tensor, angles: Tensor) -> Tensor:
    """Rotate each image of ``images`` (N, C, H, W) counter-clockwise by ``angles`` (N,) degrees about its centre.

    Bilinear, zero fill, ``align_corners=False``: the same as
    ``torchvision.transforms.functional.rotate(image, angle, InterpolationMode.BILINEAR)`` for square images.
    The whole batch goes through ``affine_grid``/``grid_sample`` in chunks of ``ROTATE_CHUNK``.
    """
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


def _data_key(config: UnificationConfig, device: torch.device, data_dir: str | Path | None) -> tuple[Any, ...]:
    """Everything :func:`prepare_rotated` depends on: runs with the same key share one prepared copy."""
    return (config.dataset, config.targets, config.max_angle, config.angle_seed, config.train_subset,
            config.test_subset, config.val_size, str(device), str(resolve_data_dir(data_dir).resolve()))


_PREPARED: dict[tuple[Any, ...], "RotatedData"] = {}  # the last prepared data (one entry): a sweep rotates once


def prepare_rotated(config: UnificationConfig, device: torch.device, data_dir: str | Path | None = None,
                    dataset: Dataset | None = None) -> RotatedData:
    """Load, split, rotate, normalise and make the regression targets, on ``device``.

    Targets: the angle divided by the standard deviation of ``U[-a, a]``, ``a / sqrt(3)`` (mean 0 by design);
    the ink mass (mean of the rotated image on the [0, 1] scale) standardised with the training part's mean
    and standard deviation. Normalisation uses the dataset's (unrotated) pixel mean and std.

    The result is kept for the next call with the same data settings (the methods and seeds of a sweep share
    it; nothing writes to it); a ``dataset`` passed in is never cached.
    """
    if dataset is not None:
        return _prepare_rotated(config, device, dataset)
    key = _data_key(config, device, data_dir)
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

    raw, offset, scale = [], [], []  # per target: values (N,), and how to standardise them
    for target in config.targets:
        if target == "angle":
            raw.append(angles)
            offset.append(0.0)
            scale.append(config.max_angle / math.sqrt(3))
        else:  # ink
            ink = rotated.mean(dim=(1, 2, 3))
            raw.append(ink)
            offset.append(float(ink[:n_train].mean()))
            scale.append(float(ink[:n_train].std()))
    offset_t = torch.tensor(offset, device=device)
    scale_t = torch.tensor(scale, device=device)
    targets = (torch.stack(raw, 1) - offset_t) / scale_t  # (N, R)
    mean = torch.tensor(spec.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, -1, 1, 1)
    images = (rotated - mean) / std
    parts = [slice(0, n_train), slice(n_train, n_fit), slice(n_fit, None)]
    (tr_x, va_x, te_x), (tr_y, va_y, te_y), (tr_t, va_t, te_t) = (
        [tensor[p] for p in parts] for tensor in (images, labels, targets))
    return RotatedData(tr_x, tr_y, tr_t, va_x, va_y, va_t, te_x, te_y, te_t, scale_t, offset_t, spec.num_classes)


# ---- losses ---------------------------------------------------------------------------------------------


def _squared_error(outputs: Tensor, targets: Tensor) -> Tensor:
    """Per-sample sum of squared errors, (N,)."""
    return (outputs - targets).square().sum(dim=1)


def unified_mse(outputs: Tensor, labels: Tensor, targets: Tensor, *, num_classes: int,
                output_reset: bool = False, reduction: str = "mean") -> Tensor:
    r"""One squared-error objective over class and regression outputs.

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(\sigma(z_{n,i}) - t_{n,i}\bigr)^2
              + \sum_{j=1}^{R} \bigl(z_{n,C+j} - y_{n,j}\bigr)^2,

    with :math:`t_{n,i} = 1` for the correct class and 0 otherwise (or, with ``output_reset=True``, the Output
    Reset targets :math:`t'` of :func:`sigmse.functional.sigmoid_mse_or`) and :math:`y_n` the standardised
    regression targets; combined over samples by ``reduction``. Every output's squared error counts once: there
    is no task weight.

    Args:
        outputs: the network's :math:`C + R` outputs :math:`z`.
        labels: class indices, int64.
        targets: standardised regression targets.
        num_classes: :math:`C`, the number of leading outputs that are class outputs.
        output_reset: Output Reset on the class outputs. Default: ``False``.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        outputs :math:`(N, C + R)`; labels :math:`(N,)`; targets :math:`(N, R)`; output scalar or :math:`(N,)`.
    """
    if outputs.ndim != 2 or targets.ndim != 2 or outputs.shape != (len(targets), num_classes + targets.shape[1]):
        raise ValueError(f"outputs must be (N, num_classes + R) = (N, {num_classes} + R) with targets (N, R); got "
                         f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)}")
    functional.check_reduction(reduction)
    classify = functional.sigmoid_mse_or if output_reset else functional.sigmoid_mse
    per_sample = classify(outputs[:, :num_classes], labels, reduction="none")
    per_sample = per_sample + _squared_error(outputs[:, num_classes:], targets)
    return per_sample.mean() if reduction == "mean" else per_sample.sum() if reduction == "sum" else per_sample


def method_loss(method: str, outputs: Tensor, labels: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """The mean training loss of ``method`` on a batch (see the module docstring)."""
    if method in ("unified_mse", "unified_mse_or"):
        return unified_mse(outputs, labels, targets, num_classes=num_classes, output_reset=method == "unified_mse_or")
    if method == "separate_heads":
        return (F.cross_entropy(outputs[:, :num_classes], labels)
                + _squared_error(outputs[:, num_classes:], targets).mean())
    if method == "classifier_only":
        return F.cross_entropy(outputs, labels)
    if method == "regressor_only":
        return _squared_error(outputs, targets).mean()
    raise ValueError(f"method {method!r} is not allowed; choose one of: {', '.join(METHODS)}")


# ---- training -------------------------------------------------------------------------------------------


def _split_outputs(config: UnificationConfig, outputs: Tensor, num_classes: int) -> tuple[Tensor | None, Tensor | None]:
    """(class logits or None, regression outputs or None) of a method's outputs."""
    c = num_classes if config.classifies else 0
    return (outputs[:, :c] if c else None), (outputs[:, c:] if config.regresses else None)


def _metrics(config: UnificationConfig, outputs: Tensor, labels: Tensor, targets: Tensor, data: RotatedData,
             split: str) -> dict[str, float]:
    """Accuracy, and per regression target RMSE (in the target's unit: degrees for the angle) and R^2."""
    logits, regression = _split_outputs(config, outputs, data.num_classes)
    result: dict[str, float] = {}
    if logits is not None:
        result[f"{split}_acc"] = float((logits.argmax(1) == labels).float().mean())
    if regression is not None:
        error = (regression - targets) * data.target_scale  # (N, R) in the targets' units
        truth = targets * data.target_scale
        sse, sst = error.square().sum(0), (truth - truth.mean(0)).square().sum(0)
        for j, name in enumerate(config.targets):
            result[f"{split}_rmse_{name}"] = math.sqrt(float(sse[j]) / len(targets))
            result[f"{split}_r2_{name}"] = 1.0 - float(sse[j]) / max(float(sst[j]), 1e-12)
    return result


def _synchronized_time(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def train_unification(config: UnificationConfig, data_dir: str | Path | None = None, *,
                      dataset: Dataset | None = None) -> dict[str, Any]:
    """Train one run; return ``{"status", "history", "metrics"}`` in plain JSON types.

    ``dataset`` replaces loading ``config.dataset`` from the data root (tests pass small in-memory datasets).
    """
    device = resolve_device(config.device)
    started = time.perf_counter()
    data = prepare_rotated(config, device, data_dir, dataset)
    setup_seconds = time.perf_counter() - started

    torch.manual_seed(config.seed)
    width = (data.num_classes if config.classifies else 0) + (len(config.targets) if config.regresses else 0)
    model: nn.Module = get_model("mlp", tuple(data.train_images.shape[1:]), width).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    n_train = len(data.train_labels)
    history: list[dict[str, Any]] = []
    status = "ok"
    for epoch in range(config.epochs):
        model.train()
        epoch_start = _synchronized_time(device)
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(n_train, device=device, generator=generator)
        for start in range(0, n_train, config.batch_size):
            index = order[start:start + config.batch_size]
            outputs = model(data.train_images[index])  # (B, width)
            loss = method_loss(config.method, outputs, data.train_labels[index], data.train_targets[index],
                               data.num_classes)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(index)
        train_loss = float(loss_sum) / n_train  # the one host sync of the epoch's training
        seconds = _synchronized_time(device) - epoch_start
        test_out = evaluate_logits(model, data.test_images)
        if not (math.isfinite(train_loss) and bool(torch.isfinite(test_out).all())):
            status = "diverged"
            history.append({"epoch": epoch + 1, "train_loss": None, "seconds": seconds})
            break
        entry = {"epoch": epoch + 1, "train_loss": train_loss, "seconds": seconds}
        entry.update(_metrics(config, test_out, data.test_labels, data.test_targets, data, "test"))
        history.append(entry)

    metrics: dict[str, Any] = {"train_seconds": sum(h["seconds"] for h in history),
                               "setup_seconds": setup_seconds, "epochs_run": len(history), "n_train": n_train,
                               "n_test": len(data.test_labels)}
    if status == "ok":  # validation once, at the end: nothing is selected on it, so per epoch it would only cost
        if len(data.val_labels):
            val_out = evaluate_logits(model, data.val_images)
            metrics.update(_metrics(config, val_out, data.val_labels, data.val_targets, data, "val"))
        metrics.update({k: v for k, v in history[-1].items() if k.startswith("test_")})
        metrics["train_loss"] = history[-1]["train_loss"]
    return {"status": status, "history": history, "metrics": metrics}


# ---- which runs -----------------------------------------------------------------------------------------


def unification_configs(profile_name: str, seeds: Sequence[int] | None = None,
                        device: str | None = None) -> list[UnificationConfig]:
    """Every method x seed of the unification experiment under a profile of :mod:`sigmse.profiles`.

    The budget is the profile's MNIST budget (smoke: 512 training images, 1 epoch, 1 seed; quick: 5000 images,
    3 epochs, 3 seeds; paper: the full 55,000, 20 epochs, 5 seeds on CUDA), with Adam at ``LR``.
    """
    from sigmse.profiles import get_profile

    profile = get_profile(profile_name)
    budget = profile.budgets["mnist"]
    return [UnificationConfig(method=method, dataset="mnist", epochs=budget.epochs, lr=LR,
                              batch_size=budget.batch_size, train_subset=budget.train_subset,
                              test_subset=budget.test_subset, val_size=budget.val_size, seed=seed,
                              device=device or profile.device)
            for method in METHODS for seed in (profile.seeds if seeds is None else seeds)]


# ---- the store ------------------------------------------------------------------------------------------


def unification_record_path(config: UnificationConfig, profile: str, results_dir: str | Path = "results") -> Path:
    return Path(results_dir) / profile / "unification" / f"{config.hash}.json"


def validate_unification_record(record: Any, expected_hash: str | None = None) -> list[str]:
    """Problems with a unification record, as sentences; empty means valid.

    The checks every record shares come from :func:`sigmse.store.envelope_problems`; the metrics an 'ok'
    record must carry depend on the method.
    """
    problems, config = envelope_problems(record, expected_hash, unification_config_from_dict)
    if config is None:
        return problems
    needed = (["test_acc"] if config.classifies else []) + ([f"test_rmse_{config.targets[0]}"] if config.regresses
                                                            else [])
    if record["status"] == "ok":
        problems += [f"an 'ok' record has no metrics.{key}" for key in needed if key not in record["metrics"]]
    return problems


def read_unification_record(path: Path) -> dict[str, Any] | None:
    """The record at ``path``; ``None`` if absent. A corrupt record is reported, moved aside, and ``None``."""
    return read_record(path, validate=validate_unification_record)


def run_or_load_unification(config: UnificationConfig, profile: str, results_dir: str | Path = "results",
                            data_dir: str | Path | None = None, *, dataset: Dataset | None = None) -> dict[str, Any]:
    """The stored record of ``config`` under ``profile``, training and storing it first if absent."""
    path = unification_record_path(config, profile, results_dir)
    record = read_unification_record(path)
    if record is not None:
        return record
    device = str(resolve_device(config.device))
    started = time.perf_counter()
    result = train_unification(config, data_dir, dataset=dataset)
    info = provenance(device)
    info["wall_seconds"] = time.perf_counter() - started
    record = {"schema_version": SCHEMA_VERSION, "experiment": "unification", "hash": config.hash,
              "profile": profile, "config": config.to_dict(), **result, "provenance": info}
    write_record(record, path)
    return record


def run_unification_sweep(configs: Iterable[UnificationConfig], *, profile: str, results_dir: str | Path = "results",
                          data_dir: str | Path | None = None, progress: bool | None = None) -> list[dict[str, Any]]:
    """The records of ``configs``, training the missing ones (each stored as soon as it ends), with a progress bar."""
    from tqdm import tqdm  # the text bar (tqdm.auto wants ipywidgets in a notebook); off when not on a terminal

    configs = list(configs)
    bar = tqdm(configs, desc=f"unification ({profile})", unit="run",
               disable=None if progress is None else not progress)
    return [run_or_load_unification(c, profile, results_dir, data_dir) for c in bar]


# ---- summary, figure, verdict ---------------------------------------------------------------------------


def unification_table(records: Sequence[Mapping[str, Any]], target: str = "angle") -> Any:
    """Mean and std over seeds per method (a ``pandas.DataFrame`` indexed by method, in ``METHODS`` order).

    Columns: ``runs``, ``acc_mean``/``acc_std`` (test accuracy), ``rmse_mean``/``rmse_std`` (test RMSE of
    ``target``, degrees for the angle), ``r2_mean``/``r2_std`` and ``seconds_mean``/``seconds_std`` (training
    seconds per epoch, the median over a run's epochs: robust to a burst of load on a shared machine); NaN where
    a method has no such output. Only ``ok`` records count.
    """
    import pandas as pd

    rows = [{"method": r["config"]["method"], "acc": r["metrics"].get("test_acc", math.nan),
             "rmse": r["metrics"].get(f"test_rmse_{target}", math.nan),
             "r2": r["metrics"].get(f"test_r2_{target}", math.nan),
             "seconds": statistics.median(h["seconds"] for h in r["history"])}
            for r in records if r["status"] == "ok"]
    frame = pd.DataFrame(rows, columns=["method", "acc", "rmse", "r2", "seconds"])
    grouped = frame.groupby("method")
    table = grouped.agg(["mean", "std"])
    table.columns = [f"{name}_{stat}" for name, stat in table.columns]
    table.insert(0, "runs", grouped.size())
    return table.reindex([m for m in METHODS if m in table.index])


def unification_figure(table: Any, *, unit: str = "°") -> Any:
    """Test accuracy (x) against regression RMSE (y) per method, error bars one std over seeds.

    The single-task references have one metric each, so they are lines: a vertical one at the classifier's
    accuracy and a horizontal one at the regressor's RMSE, each with a band of one std.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), facecolor="white")
    markers = {"unified_mse": "o", "unified_mse_or": "s", "separate_heads": "D"}
    for method, marker in markers.items():
        if method in table.index:
            row = table.loc[method]
            ax.errorbar(100 * row.acc_mean, row.rmse_mean, xerr=100 * _zero(row.acc_std), yerr=_zero(row.rmse_std),
                        fmt=marker, capsize=4, markersize=8, label=METHOD_LABELS[method])
    for method, draw, span, column in (("classifier_only", ax.axvline, ax.axvspan, "acc"),
                                       ("regressor_only", ax.axhline, ax.axhspan, "rmse")):
        if method in table.index:
            scale = 100 if column == "acc" else 1
            mean, std = scale * table.loc[method, f"{column}_mean"], scale * _zero(table.loc[method, f"{column}_std"])
            draw(mean, color="grey", linestyle="--" if column == "acc" else ":", label=METHOD_LABELS[method])
            span(mean - std, mean + std, color="grey", alpha=0.15, linewidth=0)
    ax.set_xlabel("test accuracy (%)  →  better")
    ax.set_ylabel(f"test RMSE of the angle ({unit})  ↓  better")
    ax.legend(fontsize="small", loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _zero(value: float) -> float:
    """A std that is NaN (one seed) drawn as 0."""
    return 0.0 if value != value else float(value)


def _compare(a_mean: float, a_std: float, b_mean: float, b_std: float, higher_better: bool, floor: float) -> str:
    """``better``, ``worse`` or ``level``: a difference counts beyond ``VERDICT_SIGMAS`` larger stds and ``floor``."""
    margin = max(VERDICT_SIGMAS * max(_zero(a_std), _zero(b_std)), floor)
    diff = (a_mean - b_mean) if higher_better else (b_mean - a_mean)
    return "better" if diff > margin else "worse" if diff < -margin else "level"


VERDICT_SIGMAS = 2.0  # a difference counts when it exceeds this many (larger) seed stds ...
VERDICT_FLOORS = {"acc": 0.001, "rmse": 0.1}  # ... and at least 0.1 accuracy points or 0.1 degree
_WORDS = {"level": "level with", "better": "better than", "worse": "worse than"}


def unification_verdict(table: Any, method: str = "unified_mse_or", reference: str = "separate_heads") -> str:
    """A sentence comparing ``method`` with ``reference`` on both tasks, with the numbers it rests on.

    On each task a difference counts when it exceeds ``VERDICT_SIGMAS`` times the larger seed std and
    ``VERDICT_FLOORS``.
    """
    missing = [m for m in (method, reference) if m not in table.index]
    if missing:
        return f"no verdict: {METHOD_LABELS[missing[0]]} has no finished run"
    a, b = table.loc[method], table.loc[reference]
    acc = _compare(a.acc_mean, a.acc_std, b.acc_mean, b.acc_std, True, VERDICT_FLOORS["acc"])
    rmse = _compare(a.rmse_mean, a.rmse_std, b.rmse_mean, b.rmse_std, False, VERDICT_FLOORS["rmse"])
    words = _WORDS
    if acc == rmse == "level":
        lead = f"one MSE objective ({METHOD_LABELS[method]}) does both tasks as well as {METHOD_LABELS[reference]}"
    elif acc == rmse:
        lead = f"{METHOD_LABELS[method]} is {words[acc]} {METHOD_LABELS[reference]} on both tasks"
    else:
        lead = (f"{METHOD_LABELS[method]} is {words[acc]} {METHOD_LABELS[reference]} on accuracy and "
                f"{words[rmse]} it on the angle")
    return (f"{lead}: {100 * a.acc_mean:.1f} % vs {100 * b.acc_mean:.1f} % accuracy, "
            f"{a.rmse_mean:.1f}° vs {b.rmse_mean:.1f}° RMSE")


def unification_versus_single(table: Any, method: str = "unified_mse_or") -> str:
    """A sentence comparing ``method`` with the classifier and the regressor trained alone, by the same rule."""
    missing = [m for m in (method, "classifier_only", "regressor_only") if m not in table.index]
    if missing:
        return f"no comparison: {METHOD_LABELS[missing[0]]} has no finished run"
    a, c, r = table.loc[method], table.loc["classifier_only"], table.loc["regressor_only"]
    acc = _compare(a.acc_mean, a.acc_std, c.acc_mean, c.acc_std, True, VERDICT_FLOORS["acc"])
    rmse = _compare(a.rmse_mean, a.rmse_std, r.rmse_mean, r.rmse_std, False, VERDICT_FLOORS["rmse"])
    return (f"{METHOD_LABELS[method]} is {_WORDS[acc]} the classifier alone on accuracy "
            f"({100 * a.acc_mean:.1f} % vs {100 * c.acc_mean:.1f} %) and {_WORDS[rmse]} the regressor alone on the "
            f"angle ({a.rmse_mean:.1f}° vs {r.rmse_mean:.1f}°)")


def unification_numbers(table: Any) -> dict[str, float]:
    """Plain floats for the page's prose: ``<method>_<acc|rmse|r2|seconds>`` and ``..._std`` (accuracy in %).

    A std over one seed (NaN) is given as 0; a metric a method does not have is NaN.
    """
    numbers = {}
    for method, row in table.iterrows():
        for name, scale in (("acc", 100.0), ("rmse", 1.0), ("r2", 1.0), ("seconds", 1.0)):
            numbers[f"{method}_{name}"] = scale * float(row[f"{name}_mean"])
            numbers[f"{method}_{name}_std"] = scale * _zero(float(row[f"{name}_std"]))
    return numbers


def unification_display(table: Any) -> Any:
    """``table`` as text for the page: one row per method, "mean ± std" cells, "—" where a method has none."""
    import pandas as pd

    def cell(mean: float, std: float, scale: float, digits: int) -> str:
        if mean != mean:
            return "—"
        return f"{scale * mean:.{digits}f}" + ("" if std != std else f" ± {scale * std:.{digits}f}")

    columns = {"test accuracy (%)": ("acc", 100, 2), "angle RMSE (°)": ("rmse", 1, 2), "angle R²": ("r2", 1, 3),
               "seconds per epoch": ("seconds", 1, 2)}
    shown = pd.DataFrame({name: [cell(r[f"{key}_mean"], r[f"{key}_std"], scale, digits) for _, r in table.iterrows()]
                          for name, (key, scale, digits) in columns.items()},
                         index=[METHOD_LABELS[m] for m in table.index])
    shown.insert(0, "runs", list(table.runs))
    return shown


def unification_provenance(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """One line: where and from which commit the records were made, and under which profile."""
    info = [r["provenance"] for r in records]
    machines = sorted({i["device_name"] for i in info})
    commits = sorted({(i["git_commit"] or "unknown")[:12] + (" (modified)" if i["git_dirty"] else "") for i in info})
    return (f"{len(records)} runs under profile {profile} on {'; '.join(machines)}, sigmse commit "
            f"{', '.join(commits)}, torch {', '.join(sorted({i['torch_version'] for i in info}))}")
