"""The experiment registry: every experiment's runs, how each kind of run trains, and what each chapter reads.

One table answers, for the CLI, the book, the notebooks and the tests alike:

* :data:`EXPERIMENTS`: each experiment of the book, unification included, as a frozen :class:`Experiment`
  (its name, the function listing its runs for a profile and seeds, whether its runs choose a learning rate,
  and the score they choose by);
* :data:`RUN_KINDS`: how a run of each config class trains and how its stored record is checked
  (:class:`RunKind`): a :class:`~sigmse.config.RunConfig` trains with :func:`sigmse.train.train`, a
  :class:`~sigmse.unification.config.UnificationConfig` with :func:`sigmse.unification.train.train_unification`;
* :data:`CHAPTERS`: each chapter notebook's experiments, the datasets it loads itself and the glue keys the
  book's own pages read from it (:class:`Chapter`).

Planning follows :mod:`sigmse.runs.protocol`: :func:`plan_experiment` lists the selection runs and the
reporting runs they choose from what is stored, :func:`plan_stages` and :func:`sweep_stages` do it for several
experiments at once, and :func:`run_experiment` trains both stages through the sweep engine
(:func:`sigmse.runs.executors.run_configs`) and returns the records. :func:`estimate_sweep` prices what a
sweep has left to train, and :func:`sweep_costs` what its runs cost, per experiment and dataset: estimated
before training and measured by the stored records. An unknown name raises a ``ValueError``
that lists the valid ones. The entries are frozen dataclasses keyed by lower-case names, as in timm's
registries (``timm/models/_registry.py``, ``timm/optim/_optim_factory.py``).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sigmse.config import IdentifiedConfig, RunConfig, config_from_dict
from sigmse.runs import profiles
from sigmse.runs.profiles import Profile, get_profile
from sigmse.runs.protocol import Score, default_score, estimate_seconds, lr_group, report_configs, run_seconds
from sigmse.runs.store import read_record, record_path, validate_record
from sigmse.train import train
from sigmse.unification.config import (UnificationConfig, selection_configs, unification_config_from_dict,
                                       validation_score)
from sigmse.unification.train import train_unification, validate_unification_record

__all__ = ["RunKind", "RUN_KINDS", "run_kind", "load_record", "Experiment", "EXPERIMENTS", "experiment_names",
           "get_experiment", "experiment_configs", "Chapter", "CHAPTERS", "chapter_experiments", "ExperimentPlan",
           "plan_experiment", "ExperimentRecords", "run_experiment", "plan_stages", "sweep_stages", "SweepEstimate",
           "estimate_sweep", "RunCosts", "ThreadCosts", "SweepCosts", "sweep_costs"]


# ---- kinds of run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunKind:
    """How a run of ``config_type`` trains and how its record is checked.

    ``train(config, data_dir)`` returns the trainer's result (``status``, ``history``, ``metrics``, ...);
    ``validate(record, expected_hash=...)`` lists a stored record's problems (:func:`sigmse.runs.store.read_record`);
    ``record_fields`` go into every record of the kind (a unification record says which experiment it is);
    ``from_dict`` rebuilds the config from a record's ``config`` (``sigmse audit`` retrains it). The records of a
    kind live in ``<results>/<profile>/<config_type.record_folder>/``.
    """

    config_type: type
    train: Callable[[Any, str | Path | None], dict[str, Any]]
    validate: Callable[..., list[str]]
    record_fields: Mapping[str, Any]
    from_dict: Callable[[Mapping[str, Any]], Any]


def _train_run(config: RunConfig, data_dir: str | Path | None) -> dict[str, Any]:
    return train(config, data_dir=data_dir, progress=False)  # the sweep engine draws its own bar, over runs


def _train_unification(config: UnificationConfig, data_dir: str | Path | None) -> dict[str, Any]:
    return train_unification(config, data_dir)


RUN_KINDS = (RunKind(RunConfig, _train_run, validate_record, {}, config_from_dict),
             RunKind(UnificationConfig, _train_unification, validate_unification_record, {"experiment": "unification"},
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

    ``configs(profile, *, datasets=None, seeds=None, device=None)`` lists the runs (``seeds`` default to the
    profile's reporting seeds). ``selects_lr``: the runs choose a learning rate per group with the selection
    seeds, by ``score`` (higher is better; validation metrics only), and the chosen rate trains again with the
    reporting seeds (:mod:`sigmse.runs.protocol`); otherwise every run is reported.
    """

    name: str
    description: str
    configs: Callable[..., list[Any]]
    selects_lr: bool = True
    score: Score = default_score


