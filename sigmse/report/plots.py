"""Figures for the book's chapters in one style: a theme (:func:`apply_style`), a figure helper (:func:`figure`,
:func:`panel_grid`), one printed name (:func:`pretty`, from the loss registry) and one colour (:func:`palette`) per
loss, and the result chapters' figures. Every figure has a solid white background (readable in dark mode) and is
already closed in pyplot, so a notebook shows it only where it displays or glues it.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sigmse.checks import check_choice
from sigmse.losses.modules import LOSS_VARIANTS, LOSSES, display_name
from sigmse.runs.profiles import ACCURACY_LOSSES
from sigmse.report.verdicts import decisive_p

__all__ = ["RC", "FIGURE_WIDTH", "figure", "panel_grid", "LOSS_LABELS", "AXIS_LABELS", "apply_style", "pretty",
           "palette", "curves_with_band", "plateau_curves", "point_ci", "metric_vs_lr", "heatmap", "verdict_heatmap"]

# Solid white backgrounds: transparent figures are unreadable in a dark-mode page. 100 dpi (matplotlib's
# default, stated because the figure widths below are chosen for it): a figure of FIGURE_WIDTH inches is
# 800 px wide, which the book's content column (about 700 px) shows at 85 % or more, text included.
RC: Mapping[str, Any] = {"figure.dpi": 100, "figure.facecolor": "white", "savefig.facecolor": "white",
                         "savefig.transparent": False, "axes.facecolor": "white"}
# Every loss name the book prints, whichever chapter shows it: each registered loss's and variant's display name.
LOSS_LABELS: Mapping[str, str] = {name: display_name(name) for name in (*LOSSES, *LOSS_VARIANTS)}
AXIS_LABELS: Mapping[str, str] = {
    "epoch": "epoch", "lr": "learning rate", "test_acc": "test accuracy", "val_acc": "validation accuracy",
    "train_acc": "training accuracy", "train_loss": "training loss", "reset_fraction": "share of outputs reset",
    "test_nll": "test NLL", "test_ece": "test ECE", "mean": "mean", "mean_diff": "difference to baseline"}
_BANDS = ("range", "sd", "none")
FIGURE_WIDTH = 8.0  # inches: the widest figure drawn here; more panels than fit wrap into rows


def apply_style(*, grid: bool = True) -> None:
    """Seaborn's theme with the solid backgrounds of :data:`RC`, for the whole session: ``whitegrid``, or
    ``white`` with ``grid=False`` (for pages of heatmaps, where grid lines would cross the cells)."""
    sns.set_theme(style="whitegrid" if grid else "white", context="notebook", rc=dict(RC))


def pretty(name: Any) -> str:
    """The printed name of a loss or variant: ``sigmoid_mse_or (shift=False)`` -> ``sigmoid-MSE + OR (shift=False)``."""
    text = str(name)
    loss, _, rest = text.partition(" ")
    return f"{LOSS_LABELS[loss]} {rest}".strip() if loss in LOSS_LABELS else text


def _ablation_colours() -> dict[str, Any]:
    """The Output Reset ablation: one hue per reset kind, dark for targets 1/0 and light for 0.9/0.1."""
    paired = sns.color_palette("Paired", 6)  # light blue, dark blue, light green, dark green, light red, dark red
    return {f"{kind}, targets {targets}": paired[2 * hue + dark]
            for hue, kind in enumerate(("no reset", "reset without shift", "reset with shift"))
            for targets, dark in (("1/0", 1), ("0.9/0.1", 0))}


def palette(levels: Sequence[Any]) -> dict[Any, Any]:
    """A colour per level: the headline losses and the Output Reset ablation's variants always get the same one;
    other levels take the rest in order."""
    fixed = {**dict(zip(ACCURACY_LOSSES, sns.color_palette("colorblind", 10))), **_ablation_colours()}
    others = [level for level in levels if level not in fixed]
    spare = sns.color_palette("colorblind", 10)[len(ACCURACY_LOSSES):] + sns.color_palette("dark", 10)
    return {**{level: fixed[level] for level in levels if level in fixed}, **dict(zip(others, spare))}


def figure(rows: int, cols: int, panel: tuple[float, float], extra_width: float = 0.0,
           **options: Any) -> tuple[Figure, np.ndarray]:
    """A white figure of ``rows x cols`` panels of ``panel`` inches (plus ``extra_width``) and its axes as a
    ``(rows, cols)`` array; ``options`` go to :func:`matplotlib.pyplot.subplots`. Made through pyplot (for the
    notebook's display hooks), then closed at once: shown only where displayed or glued, never piled up."""
    fig, axes = plt.subplots(rows, cols, figsize=(panel[0] * cols + extra_width, panel[1] * rows), squeeze=False,
                             layout="constrained", facecolor="white", **options)
    plt.close(fig)
    return fig, axes


def panel_grid(count: int, panel: tuple[float, float], extra_width: float = 0.0,
                **options: Any) -> tuple[Figure, np.ndarray]:
    """``count`` panels of about ``panel`` inches in as few rows as keep the figure within :data:`FIGURE_WIDTH`
    (a long row would be shrunk to the page, text and all; a panel gives up to a fifth of its width before a row
    is added). Empty slots are removed; the array holds the ``count`` panels in order."""
    rows = max(1, math.ceil((panel[0] * count + extra_width) / (1.25 * FIGURE_WIDTH)))
    columns = math.ceil(count / rows)
    rows = math.ceil(count / columns)
    width = min(panel[0], (FIGURE_WIDTH - extra_width) / columns)
    fig, axes = figure(rows, columns, (width, panel[1]), extra_width, **options)
    for ax in axes.flat[count:]:
        ax.remove()
    return fig, axes.flat[:count]


def _levels(frame: pd.DataFrame, column: str | None, order: Sequence[Any] | None) -> list[Any]:
    if column is None:
        return [None]
    present = list(pd.unique(frame[column]))
    return [level for level in order if level in present] if order is not None else sorted(present, key=str)


def _axis_label(name: str) -> str:
    return AXIS_LABELS.get(name, name.replace("_", " "))


def _legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend for the figure, below the panels, from the first panel that has labelled artists."""
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            columns = 2 if max(map(len, labels)) > 24 else 3  # long names (the ablation's) in two columns
            fig.legend(handles, labels, loc="outside lower center", ncols=min(columns, len(labels)), frameon=False)
            return


def curves_with_band(history: pd.DataFrame, x: str = "epoch", y: str = "test_acc", hue: str = "variant",
                     col: str | None = "dataset", *, band: str = "range", hue_order: Sequence[Any] | None = None,
                     col_order: Sequence[Any] | None = None, logy: bool = False) -> Figure:
    """Mean of ``y`` over seeds against ``x``, one line per ``hue`` level, one panel per ``col`` level; the band
    is the spread over seeds: ``"range"`` (min to max), ``"sd"`` (mean ± one sd) or ``"none"``."""
    check_choice("band", band, _BANDS)
    panels, lines = _levels(history, col, col_order), _levels(history, hue, hue_order)
    colours = palette(lines)
    fig, axes = panel_grid(len(panels), (4.2, 3.2))
    for ax, level in zip(axes, panels):
        part = history if col is None else history[history[col] == level]
        for line in lines:
            data = part[part[hue] == line] if hue is not None else part
            stats = data.groupby(x)[y].agg(["mean", "min", "max", "std"]).dropna(subset=["mean"])
            if stats.empty:
                continue
            ax.plot(stats.index, stats["mean"], marker="o", ms=3, color=colours.get(line), label=pretty(line))
            low, high = ((stats["min"], stats["max"]) if band == "range" else
                         (stats["mean"] - stats["std"], stats["mean"] + stats["std"]))
            if band != "none":
                ax.fill_between(stats.index, low, high, color=colours.get(line), alpha=0.2, lw=0)
        ax.set(xlabel=_axis_label(x), ylabel=_axis_label(y), title="" if level is None else str(level))
        if x == "epoch":  # whole epochs; each one marked when there are few
            epochs = sorted(part[x].dropna().unique())
            ax.set_xticks(epochs) if len(epochs) <= 10 else ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if logy:
            ax.set_yscale("log")
    _legend(fig, axes)
    return fig


def plateau_curves(history: pd.DataFrame, plateau: pd.DataFrame, *, loss: str = "softmax_ce") -> Figure:
    """``loss``'s validation accuracy per epoch, one panel per dataset of ``plateau`` (a
    :func:`~sigmse.report.convergence.validation_plateau` frame) with runs, the budget's last quarter shaded and
    its gain in the title. The y-axis spans the second half of the epochs, so that a slope of a tenth of a point
    is visible."""
    judged = plateau[(plateau["loss"] == loss) & (plateau["runs"] > 0)]
    if judged.empty:
        fig, axes = figure(1, 1, (4.2, 3.2))
        axes[0, 0].text(0.5, 0.5, f"no {pretty(loss)} runs yet", ha="center", va="center")
        axes[0, 0].set_axis_off()
        return fig
    runs = history[(history["loss"] == loss) & history["dataset"].isin(judged["dataset"])]
    fig = curves_with_band(runs, y="val_acc", hue="loss", col="dataset", col_order=list(judged["dataset"]))
    panels = {ax.get_title(): ax for ax in fig.axes}
    for _, row in judged.iterrows():
        ax = panels[row["dataset"]]
        ax.axvspan(row["from_epoch"], row["epochs"], color="grey", alpha=0.15, lw=0)
        late = runs[(runs["dataset"] == row["dataset"]) & (runs["epoch"] >= math.ceil(row["epochs"] / 2))]["val_acc"]
        low, high = late.min(), late.max()
        pad = 0.1 * (high - low) or 0.001  # a flat band still gets a visible axis
        ax.set_ylim(low - pad, high + pad)
        gain = ("none (under 4 epochs)" if np.isnan(row["gain"]) else
                f"{row['gain'] * 100:+.2f} pp".replace("-", "\u2212"))
        ax.set_title(f"{row['dataset']}\nlast quarter (shaded): {gain}")
    return fig


def point_ci(summary: pd.DataFrame, y: str = "variant", col: str | None = "dataset", *,
             runs: pd.DataFrame | None = None, value: str = "test_acc", order: Sequence[Any] | None = None,
             col_order: Sequence[Any] | None = None, panel: tuple[float, float] = (4.2, 2.8)) -> Figure:
    """Means with their 95% intervals (a :func:`~sigmse.report.analysis.summarize` frame), one row per ``y``
    level; ``runs`` adds each seed's ``value`` as a tick. A NaN interval (one seed) draws the mean alone."""
    panels, rows = _levels(summary, col, col_order), _levels(summary, y, order)
    colours = palette(rows)
    labels = [pretty(r) for r in rows]
    fig, axes = panel_grid(len(panels), (panel[0], max(panel[1], 0.45 * len(rows) + 1.0)), sharey=True,
                            extra_width=0.08 * max(map(len, labels), default=0))  # room for the loss names
    for ax, level in zip(axes, panels):
        part = summary if col is None else summary[summary[col] == level]
        for position, row_level in enumerate(rows):
            entry = part[part[y] == row_level]
            if entry.empty:
                continue
            entry = entry.iloc[0]
            low, high = entry["mean"] - entry["ci95_low"], entry["ci95_high"] - entry["mean"]
            error = None if np.isnan(low) else [[low], [high]]
            if runs is not None:
                seeds = runs[(runs[y] == row_level) & ((runs[col] == level) if col is not None else True)][value]
                ax.plot(seeds, np.full(len(seeds), position), "|", ms=14, mew=1.5, color=colours[row_level],
                        alpha=0.5)
            ax.errorbar([entry["mean"]], [position], xerr=error, fmt="o", ms=7, capsize=4, color=colours[row_level],
                        zorder=3)
        ax.set_yticks(range(len(rows)), labels)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set(xlabel=f"{_axis_label(value)} (mean, 95% CI)", title="" if level is None else str(level))
    return fig


