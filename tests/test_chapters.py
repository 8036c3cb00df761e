"""Tests of sigmse.report.chapters against hand-computed numbers, on small hand-made records (no training).

The records, frames and the Student-t quantile are those of ``tests/test_analysis.py``, whose frames these
helpers format.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scipy")

from test_analysis import T_975_2DOF, _frame, _record  # noqa: E402

from sigmse.report import chapters, verdicts  # noqa: E402


def _paired_frame(baseline, other, name="sigmoid_mse_or"):
    """Reporting runs of softmax CE (``baseline`` per seed) and ``name`` (``other``) on MNIST at lr 0.1."""
    rows = [{"dataset": "mnist", "loss": loss, "seed": s, "lr": 0.1, "test_acc": v, "status": "ok"}
            for loss, values in (("softmax_ce", baseline), (name, other)) for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_headline_and_comparison_tables_format_hand_computed_numbers():
    """Differences 0.01, 0.03, 0.02: mean 2.00 pp, sd 1 pp, 95% CI 2 ± 4.303/sqrt(3) pp; one-sided p of better
    with t = 2 sqrt(3) on 2 dof: (1 - t / sqrt(2 + t^2)) / 2 = 0.0371; the family holds 3 p-values."""
    frame = _paired_frame([0.90, 0.92, 0.94], [0.91, 0.95, 0.96])
    table = chapters.headline_table(frame, orders={"loss": ["sigmoid_mse_or", "softmax_ce"]})
    assert list(table.index.get_level_values("loss")) == ["sigmoid_mse_or", "softmax_ce"]
    row = table.loc[("mnist", "softmax_ce")]
    half = 100 * T_975_2DOF * 0.02 / math.sqrt(3)
    assert row["test acc (%)"] == "92.00 \u00b1 2.00" and row["seeds"] == "3"
    assert row["95% CI (%)"] == f"[{92 - half:.2f}, {92 + half:.2f}]" and row["lr"] == "0.1"
    family = verdicts.holm_verdicts(verdicts.paired_tests(frame, "test_acc", claim="equivalence", margins=0.005))
    t = 2 * math.sqrt(3)
    assert family["p_better"].iloc[0] == pytest.approx((1 - t / math.sqrt(2 + t * t)) / 2)
    printed = chapters.comparison_table(family, keys=["dataset", "loss"]).iloc[0]
    half = 100 * T_975_2DOF * 0.01 / math.sqrt(3)
    assert printed["difference [95% CI] (pp)"] == f"+2.00 [{2 - half:.2f}, {2 + half:.2f}]"
    assert printed["margin (pp)"] == "\u00b10.50" and printed["seeds"] == 3
    assert printed["verdict"] == "inconclusive"  # 3 x 0.0371 = 0.111 after Holm
    assert printed["p (Holm)"] == "1.000"  # inconclusive shows the claim's primary hypothesis: equivalence
    cells = chapters.claim_cells("claim_x", family.iloc[0].to_dict(), "quick")
    effect = f"+2.00 pp [{2 - half:.2f}, {2 + half:.2f}]".replace("-", "\u2212")  # prose: a true minus sign
    assert cells == {"claim_x": "inconclusive", "claim_x_effect": effect,
                     "claim_x_margin": "\u00b10.50 pp", "claim_x_seeds": "3", "claim_x_profile": "quick"}


def test_calibration_table_shows_raw_and_temperature_scaled_figures():
    frame = _paired_frame([0.9, 0.9], [0.9, 0.9]).assign(test_ece=[0.05, 0.07, 0.1, 0.1], test_ece_ts=0.02,
                                                         test_nll=0.3, test_nll_ts=0.25, temperature=[1.5, 2.5, 1, 1])
    row = chapters.calibration_table(frame).loc[("mnist", "softmax_ce")]
    assert row["ECE"] == "0.060 \u00b1 0.014" and row["ECE (TS)"] == "0.020 \u00b1 0.000" and row["T"] == "2.00"


def test_keyed_values_are_plain_floats_with_nan_for_missing():
    summary = pd.DataFrame({"dataset": ["fashion-mnist"], "loss": ["softmax_ce"], "mean": [np.float64(0.9)]})
    values = chapters.keyed_values(summary, "acc", ["fashion-mnist", "cifar10"], ["softmax_ce"])
    assert values["acc_fashion_mnist_softmax_ce"] == 0.9 and type(values["acc_fashion_mnist_softmax_ce"]) is float
    assert math.isnan(values["acc_cifar10_softmax_ce"])


def test_lr_sweep_table_and_verdict():
    frame = _frame([("sigmoid_mse", 0.1, 0, 0.5, 0.5, "ok"), ("sigmoid_mse", 1.0, 0, 0.9, 0.9, "ok"),
                    ("sigmoid_mse_or", 0.1, 0, 0.85, 0.85, "ok"),
                    ("sigmoid_mse_or", 1.0, 0, np.nan, np.nan, "diverged")])
    table = chapters.lr_sweep_table(frame, by=("dataset", "loss"))
    assert table.loc[("mnist", "sigmoid_mse"), "lr=1"] == 0.9
    assert table.loc[("mnist", "sigmoid_mse_or"), "diverged"] == 1
    assert table["usable lrs"].to_dict() == {("mnist", "sigmoid_mse"): 1, ("mnist", "sigmoid_mse_or"): 1}
    assert chapters.lr_sweep_verdict(frame) == ("sigmoid_mse_or is ahead of sigmoid_mse by more than 5 pp at 1 of 2 "
                                                "learning rates (0.1), behind at 1 (1), within 5 pp at 0")




def test_ablation_names_and_page_note():
    names = chapters.ablation_names()
    assert names["sigmoid_mse"] == "no reset, targets 1/0"
    assert names["sigmoid_mse_or (shift=True, pos=0.9, neg=0.1)"] == "reset with shift, targets 0.9/0.1"
    assert chapters.page_note([_record()], "smoke").startswith("SMOKE PROFILE")
    assert chapters.page_note([_record()], "quick").startswith("1 runs")


def test_grid_edges_flags_rates_at_either_end():
    frame = _frame([(v, lr, 0, val, 0.5, "ok") for v, vals in (("a", (0.9, 0.5, 0.4)), ("b", (0.4, 0.9, 0.5)),
                                                                 ("c", (0.4, 0.5, 0.9)))
                    for lr, val in zip((0.01, 0.1, 1.0), vals)])
    report = frame.loc[frame.groupby("variant")["val_acc"].idxmax()]  # the rate each variant chose
    edges = chapters.grid_edges(report, frame)
    assert edges[["variant", "chosen_lr", "edge"]].values.tolist() == [["a", 0.01, "smallest"], ["c", 1.0, "largest"]]


@pytest.mark.slow
@pytest.mark.shared_data
def test_experiment_records_says_when_it_trains_missing_runs_and_is_silent_once_stored(shared_data_dir, tmp_path,
                                                                                       capsys):
    """A first call trains the smoke MNIST selection runs, then the reporting runs they choose, and prints how many
    and how to train them in parallel; a second call loads the same records and prints nothing."""
    first = chapters.experiment_records("accuracy", "smoke", results_dir=str(tmp_path), data_dir=str(shared_data_dir),
                                        datasets=["mnist"])
    total = len(first.selection) + len(first.report)
    line = capsys.readouterr().out
    assert line.startswith(f"accuracy: {total} of {total} runs are not in {tmp_path}/smoke/ and train now")
    assert "--sweep-jobs N" in line
    assert {r["config"]["seed"] for r in first.report}.isdisjoint(r["config"]["seed"] for r in first.selection)
    second = chapters.experiment_records("accuracy", "smoke", results_dir=str(tmp_path),
                                         data_dir=str(shared_data_dir), datasets=["mnist"])
    assert capsys.readouterr().out == ""
    assert [r["config"] for r in second.report] == [r["config"] for r in first.report]


def test_context_comparisons_are_shown_without_a_verdict_or_p():
    frame = _paired_frame([0.90, 0.92, 0.94], [0.91, 0.95, 0.96], name="sigmoid_mse")
    tests = verdicts.paired_tests(frame, "test_acc", claim="equivalence", margins=0.005)
    row = chapters.difference_table(tests).loc[("mnist", "sigmoid_mse")]
    half = 100 * T_975_2DOF * 0.01 / math.sqrt(3)
    assert row.to_dict() == {"seeds": 3, "difference [95% CI] (pp)": f"+2.00 [{2 - half:.2f}, {2 + half:.2f}]"}
    assert math.isnan(verdicts.decisive_p({**tests.iloc[0].to_dict(), "verdict": verdicts.NOT_JUDGED}))


def test_glue_hides_the_value_and_makes_numpy_and_torch_scalars_plain_numbers(monkeypatch):
    """Every chapter glues through chapters.glue: myst_nb.glue with display=False, given a plain Python number
    for a 0-d numpy or torch value (MyST-NB formats np.float64(0.5) by its repr), anything else as it is."""
    myst_nb = pytest.importorskip("myst_nb")
    torch = pytest.importorskip("torch")
    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: calls.append((key, value, display)))
    figure_like = object()
    chapters.glue("a", np.float64(0.5))
    chapters.glue_all({"b": torch.tensor(3), "c": np.array(2.5), "d": "text", "e": figure_like})
    assert calls == [("a", 0.5, False), ("b", 3, False), ("c", 2.5, False), ("d", "text", False),
                     ("e", figure_like, False)]
    assert [type(value) for _, value, _ in calls[:3]] == [float, int, float]
