"""Tests of sigmse.unification.train: rotation and its targets, the unified loss, determinism, the store.

Every test runs on tiny generated images on the CPU (no data root needed); the rotation is compared with
torchvision's own ``rotate`` and the loss with values worked out by hand (in the comments).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import InterpolationMode, rotate

from sigmse.runs import experiments
from sigmse.runs.executors import train_and_store
from sigmse.runs.store import validate_unification_record
from sigmse.unification import train as U
from sigmse.data.datasets import Dataset, get_dataset_spec
from sigmse.models import get_model
from sigmse.unification.config import UnificationConfig

ROTATION_TOL = 1e-5  # max |difference| on the [0, 1] pixel scale (float32 rounding of the same bilinear sample)


def fake_dataset(n_train: int = 240, n_test: int = 60, seed: int = 0) -> Dataset:
    """Random 28x28 uint8 images with balanced labels, shaped like MNIST."""
    g = torch.Generator().manual_seed(seed)
    return Dataset(
        name="mnist", spec=get_dataset_spec("mnist"),
        train_images=torch.randint(0, 256, (n_train, 1, 28, 28), generator=g, dtype=torch.uint8),
        train_labels=torch.arange(n_train) % 10,
        test_images=torch.randint(0, 256, (n_test, 1, 28, 28), generator=g, dtype=torch.uint8),
        test_labels=torch.arange(n_test) % 10,
        source=Path("."), format="fake",
    )


def tiny(**changes) -> UnificationConfig:
    values = dict(epochs=2, batch_size=32, train_subset=None, val_size=40, device="cpu")
    return UnificationConfig(**{**values, **changes})


# ---- rotation and targets -------------------------------------------------------------------------------


def asymmetric_image() -> torch.Tensor:
    """An off-centre 'L' with a graded bar and a bright dot: no rotation maps it onto itself."""
    image = torch.zeros(1, 28, 28)
    image[0, 5:20, 7:10] = torch.linspace(0.3, 1.0, 15)[:, None]  # vertical stroke, graded
    image[0, 17:20, 10:21] = 0.8  # foot to the right
    image[0, 6, 20] = 1.0  # dot, top right
    return image


def test_rotation_matches_torchvision():
    angles = torch.tensor([-45.0, -12.5, 0.0, 7.0, 30.0, 45.0, 90.0])
    images = asymmetric_image().expand(len(angles), 1, 28, 28)
    rotated = U.rotate_images(images, angles)
    for image, angle, mine in zip(images, angles.tolist(), rotated):
        expected = rotate(image, angle, interpolation=InterpolationMode.BILINEAR)
        assert (mine - expected).abs().max() < ROTATION_TOL, angle
    assert (rotated[2] - images[2]).abs().max() < ROTATION_TOL  # 0 degrees: the identity (up to rounding)
    dot = torch.zeros(1, 1, 28, 28)
    dot[0, 0, 13:15, 22:24] = 1.0  # right of the centre (13.5, 13.5)
    moved = U.rotate_images(dot, torch.tensor([90.0]))[0, 0]
    assert moved[4:6, 13:15].min() > 0.99  # counter-clockwise: now above the centre


def test_rotation_targets_are_the_angles_applied():
    dataset = fake_dataset()
    config = tiny(targets=("angle", "ink"), max_angle=45.0)
    data = U.prepare_rotated(config, torch.device("cpu"), dataset=dataset)
    angles = data.test_targets[:, 0] * data.target_scale[0] + data.target_offset[0]  # degrees
    assert data.target_scale[0].item() == pytest.approx(45.0 / math.sqrt(3))
    assert angles.abs().max() <= 45.0 and angles.std() > 10  # spread over the range
    mean, std = dataset.spec.mean[0], dataset.spec.std[0]
    for k in (0, 7, 31):
        original = dataset.test_images[k].float() / 255
        expected = rotate(original, angles[k].item(), interpolation=InterpolationMode.BILINEAR)
        assert (data.test_images[k] * std + mean - expected).abs().max() < ROTATION_TOL
        ink = (data.test_targets[k, 1] * data.target_scale[1] + data.target_offset[1]).item()
        assert ink == pytest.approx(expected.mean().item(), abs=1e-5)
    assert data.train_targets[:, 1].mean().abs() < 1e-5  # ink standardised on the training part
    same = U.prepare_rotated(config.with_(method="classifier_only", seed=5), torch.device("cpu"), dataset=dataset)
    assert torch.equal(same.train_targets, data.train_targets)  # angles depend on angle_seed only
    other = U.prepare_rotated(config.with_(angle_seed=1), torch.device("cpu"), dataset=dataset)
    assert not torch.equal(other.train_targets, data.train_targets)


# ---- the losses -----------------------------------------------------------------------------------------

LN3 = math.log(3.0)  # sigmoid(ln 3) = 0.75, sigmoid(-ln 3) = 0.25, sigmoid(0) = 0.5
OUTPUTS = torch.tensor([[0.0, LN3, -LN3, 0.5], [LN3, 0.0, 0.0, 2.0]], dtype=torch.float64)  # C = 3, R = 1
LABELS = torch.tensor([1, 0])
TARGETS = torch.tensor([[-1.0], [1.5]], dtype=torch.float64)


def test_unified_loss_by_hand():
    # row 0: sigmoids (0.5, 0.75, 0.25), class 1: 0.5^2 + 0.25^2 + 0.25^2 = 0.375; regression (0.5 + 1)^2 = 2.25
    # row 1: sigmoids (0.75, 0.5, 0.5), class 0: 0.25^2 + 0.5^2 + 0.5^2 = 0.5625; regression (2 - 1.5)^2 = 0.25
    per_sample = U.unified_mse(OUTPUTS, LABELS, TARGETS, num_classes=3, reduction="none")
    torch.testing.assert_close(per_sample, torch.tensor([2.625, 0.8125], dtype=torch.float64), rtol=0, atol=1e-12)
    assert U.unified_mse(OUTPUTS, LABELS, TARGETS, num_classes=3).item() == pytest.approx(1.71875, abs=1e-12)
    assert U.unified_mse(OUTPUTS, LABELS, TARGETS, num_classes=3, reduction="sum").item() == pytest.approx(3.4375)


def test_unified_loss_with_output_reset_by_hand():
    # residuals r = y - t: row 0 (0.5, -0.25, 0.25), c = 1: (a + 1/4) = (1/2 - a) + (1/4 - a) -> a = 1/6,
    #   error (5/12)^2 + (1/3)^2 + (1/12)^2 = 7/24; row 1 (-0.25, 0.5, 0.5), c = 0: a = 1/4, error 3/8
    per_sample = U.unified_mse(OUTPUTS, LABELS, TARGETS, num_classes=3, output_reset=True, reduction="none")
    torch.testing.assert_close(per_sample, torch.tensor([7 / 24 + 2.25, 0.375 + 0.25], dtype=torch.float64),
                               rtol=0, atol=1e-12)


def test_method_losses_and_gradient():
    z = OUTPUTS.clone().requires_grad_(True)
    U.method_loss("unified_mse", z, LABELS, TARGETS, 3).backward()
    # d/dz of the regression term (mean over N = 2): 2 (z - y) / 2
    torch.testing.assert_close(z.grad[:, 3], (OUTPUTS[:, 3] - TARGETS[:, 0]), rtol=0, atol=1e-12)
    # class term: 2 (sigmoid(z) - t) sigmoid'(z) / 2
    y = torch.sigmoid(OUTPUTS[:, :3])
    torch.testing.assert_close(z.grad[:, :3], (y - F.one_hot(LABELS, 3)) * y * (1 - y), rtol=0, atol=1e-12)
    ce = -torch.log_softmax(OUTPUTS[:, :3], 1)[[0, 1], LABELS].mean()
    separate = U.method_loss("separate_heads", OUTPUTS, LABELS, TARGETS, 3)
    assert separate.item() == pytest.approx(ce.item() + (2.25 + 0.25) / 2, abs=1e-12)
    assert U.method_loss("regressor_only", OUTPUTS[:, 3:], LABELS, TARGETS, 3).item() == pytest.approx(1.25)


def test_unified_loss_rejects_bad_shapes_and_reductions():
    with pytest.raises(ValueError, match=r"outputs must be \(N, num_classes \+ R\).*got outputs \(2, 4\) and "
                                         r"targets \(2, 2\)"):
        U.unified_mse(OUTPUTS, LABELS, TARGETS.repeat(1, 2), num_classes=3)
    with pytest.raises(ValueError, match=r"reduction must be one of .* got 'avg'"):
        U.unified_mse(OUTPUTS, LABELS, TARGETS, num_classes=3, reduction="avg")


# ---- training and the store -----------------------------------------------------------------------------


def _without_times(result: dict) -> dict:
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in result["history"]]
    metrics = {k: v for k, v in result["metrics"].items() if not k.endswith("seconds")}
    return {"status": result["status"], "history": history, "metrics": metrics}


def test_training_is_deterministic_on_cpu_and_reports_both_tasks():
    dataset = fake_dataset()
    config = tiny(method="unified_mse_or")
    first = U.train_unification(config, dataset=dataset)
    assert _without_times(first) == _without_times(U.train_unification(config, dataset=dataset))
    assert _without_times(first) != _without_times(U.train_unification(config.with_(seed=1), dataset=dataset))
    assert first["status"] == "ok" and len(first["history"]) == 2
    assert {"test_acc", "test_rmse_angle", "test_r2_angle", "val_acc", "val_rmse_angle"} <= set(first["metrics"])
    assert 0 < first["metrics"]["test_rmse_angle"] < 90
    only = U.train_unification(tiny(method="classifier_only", epochs=1), dataset=dataset)["metrics"]
    assert "test_acc" in only and "test_rmse_angle" not in only
    only = U.train_unification(tiny(method="regressor_only", epochs=1), dataset=dataset)["metrics"]
    assert "test_rmse_angle" in only and "test_acc" not in only


def test_training_is_a_plain_loop_of_adam_steps_bit_for_bit():
    """Reference: the plain loop written out here (seed, build, torch's default Adam at a constant rate, one
    ``randperm`` an epoch from a generator seeded alike, the loss times the batch size summed in order). The shared
    loop of sigmse.train must reproduce its history and final metrics exactly, so stored records stay valid."""
    dataset, config = fake_dataset(), tiny(method="unified_mse_or", epochs=2, batch_size=48)  # a last partial batch
    result = U.train_unification(config, dataset=dataset)
    data = U.prepare_rotated(config, torch.device("cpu"), dataset=dataset)
    torch.manual_seed(config.seed)
    model = get_model("mlp", (1, 28, 28), data.num_classes + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    losses = []
    for _ in range(config.epochs):
        total = torch.zeros(())
        for index in torch.randperm(len(data.train_labels), generator=generator).split(config.batch_size):
            loss = U.method_loss(config.method, model(data.train_images[index]), data.train_labels[index],
                                 data.train_targets[index], data.num_classes)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(index)
        losses.append(float(total) / len(data.train_labels))
    assert [h["train_loss"] for h in result["history"]] == losses
    final = U._final_task_metrics(config, model, data)
    assert {key: result["metrics"][key] for key in final} == final


def test_the_sweep_engine_stores_a_unification_run_once_in_its_folder(tmp_path, monkeypatch):
    dataset = fake_dataset()
    monkeypatch.setattr(U, "load_dataset", lambda name, data_dir=None: dataset)
    monkeypatch.setattr(U, "_PREPARED", {})
    config = tiny(method="separate_heads", epochs=1)
    record = train_and_store(config, profile="smoke", results_dir=tmp_path, data_dir=None)
    path = tmp_path / "smoke" / "unification" / f"{config.hash}.json"
    assert path.is_file() and validate_unification_record(json.loads(path.read_text()), config.hash) == []
    assert record["experiment"] == "unification" and record["config"] == config.to_dict()
    assert record["provenance"]["device"] == "cpu"

    def no_training(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(experiments, "train_unification", no_training)
    assert train_and_store(config, profile="smoke", results_dir=tmp_path, data_dir=None) == record
    path.write_text(json.dumps({**record, "hash": "0" * 16}))
    with pytest.warns(RuntimeWarning, match="does not match its config"):
        assert experiments.load_record(config, "smoke", tmp_path) is None
    assert path.with_suffix(".json.corrupt").is_file() and not path.exists()


def test_experiment_chooses_on_selection_seeds_and_reports_with_the_reporting_seeds(tmp_path, monkeypatch):
    from sigmse.runs.profiles import Budget, Profile
    from sigmse.report.unification import chosen_rates_by_method
    from sigmse.unification.config import unification_config_from_dict

    dataset = fake_dataset()
    monkeypatch.setattr(U, "load_dataset", lambda name, data_dir=None: dataset)
    monkeypatch.setattr(U, "_PREPARED", {})
    budget = Budget("mlp", epochs=1, batch_size=32, train_subset=None, val_size=40, lr_grid=(1e-3, 1e-2))
    profile = Profile(name="tiny", description="test", budgets={"mnist": budget}, selection_seeds=(0, 1),
                      report_seeds=(5, 6, 7), device="cpu")
    records = experiments.run_experiment(
        "unification", profile,
        lambda configs: [train_and_store(c, profile="tiny", results_dir=tmp_path, data_dir=None) for c in configs],
        experiments.PlanOptions(tmp_path))
    selection = [unification_config_from_dict(r["config"]) for r in records.selection]
    report = [unification_config_from_dict(r["config"]) for r in records.report]
    assert len(selection) == 5 * 2 * 2 and {(c.lr, c.seed) for c in selection} == {(a, b) for a in (1e-3, 1e-2)
                                                                                    for b in (0, 1)}
    chosen = chosen_rates_by_method(selection, records.selection)
    assert {(c.method, c.lr, c.seed) for c in report} == {(m, chosen[m], s) for m in U.METHODS for s in (5, 6, 7)}
    stored = sorted(p.stem for p in (tmp_path / "tiny" / "unification").glob("*.json"))
    assert stored == sorted({c.hash for c in selection + report})  # every run stored once
    assert all(set(h) == {"epoch", "train_loss", "seconds"} for r in records.report for h in r["history"])
