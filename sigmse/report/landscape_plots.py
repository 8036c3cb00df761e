"""Figures and tables for the loss-surface chapter. Non-finite cells are drawn grey and counted, never dropped;
``surface[i, j]`` is the value at ``(z1[i], z2[j])``, drawn with ``z1`` horizontal."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, Normalize, SymLogNorm
from matplotlib.figure import Figure
from torch import Tensor

from sigmse.landscape.surfaces import LOSS_NAMES, NUM_CLASSES, LandscapeConfig, free_indices, target_index, true_margin
from sigmse.report.plots import figure, panel_grid, pretty

__all__ = ["TARGET_LABELS", "LOG_FLOOR", "SMOOTHNESS_COLUMNS", "heatmap_grid", "trajectory_figure", "margins",
           "refinement_figure", "refinement_slopes", "smoothness_frame", "descent_frame", "style_table",
           "curvature_figure", "curvature_table", "condition_by_pin", "checks_frame"]

TARGET_LABELS: Mapping[str, str] = {"fixed": "pinned class true", "free": "z1's class true"}
LOG_FLOOR = 1e-12  # log colour scales draw values below this (exact zeros included) at this value
NONFINITE_COLOUR = "#b0b0b0"  # grey for NaN / inf cells
CMAP = "viridis"
SIGNED_CMAP = "RdBu_r"  # diverging: negative blue, positive red, 0 white
SIGNED_LINTHRESH = 1e-6  # signed panels are linear within +-1e-6 of 0, logarithmic beyond
_DASHES = {"softmax_ce": "-", "softmax_mse": "--", "sigmoid_mse": "-.", "sigmoid_mse_or": ":", "logit_mse": "-"}


def _colours() -> dict[str, Any]:
    """A colour per loss; with :data:`_DASHES`, overlapping curves stay distinguishable."""
    return dict(zip(LOSS_NAMES, sns.color_palette("colorblind", len(LOSS_NAMES))))


def _as_numpy(t: Tensor | np.ndarray) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy() if isinstance(t, Tensor) else np.asarray(t, np.float64)


def _extent(axis: Tensor | np.ndarray) -> tuple[float, float, float, float]:
    a = _as_numpy(axis)
    half = (a[-1] - a[0]) / (len(a) - 1) / 2  # cells are centred on the grid points
    low, high = a[0] - half, a[-1] + half
    return low, high, low, high


def _norm(data: np.ndarray, log: bool, signed: bool) -> tuple[np.ndarray, Normalize]:
    """The values to draw (non-finite -> NaN, drawn grey) and a colour norm over the finite ones; ``signed``: a
    symmetric log norm up to at least 10 x :data:`SIGNED_LINTHRESH` (rounding-size values draw as 0)."""
    shown = np.where(np.isfinite(data), data, np.nan)
    if signed:
        finite = np.abs(shown[np.isfinite(shown)])
        top = max(float(finite.max()) if finite.size else 0.0, 10 * SIGNED_LINTHRESH)
        return shown, SymLogNorm(SIGNED_LINTHRESH, vmin=-top, vmax=top, base=10)
    if log:
        shown = np.maximum(shown, LOG_FLOOR)  # NaN stays NaN
    finite = shown[np.isfinite(shown)]
    low, high = (finite.min(), finite.max()) if finite.size else ((LOG_FLOOR, 1.0) if log else (0.0, 1.0))
    if high <= low:  # a constant surface: widen so the colour bar has a range
        low, high = (low / 10, high * 10) if log else (low - 0.5, high + 0.5)
    return shown, (LogNorm(low, high) if log else Normalize(low, high))


def _signed_ticks(norm: Normalize) -> list[float]:
    """0 and every other decade from :data:`SIGNED_LINTHRESH` up to the scale's limit, both signs."""
    decades = [10.0**k for k in range(round(math.log10(SIGNED_LINTHRESH)), math.floor(math.log10(norm.vmax)) + 1, 2)]
    return [-d for d in reversed(decades)] + [0.0] + decades


def _draw_surface(ax: Axes, surface: Tensor, axis: Tensor, *, log: bool = False, signed: bool = False,
                  title: str = "", colorbar: str | None = None) -> None:
    """One heatmap panel; ``signed``: a diverging map on a symmetric log scale, for values of both signs."""
    data = _as_numpy(surface).T  # imshow rows are the vertical axis: (z2, z1)
    shown, norm = _norm(data, log, signed)
    cmap = mpl.colormaps[SIGNED_CMAP if signed else CMAP].with_extremes(bad=NONFINITE_COLOUR)
    image = ax.imshow(np.ma.masked_invalid(shown), origin="lower", extent=_extent(axis), cmap=cmap, norm=norm,
                      aspect="equal", interpolation="nearest")  # one cell = one block: no smoothing hides a cliff
    ax.set(title=title, xlabel="$z_1$", ylabel="$z_2$")
    if title:
        ax.title.set_fontsize(10)
    bad = int((~np.isfinite(data)).sum())
    if bad:
        what = f"{bad} NaN/inf cells" if bad < data.size else "every cell NaN/inf"
        ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})
    if colorbar is not None:
        ax.figure.colorbar(image, ax=ax, label=colorbar, shrink=0.85, ticks=_signed_ticks(norm) if signed else None)


