"""The accuracy chapter (``notebooks/accuracy.ipynb``): does sigmoid-MSE with Output Reset match softmax CE?

:class:`AccuracyChapter` is the page, one :class:`~sigmse.report.analysis.Part` per figure or table. The judged
family (:func:`accuracy_family`) holds the claim and Output Reset's own share (:func:`output_reset_share`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.report import plots
from sigmse.report.analysis import Part, chance_level, history_frame, metric_or_chance, summarize
from sigmse.report.chapters import (THREADS, VERDICT_DATASETS, Records, budget_text, capitalised, claim_rows,
                                    comparison_row, comparison_table, dataset_key, difference_cells, family_size,
                                    grid_edge_text, grid_edges, headline_table, keyed_texts, listing,
                                    lr_sweep_table, order_index, plus_minus, runs_frame, share_words,
                                    threads_clause, values_text, verdict_texts)
from sigmse.report.convergence import (PLATEAU_GAIN, plateau_reading, plateau_summary, plateau_table,
                                       validation_plateau)
from sigmse.report.pilots import epoch_pilot_table, epoch_pilot_text, trained_epochs
from sigmse.report.verdicts import (ACCURACY_MARGINS, NOT_JUDGED, holm_verdicts, paired_tests, power_table,
                                    verdict_text)
from sigmse.runs.profiles import ACCURACY_LOSSES

__all__ = ["epoch_budgets", "calibration_table", "difference_table", "accuracy_family",
           "claim_alone_text", "unjudged", "against", "NEAR_CHANCE", "output_reset_share", "AccuracyChapter"]


def epoch_budgets(report: pd.DataFrame) -> dict[str, int]:
    """Each dataset's epoch budget, read from its runs; mixed budgets in one dataset raise ``ValueError``."""
    budgets = {}
    for dataset, epochs in report.groupby("dataset", sort=False)["epochs"]:
        if epochs.nunique() != 1:
            raise ValueError(f"the {dataset} runs trained for {sorted(int(e) for e in epochs.unique())} epochs; "
                             "a page states one epoch budget per dataset")
        budgets[str(dataset)] = int(epochs.iloc[0])
    return budgets


