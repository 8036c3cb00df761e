"""Output Reset: the facts the definition implies, checked on random float64 inputs.

The reference for the exact solver is twofold: the original alternating procedure (run to convergence)
and a brute-force minimisation over a fine grid of shifts. Tolerances are stated per test.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from sigmse.losses import output_reset as output_reset_module
from sigmse.losses.functional import sigmoid_mse, sigmoid_mse_or
from sigmse.losses.output_reset import (OutputReset, output_reset, output_reset_targets, output_reset_unchecked,
                                        reset_count)

DTYPE = torch.float64


def _random(n: int, c: int, seed: int, scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """Raw outputs (any real values, not only sigmoid outputs) and labels."""
    generator = torch.Generator().manual_seed(seed)
    outputs = scale * torch.randn(n, c, generator=generator, dtype=DTYPE)
    return outputs, torch.randint(c, (n,), generator=generator)


def _or_loss(outputs: Tensor, result: OutputReset) -> Tensor:
    """Per-pattern squared error to the reset targets, (N,)."""
    return (outputs - result.targets).square().sum(dim=1)


def _error_for_shift(outputs: Tensor, labels: Tensor, a: Tensor, pos: float, neg: float) -> Tensor:
    """E(a) = (a - r_c)_+^2 + sum_{i != c} (r_i - a)_+^2 for shifts a (N, K), written out independently."""
    correct = torch.nn.functional.one_hot(labels, outputs.shape[1]).bool()  # (N, C)
    r = outputs - torch.where(correct, pos, neg).to(DTYPE)  # (N, C)
    r_c = r[correct]  # (N,)
    r_others = r[~correct].reshape(len(r), -1)  # (N, C-1)
    below = (a - r_c[:, None]).clamp(min=0).square()  # (N, K)
    above = (r_others[:, None, :] - a[:, :, None]).clamp(min=0).square().sum(dim=2)  # (N, K)
    return below + above


# ---- gradient ------------------------------------------------------------------------------------------


def test_targets_shift_and_resets_carry_no_gradient() -> None:
    """All three fields are detached even when the outputs require grad."""
    outputs, labels = _random(6, 5, seed=0)
    result = output_reset(outputs.requires_grad_(), labels)
    assert not any(t.requires_grad for t in result)
    assert not output_reset_targets(outputs, labels).requires_grad


def test_or_gradient_holds_targets_fixed() -> None:
    """d/dz of sigmoid_mse_or is 2 (y - t') y (1 - y) / N: no term flows through the targets."""
    logits, labels = _random(6, 5, seed=1, scale=2.0)
    logits.requires_grad_()
    sigmoid_mse_or(logits, labels).backward()
    y = torch.sigmoid(logits.detach())
    expected = 2 * (y - output_reset_targets(y, labels)) * y * (1 - y) / len(y)
    torch.testing.assert_close(logits.grad, expected, rtol=0, atol=1e-14)


# ---- zero loss, invariance, no-op ----------------------------------------------------------------------


@pytest.mark.parametrize("pos, neg", [(1.0, 0.0), (0.9, 0.1), (2.0, -1.0)])
def test_loss_is_zero_iff_correct_output_leads_by_pos_minus_neg(pos: float, neg: float) -> None:
    """E = 0 (targets = outputs) at a lead of exactly pos - neg or more; E > 0 just below that lead."""
    outputs, labels = _random(64, 6, seed=2, scale=3.0)
    correct = torch.nn.functional.one_hot(labels, 6).bool()
    best_other = outputs.masked_fill(correct, float("-inf")).amax(dim=1, keepdim=True)  # (N, 1)
    extra = torch.rand(64, 1, dtype=DTYPE, generator=torch.Generator().manual_seed(3))
    extra[:16] = 0.0  # exactly at the threshold
    leading = torch.where(correct, best_other + (pos - neg) + extra, outputs)
    result = output_reset(leading, labels, pos=pos, neg=neg)
    torch.testing.assert_close(_or_loss(leading, result), torch.zeros(64, dtype=DTYPE), rtol=0, atol=1e-24)
    short = torch.where(correct, best_other + (pos - neg) - 1e-3, outputs)
    assert (_or_loss(short, output_reset(short, labels, pos=pos, neg=neg)) > 0).all()


def test_zero_loss_is_reached_through_sigmoid_outputs() -> None:
    """sigmoid_mse_or is 0 when the correct sigmoid output leads by pos - neg (here 0.2), positive otherwise."""
    logits = torch.tensor([[2.0, -1.0, 0.0], [0.1, 0.0, -0.1]], dtype=DTYPE)  # leads 0.38 and 0.025
    losses = sigmoid_mse_or(logits, torch.tensor([0, 0]), reduction="none", pos=0.6, neg=0.4)
    assert losses[0] == 0 and losses[1] > 0


def test_shift_makes_the_reset_invariant_to_a_constant_added_to_all_outputs() -> None:
    """With shift=True, adding a constant per pattern leaves E unchanged and moves t' and a by that constant."""
    outputs, labels = _random(64, 7, seed=4, scale=2.0)
    constant = 5.0 * torch.randn(64, 1, dtype=DTYPE, generator=torch.Generator().manual_seed(5))
    before, after = output_reset(outputs, labels), output_reset(outputs + constant, labels)
    torch.testing.assert_close(_or_loss(outputs + constant, after), _or_loss(outputs, before), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(after.targets, before.targets + constant, rtol=0, atol=1e-12)
    torch.testing.assert_close(after.shift, before.shift + constant.squeeze(1), rtol=0, atol=1e-12)


def test_without_shift_the_reset_depends_on_a_constant_added() -> None:
    """With shift=False the same constant changes E: the invariance above comes from the shift."""
    outputs, labels = _random(64, 7, seed=4, scale=2.0)
    before = _or_loss(outputs, output_reset(outputs, labels, shift=False))
    after = _or_loss(outputs + 3.0, output_reset(outputs + 3.0, labels, shift=False))
    assert not torch.allclose(before, after)


def test_without_shift_sigmoid_outputs_with_targets_one_zero_are_never_reset() -> None:
    """Sigmoid outputs lie in [0, 1], so no output is more correct than targets 1/0: OR without shift is a no-op."""
    logits, labels = _random(64, 10, seed=6, scale=10.0)  # saturates many outputs at 0 or 1
    y = torch.sigmoid(logits)
    result = output_reset(y, labels, shift=False)
    assert reset_count(result) == 0
    torch.testing.assert_close(result.targets, torch.nn.functional.one_hot(labels, 10).to(DTYPE), rtol=0, atol=0)
    torch.testing.assert_close(
        sigmoid_mse_or(logits, labels, shift=False), sigmoid_mse(logits, labels), rtol=0, atol=0
    )


def test_output_reset_never_increases_the_loss() -> None:
    """a = 0, d = 0 is feasible, so sigmoid_mse_or <= sigmoid_mse per sample."""
    logits, labels = _random(128, 10, seed=7, scale=3.0)
    with_or = sigmoid_mse_or(logits, labels, reduction="none")
    assert (with_or <= sigmoid_mse(logits, labels, reduction="none") + 1e-15).all()


# ---- the exact solver ----------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [2, 3, 10])
@pytest.mark.parametrize("pos, neg", [(1.0, 0.0), (0.9, -0.3)])
def test_exact_solver_agrees_with_the_alternating_procedure(c: int, pos: float, neg: float) -> None:
    """Targets, shift and resets from the exact solver match 300 alternating steps to 1e-6 (float64).

    Raw outputs at several scales cover patterns with E > 0 and with E = 0 (where the solver must pick the
    same of many optimal shifts as the procedure).
    """
    outputs, labels = _random(256, c, seed=c, scale=1.0)
    outputs[::3] *= 4.0
    outputs[1::3] = torch.sigmoid(outputs[1::3])
    correct = torch.nn.functional.one_hot(labels, c).bool()
    best_other = outputs.masked_fill(correct, float("-inf")).amax(dim=1, keepdim=True)
    leading = torch.where(correct, best_other + (pos - neg) + 3 * torch.rand_like(best_other), outputs)
    outputs[2::3] = leading[2::3]  # E = 0 with a whole interval of optimal shifts
    exact, iterated = output_reset(outputs, labels, pos=pos, neg=neg), output_reset(
        outputs, labels, pos=pos, neg=neg, iterations=300
    )
    for got, expected in zip(exact, iterated):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    errors = _or_loss(outputs, exact)
    assert (errors[2::3] < 1e-20).all() and (errors > 1e-3).any()  # both kinds of pattern are present


def _shift_by_bisection(outputs: Tensor, labels: Tensor, pos: float, neg: float) -> Tensor:
    """The root of E'(a) = 0 by 200 bisection steps on [min r, max r] (float64), written out independently."""
    correct = torch.nn.functional.one_hot(labels, outputs.shape[1]).bool()
    r = outputs - torch.full_like(outputs, neg).masked_fill(correct, pos)  # (N, C), pos and neg in float64
    r_c, r_others = r[correct], r[~correct].reshape(len(r), -1)
    low, high = r.amin(dim=1), r.amax(dim=1)
    for _ in range(200):
        middle = (low + high) / 2
        slope = (middle - r_c).clamp(min=0) - (r_others - middle[:, None]).clamp(min=0).sum(dim=1)  # E'(a) / 2
        low, high = torch.where(slope < 0, middle, low), torch.where(slope < 0, high, middle)
    return (low + high) / 2


@pytest.mark.parametrize("method, sort_max_classes", [("sort", 10_000), ("iteration", 0)])
@pytest.mark.parametrize("c", [3, 10, 100, 1000])
def test_both_exact_methods_find_the_root_for_few_and_many_classes(
    monkeypatch: pytest.MonkeyPatch, method: str, sort_max_classes: int, c: int
) -> None:
    """Sorting and the active-set iteration (forced through SORT_MAX_CLASSES) both give the root of
    (a - r_c)_+ = sum_{i != c} (r_i - a)_+ to 1e-12, against bisection, from 3 to 1000 classes; raw and
    sigmoid outputs, where E > 0 so the root is unique."""
    monkeypatch.setattr(output_reset_module, "SORT_MAX_CLASSES", sort_max_classes)
    outputs, labels = _random(64, c, seed=c, scale=3.0)
    outputs[1::2] = torch.sigmoid(outputs[1::2])
    result = output_reset(outputs, labels, pos=0.9, neg=0.05)
    unique = _or_loss(outputs, result) > 1e-9  # E > 0: one root
    assert unique.float().mean() > 0.5
    expected = _shift_by_bisection(outputs, labels, 0.9, 0.05)
    torch.testing.assert_close(result.shift[unique], expected[unique], rtol=0, atol=1e-12)


def test_outputs_past_their_shifted_targets_are_their_own_targets_exactly() -> None:
    """t'_i = y_i wherever an output is reset, with no rounding: a pattern with E = 0 has loss exactly 0."""
    outputs = torch.tensor([[0.1, 0.95, 0.2], [0.6, 0.5, 0.3]])
    result = output_reset(outputs, torch.tensor([1, 0]), pos=0.6, neg=0.4)
    assert torch.equal(result.targets[0], outputs[0])  # class 1 leads by more than pos - neg = 0.2
    assert torch.equal(result.targets[result.resets != 0], outputs[result.resets != 0])


def test_one_iteration_uses_the_mean_residual_as_shift() -> None:
    """iterations=1: from d = 0 the first shift is mean_i (y_i - t_i)."""
    outputs, labels = _random(8, 4, seed=8)
    onehot = torch.nn.functional.one_hot(labels, 4).to(DTYPE)
    result = output_reset(outputs, labels, iterations=1)
    torch.testing.assert_close(result.shift, (outputs - onehot).mean(dim=1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("shift", [True, False])
def test_exact_solution_satisfies_the_optimality_conditions(shift: bool) -> None:
    """Signs d_c >= 0, d_i <= 0; d is the best reset for a; with shift, (a - r_c)_+ = sum_{i != c} (r_i - a)_+."""
    outputs, labels = _random(256, 10, seed=9, scale=2.0)
    result = output_reset(outputs, labels, shift=shift)
    correct = torch.nn.functional.one_hot(labels, 10).bool()
    r = outputs - correct.to(DTYPE)
    a = result.shift[:, None]
    assert (result.resets[correct] >= 0).all() and (result.resets[~correct] <= 0).all()
    best = torch.where(correct, (r - a).clamp(min=0), (r - a).clamp(max=0))
    torch.testing.assert_close(result.resets, best, rtol=0, atol=1e-12)
    torch.testing.assert_close(result.targets, correct.to(DTYPE) + a + result.resets, rtol=0, atol=1e-12)
    if shift:
        left = (a.squeeze(1) - r[correct]).clamp(min=0)
        right = (r[~correct].reshape(256, 9) - a).clamp(min=0).sum(dim=1)
        torch.testing.assert_close(left, right, rtol=0, atol=1e-12)
    else:
        assert (result.shift == 0).all()


def test_exact_solver_is_no_worse_than_a_fine_grid_of_shifts() -> None:
    """On small random cases, E at the exact shift <= min of E over 20001 shifts, and within 1e-6 of it."""
    outputs, labels = _random(32, 4, seed=10, scale=2.0)
    result = output_reset(outputs, labels, pos=0.8, neg=0.1)
    grid = torch.linspace(-10, 10, 20001, dtype=DTYPE).expand(32, -1)  # spacing 1e-3
    grid_best = _error_for_shift(outputs, labels, grid, 0.8, 0.1).amin(dim=1)
    exact = _or_loss(outputs, result)
    torch.testing.assert_close(exact, _error_for_shift(outputs, labels, result.shift[:, None], 0.8, 0.1).squeeze(1))
    assert (exact <= grid_best + 1e-12).all()
    torch.testing.assert_close(exact, grid_best, rtol=0, atol=1e-6)


# ---- reset count and argument checks -------------------------------------------------------------------


def test_reset_count_counts_nonzero_resets_as_a_0_dim_int64_tensor() -> None:
    """reset_count is a 0-dim int64 tensor on the outputs' device, the number of d != 0."""
    result = output_reset(torch.tensor([[0.9, 0.2, 0.7]]), torch.tensor([2]))  # shift 0.3, d = (0, -0.1, 0)
    count = reset_count(result)
    assert count.dtype == torch.int64 and count.ndim == 0 and count.device == result.resets.device
    assert count.item() == 1
    torch.testing.assert_close(result.targets, torch.tensor([[0.3, 0.2, 1.3]]))


@pytest.mark.parametrize("options", [{}, {"pos": 0.9, "neg": 0.1, "iterations": 4}, {"shift": False}])
def test_unchecked_form_gives_exactly_what_output_reset_gives(options: dict) -> None:
    """output_reset_unchecked, which the Output Reset loss calls once its options are checked, returns exactly
    output_reset's targets, shift and resets (same solver, no checks)."""
    outputs, labels = _random(8, 6, seed=12)
    kwargs = {"pos": 1.0, "neg": 0.0, "shift": True, "iterations": None, **options}
    checked = output_reset(outputs, labels, **kwargs)
    for got, expected in zip(output_reset_unchecked(outputs, labels, **kwargs), checked):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert reset_count(checked) > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pos": 0.0, "neg": 0.0}, "pos must be greater than neg, got pos=0.0, neg=0.0"),
        ({"pos": 0.1, "neg": 0.9}, "got pos=0.1, neg=0.9"),
        ({"iterations": 0}, "iterations must be None (exact solver) or an int >= 1, got 0"),
        ({"iterations": 2.5}, "got 2.5"),
        ({"iterations": True}, "got True"),
    ],
)
def test_invalid_options_raise_value_error_quoting_them(kwargs: dict, message: str) -> None:
    outputs, labels = _random(4, 3, seed=11)
    with pytest.raises(ValueError) as error:
        output_reset(outputs, labels, **kwargs)
    assert message in str(error.value)


def test_invalid_shapes_raise_value_error_quoting_them() -> None:
    with pytest.raises(ValueError, match=r"outputs must have shape \(N, C\) with C >= 2, got \(4, 1\)"):
        output_reset(torch.zeros(4, 1), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\), got \(3,\)"):
        output_reset(torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64))
