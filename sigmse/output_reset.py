r"""Output Reset (OR): targets that stop penalising outputs already more correct than required.

Sigmoid-MSE trains each output towards a fixed target (1 for the correct class, 0 for the others).
Two kinds of its errors do not help classification, which only looks at the argmax:

* an *inconsistent error* sits on an output that is already more correct than its target
  (:math:`y_c > t_c` on the correct class, :math:`y_i < t_i` on an incorrect one), so the gradient
  pushes a good output back towards the target;
* a constant added to every output of a pattern leaves the argmax unchanged, so the targets of one
  pattern may move together.

Output Reset replaces the targets of each pattern by

.. math::
    t'_i = t_i + a + d_i, \qquad d_c \ge 0, \quad d_i \le 0 \ (i \ne c),

with a scalar shift :math:`a` and one-sided resets :math:`d`, chosen to minimise
:math:`\sum_i (t'_i - y_i)^2`. Writing :math:`r = y - t`, the best resets for a fixed shift are
:math:`d_c = (r_c - a)_+` and :math:`d_i = -(r_i - a)_+`, and the remaining error is

.. math::
    E(a) = (a - r_c)_+^2 + \sum_{i \ne c} (r_i - a)_+^2 ,

a convex function whose minimisers solve :math:`(a - r_c)_+ = \sum_{i \ne c} (r_i - a)_+`.
:math:`E` vanishes exactly when :math:`y_c - y_i \ge t_c - t_i` for every :math:`i \ne c`, i.e. when the
correct output leads every other by at least ``pos - neg``.

Provenance. The text of Tyagi et al. (2024) was not available when this module was written. The
objective, the constraints and the alternating procedure (start at :math:`a = 0, d = 0`, then alternate
:math:`a \leftarrow \operatorname{mean}_i (r_i - d_i)` with the best resets) come from the same lab's
earlier papers, cited below. Reconstructed here, not taken from those papers:

* the exact solver (``iterations=None``), which solves the fixed-point equation directly with an active-set
  iteration (see ``_exact_shift``);
* the choice among minimisers when :math:`E = 0` (then every :math:`a` in
  :math:`[\max_{i \ne c} r_i, r_c]` is optimal, the targets :math:`t' = y` are the same, only
  ``shift`` and ``resets`` differ): the exact solver returns the one nearest to
  :math:`\operatorname{mean}_i r_i`, which is the limit of the alternating procedure, because its
  update :math:`a \mapsto a - E'(a) / (2C)` is non-decreasing in :math:`a` and so converges
  monotonically to the minimiser nearest its first step :math:`\operatorname{mean}_i r_i`.

Targets are always detached. This is the exact gradient, not an approximation: the OR error is the
squared distance from :math:`r` to the closed convex cone :math:`\{a \mathbf{1} + d\}`, whose gradient
is :math:`2(y - t')` (Danskin's theorem), the gradient of :math:`\sum_i (y_i - t'_i)^2` with
:math:`t'` held fixed.

References:
    J. Li, M. T. Manry, P. L. Narasimha, C. Yu, *Iterative Improvement of Neural Classifiers*,
    FLAIRS 2004.
    K. Tyagi, M. T. Manry, *Multi-step training of a generalized linear classifier*,
    Neural Processing Letters 50, 2019.
    K. Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax
    Cross-Entropy in Neural Network Classification*, arXiv:2411.11213, 2024.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["OutputReset", "output_reset", "output_reset_targets", "reset_count"]


class OutputReset(NamedTuple):
    """Result of :func:`output_reset`; all tensors are detached."""

    targets: Tensor  # (N, C) reset targets t' = t + a + d
    shift: Tensor  # (N,) per-pattern shift a
    resets: Tensor  # (N, C) one-sided resets d: d_c >= 0, d_i <= 0


def check_targets(pos: float, neg: float) -> None:
    """Raise ``ValueError`` unless the correct-class target ``pos`` exceeds the other target ``neg``."""
    if not pos > neg:  # `not >` also rejects NaN
        raise ValueError(f"pos must be greater than neg, got pos={pos!r}, neg={neg!r}")


def check_iterations(iterations: int | None) -> None:
    """Raise ``ValueError`` unless ``iterations`` is ``None`` (exact solver) or an int >= 1."""
    if iterations is None:
        return
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be None (exact solver) or an int >= 1, got {iterations!r}")


def _check_shapes(outputs: Tensor, labels: Tensor) -> None:
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        raise ValueError(f"outputs must have shape (N, C) with C >= 2, got {tuple(outputs.shape)}")
    if labels.shape != outputs.shape[:1]:
        raise ValueError(f"labels must have shape ({outputs.shape[0]},), got {tuple(labels.shape)}")


def correct_mask(labels: Tensor, num_classes: int) -> Tensor:
    """Boolean (N, C) mask of each pattern's correct class."""
    return torch.arange(num_classes, device=labels.device) == labels[:, None]


def _best_resets(residuals: Tensor, shift: Tensor, correct: Tensor) -> Tensor:
    """Resets minimising the error for a fixed shift: ``(r_c - a)_+`` and ``-(r_i - a)_+``."""
    moved = residuals - shift  # (N, C)
    return torch.where(correct, moved.clamp(min=0), moved.clamp(max=0))


