r"""Classification losses as functions: ``name(logits, labels, *, reduction="mean", **options)``.

Every loss maps logits :math:`z \in \mathbb{R}^{N \times C}` and int64 labels :math:`c \in \{0..C-1\}^N`
to a per-sample loss :math:`l_n` summed over the classes, then combines the samples by ``reduction``:
``"none"`` returns :math:`(l_1, \dots, l_N)`, ``"mean"`` (default) :math:`\frac1N \sum_n l_n`, ``"sum"``
:math:`\sum_n l_n`. Half-precision logits are computed in float32 (as autocast does for torch's
losses); float32 and float64 stay as they are.

The modules in :mod:`sigmse.losses.modules` wrap these functions; the registry there names them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sigmse.losses.output_reset import OutputReset, check_targets, correct_mask, output_reset

__all__ = [
    "softmax_ce",
    "sigmoid_mse",
    "sigmoid_mse_or",
    "softmax_mse",
    "rescaled_square",
    "mae",
    "gce",
    "symmetric_ce",
]

REDUCTIONS = ("none", "mean", "sum")


# ---- argument checks, shared with the modules so that both fail the same way ---------------------------


def check_reduction(reduction: str) -> None:
    """Raise ``ValueError`` unless ``reduction`` is one of ``"none"``, ``"mean"``, ``"sum"``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_rescale(k: float, M: float) -> None:
    """Raise ``ValueError`` unless the square-loss rescaling ``k`` and target ``M`` are positive."""
    if not (k > 0 and M > 0):
        raise ValueError(f"k and M must be positive, got k={k!r}, M={M!r}")


def check_q(q: float) -> None:
    """Raise ``ValueError`` unless the GCE exponent lies in (0, 1]."""
    if not 0 < q <= 1:
        raise ValueError(f"q must lie in (0, 1], got q={q!r}")


def check_symmetric(alpha: float, beta: float, log_clip: float) -> None:
    """Raise ``ValueError`` unless SCE's weights are non-negative, not both 0, and ``log_clip < 0``."""
    if not (alpha >= 0 and beta >= 0 and alpha + beta > 0):
        raise ValueError(f"alpha and beta must be >= 0 and not both 0, got alpha={alpha!r}, beta={beta!r}")
    if not log_clip < 0:
        raise ValueError(f"log_clip must be negative (it stands for log 0), got log_clip={log_clip!r}")


def _prepare(logits: Tensor, labels: Tensor, reduction: str) -> Tensor:
    """Check the arguments every loss takes; return the logits in at least float32."""
    check_reduction(reduction)
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
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample


def _log_softmax_correct(z: Tensor, labels: Tensor) -> Tensor:
    r""":math:`\log p_c` for each sample, (N,)."""
    return z.log_softmax(dim=1).gather(1, labels[:, None]).squeeze(1)


# ---- the losses ---------------------------------------------------------------------------------------


def softmax_ce(logits: Tensor, labels: Tensor, *, reduction: str = "mean") -> Tensor:
    r"""Cross-entropy on softmax outputs, the baseline the paper challenges.

    .. math::
        l_n = -\log p_{n,c_n}, \qquad p_n = \operatorname{softmax}(z_n),

    combined over samples by ``reduction`` (``"mean"``: :math:`\frac1N\sum_n l_n`; ``"sum"``;
    ``"none"``: the vector).

    Args:
        logits: unnormalised scores :math:`z`.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> softmax_ce(logits, torch.randint(10, (4,))).backward()

    Note:
        Delegates to :func:`torch.nn.functional.cross_entropy`, which uses ``log_softmax``.

    Reference:
        C. M. Bishop, *Pattern Recognition and Machine Learning*, Springer 2006, section 4.3.4.
    """
    z = _prepare(logits, labels, reduction)
    return F.cross_entropy(z, labels, reduction=reduction)


