"""Loss landscapes over two free logits, with the third pinned at a bad value.

A widely shared note claims that for a 3-class pattern whose logit of one class is pinned at ``fixed_logit``
(-1000, "a bad initialisation"), the MSE surface over the two free logits ``z1, z2`` "shows sharp cliffs and
discontinuities" with chaotic gradients while cross-entropy stays smooth. This module computes those surfaces and
their gradients on a ``grid_size x grid_size`` grid (one batch, one backward pass) for each loss of
:data:`LOSS_NAMES` in its stable and textbook (:mod:`sigmse.losses.naive`) form, in float32 and float64, so any NaN
or inf is traced to its cause, and measures what is there (:func:`smoothness`). Every loss is summed over the 3
classes, as in :mod:`sigmse.losses.functional`.

Grid convention: ``surface[i, j]`` is the value at ``(z1[i], z2[j])``, ``z1`` and ``z2`` being the free logits in
class order; with ``target="free"`` the true class is ``z1``'s.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import Tensor

from sigmse.checks import check_choice, check_number
from sigmse.losses.modules import loss_form

__all__ = ["LandscapeConfig", "LOSS_NAMES", "TARGETS", "FORMULAS", "DTYPES", "free_indices", "target_index",
           "true_margin", "logit_grid", "correct_cells", "landscape_loss", "loss_surface", "gradient_norm_surface",
           "smoothness", "smoothness_table", "descent_trajectory"]

NUM_CLASSES = 3
# The losses the chapter draws, in its order, by their sigmse.losses names: the note's softmax-MSE and
# cross-entropy, the paper's two, and MSE on the raw logits (a reference with no exp and no log).
LOSS_NAMES = ("softmax_mse", "softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "logit_mse")
TARGETS = ("fixed", "free")
FORMULAS = ("stable", "naive")
DTYPES: Mapping[str, torch.dtype] = MappingProxyType({"float32": torch.float32, "float64": torch.float64})
VANISHING = 1e-6  # gradient norm below this counts as vanishing
EXPLODING = 1e3  # gradient norm above this (and finite) counts as exploding


@dataclass(frozen=True)
class LandscapeConfig:
    """One landscape: the grid, the pinned logit, the true class and the arithmetic."""

    grid_size: int = 100  # cells per axis: the note's 100 x 100 grid
    extent: float = 10.0  # each free logit runs over linspace(-extent, extent, grid_size)
    fixed_logit: float = -1000.0  # the pinned "bad initialisation" logit
    fixed_index: int = 0  # which of the 3 classes owns the pinned logit
    target: str = "fixed"  # "fixed": the pinned logit's class is true; "free": z1's class is true
    dtype: str = "float32"  # "float32" or "float64"
    formula: str = "stable"  # "stable" (log-softmax, torch.sigmoid) or "naive" (textbook exp/log)

    def __post_init__(self) -> None:
        check_number("grid_size", self.grid_size, low=2, integer=True, kind="a finite integer", allowed=">= 2")
        check_number("extent", self.extent, low=0, low_open=True, kind="a finite number", allowed="> 0")
        check_number("fixed_logit", self.fixed_logit, kind="a finite number")
        check_choice("fixed_index", self.fixed_index, tuple(range(NUM_CLASSES)), quote=True)
        check_choice("target", self.target, TARGETS, quote=True)
        check_choice("dtype", self.dtype, tuple(DTYPES), quote=True)
        check_choice("formula", self.formula, FORMULAS, quote=True)


def free_indices(config: LandscapeConfig) -> tuple[int, int]:
    """The classes of ``z1`` and ``z2``: the two classes other than ``fixed_index``, in order."""
    i, j = (c for c in range(NUM_CLASSES) if c != config.fixed_index)
    return i, j


def target_index(config: LandscapeConfig) -> int:
    """The true class: ``fixed_index`` for ``target="fixed"``, ``z1``'s class for ``"free"``."""
    return config.fixed_index if config.target == "fixed" else free_indices(config)[0]


def true_margin(logits: Tensor, target: int) -> Tensor:
    """The true logit minus the largest other, ``(N, C) -> (N,)``: positive where the row is classified correctly."""
    return logits[:, target] - logits[:, [c for c in range(NUM_CLASSES) if c != target]].amax(dim=1)


def logit_grid(config: LandscapeConfig) -> tuple[Tensor, Tensor, Tensor]:
    """The grid axes ``z1 (G,)``, ``z2 (G,)`` and the logits ``(G*G, 3)`` in row-major ``(i, j)`` order."""
    g, dtype = config.grid_size, DTYPES[config.dtype]
    axis = torch.linspace(-config.extent, config.extent, g, dtype=dtype)  # (G,)
    logits = torch.full((g * g, NUM_CLASSES), float(config.fixed_logit), dtype=dtype)
    logits[:, list(free_indices(config))] = torch.cartesian_prod(axis, axis)  # (G*G, 2), z2 varying fastest
    return axis, axis.clone(), logits


