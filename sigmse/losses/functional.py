r"""Classification losses as functions: ``name(logits, labels, *, reduction="mean", **options)``.

Every loss maps logits :math:`(N, C)` and int64 labels :math:`(N,)` to a per-sample loss :math:`l_n` summed over
the classes, combined by ``reduction`` (``"none"``, ``"mean"``, ``"sum"``). Half-precision logits are computed in
float32 (as autocast does for torch's losses). The maths, options and references are on each loss's module in
:mod:`sigmse.losses.modules`. Each function checks its options, then calls ``<name>_unchecked``, which checks only
the tensors (the modules check their options once, at construction, and call that directly).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sigmse.losses.output_reset import (OutputReset, check_iterations, check_shapes, check_targets, correct_mask,
                                        output_reset_unchecked)

__all__ = ["softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "softmax_mse", "rescaled_square", "mae", "gce",
           "symmetric_ce"]

REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_rescale(k: float, M: float) -> None:
    if not (k > 0 and M > 0):
        raise ValueError(f"k and M must be positive, got k={k!r}, M={M!r}")


def check_q(q: float) -> None:
    if not 0 < q <= 1:
        raise ValueError(f"q must lie in (0, 1], got q={q!r}")


def check_symmetric(alpha: float, beta: float, log_clip: float) -> None:
    if not (alpha >= 0 and beta >= 0 and alpha + beta > 0):
        raise ValueError(f"alpha and beta must be >= 0 and not both 0, got alpha={alpha!r}, beta={beta!r}")
    if not log_clip < 0:
        raise ValueError(f"log_clip must be negative (it stands for log 0), got log_clip={log_clip!r}")


def _prepare(logits: Tensor, labels: Tensor) -> Tensor:
    """Check the tensors every loss takes; return the logits in at least float32."""
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got dtype {logits.dtype}")
    if labels.dtype != torch.int64:
        raise TypeError(f"labels must be int64 class indices, got dtype {labels.dtype}")
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must have shape ({logits.shape[0]},), got {tuple(labels.shape)}")
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


def _reduce(per_sample: Tensor, reduction: str) -> Tensor:
    return per_sample.mean() if reduction == "mean" else per_sample.sum() if reduction == "sum" else per_sample


def _log_softmax_correct(z: Tensor, labels: Tensor) -> Tensor:
    r""":math:`\log p_c` for each sample, (N,)."""
    return z.log_softmax(dim=1).gather(1, labels[:, None]).squeeze(1)


def softmax_ce_unchecked(logits: Tensor, labels: Tensor, *, reduction: str) -> Tensor:
    return F.cross_entropy(_prepare(logits, labels), labels, reduction=reduction)


def sigmoid_mse_unchecked(logits: Tensor, labels: Tensor, *, reduction: str, pos: float, neg: float) -> Tensor:
    z = _prepare(logits, labels)
    targets = torch.full_like(z, neg).masked_fill(correct_mask(labels, z.shape[1]), pos)  # (N, C)
    return _reduce((torch.sigmoid(z) - targets).square().sum(dim=1), reduction)


def sigmoid_mse_or_unchecked(logits: Tensor, labels: Tensor, *, reduction: str, pos: float, neg: float, shift: bool,
                             iterations: int | None) -> tuple[Tensor, OutputReset]:
    """The loss and the :class:`OutputReset` it regressed on."""
    z = _prepare(logits, labels)
    check_shapes(z, labels)  # Output Reset needs C >= 2
    y = torch.sigmoid(z)  # (N, C)
    result = output_reset_unchecked(y, labels, pos=pos, neg=neg, shift=shift, iterations=iterations)
    return _reduce((y - result.targets).square().sum(dim=1), reduction), result


def softmax_mse_unchecked(logits: Tensor, labels: Tensor, *, reduction: str) -> Tensor:
    z = _prepare(logits, labels)
    p = z.softmax(dim=1)
    return _reduce((p - correct_mask(labels, z.shape[1]).to(p.dtype)).square().sum(dim=1), reduction)


def rescaled_square_unchecked(logits: Tensor, labels: Tensor, *, reduction: str, k: float, M: float) -> Tensor:
    z = _prepare(logits, labels)
    per_class = torch.where(correct_mask(labels, z.shape[1]), k * (z - M).square(), z.square())  # (N, C)
    return _reduce(per_class.sum(dim=1), reduction)


def mae_unchecked(logits: Tensor, labels: Tensor, *, reduction: str) -> Tensor:
    z = _prepare(logits, labels)
    return _reduce(-2 * torch.expm1(_log_softmax_correct(z, labels)), reduction)


def gce_unchecked(logits: Tensor, labels: Tensor, *, reduction: str, q: float) -> Tensor:
    z = _prepare(logits, labels)
    return _reduce(-torch.expm1(q * _log_softmax_correct(z, labels)) / q, reduction)


def symmetric_ce_unchecked(logits: Tensor, labels: Tensor, *, reduction: str, alpha: float, beta: float,
                           log_clip: float) -> Tensor:
    log_p_c = _log_softmax_correct(_prepare(logits, labels), labels)  # (N,)
    return _reduce(-alpha * log_p_c + beta * log_clip * torch.expm1(log_p_c), reduction)


def softmax_ce(logits: Tensor, labels: Tensor, *, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: :class:`~sigmse.losses.modules.SoftmaxCrossEntropyLoss` as a function."""
    check_reduction(reduction)
    return softmax_ce_unchecked(logits, labels, reduction=reduction)


