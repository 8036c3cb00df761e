"""The reporting protocol: choose each learning rate with *selection* seeds, report with *fresh* seeds.

Choosing a learning rate on validation and then reporting the test accuracy of the very seeds that chose it
carries their luck into the headline numbers (a winner's curse: per seed, validation and test accuracy are
strongly correlated). Bouthillier et al. (MLSys 2021) ask for the opposite, and so does this module:

1. **Selection**: every configuration of an experiment trains at every learning rate of its grid with the
   profile's ``selection_seeds``. These runs only choose.
2. **Choice**: per *group* (the configuration with ``lr`` and ``seed`` left out: dataset, loss, its options,
   noise setting, ...), the learning rate with the highest mean final validation accuracy over the selection
   seeds wins; a diverged run scores chance level, so a rate that sometimes diverges is penalised rather than
   judged on its surviving seeds; ties go to the smaller rate. Test metrics are never read.
3. **Reporting**: each group trains again at its chosen rate with the profile's ``report_seeds``, which never
   overlap the selection seeds. Every table, figure and test of the book reads these runs.

The reporting runs depend on what the selection runs stored, so the list of runs is computed from the store
the same way by ``sigmse sweep``, ``sigmse book``, the notebooks and the tests (:func:`plan_experiment`).
Experiments that choose nothing (the learning-rate sweep shows every rate, or a grid holds one rate) train
with the reporting seeds directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from sigmse.config import RunConfig
from sigmse.runs.profiles import EXPERIMENTS, Profile, get_profile
from sigmse.runs.store import read_record, record_path

__all__ = ["lr_group", "chosen_learning_rates", "report_configs", "ExperimentPlan", "plan_experiment",
           "run_experiment", "ExperimentRecords", "plan_stages", "sweep_stages", "MEASURED_SECONDS_PER_IMAGE",
           "estimate_seconds"]

_NOT_GROUP = ("lr", "seed", "noise_seed", "device")  # what varies inside a group of the learning-rate choice


def lr_group(config: RunConfig) -> str:
    """The group of ``config`` for the learning-rate choice: its canonical JSON without lr, seeds and device."""
    data = {k: v for k, v in config.to_dict().items() if k not in _NOT_GROUP}
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _score(config: RunConfig, record: Mapping[str, Any]) -> float:
    """Final validation accuracy, or chance level for a run that diverged (or measured none)."""
    from sigmse.data.datasets import get_dataset_spec

    value = record.get("metrics", {}).get("val_acc") if record["status"] == "ok" else None
    return 1.0 / get_dataset_spec(config.dataset).num_classes if value is None else float(value)


Score = Callable[[Any, Mapping[str, Any]], float]  # (config, record) -> selection score, higher is better


def chosen_learning_rates(configs: Iterable[RunConfig], records: Iterable[Mapping[str, Any]], *,
                          score: Score = _score) -> dict[str, float]:
    """Per :func:`lr_group`, the learning rate with the best mean selection score (ties: the smaller rate).

    ``records`` are the stored records of ``configs`` in the same order. ``score`` (default: final validation
    accuracy, chance level when diverged) may be replaced by an experiment whose runs have other outputs (e.g.
    :func:`sigmse.unification.config.validation_score`); it must read validation metrics only. A failed run has
    no result and raises ``ValueError``: the choice would otherwise blame the loss for, say, a missing file.
    """
    scores: dict[str, dict[float, list[float]]] = {}
    for config, record in zip(configs, records, strict=True):
        if record["status"] == "failed":
            raise ValueError(f"selection run {config.hash} failed ({record.get('error', {}).get('message', '')}); "
                             "fix the cause and rerun the sweep before reporting runs are chosen")
        scores.setdefault(lr_group(config), {}).setdefault(config.lr, []).append(score(config, record))
    return {group: min(by_lr, key=lambda lr: (-sum(by_lr[lr]) / len(by_lr[lr]), lr))
            for group, by_lr in scores.items()}


def report_configs(selection: Sequence[RunConfig], records: Sequence[Mapping[str, Any]],
                   report_seeds: Sequence[int], *, score: Score = _score) -> list[RunConfig]:
    """The reporting runs: each group's configuration at its chosen rate (by ``score``, see
    :func:`chosen_learning_rates`), once per reporting seed."""
    overlap = sorted({c.seed for c in selection} & set(report_seeds))
    if overlap:
        raise ValueError(f"reporting seeds {overlap} are also selection seeds; report with fresh seeds only")
    chosen = chosen_learning_rates(selection, records, score=score)
    first = {}
    for config in selection:
        first.setdefault(lr_group(config), config)
    return [first[group].with_(lr=lr, seed=seed) for group, lr in chosen.items() for seed in report_seeds]


@dataclass(frozen=True)
class ExperimentPlan:
    """The runs of one experiment: ``selection`` (empty when it chooses nothing) and the ``report`` runs that can
    be listed now, those of every group whose selection runs are all stored; ``waiting`` counts the reporting runs
    of the other groups, and ``report_count`` all reporting runs once every group has chosen."""

    name: str
    selection: list[RunConfig]
    report: list[RunConfig]
    waiting: int = 0

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
    chosen = get_profile(profile) if isinstance(profile, str) else profile
    experiment = EXPERIMENTS.get(name)
    if experiment is None:
        raise ValueError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
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
    records = [read_record(record_path(c, chosen.name, results_dir)) for c in selection]
    missing = {lr_group(c) for c, r in zip(selection, records) if r is None or r["status"] == "failed"}
    ready = [(c, r) for c, r in zip(selection, records) if lr_group(c) not in missing]
    report = report_configs([c for c, _ in ready], [r for _, r in ready], report_seeds) if ready else []
    return ExperimentPlan(name, selection, report, len(missing) * len(report_seeds))


@dataclass(frozen=True)
class ExperimentRecords:
    """What a chapter reads: the selection records (the learning-rate table) and the reporting records."""

    selection: list[dict[str, Any]]
    report: list[dict[str, Any]]


def run_experiment(name: str, profile: str | Profile, run: Callable[[list[RunConfig]], list[dict[str, Any]]], *,
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


def _unique(configs: Iterable[RunConfig]) -> list[RunConfig]:
    return list({config.hash: config for config in configs}.values())


def plan_stages(names: Sequence[str], profile: str | Profile, *, results_dir: str | Path,
                **options: Any) -> tuple[list[RunConfig], list[RunConfig], int]:
    """The runs that can train now, in two stages, for the experiments ``names`` (duplicates once).

    Returns ``(first, second, waiting)``: ``first`` holds every selection run and the runs of experiments that
    choose nothing; ``second`` the reporting runs of the groups whose selection runs are all stored; ``waiting``
    counts the reporting runs that cannot be listed yet because their group's selection runs are missing.
    """
    plans = [plan_experiment(name, profile, results_dir=results_dir, **options) for name in names]
    first = _unique(c for plan in plans for c in (plan.selection or plan.report))
    second = _unique(c for plan in plans if plan.selection for c in plan.report)
    waiting = sum(plan.waiting for plan in plans)
    return first, second, waiting


def sweep_stages(names: Sequence[str], profile: str | Profile, run: Callable[[list[RunConfig]], Any], *,
                 results_dir: str | Path, **options: Any) -> list[Any]:
    """Run the selection stage with ``run`` (e.g. :func:`sigmse.runs.executors.run_configs`), then the reporting runs
    it chose; returns what ``run`` returned for each stage that had runs. Reporting runs of a group whose
    selection runs failed are skipped: ``run``'s summary of the first stage lists the failures."""
    first, _, _ = plan_stages(names, profile, results_dir=results_dir, **options)
    outcomes = [run(first)] if first else []
    _, second, _ = plan_stages(names, profile, results_dir=results_dir, **options)
    if second:
        outcomes.append(run(second))
    return outcomes


