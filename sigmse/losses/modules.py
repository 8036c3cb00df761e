"""Loss modules and the registry that names them.

Each loss of :mod:`sigmse.losses.functional` has a thin :class:`torch.nn.Module` here: options are keyword-only,
checked on construction, and ``forward`` delegates to the function. :data:`LOSSES` maps lower-case names to
a :class:`LossSpec`; :func:`get_loss` builds a module by name and rejects unknown names, unknown options and
invalid values with a ``ValueError`` that quotes them. :func:`class_probabilities` turns logits into the class
probabilities a loss implies, for NLL and calibration (ECE).

Example::

    >>> criterion = get_loss("sigmoid_mse_or")
    >>> loss = criterion(torch.randn(8, 10), torch.randint(10, (8,)))
    >>> share_reset = criterion.reset_count / (8 * 10)  # 0-dim tensor, no host sync
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sigmse.losses import functional
from sigmse.checks import check_typed
from sigmse.losses.output_reset import check_iterations, check_targets, reset_count

__all__ = [
    "SoftmaxCrossEntropyLoss",
    "SigmoidMSELoss",
    "SigmoidMSEOutputResetLoss",
    "SoftmaxMSELoss",
    "RescaledSquareLoss",
    "MAELoss",
    "GCELoss",
    "SymmetricCELoss",
    "LossSpec",
    "LOSSES",
    "loss_names",
    "loss_options",
    "get_loss",
    "class_probabilities",
]


def _options(module: type[nn.Module]) -> dict[str, Any]:
    """The keyword-only options of a loss module and their defaults, read from its signature."""
    parameters = inspect.signature(module.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


class _Loss(nn.Module):
    """Base of the sigmse loss modules: checks and stores ``reduction``, prints the options."""

    # Number of outputs whose target the last forward reset, for the trainer to log; only
    # SigmoidMSEOutputResetLoss sets it, so the trainer can getattr it on any loss.
    reset_count: Tensor | None = None

    def __init__(self, reduction: str) -> None:
        super().__init__()
        functional.check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in _options(type(self)))


class SoftmaxCrossEntropyLoss(_Loss):
    """Softmax cross-entropy; math, options and reference in :func:`sigmse.losses.functional.softmax_ce`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.softmax_ce(logits, labels, reduction=self.reduction)


class SigmoidMSELoss(_Loss):
    """Sigmoid-MSE with fixed targets; math, options and reference in :func:`sigmse.losses.functional.sigmoid_mse`."""

    def __init__(self, *, reduction: str = "mean", pos: float = 1.0, neg: float = 0.0) -> None:
        super().__init__(reduction)
        check_targets(pos, neg)
        self.pos, self.neg = pos, neg

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.sigmoid_mse(logits, labels, reduction=self.reduction, pos=self.pos, neg=self.neg)


class SigmoidMSEOutputResetLoss(_Loss):
    """Sigmoid-MSE with Output Reset; math, options and references in :func:`sigmse.losses.functional.sigmoid_mse_or`.

    After each forward, ``reset_count`` holds the number of outputs whose target was reset in that batch
    (0-dim int64, detached, on the logits' device); divide by ``N * C`` for the share.
    """

    def __init__(
        self,
        *,
        reduction: str = "mean",
        pos: float = 1.0,
        neg: float = 0.0,
        shift: bool = True,
        iterations: int | None = None,
    ) -> None:
        super().__init__(reduction)
        check_targets(pos, neg)
        check_iterations(iterations)
        self.pos, self.neg, self.shift, self.iterations = pos, neg, shift, iterations

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        loss, result = functional.sigmoid_mse_or_with_reset(
            logits,
            labels,
            reduction=self.reduction,
            pos=self.pos,
            neg=self.neg,
            shift=self.shift,
            iterations=self.iterations,
        )
        self.reset_count = reset_count(result)
        return loss


class SoftmaxMSELoss(_Loss):
    """Squared error on softmax outputs; math and reference in :func:`sigmse.losses.functional.softmax_mse`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.softmax_mse(logits, labels, reduction=self.reduction)


class RescaledSquareLoss(_Loss):
    """Hui & Belkin's square loss on logits; math and options in :func:`sigmse.losses.functional.rescaled_square`."""

    def __init__(self, *, reduction: str = "mean", k: float = 1.0, M: float = 1.0) -> None:
        super().__init__(reduction)
        functional.check_rescale(k, M)
        self.k, self.M = k, M

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.rescaled_square(logits, labels, reduction=self.reduction, k=self.k, M=self.M)


