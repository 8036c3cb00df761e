"""The unification chapter (``notebooks/unification.ipynb``): :class:`UnificationChapter`, one method per figure or
table. Selection records feed only the learning-rate table. The claim is non-inferiority (:data:`CLAIM`): one MSE
objective could serve both tasks, within margins fixed in code.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping, Sequence

import pandas as pd

from sigmse.report import verdicts
from sigmse.report.analysis import Part
from sigmse.report.chapters import Records, grid_edge_text, grid_edges
from sigmse.report.plots import figure
from sigmse.runs import protocol
from sigmse.runs.profiles import unification_lr_grid
from sigmse.unification.config import METHODS, UnificationConfig, unification_config_from_dict, validation_score

__all__ = ["chosen_rates_by_method", "METHOD_LABELS", "SHORT_LABELS", "CLAIM", "ALPHA", "ANGLE_RMSE_MARGIN",
           "COMPARISONS", "unification_frame", "selection_display", "unification_table", "unification_display",
           "unification_figure", "unification_tests", "verdict_display", "unification_verdict",
           "unification_versus_single", "unification_numbers", "unification_provenance", "UnificationChapter"]

METHOD_LABELS = {"unified_mse": "unified sigmoid-MSE", "unified_mse_or": "unified sigmoid-MSE + OR",
                 "separate_heads": "separate heads (CE + MSE)", "classifier_only": "classifier only (CE)",
                 "regressor_only": "regressor only (MSE)"}
SHORT_LABELS = {"unified_mse": "unified", "unified_mse_or": "unified + OR", "separate_heads": "separate heads",
                "classifier_only": "classifier alone", "regressor_only": "regressor alone"}

CLAIM = "noninferiority"  # "one objective could serve both tasks": at least as well as the usual recipe
ALPHA = 0.05  # family-wise level of the Holm-adjusted tests
# Margin on the angle's test RMSE, in degrees, fixed before any run: 1 degree moves a stroke 10 px from a digit's
# centre by 0.17 px, under the resampling's one-pixel blur, and is under 4% of predicting 0 (45/sqrt(3) degrees).
ANGLE_RMSE_MARGIN = 1.0
# The chapter's family: each unified objective against the two-head network on both tasks, and against each
# single-task network on its task. (candidate, baseline, metric)
COMPARISONS: tuple[tuple[str, str, str], ...] = tuple(
    (method, baseline, metric)
    for method in ("unified_mse_or", "unified_mse")
    for baseline, metric in (("separate_heads", "test_acc"), ("separate_heads", "test_rmse_angle"),
                             ("classifier_only", "test_acc"), ("regressor_only", "test_rmse_angle")))
_MEASURES = {"test_acc": ("accuracy", 100.0, "pp"), "test_rmse_angle": ("angle RMSE", 1.0, "°")}


def chosen_rates_by_method(selection: Sequence[UnificationConfig],
                           records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per method, the rate with the best mean selection-seed validation score (ties: the smaller)."""
    by_group = protocol.chosen_learning_rates(selection, records, score=validation_score)
    methods = {protocol.lr_group(config): config.method for config in selection}
    return {methods[group]: lr for group, lr in by_group.items()}


def unification_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run: config, test metrics (NaN: none or diverged) and ``seconds``, the median epoch (robust
    to a burst of load on a shared machine)."""
    configs, metrics = ("dataset", "method", "lr", "seed"), ("test_acc", "test_rmse_angle", "test_r2_angle")
    rows = [{**{key: r["config"][key] for key in configs}, "status": r["status"],
             **{key: r["metrics"].get(key, math.nan) for key in metrics},
             "seconds": statistics.median(h["seconds"] for h in r["history"])} for r in records]
    return pd.DataFrame(rows, columns=[*configs, "status", *metrics, "seconds"])


def selection_display(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per method, the mean selection-seed validation score at each rate, and the rate chosen."""
    configs = [unification_config_from_dict(r["config"]) for r in records]
    scores = pd.DataFrame({"method": [c.method for c in configs], "lr": [c.lr for c in configs],
                           "score": [validation_score(c, r) for c, r in zip(configs, records)]})
    table = scores.pivot_table(index="method", columns="lr", values="score", aggfunc="mean")
    table = table.reindex([m for m in METHODS if m in table.index])
    shown = table.map(lambda value: f"{value:.3f}")
    shown.columns = [f"{lr:g}" for lr in table.columns]
    chosen = chosen_rates_by_method(configs, records)
    shown["chosen"] = [f"{chosen[m]:g}" for m in table.index]
    shown.index = [SHORT_LABELS[m] for m in table.index]
    return shown


