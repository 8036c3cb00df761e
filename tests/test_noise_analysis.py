"""Tests of the noise chapter's analysis (sigmse.report.noise_analysis, noise_rules and noise) on made-up records
shaped like results/full/*.json.

The memorisation check (flipped_fit): a loss fits the flipped labels when its seed-mean training accuracy on them
ends at least MEMORISATION_RISE above its lowest epoch; a curve that only falls, or rises by less, does not; a
dataset without label-noise runs says "not run yet". The two reporting rules (NOISE_REPORTING_RULES): the final
epoch, and early stopping at the best noisy-validation epoch (ties: the earlier; the test set never read to
choose). The judged family built on them, the intro's glue keys, and the protocol sentences read from the
records."""

from __future__ import annotations

import math

import pytest

from sigmse.report import analysis, noise, noise_analysis, noise_rules


def _noisy_run(loss: str, seed: int, flipped: list[float], *, dataset: str = "mnist", kind: str = "symmetric",
               rate: float = 0.4) -> dict:
    """A stored label-noise record whose training accuracy on the flipped examples follows ``flipped`` per epoch."""
    history = [{"epoch": e + 1, "lr": 1e-3, "reset_fraction": None, "seconds": 1.0, "test_acc": 0.95,
                "train_acc": (1 - rate) * 0.97 + rate * f, "train_acc_clean": 0.97, "train_acc_flipped": f,
                "train_loss": 0.5, "val_acc": 0.6} for e, f in enumerate(flipped)]
    config = {"dataset": dataset, "loss": loss, "loss_options": {}, "lr": 1e-3, "seed": seed, "epochs": len(flipped),
              "label_noise": kind, "label_noise_rate": rate, "input_noise_sigma": 0.0}
    return {"hash": f"{dataset}-{kind}-{rate}-{loss}-{seed}", "status": "ok", "config": config, "history": history,
            "metrics": {"test_acc": 0.95, "val_acc": 0.6}}


def _fit(records: list[dict], **options):
    memory = noise_analysis.memorisation_history(analysis.history_frame(records))
    return noise_analysis.flipped_fit(memory, **options)


# falls as the true classes are learnt (epoch 1 to 3), then climbs back: the low is 0.01 at epoch 3
DIP_THEN_RISE = [0.10, 0.03, 0.01, 0.02, 0.04, 0.08, 0.12]


def test_a_rise_of_five_points_from_the_lowest_epoch_fits_and_the_first_epoch_is_not_the_reference():
    """Ending at 0.12 from a low of 0.01 is a rise of 11 pp: it fits. Against the first epoch (0.10) it would be
    only 2 pp, so a rule reading the first epoch would fail this test."""
    records = [_noisy_run("softmax_ce", s, [v + 0.002 * s for v in DIP_THEN_RISE]) for s in range(3)]
    row = _fit(records).iloc[0]
    assert noise_analysis.MEMORISATION_RISE == pytest.approx(0.05)  # 5 pp, as the noise chapter states
    assert (row["dataset"], row["setting"], row["loss"]) == ("mnist", "symmetric 0.4", "softmax_ce")
    assert row["lowest_epoch"] == 3 and row["epochs"] == 7 and row["seeds"] == 3
    assert row["acc_lowest"] == pytest.approx(0.012) and row["acc_end"] == pytest.approx(0.122)
    assert row["rise"] == pytest.approx(0.11) and row["rise_min"] == pytest.approx(0.11) and row["fits"]


