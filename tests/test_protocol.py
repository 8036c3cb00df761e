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


def _table_price(config, trained: int, evaluated: int, threads: int = 1) -> protocol.RunSeconds:
    """The measured table's price of ``config``: ``trained`` images x c_train + ``evaluated`` x c_eval + setup."""
    costs = protocol.MEASURED_IMAGE_COSTS[(config.dataset, config.model, threads)]
    return protocol.RunSeconds(pytest.approx(costs.train * trained), pytest.approx(costs.evaluate * evaluated),
                               pytest.approx(costs.setup))


def test_the_estimate_uses_stored_costs_where_it_has_them(tmp_path):
    """Priced from the table at the run's thread count: 2 epochs of 1000 images trained, and per epoch 500
    validation images at each of 4 evaluation steps plus the 10,000 test images. A stored run of the same kind (and
    thread count) gives the training cost; a cost it did not time (no wall time, no setup) stays the table's."""
    config = RunConfig(dataset="mnist", epochs=2, train_subset=1000, val_size=500)
    assert (protocol.trained_images(config), protocol.evaluated_images(config)) == (2000, 2 * (4 * 500 + 10_000))
    table, source = protocol.estimate_seconds([config], "quick", tmp_path, threads=1)
    assert source == "measured table"
    assert table == _table_price(config, 2000, 24_000)
    record = {**_record(config, 0.9), "schema_version": 1, "profile": "quick", "history": [],
              "provenance": {"torch_threads": 1},
              "metrics": {"val_acc": 0.9, "test_acc": 0.9, "train_seconds": 4.0, "n_train": 1000,
                          "epochs_run": 2}}
    write_record(record, record_path(config, "quick", tmp_path))
    stored, source = protocol.estimate_seconds([config.with_(epochs=3)], "quick", tmp_path, threads=1)
    assert source == "stored runs" and stored.train == pytest.approx(6.0)  # 2 s per epoch of 1000 images, measured
    assert (stored.evaluate, stored.setup) == (pytest.approx(table.evaluate * 1.5), table.setup)  # the table's
    other_threads, source = protocol.estimate_seconds([config], "quick", tmp_path, threads=2)
    assert source == "measured table" and other_threads == _table_price(config, 2000, 24_000, threads=2)
    _, note = protocol.estimate_seconds([RunConfig(dataset="cifar10", model="resnet9")], "quick", tmp_path, threads=1)
    assert note == "nothing timed; 1 runs of a kind never timed here not counted"
    _, note = protocol.estimate_seconds([config], "quick", None, threads=64)  # a thread count never measured
    assert note == "nothing timed; 1 runs of a kind never timed here not counted"


def test_stored_runs_price_evaluation_by_what_their_wall_time_left_after_training_and_setup(tmp_path):
    """wall 30 s = train 20 s + setup 2 s + 8 s for 2 x (4 x 500 + 10,000) = 24,000 evaluated images. Over the
    stored runs of the kind, per cost, the summed seconds over the summed images (a slow run counts in full)."""
    config = RunConfig(dataset="mnist", epochs=2, train_subset=1000, val_size=500)
    for seed, (train, wall) in enumerate([(20.0, 30.0), (40.0, 50.0), (20.0, 90.0)]):
        run = config.with_(seed=seed)
        write_record({**_record(run, 0.9), "schema_version": 1, "profile": "quick", "history": [],
                      "provenance": {"torch_threads": 1, "wall_seconds": wall},
                      "metrics": {"val_acc": 0.9, "test_acc": 0.9, "train_seconds": train, "setup_seconds": 2.0,
                                  "n_train": 1000, "epochs_run": 2}}, record_path(run, "quick", tmp_path))
    costs = protocol.stored_image_costs([config], "quick", tmp_path, threads=1)
    assert costs == {("", "mnist", "mlp", 1): protocol.ImageCosts(
        pytest.approx(80.0 / 6000), pytest.approx((8.0 + 8.0 + 68.0) / 72_000), pytest.approx(2.0))}
    assert protocol.run_seconds(config, costs, threads=1) == protocol.RunSeconds(
        pytest.approx(80.0 / 3), pytest.approx(84.0 / 3), pytest.approx(2.0))