def heatmap_grid(panels: Sequence[Sequence[tuple[str, Tensor]]], axis: Tensor, *, log: bool = False,
                 colorbar: str = "loss", panel: tuple[float, float] = (4.0, 3.3)) -> Figure:
    """Heatmaps of ``(title, surface (G, G))`` panels over ``axis`` ``(G,)``, each with its colour bar (``log``:
    values below :data:`LOG_FLOOR` at the floor)."""
    if not panels or any(len(row) != len(panels[0]) or not row for row in panels):
        raise ValueError(f"panels must be equal, non-empty rows, got row lengths {[len(r) for r in panels]}")
    fig, flat = panel_grid(len(panels) * len(panels[0]), panel)  # rows wrap to the page's width
    for (title, surface), ax in zip((cell for row in panels for cell in row), flat):
        _draw_surface(ax, surface, axis, log=log, title=title, colorbar=f"{colorbar} (log scale)" if log else colorbar)
    return fig


def margins(path: Tensor, config: LandscapeConfig) -> Tensor:
    """The true logit minus the largest other along a descent path ``(K, 2)`` -> ``(K,)``; positive: correct."""
    logits = torch.full((path.shape[0], NUM_CLASSES), float(config.fixed_logit), dtype=path.dtype)  # (K, 3)
    logits[:, list(free_indices(config))] = path
    return true_margin(logits, target_index(config))


def _draw_path(ax: Axes, path: Tensor, axis: Tensor) -> None:
    xy = _as_numpy(path)
    low, high = _extent(axis)[:2]
    ax.plot(xy[:, 0], xy[:, 1], color="white", lw=1.6, marker=".", ms=3, mec="black", mew=0.3)
    ax.plot(*xy[0], "o", color="white", mec="black", ms=7, label="start")
    inside = np.all((xy >= low) & (xy <= high), axis=1)  # False for NaN (a diverged run)
    box = {"facecolor": "white", "alpha": 0.85, "edgecolor": "none"}
    if inside[-1]:
        ax.plot(*xy[-1], "X", color="tab:red", mec="white", ms=9, label="end")
    elif inside[0]:  # the path leaves the frame (cross-entropy heads for z < fixed_logit) or turns NaN
        k = int(np.argmin(inside))  # the first point outside
        ax.annotate(f"leaves the frame\nafter step {k - 1}", xy=xy[k - 1], xytext=(0.05, 0.08),
                    textcoords="axes fraction", fontsize=8, bbox=box,
                    arrowprops={"arrowstyle": "->", "color": "white"})
    else:
        ax.text(0.05, 0.08, "starts outside the frame", transform=ax.transAxes, fontsize=8, bbox=box)
    ax.set(xlim=(low, high), ylim=(low, high))


def trajectory_figure(rows: Sequence[tuple[str, LandscapeConfig, Sequence[tuple[str, Tensor, Mapping[str, Any]]]]],
                      axis: Tensor) -> Figure:
    """Descent paths over their loss surfaces, ``rows`` of ``(title, config, [(loss, surface, run), ...])``, and
    per row a panel of margins against the step (symlog), which follows a path that leaves the frame."""
    n = len(rows[0][2])
    fig, flat = panel_grid(len(rows) * (n + 1), (3.4, 3.3))  # each landscape's n + 1 panels in order, wrapped
    colours = _colours()
    for index, (row_title, config, runs) in enumerate(rows):
        row_axes = flat[index * (n + 1):(index + 1) * (n + 1)]
        for (loss, surface, run), ax in zip(runs, row_axes[:n]):
            step = run["first_correct_step"]
            recovery = f"correct at step {step}" if step is not None else f"not correct in {len(run['loss']) - 1} steps"
            _draw_surface(ax, surface, axis, title=f"{pretty(loss)}\n{recovery}")
            _draw_path(ax, run["path"], axis)
        ax = row_axes[n]
        for loss, _, run in runs:
            ax.plot(_as_numpy(margins(run["path"], config)), lw=2, label=pretty(loss), color=colours.get(loss),
                    ls=_DASHES.get(loss))
        ax.axhline(0, color="black", lw=0.8, ls="--")
        ax.set_yscale("symlog", linthresh=1.0)
        low, high = ax.get_ylim()  # pad, so that curves along the limits stay visible
        ax.set_ylim(2 * low if low < -1 else low - 1, 2 * high if high > 1 else high + 1)
        ax.set(title=f"{row_title}: margin", xlabel="step", ylabel="true logit − largest other")
        ax.legend(fontsize=8, loc="best")
        row_axes[0].set_ylabel(f"{row_title}\n$z_2$")
    return fig


