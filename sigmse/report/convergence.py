"""Convergence measured properly: validation curves, censored time to a level, and the area under the curve.

Each run's validation curve (``record["curve"]``: validation accuracy several times an epoch, with steps and
seconds so far) gives the time to a level (censored where never reached) and the area under the curve, compared
seed by seed and Holm-adjusted together; seconds count only where the runs shared the machine evenly.
:func:`validation_plateau` checks whether an epoch budget was long enough. :class:`ConvergenceChapter` is the page
(``notebooks/convergence.ipynb``); the rules are on the book's method page ("Convergence").
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
from sigmse.provenance import processor_kind
from sigmse.report import plots, verdicts
from sigmse.report.analysis import Part, history_frame, records_frame, variant_label
from sigmse.report.chapters import Records, claim_rows, counted, family_size, order_index
from sigmse.report.verdicts import ACCURACY_MARGINS, P_COLUMNS, decisive_p, paired_tests
from sigmse.runs.profiles import ACCURACY_LOSSES

__all__ = ["TIME_RATIO_MARGIN", "TIME_UNITS", "MAX_PACE_SPREAD", "PLATEAU_START", "PLATEAU_GAIN", "curve_frame",
           "validation_levels", "time_to_level", "machine_share", "share_table", "seconds_note", "evenly_timed",
           "time_tests", "area_tests", "convergence_family", "ratio_text", "time_summary", "verdict_table",
           "convergence_summary", "validation_plateau", "plateau_table", "plateau_summary", "plateau_reading",
           "ConvergenceChapter"]

# Equivalent speed: within a factor 1.25 either way (bioequivalence's 80-125% rule), fixed before the runs it judges;
# a 25% difference in training time is the smallest most users would notice.
TIME_RATIO_MARGIN = 1.25
TIME_UNITS = {"step": "optimizer steps", "train_seconds": "training seconds"}
# Seconds are compared only where the runs recorded one thread count and each loss's slowest epoch took at most this
# factor times its fastest: the time verdicts' own margin, so the machine alone cannot make a margin's difference.
# Fixed after reading the v1 full records (spreads 1.47 to several hundred), before it judged any run. It cannot see
# a load constant through every run of one loss and absent from every run of the other.
MAX_PACE_SPREAD = TIME_RATIO_MARGIN
# ... and only where the compared runs that name their processor name one kind: another processor is another
# machine, whatever the spread. Added when full2's sweep resumed on a second kind of machine, before any full2 page
# was built (seconds can only be withheld by it, never given).
SHARE_COLUMNS = ("dataset", "loss", "runs", "threads", "processors", "epoch_seconds_min", "epoch_seconds_max",
                 "spread", "even")
# The last quarter of a budget of E epochs: from the end of epoch ceil(PLATEAU_START * E) to the end of epoch E.
PLATEAU_START = 0.75
# A budget has *flattened* softmax CE's validation accuracy when the seed mean gains under 0.1 pp over that quarter:
# twice the budget would then add under 0.4 pp, less than the smallest accuracy margin. Stated after the MNIST and
# Fashion-MNIST full runs existed (gains +0.22 and +0.23 pp: both fail it), so not chosen to make a budget pass.
PLATEAU_GAIN = 0.001
PLATEAU_COLUMNS = ("dataset", "loss", "epochs", "from_epoch", "runs", "seeds", "val_from", "val_end", "gain",
                   "gain_min", "gain_max", "flattened")
CURVE_COLUMNS = ("hash", "dataset", "loss", "variant", "lr", "seed", "status", "step", "epoch", "train_seconds",
                 "val_acc")


def curve_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run and validation evaluation (``CURVE_COLUMNS``). A record without a curve raises
    ``ValueError``: mixing it in would compare different resolutions."""
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
    """Per dataset, each fraction of the best seed-mean final validation accuracy of any ``column`` level, read
    from the ``selection`` runs at the ``report`` runs' learning rates, so the levels are fixed before the runs
    timed against them. Columns: ``dataset``, ``fraction``, ``best``, ``level``."""
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
    """Did the runs compared share the machine evenly? Per dataset and loss (:data:`SHARE_COLUMNS`): runs, thread
    counts (None: not recorded), the kinds of processor the dataset's runs name (records made before provenance
    named one are left out), fastest and slowest epoch (s), their ratio, and the :data:`MAX_PACE_SPREAD` rule."""
    runs = [(r["config"]["dataset"], r["config"]["loss"], r.get("provenance", {}).get("torch_threads"),
             [float(h["seconds"]) for h in r["history"] if h.get("seconds") is not None],
             r.get("provenance", {}).get("processor"))
            for r in records if r["config"]["loss"] in (candidate, baseline)]
    out = []
    for dataset in dict.fromkeys(run[0] for run in runs):
        threads = tuple(sorted({run[2] for run in runs if run[0] == dataset}, key=lambda n: (n is None, n or 0)))
        processors = tuple(sorted({processor_kind(run[4]) for run in runs if run[0] == dataset and run[4]}))
        pair = []
        for loss in (baseline, candidate):
            found = [run for run in runs if run[:2] == (dataset, loss)]
            seconds = [s for run in found for s in run[3]]
            low, high = (min(seconds), max(seconds)) if seconds else (math.nan, math.nan)
            spread = high / low if seconds and low > 0 else math.nan
            pair.append([dataset, loss, len(found), threads, processors, low, high, spread])
        even = (len(threads) == 1 and None not in threads and len(processors) <= 1
                and all(row[2] and row[7] <= MAX_PACE_SPREAD for row in pair))
        out += [[*row, even] for row in pair]
    return pd.DataFrame(out, columns=list(SHARE_COLUMNS))


