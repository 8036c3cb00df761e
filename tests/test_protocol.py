"""Tests of sigmse.runs.protocol: learning rates chosen by the selection seeds on validation only, reported with fresh
seeds, and the list of runs computed from the store the same way everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from sigmse.runs import protocol
from sigmse.runs.profiles import get_profile
from sigmse.runs.store import record_path, write_record
from sigmse.config import RunConfig


def _record(config: RunConfig, val_acc: float | None, test_acc: float = 0.5, status: str = "ok") -> dict:
    metrics = {} if status != "ok" else {"val_acc": val_acc, "test_acc": test_acc}
    return {"hash": config.hash, "status": status, "config": config.to_dict(), "metrics": metrics}


def _configs(losses=("softmax_ce", "sigmoid_mse"), lrs=(0.1, 1.0), seeds=(0, 1)) -> list[RunConfig]:
    return [RunConfig(loss=loss, lr=lr, seed=seed) for loss in losses for lr in lrs for seed in seeds]


def test_diverged_runs_score_at_chance():
    """lr 1.0 has the best surviving seed (0.95) but one diverged seed: (0.95 + 0.1) / 2 = 0.525 < 0.8."""
    configs = _configs(losses=("softmax_ce",))
    records = [_record(configs[0], 0.8), _record(configs[1], 0.8), _record(configs[2], 0.95),
               _record(configs[3], None, status="diverged")]
    chosen = protocol.chosen_learning_rates(configs, records)
    assert list(chosen.values()) == [0.1]


def test_best_mean_per_group_and_ties_to_the_smaller_rate():
    configs = _configs()
    values = [0.80, 0.90, 0.95, 0.70,  # softmax_ce: lr 0.1 mean 0.85 beats lr 1.0 mean 0.825
              0.50, 0.50, 0.60, 0.40]  # sigmoid_mse: a tie at 0.5: the smaller rate
    chosen = protocol.chosen_learning_rates(configs, [_record(c, v) for c, v in zip(configs, values)])
    by_loss = {RunConfig(loss=loss).loss: chosen[protocol.lr_group(RunConfig(loss=loss))]
               for loss in ("softmax_ce", "sigmoid_mse")}
    assert by_loss == {"softmax_ce": 0.1, "sigmoid_mse": 0.1}


def test_the_choice_never_reads_test_metrics():
    configs = _configs(losses=("softmax_ce", "sigmoid_mse", "mae"), lrs=(0.01, 0.1, 1.0), seeds=(0, 1, 2))
    rng = np.random.default_rng(0)
    val = rng.uniform(0.5, 1.0, len(configs))
    before = protocol.chosen_learning_rates(configs, [_record(c, v) for c, v in zip(configs, val)])
    for seed in range(5):
        tests = np.random.default_rng(seed).uniform(0, 1, len(configs))
        after = protocol.chosen_learning_rates(configs, [_record(c, v, t) for c, v, t in zip(configs, val, tests)])
        assert after == before


def test_a_failed_selection_run_is_refused():
    configs = _configs(losses=("softmax_ce",))
    records = [_record(c, 0.8) for c in configs[:-1]] + [_record(configs[-1], None, status="failed")]
    with pytest.raises(ValueError, match="failed"):
        protocol.chosen_learning_rates(configs, records)


def test_reporting_runs_are_the_chosen_rate_with_fresh_seeds_only():
    configs = _configs()
    records = [_record(c, 0.9 if c.lr == 1.0 else 0.8) for c in configs]
    report = protocol.report_configs(configs, records, report_seeds=(5, 6, 7))
    assert {(c.loss, c.lr, c.seed) for c in report} == {(loss, 1.0, s) for loss in ("softmax_ce", "sigmoid_mse")
                                                        for s in (5, 6, 7)}
    with pytest.raises(ValueError, match=r"reporting seeds \[1\] are also selection seeds"):
        protocol.report_configs(configs, records, report_seeds=(1, 2))


def test_profiles_keep_selection_and_reporting_seeds_apart():
    for name in ("smoke", "quick", "paper"):
        profile = get_profile(name)
        assert profile.selection_seeds and profile.report_seeds
        assert not set(profile.selection_seeds) & set(profile.report_seeds)


def test_the_estimate_uses_stored_costs_where_it_has_them(tmp_path):
    config = RunConfig(dataset="mnist", epochs=2, train_subset=1000, val_size=500)
    table, source = protocol.estimate_seconds([config], "quick", tmp_path)
    assert source == "measured table"
    assert table == pytest.approx(protocol.MEASURED_SECONDS_PER_IMAGE[("mnist", "mlp")] * 1000 * 2)
    record = {**_record(config, 0.9), "schema_version": 1, "profile": "quick", "history": [], "provenance": {},
              "metrics": {"val_acc": 0.9, "test_acc": 0.9, "train_seconds": 4.0, "n_train": 1000,
                          "epochs_run": 2}}
    write_record(record, record_path(config, "quick", tmp_path))
    stored, source = protocol.estimate_seconds([config.with_(epochs=3)], "quick", tmp_path)
    assert source == "stored runs" and stored == pytest.approx(6.0)  # 2 s per epoch of 1000 images, measured
    _, note = protocol.estimate_seconds([RunConfig(dataset="cifar10", model="resnet9")], "quick", tmp_path)
    assert note == "nothing timed; 1 runs of a kind never timed here not counted"


def _timed_record(config, seconds: float, images: int, epochs: int, **fields) -> dict:
    return {"schema_version": 1, "hash": config.hash, "profile": "quick", "config": config.to_dict(), "status": "ok",
            "history": [], "provenance": {}, **fields,
            "metrics": {"val_acc": 0.9, "test_acc": 0.9, "test_rmse_angle": 1.0, "train_seconds": seconds,
                        "n_train": images, "epochs_run": epochs}}


def test_unification_runs_are_priced_by_stored_unification_runs_else_by_the_mlp_table_entry(tmp_path):
    """A unification run (own folder, model fixed to the MLP) is priced from stored unification runs only; with
    none stored, from the table's MNIST MLP entry, never from the accuracy runs' stored costs. A file that is
    not JSON is skipped and left where it is; results_dir=None prices from the table alone."""
    from sigmse.unification.config import UnificationConfig

    unification = UnificationConfig(train_subset=1000, val_size=500, epochs=3)
    table = protocol.MEASURED_SECONDS_PER_IMAGE[("mnist", "mlp")] * 1000 * 3
    accuracy = RunConfig(dataset="mnist", epochs=2, train_subset=1000, val_size=500)
    write_record(_timed_record(accuracy, 8.0, 1000, 2), record_path(accuracy, "quick", tmp_path))  # 4 ms an image
    assert protocol.estimate_seconds([unification], "quick", tmp_path) == (pytest.approx(table), "measured table")
    stored = unification.with_(seed=5)
    write_record(_timed_record(stored, 2.0, 1000, 2, experiment="unification"),
                 record_path(stored, "quick", tmp_path))  # 1 ms an image
    damaged = tmp_path / "quick" / "unification" / "0123456789abcdef.json"
    damaged.write_text("{not json")
    assert protocol.cost_kind(unification) == ("unification", "mnist", "mlp")
    assert protocol.stored_seconds_per_image([unification, accuracy], "quick", tmp_path) == {
        ("unification", "mnist", "mlp"): pytest.approx(1e-3), ("", "mnist", "mlp"): pytest.approx(4e-3)}
    seconds, source = protocol.estimate_seconds([unification, accuracy], "quick", tmp_path)
    assert source == "stored runs" and seconds == pytest.approx(3.0 + 8.0)
    assert damaged.is_file()
    assert protocol.estimate_seconds([unification], "quick", None) == (pytest.approx(table), "measured table")
    assert protocol.run_seconds(RunConfig(dataset="cifar10", model="resnet9")) is None