def _unification_configs(profile: Profile, *, datasets: Sequence[str] | None = None,
                         seeds: Sequence[int] | None = None, device: str | None = None) -> list[UnificationConfig]:
    """Every unification method x learning rate x seed, on rotated MNIST (its only dataset in the book)."""
    if datasets is not None and list(datasets) != ["mnist"]:
        raise ValueError(f"the unification experiment runs on mnist only; got datasets {list(datasets)}")
    return selection_configs(profile, seeds=seeds, device=device)


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment("accuracy", "headline table and convergence: datasets x losses x lr grid x seeds",
                   profiles.accuracy_configs),
        Experiment("output_reset", "Output Reset ablation (shift, targets)", profiles.output_reset_ablation_configs),
        Experiment("lr_sweep", "accuracy versus learning rate with plain SGD", profiles.sgd_lr_sweep_configs,
                   selects_lr=False),
        Experiment("noise", "label noise (symmetric, asymmetric) and input noise: datasets x settings x "
                   "noise losses x lr grid x seeds", profiles.noise_configs),
        Experiment("unification", "one network for a digit and its rotation angle: methods x lr grid x seeds",
                   _unification_configs, score=validation_score),
    )
}


def experiment_names() -> list[str]:
    return list(EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    """The registry entry ``name``; an unknown name raises ``ValueError`` listing the experiments."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def experiment_configs(name: str, profile: str | Profile, **options: Any) -> list[Any]:
    """The runs of experiment ``name`` under ``profile`` (a name or a :class:`Profile`) for the given ``seeds``
    (default: the reporting seeds); :func:`plan_experiment` builds the selection and reporting runs from it."""
    return get_experiment(name).configs(_profile(profile), **options)


def _profile(profile: str | Profile) -> Profile:
    return get_profile(profile) if isinstance(profile, str) else profile


# ---- chapters ----------------------------------------------------------------------------------------------


def _claim_cells(prefix: str) -> tuple[str, ...]:
    """The glue keys of one row of the intro's claim table (see :func:`sigmse.report.chapters.claim_cells`)."""
    return (prefix, *(f"{prefix}_{cell}" for cell in ("effect", "margin", "seeds", "profile")))


VERDICT_DATASETS = ("mnist", "fashion-mnist", "cifar10")  # the intro's claim table has a row for each


def _per_dataset(prefix: str) -> tuple[str, ...]:
    return tuple(key for dataset in VERDICT_DATASETS for key in _claim_cells(f"{prefix}_{dataset.replace('-', '_')}"))


@dataclass(frozen=True)
class Chapter:
    """A chapter notebook (``notebooks/<name>.ipynb``): the experiments whose runs it reads (``sigmse book``
    trains them first, as one sweep), the datasets it loads itself, and the glue keys that the book's own pages
    read from it (``sigmse book`` checks each executed copy glued them)."""

    name: str
    experiments: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    verdict_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.experiments:
            get_experiment(name)


# Glue keys are short plain strings, e.g. glue("claim_noise", "better: ...", display=False); a verdict says
# what the evidence shows in a few words with the numbers it rests on (computed, never typed). The book's pages
# read them as {glue:text}`/notebooks/<name>.ipynb::<key>:s` (the trailing ``:s`` is needed: without a format
# spec the role splits ``::`` wrongly).
CHAPTERS: dict[str, Chapter] = {
    c.name: c
    for c in (
        # the intro's claim-table cells per dataset: claim_accuracy_<dataset>[_effect|_margin|_seeds|_profile]
        Chapter("accuracy", ("accuracy",), verdict_keys=_per_dataset("claim_accuracy")),
        # area under the validation curve and time to accuracy levels, sigmoid-MSE+OR versus softmax CE
        Chapter("convergence", ("accuracy",),
                verdict_keys=("convergence_verdict", *_per_dataset("claim_convergence"))),
        Chapter("output_reset", ("output_reset", "lr_sweep")),
        # accuracy under label noise, sigmoid-MSE+OR versus softmax CE and the robust losses
        Chapter("noise", ("noise",), verdict_keys=("noise_verdict", *_claim_cells("claim_noise"))),
        # is the loss surface of sigmoid-MSE cliff-ridden or badly conditioned at extreme logits?
        Chapter("landscape", verdict_keys=("landscape_verdict",)),
        # one MSE objective for a digit and its rotation angle versus separate CE + MSE heads
        Chapter("unification", ("unification",), verdict_keys=("unification_verdict",)),
        # sigmse.bench.chapter: the bench's MNIST mlp and cnn and CIFAR-10 net, and an epoch of each profile dataset
        Chapter("performance", datasets=("mnist", "fashion-mnist", "cifar10")),
    )
}


def chapter_experiments(name: str) -> tuple[str, ...]:
    """The experiments chapter ``name`` reads; none for a chapter the registry does not list."""
    chapter = CHAPTERS.get(name)
    return chapter.experiments if chapter else ()


# ---- planning ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentPlan:
    """The runs of one experiment: ``selection`` (empty when it chooses nothing) and the ``report`` runs that can
    be listed now, those of every group whose selection runs are all stored. The reporting runs of the other
    groups wait: ``stand_ins`` holds one per waiting run, its group's first selection run with that run's
    reporting seed (its rate is not chosen yet, but it trains the same data for the same epochs, so it costs the
    same); ``waiting`` counts them, and ``report_count`` is all reporting runs once every group has chosen."""

    name: str
    selection: list[Any]
    report: list[Any]
    stand_ins: list[Any] = field(default_factory=list)

    @property
    def waiting(self) -> int:
        return len(self.stand_ins)

    @property
    def report_count(self) -> int:
        return len(self.report) + self.waiting


def _seeds(given: Sequence[int] | None, default: tuple[int, ...]) -> tuple[int, ...]:
    return default if given is None else tuple(given)


def plan_experiment(name: str, profile: str | Profile, *, results_dir: str | Path, datasets: Sequence[str] | None = None,
                    selection_seeds: Sequence[int] | None = None, seeds: Sequence[int] | None = None,
                    device: str | None = None) -> ExperimentPlan:
    """The runs of experiment ``name``, reading the selection records stored under ``results_dir``.

    ``selection_seeds`` and ``seeds`` (the reporting seeds) default to the profile's.
    """
    chosen = _profile(profile)
    experiment = get_experiment(name)
    report_seeds = _seeds(seeds, chosen.report_seeds)
    if not experiment.selects_lr:  # its own default seeds (the profile's reporting or sweep seeds) unless given
        return ExperimentPlan(name, [], experiment.configs(chosen, datasets=datasets, seeds=seeds, device=device))
    chosen_selection = _seeds(selection_seeds, chosen.selection_seeds)
    overlap = sorted(set(chosen_selection) & set(report_seeds))
    if overlap:
        raise ValueError(f"seeds {overlap} are both selection seeds {list(chosen_selection)} and reporting seeds "
                         f"{list(report_seeds)}; report with fresh seeds only")
    selection = experiment.configs(chosen, datasets=datasets, seeds=chosen_selection, device=device)
    rates: dict[str, set[float]] = {}
    for config in selection:
        rates.setdefault(lr_group(config), set()).add(config.lr)
    if all(len(grid) == 1 for grid in rates.values()):  # a grid of one rate: nothing to choose
        return ExperimentPlan(name, [], experiment.configs(chosen, datasets=datasets, seeds=report_seeds,
                                                           device=device))
    records = [load_record(c, chosen.name, results_dir) for c in selection]
    missing = {lr_group(c) for c, r in zip(selection, records) if r is None or r["status"] == "failed"}
    ready = [(c, r) for c, r in zip(selection, records) if lr_group(c) not in missing]
    report = (report_configs([c for c, _ in ready], [r for _, r in ready], report_seeds, score=experiment.score)
              if ready else [])
    first_of_group = {}
    for config in selection:
        if lr_group(config) in missing:
            first_of_group.setdefault(lr_group(config), config)
    stand_ins = [config.with_(seed=seed) for config in first_of_group.values() for seed in report_seeds]
    return ExperimentPlan(name, selection, report, stand_ins)


@dataclass(frozen=True)
class ExperimentRecords:
    """What a chapter reads: the selection records (the learning-rate table) and the reporting records."""

    selection: list[dict[str, Any]]
    report: list[dict[str, Any]]


def run_experiment(name: str, profile: str | Profile, run: Callable[[list[Any]], list[dict[str, Any]]], *,
                   results_dir: str | Path, **options: Any) -> ExperimentRecords:
    """Train (through ``run``, which returns the records of the configs it is given) the selection runs, then
    the reporting runs they choose, and return both. ``options`` go to :func:`plan_experiment`."""
    plan = plan_experiment(name, profile, results_dir=results_dir, **options)
    selection = run(plan.selection) if plan.selection else []
    if plan.waiting:
        plan = plan_experiment(name, profile, results_dir=results_dir, **options)
    if plan.waiting:
        raise ValueError(f"experiment {name!r}: selection runs failed, so not every learning rate can be chosen")
    return ExperimentRecords(selection, run(plan.report))


def _unique(configs: Any) -> list[Any]:
    return list({config.hash: config for config in configs}.values())


def plan_stages(names: Sequence[str], profile: str | Profile, *, results_dir: str | Path,
                **options: Any) -> tuple[list[Any], list[Any], int]:
    """The runs that can train now, in two stages, for the experiments ``names`` (duplicates once).

    Returns ``(first, second, waiting)``: ``first`` holds every selection run and the runs of experiments that
    choose nothing; ``second`` the reporting runs of the groups whose selection runs are all stored; ``waiting``
    counts the reporting runs that cannot be listed yet because their group's selection runs are missing (a run
    two experiments share, once).
    """
    first, second, stand_ins = _stages([plan_experiment(name, profile, results_dir=results_dir, **options)
                                        for name in names])
    return first, second, len(stand_ins)


def _stages(plans: Sequence[ExperimentPlan]) -> tuple[list[Any], list[Any], list[Any]]:
    """:func:`plan_stages` of these plans, with the stand-ins of the waiting reporting runs (a group that two
    experiments share, such as plain sigmoid-MSE in the accuracy table and the ablation, waits once)."""
    first = _unique(c for plan in plans for c in (plan.selection or plan.report))
    second = _unique(c for plan in plans if plan.selection for c in plan.report)
    return first, second, _unique(c for plan in plans for c in plan.stand_ins)


def sweep_stages(names: Sequence[str], profile: str | Profile, run: Callable[[list[Any]], Any], *,
                 results_dir: str | Path, **options: Any) -> list[Any]:
    """Run the selection stage with ``run`` (e.g. :func:`sigmse.runs.executors.run_configs`), then the reporting
    runs it chose; returns what ``run`` returned for each stage that had runs. Reporting runs of a group whose
    selection runs failed are skipped: ``run``'s summary of the first stage lists the failures."""
    first, _, _ = plan_stages(names, profile, results_dir=results_dir, **options)
    outcomes = [run(first)] if first else []
    _, second, _ = plan_stages(names, profile, results_dir=results_dir, **options)
    if second:
        outcomes.append(run(second))
    return outcomes


@dataclass(frozen=True)
class SweepEstimate:
    """What a sweep of some experiments has left: runs listed now, how many are stored, how many reporting runs
    wait for their selection runs, and the estimated training seconds of the rest on this kind of machine
    (:func:`sigmse.runs.protocol.estimate_seconds`; ``source`` says where the per-epoch costs came from)."""

    listed: int
    stored: int
    waiting: int
    seconds: float
    source: str

    @property
    def total(self) -> int:
        return self.listed + self.waiting

    @property
    def to_train(self) -> int:
        return self.listed - self.stored + self.waiting

    @property
    def duration_text(self) -> str:
        """The estimate for a person: minutes under an hour (a quick book's 0.2 hours reads as nothing), else
        hours to one decimal."""
        if self.seconds < 3600:
            return f"{self.seconds / 60:.0f} minutes"
        return f"{self.seconds / 3600:.1f} hours"


def estimate_sweep(names: Sequence[str], profile: str | Profile, *, results_dir: str | Path,
                   **options: Any) -> SweepEstimate:
    """The runs of experiments ``names`` still to train and their estimated cost. A reporting run not listed yet
    costs what its stand-in costs (:class:`ExperimentPlan`: its group's budget, another seed and rate)."""
    chosen = _profile(profile)
    first, second, stand_ins = _stages([plan_experiment(name, chosen, results_dir=results_dir, **options)
                                        for name in names])
    listed = first + second
    missing = [c for c in listed if load_record(c, chosen.name, results_dir) is None]
    seconds, source = estimate_seconds(missing + stand_ins, chosen.name, results_dir)
    return SweepEstimate(len(listed), len(listed) - len(missing), len(stand_ins), seconds, source)


# ---- what a sweep cost -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunCosts:
    """What the runs of one experiment on one dataset cost (``experiment`` and ``dataset`` are ``"all"`` for
    the whole sweep), estimated before training and measured once stored.

    ``planned``: its runs once every learning rate is chosen (listed now, or waiting); ``stored``: of those, the
    runs with a record that finished (``ok``, or ``diverged``: those stop at the epoch they diverge, so they
    cost less than their estimate). ``estimated_seconds``: every planned run priced from
    :data:`~sigmse.runs.protocol.MEASURED_SECONDS_PER_IMAGE` alone, as for an empty store: the estimate made
    before training (what ``sigmse sweep --dry-run`` prints before any run is stored); ``untimed`` planned runs
    are of a kind that table does not know and are in no estimate. The measured totals are over the stored
    records that carry both timings (``unmeasured`` counts those that do not): ``train_seconds``, the sum of
    their ``metrics.train_seconds`` (the epochs, with their evaluations), ``wall_seconds``, the sum of their
    ``provenance.wall_seconds`` (also data loading, the final evaluation and storing), and
    ``estimated_measured_seconds``, the table's price of the same runs, to compare like with like.
    ``threads``: per torch thread count of those records, a :class:`ThreadCosts`. Each is a sum over runs:
    runs that trained side by side (``sigmse sweep --jobs 2``) add their seconds as core time does.
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


@dataclass(frozen=True)
class ThreadCosts:
    """The measured runs of a :class:`RunCosts` that trained with ``threads`` torch threads: how many, their
    summed ``train_seconds`` and the measured table's price of them (measured with
    :data:`~sigmse.runs.protocol.MEASURED_TABLE_THREADS` threads, one run at a time)."""

    threads: int | None
    runs: int
    train_seconds: float
    estimated_seconds: float


@dataclass(frozen=True)
class SweepCosts:
    """:class:`RunCosts` per experiment and dataset (``rows``) and for the whole sweep (``total``: each run once,
    though two experiments may list it), and when the stored runs trained: ``first_start`` and ``last_end``
    (UTC, ISO 8601; ``None`` with nothing stored) and ``busy_seconds``, the time during which at least one of
    them was training (the union of their ``[date - wall_seconds, date]`` intervals; a record's date is when it
    was stored). A sweep stopped and resumed across sessions has gaps between the two ends, which
    ``busy_seconds`` leaves out (and, with them, the moments between one run and the next of a worker)."""

    rows: list[RunCosts]
    total: RunCosts
    first_start: str | None
    last_end: str | None
    busy_seconds: float


def _table_seconds(configs: Sequence[Any]) -> tuple[float, int]:
    """The measured table's price of ``configs`` (as for an empty store) and how many it cannot price."""
    priced = [run_seconds(config) for config in configs]
    return sum(seconds for seconds in priced if seconds is not None), sum(seconds is None for seconds in priced)


