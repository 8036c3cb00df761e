"""Pilots: the runs that fix a protocol's budgets before its runs exist (selection seeds only), and their rules.

* Epoch pilot (:func:`pilot_epochs`): a budget is long enough when doubling it changes softmax CE's mean
  selection-seed validation accuracy by less than half the dataset's equivalence margin (else the budget, not the
  loss, decides part of a difference; doubling is the smallest step that is a new budget on every schedule).
* Noise-fit pilot (:func:`noise_epochs`): the noise runs train for the shortest candidate, no shorter than the
  clean budget, at whose end CE visibly fits the flipped labels at every pilot rate (the noise chapter's
  :func:`~sigmse.report.noise_analysis.flipped_fit`): a budget where CE has not started memorising cannot show
  that a loss resists it. Whole runs per candidate, since a scheduled rate makes epoch e of a longer run differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.config import config_from_dict
from sigmse.report.analysis import history_frame
from sigmse.report.noise_analysis import MEMORISATION_RISE, flipped_fit, memorisation_history
from sigmse.report.verdicts import ACCURACY_MARGINS
from sigmse.runs.experiments import experiment_configs, load_record
from sigmse.runs.profiles import Profile
from sigmse.runs.protocol import default_score

__all__ = ["EPOCH_PILOT_COLUMNS", "epoch_pilot_means", "pilot_epochs", "epoch_pilot_table", "noise_fit_epoch",
           "noise_epochs", "noise_pilot_table", "trained_epochs", "epoch_pilot_text", "noise_pilot_text", "AGREE",
           "DIFFER", "UNDECIDED", "pilot_agreement"]

EPOCH_PILOT_COLUMNS = ("dataset", "epochs", "seeds", "mean_val_acc", "change", "threshold", "long_enough")


def _one(records: Sequence[Mapping[str, Any]], key: str, what: str) -> Any:
    """The single value of ``config[key]`` over ``records``; ``ValueError`` naming them if there are several."""
    values = sorted({str(record["config"][key]) for record in records})
    if len(values) != 1:
        raise ValueError(f"{what} reads the records of one {key}; got {len(values)}: {', '.join(values) or 'none'}")
    return records[0]["config"][key]


def _by_dataset(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """``records`` grouped by their config's dataset, in the order first seen."""
    by_dataset: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_dataset.setdefault(record["config"]["dataset"], []).append(record)
    return by_dataset


def epoch_pilot_means(records: Iterable[Mapping[str, Any]]) -> dict[int, tuple[float, tuple[int, ...]]]:
    """Per budget of one dataset's epoch-pilot records, softmax CE's mean selection score
    (:func:`sigmse.runs.protocol.default_score`) and its seeds; failed runs are left out."""
    kept = [record for record in records if record["status"] != "failed"]
    by_budget: dict[int, dict[int, float]] = {}
    for record in kept:
        config = config_from_dict(record["config"])
        by_budget.setdefault(config.epochs, {})[config.seed] = default_score(config, record)
    return {epochs: (sum(scores.values()) / len(scores), tuple(sorted(scores)))
            for epochs, scores in sorted(by_budget.items())}


def pilot_epochs(records: Iterable[Mapping[str, Any]], margin: float, *, candidates: Sequence[int] | None = None,
                 seeds: Sequence[int] | None = None) -> int | None:
    """The shortest budget E whose double changes CE's mean selection-seed validation accuracy by less than
    ``margin / 2``; ``None`` while undecided (a budget or its double missing for the same seeds: a missing pair is
    not skipped, so pass ``candidates`` and ``seeds`` to count unstored ones). One dataset only."""
    chosen = list(records)
    if not chosen:
        return None
    _one(chosen, "dataset", "the epoch pilot")
    means = epoch_pilot_means(chosen)
    wanted = None if seeds is None else tuple(sorted(seeds))
    for epochs in (sorted(candidates) if candidates is not None else list(means)):
        here, double = means.get(epochs), means.get(2 * epochs)
        if here is None or double is None or here[1] != double[1] or wanted not in (None, here[1]):
            return None
        if abs(double[0] - here[0]) < margin / 2:
            return epochs
    return None


