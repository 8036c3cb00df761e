"""Convergence measured properly: validation curves, censored time to a level, and the area under the curve.

"Converges as fast" is a claim about time, so this module reads each run's validation curve (``record["curve"]``:
validation accuracy evaluated several times an epoch, with the optimizer steps and the training seconds so far)
and compares a candidate loss with a baseline seed by seed, with the tests of :mod:`sigmse.report.verdicts`:

1. :func:`curve_frame`: one row per run and evaluation.
2. :func:`validation_levels`: the accuracy levels, fractions of the best final seed-mean *validation* accuracy
   of any loss on a dataset, read from the **selection** runs at the chosen learning rates, so the levels are
   fixed before the reporting runs that are timed against them.
3. :func:`time_to_level`: per reporting run and level, the first evaluation at or above the level, in optimizer
   steps and in training seconds, or *never*. A run that never reaches a level is **censored**: it took longer
   than its budget, by an unknown amount. The verdicts count **steps**: a step is the same work whatever else
   runs on the machine. Seconds also price Output Reset's dearer step, but they measure the machine as much as
   the loss, so they are judged only where the runs shared it evenly (:func:`machine_share`, rule below).
4. :func:`time_tests`: per dataset and level, the candidate against the baseline, paired on the seed. When every
   pair reached the level, a paired t-test on the log of the time (a ratio of times: equivalent within a factor
   :data:`TIME_RATIO_MARGIN`). When some pair is censored on one side, the t-test has no number to use, so the
   pairs are compared by sign (``scipy.stats.binomtest``: who got there first; a pair where neither got there
   says nothing and is left out), which can show better or worse but never equivalence. A level neither loss
   reached in any pair is inconclusive, never "as fast".
5. :func:`area_tests`: the area under the validation curve over the training budget (mean validation accuracy
   over the run, trapezoidal rule over epochs), paired, equivalent within the accuracy margins.

All rows come out in the format of :func:`sigmse.report.verdicts.paired_tests`, so :func:`convergence_family`
adjusts the chapter's whole family with :func:`sigmse.report.verdicts.holm_verdicts`; :func:`time_summary`,
:func:`verdict_table` and :func:`convergence_summary` print it. :class:`ConvergenceChapter` is the page
(``notebooks/convergence.ipynb``): one method per figure or table, each returning a
:class:`~sigmse.report.analysis.Part` whose tables the notebook shows and whose values it glues.

**When seconds are reported** (:func:`machine_share`, stated before it was applied to the runs it judges, but
after reading the v1 ``full`` records, whose spreads run from 1.47 to several hundred). Per dataset, the training
seconds to a level are tested and shown only when the reporting runs of the two losses compared

* all recorded the same torch thread count (``provenance.torch_threads``): a second thread changes the pace of
  every step; and
* for each loss, the slowest training epoch of any of its runs took at most :data:`MAX_PACE_SPREAD` times its
  fastest (``history[].seconds``, evaluation excluded). Every epoch of one loss on one dataset does the same
  work (same images, model and batch size), so its seconds move only with the machine's share; a pace that moved
  by more than the verdicts' own margin (:data:`TIME_RATIO_MARGIN`) could alone make one loss look a margin
  slower than the other.

Otherwise the chapter says that seconds are not reported and why (:func:`seconds_note`). The check cannot see a
load that stayed constant through every run of one loss and was absent from every run of the other: the records
do not say what else ran on the machine.

Whether an epoch budget was long enough is a separate, descriptive check, stated before it is applied:
:func:`validation_plateau` reads the per-epoch validation accuracy of the reporting runs and calls a budget
*flattened* when the seed-mean accuracy gains less than :data:`PLATEAU_GAIN` over the last quarter of the epochs;
:func:`plateau_table` and :func:`plateau_summary` print it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sigmse.checks import check_choice, check_number
from sigmse.report import plots, verdicts
from sigmse.report.analysis import Part, history_frame, records_frame, variant_label
from sigmse.report.chapters import Records, claim_rows, family_size, order_index
from sigmse.report.verdicts import ACCURACY_MARGINS, P_COLUMNS, decisive_p, paired_tests
from sigmse.runs.profiles import ACCURACY_LOSSES

__all__ = ["TIME_RATIO_MARGIN", "TIME_UNITS", "MAX_PACE_SPREAD", "PLATEAU_START", "PLATEAU_GAIN", "curve_frame",
           "validation_levels", "time_to_level", "machine_share", "share_table", "seconds_note", "evenly_timed",
           "time_tests", "area_tests", "convergence_family", "ratio_text", "time_summary", "verdict_table",
           "convergence_summary", "validation_plateau", "plateau_table", "plateau_summary", "ConvergenceChapter"]

# Equivalent speed: within a factor 1.25 either way (the 80–125% rule of bioequivalence studies), fixed in code
# before the runs it judges; a 25% difference in training time is the smallest most users would notice.
TIME_RATIO_MARGIN = 1.25
TIME_UNITS = {"step": "optimizer steps", "train_seconds": "training seconds"}
# Seconds are compared only where each loss's epochs kept their pace within this factor (see the module docstring):
# the time verdicts' own margin, so that the machine alone cannot account for a margin's difference.
MAX_PACE_SPREAD = TIME_RATIO_MARGIN
SHARE_COLUMNS = ("dataset", "loss", "runs", "threads", "epoch_seconds_min", "epoch_seconds_max", "spread", "even")
# The last quarter of a budget of E epochs: from the end of epoch ceil(PLATEAU_START * E) to the end of epoch E.
PLATEAU_START = 0.75
# A budget has *flattened* softmax CE's validation accuracy when the mean over the reporting seeds gains less than
# 0.1 percentage points over that last quarter. Why 0.1 pp: at that pace, twice the budget (four more quarters)
# would add under 0.4 pp even if the curve stopped slowing down, less than the smallest accuracy margin (0.5 pp,
# verdicts.ACCURACY_MARGINS), so a longer run could not move a verdict by a margin; it is also 5 images of a
# 5,000-image validation split. Stated in the project's notes before it was applied in code, but after the
# MNIST and Fashion-MNIST full-profile runs existed (their gains, measured then: +0.22 and +0.23 pp, so both fail
# it); the accuracy chapter says so. The threshold was not chosen to make any budget pass.
PLATEAU_GAIN = 0.001
PLATEAU_COLUMNS = ("dataset", "loss", "epochs", "from_epoch", "runs", "seeds", "val_from", "val_end", "gain", "gain_min",
                   "gain_max", "flattened")
CURVE_COLUMNS = ("hash", "dataset", "loss", "variant", "lr", "seed", "status", "step", "epoch", "train_seconds",
                 "val_acc")


def curve_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run and validation evaluation (``CURVE_COLUMNS``), from each record's ``curve``.

    A record without a curve (made before curves were recorded) raises ``ValueError``: its convergence cannot be
    resolved within epochs, and mixing it in would compare different resolutions.
    """
    rows = []
    for record in records:
        if "curve" not in record:
            raise ValueError(f"run {record['hash']} has no validation curve (recorded by older sigmse); "
                             "retrain it to measure convergence")
        config = record["config"]
        run = {"hash": record["hash"], "dataset": config["dataset"], "loss": config["loss"],
               "variant": variant_label(config["loss"], config.get("loss_options")), "lr": config["lr"],
               "seed": config["seed"], "status": record["status"]}
        for point in record["curve"]:
            value = point.get("val_acc")
            rows.append({**run, "step": int(point["step"]), "epoch": float(point["epoch"]),
                         "train_seconds": float(point["train_seconds"]),
                         "val_acc": math.nan if value is None else float(value)})
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def validation_levels(selection: pd.DataFrame, report: pd.DataFrame, fractions: Sequence[float],
                      column: str = "loss") -> pd.DataFrame:
    """Per dataset, each fraction of the best seed-mean final validation accuracy of any ``column`` level, from
    the ``selection`` runs (a :func:`~sigmse.report.analysis.records_frame`) at the learning rates the ``report`` runs
    were trained at. Columns: ``dataset``, ``fraction``, ``best``, ``level``."""
    for fraction in fractions:
        check_number("accuracy level fraction", fraction, low=0, high=1, low_open=True)
    chosen = report[["dataset", column, "lr"]].drop_duplicates()
    at_chosen = selection.merge(chosen, on=["dataset", column, "lr"])
    best = at_chosen.groupby(["dataset", column])["val_acc"].mean().groupby("dataset").max()
    grid = best.rename("best").reset_index().merge(pd.DataFrame({"fraction": list(fractions)}), how="cross")
    return grid.assign(level=grid["fraction"] * grid["best"])