def metric_vs_lr(frame: pd.DataFrame, y: str = "test_acc", hue: str = "variant", col: str | None = "dataset", *,
                 hue_order: Sequence[Any] | None = None, panel: tuple[float, float] = (5.0, 3.4)) -> Figure:
    """``y`` against the learning rate (log axis): seed mean as a line, each seed as a dot, a diverged run as an
    ``x`` at chance (0.1 of ten classes, dashed line) so it stays visible."""
    chance = 0.1
    panels, lines = _levels(frame, col, None), _levels(frame, hue, hue_order)
    colours = palette(lines)
    fig, axes = panel_grid(len(panels), panel, sharey=True)
    for ax, level in zip(axes, panels):
        part = frame if col is None else frame[frame[col] == level]
        for line in lines:
            data = part[part[hue] == line]
            mean = data.groupby("lr")[y].mean()
            ax.plot(mean.index, mean.values, marker="o", color=colours[line], label=pretty(line))
            ax.plot(data["lr"], data[y], ".", color=colours[line], alpha=0.5)
            failed = data[data[y].isna()]
            if len(failed):
                ax.plot(failed["lr"], np.full(len(failed), chance), "x", ms=8, mew=2, color=colours[line])
        ax.axhline(chance, ls="--", lw=1, color="grey", label="chance (x: diverged)")
        ax.set_xscale("log")
        ax.set(xlabel=_axis_label("lr"), ylabel=_axis_label(y), title="" if level is None else str(level))
    _legend(fig, axes)
    return fig


