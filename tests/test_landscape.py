"""Tests of sigmse.landscape.surfaces: values, gradients, dtypes, naive-formula artefacts, metrics, configs.

References are independent of the module: hand-computed values, textbook gradient formulas
in float64, and torch's own primitives. Tolerances are stated where used.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from sigmse.landscape.surfaces import (
    LOSS_NAMES,
    LandscapeConfig,
    correct_cells,
    descent_trajectory,
    gradient_norm_surface,
    landscape_loss,
    logit_grid,
    loss_surface,
    smoothness,
    smoothness_table,
    target_index,
)
from sigmse.losses.output_reset import output_reset_targets

LOSSES = LOSS_NAMES
TARGETS = ("fixed", "free")


def closed_form_gradient(loss: str, logits: Tensor, target: Tensor | int) -> Tensor:
    """The gradient of each row's loss with respect to its logits, ``(N, C)``, from the textbook formulas.

    * ``softmax_ce``: ``p - y``
    * ``softmax_mse``: ``J^T 2(p - y)`` with ``J = diag(p) - p p^T``, i.e. ``p * (r - <p, r>)``, ``r = 2(p - y)``
    * ``sigmoid_mse``: ``2(s - y) s (1 - s)`` with ``s = sigmoid(z)``
    * ``sigmoid_mse_or``: ``2(s - t') s (1 - s)`` with the Output Reset targets ``t'`` held constant
    * ``logit_mse``: ``2(z - y)``

    ``target`` is one class index for all rows or integer labels ``(N,)``. Uses the stable
    ``torch.softmax`` / ``torch.sigmoid`` for ``p`` and ``s``. The test's own reference, independent of the
    library's losses.
    """
    labels = torch.as_tensor(target, dtype=torch.long).expand(logits.shape[0])
    y = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    if loss == "logit_mse":
        return 2 * (logits - y)
    if loss in ("softmax_ce", "softmax_mse"):
        p = torch.softmax(logits, dim=1)
        if loss == "softmax_ce":
            return p - y
        r = 2 * (p - y)
        return p * (r - (p * r).sum(dim=1, keepdim=True))
    s = torch.sigmoid(logits)
    if loss == "sigmoid_mse_or":
        y = output_reset_targets(s, labels)
    return 2 * (s - y) * s * (1 - s)


def _centre(surface: torch.Tensor) -> float:
    g = surface.shape[0]
    return surface[g // 2, g // 2].item()


# --------------------------------------------------------------------------- grid layout


def test_grid_layout_puts_z1_z2_in_the_free_columns_row_major():
    """logits[i * G + j] holds the pinned logit in column fixed_index and (z1[i], z2[j]) in the others."""
    cfg = LandscapeConfig(grid_size=4, extent=3.0, fixed_logit=-7.0, fixed_index=1, dtype="float64")
    z1, z2, logits = logit_grid(cfg)
    assert z1.shape == z2.shape == (4,) and logits.shape == (16, 3) and logits.dtype == torch.float64
    torch.testing.assert_close(z1, torch.tensor([-3.0, -1.0, 1.0, 3.0], dtype=torch.float64))
    i, j = 2, 1
    assert logits[i * 4 + j].tolist() == [z1[i].item(), -7.0, z2[j].item()]
    assert target_index(cfg) == 1 and target_index(LandscapeConfig(fixed_index=1, target="free")) == 0


def test_correct_cells_require_a_strict_lead():
    """target "free" is correct where z1 > z2 strictly (the pinned -1000 never leads); the diagonal tie is not."""
    cfg = LandscapeConfig(grid_size=5, target="free")
    z1, z2, _ = logit_grid(cfg)
    assert torch.equal(correct_cells(cfg), z1[:, None] > z2[None, :])
    assert not correct_cells(LandscapeConfig(grid_size=5, target="fixed")).any()


# --------------------------------------------------------------------------- known values


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("formula", ("stable", "naive"))
def test_values_at_all_zero_logits(target, formula):
    """Fixed logit 0 and free logits 0 (the centre of a 3 x 3 grid): values computed by hand.

    p = (1/3, 1/3, 1/3), sigmoid = 1/2. Output Reset at y = (1/2, 1/2, 1/2): r = y - t = (-1/2, 1/2, 1/2),
    E(a) = (a + 1/2)^2 + 2 (1/2 - a)^2 is least at a = 1/6, E = (2/3)^2 + 2 (1/3)^2 = 2/3.
    """
    cfg = LandscapeConfig(grid_size=3, extent=1.0, fixed_logit=0.0, target=target, dtype="float64", formula=formula)
    expected = {
        "softmax_ce": math.log(3.0),
        "softmax_mse": (1 - 1 / 3) ** 2 + 2 * (1 / 3) ** 2,
        "sigmoid_mse": (0.5 - 1) ** 2 + 2 * 0.5**2,
        "sigmoid_mse_or": 2 / 3,
        "logit_mse": 1.0,
    }
    for loss, value in expected.items():
        assert _centre(loss_surface(loss, cfg)) == pytest.approx(value, rel=1e-12), loss


def test_bad_logit_surfaces_have_closed_forms():
    """At fixed logit -1000 (so softmax gives the pinned class exactly 0) with the pinned class true:
    CE = 1000 + log(e^z1 + e^z2); softmax-MSE = 1 + p^2 + (1 - p)^2 with p = sigmoid(z1 - z2), a
    function of z1 - z2 alone in [1.5, 2]; sigmoid-MSE = 1 + s(z1)^2 + s(z2)^2. Tolerance 1e-12 (float64)."""
    cfg = LandscapeConfig(dtype="float64")
    z1, z2, _ = logit_grid(cfg)
    a, b = z1[:, None], z2[None, :]  # (G, 1), (1, G)
    p = torch.sigmoid(a - b)
    expected = {
        "softmax_ce": 1000.0 + torch.logaddexp(a, b),
        "softmax_mse": 1 + p**2 + (1 - p) ** 2,
        "sigmoid_mse": 1 + torch.sigmoid(a) ** 2 + torch.sigmoid(b) ** 2,
        "logit_mse": (1000.0 + 1) ** 2 + a**2 + b**2,
    }
    for loss, value in expected.items():
        torch.testing.assert_close(loss_surface(loss, cfg), value, rtol=1e-12, atol=1e-12, msg=loss)


def test_landscape_losses_match_sigmse_functional():
    """Each stable landscape loss equals sigmse.losses.functional's per-sample loss (reduction="none", summed
    over classes), on random logits with one pinned at -1000. Tolerance 1e-12 (float64)."""
    functional = pytest.importorskip("sigmse.losses.functional")
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 3, generator=gen, dtype=torch.float64) * 5
    logits[:, 0] = -1000.0
    labels = torch.randint(0, 3, (64,), generator=gen)
    for name in ("softmax_ce", "softmax_mse", "sigmoid_mse", "sigmoid_mse_or"):
        ours = landscape_loss(name)(logits, labels)
        theirs = getattr(functional, name)(logits, labels, reduction="none")
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12, msg=name)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("fixed_logit", (-1000.0, -10.0, 0.0))
def test_autograd_matches_closed_form_float64(loss, target, fixed_logit):
    """Autograd through the stable formula equals the textbook gradient for all three logits, and
    gradient_norm_surface is the norm of its two free columns. Float64, rtol 1e-9, atol 1e-12."""
    cfg = LandscapeConfig(grid_size=25, fixed_logit=fixed_logit, target=target, dtype="float64")
    _, _, logits = logit_grid(cfg)
    labels = torch.full((logits.shape[0],), target_index(cfg))
    logits.requires_grad_(True)
    (autograd,) = torch.autograd.grad(landscape_loss(loss)(logits, labels).sum(), logits)
    closed = closed_form_gradient(loss, logits.detach(), target_index(cfg))
    torch.testing.assert_close(autograd, closed, rtol=1e-9, atol=1e-12)
    expected_norm = closed[:, 1:].norm(dim=1).reshape(25, 25)  # fixed_index 0: columns 1, 2 are free
    torch.testing.assert_close(gradient_norm_surface(loss, cfg), expected_norm, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("target", TARGETS)
def test_float32_agrees_with_float64_stable(loss, target):
    """The stable formulas at fixed logit -1000 agree across dtypes. Surfaces: rtol 1e-5, atol 1e-6
    (logit-MSE is ~1e6, where float32's spacing is 0.0625). Gradient norms: rtol 1e-4, atol 1e-6, the
    absolute part because float32 loses ~1e-7 absolute in terms like 1 - p (e.g. CE's p_t - 1 rounds to 0)."""
    c32, c64 = (LandscapeConfig(target=target, dtype=d) for d in ("float32", "float64"))
    s32, s64 = loss_surface(loss, c32), loss_surface(loss, c64)
    assert s32.dtype == torch.float32 and s64.dtype == torch.float64
    torch.testing.assert_close(s32.double(), s64, rtol=1e-5, atol=1e-6)
    g32, g64 = gradient_norm_surface(loss, c32), gradient_norm_surface(loss, c64)
    torch.testing.assert_close(g32.double(), g64, rtol=1e-4, atol=1e-6)


def test_softmax_mse_free_gradient_cannot_lower_both_free_logits():
    """With the pinned class's softmax probability exactly 0, softmax-MSE is shift-invariant in the two
    free logits: their gradients sum to 0 (atol 1e-15), and the pinned logit's gradient is exactly 0.
    Cross-entropy's free gradients sum to 1 (p1 + p2), its pinned gradient is -1 (target fixed)."""
    cfg = LandscapeConfig(grid_size=20, dtype="float64")
    _, _, logits = logit_grid(cfg)
    mse = closed_form_gradient("softmax_mse", logits, 0)
    ce = closed_form_gradient("softmax_ce", logits, 0)
    torch.testing.assert_close(mse[:, 1] + mse[:, 2], torch.zeros(400, dtype=torch.float64), rtol=0, atol=1e-15)
    assert (mse[:, 0] == 0).all()
    torch.testing.assert_close(ce[:, 1] + ce[:, 2], torch.ones(400, dtype=torch.float64), rtol=0, atol=1e-15)
    assert (ce[:, 0] == -1).all()


# --------------------------------------------------------------------------- naive formulas


@pytest.mark.parametrize("dtype", ("float32", "float64"))
def test_naive_formulas_at_bad_logit(dtype):
    """What the textbook formulas actually do at fixed logit -1000 (free logits in [-10, 10]), both dtypes:

    * exp(-1000) underflows to exactly 0 and no exp overflows (largest logit 10), so naive softmax-MSE,
      sigmoid-MSE and sigmoid-MSE-OR surfaces and free gradients are finite and equal the stable ones;
    * naive CE with the pinned class true takes log(0) = -inf: the surface is +inf in every cell and
      its gradient NaN in every cell;
    * naive CE with a free class true has a finite, correct surface but a NaN gradient in every cell:
      log's backward divides by the pinned class's probability 0 (0/0), and the shared normaliser
      carries that NaN into every logit;
    * naive sigmoid's gradient with respect to the pinned logit is NaN (exp(1000) = inf, inf/inf),
      while its value 1/(1 + inf) = 0 is right; the free gradients are untouched.
    """
    g = 100
    for target in TARGETS:
        stable, naive = (LandscapeConfig(target=target, dtype=dtype, formula=f) for f in ("stable", "naive"))
        for loss in ("softmax_mse", "sigmoid_mse", "sigmoid_mse_or"):
            torch.testing.assert_close(loss_surface(loss, naive), loss_surface(loss, stable), msg=loss)
            torch.testing.assert_close(gradient_norm_surface(loss, naive), gradient_norm_surface(loss, stable),
                                       rtol=1e-4, atol=1e-6, msg=loss)
    fixed = LandscapeConfig(target="fixed", dtype=dtype, formula="naive")
    assert torch.isposinf(loss_surface("softmax_ce", fixed)).all()
    assert torch.isnan(gradient_norm_surface("softmax_ce", fixed)).all()
    free = LandscapeConfig(target="free", dtype=dtype, formula="naive")
    torch.testing.assert_close(loss_surface("softmax_ce", free),
                               loss_surface("softmax_ce", LandscapeConfig(target="free", dtype=dtype)),
                               rtol=1e-5, atol=1e-6)
    assert torch.isnan(gradient_norm_surface("softmax_ce", free)).all()
    rows = {(r["loss"], r["formula"]): r for r in smoothness_table(fixed, ["sigmoid_mse"], dtypes=[dtype])}
    assert rows["sigmoid_mse", "naive"]["fixed_grad_nonfinite"] == g * g
    assert rows["sigmoid_mse", "stable"]["fixed_grad_nonfinite"] == 0
    assert rows["sigmoid_mse", "stable"]["fixed_grad_abs_max"] == 0.0  # saturated: sigmoid'(-1000) = 0


def test_naive_softmax_overflows_in_float32_only():
    """With free logits up to 100 (fixed logit 0), naive exp overflows to inf in float32 beyond ~88.72,
    making p = inf/inf = NaN exactly in the cells where a free logit's exp overflowed; float64
    (overflow beyond ~709.78) stays finite, and the stable formula is finite in both."""
    cfg32 = LandscapeConfig(grid_size=50, extent=100.0, fixed_logit=0.0, dtype="float32", formula="naive")
    z1, z2, _ = logit_grid(cfg32)
    overflowed = torch.isinf(torch.exp(z1))[:, None] | torch.isinf(torch.exp(z2))[None, :]
    assert overflowed.any()
    assert torch.equal(torch.isnan(loss_surface("softmax_mse", cfg32)), overflowed)
    for cfg in (LandscapeConfig(grid_size=50, extent=100.0, fixed_logit=0.0, dtype="float64", formula="naive"),
                LandscapeConfig(grid_size=50, extent=100.0, fixed_logit=0.0, dtype="float32")):
        assert torch.isfinite(loss_surface("softmax_mse", cfg)).all()


# --------------------------------------------------------------------------- smoothness metrics


def test_smoothness_finds_a_planted_jump():
    """A plane rising 0.01 per column with a step of 1 planted between columns 24 and 25: the largest
    neighbour jump is 1.01 over the range 0.49 + 1 = 1.49."""
    j = torch.arange(50, dtype=torch.float64)
    surface = (0.01 * j + (j >= 25).double()).expand(50, 50).clone()
    out = smoothness(surface, torch.ones(50, 50))
    assert out["max_rel_jump"] == pytest.approx(1.01 / 1.49, rel=1e-12)
    assert out["grad_max_rel_jump"] == 0.0  # constant gradient norm
    assert smoothness(0.01 * j.expand(50, 50), torch.ones(50, 50))["max_rel_jump"] == pytest.approx(0.01 / 0.49)


def test_smoothness_counts_nonfinite_and_gradient_regimes():
    """NaN and inf are counted, never enter a jump or the range; vanishing (< 1e-6) and exploding
    (finite, > 1e3) are shares of all cells; vanishing_share_of_wrong is over misclassified cells."""
    surface = torch.zeros(4, 4)
    surface[0, 0], surface[3, 3] = float("nan"), float("inf")
    surface[1, 1] = 2.0  # range [0, 2]; its neighbours jump by 2
    grad = torch.ones(4, 4)
    grad[0, :2] = 1e-7  # 2 vanishing
    grad[1, 0] = 1e4  # 1 exploding
    grad[2, 0], grad[2, 1] = float("inf"), float("nan")
    correct = torch.zeros(4, 4, dtype=torch.bool)
    correct[0, 0] = True  # of the 15 wrong cells one vanishes
    out = smoothness(surface, grad, correct=correct)
    assert out == {
        "max_rel_jump": 1.0, "grad_max_rel_jump": pytest.approx((1e4 - 1e-7) / (1e4 - 1e-7)),
        "surface_min": 0.0, "surface_max": 2.0,
        "surface_nan": 1, "surface_inf": 1, "grad_nan": 1, "grad_inf": 1, "grad_norm_max": 1e4,
        "vanishing_share": 2 / 16, "exploding_share": 1 / 16,
        "wrong_share": 15 / 16, "vanishing_share_of_wrong": 1 / 15,
    }


def test_smoothness_edge_cases():
    """A constant surface has jump 0.0; an all-inf one has no jump, no range (None)."""
    assert smoothness(torch.ones(3, 3), torch.ones(3, 3))["max_rel_jump"] == 0.0
    out = smoothness(torch.full((3, 3), float("inf")), torch.full((3, 3), float("nan")))
    assert out["max_rel_jump"] is None and out["surface_min"] is None and out["grad_nan"] == 9
    with pytest.raises(ValueError, match=r"equal 2-D shapes, got \(3, 3\) and \(3, 4\)"):
        smoothness(torch.ones(3, 3), torch.ones(3, 4))
    with pytest.raises(ValueError, match="correct must be a bool mask"):
        smoothness(torch.ones(3, 3), torch.ones(3, 3), correct=torch.ones(3, 3))


@pytest.mark.parametrize("target", TARGETS)
def test_stable_surfaces_at_bad_logit_are_continuous(target):
    """At fixed logit -1000 every stable surface and gradient-norm surface is continuous: doubling the
    grid (100 -> 200 per axis) halves the largest relative neighbour jump (ratio in [0.45, 0.55]), as for
    any Lipschitz surface; a cliff would keep the jump at its height. None has NaN or inf."""
    rows = {g: smoothness_table(LandscapeConfig(grid_size=g, target=target), formulas=["stable"],
                                dtypes=["float64"]) for g in (100, 200)}
    for coarse, fine in zip(rows[100], rows[200]):
        assert coarse["surface_nan"] + coarse["surface_inf"] + coarse["grad_nan"] + coarse["grad_inf"] == 0
        for key in ("max_rel_jump", "grad_max_rel_jump"):
            assert 0.45 <= fine[key] / coarse[key] <= 0.55, (coarse["loss"], key)


def test_smoothness_table_rows_are_complete_and_json_ready():
    """One row per loss x formula x dtype, naming its setting, serialisable without NaN."""
    rows = smoothness_table(LandscapeConfig(grid_size=10))
    assert len(rows) == len(LOSSES) * 2 * 2
    assert {(r["loss"], r["formula"], r["dtype"]) for r in rows} == {
        (l, f, d) for l in LOSSES for f in ("stable", "naive") for d in ("float32", "float64")}
    assert all(r["fixed_logit"] == -1000.0 and r["target"] == "fixed" and r["grid_size"] == 10 for r in rows)
    json.dumps(rows, allow_nan=False)


# --------------------------------------------------------------------------- descent


def test_descent_ce_lowers_both_free_logits_mse_cannot():
    """From (5, 5) with the pinned class (-1000) true, float64: CE's free gradient is (p1, p2) with
    p1 + p2 = 1 while p0 ~ 0, so at lr = 10 z1 = z2 = 5 - 5k; they reach -999.98 at step 201 (p0 = 0.003
    at step 200 shortens that step) and fall strictly below -1000 at step 202. Softmax-MSE's free
    gradient sums to 0, so z1 + z2 never moves."""
    cfg = LandscapeConfig(dtype="float64")
    ce = descent_trajectory("softmax_ce", cfg, (5.0, 5.0), lr=10.0, steps=250)
    assert ce["path"].shape == (251, 2) and ce["loss"].shape == ce["grad_norm"].shape == (251,)
    torch.testing.assert_close(ce["path"][1], torch.tensor([0.0, 0.0], dtype=torch.float64))
    assert ce["reached"] and ce["final_correct"] and ce["first_correct_step"] == 202
    mse = descent_trajectory("softmax_mse", cfg, (5.0, 3.0), lr=10.0, steps=250)
    torch.testing.assert_close(mse["path"].sum(dim=1), torch.full((251,), 8.0, dtype=torch.float64))
    assert not mse["reached"] and mse["first_correct_step"] is None


def test_descent_flags_passing_through_a_correct_point():
    """logit-MSE at lr 1 flips z to 2y - z each step (period 2): from (-10, 10) with z1's class true it is
    correct after step 1 and wrong again after step 2; reached is True, final_correct False (even steps)."""
    run = descent_trajectory("logit_mse", LandscapeConfig(target="free", dtype="float64"), (-10.0, 10.0),
                             lr=1.0, steps=4)
    assert run["path"][:3].tolist() == [[-10.0, 10.0], [12.0, -10.0], [-10.0, 10.0]]
    assert run["reached"] and run["first_correct_step"] == 1 and not run["final_correct"]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("kwargs, message", [
    ({"grid_size": 1}, "grid_size must be >= 2, got 1"),
    ({"grid_size": 10.0}, "grid_size must be a finite integer, got 10.0"),
    ({"grid_size": True}, "grid_size must be a finite integer, got True"),
    ({"extent": 0.0}, "extent must be > 0, got 0.0"),
    ({"extent": float("inf")}, "extent must be a finite number, got inf"),
    ({"fixed_logit": float("nan")}, "fixed_logit must be a finite number, got nan"),
    ({"fixed_logit": "-1000"}, "fixed_logit must be a finite number, got '-1000'"),
    ({"fixed_index": 3}, "fixed_index 3 is not allowed; choose one of: 0, 1, 2"),
    ({"target": "true"}, "target 'true' is not allowed; choose one of: 'fixed', 'free'"),
    ({"dtype": "float16"}, "dtype 'float16' is not allowed; choose one of: 'float32', 'float64'"),
    ({"formula": "exact"}, "formula 'exact' is not allowed; choose one of: 'stable', 'naive'"),
])
def test_config_rejects_bad_values(kwargs, message):
    """Each bad field raises ValueError quoting the value and what is allowed."""
    with pytest.raises(ValueError) as info:
        LandscapeConfig(**kwargs)
    assert str(info.value) == message


def test_unknown_loss_and_bad_descent_arguments_are_rejected():
    """An unknown loss lists the valid ones; descent checks start, lr and steps."""
    names = ", ".join(LOSSES)
    with pytest.raises(ValueError, match=f"unknown landscape loss 'mse'; choose one of: {names}"):
        loss_surface("mse", LandscapeConfig(grid_size=2))
    cfg = LandscapeConfig()
    with pytest.raises(ValueError, match=r"start must be two free logits \(z1, z2\), got \(1.0,\)"):
        descent_trajectory("softmax_ce", cfg, (1.0,), lr=0.1, steps=1)
    with pytest.raises(ValueError, match="lr must be > 0, got -0.1"):
        descent_trajectory("softmax_ce", cfg, (1.0, 2.0), lr=-0.1, steps=1)
    with pytest.raises(ValueError, match="steps must be >= 0, got -1"):
        descent_trajectory("softmax_ce", cfg, (1.0, 2.0), lr=0.1, steps=-1)
