"""The noise chapter's tables and figures. Quoted CIFAR-10 numbers: Liu et al., *Early-Learning Regularization
Prevents Memorization of Noisy Labels*, NeurIPS 2020."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sigmse.report.analysis import summarize
from sigmse.report.chapters import comparison_table, grid_edges
from sigmse.report.noise_analysis import NOISE_KINDS, in_setting_order, noise_curves, setting_label
from sigmse.report.noise_rules import NOISE_REPORTING_RULES
from sigmse.report.plots import figure, palette, pretty, verdict_heatmap
from sigmse.runs.profiles import NOISE_LOSSES

__all__ = ["KIND_LEVEL_NAMES", "LIU2020_CIFAR10_SYMMETRIC", "rule_table", "noise_table", "family_table",
           "trained_settings", "chosen_lr_table", "rate_edges_table", "standings", "literature_table",
           "accuracy_vs_noise", "memorisation_figure", "verdict_figure"]

KIND_LEVEL_NAMES: Mapping[str, str] = {  # what the level of each kind is
    "clean": "", "symmetric": "share of labels changed", "asymmetric": "share of each source class flipped to its pair",
    "input (train+test)": "input noise sigma", "input (test only)": "input noise sigma"}
# CIFAR-10 test accuracy (%) under symmetric label noise, ResNet-34, as tabulated by Liu et al. (ELR, NeurIPS
# 2020): quoted for context only (a different network, budget and noise generator), never used to tune ours.
LIU2020_CIFAR10_SYMMETRIC: Mapping[str, Mapping[float, float]] = {
    "softmax_ce": {0.2: 86.98, 0.4: 81.88, 0.6: 74.14, 0.8: 53.82},
    "gce": {0.2: 89.83, 0.4: 87.13, 0.6: 82.54, 0.8: 64.07},
    "symmetric_ce": {0.2: 89.83, 0.4: 87.13, 0.6: 82.81, 0.8: 68.12},
}


def _cell_text(mean: float, std: float) -> str:
    """``"81.2 ± 0.4"`` (%), without ``±`` for one seed, ``"n/a"`` for none."""
    if not np.isfinite(mean):
        return "n/a"
    return f"{mean * 100:.1f}" + ("" if not np.isfinite(std) else f" ± {std * 100:.1f}")


def rule_table(rules: pd.DataFrame) -> pd.DataFrame:
    """Per setting and loss: test accuracy (%, mean ± std) under each reporting rule, and the epochs early stopping
    picked."""
    early, final = NOISE_REPORTING_RULES["early"], NOISE_REPORTING_RULES["final"]
    rank = {loss: i for i, loss in enumerate(NOISE_LOSSES)}
    ordered = in_setting_order(rules.sort_values("loss", key=lambda column: column.map(rank), kind="stable"))
    rows, picked_name = [], "early-stopping epoch [range] of trained"
    for (dataset, kind, level, loss), part in ordered.groupby(["dataset", "kind", "level", "loss"], sort=False):
        accuracy = {name: part.loc[part["rule"] == name, "test_acc"].dropna()
                    for name in NOISE_REPORTING_RULES.values()}
        picked = part.loc[part["rule"] == early, "epoch"].dropna()
        trained = part.loc[part["rule"] == final, "epoch"].max()
        rows.append({"dataset": dataset, "setting": setting_label(kind, level), "loss": pretty(loss),
                     **{f"{name} (%)": _cell_text(acc.mean(), acc.std()) for name, acc in accuracy.items()},
                     picked_name: "n/a" if picked.empty else
                     f"{picked.mean():.1f} [{picked.min():.0f}, {picked.max():.0f}] of {trained:.0f}"})
    columns = ["dataset", "setting", "loss", *(f"{name} (%)" for name in NOISE_REPORTING_RULES.values()), picked_name]
    return pd.DataFrame(rows, columns=columns).set_index(["dataset", "setting", "loss"])


def _summary(curves: pd.DataFrame) -> pd.DataFrame:
    return summarize(curves, "test_acc", ["dataset", "kind", "level", "loss"])


def _setting_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Level-0 rows of every kind collapse into one ``clean`` setting; adds the ``setting`` label."""
    frame = frame[(frame["level"] > 0) | (frame["kind"] == NOISE_KINDS[0])]
    frame = in_setting_order(frame.assign(kind=np.where(frame["level"] > 0, frame["kind"], "clean")))
    return frame.assign(setting=[setting_label(k, lv) for k, lv in zip(frame["kind"], frame["level"])])


