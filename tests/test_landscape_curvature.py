"""Tests of sigmse.landscape.curvature: Hessians against closed forms and a per-row autograd reference,
the shift symmetry, the spectrum and condition-number definitions, and the grid frame.

References are independent of the module: softmax cross-entropy's Hessian diag(p) - p p^T, sigmoid-MSE's
diagonal 2 (s'^2 + (s - y) s''), and torch.autograd.functional.hessian row by row, all in float64.
"""

from __future__ import annotations

import math

import pytest
import torch

pytest.importorskip("pandas")

from sigmse.landscape.surfaces import LOSS_NAMES, LandscapeConfig, logit_grid, loss_surface, target_index  # noqa: E402
from sigmse.landscape.curvature import (  # noqa: E402
    NULL_TOLERANCE,
    SHIFT_INVARIANT,
    condition_numbers,
    curvature_frame,
    hessian_spectrum,
    logit_hessians,
    shift_free_basis,
)
from sigmse.losses.modules import get_loss, loss_setting  # noqa: E402
from sigmse.losses.output_reset import output_reset_targets  # noqa: E402

LOSSES = LOSS_NAMES
REGISTRY_LOSSES = {loss: loss_setting(loss) for loss in LOSSES}  # landscape name -> (registry name, options)


def _points(n: int = 32, c: int = 3, scale: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, c, generator=gen, dtype=torch.float64),
            torch.randint(c, (n,), generator=gen))


def test_registry_covers_the_landscape_losses_and_matches_their_values():
    """Every landscape loss maps onto a registry loss with the same per-row value (float64, 1e-12)."""
    assert set(REGISTRY_LOSSES) == set(LOSSES)
    cfg = LandscapeConfig(grid_size=12, fixed_logit=-5.0, target="free", dtype="float64")
    _, _, logits = logit_grid(cfg)
    labels = torch.full((logits.shape[0],), target_index(cfg))
    for loss, (name, options) in REGISTRY_LOSSES.items():
        ours = get_loss(name, reduction="none", **options)(logits, labels).reshape(12, 12)
        torch.testing.assert_close(ours, loss_surface(loss, cfg), rtol=1e-12, atol=1e-12)


