r"""Curvature and conditioning of the landscape losses along the logits: Hessians by autograd, in float64.

Tests the counter-claim that sigmoid-MSE's surface is *badly conditioned*: at every point of the chapter's grid
(:mod:`sigmse.landscape.surfaces`) it takes the Hessian of each library loss (``reduction="sum"``) with respect
to **all** ``C = 3`` logits, by autograd (the tests compare with the closed forms). A loss that sees the logits
only through ``softmax(z)`` (:data:`SHIFT_INVARIANT`) has eigenvalue 0 along ``1 = (1, ..., 1)``, a symmetry and
not a valley, so its spectrum is taken orthogonal to ``1``. The condition number is

.. math::
    \kappa = \frac{\max_i |\lambda_i|}{\min \{ |\lambda_i| : |\lambda_i| > \tau \}},
    \qquad \tau = 10^{-12} \ (\text{NULL\_TOLERANCE}),

in absolute value because sigmoid-MSE is not convex in the logits; eigenvalues with ``|lambda| <= tau`` are
*null directions*, counted apart (at the pinned logit -1000 every bounded loss is exactly flat), and ``kappa``
is NaN where all are null. Output Reset's targets are detached (Danskin's theorem, see
:mod:`sigmse.losses.output_reset`), so its Hessian is that of the per-step objective training follows.

Reference: Tyagi et al., arXiv 2411.11213; J. Nocedal, S. J. Wright, *Numerical Optimization*, 2nd ed.,
Springer 2006, section 3.3 (the condition number and the speed of gradient descent).
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

__all__ = ["SHIFT_INVARIANT", "NULL_TOLERANCE", "logit_hessians", "shift_free_basis", "hessian_spectrum",
           "condition_numbers", "curvature_frame"]

# Losses that see the logits only through softmax(z), hence unchanged by z -> z + a (1, ..., 1).
SHIFT_INVARIANT = frozenset({"softmax_ce", "softmax_mse"})
# A direction is null when |eigenvalue| <= this, an absolute tolerance: the Hessian entries are sums of products
# of values in [0, 1] and constants up to 2, which float64 computes to a few eps (2.2e-16) absolute, and eigvalsh
# adds a few eps * ||H||. 1e-12 (~4500 eps) is well above that noise, and no gradient step could feel it.
NULL_TOLERANCE = 1e-12
_BATCHING_WARNING = "There is a performance drop because we have not yet implemented the batching rule"


def logit_hessians(loss: str, logits: Tensor, labels: Tensor) -> Tensor:
    r"""The Hessian :math:`H_n = \nabla^2_{z_n} \ell(z_n, c_n)` of ``loss`` at each row of ``logits``.

    ``logits`` :math:`(N, C)` (use float64: spectra are compared to 1e-12), ``labels`` :math:`(N,)` int64; returns
    :math:`(N, C, C)`, symmetric.

    Example::

        >>> z = torch.randn(4, 3, dtype=torch.float64)
        >>> logit_hessians("softmax_ce", z, torch.zeros(4, dtype=torch.long)).shape
        torch.Size([4, 3, 3])

    Note:
        ``jacrev(jacrev(.))`` under :func:`torch.func.vmap`, as :func:`torch.func.hessian` goes through the deprecated
        ``torch.jit.script``; vmap's speed warning about Output Reset's in-place ops is silenced, only it.
    """
    landscape_loss(loss)  # a ValueError listing the landscape's losses for any other name
    name, options = loss_setting(loss)
    module = get_loss(name, reduction="sum", **options)
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(f"logits must be (N, C) and labels (N,), got {tuple(logits.shape)} and {tuple(labels.shape)}")

    def one_row(z: Tensor, label: Tensor) -> Tensor:  # (C,), () -> ()
        return module(z[None], label[None])

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_BATCHING_WARNING, category=UserWarning)
        return torch.func.vmap(torch.func.jacrev(torch.func.jacrev(one_row)))(logits, labels)  # (N, C, C)


def shift_free_basis(num_classes: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """An orthonormal basis ``(C, C - 1)`` of the subspace orthogonal to ``(1, ..., 1)``: the QR factor of the first
    ``C - 1`` columns of the centring matrix ``I - 1 1^T / C``."""
    check_number("num_classes", num_classes, low=2, integer=True, allowed="an integer >= 2")
    centring = torch.eye(num_classes, dtype=dtype) - 1.0 / num_classes  # (C, C)
    return torch.linalg.qr(centring[:, : num_classes - 1]).Q  # (C, C - 1)


def hessian_spectrum(hessians: Tensor, *, shift_invariant: bool) -> Tensor:
    """Eigenvalues in ascending order, ``(N, C)``, or with ``shift_invariant=True`` those of ``Q^T H Q``,
    ``(N, C - 1)`` (``Q`` from :func:`shift_free_basis`), which drops the symmetry's 0 along ``1``."""
    if hessians.ndim != 3 or hessians.shape[1] != hessians.shape[2]:
        raise ValueError(f"hessians must be (N, C, C), got {tuple(hessians.shape)}")
    if shift_invariant:
        q = shift_free_basis(hessians.shape[1], dtype=hessians.dtype)  # (C, C - 1)
        hessians = q.T @ hessians @ q  # (N, C - 1, C - 1)
    return torch.linalg.eigvalsh(hessians)


def condition_numbers(eigenvalues: Tensor, *, tolerance: float = NULL_TOLERANCE) -> tuple[Tensor, Tensor]:
    """``kappa`` (module docstring; NaN where all is null) and the number of null directions
    ``|lambda| <= tolerance`` of each spectrum ``(N, k)``; both ``(N,)``."""
    check_number("tolerance", tolerance, low=0, low_open=True, allowed="a number > 0")
    size = eigenvalues.abs()  # (N, k)
    live = size > tolerance  # (N, k)
    smallest = torch.where(live, size, torch.inf).amin(dim=1)  # (N,): inf where nothing is live
    kappa = torch.where(live.any(dim=1), size.amax(dim=1) / smallest, torch.nan)
    return kappa, (~live).sum(dim=1)


def curvature_frame(config: LandscapeConfig, losses: Sequence[str] | None = None) -> pd.DataFrame:
    """Curvature of each loss at every point of ``config``'s grid, in float64: one row per loss x point.

    Columns: ``loss``, ``target``, ``fixed_logit``, ``z1``, ``z2``, ``correct`` (the true logit strictly largest);
    ``lambda_min``, ``lambda_max`` (signed, of :func:`hessian_spectrum`); ``condition`` and ``null_directions``
    (:func:`condition_numbers`); ``negative``: an eigenvalue below ``-NULL_TOLERANCE`` (not convex there).
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
        kappa, null = condition_numbers(spectrum)
        frames.append(pd.DataFrame({"loss": loss, **base, "lambda_min": spectrum[:, 0].numpy(),
                                    "lambda_max": spectrum[:, -1].numpy(), "condition": kappa.numpy(),
                                    "null_directions": null.numpy(),
                                    "negative": (spectrum[:, 0] < -NULL_TOLERANCE).numpy()}))
    return pd.concat(frames, ignore_index=True)
