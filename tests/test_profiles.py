"""Profiles and experiments: every run validates, hashes are unique, grids are what the book promises."""

from dataclasses import replace

import pytest

from sigmse.runs.experiments import EXPERIMENTS, experiment_configs
from sigmse.runs.profiles import ACCURACY_LOSSES, PROFILES, get_profile, unification_configs, unification_lr_grid
from sigmse.unification.config import METHODS


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("experiment", list(EXPERIMENTS))
def test_every_experiment_builds_valid_unique_runs(profile, experiment):
    """Every experiment lists runs, except a pilot under a profile that names none (no profile before protocol
    v2 does: its epochs were set without one)."""
    configs = experiment_configs(experiment, profile)
    if EXPERIMENTS[experiment].pilot and not getattr(get_profile(profile), experiment):  # Profile.epoch_pilot, ...
        assert configs == []
        return
    if profile == "paper" and experiment in ("output_reset", "lr_sweep", "unification"):  # CIFAR-10 only (issue 24)
        assert configs == []
        return
    assert configs
    assert len({c.hash for c in configs}) == len(configs)


def test_quick_and_paper_give_every_loss_a_grid_of_at_least_four_learning_rates():
    for name in ("quick", "paper"):
        for dataset in get_profile(name).datasets:  # the paper profile's MNIST budget trains nothing
            assert len(get_profile(name).budgets[dataset].lr_grid) >= 4
        assert len(get_profile(name).sgd_lr_grid) >= 4


# ---- the unification runs --------------------------------------------------------------------------------


def test_unification_selection_runs_of_each_profile():
    quick = unification_configs("quick")
    grid = get_profile("quick").budgets["mnist"].lr_grid
    assert unification_lr_grid("quick") == grid and len(grid) == 5
    assert len(quick) == len(METHODS) * len(grid) * 2 and {c.method for c in quick} == set(METHODS)
    assert {c.seed for c in quick} == set(get_profile("quick").selection_seeds) == {0, 1}
    assert {c.lr for c in quick} == set(grid)
    assert {(c.train_subset, c.epochs, c.val_size) for c in quick} == {(5000, 3, 5000)}  # a validation split
    assert unification_configs("paper") == []  # CIFAR-10 only since issue 24: its MNIST budget has no rates
    smoke = unification_configs("smoke", seeds=[3], device="cpu")
    assert {c.device for c in smoke} == {"cpu"} and {c.seed for c in smoke} == {3} and len(smoke) == 10
    with pytest.raises(ValueError, match="unknown profile 'fast'; choose one of: smoke, quick, full, full2, paper"):
        unification_configs("fast")


def test_paper_profile_uses_full_data_and_full2s_reporting_seeds():
    """Protocol v2 on CIFAR-10 (issue 24; tests/test_paper_profile.py checks the rest)."""
    paper = get_profile("paper")
    assert len(paper.report_seeds) == 18 and len(paper.selection_seeds) == 2
    assert all(paper.budgets[d].train_subset is None and paper.budgets[d].test_subset is None for d in paper.datasets)
    configs = experiment_configs("accuracy", "paper")
    assert {c.loss for c in configs} == set(ACCURACY_LOSSES[:3])


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


def test_full2_reports_with_the_seeds_its_power_calculation_asks_for_at_the_observed_spreads():
    """Protocol v2: the accuracy family is 3 comparisons x 3 hypotheses on 3 datasets (27), at the paired spreads
    observed on `full`; at least 12 reporting seeds on CIFAR-10; 8 for noise, ablation and unification runs."""
    from sigmse.runs.profiles import FULL2_PLANNING_SPREADS
    from sigmse.report.verdicts import ACCURACY_MARGINS, reporting_seeds_needed

    v2 = get_profile("full2")
    needed = {d: reporting_seeds_needed(ACCURACY_MARGINS[d], FULL2_PLANNING_SPREADS[d], family_size=27)
              for d in v2.datasets}
    assert needed == {"mnist": 6, "fashion-mnist": 12, "cifar10": 18}
    assert len(v2.report_seeds) == max(needed.values()) >= 12
    assert [len(v2.reporting_seeds(e)) for e in ("accuracy", "noise", "output_reset", "unification")] == [18, 8, 8, 8]
    assert not set(v2.selection_seeds) & set(v2.report_seeds)


def test_full2_fixes_threads_decays_every_rate_and_grows_grids_of_four_half_decade_rates():
    v2 = get_profile("full2")
    assert v2.threads == 1 and v2.lr_grid_extensions == 3
    for dataset, budget in v2.budgets.items():
        assert budget.schedule == "linear" and budget.warmup_epochs > 0
        assert budget.train_subset is None and budget.test_subset is None
        grid = budget.lr_grid
        assert len(grid) >= 4 and all(b / a == pytest.approx(10 / 3) or b / a == pytest.approx(3)
                                      for a, b in zip(grid, grid[1:]))
        assert len(v2.noise_lr_grids[dataset]) >= 3
        assert set(v2.epoch_pilot[dataset].candidates) >= {10, 20}
    cifar = v2.budgets["cifar10"]
    assert (cifar.model, cifar.augment_translate, cifar.tta_flip) == ("airbench_quarter", 2, True)
    configs = experiment_configs("accuracy", "full2", seeds=[2]) + experiment_configs("noise", "full2", seeds=[2])
    assert {c.threads for c in configs} == {1}


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