def test_a_curve_that_only_falls_or_rises_less_than_five_points_does_not_fit():
    """Symmetric 0.8 falls throughout (its low is the last epoch: no rise); asymmetric 0.4 climbs back by 4 pp only.
    Neither fits, and the summary says so per setting, symmetric first."""
    falling = [0.10, 0.06, 0.04, 0.03, 0.02]
    small = [0.30, 0.20, 0.21, 0.22, 0.24]
    records = ([_noisy_run("softmax_ce", s, falling, rate=0.8) for s in range(2)]
               + [_noisy_run("softmax_ce", s, small, kind="asymmetric") for s in range(2)]
               + [_noisy_run("softmax_ce", s, DIP_THEN_RISE[:5] + [0.09, 0.2]) for s in range(2)])
    fit = _fit(records)
    assert fit["setting"].tolist() == ["symmetric 0.4", "symmetric 0.8", "asymmetric 0.4"]
    assert fit["fits"].tolist() == [True, False, False]
    assert fit["rise"].tolist() == pytest.approx([0.19, 0.0, 0.04])
    assert noise_analysis.flipped_fit_summary(fit) == (
        "mnist: yes at symmetric 0.4 (+19.0 pp); no at symmetric 0.8 (+0.0 pp), asymmetric 0.4 (+4.0 pp)")
    table = noise_analysis.flipped_fit_table(fit)
    assert table.iloc[:, -1].tolist() == ["yes", "no", "no"]
    assert table.iloc[2].tolist()[2:5] == ["20.0 (epoch 2)", "24.0", "+4.0 [+4.0, +4.0]"]


def test_only_the_asked_losses_are_read_and_a_dataset_without_noise_runs_is_not_run_yet():
    records = [_noisy_run(loss, 0, DIP_THEN_RISE) for loss in ("softmax_ce", "gce")]
    assert _fit(records)["loss"].tolist() == ["softmax_ce"]
    fit = _fit(records, datasets=["mnist", "fashion-mnist"], losses=["softmax_ce", "gce"])
    assert fit[["dataset", "loss"]].values.tolist() == [["mnist", "softmax_ce"], ["mnist", "gce"],
                                                        ["fashion-mnist", "softmax_ce"], ["fashion-mnist", "gce"]]
    missing = fit[fit["dataset"] == "fashion-mnist"]
    assert (missing["setting"] == "not run yet").all() and missing["fits"].isna().all()
    assert math.isnan(missing["rise"].iloc[0])
    assert noise_analysis.flipped_fit_table(fit).iloc[-1, -1] == "not run yet"
    assert noise_analysis.flipped_fit_summary(fit).endswith("| fashion-mnist: not run yet")


def test_one_epoch_cannot_tell():
    row = _fit([_noisy_run("softmax_ce", 0, [0.1])]).iloc[0]
    assert row["fits"] is None and math.isnan(row["rise"])
    single = _fit([_noisy_run("softmax_ce", 0, [0.1])])
    assert noise_analysis.flipped_fit_table(single).iloc[0, -1] == "cannot tell (one epoch)"
    assert noise_analysis.flipped_fit_summary(single) == "mnist: cannot tell at symmetric 0.4"


# ---------------------------------------------------------------------------------------------
# The two reporting rules (NOISE_REPORTING_RULES) on hand-made histories, and the judged family built on them


def _history(val: list[float], test: list[float], *, loss: str = "softmax_ce", seed: int = 0,
             status: str = "ok", **where) -> dict:
    """A label-noise record whose per-epoch validation and test accuracy follow ``val`` and ``test``."""
    record = _noisy_run(loss, seed, [0.1] * len(val), **where)
    for entry, v, t in zip(record["history"], val, test):
        entry.update(val_acc=v, test_acc=t)
    record["metrics"].update(val_acc=val[-1], test_acc=test[-1])
    record["status"] = status
    return record


def _epochs(records: list[dict], rule: str) -> dict[int, tuple]:
    """seed -> (epoch, val_acc, test_acc) that ``rule`` reports."""
    chosen = noise_rules.reported_epochs(analysis.history_frame(records), rule)
    return {row.seed: (row.epoch, row.val_acc, row.test_acc) for row in chosen.itertuples()}


