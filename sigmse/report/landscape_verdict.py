"""The loss-surface chapter's verdict on the counter-claim (sigmoid-MSE's surface has cliffs, discontinuities,
vanishing or exploding gradients and bad conditioning; cross-entropy's does not), with its thresholds fixed here.
Measured over :data:`MSE_LOSSES`, stable formulas only (a NaN of the naive formulas is the arithmetic's, not the
loss's); the rule in words is the chapter's. :func:`landscape_verdict` returns a :class:`LandscapeVerdict`.

Reference: Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax Cross-Entropy in
Neural Network Classification*, arXiv 2411.11213.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import Tensor

from sigmse.checks import check_columns, check_number
from sigmse.landscape.surfaces import EXPLODING, VANISHING
from sigmse.losses.modules import display_name

__all__ = ["MSE_LOSSES", "SUBJECT", "REFERENCE", "CLIFF_STEEPNESS", "SMOOTH_SLOPE", "CONDITION_MARGIN", "NONFINITE",
           "RAMP_LOW", "RAMP_HIGH", "Check", "Conditioning", "LandscapeVerdict", "Ramp", "ramp_width",
           "compare_conditioning", "landscape_verdict"]

MSE_LOSSES = ("softmax_mse", "sigmoid_mse", "sigmoid_mse_or")  # the claim's "MSE"; logit-MSE is only a reference
SUBJECT, REFERENCE = "sigmoid_mse", "softmax_ce"  # the conditioning comparison: the paper's loss against CE
# A cliff: the steepest step per cell is this many times a straight ramp's (1 / (G - 1) of the range), i.e. the
# surface crosses its whole range within 1/25 of the window (a quarter of it in one cell of a 100-cell grid).
# Smooth saturating surfaces on the note's grid stay within a few times a ramp; a step stays at ~G - 1.
CLIFF_STEEPNESS = 25.0
# Continuous: the largest neighbour jump shrinks like G**slope with slope <= this. A Lipschitz surface has
# slope -1 once the grid resolves it, a discontinuity slope 0; -0.75 sits between them with room for a grid
# that only starts to resolve a steep ramp.
SMOOTH_SLOPE = -0.75
# Conditioning differs when the median ratio of condition numbers is beyond one order of magnitude either
# way: condition numbers on the grid span many decades and are compared on a log scale, and gradient
# descent's iteration count grows like kappa, so a factor under 10 is within what a step size absorbs.
CONDITION_MARGIN = 10.0
NONFINITE = ("surface_nan", "surface_inf", "grad_nan", "grad_inf", "fixed_grad_nonfinite")  # smoothness counts
# The width of a step along a cut: from 10 % to 90 % of its range, the usual rise-time convention (it leaves out
# the slow approach to either plateau, which a saturating loss always has and which says nothing about a cliff).
RAMP_LOW, RAMP_HIGH = 0.1, 0.9


@dataclass(frozen=True)
class Check:
    """One row of the decision table: a part of the claim, what is measured, its value and the rule."""

    part: str  # "cliffs", "discontinuities", "vanishing" or "exploding"
    measured: str
    value: float
    rule: str  # when it counts as true, e.g. "> 25"
    holds: bool


@dataclass(frozen=True)
class Conditioning:
    """Condition numbers of ``subject`` against ``reference`` at the same grid points."""

    subject: str
    reference: str
    median_ratio: float  # median over the points of kappa_subject / kappa_reference
    worse_points: int  # points where kappa_subject > kappa_reference
    points: int  # points where both are defined (not NaN)
    subject_median: float
    reference_median: float
    subject_negative_share: float  # share of the grid points with a negative eigenvalue
    reference_negative_share: float
    margin: float = CONDITION_MARGIN

    @property
    def verdict(self) -> str:
        """``worse``, ``better`` (median ratio beyond ``margin`` either way) or ``equivalent (within ×margin)``."""
        if self.median_ratio > self.margin:
            return "worse"
        if self.median_ratio < 1 / self.margin:
            return "better"
        return f"equivalent (within ×{self.margin:g})"


@dataclass(frozen=True)
class LandscapeVerdict:
    """The measured values behind the verdict; the booleans follow from the module's thresholds."""

    max_rel_jump: float  # steepest neighbour step of an MSE surface / its range
    steepness: float  # the same, as a multiple of a straight ramp's step 1 / (G - 1)
    reference_steepness: float  # cross-entropy's steepness, for comparison
    worst_slope: float  # largest refinement slope of an MSE surface or gradient-norm surface
    nonfinite: int  # NaN / inf values of the MSE losses, stable formulas
    pinned_grad_max: float  # largest |d loss / d pinned| of an MSE loss, pinned class true
    reference_pinned_grad_min: float  # cross-entropy's smallest |d loss / d pinned| there, for comparison
    vanishing_share_of_wrong: float  # largest share of misclassified cells with a vanishing free gradient
    grad_max: float  # largest gradient of an MSE loss, free or pinned logits
    grad_nonfinite: int  # infinite or NaN gradients of the MSE losses, stable formulas
    conditioning: Conditioning

    def checks(self) -> tuple[Check, ...]:
        """The decision table: every part of the claim, the number that tests it and the threshold."""
        return (
            Check("cliffs", "steepest step / a straight ramp's step", self.steepness, f"> {CLIFF_STEEPNESS:g}",
                  self.steepness > CLIFF_STEEPNESS),
            Check("discontinuities", "worst refinement slope (loss, ‖∇‖)", self.worst_slope,
                  f"> {SMOOTH_SLOPE:g}", self.worst_slope > SMOOTH_SLOPE),
            Check("discontinuities", "NaN or inf values", self.nonfinite, "> 0", self.nonfinite > 0),
            Check("vanishing", "largest |∂ loss / ∂ pinned|, pinned class true", self.pinned_grad_max,
                  f"< {VANISHING:g}", self.pinned_grad_max < VANISHING),
            Check("vanishing", f"largest share of wrong cells with ‖∇‖ < {VANISHING:g}",
                  self.vanishing_share_of_wrong, "> 0", self.vanishing_share_of_wrong > 0),
            Check("exploding", "largest gradient (free or pinned logits)", self.grad_max, f"> {EXPLODING:g}",
                  self.grad_max > EXPLODING),
            Check("exploding", "infinite or NaN gradients", self.grad_nonfinite, "> 0", self.grad_nonfinite > 0),
        )

    def _any(self, part: str) -> bool:
        return any(check.holds for check in self.checks() if check.part == part)

    cliffs = property(lambda self: self._any("cliffs"))
    discontinuities = property(lambda self: self._any("discontinuities"))
    vanishing = property(lambda self: self._any("vanishing"))
    exploding = property(lambda self: self._any("exploding"))

    @property
    def text(self) -> str:
        """One line for the book's intro table, composed from the booleans and the conditioning comparison."""
        found = " and ".join(part for part in ("cliffs", "discontinuities") if getattr(self, part))
        shape = f"{found} found" if found else "no cliffs or discontinuities"
        small = "gradients vanish (saturation)" if self.vanishing else "no vanishing gradients"
        large = "some explode" if self.exploding else "none explode"
        c = self.conditioning
        ratio = f"{c.median_ratio:.3g}×" if c.median_ratio < 1e4 else f"{c.median_ratio:.1e}×"
        return (f"{shape}; {small}, {large}; {display_name(c.subject)}'s conditioning vs "
                f"{display_name(c.reference)}'s: {c.verdict} (median κ ratio {ratio}, higher at {c.worse_points:,} "
                f"of {c.points:,} points)")

    def glue_values(self) -> dict[str, float | int | str]:
        """What the prose quotes: ``verdict_<value>`` and ``verdict_<part>`` ("yes" / "no")."""
        c = self.conditioning
        values = {"mse_max_jump": self.max_rel_jump, "mse_steepness": self.steepness,
                  "ce_steepness": self.reference_steepness, "mse_worst_slope": self.worst_slope,
                  "mse_nonfinite": self.nonfinite, "mse_pinned_grad_max": self.pinned_grad_max,
                  "ce_pinned_grad_min": self.reference_pinned_grad_min,
                  "mse_vanishing_wrong": self.vanishing_share_of_wrong, "mse_grad_max": self.grad_max,
                  "mse_grad_inf": self.grad_nonfinite, "conditioning": c.verdict, "condition_ratio": c.median_ratio,
                  "condition_worse": c.worse_points, "condition_points": c.points,
                  **{part: "yes" if getattr(self, part) else "no"
                     for part in ("cliffs", "discontinuities", "vanishing", "exploding")}}
        return {f"verdict_{key}": value for key, value in values.items()}


