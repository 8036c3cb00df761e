"""Profiles (how big) and experiments (which runs): every sweep the book needs, in one place.

A *profile* fixes, per dataset, the budget (model, epochs, batch, subset, learning-rate grid), the device, the two
disjoint seed sets of :mod:`sigmse.runs.protocol`, and what a protocol pre-registers (threads, the grid-edge rule,
noise grids and settings, the pilots that fix its epochs; each defaults to what the older profiles do). An
*experiment* function (:func:`accuracy_configs`, :func:`noise_configs`, ...) turns a profile and seeds into run
configs; :mod:`sigmse.runs.experiments` names them, so a notebook shows exactly the runs ``sigmse sweep`` makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Mapping, Sequence

from sigmse.checks import check_choice, check_number
from sigmse.config import RunConfig
from sigmse.unification.config import METHODS as UNIFICATION_METHODS, UnificationConfig

__all__ = ["Budget", "EpochPilot", "NoisePilot", "Profile", "PROFILES", "get_profile", "profile_names", "base_config",
           "ACCURACY_LOSSES", "OUTPUT_RESET_VARIANTS", "NOISE_LOSSES", "accuracy_configs",
           "output_reset_ablation_configs", "sgd_lr_sweep_configs", "noise_configs", "noise_setting_name",
           "SharedRate", "noise_shared_rates", "unification_lr_grid", "unification_configs", "epoch_pilot_configs",
           "noise_pilot_configs"]

ACCURACY_LOSSES = ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "softmax_mse", "rescaled_square")
# the noise chapter: the paper's losses and three losses built for label noise (MAE, GCE, symmetric CE)
NOISE_LOSSES = ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "mae", "gce", "symmetric_ce")


# The fields a run takes from its experiment (or, for threads, from its profile), not from its dataset's budget.
_NOT_BUDGET = ("dataset", "loss", "loss_options", "lr", "seed", "device", "threads")
BUDGET_FIELDS = tuple(f.name for f in fields(RunConfig) if f.name not in _NOT_BUDGET)
DEFAULT_LR_GRID = (3e-4, 1e-3, 3e-3, 1e-2)  # each loss picks its lr on validation


@dataclass(frozen=True, init=False)
class Budget:
    """How one dataset trains under a profile: the :class:`~sigmse.config.RunConfig` fields its runs set away from
    RunConfig's defaults (read as attributes, ``budget.epochs``), and the learning-rate grid they choose from.

    ``Budget("mlp", epochs=12, lr_grid=(1e-3, 3e-3))`` sets ``model`` and ``epochs``; every other field keeps
    RunConfig's default, so a new training option is one edit, in RunConfig. A name that is no RunConfig field, or
    one a run takes from its experiment (dataset, loss, lr, seed, device), raises ``ValueError``.
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
class EpochPilot:
    """The epoch pilot of one dataset (:func:`epoch_pilot_configs`, rule in :mod:`sigmse.report.pilots`): softmax
    CE at ``lr`` for each budget of ``candidates`` (E, 2E, 4E, ...: the rule compares a budget with its double), on
    the selection seeds. ``fallback``: the candidate trained where every candidate is stored and none passes (the
    longest that fits the sweep's time), written down before the runs it budgets; ``None``: the pilot must pass."""

    lr: float
    candidates: tuple[int, ...]
    fallback: int | None = None

    def __post_init__(self) -> None:
        check_number("epoch pilot lr", self.lr, low=0.0, low_open=True)
        candidates = tuple(self.candidates)
        for epochs in candidates:
            check_number("epoch pilot candidate", epochs, low=1, integer=True)
        if len(candidates) < 2 or any(b != 2 * a for a, b in zip(candidates, candidates[1:])):
            raise ValueError(f"epoch pilot candidates must be two or more budgets, each twice the one before "
                             f"(E, 2E, 4E, ...); got {candidates}")
        if self.fallback is not None:
            check_choice("epoch pilot fallback", self.fallback, candidates)
        object.__setattr__(self, "candidates", candidates)


