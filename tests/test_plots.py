"""Light tests of sigmse.report.plots: figures build and render from small hand-made frames, with white backgrounds,
labelled axes, one panel per facet, and the fixed colours per loss. No training."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("seaborn")
pytest.importorskip("scipy")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from sigmse.report import analysis, plots, verdicts  # noqa: E402
from sigmse.runs.profiles import ACCURACY_LOSSES, OUTPUT_RESET_VARIANTS  # noqa: E402


def _render(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    return buffer.getvalue()


def _white(fig) -> bool:
    return tuple(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


@pytest.fixture
def history():
    rows = [{"dataset": d, "variant": v, "seed": s, "epoch": e, "test_acc": 0.5 + 0.1 * e + 0.01 * s,
             "train_loss": 1.0 / e, "reset_fraction": np.nan if v == "softmax_ce" else 0.1 / e}
            for d in ("mnist", "cifar10") for v in ("softmax_ce", "sigmoid_mse_or") for s in (0, 1)
            for e in (1, 2, 3)]
    return pd.DataFrame(rows)


@pytest.fixture
def runs():
    rows = [{"dataset": d, "variant": v, "loss": v, "lr": lr, "seed": s, "status": "ok",
             "test_acc": 0.8 + 0.01 * s + (0.02 if v == "softmax_ce" else 0.0), "val_acc": 0.8}
            for d in ("mnist", "cifar10") for v in ACCURACY_LOSSES for lr in (0.1, 1.0) for s in (0, 1)]
    frame = pd.DataFrame(rows)
    frame.loc[(frame["lr"] == 1.0) & (frame["seed"] == 1), ["status", "test_acc", "val_acc"]] = ["diverged", np.nan,
                                                                                                   np.nan]
    return frame


def test_apply_style_sets_white_backgrounds_with_or_without_a_grid():
    with matplotlib.rc_context():
        for grid in (True, False):
            plots.apply_style(grid=grid)
            assert matplotlib.rcParams["figure.facecolor"] == "white"
            assert matplotlib.rcParams["savefig.facecolor"] == "white"
            assert matplotlib.rcParams["savefig.transparent"] is False
            assert matplotlib.rcParams["axes.grid"] is grid  # off for the loss-surface chapter's heatmaps


def test_figure_is_white_closed_in_pyplot_and_sized_per_panel():
    import matplotlib.pyplot as plt

    fig, axes = plots.figure(2, 3, (2.0, 1.5), extra_width=0.5, sharey="row")
    assert axes.shape == (2, 3) and _white(fig)
    assert tuple(fig.get_size_inches()) == (6.5, 3.0)
    assert fig.number not in plt.get_fignums()  # shown only where displayed or glued
    assert axes[0, 0].get_shared_y_axes().joined(axes[0, 0], axes[0, 2])


def test_pretty_names_every_loss_of_the_book_from_one_table():
    assert plots.pretty("sigmoid_mse_or (shift=False)") == "sigmoid-MSE + OR (shift=False)"
    assert [plots.pretty(loss) for loss in ("softmax_ce", "logit_mse", "gce", "symmetric_ce")] == [
        "softmax CE", "logit-MSE", "GCE", "SCE"]  # the result, loss-surface and noise chapters' losses
    assert plots.pretty("not_a_loss") == "not_a_loss"


def test_loss_labels_are_the_loss_registrys_display_names():
    from sigmse.losses.modules import LOSS_VARIANTS, LOSSES, display_name

    assert dict(plots.LOSS_LABELS) == {name: display_name(name) for name in (*LOSSES, *LOSS_VARIANTS)}


def test_palette():
    first, second = plots.palette(["sigmoid_mse_or", "softmax_ce"]), plots.palette(["softmax_ce", "zzz"])
    assert first["softmax_ce"] == second["softmax_ce"]  # a loss keeps its colour whatever else is drawn
    assert second["zzz"] not in [plots.palette(ACCURACY_LOSSES)[loss] for loss in ACCURACY_LOSSES]
    assert len(set(plots.palette(list(OUTPUT_RESET_VARIANTS)).values())) == len(OUTPUT_RESET_VARIANTS)


@pytest.mark.parametrize("band", ("range", "sd", "none"))
def test_curves_with_band(history, band):
    fig = plots.curves_with_band(history, y="test_acc", hue="variant", col="dataset", band=band,
                                 col_order=["mnist", "cifar10"])
    assert _white(fig) and len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["mnist", "cifar10"]
    assert fig.axes[0].get_xlabel() == "epoch" and fig.axes[0].get_ylabel() == "test accuracy"
    assert list(fig.axes[0].get_xticks()) == [1, 2, 3]
    line = fig.axes[0].get_lines()[0]  # softmax_ce on mnist, mean over seeds 0 and 1
    np.testing.assert_allclose(line.get_ydata(), [0.605, 0.705, 0.805])
    assert len(fig.axes[0].collections) == (0 if band == "none" else 2)
    assert fig.legends and [t.get_text() for t in fig.legends[0].get_texts()] == ["sigmoid-MSE + OR", "softmax CE"]
    assert _render(fig)


def test_curves_with_band_skips_missing_values_and_rejects_unknown_band(history):
    fig = plots.curves_with_band(history, y="reset_fraction", col=None, logy=True)
    assert len(fig.axes[0].get_lines()) == 1 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="band 'ci' is not allowed"):
        plots.curves_with_band(history, band="ci")


def test_point_ci_draws_one_row_per_level(runs):
    chosen = runs[runs["lr"] == runs["lr"].min()]  # one rate per loss, as the reporting runs have
    summary = analysis.summarize(chosen, "test_acc", ["dataset", "variant"])
    fig = plots.point_ci(summary, y="variant", runs=chosen, order=ACCURACY_LOSSES, col_order=["mnist", "cifar10"])
    assert _white(fig) and len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [plots.pretty(loss) for loss in ACCURACY_LOSSES]
    assert "test accuracy" in fig.axes[0].get_xlabel()
    assert _render(fig)


def test_metric_vs_lr_marks_diverged_runs(runs):
    fig = plots.metric_vs_lr(runs, hue="variant", hue_order=ACCURACY_LOSSES)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "learning rate" and ax.get_ylabel() == "test accuracy"
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == len(ACCURACY_LOSSES)  # one diverged run per loss, at chance
    assert all(np.allclose(line.get_ydata(), 0.1) for line in crosses)
    assert _render(fig)


def test_verdict_heatmap_annotates_every_cell(runs):
    chosen = runs[runs["lr"] == runs["lr"].min()]
    family = verdicts.holm_verdicts(verdicts.paired_tests(chosen, "test_acc", claim="equivalence",
                                                          margins=verdicts.ACCURACY_MARGINS))
    fig = plots.verdict_heatmap(family, index_order=["mnist", "cifar10"], column_order=ACCURACY_LOSSES)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 2 * (len(ACCURACY_LOSSES) - 1)
    # every loss is 2 pp behind softmax CE in both seeds: a spread of zero, so each cell reads "worse"
    assert [t.split("\n")[:2] for t in texts] == [["-2.00 pp", "worse"]] * len(texts)
    assert "sigmoid-MSE + OR" in [t.get_text() for t in ax.get_xticklabels()]
    assert _white(fig) and _render(fig)


def test_many_panels_wrap_into_rows_within_the_page_width(history):
    """Three 4.2-inch panels in one row would be 12.6 in (1260 px at 100 dpi): the book's ~700 px column shows
    that below half size. They wrap into two rows of at most FIGURE_WIDTH, and no empty slot is left."""
    three = pd.concat([history, history[history["dataset"] == "mnist"].assign(dataset="fashion-mnist")])
    fig = plots.curves_with_band(three, col_order=["mnist", "fashion-mnist", "cifar10"])
    width, height = fig.get_size_inches()
    assert width <= plots.FIGURE_WIDTH and plots.RC["figure.dpi"] * width <= 2 * 700
    assert [ax.get_title() for ax in fig.axes] == ["mnist", "fashion-mnist", "cifar10"]
    rows = sorted({round(ax.get_position().y0, 3) for ax in fig.axes})
    assert len(rows) == 2 and height > 2 * 3.0  # two rows of panels of their own height
    two = plots.curves_with_band(history, col_order=["mnist", "cifar10"])
    assert len({round(ax.get_position().y0, 3) for ax in two.axes}) == 1  # two panels still share a row
    assert two.get_size_inches()[0] <= plots.FIGURE_WIDTH


def test_heatmap_is_capped_at_one_and_a_half_page_widths():
    values = pd.DataFrame(np.arange(20.0).reshape(2, 10), columns=[f"c{i}" for i in range(10)])
    fig = plots.heatmap(values, panel=(1.9, 0.9))
    assert fig.get_size_inches()[0] == pytest.approx(1.5 * plots.FIGURE_WIDTH)
    assert _render(fig)


def test_a_heatmap_with_long_row_labels_widens_to_hold_them_and_wraps_its_title(recwarn):
    """The noise page's verdict grid: one column, rows such as "fashion-mnist · input (train+test) σ=0.4". At a
    fixed 2-inch margin its labels were cut and constrained layout gave up ("axes sizes collapsed to zero"); the
    margin now grows with the longest label, and a title longer than the cells and colour bar wraps."""
    rows = ["mnist · symmetric 0.4", "fashion-mnist · input (train+test) σ=0.4"]
    values = pd.DataFrame({"sigmoid_mse_or": [1.0, -2.0]}, index=rows)
    fig = plots.heatmap(values, panel=(1.9, 0.9), title="sigmoid-MSE + OR minus softmax CE, paired by seed")
    assert fig.get_size_inches()[0] == pytest.approx(1.9 + 0.85 + 0.085 * len(rows[1]))
    assert "\n" in fig.axes[0].get_title()
    assert _render(fig)
    assert not [w for w in recwarn if "constrained_layout not applied" in str(w.message)]
    short = plots.heatmap(pd.DataFrame(np.ones((2, 4)), index=["mnist", "fashion-mnist"]), panel=(1.9, 0.9),
                          title="test accuracy minus softmax CE's, same seeds")
    assert short.get_size_inches()[0] == pytest.approx(1.9 * 4 + 2.0)  # short labels keep the 2-inch margin
    assert "\n" not in short.axes[0].get_title()


def test_plateau_curves_shade_the_last_quarter_of_each_run_dataset_and_skip_the_others():
    """One panel per dataset with runs (CIFAR-10 has none and gets none), the shaded span from epoch ceil(0.75 E)
    to E, the gain in the title, the seed mean as the line; no runs at all still draws a figure that says so."""
    from sigmse.report import convergence

    rows = [{"hash": f"{d}-{s}", "dataset": d, "loss": "softmax_ce", "seed": s, "epoch": e,
             "val_acc": 0.9 + 0.01 * min(e, 6) + 0.002 * s}
            for d, epochs in (("mnist", 8), ("fashion-mnist", 12)) for s in (0, 1) for e in range(1, epochs + 1)]
    history = pd.DataFrame(rows)
    plateau = convergence.validation_plateau(history, {"mnist": 8, "fashion-mnist": 12, "cifar10": 10})
    fig = plots.plateau_curves(history, plateau)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["mnist", "fashion-mnist"]
    assert fig.axes[0].get_title().endswith("+0.00 pp") and _white(fig)
    spans = [patch for patch in fig.axes[1].patches]  # axvspan: a rectangle from epoch 9 to 12
    assert len(spans) == 1 and spans[0].get_x() == pytest.approx(9) and spans[0].get_width() == pytest.approx(3)
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata()[-1], 0.961)
    assert _render(fig)
    empty = plots.plateau_curves(history.iloc[:0], convergence.validation_plateau(history.iloc[:0], {"cifar10": 10}))
    assert "no softmax CE runs yet" in [t.get_text() for t in empty.axes[0].texts] and _render(empty)
