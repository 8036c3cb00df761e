"""Losses, modules and registry against independent references.

Every loss is compared with a naive float64 reference written here in plain Python (``math``, loops over
samples and classes, formulas as printed in the papers), for every reduction, at rtol 1e-10 / atol 1e-12.
Gradients are checked by finite differences (``torch.autograd.gradcheck``, float64).
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import inspect
import math
import pydoc
import re
import textwrap
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from sigmse.losses import functional, modules
from sigmse.losses import output_reset as output_reset_module
from sigmse.losses.modules import (
    LOSS_VARIANTS,
    LOSSES,
    LossSpec,
    SigmoidMSEOutputResetLoss,
    class_probabilities,
    display_name,
    get_loss,
    loss_form,
    loss_names,
    loss_options,
    loss_setting,
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


def test_forward_with_reset_count_returns_the_forward_loss_and_the_batch_count() -> None:
    """The OR module's forward_with_reset_count gives exactly forward's loss, and the detached 0-dim int64
    count of outputs whose target Output Reset changed in that batch."""
    logits, labels = _batch(seed=4)
    module = get_loss("sigmoid_mse_or")
    assert isinstance(module, SigmoidMSEOutputResetLoss)
    loss, count = module.forward_with_reset_count(logits.requires_grad_(), labels)
    torch.testing.assert_close(loss, module(logits, labels), rtol=0, atol=0)
    assert loss.requires_grad
    expected = reset_count(output_reset(torch.sigmoid(logits), labels))
    assert count.dtype == torch.int64 and count.ndim == 0 and not count.requires_grad
    assert count == expected and 0 < expected < N * C


def _state(module: torch.nn.Module) -> dict:
    """Everything a module holds: its attributes, with nn.Module's dicts of parameters, buffers and hooks copied."""
    return {key: value.copy() if isinstance(value, dict) else value for key, value in vars(module).items()}


@pytest.mark.parametrize("name, options", CASES, ids=CASE_IDS)
def test_modules_hold_no_state_and_a_forward_writes_none(name: str, options: dict) -> None:
    """A loss module has no parameters or buffers, and its attributes are the same after a forward (and, for
    Output Reset, after forward_with_reset_count): nothing of a batch is kept on the module."""
    logits, labels = _batch(seed=6)
    module = get_loss(name, **options)
    assert not list(module.parameters()) and not list(module.buffers()) and module.state_dict() == {}
    before = _state(module)
    module(logits, labels)
    if isinstance(module, SigmoidMSEOutputResetLoss):
        module.forward_with_reset_count(logits, labels)
    assert _state(module) == before


