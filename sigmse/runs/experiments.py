"""The experiment registry: every experiment's runs, how each kind of run trains, and what each chapter reads.

:data:`EXPERIMENTS` lists the book's experiments (:class:`Experiment`), :data:`RUN_KINDS` how a run of each
config class trains and how its record is checked (:class:`RunKind`), :data:`CHAPTERS` each chapter notebook's
experiments, datasets and glue keys (:class:`Chapter`). Planning follows :mod:`sigmse.runs.protocol`
(selection runs, then the reporting runs they choose); :func:`estimate_sweep` and :func:`sweep_costs` price a
sweep. Entries are frozen dataclasses keyed by lower-case names, as in timm's registries; an unknown name raises
a ``ValueError`` listing the valid ones.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sigmse.checks import check_list
from sigmse.config import IdentifiedConfig, RunConfig, config_from_dict
from sigmse.provenance import recorded_processor
from sigmse.runs import profiles
from sigmse.runs.profiles import Profile, get_profile
from sigmse.runs.protocol import (RunSeconds, Score, best_rate, default_score, estimate_seconds, half_decade_step,
                                   lr_group, mean_scores, report_configs, run_seconds, run_threads)
from sigmse.runs.store import read_record, record_path, validate_record, validate_unification_record
from sigmse.train import train
from sigmse.unification.config import UnificationConfig, unification_config_from_dict, validation_score
from sigmse.unification.train import train_unification

__all__ = ["RunKind", "RUN_KINDS", "run_kind", "load_record", "Experiment", "EXPERIMENTS", "experiment_names",
           "get_experiment", "experiment_configs", "Chapter", "CHAPTERS", "chapter_experiments", "group_label",
           "GridExtension", "GroupChoice", "ExperimentPlan", "plan_experiment", "ExperimentRecords", "run_experiment",
           "PlanOptions", "plan_stages", "sweep_plans", "sweep_stages", "SweepEstimate", "duration_text",
           "sweep_threads", "estimate_sweep", "RunCosts", "ThreadCosts", "SweepCosts", "sweep_costs"]


# ---- kinds of run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunKind:
    """How a run of ``config_type`` trains (``train(config, data_dir)``), how its stored record is checked
    (``validate``), the fields every record of the kind carries, and how its config is rebuilt from a record
    (``from_dict``, for ``sigmse audit``).
    """

    config_type: type
    train: Callable[[Any, str | Path | None], dict[str, Any]]
    validate: Callable[..., list[str]]
    record_fields: Mapping[str, Any]
    from_dict: Callable[[Mapping[str, Any]], Any]


def _train_run(config: RunConfig, data_dir: str | Path | None) -> dict[str, Any]:
    return train(config, data_dir=data_dir, progress=False)  # the sweep engine draws its own bar, over runs


RUN_KINDS = (RunKind(RunConfig, _train_run, validate_record, {}, config_from_dict),
             RunKind(UnificationConfig, train_unification, validate_unification_record, {"experiment": "unification"},
                     unification_config_from_dict))


def run_kind(config: IdentifiedConfig) -> RunKind:
    """The :class:`RunKind` of ``config``'s class."""
    for kind in RUN_KINDS:
        if isinstance(config, kind.config_type):
            return kind
    raise TypeError(f"no kind of run for a {type(config).__name__}; the kinds are: "
                    f"{', '.join(kind.config_type.__name__ for kind in RUN_KINDS)}")


def load_record(config: IdentifiedConfig, profile: str, results_dir: str | Path) -> dict[str, Any] | None:
    """The stored record of ``config`` under ``profile``, checked as its kind's records are; ``None`` if absent."""
    return read_record(record_path(config, profile, results_dir), run_kind(config).validate)


