"""The trainer: learns, is deterministic on CPU (with fused optimizer steps that agree with the for-loop ones),
stops diverged runs, augments per batch, logs what it promises (including a validation curve within epochs that
leaves training unchanged, and temperature-scaled calibration); trains the airbench network (whitening from the
training images, channels-last on CPU, flip test-time augmentation that leaves training unchanged)."""

import pytest
import torch

from sigmse.config import RunConfig
from sigmse.data.datasets import DATASETS, Dataset
from sigmse.models import Airbench
from sigmse.train import (ClassificationRun, _lr_factor, _optimizer, augment_batch, evaluate_logits,
                          evaluation_steps, prepare_data, train)


def separable_dataset(n_train: int = 600, n_test: int = 200, seed: int = 0) -> Dataset:
    """MNIST-shaped images where class c lights up a 7x7 block at a class-specific place, plus noise."""
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(n) % 10
        images = torch.randint(0, 60, (n, 1, 28, 28), generator=generator)
        row, col = (labels // 4) * 9, (labels % 4) * 7
        for offset in range(7):  # paint the block: 7 rows of 7 pixels, vectorised over examples
            images[torch.arange(n)[:, None], 0, (row + offset)[:, None], col[:, None] + torch.arange(7)] = 255
        return images.to(torch.uint8), labels

    train_images, train_labels = split(n_train)
    test_images, test_labels = split(n_test)
    return Dataset("mnist", DATASETS["mnist"], train_images, train_labels, test_images, test_labels,
                   source=__import__("pathlib").Path("."), format="generated")


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return separable_dataset()


def tiny_config(**changes) -> RunConfig:
    values = dict(dataset="mnist", model="mlp", epochs=3, batch_size=32, val_size=100, device="cpu")
    values.update(changes)
    return RunConfig(**values)


def without_timing(result: dict) -> dict:
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in result["history"]]
    curve = [{k: v for k, v in point.items() if k != "train_seconds"} for point in result["curve"]]
    metrics = {k: v for k, v in result["metrics"].items() if not k.endswith("seconds")}
    return {"status": result["status"], "history": history, "curve": curve, "metrics": metrics}


@pytest.mark.parametrize("loss", ["softmax_ce", "sigmoid_mse_or", "rescaled_square"])
def test_learns_a_separable_problem(tiny, loss):
    result = train(tiny_config(loss=loss), dataset=tiny, progress=False)
    assert result["status"] == "ok"
    assert result["metrics"]["test_acc"] > 0.9
    assert result["history"][-1]["train_loss"] < result["history"][0]["train_loss"]


def test_same_seed_gives_identical_history_on_cpu(tiny):
    config = tiny_config(loss="sigmoid_mse_or", label_noise="symmetric", label_noise_rate=0.2)
    first = without_timing(train(config, dataset=tiny, progress=False))
    second = without_timing(train(config, dataset=tiny, progress=False))
    assert first == second
    other = without_timing(train(config.with_(seed=1), dataset=tiny, progress=False))
    assert other["history"] != first["history"]


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov"])
def test_same_seed_gives_identical_history_with_the_fused_sgd_steps(tiny, optimizer):
    config = tiny_config(optimizer=optimizer, lr=0.05, momentum=0.9, weight_decay=1e-4)
    first = without_timing(train(config, dataset=tiny, progress=False))
    assert first == without_timing(train(config, dataset=tiny, progress=False))


@pytest.mark.parametrize(("optimizer", "kernel"), [("adam", "_fused_adam_"), ("sgd", "_fused_sgd_"),
                                                   ("nesterov", "_fused_sgd_")])
