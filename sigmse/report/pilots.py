"""Pilots: the runs that fix a protocol's budgets before its runs exist, and the rules that read them.

A pre-registered protocol cannot tune its budget on the runs it reports, so its epochs come from pilots that
train with the *selection* seeds only (the reporting seeds never take part), read by rules written here
before the pilots ran:

* **The epoch pilot** (experiment ``epoch_pilot``, :func:`sigmse.runs.profiles.epoch_pilot_configs`): softmax CE
  at budgets E, 2E, 4E, ... at a rate the profile names per dataset (``Profile.epoch_pilot``). By
  :func:`pilot_epochs`, a budget is long enough when doubling it changes softmax CE's mean selection-seed
  validation accuracy by less than *half the equivalence margin* of its dataset (half of
  :data:`sigmse.report.verdicts.ACCURACY_MARGINS`: 0.25 pp on MNIST and Fashion-MNIST, 0.5 pp on CIFAR-10).
  Why: the accuracy chapter calls two losses equivalent when their paired difference lies within the margin. If
  the reference loss still gains that much from more epochs, the budget, not the loss, decides part of the
  difference (a loss that converges faster looks better); a drift under half the margin leaves the other half
  for the losses. Why doubling: a budget's double is the smallest step that is a different budget on every
  schedule (warm-up and a decay to zero stretch with it), and mean validation accuracy on the selection seeds
  is what the protocol already chooses by, never test accuracy.
* **The noise-fit pilot** (experiment ``noise_pilot``, :func:`sigmse.runs.profiles.noise_pilot_configs`): softmax
  CE under symmetric label noise at candidate budgets, on one selection seed. By :func:`noise_epochs`, the noise
  runs train for the shortest candidate, no shorter than the clean runs' budget, at whose *end* cross-entropy
  *visibly fits the flipped labels*: the rule of the noise chapter
  (:func:`sigmse.report.noise_analysis.flipped_fit`, :data:`~sigmse.report.noise_analysis.MEMORISATION_RISE`:
  training accuracy on the flipped examples, against their wrong label, at its last epoch at least 5 pp above
  its lowest epoch), at every pilot rate. Why: the paper's noise claim is that sigmoid-MSE resists memorising
  wrong labels; a budget at which cross-entropy has not started memorising cannot show that. Why whole runs of
  each candidate: where the rate follows a schedule (warm-up, a decay to zero), epoch e of a longer run is not
  the end of a run of e epochs, whose rate decays on a shorter clock. :func:`noise_fit_epoch` gives, within one
  run, the first epoch at which the rule holds (shown, not used to choose); the noise runs themselves are
  checked by the same rule afterwards (the noise chapter's :func:`~sigmse.report.noise_analysis.flipped_fit_table`).

:func:`epoch_pilot_table` and :func:`noise_pilot_table` show either pilot in the book. This module reads records
into tables (the ``plots`` extra, as all of :mod:`sigmse.report`); the runs (:mod:`sigmse.runs.experiments`) plan
the pilots' runs.
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
           "noise_epochs", "noise_pilot_table", "epoch_pilot_text", "noise_pilot_text", "AGREE", "DIFFER",
           "UNDECIDED", "pilot_agreement"]

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
    """Per budget (epochs) of one dataset's epoch-pilot records, softmax CE's mean selection score (final
    validation accuracy; chance level for a diverged run, as when choosing a rate:
    :func:`sigmse.runs.protocol.default_score`) and the seeds it is over. A failed run has no result and is
    left out (its budget then lacks that seed)."""
    kept = [record for record in records if record["status"] != "failed"]
    by_budget: dict[int, dict[int, float]] = {}
    for record in kept:
        config = config_from_dict(record["config"])
        by_budget.setdefault(config.epochs, {})[config.seed] = default_score(config, record)
    return {epochs: (sum(scores.values()) / len(scores), tuple(sorted(scores)))
            for epochs, scores in sorted(by_budget.items())}


def pilot_epochs(records: Iterable[Mapping[str, Any]], margin: float, *, candidates: Sequence[int] | None = None,
                 seeds: Sequence[int] | None = None) -> int | None:
    """The epoch pilot's budget for one dataset: the shortest budget E whose double 2E changes softmax CE's mean
    selection-seed validation accuracy by *less than* ``margin / 2`` (``margin``: the dataset's equivalence
    margin, e.g. ``ACCURACY_MARGINS[dataset]``; a change of exactly half the margin is not less). ``None`` while
    undecided: a budget or its double not stored for the same seeds, or no doubling that changes so little.

    Budgets are read in increasing order and each needs its double stored before a longer one is looked at: a
    shorter budget that passes wins, so a missing pair is undecided rather than skipped. Records show only what
    is stored, so pass the pilot's ``candidates`` (``EpochPilot.candidates``) and ``seeds`` (the selection
    seeds) to treat a budget or seed with no record yet as missing rather than as not planned. Records of
    several datasets raise ``ValueError``.
    """
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
    """The epoch pilot for the book, per dataset (in the order first seen) and budget: :data:`EPOCH_PILOT_COLUMNS`,
    with ``mean_val_acc`` softmax CE's mean selection-seed validation accuracy, ``change`` its change from the
    half budget (NaN for the first), ``threshold`` half the dataset's margin, and ``long_enough`` whether the
    *half* budget passed (``True``/``False``; ``None`` for the first). The chosen budget per dataset is
    :func:`pilot_epochs` of the same records."""
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
    """The :func:`~sigmse.report.noise_analysis.memorisation_history` of noise-pilot records, checked to carry the
    per-epoch flipped-label training accuracy the rule reads."""
    for record in records:
        if record["status"] == "ok" and not any(entry.get("train_acc_flipped") is not None
                                                for entry in record["history"]):
            raise ValueError(f"record {record['hash']} has no per-epoch train_acc_flipped in its history: the "
                             "noise-fit rule needs a run with label noise, trained by a trainer that counts the "
                             "flipped examples")
    return memorisation_history(history_frame(records))


def noise_fit_epoch(records: Iterable[Mapping[str, Any]]) -> int | None:
    """The first epoch count e at which softmax CE visibly fits the flipped labels in noise-pilot records of one
    dataset and noise rate: the smallest e >= 2 for which the noise chapter's rule
    (:func:`sigmse.report.noise_analysis.flipped_fit`: seed-mean training accuracy on the flipped examples at
    epoch e at least :data:`~sigmse.report.noise_analysis.MEMORISATION_RISE` above its lowest over epochs 1..e)
    holds on the epochs 1..e; ``None`` if it never does. Records of several datasets or rates raise
    ``ValueError``, and so does a record without per-epoch flipped-label accuracy."""
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
    """The noise runs' budget for one dataset from its noise-pilot records: the shortest of ``candidates`` no
    shorter than ``clean_epochs`` (the clean runs' budget, :func:`pilot_epochs`) whose pilot runs, at every one of
    ``rates``, end with softmax CE visibly fitting the flipped labels (:func:`~sigmse.report.noise_analysis.
    flipped_fit` over the whole run). ``None`` while undecided (a candidate's run at some rate not stored, or not
    ``ok``, before one passes) or if no candidate passes. Records of several datasets raise ``ValueError``."""
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
    """The noise-fit pilot for the book, per dataset, noise setting and budget (in the order first seen): the
    epochs trained, the rule's answer at the run's end (:func:`~sigmse.report.noise_analysis.flipped_fit`: lowest
    flipped-label accuracy, its epoch, the rise; what :func:`noise_epochs` reads) and ``fits_from``, the first
    epoch of the run at which it holds (:func:`noise_fit_epoch`; NaN if never)."""
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


def epoch_pilot_text(records: Sequence[Mapping[str, Any]], profile: str,
                     margins: Mapping[str, float] = ACCURACY_MARGINS) -> str:
    """What the epoch pilot chose, in a sentence for the book: per dataset the budget :func:`pilot_epochs` reads
    from ``records`` (the pilot's runs under ``profile``, each dataset's candidates and seeds as stored), at the
    pilot's rate (or that no stored budget passes); or that the profile has no pilot."""
    if not records:
        return f"The {profile} profile ran no epoch pilot: its budgets were fixed in code without one."
    by_dataset = _by_dataset(records)
    parts = []
    for dataset, part in by_dataset.items():
        means = epoch_pilot_means(part)
        chosen = pilot_epochs(part, margins[dataset], candidates=sorted(means))
        rate = _one(part, "lr", "the epoch pilot")
        tried = ", ".join(str(e) for e in means)
        parts.append(f"{dataset}: {_NO_PASS if chosen is None else f'{chosen} epochs'} (softmax CE at lr {rate:g}, "
                     f"budgets {tried}, {len(means[min(means)][1])} selection seeds)")
    return "The epoch pilot chose " + "; ".join(parts) + "."


def noise_pilot_text(records: Sequence[Mapping[str, Any]], epoch_pilot: Sequence[Mapping[str, Any]], profile: str,
                     margins: Mapping[str, float] = ACCURACY_MARGINS) -> str:
    """What the noise pilot chose, in a sentence for the book: per dataset the noise runs' budget
    :func:`noise_epochs` reads from ``records`` (its candidates and rates as stored), given the clean budget the
    epoch pilot's records ``epoch_pilot`` fix (:func:`pilot_epochs`); or that the profile has no pilot."""
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
        parts.append(f"{dataset}: {_NO_PASS if chosen is None else f'{chosen} epochs'} (softmax CE at symmetric "
                     f"{', '.join(f'{r:g}' for r in rates)}, budgets {', '.join(map(str, candidates))}, "
                     f"clean budget {'undecided' if clean is None else clean})")
    return "The noise pilot chose " + "; ".join(parts) + "."


# ---- do the stored pilots give the profile's epochs? ----

AGREE, DIFFER, UNDECIDED = 0, 3, 4


def _records(experiment: str, profile: Profile, dataset: str, results_dir: str | Path) -> list[dict[str, Any]]:
    """The stored records of ``experiment``'s runs on ``dataset`` (a missing run is left out: the rules then
    answer undecided, as they are given the candidates and seeds that should be there)."""
    configs = experiment_configs(experiment, profile, datasets=[dataset])
    return [record for record in (load_record(c, profile.name, results_dir) for c in configs) if record is not None]


def _all_stored(records: Sequence[Mapping[str, Any]], epochs: Sequence[int], key: str,
                values: Sequence[Any]) -> bool:
    """Whether ``records`` hold an ``ok`` run for every budget of ``epochs`` and every ``config[key]`` of
    ``values`` (the selection seeds of an epoch pilot, the noise rates of a noise pilot)."""
    stored = {(r["config"]["epochs"], r["config"][key]) for r in records if r["status"] == "ok"}
    return all((e, value) in stored for e in epochs for value in values)


def _judged(dataset: str, which: str, setting: str, chosen: int | None, trained: int, fallback: int | None,
            complete: bool, candidates: Sequence[int], setting_key: str) -> tuple[int, str]:
    """The status and line of one pilot: the epochs its rule ``chosen`` (``None``: no candidate passes, or a run is
    missing) against the epochs the profile's ``setting`` train. Where the rule chose nothing and every candidate is
    stored (``complete``), the pilot's pre-registered ``fallback`` stands in for its choice."""
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
    """Whether ``profile``'s stored pilots give the epochs its budgets train: :data:`AGREE` (every pilot agrees,
    or, where every candidate is stored and none passes, the budget is the pilot's pre-registered ``fallback``;
    or the profile has no pilots), :data:`DIFFER` (a pilot chose other epochs: the profile must say so in a commit
    before its sweep trains anything else) or :data:`UNDECIDED` (a pilot run missing or failed, or no candidate
    passes and there is no fallback), with one line per pilot saying which. Read before a protocol's sweep and by
    its tests."""
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
