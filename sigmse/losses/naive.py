r"""The losses' textbook forms, with ``exp``, ``log`` and the sigmoid written out: to trace numerical artefacts.

:mod:`sigmse.losses.functional` computes the stable way (``log_softmax``, ``torch.softmax``, ``torch.sigmoid``);
these forms are the formulas as a textbook writes them, so a NaN or an infinity that appears with one form but not
the other is traced to the arithmetic (``exp`` overflows beyond 88.7 in float32 and 709.8 in float64, ``log 0 =
-inf``, ``inf / inf = NaN``) rather than to the loss. Each takes logits :math:`(N, C)` and labels :math:`(N,)` in
the dtype given (no promotion) and returns the per-sample loss :math:`(N,)`; :data:`sigmse.losses.modules.LOSSES`
names each as its entry's ``naive``.
"""

from __future__ import annotations

import torch
from torch import Tensor

import sigmse.losses.functional as functional  # the submodule, never the package's __init__
from sigmse.losses.output_reset import correct_mask, output_reset_targets

__all__ = ["softmax", "sigmoid", "softmax_ce", "softmax_mse", "sigmoid_mse", "sigmoid_mse_or", "rescaled_square"]


def softmax(z: Tensor) -> Tensor:
    """``exp(z) / sum(exp(z))`` along the classes: ``inf / inf = NaN`` where an ``exp`` overflows."""
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


def sigmoid(z: Tensor) -> Tensor:
    """``1 / (1 + exp(-z))``: right at ``z -> -inf`` (``1 / inf = 0``) but its derivative is ``inf / inf = NaN``."""
    return 1.0 / (1.0 + torch.exp(-z))


def _targets(z: Tensor, labels: Tensor, pos: float, neg: float) -> Tensor:
    return torch.full_like(z, neg).masked_fill(correct_mask(labels, z.shape[1]), pos)  # (N, C)


def softmax_ce(logits: Tensor, labels: Tensor) -> Tensor:
    """``-log(softmax(z)_c)``: ``log 0 = -inf`` once the true class's probability underflows."""
    return -torch.log(softmax(logits)).gather(1, labels[:, None]).squeeze(1)


def softmax_mse(logits: Tensor, labels: Tensor) -> Tensor:
    """``sum_i (softmax(z)_i - [i = c])^2``."""
    return (softmax(logits) - _targets(logits, labels, 1.0, 0.0)).square().sum(dim=1)


def sigmoid_mse(logits: Tensor, labels: Tensor, *, pos: float = 1.0, neg: float = 0.0) -> Tensor:
    """``sum_i (sigmoid(z_i) - t_i)^2`` with ``t = pos`` on the true class and ``neg`` elsewhere."""
    return (sigmoid(logits) - _targets(logits, labels, pos, neg)).square().sum(dim=1)


def sigmoid_mse_or(logits: Tensor, labels: Tensor, *, pos: float = 1.0, neg: float = 0.0, shift: bool = True,
                   iterations: int | None = None) -> Tensor:
    """``sum_i (sigmoid(z_i) - t'_i)^2`` with the Output Reset targets ``t'`` of the outputs, held constant."""
    y = sigmoid(logits)
    targets = output_reset_targets(y.detach(), labels, pos=pos, neg=neg, shift=shift, iterations=iterations)
    return (y - targets).square().sum(dim=1)


def rescaled_square(logits: Tensor, labels: Tensor, *, k: float = 1.0, M: float = 1.0) -> Tensor:
    """The square loss on the raw logits has no ``exp`` or ``log`` to write out: its textbook form is the loss."""
    return functional.rescaled_square(logits, labels, reduction="none", k=k, M=M)