def test_the_optimizer_steps_with_its_fused_kernel_once_per_step(tiny, monkeypatch, optimizer, kernel):
    import sigmse.train

    built = []
    monkeypatch.setattr(sigmse.train, "_optimizer", lambda *a: built.append(_optimizer(*a)) or built[-1])
    calls = []
    fused = getattr(torch, kernel)
    monkeypatch.setattr(torch, kernel, lambda *a, **k: calls.append(1) or fused(*a, **k))
    train(tiny_config(optimizer=optimizer, lr=0.01, epochs=2), dataset=tiny, progress=False)
    assert built[0].defaults["fused"] is True
    assert len(calls) == 2 * 16  # 500 training images in batches of 32: 16 steps an epoch


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "nesterov"])
def test_fused_steps_agree_with_the_for_loop_implementation(optimizer):
    """Reference: torch's default (for-loop) optimizer with the same settings, over 20 steps of an MLP."""
    config = tiny_config(optimizer=optimizer, lr=0.01, momentum=0.9, weight_decay=1e-3)
    params = {}
    for fused in (True, False):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
        step = _optimizer(config, model)
        if not fused:
            step = type(step)(model.parameters(), **{**step.defaults, "fused": None, "foreach": False})
        data = torch.Generator().manual_seed(1)
        for _ in range(20):
            images, labels = torch.randn(8, 20, generator=data), torch.randint(3, (8,), generator=data)
            step.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(images), labels).backward()
            step.step()
        params[fused] = torch.cat([p.detach().flatten() for p in model.parameters()])
    torch.testing.assert_close(params[True], params[False], rtol=1e-5, atol=1e-6)


def test_non_finite_loss_marks_the_run_diverged_instead_of_raising(tiny):
    config = tiny_config(loss="rescaled_square", optimizer="sgd", lr=1e30, epochs=3)
    result = train(config, dataset=tiny, progress=False)
    assert result["status"] == "diverged"
    assert result["metrics"]["epochs_run"] == 1
    assert "test_acc" not in result["metrics"]


def test_a_last_update_that_overflows_the_outputs_is_diverged_not_a_crash(tiny):
    """One step per epoch: the loss of that step is finite, the update it makes is not."""
    config = tiny_config(loss="softmax_ce", optimizer="sgd", lr=1e30, epochs=2, batch_size=500)
    result = train(config, dataset=tiny, progress=False)
    assert result["history"][0]["train_loss"] is not None
    assert result["status"] == "diverged" and result["metrics"]["epochs_run"] == 1


def test_without_a_validation_split_val_accuracy_is_none(tiny):
    result = train(tiny_config(val_size=0, epochs=1), dataset=tiny, progress=False)
    assert result["history"][0]["val_acc"] is None and result["metrics"]["best_val_acc"] is None


def test_history_carries_reset_share_and_memorisation_where_they_apply(tiny):
    noisy = train(tiny_config(loss="sigmoid_mse_or", label_noise="symmetric", label_noise_rate=0.4, epochs=1),
                  dataset=tiny, progress=False)
    epoch = noisy["history"][0]
    assert 0.0 <= epoch["reset_fraction"] <= 1.0
    assert abs(noisy["metrics"]["realised_label_noise"] - 0.4) < 0.01
    # the epoch's accuracy is the mix of its accuracy on flipped and on clean labels, weighted by the flipped share
    flipped, clean, overall = epoch["train_acc_flipped"], epoch["train_acc_clean"], epoch["train_acc"]
    assert (overall - clean) / (flipped - clean) == pytest.approx(0.4, abs=0.05)
    clean = train(tiny_config(loss="softmax_ce", epochs=1), dataset=tiny, progress=False)
    assert clean["history"][0]["reset_fraction"] is None
    assert "train_acc_flipped" not in clean["history"][0]


def test_noisy_test_evaluations_are_reported_per_sigma(tiny):
    """Each sigma is its own evaluation of the test set: none is the clean accuracy, a huge one drowns the images
    (near chance), and the same run reports the same noisy numbers again (the noise has its own seed)."""
    config = tiny_config(epochs=1, test_input_sigmas=(0.0, 0.5, 1000.0))
    metrics = train(config, dataset=tiny, progress=False)["metrics"]
    n_test = len(tiny.test_labels)
    assert metrics["test_acc_sigma_0"] == pytest.approx(metrics["test_acc"])
    assert (metrics["test_acc_sigma_0.5"] * n_test) == pytest.approx(round(metrics["test_acc_sigma_0.5"] * n_test))
    assert metrics["test_acc"] > 0.9 and metrics["test_acc_sigma_1000"] < 0.5
    again = train(config, dataset=tiny, progress=False)["metrics"]
    assert again["test_acc_sigma_0.5"] == metrics["test_acc_sigma_0.5"]


