"""Tests of sigmse.chapters against hand-computed numbers, on small hand-made records (no training).

The records, frames and the Student-t quantile are those of ``tests/test_analysis.py``, whose frames these
helpers format.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scipy")

from test_analysis import T_975_2DOF, _frame, _paired_frame, _record  # noqa: E402

from sigmse import analysis, chapters  # noqa: E402


def test_headline_and_comparison_tables_format_hand_computed_numbers():
    frame = _paired_frame([0.90, 0.92, 0.94], [0.91, 0.95, 0.96]).assign(
        chosen_lr=0.1, test_ece=0.05, test_nll=0.25, status="ok")
    table = chapters.headline_table(frame, orders={"loss": ["sigmoid_mse_or", "softmax_ce"]})
    assert list(table.index.get_level_values("loss")) == ["sigmoid_mse_or", "softmax_ce"]
    row = table.loc[("mnist", "softmax_ce")]
    half = 100 * T_975_2DOF * 0.02 / math.sqrt(3)
    assert row["test acc (%)"] == "92.00 \u00b1 2.00" and row["seeds"] == "3"
    assert row["95% CI (%)"] == f"[{92 - half:.2f}, {92 + half:.2f}]" and row["lr (chosen on val)"] == "0.1"
    assert row["ECE"] == "0.050 \u00b1 0.000"
    printed = chapters.comparison_table(analysis.paired_comparison(frame, "test_acc")).iloc[0]
    assert printed["difference (pp)"] == "+2.00" and printed["p (paired t)"] == "0.074"
    assert printed["verdict"] == "same" and printed["vs"] == "softmax_ce"


def test_keyed_values_are_plain_floats_with_nan_for_missing():
    summary = pd.DataFrame({"dataset": ["fashion-mnist"], "loss": ["softmax_ce"], "mean": [np.float64(0.9)]})
    values = chapters.keyed_values(summary, "acc", ["fashion-mnist", "cifar10"], ["softmax_ce"])
    assert values["acc_fashion_mnist_softmax_ce"] == 0.9 and type(values["acc_fashion_mnist_softmax_ce"]) is float
    assert math.isnan(values["acc_cifar10_softmax_ce"])


def test_convergence_verdict_counts_levels():
    table = pd.DataFrame({"dataset": ["mnist"] * 4, "fraction": [0.9, 0.9, 0.99, 0.99],
                          "variant": ["softmax_ce", "sigmoid_mse_or"] * 2, "epoch": [2.0, 1.0, 3.0, np.nan]})
    assert chapters.convergence_verdict(table) == ("mixed: sigmoid_mse_or reaches 1 of 2 accuracy levels in no more "
                                                   "epochs than softmax_ce (1 sooner, 1 later)")
    assert chapters.convergence_verdict(table[table["variant"] == "softmax_ce"]) == "not run"


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
    edges = chapters.grid_edges(analysis.select_learning_rates(frame), frame)
    assert edges[["variant", "chosen_lr", "edge"]].values.tolist() == [["a", 0.01, "smallest"], ["c", 1.0, "largest"]]


@pytest.mark.slow
@pytest.mark.shared_data
def test_experiment_records_says_when_it_trains_missing_runs_and_is_silent_once_stored(shared_data_dir, tmp_path,
                                                                                       capsys):
    """A first call trains the smoke MNIST runs and prints how many and how to train them in parallel; a second
    call loads the same records and prints nothing."""
    first = chapters.experiment_records("accuracy", "smoke", results_dir=str(tmp_path), data_dir=str(shared_data_dir),
                                        datasets=["mnist"])
    line = capsys.readouterr().out
    assert line.startswith(f"accuracy: {len(first)} of {len(first)} runs are not in {tmp_path}/smoke/ and train now")
    assert "--sweep-jobs N" in line
    second = chapters.experiment_records("accuracy", "smoke", results_dir=str(tmp_path),
                                         data_dir=str(shared_data_dir), datasets=["mnist"])
    assert capsys.readouterr().out == ""
    assert [r["config"] for r in second] == [r["config"] for r in first]