# ---- fields a pre-registered protocol fixes (protocol v2); each defaults to what the older profiles do ----


def test_a_profile_s_threads_go_into_every_run_and_its_hash_and_none_leaves_both_as_they_were():
    from sigmse.config import RunConfig, config_from_dict
    from sigmse.runs.profiles import Budget
    from sigmse.unification.config import unification_config_from_dict

    smoke = get_profile("smoke")
    fixed = replace(smoke, threads=1)
    for name in ("accuracy", "noise", "lr_sweep"):
        before, after = experiment_configs(name, smoke), experiment_configs(name, fixed)
        assert all(c.threads is None and "threads" not in c.to_dict() for c in before)
        assert all(c.threads == 1 and c.to_dict()["threads"] == 1 for c in after)
        assert [c.with_(threads=None).hash for c in after] == [c.hash for c in before]
        assert not {c.hash for c in before} & {c.hash for c in after}
        assert all(config_from_dict(c.to_dict()) == c for c in after)  # a record rebuilds its config
    unification = unification_configs(fixed)
    assert {c.threads for c in unification} == {1} and {c.threads for c in unification_configs(smoke)} == {None}
    assert all(unification_config_from_dict(c.to_dict()) == c for c in unification)
    assert [c.hash for c in unification_configs(smoke)] == [c.with_(threads=None).hash for c in unification]
    with pytest.raises(ValueError, match="threads must be"):
        replace(smoke, threads=0)
    with pytest.raises(ValueError, match="a budget has no field 'threads'"):  # one place: the profile
        Budget("mlp", threads=2)
    assert RunConfig(threads=2).hash != RunConfig().hash


def test_noise_runs_take_per_dataset_grids_losses_and_settings_and_a_setting_can_share_another_s_rates():
    """CIFAR-10 under protocol v2: symmetric 0.4 for five losses, each choosing its rate from a grid of its own;
    symmetric 0.8 at the rates chosen at 0.4, so it has no selection runs; the accuracy runs keep three losses."""
    from sigmse.runs.profiles import noise_shared_rates

    full = get_profile("full")
    noisy = ("softmax_ce", "sigmoid_mse", "sigmoid_mse_or", "gce", "symmetric_ce")
    v2 = replace(full, noise_lr_grids={"cifar10": (1e-3, 3e-3, 1e-2)}, noise_losses={"cifar10": noisy},
                 dataset_symmetric_rates={"cifar10": (0.4, 0.8)},
                 noise_shared_rates={"cifar10": {"symmetric 0.8": "symmetric 0.4"}})
    cifar = experiment_configs("noise", v2, datasets=["cifar10"], seeds=v2.selection_seeds)
    assert {(c.label_noise, c.label_noise_rate) for c in cifar} == {("symmetric", 0.4)}
    assert {c.loss for c in cifar} == set(noisy) and {c.lr for c in cifar} == {1e-3, 3e-3, 1e-2}
    assert len(cifar) == 5 * 3 * 2
    shared = noise_shared_rates(v2, datasets=["cifar10"])
    assert [(s.config.loss, s.config.label_noise_rate, s.source.label_noise_rate) for s in shared] == [
        (loss, 0.8, 0.4) for loss in noisy]
    assert {c.loss for c in experiment_configs("accuracy", v2, datasets=["cifar10"])} == set(
        full.dataset_losses["cifar10"])
    mnist = experiment_configs("noise", v2, datasets=["mnist"])  # a dataset absent from the new fields: as before
    assert [c.hash for c in mnist] == [c.hash for c in experiment_configs("noise", full, datasets=["mnist"])]
    assert noise_shared_rates(full) == []


def test_new_profile_fields_are_checked_with_messages_that_name_the_bad_value():
    from sigmse.runs.profiles import EpochPilot

    smoke = get_profile("smoke")
    with pytest.raises(ValueError, match="noise setting of mnist 'asymmetric 0.3' is not allowed; choose one of: "
                                         "clean, symmetric 0.4, asymmetric 0.4, input 0.4"):
        replace(smoke, noise_shared_rates={"mnist": {"asymmetric 0.3": "symmetric 0.4"}})
    with pytest.raises(ValueError, match="takes its rates from 'symmetric 0.4', which takes its own from 'clean'"):
        replace(smoke, noise_shared_rates={"mnist": {"asymmetric 0.4": "symmetric 0.4", "symmetric 0.4": "clean"}})
    with pytest.raises(ValueError, match="noise loss 'focal' is not allowed"):
        replace(smoke, noise_losses={"mnist": ("focal",)})
    with pytest.raises(ValueError, match="epoch_pilot dataset 'svhn' is not allowed; choose one of: mnist"):
        replace(smoke, epoch_pilot={"svhn": EpochPilot(1e-3, (1, 2))})
    with pytest.raises(ValueError, match="lr_grid_extensions must be"):
        replace(smoke, lr_grid_extensions=-1)
    for name in ("smoke", "quick", "full"):  # every older profile keeps today's behaviour (paper: v2, issue 24)
        profile = get_profile(name)
        assert (profile.threads, profile.lr_grid_extensions, profile.noise_lr_grids, profile.noise_losses,
                profile.dataset_symmetric_rates, profile.noise_shared_rates, profile.epoch_pilot,
                profile.noise_pilot) == (None, 0, {}, {}, {}, {}, {}, {})