def test_schedule_warms_up_then_decays_linearly_to_zero(tiny):
    config = tiny_config(optimizer="sgd", lr=0.1, schedule="linear", warmup_epochs=1.0, epochs=3)
    lrs = [h["lr"] for h in train(config, dataset=tiny, progress=False)["history"]]
    assert lrs[0] == pytest.approx(0.1)  # end of warm-up
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_augmentation_crops_and_flips_each_image_of_the_batch():
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out = augment_batch(images, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="reflect")
    for n in range(2):  # every output is some crop of the padded image, possibly flipped
        candidates = [padded[n, :, dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)]
        candidates += [c.flip(2) for c in candidates]
        assert any(torch.equal(out[n], c) for c in candidates)


def test_evaluation_steps_are_evenly_spaced_and_end_the_epoch():
    assert evaluation_steps(469, 4) == [118, 235, 352, 469]
    assert evaluation_steps(10, 1) == [10]
    assert evaluation_steps(8, 4) == [2, 4, 6, 8]
    assert evaluation_steps(2, 4) == [1, 2]  # fewer steps than evaluations: after every step


def test_evaluating_within_epochs_leaves_the_training_trajectory_unchanged(tiny):
    config = tiny_config(loss="sigmoid_mse_or", label_noise="symmetric", label_noise_rate=0.2, augment=True)
    once = without_timing(train(config.with_(evals_per_epoch=1), dataset=tiny, progress=False))
    four = without_timing(train(config.with_(evals_per_epoch=4), dataset=tiny, progress=False))
    assert once["history"] == four["history"] and once["metrics"] == four["metrics"]
    assert four["curve"][3::4] == once["curve"]  # each epoch's last point is the per-epoch evaluation


def test_curve_has_evals_per_epoch_points_per_epoch_with_training_time_without_evaluation(tiny):
    result = train(tiny_config(epochs=2, evals_per_epoch=3), dataset=tiny, progress=False)  # 500 / 32: 16 steps
    curve, history = result["curve"], result["history"]
    assert [p["step"] for p in curve] == [6, 11, 16, 22, 27, 32]
    assert [p["epoch"] for p in curve] == pytest.approx([s / 16 for s in (6, 11, 16, 22, 27, 32)])
    assert [curve[2]["val_acc"], curve[5]["val_acc"]] == [h["val_acc"] for h in history]
    assert all(0.0 <= p["val_acc"] <= 1.0 for p in curve)
    seconds = [p["train_seconds"] for p in curve]
    assert seconds == sorted(seconds) and seconds[0] > 0
    epoch_seconds = [h["seconds"] for h in history]
    assert [seconds[2], seconds[5]] == pytest.approx([epoch_seconds[0], sum(epoch_seconds)])
    assert seconds[-1] == pytest.approx(result["metrics"]["train_seconds"])


def test_a_diverged_epoch_ends_the_curve_without_accuracy(tiny):
    result = train(tiny_config(loss="rescaled_square", optimizer="sgd", lr=1e30, epochs=3, evals_per_epoch=2),
                   dataset=tiny, progress=False)
    assert result["status"] == "diverged"
    assert [p["step"] for p in result["curve"]] == [8, 16] and result["curve"][-1]["val_acc"] is None


@pytest.mark.parametrize("loss", ["softmax_ce", "sigmoid_mse_or"])
def test_temperature_scaling_metrics_sit_beside_the_raw_ones(tiny, loss):
    config = tiny_config(loss=loss, epochs=1, label_noise="symmetric", label_noise_rate=0.3)  # val not separable
    metrics = train(config, dataset=tiny, progress=False)["metrics"]
    assert metrics["temperature"] > 0 and metrics["temperature"] != 1.0
    assert metrics["test_nll_ts"] > 0 and 0.0 <= metrics["test_ece_ts"] <= 1.0
    assert metrics["test_nll_ts"] != metrics["test_nll"]


