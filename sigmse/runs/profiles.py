"""Profiles (how big) and experiments (which runs): every sweep the book needs, in one place.

A *profile* fixes the budget: per dataset the model, epochs, batch size and
training subset, plus the learning-rate grid, the device and two disjoint seed sets: the
*selection* seeds choose each learning rate on validation, the *reporting* seeds are what the
book shows and tests (:mod:`sigmse.runs.protocol`).

* ``smoke``: seconds per run, for CI: tiny subsets, one epoch, one seed of each kind. It
  checks that everything runs end to end; its numbers mean nothing and every verdict is inconclusive.
* ``quick``: CPU minutes for the whole book: subsets, few epochs, 2 selection and 3 reporting seeds.
* ``full``: the full training and test sets on 2 CPU cores; its records are committed in ``results/full/``.
* ``paper``: full data, full epochs, on a GPU.

An *experiment* turns a profile and a list of seeds into :class:`~sigmse.config.RunConfig`
objects (:func:`accuracy_configs`, :func:`noise_configs`, ...); the experiment registry
(:mod:`sigmse.runs.experiments`) names them, calls them with the selection seeds, chooses the learning rates
and adds the reporting runs. Notebooks and ``sigmse sweep`` ask the same functions, so the
runs a notebook shows are exactly the runs a sweep makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Sequence

from sigmse.config import RunConfig

__all__ = [
    "Budget",
    "Profile",
    "PROFILES",
    "get_profile",
    "profile_names",
    "base_config",
    "ACCURACY_LOSSES",
    "OUTPUT_RESET_VARIANTS",
    "NOISE_LOSSES",
    "accuracy_configs",
    "output_reset_ablation_configs",
    "sgd_lr_sweep_configs",
    "noise_configs",
]

ACCURACY_LOSSES = ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "softmax_mse", "rescaled_square")
# the noise chapter: the paper's losses and three losses built for label noise (MAE, GCE, symmetric CE)
NOISE_LOSSES = ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "mae", "gce", "symmetric_ce")


# The fields a run takes from its experiment, not from the budget of its dataset.
_NOT_BUDGET = ("dataset", "loss", "loss_options", "lr", "seed", "device")
BUDGET_FIELDS = tuple(f.name for f in fields(RunConfig) if f.name not in _NOT_BUDGET)
DEFAULT_LR_GRID = (3e-4, 1e-3, 3e-3, 1e-2)  # each loss picks its lr on validation


@dataclass(frozen=True, init=False)
class Budget:
    """How one dataset trains under a profile: the :class:`~sigmse.config.RunConfig` fields its runs set away
    from RunConfig's defaults, and the learning-rate grid they choose from.

    ``Budget("mlp", epochs=12, lr_grid=(1e-3, 3e-3))`` sets ``model`` and ``epochs``; every other field a run
    has keeps RunConfig's default, so a new training option is one edit, in RunConfig. A field is read as an
    attribute (``budget.epochs``, ``budget.val_size``). A name that is no RunConfig field, or one a run takes
    from its experiment (dataset, loss, lr, seed, device), raises ``ValueError``.
    """

    lr_grid: tuple[float, ...]
    run: tuple[tuple[str, object], ...]  # (field, value) pairs, sorted: the overrides of RunConfig's defaults

    def __init__(self, model: str, *, lr_grid: Sequence[float] = DEFAULT_LR_GRID, **run: object) -> None:
        unknown = sorted(set(run) - set(BUDGET_FIELDS))
        if unknown:
            raise ValueError(f"a budget has no field {unknown[0]!r}; its fields are RunConfig's: "
                             f"{', '.join(BUDGET_FIELDS)}")
        object.__setattr__(self, "lr_grid", tuple(lr_grid))
        object.__setattr__(self, "run", tuple(sorted({"model": model, **run}.items())))

    def __getattr__(self, name: str) -> object:
        """A run field of this budget: its override, else RunConfig's default."""
        if name in BUDGET_FIELDS:
            return dict(self.run).get(name, _RUN_DEFAULTS[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


_RUN_DEFAULTS = {f.name: f.default for f in fields(RunConfig) if f.name in BUDGET_FIELDS}


@dataclass(frozen=True)
class Profile:
    """A named budget for every dataset, with selection and reporting seeds and a device."""

    def __post_init__(self) -> None:
        overlap = sorted(set(self.selection_seeds) & set(self.report_seeds))
        if overlap:
            raise ValueError(f"profile {self.name!r}: seeds {overlap} are both selection and reporting seeds")

    name: str
    description: str
    budgets: dict[str, Budget]
    selection_seeds: tuple[int, ...]  # choose each learning rate on validation; never reported
    report_seeds: tuple[int, ...]  # trained at the chosen rate; every table and test reads these
    device: str = "auto"
    datasets: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10")
    # the Output Reset chapter's ablation and learning-rate sweep run on these datasets
    ablation_datasets: tuple[str, ...] = ("mnist",)
    # plain SGD, wide grid: the gradient scale of each loss shows here, unlike with Adam
    sgd_lr_grid: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
    # The noise chapter (noise_configs). Rate 0 and sigma 0 are the clean run, trained once and shared by every
    # curve; the clean run is also evaluated on test inputs with each nonzero sigma (trained clean, tested noisy).
    noise_datasets: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10")
    symmetric_rates: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)  # share of training labels changed
    asymmetric_rates: tuple[float, ...] = (0.0, 0.2, 0.4)  # share of each source class moved to its pair
    input_sigmas: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)  # Gaussian sigma on the [0, 1] pixel scale
    noise_lr_grid: tuple[float, ...] | None = None  # None: each dataset's budget lr_grid
    # Where a budget is too small for every combination: the losses a dataset trains in the accuracy and noise
    # experiments (absent: all of them), the noise datasets that get only the largest symmetric rate, and the
    # epochs of a dataset's noise runs (absent: its budget's), long enough to see a network fit flipped labels.
    dataset_losses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sweep_seeds: tuple[int, ...] | None = None  # the SGD learning-rate sweep's seeds (it reports every rate); None: report_seeds
    symmetric_only: tuple[str, ...] = ()
    noise_epochs: dict[str, int] = field(default_factory=dict)