def _timings(record: Mapping[str, Any]) -> tuple[float, float] | None:
    """A stored record's ``(train_seconds, wall_seconds)``; ``None`` where either is missing."""
    train_seconds = record.get("metrics", {}).get("train_seconds")
    wall_seconds = record.get("provenance", {}).get("wall_seconds")
    return None if train_seconds is None or wall_seconds is None else (float(train_seconds), float(wall_seconds))


def _run_costs(experiment: str, dataset: str, listed: Sequence[Any], stand_ins: Sequence[Any],
               records: Mapping[str, dict[str, Any] | None]) -> RunCosts:
    """The :class:`RunCosts` of the ``listed`` runs and the waiting ones' ``stand_ins``, from ``records`` (by hash,
    ``None`` where a listed run is not stored)."""
    stored = [(c, records[c.hash]) for c in listed if records[c.hash] and records[c.hash]["status"] != "failed"]
    measured = [(config, record) for config, record in stored if _timings(record) is not None]
    estimated, untimed = _table_seconds([*listed, *stand_ins])
    by_threads: dict[int | None, list[tuple[Any, dict[str, Any]]]] = {}
    for config, record in measured:
        by_threads.setdefault(record["provenance"].get("torch_threads"), []).append((config, record))
    threads = tuple(ThreadCosts(count, len(runs), sum(_timings(r)[0] for _, r in runs),
                                _table_seconds([c for c, _ in runs])[0])
                    for count, runs in sorted(by_threads.items(), key=lambda item: item[0] or 0))
    return RunCosts(experiment, dataset, planned=len(listed) + len(stand_ins), stored=len(stored),
                    diverged=sum(record["status"] == "diverged" for _, record in stored), untimed=untimed,
                    unmeasured=len(stored) - len(measured), estimated_seconds=estimated,
                    estimated_measured_seconds=_table_seconds([c for c, _ in measured])[0],
                    train_seconds=sum(_timings(r)[0] for _, r in measured),
                    wall_seconds=sum(_timings(r)[1] for _, r in measured), threads=threads)