# ---- experiments -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """A registry entry: a named sweep and the function that lists its runs for a profile and seeds.

    ``selects_lr``: the runs choose a learning rate per group with the selection seeds, by ``score`` (higher is
    better; validation metrics only), and the chosen rate trains again with the reporting seeds; otherwise every
    run is reported. ``shared_rates`` lists groups that train at another group's chosen rate
    (:class:`~sigmse.runs.profiles.SharedRate`). A ``pilot`` fixes a number of the protocol, so it trains with the
    selection seeds only and chooses nothing.
    """

    name: str
    description: str
    configs: Callable[..., list[Any]]
    selects_lr: bool = True
    score: Score = default_score
    shared_rates: Callable[..., list[profiles.SharedRate]] | None = None
    pilot: bool = False

    def __post_init__(self) -> None:
        if self.pilot and self.selects_lr:
            raise ValueError(f"experiment {self.name!r}: a pilot chooses no learning rate; set selects_lr=False")


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("accuracy", "headline table and convergence: datasets x losses x lr grid x seeds",
               profiles.accuracy_configs),
    Experiment("output_reset", "Output Reset ablation (shift, targets)", profiles.output_reset_ablation_configs),
    Experiment("lr_sweep", "accuracy versus learning rate with plain SGD", profiles.sgd_lr_sweep_configs,
               selects_lr=False),
    Experiment("noise", "label noise (symmetric, asymmetric) and input noise: datasets x settings x "
               "noise losses x lr grid x seeds", profiles.noise_configs, shared_rates=profiles.noise_shared_rates),
    Experiment("unification", "one network for a digit and its rotation angle: methods x lr grid x seeds",
               profiles.unification_configs, score=validation_score),
    Experiment("epoch_pilot", "softmax CE at budgets E, 2E, 4E, ... on the selection seeds: fixes the epochs "
               "(sigmse.report.pilots.pilot_epochs)", profiles.epoch_pilot_configs, selects_lr=False, pilot=True),
    Experiment("noise_pilot", "softmax CE under symmetric label noise for a long budget on one selection seed: "
               "fixes the noise runs' epochs (sigmse.report.pilots.noise_fit_epoch)",
               profiles.noise_pilot_configs, selects_lr=False, pilot=True))}


def experiment_names() -> list[str]:
    return list(EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    """The registry entry ``name``; an unknown name raises ``ValueError`` listing the experiments."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def experiment_configs(name: str, profile: str | Profile, *, datasets: Sequence[str] | None = None,
                       seeds: Sequence[int] | None = None, device: str | None = None) -> list[Any]:
    """The runs of experiment ``name`` under ``profile`` (default: the profile's datasets and reporting seeds)."""
    return get_experiment(name).configs(get_profile(profile), datasets=datasets, seeds=seeds, device=device)


# ---- chapters ----------------------------------------------------------------------------------------------


VERDICT_DATASETS = ("mnist", "fashion-mnist", "cifar10")  # the intro's claim table has a row for each


def _per_dataset(prefix: str) -> tuple[str, ...]:
    """The glue keys of ``prefix``'s row of the intro's claim table per dataset
    (:func:`sigmse.report.chapters.claim_cells`)."""
    return tuple(key for row in (f"{prefix}_{dataset.replace('-', '_')}" for dataset in VERDICT_DATASETS)
                 for key in (row, *(f"{row}_{cell}" for cell in ("effect", "margin", "seeds", "profile"))))


@dataclass(frozen=True)
class Chapter:
    """A chapter notebook: the experiments whose runs it reads (``sigmse book`` trains them first), the datasets
    it loads itself, and the glue keys the book's own pages read from it (checked after execution).
    """

    name: str
    experiments: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    verdict_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.experiments:
            get_experiment(name)