_SMOKE = Profile(
    name="smoke",
    description="seconds per run, for CI: tiny subsets, one epoch, one seed; numbers mean nothing",
    budgets={
        "mnist": Budget("mlp", epochs=1, train_subset=512, test_subset=1000, val_size=500, lr_grid=(1e-3, 3e-3)),
        "fashion-mnist": Budget("mlp", epochs=1, train_subset=512, test_subset=1000, val_size=500,
                                lr_grid=(1e-3, 3e-3)),
        "cifar10": Budget("resnet9_small", epochs=1, batch_size=128, optimizer="nesterov", lr_grid=(0.05, 0.2),
                          weight_decay=5e-4, augment=True, train_subset=256, test_subset=256, val_size=256),
    },
    selection_seeds=(0,),
    report_seeds=(1,),
    sgd_lr_grid=(0.1, 1.0),
    noise_datasets=("mnist",),
    symmetric_rates=(0.0, 0.4),
    asymmetric_rates=(0.0, 0.4),
    input_sigmas=(0.0, 0.4),
    noise_lr_grid=(1e-3,),
)

_QUICK = Profile(
    name="quick",
    description="CPU minutes for the whole book: training subsets, few epochs, 2 selection and 3 reporting seeds, "
                "an MLP even on CIFAR-10",
    budgets={
        # 1e-4 added: plain sigmoid-MSE chose the smallest rate, 3e-4, of the default grid on MNIST
        "mnist": Budget("mlp", epochs=3, train_subset=5000, val_size=5000, lr_grid=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2)),
        "fashion-mnist": Budget("mlp", epochs=3, train_subset=5000, val_size=5000),
        # an MLP, not ResNet-9: on 2 CPU cores a ResNet-9 run takes minutes and even the small
        # cnn ~30 s, too slow for the 60 runs of the accuracy grid; the paper profile uses ResNet-9.
        # The grid is a step lower than the default: on the default one every loss chose 3e-4, the
        # smallest rate, and none came within 0.1 of its best validation accuracy at 1e-2.
        "cifar10": Budget("mlp", epochs=3, train_subset=5000, test_subset=5000, val_size=2000,
                          lr_grid=(1e-4, 3e-4, 1e-3, 3e-3)),
    },
    selection_seeds=(0, 1),
    report_seeds=(2, 3, 4),
    # noise: 180 runs of ~1 s (the paper's grid would be ~20 times as many). Two learning rates a decade
    # apart: on clean MNIST validation, every noise loss's best rate of the 4-value grid is within 3x of one
    # (plain sigmoid-MSE and MAE prefer smaller rates than the others)
    noise_datasets=("mnist",),
    symmetric_rates=(0.0, 0.4, 0.8),
    asymmetric_rates=(0.0, 0.4),
    input_sigmas=(0.0, 0.4),
    noise_lr_grid=(3e-4, 3e-3),
)