def _alternating_shift(residuals: Tensor, correct: Tensor, iterations: int) -> Tensor:
    """The original procedure: from ``a = 0, d = 0`` alternate the best shift and the best resets; (N, 1)."""
    resets = torch.zeros_like(residuals)
    for _ in range(iterations):  # over iterations, never over patterns
        shift = (residuals - resets).mean(dim=1, keepdim=True)
        resets = _best_resets(residuals, shift, correct)
    return shift


def _exact_shift(residuals: Tensor, labels: Tensor) -> Tensor:
    """Solve ``(a - r_c)_+ = sum_{i != c} (r_i - a)_+`` for every pattern at once; returns (N, 1).

    If exactly the incorrect residuals in an active set A exceed a root ``a > r_c``, then
    ``a - r_c = sum_A (r_i - a)``, so ``a = (r_c + sum_A r_i) / (|A| + 1)``. Starting from every residual
    above ``mean(r)`` (the root when all are active), alternate that formula with ``A = {i : r_i > a}``
    (Michelot's algorithm for projection onto the simplex, here with ``r_c`` always counted): ``a`` never
    decreases and never passes the root, ``A`` only shrinks, so it ends exactly, in at most C steps and in
    a few in practice. It needs no sort, which dominated the cost at C = 1000.
    When ``r_c >= max_{i != c} r_i`` every ``a`` in ``[max_{i != c} r_i, r_c]`` is a root, and the one nearest
    ``mean(r)`` is taken (see the module docstring).
    """
    c = residuals.shape[1]
    r_c = residuals.gather(1, labels[:, None])  # (N, 1)
    others = residuals.scatter(1, labels[:, None], float("-inf"))  # (N, C), the correct class never active
    mean = residuals.mean(dim=1, keepdim=True)
    max_other = others.max(dim=1, keepdim=True).values
    active = others > mean  # (N, C)
    for _ in range(c):
        shift = (r_c + torch.where(active, others, 0.0).sum(dim=1, keepdim=True)) / (active.sum(dim=1, keepdim=True) + 1)
        following = others > shift
        if torch.equal(following, active):
            break
        active = following
    return torch.where(max_other <= r_c, torch.minimum(torch.maximum(mean, max_other), r_c), shift)


def output_reset(
    outputs: Tensor,
    labels: Tensor,
    *,
    pos: float = 1.0,
    neg: float = 0.0,
    shift: bool = True,
    iterations: int | None = None,
) -> OutputReset:
    r"""Output Reset targets for a batch of patterns.

    Args:
        outputs: network outputs :math:`y` (any real values; sigmoid outputs for Sigmoid-MSE).
        labels: correct class :math:`c` of each pattern, int64.
        pos: target :math:`t_c` of the correct class before the reset. Default: 1.0.
        neg: target :math:`t_i` of the other classes before the reset; must be below ``pos``. Default: 0.0.
        shift: allow the common shift :math:`a`; with ``False``, :math:`a = 0` and only the one-sided
            resets apply. Default: ``True``.
        iterations: ``None`` solves exactly (default); an int :math:`K \ge 1` runs the alternating
            procedure (:math:`a \leftarrow \operatorname{mean}_i (r_i - d_i)`, then the best :math:`d`)
            :math:`K` times from :math:`a = 0, d = 0`, as in the original papers.

    Returns:
        :class:`OutputReset` ``(targets, shift, resets)``, detached, in the dtype of ``outputs``.

    Shape:
        - outputs: :math:`(N, C)` with :math:`C \ge 2`.
        - labels: :math:`(N,)`.
        - Output: targets :math:`(N, C)`, shift :math:`(N,)`, resets :math:`(N, C)`.

    Example::

        >>> y = torch.tensor([[0.9, 0.2, 0.7]])
        >>> output_reset(y, torch.tensor([2])).targets  # shift 0.3; class 1 is below its target: no error
        tensor([[0.3000, 0.2000, 1.3000]])
    """
    check_targets(pos, neg)
    check_iterations(iterations)
    _check_shapes(outputs, labels)
    with torch.no_grad():
        y = outputs.detach()
        correct = correct_mask(labels, y.shape[1])  # (N, C)
        targets = torch.full_like(y, neg).masked_fill(correct, pos)  # exact in y's dtype
        residuals = y - targets
        if not shift:
            a = torch.zeros_like(residuals[:, :1])
        elif iterations is None:
            a = _exact_shift(residuals, labels)
        else:
            a = _alternating_shift(residuals, correct, iterations)
        resets = _best_resets(residuals, a, correct)
        return OutputReset(targets + a + resets, a.squeeze(1), resets)


def output_reset_targets(
    outputs: Tensor,
    labels: Tensor,
    *,
    pos: float = 1.0,
    neg: float = 0.0,
    shift: bool = True,
    iterations: int | None = None,
) -> Tensor:
    """The detached targets :math:`t'` of :func:`output_reset`, shape :math:`(N, C)`."""
    return output_reset(outputs, labels, pos=pos, neg=neg, shift=shift, iterations=iterations).targets


def reset_count(result: OutputReset) -> Tensor:
    """Number of outputs whose target was reset (``d != 0``): a 0-dim int64 tensor, no host sync."""
    return (result.resets != 0).sum()
