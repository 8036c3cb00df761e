"""Tests of sigmse.unification.config: config errors quote the value and the allowed ones, the identity of a run,
the runs of each profile, the validation score worked out by hand, and the learning-rate choice (validation only,
reported with fresh seeds)."""

from __future__ import annotations

import json

import pytest

from sigmse.runs.profiles import get_profile
from sigmse.runs.protocol import report_configs
from sigmse.unification.analysis import chosen_learning_rates
from sigmse.unification.config import (METHODS, UnificationConfig, selection_configs, unification_config_from_dict,
                                       unification_lr_grid, validation_score)


# ---- config ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value, pattern", [
    ("method", "unified", r"method 'unified' is not allowed; choose one of: unified_mse, unified_mse_or, "
                          r"separate_heads, classifier_only, regressor_only"),
    ("dataset", "cifar10", r"dataset 'cifar10' is not allowed; choose one of: mnist, fashion-mnist"),
    ("targets", ("angle", "scale"), r"regression target 'scale' is not allowed; choose one of: angle, ink"),
    ("targets", (), r"targets must be a non-empty list of distinct names from angle, ink; got \(\)"),
    ("targets", ("angle", "angle"), r"got \('angle', 'angle'\)"),
    ("max_angle", 0.0, r"max_angle must be in \(0.0, 180.0\], got 0.0"),
    ("max_angle", 200, r"max_angle must be in \(0.0, 180.0\], got 200"),
    ("epochs", 0, r"epochs must be in \[1, inf\], got 0"),
    ("lr", -1e-3, r"lr must be in \(0.0, inf\], got -0.001"),
    ("batch_size", 2.5, r"batch_size must be an integer, got 2.5"),
    ("train_subset", 0, r"train_subset must be in \[1, inf\], got 0"),
    ("seed", True, r"seed must be an integer, got True"),
    ("device", "tpu", r"device 'tpu' is not allowed; choose one of: auto, cpu, cuda"),
])
def test_config_errors_quote_the_value_and_the_allowed_ones(field, value, pattern):
    with pytest.raises(ValueError, match=pattern):
        UnificationConfig(**{field: value})


def test_config_identity():
    a = UnificationConfig(targets=("ink", "angle"), device="cpu")
    assert a.targets == ("angle", "ink")  # canonical order
    assert a.hash == UnificationConfig(targets=["angle", "ink"], device="cuda").hash  # device is not identity
    assert a.hash != a.with_(seed=1).hash and a.hash != a.with_(lr=3e-3).hash and len(a.hash) == 16
    assert unification_config_from_dict(json.loads(json.dumps(a.to_dict()))) == a
    with pytest.raises(ValueError, match=r"unknown config key 'loss'; known keys: angle_seed, batch_size"):
        unification_config_from_dict({**a.to_dict(), "loss": "mse"})


# ---- which runs -----------------------------------------------------------------------------------------


def test_selection_runs_of_each_profile():
    quick = selection_configs("quick")
    grid = get_profile("quick").budgets["mnist"].lr_grid
    assert unification_lr_grid("quick") == grid and len(grid) == 5
    assert len(quick) == len(METHODS) * len(grid) * 2 and {c.method for c in quick} == set(METHODS)
    assert {c.seed for c in quick} == set(get_profile("quick").selection_seeds) == {0, 1}
    assert {c.lr for c in quick} == set(grid)
    assert {(c.train_subset, c.epochs, c.val_size) for c in quick} == {(5000, 3, 5000)}  # a validation split
    assert selection_configs("paper") == []  # CIFAR-10 only since issue 24: its MNIST budget has no rates
    smoke = selection_configs("smoke", seeds=[3], device="cpu")
    assert {c.device for c in smoke} == {"cpu"} and {c.seed for c in smoke} == {3} and len(smoke) == 10
    with pytest.raises(ValueError, match="unknown profile 'fast'; choose one of: smoke, quick, full, full2, paper"):
        selection_configs("fast")


def ok(**metrics) -> dict:
    return {"status": "ok", "metrics": metrics}


