"""The training loop: data resident on the device, index slices, batched augmentation, in the manner of airbench.

The dataset is decoded once (cached by :mod:`sigmse.data.datasets`), normalised once and moved to the device once;
every epoch draws one ``randperm`` on the device and trains on slices of it; augmentation (a reflect-padded crop,
i.e. a translation, and a horizontal flip) runs for the whole batch with index arithmetic and masks. Per-step
statistics stay on the device and are read once per epoch. The loop itself (:func:`train_epoch` over a
:class:`TrainingRun`) knows nothing of classification: :mod:`sigmse.unification.train` trains with it too.

``torch.compile`` is not used: on a 2-core CPU it took about 20 s to compile the MNIST MLP and its compiled step
was no faster than the eager one, so it cannot pay for itself in runs that last seconds to minutes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm import tqdm  # the text bar: tqdm.auto warns in notebooks without ipywidgets

from sigmse.calibration import (expected_calibration_error, fit_temperature, negative_log_likelihood,
                                temperature_scaled_probabilities)
from sigmse.config import RunConfig
from sigmse.data.datasets import Dataset, load_dataset
from sigmse.losses.modules import SigmoidMSEOutputResetLoss, class_probabilities, get_loss
from sigmse.models import DATA_INIT_HOOK, MODELS, get_model
from sigmse.data.noise import add_input_noise, corrupt_labels
from sigmse.seeds import stream_seed
from sigmse.data.splits import subset_indices, validation_split

__all__ = ["resolve_device", "DeviceData", "prepare_data", "train", "evaluate_logits", "evaluation_steps",
           "EpochSums", "TrainingRun", "ClassificationRun", "train_epoch", "synchronized_time"]

EVAL_BATCH = 2048  # evaluation batch size: large, since no activations are kept for backward
SPLIT_SEED = 0  # the validation split and training subset are the same for every run


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA device; use --device cpu or auto")
    return torch.device(name)


@dataclass(frozen=True)
class DeviceData:
    """Normalised float images and labels for one run, already on the device."""

    train_images: torch.Tensor  # (N, C, H, W) float32, normalised
    train_labels: torch.Tensor  # (N,) int64, possibly noisy
    train_flipped: torch.Tensor  # (N,) bool, True where label noise changed the label
    val_images: torch.Tensor
    val_labels: torch.Tensor  # noisy like the training labels: a user with noisy labels has no clean split
    test_images: torch.Tensor  # clean labels always; inputs noisy only if input_noise_at includes test
    test_labels: torch.Tensor
    test_images_clean01: torch.Tensor  # (N, C, H, W) float in [0, 1], for extra noisy-input evaluations
    mean: torch.Tensor  # (1, C, 1, 1)
    std: torch.Tensor
    num_classes: int
    realised_label_noise: float


def prepare_data(config: RunConfig, device: torch.device, data_dir: str | Path | None = None,
                 dataset: Dataset | None = None) -> DeviceData:
    """Load (or take ``dataset``), corrupt (labels and/or inputs, with the noise seed), split and normalise, on
    ``device``."""
    dataset = load_dataset(config.dataset, data_dir) if dataset is None else dataset
    labels = dataset.train_labels
    flipped, realised = torch.zeros_like(labels, dtype=torch.bool), 0.0
    if config.label_noise != "none":
        noisy = corrupt_labels(labels, kind=config.label_noise, rate=config.label_noise_rate,
                               num_classes=dataset.spec.num_classes, dataset=config.dataset,
                               seed=config.effective_noise_seed)
        labels, flipped, realised = noisy.labels, noisy.flipped, float(noisy.realised_rate)

    train_index, val_index = validation_split(len(labels), config.val_size, seed=SPLIT_SEED)
    if config.train_subset is not None and config.train_subset < len(train_index):
        train_index = train_index[subset_indices(labels[train_index], config.train_subset, seed=SPLIT_SEED)]
    test_images, test_labels = dataset.test_images[:config.test_subset], dataset.test_labels[:config.test_subset]

    generator = torch.Generator(device="cpu").manual_seed(stream_seed("input-noise", config.effective_noise_seed))
    kept = torch.cat([train_index, val_index])  # convert only the examples this run uses
    train01 = dataset.train_images[kept].to(device).float().div_(255)  # (N, C, H, W) in [0, 1]
    test01 = test_images.to(device).float().div_(255)
    sigma, where = config.input_noise_sigma, config.input_noise_at
    noisy_train, noisy_test = train01, test01
    if sigma > 0 and where in ("train", "both"):
        noisy_train = add_input_noise(train01, sigma, generator=_device_generator(generator, device))
    if sigma > 0 and where in ("test", "both"):
        noisy_test = add_input_noise(test01, sigma, generator=_device_generator(generator, device))

    mean = torch.tensor(dataset.spec.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(dataset.spec.std, device=device).view(1, -1, 1, 1)
    normalised, n = (noisy_train - mean) / std, len(train_index)
    labels, flipped = labels[kept].to(device), flipped[kept].to(device)
    return DeviceData(train_images=normalised[:n], train_labels=labels[:n], train_flipped=flipped[:n],
                      val_images=normalised[n:], val_labels=labels[n:], test_images=(noisy_test - mean) / std,
                      test_labels=test_labels.to(device), test_images_clean01=test01, mean=mean, std=std,
                      num_classes=dataset.spec.num_classes, realised_label_noise=realised)


def _device_generator(cpu_generator: torch.Generator, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded from ``cpu_generator`` (randn needs one on the tensor's device)."""
    return torch.Generator(device=device).manual_seed(int(torch.randint(0, 2**62, (1,), generator=cpu_generator)))


