"""The reporting protocol: choose each learning rate with *selection* seeds, report with *fresh* seeds.

Per group (a configuration less its rate and seeds), the rate with the highest mean validation score over the
selection seeds wins (a diverged run scores chance level; ties go to the smaller rate; test metrics are never
read), and trains again with reporting seeds that never overlap them (Bouthillier et al., MLSys 2021). A profile
may add the grid-edge rule (:func:`half_decade_step`). ``book/method.md`` explains the protocol;
:func:`sigmse.runs.experiments.plan_experiment` applies it. The module also prices runs before they train:
``trained images x c_train + evaluated images x c_eval + setup`` (:func:`run_seconds`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from sigmse.checks import check_choice, check_number
from sigmse.config import RunConfig
from sigmse.data.datasets import get_dataset_spec
from sigmse.train import evaluation_steps

__all__ = ["lr_group", "Score", "default_score", "mean_scores", "best_rate", "chosen_learning_rates", "report_configs",
           "EDGE_SIDES", "half_decade_step", "ImageCosts", "MEASURED_COSTS_RECORDS", "MEASURED_COSTS_PROCESSOR",
           "MEASURED_IMAGE_COSTS",
           "CostKind", "image_cost_table", "run_threads", "cost_kind", "trained_images", "evaluated_images",
           "RunSeconds", "stored_image_costs", "run_seconds", "estimate_seconds"]

_NOT_GROUP = ("lr", "seed", "noise_seed", "device")  # what varies inside a group of the learning-rate choice


def lr_group(config: RunConfig) -> str:
    """The group of ``config`` for the learning-rate choice: its canonical JSON without lr, seeds and device."""
    return json.dumps({k: v for k, v in config.to_dict().items() if k not in _NOT_GROUP}, sort_keys=True,
                      separators=(",", ":"))


def default_score(config: RunConfig, record: Mapping[str, Any]) -> float:
    """Final validation accuracy, or chance level for a run that diverged (or measured none)."""
    value = record.get("metrics", {}).get("val_acc") if record["status"] == "ok" else None
    return 1.0 / get_dataset_spec(config.dataset).num_classes if value is None else float(value)


Score = Callable[[Any, Mapping[str, Any]], float]  # (config, record) -> selection score, higher is better


def mean_scores(configs: Iterable[RunConfig], records: Iterable[Mapping[str, Any]], *,
                score: Score = default_score) -> dict[str, dict[float, float]]:
    """Per :func:`lr_group` and learning rate, the mean selection score of the runs ``configs`` (``records``: theirs,
    in order; ``score`` reads validation metrics only). A failed run raises ``ValueError``: the choice would otherwise
    blame the loss for, say, a missing file.
    """
    scores: dict[str, dict[float, list[float]]] = {}
    for config, record in zip(configs, records, strict=True):
        if record["status"] == "failed":
            raise ValueError(f"selection run {config.hash} failed ({record.get('error', {}).get('message', '')}); "
                             "fix the cause and rerun the sweep before reporting runs are chosen")
        scores.setdefault(lr_group(config), {}).setdefault(config.lr, []).append(score(config, record))
    return {group: {lr: sum(values) / len(values) for lr, values in by_lr.items()} for group, by_lr in scores.items()}


def best_rate(means: Mapping[float, float]) -> float:
    """The rate with the highest mean score; ties: the smaller (it diverges less often; the larger buys nothing)."""
    return min(means, key=lambda lr: (-means[lr], lr))


def chosen_learning_rates(configs: Iterable[RunConfig], records: Iterable[Mapping[str, Any]], *,
                          score: Score = default_score) -> dict[str, float]:
    """Per :func:`lr_group`, the learning rate with the best mean selection score (:func:`best_rate`)."""
    return {group: best_rate(means) for group, means in mean_scores(configs, records, score=score).items()}


EDGE_SIDES = ("below", "above")  # where the grid-edge rule adds a rate: below the smallest, above the largest


def half_decade_step(lr: float, side: str) -> float:
    """The next learning rate beyond ``lr`` on the ladder ..., 1e-4, 3e-4, 1e-3, 3e-3, ... on ``side`` (0.05: 0.03
    below, 0.1 above), in decimal so it is exact (0.003, never 0.0030000000000000005) and hashes as ``3e-3`` would.
    """
    check_choice("side", side, EDGE_SIDES)
    check_number("lr", lr, low=0.0, low_open=True)
    value = Decimal(repr(float(lr)))
    exponent = value.adjusted()  # value = m x 10^exponent with 1 <= m < 10
    steps = [Decimal(m).scaleb(e) for e in range(exponent - 1, exponent + 2) for m in (1, 3)]
    step = max(s for s in steps if s < value) if side == "below" else min(s for s in steps if s > value)
    return float(step)


def report_configs(selection: Sequence[RunConfig], records: Sequence[Mapping[str, Any]],
                   report_seeds: Sequence[int], *, score: Score = default_score) -> list[RunConfig]:
    """The reporting runs: each group's configuration at its chosen rate, once per reporting seed."""
    overlap = sorted({c.seed for c in selection} & set(report_seeds))
    if overlap:
        raise ValueError(f"reporting seeds {overlap} are also selection seeds; report with fresh seeds only")
    chosen = chosen_learning_rates(selection, records, score=score)
    first = {lr_group(config): config for config in reversed(selection)}  # each group's first configuration
    return [first[group].with_(lr=lr, seed=seed) for group, lr in chosen.items() for seed in report_seeds]


