"""The Output Reset chapter (``notebooks/output_reset.ipynb``): what Output Reset does, how often, which part matters.

:class:`OutputResetChapter` is the page, one :class:`~sigmse.report.analysis.Part` per figure or table, from this
build's records of the ablation and of the plain-SGD sweep (described rate by rate, not tested).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

import pandas as pd

from sigmse.config import config_from_dict
from sigmse.provenance import UNRECORDED_PROCESSOR
from sigmse.report import plots
from sigmse.report.analysis import (Part, history_frame, metric_or_chance, no_shift_identity, output_reset_example,
                                    records_frame, summarize, variant_label)
from sigmse.report.chapters import (PROCESSOR, THREADS, VERDICT_DATASETS, Records, budget_text, capitalised,
                                    comparison_table, counted, dataset_key, family_size, grid_edge_text, grid_edges,
                                    headline_table, keyed_texts, lr_sweep_table, order_index, runs_frame,
                                    share_words, threads_clause, values_text, verdict_texts)
from sigmse.report.verdicts import ACCURACY_MARGINS, holm_verdicts, paired_tests
from sigmse.runs.profiles import ACCURACY_LOSSES, OUTPUT_RESET_VARIANTS
from sigmse.runs.protocol import chosen_learning_rates, lr_group

__all__ = ["EXAMPLE_OUTPUTS", "EXAMPLE_LABELS", "ablation_names", "ablation_frame", "ablation_family",
           "thread_pairs_table", "thread_agreement_text", "lr_sweep_verdict", "at_best_validation_lr",
           "sgd_output_reset_share", "OutputResetChapter"]

# The worked example: three patterns of sigmoid outputs over three classes, and their classes. Pattern 0 is
# misclassified (class 0 is largest, class 2 is correct), pattern 1 is correct but not by a wide margin, pattern 2
# is confidently correct.
EXAMPLE_OUTPUTS = ((0.90, 0.20, 0.70), (0.80, 0.30, 0.10), (0.05, 0.97, 0.02))
EXAMPLE_LABELS = (2, 0, 1)
PLAIN = "no reset, targets 1/0"  # the ablation's baseline: plain sigmoid-MSE


def ablation_names() -> dict[str, str]:
    """Variant label (as in :func:`~sigmse.report.analysis.records_frame`) -> the ablation's readable name."""
    return {variant_label(loss, options): name for name, (loss, options) in OUTPUT_RESET_VARIANTS.items()}


def ablation_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The ablation's runs: a :func:`runs_frame` with each variant's readable name in the column ``ablation``."""
    frame = runs_frame(records)
    return frame.assign(ablation=frame["variant"].map(ablation_names()))


def ablation_family(report: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The ablation's variants (an :func:`ablation_frame`) against plain sigmoid-MSE (:data:`PLAIN`), paired by
    seed on test accuracy, equivalent within the dataset's margin, Holm-adjusted together."""
    return holm_verdicts(paired_tests(report, "test_acc", claim="equivalence", margins=ACCURACY_MARGINS,
                                      column="ablation", baseline=PLAIN), alpha=alpha)


_NOT_RECORDED = "not recorded"  # thread_pairs_table's kind of a pair of which a run does not name its processor


def thread_pairs_table(frame: pd.DataFrame, first: str, second: str, column: str = "ablation",
                       pair_on: Sequence[str] = ("dataset", "lr", "seed"), metric: str = "test_acc",
                       scale: float = 100.0) -> pd.DataFrame:
    """Two levels of ``column`` that should train alike, paired on ``pair_on`` and grouped by each side's torch
    threads and, where any record names its processor (:data:`PROCESSOR`), by whether the two ran on ``"one
    kind"`` or ``"two kinds"`` of processor (:data:`_NOT_RECORDED` where either does not say): the pairs, how many
    agree exactly in ``metric``, and their largest difference (times ``scale``). A diverged run counts as chance,
    so two diverged runs agree."""
    scored = frame[frame[column].isin([first, second])]
    scored = scored.assign(_value=metric_or_chance(scored, metric),
                           _processor=scored.get(PROCESSOR, UNRECORDED_PROCESSOR))
    pairs = scored.pivot_table(index=list(pair_on), columns=column, values=["_value", THREADS, "_processor"],
                               aggfunc="first").dropna()
    gap = (pairs[("_value", first)] - pairs[("_value", second)]).abs() * scale
    table = pd.DataFrame({f"threads ({first})": pairs[(THREADS, first)].astype(int),
                          f"threads ({second})": pairs[(THREADS, second)].astype(int), "gap": gap})
    keys = list(table.columns[:2])
    kinds = pairs[("_processor", first)], pairs[("_processor", second)]
    if (kinds[0] != UNRECORDED_PROCESSOR).any() or (kinds[1] != UNRECORDED_PROCESSOR).any():
        table["processors"] = [_NOT_RECORDED if UNRECORDED_PROCESSOR in (a, b) else "one kind" if a == b
                               else "two kinds" for a, b in zip(*kinds)]
        keys.append("processors")
    grouped = table.groupby(keys)["gap"]
    return pd.DataFrame({"pairs": grouped.size(), "identical": grouped.agg(lambda g: int((g == 0).sum())),
                         "largest difference": grouped.max()})


