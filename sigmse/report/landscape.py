"""The loss-surface chapter (``notebooks/landscape.ipynb``): :class:`LandscapeChapter`, one method per figure or
table, each measured once. Measurements: :mod:`sigmse.landscape`; verdict: :mod:`~sigmse.report.landscape_verdict`;
figures and tables: :mod:`~sigmse.report.landscape_plots`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import pandas as pd
import torch

from sigmse.landscape.curvature import NULL_TOLERANCE, curvature_frame
from sigmse.landscape.surfaces import (EXPLODING, LOSS_NAMES, TARGETS, VANISHING, LandscapeConfig, descent_trajectory,
                                       gradient_norm_surface, logit_grid, loss_surface, smoothness_table)
from sigmse.report import landscape_plots as lp
from sigmse.report.analysis import Part
from sigmse.report import landscape_verdict as lv
from sigmse.report.plots import pretty

__all__ = ["LandscapeChapter", "NOTE_LOSSES", "DESCENT_LOSSES", "CONDITION_LOSSES"]

NOTE_LOSSES = ("softmax_mse", "softmax_ce")  # the note's two losses
DESCENT_LOSSES = ("softmax_ce", *lv.MSE_LOSSES)  # cross-entropy and the claim's MSE losses
CONDITION_LOSSES = (lv.REFERENCE, "sigmoid_mse", "sigmoid_mse_or")  # cross-entropy and the paper's two losses


@dataclass(frozen=True)
class LandscapeChapter:
    """The notebook's parameters and the chapter's measurements; invalid parameters raise ``ValueError`` on
    construction (through :class:`LandscapeConfig`)."""

    grid_size: int = 100  # cells per axis (the note's 100 x 100 grid)
    extent: float = 10.0  # the free logits run over [-extent, extent]^2
    fixed_logit: float = -1000.0  # the pinned logit (the note's "bad initialisation")
    dtype: str = "float32"  # arithmetic of the figures; the smoothness table compares float32 and float64
    fixed_logit_multiples: Sequence[float] = (-10.0, -100.0, -1000.0)  # pinned values for the small multiples
    refinements: Sequence[int] = (100, 200, 400)  # grid sizes of the refinement test (at least two)
    descent_steps: int = 1000  # gradient-descent steps per run
    descent_lr: float = 10.0  # step size of plain gradient descent on the two free logits
    descent_start: Sequence[float] = (-8.0, 8.0)  # the bad start (z1, z2): confidently wrong for either true class

    def __post_init__(self) -> None:  # building every config the chapter uses checks the parameters
        _ = self.pinned_configs, [dataclasses.replace(self.base, grid_size=g) for g in self.refinements]

    @cached_property
    def base(self) -> LandscapeConfig:
        return LandscapeConfig(grid_size=self.grid_size, extent=self.extent, fixed_logit=self.fixed_logit,
                               dtype=self.dtype)

    @cached_property
    def configs(self) -> dict[str, LandscapeConfig]:
        """The note's grid for each choice of the true class."""
        return {target: dataclasses.replace(self.base, target=target) for target in TARGETS}

    @cached_property
    def axis(self) -> torch.Tensor:
        return logit_grid(self.base)[0]  # (G,): both free logits share it

    @cached_property
    def pins(self) -> list[float]:
        return sorted(self.fixed_logit_multiples, reverse=True)  # e.g. -10, -100, -1000: from mild to extreme

    @cached_property
    def named_pins(self) -> dict[str, float]:
        """The mildest pinned value, the one before the most extreme, and the most extreme."""
        pins = self.pins
        return {"mild": pins[0], "next": pins[max(len(pins) - 2, 0)], "extreme": pins[-1]}

    @cached_property
    def pinned_configs(self) -> dict[tuple[str, float], LandscapeConfig]:
        return {(t, pin): dataclasses.replace(self.configs[t], fixed_logit=pin) for t in TARGETS for pin in self.pins}

    @cached_property
    def surfaces(self) -> dict[tuple[str, str], torch.Tensor]:
        return {(t, loss): loss_surface(loss, self.configs[t]) for t in TARGETS for loss in LOSS_NAMES}  # (G, G)

    @cached_property
    def grad_norms(self) -> dict[tuple[str, str], torch.Tensor]:
        return {(t, loss): gradient_norm_surface(loss, self.configs[t]) for t in TARGETS for loss in LOSS_NAMES}

    @cached_property
    def smoothness_rows(self) -> pd.DataFrame:
        """:func:`smoothness_table` rows on the note's grid: every loss, formula and dtype, both targets."""
        return pd.DataFrame([row for t in TARGETS for row in smoothness_table(self.configs[t])])

    @cached_property
    def slopes(self) -> pd.DataFrame:
        return lp.refinement_slopes(self.refinement_rows)  # index (target, loss): jumps per grid size, slopes

    @cached_property
    def refinement_rows(self) -> pd.DataFrame:
        return pd.DataFrame([row for g in self.refinements for t in TARGETS for row in smoothness_table(
            dataclasses.replace(self.configs[t], grid_size=g), formulas=["stable"], dtypes=[self.dtype])])

    @cached_property
    def curvature_rows(self) -> pd.DataFrame:
        """:func:`curvature_frame` rows on the note's grid, both targets: one row per loss x point."""
        return pd.concat([curvature_frame(self.configs[t]) for t in TARGETS], ignore_index=True)

    def _pinned_prob(self, config: LandscapeConfig) -> float:
        """The largest softmax probability of the pinned class over the grid."""
        return torch.softmax(logit_grid(config)[2], dim=1)[:, config.fixed_index].max().item()

    def _heatmap_titles(self, t: str, losses: Sequence[str],
                        values: dict[tuple[str, str], torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
        return [(f"{pretty(loss)}\n{lp.TARGET_LABELS[t]}", values[t, loss]) for loss in losses]

    # the parts, in page order
    def settings(self) -> dict[str, Any]:
        """The parameters and the thresholds the prose quotes."""
        return {"grid_size": self.grid_size, "extent": self.extent, "fixed_logit": self.fixed_logit,
                "param_dtype": self.dtype, "cliff_steepness": lv.CLIFF_STEEPNESS, "smooth_slope": lv.SMOOTH_SLOPE,
                "vanishing": VANISHING, "condition_margin": lv.CONDITION_MARGIN, "null_tolerance": NULL_TOLERANCE,
                "n_mse": len(lv.MSE_LOSSES), "step_low": lv.RAMP_LOW, "step_high": lv.RAMP_HIGH,
                "exploding": EXPLODING, "cells": self.grid_size**2, "descent_steps": self.descent_steps,
                "descent_lr": self.descent_lr, "log_floor": lp.LOG_FLOOR,
                "start_z1": float(self.descent_start[0]), "start_z2": float(self.descent_start[1])}

    def note_figure(self) -> Part:
        """Section 1: the note's two losses for both true classes, their ranges and the width of the MSE step."""
        # along the cut at the middle of the z1 axis, z2 across the diagonal
        ramp = lv.ramp_width(self.surfaces["free", "softmax_mse"][self.grid_size // 2],
                             (self.axis[1] - self.axis[0]).item())
        return Part({"fig_note": lp.heatmap_grid([self._heatmap_titles(t, NOTE_LOSSES, self.surfaces) for t in TARGETS],
                                                 self.axis),
                     **{f"{loss}_{t}_{end}": getattr(surface, end)().item()
                        for (t, loss), surface in self.surfaces.items() for end in ("min", "max")},
                     "mse_step_cells": ramp.cells, "mse_step_width": ramp.width,
                     "pinned_prob_max": self._pinned_prob(self.base)})

    def gradient_norms(self) -> Part:
        """Section 2: the free gradient norm of every loss, its figure, its table and its extremes."""
        figure = lp.heatmap_grid([self._heatmap_titles(t, LOSS_NAMES, self.grad_norms) for t in TARGETS], self.axis,
                                 log=True, colorbar="‖∇ loss‖", panel=(3.7, 3.1))
        stats = pd.DataFrame([
            {"target": t, "loss": pretty(loss), "min ‖∇‖": g.min().item(), "median ‖∇‖": g.median().item(),
             "max ‖∇‖": g.max().item(), f"share below {VANISHING:g}": (g < VANISHING).double().mean().item(),
             "share exactly 0": (g == 0).double().mean().item(), "NaN or inf": int((~torch.isfinite(g)).sum())}
            for (t, loss), g in self.grad_norms.items()]).set_index(["target", "loss"])
        values: dict[str, Any] = {"fig_grad": figure}
        for (t, loss), g in self.grad_norms.items():
            values[f"grad_{loss}_{t}_min"] = g.min().item()
            values[f"grad_{loss}_{t}_max"] = g.max().item()
            values[f"grad_{loss}_{t}_vanishing"] = (g < VANISHING).double().mean().item()
            values[f"grad_{loss}_{t}_zero"] = (g == 0).double().mean().item()
        caption = "Gradient norm with respect to the free logits, over the grid."
        return Part(values, (lp.style_table(stats, caption=caption),))

    def artefacts(self) -> Part:
        """Section 3: stable against naive formulas, float32 against float64, and the saturation counts."""
        table = self.smoothness_rows
        tables = tuple(lp.style_table(lp.smoothness_frame(table[table.target == t]), caption=(
            f"{lp.TARGET_LABELS[t]}: {self.grid_size} x {self.grid_size} grid, pinned at {self.fixed_logit:g}"))
            for t in TARGETS)
        stable, naive = table[table.formula == "stable"], table[table.formula == "naive"]
        naive_ce = naive[naive.loss == "softmax_ce"].set_index("target")
        jumps = stable.pivot_table(index=["target", "loss"], columns="dtype", values="max_rel_jump")
        pinned = stable[stable.target == "fixed"].set_index("loss")  # the pinned class is the true one
        values: dict[str, Any] = {
            "stable_nonfinite": int(stable[list(lv.NONFINITE)].to_numpy().sum()),
            "naive_ce_fixed_inf": int(naive_ce.loc["fixed", "surface_inf"].max()),
            "naive_ce_fixed_grad_nan": int(naive_ce.loc["fixed", "grad_nan"].max()),
            "naive_ce_free_nonfinite_loss": int(naive_ce.loc["free", ["surface_nan", "surface_inf"]].to_numpy().sum()),
            "naive_ce_free_grad_nan": int(naive_ce.loc["free", "grad_nan"].max()),
            "naive_other_nonfinite": int(naive.loc[naive.loss != "softmax_ce",
                                                   list(lv.NONFINITE[:4])].to_numpy().sum()),
            "naive_sigmoid_pinned_nan": int(naive[naive.loss.str.startswith("sigmoid")].fixed_grad_nonfinite.max()),
            "dtype_jump_diff": float((jumps["float32"] - jumps["float64"]).abs().max()),
            "logit_pinned_grad_max": float(pinned.loc["logit_mse", "fixed_grad_abs_max"].max()),
        }
        values.update({f"vanishing_wrong_{loss}": float(pinned.loc[loss, "vanishing_share_of_wrong"].max())
                       for loss in lv.MSE_LOSSES})
        return Part(values, tables)

    def pinned_values(self) -> Part:
        """Section 4: the note's two losses at each pinned value, and every loss's largest jump there."""
        figure = lp.heatmap_grid(
            [[(f"{pretty(loss)}, $z_0$ = {pin:g}", loss_surface(loss, self.pinned_configs["fixed", pin]))
              for pin in self.pins] for loss in NOTE_LOSSES], self.axis, panel=(3.9, 3.2))
        rows = pd.DataFrame([row for cfg in self.pinned_configs.values()
                             for row in smoothness_table(cfg, formulas=["stable"], dtypes=[self.dtype])])
        rows["nonfinite"] = rows[list(lv.NONFINITE)].sum(axis=1)
        table = rows.assign(loss=rows.loss.map(pretty)).pivot_table(
            index=["target", "loss"], columns="fixed_logit", values=["max_rel_jump", "nonfinite"])
        values: dict[str, Any] = {"fig_pins": figure,
                                  "pins_mse_max_jump": float(rows[rows.loss.isin(lv.MSE_LOSSES)].max_rel_jump.max()),
                                  "pins_nonfinite": int(rows.nonfinite.sum())}
        for name, pin in self.named_pins.items():
            values[f"pin_{name}"] = float(pin)
            values[f"pin_{name}_prob"] = self._pinned_prob(self.pinned_configs["fixed", pin])
        mse, ce = ({k: loss_surface(loss, self.pinned_configs["fixed", self.named_pins[k]])
                    for k in ("extreme", "next")} for loss in NOTE_LOSSES)
        values["pins_mse_diff"] = (mse["extreme"] - mse["next"]).abs().max().item()
        values["pins_ce_shift_min"] = (ce["extreme"] - ce["next"]).min().item()
        values["pins_ce_shift_max"] = (ce["extreme"] - ce["next"]).max().item()
        caption = "Largest relative jump and non-finite values (stable) per pinned value"
        return Part(values, (lp.style_table(table, caption=caption),))

    def refinement(self) -> Part:
        """Section 5: the largest jump against the grid size, and its fitted slope."""
        slopes = self.slopes
        coarse, fine = min(self.refinements), max(self.refinements)
        values: dict[str, Any] = {
            "fig_refine": lp.refinement_figure(self.refinement_rows),
            "slope_max": float(slopes["slope"].max()), "slope_min": float(slopes["slope"].min()),
            "grad_slope_max": float(slopes["grad_slope"].max()), "grad_slope_min": float(slopes["grad_slope"].min()),
            "refine_first": int(coarse), "refine_last": int(fine)}
        for name, g in (("coarse", coarse), ("fine", fine)):
            values[f"refine_mse_{name}"] = float(slopes.loc[("fixed", "softmax_mse"), f"max_rel_jump @ {g}"])
        caption = "Largest relative jump per grid size, and the slope of log(jump) against log(G)"
        return Part(values, (lp.style_table(slopes.rename(index=pretty, level="loss"), caption=caption),))

    def descent(self) -> Part:
        """Section 6: plain gradient descent from the bad start, per loss and true class."""
        start = tuple(float(v) for v in self.descent_start)
        runs = {(t, loss): descent_trajectory(loss, self.configs[t], start, lr=self.descent_lr,
                                              steps=self.descent_steps)
                for t in TARGETS for loss in DESCENT_LOSSES}
        figure = lp.trajectory_figure(
            [(lp.TARGET_LABELS[t], self.configs[t], [(loss, self.surfaces[t, loss], runs[t, loss])
                                                     for loss in DESCENT_LOSSES]) for t in TARGETS], self.axis)
        values: dict[str, Any] = {"fig_descent": figure}
        for (t, loss), run in runs.items():
            values[f"descent_{loss}_{t}"] = (f"{run['first_correct_step']}" if run["reached"]
                                             else f"never in {self.descent_steps}")
            values[f"descent_{loss}_{t}_start_grad"] = run["grad_norm"][0].item()
        for t in TARGETS:
            values[f"descent_mse_recovered_{t}"] = sum(runs[t, loss]["reached"] for loss in lv.MSE_LOSSES)
        table = lp.descent_frame([(t, loss, run) for (t, loss), run in runs.items()])
        caption = "First step at which the true logit is strictly the largest (— : never)"
        return Part(values, (lp.style_table(table, caption=caption),))

    def conditioning(self) -> Part:
        """Section 7: condition numbers and smallest eigenvalues on the grid, and their dependence on the pin."""
        curvature = self.curvature_rows
        pin_curvature = pd.concat([curvature_frame(cfg, CONDITION_LOSSES) for cfg in self.pinned_configs.values()],
                                  ignore_index=True)
        values: dict[str, Any] = {"fig_curvature": lp.curvature_figure(curvature)}
        for loss, rows in curvature.groupby("loss"):
            for key, value in {"median": float(rows.condition.median()), "max": float(rows.condition.max()),
                               "lambda_min": float(rows.lambda_min.min()), "negative": float(rows.negative.mean()),
                               "undefined": int(rows.condition.isna().sum())}.items():
                values[f"curv_{loss}_{key}"] = value
        for t in TARGETS:
            for name in ("mild", "extreme"):
                at = pin_curvature[(pin_curvature.target == t) & (pin_curvature.fixed_logit == self.named_pins[name])]
                values[f"cond_ratio_{t}_{name}"] = lv.compare_conditioning(at).median_ratio
        caption = f"Curvature along the logits over the grid, pinned at {self.fixed_logit:g} (float64)"
        return Part(values, (lp.style_table(lp.curvature_table(curvature), caption=caption),
                             lp.style_table(lp.condition_by_pin(pin_curvature),
                                            caption="Median condition number κ per pinned value")))

    def verdict(self) -> Part:
        """Section 8: the verdict's decision table, its values and its one line for the intro."""
        verdict = lv.landscape_verdict(self.smoothness_rows, self.slopes, self.curvature_rows)
        values = {**verdict.glue_values(), "landscape_verdict": verdict.text}
        return Part(values, (lp.style_table(lp.checks_frame(verdict), caption=f"Verdict: {verdict.text}"),))