def unification_table(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Per method, ``runs``, ``lr`` and mean/std over seeds of accuracy, angle RMSE, R² and seconds per epoch
    (``ok`` runs only)."""
    frame = unification_frame(records)
    grouped = frame[frame.status == "ok"].rename(columns={"test_acc": "acc", "test_rmse_angle": "rmse",
                                                          "test_r2_angle": "r2"}).groupby("method")
    table = grouped[["acc", "rmse", "r2", "seconds"]].agg(["mean", "std"])
    table.columns = [f"{name}_{stat}" for name, stat in table.columns]
    table.insert(0, "lr", grouped["lr"].first())
    table.insert(0, "runs", grouped.size())
    return table.reindex([m for m in METHODS if m in table.index])


def unification_display(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` as text for the page: one row per method, "mean ± std" cells, "—" where a method has none."""
    def cell(mean: float, std: float, scale: float, digits: int) -> str:
        if mean != mean:
            return "—"
        return f"{scale * mean:.{digits}f}" + ("" if std != std else f" ± {scale * std:.{digits}f}")

    columns = {"accuracy (%)": ("acc", 100, 2), "angle RMSE (°)": ("rmse", 1, 2), "s / epoch": ("seconds", 1, 2)}
    shown = pd.DataFrame({name: [cell(r[f"{key}_mean"], r[f"{key}_std"], scale, digits) for _, r in table.iterrows()]
                          for name, (key, scale, digits) in columns.items()},
                         index=[SHORT_LABELS[m] for m in table.index])
    shown.insert(0, "runs", list(table.runs))
    shown.insert(0, "lr", [f"{lr:g}" for lr in table.lr])
    return shown


def unification_figure(table: pd.DataFrame, *, unit: str = "°") -> Any:
    """Test accuracy against angle RMSE per method (error bars: one std); the single-task references as lines."""
    fig, axes = figure(1, 1, (6.4, 4.4))
    ax = axes[0, 0]
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
    ax.set(xlabel="test accuracy (%)  →  better", ylabel=f"test RMSE of the angle ({unit})  ↓  better")
    ax.legend(fontsize="small", loc="best")
    ax.grid(alpha=0.3)
    return fig


def _zero(value: float) -> float:
    """A std that is NaN (one seed) drawn as 0."""
    return 0.0 if value != value else float(value)


def unification_tests(records: Sequence[Mapping[str, Any]], alpha: float = ALPHA) -> pd.DataFrame:
    """Every comparison of :data:`COMPARISONS`, paired on the seed and Holm-adjusted together; diverged runs'
    pairs are left out and counted in ``note``."""
    frame = unification_frame(records)
    if frame.duplicated(["dataset", "method", "seed"]).any():
        raise ValueError("more than one run per method and seed: pass the reporting records only (one learning "
                         "rate per method)")
    parts = [verdicts.paired_tests(frame, metric, claim=CLAIM, baseline=baseline, column="method", levels=[method],
                                   margins=verdicts.ACCURACY_MARGINS if metric == "test_acc" else ANGLE_RMSE_MARGIN,
                                   higher_is_better=metric == "test_acc").assign(metric=metric)
             for method, baseline, metric in COMPARISONS]
    return verdicts.holm_verdicts(pd.concat(parts, ignore_index=True), alpha=alpha)


def _text(tests: pd.DataFrame, method: str, baseline: str, metric: str) -> str:
    """:func:`sigmse.report.verdicts.verdict_text` of one comparison (None where not run) on the metric's scale
    (degrees written without a space)."""
    found = tests[(tests.method == method) & (tests.baseline == baseline) & (tests.metric == metric)]
    _, scale, unit = _MEASURES[metric]
    return verdicts.verdict_text(None if found.empty else found.iloc[0], scale=scale, unit=unit).replace(" °", "°")


def unification_verdict(tests: pd.DataFrame, method: str = "unified_mse_or", baseline: str = "separate_heads") -> str:
    """One line: ``method`` against ``baseline`` on accuracy and on the angle, verdicts with effects."""
    return (f"accuracy {_text(tests, method, baseline, 'test_acc')}; "
            f"angle RMSE {_text(tests, method, baseline, 'test_rmse_angle')}")


def unification_versus_single(tests: pd.DataFrame, method: str = "unified_mse_or") -> str:
    """One line: ``method`` against the classifier alone on accuracy and the regressor alone on the angle."""
    return (f"accuracy against the classifier alone {_text(tests, method, 'classifier_only', 'test_acc')}; angle "
            f"RMSE against the regressor alone {_text(tests, method, 'regressor_only', 'test_rmse_angle')}")


def verdict_display(tests: pd.DataFrame) -> pd.DataFrame:
    """The family as text: difference [95% CI], decisive Holm p-value, verdict (and ``note`` where needed)."""
    rows = []
    for _, row in tests.iterrows():
        measure, scale, unit = _MEASURES[row["metric"]]
        difference = "—" if row["n_pairs"] == 0 else f"{row['mean_diff'] * scale:+.2f}"
        if row["n_pairs"] >= 2:
            difference += f" [{row['ci95_low'] * scale:+.2f}, {row['ci95_high'] * scale:+.2f}]"
        rows.append({"comparison": f"{SHORT_LABELS[row['method']]} vs {SHORT_LABELS[row['baseline']]}",
                     "measure": f"{measure} ({unit})", "difference [95% CI]": difference.replace("-", "\u2212"),
                     "p (Holm)": f"{p:.3g}" if math.isfinite(p := verdicts.decisive_p(row)) else "—",
                     "verdict": verdicts.verdict_label(row, scale, unit).replace(" °", "°"), "note": row["note"]})
    shown = pd.DataFrame(rows).set_index("comparison")
    return shown if shown["note"].astype(bool).any() else shown.drop(columns="note")


def unification_numbers(table: pd.DataFrame) -> dict[str, float]:
    """Floats for the prose: ``<method>_<acc|rmse|r2|seconds>[_std]`` (accuracy in %, one seed's std 0), ``_lr``."""
    numbers = {}
    for method, row in table.iterrows():
        numbers[f"{method}_lr"] = float(row["lr"])
        for name, scale in (("acc", 100.0), ("rmse", 1.0), ("r2", 1.0), ("seconds", 1.0)):
            numbers[f"{method}_{name}"] = scale * float(row[f"{name}_mean"])
            numbers[f"{method}_{name}_std"] = scale * _zero(float(row[f"{name}_std"]))
    return numbers


def unification_provenance(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """One line: where and from which commit the records were made, and under which profile."""
    info = [r["provenance"] for r in records]
    machines = sorted({i["device_name"] for i in info})
    commits = sorted({(i["git_commit"] or "unknown")[:12] + (" (modified)" if i["git_dirty"] else "") for i in info})
    return (f"{len(records)} runs under profile {profile} on {'; '.join(machines)}, sigmse commit "
            f"{', '.join(commits)}, torch {', '.join(sorted({i['torch_version'] for i in info}))}")


def _seeds(records: Records) -> str:
    return ", ".join(map(str, sorted({record["config"]["seed"] for record in records})))


@dataclass(frozen=True)
class UnificationChapter:
    """This build's unification records (``selection`` chose the rates, ``report`` feeds the rest) and profile."""

    selection: Records
    report: Records
    profile: str

    @cached_property
    def table(self) -> pd.DataFrame:
        return unification_table(self.report)

    @cached_property
    def tests(self) -> pd.DataFrame:
        return unification_tests(self.report)

    def protocol(self) -> Part:
        """What the runs were, read from their records; ``text``: the provenance line."""
        first, metrics = self.report[0]["config"], self.report[0]["metrics"]
        runs = [*self.selection, *self.report]
        note = ("With the smoke profile these numbers are meaningless: the runs only check that the chapter runs "
                "end to end." if self.profile == "smoke" else "")
        provenance = unification_provenance(runs, self.profile)
        values = {"n_selection_runs": len(self.selection), "n_report_runs": len(self.report),
                  "selection_seeds_text": _seeds(self.selection), "report_seeds_text": _seeds(self.report),
                  "n_report_seeds": len({record["config"]["seed"] for record in self.report}),
                  "threads_text": ", ".join(map(str, sorted({r["provenance"]["torch_threads"] for r in runs}))),
                  "lr_grid_text": ", ".join(f"{lr:g}" for lr in unification_lr_grid(self.profile)),
                  "epochs": first["epochs"], "batch_size": first["batch_size"], "max_angle": first["max_angle"],
                  "val_size": first["val_size"], "n_train": metrics["n_train"], "n_test": metrics["n_test"],
                  "zero_rmse": first["max_angle"] / math.sqrt(3),  # RMSE of always predicting 0°
                  "provenance": provenance, "profile_note": note}
        return Part(values, text="\n".join(line for line in (provenance, note) if line))

    def learning_rates(self) -> Part:
        """The learning-rate choice (:func:`selection_display`), and the methods whose chosen rate is the smallest
        or largest they tried or that the grid-edge rule extended (``unification_edge_rule``)."""
        chose = unification_frame(self.selection)
        edges = grid_edges(unification_frame(self.report), chose, group=("method",))
        text = grid_edge_text(edges, chose["method"].nunique(), "methods")
        return Part({"unification_edge_rule": text}, (selection_display(self.selection).style.set_caption(
            f"Mean validation score over selection seeds {_seeds(self.selection)} per learning rate (columns), and "
            "the rate chosen"), edges))

    def results_table(self) -> Part:
        """The test metrics per method at its chosen rate (:func:`unification_display`)."""
        return Part({}, (unification_display(self.table).style.set_caption(
            f"Test metrics per method at its chosen learning rate, mean ± std over reporting seeds "
            f"{_seeds(self.report)} (no ± with one seed); —: the method has no such output"),))

    def results_figure(self) -> Part:
        """Accuracy against the angle's RMSE (:func:`unification_figure`), glued as ``unification_figure``."""
        return Part({"unification_figure": unification_figure(self.table)})

    def paired_tests(self) -> Part:
        """The family of paired tests, and the prose's numbers and verdicts."""
        tests, family = self.tests, int(self.tests.family_size.iloc[0])
        values = {**unification_numbers(self.table),  # <method>_<acc|rmse|r2|seconds>[_std], <method>_lr
                  "n_comparisons": len(tests), "n_tests": family, "alpha": ALPHA,
                  "acc_margin": 100 * verdicts.accuracy_margin(self.report[0]["config"]["dataset"]),
                  "rmse_margin": ANGLE_RMSE_MARGIN,
                  "unification_verdict": unification_verdict(tests),
                  "unification_verdict_plain": unification_verdict(tests, "unified_mse"),
                  "unification_versus_single": unification_versus_single(tests),
                  "unification_versus_single_plain": unification_versus_single(tests, "unified_mse")}
        return Part(values, (verdict_display(tests).style.set_caption(
            f"Paired differences over reporting seeds {_seeds(self.report)}, Holm-adjusted over the {family} tests "
            "of the family"),))