@dataclass(frozen=True)
class NoisePilot:
    """The noise-fit pilot of one dataset (:func:`noise_pilot_configs`, rule :func:`sigmse.report.pilots.noise_epochs`):
    softmax CE at ``lr`` under symmetric label noise at each of ``rates``, for each increasing budget of
    ``candidates``, on one selection seed; ``fallback`` as for :class:`EpochPilot`."""

    lr: float
    candidates: tuple[int, ...]
    rates: tuple[float, ...] = (0.4,)
    fallback: int | None = None

    def __post_init__(self) -> None:
        check_number("noise pilot lr", self.lr, low=0.0, low_open=True)
        candidates = tuple(self.candidates)
        for epochs in candidates:
            check_number("noise pilot candidate", epochs, low=2, integer=True)  # one epoch has no rise to measure
        if not candidates or list(candidates) != sorted(set(candidates)):
            raise ValueError(f"noise pilot candidates must be one or more increasing budgets; got {candidates}")
        rates = tuple(self.rates)
        if not rates:
            raise ValueError("a noise pilot needs at least one symmetric noise rate; got none")
        for rate in rates:
            check_number("noise pilot rate", rate, low=0.0, high=1.0, low_open=True, high_open=True)
        if self.fallback is not None:
            check_choice("noise pilot fallback", self.fallback, candidates)
        object.__setattr__(self, "candidates", candidates)
        object.__setattr__(self, "rates", rates)


@dataclass(frozen=True)
class Profile:
    """A named budget for every dataset, with selection and reporting seeds and a device."""

    def __post_init__(self) -> None:
        reporting = set(self.report_seeds).union(*self.experiment_report_seeds.values())
        overlap = sorted(set(self.selection_seeds) & reporting)
        if overlap:
            raise ValueError(f"profile {self.name!r}: seeds {overlap} are both selection and reporting seeds")
        if self.threads is not None:
            check_number("threads", self.threads, low=1, integer=True)
        check_number("lr_grid_extensions", self.lr_grid_extensions, low=0, integer=True)
        for what in ("noise_lr_grids", "noise_losses", "dataset_symmetric_rates", "noise_shared_rates", "epoch_pilot",
                     "noise_pilot"):
            for dataset in getattr(self, what):
                check_choice(f"profile {self.name!r}: {what} dataset", dataset, tuple(self.budgets))
        for dataset, grid in self.noise_lr_grids.items():
            if not grid:
                raise ValueError(f"profile {self.name!r}: noise_lr_grids[{dataset!r}] is empty; give one rate or more")
        for losses in self.noise_losses.values():
            for loss in losses:
                check_choice(f"profile {self.name!r}: noise loss", loss, NOISE_LOSSES)
        for dataset, shared in self.noise_shared_rates.items():  # each names settings; a source chooses its rates
            for setting, source in shared.items():
                _setting_named(self, dataset, setting)
                _setting_named(self, dataset, source)
                if source in shared:
                    raise ValueError(f"profile {self.name!r}: noise setting {setting!r} of {dataset} takes its rates "
                                     f"from {source!r}, which takes its own from {shared[source]!r}; name a setting "
                                     "that chooses its rates")

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
    # the SGD learning-rate sweep's seeds (it reports every rate); None: report_seeds
    sweep_seeds: tuple[int, ...] | None = None
    symmetric_only: tuple[str, ...] = ()
    noise_epochs: dict[str, int] = field(default_factory=dict)
    # torch intra-op threads of every run (RunConfig.threads): fixed by the profile, so a rerun is bit-identical
    # and the two runs of a pair share their arithmetic; None: not fixed (the sweep's --threads, else torch's)
    threads: int | None = None
    # the grid-edge rule: how many rates a selection group's grid may grow by, one half-decade step at a time
    # beyond the edge where its best rate sits (sigmse.runs.experiments.plan_experiment); 0: grids stay as given
    lr_grid_extensions: int = 0
    # the noise runs of a dataset: their learning-rate grid (absent: noise_lr_grid, else the budget's grid) and
    # their losses (absent: NOISE_LOSSES less what dataset_losses leaves out), apart from the accuracy runs'
    noise_lr_grids: dict[str, tuple[float, ...]] = field(default_factory=dict)
    noise_losses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # a dataset listed trains symmetric label noise at exactly these rates, no other noise setting (before
    # symmetric_only, which keeps the largest rate of symmetric_rates)
    dataset_symmetric_rates: dict[str, tuple[float, ...]] = field(default_factory=dict)
    # per dataset, {setting: source setting} (names by noise_setting_name, e.g. {"symmetric 0.8": "symmetric 0.4"}):
    # each loss of the setting trains at the rate that loss chose in the source setting, reporting seeds only
    noise_shared_rates: dict[str, dict[str, str]] = field(default_factory=dict)
    # the pilots that fix the epochs, per dataset (sigmse.report.pilots); empty: none
    epoch_pilot: dict[str, EpochPilot] = field(default_factory=dict)
    noise_pilot: dict[str, NoisePilot] = field(default_factory=dict)
    # per experiment name, its reporting seeds where they are not report_seeds (e.g. the noise runs, whose effects
    # are several points wide, need fewer than an equivalence test at half a point); never selection seeds
    experiment_report_seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def reporting_seeds(self, experiment: str) -> tuple[int, ...]:
        """The reporting seeds of ``experiment``: its ``experiment_report_seeds`` entry, else ``report_seeds``."""
        return tuple(self.experiment_report_seeds.get(experiment, self.report_seeds))


