"""What the result chapters share, from :mod:`sigmse.report.analysis` frames: glue, the runs' own setup, result
tables and claim cells. Each chapter's page is a class of its own module (:mod:`sigmse.report.accuracy`,
:mod:`~sigmse.report.convergence`, :mod:`~sigmse.report.output_reset`, :mod:`~sigmse.report.noise`, ...) whose parts
(:class:`~sigmse.report.analysis.Part`) its notebook presents, gluing their values with :func:`glue_all`.

1. :func:`glue`, :func:`glue_all`, :func:`page_note` (what a chapter prints first), :func:`listing`,
   :func:`dataset_key`, :func:`comparison_row`.
2. :func:`runs_frame`: the runs with the setup only their records know (torch threads, batch size, training
   examples); :func:`budget_text` states a page's budget, grid and seeds from those runs, never from the profile.
3. :func:`headline_table`, :func:`comparison_table`, :func:`lr_sweep_table`: results and verdicts as strings ready
   to print, rows in the book's order (:func:`order_index`), each compared run's thread count beside them.
4. :func:`keyed_values`, :func:`claim_cells`, :func:`claim_rows`, :func:`verdict_texts`: numbers, the intro's
   claim-table cells and verdict lines under glue keys (``<prefix>_<dataset>_...``), so prose never types a number.
5. :func:`share_words`: is Output Reset what makes sigmoid-MSE competitive, in words (the accuracy chapter answers
   from paired tests, the Output Reset chapter from a plain-SGD sweep).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.report.analysis import metric_or_chance, provenance_line, records_frame, summarize
from sigmse.report.verdicts import decisive_p, verdict_label, verdict_text
from sigmse.runs.experiments import VERDICT_DATASETS

__all__ = ["VERDICT_DATASETS", "Records", "glue", "glue_all", "listing", "dataset_key", "family_size",
           "comparison_row", "THREADS", "runs_frame", "threads_clause", "values_text", "counted", "budget_text",
           "plus_minus", "difference_cells", "order_index", "headline_table", "comparison_table", "claim_cells",
           "claim_rows", "verdict_texts", "keyed_values", "lr_sweep_table", "share_words", "capitalised", "page_note"]

Records = Sequence[Mapping[str, Any]]  # stored run records (JSON dicts)


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


def family_size(family: pd.DataFrame) -> int:
    """How many p-values a :func:`~sigmse.report.verdicts.holm_verdicts` family adjusted together (0 when empty)."""
    return int(family["family_size"].iloc[0]) if len(family) else 0


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


def page_note(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """What a chapter prints first: the provenance line, and a warning when the numbers mean nothing."""
    line = provenance_line(records)
    if profile == "smoke":
        return ("SMOKE PROFILE: tiny subsets, one epoch, one seed. These numbers only show that the pipeline "
                "runs; they say nothing about the losses.\n" + line)
    return line


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


def threads_clause(threads: pd.Series) -> str:
    """``"2 torch threads in every run"``, or the counts where the runs differ (:func:`_threads_text`)."""
    text = _threads_text(threads)
    return f"{text} in every run" if threads.dropna().nunique() == 1 else text


def values_text(values: pd.Series) -> str:
    """The distinct values of a column, ``"a"`` or ``"a or b"`` (a page states what its runs did, even mixed)."""
    distinct = sorted(values.dropna().unique().tolist())
    return " or ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in distinct) or "not recorded"


def _seeds_text(seeds: pd.Series) -> str:
    return listing(sorted(int(seed) for seed in seeds.unique()))


def counted(count: Any, noun: str) -> str:
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
        optimizer = values_text(runs["optimizer"])
        if set(runs["optimizer"]) & {"sgd", "nesterov"}:
            optimizer += f" (momentum {values_text(runs['momentum'])})"
        setup = (f"{values_text(runs['model'])}, {optimizer}, {values_text(runs['schedule'])} schedule, "
                 f"{counted(values_text(runs['epochs']), 'epoch')}, "
                 f"batches of {values_text(runs['batch_size'])}, {values_text(runs['n_train'])} training examples")
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


# -- result tables ------------------------------------------------------------------------------------------


def plus_minus(mean: float, std: float, scale: float, digits: int) -> str:
    """A mean and its std times ``scale``, ``"92.00 \u00b1 2.00"`` (the mean alone without a std; ``"n/a"``)."""
    if np.isnan(mean):
        return "n/a"
    return f"{mean * scale:.{digits}f}" + ("" if np.isnan(std) else f" \u00b1 {std * scale:.{digits}f}")


def _interval(low: float, high: float, scale: float, digits: int) -> str:
    return "n/a" if np.isnan(low) else f"[{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


def difference_cells(tests: pd.DataFrame, scale: float = 100.0, digits: int = 2) -> list[str]:
    """Each row's mean paired difference (times ``scale``) with its 95% interval, ``"+2.00 [0.10, 3.90]"``, from a
    :func:`~sigmse.report.verdicts.paired_tests` frame; ``"n/a"`` where there is none."""
    return ["n/a" if np.isnan(d) else f"{d * scale:+.{digits}f} {_interval(lo, hi, scale, digits)}".replace(" n/a", "")
            for d, lo, hi in zip(tests["mean_diff"], tests["ci95_low"], tests["ci95_high"])]


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
        "test acc (%)": [plus_minus(m, s, 100, 2) for m, s in zip(acc["mean"], acc["std"])],
        "95% CI (%)": [_interval(lo, hi, 100, 2) for lo, hi in zip(acc["ci95_low"], acc["ci95_high"])],
    }, index=acc.index)
    if THREADS in report:
        table["threads"] = report.groupby(keys)[THREADS].agg(lambda t: _threads_text(t, unit=False))
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
        f"difference [95% CI]{suffix}": difference_cells(verdicts, scale, digits),
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


def _p_text(p: float) -> str:
    return "n/a" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


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


# -- glue keys: numbers, claim-table cells, verdict lines ---------------------------------------------------


def keyed_values(summary: pd.DataFrame, prefix: str, datasets: Sequence[str], levels: Sequence[str],
                 column: str = "loss", value: str = "mean") -> dict[str, float]:
    """Glue keys ``<prefix>_<dataset>_<level>`` -> plain float (NaN where not run), for every combination.

    Plain ``float`` matters: a numpy scalar glues as ``np.float64(...)``, which MyST-NB cannot format.
    """
    found = {(row["dataset"], row[column]): float(row[value]) for _, row in summary.iterrows()}
    return {f"{prefix}_{dataset_key(d)}_{level}": found.get((d, level), float("nan"))
            for d in datasets for level in levels}


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


# -- is Output Reset what makes sigmoid-MSE competitive? ------------------------------------------------------

_PLAIN_CLAUSE = {
    "within": "plain sigmoid-MSE is already within the margin of softmax CE",
    "ahead": "plain sigmoid-MSE is already ahead of softmax CE",
    "behind": "plain sigmoid-MSE trails softmax CE",
    "unknown": "plain sigmoid-MSE against softmax CE is inconclusive",
}


def share_words(plain: str, reset: str, claim: str) -> str:
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


def capitalised(text: str) -> str:
    """``text`` with its first letter upper-case (the rest as it is)."""
    return text[:1].upper() + text[1:]
