"""What the chapter notebooks print and glue, from :mod:`sigmse.report.analysis` frames.

A chapter gets its runs from :func:`sigmse.runs.executors.experiment_records` (the records of an experiment of
:mod:`sigmse.runs.experiments`; stored runs load, missing ones train: this layer only reads them), prints
:func:`page_note` first, then shows tables and glues numbers and verdicts for its prose and the intro's table:

1. :func:`runs_frame`: the runs with the setup only their records know (torch threads, batch size, training
   examples); :func:`budget_text` states a page's budget, grid and seeds from those runs, never from the profile;
   :func:`epoch_budgets`: each dataset's epochs, read the same way.
2. :func:`headline_table`, :func:`calibration_table` and :func:`comparison_table`: the results and the
   verdicts of :mod:`sigmse.report.verdicts` as strings ready to print, their rows in the order the book uses
   (:func:`order_index`), each compared run's thread count beside them.
3. :func:`accuracy_family`: the accuracy chapter's judged family (Output Reset against softmax CE, and its own
   share: against plain sigmoid-MSE, and plain sigmoid-MSE against softmax CE); :func:`claim_alone_text`, what
   the claim's comparisons alone would say; :func:`unjudged` and :func:`against`: the context comparisons.
4. :func:`keyed_values`, :func:`dataset_key`, :func:`comparison_row`: plain floats and rows under glue keys
   (``<prefix>_<dataset>_<level>``), so prose never types a number; :func:`claim_cells` and :func:`claim_rows`:
   the cells of the intro's claim-table rows (verdict, effect with interval, margin, seeds, profile);
   :func:`verdict_texts`: one verdict line per dataset.
5. :func:`output_reset_share` (Adam, judged) and :func:`sgd_output_reset_share` (plain SGD, described): is
   Output Reset what makes sigmoid-MSE competitive with softmax CE? In words, with the numbers behind them.
6. :func:`lr_sweep_verdict`: one descriptive line, with the counts it rests on; :func:`lr_sweep_table`:
   accuracy versus learning rate.
7. :func:`grid_edges`: the groups whose chosen learning rate sits at the edge of the grid tried.
8. :func:`ablation_names` and :func:`ablation_frame`: the Output Reset ablation's readable names and runs;
   :func:`thread_pairs_table` and
   :func:`thread_agreement_text`: where two runs that should agree differ, how much of it the thread count explains.
9. :func:`glue` and :func:`glue_all`: how every chapter glues a value for its prose, without showing it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.report.analysis import (chance_level, metric_or_chance, provenance_line, records_frame, summarize,
                                    variant_label)
from sigmse.config import config_from_dict
from sigmse.runs.experiments import VERDICT_DATASETS
from sigmse.runs.protocol import chosen_learning_rates, lr_group
from sigmse.report.verdicts import (ACCURACY_MARGINS, NOT_JUDGED, decisive_p, holm_verdicts, paired_tests,
                                    verdict_label, verdict_text)
from sigmse.runs.profiles import OUTPUT_RESET_VARIANTS

__all__ = [
    "VERDICT_DATASETS",
    "glue",
    "glue_all",
    "listing",
    "THREADS",
    "runs_frame",
    "epoch_budgets",
    "budget_text",
    "accuracy_family",
    "claim_alone_text",
    "unjudged",
    "against",
    "claim_rows",
    "verdict_texts",
    "output_reset_share",
    "sgd_output_reset_share",
    "thread_pairs_table",
    "thread_agreement_text",
    "dataset_key",
    "comparison_row",
    "order_index",
    "headline_table",
    "calibration_table",
    "comparison_table",
    "difference_table",
    "claim_cells",
    "keyed_values",
    "ablation_names",
    "ablation_frame",
    "lr_sweep_table",
    "lr_sweep_verdict",
    "grid_edges",
    "at_best_validation_lr",
    "page_note",
]



def glue(key: str, value: Any) -> None:
    """Glue ``value`` (a number, a string, a figure) under ``key`` for the prose, without showing it in the cell.

    This is ``myst_nb.glue(key, value, display=False)`` with a 0-d numpy array, numpy scalar or tensor made a
    plain Python number first: MyST-NB formats a glued ``np.float64(0.5)`` by its repr, which a format spec
    such as ``:.2f`` cannot read.
    """
    from myst_nb import glue as myst_glue  # the book's extra: imported only when a chapter runs

    if getattr(value, "ndim", None) == 0:
        value = value.item()
    myst_glue(key, value, display=False)


def glue_all(values: Mapping[str, Any]) -> None:
    """:func:`glue` every ``key: value`` of ``values``, in order."""
    for key, value in values.items():
        glue(key, value)


def listing(values: Sequence[Any]) -> str:
    """Values for prose, comma-separated, floats without trailing zeros: ``[0.2, 0.4] -> "0.2, 0.4"``."""
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def dataset_key(name: str) -> str:
    """A dataset name as a glue-key part: ``fashion-mnist`` -> ``fashion_mnist``."""
    return name.replace("-", "_")


def comparison_row(comparison: pd.DataFrame, compared: str, column: str = "loss",
                   **where: Any) -> dict[str, Any] | None:
    """The row of a :func:`~sigmse.report.verdicts.holm_verdicts` frame where ``column`` is ``compared`` (and each
    ``where`` column has its value, e.g. ``dataset="mnist", level=0.8``); None if absent."""
    mask = comparison[column] == compared
    for key, value in where.items():
        mask &= comparison[key] == value
    rows = comparison[mask]
    if len(rows) > 1:
        raise ValueError(f"{len(rows)} rows match {column}={compared!r}, {where}; narrow the selection")
    return None if rows.empty else rows.iloc[0].to_dict()


# -- the runs' own setup ----------------------------------------------------------------------------------

# The torch intra-op thread count a run trained with, from its record's provenance. It is part of the run's
# arithmetic: each matrix product splits its sums over the threads, and floating-point addition is not
# associative, so the same run with another thread count rounds differently from its first step on.
THREADS = "torch_threads"
_SETUP_FIELDS = ("batch_size", "momentum", "schedule")  # config fields records_frame leaves out


def runs_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`~sigmse.report.analysis.records_frame` plus the setup a page states beside its numbers, read from
    each record: ``torch_threads`` (:data:`THREADS`, the provenance's thread count; NaN where not recorded),
    ``batch_size``, ``momentum``, ``schedule`` and ``n_train`` (the training examples, from the metrics)."""
    records = list(records)
    frame = records_frame(records)
    if frame.empty:
        return frame.assign(**{THREADS: [], **{name: [] for name in _SETUP_FIELDS}, "n_train": []})
    provenance = [record.get("provenance", {}) for record in records]
    return frame.assign(
        **{THREADS: [float("nan") if p.get("torch_threads") is None else float(p["torch_threads"])
                     for p in provenance]},
        **{name: [record["config"].get(name) for record in records] for name in _SETUP_FIELDS},
        n_train=[record.get("metrics", {}).get("n_train") for record in records])