def sigmoid_mse(
    logits: Tensor, labels: Tensor, *, reduction: str = "mean", pos: float = 1.0, neg: float = 0.0
) -> Tensor:
    r"""Squared error between sigmoid outputs and fixed class targets.

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(\sigma(z_{n,i}) - t_{n,i}\bigr)^2, \qquad
        t_{n,i} = \begin{cases} \text{pos}, & i = c_n \\ \text{neg}, & i \ne c_n \end{cases}

    combined over samples by ``reduction`` (``"mean"``: :math:`\frac1N\sum_n l_n`; ``"sum"``;
    ``"none"``: the vector).

    The reduction sets the gradient scale and so the effective learning rate: summing over the
    classes and averaging over the samples gives each output the gradient
    :math:`\frac2N (y - t)\,\sigma'(z)`, whereas :func:`torch.nn.functional.mse_loss` with its
    ``"mean"`` averages over all :math:`N C` elements, a gradient :math:`C` times smaller. Learning rates
    are comparable only between runs with the same reduction.

    Args:
        logits: unnormalised scores :math:`z`.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        pos: target of the correct class. Default: 1.0.
        neg: target of the other classes; must be below ``pos``. Default: 0.0.

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> sigmoid_mse(logits, torch.randint(10, (4,))).backward()

    Reference:
        K. Tyagi et al., *Making Sigmoid-MSE Great Again: Output Reset Challenges Softmax
        Cross-Entropy in Neural Network Classification*, arXiv:2411.11213, 2024.
    """
    z = _prepare(logits, labels, reduction)
    check_targets(pos, neg)
    targets = torch.full_like(z, neg).masked_fill(correct_mask(labels, z.shape[1]), pos)  # (N, C)
    return _reduce((torch.sigmoid(z) - targets).square().sum(dim=1), reduction)


def sigmoid_mse_or_with_reset(
    logits: Tensor,
    labels: Tensor,
    *,
    reduction: str = "mean",
    pos: float = 1.0,
    neg: float = 0.0,
    shift: bool = True,
    iterations: int | None = None,
) -> tuple[Tensor, OutputReset]:
    """:func:`sigmoid_mse_or` and the :class:`~sigmse.losses.output_reset.OutputReset` it used, for logging."""
    z = _prepare(logits, labels, reduction)
    y = torch.sigmoid(z)  # (N, C)
    result = output_reset(y, labels, pos=pos, neg=neg, shift=shift, iterations=iterations)
    return _reduce((y - result.targets).square().sum(dim=1), reduction), result


def sigmoid_mse_or(
    logits: Tensor,
    labels: Tensor,
    *,
    reduction: str = "mean",
    pos: float = 1.0,
    neg: float = 0.0,
    shift: bool = True,
    iterations: int | None = None,
) -> Tensor:
    r"""Sigmoid-MSE with Output Reset: squared error to targets reset on the current outputs.

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(y_{n,i} - t'_{n,i}\bigr)^2, \qquad
        y_n = \sigma(z_n), \quad t'_n = t_n + a_n + d_n ,

    where :math:`t_n` are the targets of :func:`sigmoid_mse` and the shift :math:`a_n` and the resets
    :math:`d_{n,c_n} \ge 0`, :math:`d_{n,i} \le 0` minimise :math:`l_n` (see
    :mod:`sigmse.losses.output_reset`); combined over samples by ``reduction`` (``"mean"``:
    :math:`\frac1N\sum_n l_n`; ``"sum"``; ``"none"``: the vector). :math:`l_n = 0` once the correct
    output leads every other by ``pos - neg``.

    The targets are computed on every call from the detached outputs, so no gradient flows through them;
    that is also the exact gradient of :math:`l_n` as a function of :math:`y_n` (Danskin's theorem).
    As for :func:`sigmoid_mse`, the reduction sets the gradient scale and so the effective learning rate.

    Args:
        logits: unnormalised scores :math:`z`.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        pos: target of the correct class before the reset. Default: 1.0.
        neg: target of the other classes before the reset; must be below ``pos``. Default: 0.0.
        shift: allow the common shift :math:`a_n`; on sigmoid outputs with ``pos=1, neg=0`` and
            ``shift=False`` nothing is ever reset. Default: ``True``.
        iterations: ``None`` (default) solves Output Reset exactly; an int :math:`K \ge 1` runs the
            original alternating procedure :math:`K` times.

    Shape:
        - logits: :math:`(N, C)` with :math:`C \ge 2`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> sigmoid_mse_or(logits, torch.randint(10, (4,))).backward()

    Reference:
        K. Tyagi et al., arXiv:2411.11213, 2024; J. Li, M. T. Manry et al., FLAIRS 2004;
        K. Tyagi, M. T. Manry, Neural Processing Letters 50, 2019.
    """
    return sigmoid_mse_or_with_reset(
        logits, labels, reduction=reduction, pos=pos, neg=neg, shift=shift, iterations=iterations
    )[0]


