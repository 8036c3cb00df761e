"""Light tests of sigmse.report.landscape_plots: figures build and render (naive formulas' NaN/inf included), have
the expected axes, and the tables say what their inputs say.

Grids are tiny (8-16 cells per axis); references are hand-made rows and hand-computed margins.
"""

from __future__ import annotations

import io
import math

import pytest

pytest.importorskip("seaborn")
pytest.importorskip("pandas")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from sigmse.report import landscape_plots as lp  # noqa: E402
from sigmse.landscape.surfaces import (  # noqa: E402
    LOSS_NAMES,
    TARGETS,
    LandscapeConfig,
    descent_trajectory,
    gradient_norm_surface,
    logit_grid,
    loss_surface,
    smoothness_table,
)
from sigmse.landscape.curvature import curvature_frame  # noqa: E402
from sigmse.report.landscape_verdict import LandscapeVerdict, compare_conditioning  # noqa: E402

LOSSES = LOSS_NAMES


def _render(fig) -> bytes:
    """Draw the figure to PNG bytes, as a notebook does when it shows it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


def _is_white(fig) -> bool:
    return tuple(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


@pytest.mark.parametrize("formula", ("stable", "naive"))
@pytest.mark.parametrize("log", (False, True))
def test_heatmap_grid_builds_for_every_loss_and_formula(formula, log):
    """All losses x both targets as heatmaps (one colour bar per panel: 2 axes per panel), linear and log, with the
    naive formulas' all-inf surfaces and all-NaN gradients (cross-entropy, pinned class true) included."""
    cfgs = [LandscapeConfig(grid_size=12, target=t, formula=formula) for t in TARGETS]
    axis = logit_grid(cfgs[0])[0]
    make = gradient_norm_surface if log else loss_surface
    fig = lp.heatmap_grid([[(loss, make(loss, cfg)) for loss in LOSSES] for cfg in cfgs], axis, log=log)
    assert len(fig.axes) == 2 * len(TARGETS) * len(LOSSES)
    assert _is_white(fig)
    assert _render(fig).startswith(b"\x89PNG")
    assert plt.get_fignums() == []  # closed in pyplot: a notebook shows it only where it is glued


def test_heatmap_grid_marks_nonfinite_cells_and_constant_surfaces():
    """A surface that is NaN/inf everywhere, one with a few bad cells, and a constant one (zero range, log scale
    with exact zeros) all draw; the panels with bad cells say so."""
    axis = torch.linspace(-1, 1, 8)
    partly = torch.ones(8, 8)
    partly[0, 0], partly[1, 1] = float("nan"), float("inf")
    fig = lp.heatmap_grid([[("all bad", torch.full((8, 8), float("nan"))), ("partly", partly),
                            ("zeros", torch.zeros(8, 8))]], axis, log=True)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "every cell NaN/inf" in texts and "2 NaN/inf cells" in texts
    _render(fig)


def test_heatmap_grid_rejects_ragged_panels():
    """Rows of different lengths are an error naming the lengths."""
    axis = torch.linspace(-1, 1, 4)
    with pytest.raises(ValueError, match=r"row lengths \[2, 1\]"):
        lp.heatmap_grid([[("a", torch.ones(4, 4)), ("b", torch.ones(4, 4))], [("c", torch.ones(4, 4))]], axis)


def test_margins_by_hand():
    """Pinned class true (index 0 at -1000): margin = -1000 - max(z1, z2); z1's class true: z1 - max(-1000, z2)."""
    path = torch.tensor([[1.0, 2.0], [-1001.0, -1002.0]], dtype=torch.float64)
    fixed = LandscapeConfig(target="fixed", dtype="float64")
    free = LandscapeConfig(target="free", dtype="float64")
    assert lp.margins(path, fixed).tolist() == [-1002.0, 1.0]
    assert lp.margins(path, free).tolist() == [-1.0, -1.0]