def correct_cells(config: LandscapeConfig) -> Tensor:
    """``(G, G)`` bool: the true class's logit is strictly the largest (a tie is not correct)."""
    g = config.grid_size
    return (true_margin(logit_grid(config)[2], target_index(config)) > 0).reshape(g, g)


def landscape_loss(loss: str, *, naive: bool = False) -> Callable[[Tensor, Tensor], Tensor]:
    """One of :data:`LOSS_NAMES` as ``f(logits (N, C), labels (N,)) -> (N,)``, summed over the classes: its
    stable form, or with ``naive=True`` its textbook one (:func:`sigmse.losses.modules.loss_form`)."""
    if loss not in LOSS_NAMES:
        raise ValueError(f"unknown landscape loss {loss!r}; choose one of: {', '.join(LOSS_NAMES)}")
    return loss_form(loss, naive=naive)


def _value_and_grad(fn: Callable[[Tensor, Tensor], Tensor], logits: Tensor, target: int) -> tuple[Tensor, Tensor]:
    """Per-row loss ``(N,)`` and its gradient ``(N, 3)``. The rows are independent, so row n of d(sum)/d(logits)
    is d loss_n / d logits_n, even where the sum itself is inf or NaN (backward only passes ones down)."""
    logits.requires_grad_(True)
    with torch.enable_grad():
        values = fn(logits, torch.full((logits.shape[0],), target, dtype=torch.long))  # (N,)
        (grad,) = torch.autograd.grad(values.sum(), logits)
    return values.detach(), grad


def _loss_and_grad(loss: str, config: LandscapeConfig) -> tuple[Tensor, Tensor]:
    """Per-cell loss ``(G*G,)`` and its gradient ``(G*G, 3)`` with respect to all three logits."""
    fn = landscape_loss(loss, naive=config.formula == "naive")
    return _value_and_grad(fn, logit_grid(config)[2], target_index(config))


def loss_surface(loss: str, config: LandscapeConfig) -> Tensor:
    """The loss on the grid, ``(G, G)``: ``surface[i, j]`` at ``(z1[i], z2[j])``."""
    g = config.grid_size
    return _loss_and_grad(loss, config)[0].reshape(g, g)


def _free_norm(grad: Tensor, config: LandscapeConfig) -> Tensor:
    i, j = free_indices(config)
    g = config.grid_size
    return torch.hypot(grad[:, i], grad[:, j]).reshape(g, g)  # hypot: no underflow of tiny squares


def gradient_norm_surface(loss: str, config: LandscapeConfig) -> Tensor:
    """Euclidean norm of the gradient with respect to the two free logits, ``(G, G)``, by autograd."""
    return _free_norm(_loss_and_grad(loss, config)[1], config)


def _max_rel_jump(surface: Tensor) -> float | None:
    """Largest ``|difference|`` between finite horizontal or vertical neighbours over the finite range."""
    s = surface.detach().to(torch.float64)
    finite = torch.isfinite(s)
    jumps = torch.cat([(a - b).abs()[torch.isfinite(a) & torch.isfinite(b)]
                       for a, b in ((s[1:], s[:-1]), (s[:, 1:], s[:, :-1]))])
    if jumps.numel() == 0:
        return None
    span = (s[finite].max() - s[finite].min()).item()
    return 0.0 if span == 0 else jumps.max().item() / span


def _finite_min_max(surface: Tensor) -> tuple[float | None, float | None]:
    values = surface[torch.isfinite(surface)]
    if values.numel() == 0:
        return None, None
    return values.min().item() + 0.0, values.max().item() + 0.0  # + 0.0 turns -0.0 into 0.0 for tables