def _uneven_reason(part: pd.DataFrame) -> str:
    """Why one dataset's rows of :func:`machine_share` fail the rule, in a few words."""
    threads = part["threads"].iloc[0]
    if None in threads:
        return "a run did not record its torch thread count"
    if len(threads) > 1:
        return "its runs trained with " + " and ".join(str(count) for count in threads) + " torch threads"
    if len(part["processors"].iloc[0]) > 1:
        return "its runs trained on " + " and on ".join(part["processors"].iloc[0])
    if not part["runs"].all():
        return "a loss has no runs"
    worst = part.loc[part["spread"].idxmax()]
    return f"{plots.pretty(worst['loss'])}'s slowest epoch took {worst['spread']:.2f} times its fastest"


def seconds_note(share: pd.DataFrame) -> str:
    """Where seconds are reported, and where they are not and why, from a :func:`machine_share` frame."""
    datasets = list(dict.fromkeys(share["dataset"]))
    even = [d for d in datasets if share.loc[share["dataset"] == d, "even"].all()]
    uneven = [f"{d} ({_uneven_reason(share[share['dataset'] == d])})" for d in datasets if d not in even]
    parts = []
    if even:
        parts.append(f"Seconds to a level are reported for {', '.join(even)}, where the runs compared shared the "
                     "machine evenly.")
    if uneven:
        parts.append(f"Seconds to a level are not reported for {'; '.join(uneven)}: the runs compared shared the "
                     f"machine unevenly (the rule allows a spread of {MAX_PACE_SPREAD:g}, one thread count and one "
                     "kind of processor), so their seconds would measure the machine as much as the loss.")
    return " ".join(parts) or "No runs to time."


def share_table(share: pd.DataFrame) -> pd.DataFrame:
    """A :func:`machine_share` frame for print, indexed by dataset and loss."""
    return pd.DataFrame({
        "runs": share["runs"].to_numpy(),
        "torch threads": [", ".join("not recorded" if c is None else str(c) for c in t) for t in share["threads"]],
        "processors": [len(kinds) or "not recorded" for kinds in share["processors"]],
        "fastest epoch (s)": share["epoch_seconds_min"].to_numpy(),
        "slowest epoch (s)": share["epoch_seconds_max"].to_numpy(),
        "slowest / fastest": share["spread"].to_numpy(),
        f"seconds reported (spread \u2264 {MAX_PACE_SPREAD:g}, one thread count, one processor)":
            ["yes" if even else "no" for even in share["even"]],
    }, index=pd.MultiIndex.from_frame(share[["dataset", "loss"]]))


