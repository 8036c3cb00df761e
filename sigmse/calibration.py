r"""Calibration of a classifier's probabilities: NLL, ECE, and temperature scaling.

Temperature scaling divides every logit by one scalar :math:`T > 0`, fitted on validation data by minimising the
NLL; the argmax, hence the accuracy, is unchanged. For every loss the logits are scaled *before* the loss's map to
probabilities (:func:`sigmse.losses.modules.class_probabilities`): for the sigmoid losses
:math:`p_i = \sigma(z_i / T) / \sum_j \sigma(z_j / T)`, so :math:`T` acts on each sigmoid's input (see the method
page, "Probabilities and calibration").

Reference:
    C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On Calibration of Modern Neural Networks", ICML 2017
    (temperature scaling, section 4.2; ECE with equal-width bins, section 2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from sigmse.losses.modules import class_probabilities

__all__ = ["ECE_BINS", "TEMPERATURE_BOUNDS", "negative_log_likelihood", "expected_calibration_error",
           "temperature_scaled_probabilities", "fit_temperature"]

ECE_BINS = 15  # Guo et al.'s number of equal-width confidence bins
PROBABILITY_FLOOR = 1e-12  # log(0) guard: a probability below it counts as 1e-12 in the NLL
# The interval T is searched in: wide enough for softmax nets (Guo et al. report T of about 1 to 3) and for
# sigmoid outputs, whose normalised probabilities are often under-confident (T < 1); it keeps a perfectly
# separated validation set (whose NLL falls towards T -> 0) from driving T to 0.
TEMPERATURE_BOUNDS = (1e-2, 1e2)


def _mean_nll(probabilities: Tensor, labels: Tensor) -> Tensor:
    """Mean of ``-log max(p_{n, c_n}, 1e-12)`` as a 0-dim tensor (differentiable)."""
    picked = probabilities.gather(1, labels[:, None]).clamp_min(PROBABILITY_FLOOR)  # (N, 1)
    return -picked.log().mean()


def negative_log_likelihood(probabilities: Tensor, labels: Tensor) -> float:
    r"""Mean negative log-likelihood of the true labels.

    .. math::
        \mathrm{NLL} = -\frac1N \sum_n \log \max(p_{n, c_n}, 10^{-12})

    Shape:
        - probabilities: :math:`(N, C)`, rows summing to 1.
        - labels: :math:`(N,)` int64 class indices.

    Example::

        >>> negative_log_likelihood(torch.tensor([[0.5, 0.5], [0.2, 0.8]]), torch.tensor([0, 1]))  # doctest: +ELLIPSIS
        0.458...
    """
    return float(_mean_nll(probabilities, labels))


def expected_calibration_error(probabilities: Tensor, labels: Tensor, bins: int = ECE_BINS) -> float:
    r"""Expected calibration error with ``bins`` equal-width confidence bins.

    Each example falls in the bin of its confidence :math:`\max_i p_{n,i}` (bin :math:`b` holds
    :math:`[b/\text{bins}, (b+1)/\text{bins})`, the last also 1), and

    .. math::
        \mathrm{ECE} = \sum_b \frac{|B_b|}{N} \left| \operatorname{acc}(B_b) - \operatorname{conf}(B_b) \right|
        = \frac1N \sum_b \Bigl| \sum_{n \in B_b} (\mathbb{1}[\hat y_n = c_n] - \max_i p_{n,i}) \Bigr|.

    Shape:
        - probabilities: :math:`(N, C)`; labels: :math:`(N,)`.
    """
    confidence, predicted = probabilities.max(dim=1)
    correct = (predicted == labels).to(confidence.dtype)
    bin_index = (confidence * bins).long().clamp_(max=bins - 1)
    conf_sum = torch.zeros(bins, device=labels.device, dtype=confidence.dtype).index_add_(0, bin_index, confidence)
    acc_sum = torch.zeros(bins, device=labels.device, dtype=confidence.dtype).index_add_(0, bin_index, correct)
    return float((acc_sum - conf_sum).abs().sum() / max(1, len(labels)))


def temperature_scaled_probabilities(logits: Tensor, loss: str, temperature: float | Tensor) -> Tensor:
    """``class_probabilities(logits / temperature, loss)``: the logits are scaled before the loss's map."""
    return class_probabilities(logits / temperature, loss)


def fit_temperature(val_logits: Tensor, val_labels: Tensor, loss: str, *, max_iter: int = 100) -> float:
    r"""The temperature :math:`T` that minimises the validation NLL of ``loss``'s probabilities of ``z / T``.

    L-BFGS (strong-Wolfe line search) over :math:`\log T`, clamped to :data:`TEMPERATURE_BOUNDS`, in float64 from
    :math:`T = 1`; if the result does not lower the NLL below its value at :math:`T = 1`, 1.0 is returned, so
    scaling never makes validation NLL worse.

    Shape:
        - val_logits: :math:`(N, C)` finite; val_labels: :math:`(N,)` int64, :math:`N \ge 1`.
    """
    if val_logits.dim() != 2 or val_labels.shape != val_logits.shape[:1] or len(val_labels) == 0:
        raise ValueError(f"need (N, C) logits and (N,) labels with N >= 1, got logits of shape "
                         f"{tuple(val_logits.shape)} and labels of shape {tuple(val_labels.shape)}")
    if not bool(torch.isfinite(val_logits).all()):
        raise ValueError("val_logits contain non-finite values; a diverged model has no temperature")
    logits = val_logits.detach().double()
    low, high = math.log(TEMPERATURE_BOUNDS[0]), math.log(TEMPERATURE_BOUNDS[1])
    log_t = torch.zeros(1, dtype=torch.float64, device=logits.device, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-10, tolerance_change=1e-14)

    def nll(log_temperature: Tensor) -> Tensor:
        temperature = log_temperature.clamp(low, high).exp()
        return _mean_nll(temperature_scaled_probabilities(logits, loss, temperature), val_labels)

    def closure() -> Tensor:
        optimizer.zero_grad()
        value = nll(log_t)
        value.backward()
        return value

    with torch.enable_grad():  # the trainer may call this under no_grad
        optimizer.step(closure)
    with torch.no_grad():
        fitted = log_t.clamp(low, high)
        improved = bool(nll(fitted) < nll(torch.zeros_like(fitted)))
    return math.exp(float(fitted)) if improved else 1.0
