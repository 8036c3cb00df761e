"""Calibration: NLL and ECE against hand-computed values, temperature scaling against known answers and scipy."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, log_softmax

from sigmse.calibration import (TEMPERATURE_BOUNDS, expected_calibration_error, fit_temperature,
                                negative_log_likelihood, temperature_scaled_probabilities)

SIGMOID_LOSS = "sigmoid_mse_or"  # any loss whose probabilities are normalised sigmoids


def reference_log_probabilities(logits: np.ndarray, loss: str) -> np.ndarray:
    """log p written from the definitions: log softmax(z), or log(sigma(z_i) / sum_j sigma(z_j))."""
    if loss == SIGMOID_LOSS:
        log_sigmoid = log_expit(logits)
        return log_sigmoid - np.log(np.exp(log_sigmoid).sum(axis=1, keepdims=True))
    return log_softmax(logits, axis=1)


def sample_labels(logits: torch.Tensor, loss: str, seed: int) -> torch.Tensor:
    """Labels drawn from the probabilities ``loss`` assigns to ``logits``: those logits are calibrated."""
    probabilities = np.exp(reference_log_probabilities(logits.double().numpy(), loss))
    generator = torch.Generator().manual_seed(seed)
    return torch.multinomial(torch.from_numpy(probabilities), 1, generator=generator)[:, 0]


def calibrated_problem(loss: str, n: int = 20000, classes: int = 10, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(n, classes, generator=generator)
    return logits, sample_labels(logits, loss, seed)


def test_negative_log_likelihood_matches_torch_nll_loss():
    probabilities = torch.softmax(torch.randn(50, 7, generator=torch.Generator().manual_seed(1)), dim=1)
    labels = torch.randint(7, (50,), generator=torch.Generator().manual_seed(2))
    reference = torch.nn.functional.nll_loss(probabilities.log(), labels)
    assert negative_log_likelihood(probabilities, labels) == pytest.approx(float(reference), rel=1e-6)
    assert negative_log_likelihood(torch.tensor([[0.5, 0.5], [0.2, 0.8]]), torch.tensor([0, 1])) == pytest.approx(
        -(math.log(0.5) + math.log(0.8)) / 2)


def test_negative_log_likelihood_floors_a_zero_probability_at_1e_12():
    assert negative_log_likelihood(torch.tensor([[1.0, 0.0]]), torch.tensor([1])) == pytest.approx(
        -math.log(1e-12))


def test_expected_calibration_error_against_hand_computed_values():
    probabilities = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = torch.tensor([0, 1, 0, 1])
    # bins (15 equal): 0.9 -> accuracy 1/2 vs confidence 0.9; 0.6 -> 1 vs 0.6; 0.7 -> 1 vs 0.7
    expected = (2 * abs(0.5 - 0.9) + abs(1 - 0.6) + abs(1 - 0.7)) / 4
    assert expected_calibration_error(probabilities, labels) == pytest.approx(expected)
    assert math.isclose(expected_calibration_error(torch.eye(3), torch.arange(3)), 0.0, abs_tol=1e-7)


def test_expected_calibration_error_lets_errors_within_a_bin_cancel_but_not_across_bins():
    # 2 bins: [0.5, 1) holds confidences 0.6 (right) and 0.8 (wrong): |1 - 0.6 + 0 - 0.8| / 2 = 0.2
    probabilities = torch.tensor([[0.6, 0.4], [0.8, 0.2]])
    assert expected_calibration_error(probabilities, torch.tensor([0, 1]), bins=2) == pytest.approx(0.2)
    # 5 bins: 0.6 and 0.8 are apart: (|1 - 0.6| + |0 - 0.8|) / 2 = 0.6
    assert expected_calibration_error(probabilities, torch.tensor([0, 1]), bins=5) == pytest.approx(0.6)


@pytest.mark.parametrize("loss", ["softmax_ce", SIGMOID_LOSS])
def test_temperature_scaled_probabilities_divide_the_logits_before_the_loss_map(loss):
    logits = torch.randn(20, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    scaled = temperature_scaled_probabilities(logits, loss, 2.5)
    reference = np.exp(reference_log_probabilities(logits.numpy() / 2.5, loss))
    np.testing.assert_allclose(scaled.numpy(), reference, rtol=1e-12)


@pytest.mark.parametrize("loss", ["softmax_ce", SIGMOID_LOSS])
@pytest.mark.parametrize("multiple", [3.0, 0.5])
def test_fitted_temperature_recovers_the_multiple_of_calibrated_logits(loss, multiple):
    logits, labels = calibrated_problem(loss)
    assert fit_temperature(multiple * logits, labels, loss) == pytest.approx(multiple, rel=0.05)


@pytest.mark.parametrize("loss", ["softmax_ce", SIGMOID_LOSS])
def test_fitted_temperature_is_scipys_bounded_minimiser_of_the_same_nll(loss):
    logits, labels = calibrated_problem(loss, n=3000, seed=4)
    logits = 2.0 * logits + torch.randn(logits.shape, generator=torch.Generator().manual_seed(5))
    z, y = logits.double().numpy(), labels.numpy()

    def nll(log_t: float) -> float:
        log_p = reference_log_probabilities(z / math.exp(log_t), loss)[np.arange(len(y)), y]
        return float(-np.maximum(log_p, math.log(1e-12)).mean())

    bounds = tuple(math.log(b) for b in TEMPERATURE_BOUNDS)
    reference = minimize_scalar(nll, bounds=bounds, method="bounded", options={"xatol": 1e-8})
    assert fit_temperature(logits, labels, loss) == pytest.approx(math.exp(reference.x), rel=1e-4)


@pytest.mark.parametrize("loss", ["softmax_ce", SIGMOID_LOSS])
@pytest.mark.parametrize("seed", range(4))
def test_temperature_scaling_never_increases_validation_nll(loss, seed):
    generator = torch.Generator().manual_seed(seed)
    logits = (seed + 1) * torch.randn(500, 10, generator=generator)  # scales from modest to over-confident
    labels = torch.where(torch.rand(500, generator=generator) < 0.5, logits.argmax(1),
                         torch.randint(10, (500,), generator=generator))
    temperature = fit_temperature(logits, labels, loss)
    raw = negative_log_likelihood(temperature_scaled_probabilities(logits, loss, 1.0), labels)
    scaled = negative_log_likelihood(temperature_scaled_probabilities(logits, loss, temperature), labels)
    assert temperature > 0 and scaled <= raw


def test_labels_unrelated_to_the_logits_push_the_temperature_up_towards_uniform_probabilities():
    generator = torch.Generator().manual_seed(6)
    logits, labels = torch.randn(2000, 10, generator=generator), torch.randint(10, (2000,), generator=generator)
    temperature = fit_temperature(logits, labels, "softmax_ce")
    assert temperature > 5
    scaled = negative_log_likelihood(temperature_scaled_probabilities(logits, "softmax_ce", temperature), labels)
    assert scaled == pytest.approx(math.log(10), abs=0.01)


def test_a_perfectly_separated_validation_set_sharpens_until_its_nll_vanishes_or_the_lower_bound():
    labels = torch.arange(10).repeat(20)
    logits = 5.0 * torch.eye(10).repeat(20, 1)
    temperature = fit_temperature(logits, labels, "softmax_ce")
    scaled = negative_log_likelihood(temperature_scaled_probabilities(logits, "softmax_ce", temperature), labels)
    assert temperature < 1 and scaled < 1e-9
    # margins of 1e-3: even T = 0.01 leaves the NLL far from 0, so the search ends at the bound
    assert fit_temperature(logits / 5000, labels, "softmax_ce") == pytest.approx(TEMPERATURE_BOUNDS[0], rel=1e-9)


@pytest.mark.parametrize(
    ("logits", "labels", "message"),
    [
        (torch.zeros(0, 10), torch.zeros(0, dtype=torch.long), "N >= 1, got logits of shape (0, 10)"),
        (torch.zeros(4, 10), torch.zeros(3, dtype=torch.long), "labels of shape (3,)"),
        (torch.tensor([[0.0, float("nan")]]), torch.tensor([0]), "non-finite"),
    ],
)
def test_fit_temperature_rejects_bad_inputs_naming_them(logits, labels, message):
    with pytest.raises(ValueError) as error:
        fit_temperature(logits, labels, "softmax_ce")
    assert message in str(error.value)