# ---- what a profile's noise runs are (Profile checks its noise fields with these) ----


def _losses(profile: Profile, dataset: str, losses: Sequence[str]) -> list[str]:
    """``losses`` less those ``profile.dataset_losses`` leaves out for ``dataset``."""
    kept = profile.dataset_losses.get(dataset)
    return [loss for loss in losses if kept is None or loss in kept]


def _noise_losses(profile: Profile, dataset: str) -> list[str]:
    """The losses of ``dataset``'s noise runs (see :attr:`Profile.noise_losses`)."""
    if dataset in profile.noise_losses:
        return list(profile.noise_losses[dataset])
    return _losses(profile, dataset, NOISE_LOSSES)


def _noise_lr_grid(profile: Profile, dataset: str) -> tuple[float, ...]:
    """The learning rates ``dataset``'s noise runs choose from (see :attr:`Profile.noise_lr_grids`)."""
    return tuple(profile.noise_lr_grids.get(dataset) or profile.noise_lr_grid or profile.budgets[dataset].lr_grid)


def noise_setting_name(values: Mapping[str, object]) -> str:
    """A noise setting in words, from a run's fields (``config.to_dict()``) or a setting's RunConfig changes:
    ``"clean"``, ``"symmetric 0.4"``, ``"asymmetric 0.4"``, ``"input 0.4"`` (train and test images; ``"input 0.4
    (train)"`` elsewhere). :attr:`Profile.noise_shared_rates` names settings so."""
    parts = []
    if values.get("label_noise", "none") != "none":
        parts.append(f"{values['label_noise']} {values['label_noise_rate']:g}")
    sigma = values.get("input_noise_sigma", 0.0)
    if sigma:
        where = values.get("input_noise_at", "both")
        parts.append(f"input {sigma:g}" + ("" if where == "both" else f" ({where})"))
    return ", ".join(parts) or "clean"


def _noise_settings(profile: Profile, dataset: str) -> list[dict[str, object]]:
    """The noise settings of ``profile`` on ``dataset`` as RunConfig changes, the clean one first. A dataset of
    ``profile.symmetric_only`` gets the largest symmetric rate alone, the setting where cross-entropy memorises most."""
    if dataset in profile.dataset_symmetric_rates:
        settings: list[dict[str, object]] = [dict(label_noise="symmetric", label_noise_rate=rate)
                                             for rate in profile.dataset_symmetric_rates[dataset]]
    elif dataset in profile.symmetric_only:
        settings = [dict(label_noise="symmetric", label_noise_rate=max(profile.symmetric_rates))]
    else:
        sigmas = tuple(s for s in profile.input_sigmas if s > 0)
        settings = [dict(test_input_sigmas=sigmas)]  # clean; also tested on noisy inputs
        for kind, rates in (("symmetric", profile.symmetric_rates), ("asymmetric", profile.asymmetric_rates)):
            settings += [dict(label_noise=kind, label_noise_rate=rate) for rate in rates if rate > 0]
        settings += [dict(input_noise_sigma=sigma, input_noise_at="both") for sigma in sigmas]
    epochs = profile.noise_epochs.get(dataset)
    return settings if epochs is None else [dict(setting, epochs=epochs) for setting in settings]


def _setting_named(profile: Profile, dataset: str, name: str) -> dict[str, object]:
    """The setting of ``dataset`` that :func:`noise_setting_name` calls ``name``; ``ValueError`` listing them."""
    settings = {noise_setting_name(setting): setting for setting in _noise_settings(profile, dataset)}
    check_choice(f"profile {profile.name!r}: noise setting of {dataset}", name, tuple(settings))
    return settings[name]


_SMOKE = Profile(
    name="smoke", description="seconds per run, for CI: tiny subsets, one epoch, one seed; numbers mean nothing",
    budgets={
        "mnist": Budget("mlp", epochs=1, train_subset=512, test_subset=1000, val_size=500, lr_grid=(1e-3, 3e-3)),
        "fashion-mnist": Budget("mlp", epochs=1, train_subset=512, test_subset=1000, val_size=500,
                                lr_grid=(1e-3, 3e-3)),
        "cifar10": Budget("resnet9_small", epochs=1, batch_size=128, optimizer="nesterov", lr_grid=(0.05, 0.2),
                          weight_decay=5e-4, augment=True, train_subset=256, test_subset=256, val_size=256),
    },
    selection_seeds=(0,), report_seeds=(1,), sgd_lr_grid=(0.1, 1.0), noise_datasets=("mnist",),
    symmetric_rates=(0.0, 0.4), asymmetric_rates=(0.0, 0.4), input_sigmas=(0.0, 0.4), noise_lr_grid=(1e-3,),
)