def augment_batch(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random reflect-padded crop (a translation by up to ``padding`` pixels each way; airbench94's at 2) and
    horizontal flip of a random half, for the whole batch at once."""
    n, c, h, w = images.shape
    padded = nn.functional.pad(images, (padding,) * 4, mode="reflect")  # (N, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * padding + 1, (n,), device=images.device, generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), device=images.device, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, None, :, None]  # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    cropped = padded[batch, channel, rows, cols]  # (N, C, H, W)
    flip = torch.rand(n, device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped)


def _optimizer(config: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Adam or SGD (plain, momentum, Nesterov) with ``fused=True``: one kernel updates every parameter (the
    for-loop default made Adam's step three to four times dearer on a CPU; fused runs still repeat bit for bit)."""
    trained = [p for p in model.parameters() if p.requires_grad]  # frozen ones (airbench's whitening) never step
    if config.optimizer == "adam":
        return torch.optim.Adam(trained, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    return torch.optim.SGD(trained, lr=config.lr, momentum=config.momentum,
                           nesterov=config.optimizer == "nesterov", weight_decay=config.weight_decay, fused=True)


def _lr_factor(config: RunConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The schedule as a multiplier of ``config.lr`` per optimizer step ``s`` (from 0):

    1. linear warm-up from lr/warmup_steps to lr over ``warmup_epochs``;
    2. then ``constant``, ``cosine`` decay to 0, or ``linear`` decay to 0 at the last step, so the last step
       trains at the smallest nonzero rate and none at rate 0 (as airbench94's triangular schedule counts).
    """
    warmup, total = round(config.warmup_epochs * steps_per_epoch), config.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        if config.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0 - progress if config.schedule == "linear" else 1.0

    return factor


@torch.no_grad()
def evaluate_logits(model: nn.Module, images: torch.Tensor, autocast: bool = False, flip: bool = False) -> torch.Tensor:
    """Logits for ``images`` in evaluation mode, in batches of ``EVAL_BATCH``. ``flip``: the mean of the logits of
    each image and its mirror (airbench94's test-time augmentation), before any loss reads them: alike for all."""
    model.eval()
    outputs = []
    for start in range(0, len(images), EVAL_BATCH):
        batch = images[start:start + EVAL_BATCH]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = model(batch).float()
            if flip:
                logits = 0.5 * (logits + model(batch.flip(3)).float())
        outputs.append(logits)
    return torch.cat(outputs) if outputs else images.new_zeros((0, 0))


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float | None:
    """Share of correct argmax predictions; ``None`` for an empty split (e.g. ``val_size=0``)."""
    return float((logits.argmax(1) == labels).float().mean()) if len(labels) else None


def evaluation_steps(steps_per_epoch: int, evals_per_epoch: int) -> list[int]:
    """The steps of an epoch (from 1) after which validation accuracy is measured:
    ``ceil(k * steps_per_epoch / evals_per_epoch)`` for ``k = 1..evals_per_epoch``, the last at the epoch's end."""
    return sorted({-(-k * steps_per_epoch // evals_per_epoch) for k in range(1, evals_per_epoch + 1)})


class EpochSums:
    """Per-step statistics of an epoch kept on the device and reduced once at its end: no host sync per step."""

    def __init__(self, n_train: int, device: torch.device) -> None:
        self.predictions = torch.empty(n_train, device=device, dtype=torch.long)  # in the epoch's order
        self.losses: list[torch.Tensor] = []  # batch-mean losses, detached
        self.batch_sizes: list[int] = []
        self.resets: list[torch.Tensor] = []  # outputs whose target Output Reset changed, per batch

    @torch.no_grad()
    def add(self, start: int, loss: torch.Tensor, logits: torch.Tensor, reset_count: torch.Tensor | None) -> None:
        """Add the step on the epoch's examples ``start:start + len(logits)``: its loss, predictions and resets."""
        torch.argmax(logits, 1, out=self.predictions[start:start + len(logits)])
        self.losses.append(loss.detach())
        self.batch_sizes.append(len(logits))
        if reset_count is not None:
            self.resets.append(reset_count)

    @torch.no_grad()
    def totals(self, labels: torch.Tensor, flipped: torch.Tensor | None) -> dict[str, float]:
        """Summed loss (batch mean times batch size), hits, hits on ``flipped`` examples and resets; ``labels`` and
        ``flipped`` in the epoch's order, like the predictions."""
        sizes = torch.tensor(self.batch_sizes, dtype=torch.float32, device=self.predictions.device)
        hit = self.predictions == labels
        return {"loss": float(torch.stack(self.losses) @ sizes) if self.losses else 0.0,
                "hits": int(hit.sum()),
                "hits_flipped": int((hit & flipped).sum()) if flipped is not None else 0,
                "resets": int(torch.stack(self.resets).sum()) if self.resets else 0}


class TrainingRun:
    """A model, its optimiser, its learning-rate schedule (if any) and its batch-order generator: what
    :func:`train_epoch` steps. A subclass says what a batch's loss is (:meth:`batch_loss`) and adds each step's
    statistics to ``sums``. ``generator`` draws the batch order and the augmentation alone, so evaluating never
    moves it; ``schedule`` makes the learning-rate factor per step from the number of steps per epoch.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, *, n_train: int, batch_size: int, seed: int,
                 device: torch.device, schedule: Callable[[int], Callable[[int], float]] | None = None) -> None:
        self.model, self.optimizer = model, optimizer
        self.n_train, self.batch_size, self.device = n_train, batch_size, device
        self.steps_per_epoch = math.ceil(n_train / batch_size)
        self.scheduler = (torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(self.steps_per_epoch))
                          if schedule is not None else None)
        self.generator = torch.Generator(device=device).manual_seed(seed)

    def batch_loss(self, index: torch.Tensor, start: int, sums: Any) -> torch.Tensor:
        """The mean loss on the training examples ``index``, the epoch's ``start:start + len(index)``."""
        raise NotImplementedError(f"{type(self).__name__} does not say what a batch's loss is")

    def step(self, index: torch.Tensor, start: int, sums: Any) -> None:
        """One optimizer step (and schedule step) on :meth:`batch_loss` of the training examples ``index``."""
        loss = self.batch_loss(index, start, sums)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()


def train_epoch(run: TrainingRun, sums: Any, evaluate: Callable[[int, float], None] | None = None,
                evals_per_epoch: int = 1) -> tuple[torch.Tensor, float]:
    """One epoch of :meth:`TrainingRun.step` on slices of a fresh ``randperm``; return that order and the
    epoch's training seconds (evaluation excluded). ``evaluate(step within the epoch, seconds so far)`` runs after
    every evaluation step (:func:`evaluation_steps`) but the epoch's last."""
    run.model.train()
    mid_epoch = set(evaluation_steps(run.steps_per_epoch, evals_per_epoch)[:-1])
    seconds, segment_start = 0.0, synchronized_time(run.device)
    order = torch.randperm(run.n_train, device=run.device, generator=run.generator)
    for step, start in enumerate(range(0, run.n_train, run.batch_size), start=1):
        run.step(order[start:start + run.batch_size], start, sums)
        if evaluate is not None and step in mid_epoch:
            seconds += synchronized_time(run.device) - segment_start
            evaluate(step, seconds)
            segment_start = synchronized_time(run.device)
    return order, seconds + synchronized_time(run.device) - segment_start


class ClassificationRun(TrainingRun):
    """One :func:`train` run, built from its config. The global RNG is seeded with ``config.seed`` just before the
    model is built; a model with :data:`sigmse.models.DATA_INIT_HOOK` then gets the training images. Conv models run
    channels-last on a GPU, and on a CPU where their ModelSpec asks for it.
    """

    def __init__(self, config: RunConfig, data: DeviceData, device: torch.device) -> None:
        torch.manual_seed(config.seed)
        model = get_model(config.model, tuple(data.train_images.shape[1:]), data.num_classes).to(device)
        if hasattr(model, DATA_INIT_HOOK):
            getattr(model, DATA_INIT_HOOK)(data.train_images)
        self.channels_last = (data.train_images.dim() == 4 and config.model != "mlp"
                              and (device.type == "cuda" or MODELS[config.model].channels_last_on_cpu))
        model = model.to(memory_format=torch.channels_last) if self.channels_last else model
        super().__init__(model, _optimizer(config, model), n_train=len(data.train_labels),
                         batch_size=config.batch_size, seed=config.seed, device=device,
                         schedule=lambda steps_per_epoch: _lr_factor(config, steps_per_epoch))
        self.autocast = config.precision == "bfloat16" and device.type == "cuda"
        self.loss_fn = get_loss(config.loss, **dict(config.loss_options))
        self.noisy_labels = bool(data.train_flipped.any())  # else skip the memorisation counts
        self.config, self.data = config, data

    def logits(self, images: torch.Tensor, flip: bool | None = None) -> torch.Tensor:
        """Logits in evaluation mode (the model stays in it); ``flip`` defaults to the config's ``tta_flip``."""
        return evaluate_logits(self.model, images, self.autocast, self.config.tta_flip if flip is None else flip)

    def batch_loss(self, index: torch.Tensor, start: int, sums: EpochSums) -> torch.Tensor:
        """The loss of the (augmented) training examples ``index``; ``index_select`` gathers the batch (about three
        times faster on a CPU than indexing with a tensor)."""
        images = torch.index_select(self.data.train_images, 0, index)
        labels = torch.index_select(self.data.train_labels, 0, index)
        if self.config.augment:
            images = augment_batch(images, self.generator, self.config.augment_translate)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.model(images)
        if isinstance(self.loss_fn, SigmoidMSEOutputResetLoss):
            loss, reset_count = self.loss_fn.forward_with_reset_count(logits.float(), labels)
        else:
            loss, reset_count = self.loss_fn(logits.float(), labels), None
        sums.add(start, loss, logits, reset_count)
        return loss


def _curve_point(run: ClassificationRun, step: int, train_seconds: float, val_acc: float | None) -> dict[str, Any]:
    """One entry of ``result["curve"]``: validation accuracy after ``step`` optimizer steps in all."""
    return {"step": step, "epoch": step / run.steps_per_epoch, "train_seconds": train_seconds, "val_acc": val_acc}


def _train_epoch(run: ClassificationRun, epoch: int, seconds_before: float,
                 curve: list[dict[str, Any]]) -> tuple[dict[str, float], float]:
    """Train one epoch, appending mid-epoch validation points to ``curve`` (``None`` without a split or on
    non-finite logits); return its :meth:`EpochSums.totals` and training seconds (evaluation excluded)."""
    def evaluate(step: int, seconds: float) -> None:
        logits = run.logits(run.data.val_images)
        run.model.train()
        val_acc = _accuracy(logits, run.data.val_labels) if bool(torch.isfinite(logits).all()) else None
        curve.append(_curve_point(run, epoch * run.steps_per_epoch + step, seconds_before + seconds, val_acc))

    sums = EpochSums(run.n_train, run.device)
    order, seconds = train_epoch(run, sums, evaluate, run.config.evals_per_epoch)
    flipped = run.data.train_flipped[order] if run.noisy_labels else None
    return sums.totals(run.data.train_labels[order], flipped), seconds


def _epoch_record(run: ClassificationRun, epoch: int, sums: dict[str, float], seconds: float, val_logits: torch.Tensor,
                  test_logits: torch.Tensor) -> dict[str, Any]:
    """The history entry of an epoch; without accuracies (and ``train_loss`` ``None`` if non-finite) if it diverged."""
    data, n_train = run.data, len(run.data.train_labels)
    train_loss = sums["loss"] / n_train
    # the last update can overflow the weights after the last finite loss: check the outputs too
    if not (math.isfinite(train_loss) and bool(torch.isfinite(test_logits).all())
            and bool(torch.isfinite(val_logits).all())):
        return {"epoch": epoch + 1, "train_loss": train_loss if math.isfinite(train_loss) else None,
                "seconds": seconds}
    counts_resets = isinstance(run.loss_fn, SigmoidMSEOutputResetLoss)
    record: dict[str, Any] = {
        "epoch": epoch + 1, "train_loss": train_loss, "train_acc": sums["hits"] / n_train,
        "val_acc": _accuracy(val_logits, data.val_labels), "test_acc": _accuracy(test_logits, data.test_labels),
        "reset_fraction": sums["resets"] / (n_train * data.num_classes) if counts_resets else None,
        "lr": run.scheduler.get_last_lr()[0], "seconds": seconds}
    n_flipped = int(data.train_flipped.sum())
    if n_flipped:
        record["train_acc_flipped"] = sums["hits_flipped"] / n_flipped
        record["train_acc_clean"] = (sums["hits"] - sums["hits_flipped"]) / (n_train - n_flipped)
    return record


def _final_metrics(run: ClassificationRun, val_logits: torch.Tensor, test_logits: torch.Tensor) -> dict[str, Any]:
    """Test NLL and ECE of the loss's probabilities, raw and after temperature scaling fitted on validation
    (``None`` without a validation split), then test accuracy with Gaussian input noise of each
    ``config.test_input_sigmas``."""
    config, data = run.config, run.data
    probabilities = class_probabilities(test_logits, config.loss)
    metrics: dict[str, Any] = {"test_nll": negative_log_likelihood(probabilities, data.test_labels),
                               "test_ece": expected_calibration_error(probabilities, data.test_labels),
                               "temperature": None, "test_nll_ts": None, "test_ece_ts": None}
    if len(data.val_labels):
        temperature = fit_temperature(val_logits, data.val_labels, config.loss)
        scaled = temperature_scaled_probabilities(test_logits, config.loss, temperature)
        metrics.update(temperature=temperature, test_nll_ts=negative_log_likelihood(scaled, data.test_labels),
                       test_ece_ts=expected_calibration_error(scaled, data.test_labels))
    seed = stream_seed("test-input-noise", config.effective_noise_seed)
    generator = torch.Generator(device=run.device).manual_seed(seed)
    for sigma in config.test_input_sigmas:
        noisy = add_input_noise(data.test_images_clean01, sigma, generator=generator)
        metrics[f"test_acc_sigma_{sigma:g}"] = _accuracy(run.logits((noisy - data.mean) / data.std), data.test_labels)
    return metrics


def train(config: RunConfig, *, data_dir: str | Path | None = None, progress: bool | None = None,
          on_epoch: Callable[[dict[str, Any]], None] | None = None, dataset: Dataset | None = None) -> dict[str, Any]:
    """Train one run and return ``{"status", "history", "curve", "metrics"}`` as plain JSON types.

    ``history`` has one entry per epoch; a non-finite training loss stops the run as ``diverged``. ``curve`` has
    an entry at each step of :func:`evaluation_steps`: ``{"step", "epoch", "train_seconds", "val_acc"}`` (training
    seconds exclude evaluation; ``val_acc`` is ``None`` without a validation split or once diverged). ``metrics``
    adds test NLL and ECE, raw and temperature-scaled. With ``tta_flip`` every metric reads the flip-averaged
    logits, and ``metrics["test_acc_without_tta"]`` the final test accuracy without them.

    Args:
        config: the run.
        data_dir: the data root (else ``SIGMSE_DATA_DIR``, else ``./data``).
        progress: show a tqdm bar over epochs; ``None`` shows it only on a terminal.
        on_epoch: called with each epoch's history entry as soon as it is measured.
        dataset: use this dataset instead of loading ``config.dataset`` from the data root.
    """
    device = resolve_device(config.device)
    if config.threads is not None:  # the run's own arithmetic: its thread count is part of its configuration
        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    data = prepare_data(config, device, data_dir, dataset)
    setup_seconds = time.perf_counter() - started
    run = ClassificationRun(config, data, device)

    history, curve, status, train_seconds = [], [], "ok", 0.0
    bar = tqdm(range(config.epochs), desc=f"{config.dataset}/{config.model}/{config.loss}",
               disable=None if progress is None else not progress, leave=False)
    for epoch in bar:
        sums, seconds = _train_epoch(run, epoch, train_seconds, curve)
        train_seconds += seconds
        val_logits, test_logits = run.logits(data.val_images), run.logits(data.test_images)
        record = _epoch_record(run, epoch, sums, seconds, val_logits, test_logits)
        history.append(record)
        curve.append(_curve_point(run, (epoch + 1) * run.steps_per_epoch, train_seconds, record.get("val_acc")))
        if "test_acc" not in record:
            status = "diverged"
            break
        if on_epoch is not None:
            on_epoch(record)
        bar.set_postfix(loss=f"{record['train_loss']:.4f}", test_acc=f"{record['test_acc']:.4f}")
    bar.close()

    metrics: dict[str, Any] = {"train_seconds": train_seconds, "setup_seconds": setup_seconds,
                               "epochs_run": len(history), "realised_label_noise": data.realised_label_noise,
                               "n_train": len(data.train_labels)}
    if status == "ok":
        last = history[-1]
        metrics.update(test_acc=last["test_acc"], val_acc=last["val_acc"], train_acc=last["train_acc"],
                       best_val_acc=max((h["val_acc"] for h in history if h["val_acc"] is not None), default=None),
                       **_final_metrics(run, val_logits, test_logits))
        if config.tta_flip:  # what the test-time flips add: the same test images without them
            metrics["test_acc_without_tta"] = _accuracy(run.logits(data.test_images, flip=False), data.test_labels)
    return {"status": status, "history": history, "curve": curve, "metrics": metrics}


def synchronized_time(device: torch.device) -> float:
    """Wall-clock seconds after the device has finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
