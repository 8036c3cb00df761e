"""The measurements of ``sigmse bench``: training throughput against a hand-written ``DataLoader`` loop
(:mod:`sigmse.bench.naive_loop`) and the GEMM floor, the trainer's step phase by phase, every loss's step, the Output
Reset solver, epoch times, and a run's per-image costs (what the sweep estimate prices runs with).

How it is timed: the same work runs once as warm-up, then a fixed number of times, by the trainer's clock (read
after the device has finished its queued work). What is compared takes turns and medians are reported, so a slow
spell of a shared machine hits all of it alike. With several torch threads on oversubscribed cores timings can be
many times too slow: one thread is steadier there.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from sigmse.bench.naive_loop import NaiveLoop, naive_dataset
from sigmse.checks import check_number
from sigmse.config import RunConfig
from sigmse.data.datasets import DATASETS, Dataset, get_dataset_spec, load_dataset
from sigmse.losses.modules import get_loss, loss_names
from sigmse.losses.output_reset import output_reset
from sigmse.models import get_model
from sigmse.runs.profiles import Profile, base_config, get_profile
from sigmse.train import (ClassificationRun, EpochSums, TrainingRun, evaluate_logits, prepare_data, resolve_device,
                          synchronized_time, train, train_epoch)

__all__ = ["BASELINE_LOSS", "PROFILE_EPOCH_LOSSES", "STEP_PHASES", "synthetic_dataset", "gemm_floor_products",
           "gemm_floor_step", "training_throughput", "timed_step", "step_phases", "loss_step_times",
           "output_reset_solver", "epoch_seconds", "epoch_scaling", "profile_synthetic_data", "profile_epochs",
           "image_costs"]

BASELINE_LOSS = "softmax_ce"  # loss_step_times divides by this loss's time; the throughput and phases train with it
LR = 1e-3  # Adam's learning rate in the throughput and phase measurements
PROFILE_EPOCH_LOSSES = (BASELINE_LOSS, "sigmoid_mse_or")  # profile_epochs and image_costs time each


def _counts(**counts: int) -> None:
    for name, value in counts.items():
        check_number(name, value, low=1, integer=True, allowed="an integer >= 1")


def _timed(work: Callable[[], object], device: torch.device, calls: int = 1) -> float:
    """Seconds of ``calls`` calls of ``work`` by the trainer's clock (:func:`sigmse.train.synchronized_time`)."""
    start = synchronized_time(device)
    for _ in range(calls):
        work()
    return synchronized_time(device) - start


def _in_turn(works: Sequence[Callable[[], object]]) -> Callable[[], None]:
    """One call that makes each of ``works`` in order."""
    def run() -> None:
        for work in works:
            work()
    return run


