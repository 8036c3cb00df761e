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
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from sigmse.config import RunConfig
from sigmse.runs.store import read_record
from sigmse.data.datasets import get_dataset_spec

__all__ = ["lr_group", "Score", "default_score", "chosen_learning_rates", "report_configs",
           "MEASURED_SECONDS_PER_IMAGE", "estimate_seconds"]

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
# `sigmse train` on full data: a full MNIST MLP epoch about 0.75 s plus 0.2 s of validation, a CIFAR-10 `cnn`
# epoch about 20 s plus 4 s. Used by estimate_seconds where the store has no run of that kind yet.
MEASURED_SECONDS_PER_IMAGE: dict[tuple[str, str], float] = {
    ("mnist", "mlp"): 0.95 / 55_000,
    ("fashion-mnist", "mlp"): 0.95 / 55_000,
    ("cifar10", "mlp"): 2.4 / 45_000,
    ("cifar10", "cnn"): 24.0 / 45_000,
}


def _images(config: RunConfig) -> int:
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