# The book's pages read glue keys as {glue:text}`/notebooks/<name>.ipynb::<key>:s` (the trailing ``:s`` is
# needed: without a format spec the role splits ``::`` wrongly).
CHAPTERS: dict[str, Chapter] = {c.name: c for c in (
    # the claim table's cells, and Output Reset's own share (sigmse.report.accuracy.output_reset_share)
    Chapter("accuracy", ("accuracy", "epoch_pilot"), verdict_keys=(
        *_per_dataset("claim_accuracy"),
        *(f"claim_share_{cell}_{d.replace('-', '_')}" for d in VERDICT_DATASETS
          for cell in ("plain_vs_ce", "or_vs_plain", "answer")))),
    Chapter("convergence", ("accuracy",), verdict_keys=("convergence_verdict", *_per_dataset("claim_convergence"))),
    # Output Reset's share with plain SGD (sigmse.report.output_reset.sgd_output_reset_share)
    Chapter("output_reset", ("output_reset", "lr_sweep"), verdict_keys=tuple(
        f"claim_sgd_share_{cell}_{d}" for d in ("mnist", "fashion_mnist")
        for cell in ("plain_vs_ce", "or_vs_plain", "answer"))),
    # the noise rows per kind (its heaviest rate), reporting rule and dataset; noise_rules: when the rules disagree
    Chapter("noise", ("noise", "noise_pilot", "epoch_pilot"), verdict_keys=(
        "noise_verdict", "noise_rules",
        *(f"claim_noise_{kind}_setting_{d.replace('-', '_')}" for kind in ("symmetric", "asymmetric")
          for d in VERDICT_DATASETS),
        *(key for kind in ("symmetric", "asymmetric") for rule in ("final", "early")
          for key in _per_dataset(f"claim_noise_{kind}_{rule}")))),
    Chapter("landscape", verdict_keys=("landscape_verdict",)),
    Chapter("unification", ("unification",), verdict_keys=("unification_verdict",)),
    Chapter("performance", datasets=("mnist", "fashion-mnist", "cifar10")))}


def chapter_experiments(name: str) -> tuple[str, ...]:
    """The experiments chapter ``name`` reads; none for a chapter the registry does not list."""
    chapter = CHAPTERS.get(name)
    return chapter.experiments if chapter else ()


# ---- planning ----------------------------------------------------------------------------------------------


def group_label(config: Any) -> str:
    """A learning-rate group in a few words, e.g. ``mnist/mlp/sigmoid_mse_or shift=False symmetric 0.4``."""
    data = config.to_dict()
    words = [config.label.split(" ")[1]]
    words += [f"{key}={value}" for key, value in sorted(data.get("loss_options", {}).items())]
    if data.get("optimizer", "adam") != "adam":
        words.append(str(data["optimizer"]))
    setting = profiles.noise_setting_name(data)  # "clean" for a run without noise fields (unification)
    return " ".join(words + ([setting] if setting != "clean" else []))


@dataclass(frozen=True)
class GridExtension:
    """A rate the grid-edge rule added to a group: the best selection rate was the smallest (``side="below"``)
    or largest (``"above"``) of its grid, so the next half-decade step ``lr`` trains with the selection seeds.
    """

    group: str  # group_label
    side: str
    lr: float
    number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.group}: added lr {self.lr:g} {self.side} its grid (addition {self.number}; {self.reason})"


@dataclass(frozen=True)
class GroupChoice:
    """Where one learning-rate group stands: its grid (ascending, with added rates), the chosen rate (``None``
    while runs are missing or the grid grows), the rates added, and the source group of a shared rate.
    """

    group: str
    grid: tuple[float, ...]
    chosen: float | None
    added: int = 0
    shared_from: str | None = None

    @property
    def edge(self) -> str | None:
        """``"smallest"`` or ``"largest"`` where the chosen rate sits at that edge of a grid of two or more rates."""
        return None if len(self.grid) < 2 else {self.grid[0]: "smallest", self.grid[-1]: "largest"}.get(self.chosen)


@dataclass(frozen=True)
class ExperimentPlan:
    """The runs of one experiment: ``selection`` (with the rates the edge rule added) and the ``report`` runs
    of every group whose rate is chosen. Each waiting reporting run has a stand-in in ``stand_ins``: its group's
    first selection run with that run's seed (same data and epochs, so the same cost).
    """

    name: str
    selection: list[Any]
    report: list[Any]
    stand_ins: list[Any] = field(default_factory=list)
    extensions: list[GridExtension] = field(default_factory=list)
    choices: list[GroupChoice] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return len(self.stand_ins)

    @property
    def report_count(self) -> int:
        return len(self.report) + self.waiting

    @property
    def edge_choices(self) -> list[GroupChoice]:
        """The groups whose chosen rate still sits at an edge of their grid."""
        return [choice for choice in self.choices if choice.edge]