class MAELoss(_Loss):
    """Absolute error on softmax outputs; math and reference in :func:`sigmse.losses.functional.mae`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.mae(logits, labels, reduction=self.reduction)


class GCELoss(_Loss):
    """Generalized cross-entropy; math, options and reference in :func:`sigmse.losses.functional.gce`."""

    def __init__(self, *, reduction: str = "mean", q: float = 0.7) -> None:
        super().__init__(reduction)
        functional.check_q(q)
        self.q = q

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.gce(logits, labels, reduction=self.reduction, q=self.q)


class SymmetricCELoss(_Loss):
    """Symmetric cross-entropy; math, options and reference in :func:`sigmse.losses.functional.symmetric_ce`."""

    def __init__(
        self, *, reduction: str = "mean", alpha: float = 0.1, beta: float = 1.0, log_clip: float = -4.0
    ) -> None:
        super().__init__(reduction)
        functional.check_symmetric(alpha, beta, log_clip)
        self.alpha, self.beta, self.log_clip = alpha, beta, log_clip

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.symmetric_ce(
            logits, labels, reduction=self.reduction, alpha=self.alpha, beta=self.beta, log_clip=self.log_clip
        )


# ---- registry -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSpec:
    """One registered loss."""

    name: str  # registry key, also the name of the function in sigmse.losses.functional
    module: type[nn.Module]
    description: str
    # How NLL and ECE derive class probabilities from the logits: "softmax", or "sigmoid" for the
    # normalised sigmoid outputs sigma(z) / sum(sigma(z)) of the losses that train sigmoids.
    probabilities: Literal["softmax", "sigmoid"]


LOSSES: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        LossSpec("softmax_ce", SoftmaxCrossEntropyLoss, "cross-entropy on softmax outputs", "softmax"),
        LossSpec("sigmoid_mse", SigmoidMSELoss, "squared error of sigmoid outputs to fixed targets", "sigmoid"),
        LossSpec(
            "sigmoid_mse_or",
            SigmoidMSEOutputResetLoss,
            "squared error of sigmoid outputs to Output Reset targets",
            "sigmoid",
        ),
        LossSpec("softmax_mse", SoftmaxMSELoss, "squared error of softmax outputs to one-hot (Brier)", "softmax"),
        LossSpec("rescaled_square", RescaledSquareLoss, "square loss on logits, Hui & Belkin rescaling", "softmax"),
        LossSpec("mae", MAELoss, "absolute error of softmax outputs to one-hot", "softmax"),
        LossSpec("gce", GCELoss, "generalized cross-entropy (Zhang & Sabuncu)", "softmax"),
        LossSpec("symmetric_ce", SymmetricCELoss, "cross-entropy plus reverse cross-entropy (Wang et al.)", "softmax"),
    )
}


def loss_names() -> list[str]:
    """The registered loss names, sorted."""
    return sorted(LOSSES)


def _spec(name: str) -> LossSpec:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(loss_names())}")
    return LOSSES[name]


def loss_options(name: str) -> dict[str, Any]:
    """The options :func:`get_loss` accepts for loss ``name``, with their defaults (``reduction`` included)."""
    return _options(_spec(name).module)


def get_loss(name: str, **options: Any) -> nn.Module:
    """Build the loss module registered as ``name`` with the given keyword options.

    Raises:
        ValueError: for an unknown name (lists the valid ones), an unknown option (names it and the allowed
            ones) or an invalid value (quotes it).
    """
    allowed = loss_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for loss {name!r}; allowed: {sorted(allowed)}")
    declared = inspect.signature(_spec(name).module.__init__).parameters
    for key, value in options.items():  # e.g. pos="high" is named here, not a TypeError deep in a check
        annotation = declared[key].annotation
        check_typed(f"loss option {key}", value, annotation if isinstance(annotation, str) else annotation.__name__)
    return _spec(name).module(**options)


def class_probabilities(logits: Tensor, loss_name: str) -> Tensor:
    """Class probabilities (N, C), rows summing to 1, as implied by the loss ``loss_name``.

    Softmax for the softmax-based losses; for the sigmoid losses the normalised sigmoid outputs
    :math:`\\sigma(z_i) / \\sum_j \\sigma(z_j)`, computed as ``softmax(logsigmoid(z))`` so that rows stay finite
    when every sigmoid underflows. Half-precision logits give float32 probabilities.
    """
    z = logits.to(torch.promote_types(logits.dtype, torch.float32))
    if _spec(loss_name).probabilities == "sigmoid":
        z = F.logsigmoid(z)
    return z.softmax(dim=1)
