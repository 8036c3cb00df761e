"""Loss modules and the registry that names them.

Each loss of :mod:`sigmse.losses.functional` has a thin, stateless :class:`torch.nn.Module` here, documented like
torch's losses. Options are keyword-only and checked once, on construction; ``forward`` is one line calling the
functional form's ``<name>_unchecked`` variant, so a forward checks only its tensors. :data:`LOSSES` maps lower-case
names to a :class:`LossSpec`; :data:`LOSS_VARIANTS` names a registered loss at fixed options.

Example::

    >>> criterion = get_loss("sigmoid_mse_or")
    >>> loss, resets = criterion.forward_with_reset_count(torch.randn(8, 10), torch.randint(10, (8,)))
    >>> share_reset = resets / (8 * 10)  # 0-dim tensor, no host sync
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import sigmse.losses.functional as functional  # the submodules themselves, never the package's __init__
import sigmse.losses.naive as naive_forms
from sigmse.checks import check_typed
from sigmse.losses.output_reset import OutputReset, check_iterations, check_targets, reset_count

__all__ = ["SoftmaxCrossEntropyLoss", "SigmoidMSELoss", "SigmoidMSEOutputResetLoss", "SoftmaxMSELoss",
           "RescaledSquareLoss", "MAELoss", "GCELoss", "SymmetricCELoss", "LossSpec", "LOSSES", "LossVariant",
           "LOSS_VARIANTS", "loss_names", "loss_options", "get_loss", "loss_setting", "loss_form", "display_name",
           "class_probabilities"]


def _options(module: type[nn.Module]) -> dict[str, Any]:
    """The keyword-only options of a loss module and their defaults, read from its signature."""
    parameters = inspect.signature(module.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


class _Loss(nn.Module):
    """Base of the loss modules: checks and stores ``reduction``, prints the options. A loss module holds its
    options and nothing else (no parameters, buffers or state a forward writes), so one serves any thread or device."""

    def __init__(self, reduction: str) -> None:
        super().__init__()
        functional.check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in _options(type(self)))


class SoftmaxCrossEntropyLoss(_Loss):
    r"""Cross-entropy on softmax outputs, the baseline the paper challenges.

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = -\log p_{n,c_n}, \qquad p_n = \operatorname{softmax}(z_n),

    and ``reduction`` combines the batch: ``"none"`` returns :math:`(l_1, \dots, l_N)`, ``"mean"``
    :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - Input: :math:`(N, C)`, the logits :math:`z`.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = SoftmaxCrossEntropyLoss()
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> SoftmaxCrossEntropyLoss(reduction="none")(torch.zeros(1, 4), torch.tensor([0]))  # log 4
        tensor([1.3863])

    Note:
        Computed by :func:`torch.nn.functional.cross_entropy`, from ``log_softmax``: finite for any
        finite logits.

    Reference:
        C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer 2006, section 4.3.4.
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.softmax_ce_unchecked(logits, labels, reduction=self.reduction)


class SigmoidMSELoss(_Loss):
    r"""Squared error between sigmoid outputs and fixed class targets.

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(\sigma(z_{n,i}) - t_{n,i}\bigr)^2, \qquad
        t_{n,i} = \begin{cases} \text{pos}, & i = c_n \\ \text{neg}, & i \ne c_n \end{cases}

    with :math:`\sigma(u) = 1 / (1 + e^{-u})`, and ``reduction`` combines the batch: ``"none"`` returns
    :math:`(l_1, \dots, l_N)`, ``"mean"`` :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        pos: target of the correct class. Default: 1.0.
        neg: target of the other classes; must be below ``pos``. Default: 0.0.

    Shape:
        - Input: :math:`(N, C)`, the logits :math:`z`.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = SigmoidMSELoss()
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> SigmoidMSELoss(reduction="none")(torch.zeros(1, 3), torch.tensor([0]))  # 0.5^2 + 2 * 0.5^2
        tensor([0.7500])

    Note:
        The loss sums over the classes and averages over the samples, so each output gets the gradient
        :math:`\frac2N (y - t)\,\sigma'(z)`; :func:`torch.nn.functional.mse_loss` with its ``"mean"``
        averages over all :math:`N C` elements, a gradient :math:`C` times smaller. The reduction so sets
        the effective learning rate: learning rates compare only between runs with the same reduction.

    Reference:
        K. Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax
        Cross-Entropy in Neural Network Classification*, arXiv:2411.11213, 2024.
    """

    def __init__(self, *, reduction: str = "mean", pos: float = 1.0, neg: float = 0.0) -> None:
        super().__init__(reduction)
        check_targets(pos, neg)
        self.pos, self.neg = pos, neg

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.sigmoid_mse_unchecked(logits, labels, reduction=self.reduction, pos=self.pos, neg=self.neg)