# Training seconds per image and epoch on 2 CPU cores (evaluation four times an epoch included), measured with
# `sigmse train` on full data: a full MNIST MLP epoch about 0.75 s plus 0.2 s of validation, a CIFAR-10 `cnn`
# epoch about 20 s plus 4 s. Used by estimate_seconds where the store has no run of that kind yet.
MEASURED_SECONDS_PER_IMAGE: dict[tuple[str, str], float] = {
    ("mnist", "mlp"): 0.95 / 55_000,
    ("fashion-mnist", "mlp"): 0.95 / 55_000,
    ("cifar10", "mlp"): 2.4 / 45_000,
    ("cifar10", "cnn"): 24.0 / 45_000,
}


def _images(config: RunConfig) -> int:
    from sigmse.data.datasets import get_dataset_spec

    full = get_dataset_spec(config.dataset).train_size - config.val_size
    return full if config.train_subset is None else min(full, config.train_subset)


def estimate_seconds(configs: Sequence[RunConfig], profile: str, results_dir: str | Path) -> tuple[float, str]:
    """Estimated training seconds of ``configs`` on this kind of machine, and where the per-epoch costs came from.

    Per (dataset, model), the cost of one image-epoch is the median over the runs of that kind already stored in
    ``results_dir/profile`` (their training seconds over their image-epochs), else
    :data:`MEASURED_SECONDS_PER_IMAGE`; a kind in neither is left out of the total and counted in the note.
    Returns the total and a short note of the sources.
    """
    measured: dict[tuple[str, str], list[float]] = {}
    folder = Path(results_dir) / profile
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record = read_record(path)
        if record is None or record["status"] != "ok":
            continue
        config, metrics = record["config"], record["metrics"]
        if metrics.get("n_train") and metrics.get("epochs_run"):
            measured.setdefault((config["dataset"], config["model"]), []).append(
                metrics["train_seconds"] / (metrics["n_train"] * metrics["epochs_run"]))
    per_image = {key: sorted(values)[len(values) // 2] for key, values in measured.items()}
    total, sources, unknown = 0.0, set(), 0
    for config in configs:
        key = (config.dataset, config.model)
        cost = per_image.get(key, MEASURED_SECONDS_PER_IMAGE.get(key))
        if cost is None:  # a kind never timed on this machine (ResNet-9, say): said, not guessed
            unknown += 1
            continue
        sources.add("stored runs" if key in per_image else "measured table")
        total += cost * _images(config) * config.epochs
    note = " and ".join(sorted(sources)) or "nothing timed"
    return total, note + (f"; {unknown} runs of a kind never timed here not counted" if unknown else "")