def time_to_level(curves: pd.DataFrame, levels: pd.DataFrame, column: str = "loss") -> pd.DataFrame:
    """Per run and level: ``step`` and ``train_seconds`` of the first evaluation at or above the level (NaN and
    ``reached == False`` when the run never got there: censored at its budget)."""
    merged = curves.merge(levels[["dataset", "fraction", "level"]], on="dataset")
    keys = ["hash", "dataset", column, "seed", "fraction", "level"]
    runs = merged[keys].drop_duplicates()
    hit = merged[merged["val_acc"] >= merged["level"]].sort_values("step")
    first = hit.groupby(keys, as_index=False)[["step", "train_seconds"]].first()
    out = runs.merge(first, on=keys, how="left")
    return out.assign(reached=out["step"].notna()).reset_index(drop=True)


def machine_share(records: Iterable[Mapping[str, Any]], candidate: str = "sigmoid_mse_or",
                  baseline: str = "softmax_ce") -> pd.DataFrame:
    """Did the runs compared share the machine evenly? One row per dataset and loss (``candidate`` and
    ``baseline``; columns :data:`SHARE_COLUMNS`) from the reporting ``records``: how many runs, the torch thread
    counts they recorded (sorted, ``None`` where not recorded), their fastest and slowest training epoch in
    seconds and the ratio of the two (``spread``), and ``even``: the rule of the module docstring, judged per
    dataset (both losses' rows hold the dataset's answer)."""
    rows = []
    for record in records:
        config = record["config"]
        if config["loss"] in (candidate, baseline):
            rows.append({"dataset": config["dataset"], "loss": config["loss"],
                         "threads": record.get("provenance", {}).get("torch_threads"),
                         "seconds": [float(h["seconds"]) for h in record["history"] if h.get("seconds") is not None]})
    out = []
    for dataset in dict.fromkeys(row["dataset"] for row in rows):
        found = [row for row in rows if row["dataset"] == dataset]
        threads = {row["threads"] for row in found}
        for loss in (baseline, candidate):
            runs = [row for row in found if row["loss"] == loss]
            seconds = [s for row in runs for s in row["seconds"]]
            low, high = (min(seconds), max(seconds)) if seconds else (math.nan, math.nan)
            out.append({"dataset": dataset, "loss": loss, "runs": len(runs),
                        "threads": tuple(sorted(threads, key=lambda count: (count is None, count or 0))),
                        "epoch_seconds_min": low, "epoch_seconds_max": high,
                        "spread": high / low if seconds and low > 0 else math.nan})
        pair = out[-2:]
        even = (len(threads) == 1 and None not in threads and all(row["runs"] for row in pair)
                and all(row["spread"] <= MAX_PACE_SPREAD for row in pair))
        for row in pair:
            row["even"] = even
    return pd.DataFrame(out, columns=list(SHARE_COLUMNS))


