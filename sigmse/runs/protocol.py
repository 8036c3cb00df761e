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
the same way by ``sigmse sweep``, ``sigmse book``, the notebooks and the tests
(:func:`sigmse.runs.experiments.plan_experiment`, which applies this module's rules to each experiment).
Experiments that choose nothing (the learning-rate sweep shows every rate, or a grid holds one rate) train
with the reporting seeds directly.

The module also prices runs before they train (:func:`estimate_seconds`): per kind of run, seconds per
image-epoch from the stored runs of that kind, else from the table measured on 2 CPU cores
(:data:`MEASURED_SECONDS_PER_IMAGE`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from sigmse.config import RunConfig
from sigmse.data.datasets import get_dataset_spec

__all__ = ["lr_group", "Score", "default_score", "chosen_learning_rates", "report_configs",
           "MEASURED_SECONDS_PER_IMAGE", "MEASURED_TABLE_THREADS", "CostKind", "cost_kind",
           "stored_seconds_per_image", "run_seconds", "estimate_seconds"]

_NOT_GROUP = ("lr", "seed", "noise_seed", "device")  # what varies inside a group of the learning-rate choice


def lr_group(config: RunConfig) -> str:
    """The group of ``config`` for the learning-rate choice: its canonical JSON without lr, seeds and device."""
    data = {k: v for k, v in config.to_dict().items() if k not in _NOT_GROUP}
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def default_score(config: RunConfig, record: Mapping[str, Any]) -> float:
    """Final validation accuracy, or chance level for a run that diverged (or measured none)."""
    value = record.get("metrics", {}).get("val_acc") if record["status"] == "ok" else None
    return 1.0 / get_dataset_spec(config.dataset).num_classes if value is None else float(value)


Score = Callable[[Any, Mapping[str, Any]], float]  # (config, record) -> selection score, higher is better


def chosen_learning_rates(configs: Iterable[RunConfig], records: Iterable[Mapping[str, Any]], *,
                          score: Score = default_score) -> dict[str, float]:
    """Per :func:`lr_group`, the learning rate with the best mean selection score (ties: the smaller rate).

    ``records`` are the stored records of ``configs`` in the same order. ``score`` (default: final validation
    accuracy, chance level when diverged) may be replaced by an experiment whose runs have other outputs (e.g.
    :func:`sigmse.unification.config.validationdefault_score`); it must read validation metrics only. A failed run has
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
                   report_seeds: Sequence[int], *, score: Score = default_score) -> list[RunConfig]:
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


# Training seconds per image and epoch on 2 CPU cores (evaluation four times an epoch included), measured with
# `sigmse train` on full data, one run at a time with 2 torch threads: a full MNIST MLP epoch about 0.75 s plus
# 0.2 s of validation, a CIFAR-10 `cnn` epoch about 20 s plus 4 s. Used by estimate_seconds where the store has
# no run of that kind yet. A unification run (sigmse.unification) trains the same MLP trunk on the same MNIST
# images and takes the (mnist, mlp) entry: it evaluates once, after its last epoch, so the entry's validation
# share overstates it (by up to 0.2 s of the 0.95 s an epoch).
MEASURED_SECONDS_PER_IMAGE: dict[tuple[str, str], float] = {
    ("mnist", "mlp"): 0.95 / 55_000,
    ("fashion-mnist", "mlp"): 0.95 / 55_000,
    ("cifar10", "mlp"): 2.4 / 45_000,
    ("cifar10", "cnn"): 24.0 / 45_000,
}
MEASURED_TABLE_THREADS = 2  # torch threads of the runs that measured the table, one run at a time

CostKind = tuple[str, str, str]  # (record folder, dataset, model): runs of one kind cost alike per image-epoch


def cost_kind(config: Any) -> CostKind:
    """The kind of run whose stored costs price ``config``: its config class's record folder (``""`` for a
    :class:`~sigmse.config.RunConfig`, ``"unification"``), its dataset and its model."""
    return config.record_folder, config.dataset, config.model


def _images(config: Any) -> int:
    full = get_dataset_spec(config.dataset).train_size - config.val_size
    return full if config.train_subset is None else min(full, config.train_subset)


def stored_seconds_per_image(configs: Iterable[Any], profile: str, results_dir: str | Path) -> dict[CostKind, float]:
    """Per kind of the runs ``configs`` (:func:`cost_kind`), the median training seconds per image-epoch of the
    ``ok`` runs of that kind stored in ``results_dir/profile/<record folder>/`` (a kind with none is left out).

    Records are read as plain JSON: a cost needs only the status, the kind and three metrics (``train_seconds``,
    ``n_train``, ``epochs_run``), which records of every kind carry; an unreadable file is skipped (the planner's
    own reads report it). A config class whose model is fixed (``UnificationConfig.model``) does not store it.
    """
    classes = {type(config).record_folder: type(config) for config in configs}
    wanted = {cost_kind(config) for config in configs}
    measured: dict[CostKind, list[float]] = {}
    for folder, config_class in sorted(classes.items()):
        for path in sorted((Path(results_dir) / profile / folder).glob("*.json")):
            try:
                record = json.loads(path.read_text())
                config, metrics = record["config"], record["metrics"]
                kind = (folder, config["dataset"], config.get("model", getattr(config_class, "model", None)))
                images = metrics.get("n_train", 0) * metrics.get("epochs_run", 0)
                seconds = float(metrics["train_seconds"]) if images else 0.0
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if record.get("status") == "ok" and kind in wanted and images:
                measured.setdefault(kind, []).append(seconds / images)
    return {kind: sorted(values)[len(values) // 2] for kind, values in measured.items()}


def run_seconds(config: Any, stored: Mapping[CostKind, float] | None = None) -> float | None:
    """Estimated training seconds of one run: its images x epochs x the seconds per image-epoch of its kind,
    from ``stored`` (:func:`stored_seconds_per_image`) where given, else from :data:`MEASURED_SECONDS_PER_IMAGE`;
    ``None`` for a kind in neither (ResNet-9, say): said, not guessed."""
    cost = (stored or {}).get(cost_kind(config), MEASURED_SECONDS_PER_IMAGE.get((config.dataset, config.model)))
    return None if cost is None else cost * _images(config) * config.epochs


def estimate_seconds(configs: Sequence[Any], profile: str, results_dir: str | Path | None) -> tuple[float, str]:
    """Estimated training seconds of ``configs`` on this kind of machine, and where the per-epoch costs came from.

    Per kind of run (:func:`cost_kind`: a unification run is priced by unification runs, not by the runs of the
    accuracy table), the cost of one image-epoch is the median over the runs of that kind already stored in
    ``results_dir/profile`` (:func:`stored_seconds_per_image`), else :data:`MEASURED_SECONDS_PER_IMAGE`;
    ``results_dir=None`` prices from the table alone, as for an empty store. A kind in neither is left out of
    the total and counted in the note. Returns the total and a short note of the sources.
    """
    stored = {} if results_dir is None else stored_seconds_per_image(configs, profile, results_dir)
    total, sources, unknown = 0.0, set(), 0
    for config in configs:
        seconds = run_seconds(config, stored)
        if seconds is None:
            unknown += 1
            continue
        sources.add("stored runs" if cost_kind(config) in stored else "measured table")
        total += seconds
    note = " and ".join(sorted(sources)) or "nothing timed"
    return total, note + (f"; {unknown} runs of a kind never timed here not counted" if unknown else "")