def _threads_text(threads: pd.Series, unit: bool = True) -> str:
    """The thread counts of some runs: ``"2"`` when they share one, ``"1 (8 runs), 2 (6 runs)"`` when not,
    ``"not recorded"`` when no record names it; with ``unit``, ``"2 torch threads"``."""
    counts = threads.dropna().astype(int).value_counts().sort_index()
    if counts.empty:
        return "threads not recorded" if unit else "not recorded"
    if len(counts) == 1:
        n = int(counts.index[0])
        return f"{n} torch thread{'s' if n != 1 else ''}" if unit else str(n)
    text = ", ".join(f"{n} ({k} run{'s' if k != 1 else ''})" for n, k in counts.items())
    return f"torch threads {text}" if unit else text


def _threads_clause(threads: pd.Series) -> str:
    """``"2 torch threads in every run"``, or the counts where the runs differ (:func:`_threads_text`)."""
    text = _threads_text(threads)
    return f"{text} in every run" if threads.dropna().nunique() == 1 else text


def epoch_budgets(report: pd.DataFrame) -> dict[str, int]:
    """Each dataset's epoch budget, read from its runs (a :func:`runs_frame`), in the order the datasets appear.
    Runs of one dataset with different budgets raise ``ValueError``: a page states one budget per dataset."""
    budgets = {}
    for dataset, epochs in report.groupby("dataset", sort=False)["epochs"]:
        if epochs.nunique() != 1:
            raise ValueError(f"the {dataset} runs trained for {sorted(int(e) for e in epochs.unique())} epochs; "
                             "a page states one epoch budget per dataset")
        budgets[str(dataset)] = int(epochs.iloc[0])
    return budgets


def _values_text(values: pd.Series) -> str:
    """The distinct values of a column, ``"a"`` or ``"a or b"`` (a page states what its runs did, even mixed)."""
    distinct = sorted(values.dropna().unique().tolist())
    return " or ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in distinct) or "not recorded"


def _seeds_text(seeds: pd.Series) -> str:
    return listing(sorted(int(seed) for seed in seeds.unique()))


def _counted(count: Any, noun: str) -> str:
    """``"1 epoch"``, ``"12 epochs"``; ``count`` may be a listing such as ``"12 or 20"``."""
    return f"{count} {noun}" + ("" if str(count) == "1" else "s")


def budget_text(report: pd.DataFrame, selection: pd.DataFrame | None = None) -> str:
    """The budget, grid and seeds of a page, per dataset, read from its runs (:func:`runs_frame` frames) and
    never from the profile: model, optimizer (with its momentum where it has one), schedule, epochs, batch size,
    training examples, the learning rates, the seeds and the torch threads. ``selection``: the runs that chose
    each learning rate (their rates and seeds are stated as such); without it every rate of ``report`` is
    reported, and the page chose none. E.g. ``"mnist: mlp, adam, constant schedule, 12 epochs, batches of 128,
    55000 training examples; learning rates 0.0003, 0.001, 0.003 tried by selection seeds 0, 1, the chosen one
    reported with seeds 2, 3; 2 torch threads"``."""
    parts = []
    for dataset, runs in report.groupby("dataset", sort=False):
        optimizer = _values_text(runs["optimizer"])
        if set(runs["optimizer"]) & {"sgd", "nesterov"}:
            optimizer += f" (momentum {_values_text(runs['momentum'])})"
        setup = (f"{_values_text(runs['model'])}, {optimizer}, {_values_text(runs['schedule'])} schedule, "
                 f"{_counted(_values_text(runs['epochs']), 'epoch')}, "
                 f"batches of {_values_text(runs['batch_size'])}, {_values_text(runs['n_train'])} training examples")
        chose = None if selection is None else selection[selection["dataset"] == dataset]
        if chose is not None and len(chose):
            rates = (f"learning rates {listing(sorted(chose['lr'].unique()))} tried by selection seeds "
                     f"{_seeds_text(chose['seed'])}, the chosen one reported with seeds {_seeds_text(runs['seed'])}")
            threads = _threads_text(pd.concat([chose[THREADS], runs[THREADS]]))
        else:
            rates = (f"learning rates {listing(sorted(runs['lr'].unique()))}, each reported (none chosen), "
                     f"seeds {_seeds_text(runs['seed'])}")
            threads = _threads_text(runs[THREADS])
        parts.append(f"{dataset}: {setup}; {rates}; {threads}")
    return "; ".join(parts) if parts else "not run"