@dataclass(frozen=True)
class Ramp:
    """How wide a rise is along a cut: cells strictly between the ramp's bounds, and their width in logits."""

    cells: int
    width: float


def ramp_width(cut: Tensor, spacing: float) -> Ramp:
    """The width of the rise of ``cut`` ``(G,)`` from :data:`RAMP_LOW` to :data:`RAMP_HIGH` of its range, cells
    ``spacing`` logits apart. A cliff climbs in one cell or none, however fine the grid; a ramp keeps its width."""
    if cut.ndim != 1 or cut.numel() < 2:
        raise ValueError(f"cut must be 1-D with at least 2 values, got shape {tuple(cut.shape)}")
    check_number("spacing", spacing, low=0, low_open=True, allowed="> 0")
    low, high = float(cut.min()), float(cut.max())
    if not high > low:
        raise ValueError(f"cut is constant ({low!r}): it has no rise to measure")
    level = (cut - low) / (high - low)  # 0 .. 1 along the cut
    cells = int(((level > RAMP_LOW) & (level < RAMP_HIGH)).sum())
    return Ramp(cells, cells * spacing)


def compare_conditioning(curvature: pd.DataFrame, *, subject: str = SUBJECT,
                         reference: str = REFERENCE) -> Conditioning:
    """Pair ``subject``'s and ``reference``'s condition numbers at each point ``(target, fixed_logit, z1, z2)`` of
    a ``curvature_frame``; points with a NaN ``kappa`` are left out of the ratio and counts."""
    check_columns("curvature", curvature, ("loss", "target", "fixed_logit", "z1", "z2", "condition", "negative"))
    sides = {loss: curvature[curvature["loss"] == loss].set_index(["target", "fixed_logit", "z1", "z2"])
             for loss in (subject, reference)}
    for loss, rows in sides.items():
        if rows.empty:
            raise ValueError(f"curvature has no rows for loss {loss!r}; it has {sorted(curvature['loss'].unique())}")
    kappa = pd.concat({loss: rows["condition"] for loss, rows in sides.items()}, axis=1, join="inner").dropna()
    if kappa.empty:
        raise ValueError(f"{subject!r} and {reference!r} share no grid point with a defined condition number")
    a, b = kappa[subject].to_numpy(float), kappa[reference].to_numpy(float)
    return Conditioning(
        subject=subject, reference=reference, median_ratio=float(np.median(a / b)), worse_points=int((a > b).sum()),
        points=len(kappa), subject_median=float(np.median(a)), reference_median=float(np.median(b)),
        subject_negative_share=float(sides[subject]["negative"].mean()),
        reference_negative_share=float(sides[reference]["negative"].mean()))