_QUICK = Profile(
    name="quick",
    description="CPU minutes for the whole book: training subsets, few epochs, 2 selection and 3 reporting seeds, "
                "an MLP even on CIFAR-10",
    budgets={
        # 1e-4 added: plain sigmoid-MSE chose the smallest rate, 3e-4, of the default grid on MNIST
        "mnist": Budget("mlp", epochs=3, train_subset=5000, val_size=5000, lr_grid=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2)),
        "fashion-mnist": Budget("mlp", epochs=3, train_subset=5000, val_size=5000),
        # an MLP, not ResNet-9: on 2 CPU cores a ResNet-9 run takes minutes and even the small cnn ~30 s, too slow
        # for the 60 runs of the accuracy grid. The grid is a step lower than the default: on the default one every
        # loss chose 3e-4, the smallest rate, and none came within 0.1 of its best validation accuracy at 1e-2.
        "cifar10": Budget("mlp", epochs=3, train_subset=5000, test_subset=5000, val_size=2000,
                          lr_grid=(1e-4, 3e-4, 1e-3, 3e-3)),
    },
    selection_seeds=(0, 1), report_seeds=(2, 3, 4),
    # noise: 180 runs of ~1 s (the paper's grid would be ~20 times as many). Two learning rates a decade apart: on
    # clean MNIST validation, every noise loss's best rate of the 4-value grid is within 3x of one (plain
    # sigmoid-MSE and MAE prefer smaller rates than the others)
    noise_datasets=("mnist",), symmetric_rates=(0.0, 0.4, 0.8), asymmetric_rates=(0.0, 0.4),
    input_sigmas=(0.0, 0.4), noise_lr_grid=(3e-4, 3e-3),
)

# Protocol v2 on CIFAR-10 on one GPU (`paper`), fixed here before any of its runs: `full2`'s rules and recipe (below)
# for its CIFAR-10 runs, at the scale a GPU allows. What differs, and why:
# * `airbench` at full width (blocks of 64, 256 and 256 channels, airbench94's network; `full2` trains a quarter
#   width because 2 CPU cores must), in bf16 autocast, channels-last, data and augmentation resident on the GPU
#   (sigmse.train); the budgets' 10 epochs stand until the pilots have run (device/paper_pilots.py compares the
#   pilots' answers with it before the sweep trains anything else);
# * CIFAR-10 only: a GPU adds nothing to an MLP on MNIST or Fashion-MNIST, and the GPU time is CIFAR-10's; with no
#   `ablation_datasets` the Output Reset ablation and the SGD sweep list no runs. The MNIST budget stays, without
#   rates (so no runs), as the unification experiment reads its grid (unification_lr_grid);
# * full2's reporting seeds: 18 (2..19) for the accuracy runs, 8 (2..9) for the noise runs (full2's power
#   calculation at the spreads of the CPU `full` runs; GPU runs may spread less, but no paper run exists to say so);
# * threads=1: a GPU run's arithmetic is on the GPU, so torch's CPU threads do not change its numbers; fixed at 1
#   they keep `--jobs N` runs from contending for the machine's cores (16 on the device machine), and make the cost
#   kind of a stored GPU record (sigmse.runs.protocol.cost_kind: dataset, model, threads) a paper run's still to do;
# * device "cuda": a paper run never falls back to the CPU silently (a test or rehearsal passes another device).
# What it costs on one H100, from an assumed per-epoch cost until a GPU run measures it: device/README.md and
# `python device/paper_estimate.py`.
_PAPER = Profile(
    name="paper",
    description="protocol v2 on CIFAR-10 on one GPU: airbench94's network at full width in bf16, warm-up and a "
                "linear decay to zero, epochs from a pilot, rates inside their grids, tuned noise runs",
    budgets={
        "mnist": Budget("mlp", lr_grid=()),  # not trained: no rates (the unification experiment reads this grid)
        "cifar10": Budget("airbench", epochs=10, batch_size=512, optimizer="nesterov",  # epochs: the pilot's (pending)
                          lr_grid=(0.1, 0.3, 1.0, 3.0), schedule="linear", warmup_epochs=2.0, weight_decay=5e-4,
                          augment=True, augment_translate=2, tta_flip=True, evals_per_epoch=2,
                          precision="bfloat16"),
    },
    selection_seeds=(0, 1), report_seeds=tuple(range(2, 20)), experiment_report_seeds={"noise": tuple(range(2, 10))},
    device="cuda", threads=1, lr_grid_extensions=3, datasets=("cifar10",), ablation_datasets=(),
    noise_datasets=("cifar10",), dataset_losses={"cifar10": ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or")},
    symmetric_rates=(0.0, 0.4, 0.8), noise_lr_grids={"cifar10": (0.1, 0.3, 1.0)},
    noise_losses={"cifar10": ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "gce", "symmetric_ce")},
    dataset_symmetric_rates={"cifar10": (0.4, 0.8)}, noise_shared_rates={"cifar10": {"symmetric 0.8": "symmetric 0.4"}},
    epoch_pilot={"cifar10": EpochPilot(1.0, (10, 20, 40))},
    noise_pilot={"cifar10": NoisePilot(1.0, (10, 20, 40), rates=(0.4,))},
)

