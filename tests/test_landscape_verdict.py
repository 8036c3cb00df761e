"""Tests of sigmse.report.landscape_verdict: the rule on synthetic inputs whose truth is known (a planted step is a
cliff, a ramp is not; a jump that does not shrink is a discontinuity; tiny gradients vanish, huge ones
explode; condition numbers 100x, 1x and 0.01x cross-entropy's are worse, equivalent and better), the
one-line text and the glued values those give, and the width of a ramp along a cut.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")

from sigmse.landscape.surfaces import LandscapeConfig, smoothness, smoothness_table  # noqa: E402
from sigmse.landscape.curvature import curvature_frame  # noqa: E402
from sigmse.report.landscape_verdict import (  # noqa: E402
    CLIFF_STEEPNESS,
    CONDITION_MARGIN,
    MSE_LOSSES,
    RAMP_HIGH,
    RAMP_LOW,
    compare_conditioning,
    landscape_verdict,
    ramp_width,
)

G = 50


def _ramp() -> torch.Tensor:
    return torch.linspace(0.0, 1.0, G, dtype=torch.float64).expand(G, G).clone()  # steepness exactly 1


def _step() -> torch.Tensor:
    return (torch.arange(G) >= G // 2).double().expand(G, G).clone()  # the whole range in one cell


def _rows(surface: torch.Tensor, grad: torch.Tensor | None = None, *, pinned_grad: float = 0.5,
          losses=MSE_LOSSES + ("softmax_ce",)) -> pd.DataFrame:
    """smoothness() rows, one per loss and target, all from the same synthetic surface."""
    grad = torch.ones(G, G, dtype=torch.float64) if grad is None else grad
    correct = torch.zeros(G, G, dtype=torch.bool)  # every cell wrong
    metrics = smoothness(surface, grad, correct=correct)
    return pd.DataFrame([{"loss": loss, "formula": "stable", "dtype": "float64", "target": target,
                          "grid_size": G, **metrics, "fixed_grad_abs_min": pinned_grad,
                          "fixed_grad_abs_max": pinned_grad, "fixed_grad_nonfinite": 0}
                         for loss in losses for target in ("fixed", "free")])


def _slopes(slope: float) -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples([(t, loss) for t in ("fixed", "free") for loss in MSE_LOSSES],
                                      names=["target", "loss"])
    return pd.DataFrame({"slope": slope, "grad_slope": -1.0}, index=index)


def _curvature(subject_kappa, reference_kappa=1.0, negative=False) -> pd.DataFrame:
    """A curvature frame over 4 points with the given condition numbers."""
    points = {"target": "free", "fixed_logit": -1000.0, "z1": [0.0, 0.0, 1.0, 1.0], "z2": [0.0, 1.0, 0.0, 1.0]}
    return pd.concat([
        pd.DataFrame({"loss": "sigmoid_mse", **points, "condition": subject_kappa, "negative": negative}),
        pd.DataFrame({"loss": "softmax_ce", **points, "condition": reference_kappa, "negative": False}),
    ], ignore_index=True)


def test_a_planted_step_is_a_cliff_a_ramp_is_not():
    ramp = landscape_verdict(_rows(_ramp()), _slopes(-1.0), _curvature(1.0))
    assert ramp.steepness == pytest.approx(1.0) and not ramp.cliffs
    step = landscape_verdict(_rows(_step()), _slopes(-1.0), _curvature(1.0))
    assert step.steepness == pytest.approx(G - 1) and step.steepness > CLIFF_STEEPNESS and step.cliffs
    assert step.max_rel_jump == pytest.approx(1.0)


def test_a_jump_that_does_not_shrink_under_refinement_is_a_discontinuity():
    assert not landscape_verdict(_rows(_ramp()), _slopes(-1.0), _curvature(1.0)).discontinuities
    assert landscape_verdict(_rows(_ramp()), _slopes(0.0), _curvature(1.0)).discontinuities
    nan_surface = _ramp()
    nan_surface[3, 3] = float("nan")
    assert landscape_verdict(_rows(nan_surface), _slopes(-1.0), _curvature(1.0)).nonfinite > 0


def test_refinement_of_real_step_and_ramp_surfaces():
    """Through smoothness() and refinement_slopes(): a step's jump stays put as G grows, a ramp's halves."""
    lp = pytest.importorskip("sigmse.report.landscape_plots")
    rows = []
    for g in (20, 40, 80):
        j = torch.arange(g, dtype=torch.float64)
        for loss, surface in (("sigmoid_mse", (j >= g // 2).double()), ("softmax_mse", j / (g - 1))):
            metrics = smoothness(surface.expand(g, g).clone(), surface.expand(g, g).clone())
            rows.append({"loss": loss, "target": "fixed", "grid_size": g, **metrics})
    slopes = lp.refinement_slopes(rows)
    assert slopes.loc[("fixed", "sigmoid_mse"), "slope"] == pytest.approx(0.0, abs=1e-12)
    assert slopes.loc[("fixed", "softmax_mse"), "slope"] == pytest.approx(-1.0, abs=0.05)
    assert landscape_verdict(_rows(_ramp()), slopes, _curvature(1.0)).discontinuities


def test_vanishing_and_exploding_gradients():
    flat = landscape_verdict(_rows(_ramp()), _slopes(-1.0), _curvature(1.0))
    assert not flat.vanishing and not flat.exploding and flat.grad_max == 1.0
    tiny = torch.ones(G, G, dtype=torch.float64)
    tiny[0, 0] = 1e-9  # one wrong cell with a vanishing gradient
    assert landscape_verdict(_rows(_ramp(), tiny), _slopes(-1.0), _curvature(1.0)).vanishing
    assert landscape_verdict(_rows(_ramp(), pinned_grad=1e-8), _slopes(-1.0), _curvature(1.0)).vanishing
    huge = torch.ones(G, G, dtype=torch.float64)
    huge[5, 5] = 1e5
    assert landscape_verdict(_rows(_ramp(), huge), _slopes(-1.0), _curvature(1.0)).exploding
    inf = torch.ones(G, G, dtype=torch.float64)
    inf[5, 5] = float("inf")
    verdict = landscape_verdict(_rows(_ramp(), inf), _slopes(-1.0), _curvature(1.0))
    assert verdict.exploding and verdict.grad_nonfinite == 2 * len(MSE_LOSSES)


def test_naive_rows_and_non_mse_losses_do_not_count():
    rows = _rows(_ramp())
    naive = _rows(_step()).assign(formula="naive")
    logit = _rows(_step(), losses=("logit_mse",))
    assert not landscape_verdict(pd.concat([rows, naive, logit]), _slopes(-1.0), _curvature(1.0)).cliffs


@pytest.mark.parametrize("subject, expected, ratio", [
    ([100.0] * 4, "worse", 100.0),
    ([1.0, 2.0, 1.0, 2.0], f"equivalent (within ×{CONDITION_MARGIN:g})", 1.5),
    ([0.01] * 4, "better", 0.01),
])
def test_conditioning_verdict_from_the_median_ratio(subject, expected, ratio):
    c = compare_conditioning(_curvature(subject))
    assert c.verdict == expected and c.median_ratio == pytest.approx(ratio) and c.points == 4
    assert c.worse_points == sum(k > 1.0 for k in subject)


def test_conditioning_pairs_points_leaves_out_nan_and_counts_negatives():
    c = compare_conditioning(_curvature([10.0, 1000.0, math.nan, 50.0], [1.0, 10.0, 1.0, 1.0],
                                        negative=[True, False, True, True]))
    assert c.points == 3 and c.median_ratio == pytest.approx(50.0) and c.worse_points == 3
    assert c.subject_negative_share == 0.75 and c.reference_negative_share == 0.0
    with pytest.raises(ValueError, match=r"no rows for loss 'softmax_mse'; it has \['sigmoid_mse', 'softmax_ce'\]"):
        compare_conditioning(_curvature(1.0), reference="softmax_mse")
    with pytest.raises(ValueError, match=r"lacks columns \['condition'\]"):
        compare_conditioning(_curvature(1.0).drop(columns="condition"))


def test_text_and_checks():
    verdict = landscape_verdict(_rows(_ramp(), pinned_grad=1e-8), _slopes(-1.0), _curvature([100.0] * 4))
    assert verdict.text == ("no cliffs or discontinuities; gradients vanish (saturation), none explode; "
                            "sigmoid-MSE's conditioning vs softmax CE's: worse (median κ ratio 100×, "
                            "higher at 4 of 4 points)")
    checks = verdict.checks()
    assert {c.part for c in checks} == {"cliffs", "discontinuities", "vanishing", "exploding"}
    assert [c.holds for c in checks if c.part == "vanishing"] == [True, False]
    assert "same" not in verdict.text.split()


def test_glue_values_quote_the_verdict_and_compare_the_pinned_gradient_with_cross_entropy():
    rows = _rows(_ramp(), pinned_grad=1e-8)
    rows.loc[rows.loss == "softmax_ce", "fixed_grad_abs_min"] = 0.25  # CE still pulls the pinned logit
    rows.loc[(rows.loss == "softmax_ce") & (rows.target == "free"), "fixed_grad_abs_min"] = 1e-9  # not pinned-true
    verdict = landscape_verdict(rows, _slopes(-1.0), _curvature([100.0] * 4))
    assert verdict.pinned_grad_max == 1e-8 and verdict.reference_pinned_grad_min == 0.25
    values = verdict.glue_values()
    assert values["verdict_mse_pinned_grad_max"] == 1e-8 and values["verdict_ce_pinned_grad_min"] == 0.25
    assert {key: values[f"verdict_{key}"] for key in ("cliffs", "discontinuities", "vanishing", "exploding")} == {
        "cliffs": "no", "discontinuities": "no", "vanishing": "yes", "exploding": "no"}
    assert values["verdict_conditioning"] == "worse" and values["verdict_condition_points"] == 4
    assert values["verdict_mse_steepness"] == pytest.approx(1.0) and all(key.startswith("verdict_") for key in values)


def test_ramp_width_counts_the_cells_between_ten_and_ninety_percent_of_the_range():
    """A linear ramp over 11 cells, 0.5 logits apart: the cells at 20 % .. 80 % lie strictly inside (0.1, 0.9);
    a step has none; sigmoid(z) rises from 0.1 to 0.9 over 2 log 9 logits, sigmoid(z / 2) over twice that."""
    assert (RAMP_LOW, RAMP_HIGH) == (0.1, 0.9)
    ramp = ramp_width(torch.linspace(0.0, 2.0, 11), 0.5)
    assert ramp.cells == 7 and ramp.width == 3.5
    assert ramp_width((torch.arange(100) >= 50).double(), 0.2).cells == 0
    z = torch.linspace(-20.0, 20.0, 801, dtype=torch.float64)  # 0.05 apart; both sigmoids saturate at the ends
    narrow, wide = ramp_width(torch.sigmoid(z), 0.05), ramp_width(torch.sigmoid(z / 2), 0.05)
    assert narrow.width == pytest.approx(2 * math.log(9), abs=0.1)  # sigmoid(z) crosses 0.1 .. 0.9 at +-log 9
    assert wide.width == pytest.approx(4 * math.log(9), abs=0.1)
    with pytest.raises(ValueError, match=r"cut is constant \(1.0\)"):
        ramp_width(torch.ones(5), 0.5)
    with pytest.raises(ValueError, match=r"cut must be 1-D with at least 2 values, got shape \(2, 2\)"):
        ramp_width(torch.ones(2, 2), 0.5)
    with pytest.raises(ValueError, match=r"spacing must be > 0, got 0.0"):
        ramp_width(torch.arange(3.0), 0.0)


def test_verdict_on_the_real_note_grid():
    """The real chain on the note's grid, refined 100 -> 200 (stable formulas are continuous there, so neither
    cliffs nor discontinuities), and cross-entropy's conditioning on a coarse copy of it: one non-null
    direction, so kappa 1 everywhere."""
    lp = pytest.importorskip("sigmse.report.landscape_plots")
    configs = [LandscapeConfig(grid_size=g, target=t) for g in (100, 200) for t in ("fixed", "free")]
    rows = pd.DataFrame([r for cfg in configs for r in smoothness_table(cfg, formulas=["stable"],
                                                                          dtypes=["float64"])])
    curvature = pd.concat([curvature_frame(LandscapeConfig(grid_size=16, target=t)) for t in ("fixed", "free")])
    verdict = landscape_verdict(rows[rows.grid_size == 100], lp.refinement_slopes(rows), curvature)
    assert not verdict.cliffs and not verdict.discontinuities and verdict.nonfinite == 0
    assert verdict.conditioning.reference_median == 1.0 and verdict.conditioning.points == 2 * 16 * 16
    ce = curvature[curvature.loss == "softmax_ce"].condition.to_numpy()
    sig = curvature[curvature.loss == "sigmoid_mse"].condition.to_numpy()
    assert verdict.conditioning.median_ratio == pytest.approx(float(np.median(sig / ce)), rel=1e-12)