def _uneven_reason(part: pd.DataFrame) -> str:
    """Why one dataset's rows of :func:`machine_share` fail the rule, in a few words."""
    threads = part["threads"].iloc[0]
    if None in threads:
        return "a run did not record its torch thread count"
    if len(threads) > 1:
        return "its runs trained with " + " and ".join(str(count) for count in threads) + " torch threads"
    if not part["runs"].all():
        return "a loss has no runs"
    worst = part.loc[part["spread"].idxmax()]
    return f"{worst['loss']}'s slowest epoch took {worst['spread']:.2f} times its fastest"


def seconds_note(share: pd.DataFrame) -> str:
    """A few sentences for the page from a :func:`machine_share` frame: where seconds are reported, and where
    they are not and why, e.g. ``"Seconds to a level are not reported for mnist (softmax_ce's slowest epoch took
    1.79 times its fastest): the runs compared shared the machine unevenly (the rule allows 1.25 and one thread
    count), so their seconds would measure the machine as much as the loss."``."""
    datasets = list(dict.fromkeys(share["dataset"]))
    even = [d for d in datasets if share.loc[share["dataset"] == d, "even"].all()]
    uneven = [f"{d} ({_uneven_reason(share[share['dataset'] == d])})" for d in datasets if d not in even]
    parts = []
    if even:
        parts.append(f"Seconds to a level are reported for {', '.join(even)}, where the runs compared shared the "
                     "machine evenly.")
    if uneven:
        parts.append(f"Seconds to a level are not reported for {'; '.join(uneven)}: the runs compared shared the "
                     f"machine unevenly (the rule allows a spread of {MAX_PACE_SPREAD:g} and one thread count), so "
                     "their seconds would measure the machine as much as the loss.")
    return " ".join(parts) or "No runs to time."


