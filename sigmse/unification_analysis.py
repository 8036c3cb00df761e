"""The unification chapter's numbers: a table over seeds, a figure, verdicts in words, plain values for the prose.

:func:`unification_table` summarises the stored records of :mod:`sigmse.unification` per method (mean and std over
seeds of test accuracy, the angle's RMSE and R², seconds per epoch); :func:`unification_figure` draws accuracy
against RMSE; :func:`unification_verdict` and :func:`unification_versus_single` compare two methods on both tasks
in one sentence with the numbers they rest on, counting a difference only beyond :data:`VERDICT_SIGMAS` seed stds
and :data:`VERDICT_FLOORS`; :func:`unification_numbers`, :func:`unification_display` and
:func:`unification_provenance` give the page its glued values, its printed table and its provenance line.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Mapping, Sequence

from sigmse.unification_config import METHODS

__all__ = [
    "METHOD_LABELS",
    "VERDICT_SIGMAS",
    "VERDICT_FLOORS",
    "unification_table",
    "unification_figure",
    "unification_verdict",
    "unification_versus_single",
    "unification_numbers",
    "unification_display",
    "unification_provenance",
]

METHOD_LABELS = {
    "unified_mse": "unified sigmoid-MSE",
    "unified_mse_or": "unified sigmoid-MSE + OR",
    "separate_heads": "separate heads (CE + MSE)",
    "classifier_only": "classifier only (CE)",
    "regressor_only": "regressor only (MSE)",
}
VERDICT_SIGMAS = 2.0  # a difference counts when it exceeds this many (larger) seed stds ...
VERDICT_FLOORS = {"acc": 0.001, "rmse": 0.1}  # ... and at least 0.1 accuracy points or 0.1 degree
_WORDS = {"level": "level with", "better": "better than", "worse": "worse than"}


def unification_table(records: Sequence[Mapping[str, Any]], target: str = "angle") -> Any:
    """Mean and std over seeds per method (a ``pandas.DataFrame`` indexed by method, in ``METHODS`` order).

    Columns: ``runs``, ``acc_mean``/``acc_std`` (test accuracy), ``rmse_mean``/``rmse_std`` (test RMSE of
    ``target``, degrees for the angle), ``r2_mean``/``r2_std`` and ``seconds_mean``/``seconds_std`` (training
    seconds per epoch, the median over a run's epochs: robust to a burst of load on a shared machine); NaN where
    a method has no such output. Only ``ok`` records count.
    """
    import pandas as pd

    rows = [{"method": r["config"]["method"], "acc": r["metrics"].get("test_acc", math.nan),
             "rmse": r["metrics"].get(f"test_rmse_{target}", math.nan),
             "r2": r["metrics"].get(f"test_r2_{target}", math.nan),
             "seconds": statistics.median(h["seconds"] for h in r["history"])}
            for r in records if r["status"] == "ok"]
    frame = pd.DataFrame(rows, columns=["method", "acc", "rmse", "r2", "seconds"])
    grouped = frame.groupby("method")
    table = grouped.agg(["mean", "std"])
    table.columns = [f"{name}_{stat}" for name, stat in table.columns]
    table.insert(0, "runs", grouped.size())
    return table.reindex([m for m in METHODS if m in table.index])


def unification_figure(table: Any, *, unit: str = "°") -> Any:
    """Test accuracy (x) against regression RMSE (y) per method, error bars one std over seeds.

    The single-task references have one metric each, so they are lines: a vertical one at the classifier's
    accuracy and a horizontal one at the regressor's RMSE, each with a band of one std.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), facecolor="white")
    markers = {"unified_mse": "o", "unified_mse_or": "s", "separate_heads": "D"}
    for method, marker in markers.items():
        if method in table.index:
            row = table.loc[method]
            ax.errorbar(100 * row.acc_mean, row.rmse_mean, xerr=100 * _zero(row.acc_std), yerr=_zero(row.rmse_std),
                        fmt=marker, capsize=4, markersize=8, label=METHOD_LABELS[method])
    for method, draw, span, column in (("classifier_only", ax.axvline, ax.axvspan, "acc"),
                                       ("regressor_only", ax.axhline, ax.axhspan, "rmse")):
        if method in table.index:
            scale = 100 if column == "acc" else 1
            mean, std = scale * table.loc[method, f"{column}_mean"], scale * _zero(table.loc[method, f"{column}_std"])
            draw(mean, color="grey", linestyle="--" if column == "acc" else ":", label=METHOD_LABELS[method])
            span(mean - std, mean + std, color="grey", alpha=0.15, linewidth=0)
    ax.set_xlabel("test accuracy (%)  →  better")
    ax.set_ylabel(f"test RMSE of the angle ({unit})  ↓  better")
    ax.legend(fontsize="small", loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _zero(value: float) -> float:
    """A std that is NaN (one seed) drawn as 0."""
    return 0.0 if value != value else float(value)


def _compare(a_mean: float, a_std: float, b_mean: float, b_std: float, higher_better: bool, floor: float) -> str:
    """``better``, ``worse`` or ``level``: a difference counts beyond ``VERDICT_SIGMAS`` larger stds and ``floor``."""
    margin = max(VERDICT_SIGMAS * max(_zero(a_std), _zero(b_std)), floor)
    diff = (a_mean - b_mean) if higher_better else (b_mean - a_mean)
    return "better" if diff > margin else "worse" if diff < -margin else "level"


def unification_verdict(table: Any, method: str = "unified_mse_or", reference: str = "separate_heads") -> str:
    """A sentence comparing ``method`` with ``reference`` on both tasks, with the numbers it rests on.

    On each task a difference counts when it exceeds ``VERDICT_SIGMAS`` times the larger seed std and
    ``VERDICT_FLOORS``.
    """
    missing = [m for m in (method, reference) if m not in table.index]
    if missing:
        return f"no verdict: {METHOD_LABELS[missing[0]]} has no finished run"
    a, b = table.loc[method], table.loc[reference]
    acc = _compare(a.acc_mean, a.acc_std, b.acc_mean, b.acc_std, True, VERDICT_FLOORS["acc"])
    rmse = _compare(a.rmse_mean, a.rmse_std, b.rmse_mean, b.rmse_std, False, VERDICT_FLOORS["rmse"])
    words = _WORDS
    if acc == rmse == "level":
        lead = f"one MSE objective ({METHOD_LABELS[method]}) does both tasks as well as {METHOD_LABELS[reference]}"
    elif acc == rmse:
        lead = f"{METHOD_LABELS[method]} is {words[acc]} {METHOD_LABELS[reference]} on both tasks"
    else:
        lead = (f"{METHOD_LABELS[method]} is {words[acc]} {METHOD_LABELS[reference]} on accuracy and "
                f"{words[rmse]} it on the angle")
    return (f"{lead}: {100 * a.acc_mean:.1f} % vs {100 * b.acc_mean:.1f} % accuracy, "
            f"{a.rmse_mean:.1f}° vs {b.rmse_mean:.1f}° RMSE")


def unification_versus_single(table: Any, method: str = "unified_mse_or") -> str:
    """A sentence comparing ``method`` with the classifier and the regressor trained alone, by the same rule."""
    missing = [m for m in (method, "classifier_only", "regressor_only") if m not in table.index]
    if missing:
        return f"no comparison: {METHOD_LABELS[missing[0]]} has no finished run"
    a, c, r = table.loc[method], table.loc["classifier_only"], table.loc["regressor_only"]
    acc = _compare(a.acc_mean, a.acc_std, c.acc_mean, c.acc_std, True, VERDICT_FLOORS["acc"])
    rmse = _compare(a.rmse_mean, a.rmse_std, r.rmse_mean, r.rmse_std, False, VERDICT_FLOORS["rmse"])
    return (f"{METHOD_LABELS[method]} is {_WORDS[acc]} the classifier alone on accuracy "
            f"({100 * a.acc_mean:.1f} % vs {100 * c.acc_mean:.1f} %) and {_WORDS[rmse]} the regressor alone on the "
            f"angle ({a.rmse_mean:.1f}° vs {r.rmse_mean:.1f}°)")


def unification_numbers(table: Any) -> dict[str, float]:
    """Plain floats for the page's prose: ``<method>_<acc|rmse|r2|seconds>`` and ``..._std`` (accuracy in %).

    A std over one seed (NaN) is given as 0; a metric a method does not have is NaN.
    """
    numbers = {}
    for method, row in table.iterrows():
        for name, scale in (("acc", 100.0), ("rmse", 1.0), ("r2", 1.0), ("seconds", 1.0)):
            numbers[f"{method}_{name}"] = scale * float(row[f"{name}_mean"])
            numbers[f"{method}_{name}_std"] = scale * _zero(float(row[f"{name}_std"]))
    return numbers


def unification_display(table: Any) -> Any:
    """``table`` as text for the page: one row per method, "mean ± std" cells, "—" where a method has none."""
    import pandas as pd

    def cell(mean: float, std: float, scale: float, digits: int) -> str:
        if mean != mean:
            return "—"
        return f"{scale * mean:.{digits}f}" + ("" if std != std else f" ± {scale * std:.{digits}f}")

    columns = {"test accuracy (%)": ("acc", 100, 2), "angle RMSE (°)": ("rmse", 1, 2), "angle R²": ("r2", 1, 3),
               "seconds per epoch": ("seconds", 1, 2)}
    shown = pd.DataFrame({name: [cell(r[f"{key}_mean"], r[f"{key}_std"], scale, digits) for _, r in table.iterrows()]
                          for name, (key, scale, digits) in columns.items()},
                         index=[METHOD_LABELS[m] for m in table.index])
    shown.insert(0, "runs", list(table.runs))
    return shown


def unification_provenance(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """One line: where and from which commit the records were made, and under which profile."""
    info = [r["provenance"] for r in records]
    machines = sorted({i["device_name"] for i in info})
    commits = sorted({(i["git_commit"] or "unknown")[:12] + (" (modified)" if i["git_dirty"] else "") for i in info})
    return (f"{len(records)} runs under profile {profile} on {'; '.join(machines)}, sigmse commit "
            f"{', '.join(commits)}, torch {', '.join(sorted({i['torch_version'] for i in info}))}")