def _pm(mean: float, std: float, scale: float, digits: int) -> str:
    if np.isnan(mean):
        return "n/a"
    return f"{mean * scale:.{digits}f}" + ("" if np.isnan(std) else f" \u00b1 {std * scale:.{digits}f}")


def _interval(low: float, high: float, scale: float, digits: int) -> str:
    return "n/a" if np.isnan(low) else f"[{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


def order_index(table: pd.DataFrame, orders: Mapping[str, Sequence[Any]] | None) -> pd.DataFrame:
    """``table`` with the index levels named in ``orders`` sorted in the given order (others alphabetically)."""
    if not orders:
        return table
    def rank(index: pd.Index) -> pd.Index:
        order = orders.get(index.name)
        return index.map({level: i for i, level in enumerate(order)}.get) if order is not None else index
    return table.sort_index(key=rank)


def headline_table(report: pd.DataFrame, by: Sequence[str] = ("dataset", "loss"),
                   orders: Mapping[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """The results table of the reporting runs: per group the learning rate (chosen on validation by the
    selection seeds), the reporting seeds, test accuracy in % (mean ± std and 95% CI), as strings ready to print,
    and, for a :func:`runs_frame`, the torch threads the runs trained with (part of each run's setup).
    ``orders`` sorts index levels (see :func:`order_index`)."""
    keys = list(by)
    acc = summarize(report, "test_acc", keys).set_index(keys)
    table = pd.DataFrame({
        "lr": report.groupby(keys)["lr"].first().map("{:g}".format),
        "seeds": acc["n"].astype(str) + np.where(acc["n_diverged"] > 0, " (+" + acc["n_diverged"].astype(str)
                                                 + " diverged)", ""),
        "test acc (%)": [_pm(m, s, 100, 2) for m, s in zip(acc["mean"], acc["std"])],
        "95% CI (%)": [_interval(lo, hi, 100, 2) for lo, hi in zip(acc["ci95_low"], acc["ci95_high"])],
    }, index=acc.index)
    if THREADS in report:
        table["threads"] = report.groupby(keys)[THREADS].agg(lambda t: _threads_text(t, unit=False))
    return order_index(table, orders)


def calibration_table(report: pd.DataFrame, by: Sequence[str] = ("dataset", "loss"),
                      orders: Mapping[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """ECE and NLL of the reporting runs (mean ± std over seeds), raw and after temperature scaling fitted on
    validation (:mod:`sigmse.calibration`), with the mean fitted temperature."""
    keys = list(by)
    columns = {"ECE": "test_ece", "ECE (TS)": "test_ece_ts", "NLL": "test_nll", "NLL (TS)": "test_nll_ts"}
    parts = {name: summarize(report, metric, keys).set_index(keys) for name, metric in columns.items()}
    table = pd.DataFrame({name: [_pm(m, s, 1, 3) for m, s in zip(part["mean"], part["std"])]
                          for name, part in parts.items()}, index=parts["ECE"].index)
    table["T"] = report.groupby(keys)["temperature"].mean().reindex(table.index).map(
        lambda t: "n/a" if np.isnan(t) else f"{t:.2f}")
    return order_index(table, orders)


def comparison_table(verdicts: pd.DataFrame, scale: float = 100.0, unit: str = "pp", digits: int = 2,
                     orders: Mapping[str, Sequence[Any]] | None = None,
                     keys: Sequence[str] | None = None, runs: pd.DataFrame | None = None,
                     column: str = "loss") -> pd.DataFrame:
    """A :func:`~sigmse.report.verdicts.holm_verdicts` frame for print, five short columns: seeds, difference (times
    ``scale``, in ``unit``) with its 95% interval, margin, Holm-adjusted p of the verdict, verdict. The index is
    ``keys`` (default: the grouping columns and the compared column); ``orders`` sorts it (:func:`order_index`).
    With ``runs`` (the compared runs, a :func:`runs_frame`; ``column`` names the compared levels there) a sixth
    column, ``threads``, gives the torch threads of the compared runs and of the baseline's: a pair with other
    thread counts differs in its arithmetic as well as in its loss."""
    suffix = f" ({unit})" if unit else ""
    known = {"baseline", "claim", "margin", "n_pairs", "mean_diff", "ci95_low", "ci95_high", "higher_is_better",
             "note", "family_size", "verdict", "sd_diff"}
    keys = list(keys) if keys is not None else [c for c in verdicts.columns if c not in known
                                                 and not c.startswith(("p_", "padj_"))]
    table = pd.DataFrame({
        "seeds": verdicts["n_pairs"].to_numpy(),
        f"difference [95% CI]{suffix}": [
            "n/a" if np.isnan(d) else f"{d * scale:+.{digits}f} {_interval(lo, hi, scale, digits)}".replace(" n/a", "")
            for d, lo, hi in zip(verdicts["mean_diff"], verdicts["ci95_low"], verdicts["ci95_high"])],
        f"margin{suffix}": [f"\u00b1{m * scale:.{digits}f}" for m in verdicts["margin"]],
        "p (Holm)": [_p_text(decisive_p(row)) for _, row in verdicts.iterrows()],
        "verdict": verdicts["verdict"].to_numpy(),
    }, index=pd.MultiIndex.from_frame(verdicts[keys]))
    if runs is not None:
        table["threads"] = _pair_threads(verdicts, runs, column)
    return order_index(table, orders)


def _pair_threads(verdicts: pd.DataFrame, runs: pd.DataFrame, column: str) -> list[str]:
    """Per verdict row, ``"<compared runs' threads> vs <baseline runs' threads>"``, from the runs of its group."""
    groups = [c for c in verdicts.columns if c in runs.columns and c != column]
    texts = []
    for _, row in verdicts.iterrows():
        group = runs
        for key in groups:
            group = group[group[key] == row[key]]
        texts.append(" vs ".join(_threads_text(group.loc[group[column] == level, THREADS], unit=False)
                                 for level in (row[column], row["baseline"])))
    return texts


def difference_table(tests: pd.DataFrame, scale: float = 100.0, unit: str = "pp", digits: int = 2,
                     orders: Mapping[str, Sequence[Any]] | None = None,
                     keys: Sequence[str] = ("dataset", "loss")) -> pd.DataFrame:
    """Paired differences without verdicts (a :func:`~sigmse.report.verdicts.paired_tests` frame, no test read): seeds
    and the difference with its 95% interval, for comparisons a chapter shows but does not judge."""
    suffix = f" ({unit})" if unit else ""
    table = pd.DataFrame({
        "seeds": tests["n_pairs"].to_numpy(),
        f"difference [95% CI]{suffix}": [
            "n/a" if np.isnan(d) else f"{d * scale:+.{digits}f} {_interval(lo, hi, scale, digits)}".replace(" n/a", "")
            for d, lo, hi in zip(tests["mean_diff"], tests["ci95_low"], tests["ci95_high"])],
    }, index=pd.MultiIndex.from_frame(tests[list(keys)]))
    return order_index(table, orders)


def _p_text(p: float) -> str:
    return "n/a" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def claim_cells(prefix: str, row: Mapping[str, Any] | None, profile: str, scale: float = 100.0,
                unit: str = "pp", digits: int = 2) -> dict[str, str]:
    """Glue keys for one row of the intro's claim table, from a :func:`~sigmse.report.verdicts.holm_verdicts` row:
    ``<prefix>`` the verdict (with its margin), ``<prefix>_effect`` the difference with its 95% interval,
    ``<prefix>_margin``, ``<prefix>_seeds`` (reporting seeds paired) and ``<prefix>_profile``."""
    if row is None:
        return {prefix: "not run", f"{prefix}_effect": "n/a", f"{prefix}_margin": "n/a", f"{prefix}_seeds": "0",
                f"{prefix}_profile": profile}
    interval = _interval(row["ci95_low"], row["ci95_high"], scale, digits)
    effect = "n/a" if np.isnan(row["mean_diff"]) else (
        f"{row['mean_diff'] * scale:+.{digits}f} {unit}" + ("" if interval == "n/a" else f" {interval}"))
    return {prefix: verdict_label(row, scale, unit), f"{prefix}_effect": effect.replace("-", "\u2212"),
            f"{prefix}_margin": f"\u00b1{row['margin'] * scale:.{digits}f} {unit}".strip(),
            f"{prefix}_seeds": str(int(row["n_pairs"])), f"{prefix}_profile": profile}


def claim_rows(prefix: str, family: pd.DataFrame, profile: str, compared: str = "sigmoid_mse_or",
               baseline: str = "softmax_ce", datasets: Sequence[str] = VERDICT_DATASETS) -> dict[str, str]:
    """:func:`claim_cells` for ``compared`` against ``baseline`` on each of ``datasets`` (keys
    ``<prefix>_<dataset>[_effect|_margin|_seeds|_profile]``; "not run" where a dataset has no row)."""
    return {key: value for dataset in datasets
            for key, value in claim_cells(f"{prefix}_{dataset_key(dataset)}",
                                          comparison_row(family, compared, dataset=dataset, baseline=baseline),
                                          profile).items()}


def verdict_texts(prefix: str, family: pd.DataFrame, compared: str = "sigmoid_mse_or",
                  baseline: str = "softmax_ce", datasets: Sequence[str] = VERDICT_DATASETS,
                  column: str = "loss") -> dict[str, str]:
    """``<prefix>_<dataset>`` -> :func:`~sigmse.report.verdicts.verdict_text` of ``compared`` (a level of
    ``column``) against ``baseline`` on each of ``datasets`` ("not run" where a dataset has no row)."""
    return {f"{prefix}_{dataset_key(dataset)}":
            verdict_text(comparison_row(family, compared, column, dataset=dataset, baseline=baseline))
            for dataset in datasets}


# -- the accuracy chapter's judged family, and Output Reset's own share -------------------------------------


def accuracy_family(report: pd.DataFrame, *, alpha: float = 0.05,
                    margins: float | Mapping[str, float] = ACCURACY_MARGINS, candidate: str = "sigmoid_mse_or",
                    plain: str = "sigmoid_mse", baseline: str = "softmax_ce") -> pd.DataFrame:
    """The accuracy chapter's family, judged together (:func:`~sigmse.report.verdicts.holm_verdicts`): per dataset
    the claim, ``candidate`` against ``baseline``, and Output Reset's own share, ``candidate`` against ``plain``
    (does OR change sigmoid-MSE?) and ``plain`` against ``baseline`` (is sigmoid-MSE competitive without OR?).
    Each is an equivalence claim on test accuracy, paired by seed, with the dataset's margin; the frame's
    ``baseline`` column says which loss a row is compared with."""
    def tests(levels: list[str], against_loss: str) -> pd.DataFrame:
        return paired_tests(report, "test_acc", claim="equivalence", margins=margins, baseline=against_loss,
                            levels=levels)

    return holm_verdicts(pd.concat([tests([candidate, plain], baseline), tests([candidate], plain)],
                                   ignore_index=True), alpha=alpha)


def claim_alone_text(report: pd.DataFrame, family: pd.DataFrame, *, alpha: float = 0.05,
                     margins: float | Mapping[str, float] = ACCURACY_MARGINS, candidate: str = "sigmoid_mse_or",
                     baseline: str = "softmax_ce") -> str:
    """What a larger family costs the claim: ``candidate`` against ``baseline`` judged on its own (Holm over its
    p-values only), compared with its verdicts in ``family``; one line naming every dataset where they differ."""
    alone = holm_verdicts(paired_tests(report, "test_acc", claim="equivalence", margins=margins, baseline=baseline,
                                       levels=[candidate]), alpha=alpha)
    if alone.empty:
        return "not run"
    if int(alone["family_size"].iloc[0]) == 0:
        return "with fewer than two seeds per comparison nothing is tested, alone or in the family"
    size = int(family["family_size"].iloc[0]) if len(family) else 0
    changed = []
    for _, row in alone.iterrows():
        judged = comparison_row(family, candidate, dataset=row["dataset"], baseline=baseline)
        if judged is not None and judged["verdict"] != row["verdict"]:
            changed.append(f"{row['dataset']} would be {row['verdict']}, not {judged['verdict']}")
    head = (f"judged alone, Holm over its own {int(alone['family_size'].iloc[0])} p-values instead of the "
            f"family's {size}, {candidate} against {baseline}")
    return f"{head} gets the same verdicts" if not changed else f"{head}: {'; '.join(changed)}"


def unjudged(report: pd.DataFrame, family: pd.DataFrame, *, baseline: str = "softmax_ce",
             margins: float | Mapping[str, float] = ACCURACY_MARGINS, column: str = "loss") -> pd.DataFrame:
    """The paired differences to ``baseline`` of every other level of ``column`` in ``report`` that ``family``
    does not judge against it, shown for context: no test is read, and the verdict is
    :data:`~sigmse.report.verdicts.NOT_JUDGED`."""
    judged = set(family.loc[family["baseline"] == baseline, column])
    others = [level for level in pd.unique(report[column]) if level != baseline and level not in judged]
    return paired_tests(report, "test_acc", claim="equivalence", margins=margins, baseline=baseline,
                        column=column, levels=others).assign(verdict=NOT_JUDGED)


def against(baseline: str, *comparisons: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``comparisons`` (verdict frames) whose baseline is ``baseline``, in one frame."""
    return pd.concat([frame[frame["baseline"] == baseline] for frame in comparisons], ignore_index=True)


# A run that ends at most this many times chance accuracy has not learnt to classify: the Output Reset answers
# count such runs, which a mean over seeds and a paired t-test blur into a wide interval.
NEAR_CHANCE = 2.0
# What a comparison says about "ahead of / behind / within the margin of" its baseline, from a tested verdict
_POSITION = {"better": "ahead", "worse": "behind", "equivalent": "within"}
_PLAIN_CLAUSE = {
    "within": "plain sigmoid-MSE is already within the margin of softmax CE",
    "ahead": "plain sigmoid-MSE is already ahead of softmax CE",
    "behind": "plain sigmoid-MSE trails softmax CE",
    "unknown": "plain sigmoid-MSE against softmax CE is inconclusive",
}


def _share_words(plain: str, reset: str, claim: str) -> str:
    """Is Output Reset what makes sigmoid-MSE competitive with softmax CE, in words, from three positions
    (``"ahead"``, ``"behind"``, ``"within"`` the margin, or ``"unknown"``): plain sigmoid-MSE against softmax CE,
    sigmoid-MSE + OR against plain sigmoid-MSE, and sigmoid-MSE + OR against softmax CE."""
    if reset == "unknown":
        return ("the runs cannot tell: sigmoid-MSE + OR against plain sigmoid-MSE is inconclusive, and "
                f"{_PLAIN_CLAUSE[plain]}")
    if reset in ("within", "behind"):
        effect = "by less than the margin" if reset == "within" else "down"
        return f"no: Output Reset moves sigmoid-MSE's accuracy {effect}, and {_PLAIN_CLAUSE[plain]}"
    if plain == "behind":
        if claim == "unknown":
            return ("in part: Output Reset improves plain sigmoid-MSE, which trails softmax CE; whether it brings "
                    "it level with softmax CE the runs cannot tell")
        if claim == "behind":
            return "in part: Output Reset improves sigmoid-MSE, which still trails softmax CE with it"
        lifted = "to within the margin of" if claim == "within" else "ahead of"
        return f"yes: plain sigmoid-MSE trails softmax CE, and Output Reset lifts it {lifted} softmax CE"
    if plain == "unknown":
        return f"not shown: Output Reset improves sigmoid-MSE, but {_PLAIN_CLAUSE['unknown']}"
    return f"no, though it helps: {_PLAIN_CLAUSE[plain]}, and Output Reset improves on it"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def output_reset_share(prefix: str, family: pd.DataFrame, runs: pd.DataFrame,
                       datasets: Sequence[str] = VERDICT_DATASETS, candidate: str = "sigmoid_mse_or",
                       plain: str = "sigmoid_mse", baseline: str = "softmax_ce") -> dict[str, str]:
    """Is Output Reset what makes sigmoid-MSE competitive, from the judged family of :func:`accuracy_family`?
    Per dataset three glue keys: ``<prefix>_plain_vs_ce_<dataset>`` and ``<prefix>_or_vs_plain_<dataset>``, the
    verdict lines (:func:`~sigmse.report.verdicts.verdict_text`) of ``plain`` against ``baseline`` and of
    ``candidate`` against ``plain``, and ``<prefix>_answer_<dataset>``, the answer in words with its basis: the
    optimizer and the torch threads of the compared runs (``runs``, a :func:`runs_frame`), read from them."""
    values = {}
    size = int(family["family_size"].iloc[0]) if len(family) else 0
    for dataset in datasets:
        key = dataset_key(dataset)
        rows = {"plain": comparison_row(family, plain, dataset=dataset, baseline=baseline),
                "reset": comparison_row(family, candidate, dataset=dataset, baseline=plain),
                "claim": comparison_row(family, candidate, dataset=dataset, baseline=baseline)}
        values[f"{prefix}_plain_vs_ce_{key}"] = verdict_text(rows["plain"])
        values[f"{prefix}_or_vs_plain_{key}"] = verdict_text(rows["reset"])
        if any(row is None for row in rows.values()):
            values[f"{prefix}_answer_{key}"] = "not run"
            continue
        position = {name: _POSITION.get(row["verdict"], "unknown") for name, row in rows.items()}
        compared = runs[(runs["dataset"] == dataset) & runs["loss"].isin([candidate, plain, baseline])]
        tests = f"paired tests, Holm over {size} p-values" if size else "too few seeds for a paired test"
        basis = f"{_values_text(compared['optimizer'])}; {tests}; {_threads_clause(compared[THREADS])}"
        values[f"{prefix}_answer_{key}"] = (
            f"{_capitalised(_share_words(position['plain'], position['reset'], position['claim']))}"
            f"{_failed_seeds_clause(compared, plain, candidate)} ({basis})")
    return values


def _failed_seeds_clause(runs: pd.DataFrame, plain: str, candidate: str) -> str:
    """Where a mean hides it: how many runs of ``plain`` and of ``candidate`` (one dataset's) ended at most
    :data:`NEAR_CHANCE` times chance accuracy (a diverged run counts as chance); empty when none did."""
    near = runs.assign(_failed=metric_or_chance(runs, "test_acc") <= NEAR_CHANCE * runs["dataset"].map(chance_level))
    counts = {loss: (int(near.loc[near["loss"] == loss, "_failed"].sum()), int((near["loss"] == loss).sum()))
              for loss in (plain, candidate)}
    if not any(failed for failed, _ in counts.values()):
        return ""
    def count(loss: str) -> str:
        failed, total = counts[loss]
        return f"{failed} of its {total} runs" if failed else "none"
    return (f"; but plain sigmoid-MSE ended at or near chance accuracy (at most {NEAR_CHANCE:g} times it) in "
            f"{count(plain)}, sigmoid-MSE + OR in {count(candidate)}")


def _signed_pp(value: float, margin: float, digits: int = 2) -> str:
    """``value`` in signed percentage points, with enough digits to show on which side of ``margin`` it lies."""
    while digits < 4 and round(abs(value) * 100, digits) == round(margin * 100, digits) and abs(value) != margin:
        digits += 1
    return f"{value * 100:+.{digits}f} pp".replace("-", "\u2212")


def _descriptive_position(gap: float, margin: float) -> str:
    return "ahead" if gap > margin else "behind" if gap < -margin else "within"


def _rate_gaps(frame: pd.DataFrame, candidate: str, baseline: str, column: str = "loss",
               metric: str = "test_acc") -> pd.Series | None:
    """Per learning rate, the seed-mean ``metric`` of ``candidate`` minus ``baseline``'s (a diverged run counts as
    chance); None when either was not run."""
    scored = frame.assign(_value=metric_or_chance(frame, metric))
    means = scored.pivot_table(index="lr", columns=column, values="_value", aggfunc="mean")
    if candidate not in means or baseline not in means:
        return None
    return (means[candidate] - means[baseline]).dropna()


def _rates_text(index: pd.Index) -> str:
    return f" ({', '.join(f'{lr:g}' for lr in index)})" if len(index) else ""


def sgd_output_reset_share(prefix: str, records: Sequence[Mapping[str, Any]],
                           datasets: Sequence[str] = VERDICT_DATASETS, candidate: str = "sigmoid_mse_or",
                           plain: str = "sigmoid_mse", baseline: str = "softmax_ce",
                           margins: Mapping[str, float] = ACCURACY_MARGINS, apart: float = 0.05) -> dict[str, str]:
    """Is Output Reset what makes sigmoid-MSE competitive with plain SGD? Described from a learning-rate sweep
    that reports every rate (``records``; nothing is tested): each loss at its best rate by validation
    (:func:`at_best_validation_lr`, over the same seeds), its seed-mean test accuracy compared with the dataset's
    margin. Per dataset three glue keys: ``<prefix>_plain_vs_ce_<dataset>`` and ``<prefix>_or_vs_plain_<dataset>``
    (the gaps at the best rates; the second also counts the rates where the two are more than ``apart`` apart),
    and ``<prefix>_answer_<dataset>``, the answer in words (:func:`output_reset_share`'s) with its basis: the
    optimizer, seeds and torch threads, read from the records."""
    runs = runs_frame(records)
    best = at_best_validation_lr(records) if len(runs) else runs
    values = {}
    for dataset in datasets:
        key = dataset_key(dataset)
        part, chosen = runs[runs["dataset"] == dataset], best[best["dataset"] == dataset] if len(best) else best
        at_best = chosen.assign(_value=metric_or_chance(chosen, "test_acc")).groupby("loss").agg(
            accuracy=("_value", "mean"), lr=("lr", "first")) if len(chosen) else pd.DataFrame()
        gaps = _rate_gaps(part, candidate, plain) if len(part) else None
        if gaps is None or not {candidate, plain, baseline} <= set(at_best.index):
            values.update({f"{prefix}_{cell}_{key}": "not run" for cell in ("plain_vs_ce", "or_vs_plain", "answer")})
            continue
        margin = float(margins[dataset] if isinstance(margins, Mapping) else margins)
        gap = {"plain": at_best.at[plain, "accuracy"] - at_best.at[baseline, "accuracy"],
               "reset": at_best.at[candidate, "accuracy"] - at_best.at[plain, "accuracy"],
               "claim": at_best.at[candidate, "accuracy"] - at_best.at[baseline, "accuracy"]}
        rate = {loss: f"{at_best.at[loss, 'lr']:g}" for loss in (candidate, plain, baseline)}
        ahead, behind = gaps[gaps > apart].index, gaps[gaps < -apart].index
        values[f"{prefix}_plain_vs_ce_{key}"] = (f"{_signed_pp(gap['plain'], margin)} at the best rates "
                                                 f"(lr {rate[plain]} and {rate[baseline]})")
        values[f"{prefix}_or_vs_plain_{key}"] = (
            f"{_signed_pp(gap['reset'], margin)} at the best rates (lr {rate[candidate]} and {rate[plain]}); "
            f"more than {apart * 100:g} pp ahead at {len(ahead)} of {len(gaps)} rates{_rates_text(ahead)}, "
            f"behind at {len(behind)}{_rates_text(behind)}")
        position = {name: _descriptive_position(value, margin) for name, value in gap.items()}
        compared = part[part["loss"].isin([candidate, plain, baseline])]
        seeds = compared.groupby(["loss", "lr"])["seed"].nunique()
        seeds_text = f"{_counted(_values_text(seeds.astype(float)), 'seed')} per rate"
        values[f"{prefix}_answer_{key}"] = (
            f"{_capitalised(_share_words(position['plain'], position['reset'], position['claim']))} "
            f"({_values_text(compared['optimizer'])} with momentum {_values_text(compared['momentum'])}, each loss "
            f"at its best learning rate by validation, seed means against the \u00b1{margin * 100:.2f} pp margin: "
            f"described, not tested; {seeds_text}; {_threads_clause(compared[THREADS])})")
    return values


def thread_pairs_table(frame: pd.DataFrame, first: str, second: str, column: str = "ablation",
                       pair_on: Sequence[str] = ("dataset", "lr", "seed"), metric: str = "test_acc",
                       scale: float = 100.0) -> pd.DataFrame:
    """Two levels of ``column`` that should train alike (``first`` and ``second``; ``frame`` a :func:`runs_frame`),
    paired on ``pair_on``, grouped by the torch threads of each run of the pair: per combination the pairs, how
    many agree exactly in ``metric``, and their largest difference (times ``scale``). A diverged run counts as
    chance, so two diverged runs agree."""
    scored = frame[frame[column].isin([first, second])].assign(_value=lambda f: metric_or_chance(f, metric))
    pairs = scored.pivot_table(index=list(pair_on), columns=column, values=["_value", THREADS],
                               aggfunc="first").dropna()
    gap = (pairs[("_value", first)] - pairs[("_value", second)]).abs() * scale
    table = pd.DataFrame({f"threads ({first})": pairs[(THREADS, first)].astype(int),
                          f"threads ({second})": pairs[(THREADS, second)].astype(int), "gap": gap})
    grouped = table.groupby([f"threads ({first})", f"threads ({second})"])["gap"]
    return pd.DataFrame({"pairs": grouped.size(), "identical": grouped.agg(lambda g: int((g == 0).sum())),
                         "largest difference": grouped.max()})


def thread_agreement_text(table: pd.DataFrame, unit: str = "pp") -> str:
    """One or two sentences from a :func:`thread_pairs_table`: how far the pairs with the same and with different
    thread counts agree, and, where only a different thread count separates them, why: other arithmetic."""
    if table.empty:
        return "no pairs to compare"
    same_mask = [a == b for a, b in table.index]
    same, other = table[same_mask], table[[not m for m in same_mask]]

    def counts(rows: pd.DataFrame) -> str:
        return ", ".join(f"{a} and {b} threads" if a != b else f"{a} thread{'s' if a != 1 else ''} each"
                         for a, b in rows.index)

    def agreement(rows: pd.DataFrame) -> str:
        largest = float(rows["largest difference"].max())
        return "agree exactly" if largest == 0 else f"differ by up to {largest:.2f} {unit}"

    total = int(table["pairs"].sum())
    parts = []
    if len(same):
        parts.append(f"the {int(same['pairs'].sum())} of {total} pairs that ran with the same number of torch "
                     f"threads ({counts(same)}) {agreement(same)}")
    if len(other):
        parts.append(f"the {int(other['pairs'].sum())} that ran with different numbers ({counts(other)}) "
                     f"{agreement(other)}")
    text = _capitalised("; ".join(parts)) + "."
    same_gap = float(same["largest difference"].max()) if len(same) else 0.0
    other_gap = float(other["largest difference"].max()) if len(other) else 0.0
    if same_gap == 0 and other_gap > 0:
        text += (" The thread count alone separates them: with another number of threads each matrix product "
                 "splits its sums differently, and floating-point addition is not associative, so the two runs "
                 "round differently from their first step and the small differences grow over training. "
                 f"A difference of up to {other_gap:.2f} {unit} between runs with different thread counts can "
                 "therefore come from their arithmetic, not from their losses.")
    elif same_gap > 0:
        text += (" Even runs with the same thread count differ, so their arithmetic differs in some other way "
                 "too (another processor or library).")
    return text


def keyed_values(summary: pd.DataFrame, prefix: str, datasets: Sequence[str], levels: Sequence[str],
                 column: str = "loss", value: str = "mean") -> dict[str, float]:
    """Glue keys ``<prefix>_<dataset>_<level>`` -> plain float (NaN where not run), for every combination.

    Plain ``float`` matters: a numpy scalar glues as ``np.float64(...)``, which MyST-NB cannot format.
    """
    found = {(row["dataset"], row[column]): float(row[value]) for _, row in summary.iterrows()}
    return {f"{prefix}_{dataset_key(d)}_{level}": found.get((d, level), float("nan"))
            for d in datasets for level in levels}


def ablation_names() -> dict[str, str]:
    """Variant label (as in :func:`~sigmse.report.analysis.records_frame`) -> the ablation's readable name, from
    OUTPUT_RESET_VARIANTS."""
    return {variant_label(loss, options): name for name, (loss, options) in OUTPUT_RESET_VARIANTS.items()}


def ablation_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The Output Reset ablation's runs: a :func:`runs_frame` with each run's readable variant name in the column
    ``ablation`` (:func:`ablation_names`)."""
    frame = runs_frame(records)
    return frame.assign(ablation=frame["variant"].map(ablation_names()))


def lr_sweep_table(frame: pd.DataFrame, metric: str = "test_acc", by: Sequence[str] = ("dataset", "variant"),
                   usable: float = 0.9) -> pd.DataFrame:
    """Accuracy versus learning rate: seed-mean ``metric`` per group (rows) and lr (columns), plus
    ``diverged`` (runs) and ``usable lrs``: how many learning rates reach ``usable`` x the best seed-mean
    validation accuracy of any group in the dataset (on validation, so the test set stays unread for choices)."""
    keys = list(by)
    scored = frame.assign(_val=metric_or_chance(frame, "val_acc"))
    means = scored.groupby([*keys, "lr"]).agg(value=(metric, "mean"), val=("_val", "mean"),
                                              diverged=("status", lambda s: int((s != "ok").sum())))
    means = means.reset_index()
    best = means.groupby(keys[0])["val"].transform("max")
    means["usable"] = means["val"] >= usable * best
    table = means.pivot_table(index=keys, columns="lr", values="value", dropna=False)
    table.columns = [f"lr={lr:g}" for lr in table.columns]
    grouped = means.groupby(keys)
    return table.assign(diverged=grouped["diverged"].sum(), **{"usable lrs": grouped["usable"].sum()})


def lr_sweep_verdict(frame: pd.DataFrame, candidate: str = "sigmoid_mse_or", baseline: str = "sigmoid_mse",
                     column: str = "loss", metric: str = "test_acc", margin: float = 0.05) -> str:
    """One line: at how many learning rates the seed-mean ``metric`` of ``candidate`` is ahead of / behind /
    within ``margin`` of ``baseline``'s (a diverged run counts as chance), listing the rates where they differ."""
    gap = _rate_gaps(frame, candidate, baseline, column, metric)
    if gap is None:
        return "not run"
    ahead, behind = gap[gap > margin].index, gap[gap < -margin].index
    return (f"{candidate} is ahead of {baseline} by more than {margin * 100:g} pp at {len(ahead)} of {len(gap)} "
            f"learning rates{_rates_text(ahead)}, behind at {len(behind)}{_rates_text(behind)}, "
            f"within {margin * 100:g} pp at {len(gap) - len(ahead) - len(behind)}")


def grid_edges(report: pd.DataFrame, selection: pd.DataFrame,
               group: str | Sequence[str] = ("dataset", "variant")) -> pd.DataFrame:
    """The groups whose chosen learning rate (the rate of the ``report`` runs) is the smallest or largest one the
    ``selection`` runs tried: their best rate may lie outside the grid. Columns: ``group``, ``chosen_lr``,
    ``edge`` ("smallest" or "largest")."""
    keys = [group] if isinstance(group, str) else list(group)
    tried = selection.groupby(keys)["lr"].agg(["min", "max"])
    picked = report.groupby(keys)["lr"].first().rename("chosen_lr").to_frame().join(tried)
    edge = np.where(picked["chosen_lr"] == picked["min"], "smallest",
                    np.where(picked["chosen_lr"] == picked["max"], "largest", ""))
    picked = picked.assign(edge=edge)
    return picked[picked["edge"] != ""][["chosen_lr", "edge"]].reset_index()


def at_best_validation_lr(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The runs (a :func:`~sigmse.report.analysis.records_frame`) at the learning rate of their group with the best mean
    validation accuracy over the same runs' seeds (:func:`sigmse.runs.protocol.chosen_learning_rates`). For a
    descriptive sweep that reports every rate: the seeds that choose are also shown, so this is no test."""
    configs = [config_from_dict(record["config"]) for record in records]
    chosen = chosen_learning_rates(configs, records)
    return records_frame([r for c, r in zip(configs, records) if c.lr == chosen[lr_group(c)]])


def page_note(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """What a chapter prints first: the provenance line, and a warning when the numbers mean nothing."""
    line = provenance_line(records)
    if profile == "smoke":
        return ("SMOKE PROFILE: tiny subsets, one epoch, one seed. These numbers only show that the pipeline "
                "runs; they say nothing about the losses.\n" + line)
    return line