def thread_agreement_text(table: pd.DataFrame, unit: str = "pp") -> str:
    """How far the pairs of a :func:`thread_pairs_table` agree: those with the same thread count (on one kind of
    processor, on two, or on processors not recorded, where the table says) and those with different thread
    counts; and, where only the thread count or only the processor separates them, why."""
    if table.empty:
        return "no pairs to compare"
    index = table.index.to_frame(index=False)
    same_threads = (index.iloc[:, 0] == index.iloc[:, 1]).to_numpy()
    split = "processors" in index
    kind = index["processors"].to_numpy() if split else None
    total = int(table["pairs"].sum())

    def counts(rows: pd.DataFrame) -> str:
        threads = dict.fromkeys((int(key[0]), int(key[1])) for key in rows.index)
        return ", ".join(f"{a} and {b} threads" if a != b else f"{counted(a, 'thread')} each" for a, b in threads)

    def gap(rows: pd.DataFrame) -> float:
        return float(rows["largest difference"].max()) if len(rows) else 0.0

    def agreement(largest: float) -> str:
        return "agree exactly" if largest == 0 else f"differ by up to {largest:.2f} {unit}"

    other = table[~same_threads]
    if split:
        same, two_kinds, unrecorded = (table[same_threads & (kind == name)]
                                       for name in ("one kind", "two kinds", _NOT_RECORDED))
    else:
        same, two_kinds, unrecorded = table[same_threads], table.iloc[:0], table.iloc[:0]
    groups = ((same, " on one kind of processor" if split else ""), (two_kinds, " on two kinds of processor"),
              (unrecorded, " whose processors are not all recorded"))
    parts = [f"the {int(rows['pairs'].sum())} of {total} pairs that ran with the same number of torch threads "
             f"({counts(rows)}){where} {agreement(gap(rows))}" for rows, where in groups if len(rows)]
    if len(other):
        parts.append(f"the {int(other['pairs'].sum())} that ran with different numbers ({counts(other)}) "
                     f"{agreement(gap(other))}")
    text = capitalised("; ".join(parts)) + "."
    other_on_one_kind = not split or bool((index.loc[~same_threads, "processors"] == "one kind").all())
    if len(same) and gap(same) == 0 and gap(other) > 0 and other_on_one_kind:
        text += (" The thread count alone separates them: with another number of threads each matrix product "
                 "splits its sums differently, and floating-point addition is not associative, so the two runs "
                 "round differently from their first step and the small differences grow over training. "
                 f"A difference of up to {gap(other):.2f} {unit} between runs with different thread counts can "
                 "therefore come from their arithmetic, not from their losses.")
    if len(same) and gap(same) == 0 and gap(two_kinds) > 0:
        text += (" The processor alone separates those on two kinds: torch, MKL and oneDNN pick their kernels by the "
                 "processor's instruction set, so the two runs round differently from their first step and the small "
                 f"differences grow over training. A difference of up to {gap(two_kinds):.2f} {unit} between runs "
                 "on two kinds of processor can therefore come from their arithmetic, not from their losses.")
    elif gap(same) > 0:
        text += (" Even runs with the same thread count differ, so their arithmetic differs in some other way "
                 "too (another processor or library)." if not split else
                 " Even runs with the same thread count on one kind of processor differ, so something else "
                 "changes their arithmetic too (another library, say).")
    return text


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


def lr_sweep_verdict(frame: pd.DataFrame, candidate: str = "sigmoid_mse_or", baseline: str = "sigmoid_mse",
                     column: str = "loss", metric: str = "test_acc", margin: float = 0.05) -> str:
    """One line: at how many learning rates the seed-mean ``metric`` of ``candidate`` is ahead of, behind or
    within ``margin`` of ``baseline``'s (a diverged run counts as chance); losses by the names the book prints."""
    gap = _rate_gaps(frame, candidate, baseline, column, metric)
    if gap is None:
        return "not run"
    ahead, behind = gap[gap > margin].index, gap[gap < -margin].index
    return (f"{plots.pretty(candidate)} is ahead of {plots.pretty(baseline)} by more than {margin * 100:g} pp at "
            f"{len(ahead)} of {len(gap)} learning rates{_rates_text(ahead)}, behind at "
            f"{len(behind)}{_rates_text(behind)}, within {margin * 100:g} pp at {len(gap) - len(ahead) - len(behind)}")


