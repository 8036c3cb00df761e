"""RunConfig: validation with clear messages, canonical JSON, a stable hash."""

import subprocess
import sys

import pytest

from sigmse.config import RunConfig, config_from_dict


def test_defaults_validate_and_round_trip_through_dict():
    config = RunConfig(loss="sigmoid_mse_or", loss_options={"pos": 0.9, "neg": 0.1})
    assert config_from_dict(config.to_dict()) == config
    assert config.to_dict()["loss_options"] == {"neg": 0.1, "pos": 0.9}


def test_hash_ignores_device_and_option_order_but_not_values():
    a = RunConfig(loss="sigmoid_mse", loss_options={"pos": 0.9, "neg": 0.1}, device="cpu")
    b = RunConfig(loss="sigmoid_mse", loss_options={"neg": 0.1, "pos": 0.9}, device="auto")
    assert a.hash == b.hash
    assert a.hash != a.with_(lr=2e-3).hash
    assert a.hash != a.with_(evals_per_epoch=1).hash  # it changes the record (its curve)
    assert len(a.hash) == 16


def test_hash_is_stable_across_processes():
    code = "from sigmse.config import RunConfig; print(RunConfig(seed=3).hash)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == RunConfig(seed=3).hash


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dataset": "imagenet"}, "dataset 'imagenet' is not allowed; choose one of: mnist, fashion-mnist, cifar10"),
        ({"model": "vit"}, "model 'vit' is not allowed"),
        ({"loss": "hinge"}, "hinge"),
        ({"lr": -0.1}, "lr must be in (0.0, inf], got -0.1"),
        ({"lr": float("nan")}, "lr must be a finite number, got nan"),
        ({"label_noise": "symmetric", "label_noise_rate": 1.0}, "label_noise_rate must be in [0.0, 1.0), got 1.0"),
        ({"label_noise_rate": 0.2}, "needs label_noise symmetric or asymmetric"),
        ({"label_noise": "gaussian"}, "label_noise 'gaussian' is not allowed; choose one of: none, symmetric, asymmetric"),
        ({"epochs": 0}, "epochs must be in [1, inf], got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer, got 2.5"),
        ({"evals_per_epoch": 0}, "evals_per_epoch must be in [1, inf], got 0"),
        ({"evals_per_epoch": 1.5}, "evals_per_epoch must be an integer, got 1.5"),
        ({"evals_per_epoch": True}, "evals_per_epoch must be an integer, got True"),
        ({"optimizer": "lbfgs"}, "optimizer 'lbfgs' is not allowed; choose one of: sgd, nesterov, adam"),
        ({"device": "tpu"}, "device 'tpu' is not allowed"),
        ({"loss": "sigmoid_mse", "loss_options": {"shift": True}}, "loss 'sigmoid_mse' has no option 'shift'"),
    ],
)
def test_bad_values_raise_naming_the_value_and_the_allowed_ones(changes, message):
    with pytest.raises(ValueError) as error:
        RunConfig(**changes)
    assert message in str(error.value)


def test_unknown_keys_are_rejected_by_name():
    with pytest.raises(ValueError, match="unknown config key 'learning_rate'"):
        config_from_dict({"learning_rate": 0.1})