@dataclass(frozen=True)
class PlanOptions:
    """What a plan reads and lists besides its experiment and profile: the results store and a chapter's
    parameters (``None``: the profile's). Lists become tuples, so equal options are equal keys.
    """

    results_dir: str | Path
    datasets: tuple[str, ...] | None = None
    selection_seeds: tuple[int, ...] | None = None
    seeds: tuple[int, ...] | None = None  # the reporting seeds
    device: str | None = None

    def __post_init__(self) -> None:
        for name, kind in (("datasets", "str"), ("selection_seeds", "int"), ("seeds", "int")):
            value = getattr(self, name)
            if value is not None:
                check_list(name, value, kind)
                object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class _Grown:
    """One group after the grid-edge rule: its runs, their records (``None`` while any is missing), its choice."""

    runs: list[Any]
    records: list[dict[str, Any]] | None
    choice: GroupChoice
    extensions: list[GridExtension]


def _grow_group(runs: list[Any], load: Callable[[Any], dict[str, Any] | None], score: Score, limit: int) -> _Grown:
    """Apply the grid-edge rule to one group: while its grid is stored and its best rate (ties to the smaller)
    sits at an edge of two or more rates, add the next half-decade rate beyond it, at most ``limit`` times.
    """
    label = group_label(runs[0])
    one_rate = [config for config in runs if config.lr == runs[0].lr]  # the group's runs at one rate: a run a seed
    single = len({config.lr for config in runs}) < 2  # a grid of one rate chooses nothing, so it never grows
    runs, records, extensions = list(runs), [], []
    while True:
        grid = tuple(sorted({config.lr for config in runs}))
        records += [load(config) for config in runs[len(records):]]
        if any(record is None or record["status"] == "failed" for record in records):
            return _Grown(runs, None, GroupChoice(label, grid, None, len(extensions)), extensions)
        (means,) = mean_scores(runs, records, score=score).values()
        best = best_rate(means)
        side = "below" if best == grid[0] else "above" if best == grid[-1] else None
        if side is None or single or len(extensions) >= limit:
            return _Grown(runs, records, GroupChoice(label, grid, best, len(extensions)), extensions)
        lr = half_decade_step(best, side)
        reason = (f"best mean selection score {means[best]:.4f} at {best:g}, the "
                  f"{'smallest' if side == 'below' else 'largest'} of {', '.join(f'{r:g}' for r in grid)}")
        extensions.append(GridExtension(label, side, lr, len(extensions) + 1, reason))
        runs += [config.with_(lr=lr) for config in one_rate]