def at_best_validation_lr(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The runs at their group's learning rate with the best mean validation accuracy over the same seeds: for a
    descriptive sweep (the seeds that choose are also shown, so this is no test)."""
    configs = [config_from_dict(record["config"]) for record in records]
    chosen = chosen_learning_rates(configs, records)
    return records_frame([r for c, r in zip(configs, records) if c.lr == chosen[lr_group(c)]])


def _signed_pp(value: float, margin: float, digits: int = 2) -> str:
    """``value`` in signed percentage points, with enough digits to show on which side of ``margin`` it lies."""
    while digits < 4 and round(abs(value) * 100, digits) == round(margin * 100, digits) and abs(value) != margin:
        digits += 1
    return f"{value * 100:+.{digits}f} pp".replace("-", "\u2212")


def sgd_output_reset_share(prefix: str, records: Sequence[Mapping[str, Any]],
                           datasets: Sequence[str] = VERDICT_DATASETS, candidate: str = "sigmoid_mse_or",
                           plain: str = "sigmoid_mse", baseline: str = "softmax_ce",
                           margins: Mapping[str, float] = ACCURACY_MARGINS, apart: float = 0.05) -> dict[str, str]:
    """Is Output Reset what makes sigmoid-MSE competitive with plain SGD? Described, not tested: each loss at its best
    rate by validation against the margin. Glue keys ``<prefix>_{plain_vs_ce,or_vs_plain,answer}_<dataset>``."""
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
        position = {name: "ahead" if v > margin else "behind" if v < -margin else "within" for name, v in gap.items()}
        compared = part[part["loss"].isin([candidate, plain, baseline])]
        seeds = compared.groupby(["loss", "lr"])["seed"].nunique()
        seeds_text = f"{counted(values_text(seeds.astype(float)), 'seed')} per rate"
        values[f"{prefix}_answer_{key}"] = (
            f"{capitalised(share_words(position['plain'], position['reset'], position['claim']))} "
            f"({values_text(compared['optimizer'])} with momentum {values_text(compared['momentum'])}, each loss "
            f"at its best learning rate by validation, seed means against the \u00b1{margin * 100:.2f} pp margin: "
            f"described, not tested; {seeds_text}; {threads_clause(compared[THREADS])})")
    return values


@dataclass(frozen=True)
class OutputResetChapter:
    """This build's records: the ablation's (``selection`` chose the learning rates, ``report`` is read by its
    tables and tests) and the plain-SGD sweep's (``sgd``); ``alpha``: the ablation's family-wise error rate."""

    selection: Records
    report: Records
    sgd: Records
    profile: str
    alpha: float = 0.05

    @property
    def variants(self) -> list[str]:
        """The ablation's variants, in the order the book shows them."""
        return list(OUTPUT_RESET_VARIANTS)

    @cached_property
    def chose(self) -> pd.DataFrame:
        """The ablation's selection runs, which chose each variant's learning rate."""
        return ablation_frame(self.selection)

    @cached_property
    def runs(self) -> pd.DataFrame:
        return ablation_frame(self.report)

    @cached_property
    def sgd_runs(self) -> pd.DataFrame:
        return runs_frame(self.sgd)

    # -- the parts, in page order

    def protocol(self) -> Part:
        """The budgets of the ablation and of the sweep, read from their runs."""
        return Part({"ablation_budget": budget_text(self.runs, self.chose), "sgd_budget": budget_text(self.sgd_runs)})

    def worked_example(self) -> Part:
        """Output Reset on :data:`EXAMPLE_OUTPUTS` with targets 1/0, and the squared error before and after."""
        example = output_reset_example(EXAMPLE_OUTPUTS, EXAMPLE_LABELS, pos=1.0, neg=0.0, shift=True)
        return Part({"example_error_before": float(example["error_before"].sum()),
                     "example_error_after": float(example["error_after"].sum())},
                    (example.style.format(precision=3).hide(axis="index"),))

    def soft_targets_example(self) -> Part:
        """The same patterns with targets 0.9/0.1, and the error left on the confident pattern 2."""
        narrow = output_reset_example(EXAMPLE_OUTPUTS, EXAMPLE_LABELS, pos=0.9, neg=0.1, shift=True)
        return Part({"narrow_error_after_2": float(narrow.query("pattern == 2")["error_after"].sum())},
                    (narrow.style.format(precision=3).hide(axis="index"),))

    def identity(self) -> Part:
        """Without the shift and with targets 1/0, Output Reset is plain sigmoid-MSE: checked on random logits."""
        identity = no_shift_identity(patterns=10_000, classes=10, seed=0)
        values = {f"identity_{key}": identity[key]
                  for key in ("outputs_reset", "max_target_change", "max_gradient_difference")}
        return Part(values, (pd.Series(identity, name="sigmoid-MSE vs OR without shift, targets 1/0").to_frame(),))

    def thread_pairs(self) -> Part:
        """The two variants that train alike, paired over every rate and seed, by their runs' thread counts."""
        threads = thread_pairs_table(pd.concat([self.chose, self.runs], ignore_index=True), PLAIN,
                                     "reset without shift, targets 1/0")
        return Part({"identity_threads": thread_agreement_text(threads)},
                    (threads.style.format({"largest difference": "{:.2f}"}),))

    def reset_fraction(self) -> Part:
        """The share of outputs reset per epoch (figure), and in the last epoch (table; the default OR's on the
        first dataset glued)."""
        history = history_frame(self.report)
        history["ablation"] = history["variant"].map(ablation_names())
        resetting = history.dropna(subset=["reset_fraction"])
        figure = plots.curves_with_band(resetting, y="reset_fraction", hue="ablation", hue_order=self.variants)
        final = resetting[resetting["epoch"] == resetting["epoch"].max()]
        share = final.groupby(["dataset", "ablation"])["reset_fraction"].mean().unstack()
        return Part({"fig_reset_fraction": figure,
                     "reset_share_default": float(share["reset with shift, targets 1/0"].iloc[0]),
                     "reset_dataset": str(share.index[0])}, (share.style.format("{:.1%}"),))

    def ablation_rates(self) -> Part:
        """Mean validation accuracy of the selection runs per variant and rate, and the variants whose chosen rate
        is the smallest or largest they tried or that the grid-edge rule extended (``ablation_edge_rule``)."""
        orders = {"dataset": list(pd.unique(self.chose["dataset"])), "ablation": self.variants}
        table = order_index(lr_sweep_table(self.chose, metric="val_acc", by=("dataset", "ablation")), orders)
        edges = grid_edges(self.runs, self.chose, group=("dataset", "ablation"))
        groups = self.chose.groupby(["dataset", "ablation"]).ngroups
        return Part({"ablation_edge_rule": grid_edge_text(edges, groups, "dataset and variant pairs")},
                    (table.style.format(precision=4), edges))

    def headline(self) -> Part:
        return Part({}, (headline_table(self.runs, by=("dataset", "ablation"), orders={"ablation": self.variants}),))

    def ablation_figure(self) -> Part:
        summary = summarize(self.runs, "test_acc", ["dataset", "ablation"])
        return Part({"fig_ablation": plots.point_ci(summary, y="ablation", runs=self.runs, order=self.variants)})

    def ablation_verdicts(self) -> Part:
        """The ablation's verdicts, its family's size, and the two the prose quotes per dataset: full OR, and soft
        targets alone, each against plain sigmoid-MSE."""
        family = ablation_family(self.runs, alpha=self.alpha)
        values = {"ablation_family_size": family_size(family),
                  **verdict_texts("ablation_verdict", family, "reset with shift, targets 1/0", PLAIN,
                                  column="ablation"),
                  **verdict_texts("soft_targets_verdict", family, "no reset, targets 0.9/0.1", PLAIN,
                                  column="ablation")}
        return Part(values, (comparison_table(family, orders={"ablation": self.variants}, keys=["dataset", "ablation"],
                                              runs=self.runs, column="ablation"),))

    def sgd_figure(self) -> Part:
        return Part({"fig_sgd_lr": plots.metric_vs_lr(self.sgd_runs, y="test_acc", hue="loss",
                                                      hue_order=ACCURACY_LOSSES)})

    def sgd_sweep(self) -> Part:
        """Mean test accuracy per learning rate and the usable rates; the prose's MNIST numbers: each loss at its
        best rate by validation (``sgd_acc_mnist_*``), its usable rates and the rate-by-rate comparison."""
        sweep = lr_sweep_table(self.sgd_runs, by=("dataset", "loss"))
        best = summarize(at_best_validation_lr(self.sgd), "test_acc", ["dataset", "loss"])
        values = {**keyed_texts(best, "sgd_acc", ["mnist"], ACCURACY_LOSSES),
                  **keyed_texts(sweep.reset_index(), "sgd_usable", ["mnist"], ACCURACY_LOSSES, value="usable lrs",
                              style="{:.0f}"),
                  "sgd_verdict_mnist": lr_sweep_verdict(self.sgd_runs.query("dataset == 'mnist'"))}
        return Part(values, (order_index(sweep, {"loss": ACCURACY_LOSSES}).style.format(precision=4),))

    def sgd_share(self) -> Part:
        """Is Output Reset what makes sigmoid-MSE competitive with plain SGD (``claim_sgd_share_*``: the intro
        reads them)?"""
        return Part(sgd_output_reset_share("claim_sgd_share", self.sgd))
