"""The pilots that fix a protocol's epochs: their runs (selection seeds only) and their rules, on hand-made records
that pass and that fail, and one real noisy run to check the trainer records what the noise rule reads."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sigmse.config import RunConfig
from sigmse.report.verdicts import ACCURACY_MARGINS
from sigmse.report import pilots
from sigmse.runs import experiments
from sigmse.runs.experiments import PlanOptions
from sigmse.runs.profiles import EpochPilot, NoisePilot, get_profile

SMOKE = get_profile("smoke")
PILOTED = replace(SMOKE, epoch_pilot={"mnist": EpochPilot(1e-3, (2, 4, 8))},
                  noise_pilot={"mnist": NoisePilot(1e-3, candidates=(10, 20), rates=(0.4, 0.8))})


def _epoch_record(epochs: int, seed: int, val_acc: float | None, dataset: str = "mnist",
                  status: str = "ok") -> dict:
    config = RunConfig(dataset=dataset, epochs=epochs, seed=seed)
    return {"hash": config.hash, "status": status, "config": config.to_dict(),
            "metrics": {"val_acc": val_acc} if status == "ok" else {}}


def _pilot(means: dict[int, tuple[float, float]], dataset: str = "mnist") -> list[dict]:
    """Records of two selection seeds per budget, with the given validation accuracies."""
    return [_epoch_record(epochs, seed, acc, dataset) for epochs, accs in means.items()
            for seed, acc in zip((0, 1), accs)]


def test_the_epoch_pilot_trains_softmax_ce_at_doubling_budgets_on_the_selection_seeds_only(tmp_path):
    plan = experiments.plan_experiment("epoch_pilot", PILOTED, PlanOptions(tmp_path, seeds=[5, 6]))
    assert plan.selection == [] and plan.waiting == 0
    assert {(c.loss, c.lr, c.epochs, c.seed) for c in plan.report} == {
        ("softmax_ce", 1e-3, epochs, seed) for epochs in (2, 4, 8) for seed in SMOKE.selection_seeds}
    given = experiments.plan_experiment("epoch_pilot", PILOTED, PlanOptions(tmp_path, selection_seeds=[7]))
    assert {c.seed for c in given.report} == {7}
    assert experiments.plan_experiment("epoch_pilot", SMOKE, PlanOptions(tmp_path)).report == []  # names no pilot
    assert experiments.plan_experiment("epoch_pilot", PILOTED, PlanOptions(tmp_path, datasets=["cifar10"])).report == []


def test_epoch_pilot_candidates_must_double():
    with pytest.raises(ValueError, match=r"each twice the one before \(E, 2E, 4E, ...\); got \(5, 10, 15\)"):
        EpochPilot(1e-3, (5, 10, 15))
    with pytest.raises(ValueError, match="got \\(5,\\)"):
        EpochPilot(1e-3, (5,))
    with pytest.raises(ValueError, match="epoch pilot lr"):
        EpochPilot(0.0, (5, 10))


def test_the_budget_is_the_shortest_whose_double_changes_mean_validation_accuracy_by_under_half_the_margin():
    """MNIST margin 0.5 pp, so the threshold is 0.25 pp: 5 -> 10 gains 0.8 pp (not long enough), 10 -> 20 gains
    0.1 pp (long enough): 10 epochs."""
    records = _pilot({5: (0.969, 0.971), 10: (0.977, 0.979), 20: (0.978, 0.980)})
    assert ACCURACY_MARGINS["mnist"] == 0.005
    assert pilots.pilot_epochs(records, ACCURACY_MARGINS["mnist"]) == 10
    table = pilots.epoch_pilot_table(records)
    assert list(table["epochs"]) == [5, 10, 20] and list(table["long_enough"]) == [None, False, True]
    assert table["change"].iloc[2] == pytest.approx(0.001) and table["threshold"].iloc[0] == pytest.approx(0.0025)


def test_a_change_of_exactly_half_the_margin_is_not_enough_and_a_fall_counts_like_a_gain():
    """Exact binary fractions: margin 0.5, threshold 0.25; 4 -> 8 changes by exactly 0.25 (not less), 8 -> 16
    falls by 0.125 (less): 8 epochs."""
    records = _pilot({4: (0.25, 0.25), 8: (0.5, 0.5), 16: (0.375, 0.375)})
    assert pilots.pilot_epochs(records, 0.5) == 8
    assert pilots.pilot_epochs(_pilot({4: (0.25, 0.25), 8: (0.5, 0.5)}), 0.5) is None  # never less: undecided


def test_the_pilot_is_undecided_while_a_budget_or_its_double_lacks_a_seed():
    complete = _pilot({5: (0.97, 0.97), 10: (0.97, 0.97)})
    assert pilots.pilot_epochs(complete, 0.005) == 5
    assert pilots.pilot_epochs(complete[:-1], 0.005) is None  # budget 10 has seed 0 only
    assert pilots.pilot_epochs(complete[:2], 0.005) is None  # no double stored
    assert pilots.pilot_epochs([], 0.005) is None
    failed = complete[:-1] + [_epoch_record(10, 1, None, status="failed")]
    assert pilots.pilot_epochs(failed, 0.005) is None  # a failed run has no result
    # with the pilot's candidates and seeds, what is not stored yet is missing: a shorter budget decides first
    later = _pilot({5: (0.9, 0.9), 10: (0.97, 0.97), 20: (0.97, 0.97)})[2:]  # budget 5 not stored yet
    assert pilots.pilot_epochs(later, 0.005) == 10
    assert pilots.pilot_epochs(later, 0.005, candidates=(5, 10, 20)) is None
    assert pilots.pilot_epochs(complete, 0.005, candidates=(5, 10), seeds=(0, 1)) == 5
    assert pilots.pilot_epochs(complete, 0.005, candidates=(5, 10), seeds=(0, 1, 2)) is None  # seed 2 not stored


def test_a_diverged_pilot_run_scores_at_chance_and_datasets_are_not_mixed():
    records = _pilot({5: (0.97, 0.97), 10: (0.97, 0.97)})
    records[3] = _epoch_record(10, 1, None, status="diverged")  # (0.97 + 0.1) / 2: a large change
    assert pilots.pilot_epochs(records, 0.005) is None
    with pytest.raises(ValueError, match="the epoch pilot reads the records of one dataset; got 2: cifar10, mnist"):
        pilots.pilot_epochs(records + _pilot({5: (0.7, 0.7)}, "cifar10"), 0.01)


def _noise_record(flipped: list[float | None], seed: int = 0, rate: float = 0.4, dataset: str = "mnist") -> dict:
    config = RunConfig(dataset=dataset, seed=seed, label_noise="symmetric", label_noise_rate=rate,
                       epochs=len(flipped))
    history = [{"epoch": epoch, "train_loss": 1.0, "train_acc": 0.5, "val_acc": 0.5, "train_acc_flipped": acc,
                "train_acc_clean": None if acc is None else 0.9}
               for epoch, acc in enumerate(flipped, start=1)]
    return {"hash": config.hash, "status": "ok", "config": config.to_dict(), "history": history,
            "metrics": {"val_acc": 0.5}}


def test_the_noise_pilot_trains_softmax_ce_under_symmetric_noise_on_one_selection_seed(tmp_path):
    quick = replace(get_profile("quick"), noise_pilot={"mnist": NoisePilot(1e-3, candidates=(10, 20), rates=(0.4, 0.8))})
    plan = experiments.plan_experiment("noise_pilot", quick, PlanOptions(tmp_path))
    assert {(c.loss, c.label_noise, c.label_noise_rate, c.epochs, c.seed) for c in plan.report} == {
        ("softmax_ce", "symmetric", rate, epochs, quick.selection_seeds[0]) for rate in (0.4, 0.8)
        for epochs in (10, 20)}
    with pytest.raises(ValueError, match="noise pilot candidate"):
        NoisePilot(1e-3, candidates=(1, 2))
    with pytest.raises(ValueError, match="increasing budgets"):
        NoisePilot(1e-3, candidates=(20, 10))


def test_the_noise_fit_epoch_is_the_first_at_which_the_flipped_accuracy_rises_5_pp_from_its_low():
    """The flipped-label accuracy falls to 10 % at epoch 3 (the network learns the true classes first), then
    rises: +3 pp at epoch 4, +4.9 pp at 5 (not yet 5 pp), +6 pp at 6."""
    record = _noise_record([0.20, 0.12, 0.10, 0.13, 0.149, 0.16, 0.30])
    assert pilots.noise_fit_epoch([record]) == 6
    assert pilots.noise_fit_epoch([_noise_record([0.20, 0.12, 0.10, 0.13, 0.149])]) is None  # never 5 pp
    assert pilots.noise_fit_epoch([_noise_record([0.30, 0.40])]) == 2  # +10 pp from the first epoch
    table = pilots.noise_pilot_table([record, _noise_record([0.2, 0.1, 0.12], rate=0.8)])
    assert list(table["setting"]) == ["symmetric 0.4", "symmetric 0.8"]
    assert table["fits_from"].iloc[0] == 6 and table["fits_from"].isna().iloc[1]
    assert table["rise"].iloc[0] == pytest.approx(0.2)


def test_the_noise_rule_refuses_records_without_flipped_accuracy_or_of_several_settings():
    with pytest.raises(ValueError, match="has no per-epoch train_acc_flipped"):
        pilots.noise_fit_epoch([_noise_record([None, None])])
    with pytest.raises(ValueError, match="one label_noise_rate; got 2: 0.4, 0.8"):
        pilots.noise_fit_epoch([_noise_record([0.2, 0.3]), _noise_record([0.2, 0.3], rate=0.8)])


@pytest.mark.shared_data
def test_a_noisy_run_records_its_flipped_label_training_accuracy_every_epoch(shared_data_dir):
    """What the noise-fit rule reads is in a real record: two epochs of 512 MNIST images at symmetric 0.4."""
    from sigmse.train import train

    config = RunConfig(dataset="mnist", epochs=2, train_subset=512, val_size=500, test_subset=1000,
                       label_noise="symmetric", label_noise_rate=0.4, device="cpu")
    result = train(config, data_dir=shared_data_dir)
    assert [entry["epoch"] for entry in result["history"]] == [1, 2]
    assert all(0.0 <= entry["train_acc_flipped"] <= 1.0 for entry in result["history"])
    record = {"hash": config.hash, "config": config.to_dict(), **result}
    assert pilots.noise_fit_epoch([record]) in (None, 2)


def _budget_record(flipped, epochs, rate=0.4):
    record = _noise_record(flipped, rate=rate)
    record["config"] = {**record["config"], "epochs": epochs}
    return record


def test_the_noise_budget_is_the_shortest_candidate_from_the_clean_budget_whose_runs_end_fitting_the_flips():
    """Candidates 10 and 20 at rates 0.4 and 0.8: the 10-epoch runs end 6 pp above their low at 0.4 but only
    4.9 pp at 0.8, so 10 fails at one rate; both 20-epoch runs pass. A clean budget of 20 skips 10; a missing
    run leaves the choice undecided; no passing candidate gives None."""
    fits, short = [0.2, 0.1, 0.16], [0.2, 0.1, 0.149]
    records = [_budget_record(fits, 10), _budget_record(short, 10, rate=0.8),
               _budget_record(fits, 20), _budget_record(fits, 20, rate=0.8)]
    assert pilots.noise_epochs(records, 10, (10, 20), (0.4, 0.8)) == 20
    assert pilots.noise_epochs(records[:1] + records[2:], 10, (10, 20), (0.4, 0.8)) is None  # 10 at 0.8 missing
    assert pilots.noise_epochs(records[2:], 20, (10, 20), (0.4, 0.8)) == 20
    assert pilots.noise_epochs([_budget_record(fits, 10), _budget_record(fits, 10, rate=0.8)], 10, (10, 20),
                               (0.4, 0.8)) == 10
    assert pilots.noise_epochs(records[:2], 10, (10, 20), (0.4, 0.8)) is None  # 20 not stored yet: undecided
    assert pilots.noise_epochs([_budget_record(short, 20)], 20, (10, 20), (0.4,)) is None  # none passes


def test_trained_epochs_reads_each_datasets_single_budget_from_the_records_and_skips_a_mixed_one():
    records = [{"config": {"dataset": "mnist", "epochs": 10}}, {"config": {"dataset": "mnist", "epochs": 10}},
               {"config": {"dataset": "cifar10", "epochs": 10}}, {"config": {"dataset": "cifar10", "epochs": 20}}]
    assert pilots.trained_epochs(records) == {"mnist": 10}