def epoch_pilot_table(records: Iterable[Mapping[str, Any]],
                      margins: Mapping[str, float] = ACCURACY_MARGINS) -> pd.DataFrame:
    """The epoch pilot per dataset and budget: CE's mean validation accuracy, its change from the half budget,
    the threshold, and whether the *half* budget passed (``None`` for the first)."""
    by_dataset = _by_dataset(records)
    rows = []
    for dataset, part in by_dataset.items():
        threshold = margins[dataset] / 2
        means = epoch_pilot_means(part)
        for epochs, (mean, seeds) in means.items():
            half = means.get(epochs // 2) if epochs % 2 == 0 else None
            change = mean - half[0] if half is not None and half[1] == seeds else np.nan
            rows.append({"dataset": dataset, "epochs": epochs, "seeds": len(seeds), "mean_val_acc": mean,
                         "change": change, "threshold": threshold,
                         "long_enough": None if np.isnan(change) else bool(abs(change) < threshold)})
    return pd.DataFrame(rows, columns=list(EPOCH_PILOT_COLUMNS))


def _flipped_history(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The memorisation history of noise-pilot records, checked to carry the flipped-label accuracy."""
    for record in records:
        if record["status"] == "ok" and not any(entry.get("train_acc_flipped") is not None
                                                for entry in record["history"]):
            raise ValueError(f"record {record['hash']} has no per-epoch train_acc_flipped in its history: the "
                             "noise-fit rule needs a run with label noise, trained by a trainer that counts the "
                             "flipped examples")
    return memorisation_history(history_frame(records))


def noise_fit_epoch(records: Iterable[Mapping[str, Any]]) -> int | None:
    """Within one run (one dataset and rate), the first epoch e >= 2 at which the flipped-fit rule holds on epochs
    1..e; ``None`` if never (shown, not used to choose)."""
    chosen = [record for record in records if record["config"].get("loss") == "softmax_ce"]
    if not chosen:
        return None
    _one(chosen, "dataset", "the noise-fit rule")
    _one(chosen, "label_noise_rate", "the noise-fit rule")
    memory = _flipped_history(chosen)
    for epochs in sorted(set(memory["epoch"]))[1:]:
        fit = flipped_fit(memory[memory["epoch"] <= epochs])
        if len(fit) and fit["fits"].iloc[0]:
            return int(epochs)
    return None


def noise_epochs(records: Iterable[Mapping[str, Any]], clean_epochs: int, candidates: Sequence[int],
                 rates: Sequence[float]) -> int | None:
    """The noise runs' budget for one dataset: the shortest of ``candidates`` >= ``clean_epochs`` whose runs at
    every rate end with CE fitting the flipped labels; ``None`` if undecided (a run missing) or none passes."""
    chosen = [record for record in records if record["config"].get("loss") == "softmax_ce"]
    if chosen:
        _one(chosen, "dataset", "the noise-fit rule")
    for epochs in sorted(e for e in candidates if e >= clean_epochs):
        runs = {rate: [r for r in chosen if r["config"]["epochs"] == epochs
                       and r["config"]["label_noise_rate"] == rate and r["status"] == "ok"] for rate in rates}
        if any(not part for part in runs.values()):
            return None
        if all(bool(flipped_fit(_flipped_history(part))["fits"].iloc[0]) for part in runs.values()):
            return epochs
    return None


def noise_pilot_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The noise-fit pilot per dataset, setting and budget: the rule at the run's end, and ``fits_from``
    (:func:`noise_fit_epoch`; NaN if never)."""
    groups: dict[tuple[str, float, int], list[Mapping[str, Any]]] = {}
    for record in records:
        config = record["config"]
        groups.setdefault((config["dataset"], config["label_noise_rate"], config["epochs"]), []).append(record)
    rows = []
    for part in groups.values():
        fit = flipped_fit(_flipped_history(part)).iloc[0]
        first = noise_fit_epoch(part)
        rows.append({"dataset": fit["dataset"], "setting": fit["setting"], "seeds": fit["seeds"],
                     "epochs": fit["epochs"], "lowest_epoch": fit["lowest_epoch"], "acc_lowest": fit["acc_lowest"],
                     "acc_end": fit["acc_end"], "rise": fit["rise"], "threshold": MEMORISATION_RISE,
                     "fits_from": np.nan if first is None else first})
    table = pd.DataFrame(rows, columns=["dataset", "setting", "seeds", "epochs", "lowest_epoch", "acc_lowest",
                                        "acc_end", "rise", "threshold", "fits_from"])
    return table.sort_values(["dataset", "setting", "epochs"], ignore_index=True)


_NO_PASS = "no stored budget passes the rule"  # what the pilot sentences say of a dataset where the rule chose none


def trained_epochs(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The epochs a chapter's runs train, per dataset with a single budget, read from their records."""
    budgets = {dataset: {r["config"]["epochs"] for r in part} for dataset, part in _by_dataset(records).items()}
    return {dataset: int(epochs.pop()) for dataset, epochs in budgets.items() if len(epochs) == 1}


def epoch_pilot_text(records: Sequence[Mapping[str, Any]], profile: str,
                     margins: Mapping[str, float] = ACCURACY_MARGINS, *,
                     trained: Mapping[str, int] | None = None) -> str:
    """What the epoch pilot chose, per dataset, in a sentence for the book, and, for each dataset in ``trained``
    (:func:`trained_epochs` of the page's runs), what those runs train and whether the rule calls them converged."""
    if not records:
        return f"The {profile} profile ran no epoch pilot: its budgets were fixed in code without one."
    by_dataset = _by_dataset(records)
    parts = []
    for dataset, part in by_dataset.items():
        means = epoch_pilot_means(part)
        chosen = pilot_epochs(part, margins[dataset], candidates=sorted(means))
        rate = _one(part, "lr", "the epoch pilot")
        tried = ", ".join(str(e) for e in means)
        tail = ""
        if trained and dataset in trained:
            epochs = trained[dataset]
            short = chosen is None or epochs < chosen
            tail = f"; this page's runs train {epochs} epochs" + (
                ", so by the pilot's rule they are not converged" if short else "")
        parts.append(f"{dataset}: {_NO_PASS if chosen is None else f'{chosen} epochs'} (softmax CE at lr {rate:g}, "
                     f"budgets {tried}, {len(means[min(means)][1])} selection seeds){tail}")
    return "The epoch pilot chose " + "; ".join(parts) + "."


def noise_pilot_text(records: Sequence[Mapping[str, Any]], epoch_pilot: Sequence[Mapping[str, Any]], profile: str,
                     margins: Mapping[str, float] = ACCURACY_MARGINS, *,
                     trained: Mapping[str, int] | None = None) -> str:
    """What the noise pilot chose, per dataset, given the clean budget ``epoch_pilot`` fixes; for each dataset in
    ``trained`` (the page's noise runs), their budget, and whether the pilot saw softmax CE fit the flipped labels
    by its end (where it did not, those runs cannot show that a loss resists memorisation)."""
    if not records:
        return f"The {profile} profile ran no noise pilot: its noise budgets were fixed in code without one."
    by_dataset = _by_dataset(records)
    parts = []
    for dataset, part in by_dataset.items():
        clean_runs = [r for r in epoch_pilot if r["config"]["dataset"] == dataset]
        clean = pilot_epochs(clean_runs, margins[dataset], candidates=sorted(epoch_pilot_means(clean_runs))) \
            if clean_runs else None
        candidates = sorted({r["config"]["epochs"] for r in part})
        rates = sorted({r["config"]["label_noise_rate"] for r in part})
        chosen = None if clean is None else noise_epochs(part, clean, candidates, rates)
        tail = ""
        if trained and dataset in trained:
            epochs = trained[dataset]
            tail = f"; this page's noise runs train {epochs} epochs"
            stored = _all_stored(part, [epochs], "label_noise_rate", rates)  # the pilot's runs are softmax CE's
            if stored and noise_epochs(part, epochs, [epochs], rates) is None:
                tail += (f", at whose end the pilot's softmax CE did not fit the flipped labels by the rule (a rise of "
                         f"{MEMORISATION_RISE * 100:g} points), so they cannot show that a loss resists memorisation")
        parts.append(f"{dataset}: {_NO_PASS if chosen is None else f'{chosen} epochs'} (softmax CE at symmetric "
                     f"{', '.join(f'{r:g}' for r in rates)}, budgets {', '.join(map(str, candidates))}, "
                     f"clean budget {'undecided' if clean is None else clean}){tail}")
    return "The noise pilot chose " + "; ".join(parts) + "."


# ---- do the stored pilots give the profile's epochs? ----

AGREE, DIFFER, UNDECIDED = 0, 3, 4


def _records(experiment: str, profile: Profile, dataset: str, results_dir: str | Path) -> list[dict[str, Any]]:
    """The stored records of ``experiment``'s runs on ``dataset`` (missing runs left out)."""
    configs = experiment_configs(experiment, profile, datasets=[dataset])
    return [record for record in (load_record(c, profile.name, results_dir) for c in configs) if record is not None]


def _all_stored(records: Sequence[Mapping[str, Any]], epochs: Sequence[int], key: str,
                values: Sequence[Any]) -> bool:
    """Whether ``records`` hold an ``ok`` run for every budget of ``epochs`` and ``config[key]`` of ``values``."""
    stored = {(r["config"]["epochs"], r["config"][key]) for r in records if r["status"] == "ok"}
    return all((e, value) in stored for e in epochs for value in values)


def _judged(dataset: str, which: str, setting: str, chosen: int | None, trained: int, fallback: int | None,
            complete: bool, candidates: Sequence[int], setting_key: str) -> tuple[int, str]:
    """The status and line of one pilot: ``chosen`` (or, all stored and none passing, ``fallback``) against
    ``trained``."""
    if chosen is None and (not complete or fallback is None):
        return UNDECIDED, (f"{dataset}: {which} pilot undecided (a run missing or not ok, or no candidate of "
                           f"{tuple(candidates)} passes and the profile names no fallback); the {setting} train "
                           f"{trained} epochs")
    answer = (f"no candidate of the {which} pilot {tuple(candidates)} passes its rule, so its pre-registered "
              f"fallback, {fallback} epochs, stands" if chosen is None else f"the {which} pilot chose {chosen} epochs")
    wanted = fallback if chosen is None else chosen
    if wanted != trained:
        return DIFFER, f"{dataset}: {answer}; the {setting} train {trained}: set {setting_key} to {wanted}"
    return AGREE, f"{dataset}: {answer}, as the {setting} train" + (": the rule is not met" if chosen is None else "")


def pilot_agreement(profile: Profile, results_dir: str | Path) -> tuple[int, list[str]]:
    """Whether ``profile``'s stored pilots give the epochs its budgets train: :data:`AGREE`, :data:`DIFFER` (the
    profile must change first) or :data:`UNDECIDED` (a run missing, or none passes without a fallback), with
    one line per pilot."""
    judged, clean = [], {}
    for dataset, pilot in profile.epoch_pilot.items():
        budget = int(profile.budgets[dataset].epochs)
        records = _records("epoch_pilot", profile, dataset, results_dir)
        chosen = pilot_epochs(records, ACCURACY_MARGINS[dataset], candidates=pilot.candidates,
                              seeds=profile.selection_seeds)
        complete = _all_stored(records, pilot.candidates, "seed", profile.selection_seeds)
        judged.append(_judged(dataset, "epoch", "clean runs", chosen, budget, pilot.fallback, complete,
                              pilot.candidates, f"budgets[{dataset!r}].epochs"))
        if chosen is not None:
            clean[dataset] = chosen  # the noise rule reads the clean runs' budget: the pilot's
    for dataset, pilot in profile.noise_pilot.items():
        budget = int(profile.budgets[dataset].epochs)
        clean_epochs = clean.get(dataset, budget)
        records = _records("noise_pilot", profile, dataset, results_dir)
        chosen = noise_epochs(records, clean_epochs, pilot.candidates, pilot.rates)
        complete = _all_stored(records, [e for e in pilot.candidates if e >= clean_epochs], "label_noise_rate",
                               pilot.rates)
        judged.append(_judged(dataset, "noise", "noise runs", chosen, profile.noise_epochs.get(dataset, budget),
                              pilot.fallback, complete, pilot.candidates, f"noise_epochs[{dataset!r}]"))
    status = max((found for found, _ in judged), default=AGREE)
    lines = [line for _, line in judged]
    if not lines:
        lines.append(f"profile {profile.name!r} has no pilots")
    return status, lines