def test_softmax_ce_hessian_is_diag_p_minus_ppT():
    """At random logits the CE Hessian is diag(p) - p p^T to 1e-10, whatever the label."""
    z, labels = _points()
    p = torch.softmax(z, dim=1)
    expected = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    torch.testing.assert_close(logit_hessians("softmax_ce", z, labels), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("loss", ("sigmoid_mse", "sigmoid_mse_or"))
def test_sigmoid_mse_hessians_are_diagonal_with_the_closed_form(loss):
    """Each output has its own sigmoid, so the Hessian is diagonal: 2 (s'^2 + (s - t) s'') with
    s' = s (1 - s), s'' = s' (1 - 2 s) and t the fixed one-hot (plain) or the held Output Reset targets."""
    z, labels = _points(scale=4.0)
    h = logit_hessians(loss, z, labels)
    off = h - torch.diag_embed(torch.diagonal(h, dim1=1, dim2=2))
    assert off.abs().max().item() == 0.0
    s = torch.sigmoid(z)
    if loss == "sigmoid_mse":
        t = torch.nn.functional.one_hot(labels, 3).double()
    else:
        t = output_reset_targets(s, labels)
    d1 = s * (1 - s)
    torch.testing.assert_close(torch.diagonal(h, dim1=1, dim2=2), 2 * (d1**2 + (s - t) * d1 * (1 - 2 * s)),
                               rtol=0, atol=1e-12)


def test_sigmoid_mse_curves_down_exactly_where_an_output_is_confidently_wrong():
    """The diagonal 2 s' (s (2 - 3 s)) for a wrong class (t = 0) is negative iff s > 2/3, and
    2 s' (1 - s)(3 s - 1) for the true class (t = 1) iff s < 1/3: checked on a fine sweep of z."""
    z = torch.linspace(-8, 8, 1601, dtype=torch.float64)
    for label, wrong_side in ((1, lambda s: s > 2 / 3), (0, lambda s: s < 1 / 3)):  # column 0: a wrong class if label 1
        logits = torch.stack([z, torch.zeros_like(z), torch.zeros_like(z)], dim=1)
        h = logit_hessians("sigmoid_mse", logits, torch.full((len(z),), label))[:, 0, 0]
        s = torch.sigmoid(z)
        away = (s - 2 / 3).abs().gt(1e-3) & (s - 1 / 3).abs().gt(1e-3)  # off the sign changes
        assert torch.equal((h < 0)[away], wrong_side(s)[away])


@pytest.mark.parametrize("loss", LOSSES)
def test_batched_hessians_match_per_row_autograd(loss):
    """vmap(hessian) over the rows equals torch.autograd.functional.hessian of each row's loss (1e-12)."""
    z, labels = _points(n=8)
    name, options = REGISTRY_LOSSES[loss]
    module = get_loss(name, reduction="sum", **options)
    reference = torch.stack([torch.autograd.functional.hessian(lambda r: module(r[None], labels[k:k + 1]), z[k])
                             for k in range(len(z))])
    batched = logit_hessians(loss, z, labels)
    torch.testing.assert_close(batched, reference, rtol=0, atol=1e-12)
    torch.testing.assert_close(batched, batched.transpose(1, 2), rtol=0, atol=1e-14)


@pytest.mark.parametrize("loss", LOSSES)
def test_shift_invariant_set_is_exactly_the_softmax_losses(loss):
    """A loss is in SHIFT_INVARIANT iff adding 3.7 to every logit leaves it unchanged (float64, 1e-12)."""
    z, labels = _points()
    name, options = REGISTRY_LOSSES[loss]
    f = get_loss(name, reduction="none", **options)
    unchanged = torch.allclose(f(z + 3.7, labels), f(z, labels), rtol=1e-12, atol=1e-12)
    assert unchanged == (loss in SHIFT_INVARIANT)


def test_ce_spectrum_is_nonnegative_with_one_zero_along_ones():
    """CE's full spectrum is >= 0 with exactly one eigenvalue 0 (along 1: H 1 = 0); on the subspace
    orthogonal to 1 the zero is gone and the other eigenvalues are kept."""
    z, labels = _points(scale=1.0)  # moderate logits: no probability underflows
    h = logit_hessians("softmax_ce", z, labels)
    full = torch.linalg.eigvalsh(h)  # (N, 3) ascending
    assert (full > -1e-15).all()
    assert (full[:, 0].abs() < 1e-15).all() and (full[:, 1] > 1e-6).all()
    torch.testing.assert_close(h @ torch.ones(3, dtype=torch.float64), torch.zeros(len(z), 3, dtype=torch.float64),
                               rtol=0, atol=1e-15)
    torch.testing.assert_close(hessian_spectrum(h, shift_invariant=True), full[:, 1:], rtol=0, atol=1e-14)


def test_shift_free_basis_is_orthonormal_and_orthogonal_to_ones():
    for c in (2, 3, 10):
        q = shift_free_basis(c)
        assert q.shape == (c, c - 1)
        torch.testing.assert_close(q.T @ q, torch.eye(c - 1, dtype=torch.float64), rtol=0, atol=1e-14)
        torch.testing.assert_close(q.T @ torch.ones(c, dtype=torch.float64), torch.zeros(c - 1, dtype=torch.float64),
                                   rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match=r"num_classes must be an integer >= 2, got 1"):
        shift_free_basis(1)


def test_condition_numbers_by_hand():
    """kappa = max |lambda| / smallest |lambda| above the tolerance; nulls are counted; all-null -> NaN."""
    spectra = torch.tensor([[1.0, 2.0, 4.0],  # kappa 4
                            [-3.0, 0.0, 1.5],  # sign ignored, the 0 is null: 3 / 1.5 = 2
                            [1e-13, 0.5, 0.5],  # below 1e-12: null, kappa 1
                            [0.0, 1e-14, 0.0]], dtype=torch.float64)  # all null
    kappa, null = condition_numbers(spectra)
    assert kappa[:3].tolist() == [4.0, 2.0, 1.0] and math.isnan(kappa[3].item())
    assert null.tolist() == [0, 1, 1, 3]
    with pytest.raises(ValueError, match=r"tolerance must be a number > 0, got -1"):
        condition_numbers(spectra, tolerance=-1)


def test_unknown_loss_and_bad_shapes_are_rejected():
    z, labels = _points(n=2)
    with pytest.raises(ValueError, match=r"unknown landscape loss 'mae'; choose one of: softmax_mse, softmax_ce"):
        logit_hessians("mae", z, labels)
    with pytest.raises(ValueError, match=r"logits must be \(N, C\) and labels \(N,\), got \(2, 3\) and \(3,\)"):
        logit_hessians("softmax_ce", z, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"hessians must be \(N, C, C\), got \(2, 3\)"):
        hessian_spectrum(z, shift_invariant=False)


def test_curvature_frame_on_the_note_grid():
    """On the note's grid (pinned -1000, float64 underflow): one row per loss x point; logit-MSE has
    H = 2 I (kappa 1, lambda 2); every bounded loss has exactly one null direction (the pinned logit);
    sigmoid-MSE has negative curvature somewhere, cross-entropy nowhere."""
    g = 9
    frame = curvature_frame(LandscapeConfig(grid_size=g, target="free", dtype="float32", formula="naive"))
    assert len(frame) == len(LOSSES) * g * g and list(frame["loss"].unique()) == list(LOSSES)
    logit = frame[frame.loss == "logit_mse"]
    assert (logit.condition == 1.0).all() and (logit.lambda_min == 2.0).all() and (logit.null_directions == 0).all()
    for loss in ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or"):
        assert (frame.loc[frame.loss == loss, "null_directions"] == 1).all(), loss
    assert frame.loc[frame.loss == "sigmoid_mse", "negative"].any()
    assert not frame.loc[frame.loss == "softmax_ce", "negative"].any()
    assert (frame.loc[frame.loss == "softmax_ce", "lambda_min"] > -NULL_TOLERANCE).all()
    assert set(frame.columns) == {"loss", "target", "fixed_logit", "z1", "z2", "correct", "lambda_min",
                                  "lambda_max", "condition", "null_directions", "negative"}