def test_temperature_is_fitted_on_the_final_validation_logits_and_applied_to_the_test_logits(tiny, monkeypatch):
    import sigmse.train

    seen = {}

    def unit_temperature(val_logits, val_labels, loss):
        seen.update(shape=tuple(val_logits.shape), labels=len(val_labels), loss=loss)
        return 1.0

    monkeypatch.setattr(sigmse.train, "fit_temperature", unit_temperature)
    metrics = train(tiny_config(loss="sigmoid_mse_or", epochs=1), dataset=tiny, progress=False)["metrics"]
    assert seen == {"shape": (100, 10), "labels": 100, "loss": "sigmoid_mse_or"}
    assert (metrics["test_nll_ts"], metrics["test_ece_ts"]) == (metrics["test_nll"], metrics["test_ece"])


def test_without_a_validation_split_there_is_no_temperature_and_no_curve_accuracy(tiny):
    result = train(tiny_config(val_size=0, epochs=1, evals_per_epoch=2), dataset=tiny, progress=False)
    assert [p["val_acc"] for p in result["curve"]] == [None, None]
    metrics = result["metrics"]
    assert metrics["temperature"] is None and metrics["test_nll_ts"] is None and metrics["test_ece_ts"] is None
    assert metrics["test_nll"] > 0


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("loss", ["sigmoid_mse_or", "softmax_ce"])
def test_mnist_mlp_reaches_96_percent_in_3_epochs(shared_data_dir, loss):
    """`sigmse train --dataset mnist --model mlp --loss L --epochs 3` reaches >= 96%: a full-data MLP reaches about
    98%, so three epochs below 96% would mean the trainer learns slower than an ordinary loop."""
    result = train(RunConfig(dataset="mnist", model="mlp", loss=loss, epochs=3, device="cpu"),
                   data_dir=shared_data_dir, progress=False)
    assert result["metrics"]["test_acc"] >= 0.96