# ---- what a run costs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageCosts:
    """Seconds per training image, per evaluated image and per run's setup (loading the data) of one kind of run on
    one machine; ``None`` where a stored record did not time it."""

    train: float
    evaluate: float | None
    setup: float | None


# Measured with `sigmse bench --costs full quick --threads T` (T = 1, then 2) and `sigmse bench --costs full2
# --threads 1` on the project's 2-core machine (an AMD EPYC, family 25 model 17), one run at a time, in the records
# MEASURED_COSTS_RECORDS (tests/test_protocol.py checks the table against them). Each entry is the mean over the
# losses the bench times (softmax CE, and sigmoid-MSE + OR, whose step costs the MLP 7 to 16% more) and over the
# records that time its kind. The machine is shared: each full/quick record is the quietest of the day's at its
# thread count. Priced with this table, the committed full-profile runs (mostly 2 side by side on a busy Xeon)
# took 1.32 times their predicted wall-clock; the stored runs of a kind replace the table once there are some.
MEASURED_COSTS_RECORDS = ("results/full/bench/costs-cpu-20261206T231722922225Z.json",
                          "results/full/bench/costs-cpu-20261206T231257158738Z.json",
                          "results/full2/bench/costs-cpu-20261207T011259533532Z.json")
MEASURED_COSTS_PROCESSOR = "AMD EPYC (family 25 model 17 stepping 1); torch AVX512"  # every record's processor_kind
MEASURED_IMAGE_COSTS: dict[tuple[str, str, int], ImageCosts] = {
    ("mnist", "mlp", 1): ImageCosts(2.4435373802190324e-05, 6.902764749986545e-06, 0.4345450567498119),
    ("fashion-mnist", "mlp", 1): ImageCosts(2.2739173698417547e-05, 6.373448550107241e-06, 0.36208183799965354),
    ("cifar10", "cnn", 1): ImageCosts(0.0007569264653167623, 0.0006474331380499961, 1.3565152829999079),
    ("cifar10", "mlp", 1): ImageCosts(6.603098089997275e-05, 2.070182974995305e-05, 0.3160112839998419),
    ("cifar10", "airbench_quarter", 1): ImageCosts(0.0008455617844238539, 0.0004229277125999943, 1.5836988704995747),
    ("mnist", "mlp", 2): ImageCosts(1.5875332382196683e-05, 3.5810684999660225e-06, 0.2841581475001931),
    ("fashion-mnist", "mlp", 2): ImageCosts(1.561971820068092e-05, 3.318519999970704e-06, 0.2083949959999245),
    ("cifar10", "cnn", 2): ImageCosts(0.0004875645339050341, 0.0003949617761000127, 0.7662414945000364),
    ("cifar10", "mlp", 2): ImageCosts(4.059061649998057e-05, 1.0958205124950382e-05, 0.17499620800003868),
}