def plan_experiment(name: str, profile: str | Profile, options: PlanOptions) -> ExperimentPlan:
    """The runs of experiment ``name``, reading the selection records stored under ``options.results_dir``.

    A group's reporting runs wait until its grid stops growing; a shared-rate group trains at its source's rate.
    """
    chosen = get_profile(profile)
    experiment = get_experiment(name)
    datasets, seeds, device = options.datasets, options.seeds, options.device
    report_seeds = chosen.reporting_seeds(name) if seeds is None else seeds  # PlanOptions holds tuples
    if not experiment.selects_lr:  # its own default seeds (the profile's reporting, sweep or selection seeds)
        given = options.selection_seeds if experiment.pilot else (
            seeds if seeds is not None or name not in chosen.experiment_report_seeds else report_seeds)
        return ExperimentPlan(name, [], experiment.configs(chosen, datasets=datasets, seeds=given, device=device))
    chosen_selection = chosen.selection_seeds if options.selection_seeds is None else options.selection_seeds
    overlap = sorted(set(chosen_selection) & set(report_seeds))
    if overlap:
        raise ValueError(f"seeds {overlap} are both selection seeds {list(chosen_selection)} and reporting seeds "
                         f"{list(report_seeds)}; report with fresh seeds only")
    selection = experiment.configs(chosen, datasets=datasets, seeds=chosen_selection, device=device)
    shared = experiment.shared_rates(chosen, datasets=datasets, device=device) if experiment.shared_rates else []
    groups: dict[str, list[Any]] = {}
    for config in selection:
        groups.setdefault(lr_group(config), []).append(config)
    if all(len({c.lr for c in runs}) == 1 for runs in groups.values()):  # a grid of one rate: nothing to choose
        choices = {key: GroupChoice(group_label(runs[0]), (runs[0].lr,), runs[0].lr) for key, runs in groups.items()}
        report = experiment.configs(chosen, datasets=datasets, seeds=report_seeds, device=device)
        report_shared, stand_ins, shared_choices = _shared_runs(shared, choices, report_seeds)
        return ExperimentPlan(name, [], report + report_shared, stand_ins, choices=[*choices.values(), *shared_choices])
    load = partial(load_record, profile=chosen.name, results_dir=options.results_dir)
    grown = {key: _grow_group(runs, load, experiment.score, chosen.lr_grid_extensions) for key, runs in groups.items()}
    ready = [(c, r) for g in grown.values() if g.records is not None for c, r in zip(g.runs, g.records)]
    report = (report_configs([c for c, _ in ready], [r for _, r in ready], report_seeds, score=experiment.score)
              if ready else [])
    stand_ins = [runs[0].with_(seed=seed) for key, runs in groups.items() if grown[key].records is None
                 for seed in report_seeds]
    choices = {key: g.choice for key, g in grown.items()}
    report_shared, shared_waiting, shared_choices = _shared_runs(shared, choices, report_seeds)
    added = [c for key, g in grown.items() for c in g.runs[len(groups[key]):]]
    return ExperimentPlan(name, selection + added, report + report_shared, stand_ins + shared_waiting,
                          [e for g in grown.values() for e in g.extensions], [*choices.values(), *shared_choices])


def _shared_runs(shared: Sequence[profiles.SharedRate], choices: Mapping[str, GroupChoice],
                 report_seeds: Sequence[int]) -> tuple[list[Any], list[Any], list[GroupChoice]]:
    """The reporting runs, stand-ins and :class:`GroupChoice` of the groups that take another group's rate."""
    report, waiting, shared_choices = [], [], []
    for share in shared:
        source = choices.get(lr_group(share.source))
        if source is None:
            raise ValueError(f"{group_label(share.config)} takes its learning rate from {group_label(share.source)}, "
                             "which this plan does not choose; plan the source's dataset too")
        lr = source.chosen
        runs = [share.config.with_(seed=seed) if lr is None else share.config.with_(lr=lr, seed=seed)
                for seed in report_seeds]
        (waiting if lr is None else report).extend(runs)
        shared_choices.append(GroupChoice(group_label(share.config), source.grid, lr, source.added,
                                          shared_from=source.group))
    return report, waiting, shared_choices


@dataclass(frozen=True)
class ExperimentRecords:
    """What a chapter reads: the selection records and the reporting records."""

    selection: list[dict[str, Any]]
    report: list[dict[str, Any]]


def run_experiment(name: str, profile: str | Profile, run: Callable[[list[Any]], list[dict[str, Any]]],
                   options: PlanOptions) -> ExperimentRecords:
    """Train through ``run`` the selection runs, repeating while the grid-edge rule adds rates, then the
    reporting runs they choose; return both.
    """
    plan = plan_experiment(name, profile, options)
    selection: list[dict[str, Any]] = []
    trained: set[str] | None = None
    while plan.selection and {c.hash for c in plan.selection} != trained:
        selection, trained = run(plan.selection), {c.hash for c in plan.selection}
        plan = plan_experiment(name, profile, options)
    if plan.waiting:
        raise ValueError(f"experiment {name!r}: selection runs failed, so not every learning rate can be chosen")
    return ExperimentRecords(selection, run(plan.report))