def cifar_shaped_dataset(n_train: int = 240, n_test: int = 80, seed: int = 0) -> Dataset:
    """Tiny CIFAR-shaped images (3x32x32): class c brightens one of the colour channels in one of four quadrants."""
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(n) % 10
        images = torch.randint(0, 100, (n, 3, 32, 32), generator=generator)
        for c in range(10):
            rows, cols = slice(16 * (c // 2 % 2), 16 * (c // 2 % 2) + 16), slice(16 * (c % 2), 16 * (c % 2) + 16)
            images[labels == c, c % 3, rows, cols] += 150
        return images.to(torch.uint8), labels

    train_images, train_labels = split(n_train)
    test_images, test_labels = split(n_test)
    return Dataset("cifar10", DATASETS["cifar10"], train_images, train_labels, test_images, test_labels,
                   source=__import__("pathlib").Path("."), format="generated")


@pytest.fixture(scope="module")
def tiny_cifar() -> Dataset:
    return cifar_shaped_dataset()


def airbench_config(**changes) -> RunConfig:
    values = dict(dataset="cifar10", model="airbench_quarter", optimizer="nesterov", lr=0.2, weight_decay=5e-4,
                  batch_size=64, epochs=2, schedule="linear", warmup_epochs=0.5, augment=True, augment_translate=2,
                  val_size=40, evals_per_epoch=1, device="cpu")
    values.update(changes)
    return RunConfig(**values)


def test_linear_schedule_warms_up_then_decays_to_zero_after_the_last_step():
    """Step s trains at factor(s): up by 1/warmup a step to 1, then down by 1/(total - warmup) a step; the last step
    trains at the smallest nonzero rate and the rate after it is 0."""
    config = tiny_config(optimizer="nesterov", lr=0.1, schedule="linear", warmup_epochs=2.0, epochs=10)
    factor, warmup, total = _lr_factor(config, 5), 10, 50
    factors = [factor(step) for step in range(total + 1)]
    assert factors[:warmup] == pytest.approx([(s + 1) / warmup for s in range(warmup)])
    decay = factors[warmup:]
    assert decay == pytest.approx([1 - s / (total - warmup) for s in range(total - warmup + 1)])
    assert factors[total - 1] == pytest.approx(1 / (total - warmup)) and factors[total] == 0.0
    assert max(factors) == 1.0 and min(factors[:total]) > 0


def test_the_trainer_steps_at_the_schedule_and_ends_at_rate_zero(tiny, monkeypatch):
    """The rates the optimizer actually used, read at every step: the schedule's factors times lr."""
    import sigmse.train

    config = tiny_config(optimizer="nesterov", lr=0.1, schedule="linear", warmup_epochs=1.0, epochs=3)
    used, step = [], sigmse.train.ClassificationRun.step

    def recording_step(self, *args):
        used.append(self.optimizer.param_groups[0]["lr"])
        step(self, *args)

    monkeypatch.setattr(sigmse.train.ClassificationRun, "step", recording_step)
    result = train(config, dataset=tiny, progress=False)
    factor = _lr_factor(config, 16)
    assert used == pytest.approx([0.1 * factor(s) for s in range(48)])
    assert used[15] == pytest.approx(0.1) and used[-1] == pytest.approx(0.1 / 32)
    assert result["history"][-1]["lr"] == 0.0


@pytest.mark.parametrize("padding", [2, 4])
def test_augmentation_translates_by_at_most_padding_and_flips_half(padding):
    """Many copies of one image with distinct pixel values: each output is exactly one translation (dy, dx) in
    -padding..padding of the reflect-padded image, mirrored or not; every translation occurs, and about half are
    mirrored."""
    image = torch.arange(3 * 16 * 16, dtype=torch.float32).reshape(1, 3, 16, 16)  # wider than 2 * 4 + 1: no aliasing
    out = augment_batch(image.expand(2000, -1, -1, -1), torch.Generator().manual_seed(0), padding=padding)
    assert out.shape == (2000, 3, 16, 16)
    padded = torch.nn.functional.pad(image, (padding,) * 4, mode="reflect")[0]
    views = {(dy - padding, dx - padding, flip): (padded[:, dy:dy + 16, dx:dx + 16].flip(2) if flip
                                                  else padded[:, dy:dy + 16, dx:dx + 16]).reshape(-1)
             for dy in range(2 * padding + 1) for dx in range(2 * padding + 1) for flip in (False, True)}
    keys = list(views)
    matches = (out.reshape(2000, 1, -1) == torch.stack([views[k] for k in keys])[None]).all(2)  # (N, views)
    assert (matches.sum(1) == 1).all()  # exactly one view each
    found = [keys[i] for i in matches.int().argmax(1).tolist()]
    assert {(dy, dx) for dy, dx, _ in found} == {(dy, dx) for dy, dx, _ in keys}
    assert sum(flip for _, _, flip in found) / len(found) == pytest.approx(0.5, abs=0.05)


def test_the_trainer_translates_by_the_configured_padding(tiny_cifar, monkeypatch):
    import sigmse.train

    paddings = []
    original = sigmse.train.augment_batch
    monkeypatch.setattr(sigmse.train, "augment_batch",
                        lambda images, generator, padding: paddings.append(padding) or original(images, generator,
                                                                                                padding))
    train(airbench_config(epochs=1), dataset=tiny_cifar, progress=False)
    assert set(paddings) == {2} and len(paddings) == 4  # 200 images in batches of 64
    paddings.clear()
    train(tiny_config(epochs=1, augment=True), dataset=separable_dataset(), progress=False)
    assert set(paddings) == {4}  # the default: every run before augment_translate existed


def test_flip_test_time_augmentation_averages_the_mirrored_view():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10))
    images = torch.randn(5, 3, 8, 8)
    plain = evaluate_logits(model, images)
    mirrored = evaluate_logits(model, images.flip(3))
    assert not torch.allclose(plain, mirrored)
    torch.testing.assert_close(evaluate_logits(model, images, flip=True), 0.5 * (plain + mirrored))