class SigmoidMSEOutputResetLoss(_Loss):
    r"""Sigmoid-MSE with Output Reset: squared error to targets reset on the current outputs.

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(y_{n,i} - t'_{n,i}\bigr)^2, \qquad
        y_n = \sigma(z_n), \quad t'_n = t_n + a_n \mathbf{1} + d_n ,

    where :math:`t_n` are the targets of :class:`SigmoidMSELoss` and the shift :math:`a_n` and the
    one-sided resets :math:`d_{n,c_n} \ge 0`, :math:`d_{n,i} \le 0` minimise :math:`l_n` (see
    :mod:`sigmse.losses.output_reset`); ``reduction`` combines the batch: ``"none"`` returns
    :math:`(l_1, \dots, l_N)`, ``"mean"`` :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`.
    :math:`l_n = 0` once the correct output leads every other by ``pos - neg``.

    :meth:`forward_with_reset_count` also returns how many outputs had their target reset
    (:math:`d_{n,i} \ne 0`), which the trainer logs as the reset fraction.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        pos: target of the correct class before the reset. Default: 1.0.
        neg: target of the other classes before the reset; must be below ``pos``. Default: 0.0.
        shift: allow the common shift :math:`a_n`; on sigmoid outputs with ``pos=1, neg=0`` and
            ``shift=False`` nothing is ever reset. Default: ``True``.
        iterations: ``None`` solves Output Reset exactly; an int :math:`K \ge 1` runs the original
            alternating procedure :math:`K` times. Default: ``None``.

    Shape:
        - Input: :math:`(N, C)` with :math:`C \ge 2`, the logits :math:`z`.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = SigmoidMSEOutputResetLoss()
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> loss = SigmoidMSEOutputResetLoss(reduction="none", pos=0.9, neg=0.1)
        >>> logits, labels = torch.tensor([[0.0, 0.0, 0.0], [4.0, -4.0, -4.0]]), torch.tensor([0, 0])
        >>> SigmoidMSELoss(reduction="none", pos=0.9, neg=0.1)(logits, labels)
        tensor([0.4800, 0.0202])
        >>> loss(logits, labels)  # the second pattern leads by more than pos - neg = 0.8: no error
        tensor([0.4267, 0.0000])
        >>> loss.forward_with_reset_count(logits, labels)[1]  # the 3 targets of the second moved onto its outputs
        tensor(3)

    Note:
        The targets are computed on every call from the detached outputs, so no gradient flows through
        them; that is also the exact gradient of :math:`l_n` as a function of :math:`y_n` (Danskin's
        theorem). As for :class:`SigmoidMSELoss`, the reduction sets the gradient scale and so the
        effective learning rate.

    Reference:
        K. Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax
        Cross-Entropy in Neural Network Classification*, arXiv:2411.11213, 2024; Output Reset from
        J. Li, M. T. Manry et al., FLAIRS 2004 and K. Tyagi, M. T. Manry, Neural Processing Letters 50, 2019.
    """

    def __init__(self, *, reduction: str = "mean", pos: float = 1.0, neg: float = 0.0, shift: bool = True,
                 iterations: int | None = None) -> None:
        super().__init__(reduction)
        check_targets(pos, neg)
        check_iterations(iterations)
        self.pos, self.neg, self.shift, self.iterations = pos, neg, shift, iterations

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self._loss_and_reset(logits, labels)[0]

    def forward_with_reset_count(self, logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The loss of :meth:`forward` and the number of outputs whose target was reset, from one solve.

        The count is a 0-dim int64 tensor on the logits' device, detached, read without a host sync;
        divide it by :math:`N C` for the share of reset outputs.
        """
        loss, result = self._loss_and_reset(logits, labels)
        return loss, reset_count(result)

    def _loss_and_reset(self, logits: Tensor, labels: Tensor) -> tuple[Tensor, OutputReset]:
        return functional.sigmoid_mse_or_unchecked(
            logits, labels, reduction=self.reduction, pos=self.pos, neg=self.neg, shift=self.shift,
            iterations=self.iterations,
        )


class SoftmaxMSELoss(_Loss):
    r"""Squared error between softmax outputs and one-hot labels (the multi-class Brier score).

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(p_{n,i} - [i = c_n]\bigr)^2, \qquad p_n = \operatorname{softmax}(z_n),

    and ``reduction`` combines the batch: ``"none"`` returns :math:`(l_1, \dots, l_N)`, ``"mean"``
    :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - Input: :math:`(N, C)`, the logits :math:`z`.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = SoftmaxMSELoss()
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> SoftmaxMSELoss(reduction="none")(torch.zeros(1, 4), torch.tensor([0]))  # 0.75^2 + 3 * 0.25^2
        tensor([0.7500])

    Reference:
        G. W. Brier, *Verification of forecasts expressed in terms of probability*,
        Monthly Weather Review 78, 1950.
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.softmax_mse_unchecked(logits, labels, reduction=self.reduction)


class RescaledSquareLoss(_Loss):
    r"""Square loss on the raw logits with Hui & Belkin's rescaling of the correct class.

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = k\,(z_{n,c_n} - M)^2 + \sum_{i \ne c_n} z_{n,i}^2 ,

    and ``reduction`` combines the batch: ``"none"`` returns :math:`(l_1, \dots, l_N)`, ``"mean"``
    :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`. ``k = M = 1`` is the plain square loss
    against one-hot targets.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        k: weight of the correct class, > 0 (Hui & Belkin use larger ``k`` for many classes). Default: 1.0.
        M: target of the correct class, > 0. Default: 1.0.

    Shape:
        - Input: :math:`(N, C)`, the logits :math:`z`, used without any squashing.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = RescaledSquareLoss(k=2.0, M=2.0)
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> logits = torch.tensor([[1.0, 0.5, -0.5]])
        >>> RescaledSquareLoss(reduction="none", k=2.0, M=2.0)(logits, torch.tensor([0]))  # 2 * 1 + 0.25 + 0.25
        tensor([2.5000])

    Reference:
        L. Hui, M. Belkin, *Evaluation of Neural Architectures Trained with Square Loss vs
        Cross-Entropy in Classification Tasks*, ICLR 2021, arXiv:2006.07322.
    """

    def __init__(self, *, reduction: str = "mean", k: float = 1.0, M: float = 1.0) -> None:
        super().__init__(reduction)
        functional.check_rescale(k, M)
        self.k, self.M = k, M

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.rescaled_square_unchecked(logits, labels, reduction=self.reduction, k=self.k, M=self.M)


class MAELoss(_Loss):
    r"""Mean absolute error between softmax outputs and one-hot labels.

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = \sum_{i=1}^{C} \bigl|p_{n,i} - [i = c_n]\bigr| = 2\,(1 - p_{n,c_n}),
        \qquad p_n = \operatorname{softmax}(z_n),

    and ``reduction`` combines the batch: ``"none"`` returns :math:`(l_1, \dots, l_N)`, ``"mean"``
    :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - Input: :math:`(N, C)`, the logits :math:`z`.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = MAELoss()
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> MAELoss(reduction="none")(torch.zeros(1, 4), torch.tensor([0]))  # 2 * (1 - 0.25)
        tensor([1.5000])

    Note:
        Computed as :math:`-2\,\operatorname{expm1}(\log p_c)`: the closed form avoids the kink of
        :math:`|\cdot|` at outputs that underflow to 0, and ``expm1`` keeps :math:`1 - p_c` accurate
        when :math:`p_c \to 1`.

    Reference:
        A. Ghosh, H. Kumar, P. S. Sastry, *Robust Loss Functions under Label Noise for Deep Neural
        Networks*, AAAI 2017, arXiv:1712.09482.
    """

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.mae_unchecked(logits, labels, reduction=self.reduction)


class GCELoss(_Loss):
    r"""Generalized cross-entropy, between cross-entropy (:math:`q \to 0`) and MAE (:math:`q = 1`).

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = \frac{1 - p_{n,c_n}^{\,q}}{q}, \qquad p_n = \operatorname{softmax}(z_n),

    and ``reduction`` combines the batch: ``"none"`` returns :math:`(l_1, \dots, l_N)`, ``"mean"``
    :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        q: exponent in (0, 1]. Default: 0.7 (Zhang & Sabuncu's choice).

    Shape:
        - Input: :math:`(N, C)`, the logits :math:`z`.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = GCELoss(q=0.7)
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> GCELoss(reduction="none", q=0.5)(torch.zeros(1, 4), torch.tensor([0]))  # (1 - 0.25^0.5) / 0.5
        tensor([1.])

    Note:
        Computed as :math:`-\operatorname{expm1}(q \log p_c) / q` from ``log_softmax``, accurate also
        when :math:`p_c \to 1`.

    Reference:
        Z. Zhang, M. R. Sabuncu, *Generalized Cross Entropy Loss for Training Deep Neural Networks
        with Noisy Labels*, NeurIPS 2018, arXiv:1805.07836.
    """

    def __init__(self, *, reduction: str = "mean", q: float = 0.7) -> None:
        super().__init__(reduction)
        functional.check_q(q)
        self.q = q

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.gce_unchecked(logits, labels, reduction=self.reduction, q=self.q)


class SymmetricCELoss(_Loss):
    r"""Symmetric cross-entropy: cross-entropy plus reverse cross-entropy.

    For logits :math:`z` and class indices :math:`c`, the loss of sample :math:`n` is

    .. math::
        l_n = -\alpha \log p_{n,c_n} - \beta \sum_{i=1}^{C} p_{n,i} \log q_{n,i}
            = -\alpha \log p_{n,c_n} - \beta A \,(1 - p_{n,c_n}),

    where :math:`p_n = \operatorname{softmax}(z_n)`, :math:`q_n` is the one-hot label and
    :math:`\log 0` is clipped to :math:`A` = ``log_clip``; ``reduction`` combines the batch: ``"none"``
    returns :math:`(l_1, \dots, l_N)`, ``"mean"`` :math:`\frac1N \sum_n l_n`, ``"sum"`` :math:`\sum_n l_n`.

    Args:
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        alpha: weight of cross-entropy, >= 0. Default: 0.1.
        beta: weight of reverse cross-entropy, >= 0; not both 0. Default: 1.0.
        log_clip: value :math:`A < 0` that stands for :math:`\log 0`. Default: -4.0.

    Shape:
        - Input: :math:`(N, C)`, the logits :math:`z`.
        - Target: :math:`(N,)`, int64 class indices :math:`c_n \in [0, C)`.
        - Output: scalar; :math:`(N,)` with ``reduction="none"``. Float32 for half-precision logits.

    Example::

        >>> loss = SymmetricCELoss()
        >>> logits = torch.randn(3, 5, requires_grad=True)
        >>> loss(logits, torch.tensor([1, 0, 4])).backward()
        >>> SymmetricCELoss(reduction="none")(torch.zeros(1, 4), torch.tensor([0]))  # 0.1 log 4 + 4 * 0.75
        tensor([3.1386])

    Note:
        The defaults are Wang et al.'s CIFAR-10 setting. Both terms come from one ``log_softmax``;
        :math:`1 - p_c` is computed as :math:`-\operatorname{expm1}(\log p_c)`.

    Reference:
        Y. Wang, X. Ma, Z. Chen, Y. Luo, J. Yi, J. Bailey, *Symmetric Cross Entropy for Robust
        Learning with Noisy Labels*, ICCV 2019, arXiv:1908.06112.
    """

    def __init__(
        self, *, reduction: str = "mean", alpha: float = 0.1, beta: float = 1.0, log_clip: float = -4.0
    ) -> None:
        super().__init__(reduction)
        functional.check_symmetric(alpha, beta, log_clip)
        self.alpha, self.beta, self.log_clip = alpha, beta, log_clip

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return functional.symmetric_ce_unchecked(
            logits, labels, reduction=self.reduction, alpha=self.alpha, beta=self.beta, log_clip=self.log_clip
        )


@dataclass(frozen=True)
class LossSpec:
    """One registered loss."""

    name: str  # registry key, also the name of the function in sigmse.losses.functional
    module: type[nn.Module]
    description: str
    # How NLL and ECE derive class probabilities from the logits: "softmax", or "sigmoid" for the
    # normalised sigmoid outputs sigma(z) / sum(sigma(z)) of the losses that train sigmoids.
    probabilities: Literal["softmax", "sigmoid"]
    display: str  # the name the book prints, in every chapter
    # The textbook form (sigmse.losses.naive): naive(logits, labels, **options) -> (N,), with exp, log and the
    # sigmoid written out, to trace numerical artefacts; None where no analysis needs one.
    naive: Callable[..., Tensor] | None = None


LOSSES: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        LossSpec("softmax_ce", SoftmaxCrossEntropyLoss, "cross-entropy on softmax outputs", "softmax",
                 "softmax CE", naive_forms.softmax_ce),
        LossSpec("sigmoid_mse", SigmoidMSELoss, "squared error of sigmoid outputs to fixed targets", "sigmoid",
                 "sigmoid-MSE", naive_forms.sigmoid_mse),
        LossSpec("sigmoid_mse_or", SigmoidMSEOutputResetLoss,
                 "squared error of sigmoid outputs to Output Reset targets", "sigmoid", "sigmoid-MSE + OR",
                 naive_forms.sigmoid_mse_or),
        LossSpec("softmax_mse", SoftmaxMSELoss, "squared error of softmax outputs to one-hot (Brier)", "softmax",
                 "softmax-MSE", naive_forms.softmax_mse),
        LossSpec("rescaled_square", RescaledSquareLoss, "square loss on logits, Hui & Belkin rescaling", "softmax",
                 "rescaled square", naive_forms.rescaled_square),
        LossSpec("mae", MAELoss, "absolute error of softmax outputs to one-hot", "softmax", "MAE"),
        LossSpec("gce", GCELoss, "generalized cross-entropy (Zhang & Sabuncu)", "softmax", "GCE"),
        LossSpec("symmetric_ce", SymmetricCELoss, "cross-entropy plus reverse cross-entropy (Wang et al.)", "softmax",
                 "SCE"),
    )
}


