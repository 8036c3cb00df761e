"""Tests of sigmse.unification_config: config errors quote the value and the allowed ones, the identity of a run,
and the runs of each profile."""

from __future__ import annotations

import json

import pytest

from sigmse.unification_config import (METHODS, UnificationConfig, unification_config_from_dict,
                                       unification_configs)


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
    assert a.hash != a.with_(seed=1).hash and len(a.hash) == 16
    assert unification_config_from_dict(json.loads(json.dumps(a.to_dict()))) == a
    with pytest.raises(ValueError, match=r"unknown config key 'loss'; known keys: angle_seed, batch_size"):
        unification_config_from_dict({**a.to_dict(), "loss": "mse"})


def test_profiles_give_the_budgets():
    quick = unification_configs("quick")
    assert len(quick) == 15 and {c.method for c in quick} == set(METHODS)
    assert {(c.train_subset, c.epochs, c.seed) for c in quick} == {(5000, 3, 0), (5000, 3, 1), (5000, 3, 2)}
    paper = unification_configs("paper")
    assert {(c.train_subset, c.epochs, c.device) for c in paper} == {(None, 20, "cuda")} and len(paper) == 25
    assert {c.device for c in unification_configs("smoke", seeds=[3], device="cpu")} == {"cpu"}
    with pytest.raises(ValueError, match="unknown profile 'fast'; choose one of: smoke, quick, paper"):
        unification_configs("fast")
