"""Losses, modules and registry against independent references.

Every loss is compared with a naive float64 reference written here in plain Python (``math``, loops over
samples and classes, formulas as printed in the papers), for every reduction, at rtol 1e-10 / atol 1e-12.
Gradients are checked by finite differences (``torch.autograd.gradcheck``, float64).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from sigmse.losses import functional
from sigmse.losses.modules import (
    LOSSES,
    LossSpec,
    SigmoidMSEOutputResetLoss,
    class_probabilities,
    get_loss,
    loss_names,
    loss_options,
)
from sigmse.losses.output_reset import output_reset, reset_count

N, C = 6, 5
REDUCTIONS = ("none", "mean", "sum")


def _batch(seed: int = 0, scale: float = 3.0, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(N, C, generator=generator, dtype=dtype)
    return logits, torch.randint(C, (N,), generator=generator)


# ---- naive references: one sample, plain Python ------------------------------------------------------


def _softmax(z: list[float]) -> list[float]:
    top = max(z)
    e = [math.exp(v - top) for v in z]
    return [v / sum(e) for v in e]


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def ref_softmax_ce(z: list[float], c: int) -> float:
    return -math.log(_softmax(z)[c])


def ref_sigmoid_mse(z: list[float], c: int, pos: float = 1.0, neg: float = 0.0) -> float:
    return sum((_sigmoid(v) - (pos if i == c else neg)) ** 2 for i, v in enumerate(z))


def ref_sigmoid_mse_or(z: list[float], c: int, pos: float = 1.0, neg: float = 0.0, shift: bool = True) -> float:
    """min over a of sum_i (t_i + a + d_i - y_i)^2, d the best one-sided resets for a; ternary search."""
    y = [_sigmoid(v) for v in z]
    t = [pos if i == c else neg for i in range(len(z))]

    def error(a: float) -> float:
        total = 0.0
        for i in range(len(z)):
            r = y[i] - t[i]
            d = max(0.0, r - a) if i == c else min(0.0, r - a)
            total += (t[i] + a + d - y[i]) ** 2
        return total

    if not shift:
        return error(0.0)
    lo, hi = -3.0, 3.0  # the optimal shift lies within the residuals' range, here inside (-1, 1)
    for _ in range(200):  # convex: ternary search shrinks the bracket by 2/3 a step
        m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        lo, hi = (lo, m2) if error(m1) <= error(m2) else (m1, hi)
    return error((lo + hi) / 2)


def ref_softmax_mse(z: list[float], c: int) -> float:
    return sum((p - (1.0 if i == c else 0.0)) ** 2 for i, p in enumerate(_softmax(z)))


def ref_rescaled_square(z: list[float], c: int, k: float = 1.0, M: float = 1.0) -> float:
    return sum(k * (v - M) ** 2 if i == c else v**2 for i, v in enumerate(z))


def ref_mae(z: list[float], c: int) -> float:
    return sum(abs(p - (1.0 if i == c else 0.0)) for i, p in enumerate(_softmax(z)))


def ref_gce(z: list[float], c: int, q: float = 0.7) -> float:
    return (1.0 - _softmax(z)[c] ** q) / q


def ref_symmetric_ce(z: list[float], c: int, alpha: float = 0.1, beta: float = 1.0, log_clip: float = -4.0) -> float:
    p = _softmax(z)
    log_label = [0.0 if i == c else log_clip for i in range(len(z))]  # log of the one-hot label, log 0 clipped
    return -alpha * math.log(p[c]) - beta * sum(p_i * log_q for p_i, log_q in zip(p, log_label))


REFERENCES: dict[str, Callable[..., float]] = {
    "softmax_ce": ref_softmax_ce,
    "sigmoid_mse": ref_sigmoid_mse,
    "sigmoid_mse_or": ref_sigmoid_mse_or,
    "softmax_mse": ref_softmax_mse,
    "rescaled_square": ref_rescaled_square,
    "mae": ref_mae,
    "gce": ref_gce,
    "symmetric_ce": ref_symmetric_ce,
}

# (loss, options): the defaults and, where a loss has options, non-default values.
CASES = [
    ("softmax_ce", {}),
    ("sigmoid_mse", {}),
    ("sigmoid_mse", {"pos": 0.9, "neg": 0.1}),
    ("sigmoid_mse_or", {}),
    ("sigmoid_mse_or", {"pos": 0.9, "neg": 0.1}),
    ("sigmoid_mse_or", {"shift": False, "pos": 0.8, "neg": 0.3}),
    ("softmax_mse", {}),
    ("rescaled_square", {}),
    ("rescaled_square", {"k": 3.0, "M": 2.0}),
    ("mae", {}),
    ("gce", {}),
    ("gce", {"q": 0.3}),
    ("gce", {"q": 1.0}),
    ("symmetric_ce", {}),
    ("symmetric_ce", {"alpha": 0.5, "beta": 2.0, "log_clip": -6.0}),
]
CASE_IDS = [name + "".join(f"-{k}={v}" for k, v in options.items()) for name, options in CASES]


def _reference(name: str, logits: Tensor, labels: Tensor, reduction: str, options: dict) -> Tensor:
    per_sample = [REFERENCES[name](z, c, **options) for z, c in zip(logits.tolist(), labels.tolist())]
    reduced = {"none": per_sample, "mean": sum(per_sample) / len(per_sample), "sum": sum(per_sample)}[reduction]
    return torch.tensor(reduced, dtype=torch.float64)


# ---- values and gradients ------------------------------------------------------------------------------


def test_every_registered_loss_has_a_reference_and_a_function() -> None:
    """The registry, sigmse.losses.functional and these references name the same losses."""
    assert set(LOSSES) == set(REFERENCES) == set(functional.__all__) == {name for name, _ in CASES}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
def test_loss_matches_naive_float64_reference(name: str, options: dict, reduction: str) -> None:
    """Value of every loss and reduction equals the plain-Python formula to rtol 1e-10, atol 1e-12."""
    logits, labels = _batch()
    got = getattr(functional, name)(logits, labels, reduction=reduction, **options)
    torch.testing.assert_close(got, _reference(name, logits, labels, reduction, options), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
def test_gradient_matches_finite_differences(name: str, options: dict, reduction: str) -> None:
    """float64 gradcheck of every loss w.r.t. the logits.

    For sigmoid_mse_or the finite differences recompute the Output Reset targets while autograd holds them
    fixed; they agree because the OR error is a squared distance to a convex cone, whose gradient is the
    gradient with the minimising targets held fixed (Danskin's theorem).
    """
    logits, labels = _batch(seed=1, scale=2.0)
    loss = getattr(functional, name)
    assert torch.autograd.gradcheck(
        lambda z: loss(z, labels, reduction=reduction, **options), (logits.requires_grad_(),), eps=1e-6, atol=1e-7
    )


def test_output_reset_gradient_is_the_gradient_with_targets_detached() -> None:
    """The defined OR gradient: gradcheck passes for the loss with targets computed once and frozen, and
    sigmoid_mse_or's autograd gradient equals that frozen-target gradient."""
    logits, labels = _batch(seed=2, scale=2.0)
    targets = output_reset(torch.sigmoid(logits), labels).targets  # computed once, frozen

    def frozen(z: Tensor) -> Tensor:
        return (torch.sigmoid(z) - targets).square().sum(dim=1).mean()

    z = logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(frozen, (z,), eps=1e-6, atol=1e-7)
    (expected,) = torch.autograd.grad(frozen(z), z)
    (got,) = torch.autograd.grad(functional.sigmoid_mse_or(z, labels), z)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-15)


