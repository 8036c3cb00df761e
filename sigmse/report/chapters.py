"""What the result chapters share: glue, the runs' own setup (:func:`runs_frame`, :func:`budget_text`, read from
the records, never from the profile), result tables ready to print, and glue keys for numbers, claim cells and
verdict lines, so prose never types a number.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.provenance import processor_kind, recorded_processor
from sigmse.report.analysis import metric_or_chance, provenance_line, records_frame, summarize
from sigmse.report.verdicts import decisive_p, verdict_label, verdict_text
from sigmse.runs.experiments import VERDICT_DATASETS

__all__ = ["VERDICT_DATASETS", "Records", "glue", "glue_all", "listing", "dataset_key", "family_size", "comparison_row",
           "THREADS", "PROCESSOR", "runs_frame", "threads_clause", "values_text", "counted", "budget_text",
           "plus_minus", "difference_cells", "order_index", "headline_table", "comparison_table", "claim_cells",
           "claim_rows", "verdict_texts", "keyed_values", "number_text", "keyed_texts", "lr_sweep_table",
           "common_rates", "grid_edges", "grid_edge_text", "share_words", "capitalised", "PAIR_FREE_FIELDS",
           "mixed_processor_groups", "page_note"]

Records = Sequence[Mapping[str, Any]]  # stored run records (JSON dicts)


def glue(key: str, value: Any) -> None:
    """``myst_nb.glue(key, value, display=False)``, with a 0-d array, numpy scalar or tensor made a Python number
    first: MyST-NB formats a glued ``np.float64(0.5)`` by its repr, which ``:.2f`` cannot read."""
    from myst_nb import glue as myst_glue  # the book's extra: imported only when a chapter runs

    if getattr(value, "ndim", None) == 0:
        value = value.item()
    myst_glue(key, value, display=False)


def glue_all(values: Mapping[str, Any]) -> None:
    """:func:`glue` every item of ``values``, in order."""
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
    """The row of a verdict frame where ``column`` is ``compared`` and each ``where`` column has its value; None if
    absent."""
    mask = comparison[column] == compared
    for key, value in where.items():
        mask &= comparison[key] == value
    rows = comparison[mask]
    if len(rows) > 1:
        raise ValueError(f"{len(rows)} rows match {column}={compared!r}, {where}; narrow the selection")
    return None if rows.empty else rows.iloc[0].to_dict()


# The config fields in which the runs a page pairs by seed may differ: the loss, its options and its own rate.
PAIR_FREE_FIELDS = ("loss", "loss_options", "lr")


def mixed_processor_groups(records: Records) -> tuple[int, int]:
    """``(mixed, groups)``: of the groups of two or more runs that pair up (the same configuration but for
    :data:`PAIR_FREE_FIELDS`), how many ran on more than one kind of processor (records that name none are left
    out of the count of kinds). MKL and oneDNN pick their kernels by processor, so such pairs do not share their
    arithmetic bit for bit, as one thread count alone would promise (``sigmse.provenance.processor``)."""
    kinds: dict[str, set[str]] = {}
    sizes: dict[str, int] = {}
    for record in records:
        key = json.dumps({k: v for k, v in record["config"].items() if k not in PAIR_FREE_FIELDS}, sort_keys=True)
        sizes[key] = sizes.get(key, 0) + 1
        description = record.get("provenance", {}).get("processor")
        kinds.setdefault(key, set()).update([processor_kind(description)] if description else [])
    groups = [key for key, size in sizes.items() if size > 1]
    return sum(len(kinds[key]) > 1 for key in groups), len(groups)


def page_note(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """What a chapter prints first: the provenance line, a warning when the numbers mean nothing, and how many
    groups of paired runs mixed processors (where any did)."""
    line = provenance_line(records)
    mixed, groups = mixed_processor_groups(records)
    if mixed:
        line += (f"\n{mixed} of the {groups} groups of runs that pair up (one configuration and seed, another loss, "
                 "loss option or learning rate) ran on more than one kind of processor: their matrix kernels "
                 "differ, so those pairs do not share their arithmetic bit for bit (a record retrained on another "
                 "processor can differ in its last digits; see the reproduce page).")
    if profile == "smoke":
        return ("SMOKE PROFILE: tiny subsets, one epoch, one seed. These numbers only show that the pipeline "
                "runs; they say nothing about the losses.\n" + line)
    return line


# The torch thread count a run trained with (provenance): part of its arithmetic, since floating-point sums split
# over other threads round differently (book/method.md, "Verdicts").
THREADS = "torch_threads"
# The kind of processor a run trained on (``sigmse.provenance.recorded_processor``, which says when a record names
# none): torch, MKL and oneDNN pick their kernels by processor, so it is part of a run's arithmetic too.
PROCESSOR = "processor"
_SETUP_FIELDS = ("batch_size", "momentum", "schedule")  # config fields records_frame leaves out


def runs_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """:func:`~sigmse.report.analysis.records_frame` plus the setup a page states, from each record:
    :data:`THREADS` (NaN where not recorded), :data:`PROCESSOR` (``UNRECORDED_PROCESSOR`` where not recorded),
    ``batch_size``, ``momentum``, ``schedule`` and ``n_train``."""
    records = list(records)
    frame = records_frame(records)
    if frame.empty:
        return frame.assign(**{THREADS: [], PROCESSOR: [], **{name: [] for name in _SETUP_FIELDS}, "n_train": []})
    provenance = [record.get("provenance", {}) for record in records]
    return frame.assign(
        **{THREADS: [float("nan") if p.get("torch_threads") is None else float(p["torch_threads"])
                     for p in provenance]},
        **{PROCESSOR: [recorded_processor(p) for p in provenance]},
        **{name: [record["config"].get(name) for record in records] for name in _SETUP_FIELDS},
        n_train=[record.get("metrics", {}).get("n_train") for record in records])


def _threads_text(threads: pd.Series, unit: bool = True) -> str:
    """``"2"`` (with ``unit``: ``"2 torch threads"``), ``"1 (8 runs), 2 (6 runs)"`` or ``"not recorded"``."""
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
    """The distinct values of a column, ``"a"`` or ``"a or b"``."""
    distinct = sorted(values.dropna().unique().tolist())
    return " or ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in distinct) or "not recorded"


def _seeds_text(seeds: pd.Series) -> str:
    return listing(sorted(int(seed) for seed in seeds.unique()))


def counted(count: Any, noun: str) -> str:
    """``"1 epoch"``, ``"12 epochs"``; ``count`` may be a listing such as ``"12 or 20"``."""
    return f"{count} {noun}" + ("" if str(count) == "1" else "s")


def budget_text(report: pd.DataFrame, selection: pd.DataFrame | None = None) -> str:
    """A page's setup per dataset, read from its runs (never the profile): model, optimizer, schedule, budget, the
    rates ``selection`` tried and the seeds; without ``selection`` every rate of ``report`` is reported."""
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


def plus_minus(mean: float, std: float, scale: float, digits: int) -> str:
    """``"92.00 \u00b1 2.00"`` (times ``scale``; the mean alone without a std)."""
    if np.isnan(mean):
        return "n/a"
    return f"{mean * scale:.{digits}f}" + ("" if np.isnan(std) else f" \u00b1 {std * scale:.{digits}f}")


def _interval_text(low: float, high: float, scale: float, digits: int, signed: bool = False) -> str:
    """``"[98.30, 98.50]"`` (times ``scale``); ``signed`` puts a sign on both bounds, as a difference's interval
    has in the verdict texts (``"[-0.07, +0.05]"``)."""
    sign = "+" if signed else ""
    return "n/a" if np.isnan(low) else f"[{low * scale:{sign}.{digits}f}, {high * scale:{sign}.{digits}f}]"


def difference_cells(tests: pd.DataFrame, scale: float = 100.0, digits: int = 2) -> list[str]:
    """Each row's paired difference with its 95% interval, ``"+2.00 [+0.10, +3.90]"`` (times ``scale``)."""
    return ["n/a" if np.isnan(d)
            else f"{d * scale:+.{digits}f} {_interval_text(lo, hi, scale, digits, signed=True)}".replace(" n/a", "")
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
    """The results table, as strings: per group the learning rate, seeds, test accuracy in % (mean ± std, 95% CI)
    and, for a :func:`runs_frame`, the torch threads."""
    keys = list(by)
    acc = summarize(report, "test_acc", keys).set_index(keys)
    table = pd.DataFrame({
        "lr": report.groupby(keys)["lr"].first().map("{:g}".format),
        "seeds": acc["n"].astype(str) + np.where(acc["n_diverged"] > 0, " (+" + acc["n_diverged"].astype(str)
                                                 + " diverged)", ""),
        "test acc (%)": [plus_minus(m, s, 100, 2) for m, s in zip(acc["mean"], acc["std"])],
        "95% CI (%)": [_interval_text(lo, hi, 100, 2) for lo, hi in zip(acc["ci95_low"], acc["ci95_high"])],
    }, index=acc.index)
    if THREADS in report:
        table["threads"] = report.groupby(keys)[THREADS].agg(lambda t: _threads_text(t, unit=False))
    return order_index(table, orders)


def comparison_table(verdicts: pd.DataFrame, scale: float = 100.0, unit: str = "pp", digits: int = 2,
                     orders: Mapping[str, Sequence[Any]] | None = None,
                     keys: Sequence[str] | None = None, runs: pd.DataFrame | None = None,
                     column: str = "loss") -> pd.DataFrame:
    """A verdict frame for print: seeds, difference with its 95% interval, margin, Holm-adjusted p, verdict,
    indexed by ``keys`` (default: the grouping and compared columns). With ``runs`` (a :func:`runs_frame`), the
    torch threads of each side too: a pair with other thread counts differs in its arithmetic as well."""
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
    """Per verdict row, ``"<compared runs' threads> vs <baseline runs' threads>"``."""
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
    """Seed-mean ``metric`` per group (rows) and lr (columns), plus ``diverged`` and ``usable lrs``: the rates
    reaching ``usable`` x the dataset's best seed-mean validation accuracy (validation: test stays unread)."""
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


def common_rates(selection: pd.DataFrame, group: Sequence[str], within: str | None = "dataset") -> dict[Any, set]:
    """Per value of ``within`` (``None``: one block, keyed 0), the learning rates every ``group`` of ``selection``
    runs in it tried: its grid, without the rates the grid-edge rule added for some groups only."""
    tried = selection.groupby(list(dict.fromkeys([*([within] if within else []), *group])))["lr"].agg(set)
    if not within:
        return {0: set.intersection(*tried)} if len(tried) else {}
    return {name: set.intersection(*sets) for name, sets in tried.groupby(level=within)}


def grid_edges(report: pd.DataFrame, selection: pd.DataFrame, group: Sequence[str] = ("dataset", "variant"),
               within: str | None = "dataset") -> pd.DataFrame:
    """The groups a referee checks: those whose chosen rate (their ``report`` runs') is the ``smallest`` or
    ``largest`` their ``selection`` runs tried, so that their best rate may lie beyond it, and those that tried
    rates the other groups of their ``within`` (``None``: of the page) did not, which only the grid-edge rule adds
    (the method page). Columns: ``group``, ``tried``, ``added``, ``chosen_lr``, ``edge``; one row per such group."""
    keys = list(dict.fromkeys([*([within] if within else []), *group]))
    columns = [*keys, "tried", "added", "chosen_lr", "edge"]
    if selection.empty or report.empty:
        return pd.DataFrame(columns=columns)
    rates = selection.groupby(keys)["lr"].agg(lambda lrs: sorted(set(lrs))).rename("rates")
    frame = rates.to_frame().join(report.groupby(keys)["lr"].first().rename("chosen_lr"), how="inner").reset_index()
    block = frame[within] if within else pd.Series(0, index=frame.index)
    common = common_rates(selection, group, within)
    edge = ["only one tried" if len(r) == 1 else "smallest" if chosen == r[0] else "largest" if chosen == r[-1]
            else "" for chosen, r in zip(frame["chosen_lr"], frame["rates"])]
    frame = frame.assign(tried=[listing(r) for r in frame["rates"]], edge=edge,
                         added=[listing(sorted(set(r) - common[name])) for r, name in zip(frame["rates"], block)])
    return frame[(frame["edge"] != "") | (frame["added"] != "")][columns].reset_index(drop=True)


def grid_edge_text(edges: pd.DataFrame, groups: int, unit: str) -> str:
    """:func:`grid_edges` in a sentence: for how many of the ``groups`` that chose a rate (``unit``, e.g. "dataset
    and loss pairs") the grid-edge rule added rates, and how many chosen rates are the smallest or largest tried."""
    added, at_edge = int((edges["added"] != "").sum()), int((edges["edge"] != "").sum())
    extended = (f"the grid-edge rule added rates beyond the grid for {added} of the {groups} {unit}, whose best "
                "rate had sat at an edge" if added
                else f"all {groups} {unit} tried the rates of their dataset's grid and no others")
    edged = (f"{at_edge} of the {groups} chosen rates {'are' if at_edge != 1 else 'is'} the smallest or largest "
             "tried, so the best rate may lie beyond (listed below)" if at_edge
             else "no chosen rate is the smallest or largest tried")
    return capitalised(f"{extended}; {edged}.")


def keyed_values(summary: pd.DataFrame, prefix: str, datasets: Sequence[str], levels: Sequence[str],
                 column: str = "loss", value: str = "mean") -> dict[str, float]:
    """Glue keys ``<prefix>_<dataset>_<level>`` -> plain float (NaN where not run): MyST-NB cannot format numpy's."""
    found = {(row["dataset"], row[column]): float(row[value]) for _, row in summary.iterrows()}
    return {f"{prefix}_{dataset_key(d)}_{level}": found.get((d, level), float("nan"))
            for d in datasets for level in levels}


def number_text(value: float, style: str = "{:.2%}") -> str:
    """A glued number as prose: ``value`` in ``style``, or "not run" where it is NaN, since a format applied in
    the page (``:.2%``) would print "nan%" for a dataset or loss left out of a build."""
    return "not run" if np.isnan(value) else style.format(value)


def keyed_texts(summary: pd.DataFrame, prefix: str, datasets: Sequence[str], levels: Sequence[str],
                column: str = "loss", value: str = "mean", style: str = "{:.2%}") -> dict[str, str]:
    """:func:`keyed_values` as prose cells (:func:`number_text`)."""
    return {key: number_text(number, style)
            for key, number in keyed_values(summary, prefix, datasets, levels, column, value).items()}


def claim_cells(prefix: str, row: Mapping[str, Any] | None, profile: str, scale: float = 100.0,
                unit: str = "pp", digits: int = 2) -> dict[str, str]:
    """The intro's claim-table cells of one verdict row: ``<prefix>`` (verdict), ``<prefix>_effect``,
    ``<prefix>_margin``, ``<prefix>_seeds`` and ``<prefix>_profile``."""
    if row is None:
        return {prefix: "not run", f"{prefix}_effect": "n/a", f"{prefix}_margin": "n/a", f"{prefix}_seeds": "0",
                f"{prefix}_profile": profile}
    interval = _interval_text(row["ci95_low"], row["ci95_high"], scale, digits, signed=True)
    effect = "n/a" if np.isnan(row["mean_diff"]) else (
        f"{row['mean_diff'] * scale:+.{digits}f} {unit}" + ("" if interval == "n/a" else f" {interval}"))
    return {prefix: verdict_label(row, scale, unit), f"{prefix}_effect": effect.replace("-", "\u2212"),
            f"{prefix}_margin": f"\u00b1{row['margin'] * scale:.{digits}f} {unit}".strip(),
            f"{prefix}_seeds": str(int(row["n_pairs"])), f"{prefix}_profile": profile}


def claim_rows(prefix: str, family: pd.DataFrame, profile: str, compared: str = "sigmoid_mse_or",
               baseline: str = "softmax_ce", datasets: Sequence[str] = VERDICT_DATASETS) -> dict[str, str]:
    """:func:`claim_cells` of ``compared`` against ``baseline`` per dataset, prefix ``<prefix>_<dataset>``."""
    return {key: value for dataset in datasets
            for key, value in claim_cells(f"{prefix}_{dataset_key(dataset)}",
                                          comparison_row(family, compared, dataset=dataset, baseline=baseline),
                                          profile).items()}


def verdict_texts(prefix: str, family: pd.DataFrame, compared: str = "sigmoid_mse_or",
                  baseline: str = "softmax_ce", datasets: Sequence[str] = VERDICT_DATASETS,
                  column: str = "loss") -> dict[str, str]:
    """``<prefix>_<dataset>`` -> :func:`~sigmse.report.verdicts.verdict_text` of ``compared`` against ``baseline``."""
    return {f"{prefix}_{dataset_key(dataset)}":
            verdict_text(comparison_row(family, compared, column, dataset=dataset, baseline=baseline))
            for dataset in datasets}


_PLAIN_CLAUSE = {
    "within": "plain sigmoid-MSE is already within the margin of softmax CE",
    "ahead": "plain sigmoid-MSE is already ahead of softmax CE",
    "behind": "plain sigmoid-MSE trails softmax CE",
    "unknown": "plain sigmoid-MSE against softmax CE is inconclusive",
}


def share_words(plain: str, reset: str, claim: str) -> str:
    """Is Output Reset what makes sigmoid-MSE competitive, in words, from three positions (``"ahead"``,
    ``"behind"``, ``"within"`` or ``"unknown"``): plain against CE, OR against plain, OR against CE.

    When OR moves the accuracy by less than the margin but is what separates a plain loss that trails CE from a
    candidate level with (or ahead of) it, the two readings disagree, and the answer gives both."""
    if reset == "unknown":
        return ("the runs cannot tell: sigmoid-MSE + OR against plain sigmoid-MSE is inconclusive, and "
                f"{_PLAIN_CLAUSE[plain]}")
    if reset == "within" and plain == "behind" and claim in ("within", "ahead"):
        lifted = "within the margin of" if claim == "within" else "ahead of"
        return ("in part, and two readings differ: Output Reset moves sigmoid-MSE's accuracy by less than the margin, "
                f"yet plain sigmoid-MSE trails softmax CE while sigmoid-MSE + OR is {lifted} it")
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