# The full profile: the full training and test sets on 2 CPU cores (its records are committed in results/full/).
# Epoch costs measured on 2 cores: a full MNIST or Fashion-MNIST MLP epoch about 0.75 s, a CIFAR-10 epoch of the
# two-conv `cnn` about 20 s; ResNet-9 is far too slow there. Hence MLPs on the digits and clothes, and on CIFAR-10
# the `cnn` with flips and crops, at fewer losses and seeds-times-settings than the others.
# Reporting seeds: reporting_seeds_needed(margin, spread, family_size=9) for the accuracy chapter's claim family
# (sigmoid_mse_or vs softmax_ce on three datasets, three hypotheses each) at FULL_PLANNING_SPREADS (assumed before
# any full run; the accuracy chapter reports the observed spread beside them) gives 6 on MNIST and Fashion-MNIST and
# 8 on CIFAR-10; the profile takes 8 for all (tests/test_profiles.py recomputes it).
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
    selection_seeds=(0, 1), report_seeds=(2, 3, 4, 5, 6, 7, 8, 9), device="auto",
    ablation_datasets=("mnist", "fashion-mnist"), sgd_lr_grid=(0.01, 0.1, 1.0, 10.0),
    noise_datasets=("mnist", "fashion-mnist", "cifar10"), symmetric_rates=(0.0, 0.4, 0.8),
    asymmetric_rates=(0.0, 0.4), input_sigmas=(0.0, 0.4),
    noise_lr_grid=(1e-3,),  # one rate: nothing to choose, so the noise runs are all reporting runs
    sweep_seeds=(2, 3, 4), dataset_losses={"cifar10": ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or")},
    symmetric_only=("cifar10",), noise_epochs={"mnist": 20, "fashion-mnist": 20},
)