def test_the_rules_are_fixed_in_code_final_epoch_and_early_stopped():
    assert dict(noise_rules.NOISE_REPORTING_RULES) == {"final": "final epoch", "early": "early stopped"}
    with pytest.raises(ValueError, match=r"reporting rule 'best' is not allowed; choose one of: final, early"):
        noise_rules.reported_epochs(analysis.history_frame([_history([0.5], [0.5])]), "best")


def test_early_stopping_takes_the_best_validation_epoch_and_the_earlier_of_a_tie():
    """Validation peaks at 0.7 on epochs 2 and 4 (a tie): epoch 2 is reported. The final rule reports epoch 5."""
    record = _history([0.5, 0.7, 0.6, 0.7, 0.65], [0.80, 0.81, 0.90, 0.95, 0.85])
    assert _epochs([record], "early") == {0: (2, 0.7, 0.81)}
    assert _epochs([record], "final") == {0: (5, 0.65, 0.85)}


def test_early_stopping_never_reads_the_test_set_to_choose():
    """The test accuracy peaks at another epoch than validation; reversing or scrambling it moves nothing but the
    reported value, read at the validation-chosen epoch."""
    val = [0.40, 0.62, 0.55, 0.50]
    for test in ([0.9, 0.1, 0.2, 0.3], [0.3, 0.2, 0.1, 0.9], [0.5, 0.5, 0.5, 0.5]):
        assert _epochs([_history(val, test)], "early") == {0: (2, 0.62, test[1])}


def test_a_diverged_run_is_reported_under_neither_rule_but_keeps_its_row():
    records = [_history([0.5, 0.6], [0.7, 0.8], seed=0), _history([0.5, float("nan")], [0.7, 0.1], seed=1,
                                                                  status="diverged")]
    for rule in noise_rules.NOISE_REPORTING_RULES:
        chosen = _epochs(records, rule)
        assert chosen[0][0] == 2 and all(math.isnan(value) for value in chosen[1])


def _claim_records(**changes) -> list[dict]:
    """MNIST runs at symmetric 0.4 and 0.8 and asymmetric 0.4 of softmax CE, sigmoid-MSE + OR, GCE, SCE and MAE on
    four seeds, and CIFAR-10 runs at symmetric 0.8 of CE and OR only. OR's validation peaks at epoch 1 and its test
    accuracy falls from there; CE's validation peaks at epoch 3. Seeds wobble a little."""
    val = {"softmax_ce": [0.5, 0.6, 0.7, 0.6], "sigmoid_mse_or": [0.8, 0.7, 0.6, 0.5]}
    test = {"softmax_ce": [0.60, 0.70, 0.80, 0.50], "sigmoid_mse_or": [0.75, 0.70, 0.65, 0.60]}
    records = []
    for dataset, settings, losses in (("mnist", [("symmetric", 0.4), ("symmetric", 0.8), ("asymmetric", 0.4)],
                                       ("softmax_ce", "sigmoid_mse_or", "mae", "gce", "symmetric_ce")),
                                      ("cifar10", [("symmetric", 0.8)], ("softmax_ce", "sigmoid_mse_or"))):
        for (kind, rate), loss, seed in ((s, loss, seed) for s in settings for loss in losses for seed in range(4)):
            wobble = 0.003 * seed * (loss == "sigmoid_mse_or")
            record = _history(val.get(loss, [0.5] * 4), [t + wobble for t in test.get(loss, [0.62] * 4)], loss=loss,
                              seed=seed, dataset=dataset, kind=kind, rate=rate)
            records.append(record)
    return records


