r"""Curvature and conditioning of the landscape losses along the logits: Hessians by autograd, in float64.

The counter-claim the loss-surface chapter tests says sigmoid-MSE has a *badly conditioned* surface. This
module measures the second-order part of that claim on the chapter's grid (:mod:`sigmse.landscape.surfaces`: two
free logits on a ``G x G`` grid, the third pinned): at every grid point it takes the Hessian of each loss
with respect to **all** ``C = 3`` logits (a network moves the pinned logit too), and reduces it to the
numbers a condition claim is about.

* The losses are the library's own (:func:`sigmse.losses.modules.get_loss`, stable formulas, ``reduction="sum"``),
  named as in :data:`sigmse.landscape.surfaces.LOSS_NAMES` (logit-MSE is the registry's variant ``logit_mse``).
* :func:`logit_hessians` takes the Hessians by autograd (:func:`torch.func.jacrev` twice), vectorised over the points by
  :func:`torch.func.vmap`: no hand-derived formula (the tests compare with the closed forms).
* :func:`hessian_spectrum` takes the eigenvalues (:func:`torch.linalg.eigvalsh`). A loss that sees the
  logits only through ``softmax(z)`` (:data:`SHIFT_INVARIANT`) is unchanged by ``z -> z + a 1``, so its
  Hessian always has eigenvalue 0 along ``1 = (1, ..., 1)``: a symmetry, not a flat valley an optimiser
  must cross. For those losses the spectrum is that of the Hessian restricted to the subspace orthogonal
  to ``1``, ``Q^T H Q`` with ``Q`` an orthonormal basis of it (``C - 1`` eigenvalues); for the others it is
  the spectrum of ``H`` (``C`` eigenvalues).
* :func:`condition_numbers` defines the condition number on that spectrum as

  .. math::
      \kappa = \frac{\max_i |\lambda_i|}{\min \{ |\lambda_i| : |\lambda_i| > \tau \}},
      \qquad \tau = 10^{-12} \ (\text{NULL\_TOLERANCE}),

  the largest curvature over the smallest *non-null* one, in absolute value because sigmoid-MSE is not
  convex in the logits (its Hessian can have negative eigenvalues). Eigenvalues with ``|lambda| <= tau``
  are *null directions*, counted separately: in float64 they cannot be told from 0 (see
  :data:`NULL_TOLERANCE`), and at the note's pinned logit (-1000) ``exp`` underflows, so every bounded
  loss is exactly flat along the pinned logit. ``kappa`` is NaN where every direction is null.
* :func:`curvature_frame` does it over a grid: one row per loss x grid point.

Output Reset. The library's Output Reset targets are detached (their gradient is exact by Danskin's
theorem, see :mod:`sigmse.losses.output_reset`), so the Hessian here holds them constant: it is the curvature of
the per-step objective ``sum_c (sigma(z_c) - t'_c)^2`` that training follows, not of the OR error as a
function of ``z`` (which also curves where the targets move with the outputs).

Reference: Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax Cross-Entropy in
Neural Network Classification*, arXiv 2411.11213; J. Nocedal, S. J. Wright, *Numerical Optimization*,
2nd ed., Springer 2006, section 3.3 (the condition number and the speed of gradient descent).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Sequence

import pandas as pd
import torch
from torch import Tensor

from sigmse.checks import check_number
from sigmse.landscape.surfaces import (LOSS_NAMES, LandscapeConfig, correct_cells, free_indices, landscape_loss,
                                      logit_grid, target_index)
from sigmse.losses.modules import get_loss, loss_setting

__all__ = [
    "SHIFT_INVARIANT", "NULL_TOLERANCE", "logit_hessians", "shift_free_basis", "hessian_spectrum", "condition_numbers",
    "curvature_frame",
]

# Losses that see the logits only through softmax(z), hence unchanged by z -> z + a (1, ..., 1).
SHIFT_INVARIANT = frozenset({"softmax_ce", "softmax_mse"})
# A direction is null when |eigenvalue| <= this. The tolerance is absolute, for per-example losses whose
# Hessian entries are sums of products of probabilities or sigmoids (in [0, 1]) and small constants (at
# most 2 here): float64 computes them with absolute rounding errors of a few eps (2.2e-16), not relative to
# the entry (p (1 - p) at p = 1 - 1e-9 is a cancellation), and eigvalsh adds a few eps * ||H||. 1e-12 is
# ~4500 eps: well above that noise, and a curvature so small that no gradient step could feel it (it
# changes the gradient by 1e-12 per unit step). It caps the condition number at max |lambda| / 1e-12.
NULL_TOLERANCE = 1e-12
_BATCHING_WARNING = "There is a performance drop because we have not yet implemented the batching rule"


def _loss_module(loss: str) -> torch.nn.Module:
    landscape_loss(loss)  # a ValueError listing the landscape's losses for any other name
    name, options = loss_setting(loss)
    return get_loss(name, reduction="sum", **options)


def logit_hessians(loss: str, logits: Tensor, labels: Tensor) -> Tensor:
    r"""The Hessian of ``loss`` at each row of ``logits`` with respect to that row's logits.

    .. math::
        H_n = \nabla^2_{z_n} \, \ell(z_n, c_n)

    Args:
        loss: a landscape loss name (one of :data:`sigmse.landscape.surfaces.LOSS_NAMES`).
        logits: the points :math:`z_n`, floating point (use float64: the spectra are compared to 1e-12).
        labels: the true class :math:`c_n` of each point, int64.

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: :math:`(N, C, C)`, symmetric, in the dtype of ``logits``.

    Example::

        >>> z = torch.randn(4, 3, dtype=torch.float64)
        >>> logit_hessians("softmax_ce", z, torch.zeros(4, dtype=torch.long)).shape
        torch.Size([4, 3, 3])

    Note:
        The Jacobian of the gradient, ``torch.func.jacrev(torch.func.jacrev(.))`` (reverse over reverse), of
        the one-row loss, vectorised over the rows with :func:`torch.func.vmap`. :func:`torch.func.hessian`
        computes the same matrix forward over reverse, but its first use loads forward-mode decompositions
        through the deprecated ``torch.jit.script`` (a FutureWarning and two seconds). Output Reset's solver
        has in-place ops without a batching rule, so vmap falls back to a loop for them and warns about
        speed; that warning is silenced here, only it.
    """
    module = _loss_module(loss)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"logits must be (N, C) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}")

    def one_row(z: Tensor, label: Tensor) -> Tensor:  # (C,), () -> ()
        return module(z[None], label[None])

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_BATCHING_WARNING, category=UserWarning)
        return torch.func.vmap(torch.func.jacrev(torch.func.jacrev(one_row)))(logits, labels)  # (N, C, C)


def shift_free_basis(num_classes: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """An orthonormal basis of the subspace orthogonal to ``(1, ..., 1)``, ``(C, C - 1)``.

    The QR factorisation of the first ``C - 1`` columns of the centring matrix ``I - 1 1^T / C`` (they are
    linearly independent and span that subspace).
    """
    check_number("num_classes", num_classes, low=2, integer=True, allowed="an integer >= 2")
    centring = torch.eye(num_classes, dtype=dtype) - 1.0 / num_classes  # (C, C)
    return torch.linalg.qr(centring[:, : num_classes - 1]).Q  # (C, C - 1)


def hessian_spectrum(hessians: Tensor, *, shift_invariant: bool) -> Tensor:
    """Eigenvalues in ascending order, ``(N, C)``, or ``(N, C - 1)`` on the subspace orthogonal to ``1``.

    With ``shift_invariant=True`` the spectrum is that of ``Q^T H Q`` (``Q`` from :func:`shift_free_basis`):
    it drops the eigenvalue 0 that the symmetry ``z -> z + a 1`` puts along ``1`` and keeps the others.
    """
    if hessians.ndim != 3 or hessians.shape[1] != hessians.shape[2]:
        raise ValueError(f"hessians must be (N, C, C), got {tuple(hessians.shape)}")
    if shift_invariant:
        q = shift_free_basis(hessians.shape[1], dtype=hessians.dtype)  # (C, C - 1)
        hessians = q.T @ hessians @ q  # (N, C - 1, C - 1)
    return torch.linalg.eigvalsh(hessians)


def condition_numbers(eigenvalues: Tensor, *, tolerance: float = NULL_TOLERANCE) -> tuple[Tensor, Tensor]:
    """``kappa`` and the number of null directions of each spectrum ``(N, k)``; both ``(N,)``.

    ``kappa = max |lambda| / min { |lambda| : |lambda| > tolerance }`` (NaN where every ``|lambda|`` is at
    most ``tolerance``: an all-null spectrum); the null directions are those with ``|lambda| <= tolerance``.
    """
    check_number("tolerance", tolerance, low=0, low_open=True, allowed="a number > 0")
    size = eigenvalues.abs()  # (N, k)
    live = size > tolerance  # (N, k)
    smallest = torch.where(live, size, torch.inf).amin(dim=1)  # (N,): inf where nothing is live
    kappa = torch.where(live.any(dim=1), size.amax(dim=1) / smallest, torch.nan)
    return kappa, (~live).sum(dim=1)


def curvature_frame(config: LandscapeConfig, losses: Sequence[str] | None = None, *,
                    tolerance: float = NULL_TOLERANCE) -> pd.DataFrame:
    """Curvature of each loss at every point of ``config``'s grid: one row per loss x grid point.

    The grid is :func:`sigmse.landscape.surfaces.logit_grid`'s, always in float64 (``config.dtype`` and
    ``config.formula`` are not used: the registry losses are the stable formulas). Columns:

    * ``loss``, ``target``, ``fixed_logit``; ``z1``, ``z2`` (the free logits); ``correct`` (the true
      logit strictly the largest);
    * ``lambda_min``, ``lambda_max``: the smallest and largest eigenvalue of :func:`hessian_spectrum`
      (signed; on the subspace orthogonal to ``1`` for :data:`SHIFT_INVARIANT` losses);
    * ``condition``: :func:`condition_numbers`'s ``kappa``; ``null_directions``: its null count;
    * ``negative``: some eigenvalue is below ``-tolerance`` (a negative curvature beyond rounding: the
      loss is not convex there).
    """
    cfg = dataclasses.replace(config, dtype="float64")
    _, _, logits = logit_grid(cfg)  # (G*G, C)
    labels = torch.full((logits.shape[0],), target_index(cfg), dtype=torch.long)
    i, j = free_indices(cfg)
    base = {"target": cfg.target, "fixed_logit": float(cfg.fixed_logit), "z1": logits[:, i].numpy(),
            "z2": logits[:, j].numpy(), "correct": correct_cells(cfg).reshape(-1).numpy()}
    frames = []
    for loss in (LOSS_NAMES if losses is None else losses):
        spectrum = hessian_spectrum(logit_hessians(loss, logits, labels), shift_invariant=loss in SHIFT_INVARIANT)
        kappa, null = condition_numbers(spectrum, tolerance=tolerance)
        frames.append(pd.DataFrame({
            "loss": loss, **base,
            "lambda_min": spectrum[:, 0].numpy(), "lambda_max": spectrum[:, -1].numpy(),
            "condition": kappa.numpy(), "null_directions": null.numpy(),
            "negative": (spectrum[:, 0] < -tolerance).numpy(),
        }))
    return pd.concat(frames, ignore_index=True)