# Protocol v2 on 2 CPU cores (`full2`), fixed here before any of its runs; book/method.md ("Protocol v2") states its
# rules: warm-up then a linear decay to zero, so the budget can converge; epochs from the pilots on the selection
# seeds (sigmse.report.pilots: doubling the budget moves softmax CE's mean validation accuracy by less than half the
# margin; the noise runs' shortest candidate, no shorter than the clean budget, at whose end softmax CE fits the
# flipped labels by 5 pp); half-decade grids of 4 rates and the grid-edge rule, up to 3 added rates
# (sigmse.runs.experiments.plan_experiment says which); noise runs choose their rate per loss and setting from 3
# rates on the noisy validation split; 1 torch thread a run, 2 runs at a time. The numbers, and why:
# * CIFAR-10 trains `airbench_quarter`, airbench94's network at a quarter of its widths (whitened 2x2 first
#   convolution, three conv-pool-BatchNorm-GELU blocks; flips and 2-pixel translations; the mean of the logits of an
#   image and its mirror at evaluation, for every loss alike; Nesterov SGD at batch 512; no label smoothing, which
#   would change one side of the comparison). A pilot on selection seed 0 (2 threads, 10 epochs, lr 0.4): softmax
#   CE 87.8 % test accuracy (86.8 % without the mirror), about 29 s an epoch; full width is the paper profile's;
# * CIFAR-10 trains symmetric 0.4 and 0.8 for five losses, 0.8 at the rates each loss chose at 0.4;
# * reporting seeds from the power calculation at the spreads observed on `full` (sd of paired differences 0.14,
#   0.33 and 0.87 pp; FULL2_PLANNING_SPREADS): reporting_seeds_needed(margin, spread, family_size=27) for the
#   accuracy family (3 comparisons x 3 hypotheses on 3 datasets) gives 6, 12 and 18; every accuracy run takes 18;
#   the noise runs (effects several points wide), the Output Reset ablation and the unification runs 8, the
#   plain-SGD sweep 3 (it reports every rate). tests/test_profiles.py recomputes it.
# * if the sweep's estimate exceeds 20 hours on this machine, it is trimmed in FULL2_TRIM_ORDER, first first;
# * written down before the CIFAR-10 pilot's 20-epoch runs were stored: where no candidate passes the epoch pilot's
#   rule (or the passing one cannot fit the 20 hours after every trim), a dataset trains for the longest candidate
#   that fits, and its chapter says that the budget did not meet the rule; the noise pilot likewise.
# * The pre-registration (this profile as it stands, committed before any run but the pilots'): the committed pilots
#   (results/full2) give MNIST and Fashion-MNIST 10 clean and 20 noise epochs by the rules. CIFAR-10 meets neither:
#   10 -> 20 epochs moves softmax CE's mean selection-seed validation accuracy by +1.73 pp (threshold 0.5), and at
#   symmetric 0.4 softmax CE fits no flipped labels at the end of 10 or of 20 epochs (3.2 and 3.1 %, low 3.0 %).
#   Priced by MEASURED_IMAGE_COSTS (airbench_quarter measured at load 0.65 to 0.97, one run at a time, and within
#   0.96 to 1.16x of that with two side by side), 20 CIFAR-10 epochs cannot fit 20 hours after every trim: the clean
#   runs alone would take about 12 hours of wall-clock at 2 jobs, 20-epoch noise runs at symmetric 0.4 about 11
#   more, the MLP runs about 4 after their trims. So both CIFAR-10 budgets take the fallback, 10 epochs (the pilots
#   stop at 20 epochs: the 40-epoch runs could not change that, so they are not run). At 10 epochs the whole sweep
#   was estimated at 20.9 hours (19.4 still to run, 1.5 of pilots already run, their 3.0 hours from start to record
#   over 2 jobs), over 20, so the first trim applies: CIFAR-10 symmetric 0.8 is not run (19.4 -> 16.3 hours still
#   to run, 17.8 in all), and no other. `sigmse sweep --dry-run` prices CIFAR-10 from the stored pilot runs instead
#   (27.7 hours still to run): those ran beside other trials on the 2 cores and took 1.9x what the table prices them
#   at, as its last line says. The book reports the measured total against both.
FULL2_PLANNING_SPREADS = {"mnist": 0.0014, "fashion-mnist": 0.0033, "cifar10": 0.0087}  # observed on `full`
FULL2_TRIM_ORDER = ("CIFAR-10 symmetric 0.8 noise runs", "input-noise runs (MNIST, Fashion-MNIST)",
                    "clean noise runs tested on noisy inputs (MNIST, Fashion-MNIST)")
_MLP_V2 = dict(lr_grid=(1e-4, 3e-4, 1e-3, 3e-3), schedule="linear", warmup_epochs=1.0)
_FULL2 = Profile(
    name="full2",
    description="protocol v2 on 2 CPU cores: full data, warm-up and a linear decay to zero, epochs from a pilot, "
                "rates inside their grids, an airbench-style network on CIFAR-10, tuned noise runs, 1 thread a run",
    budgets={
        "mnist": Budget("mlp", epochs=10, **_MLP_V2),  # the epoch pilot's (results/full2: 10 -> 20 moves +0.13 pp)
        "fashion-mnist": Budget("mlp", epochs=10, **_MLP_V2),  # the epoch pilot's (10 -> 20 moves +0.03 pp)
        "cifar10": Budget("airbench_quarter", epochs=10, batch_size=512, optimizer="nesterov",  # epochs: pilot's
                          lr_grid=(0.1, 0.3, 1.0, 3.0), schedule="linear", warmup_epochs=2.0, weight_decay=5e-4,
                          augment=True, augment_translate=2, tta_flip=True,
                          # each evaluation reads 5,000 images twice (mirror): a tenth of an epoch's time
                          evals_per_epoch=2),
    },
    selection_seeds=(0, 1), report_seeds=tuple(range(2, 20)),
    experiment_report_seeds={name: tuple(range(2, 10)) for name in ("noise", "output_reset", "unification")},
    sweep_seeds=(2, 3, 4), device="auto", threads=1, lr_grid_extensions=3, ablation_datasets=("mnist", "fashion-mnist"),
    sgd_lr_grid=(0.01, 0.1, 1.0, 10.0), dataset_losses={"cifar10": ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or")},
    noise_datasets=("mnist", "fashion-mnist", "cifar10"), symmetric_rates=(0.0, 0.4, 0.8), asymmetric_rates=(0.0, 0.4),
    input_sigmas=(0.0, 0.4),
    noise_lr_grids={"mnist": (3e-4, 1e-3, 3e-3), "fashion-mnist": (3e-4, 1e-3, 3e-3), "cifar10": (0.1, 0.3, 1.0)},
    noise_losses={"cifar10": ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "gce", "symmetric_ce")},
    dataset_symmetric_rates={"cifar10": (0.4,)},  # 0.8: trimmed, the first of FULL2_TRIM_ORDER (above)
    # the noise pilot's (results/full2): softmax CE's flipped-label accuracy rises under 5 pp by the end of 10
    # epochs at symmetric 0.4 or 0.8, and by 8 to 22 pp by the end of 20; CIFAR-10: its fallback, the budget's 10
    noise_epochs={"mnist": 20, "fashion-mnist": 20},
    epoch_pilot={"mnist": EpochPilot(1e-3, (10, 20, 40)), "fashion-mnist": EpochPilot(1e-3, (10, 20, 40)),
                 "cifar10": EpochPilot(1.0, (10, 20), fallback=10)},
    noise_pilot={"mnist": NoisePilot(1e-3, (10, 20, 40), rates=(0.4, 0.8)),
                 "fashion-mnist": NoisePilot(1e-3, (10, 20, 40), rates=(0.4, 0.8)),
                 "cifar10": NoisePilot(1.0, (10, 20), rates=(0.4,), fallback=10)},
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_SMOKE, _QUICK, _FULL, _FULL2, _PAPER)}