_PAPER = Profile(
    name="paper",
    description="full data, full epochs, 2 selection and 5 reporting seeds, on one GPU",
    budgets={
        "mnist": Budget("mlp", epochs=20),
        "fashion-mnist": Budget("mlp", epochs=20),
        "cifar10": Budget("resnet9", epochs=16, batch_size=512, optimizer="nesterov",
                          lr_grid=(0.05, 0.1, 0.2, 0.4), schedule="linear", warmup_epochs=2.0,
                          weight_decay=5e-4, augment=True, precision="bfloat16"),
    },
    selection_seeds=(0, 1),
    report_seeds=(2, 3, 4, 5, 6),
    device="cuda",
    ablation_datasets=("mnist", "fashion-mnist"),
)

# The full profile: the full training and test sets on 2 CPU cores (its records are committed in results/full/).
# Epoch costs measured on 2 cores: a full MNIST or Fashion-MNIST MLP epoch about 0.75 s, a CIFAR-10 epoch of the
# two-conv `cnn` about 20 s; ResNet-9 is far too slow there. Hence MLPs on the digits and clothes, and on CIFAR-10
# the `cnn` with flips and crops, at fewer losses and seeds-times-settings than the others.
# Reporting seeds: reporting_seeds_needed(margin, spread, family_size=9) for the accuracy chapter's claim family
# (sigmoid_mse_or vs softmax_ce on three datasets, three hypotheses each), with the planning spreads of
# FULL_PLANNING_SPREADS, gives 6 on MNIST and Fashion-MNIST and 8 on CIFAR-10; the profile takes 8 for all
# (tests/test_profiles.py recomputes it). The planning spreads are assumptions made before any full run; the
# accuracy chapter reports the spread observed on the reporting runs beside them.
FULL_PLANNING_SPREADS = {"mnist": 0.002, "fashion-mnist": 0.002, "cifar10": 0.005}  # sd of paired differences
_FULL = Profile(
    name="full",
    description="full training and test sets on 2 CPU cores: MLPs on MNIST and Fashion-MNIST, a small convnet "
                "with augmentation on CIFAR-10; 2 selection and 8 reporting seeds",
    budgets={
        "mnist": Budget("mlp", epochs=12, lr_grid=(3e-4, 1e-3, 3e-3)),
        "fashion-mnist": Budget("mlp", epochs=20, lr_grid=(3e-4, 1e-3, 3e-3)),
        "cifar10": Budget("cnn", epochs=10, augment=True, lr_grid=(1e-3, 3e-3)),
    },
    selection_seeds=(0, 1),
    report_seeds=(2, 3, 4, 5, 6, 7, 8, 9),
    device="auto",
    ablation_datasets=("mnist", "fashion-mnist"),
    sgd_lr_grid=(0.01, 0.1, 1.0, 10.0),
    noise_datasets=("mnist", "fashion-mnist", "cifar10"),
    symmetric_rates=(0.0, 0.4, 0.8),
    asymmetric_rates=(0.0, 0.4),
    input_sigmas=(0.0, 0.4),
    noise_lr_grid=(1e-3,),  # one rate: nothing to choose, so the noise runs are all reporting runs
    sweep_seeds=(2, 3, 4),
    dataset_losses={"cifar10": ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or")},
    symmetric_only=("cifar10",),
    noise_epochs={"mnist": 20, "fashion-mnist": 20},
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_SMOKE, _QUICK, _FULL, _PAPER)}


def profile_names() -> list[str]:
    return list(PROFILES)


def get_profile(name: str) -> Profile:
    """The profile called ``name``; unknown names raise ``ValueError`` listing the valid ones."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name]


def _check_datasets(profile: Profile, datasets: Sequence[str] | None) -> tuple[str, ...]:
    chosen = tuple(profile.datasets if datasets is None else datasets)
    for name in chosen:
        if name not in profile.budgets:
            raise ValueError(f"dataset {name!r} is not in profile {profile.name!r}; "
                             f"choose from: {', '.join(profile.budgets)}")
    return chosen


def base_config(profile: Profile, dataset: str, *, loss: str, lr: float, seed: int,
                device: str | None = None, **changes: object) -> RunConfig:
    """The run for ``dataset`` under ``profile``'s budget, with ``changes`` applied on top."""
    values = dict(profile.budgets[dataset].run, dataset=dataset, loss=loss, lr=lr, seed=seed,
                  device=device or profile.device)
    return RunConfig(**{**values, **changes})  # type: ignore[arg-type]