def softmax_mse(logits: Tensor, labels: Tensor, *, reduction: str = "mean") -> Tensor:
    r"""Squared error between softmax outputs and one-hot labels (the multi-class Brier score).

    .. math::
        l_n = \sum_{i=1}^{C} \bigl(p_{n,i} - [i = c_n]\bigr)^2, \qquad p_n = \operatorname{softmax}(z_n),

    combined over samples by ``reduction`` (``"mean"``: :math:`\frac1N\sum_n l_n`; ``"sum"``;
    ``"none"``: the vector).

    Args:
        logits: unnormalised scores :math:`z`.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> softmax_mse(logits, torch.randint(10, (4,))).backward()

    Reference:
        G. W. Brier, *Verification of forecasts expressed in terms of probability*,
        Monthly Weather Review 78, 1950.
    """
    z = _prepare(logits, labels, reduction)
    p = z.softmax(dim=1)
    return _reduce((p - correct_mask(labels, z.shape[1]).to(p.dtype)).square().sum(dim=1), reduction)


def rescaled_square(
    logits: Tensor, labels: Tensor, *, reduction: str = "mean", k: float = 1.0, M: float = 1.0
) -> Tensor:
    r"""Square loss on the raw logits with Hui & Belkin's rescaling of the correct class.

    .. math::
        l_n = k\,(z_{n,c_n} - M)^2 + \sum_{i \ne c_n} z_{n,i}^2 ,

    combined over samples by ``reduction`` (``"mean"``: :math:`\frac1N\sum_n l_n`; ``"sum"``;
    ``"none"``: the vector). ``k = M = 1`` is the plain square loss against one-hot targets.

    Args:
        logits: unnormalised scores :math:`z`, used without any squashing.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        k: weight of the correct class, > 0 (Hui & Belkin use larger ``k`` for many classes). Default: 1.0.
        M: target of the correct class, > 0. Default: 1.0.

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> rescaled_square(logits, torch.randint(10, (4,)), k=1.0, M=1.0).backward()

    Reference:
        L. Hui, M. Belkin, *Evaluation of Neural Architectures Trained with Square Loss vs
        Cross-Entropy in Classification Tasks*, ICLR 2021.
    """
    z = _prepare(logits, labels, reduction)
    check_rescale(k, M)
    per_class = torch.where(correct_mask(labels, z.shape[1]), k * (z - M).square(), z.square())  # (N, C)
    return _reduce(per_class.sum(dim=1), reduction)


def mae(logits: Tensor, labels: Tensor, *, reduction: str = "mean") -> Tensor:
    r"""Mean absolute error between softmax outputs and one-hot labels.

    .. math::
        l_n = \sum_{i=1}^{C} \bigl|p_{n,i} - [i = c_n]\bigr| = 2\,(1 - p_{n,c_n}),
        \qquad p_n = \operatorname{softmax}(z_n),

    combined over samples by ``reduction`` (``"mean"``: :math:`\frac1N\sum_n l_n`; ``"sum"``;
    ``"none"``: the vector).

    Args:
        logits: unnormalised scores :math:`z`.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> mae(logits, torch.randint(10, (4,))).backward()

    Note:
        Computed as :math:`-2\,\operatorname{expm1}(\log p_c)`: the closed form avoids the kink of
        :math:`|\cdot|` at outputs that underflow to 0, and ``expm1`` keeps :math:`1 - p_c` accurate
        when :math:`p_c \to 1`.

    Reference:
        A. Ghosh, H. Kumar, P. S. Sastry, *Robust Loss Functions under Label Noise for Deep Neural
        Networks*, AAAI 2017.
    """
    z = _prepare(logits, labels, reduction)
    return _reduce(-2 * torch.expm1(_log_softmax_correct(z, labels)), reduction)