def profile_names() -> list[str]:
    return list(PROFILES)


def get_profile(name: str | Profile) -> Profile:
    """The profile called ``name`` (a :class:`Profile` as it is); an unknown name raises ``ValueError``."""
    if isinstance(name, Profile):
        return name
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
                  device=device or profile.device, threads=profile.threads)
    return RunConfig(**{**values, **changes})  # type: ignore[arg-type]


def accuracy_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                     seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """Every dataset x loss x learning rate x seed of the headline table (and the convergence chapter)."""
    return [base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device)
            for dataset in _check_datasets(profile, datasets)
            for loss in _losses(profile, dataset, ACCURACY_LOSSES)
            for lr in profile.budgets[dataset].lr_grid for seed in (profile.report_seeds if seeds is None else seeds)]


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
                                  seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """The ablation: no reset / reset without shift / with shift, for targets 1/0 and 0.9/0.1."""
    return [base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device, loss_options=options)
            for dataset in _check_datasets(profile, profile.ablation_datasets if datasets is None else datasets)
            for loss, options in OUTPUT_RESET_VARIANTS.values()
            for lr in profile.budgets[dataset].lr_grid for seed in (profile.report_seeds if seeds is None else seeds)]


def sgd_lr_sweep_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                         seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """Accuracy versus learning rate with plain SGD (momentum 0.9), where each loss's gradient scale shows."""
    return [base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device, optimizer="sgd")
            for dataset in _check_datasets(profile, profile.ablation_datasets if datasets is None else datasets)
            for loss in SGD_SWEEP_LOSSES
            for lr in profile.sgd_lr_grid
            for seed in ((profile.sweep_seeds or profile.report_seeds) if seeds is None else seeds)]


def noise_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                  seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """Every dataset x noise setting x loss x learning rate x seed of the noise chapter.

    Label noise changes the training *and* validation labels, so each loss picks its rate on a split as noisy as its
    training set; test labels stay clean. The noise seed is the run's seed, so the losses of one seed see the same
    noise (a paired comparison pairs on the seed). A setting of ``profile.noise_shared_rates`` chooses no rate:
    :func:`noise_shared_rates` lists it.
    """
    return [base_config(profile, dataset, loss=loss, lr=lr, seed=seed, device=device, **setting)
            for dataset in _check_datasets(profile, profile.noise_datasets if datasets is None else datasets)
            for setting in _noise_settings(profile, dataset)
            if noise_setting_name(setting) not in profile.noise_shared_rates.get(dataset, {})
            for loss in _noise_losses(profile, dataset)
            for lr in _noise_lr_grid(profile, dataset) for seed in (profile.report_seeds if seeds is None else seeds)]


@dataclass(frozen=True)
class SharedRate:
    """A group of runs that chooses no learning rate: it trains, with the reporting seeds only, at the rate the
    group of ``source`` chose (:func:`sigmse.runs.protocol.lr_group`). ``config`` is one run of the group (its
    ``lr`` and ``seed`` are placeholders the plan replaces)."""

    config: RunConfig
    source: RunConfig


