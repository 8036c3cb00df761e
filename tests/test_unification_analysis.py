"""Tests of sigmse.unification_analysis: the table over seeds and the verdicts in words, on hand-made records."""

from __future__ import annotations

import pytest

from sigmse import unification_analysis as ua
from sigmse.unification_config import METHODS


def test_table_and_verdict():
    def record(method, seed, acc, rmse):
        metrics = {"train_seconds": 7.0, "test_acc": acc, "test_rmse_angle": rmse, "test_r2_angle": 0.5}
        history = [{"seconds": 1.0}, {"seconds": 5.0}, {"seconds": 1.0 + seed}]  # median: 1 + seed
        return {"status": "ok", "config": {"method": method, "seed": seed}, "metrics": metrics, "history": history}

    records = [record(m, s, 0.9 + 0.002 * s, 10.0 + 0.1 * s) for m in METHODS for s in (0, 1)]
    table = ua.unification_table(records)
    assert list(table.index) == list(METHODS) and (table.runs == 2).all()
    assert table.loc["separate_heads", "acc_mean"] == pytest.approx(0.901)
    assert table.loc["separate_heads", "seconds_mean"] == pytest.approx(1.5)  # mean over seeds of the medians
    assert ua.unification_verdict(table).startswith("one MSE objective (unified sigmoid-MSE + OR) does both tasks as")
    assert ua.unification_versus_single(table) == ("unified sigmoid-MSE + OR is level with the classifier alone on "
                                                  "accuracy (90.1 % vs 90.1 %) and level with the regressor alone on "
                                                  "the angle (10.1° vs 10.1°)")
    numbers = ua.unification_numbers(table)
    assert numbers["unified_mse_acc"] == pytest.approx(90.1) and type(numbers["unified_mse_acc"]) is float
    table.loc["unified_mse_or", "rmse_mean"] = 15.0
    assert "level with separate heads (CE + MSE) on accuracy and worse than it on the angle" in \
        ua.unification_verdict(table)
    assert "worse than the regressor alone on the angle (15.0° vs 10.1°)" in ua.unification_versus_single(table)
    assert ua.unification_verdict(table.drop(index="separate_heads")).startswith("no verdict: separate heads")