def _unique(configs: Any) -> list[Any]:
    return list({config.hash: config for config in configs}.values())


def sweep_plans(names: Sequence[str], profile: str | Profile, options: PlanOptions) -> list[ExperimentPlan]:
    """:func:`plan_experiment` of each experiment of ``names``."""
    return [plan_experiment(name, profile, options) for name in names]


def plan_stages(plans: Sequence[ExperimentPlan]) -> tuple[list[Any], list[Any], int]:
    """The runs that can train now, ``(first, second, waiting)``: selection runs and runs of experiments that
    choose nothing, then chosen reporting runs, and the count of reporting runs still waiting (duplicates once).
    """
    first, second, stand_ins = _stages(plans)
    return first, second, len(stand_ins)


def _stages(plans: Sequence[ExperimentPlan]) -> tuple[list[Any], list[Any], list[Any]]:
    """:func:`plan_stages` with the stand-ins of the waiting reporting runs instead of their count."""
    first = _unique(c for plan in plans for c in (plan.selection or plan.report))
    second = _unique(c for plan in plans if plan.selection for c in plan.report)
    return first, second, _unique(c for plan in plans for c in plan.stand_ins)


def sweep_stages(plans: Sequence[ExperimentPlan], profile: str | Profile, run: Callable[[list[Any]], Any],
                 options: PlanOptions) -> list[Any]:
    """Run the selection stage with ``run``, repeating on a fresh plan until it lists no new run, then the
    reporting runs; returns what ``run`` returned per round. A group whose selection runs failed is skipped.
    """
    outcomes, trained = [], None
    first, second, _ = plan_stages(plans)
    while first and {c.hash for c in first} != trained:
        outcomes.append(run(first))
        trained = {c.hash for c in first}
        first, second, _ = plan_stages(sweep_plans([plan.name for plan in plans], profile, options))
    if second:
        outcomes.append(run(second))
    return outcomes


def duration_text(seconds: float) -> str:
    """Seconds for a person: minutes under an hour, else hours to one decimal."""
    return f"{seconds / 60:.0f} minutes" if seconds < 3600 else f"{seconds / 3600:.1f} hours"


@dataclass(frozen=True)
class SweepEstimate:
    """What a sweep has left: runs listed, stored and waiting, and the estimated seconds of the rest
    (:func:`sigmse.runs.protocol.estimate_seconds`), summed over runs, for ``jobs`` runs at ``threads`` threads.
    """

    listed: int
    stored: int
    waiting: int
    seconds: float
    source: str
    evaluate_seconds: float = 0.0
    setup_seconds: float = 0.0
    jobs: int = 1
    threads: int | None = None

    @property
    def total(self) -> int:
        return self.listed + self.waiting

    @property
    def to_train(self) -> int:
        return self.listed - self.stored + self.waiting

    @property
    def train_seconds(self) -> float:
        return self.seconds - self.evaluate_seconds - self.setup_seconds

    @property
    def wall_seconds(self) -> float:
        return self.seconds / self.jobs

    @property
    def duration_text(self) -> str:
        return duration_text(self.seconds)

    @property
    def parts_text(self) -> str:
        """The estimate in words, training, evaluation and data loading apart, and the wall-clock."""
        jobs = (f"{self.jobs} jobs" if self.jobs > 1 else "1 job") + (
            "" if self.threads is None else f" of {self.threads} torch thread{'s' if self.threads > 1 else ''}")
        return (f"{duration_text(self.seconds)}: {duration_text(self.train_seconds)} training, "
                f"{duration_text(self.evaluate_seconds)} evaluating, {duration_text(self.setup_seconds)} loading data, "
                f"summed over runs; with {jobs}" + (" side by side" if self.jobs > 1 else "")
                + f", {duration_text(self.wall_seconds)} of wall-clock")


