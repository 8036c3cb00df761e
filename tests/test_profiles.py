"""Profiles and experiments: every run validates, hashes are unique, grids are what the book promises."""

import pytest

from sigmse.profiles import (ACCURACY_LOSSES, EXPERIMENTS, PROFILES, experiment_configs, get_profile)


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