def _interleaved_seconds(works: dict[str, Callable[[], object]], device: torch.device, blocks: int,
                         inner: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each work, per block: one warm-up call each, then ``blocks`` rounds in which every work
    runs ``inner`` times in turn."""
    _in_turn(list(works.values()))()
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(blocks):
        for name, work in works.items():
            times[name].append(_timed(work, device, inner) / inner)
    return times


def synthetic_dataset(name: str, n_train: int, n_test: int = 256, seed: int = 0) -> Dataset:
    """Random ``uint8`` images and labels of dataset ``name``'s shape: timings do not depend on pixel values."""
    spec = get_dataset_spec(name)
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[Tensor, Tensor]:
        images = torch.randint(0, 256, (n, *spec.image_shape), generator=generator, dtype=torch.uint8)
        return images, torch.randint(0, spec.num_classes, (n,), generator=generator)

    return Dataset(name, spec, *split(n_train), *split(n_test), source=Path("<synthetic>"), format="synthetic")


def _layer_products(model: nn.Module, images: Tensor) -> list[tuple[tuple[int, int, int, int], bool, bool]]:
    """``(shape, bias, input_grad)`` of every ``nn.Linear`` and ``nn.Conv2d`` in one forward of ``images``: shape
    ``(rows, inner, outputs, groups)`` of its forward product (a convolution's im2col lowering:
    ``(N H_out W_out, C_in / groups k_h k_w, C_out / groups, groups)``); ``input_grad``: whether backward needs the
    gradient of its input (not for the first layer)."""
    found: list[tuple[tuple[int, int, int, int], bool, bool]] = []

    def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if isinstance(module, nn.Linear):
            shape = (output.numel() // module.out_features, module.in_features, module.out_features, 1)
        else:
            groups, (k_h, k_w) = module.groups, module.kernel_size
            shape = (output.shape[0] * output.shape[2] * output.shape[3], module.in_channels // groups * k_h * k_w,
                     module.out_channels // groups, groups)
        found.append((shape, module.bias is not None, inputs[0].requires_grad))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    try:
        model(images)
    finally:
        for hook in hooks:
            hook.remove()
    return found


def gemm_floor_products(model_name: str, image_shape: tuple[int, int, int], num_classes: int, batch: int, *,
                        device: torch.device, seed: int = 0) -> dict[str, Callable[[], None]]:
    r"""One training step's matrix products of ``model_name`` at ``batch`` images and nothing else:
    ``{"forward": ..., "backward": ...}``, each running its pass's products once on random operands.

    Per linear layer forward runs :math:`y = b + x W^\top`, backward :math:`\nabla W = g^\top x` and
    :math:`\nabla x = g W` (none for the first layer), as autograd does. A convolution contributes the products of
    its im2col lowering, not what oneDNN's direct convolutions run, so for a conv net the ratio compares the step
    with plain matrix products rather than bounding it.
    """
    torch.manual_seed(seed)
    model = get_model(model_name, image_shape, num_classes).to(device)
    calls: dict[str, list[Callable[[], Tensor]]] = {"forward": [], "backward": []}
    for (rows, inner, outputs, groups), bias, input_grad in _layer_products(
            model, torch.randn(batch, *image_shape, device=device)):
        for _ in range(groups):
            x, weight = torch.randn(rows, inner, device=device), torch.randn(outputs, inner, device=device)
            grad, b = torch.randn(rows, outputs, device=device), torch.randn(outputs, device=device)
            calls["forward"].append((lambda x=x, w=weight, b=b: torch.addmm(b, x, w.t())) if bias else
                                    (lambda x=x, w=weight: torch.mm(x, w.t())))
            calls["backward"].append(lambda x=x, g=grad: torch.mm(g.t(), x))  # weight gradient, (out, inner)
            if input_grad:
                calls["backward"].append(lambda w=weight, g=grad: torch.mm(g, w))  # input gradient, (rows, inner)
    return {name: _in_turn(pass_calls) for name, pass_calls in calls.items()}


def gemm_floor_step(model_name: str, image_shape: tuple[int, int, int], num_classes: int, batch: int, *,
                    device: torch.device, seed: int = 0) -> Callable[[], None]:
    """The forward and then the backward products of :func:`gemm_floor_products`: a whole step's, once."""
    return _in_turn(list(gemm_floor_products(model_name, image_shape, num_classes, batch, device=device,
                                             seed=seed).values()))


def _trainer_config(dataset: str, model: str, batch_size: int, epochs: int, n_train: int, device: torch.device,
                    augment: bool = False) -> RunConfig:
    """The run the trainer is timed with: ``n_train`` training images, no validation split, one test batch."""
    return RunConfig(dataset=dataset, model=model, loss=BASELINE_LOSS, lr=LR, batch_size=batch_size, epochs=epochs,
                     augment=augment, train_subset=n_train, val_size=0, test_subset=batch_size, seed=0,
                     device=device.type)


def training_throughput(dataset: str = "mnist", model: str = "mlp", *, device: str | torch.device | None = None,
                        steps: int = 20, repeats: int = 3, batch_size: int = 128, workers: Sequence[int] | None = None,
                        augment: bool = False, data_dir: str | Path | None = None,
                        data: Dataset | None = None) -> list[dict[str, Any]]:
    """Images per second of the sigmse trainer and of the naive ``DataLoader`` loops (``num_workers`` of
    ``workers``; default 0 and 2, and 4 on a GPU), one row each, all training ``model`` with Adam and softmax CE.

    After each of the trainer's ``1 + repeats`` epochs the GEMM floor runs, then every naive loop makes one pass
    (the first of each warms up). Rows: median ``images_per_s`` and spread, ``speedup`` (trainer / naive loop),
    ``over_gemm_floor`` (time per image / the floor's). On a GPU the trainer runs conv nets channels_last."""
    device = resolve_device(str(device or "auto"))
    _counts(steps=steps, repeats=repeats, batch_size=batch_size)
    workers = tuple((0, 2, 4) if device.type == "cuda" else (0, 2)) if workers is None else tuple(workers)
    for w in workers:
        check_number("workers", w, low=0, integer=True, allowed="integers >= 0")
    data = data if data is not None else load_dataset(dataset, data_dir)
    n = min(steps * batch_size, len(data.train_labels))
    config = _trainer_config(dataset, model, batch_size, 1 + repeats, n, device, augment)
    floor_step = gemm_floor_step(model, data.spec.image_shape, data.spec.num_classes, batch_size, device=device)
    floor_steps = math.ceil(n / batch_size)
    passes: list[list[float]] = [[] for _ in range(1 + len(workers))]  # seconds of the floor's, then each loop's
    with naive_dataset(data, augment) as (naive, data_class):
        naive = torch.utils.data.Subset(naive, range(n))
        loops = [NaiveLoop(naive, data, model, loss=BASELINE_LOSS, device=device, batch_size=batch_size, workers=w,
                           lr=LR, seed=0) for w in workers]

        def naive_turn(entry: dict[str, Any]) -> None:  # called by the trainer after each of its epochs
            seconds = [_timed(floor_step, device, floor_steps)] + [_timed(loop.one_pass, device) for loop in loops]
            if entry["epoch"] > 1:  # the first epoch, floor and pass warm up
                for times, s in zip(passes, seconds):
                    times.append(s)

        result = train(config, dataset=data, progress=False, on_epoch=naive_turn)
        loops.clear()  # shuts the persistent workers down
    if result["status"] != "ok":
        raise RuntimeError(f"the trainer's run {dataset}/{model}/{BASELINE_LOSS} diverged; the benchmark needs a "
                           "finite loss")
    n_train = result["metrics"]["n_train"]
    floor_rates = [floor_steps * batch_size / s for s in passes[0]]
    floor_rate = statistics.median(floor_rates)
    common = dict(dataset=dataset, model=model, loss=BASELINE_LOSS, augment=augment, batch_size=batch_size,
                  steps_per_pass=math.ceil(n_train / batch_size), passes=repeats, device=device.type,
                  gemm_floor_images_per_s=floor_rate)

    def row(loop: str, w: int | None, data_class: str, seconds: list[float], trainer: float | None) -> dict[str, Any]:
        rates = [n_train / s for s in seconds]
        return dict(common, loop=loop, workers=w, data_class=data_class, seconds=sum(seconds),
                    images_per_s=statistics.median(rates), images_per_s_min=min(rates), images_per_s_max=max(rates),
                    speedup=None if trainer is None else trainer / statistics.median(rates),
                    over_gemm_floor=floor_rate / statistics.median(rates),
                    over_gemm_floor_fastest=max(floor_rates) / max(rates))

    rows = [row("sigmse", None, "sigmse.train (device-resident tensors)",
                [h["seconds"] for h in result["history"][1:]], None)]
    return rows + [row(f"naive, num_workers={w}", w, data_class, seconds, rows[0]["images_per_s"])
                   for w, seconds in zip(workers, passes[1:])]


# The phases of TrainingRun.step in order, each with the pass of gemm_floor_products whose products it runs
STEP_PHASES: tuple[tuple[str, str | None], ...] = (
    ("batch, forward and loss", "forward"),  # index_select, (augmentation,) the model, the loss, one argmax
    ("zero_grad", None), ("backward", "backward"), ("optimizer step", None), ("schedule step", None))


def timed_step(run: TrainingRun, index: Tensor, start: int, sums: Any) -> list[float]:
    """:meth:`TrainingRun.step <sigmse.train.TrainingRun.step>` on ``index``, the same calls in the same order,
    returning the seconds of each of :data:`STEP_PHASES` (synchronised on a GPU)."""
    clock = [synchronized_time(run.device)]
    loss = run.batch_loss(index, start, sums)
    clock.append(synchronized_time(run.device))
    run.optimizer.zero_grad(set_to_none=True)
    clock.append(synchronized_time(run.device))
    loss.backward()
    clock.append(synchronized_time(run.device))
    run.optimizer.step()
    clock.append(synchronized_time(run.device))
    if run.scheduler is not None:
        run.scheduler.step()
    clock.append(synchronized_time(run.device))
    return [end - begin for begin, end in zip(clock, clock[1:])]


def step_phases(dataset: str = "mnist", model: str = "mlp", *, device: str | torch.device | None = None,
                steps: int = 100, repeats: int = 5, batch_size: int = 128, data: Dataset | None = None,
                data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Where the trainer's step spends its time, phase by phase, beside the matrix products each phase runs:
    ``1 + repeats`` passes of ``steps`` :func:`timed_step` calls, each followed by as many of the GEMM floor's (the
    first pass warms up). One row per phase of :data:`STEP_PHASES`, then ``whole step``, with medians;
    ``over_gemm_floor`` is over the whole floor, so the phases' values add up to the step's."""
    device = resolve_device(str(device or "auto"))
    _counts(steps=steps, repeats=repeats, batch_size=batch_size)
    data = data if data is not None else load_dataset(dataset, data_dir)
    n = min(steps * batch_size, len(data.train_labels))
    config = _trainer_config(dataset, model, batch_size, 1 + repeats, n, device)
    run = ClassificationRun(config, prepare_data(config, device, dataset=data), device)
    floor = gemm_floor_products(model, data.spec.image_shape, data.spec.num_classes, batch_size, device=device)
    starts = range(0, n, batch_size)
    passes: list[list[float]] = []  # per pass: seconds per step of each phase, then of each pass of the floor
    for _ in range(1 + repeats):
        sums, order = EpochSums(n, device), torch.randperm(n, device=device, generator=run.generator)
        totals = [0.0] * len(STEP_PHASES)
        for start in starts:
            totals = [t + s for t, s in zip(totals, timed_step(run, order[start:start + batch_size], start, sums))]
        passes.append([t / len(starts) for t in totals]
                      + [_timed(products, device, len(starts)) / len(starts) for products in floor.values()])
    medians = [statistics.median(column) for column in zip(*passes[1:])]
    phase_seconds, gemm_seconds = medians[:len(STEP_PHASES)], dict(zip(floor, medians[len(STEP_PHASES):]))
    floor_seconds, step_seconds = sum(gemm_seconds.values()), sum(phase_seconds)
    common = dict(dataset=dataset, model=model, loss=BASELINE_LOSS, batch_size=batch_size,
                  steps_per_pass=len(starts), passes=repeats, device=device.type)

    def row(phase: str, seconds: float, gemm: float) -> dict[str, Any]:
        return dict(common, phase=phase, seconds_per_step=seconds, share_of_step=seconds / step_seconds,
                    gemm_seconds_per_step=gemm, beyond_gemm_seconds_per_step=seconds - gemm,
                    over_gemm_floor=seconds / floor_seconds)

    rows = [row(phase, seconds, gemm_seconds[products] if products else 0.0)
            for (phase, products), seconds in zip(STEP_PHASES, phase_seconds)]
    return rows + [row("whole step", step_seconds, floor_seconds)]


def _saved_bytes(loss_fn: nn.Module, logits: Tensor, labels: Tensor) -> int:
    """Bytes of the distinct storages ``loss_fn`` saves for backward, other than its inputs' (alive anyway)."""
    inputs = {logits.untyped_storage().data_ptr(), labels.untyped_storage().data_ptr()}
    saved: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in inputs:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = loss_fn(logits, labels)
    torch.autograd.grad(loss, logits)
    return sum(saved.values())


def _peak_bytes(step: Callable[[], object], device: torch.device) -> int:
    """CUDA memory allocated at the peak of ``step`` above what was allocated before it."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated(device) - before


def _random_logits(batch: int, classes: int, device: torch.device) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)  # drawn on the CPU: the same numbers on every device
    logits = torch.randn(batch, classes, generator=generator) * 2.0  # (B, C), spread like a trained net's
    return logits.to(device), torch.randint(classes, (batch,), generator=generator).to(device)


def loss_step_times(batch: int = 512, classes: Sequence[int] = (10, 1000), *, device: str | torch.device | None = None,
                    losses: Sequence[str] | None = None, blocks: int = 7, inner: int = 10) -> list[dict[str, Any]]:
    """Forward + backward time of each loss (default: all) on random logits ``(batch, C)``, one row per loss and C:
    the median over ``blocks`` alternating blocks of ``inner`` steps, its ``ratio`` to softmax_ce's, the bytes saved
    for backward and, on CUDA, the step's peak allocation."""
    device = resolve_device(str(device or "auto"))
    _counts(batch=batch, blocks=blocks, inner=inner)
    names = loss_names() if losses is None else list(dict.fromkeys([BASELINE_LOSS, *losses]))
    rows = []
    for c in classes:
        check_number("classes", c, low=2, integer=True, allowed="integers >= 2")
        logits, labels = _random_logits(batch, c, device)
        logits.requires_grad_()
        functions = {name: get_loss(name) for name in names}  # raises ValueError listing the valid names
        steps = {name: (lambda f=f: torch.autograd.grad(f(logits, labels), logits)) for name, f in functions.items()}
        times = _interleaved_seconds(steps, device, blocks, inner)
        baseline = statistics.median(times[BASELINE_LOSS])
        rows += [dict(loss=name, classes=c, batch=batch, device=device.type, seconds=statistics.median(times[name]),
                      seconds_min=min(times[name]), seconds_max=max(times[name]),
                      ratio=statistics.median(times[name]) / baseline,
                      saved_bytes=_saved_bytes(functions[name], logits, labels),
                      peak_bytes=_peak_bytes(steps[name], device) if device.type == "cuda" else None)
                 for name in names]
    return rows


def _training_step(model_name: str, classes: int, batch: int, loss: str, device: torch.device) -> Callable[[], None]:
    """One training step (forward, loss, backward, fused Adam) of ``model_name`` on a random MNIST-shaped batch."""
    torch.manual_seed(0)
    image_shape = DATASETS["mnist"].image_shape
    model = get_model(model_name, image_shape, classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # the trainer's step (sigmse.train)
    loss_fn = get_loss(loss)
    images = torch.randn(batch, *image_shape, device=device)  # (B, 1, 28, 28)
    labels = torch.randint(classes, (batch,), device=device)

    def step() -> None:
        batch_loss = loss_fn(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        batch_loss.backward()
        optimizer.step()

    return step


def output_reset_solver(batch: int = 512, classes: Sequence[int] = (10, 1000), *, iterations: int = 50,
                        device: str | torch.device | None = None, repeats: int = 10) -> list[dict[str, Any]]:
    """The exact Output Reset solver against ``iterations`` steps of the alternating procedure, per ``C``, on
    sigmoid outputs of random logits: median seconds, the largest difference of their targets, and the solver's
    share of an MLP training step with sigmoid_mse_or, beside the step with softmax_ce."""
    device = resolve_device(str(device or "auto"))
    _counts(batch=batch, iterations=iterations, repeats=repeats)
    rows, step_model = [], "mlp"
    for c in classes:
        logits, labels = _random_logits(batch, c, device)
        outputs = torch.sigmoid(logits)  # (B, C): the solver sees sigmoid outputs in training
        works = {"exact": lambda: output_reset(outputs, labels).targets,
                 "alternating": lambda: output_reset(outputs, labels, iterations=iterations).targets,
                 "step_or": _training_step(step_model, c, batch, "sigmoid_mse_or", device),
                 "step_ce": _training_step(step_model, c, batch, BASELINE_LOSS, device)}
        difference = (works["exact"]() - works["alternating"]()).abs().amax(dim=1)  # (B,)
        median = {name: statistics.median(t) for name, t in _interleaved_seconds(works, device, repeats).items()}
        rows.append(dict(
            classes=c, batch=batch, iterations=iterations, device=device.type, exact_seconds=median["exact"],
            alternating_seconds=median["alternating"], alternating_over_exact=median["alternating"] / median["exact"],
            max_abs_disagreement=float(difference.max()), share_disagreeing=float((difference > 1e-5).float().mean()),
            step_model=step_model, step_seconds_or=median["step_or"], step_seconds_ce=median["step_ce"],
            step_ratio=median["step_or"] / median["step_ce"], solver_share_of_step=median["exact"] / median["step_or"]))
    return rows


def epoch_seconds(config: RunConfig, *, data_dir: str | Path | None = None,
                  data: Dataset | None = None) -> dict[str, Any]:
    """Seconds of one training epoch of ``config`` with the sigmse trainer: the second of two (the first warms up)."""
    result = train(config.with_(epochs=2, warmup_epochs=0.0), data_dir=data_dir, dataset=data, progress=False)
    seconds, n = result["history"][-1]["seconds"], result["metrics"]["n_train"]
    return dict(dataset=config.dataset, model=config.model, loss=config.loss, batch_size=config.batch_size,
                augment=config.augment, device=resolve_device(config.device).type, n_train=n,
                steps=math.ceil(n / config.batch_size), seconds_per_epoch=seconds, images_per_s=n / seconds,
                microseconds_per_image=1e6 * seconds / n)


def epoch_scaling(sizes: Sequence[int] = (1000, 10000, 60000), *, dataset: str = "mnist", model: str = "mlp",
                  device: str | torch.device | None = None, batch_size: int = 128, data_dir: str | Path | None = None,
                  data: Dataset | None = None) -> list[dict[str, Any]]:
    """:func:`epoch_seconds` on the first ``n`` (class-stratified) training images, per size; no validation split,
    so ``n`` may be the whole training set."""
    device = resolve_device(str(device or "auto"))
    data = data if data is not None else load_dataset(dataset, data_dir)
    available = len(data.train_labels)
    rows = []
    for n in sizes:
        check_number("epoch_scaling size", n, low=1, integer=True, allowed="an integer >= 1")
        if n > available:
            raise ValueError(f"epoch_scaling size {n} is more than the {available} training images of {dataset!r}")
        config = RunConfig(dataset=dataset, model=model, batch_size=batch_size, val_size=0,
                           train_subset=n if n < available else None, test_subset=batch_size, device=device.type)
        rows.append(epoch_seconds(config, data=data))
    return rows


def profile_synthetic_data(profile: Profile, dataset: str) -> Dataset:
    """Random images of ``dataset``'s shape, as many as ``profile``'s runs on it read."""
    budget, spec = profile.budgets[dataset], get_dataset_spec(dataset)
    n_train = spec.train_size if budget.train_subset is None else budget.train_subset + budget.val_size
    return synthetic_dataset(dataset, n_train, n_test=budget.test_subset or spec.test_size)


def profile_epochs(profile: str, *, device: str | torch.device | None = None, data_dir: str | Path | None = None,
                   synthetic: bool = False) -> list[dict[str, Any]]:
    """:func:`epoch_seconds` of every dataset of ``profile`` with each of :data:`PROFILE_EPOCH_LOSSES`, as its
    experiments train it (its grid's first rate, seed 0), with ``full_split_seconds``: the seconds scaled to the
    whole training set less the validation images (``full_split_n``)."""
    chosen = get_profile(profile)  # ValueError listing the profiles
    device = resolve_device(str(device or chosen.device))
    rows = []
    for dataset in chosen.datasets:
        budget, spec = chosen.budgets[dataset], get_dataset_spec(dataset)
        data = profile_synthetic_data(chosen, dataset) if synthetic else None
        full_split_n = spec.train_size - budget.val_size
        for loss in PROFILE_EPOCH_LOSSES:
            config = base_config(chosen, dataset, loss=loss, lr=budget.lr_grid[0], seed=0, device=device.type)
            row = epoch_seconds(config, data_dir=data_dir, data=data)
            rows.append({**row, "full_split_n": full_split_n,
                         "full_split_seconds": row["seconds_per_epoch"] * full_split_n / row["n_train"]})
    return rows


def image_costs(config: RunConfig, *, data_dir: str | Path | None = None, data: Dataset | None = None,
                train_images: int = 16384, repeats: int = 2) -> dict[str, Any]:
    """What one run of ``config`` costs: seconds per training image, per evaluated image and of setup
    (:func:`sigmse.train.prepare_data`, the dataset decoded beforehand as in a sweep). ``1 + repeats`` epochs on the
    first ``train_images`` images, each followed by one evaluation of the validation split (one forward pass an
    image: the estimate counts ``tta_flip``'s second); the first of each warms up."""
    _counts(train_images=train_images, repeats=repeats)
    device = resolve_device(config.device)
    data = data if data is not None else load_dataset(config.dataset, data_dir)  # decoded before the clock starts
    started = time.perf_counter()
    whole = prepare_data(config, device, dataset=data)
    setup = time.perf_counter() - started
    n = min(train_images, len(whole.train_labels))
    subset = replace(whole, train_images=whole.train_images[:n], train_labels=whole.train_labels[:n],
                     train_flipped=whole.train_flipped[:n])
    run = ClassificationRun(config, subset, device)
    train_seconds, eval_seconds = [], []
    for _ in range(1 + repeats):
        train_seconds.append(train_epoch(run, EpochSums(n, device))[1])
        eval_seconds.append(_timed(lambda: evaluate_logits(run.model, whole.val_images, run.autocast), device))
    evaluated = len(whole.val_labels)
    return dict(dataset=config.dataset, model=config.model, loss=config.loss, batch_size=config.batch_size,
                augment=config.augment, device=device.type, threads=torch.get_num_threads(), n_train=n,
                n_eval=evaluated, setup_seconds=setup,
                train_seconds_per_image=statistics.median(train_seconds[1:]) / n,
                eval_seconds_per_image=statistics.median(eval_seconds[1:]) / evaluated if evaluated else None)