def test_half_precision_logits_are_computed_in_float32() -> None:
    """bfloat16 logits give a float32 loss equal to the loss of the float32 logits."""
    logits, labels = _batch(dtype=torch.float32)
    logits = logits.bfloat16()
    for name in loss_names():
        loss = getattr(functional, name)(logits, labels)
        assert loss.dtype == torch.float32
        torch.testing.assert_close(loss, getattr(functional, name)(logits.float(), labels), rtol=0, atol=0)


# ---- modules ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
def test_module_equals_functional_form(name: str, options: dict, reduction: str) -> None:
    """get_loss(name, **options)(z, c) is exactly sigmse.losses.functional.<name>(z, c, **options)."""
    logits, labels = _batch(seed=3)
    module = get_loss(name, reduction=reduction, **options)
    expected = getattr(functional, name)(logits, labels, reduction=reduction, **options)
    torch.testing.assert_close(module(logits, labels), expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_module_defaults_equal_functional_defaults(name: str) -> None:
    """loss_options(name) lists the functional form's keyword-only options with the same defaults."""
    parameters = inspect.signature(getattr(functional, name)).parameters.values()
    expected = {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert loss_options(name) == expected


def test_only_output_reset_module_records_reset_count() -> None:
    """reset_count is None on every other module; after a forward of the OR module it is the detached
    0-dim int64 count of reset outputs in that batch."""
    logits, labels = _batch(seed=4)
    for name in loss_names():
        if name != "sigmoid_mse_or":
            module = get_loss(name)
            module(logits, labels)
            assert module.reset_count is None
    module = get_loss("sigmoid_mse_or")
    assert module.reset_count is None
    module(logits.requires_grad_(), labels)
    expected = reset_count(output_reset(torch.sigmoid(logits), labels))
    assert isinstance(module, SigmoidMSEOutputResetLoss)
    assert module.reset_count.dtype == torch.int64 and module.reset_count.ndim == 0
    assert not module.reset_count.requires_grad
    assert module.reset_count == expected and 0 < expected < N * C


def test_module_repr_shows_options() -> None:
    assert repr(get_loss("gce", q=0.5)) == "GCELoss(reduction='mean', q=0.5)"


# ---- registry --------------------------------------------------------------------------------------------


def test_registry_entries_are_frozen_lowercase_and_sorted() -> None:
    assert loss_names() == sorted(LOSSES)
    for key, spec in LOSSES.items():
        assert key == spec.name == key.lower() and spec.probabilities in ("softmax", "sigmoid")
    with pytest.raises(dataclasses.FrozenInstanceError):
        LOSSES["gce"].name = "other"  # type: ignore[misc]
    assert isinstance(LOSSES["gce"], LossSpec)


def test_unknown_loss_name_lists_valid_names() -> None:
    with pytest.raises(ValueError) as error:
        get_loss("cross_entropy")
    assert "unknown loss 'cross_entropy'; valid names: " + ", ".join(sorted(LOSSES)) in str(error.value)
    for call in (lambda: loss_options("Softmax_CE"), lambda: class_probabilities(torch.zeros(1, 2), "x")):
        with pytest.raises(ValueError, match="unknown loss"):
            call()


def test_unknown_option_names_it_and_the_allowed_ones() -> None:
    with pytest.raises(ValueError) as error:
        get_loss("gce", qq=0.5)
    assert str(error.value) == "unknown option(s) ['qq'] for loss 'gce'; allowed: ['q', 'reduction']"


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("gce", {"q": 0.0}, "q must lie in (0, 1], got q=0.0"),
        ("gce", {"q": 1.5}, "got q=1.5"),
        ("sigmoid_mse", {"pos": 0.5, "neg": 0.5}, "pos must be greater than neg, got pos=0.5, neg=0.5"),
        ("sigmoid_mse_or", {"pos": 0.0, "neg": 1.0}, "got pos=0.0, neg=1.0"),
        ("sigmoid_mse_or", {"iterations": 0}, "iterations must be None (exact solver) or an int >= 1, got 0"),
        ("rescaled_square", {"k": 0.0}, "k and M must be positive, got k=0.0, M=1.0"),
        ("rescaled_square", {"M": -1.0}, "got k=1.0, M=-1.0"),
        ("symmetric_ce", {"log_clip": 0.0}, "log_clip must be negative (it stands for log 0), got log_clip=0.0"),
        ("symmetric_ce", {"alpha": 0.0, "beta": 0.0}, "not both 0, got alpha=0.0, beta=0.0"),
        ("symmetric_ce", {"beta": -1.0}, "got alpha=0.1, beta=-1.0"),
    ],
)
def test_invalid_option_value_raises_quoting_it(name: str, options: dict, message: str) -> None:
    """Both the module (at construction) and the functional form reject the value with the same message."""
    with pytest.raises(ValueError) as error:
        get_loss(name, **options)
    assert message in str(error.value)
    logits, labels = _batch()
    with pytest.raises(ValueError) as error:
        getattr(functional, name)(logits, labels, **options)
    assert message in str(error.value)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bad_reduction_raises_quoting_it(name: str) -> None:
    message = "reduction must be one of ('none', 'mean', 'sum'), got 'avg'"
    with pytest.raises(ValueError) as error:
        get_loss(name, reduction="avg")
    assert message in str(error.value)
    logits, labels = _batch()
    with pytest.raises(ValueError) as error:
        getattr(functional, name)(logits, labels, reduction="avg")
    assert message in str(error.value)