def test_options_are_checked_on_construction_and_not_on_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every option check replaced by one that fails, modules built before still compute (forward makes
    no option check), and the functional forms fail (they check on every call)."""
    logits, labels = _batch(seed=7)
    modules = {(name, repr(options)): get_loss(name, **options) for name, options in CASES}

    def fail(*args: object) -> None:
        raise AssertionError(f"an option was checked again: {args}")

    for namespace in (functional, output_reset_module):
        for check in ("check_reduction", "check_targets", "check_iterations", "check_rescale", "check_q",
                      "check_symmetric"):
            if hasattr(namespace, check):
                monkeypatch.setattr(namespace, check, fail)
    for (name, _), module in modules.items():
        assert torch.isfinite(module(logits, labels))
        with pytest.raises(AssertionError, match="an option was checked again"):
            getattr(functional, name)(logits, labels)
    assert modules["sigmoid_mse_or", "{}"].forward_with_reset_count(logits, labels)[1] >= 0


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_options_are_keyword_only(name: str) -> None:
    """Every option of every module is keyword-only: LossClass("mean") is a TypeError."""
    module = LOSSES[name].module
    parameters = list(inspect.signature(module.__init__).parameters.values())[1:]  # without self
    assert parameters and all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    with pytest.raises(TypeError):
        module("mean")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_forward_is_one_statement_delegating_to_the_functional_form(name: str) -> None:
    """forward is a single return statement (torch's pattern); it reaches sigmse.losses.functional."""
    module = LOSSES[name].module
    (tree,) = ast.parse(textwrap.dedent(inspect.getsource(module.forward))).body
    assert isinstance(tree, ast.FunctionDef) and len(tree.body) == 1 and isinstance(tree.body[0], ast.Return)
    delegate = inspect.getsource(module._loss_and_reset if name == "sigmoid_mse_or" else module.forward)
    assert f"functional.{name}_unchecked(" in delegate


# ---- docstrings ------------------------------------------------------------------------------------------

REFERENCE_KEYS = {  # what the Reference section must name for each loss
    "softmax_ce": ("Bishop",),
    "sigmoid_mse": ("Tyagi", "arXiv:2411.11213"),
    "sigmoid_mse_or": ("Tyagi", "arXiv:2411.11213"),
    "softmax_mse": ("Brier", "1950"),
    "rescaled_square": ("Hui", "Belkin", "2021"),
    "mae": ("Ghosh", "2017"),
    "gce": ("Zhang", "Sabuncu", "2018"),
    "symmetric_ce": ("Wang", "2019"),
}


def _sections(doc: str) -> dict[str, str]:
    """A Google-style docstring cut at its section headers (``Args:``, ``Shape:``, ...), text by header."""
    parts = re.split(r"^(\w+):{1,2}$", doc, flags=re.M)
    return {"": parts[0], **dict(zip(parts[1::2], parts[2::2]))}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_help_shows_maths_args_with_defaults_shape_example_and_reference(name: str) -> None:
    """help(LossClass) shows, like torch's losses: l_n in a math block, every option with its default under
    Args, a Shape section, an Example, and the loss's paper under Reference."""
    module = LOSSES[name].module
    text = pydoc.render_doc(module, renderer=pydoc.plaintext)
    sections = _sections(inspect.getdoc(module))
    assert {"Args", "Shape", "Example", "Reference"} <= set(sections)
    assert ".. math::" in sections[""] and "l_n =" in sections[""]
    for option, default in loss_options(name).items():
        (entry,) = re.findall(rf"^{option}: .*?(?=^\w|\Z)", textwrap.dedent(sections["Args"]), flags=re.M | re.S)
        assert f"Default: ``{default!r}``".replace("'", '"') in entry or f"Default: {default!r}" in entry, entry
    assert "Input: :math:`(N, C)" in sections["Shape"] and "Output:" in sections["Shape"]
    assert all(key in sections["Reference"] for key in REFERENCE_KEYS[name])
    for header in ("Args:", "Shape:", "Example::", "Reference:", ".. math::"):
        assert header in text


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_the_example_of_every_loss_module_runs(name: str) -> None:
    """The doctest in each class docstring runs and prints what it shows."""
    (test,) = doctest.DocTestFinder(recurse=False).find(LOSSES[name].module, globs=vars(modules))
    result = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(test)
    assert result.attempted >= 3 and result.failed == 0


def test_the_examples_of_the_losses_modules_run() -> None:
    """Every doctest of sigmse.losses.modules (module docstring, classes, methods) passes."""
    result = doctest.testmod(modules, optionflags=doctest.ELLIPSIS)
    assert result.attempted > len(LOSSES) * 3 and result.failed == 0


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


@pytest.mark.parametrize("reduction", ["avg", "Mean", "elementwise_mean", "", None])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_reduction_is_exactly_none_mean_or_sum(name: str, reduction: object) -> None:
    """Any other reduction, a different case or torch's legacy name included, is a ValueError quoting it, from
    the module's constructor and from the functional form."""
    message = f"reduction must be one of ('none', 'mean', 'sum'), got {reduction!r}"
    with pytest.raises(ValueError) as error:
        LOSSES[name].module(reduction=reduction)
    assert message in str(error.value)
    logits, labels = _batch()
    with pytest.raises(ValueError) as error:
        getattr(functional, name)(logits, labels, reduction=reduction)
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
    with pytest.raises(TypeError, match="labels must be int64 class indices"):  # modules check tensors per call
        get_loss("gce")(logits, labels.int())
    with pytest.raises(ValueError, match=r"outputs must have shape \(N, C\) with C >= 2, got \(6, 1\)"):
        get_loss("sigmoid_mse_or")(logits[:, :1], torch.zeros(N, dtype=torch.int64))


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


# ---- display names, variants, stable and naive forms -------------------------------------------------------


def test_every_loss_and_variant_has_a_display_name_and_variants_stay_out_of_runs() -> None:
    """Each registry entry carries the name the book prints; a variant names a registered loss at options that
    loss accepts, and neither get_loss nor loss_names know it (a run names the registered loss)."""
    names = {name: display_name(name) for name in (*LOSSES, *LOSS_VARIANTS)}
    assert names["sigmoid_mse_or"] == "sigmoid-MSE + OR" and names["logit_mse"] == "logit-MSE"
    assert len(set(names.values())) == len(names)  # no two print alike
    for name, variant in LOSS_VARIANTS.items():
        assert loss_setting(name) == (variant.loss, dict(variant.options)) and variant.loss in LOSSES
        get_loss(variant.loss, **variant.options)
        assert name not in loss_names() and name not in LOSSES
    assert loss_setting("gce") == ("gce", {})
    with pytest.raises(ValueError, match="unknown loss 'mse'; valid names: gce, .*, symmetric_ce, logit_mse"):
        display_name("mse")


def test_loss_form_is_the_per_sample_module_or_the_variants_setting() -> None:
    """The stable form is the module with reduction "none"; logit-MSE is the square loss on the raw logits,
    sum_c (z_c - y_c)^2 (float64, 1e-12)."""
    logits, labels = _batch(seed=7)
    for name in LOSSES:
        torch.testing.assert_close(loss_form(name)(logits, labels), get_loss(name, reduction="none")(logits, labels))
    one_hot = torch.nn.functional.one_hot(labels, C).to(logits.dtype)
    torch.testing.assert_close(loss_form("logit_mse")(logits, labels), (logits - one_hot).square().sum(dim=1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in (*LOSSES, *LOSS_VARIANTS) if LOSSES[loss_setting(n)[0]].naive])
def test_naive_forms_equal_the_stable_ones_where_nothing_overflows(name: str) -> None:
    """At moderate logits the textbook form and the stable form agree (float64, 1e-12), values and gradients."""
    logits, labels = _batch(seed=8)
    results = []
    for naive in (False, True):
        z = logits.clone().requires_grad_(True)
        value = loss_form(name, naive=naive)(z, labels)
        results.append((value.detach(), torch.autograd.grad(value.sum(), z)[0]))
    (stable, stable_grad), (naive_value, naive_grad) = results
    torch.testing.assert_close(naive_value, stable, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(naive_grad, stable_grad, rtol=1e-10, atol=1e-12)


def test_naive_forms_show_the_artefacts_the_stable_ones_avoid() -> None:
    """A logit of -1000 on the true class: log(exp(-1000) / ...) = log 0 makes naive CE infinite while log-softmax
    stays finite; the naive sigmoid's derivative there is inf / inf = NaN, torch.sigmoid's is 0. Float32 keeps
    its dtype in the naive form."""
    logits, labels = torch.tensor([[-1000.0, 0.0, 1.0]], requires_grad=True), torch.tensor([0])
    assert torch.isinf(loss_form("softmax_ce", naive=True)(logits, labels)).all()
    assert torch.isfinite(loss_form("softmax_ce")(logits, labels)).all()
    (grad,) = torch.autograd.grad(loss_form("sigmoid_mse", naive=True)(logits, labels).sum(), logits)
    assert torch.isnan(grad[0, 0]) and grad.dtype == torch.float32
    (grad,) = torch.autograd.grad(loss_form("sigmoid_mse")(logits, labels).sum(), logits)
    assert grad[0, 0] == 0
    with pytest.raises(ValueError, match="loss 'mae' has no naive form; losses with one: softmax_ce, "):
        loss_form("mae", naive=True)