def test_the_judged_family_is_the_heaviest_symmetric_rate_and_asymmetric_noise_under_both_rules():
    rules = noise_rules.rule_frame(analysis.history_frame(_claim_records()))
    family = noise_rules.claim_family(rules)
    settings = set(zip(family["dataset"], family["kind"], family["level"]))
    assert settings == {("mnist", "symmetric", 0.8), ("mnist", "asymmetric", 0.4), ("cifar10", "symmetric", 0.8)}
    assert set(family["baseline"]) == {"softmax_ce", "gce", "symmetric_ce"}  # MAE is exploratory only
    assert set(family.loc[family["baseline"] == "softmax_ce", "claim"]) == {"superiority"}
    assert set(family.loc[family["baseline"] != "softmax_ce", "claim"]) == {"noninferiority"}
    cifar = family[family["dataset"] == "cifar10"]
    assert set(cifar["baseline"]) == {"softmax_ce"} and len(cifar) == 2  # no GCE or SCE run there: not judged
    # one Holm family: 2 rules x (2 MNIST settings x (CE: 3 hypotheses + 2 robust x 4) + CIFAR-10 CE: 3)
    assert len(family) == 2 * (2 * 3 + 1) and set(family["family_size"]) == {2 * (2 * (3 + 2 * 4) + 3)}
    versus_ce = family[(family["baseline"] == "softmax_ce") & (family["dataset"] == "mnist")
                       & (family["kind"] == "symmetric")].set_index("rule")
    # final epoch: OR 0.60 + wobble vs CE 0.50; early stopped: OR 0.75 + wobble (epoch 1) vs CE 0.80 (epoch 3)
    assert versus_ce.loc["final epoch", "mean_diff"] == pytest.approx(0.1045)
    assert versus_ce.loc["early stopped", "mean_diff"] == pytest.approx(-0.0455)
    assert versus_ce.loc["final epoch", "verdict"] == "better" and versus_ce.loc["early stopped", "verdict"] == "worse"


def test_the_intro_rows_are_the_keys_the_registry_checks_and_the_summary_says_where_the_rules_disagree():
    from sigmse.runs.experiments import CHAPTERS

    rules = noise_rules.rule_frame(analysis.history_frame(_claim_records()))
    family = noise_rules.claim_family(rules)
    values = noise_rules.claim_glue(family, "claim_noise", "quick")
    assert set(values) | {"noise_verdict", "noise_rules"} == set(CHAPTERS["noise"].verdict_keys)
    assert values["claim_noise_symmetric_setting_mnist"] == "symmetric 0.8"
    assert values["claim_noise_asymmetric_setting_cifar10"] == "asymmetric"  # not run there
    assert values["claim_noise_asymmetric_final_cifar10"] == "not run"
    assert values["claim_noise_symmetric_final_mnist"] == "better"
    assert values["claim_noise_symmetric_early_mnist"] == "worse"
    assert values["claim_noise_symmetric_early_mnist_effect"].startswith("\u22124.55 pp [")
    summary = noise_rules.rules_summary(family, listed=["softmax_ce"])
    assert summary.startswith("The two reporting rules (final epoch; early stopped at the best noisy-validation "
                              "epoch) give different verdicts on ")
    assert ("against softmax CE on mnist at symmetric 0.8 (final epoch: better, +10.45 pp; early stopped: worse, "
            "\u22124.55 pp)") in summary
    assert noise_rules.rules_summary(family.assign(verdict="inconclusive")) == (
        "The two reporting rules (final epoch; early stopped at the best noisy-validation epoch) agree on every one "
        f"of the {len(family) // 2} judged comparisons of sigmoid-MSE + OR.")


# ---------------------------------------------------------------------------------------------
# What the page states about a build is read from its records, not from the profile (the budgets themselves:
# sigmse.report.chapters.budget_text, tests/test_chapters.py and tests/test_full_book.py)


def test_the_learning_rate_sentence_says_when_no_rate_was_chosen():
    report = [_noisy_run("softmax_ce", 2, [0.1])]
    assert noise.learning_rate_protocol([], report).startswith(
        "No learning rate was chosen: the grid has one rate (0.001)")
    selection = [_noisy_run("softmax_ce", seed, [0.1]) for seed in (0, 1)]
    selection[1]["config"]["lr"] = 3e-3
    assert noise.learning_rate_protocol(selection, report).startswith(
        "Each loss trains at every rate of the grid (0.001, 0.003) with the selection seeds (0, 1)")