def _max(values: pd.Series | pd.DataFrame, *, smallest: bool = False) -> float:
    """The largest (or smallest) value, NaN and None skipped; NaN when there is none."""
    values = values.astype(float)
    return float(values.min(axis=None) if smallest else values.max(axis=None))


def landscape_verdict(smoothness: pd.DataFrame, slopes: pd.DataFrame, curvature: pd.DataFrame) -> LandscapeVerdict:
    """The verdict from ``smoothness_table`` rows (stable ones are read), :func:`refinement_slopes
    <sigmse.report.landscape_plots.refinement_slopes>` and ``curvature_frame`` rows."""
    check_columns("smoothness", smoothness, ("loss", "formula", "target", "grid_size", "max_rel_jump",
                                        "vanishing_share_of_wrong", "grad_norm_max", "fixed_grad_abs_max",
                                        "fixed_grad_abs_min", *NONFINITE))
    check_columns("slopes", slopes, ("slope", "grad_slope"))
    stable = smoothness[smoothness["formula"] == "stable"]
    mse = stable[stable["loss"].isin(MSE_LOSSES)]
    if mse.empty:
        raise ValueError(f"smoothness has no stable rows for the losses {list(MSE_LOSSES)}")
    ce = stable[stable["loss"] == REFERENCE]
    mse_slopes = slopes[slopes.index.get_level_values("loss").isin(MSE_LOSSES)]
    return LandscapeVerdict(
        max_rel_jump=_max(mse["max_rel_jump"]),
        steepness=_max(mse["max_rel_jump"].astype(float) * (mse["grid_size"] - 1)),
        reference_steepness=_max(ce["max_rel_jump"].astype(float) * (ce["grid_size"] - 1)),
        worst_slope=_max(mse_slopes[["slope", "grad_slope"]]), nonfinite=int(mse[list(NONFINITE)].to_numpy().sum()),
        pinned_grad_max=_max(mse.loc[mse["target"] == "fixed", "fixed_grad_abs_max"]),
        reference_pinned_grad_min=_max(ce.loc[ce["target"] == "fixed", "fixed_grad_abs_min"], smallest=True),
        vanishing_share_of_wrong=_max(mse["vanishing_share_of_wrong"]),
        grad_max=max(_max(mse["grad_norm_max"]), _max(mse["fixed_grad_abs_max"])),
        grad_nonfinite=int(mse[["grad_nan", "grad_inf", "fixed_grad_nonfinite"]].to_numpy().sum()),
        conditioning=compare_conditioning(curvature))