def test_validation_score_by_hand():
    cls, reg, both = (UnificationConfig(method=m) for m in ("classifier_only", "regressor_only", "unified_mse"))
    # accuracy 0.91: error 0.09 of chance error 0.9 -> 1 - 0.1 = 0.9; R^2 0.75: RMSE/SD = 0.5 -> 0.5
    assert validation_score(cls, ok(val_acc=0.91)) == pytest.approx(0.9, abs=1e-12)
    assert validation_score(reg, ok(val_r2_angle=0.75)) == pytest.approx(0.5, abs=1e-12)
    assert validation_score(both, ok(val_acc=0.91, val_r2_angle=0.75)) == pytest.approx(0.7, abs=1e-12)
    assert validation_score(both, ok(val_acc=0.05, val_r2_angle=-0.5)) == 0.0  # worse than trivial: clipped at 0
    assert validation_score(both, {"status": "diverged", "metrics": {}}) == 0.0  # the worst score
    two = UnificationConfig(method="separate_heads", targets=("angle", "ink"))
    # R^2 0.75 and 0.96: (0.5 + 0.8) / 2 = 0.65, then with accuracy 0.9: (0.65 + 0.9) / 2
    assert validation_score(two, ok(val_acc=0.91, val_r2_angle=0.75, val_r2_ink=0.96)) == pytest.approx(0.775)
    with pytest.raises(ValueError, match=r"has no val_r2_angle: choosing a learning rate needs the validation "
                                         r"metrics \(val_size is 5000\)"):
        validation_score(both, ok(val_acc=0.9, test_r2_angle=0.9))


class ValidationOnly(dict):
    """Metrics that fail the test if anything reads a test metric."""

    def __getitem__(self, key):
        assert not key.startswith("test_"), f"the learning-rate choice read {key}"
        return super().__getitem__(key)

    def get(self, key, default=None):
        assert not key.startswith("test_"), f"the learning-rate choice read {key}"
        return super().get(key, default)


def test_choice_picks_the_best_validation_rate_reads_no_test_metric_and_reports_with_fresh_seeds():
    selection = [UnificationConfig(method=m, lr=lr, seed=s, device="cpu")
                 for m in METHODS for lr in (1e-3, 3e-3, 1e-2) for s in (0, 1)]
    # validation accuracy per (lr, seed); the test accuracy would pick 1e-2 everywhere
    val = {(1e-3, 0): 0.80, (1e-3, 1): 0.82, (3e-3, 0): 0.85, (3e-3, 1): 0.84, (1e-2, 0): 0.95, (1e-2, 1): None}
    tie = {1e-3: 0.90, 3e-3: 0.90, 1e-2: 0.70}  # the classifier: a tie between 1e-3 and 3e-3

    def record(config):
        if config.method == "classifier_only":
            acc = tie[config.lr]
        else:
            acc = val[(config.lr, config.seed)]
        if acc is None:  # 1e-2 diverges with seed 1: scores 0, so its mean (0.95 + 0) / 2 loses
            return {"status": "diverged", "metrics": ValidationOnly(test_acc=1.0)}
        return {"status": "ok", "metrics": ValidationOnly(val_acc=acc, val_r2_angle=acc, test_acc=1.0,
                                                          test_rmse_angle=0.0, test_r2_angle=1.0)}

    records = [record(c) for c in selection]
    chosen = chosen_learning_rates(selection, records)
    assert chosen == {"unified_mse": 3e-3, "unified_mse_or": 3e-3, "separate_heads": 3e-3, "classifier_only": 1e-3,
                      "regressor_only": 3e-3}
    report = report_configs(selection, records, report_seeds=(2, 3, 4), score=validation_score)
    assert len(report) == len(METHODS) * 3
    assert {(c.method, c.lr, c.seed) for c in report} == {(m, chosen[m], s) for m in METHODS for s in (2, 3, 4)}
    assert all(c.with_(lr=1e-3, seed=0) in selection for c in report)  # only lr and seed changed
    with pytest.raises(ValueError, match=r"reporting seeds \[1\] are also selection seeds"):
        report_configs(selection, records, report_seeds=(1, 2), score=validation_score)
