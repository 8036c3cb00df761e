"""The training loop: data resident on the device, index slices, batched augmentation.

Written in the manner of airbench: the dataset is decoded once (cached by
:mod:`sigmse.data`), normalised once, and moved to the device once; every epoch
draws one ``randperm`` on the device and trains on slices of it; augmentation
(random 4-pixel-padded crop, horizontal flip) runs for the whole batch with
index arithmetic and masks, never a loop over examples. Per-step statistics stay
on the device and are read once per epoch, so the loop never waits on the host.

``train(config)`` returns a plain-JSON result: the per-epoch history and the
final metrics. A non-finite training loss stops the run and marks it
``diverged``, so a sweep continues with the next run.
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

from sigmse.config import RunConfig
from sigmse.data import Dataset, load_dataset
from sigmse.losses import class_probabilities, get_loss
from sigmse.models import get_model
from sigmse.noise import add_input_noise, corrupt_labels
from sigmse.seeds import stream_seed
from sigmse.splits import subset_indices, validation_split

__all__ = ["resolve_device", "DeviceData", "prepare_data", "train", "evaluate_logits", "expected_calibration_error"]

EVAL_BATCH = 2048  # evaluation batch size: large, since no activations are kept for backward
ECE_BINS = 15
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
    """Load, corrupt (labels and/or inputs, with the noise seed), split and normalise, on ``device``.

    ``dataset`` replaces loading from the data root (tests pass small in-memory datasets).
    """
    if dataset is None:
        dataset = load_dataset(config.dataset, data_dir)
    spec = dataset.spec
    labels = dataset.train_labels
    flipped = torch.zeros_like(labels, dtype=torch.bool)
    realised = 0.0
    if config.label_noise != "none":
        noisy = corrupt_labels(labels, kind=config.label_noise, rate=config.label_noise_rate,
                               num_classes=spec.num_classes, dataset=config.dataset,
                               seed=config.effective_noise_seed)
        labels, flipped, realised = noisy.labels, noisy.flipped, float(noisy.realised_rate)

    train_index, val_index = validation_split(len(labels), config.val_size, seed=SPLIT_SEED)
    if config.train_subset is not None and config.train_subset < len(train_index):
        train_index = train_index[subset_indices(labels[train_index], config.train_subset, seed=SPLIT_SEED)]

    test_images, test_labels = dataset.test_images, dataset.test_labels
    if config.test_subset is not None:
        test_images, test_labels = test_images[:config.test_subset], test_labels[:config.test_subset]

    generator = torch.Generator(device="cpu").manual_seed(stream_seed("input-noise", config.effective_noise_seed))
    kept = torch.cat([train_index, val_index])  # convert only the examples this run uses
    train01 = dataset.train_images[kept].to(device).float().div_(255)  # (N, C, H, W) in [0, 1]
    test01 = test_images.to(device).float().div_(255)
    noisy_train, noisy_test = train01, test01
    if config.input_noise_sigma > 0 and config.input_noise_at in ("train", "both"):
        noisy_train = add_input_noise(train01, config.input_noise_sigma, generator=_device_generator(generator, device))
    if config.input_noise_sigma > 0 and config.input_noise_at in ("test", "both"):
        noisy_test = add_input_noise(test01, config.input_noise_sigma, generator=_device_generator(generator, device))

    mean = torch.tensor(spec.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, -1, 1, 1)
    normalised = (noisy_train - mean) / std
    n_train = len(train_index)
    labels, flipped = labels[kept].to(device), flipped[kept].to(device)
    return DeviceData(
        train_images=normalised[:n_train],
        train_labels=labels[:n_train],
        train_flipped=flipped[:n_train],
        val_images=normalised[n_train:],
        val_labels=labels[n_train:],
        test_images=(noisy_test - mean) / std,
        test_labels=test_labels.to(device),
        test_images_clean01=test01,
        mean=mean,
        std=std,
        num_classes=spec.num_classes,
        realised_label_noise=realised,
    )


def _device_generator(cpu_generator: torch.Generator, device: torch.device) -> torch.Generator:
    """A generator on ``device`` seeded from ``cpu_generator`` (randn needs one on the tensor's device)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=cpu_generator))
    return torch.Generator(device=device).manual_seed(seed)


def augment_batch(images: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Random ``padding``-pixel reflect-padded crop and horizontal flip, for the whole batch at once."""
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
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           nesterov=config.optimizer == "nesterov", weight_decay=config.weight_decay)


def _lr_factor(config: RunConfig, steps_per_epoch: int):
    """The schedule as a multiplier of ``config.lr`` per optimizer step.

    1. linear warm-up from lr/warmup_steps to lr over ``warmup_epochs``;
    2. then ``constant``, ``cosine`` decay to 0, or ``linear`` decay to 0 at the last step.
    """
    warmup = round(config.warmup_epochs * steps_per_epoch)
    total = config.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        if config.schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if config.schedule == "linear":
            return 1.0 - progress
        return 1.0

    return factor


@torch.no_grad()
def evaluate_logits(model: nn.Module, images: torch.Tensor, autocast: bool = False) -> torch.Tensor:
    """Logits for ``images`` in evaluation mode, in batches of ``EVAL_BATCH``."""
    model.eval()
    outputs = []
    for start in range(0, len(images), EVAL_BATCH):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            outputs.append(model(images[start:start + EVAL_BATCH]).float())
    return torch.cat(outputs) if outputs else images.new_zeros((0, 0))


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE with equal-width confidence bins: ``sum_b |B_b|/N * |acc(B_b) - conf(B_b)|``."""
    confidence, predicted = probabilities.max(dim=1)
    correct = (predicted == labels).float()
    bin_index = (confidence * bins).long().clamp_(max=bins - 1)
    conf_sum = torch.zeros(bins, device=labels.device).index_add_(0, bin_index, confidence)
    acc_sum = torch.zeros(bins, device=labels.device).index_add_(0, bin_index, correct)
    return float((acc_sum - conf_sum).abs().sum() / max(1, len(labels)))


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float | None:
    """Share of correct argmax predictions; ``None`` for an empty split (e.g. ``val_size=0``)."""
    return float((logits.argmax(1) == labels).float().mean()) if len(labels) else None


def train(config: RunConfig, *, data_dir: str | Path | None = None, progress: bool | None = None,
          on_epoch: Callable[[dict[str, Any]], None] | None = None, dataset: Dataset | None = None) -> dict[str, Any]:
    """Train one run and return ``{"status", "history", "metrics"}`` as plain JSON types.

    Args:
        config: the run.
        data_dir: the data root (else ``SIGMSE_DATA_DIR``, else ``./data``).
        progress: show a tqdm bar over epochs; ``None`` shows it only on a terminal.
        on_epoch: called with each epoch's history entry as soon as it is measured.
        dataset: use this dataset instead of loading ``config.dataset`` from the data root.
    """
    device = resolve_device(config.device)
    started = time.perf_counter()
    data = prepare_data(config, device, data_dir, dataset)
    setup_seconds = time.perf_counter() - started

    torch.manual_seed(config.seed)
    model = get_model(config.model, tuple(data.train_images.shape[1:]), data.num_classes).to(device)
    channels_last = device.type == "cuda" and data.train_images.dim() == 4 and config.model != "mlp"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    autocast = config.precision == "bfloat16" and device.type == "cuda"
    loss_fn = get_loss(config.loss, **dict(config.loss_options))
    optimizer = _optimizer(config, model)
    n_train = len(data.train_labels)
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(config, steps_per_epoch))
    generator = torch.Generator(device=device).manual_seed(config.seed)
    noisy_labels = bool(data.train_flipped.any())
    outputs_per_epoch = n_train * data.num_classes

    history: list[dict[str, Any]] = []
    status = "ok"
    bar = tqdm(range(config.epochs), desc=f"{config.dataset}/{config.model}/{config.loss}",
               disable=None if progress is None else not progress, leave=False)
    for epoch in bar:
        model.train()
        epoch_start = _synchronized_time(device)
        loss_sum = torch.zeros((), device=device)
        hits = torch.zeros((), device=device, dtype=torch.long)
        hits_flipped = torch.zeros((), device=device, dtype=torch.long)
        resets = torch.zeros((), device=device, dtype=torch.long)
        order = torch.randperm(n_train, device=device, generator=generator)
        for start in range(0, n_train, config.batch_size):
            index = order[start:start + config.batch_size]
            images, labels = data.train_images[index], data.train_labels[index]
            if config.augment:
                images = augment_batch(images, generator)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                logits = model(images)
            loss = loss_fn(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                loss_sum += loss.detach() * len(index)
                hit = logits.argmax(1) == labels
                hits += hit.sum()
                if noisy_labels:
                    hits_flipped += (hit & data.train_flipped[index]).sum()
                if loss_fn.reset_count is not None:
                    resets += loss_fn.reset_count
        train_loss = float(loss_sum) / n_train
        seconds = _synchronized_time(device) - epoch_start
        val_logits = evaluate_logits(model, data.val_images, autocast)
        test_logits = evaluate_logits(model, data.test_images, autocast)
        # the last update can overflow the weights after the last finite loss: check the outputs too
        if not (math.isfinite(train_loss) and bool(torch.isfinite(test_logits).all())
                and bool(torch.isfinite(val_logits).all())):
            status = "diverged"
            history.append({"epoch": epoch + 1, "train_loss": train_loss if math.isfinite(train_loss) else None,
                            "seconds": seconds})
            break
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_acc": float(hits) / n_train,
            "val_acc": _accuracy(val_logits, data.val_labels),
            "test_acc": _accuracy(test_logits, data.test_labels),
            "reset_fraction": float(resets) / outputs_per_epoch if loss_fn.reset_count is not None else None,
            "lr": scheduler.get_last_lr()[0],
            "seconds": seconds,
        }
        if noisy_labels:
            n_flipped = int(data.train_flipped.sum())
            record["train_acc_flipped"] = float(hits_flipped) / n_flipped
            record["train_acc_clean"] = float(hits - hits_flipped) / (n_train - n_flipped)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        bar.set_postfix(loss=f"{train_loss:.4f}", test_acc=f"{record['test_acc']:.4f}")
    bar.close()

    metrics: dict[str, Any] = {
        "train_seconds": sum(h["seconds"] for h in history),
        "setup_seconds": setup_seconds,
        "epochs_run": len(history),
        "realised_label_noise": data.realised_label_noise,
        "n_train": n_train,
    }
    if status == "ok":
        last = history[-1]
        probabilities = class_probabilities(test_logits, config.loss)
        picked = probabilities.gather(1, data.test_labels[:, None]).clamp_min(1e-12)
        metrics.update(
            test_acc=last["test_acc"],
            val_acc=last["val_acc"],
            train_acc=last["train_acc"],
            best_val_acc=max((h["val_acc"] for h in history if h["val_acc"] is not None), default=None),
            test_nll=float(-picked.log().mean()),
            test_ece=expected_calibration_error(probabilities, data.test_labels),
        )
        noise_generator = torch.Generator(device=device).manual_seed(stream_seed("test-input-noise", config.effective_noise_seed))
        for sigma in config.test_input_sigmas:
            noisy = add_input_noise(data.test_images_clean01, sigma, generator=noise_generator)
            logits = evaluate_logits(model, (noisy - data.mean) / data.std, autocast)
            metrics[f"test_acc_sigma_{sigma:g}"] = _accuracy(logits, data.test_labels)
    return {"status": status, "history": history, "metrics": metrics}


def _synchronized_time(device: torch.device) -> float:
    """Wall-clock seconds after the device has finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()