def heatmap(values: pd.DataFrame, annotations: pd.DataFrame | None = None, *, title: str = "",
            colorbar: str = "", cmap: str = "vlag", panel: tuple[float, float] = (1.6, 0.8)) -> Figure:
    """A table as coloured cells: ``values`` colour them, ``annotations`` (strings; default: the values) are
    written in them. ``panel[0]`` inches per column beside a margin for the colour bar and the row labels (wider
    for longer labels, so that a column of labels such as ``"fashion-mnist · symmetric 0.8"`` is not cut), at most
    1.5 x :data:`FIGURE_WIDTH` (shown at half size or more); narrower cells get a proportionally smaller font."""
    rows, cols = values.shape
    longest = max((len(str(label)) for label in values.index), default=0)
    margin = max(2.0, 0.85 + 0.085 * longest)  # inches: about 0.085 a character of a row label at the base font
    wanted = max(4.0, panel[0] * cols + margin)
    width = min(wanted, 1.5 * FIGURE_WIDTH)
    fig, axes = figure(1, 1, (width, max(2.5, panel[1] * rows + 1.2)))
    ax: Axes = axes[0, 0]
    annot = annotations.loc[values.index, values.columns].to_numpy() if annotations is not None else True
    data = values.astype(float)
    spread = float(np.nanmax(np.abs(data.to_numpy()))) if data.notna().any().any() else None
    limits = {"vmin": -spread, "vmax": spread} if spread else {}  # symmetric: 0 is the middle colour
    sns.heatmap(data, annot=annot, fmt="" if annotations is not None else ".3g", center=0.0, cmap=cmap, ax=ax,
                cbar_kws={"label": colorbar}, linewidths=0.5, linecolor="white", **limits,
                annot_kws={"fontsize": max(6.0, plt.rcParams["font.size"] * (width - margin) / (wanted - margin))})
    ax.set_xticklabels([pretty(t.get_text()) for t in ax.get_xticklabels()], rotation=20, ha="right")
    ax.set_yticklabels(ax.get_yticklabels(), rotation=0)
    # a title is centred on the cells: wrapped to their width and the colour bar's, so that it is not cut
    title = textwrap.fill(title, width=max(20, int((panel[0] * cols + 1.5) / 0.085)))
    ax.set(title=title, xlabel=values.columns.name or "", ylabel=values.index.name or "")
    return fig