def test_bad_inputs_raise_quoting_dtype_or_shape() -> None:
    logits, labels = _batch()
    with pytest.raises(TypeError, match="labels must be int64 class indices, got dtype torch.int32"):
        functional.gce(logits, labels.int())
    with pytest.raises(TypeError, match="logits must be a floating-point tensor, got dtype torch.int64"):
        functional.gce(labels[:, None].expand(N, C), labels)
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\), got \(6, 5, 1\)"):
        functional.gce(logits[..., None], labels)
    with pytest.raises(ValueError, match=r"labels must have shape \(6,\), got \(5,\)"):
        functional.gce(logits, labels[:5])


# ---- class probabilities ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_class_probabilities_are_rows_summing_to_one(name: str) -> None:
    """Rows sum to 1 (1e-12), also for logits so negative that every sigmoid underflows; values are softmax
    or the normalised sigmoid sigma(z_i) / sum_j sigma(z_j) as the registry says."""
    logits, _ = _batch(seed=5)
    extreme = torch.cat([logits, torch.full((2, C), -800.0, dtype=torch.float64), 800 * torch.eye(C)[:2]])
    probabilities = class_probabilities(extreme, name)
    assert probabilities.shape == extreme.shape and torch.isfinite(probabilities).all()
    ones = torch.ones(len(extreme), dtype=torch.float64)
    torch.testing.assert_close(probabilities.sum(dim=1), ones, rtol=0, atol=1e-12)
    if LOSSES[name].probabilities == "sigmoid":
        expected = torch.sigmoid(logits) / torch.sigmoid(logits).sum(dim=1, keepdim=True)
    else:
        expected = torch.softmax(logits, dim=1)
    torch.testing.assert_close(probabilities[:N], expected, rtol=1e-12, atol=1e-15)


def test_get_loss_names_an_option_of_the_wrong_type():
    """The Python API meets the declared type of each option before the loss's own checks compare values."""
    with pytest.raises(ValueError, match="loss option pos must be a number, got 'high'"):
        get_loss("sigmoid_mse_or", pos="high")
    with pytest.raises(ValueError, match="loss option shift must be true or false, got 3"):
        get_loss("sigmoid_mse_or", shift=3)