def test_tta_changes_the_evaluations_and_never_the_training(tiny_cifar):
    """Flip TTA reads every validation and test evaluation through the mirror average, for any loss, and adds the
    plain test accuracy; the training trajectory (losses, training accuracies, rates) is the same bit for bit."""
    for loss in ("softmax_ce", "sigmoid_mse_or"):
        plain = train(airbench_config(loss=loss), dataset=tiny_cifar, progress=False)
        flipped = train(airbench_config(loss=loss, tta_flip=True), dataset=tiny_cifar, progress=False)
        training = ("train_loss", "train_acc", "lr", "reset_fraction")
        assert ([{k: h[k] for k in training} for h in plain["history"]]
                == [{k: h[k] for k in training} for h in flipped["history"]])
        assert flipped["metrics"]["test_acc_without_tta"] == plain["metrics"]["test_acc"]
        assert "test_acc_without_tta" not in plain["metrics"]
        assert flipped["metrics"]["test_nll"] != plain["metrics"]["test_nll"]  # the test logits are not the same


def test_airbench_whitens_from_the_training_images_before_training_and_keeps_it_frozen(tiny_cifar, monkeypatch):
    seen = []
    original = Airbench.init_from_data

    def recording(self, images):
        seen.append((images.clone(), self.classifier.weight.clone()))
        original(self, images)

    monkeypatch.setattr(Airbench, "init_from_data", recording)
    config = airbench_config(epochs=1)
    data = prepare_data(config, torch.device("cpu"), dataset=tiny_cifar)
    run = ClassificationRun(config, data, torch.device("cpu"))
    assert len(seen) == 1 and torch.equal(seen[0][0], data.train_images)  # the normalised training split
    whitening = run.model.whiten.conv.weight.clone()
    assert run.channels_last and whitening.is_contiguous(memory_format=torch.channels_last)
    assert all(p.requires_grad for group in run.optimizer.param_groups for p in group["params"])
    assert not any(p is run.model.whiten.conv.weight for group in run.optimizer.param_groups
                   for p in group["params"])
    from sigmse.train import EpochSums, train_epoch
    train_epoch(run, EpochSums(run.n_train, run.device))
    assert torch.equal(run.model.whiten.conv.weight, whitening)
    assert not torch.equal(run.model.classifier.weight, seen[0][1])  # the rest trained


def test_only_models_that_ask_run_channels_last_on_cpu(tiny_cifar):
    """cnn and ResNet-9 keep the memory format their CPU records were made in (it changes their last bits)."""
    for model, expected in (("airbench_quarter", True), ("resnet9_small", False), ("mlp", False)):
        config = airbench_config(model=model)
        run = ClassificationRun(config, prepare_data(config, torch.device("cpu"), dataset=tiny_cifar),
                                torch.device("cpu"))
        assert run.channels_last is expected


def test_airbench_learns_and_is_deterministic_on_cpu(tiny_cifar):
    config = airbench_config(epochs=3, tta_flip=True)
    first = without_timing(train(config, dataset=tiny_cifar, progress=False))
    assert first["status"] == "ok" and first["metrics"]["test_acc"] > 0.5
    assert first == without_timing(train(config, dataset=tiny_cifar, progress=False))


def test_bfloat16_precision_trains_in_float32_on_cpu(tiny_cifar):
    """precision=bfloat16 is autocast on CUDA only: on a CPU the run is the float32 one, bit for bit."""
    single = without_timing(train(airbench_config(), dataset=tiny_cifar, progress=False))
    assert single == without_timing(train(airbench_config(precision="bfloat16"), dataset=tiny_cifar, progress=False))


def test_translation_without_augmentation_is_refused():
    with pytest.raises(ValueError, match="augment_translate 2 needs augment true"):
        RunConfig(augment_translate=2)
    with pytest.raises(ValueError, match="augment_translate must be in \\[0, inf\\], got -1"):
        RunConfig(augment=True, augment_translate=-1)
    with pytest.raises(ValueError, match="tta_flip must be true or false, got 1"):
        RunConfig(tta_flip=1)