@dataclass(frozen=True)
class LossVariant:
    """A registered loss at fixed options, under a name of its own.

    For analyses that compare it by that name beside the registered losses; a run never names a variant (its
    config names the registered loss and its options), so :func:`get_loss` and :func:`loss_names` leave them out.
    """

    name: str
    loss: str  # the registered loss
    options: Mapping[str, Any]
    display: str  # the name the book prints
    description: str


LOSS_VARIANTS: dict[str, LossVariant] = {
    variant.name: variant
    for variant in (
        LossVariant("logit_mse", "rescaled_square", MappingProxyType({"k": 1.0, "M": 1.0}), "logit-MSE",
                    "squared error of the raw logits to one-hot targets: rescaled_square with k = M = 1"),
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


def loss_setting(name: str) -> tuple[str, dict[str, Any]]:
    """The registered loss and the options that ``name`` stands for: itself with none, or a variant's.

    Raises:
        ValueError: for a name that is neither (lists the valid ones, variants included).
    """
    if name in LOSS_VARIANTS:
        return LOSS_VARIANTS[name].loss, dict(LOSS_VARIANTS[name].options)
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join([*loss_names(), *LOSS_VARIANTS])}")
    return name, {}


def display_name(name: str) -> str:
    """The name the book prints for a registered loss or a variant: ``sigmoid_mse_or`` -> ``sigmoid-MSE + OR``."""
    return LOSS_VARIANTS[name].display if name in LOSS_VARIANTS else _spec(loss_setting(name)[0]).display


def loss_form(name: str, *, naive: bool = False) -> Callable[[Tensor, Tensor], Tensor]:
    """A registered loss (at its default options) or a variant as ``f(logits (N, C), labels (N,)) -> (N,)``.

    The stable form is the loss's module with ``reduction="none"``; ``naive=True`` gives its textbook form
    (:mod:`sigmse.losses.naive`, the entry's ``naive``), which computes in the logits' own dtype.

    Example::

        >>> logits, labels = torch.tensor([[-1000.0, 0.0, 1.0]]), torch.tensor([0])
        >>> loss_form("softmax_ce")(logits, labels)  # log-softmax: finite
        tensor([1001.3132])
        >>> loss_form("softmax_ce", naive=True)(logits, labels)  # log(exp(-1000) / ...) = log 0
        tensor([inf])

    Raises:
        ValueError: for an unknown name, or ``naive=True`` for a loss without a textbook form.
    """
    loss, options = loss_setting(name)
    if not naive:
        return get_loss(loss, reduction="none", **options)
    textbook = _spec(loss).naive
    if textbook is None:
        with_one = [n for n in (*LOSSES, *LOSS_VARIANTS) if _spec(loss_setting(n)[0]).naive is not None]
        raise ValueError(f"loss {name!r} has no naive form; losses with one: {', '.join(with_one)}")
    return functools.partial(textbook, **options)


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