def test_the_evaluations_counted_are_the_ones_the_trainer_makes(monkeypatch):
    """Count the images sigmse.train passes to evaluate_logits (twice with the flip) for a run with mid-epoch
    evaluations, a noisy-input test and test-time flips: the estimate's count must agree."""
    from sigmse import train as trainer
    from sigmse.bench.measures import synthetic_dataset

    counted = []
    original = trainer.evaluate_logits

    def counting(model, images, *args, **kwargs):
        counted.append(len(images) * (2 if kwargs.get("flip", args[1] if len(args) > 1 else False) else 1))
        return original(model, images, *args, **kwargs)

    monkeypatch.setattr(trainer, "evaluate_logits", counting)
    config = RunConfig(dataset="mnist", epochs=2, batch_size=64, train_subset=300, val_size=100, test_subset=50,
                       test_input_sigmas=(0.1,), tta_flip=True, device="cpu")  # 5 steps an epoch: 4 evaluations
    trainer.train(config, dataset=synthetic_dataset("mnist", 400, n_test=50), progress=False)
    assert sum(counted) == protocol.evaluated_images(config) == 2 * (2 * (4 * 100 + 50) + 50) + 50
    plain = config.with_(tta_flip=False, test_input_sigmas=())
    counted.clear()
    trainer.train(plain, dataset=synthetic_dataset("mnist", 400, n_test=50), progress=False)
    assert sum(counted) == protocol.evaluated_images(plain) == 2 * (4 * 100 + 50)


def test_the_measured_table_is_the_committed_bench_records_mean_over_losses():
    """MEASURED_IMAGE_COSTS is image_cost_table of the committed `sigmse bench --costs` records, so no number of it
    is typed by hand; image_cost_table averages the losses timed per dataset, model and thread count."""
    import json
    from pathlib import Path

    from sigmse.provenance import recorded_processor

    root = Path(__file__).resolve().parent.parent
    rows = [row for path in protocol.MEASURED_COSTS_RECORDS for row in json.loads((root / path).read_text())["costs"]]
    assert protocol.image_cost_table(rows) == protocol.MEASURED_IMAGE_COSTS
    processors = {recorded_processor(json.loads((root / path).read_text())["provenance"])
                  for path in protocol.MEASURED_COSTS_RECORDS}
    assert processors == {protocol.MEASURED_COSTS_PROCESSOR}  # the performance page names it beside the ratios
    assert {threads for _, _, threads in protocol.MEASURED_IMAGE_COSTS} == {1, 2}
    row = {"dataset": "mnist", "model": "mlp", "threads": 1, "setup_seconds": 1.0}
    assert protocol.image_cost_table([{**row, "train_seconds_per_image": 1.0, "eval_seconds_per_image": 0.5},
                                      {**row, "train_seconds_per_image": 3.0, "eval_seconds_per_image": 0.5}]) == {
        ("mnist", "mlp", 1): protocol.ImageCosts(2.0, 0.5, 1.0)}


def _timed_record(config, seconds: float, images: int, epochs: int, **fields) -> dict:
    return {"schema_version": 1, "hash": config.hash, "profile": "quick", "config": config.to_dict(), "status": "ok",
            "history": [], "provenance": {"torch_threads": 1}, **fields,
            "metrics": {"val_acc": 0.9, "test_acc": 0.9, "test_rmse_angle": 1.0, "train_seconds": seconds,
                        "n_train": images, "epochs_run": epochs}}