def verdict_heatmap(comparison: pd.DataFrame, index: str = "dataset", columns: str = "loss", *, title: str = "",
                    index_order: Sequence[Any] | None = None, column_order: Sequence[Any] | None = None) -> Figure:
    """A :func:`sigmse.report.verdicts.holm_verdicts` frame as a grid: colour = mean difference to the baseline
    in percentage points, text = the difference, its verdict and the Holm-adjusted p-value behind it."""
    values = comparison.pivot(index=index, columns=columns, values="mean_diff") * 100.0
    text = comparison.assign(_text=[
        f"{row['mean_diff'] * 100.0:+.2f} pp\n{row['verdict']}" + (f"\np = {p:.2f}" if np.isfinite(p) else "")
        for _, row in comparison.iterrows() for p in [decisive_p(row)]])
    annotations = text.pivot(index=index, columns=columns, values="_text")
    rows = [r for r in (index_order or sorted(values.index)) if r in values.index]
    cols = [c for c in (column_order or sorted(values.columns)) if c in values.columns]
    baseline = comparison["baseline"].iloc[0] if len(comparison) else ""
    return heatmap(values.loc[rows, cols], annotations, title=title, cmap="RdBu",
                   colorbar=f"difference to {pretty(baseline)} (pp)", panel=(1.9, 0.9))