def accuracy_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                     seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """Every dataset x loss x learning rate x seed of the headline table (and the convergence chapter)."""
    return [
        base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device)
        for dataset in _check_datasets(profile, datasets)
        for loss in _losses(profile, dataset, ACCURACY_LOSSES)
        for lr in profile.budgets[dataset].lr_grid
        for seed in (profile.report_seeds if seeds is None else seeds)
    ]


# name -> (loss, loss options): the Output Reset ablation
OUTPUT_RESET_VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "no reset, targets 1/0": ("sigmoid_mse", {}),
    "reset without shift, targets 1/0": ("sigmoid_mse_or", {"shift": False}),
    "reset with shift, targets 1/0": ("sigmoid_mse_or", {"shift": True}),
    "no reset, targets 0.9/0.1": ("sigmoid_mse", {"pos": 0.9, "neg": 0.1}),
    "reset without shift, targets 0.9/0.1": ("sigmoid_mse_or", {"shift": False, "pos": 0.9, "neg": 0.1}),
    "reset with shift, targets 0.9/0.1": ("sigmoid_mse_or", {"shift": True, "pos": 0.9, "neg": 0.1}),
}
SGD_SWEEP_LOSSES = ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "softmax_mse", "rescaled_square")


def output_reset_ablation_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                                  seeds: Sequence[int] | None = None,
                                  device: str | None = None) -> list[RunConfig]:
    """The ablation: no reset / reset without shift / with shift, for targets 1/0 and 0.9/0.1."""
    return [
        base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device, loss_options=options)
        for dataset in _check_datasets(profile, profile.ablation_datasets if datasets is None else datasets)
        for loss, options in OUTPUT_RESET_VARIANTS.values()
        for lr in profile.budgets[dataset].lr_grid
        for seed in (profile.report_seeds if seeds is None else seeds)
    ]


def sgd_lr_sweep_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                         seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """Accuracy versus learning rate with plain SGD (momentum 0.9), where each loss's gradient scale shows."""
    return [
        base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device, optimizer="sgd")
        for dataset in _check_datasets(profile, profile.ablation_datasets if datasets is None else datasets)
        for loss in SGD_SWEEP_LOSSES
        for lr in profile.sgd_lr_grid
        for seed in ((profile.sweep_seeds or profile.report_seeds) if seeds is None else seeds)
    ]


def _losses(profile: Profile, dataset: str, losses: Sequence[str]) -> list[str]:
    """``losses`` less those ``profile.dataset_losses`` leaves out for ``dataset``."""
    kept = profile.dataset_losses.get(dataset)
    return [loss for loss in losses if kept is None or loss in kept]


def _noise_settings(profile: Profile, dataset: str) -> list[dict[str, object]]:
    """The noise settings of ``profile`` on ``dataset`` as RunConfig changes; the clean setting once, first (with
    the noise runs' epochs where the profile sets them). A dataset of ``profile.symmetric_only`` gets the largest
    symmetric rate alone, the setting where cross-entropy memorises most."""
    if dataset in profile.symmetric_only:
        settings: list[dict[str, object]] = [dict(label_noise="symmetric", label_noise_rate=max(profile.symmetric_rates))]
    else:
        sigmas = tuple(s for s in profile.input_sigmas if s > 0)
        settings = [dict(test_input_sigmas=sigmas)]  # clean; also tested on noisy inputs
        for kind, rates in (("symmetric", profile.symmetric_rates), ("asymmetric", profile.asymmetric_rates)):
            settings += [dict(label_noise=kind, label_noise_rate=rate) for rate in rates if rate > 0]
        settings += [dict(input_noise_sigma=sigma, input_noise_at="both") for sigma in sigmas]
    epochs = profile.noise_epochs.get(dataset)
    return settings if epochs is None else [dict(setting, epochs=epochs) for setting in settings]


def noise_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                  seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """Every dataset x noise setting x loss x learning rate x seed of the noise chapter.

    Label noise (symmetric, asymmetric) changes the training *and* validation labels, so each loss picks its
    learning rate on a split as noisy as its training set; test labels stay clean. Input noise is added to the
    training, validation and test images (``input_noise_at="both"``). The noise seed is the run's seed, so the
    losses of one seed see the same noisy labels and images (a paired comparison pairs on the seed).
    """
    return [
        base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device,
                    **setting)
        for dataset in _check_datasets(profile, profile.noise_datasets if datasets is None else datasets)
        for setting in _noise_settings(profile, dataset)
        for loss in _losses(profile, dataset, NOISE_LOSSES)
        for lr in (profile.noise_lr_grid or profile.budgets[dataset].lr_grid)
        for seed in (profile.report_seeds if seeds is None else seeds)
    ]