def sigmoid_mse(logits: Tensor, labels: Tensor, *, reduction: str = "mean", pos: float = 1.0,
                neg: float = 0.0) -> Tensor:
    """Sigmoid-MSE to fixed targets: :class:`~sigmse.losses.modules.SigmoidMSELoss` as a function."""
    check_reduction(reduction)
    check_targets(pos, neg)
    return sigmoid_mse_unchecked(logits, labels, reduction=reduction, pos=pos, neg=neg)


def sigmoid_mse_or(logits: Tensor, labels: Tensor, *, reduction: str = "mean", pos: float = 1.0, neg: float = 0.0,
                   shift: bool = True, iterations: int | None = None) -> Tensor:
    """Sigmoid-MSE with Output Reset: :class:`~sigmse.losses.modules.SigmoidMSEOutputResetLoss` as a function."""
    check_reduction(reduction)
    check_targets(pos, neg)
    check_iterations(iterations)
    return sigmoid_mse_or_unchecked(logits, labels, reduction=reduction, pos=pos, neg=neg, shift=shift,
                                    iterations=iterations)[0]


def softmax_mse(logits: Tensor, labels: Tensor, *, reduction: str = "mean") -> Tensor:
    """Squared error of softmax outputs (Brier): :class:`~sigmse.losses.modules.SoftmaxMSELoss` as a function."""
    check_reduction(reduction)
    return softmax_mse_unchecked(logits, labels, reduction=reduction)


def rescaled_square(logits: Tensor, labels: Tensor, *, reduction: str = "mean", k: float = 1.0,
                    M: float = 1.0) -> Tensor:
    """Hui & Belkin's square loss on logits: :class:`~sigmse.losses.modules.RescaledSquareLoss` as a function."""
    check_reduction(reduction)
    check_rescale(k, M)
    return rescaled_square_unchecked(logits, labels, reduction=reduction, k=k, M=M)


def mae(logits: Tensor, labels: Tensor, *, reduction: str = "mean") -> Tensor:
    """Absolute error of softmax outputs: :class:`~sigmse.losses.modules.MAELoss` as a function."""
    check_reduction(reduction)
    return mae_unchecked(logits, labels, reduction=reduction)


def gce(logits: Tensor, labels: Tensor, *, reduction: str = "mean", q: float = 0.7) -> Tensor:
    """Generalized cross-entropy: :class:`~sigmse.losses.modules.GCELoss` as a function."""
    check_reduction(reduction)
    check_q(q)
    return gce_unchecked(logits, labels, reduction=reduction, q=q)


def symmetric_ce(logits: Tensor, labels: Tensor, *, reduction: str = "mean", alpha: float = 0.1, beta: float = 1.0,
                 log_clip: float = -4.0) -> Tensor:
    """Symmetric cross-entropy: :class:`~sigmse.losses.modules.SymmetricCELoss` as a function."""
    check_reduction(reduction)
    check_symmetric(alpha, beta, log_clip)
    return symmetric_ce_unchecked(logits, labels, reduction=reduction, alpha=alpha, beta=beta, log_clip=log_clip)