def share_table(share: pd.DataFrame) -> pd.DataFrame:
    """A :func:`machine_share` frame for print, indexed by dataset and loss."""
    return pd.DataFrame({
        "runs": share["runs"].to_numpy(),
        "torch threads": [", ".join("not recorded" if c is None else str(c) for c in t) for t in share["threads"]],
        "fastest epoch (s)": share["epoch_seconds_min"].to_numpy(),
        "slowest epoch (s)": share["epoch_seconds_max"].to_numpy(),
        "slowest / fastest": share["spread"].to_numpy(),
        f"seconds reported (spread \u2264 {MAX_PACE_SPREAD:g}, one thread count)":
            ["yes" if even else "no" for even in share["even"]],
    }, index=pd.MultiIndex.from_frame(share[["dataset", "loss"]]))


def evenly_timed(times: pd.DataFrame, share: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``times`` (:func:`time_to_level`) of the datasets whose runs shared the machine evenly
    (:func:`machine_share`): the only ones whose seconds are tested or shown."""
    return times[times["dataset"].isin(share.loc[share["even"], "dataset"])]


def _sign_row(candidate: pd.Series, baseline: pd.Series) -> dict[str, Any]:
    """Sign-test p-values from pairs where at least one side reached the level (never counts as slowest)."""
    cand = candidate.fillna(np.inf).to_numpy()
    base = baseline.fillna(np.inf).to_numpy()
    informative = ~(np.isinf(cand) & np.isinf(base)) & (cand != base)
    faster, slower = int((cand < base)[informative].sum()), int((cand > base)[informative].sum())
    n = faster + slower
    p = dict.fromkeys(P_COLUMNS.values(), math.nan)
    if n:
        p["p_better"] = float(stats.binomtest(faster, n, 0.5, alternative="greater").pvalue)
        p["p_worse"] = float(stats.binomtest(faster, n, 0.5, alternative="less").pvalue)
    neither = int((np.isinf(cand) & np.isinf(base)).sum())
    note = (f"censored: sign test over {n} pair(s), {faster} first / {slower} later"
            + (f"; {neither} pair(s) where neither reached it" if neither else ""))
    return {"n_pairs": n, "mean_diff": math.nan, "ci95_low": math.nan, "ci95_high": math.nan, **p, "note": note}


def time_tests(times: pd.DataFrame, unit: str = "step", candidate: str = "sigmoid_mse_or",
               baseline: str = "softmax_ce", column: str = "loss") -> pd.DataFrame:
    """Per dataset and level, ``candidate`` against ``baseline`` on the time to the level, in ``unit`` (``step``
    or ``train_seconds``), paired on the seed; rows as :func:`sigmse.report.verdicts.paired_tests` with ``metric`` and
    ``mean_diff`` on the log scale (``exp(mean_diff)``: the ratio of times, below 1 when the candidate is
    faster) and ``claim`` equivalence within ``log(TIME_RATIO_MARGIN)``."""
    check_choice("unit", unit, tuple(TIME_UNITS))
    rows = []
    for (dataset, fraction), part in times.groupby(["dataset", "fraction"], sort=True):
        wide = part.pivot(index="seed", columns=column, values=unit)
        if candidate not in wide or baseline not in wide:
            continue
        base = {"dataset": dataset, "fraction": fraction, "unit": unit, column: candidate, "baseline": baseline,
                "claim": "equivalence", "margin": math.log(TIME_RATIO_MARGIN), "higher_is_better": False}
        if wide[[candidate, baseline]].notna().all().all():
            tested = paired_tests(part.assign(log_time=np.log(part[unit].astype(float))), "log_time",
                                  claim="equivalence", margins=math.log(TIME_RATIO_MARGIN), by="dataset",
                                  baseline=baseline, column=column, levels=[candidate], higher_is_better=False)
            rows.append({**base, **tested.iloc[0].drop(["dataset", column, "baseline", "claim", "margin",
                                                        "higher_is_better"]).to_dict()})
        else:
            rows.append({**base, **_sign_row(wide[candidate], wide[baseline])})
    return pd.DataFrame(rows)


def _area(part: pd.DataFrame) -> float:
    """Mean validation accuracy over the run: the trapezoidal area under the curve over epochs, per epoch."""
    part = part.sort_values("epoch")
    epochs = np.concatenate([[0.0], part["epoch"].to_numpy()])
    values = part["val_acc"].to_numpy()
    values = np.concatenate([[values[0]], values])  # flat before the first evaluation: no value at step 0
    return float(np.trapezoid(values, epochs) / epochs[-1])


def area_tests(curves: pd.DataFrame, candidate: str = "sigmoid_mse_or", baseline: str = "softmax_ce",
               column: str = "loss", margins: Mapping[str, float] = ACCURACY_MARGINS) -> pd.DataFrame:
    """Per dataset, ``candidate`` against ``baseline`` on the area under the validation curve (as an accuracy,
    so the accuracy margins apply), paired on the seed; rows as :func:`sigmse.report.verdicts.paired_tests`."""
    areas = (curves.dropna(subset=["val_acc"]).groupby(["hash", "dataset", column, "seed"])
             .apply(_area, include_groups=False).rename("val_area").reset_index())
    return paired_tests(areas, "val_area", claim="equivalence", margins=margins, by="dataset", baseline=baseline,
                        column=column, levels=[candidate])


def convergence_family(curves: pd.DataFrame, times: pd.DataFrame, share: pd.DataFrame | None = None, *,
                       alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's family after :func:`sigmse.report.verdicts.holm_verdicts`: :func:`area_tests` (``measure``
    ``"area"``), :func:`time_tests` in optimizer steps (``"steps"``) and in training seconds (``"seconds"``), the
    seconds only of the datasets :func:`evenly_timed` keeps from ``share`` (all of them when ``share`` is None)."""
    timed = times if share is None else evenly_timed(times, share)
    parts = [area_tests(curves).assign(measure="area"), time_tests(times, "step").assign(measure="steps"),
             time_tests(timed, "train_seconds").assign(measure="seconds")]
    kept = [part for part in parts if len(part)] or parts[:1]  # an empty part would turn the counts to floats
    return verdicts.holm_verdicts(pd.concat(kept, ignore_index=True), alpha=alpha)


def ratio_text(row: Mapping[str, Any]) -> str:
    """A time row's effect for print: ``"×0.93 [0.85, 1.02]"`` (candidate's time over the baseline's), or its
    censoring note when a sign test was used."""
    if not np.isfinite(row["mean_diff"]):
        return str(row["note"])
    ratio = f"\u00d7{math.exp(row['mean_diff']):.2f}"
    if not np.isfinite(row["ci95_low"]):  # one pair: no interval
        return ratio
    return f"{ratio} [{math.exp(row['ci95_low']):.2f}, {math.exp(row['ci95_high']):.2f}]"


def time_summary(times: pd.DataFrame, unit: str = "step", column: str = "loss",
                 order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per dataset and level (rows) and ``column`` level (columns): the median time to the level over the runs
    that reached it, and how many of the runs did, as ``"1,250 (5/5)"``; ``"never (0/5)"`` when none did."""
    def cell(part: pd.DataFrame) -> str:
        reached = part[part["reached"]]
        count = f"({len(reached)}/{len(part)})"
        if reached.empty:
            return f"never {count}"
        median = float(reached[unit].median())
        return (f"{median:,.0f} " if unit == "step" else f"{median:.1f} s ") + count

    cells = times.groupby(["dataset", "fraction", column]).apply(cell, include_groups=False).unstack(column)
    cells.index = cells.index.set_levels([f"{f:.0%}" for f in cells.index.levels[1]], level=1)
    return cells[[c for c in (order or cells.columns) if c in cells.columns]]


def verdict_table(family: pd.DataFrame) -> pd.DataFrame:
    """The convergence family after :func:`sigmse.report.verdicts.holm_verdicts`, for print: per measure, dataset and
    level, the pairs, the effect (area: difference in pp; times: ratio of candidate to baseline), the
    Holm-adjusted p of the verdict and the verdict."""
    effects = [f"{row['mean_diff'] * 100:+.2f} pp" if row["measure"] == "area" else ratio_text(row)
               for _, row in family.iterrows()]
    level = ["" if pd.isna(f) else f"{f:.0%}" for f in family.get("fraction", pd.Series(np.nan, family.index))]
    table = pd.DataFrame({"measure": family["measure"], "dataset": family["dataset"], "level": level,
                          "pairs": family["n_pairs"], "effect": effects,
                          "p (Holm)": [decisive_p(row) for _, row in family.iterrows()],
                          "verdict": family["verdict"]})
    return table.set_index(["measure", "dataset", "level"])


def convergence_summary(family: pd.DataFrame, share: pd.DataFrame | None = None) -> str:
    """One line from the adjusted family: the area verdict per dataset, then the counts of verdicts over the
    levels in steps and in seconds, e.g. ``"area under the validation curve: mnist equivalent, ...; steps to a
    level: 2 equivalent, 7 inconclusive (3 censored); seconds: ..."``; with ``share`` (:func:`machine_share`),
    also the datasets whose seconds are not reported (``"seconds not reported for cifar10 (uneven machine
    share)"``)."""
    parts = []
    area = family[family["measure"] == "area"]
    if len(area):
        parts.append("area under the validation curve: "
                     + ", ".join(f"{row['dataset']} {row['verdict']}" for _, row in area.iterrows()))
    for measure, name in (("steps", "steps to a level"), ("seconds", "seconds to a level")):
        part = family[family["measure"] == measure]
        if len(part):
            counts = part["verdict"].value_counts()
            censored = int(part["note"].str.startswith("censored").sum())
            text = ", ".join(f"{counts[v]} {v}" for v in counts.index)
            parts.append(f"{name}: {text}" + (f" ({censored} censored)" if censored else ""))
    uneven = [] if share is None else list(dict.fromkeys(share.loc[~share["even"].astype(bool), "dataset"]))
    if uneven:
        parts.append(f"seconds not reported for {', '.join(uneven)} (uneven machine share)")
    return "; ".join(parts) if parts else "not run"


# -- was the epoch budget long enough? --------------------------------------------------------------


def _plateau_row(part: pd.DataFrame, dataset: str, loss: str, epochs: int) -> dict[str, Any]:
    """One :data:`PLATEAU_COLUMNS` row from the history rows of one dataset and loss (possibly none)."""
    start = math.ceil(PLATEAU_START * epochs)
    row: dict[str, Any] = {"dataset": dataset, "loss": loss, "epochs": epochs, "from_epoch": start,
                           "runs": part["hash"].nunique(), "seeds": 0,
                           **dict.fromkeys(("val_from", "val_end", "gain", "gain_min", "gain_max"), math.nan),
                           "flattened": None}
    if part.empty:
        return row
    if part["epoch"].max() != epochs:
        raise ValueError(f"{dataset} {loss}: the runs end at epoch {part['epoch'].max()}, the budget at {epochs}; "
                         "read the history of the profile the budget comes from")
    by_seed = part.pivot_table(index="seed", columns="epoch", values="val_acc", aggfunc="first")
    pairs = by_seed.reindex(columns=sorted({start, epochs})).dropna()  # a diverged seed has no accuracy to compare
    row.update(seeds=len(pairs), val_from=float(pairs[start].mean()), val_end=float(pairs[epochs].mean()))
    if start < epochs and len(pairs):  # under 4 epochs the last quarter holds no epoch: nothing to judge
        gains = pairs[epochs] - pairs[start]
        row.update(gain=float(gains.mean()), gain_min=float(gains.min()), gain_max=float(gains.max()),
                   flattened=bool(gains.mean() < PLATEAU_GAIN))
    return row


def validation_plateau(history: pd.DataFrame, epochs: Mapping[str, int],
                       losses: Sequence[str] = ("softmax_ce",)) -> pd.DataFrame:
    """Per dataset of ``epochs`` (dataset -> its epoch budget E) and loss of ``losses``, the gain of validation
    accuracy over the last quarter of the budget, from a :func:`sigmse.report.analysis.history_frame` of the
    reporting runs: columns :data:`PLATEAU_COLUMNS`.

    ``val_from`` and ``val_end`` are the mean over seeds at the end of epoch ``from_epoch`` = ceil(0.75 E) and
    of epoch E, ``gain`` their difference (the mean of each seed's gain), ``gain_min``/``gain_max`` its range
    over seeds, ``runs`` the runs found and ``seeds`` those with both values (a diverged one has none).
    ``flattened`` is ``gain < PLATEAU_GAIN``; None (and the gains NaN) where there is nothing to judge: no runs
    (the dataset is not run yet), none with both values, or a budget under 4 epochs, whose last quarter holds no
    epoch. A history that ends at another epoch than the budget raises ``ValueError``.
    """
    rows = [_plateau_row(history[(history["dataset"] == dataset) & (history["loss"] == loss)], dataset, loss, budget)
            for dataset, budget in epochs.items() for loss in losses]
    return pd.DataFrame(rows, columns=list(PLATEAU_COLUMNS))


def _epochs_text(epochs: int) -> str:
    return f"{epochs} epoch" + ("" if epochs == 1 else "s")


def _flattened_text(row: Mapping[str, Any]) -> str:
    """The rule's answer for one :func:`validation_plateau` row, in words."""
    if row["runs"] == 0:
        return "not run yet"
    if row["seeds"] == 0:
        return "cannot tell (no run has both accuracies)"
    if row["flattened"] is None:
        return f"cannot tell ({_epochs_text(row['epochs'])}: no last quarter)"
    return "yes" if row["flattened"] else "no"


def plateau_table(plateau: pd.DataFrame) -> pd.DataFrame:
    """A :func:`validation_plateau` frame for print, indexed by dataset and loss: epochs, seeds, the mean
    validation accuracy (%) at 3/4 of the budget and at its end, the gain in pp with its range over seeds, and
    whether it flattened (``yes``, ``no``, ``not run yet`` or ``cannot tell``)."""
    def percent(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value * 100:.2f}"

    gains = ["n/a" if math.isnan(row["gain"]) else
             f"{row['gain'] * 100:+.2f} [{row['gain_min'] * 100:+.2f}, {row['gain_max'] * 100:+.2f}]"
             for _, row in plateau.iterrows()]
    table = pd.DataFrame({
        "epochs": plateau["epochs"].to_numpy(), "seeds": plateau["seeds"].to_numpy(),
        "val acc at 3/4 (%)": [f"{percent(v)} (epoch {e})" if r else "n/a"
                               for v, e, r in zip(plateau["val_from"], plateau["from_epoch"], plateau["runs"])],
        "val acc at end (%)": [percent(v) for v in plateau["val_end"]],
        "gain (pp) [min, max over seeds]": gains,
        f"flattened (gain < {PLATEAU_GAIN * 100:g} pp)": [_flattened_text(row) for _, row in plateau.iterrows()],
    }, index=pd.MultiIndex.from_frame(plateau[["dataset", "loss"]]))
    return table


def plateau_summary(plateau: pd.DataFrame) -> str:
    """One line for the prose: per row, the gain over the last quarter and the verdict of the rule, e.g.
    ``"mnist (12 epochs): +0.22 pp over epochs 9 to 12, not flattened; cifar10 (10 epochs): not run yet"``."""
    parts = []
    for _, row in plateau.iterrows():
        head = f"{row['dataset']} ({_epochs_text(row['epochs'])})"
        if row["flattened"] is None:
            parts.append(f"{head}: {_flattened_text(row)}")
            continue
        gain = f"{row['gain'] * 100:+.2f} pp".replace("-", "\u2212")
        parts.append(f"{head}: {gain} over epochs {row['from_epoch']} to {row['epochs']}, "
                     + ("flattened" if row["flattened"] else "not flattened"))
    return "; ".join(parts) if parts else "not run"


# -- the page ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvergenceChapter:
    """This build's accuracy records (``selection`` chose the learning rates and sets the levels, ``report`` is
    timed), the profile's name, the accuracy levels as ``fractions`` of the best final validation accuracy and the
    family-wise error rate ``alpha`` of the chapter's tests (Holm)."""

    selection: Records
    report: Records
    profile: str
    fractions: Sequence[float] = (0.9, 0.95, 0.99)
    alpha: float = 0.05

    # ----------------------------------------------------------------------- what the parts share

    @cached_property
    def runs(self) -> pd.DataFrame:
        return records_frame(self.report)

    @cached_property
    def curves(self) -> pd.DataFrame:
        return curve_frame(self.report)

    @cached_property
    def history(self) -> pd.DataFrame:
        return history_frame(self.report)

    @cached_property
    def datasets(self) -> list[str]:
        """The datasets that ran, in the order first seen."""
        return list(dict.fromkeys(self.runs["dataset"]))

    @cached_property
    def times(self) -> pd.DataFrame:
        """Each reporting run's time to each level, the levels read from the selection runs."""
        levels = validation_levels(records_frame(self.selection), self.runs, self.fractions)
        return time_to_level(self.curves, levels)

    @cached_property
    def share(self) -> pd.DataFrame:
        return machine_share(self.report)

    @cached_property
    def family(self) -> pd.DataFrame:
        return convergence_family(self.curves, self.times, self.share, alpha=self.alpha)

    # ----------------------------------------------------------------------- the parts, in page order

    def budget(self) -> Part:
        """Epochs, seeds per loss and validation evaluations per epoch, read from the runs."""
        evaluations = (self.curves["epoch"] <= 1).groupby(self.curves["hash"]).sum()
        return Part({"epochs_budget": int(self.history["epoch"].max()),
                     "n_seeds": int(self.runs.groupby(["dataset", "loss"]).size().max()),
                     "evals_per_epoch": int(evaluations.max())})

    def validation_curves(self) -> Part:
        return Part({"fig_val_curves": plots.curves_with_band(self.curves, x="epoch", y="val_acc", hue="loss",
                                                              col="dataset", hue_order=ACCURACY_LOSSES,
                                                              col_order=self.datasets)})

    def loss_curves(self) -> Part:
        return Part({"fig_loss_curves": plots.curves_with_band(self.history, x="epoch", y="train_loss", hue="loss",
                                                               col="dataset", logy=True, hue_order=ACCURACY_LOSSES,
                                                               col_order=self.datasets)})

    def steps_to_level(self) -> Part:
        """The median optimizer steps to each level, and how many runs got there."""
        table = time_summary(self.times, "step", order=ACCURACY_LOSSES)
        return Part({"convergence_levels": ", ".join(f"{f:.0%}" for f in self.fractions)},
                    (order_index(table, {"dataset": self.datasets}),))

    def machine(self) -> Part:
        """Whether the runs shared the machine evenly (:func:`machine_share`), and where seconds are reported."""
        return Part({"seconds_note": seconds_note(self.share), "max_pace_spread": f"{MAX_PACE_SPREAD:g}"},
                    (order_index(share_table(self.share), {"dataset": self.datasets}),))

    def seconds_to_level(self) -> Part:
        """The median training seconds to each level, only where the machine was shared evenly."""
        table = time_summary(evenly_timed(self.times, self.share), "train_seconds", order=ACCURACY_LOSSES)
        return Part({}, (order_index(table, {"dataset": self.datasets}),))

    def family_table(self) -> Part:
        """The paired verdicts of the whole family, and its size."""
        family = self.family
        table = order_index(verdict_table(family), {"measure": ["area", "steps", "seconds"], "dataset": self.datasets})
        return Part({"convergence_family_size": family_size(family),
                     "time_ratio_margin": f"{TIME_RATIO_MARGIN:g}", "alpha_text": f"{self.alpha:g}"},
                    (table.style.format({"p (Holm)": "{:.3f}"}, na_rep="n/a"),))

    def verdict(self) -> Part:
        """The verdicts in one line (``convergence_verdict``, also the part's text) and the intro's claim rows
        from the area under the validation curve (``claim_convergence_*``)."""
        verdict = convergence_summary(self.family, self.share)
        area = self.family[self.family["measure"] == "area"]
        return Part({"convergence_verdict": verdict, **claim_rows("claim_convergence", area, self.profile)},
                    text=verdict)