def _by_loss(frame: pd.DataFrame, values: str, losses: Sequence[str] = NOISE_LOSSES, aggfunc: str = "first"
             ) -> pd.DataFrame:
    """``values`` per setting (rows) and loss (columns, in the order of ``losses``)."""
    wide = frame.pivot_table(index=["dataset", "setting"], columns="loss", values=values, aggfunc=aggfunc, sort=False)
    return wide.reindex(columns=[loss for loss in losses if loss in wide.columns])


def noise_table(curves: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES) -> pd.DataFrame:
    """Test accuracy (%, mean ± std over seeds) per setting (rows) and loss (columns)."""
    summary = _setting_index(_summary(curves))
    return _by_loss(summary.assign(text=[_cell_text(m, s) for m, s in zip(summary["mean"], summary["std"])]), "text",
                    losses)


def family_table(family: pd.DataFrame) -> pd.DataFrame:
    """A family of verdicts for print, indexed by dataset, setting, rule (if any) and baseline."""
    keys = ["dataset", "setting", *(["rule"] if "rule" in family else []), "baseline"]
    labelled = family.assign(setting=[setting_label(k, lv) for k, lv in zip(family["kind"], family["level"])])
    return comparison_table(labelled, keys=keys)


def trained_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run, with the ``setting`` it trained under (clean runs once, not once per curve)."""
    curves = noise_curves(runs)
    return _setting_index(curves[curves["kind"] != "input (test only)"])


def chosen_lr_table(report: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES) -> pd.DataFrame:
    """The learning rate each loss chose on validation (that of its reporting runs), per dataset and setting."""
    return _by_loss(trained_settings(report), "lr", losses)


def rate_edges_table(report: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """:func:`~sigmse.report.chapters.grid_edges` per dataset, setting and loss: the chosen rates at an edge of
    those tried, and the rates the grid-edge rule added; empty when no rate was chosen."""
    if selection.empty:
        return grid_edges(report, selection, group=("dataset", "setting", "loss"))
    return grid_edges(trained_settings(report), trained_settings(selection), group=("dataset", "setting", "loss"))


def standings(curves: pd.DataFrame, candidate: str = "sigmoid_mse_or") -> pd.DataFrame:
    """Per setting: each loss's mean test accuracy (%), the best loss, and ``candidate``'s rank (ties: the better)."""
    wide = _by_loss(_setting_index(_summary(curves)), "mean", aggfunc="mean") * 100
    ranks = wide.rank(axis=1, ascending=False, method="min")
    return wide.round(2).assign(best=wide.idxmax(axis=1),
                                **{f"rank of {candidate}": ranks.get(candidate, np.nan).astype("Int64")})


def literature_table(curves: pd.DataFrame, dataset: str = "cifar10",
                     ours: Sequence[str] = ("softmax_ce", "gce", "symmetric_ce", "sigmoid_mse_or")) -> pd.DataFrame:
    """Liu et al.'s CIFAR-10 numbers (typed from their paper) beside ours at the same symmetric rates (NaN: not
    run)."""
    rates = sorted({rate for values in LIU2020_CIFAR10_SYMMETRIC.values() for rate in values})
    table = pd.DataFrame({f"{pretty(loss)} (typed from Liu et al.)": [values.get(rate, np.nan) for rate in rates]
                          for loss, values in LIU2020_CIFAR10_SYMMETRIC.items()}, index=pd.Index(rates, name="rate"))
    part = curves[(curves["dataset"] == dataset) & (curves["kind"] == "symmetric")]
    means = part.groupby(["loss", "level"])["test_acc"].mean() * 100
    for loss in ours:
        table[f"{pretty(loss)} (ours, final epoch)"] = [means.get((loss, rate), np.nan) for rate in rates]
    return table.round(2)


def _panels(rows: int, cols: int, panel: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """Panels sharing y within a row, at least 6 inches wide, with room for a legend below."""
    return figure(rows, cols, (panel[0], panel[1] + 0.7 / rows), extra_width=max(0.0, 6.0 - panel[0] * cols),
                  sharey="row")


def _legend_under_panels(fig: Figure, axes: np.ndarray) -> None:
    """One legend below the panels, as wide as the figure allows."""
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        ncols = min(len(labels), 6 if axes.shape[1] >= 3 else 3)
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)


def accuracy_vs_noise(curves: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES,
                      panel: tuple[float, float] = (3.6, 2.9)) -> Figure:
    """Test accuracy against the noise level, a panel per dataset and kind; seed mean and 95% band per loss."""
    summary = _summary(curves)
    datasets = list(pd.unique(curves["dataset"]))
    colours = palette(list(losses))
    fig, axes = _panels(2 * len(datasets), 2, panel)
    for (row, dataset), (col, kind) in ((r, c) for r in enumerate(datasets) for c in enumerate(NOISE_KINDS)):
        ax = axes[2 * row + col // 2, col % 2]
        for loss in losses:
            line = summary[(summary["dataset"] == dataset) & (summary["kind"] == kind) & (summary["loss"] == loss)]
            ax.plot(line["level"], line["mean"], marker="o", ms=3, color=colours[loss], label=pretty(loss))
            ax.fill_between(line["level"], line["ci95_low"].clip(0, 1), line["ci95_high"].clip(0, 1),
                            color=colours[loss], alpha=0.12, lw=0)  # an accuracy interval ends at 0 and 1
        ax.set(title=f"{dataset}: {kind}", xlabel=KIND_LEVEL_NAMES[kind],
               ylabel="test accuracy" if col % 2 == 0 else "", ylim=(0, 1.01))
    _legend_under_panels(fig, axes)
    return fig


def memorisation_figure(long: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES,
                        panel: tuple[float, float] = (3.2, 2.6)) -> Figure:
    """Training accuracy against the given label per epoch: rows dataset x (clean, flipped), columns settings."""
    rows = [(d, labels) for d in pd.unique(long["dataset"]) for labels in ("clean", "flipped")]
    by_kind = long.sort_values(["label_noise", "label_noise_rate"], ascending=[False, True])  # symmetric first
    settings = list(pd.unique(by_kind["setting"]))
    colours = palette(list(losses))
    fig, axes = _panels(len(rows), max(1, len(settings)), panel)
    for (r, (dataset, labels)), (c, setting) in ((a, b) for a in enumerate(rows) for b in enumerate(settings)):
        ax, part = axes[r, c], long[(long["dataset"] == dataset) & (long["labels"] == labels)
                                    & (long["setting"] == setting)]
        for loss in losses:
            stats = part[part["loss"] == loss].groupby("epoch")["train_acc"].agg(["mean", "min", "max"]).dropna()
            ax.plot(stats.index, stats["mean"], marker="o", ms=3, color=colours[loss], label=pretty(loss))
            ax.fill_between(stats.index, stats["min"], stats["max"], color=colours[loss], alpha=0.15, lw=0)
        ax.set(title=f"{dataset}: {setting}", xlabel="epoch", ylabel=f"train acc, {labels} labels" if c == 0 else "")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_under_panels(fig, axes)
    return fig


def verdict_figure(family: pd.DataFrame, baseline: str = "softmax_ce", candidate: str = "sigmoid_mse_or") -> Figure:
    """The rows of ``family`` against ``baseline`` as a verdict heatmap, one row per dataset and setting."""
    versus = family[family["baseline"] == baseline]
    grid = versus.assign(setting=[f"{d} · {setting_label(k, lv)}" for d, k, lv in
                                  zip(versus["dataset"], versus["kind"], versus["level"])])
    title = f"{pretty(candidate)} minus {pretty(baseline)}, paired by seed"
    return verdict_heatmap(grid, index="setting", index_order=list(pd.unique(grid["setting"])),
                           column_order=NOISE_LOSSES, title=title)