def test_trajectory_figure_and_descent_frame():
    """Two landscapes x 4 losses: a heatmap per run plus one margin panel per row; the table has one row per run
    and an integer first-correct step that is missing (NA) where the run never classified correctly."""
    losses = ("softmax_ce", "softmax_mse", "sigmoid_mse", "sigmoid_mse_or")
    rows, runs = [], []
    for target in TARGETS:
        cfg = LandscapeConfig(grid_size=10, target=target, dtype="float64")
        axis = logit_grid(cfg)[0]
        entries = []
        for loss in losses:
            run = descent_trajectory(loss, cfg, (-8.0, 8.0), lr=10.0, steps=30)
            entries.append((loss, loss_surface(loss, cfg), run))
            runs.append((target, loss, run))
        rows.append((lp.TARGET_LABELS[target], cfg, entries))
    fig = lp.trajectory_figure(rows, axis)
    assert len(fig.axes) == len(TARGETS) * (len(losses) + 1)
    _render(fig)
    frame = lp.descent_frame(runs)
    assert len(frame) == len(runs) and str(frame["first correct step"].dtype) == "Int64"
    assert frame.loc[("free", "softmax CE"), "first correct step"] == 1  # CE: one step of 10 flips the order
    assert pd.isna(frame.loc[("fixed", "softmax-MSE"), "first correct step"])


def test_trajectory_figure_survives_diverging_and_outside_paths():
    """A run that diverges to NaN (logit-MSE at step size 10 overshoots more each step) and a start outside the
    drawn window both draw without error, with a note in the panel."""
    cfg = LandscapeConfig(grid_size=8, target="free")
    axis = logit_grid(cfg)[0]
    diverged = descent_trajectory("logit_mse", cfg, (-8.0, 8.0), lr=10.0, steps=200)
    assert torch.isnan(diverged["path"][-1]).all()
    outside = descent_trajectory("softmax_ce", cfg, (50.0, 60.0), lr=1.0, steps=5)
    surface = loss_surface("logit_mse", cfg)
    fig = lp.trajectory_figure([("row", cfg, [("logit_mse", surface, diverged), ("softmax_ce", surface, outside)])],
                               axis)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("leaves the frame") for t in texts) and "starts outside the frame" in texts
    _render(fig)


def _rows(jumps: dict[int, float], loss: str = "softmax_mse", target: str = "fixed") -> list[dict]:
    return [{"loss": loss, "target": target, "grid_size": g, "max_rel_jump": j, "grad_max_rel_jump": j}
            for g, j in jumps.items()]