def calibration_table(report: pd.DataFrame, by: Sequence[str] = ("dataset", "loss"),
                      orders: Mapping[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """ECE and NLL of the reporting runs (mean ± std over seeds), raw and after temperature scaling fitted on
    validation (:mod:`sigmse.calibration`), with the mean fitted temperature."""
    keys = list(by)
    columns = {"ECE": "test_ece", "ECE (TS)": "test_ece_ts", "NLL": "test_nll", "NLL (TS)": "test_nll_ts"}
    parts = {name: summarize(report, metric, keys).set_index(keys) for name, metric in columns.items()}
    table = pd.DataFrame({name: [plus_minus(m, s, 1, 3) for m, s in zip(part["mean"], part["std"])]
                          for name, part in parts.items()}, index=parts["ECE"].index)
    table["T"] = report.groupby(keys)["temperature"].mean().reindex(table.index).map(
        lambda t: "n/a" if np.isnan(t) else f"{t:.2f}")
    return order_index(table, orders)


def difference_table(tests: pd.DataFrame, scale: float = 100.0, unit: str = "pp", digits: int = 2,
                     orders: Mapping[str, Sequence[Any]] | None = None,
                     keys: Sequence[str] = ("dataset", "loss")) -> pd.DataFrame:
    """Seeds and paired difference with its 95% interval (no verdict), for comparisons shown but not judged."""
    suffix = f" ({unit})" if unit else ""
    table = pd.DataFrame({
        "seeds": tests["n_pairs"].to_numpy(),
        f"difference [95% CI]{suffix}": difference_cells(tests, scale, digits),
    }, index=pd.MultiIndex.from_frame(tests[list(keys)]))
    return order_index(table, orders)


def accuracy_family(report: pd.DataFrame, *, alpha: float = 0.05,
                    margins: float | Mapping[str, float] = ACCURACY_MARGINS, candidate: str = "sigmoid_mse_or",
                    plain: str = "sigmoid_mse", baseline: str = "softmax_ce") -> pd.DataFrame:
    """The chapter's family, Holm-adjusted together: per dataset ``candidate`` and ``plain`` against ``baseline``,
    and ``candidate`` against ``plain``; equivalence on test accuracy, paired by seed, within the dataset's margin."""
    def tests(levels: list[str], against_loss: str) -> pd.DataFrame:
        return paired_tests(report, "test_acc", claim="equivalence", margins=margins, baseline=against_loss,
                            levels=levels)

    return holm_verdicts(pd.concat([tests([candidate, plain], baseline), tests([candidate], plain)],
                                   ignore_index=True), alpha=alpha)


def claim_alone_text(report: pd.DataFrame, family: pd.DataFrame, *, alpha: float = 0.05,
                     margins: float | Mapping[str, float] = ACCURACY_MARGINS, candidate: str = "sigmoid_mse_or",
                     baseline: str = "softmax_ce") -> str:
    """What a larger family costs the claim: one line naming each dataset whose verdict would differ if
    ``candidate`` against ``baseline`` were judged alone (Holm over its own p-values)."""
    alone = holm_verdicts(paired_tests(report, "test_acc", claim="equivalence", margins=margins, baseline=baseline,
                                       levels=[candidate]), alpha=alpha)
    if alone.empty:
        return "not run"
    if family_size(alone) == 0:
        return "with fewer than two seeds per comparison nothing is tested, alone or in the family"
    size = family_size(family)
    changed = []
    for _, row in alone.iterrows():
        judged = comparison_row(family, candidate, dataset=row["dataset"], baseline=baseline)
        if judged is not None and judged["verdict"] != row["verdict"]:
            changed.append(f"{row['dataset']} would be {row['verdict']}, not {judged['verdict']}")
    head = (f"judged alone, Holm over its own {family_size(alone)} p-values instead of the "
            f"family's {size}, {plots.pretty(candidate)} against {plots.pretty(baseline)}")
    return f"{head} gets the same verdicts" if not changed else f"{head}: {'; '.join(changed)}"


def unjudged(report: pd.DataFrame, family: pd.DataFrame, *, baseline: str = "softmax_ce",
             margins: float | Mapping[str, float] = ACCURACY_MARGINS, column: str = "loss") -> pd.DataFrame:
    """Paired differences to ``baseline`` of every level ``family`` does not judge against it, for context
    (verdict :data:`~sigmse.report.verdicts.NOT_JUDGED`)."""
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


def output_reset_share(prefix: str, family: pd.DataFrame, runs: pd.DataFrame,
                       datasets: Sequence[str] = VERDICT_DATASETS, candidate: str = "sigmoid_mse_or",
                       plain: str = "sigmoid_mse", baseline: str = "softmax_ce") -> dict[str, str]:
    """Is Output Reset what makes sigmoid-MSE competitive (from :func:`accuracy_family`)? Per dataset the glue keys
    ``<prefix>_plain_vs_ce_<dataset>``, ``<prefix>_or_vs_plain_<dataset>`` (verdict lines) and
    ``<prefix>_answer_<dataset>`` (the answer in words, with the optimizer and threads read from ``runs``)."""
    values = {}
    size = family_size(family)
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
        basis = f"{values_text(compared['optimizer'])}; {tests}; {threads_clause(compared[THREADS])}"
        values[f"{prefix}_answer_{key}"] = (
            f"{capitalised(share_words(position['plain'], position['reset'], position['claim']))}"
            f"{_failed_seeds_clause(compared, plain, candidate)} ({basis})")
    return values


def _failed_seeds_clause(runs: pd.DataFrame, plain: str, candidate: str) -> str:
    """How many runs of ``plain`` and ``candidate`` ended at most :data:`NEAR_CHANCE` times chance (a diverged
    run counts as chance); empty when none did."""
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


@dataclass(frozen=True)
class AccuracyChapter:
    """This build's records: ``selection`` chose the learning rates, ``report`` is read by every table and test,
    ``pilot`` fixed the epochs; ``alpha`` is the family-wise error rate (Holm)."""

    selection: Records
    report: Records
    pilot: Records
    profile: str
    alpha: float = 0.05

    @cached_property
    def chose(self) -> pd.DataFrame:
        """The selection runs, which chose each learning rate."""
        return runs_frame(self.selection)

    @cached_property
    def runs(self) -> pd.DataFrame:
        return runs_frame(self.report)

    @cached_property
    def order(self) -> dict[str, Sequence[str]]:
        """Row order: datasets as first run, losses as the book lists them."""
        return {"dataset": list(pd.unique(self.runs["dataset"])), "loss": ACCURACY_LOSSES,
                "variant": ACCURACY_LOSSES, "baseline": ACCURACY_LOSSES}

    @cached_property
    def summary(self) -> pd.DataFrame:
        return summarize(self.runs, "test_acc", ["dataset", "loss"])

    @cached_property
    def family(self) -> pd.DataFrame:
        return accuracy_family(self.runs, alpha=self.alpha)

    @cached_property
    def context(self) -> pd.DataFrame:
        """The losses shown for context, not judged: their paired differences to softmax CE."""
        return unjudged(self.runs, self.family)

    @cached_property
    def history(self) -> pd.DataFrame:
        return history_frame(self.report)

    @cached_property
    def budgets(self) -> dict[str, int]:
        return epoch_budgets(self.runs)

    @cached_property
    def flattened(self) -> pd.DataFrame:
        """Softmax CE's gain over the last quarter of each budget (:func:`validation_plateau`)."""
        return validation_plateau(self.history, self.budgets)

    # -- the parts, in page order

    def protocol(self) -> Part:
        """The seeds that chose and that report, and the budget, all read from the runs."""
        return Part({"selection_seeds": listing(sorted(self.chose["seed"].unique())),
                     "report_seeds": listing(sorted(self.runs["seed"].unique())),
                     "budget": budget_text(self.runs, self.chose)})

    def learning_rates(self) -> Part:
        """Mean validation accuracy of the selection runs per learning rate."""
        table = order_index(lr_sweep_table(self.chose, metric="val_acc"), self.order)
        return Part({}, (table.style.format(precision=4),))

    def rates_at_edges(self) -> Part:
        """The groups whose rate is the smallest or largest they tried, or that the grid-edge rule extended."""
        edges = grid_edges(self.runs, self.chose, group=("dataset", "loss"))
        groups = self.chose.groupby(["dataset", "loss"]).ngroups
        return Part({"edge_rule": grid_edge_text(edges, groups, "dataset and loss pairs")}, (edges,))

    def headline(self) -> Part:
        return Part({}, (headline_table(self.runs, by=("dataset", "loss"), orders=self.order),))

    def accuracy_figure(self) -> Part:
        return Part({"fig_accuracy": plots.point_ci(self.summary, y="loss", runs=self.runs, order=ACCURACY_LOSSES,
                                                    col_order=self.order["dataset"])})

    def judged_family(self) -> Part:
        """The judged family's verdicts, its size, and what the claim's comparisons alone would say."""
        family = self.family
        values = {"accuracy_family_size": family_size(family),
                  "accuracy_comparisons": len(family), "alpha_text": f"{self.alpha:g}",
                  "claim_alone": claim_alone_text(self.runs, family, alpha=self.alpha)}
        return Part(values, (comparison_table(family, orders=self.order, keys=["dataset", "loss", "baseline"],
                                              runs=self.runs),))

    def power(self) -> Part:
        """The power the runs' pairs give, and the seeds the next plan would ask for."""
        table = power_table(self.family, by=("dataset", "loss", "baseline"))
        return Part({}, (table.style.format({"observed sd": "{:.4f}", "power now": "{:.2f}", "seeds needed": "{:.0f}"},
                                            na_rep="n/a").hide(axis="index"),))

    def context_table(self) -> Part:
        return Part({}, (difference_table(self.context, orders=self.order),))

    def paired_figure(self) -> Part:
        figure = plots.verdict_heatmap(against("softmax_ce", self.family, self.context),
                                       index_order=self.order["dataset"], column_order=ACCURACY_LOSSES,
                                       title="test accuracy minus softmax CE's, same seeds")
        return Part({"fig_paired": figure})

    def reset_share(self) -> Part:
        """Is Output Reset what makes sigmoid-MSE competitive (``claim_share_*``: the intro reads them)?"""
        return Part(output_reset_share("claim_share", self.family, self.runs))

    def calibration(self) -> Part:
        return Part({}, (calibration_table(self.runs, by=("dataset", "loss"), orders=self.order),))

    def plateau(self) -> Part:
        """Whether the budget flattened softmax CE's validation accuracy (the rule's threshold and its answer)."""
        return Part({"plateau_gain_pp": PLATEAU_GAIN * 100, "plateau_summary": plateau_summary(self.flattened),
                     "plateau_reading": plateau_reading(self.runs["schedule"])},
                    (plateau_table(self.flattened),))

    def plateau_figure(self) -> Part:
        return Part({"fig_plateau": plots.plateau_curves(self.history, self.flattened)})

    def plateau_context(self) -> Part:
        """The same measure for every loss that has runs, as context."""
        context = validation_plateau(self.history, self.budgets, losses=ACCURACY_LOSSES)
        return Part({}, (plateau_table(context[context["runs"] > 0]),))

    def epoch_pilot(self) -> Part:
        text = epoch_pilot_text(self.pilot, self.profile, trained=trained_epochs(self.report))
        return Part({"epoch_pilot_text": text}, (epoch_pilot_table(self.pilot),))

    def verdict(self) -> Part:
        """The closing table's accuracies (``acc_*``) and verdicts (``verdict_*``), and the intro's claim rows
        (``claim_accuracy_*``)."""
        return Part({**keyed_texts(self.summary, "acc", VERDICT_DATASETS, ACCURACY_LOSSES),
                     **verdict_texts("verdict", self.family),
                     **claim_rows("claim_accuracy", self.family, self.profile)})