def _busy(records: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None, float]:
    """First start, last end and the length of the union of the records' training intervals."""
    intervals = sorted((end - _dt.timedelta(seconds=wall), end) for end, wall in (
        (_dt.datetime.fromisoformat(r["provenance"]["date"]), _timings(r)[1]) for r in records))
    if not intervals:
        return None, None, 0.0
    busy, (start, end) = 0.0, intervals[0]
    for next_start, next_end in intervals[1:]:
        if next_start > end:
            busy += (end - start).total_seconds()
            start = next_start
        end = max(end, next_end)
    busy += (end - start).total_seconds()
    return (intervals[0][0].isoformat(timespec="seconds"), max(e for _, e in intervals).isoformat(timespec="seconds"),
            busy)


def sweep_costs(names: Sequence[str], profile: str | Profile, *, results_dir: str | Path,
                **options: Any) -> SweepCosts:
    """What the sweep of experiments ``names`` costs, per experiment and dataset and in all (:class:`SweepCosts`):
    its runs planned as :func:`plan_experiment` lists them from what is stored (``options`` go there), priced
    before training from the measured table, and the timings of the records stored under ``results_dir``.
    Reads the store; trains nothing."""
    chosen = _profile(profile)
    plans = [plan_experiment(name, chosen, results_dir=results_dir, **options) for name in names]
    first, second, stand_ins = _stages(plans)
    records = {c.hash: load_record(c, chosen.name, results_dir) for c in first + second}
    order = {dataset: index for index, dataset in enumerate(chosen.budgets)}
    rows = []
    for plan in plans:
        listed = _unique(plan.selection + plan.report)
        for dataset in sorted({c.dataset for c in listed + plan.stand_ins}, key=order.__getitem__):
            rows.append(_run_costs(plan.name, dataset, [c for c in listed if c.dataset == dataset],
                                   [c for c in plan.stand_ins if c.dataset == dataset], records))
    total = _run_costs("all", "all", first + second, stand_ins, records)
    stored = [r for r in records.values() if r and r["status"] != "failed" and _timings(r) is not None]
    return SweepCosts(rows, total, *_busy(stored))
