"""What the chapter notebooks print and glue, from :mod:`sigmse.report.analysis` frames.

A chapter loads its runs with :func:`experiment_records` (the experiment of :mod:`sigmse.runs.experiments` it names, which
``sigmse book`` has already trained: see :data:`sigmse.runs.experiments.CHAPTERS`), prints :func:`page_note` first,
then shows tables and glues numbers and verdicts for its prose and for the intro's verdict table:

1. :func:`headline_table`, :func:`calibration_table` and :func:`comparison_table`: the results and the
   verdicts of :mod:`sigmse.report.verdicts` as strings ready to print, their rows in the order the book uses
   (:func:`order_index`).
2. :func:`keyed_values`, :func:`dataset_key`, :func:`comparison_row`: plain floats and rows under glue keys
   (``<prefix>_<dataset>_<level>``), so prose never types a number; :func:`claim_cells`: the cells of one row
   of the intro's claim table (verdict, effect with interval, margin, seeds, profile).
3. :func:`lr_sweep_verdict`: one descriptive line, with the counts it rests on; :func:`lr_sweep_table`:
   accuracy versus learning rate.
4. :func:`grid_edges`: the groups whose chosen learning rate sits at the edge of the grid tried.
5. :func:`ablation_names`: the Output Reset ablation's readable names.
6. :func:`glue` and :func:`glue_all`: how every chapter glues a value for its prose, without showing it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.report.analysis import metric_or_chance, provenance_line, records_frame, summarize, variant_label
from sigmse.config import config_from_dict
from sigmse.runs.executors import run_configs
from sigmse.runs.experiments import VERDICT_DATASETS, ExperimentRecords, load_record, plan_stages, run_experiment
from sigmse.runs.protocol import chosen_learning_rates, lr_group
from sigmse.report.verdicts import decisive_p, verdict_label
from sigmse.runs.profiles import OUTPUT_RESET_VARIANTS

__all__ = [
    "VERDICT_DATASETS",
    "glue",
    "glue_all",
    "listing",
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
    "lr_sweep_table",
    "lr_sweep_verdict",
    "grid_edges",
    "at_best_validation_lr",
    "page_note",
    "experiment_records",
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
    selection seeds), the reporting seeds, test accuracy in % (mean ± std and 95% CI), as strings ready to print.
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
                     keys: Sequence[str] | None = None) -> pd.DataFrame:
    """A :func:`~sigmse.report.verdicts.holm_verdicts` frame for print, five short columns: seeds, difference (times
    ``scale``, in ``unit``) with its 95% interval, margin, Holm-adjusted p of the verdict, verdict. The index is
    ``keys`` (default: the grouping columns and the compared column); ``orders`` sorts it (:func:`order_index`)."""
    suffix = f" ({unit})" if unit else ""
    known = {"baseline", "claim", "margin", "n_pairs", "mean_diff", "ci95_low", "ci95_high", "higher_is_better",
             "note", "family_size", "verdict"}
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
    return order_index(table, orders)


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


def experiment_records(name: str, profile: str, *, results_dir: str, data_dir: str | None = None,
                       device: str | None = None, datasets: Sequence[str] | None = None,
                       selection_seeds: Sequence[int] | None = None,
                       seeds: Sequence[int] | None = None) -> ExperimentRecords:
    """The selection and reporting records of experiment ``name`` under ``profile``
    (:func:`sigmse.runs.experiments.run_experiment`, through the sweep engine
    :func:`sigmse.runs.executors.run_configs`: stored runs load, missing ones train, in this process). No progress
    bar (pages stay clean). ``seeds`` are the reporting seeds.

    A notebook run on its own with new parameters (more seeds, say) may have many runs to train, one at a time;
    it then prints one line saying how many, and how ``sigmse book`` would train them in parallel first. A
    build by ``sigmse book`` has trained them already, so its pages never show that line. A run that fails
    raises here, with the sweep's summary of the failures.
    """
    options = dict(datasets=datasets, selection_seeds=selection_seeds, seeds=seeds, device=device)
    first, second, waiting = plan_stages([name], profile, results_dir=results_dir, **options)
    missing = sum(load_record(c, profile, results_dir) is None for c in first + second) + waiting
    if missing:
        print(f"{name}: {missing} of {len(first) + len(second) + waiting} runs are not in {results_dir}/{profile}/ "
              f"and train now, one at a time; `sigmse book --only CHAPTER -p KEY=VALUE --sweep-jobs N` trains a "
              f"chapter's runs N at a time before running it")

    def run(configs: list) -> list[dict[str, Any]]:
        summary = run_configs(configs, profile=profile, results_dir=results_dir, data_dir=data_dir, progress=False)
        if summary.failed:
            raise RuntimeError(f"experiment {name!r}: {len(summary.failed)} runs failed\n{summary}")
        return [load_record(config, profile, results_dir) for config in configs]

    return run_experiment(name, profile, run, results_dir=results_dir, **options)