def _chosen_run(dataset: str, loss: str, seed: int, lr: float) -> dict:
    record = _noisy_run(loss, seed, [0.1], dataset=dataset)
    record["config"]["lr"] = lr
    record["hash"] += f"-{lr:g}"
    return record


def test_each_dataset_states_its_own_grid_without_the_rates_the_grid_edge_rule_added():
    """On MNIST softmax CE was extended to 0.01 and chose 0.003 inside, GCE chose the smallest of its grid; on
    CIFAR-10 softmax CE chose the largest: the sentence gives each dataset's grid, the table the three groups."""
    tried = {("mnist", "softmax_ce"): (1e-3, 3e-3, 1e-2), ("mnist", "gce"): (1e-3, 3e-3),
             ("cifar10", "softmax_ce"): (0.1, 0.3)}
    selection = [_chosen_run(d, loss, seed, lr) for (d, loss), rates in tried.items() for lr in rates
                 for seed in (0, 1)]
    report = [_chosen_run(d, loss, 2, lr) for d, loss, lr in (("mnist", "softmax_ce", 3e-3), ("mnist", "gce", 1e-3),
                                                              ("cifar10", "softmax_ce", 0.3))]
    assert noise.learning_rate_protocol(selection, report).startswith(
        "Each loss trains at every rate of the grid (mnist: 0.001, 0.003; cifar10: 0.1, 0.3) with the selection "
        "seeds (0, 1)")
    part = noise.NoiseChapter(selection, report, profile="full2").chosen_rates()
    assert part.values["edge_rule"] == (
        "The grid-edge rule added rates beyond the grid for 1 of the 3 dataset, setting and loss groups, whose best "
        "rate had sat at an edge; 2 of the 3 chosen rates are the smallest or largest tried, so the best rate may "
        "lie beyond (listed below).")
    assert part.tables[1][["dataset", "setting", "loss", "added", "edge"]].values.tolist() == [
        ["cifar10", "symmetric 0.4", "softmax_ce", "", "largest"], ["mnist", "symmetric 0.4", "gce", "", "smallest"],
        ["mnist", "symmetric 0.4", "softmax_ce", "0.01", ""]]
    without = noise.NoiseChapter([], report, profile="full").chosen_rates()
    assert without.values["edge_rule"].startswith("No rate was chosen") and len(without.tables) == 1


def test_noise_curves_of_runs_with_one_kind_of_noise_hold_only_that_kind():
    """A kind no run trained under adds no rows (it once added a row without a kind per run)."""
    curves = noise_analysis.noise_curves(analysis.records_frame([_noisy_run("softmax_ce", 0, [0.1])]))
    assert curves[["kind", "level"]].values.tolist() == [["symmetric", 0.4]]


def test_the_verdict_prose_prints_not_run_for_a_loss_or_setting_a_build_left_out_never_nan():
    """Only softmax CE ran, under symmetric 0.4 and no input noise: its accuracy is printed, every other loss and
    the test-input sigma say "not run" (a float glued with ``:.2%`` once printed "nan%")."""
    records = [_noisy_run("softmax_ce", seed, [0.1]) for seed in (0, 1)]
    values = noise_analysis.lead_values(noise_analysis.noise_curves(analysis.records_frame(records)), "mnist")
    assert values["top_sym_rate"] == "0.4" and values["acc_sym_softmax_ce"] == "95.00%"
    assert values["acc_sym_gce"] == values["top_sigma"] == values["acc_test_sigma_softmax_ce"] == "not run"
    memory = noise_analysis.memorisation_history(analysis.history_frame(records))
    glued = noise_analysis.memorisation_glue(noise_analysis.memorisation_end(memory), "mnist")
    assert glued["mem_flipped_softmax_ce"] == "10.0%" and glued["mem_flipped_gce"] == "not run"