def test_refinement_slopes_tell_a_ramp_from_a_cliff():
    """A jump proportional to 1/G fits slope -1; a jump that stays put (a cliff) fits slope 0; an undefined jump
    (None: no finite neighbours) gives NaN; fewer than two grid sizes is an error."""
    rows = (_rows({100: 0.08, 200: 0.04, 400: 0.02}) + _rows({100: 0.5, 200: 0.5, 400: 0.5}, loss="cliff")
            + _rows({100: None, 200: None, 400: None}, loss="undefined"))
    slopes = lp.refinement_slopes(rows)
    assert slopes.loc[("fixed", "softmax_mse"), "slope"] == pytest.approx(-1.0, abs=1e-12)
    assert slopes.loc[("fixed", "cliff"), "grad_slope"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(slopes.loc[("fixed", "undefined"), "slope"])
    assert slopes.loc[("fixed", "softmax_mse"), "max_rel_jump @ 200"] == 0.04
    with pytest.raises(ValueError, match=r"at least 2 grid sizes, got \[100\]"):
        lp.refinement_slopes(_rows({100: 0.1}))


def test_refinement_figure_from_smoothness_rows():
    """Real smoothness_table rows of the stable formulas at two grid sizes make a 2-axes figure: per axis one line
    per loss and target through the measured jumps, plus the straight ramp's 1 / (G - 1). Rows that mix formulas
    are refused (a line would zig-zag between them)."""
    rows = [row for g in (8, 16) for t in TARGETS
            for row in smoothness_table(LandscapeConfig(grid_size=g, target=t), dtypes=["float32"])]
    with pytest.raises(ValueError, match=r"rows of one formula; got \['naive', 'stable'\]"):
        lp.refinement_figure(pd.DataFrame(rows))
    frame = pd.DataFrame([row for row in rows if row["formula"] == "stable"])
    fig = lp.refinement_figure(frame)
    assert [ax.get_title() for ax in fig.axes] == ["loss surface", "gradient norm"]
    groups = frame.groupby(["target", "loss"], sort=False)
    for ax, key in zip(fig.axes, ("max_rel_jump", "grad_max_rel_jump")):
        *measured, ramp = ax.get_lines()
        assert len(measured) == groups.ngroups
        for line, (_, group) in zip(measured, groups):
            assert list(line.get_xdata()) == [8, 16]
            np.testing.assert_array_equal(line.get_ydata(), group.sort_values("grid_size")[key].astype(float))
        np.testing.assert_allclose(ramp.get_ydata(), [1 / 7, 1 / 15])
    _render(fig)


def test_smoothness_frame_and_style_table():
    """The table is indexed by target, loss, formula, dtype, keeps every row, shows NaN as a dash and
    escapes labels such as '< 1e-06'."""
    rows = smoothness_table(LandscapeConfig(grid_size=8))
    frame = lp.smoothness_frame(rows)
    assert frame.index.names == ["target", "loss", "formula", "dtype"] and len(frame) == len(rows)
    assert list(frame.columns) == list(lp.SMOOTHNESS_COLUMNS.values())
    html = lp.style_table(frame, caption="cap").to_html()
    assert "—" in html  # naive cross-entropy's undefined jump
    html = lp.style_table(pd.DataFrame({"share < 1e-06": [0.5, True]}, index=["max_rel_jump @ 100", "x"])).to_html()
    assert "share &lt; 1e-06" in html and "jump / range @ 100" in html and "yes" in html


def test_curvature_figure_table_and_pin_table():
    """Real curvature rows on a tiny grid: 2 rows (kappa, lambda_min) per target x 5 losses, each with a colour
    bar; the table has one row per target x loss and logit-MSE's H = 2 I in it; pins run mild to extreme."""
    frames = [curvature_frame(LandscapeConfig(grid_size=6, target=t, fixed_logit=pin))
              for t in TARGETS for pin in (-10.0, -1000.0)]
    note = pd.concat([f for f in frames if f.fixed_logit.iloc[0] == -1000.0])
    fig = lp.curvature_figure(note)
    assert len(fig.axes) == 2 * (2 * len(TARGETS) * len(LOSSES))
    assert _is_white(fig)
    _render(fig)
    table = lp.curvature_table(note)
    assert list(table.columns) == ["median κ", "max κ", "smallest λ", "share λ < 0"]
    assert len(table) == len(TARGETS) * len(LOSSES)
    assert table.loc[("free", "logit-MSE")].tolist() == [1.0, 1.0, 2.0, 0.0]
    assert list(lp.condition_by_pin(pd.concat(frames)).columns) == [-10.0, -1000.0]
    with pytest.raises(ValueError, match=r"one pinned value per figure, got \[-1000.0, -10.0\]"):
        lp.curvature_figure(pd.concat(frames))


def test_checks_frame_lists_every_check():
    """The decision table has the verdict's checks in order, indexed by the part of the claim."""
    verdict = LandscapeVerdict(max_rel_jump=0.1, steepness=5.0, reference_steepness=1.0, worst_slope=-1.0,
                               nonfinite=0, pinned_grad_max=0.0, reference_pinned_grad_min=0.5,
                               vanishing_share_of_wrong=0.5, grad_max=1.0,
                               grad_nonfinite=0, conditioning=compare_conditioning(pd.DataFrame({
                                   "loss": ["sigmoid_mse", "softmax_ce"], "target": "free", "fixed_logit": 0.0,
                                   "z1": 0.0, "z2": 0.0, "condition": [20.0, 1.0], "negative": False})))
    frame = lp.checks_frame(verdict)
    assert list(frame.index) == [c.part for c in verdict.checks()]
    assert list(frame["true"]) == [c.holds for c in verdict.checks()]
    lp.style_table(frame).to_html()