def descent_frame(runs: Sequence[tuple[str, str, Mapping[str, Any]]]) -> pd.DataFrame:
    """One row per ``(target, loss, run)``: first correct step, start and end gradient norm."""
    return pd.DataFrame([{
        "target": target, "loss": pretty(loss),
        "first correct step": run["first_correct_step"],  # None: never (an Int64 column keeps the integers)
        "correct at the end": run["final_correct"],
        "start ‖∇‖": float(run["grad_norm"][0]), "end ‖∇‖": float(run["grad_norm"][-1]),
        "end z1": float(run["path"][-1, 0]), "end z2": float(run["path"][-1, 1]),
    } for target, loss, run in runs]).astype({"first correct step": "Int64"}).set_index(["target", "loss"])


def refinement_slopes(rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Least-squares slope of ``log(jump)`` against ``log(grid_size)`` per target and loss, for the surface and its
    gradient norm: -1 for a continuous surface, 0 for a cliff of fixed height."""
    df = pd.DataFrame(rows)
    sizes = sorted(int(g) for g in df["grid_size"].unique())
    if len(sizes) < 2:
        raise ValueError(f"grid refinement needs at least 2 grid sizes, got {sizes}")
    out = []
    for (target, loss), group in df.groupby(["target", "loss"], sort=False):
        group = group.sort_values("grid_size")
        entry: dict[str, Any] = {"target": target, "loss": loss}
        for key, name in (("max_rel_jump", "slope"), ("grad_max_rel_jump", "grad_slope")):
            jumps = group[key].astype(float).to_numpy()
            entry.update({f"{key} @ {g}": j for g, j in zip(group["grid_size"], jumps)})
            ok = np.isfinite(jumps) & (jumps > 0)
            entry[name] = (np.polyfit(np.log(group["grid_size"].to_numpy(float)[ok]), np.log(jumps[ok]), 1)[0]
                           if ok.sum() >= 2 else math.nan)
        out.append(entry)
    return pd.DataFrame(out).set_index(["target", "loss"])


def refinement_figure(rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> Figure:
    """Largest relative neighbour jump against grid size (log-log), surface and gradient norm, beside a straight
    ramp's ``1 / (G - 1)``. The rows must be of one formula and dtype."""
    df = pd.DataFrame(rows)
    for column in ("formula", "dtype"):
        if column in df and df[column].nunique() > 1:
            raise ValueError(f"refinement_figure takes rows of one {column}; got {sorted(df[column].unique())}")
    fig, axes = figure(1, 2, (4.6, 3.6))
    colours = _colours()
    sizes = np.array(sorted(df["grid_size"].unique()), dtype=float)
    for ax, key, title in zip(axes[0], ("max_rel_jump", "grad_max_rel_jump"), ("loss surface", "gradient norm")):
        for (target, loss), group in df.groupby(["target", "loss"], sort=False):
            group = group.sort_values("grid_size")
            ax.plot(group["grid_size"], group[key].astype(float), marker="o", color=colours.get(loss),
                    ls="-" if target == "fixed" else "--", label=f"{pretty(loss)} ({target})")
        ax.plot(sizes, 1 / (sizes - 1), color="grey", ls=":", lw=2, label="1 / (G − 1): a straight ramp")
        ax.set(xscale="log", yscale="log", xlabel="grid size G (cells per axis)",
               ylabel="largest neighbour jump / range", title=title)
        ax.set_xticks(sizes, [f"{int(s)}" for s in sizes])
        ax.minorticks_off()
    axes[0, 1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig


SMOOTHNESS_COLUMNS: Mapping[str, str] = {
    "max_rel_jump": "max jump / range", "grad_max_rel_jump": "‖∇‖ max jump / range", "surface_nan": "loss NaN",
    "surface_inf": "loss inf", "grad_nan": "‖∇‖ NaN", "grad_inf": "‖∇‖ inf",
    "vanishing_share_of_wrong": "vanishing share (wrong cells)", "exploding_share": "exploding share",
    "fixed_grad_abs_max": "max |∂/∂ pinned|", "fixed_grad_nonfinite": "pinned ∂ NaN/inf"}


def smoothness_frame(rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """``smoothness_table`` rows indexed by target, loss, formula, dtype, with readable column names."""
    df = pd.DataFrame(rows)
    df = df.assign(loss=df["loss"].map(pretty)).set_index(["target", "loss", "formula", "dtype"])
    return df[list(SMOOTHNESS_COLUMNS)].astype(float).rename(columns=SMOOTHNESS_COLUMNS)


_READABLE = (("grad_max_rel_jump", "‖∇‖ jump / range"), ("max_rel_jump", "jump / range"),
             ("grad_slope", "‖∇‖ slope"), ("slope", "slope"), ("nonfinite", "NaN or inf"),
             ("fixed_logit", "pinned logit"), ("grid_size", "grid size"))


def _readable(text: str) -> str:
    """Raw metric names in table labels, in words (``max_rel_jump @ 100`` -> ``jump / range @ 100``)."""
    for raw, words in _READABLE:
        if text == raw or text.startswith(raw + " "):
            return words + text[len(raw):]
    return text


def style_table(df: pd.DataFrame, *, caption: str | None = None) -> Any:
    """A Styler: floats to 3 significant digits, integers, yes/no, "—" for missing, labels in words, HTML-escaped."""
    def fmt(value: Any) -> str:
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "no"
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return "—"
        if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()
                                                     and abs(value) < 1e6):
            return f"{int(value)}"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    styler = (df.style.format(fmt, escape="html")  # labels like "< 1e-06" stay text, not HTML
              .format_index(lambda v: _readable(fmt(v)), axis=0, escape="html")
              .format_index(lambda v: _readable(fmt(v)), axis=1, escape="html"))
    return styler.set_caption(caption) if caption else styler


def _grid_values(rows: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """One loss and target's ``curvature_frame`` rows as a ``(G, G)`` array ``[i, j]`` at ``(z1[i], z2[j])``."""
    rows = rows.sort_values(["z1", "z2"])
    axis = np.unique(rows["z1"].to_numpy())
    g = len(axis)
    if len(rows) != g * g:
        raise ValueError(f"expected a full {g} x {g} grid of rows, got {len(rows)} rows")
    return rows[column].to_numpy(float).reshape(g, g), axis


def curvature_figure(curvature: pd.DataFrame) -> Figure:
    """The condition number (log scale) and smallest eigenvalue (signed) over the grid, per target and loss, from
    ``curvature_frame`` rows of one pinned value."""
    if curvature["fixed_logit"].nunique() != 1:
        raise ValueError(f"one pinned value per figure, got {sorted(curvature['fixed_logit'].unique().tolist())}")
    losses, targets = list(curvature["loss"].unique()), list(curvature["target"].unique())
    panels = (("condition", False, "κ"), ("lambda_min", True, "smallest λ"))
    fig, flat = panel_grid(2 * len(targets) * len(losses), (3.3, 2.7))  # wrapped to the page's width, in this order
    slots = iter(flat)
    for target in targets:
        for column, signed, what in panels:
            for loss in losses:
                rows = curvature[(curvature["loss"] == loss) & (curvature["target"] == target)]
                values, axis = _grid_values(rows, column)
                title = f"{pretty(loss)}\n{what}, {TARGET_LABELS.get(target, target)}"
                _draw_surface(next(slots), values, axis, log=not signed, signed=signed, title=title, colorbar=what)
    return fig


def curvature_table(curvature: pd.DataFrame) -> pd.DataFrame:
    """Per target and loss: median and largest ``kappa``, smallest eigenvalue, share with a negative one."""
    grouped = curvature.assign(loss=curvature["loss"].map(pretty)).groupby(["target", "loss"], sort=False)
    return pd.DataFrame({
        "median κ": grouped["condition"].median(), "max κ": grouped["condition"].max(),
        "smallest λ": grouped["lambda_min"].min(), "share λ < 0": grouped["negative"].mean(),
    })


def condition_by_pin(curvature: pd.DataFrame) -> pd.DataFrame:
    """Median ``kappa`` per target and loss (rows) and pinned value (columns, from mild to extreme)."""
    table = curvature.assign(loss=curvature["loss"].map(pretty)).pivot_table(
        index=["target", "loss"], columns="fixed_logit", values="condition", aggfunc="median", sort=False)
    return table[sorted(table.columns, reverse=True)].rename_axis(columns="pinned logit")


def checks_frame(verdict: Any) -> pd.DataFrame:
    """A :class:`sigmse.report.landscape_verdict.LandscapeVerdict`'s decision table, one row per check."""
    return pd.DataFrame([{"part of the claim": c.part, "measured (MSE losses, stable)": c.measured,
                          "value": c.value, "true if": c.rule, "true": c.holds}
                         for c in verdict.checks()]).set_index("part of the claim")