def test_unification_runs_are_priced_by_stored_unification_runs_else_by_the_mlp_table_entry(tmp_path):
    """A unification run (own folder, model fixed to the MLP) is priced from stored unification runs only; with
    none stored, from the table's MNIST MLP entry, never from the accuracy runs' stored costs. It evaluates its
    validation split and test set once. A file that is not JSON is skipped and left where it is;
    results_dir=None prices from the table alone."""
    from sigmse.unification.config import UnificationConfig

    unification = UnificationConfig(train_subset=1000, val_size=500, epochs=3)
    assert protocol.evaluated_images(unification) == 500 + 10_000
    table = _table_price(unification, 3000, 10_500)
    accuracy = RunConfig(dataset="mnist", epochs=2, train_subset=1000, val_size=500)
    write_record(_timed_record(accuracy, 8.0, 1000, 2), record_path(accuracy, "quick", tmp_path))  # 4 ms an image
    assert protocol.estimate_seconds([unification], "quick", tmp_path, threads=1) == (table, "measured table")
    stored = unification.with_(seed=5)
    write_record(_timed_record(stored, 2.0, 1000, 2, experiment="unification"),
                 record_path(stored, "quick", tmp_path))  # 1 ms an image
    damaged = tmp_path / "quick" / "unification" / "0123456789abcdef.json"
    damaged.write_text("{not json")
    assert protocol.cost_kind(unification, 1) == ("unification", "mnist", "mlp", 1)
    assert protocol.stored_image_costs([unification, accuracy], "quick", tmp_path, threads=1) == {
        ("unification", "mnist", "mlp", 1): protocol.ImageCosts(pytest.approx(1e-3), None, None),
        ("", "mnist", "mlp", 1): protocol.ImageCosts(pytest.approx(4e-3), None, None)}
    seconds, source = protocol.estimate_seconds([unification, accuracy], "quick", tmp_path, threads=1)
    assert source == "stored runs" and seconds.train == pytest.approx(3.0 + 8.0)
    assert damaged.is_file()
    assert protocol.estimate_seconds([unification], "quick", None, threads=1) == (table, "measured table")
    assert protocol.run_seconds(RunConfig(dataset="cifar10", model="resnet9"), threads=1) is None


@pytest.mark.parametrize(("lr", "below", "above"), [(1e-4, 3e-5, 3e-4), (3e-4, 1e-4, 1e-3), (1e-3, 3e-4, 3e-3),
                                                     (3e-3, 1e-3, 1e-2), (1.0, 0.3, 3.0), (0.05, 0.03, 0.1),
                                                     (0.2, 0.1, 0.3), (0.0030000000000000005, 0.003, 0.01)])
def test_the_half_decade_ladder_steps_to_the_exact_decimal_beyond_a_rate(lr, below, above):
    """x3 then x10/3 up the ladder, one step beyond a rate between two steps; never 0.0030000000000000005."""
    assert protocol.half_decade_step(lr, "below") == below and protocol.half_decade_step(lr, "above") == above
    assert repr(protocol.half_decade_step(1e-3, "above")) == "0.003"
    assert RunConfig(lr=protocol.half_decade_step(1e-3, "above")).hash == RunConfig(lr=3e-3).hash


def test_the_half_decade_step_refuses_a_bad_side_or_rate():
    with pytest.raises(ValueError, match="side 'up' is not allowed; choose one of: below, above"):
        protocol.half_decade_step(1e-3, "up")
    with pytest.raises(ValueError, match="lr"):
        protocol.half_decade_step(0.0, "above")


def test_mean_scores_and_the_best_rate_agree_with_the_choice():
    configs = _configs(losses=("softmax_ce",))
    records = [_record(c, v) for c, v in zip(configs, (0.8, 0.9, 0.85, 0.85))]
    (means,) = protocol.mean_scores(configs, records).values()
    assert means == {0.1: pytest.approx(0.85), 1.0: pytest.approx(0.85)}
    assert protocol.best_rate({0.1: 0.85, 1.0: 0.85}) == 0.1 and protocol.best_rate({0.1: 0.8, 1.0: 0.9}) == 1.0
    assert list(protocol.chosen_learning_rates(configs, records).values()) == [protocol.best_rate(means)]