def evenly_timed(times: pd.DataFrame, share: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``times`` whose dataset's runs shared the machine evenly: the only seconds tested or shown."""
    return times[times["dataset"].isin(share.loc[share["even"], "dataset"])]


def _sign_row(candidate: pd.Series, baseline: pd.Series) -> dict[str, Any]:
    """Sign-test p-values (who got there first) from pairs where at least one side reached the level."""
    cand, base = candidate.fillna(np.inf).to_numpy(), baseline.fillna(np.inf).to_numpy()
    neither = np.isinf(cand) & np.isinf(base)
    faster, slower = int((cand < base)[~neither].sum()), int((cand > base)[~neither].sum())
    n = faster + slower
    p = dict.fromkeys(P_COLUMNS.values(), math.nan)
    if n:
        p["p_better"] = float(stats.binomtest(faster, n, 0.5, alternative="greater").pvalue)
        p["p_worse"] = float(stats.binomtest(faster, n, 0.5, alternative="less").pvalue)
    note = (f"censored: sign test over {n} pair(s), {faster} first / {slower} later"
            + (f"; {neither.sum()} pair(s) where neither reached it" if neither.any() else ""))
    return {"n_pairs": n, "mean_diff": math.nan, "ci95_low": math.nan, "ci95_high": math.nan, **p, "note": note}


def time_tests(times: pd.DataFrame, unit: str = "step", candidate: str = "sigmoid_mse_or",
               baseline: str = "softmax_ce", column: str = "loss") -> pd.DataFrame:
    """Per dataset and level, ``candidate`` against ``baseline`` on the time to the level in ``unit``, paired on
    the seed: a paired t-test on log times (equivalent within ``log(TIME_RATIO_MARGIN)``) when every pair reached
    it, else a sign test, which never shows equivalence. Rows as :func:`~sigmse.report.verdicts.paired_tests`."""
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
    """Per dataset, ``candidate`` against ``baseline`` on the area under the validation curve (an accuracy, so
    the accuracy margins apply), paired on the seed."""
    areas = (curves.dropna(subset=["val_acc"]).groupby(["hash", "dataset", column, "seed"])
             .apply(_area, include_groups=False).rename("val_area").reset_index())
    return paired_tests(areas, "val_area", claim="equivalence", margins=margins, by="dataset", baseline=baseline,
                        column=column, levels=[candidate])


def convergence_family(curves: pd.DataFrame, times: pd.DataFrame, share: pd.DataFrame | None = None, *,
                       alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's family, Holm-adjusted: ``measure`` ``"area"``, ``"steps"`` and ``"seconds"`` (these only
    where :func:`evenly_timed` keeps them; all when ``share`` is None)."""
    timed = times if share is None else evenly_timed(times, share)
    parts = [area_tests(curves).assign(measure="area"), time_tests(times, "step").assign(measure="steps"),
             time_tests(timed, "train_seconds").assign(measure="seconds")]
    kept = [part for part in parts if len(part)] or parts[:1]  # an empty part would turn the counts to floats
    return verdicts.holm_verdicts(pd.concat(kept, ignore_index=True), alpha=alpha)


def ratio_text(row: Mapping[str, Any]) -> str:
    """A time row's effect, ``"×0.93 [0.85, 1.02]"`` (candidate's time over the baseline's), or its censoring note."""
    if not np.isfinite(row["mean_diff"]):
        return str(row["note"])
    ratio = f"\u00d7{math.exp(row['mean_diff']):.2f}"
    if not np.isfinite(row["ci95_low"]):  # one pair: no interval
        return ratio
    return f"{ratio} [{math.exp(row['ci95_low']):.2f}, {math.exp(row['ci95_high']):.2f}]"


def time_summary(times: pd.DataFrame, unit: str = "step", column: str = "loss",
                 order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per dataset and level (rows) and ``column`` level: the median time of the runs that reached it, and how
    many did, ``"1,250 (5/5)"`` or ``"never (0/5)"``."""
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
    """The convergence family for print: per measure, dataset and level, the pairs, the effect (area: pp; times:
    ratio), the Holm-adjusted p and the verdict."""
    effects = [f"{row['mean_diff'] * 100:+.2f} pp" if row["measure"] == "area" else ratio_text(row)
               for _, row in family.iterrows()]
    level = ["" if pd.isna(f) else f"{f:.0%}" for f in family.get("fraction", pd.Series(np.nan, family.index))]
    table = pd.DataFrame({"measure": family["measure"], "dataset": family["dataset"], "level": level,
                          "pairs": family["n_pairs"], "effect": effects,
                          "p (Holm)": [decisive_p(row) for _, row in family.iterrows()],
                          "verdict": family["verdict"]})
    return table.set_index(["measure", "dataset", "level"])


def convergence_summary(family: pd.DataFrame, share: pd.DataFrame | None = None) -> str:
    """One line: the area verdict per dataset, the verdict counts in steps and in seconds, and with ``share`` the
    datasets whose seconds are not reported."""
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
    """Per dataset (-> budget E) and loss, the seed-mean gain of validation accuracy from epoch ceil(0.75 E) to E;
    ``flattened``: ``gain < PLATEAU_GAIN``, None with nothing to judge. A history ending elsewhere raises."""
    rows = [_plateau_row(history[(history["dataset"] == dataset) & (history["loss"] == loss)], dataset, loss, budget)
            for dataset, budget in epochs.items() for loss in losses]
    return pd.DataFrame(rows, columns=list(PLATEAU_COLUMNS))


def _flattened_text(row: Mapping[str, Any]) -> str:
    """The rule's answer for one :func:`validation_plateau` row, in words."""
    if row["runs"] == 0:
        return "not run yet"
    if row["seeds"] == 0:
        return "cannot tell (no run has both accuracies)"
    if row["flattened"] is None:
        return f"cannot tell ({counted(row['epochs'], 'epoch')}: no last quarter)"
    return "yes" if row["flattened"] else "no"


def plateau_table(plateau: pd.DataFrame) -> pd.DataFrame:
    """A :func:`validation_plateau` frame for print, indexed by dataset and loss."""
    def percent(value: float) -> str:
        return "n/a" if math.isnan(value) else f"{value * 100:.2f}"

    gains = ["n/a" if math.isnan(row["gain"]) else
             f"{row['gain'] * 100:+.2f} [{row['gain_min'] * 100:+.2f}, {row['gain_max'] * 100:+.2f}]"
             for _, row in plateau.iterrows()]
    return pd.DataFrame({
        "epochs": plateau["epochs"].to_numpy(), "seeds": plateau["seeds"].to_numpy(),
        "val acc at 3/4 (%)": [f"{percent(v)} (epoch {e})" if r else "n/a"
                               for v, e, r in zip(plateau["val_from"], plateau["from_epoch"], plateau["runs"])],
        "val acc at end (%)": [percent(v) for v in plateau["val_end"]],
        "gain (pp) [min, max over seeds]": gains,
        f"flattened (gain < {PLATEAU_GAIN * 100:g} pp)": [_flattened_text(row) for _, row in plateau.iterrows()],
    }, index=pd.MultiIndex.from_frame(plateau[["dataset", "loss"]]))


def plateau_summary(plateau: pd.DataFrame) -> str:
    """One line, e.g. ``"mnist (12 epochs): +0.22 pp over epochs 9 to 12, not flattened; cifar10 (10 epochs): not
    run yet"``."""
    parts = []
    for _, row in plateau.iterrows():
        head = f"{row['dataset']} ({counted(row['epochs'], 'epoch')})"
        if row["flattened"] is None:
            parts.append(f"{head}: {_flattened_text(row)}")
            continue
        gain = f"{row['gain'] * 100:+.2f} pp".replace("-", "\u2212")
        parts.append(f"{head}: {gain} over epochs {row['from_epoch']} to {row['epochs']}, "
                     + ("flattened" if row["flattened"] else "not flattened"))
    return "; ".join(parts) if parts else "not run"


def plateau_reading(schedules: Iterable[str]) -> str:
    """What a *not flattened* answer of :func:`plateau_summary` means for runs on these learning-rate schedules
    (read from the runs). At a constant rate, a gain over the last quarter is a network still learning at the pace
    longer training would keep. A decaying rate ends every budget with shrinking steps, which raise validation
    accuracy whatever the budget, so there the last-quarter gain does not say that more epochs would help, and the
    budget's test is the epoch pilot's, which doubles whole runs."""
    distinct = sorted(set(schedules))
    if not distinct:
        return "No run has a schedule to read."
    if distinct == ["constant"]:
        return ("Where it says not flattened, softmax CE was still gaining when training stopped, so the accuracies "
                "and verdicts of this chapter describe this epoch budget, not what the network would reach with more "
                "epochs.")
    named = " and ".join(distinct)
    return (f"These runs train on the {named} learning-rate schedule{'s' if len(distinct) > 1 else ''} (read from "
            "the runs), and a rate that decays to zero raises validation accuracy over the last epochs of any budget "
            "as its steps shrink: here a gain over the last quarter does not say that more epochs would help, and the "
            "rule above is shown as context only. Whether these budgets are long enough is the epoch pilot's "
            "question below, which trains whole runs of twice the budget.")


@dataclass(frozen=True)
class ConvergenceChapter:
    """This build's accuracy records (``selection`` chose the learning rates and sets the levels, ``report`` is
    timed), the levels as ``fractions`` of the best validation accuracy, and the family-wise error rate ``alpha``."""

    selection: Records
    report: Records
    profile: str
    fractions: Sequence[float] = (0.9, 0.95, 0.99)
    alpha: float = 0.05

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

    # -- the parts, in page order

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
