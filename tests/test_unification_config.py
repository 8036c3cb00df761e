"""Tests of sigmse.unification.config: config errors quote the value and the allowed ones, the identity of a run,
and the validation score worked out by hand. The runs of each profile are tested in test_profiles.py, the
learning-rate choice in test_unification_analysis.py."""

from __future__ import annotations

import json

import pytest

from sigmse.unification.config import UnificationConfig, unification_config_from_dict, validation_score


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