def gce(logits: Tensor, labels: Tensor, *, reduction: str = "mean", q: float = 0.7) -> Tensor:
    r"""Generalized cross-entropy, between cross-entropy (:math:`q \to 0`) and MAE (:math:`q = 1`).

    .. math::
        l_n = \frac{1 - p_{n,c_n}^{\,q}}{q}, \qquad p_n = \operatorname{softmax}(z_n),

    combined over samples by ``reduction`` (``"mean"``: :math:`\frac1N\sum_n l_n`; ``"sum"``;
    ``"none"``: the vector).

    Args:
        logits: unnormalised scores :math:`z`.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        q: exponent in (0, 1]. Default: 0.7 (Zhang & Sabuncu's choice).

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> gce(logits, torch.randint(10, (4,)), q=0.7).backward()

    Note:
        Computed as :math:`-\operatorname{expm1}(q \log p_c) / q` from ``log_softmax``.

    Reference:
        Z. Zhang, M. R. Sabuncu, *Generalized Cross Entropy Loss for Training Deep Neural Networks
        with Noisy Labels*, NeurIPS 2018.
    """
    z = _prepare(logits, labels, reduction)
    check_q(q)
    return _reduce(-torch.expm1(q * _log_softmax_correct(z, labels)) / q, reduction)


def symmetric_ce(
    logits: Tensor,
    labels: Tensor,
    *,
    reduction: str = "mean",
    alpha: float = 0.1,
    beta: float = 1.0,
    log_clip: float = -4.0,
) -> Tensor:
    r"""Symmetric cross-entropy: cross-entropy plus reverse cross-entropy.

    .. math::
        l_n = -\alpha \log p_{n,c_n} - \beta \sum_{i=1}^{C} p_{n,i} \log q_{n,i}
            = -\alpha \log p_{n,c_n} - \beta A \,(1 - p_{n,c_n}),

    where :math:`p_n = \operatorname{softmax}(z_n)`, :math:`q_n` is the one-hot label and
    :math:`\log 0` is clipped to :math:`A` = ``log_clip``; combined over samples by ``reduction``
    (``"mean"``: :math:`\frac1N\sum_n l_n`; ``"sum"``; ``"none"``: the vector).

    Args:
        logits: unnormalised scores :math:`z`.
        labels: class indices :math:`c`, int64.
        reduction: ``"none"`` | ``"mean"`` | ``"sum"``. Default: ``"mean"``.
        alpha: weight of cross-entropy, >= 0. Default: 0.1.
        beta: weight of reverse cross-entropy, >= 0. Default: 1.0.
        log_clip: value :math:`A < 0` that stands for :math:`\log 0`. Default: -4.0.

    Shape:
        - logits: :math:`(N, C)`; labels: :math:`(N,)`.
        - Output: scalar, or :math:`(N,)` with ``reduction="none"``.

    Example::

        >>> logits = torch.randn(4, 10, requires_grad=True)
        >>> symmetric_ce(logits, torch.randint(10, (4,))).backward()

    Note:
        The defaults are Wang et al.'s CIFAR-10 setting. Both terms come from one ``log_softmax``;
        :math:`1 - p_c` is computed as :math:`-\operatorname{expm1}(\log p_c)`.

    Reference:
        Y. Wang, X. Ma, Z. Chen, Y. Luo, J. Yi, J. Bailey, *Symmetric Cross Entropy for Robust
        Learning with Noisy Labels*, ICCV 2019.
    """
    z = _prepare(logits, labels, reduction)
    check_symmetric(alpha, beta, log_clip)
    log_p_c = _log_softmax_correct(z, labels)  # (N,)
    return _reduce(-alpha * log_p_c + beta * log_clip * torch.expm1(log_p_c), reduction)