CostKind = tuple[str, str, str, int | None]  # (record folder, dataset, model, torch threads): alike per image


def image_cost_table(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, int], ImageCosts]:
    """:data:`MEASURED_IMAGE_COSTS` from a ``sigmse bench --costs`` record's ``costs`` rows: each cost's mean over
    the losses timed, per dataset, model and thread count."""
    grouped: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["dataset"], row["model"], int(row["threads"])), []).append(row)
    return {key: ImageCosts(*(sum(float(row[name]) for row in group) / len(group)
                              for name in ("train_seconds_per_image", "eval_seconds_per_image", "setup_seconds")))
            for key, group in grouped.items()}


def run_threads(config: Any, threads: int | None = None) -> int | None:
    """The torch threads a run trains with: its config's own where it fixes them, else ``threads``."""
    return getattr(config, "threads", None) or threads


def cost_kind(config: Any, threads: int | None = None) -> CostKind:
    """The kind of run whose costs price ``config``: record folder, dataset, model and torch threads."""
    return config.record_folder, config.dataset, config.model, run_threads(config, threads)


def _trained_per_epoch(values: Mapping[str, Any]) -> int:
    """Training images of one epoch of the run configured by ``values`` (a config's or a record's dict)."""
    full = get_dataset_spec(values["dataset"]).train_size - values["val_size"]
    return full if values.get("train_subset") is None else min(full, values["train_subset"])


def _evaluated(values: Mapping[str, Any], epochs: int) -> int:
    """Images the run configured by ``values`` passes forward in evaluation mode over ``epochs`` epochs: validation
    at each :func:`sigmse.train.evaluation_steps` and test each epoch, then once per noisy-input sigma (``tta_flip``
    doubles each, plus one plain test pass); a unification run evaluates validation and test once, at the end.
    """
    spec = get_dataset_spec(values["dataset"])
    tests = spec.test_size if values.get("test_subset") is None else min(spec.test_size, values["test_subset"])
    if "evals_per_epoch" not in values:
        return values["val_size"] + tests
    steps = math.ceil(_trained_per_epoch(values) / values["batch_size"])
    per_epoch = len(evaluation_steps(steps, values["evals_per_epoch"])) * values["val_size"] + tests
    passes = 2 if values.get("tta_flip") else 1
    once = len(values.get("test_input_sigmas") or ()) * tests
    return passes * (epochs * per_epoch + once) + (tests if passes == 2 else 0)


def trained_images(config: Any) -> int:
    """Images ``config`` trains on over its budget: its training split (or subset) times its epochs."""
    return _trained_per_epoch(config.to_dict()) * config.epochs


def evaluated_images(config: Any) -> int:
    """Images ``config`` passes forward in evaluation mode over its budget (:func:`_evaluated`)."""
    return _evaluated(config.to_dict(), config.epochs)


@dataclass(frozen=True)
class RunSeconds:
    """Seconds of one run or a sum of runs: training epochs, evaluations, setup."""

    train: float = 0.0
    evaluate: float = 0.0
    setup: float = 0.0

    @property
    def total(self) -> float:
        return self.train + self.evaluate + self.setup

    def __add__(self, other: "RunSeconds") -> "RunSeconds":
        return RunSeconds(self.train + other.train, self.evaluate + other.evaluate, self.setup + other.setup)


