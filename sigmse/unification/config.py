r"""The runs of the unification experiment: its methods, its regression targets, the config of one run, and the
score that chooses a method's learning rate.

:class:`UnificationConfig` is, like :class:`sigmse.config.RunConfig`, a frozen dataclass validated on
construction and identified by the hash of its fields (as :data:`sigmse.config.HASH_NEUTRAL_DEFAULTS` says).

**The validation score** ranks the rates of methods with one output or two: per task, the share of a trivial
predictor's error removed on the validation split, clipped at 0 (0: no better than trivial, 1: perfect):

.. math::
    s_\text{cls} = \max\Bigl(0, 1 - \frac{1 - \text{acc}}{1 - 1/C}\Bigr), \qquad
    s_\text{reg} = \max\Bigl(0, 1 - \frac{\text{RMSE}}{\text{SD}}\Bigr) = \max\bigl(0, 1 - \sqrt{1 - R^2}\bigr),

with SD the standard deviation of the validation targets; a method scores the mean over the tasks it has
outputs for, a diverged run 0. Each method is thus chosen on exactly the outputs it is judged on, with both
tasks on one scale fixed before any run (the unification chapter explains why). Test metrics are never read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
import math
from typing import Any, ClassVar, Mapping

from sigmse.checks import check_choice, check_number
from sigmse.config import DEVICES, HASH_NEUTRAL_DEFAULTS, IdentifiedConfig, check_data_budget, reject_unknown_keys
from sigmse.data.datasets import get_dataset_spec

__all__ = ["METHODS", "REGRESSION_TARGETS", "DATASETS", "UnificationConfig", "unification_config_from_dict",
           "validation_score"]

METHODS = ("unified_mse", "unified_mse_or", "separate_heads", "classifier_only", "regressor_only")
CLASSIFYING = ("unified_mse", "unified_mse_or", "separate_heads", "classifier_only")
REGRESSING = ("unified_mse", "unified_mse_or", "separate_heads", "regressor_only")
REGRESSION_TARGETS = ("angle", "ink")  # stored in this order whatever order they are given in
DATASETS = ("mnist", "fashion-mnist")  # 28x28 greyscale on a black background: zero fill is the background


@dataclass(frozen=True)
class UnificationConfig(IdentifiedConfig):
    """One run of the unification experiment. Defaults: the quick profile's unified run with Output Reset."""

    record_folder: ClassVar[str] = "unification"  # <results>/<profile>/unification/<hash>.json
    model: ClassVar[str] = "mlp"  # every method trains the MLP trunk of sigmse.models (its width set by the heads)

    method: str = "unified_mse_or"
    dataset: str = "mnist"
    targets: tuple[str, ...] = ("angle",)  # regression targets, a non-empty subset of REGRESSION_TARGETS
    max_angle: float = 45.0  # degrees; angles ~ U[-max_angle, max_angle]
    angle_seed: int = 0  # the angles' own seed: the same rotated data for every method and training seed
    epochs: int = 3
    lr: float = 1e-3  # Adam; a profile's runs take it from its grid (sigmse.runs.profiles.unification_lr_grid)
    batch_size: int = 128
    train_subset: int | None = 5000  # class-stratified subset of the training split; None = all of it
    test_subset: int | None = None  # the first N test images
    val_size: int = 5000  # validation images carved from the training set (fixed split)
    seed: int = 0  # initialisation and batch order
    device: str = "auto"
    threads: int | None = None  # torch threads; see sigmse.config.HASH_NEUTRAL_DEFAULTS (a profile fixes them)

    def __post_init__(self) -> None:
        check_choice("method", self.method, METHODS)
        check_choice("dataset", self.dataset, DATASETS)
        targets = tuple(self.targets) if isinstance(self.targets, (tuple, list)) else None
        if not targets or len(set(targets)) != len(targets):
            raise ValueError(f"targets must be a non-empty list of distinct names from "
                             f"{', '.join(REGRESSION_TARGETS)}; got {self.targets!r}")
        for target in targets:
            check_choice("regression target", target, REGRESSION_TARGETS)
        object.__setattr__(self, "targets", tuple(t for t in REGRESSION_TARGETS if t in targets))
        check_number("max_angle", self.max_angle, low=0.0, high=180.0, low_open=True)
        check_number("angle_seed", self.angle_seed, integer=True)
        check_number("epochs", self.epochs, low=1, integer=True)
        check_number("lr", self.lr, low=0.0, low_open=True)
        check_number("batch_size", self.batch_size, low=1, integer=True)
        check_data_budget(self)
        check_choice("device", self.device, DEVICES)
        if self.threads is not None:
            check_number("threads", self.threads, low=1, integer=True)

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON types, less those of :data:`~sigmse.config.HASH_NEUTRAL_DEFAULTS` that hold
        their default (so every run configured before they existed keeps its hash)."""
        data = {**asdict(self), "targets": list(self.targets)}
        return {k: v for k, v in data.items() if not (k in HASH_NEUTRAL_DEFAULTS and v == HASH_NEUTRAL_DEFAULTS[k])}

    @property
    def classifies(self) -> bool:
        return self.method in CLASSIFYING

    @property
    def regresses(self) -> bool:
        return self.method in REGRESSING

    @property
    def label(self) -> str:
        return f"{self.hash} unification/{self.dataset}/{self.method} lr={self.lr:g} seed={self.seed}"

    def with_(self, **changes: Any) -> "UnificationConfig":
        return replace(self, **changes)


def unification_config_from_dict(data: Mapping[str, Any]) -> UnificationConfig:
    """Build a :class:`UnificationConfig` from a mapping, rejecting unknown keys by name."""
    reject_unknown_keys(UnificationConfig, data)
    values = {**data, "targets": tuple(data["targets"])} if isinstance(data.get("targets"), list) else data
    return UnificationConfig(**values)


def validation_score(config: UnificationConfig, record: Mapping[str, Any]) -> float:
    """The validation score of one run (module docstring): the mean over its tasks of the share of a trivial
    predictor's error removed, in [0, 1]; 0 for a run that did not end 'ok'. Reads validation metrics only."""
    if record["status"] != "ok":
        return 0.0
    metrics = record["metrics"]
    needed = (["val_acc"] if config.classifies else []) + [f"val_r2_{t}" for t in config.targets if config.regresses]
    missing = [key for key in needed if key not in metrics]
    if missing:
        raise ValueError(f"run {config.hash} has no {', '.join(missing)}: choosing a learning rate needs the "
                         f"validation metrics (val_size is {config.val_size})")
    scores = []
    if config.classifies:
        chance = 1.0 / get_dataset_spec(config.dataset).num_classes
        scores.append(max(0.0, 1.0 - (1.0 - float(metrics["val_acc"])) / (1.0 - chance)))
    if config.regresses:
        per_target = [max(0.0, 1.0 - math.sqrt(max(0.0, 1.0 - float(metrics[f"val_r2_{t}"]))))
                      for t in config.targets]
        scores.append(sum(per_target) / len(per_target))
    return sum(scores) / len(scores)
