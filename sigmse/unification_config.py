"""The runs of the unification experiment: its methods, its regression targets, the config of one run.

:class:`UnificationConfig` is one run of :mod:`sigmse.unification` (which trains and stores it): a method of
:data:`METHODS`, a dataset of :data:`DATASETS`, the regression targets (:data:`REGRESSION_TARGETS`; the book's runs
use the angle alone), the rotation, and the data and training budget. Like :class:`sigmse.config.RunConfig` it is a
frozen dataclass validated on construction, identified by the hash of its fields (the device excluded), and
rebuilt from a stored record by :func:`unification_config_from_dict`, which rejects unknown keys.
:func:`unification_configs` gives every method x seed under a profile of :mod:`sigmse.profiles`.

Every method trains with Adam at one fixed learning rate (:data:`LR`, in every profile), without tuning: a grid
chosen on validation would need one criterion for two tasks, which is what a task weight is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping, Sequence

from sigmse.config import (DEVICES, IdentifiedConfig, check_choice, check_data_budget, check_number,
                           reject_unknown_keys)

__all__ = [
    "METHODS",
    "REGRESSION_TARGETS",
    "DATASETS",
    "LR",
    "UnificationConfig",
    "unification_config_from_dict",
    "unification_configs",
]

METHODS = ("unified_mse", "unified_mse_or", "separate_heads", "classifier_only", "regressor_only")
CLASSIFYING = ("unified_mse", "unified_mse_or", "separate_heads", "classifier_only")
REGRESSING = ("unified_mse", "unified_mse_or", "separate_heads", "regressor_only")
REGRESSION_TARGETS = ("angle", "ink")  # stored in this order whatever order they are given in
DATASETS = ("mnist", "fashion-mnist")  # 28x28 greyscale on a black background: zero fill is the background
LR = 1e-3  # Adam, every method and profile (see the module docstring)


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