def stored_image_costs(configs: Iterable[Any], profile: str, results_dir: str | Path,
                       threads: int | None = None) -> dict[CostKind, ImageCosts]:
    """Per kind of the runs ``configs`` (:func:`cost_kind`), the costs its stored ``ok`` runs measured: summed
    seconds (training; the wall-clock's rest for evaluation) over summed images, and the mean setup. Sums, not
    medians: a sweep's total counts its slow runs too. Unreadable files are skipped (the planner reports them).
    """
    classes = {type(config).record_folder: type(config) for config in configs}
    wanted = {cost_kind(config, threads) for config in configs}
    sums: dict[CostKind, list[float]] = {}  # trained images, train s; evaluated images, rest s; setups, setup s
    for folder, config_class in sorted(classes.items()):
        for path in sorted((Path(results_dir) / profile / folder).glob("*.json")):
            try:
                record = json.loads(path.read_text())
                config, metrics, provenance = record["config"], record["metrics"], record.get("provenance") or {}
                kind = (folder, config["dataset"], config.get("model", getattr(config_class, "model", None)),
                        provenance.get("torch_threads"))
                epochs = int(metrics.get("epochs_run", 0))
                images = metrics.get("n_train", 0) * epochs
                train = float(metrics["train_seconds"]) if images else 0.0
                setup, wall = metrics.get("setup_seconds"), provenance.get("wall_seconds")
                evaluated = _evaluated(config, epochs) if wall is not None and setup is not None else 0
                rest = max(0.0, float(wall) - train - float(setup)) if evaluated else 0.0
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if record.get("status") == "ok" and kind in wanted and images:
                total = sums.setdefault(kind, [0.0] * 6)
                for index, value in enumerate((images, train, evaluated, rest, setup is not None, setup or 0.0)):
                    total[index] += float(value)
    return {kind: ImageCosts(train / images, rest / evaluated if evaluated else None,
                             setup / setups if setups else None)
            for kind, (images, train, evaluated, rest, setups, setup) in sums.items()}


def run_seconds(config: Any, stored: Mapping[CostKind, ImageCosts] | None = None,
                threads: int | None = None) -> RunSeconds | None:
    """Estimated seconds of one run: images trained and evaluated times their costs, plus setup, each cost from
    ``stored`` where timed there, else :data:`MEASURED_IMAGE_COSTS`; ``None`` for a kind in neither (not guessed)."""
    kind = cost_kind(config, threads)
    sources = [(stored or {}).get(kind), MEASURED_IMAGE_COSTS.get((config.dataset, config.model, kind[3] or 0))]
    costs = [next((value for value in (getattr(source, name, None) for source in sources) if value is not None), None)
             for name in ("train", "evaluate", "setup")]  # each cost: the stored runs', else the table's
    if None in costs:
        return None
    train, evaluate, setup = costs
    return RunSeconds(train * trained_images(config), evaluate * evaluated_images(config), setup)


def estimate_seconds(configs: Sequence[Any], profile: str, results_dir: str | Path | None,
                     threads: int | None = None) -> tuple[RunSeconds, str]:
    """Estimated seconds of ``configs`` one run at a time at ``threads`` torch threads (:func:`run_seconds`; costs
    stored in ``results_dir/profile``, none for ``None``), and a note of where the costs came from and how many runs
    of a kind never timed are left out.
    """
    stored = {} if results_dir is None else stored_image_costs(configs, profile, results_dir, threads)
    total, sources, unknown = RunSeconds(), set(), 0
    for config in configs:
        seconds = run_seconds(config, stored, threads)
        if seconds is None:
            unknown += 1
            continue
        sources.add("stored runs" if cost_kind(config, threads) in stored else "measured table")
        total += seconds
    note = " and ".join(sorted(sources)) or "nothing timed"
    return total, note + (f"; {unknown} runs of a kind never timed here not counted" if unknown else "")
