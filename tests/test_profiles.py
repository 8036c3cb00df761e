"""Profiles and experiments: every run validates, hashes are unique, grids are what the book promises."""

import pytest

from sigmse.runs.experiments import EXPERIMENTS, experiment_configs
from sigmse.runs.profiles import ACCURACY_LOSSES, PROFILES, get_profile


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_every_experiment_builds_valid_unique_runs(profile, experiment):
    configs = experiment_configs(experiment, profile)
    assert configs
    assert len({c.hash for c in configs}) == len(configs)


def test_quick_and_paper_give_every_loss_a_grid_of_at_least_four_learning_rates():
    for name in ("quick", "paper"):
        for budget in get_profile(name).budgets.values():
            assert len(budget.lr_grid) >= 4
        assert len(get_profile(name).sgd_lr_grid) >= 4


def test_paper_profile_uses_full_data_and_five_reporting_seeds():
    paper = get_profile("paper")
    assert len(paper.report_seeds) == 5 and len(paper.selection_seeds) == 2
    assert all(b.train_subset is None and b.test_subset is None for b in paper.budgets.values())
    configs = experiment_configs("accuracy", "paper")
    assert {c.loss for c in configs} == set(ACCURACY_LOSSES)


def test_datasets_outside_the_profile_are_rejected():
    with pytest.raises(ValueError, match="dataset 'svhn' is not in profile 'quick'"):
        experiment_configs("accuracy", "quick", datasets=["svhn"])
    with pytest.raises(ValueError, match="unknown experiment 'x'; choose one of: accuracy"):
        experiment_configs("x", "quick")


def test_full_profile_trains_full_data_with_the_reporting_seeds_its_power_calculation_asks_for():
    from sigmse.runs.profiles import FULL_PLANNING_SPREADS
    from sigmse.report.verdicts import ACCURACY_MARGINS, reporting_seeds_needed

    full = get_profile("full")
    for budget in full.budgets.values():
        assert budget.train_subset is None and budget.test_subset is None
    # the accuracy chapter's claim family: sigmoid_mse_or vs softmax_ce on three datasets, three hypotheses each
    needed = max(reporting_seeds_needed(ACCURACY_MARGINS[d], FULL_PLANNING_SPREADS[d], family_size=9)
                 for d in full.datasets)
    assert len(full.report_seeds) == needed
    assert not set(full.selection_seeds) & set(full.report_seeds)


def test_full_profile_noise_runs_cifar10_at_the_largest_symmetric_rate_for_three_losses():
    configs = experiment_configs("noise", "full", seeds=[2])
    cifar = [c for c in configs if c.dataset == "cifar10"]
    assert {(c.label_noise, c.label_noise_rate) for c in cifar} == {("symmetric", 0.8)}
    assert {c.loss for c in cifar} == {"softmax_ce", "sigmoid_mse", "sigmoid_mse_or"}
    assert {c.epochs for c in configs if c.dataset != "cifar10"} == {20}


def test_a_budget_is_overrides_of_run_config_defaults():
    from sigmse.config import RunConfig
    from sigmse.runs.profiles import Budget

    budget = Budget("cnn", epochs=10, augment=True, lr_grid=(1e-3,))
    assert budget.run == (("augment", True), ("epochs", 10), ("model", "cnn"))
    assert budget.epochs == 10 and budget.val_size == RunConfig().val_size  # a field not set: RunConfig's default
    with pytest.raises(ValueError, match="a budget has no field 'epoch'; its fields are RunConfig's: model"):
        Budget("mlp", epoch=3)
    with pytest.raises(ValueError, match="no field 'lr'"):
        Budget("mlp", lr=0.1)  # the experiment sets it, from lr_grid
    with pytest.raises(AttributeError, match="no attribute 'colour'"):
        budget.colour