def smoothness(surface: Tensor, grad_norm: Tensor, *, correct: Tensor | None = None) -> dict[str, Any]:
    """Summarise a ``(G, G)`` loss surface and its gradient-norm surface in plain, JSON-ready numbers.

    * ``max_rel_jump`` (``grad_max_rel_jump`` for the gradient norm): the largest difference between finite
      neighbouring cells over the finite range; ``None`` with no finite pair. On a smooth surface it shrinks like
      ``1 / G`` as the grid is refined; a true cliff keeps it near its height.
    * ``surface_min``, ``surface_max``, ``grad_norm_max``: finite extremes; ``surface_nan``, ``surface_inf``,
      ``grad_nan``, ``grad_inf``: cell counts.
    * ``vanishing_share``, ``exploding_share``: shares of all cells with a finite gradient norm below
      :data:`VANISHING` or above :data:`EXPLODING`.
    * with ``correct`` (a bool mask of correctly classified cells): ``wrong_share`` and ``vanishing_share_of_wrong``
      (``None`` if none is wrong): a vanishing gradient is harmless where the pattern is right, a trap where wrong.
    """
    if surface.shape != grad_norm.shape or surface.dim() != 2:
        raise ValueError(f"surface and grad_norm must be equal 2-D shapes, got {tuple(surface.shape)} "
                         f"and {tuple(grad_norm.shape)}")
    cells = surface.numel()
    finite_grad = torch.isfinite(grad_norm)
    vanish = finite_grad & (grad_norm < VANISHING)
    low, high = _finite_min_max(surface)
    out: dict[str, Any] = {
        "max_rel_jump": _max_rel_jump(surface), "grad_max_rel_jump": _max_rel_jump(grad_norm),
        "surface_min": low, "surface_max": high,
        "surface_nan": int(torch.isnan(surface).sum()), "surface_inf": int(torch.isinf(surface).sum()),
        "grad_nan": int(torch.isnan(grad_norm).sum()), "grad_inf": int(torch.isinf(grad_norm).sum()),
        "grad_norm_max": _finite_min_max(grad_norm)[1], "vanishing_share": vanish.sum().item() / cells,
        "exploding_share": (finite_grad & (grad_norm > EXPLODING)).sum().item() / cells}
    if correct is not None:
        if correct.shape != surface.shape or correct.dtype != torch.bool:
            raise ValueError(f"correct must be a bool mask of shape {tuple(surface.shape)}, "
                             f"got {correct.dtype} {tuple(correct.shape)}")
        n_wrong = int((~correct).sum())
        out["wrong_share"] = n_wrong / cells
        out["vanishing_share_of_wrong"] = (vanish & ~correct).sum().item() / n_wrong if n_wrong else None
    return out


def smoothness_table(config: LandscapeConfig, losses: Sequence[str] | None = None, *,
                     formulas: Sequence[str] = FORMULAS, dtypes: Sequence[str] = tuple(DTYPES)) -> list[dict[str, Any]]:
    """One :func:`smoothness` row per loss x formula x dtype (``config``'s own are replaced), naming its setting,
    with the gradient on the pinned logit, which the landscape holds fixed but training would update."""
    rows = []
    for loss, formula, dtype in itertools.product(LOSS_NAMES if losses is None else losses, formulas, dtypes):
        cfg = dataclasses.replace(config, formula=formula, dtype=dtype)  # validates both
        values, grad = _loss_and_grad(loss, cfg)
        g = cfg.grid_size
        pinned = grad[:, cfg.fixed_index].abs()  # how hard the loss pulls the pinned logit (learnable in training)
        finite = pinned[torch.isfinite(pinned)]
        rows.append({"loss": loss, "formula": formula, "dtype": dtype, "target": cfg.target,
                     "fixed_logit": float(cfg.fixed_logit), "grid_size": g, "extent": float(cfg.extent),
                     **smoothness(values.reshape(g, g), _free_norm(grad, cfg), correct=correct_cells(cfg)),
                     "fixed_grad_abs_min": finite.min().item() if finite.numel() else None,
                     "fixed_grad_abs_max": finite.max().item() if finite.numel() else None,
                     "fixed_grad_nonfinite": pinned.numel() - finite.numel()})
    return rows


def descent_trajectory(loss: str, config: LandscapeConfig, start: tuple[float, float], lr: float,
                       steps: int) -> dict[str, Any]:
    """Plain gradient descent ``z <- z - lr * grad`` on the two free logits; the pinned logit stays put.

    Returns ``path (steps + 1, 2)``, ``loss`` and ``grad_norm (steps + 1,)`` (entry ``k`` before step ``k + 1``),
    ``reached`` (some visited point classifies correctly), ``first_correct_step`` and ``final_correct`` (an
    oscillating run can pass through a correct point and leave it).
    """
    fn = landscape_loss(loss, naive=config.formula == "naive")
    if len(start) != 2:
        raise ValueError(f"start must be two free logits (z1, z2), got {start!r}")
    for k, value in enumerate(start):
        check_number(f"start[{k}]", value, kind="a finite number")
    check_number("lr", lr, low=0, low_open=True, kind="a finite number", allowed="> 0")
    check_number("steps", steps, low=0, integer=True, kind="a finite integer", allowed=">= 0")
    dtype = DTYPES[config.dtype]
    free, t = list(free_indices(config)), target_index(config)
    z = torch.tensor([float(v) for v in start], dtype=dtype)  # (2,)
    path, losses, norms, first_correct, correct = [], [], [], None, False
    for k in range(steps + 1):
        logits = torch.full((1, NUM_CLASSES), float(config.fixed_logit), dtype=dtype)
        logits[0, free] = z
        value, grad = _value_and_grad(fn, logits, t)  # (1,), (1, 3)
        g = grad[0, free]  # (2,)
        path.append(z)
        losses.append(value[0])
        norms.append(torch.hypot(g[0], g[1]))
        correct = bool(true_margin(logits, t)[0] > 0)  # False for NaN logits
        if first_correct is None and correct:
            first_correct = k
        z = z - lr * g
    return {"path": torch.stack(path), "loss": torch.stack(losses), "grad_norm": torch.stack(norms),
            "reached": first_correct is not None, "first_correct_step": first_correct, "final_correct": correct}
