"""What the chapter notebooks print and glue, from :mod:`sigmse.analysis` frames.

A chapter loads its runs with :func:`experiment_records` (the experiment of :mod:`sigmse.profiles` it names, which
``sigmse book`` has already trained: see :data:`sigmse.book.CHAPTER_EXPERIMENTS`), prints :func:`page_note` first,
then shows tables and glues numbers and verdicts for its prose and for the intro's verdict table:

1. :func:`headline_table` and :func:`comparison_table`: the results and the paired comparisons as strings ready
   to print, their rows in the order the book uses (:func:`order_index`).
2. :func:`keyed_values`, :func:`dataset_key`, :func:`comparison_row`: plain floats and rows under glue keys
   (``<prefix>_<dataset>_<level>``), so prose never types a number.
3. :func:`convergence_verdict` and :func:`lr_sweep_verdict`: one line each, with the counts it rests on;
   :func:`lr_sweep_table`: accuracy versus learning rate.
4. :func:`grid_edges`: the groups whose chosen learning rate sits at the edge of the grid tried.
5. :func:`ablation_names`: the Output Reset ablation's readable names.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.analysis import metric_or_chance, provenance_line, summarize, variant_label
from sigmse.protocol import ExperimentRecords

__all__ = [
    "VERDICT_DATASETS",
    "dataset_key",
    "comparison_row",
    "order_index",
    "headline_table",
    "comparison_table",
    "keyed_values",
    "convergence_verdict",
    "ablation_names",
    "lr_sweep_table",
    "lr_sweep_verdict",
    "grid_edges",
    "page_note",
    "experiment_records",
]

VERDICT_DATASETS = ("mnist", "fashion-mnist", "cifar10")  # the intro reads verdict_<key> for each


def dataset_key(name: str) -> str:
    """A dataset name as a glue-key part: ``fashion-mnist`` -> ``fashion_mnist``."""
    return name.replace("-", "_")


def comparison_row(comparison: pd.DataFrame, level: str, column: str = "loss",
                   **where: Any) -> dict[str, Any] | None:
    """The row of a :func:`~sigmse.analysis.paired_comparison` frame for ``level`` (and ``where``, e.g.
    dataset=...); None if absent."""
    mask = comparison[column] == level
    for key, value in where.items():
        mask &= comparison[key] == value
    rows = comparison[mask]
    if len(rows) > 1:
        raise ValueError(f"{len(rows)} rows match {column}={level!r}, {where}; narrow the selection")
    return None if rows.empty else rows.iloc[0].to_dict()


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


def headline_table(chosen: pd.DataFrame, by: Sequence[str] = ("dataset", "loss"),
                   orders: Mapping[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """The results table: per group the chosen lr, seeds, test accuracy in % (mean +- std and 95% CI),
    ECE and NLL (mean +- std), as strings ready to print. ``orders`` sorts index levels (see :func:`order_index`)."""
    keys = list(by)
    parts = {m: summarize(chosen, m, keys).set_index(keys) for m in ("test_acc", "test_ece", "test_nll")}
    acc = parts["test_acc"]
    table = pd.DataFrame({
        "lr (chosen on val)": chosen.groupby(keys)["chosen_lr"].first().map("{:g}".format),
        "seeds": acc["n"].astype(str) + np.where(acc["n_diverged"] > 0, " (+" + acc["n_diverged"].astype(str)
                                                 + " diverged)", ""),
        "test acc (%)": [_pm(m, s, 100, 2) for m, s in zip(acc["mean"], acc["std"])],
        "95% CI (%)": [_interval(lo, hi, 100, 2) for lo, hi in zip(acc["ci95_low"], acc["ci95_high"])],
        "ECE": [_pm(m, s, 1, 3) for m, s in zip(parts["test_ece"]["mean"], parts["test_ece"]["std"])],
        "NLL": [_pm(m, s, 1, 3) for m, s in zip(parts["test_nll"]["mean"], parts["test_nll"]["std"])],
    }, index=acc.index)
    return order_index(table, orders)


def comparison_table(comparison: pd.DataFrame, scale: float = 100.0, unit: str = "pp", digits: int = 2,
                     orders: Mapping[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """A :func:`~sigmse.analysis.paired_comparison` frame for print: difference and CI (times ``scale``, in
    ``unit``), p-value, verdict, note; ``orders`` sorts index levels (see :func:`order_index`)."""
    suffix = f" ({unit})" if unit else ""
    keys = [c for c in comparison.columns if c not in ("n_pairs", "mean_diff", "ci95_low", "ci95_high",
                                                       "p_value", "verdict", "note", "baseline")]
    table = pd.DataFrame({
        "vs": comparison["baseline"].to_numpy(),
        "pairs": comparison["n_pairs"].to_numpy(),
        f"difference{suffix}": [f"{d * scale:+.{digits}f}" if not np.isnan(d) else "n/a"
                                for d in comparison["mean_diff"]],
        f"95% CI{suffix}": [_interval(lo, hi, scale, digits) for lo, hi in zip(comparison["ci95_low"],
                                                                              comparison["ci95_high"])],
        "p (paired t)": [f"{p:.3f}" if np.isfinite(p) else "n/a" for p in comparison["p_value"]],
        "verdict": comparison["verdict"].to_numpy(),
        "note": comparison["note"].to_numpy(),
    }, index=pd.MultiIndex.from_frame(comparison[keys]))
    return order_index(table, orders)


def keyed_values(summary: pd.DataFrame, prefix: str, datasets: Sequence[str], levels: Sequence[str],
                 column: str = "loss", value: str = "mean") -> dict[str, float]:
    """Glue keys ``<prefix>_<dataset>_<level>`` -> plain float (NaN where not run), for every combination.

    Plain ``float`` matters: a numpy scalar glues as ``np.float64(...)``, which MyST-NB cannot format.
    """
    found = {(row["dataset"], row[column]): float(row[value]) for _, row in summary.iterrows()}
    return {f"{prefix}_{dataset_key(d)}_{level}": found.get((d, level), float("nan"))
            for d in datasets for level in levels}


def convergence_verdict(table: pd.DataFrame, candidate: str = "sigmoid_mse_or", baseline: str = "softmax_ce",
                        column: str = "variant") -> str:
    """One line from an :func:`~sigmse.analysis.epochs_to_reach` table: in how many (dataset, level) cells
    ``candidate`` needs no more epochs than ``baseline`` (never reaching counts as infinitely many), and the mean
    epochs of each."""
    keys = [c for c in table.columns if c not in (column, "epoch", "best", "threshold")]
    wide = table.pivot(index=keys, columns=column, values="epoch")  # only the (dataset, level) rows that exist
    if candidate not in wide or baseline not in wide:
        return "not run"
    ours, theirs = wide[candidate].fillna(np.inf), wide[baseline].fillna(np.inf)
    as_fast = int((ours <= theirs).sum())
    faster, slower = int((ours < theirs).sum()), int((ours > theirs).sum())
    word = ("as fast or faster" if faster else "as fast") if slower == 0 else "slower" if faster == 0 else "mixed"
    return (f"{word}: {candidate} reaches {as_fast} of {len(wide)} accuracy levels in no more epochs than "
            f"{baseline} ({faster} sooner, {slower} later)")


def ablation_names() -> dict[str, str]:
    """Variant label (as in :func:`~sigmse.analysis.records_frame`) -> the ablation's readable name, from
    OUTPUT_RESET_VARIANTS."""
    from sigmse.profiles import OUTPUT_RESET_VARIANTS

    return {variant_label(loss, options): name for name, (loss, options) in OUTPUT_RESET_VARIANTS.items()}


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
    scored = frame.assign(_value=metric_or_chance(frame, metric))
    means = scored.pivot_table(index="lr", columns=column, values="_value", aggfunc="mean")
    if candidate not in means or baseline not in means:
        return "not run"
    gap = (means[candidate] - means[baseline]).dropna()
    ahead, behind = gap[gap > margin].index, gap[gap < -margin].index
    rates = lambda index: f" ({', '.join(f'{lr:g}' for lr in index)})" if len(index) else ""  # noqa: E731
    return (f"{candidate} is ahead of {baseline} by more than {margin * 100:g} pp at {len(ahead)} of {len(gap)} "
            f"learning rates{rates(ahead)}, behind at {len(behind)}{rates(behind)}, "
            f"within {margin * 100:g} pp at {len(gap) - len(ahead) - len(behind)}")


def grid_edges(chosen: pd.DataFrame, runs: pd.DataFrame,
               group: str | Sequence[str] = ("dataset", "variant")) -> pd.DataFrame:
    """The groups whose chosen learning rate is the smallest or largest one tried: their best rate may lie
    outside the grid. Columns: ``group``, ``chosen_lr``, ``edge`` ("smallest" or "largest")."""
    keys = [group] if isinstance(group, str) else list(group)
    tried = runs.groupby(keys)["lr"].agg(["min", "max"])
    picked = chosen.groupby(keys)["chosen_lr"].first().to_frame().join(tried)
    edge = np.where(picked["chosen_lr"] == picked["min"], "smallest",
                    np.where(picked["chosen_lr"] == picked["max"], "largest", ""))
    picked = picked.assign(edge=edge)
    return picked[picked["edge"] != ""][["chosen_lr", "edge"]].reset_index()


def page_note(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """What a chapter prints first: the provenance line, and a warning when the numbers mean nothing."""
    line = provenance_line(records)
    if profile == "smoke":
        return ("SMOKE PROFILE: tiny subsets, one epoch, one seed. These numbers only show that the pipeline "
                "runs; they say nothing about the losses.\n" + line)
    return line


def experiment_records(name: str, profile: str, *, results_dir: str, data_dir: str | None = None,
                       device: str | None = None, datasets: Sequence[str] | None = None,
                       selection_seeds: Sequence[int] | None = None,
                       seeds: Sequence[int] | None = None) -> ExperimentRecords:
    """The selection and reporting records of experiment ``name`` under ``profile``
    (:func:`sigmse.protocol.run_experiment`, through :func:`sigmse.store.run_sweep`: stored runs load, missing
    ones train). No progress bar (pages stay clean). ``seeds`` are the reporting seeds.

    A notebook run on its own with new parameters (more seeds, say) may have many runs to train, one at a time;
    it then prints one line saying how many, and how ``sigmse book`` would train them in parallel first. A
    build by ``sigmse book`` has trained them already, so its pages never show that line.
    """
    from sigmse import store
    from sigmse.protocol import plan_stages, run_experiment

    options = dict(datasets=datasets, selection_seeds=selection_seeds, seeds=seeds, device=device)
    first, second, waiting = plan_stages([name], profile, results_dir=results_dir, **options)
    missing = sum(not store.record_path(c, profile, results_dir).exists() for c in first + second) + waiting
    if missing:
        print(f"{name}: {missing} of {len(first) + len(second) + waiting} runs are not in {results_dir}/{profile}/ "
              f"and train now, one at a time; `sigmse book --only CHAPTER -p KEY=VALUE --sweep-jobs N` trains a "
              f"chapter's runs N at a time before running it")

    def run(configs: list) -> list[dict[str, Any]]:
        return store.run_sweep(configs, profile=profile, results_dir=results_dir, data_dir=data_dir, progress=False)

    return run_experiment(name, profile, run, results_dir=results_dir, **options)