def sweep_threads(jobs: int = 1, threads: int | None = None) -> int:
    """The torch threads each run of a local sweep of ``jobs`` workers gets, as
    :func:`sigmse.runs.executors.run_configs` gives them.
    """
    import torch

    return threads or (torch.get_num_threads() if jobs == 1 else max(1, torch.get_num_threads() // jobs))


def estimate_sweep(plans: Sequence[ExperimentPlan], profile: str | Profile, options: PlanOptions, *,
                   jobs: int = 1, threads: int | None = None) -> SweepEstimate:
    """The runs of ``plans`` still to train and their estimated cost; a waiting run costs its stand-in's."""
    chosen, results_dir = get_profile(profile), options.results_dir
    first, second, stand_ins = _stages(plans)
    listed = first + second
    missing = [c for c in listed if load_record(c, chosen.name, results_dir) is None]
    default = sweep_threads(jobs, threads)
    seconds, source = estimate_seconds(missing + stand_ins, chosen.name, results_dir, default)
    counts = {run_threads(config, default) for config in missing + stand_ins} or {default}
    return SweepEstimate(len(listed), len(listed) - len(missing), len(stand_ins), seconds.total, source,
                         seconds.evaluate, seconds.setup, jobs, counts.pop() if len(counts) == 1 else None)


# ---- what a sweep cost -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCosts:
    """What the runs of one experiment on one dataset (``"all"``: the whole sweep) cost, estimated and measured.

    ``estimated_seconds`` prices every planned run from :data:`~sigmse.runs.protocol.MEASURED_IMAGE_COSTS` alone,
    as before training; ``untimed`` runs are of a kind the table does not know. Measured totals are over stored
    records with both timings (``unmeasured`` counts the others): ``train_seconds`` (training epochs) and
    ``wall_seconds`` (whole runs), beside the table's price of the same runs. All are sums over runs.
    """

    experiment: str
    dataset: str
    planned: int
    stored: int
    diverged: int
    untimed: int
    unmeasured: int
    estimated_seconds: float
    estimated_measured_seconds: float
    train_seconds: float
    wall_seconds: float
    threads: tuple["ThreadCosts", ...]
    estimated_evaluate_seconds: float = 0.0
    estimated_measured_wall_seconds: float = 0.0


@dataclass(frozen=True)
class ThreadCosts:
    """The measured runs of a :class:`RunCosts` at ``threads`` torch threads, and the table's price of them."""

    threads: int | None
    runs: int
    train_seconds: float
    estimated_seconds: float
    wall_seconds: float = 0.0
    estimated_wall_seconds: float = 0.0


@dataclass(frozen=True)
class SweepCosts:
    """:class:`RunCosts` per experiment and dataset and in all, the first start and last end of the stored
    runs (UTC), ``busy_seconds``: the union of their training intervals (gaps between sessions left out), and
    ``processors``: ``(kind, runs)`` of the stored runs per kind of processor
    (:func:`~sigmse.provenance.recorded_processor`), most runs first, since a sweep resumed across sessions can
    land on another kind of machine.
    """

    rows: list[RunCosts]
    total: RunCosts
    first_start: str | None
    last_end: str | None
    busy_seconds: float
    processors: tuple[tuple[str, int], ...] = ()


def _table_seconds(runs: Sequence[tuple[Any, int | None]]) -> tuple[RunSeconds, int]:
    """The measured table's price of the ``(config, threads)`` runs and how many it cannot price."""
    priced = [run_seconds(config, threads=threads) for config, threads in runs]
    return sum((seconds for seconds in priced if seconds is not None), RunSeconds()), priced.count(None)


def _timings(record: Mapping[str, Any]) -> tuple[float, float] | None:
    """A record's ``(train_seconds, wall_seconds)``; ``None`` where either is missing."""
    train_seconds = record.get("metrics", {}).get("train_seconds")
    wall_seconds = record.get("provenance", {}).get("wall_seconds")
    return None if train_seconds is None or wall_seconds is None else (float(train_seconds), float(wall_seconds))


def _recorded_threads(record: Mapping[str, Any]) -> int | None:
    return record.get("provenance", {}).get("torch_threads")


def _run_costs(experiment: str, dataset: str, listed: Sequence[Any], stand_ins: Sequence[Any],
               records: Mapping[str, dict[str, Any] | None], threads: int | None) -> RunCosts:
    """The :class:`RunCosts` of the ``listed`` runs and the waiting ones' ``stand_ins``, from ``records``."""
    stored = [(c, records[c.hash]) for c in listed if records[c.hash] and records[c.hash]["status"] != "failed"]
    at_threads = {c.hash: _recorded_threads(r) for c, r in stored}
    estimated, untimed = _table_seconds([(c, at_threads.get(c.hash, threads)) for c in [*listed, *stand_ins]])
    # (config, threads, train seconds, wall seconds) of each run with both timings
    measured = [(c, _recorded_threads(r), *_timings(r)) for c, r in stored if _timings(r) is not None]

    def measure(count: int | None, runs: Any) -> ThreadCosts:
        runs = list(runs)
        price = _table_seconds([(config, used) for config, used, _, _ in runs])[0]
        return ThreadCosts(count, len(runs), sum(run[2] for run in runs), price.train, sum(run[3] for run in runs),
                           price.total)

    whole = measure(None, measured)
    return RunCosts(experiment, dataset, planned=len(listed) + len(stand_ins), stored=len(stored),
                    diverged=sum(record["status"] == "diverged" for _, record in stored), untimed=untimed,
                    unmeasured=len(stored) - len(measured), estimated_seconds=estimated.total,
                    estimated_measured_seconds=whole.estimated_seconds, train_seconds=whole.train_seconds,
                    wall_seconds=whole.wall_seconds, threads=tuple(measure(count, runs) for count, runs in groupby(
                        sorted(measured, key=lambda run: run[1] or 0), key=lambda run: run[1])),
                    estimated_evaluate_seconds=estimated.evaluate,
                    estimated_measured_wall_seconds=whole.estimated_wall_seconds)


def _busy(records: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None, float]:
    """First start, last end and the length of the union of the records' training intervals."""
    intervals = sorted((end - _dt.timedelta(seconds=wall), end) for end, wall in (
        (_dt.datetime.fromisoformat(r["provenance"]["date"]), _timings(r)[1]) for r in records))
    if not intervals:
        return None, None, 0.0
    blocks = [list(intervals[0])]  # the union: disjoint [start, end] blocks, in order
    for start, end in intervals[1:]:
        if start > blocks[-1][1]:
            blocks.append([start, end])
        blocks[-1][1] = max(blocks[-1][1], end)
    return (blocks[0][0].isoformat(timespec="seconds"), blocks[-1][1].isoformat(timespec="seconds"),
            sum((end - start).total_seconds() for start, end in blocks))


def sweep_costs(names: Sequence[str], profile: str | Profile, options: PlanOptions, *,
                threads: int | None = None) -> SweepCosts:
    """What the sweep of experiments ``names`` costs, per experiment and dataset and in all; trains nothing."""
    chosen = get_profile(profile)
    results_dir = options.results_dir
    plans = sweep_plans(names, chosen, options)
    first, second, stand_ins = _stages(plans)
    records = {c.hash: load_record(c, chosen.name, results_dir) for c in first + second}
    default = sweep_threads(threads=threads)
    order = {dataset: index for index, dataset in enumerate(chosen.budgets)}
    rows = []
    for plan in plans:
        listed = _unique(plan.selection + plan.report)
        for dataset in sorted({c.dataset for c in listed + plan.stand_ins}, key=order.__getitem__):
            rows.append(_run_costs(plan.name, dataset, [c for c in listed if c.dataset == dataset],
                                   [c for c in plan.stand_ins if c.dataset == dataset], records, default))
    total = _run_costs("all", "all", first + second, stand_ins, records, default)
    stored = [r for r in records.values() if r and r["status"] != "failed" and _timings(r) is not None]
    kinds = Counter(recorded_processor(r["provenance"]) for r in stored)
    return SweepCosts(rows, total, *_busy(stored), processors=tuple(kinds.most_common()))