def noise_shared_rates(profile: Profile, *, datasets: Sequence[str] | None = None,
                       device: str | None = None) -> list[SharedRate]:
    """The noise groups of ``profile.noise_shared_rates``: per dataset, borrowing setting and loss, a
    :class:`SharedRate` whose source is the same loss in the setting it takes its rates from (e.g. CIFAR-10
    symmetric 0.8 at the rates chosen at 0.4, where a second selection would cost more than the budget allows)."""
    def run(dataset: str, loss: str, setting: str) -> RunConfig:  # lr and seed: placeholders
        return base_config(profile, dataset, loss=loss, lr=_noise_lr_grid(profile, dataset)[0],
                           seed=profile.selection_seeds[0], device=device, **_setting_named(profile, dataset, setting))

    return [SharedRate(run(dataset, loss, setting), run(dataset, loss, source))
            for dataset in _check_datasets(profile, profile.noise_datasets if datasets is None else datasets)
            for setting, source in profile.noise_shared_rates.get(dataset, {}).items()
            for loss in _noise_losses(profile, dataset)]


def unification_lr_grid(profile: str | Profile) -> tuple[float, ...]:
    """The learning rates every unification method tries: the profile's MNIST grid (same data, trunk and optimizer
    as the accuracy chapter's MNIST runs; e.g. smoke: 1e-3, 3e-3; quick: 1e-4 to 1e-2)."""
    return tuple(get_profile(profile).budgets["mnist"].lr_grid)


def unification_configs(profile: str | Profile, *, datasets: Sequence[str] | None = None,
                        seeds: Sequence[int] | None = None, device: str | None = None) -> list[UnificationConfig]:
    """The unification runs (:mod:`sigmse.unification`): every method x rate of :func:`unification_lr_grid` x
    seed (default: the *selection* seeds), on rotated MNIST with the profile's MNIST budget and validation split."""
    chosen = get_profile(profile)
    if datasets is not None and list(datasets) != ["mnist"]:
        raise ValueError(f"the unification experiment runs on mnist only; got datasets {list(datasets)}")
    budget = chosen.budgets["mnist"]
    if budget.val_size < 1:
        raise ValueError(f"profile {chosen.name!r} has val_size {budget.val_size} for mnist; choosing a learning "
                         "rate needs a validation split of at least 1 image")
    return [UnificationConfig(method=method, dataset="mnist", epochs=budget.epochs, lr=lr,
                              batch_size=budget.batch_size, train_subset=budget.train_subset,
                              test_subset=budget.test_subset, val_size=budget.val_size, seed=seed,
                              device=device or chosen.device, threads=chosen.threads)
            for method in UNIFICATION_METHODS for lr in unification_lr_grid(chosen)
            for seed in (chosen.selection_seeds if seeds is None else seeds)]


def _pilot_datasets(profile: Profile, pilots: Mapping[str, object], datasets: Sequence[str] | None) -> list[str]:
    """The datasets of ``pilots`` (in the profile's order), less those ``datasets`` leaves out."""
    given = _check_datasets(profile, datasets)
    return [dataset for dataset in profile.budgets if dataset in pilots and dataset in given]


def epoch_pilot_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                        seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """The epoch pilot (rule: :func:`sigmse.report.pilots.pilot_epochs`): per dataset of ``profile.epoch_pilot``,
    softmax CE at the pilot's rate for each candidate budget, with ``seeds`` (default: the *selection* seeds; a
    pilot fixes a number of the protocol, so the reporting seeds never take part). Empty without a pilot."""
    return [base_config(profile, dataset, loss="softmax_ce", lr=profile.epoch_pilot[dataset].lr, seed=seed,
                        device=device, epochs=epochs)
            for dataset in _pilot_datasets(profile, profile.epoch_pilot, datasets)
            for epochs in profile.epoch_pilot[dataset].candidates
            for seed in (profile.selection_seeds if seeds is None else seeds)]


def noise_pilot_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                        seeds: Sequence[int] | None = None, device: str | None = None) -> list[RunConfig]:
    """The noise-fit pilot (rule: :func:`sigmse.report.pilots.noise_epochs`): per dataset of ``profile.noise_pilot``,
    candidate budget and symmetric noise rate, softmax CE at the pilot's rate, with ``seeds`` (default: the first
    selection seed alone). Empty without a pilot."""
    return [base_config(profile, dataset, loss="softmax_ce", lr=profile.noise_pilot[dataset].lr, seed=seed,
                        device=device, epochs=epochs, label_noise="symmetric", label_noise_rate=rate)
            for dataset in _pilot_datasets(profile, profile.noise_pilot, datasets)
            for epochs in profile.noise_pilot[dataset].candidates
            for rate in profile.noise_pilot[dataset].rates
            for seed in (profile.selection_seeds[:1] if seeds is None else seeds)]
