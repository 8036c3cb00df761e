"""Tests of sigmse.report.convergence on made-up validation curves whose truth is known: a level reached by neither loss
is censored and inconclusive (never "as fast"), identical curves are equivalent, a loss twice as slow is worse."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sigmse.report import convergence, verdicts


def _record(loss: str, seed: int, values: list[float], dataset: str = "mnist", seconds_per_step: float = 0.01,
            steps_per_eval: int = 100) -> dict:
    curve = [{"step": (i + 1) * steps_per_eval, "epoch": (i + 1) / 4, "val_acc": v,
              "train_seconds": (i + 1) * steps_per_eval * seconds_per_step} for i, v in enumerate(values)]
    return {"hash": f"{loss}-{seed}-{dataset}", "status": "ok", "curve": curve,
            "config": {"dataset": dataset, "loss": loss, "loss_options": {}, "lr": 0.1, "seed": seed}}


def _levels(level: float, dataset: str = "mnist") -> pd.DataFrame:
    return pd.DataFrame({"dataset": [dataset], "fraction": [0.99], "best": [level / 0.99], "level": [level]})


def _family(records: list[dict], level: float) -> pd.DataFrame:
    curves = convergence.curve_frame(records)
    times = convergence.time_to_level(curves, _levels(level))
    return verdicts.holm_verdicts(pd.concat([
        convergence.area_tests(curves).assign(measure="area"),
        convergence.time_tests(times, "step").assign(measure="steps"),
        convergence.time_tests(times, "train_seconds").assign(measure="seconds")], ignore_index=True))


RISING = [0.5, 0.8, 0.9, 0.95, 0.96, 0.97, 0.975, 0.98]


def test_time_to_level_is_the_first_evaluation_at_or_above_it_and_never_is_censored():
    records = [_record("softmax_ce", 0, RISING), _record("sigmoid_mse_or", 0, [0.1] * 8)]
    times = convergence.time_to_level(convergence.curve_frame(records), _levels(0.95)).set_index("loss")
    assert times.loc["softmax_ce", "step"] == 400 and times.loc["softmax_ce", "train_seconds"] == pytest.approx(4.0)
    assert not times.loc["sigmoid_mse_or", "reached"] and math.isnan(times.loc["sigmoid_mse_or", "step"])


def test_a_level_neither_loss_reached_is_censored_and_inconclusive_never_as_fast():
    rng = np.random.default_rng(0)
    records = [_record(loss, s, list(0.5 + rng.normal(0, 0.01, 8))) for loss in ("softmax_ce", "sigmoid_mse_or")
               for s in range(6)]
    family = _family(records, level=0.99)
    for measure in ("steps", "seconds"):
        row = family[family["measure"] == measure].iloc[0]
        assert row["verdict"] == "inconclusive" and row["n_pairs"] == 0
        assert "neither reached" in row["note"]


def test_identical_curves_over_many_seeds_are_equivalent():
    records = [_record(loss, s, RISING) for loss in ("softmax_ce", "sigmoid_mse_or") for s in range(8)]
    family = _family(records, level=0.95).set_index("measure")
    assert family.loc["area", "verdict"] == "equivalent"
    assert family.loc["steps", "verdict"] == "equivalent" and family.loc["steps", "mean_diff"] == 0.0


def test_a_loss_twice_as_slow_is_worse_in_steps_and_its_ratio_reads_two():
    rng = np.random.default_rng(1)
    records = []
    for s in range(8):
        fast = list(np.minimum(1, np.array(RISING) + rng.normal(0, 0.002, 8)))
        records.append(_record("softmax_ce", s, fast, steps_per_eval=100))
        records.append(_record("sigmoid_mse_or", s, fast, steps_per_eval=200))  # same curve, twice the steps
    family = _family(records, level=0.95).set_index("measure")
    steps = family.loc["steps"]
    assert steps["verdict"] == "worse"
    assert convergence.ratio_text(steps).startswith("\u00d72.00")


def test_censoring_on_one_side_uses_the_sign_test_which_never_says_equivalent():
    """OR reaches the level in every pair, CE never: the sign test, 8 of 8 first, p = 1/256 one-sided."""
    records = [r for s in range(8) for r in (_record("sigmoid_mse_or", s, RISING), _record("softmax_ce", s, [0.5] * 8))]
    curves = convergence.curve_frame(records)
    row = convergence.time_tests(convergence.time_to_level(curves, _levels(0.95)), "step").iloc[0]
    assert row["p_better"] == pytest.approx(1 / 256) and math.isnan(row["p_equivalent"])
    assert row["note"].startswith("censored: sign test over 8 pair(s), 8 first")
    assert verdicts.holm_verdicts(pd.DataFrame([row]))["verdict"].tolist() == ["better"]


def test_levels_come_from_the_selection_runs_at_the_chosen_rates():
    selection = pd.DataFrame({"dataset": "mnist", "loss": ["a", "a", "b", "b"], "lr": [0.1, 1.0, 0.1, 1.0],
                              "val_acc": [0.90, 0.99, 0.95, 0.50]})
    report = pd.DataFrame({"dataset": "mnist", "loss": ["a", "b"], "lr": [0.1, 0.1]})  # a's 0.99 was not chosen
    levels = convergence.validation_levels(selection, report, [0.5, 1.0])
    assert levels["best"].tolist() == [0.95, 0.95] and levels["level"].tolist() == pytest.approx([0.475, 0.95])
    with pytest.raises(ValueError, match=r"fraction.* 1\.5"):
        convergence.validation_levels(selection, report, [1.5])


def test_a_record_without_a_curve_is_refused():
    record = _record("softmax_ce", 0, RISING)
    del record["curve"]
    with pytest.raises(ValueError, match="no validation curve"):
        convergence.curve_frame([record])


def test_summary_and_table_read_the_family():
    records = [_record(loss, s, RISING) for loss in ("softmax_ce", "sigmoid_mse_or") for s in range(8)]
    family = _family(records, level=0.95)
    text = convergence.convergence_summary(family)
    assert text.startswith("area under the validation curve: mnist equivalent") and "same" not in text
    table = convergence.verdict_table(family)
    assert list(table.columns) == ["pairs", "effect", "p (Holm)", "verdict"]
    summary = convergence.time_summary(convergence.time_to_level(convergence.curve_frame(records), _levels(0.95)))
    assert summary.loc[("mnist", "99%"), "softmax_ce"] == "400 (8/8)"


# -- seconds only where the machine was shared evenly (machine_share) -----------------------------------------


def _timed(loss: str, seed: int, epoch_seconds: list[float], threads: int | None = 1, dataset: str = "mnist",
           values: list[float] = RISING) -> dict:
    """A reporting record whose epochs took ``epoch_seconds`` (history) with ``threads`` torch threads."""
    record = _record(loss, seed, values, dataset=dataset)
    record["history"] = [{"epoch": e + 1, "seconds": s} for e, s in enumerate(epoch_seconds)]
    record["provenance"] = {} if threads is None else {"torch_threads": threads}
    return record


def test_seconds_are_judged_only_where_each_loss_kept_its_pace_on_one_thread_count():
    """MNIST: every epoch of each loss within 1.1 of its fastest, one thread count: even, though OR's epochs are
    slower than CE's (a dearer step is what seconds should show). Fashion-MNIST: one CE epoch 1.5 times its
    fastest: uneven. CIFAR-10: CE with 1 thread, OR with 2: uneven. A record without a thread count: uneven."""
    records = [r for s in range(4) for r in (
        _timed("softmax_ce", s, [1.0, 1.05, 1.1]), _timed("sigmoid_mse_or", s, [1.3, 1.35, 1.3]),
        _timed("softmax_ce", s, [1.0, 1.5 if s == 2 else 1.0, 1.0], dataset="fashion-mnist"),
        _timed("sigmoid_mse_or", s, [1.0, 1.0, 1.0], dataset="fashion-mnist"),
        _timed("softmax_ce", s, [30.0] * 3, dataset="cifar10"),
        _timed("sigmoid_mse_or", s, [30.0] * 3, threads=2, dataset="cifar10"))]
    share = convergence.machine_share(records)
    assert list(share["dataset"].unique()) == ["mnist", "fashion-mnist", "cifar10"]
    even = share.groupby("dataset", sort=False)["even"].all()
    assert even.to_dict() == {"mnist": True, "fashion-mnist": False, "cifar10": False}
    mnist = share.set_index(["dataset", "loss"]).loc["mnist"]
    assert mnist.loc["softmax_ce", "spread"] == pytest.approx(1.1) and mnist.loc["sigmoid_mse_or", "runs"] == 4
    assert share.set_index(["dataset", "loss"]).loc[("cifar10", "softmax_ce"), "threads"] == (1, 2)
    note = convergence.seconds_note(share)
    assert note.startswith("Seconds to a level are reported for mnist, where the runs compared shared the machine")
    assert "fashion-mnist (softmax CE's slowest epoch took 1.50 times its fastest)" in note
    assert "cifar10 (its runs trained with 1 and 2 torch threads)" in note
    unrecorded = convergence.machine_share([_timed("softmax_ce", 0, [1.0]), _timed("sigmoid_mse_or", 0, [1.0], None)])
    assert not unrecorded["even"].any()
    assert "did not record its torch thread count" in convergence.seconds_note(unrecorded)
    assert convergence.share_table(share).iloc[0].tolist()[:3] == [4, "1", "not recorded"]


def test_seconds_are_not_judged_where_the_compared_runs_ran_on_two_kinds_of_processor():
    """Even pace and one thread count on both datasets, but Fashion-MNIST's OR runs ran on another kind of
    processor than its CE runs: another machine, so its seconds are withheld; MNIST's runs all name one."""
    def on(record: dict, cpu: str) -> dict:
        record["provenance"]["processor"] = f"{cpu}; torch AVX512; avx2 fma"
        return record

    records = [r for s in range(4) for r in (
        on(_timed("softmax_ce", s, [1.0, 1.0]), "AMD EPYC"), on(_timed("sigmoid_mse_or", s, [1.2, 1.2]), "AMD EPYC"),
        on(_timed("softmax_ce", s, [1.0, 1.0], dataset="fashion-mnist"), "Intel Xeon"),
        on(_timed("sigmoid_mse_or", s, [1.0, 1.0], dataset="fashion-mnist"), "AMD EPYC"))]
    share = convergence.machine_share(records)
    assert share.groupby("dataset", sort=False)["even"].all().to_dict() == {"mnist": True, "fashion-mnist": False}
    note = convergence.seconds_note(share)
    assert ("fashion-mnist (its runs trained on AMD EPYC; torch AVX512 and on Intel Xeon; torch AVX512)" in note
            and "one kind of processor" in note)
    assert convergence.share_table(share)["processors"].tolist() == [1, 1, 2, 2]


def test_the_family_tests_seconds_only_for_evenly_shared_datasets_and_the_summary_says_so():
    """Same curves and pace on two datasets; the second's CE runs had one slow epoch. Steps are judged on both,
    seconds on the first only, and the family (Holm) holds only the hypotheses tested."""
    records = [r for dataset in ("mnist", "cifar10") for s in range(8) for r in (
        _timed("softmax_ce", s, [1.0, 3.0 if dataset == "cifar10" else 1.0], dataset=dataset),
        _timed("sigmoid_mse_or", s, [1.0, 1.0], dataset=dataset))]
    curves = convergence.curve_frame(records)
    levels = pd.concat([_levels(0.95, "mnist"), _levels(0.95, "cifar10")], ignore_index=True)
    times = convergence.time_to_level(curves, levels)
    share = convergence.machine_share(records)
    assert set(convergence.evenly_timed(times, share)["dataset"]) == {"mnist"}
    family = convergence.convergence_family(curves, times, share)
    assert sorted(zip(family["measure"], family["dataset"])) == [
        ("area", "cifar10"), ("area", "mnist"), ("seconds", "mnist"), ("steps", "cifar10"), ("steps", "mnist")]
    assert family["n_pairs"].dtype.kind == "i"
    everything = convergence.convergence_family(curves, times)  # no share: seconds of every dataset
    assert (everything["measure"] == "seconds").sum() == 2
    assert family["family_size"].iloc[0] < everything["family_size"].iloc[0]
    summary = convergence.convergence_summary(family, share)
    assert summary.endswith("seconds not reported for cifar10 (uneven machine share)")
    assert "seconds not reported" not in convergence.convergence_summary(everything)


# -- the epoch budget's plateau rule (validation_plateau), on records shaped like results/full/*.json ----------


def _run(dataset: str, loss: str, seed: int, val_accs: list[float], status: str = "ok") -> dict:
    """A stored record with one history entry per epoch (the keys the trainer writes), validation accuracy as given."""
    history = [{"epoch": e + 1, "lr": 1e-3, "reset_fraction": None, "seconds": 1.0, "test_acc": v, "train_acc": v,
                "train_loss": 1.0 - v, "val_acc": v} for e, v in enumerate(val_accs)]
    config = {"dataset": dataset, "loss": loss, "loss_options": {}, "lr": 1e-3, "seed": seed, "epochs": len(val_accs),
              "label_noise": "none", "label_noise_rate": 0.0, "input_noise_sigma": 0.0}
    return {"hash": f"{dataset}-{loss}-{seed}", "status": status, "config": config, "history": history,
            "metrics": {"val_acc": val_accs[-1], "test_acc": val_accs[-1]}}


def _rising(end_gain: float, epochs: int = 12, seed_shift: float = 0.0) -> list[float]:
    """0.9 at epoch 1, a quick rise to 0.97 at 3/4 of the budget, then ``end_gain`` more, linearly, to the end."""
    start = math.ceil(convergence.PLATEAU_START * epochs)
    early = list(np.linspace(0.9, 0.97, start))
    late = [0.97 + end_gain * (e - start) / (epochs - start) for e in range(start + 1, epochs + 1)]
    return [v + seed_shift for v in early + late]


def _plateau(records: list[dict], epochs: dict[str, int], **options) -> pd.DataFrame:
    from sigmse.report import analysis

    return convergence.validation_plateau(analysis.history_frame(records), epochs, **options).set_index("dataset")


def test_a_gain_below_a_tenth_of_a_point_over_the_last_quarter_is_flattened_and_above_it_is_not():
    """MNIST gains 0.05 pp from epoch 9 to 12 (flat), Fashion-MNIST 0.3 pp from epoch 15 to 20 (still rising):
    the rule (mean gain < PLATEAU_GAIN) passes the first and fails the second, and reads the right epochs."""
    records = ([_run("mnist", "softmax_ce", s, _rising(0.0005, 12, 0.001 * s)) for s in range(4)]
               + [_run("fashion-mnist", "softmax_ce", s, _rising(0.003, 20, 0.001 * s)) for s in range(4)])
    plateau = _plateau(records, {"mnist": 12, "fashion-mnist": 20})
    assert convergence.PLATEAU_GAIN == pytest.approx(0.001)  # 0.1 pp, as the accuracy chapter states
    assert plateau.loc["mnist", "from_epoch"] == 9 and plateau.loc["fashion-mnist", "from_epoch"] == 15
    assert plateau["gain"].tolist() == pytest.approx([0.0005, 0.003])
    assert plateau["flattened"].tolist() == [True, False]
    assert plateau.loc["mnist", "val_end"] == pytest.approx(0.9705 + 0.0015)  # mean over seeds 0..3 (shift 0.0015)
    assert convergence.plateau_summary(plateau.reset_index()) == (
        "mnist (12 epochs): +0.05 pp over epochs 9 to 12, flattened; "
        "fashion-mnist (20 epochs): +0.30 pp over epochs 15 to 20, not flattened")


def test_the_rule_reads_the_seed_mean_and_its_spread_so_one_late_riser_can_fail_it():
    """Three flat seeds and one that gains 1 pp in the last quarter: the mean gain is 0.25 pp, over the threshold,
    so not flattened, and the range over seeds shows where it comes from."""
    records = [_run("mnist", "softmax_ce", s, _rising(0.0, 12)) for s in range(3)]
    records.append(_run("mnist", "softmax_ce", 3, _rising(0.01, 12)))
    row = _plateau(records, {"mnist": 12}).loc["mnist"]
    assert row["seeds"] == 4 and row["gain"] == pytest.approx(0.0025) and row["flattened"] is not None
    assert not row["flattened"]
    assert row["gain_min"] == pytest.approx(0.0) and row["gain_max"] == pytest.approx(0.01)
    table = convergence.plateau_table(_plateau(records, {"mnist": 12}).reset_index())
    assert table.iloc[0].tolist()[2:] == ["97.00 (epoch 9)", "97.25", "+0.25 [+0.00, +1.00]", "no"]


def test_a_dataset_without_runs_is_not_run_yet_and_a_budget_without_a_last_quarter_cannot_tell():
    """CIFAR-10 not trained yet: a row saying so, no numbers, no verdict. Three epochs (the quick profile): the last
    quarter starts at epoch ceil(2.25) = 3, the last epoch itself, so the rule has nothing to judge."""
    records = [_run("mnist", "softmax_ce", s, [0.9, 0.95, 0.96]) for s in range(2)]
    plateau = _plateau(records, {"mnist": 3, "cifar10": 10})
    assert plateau.loc["cifar10", "runs"] == 0 and plateau.loc["cifar10", "flattened"] is None
    assert math.isnan(plateau.loc["cifar10", "gain"])
    assert plateau.loc["mnist", "flattened"] is None and math.isnan(plateau.loc["mnist", "gain"])
    flags = convergence.plateau_table(plateau.reset_index()).iloc[:, -1].tolist()
    assert flags == ["cannot tell (3 epochs: no last quarter)", "not run yet"]
    assert convergence.plateau_summary(plateau.reset_index()).endswith("cifar10 (10 epochs): not run yet")


def test_only_the_asked_losses_are_judged_and_a_history_of_another_budget_is_refused():
    records = [_run("mnist", loss, s, _rising(0.0, 12)) for loss in ("softmax_ce", "sigmoid_mse_or") for s in range(2)]
    assert list(_plateau(records, {"mnist": 12})["loss"]) == ["softmax_ce"]
    assert list(_plateau(records, {"mnist": 12}, losses=["softmax_ce", "sigmoid_mse_or"])["loss"]) == [
        "softmax_ce", "sigmoid_mse_or"]
    with pytest.raises(ValueError, match="runs end at epoch 12, the budget at 20"):
        _plateau(records, {"mnist": 20})


def test_a_gain_says_more_epochs_would_help_only_at_a_constant_rate():
    """At a constant rate (protocol v1's records) a last-quarter gain means the network was still learning; on a
    decaying schedule (full2's linear decay to zero) the gain comes with the shrinking steps of any budget, so the
    page points to the epoch pilot instead, naming the schedules it read."""
    constant = convergence.plateau_reading(["constant", "constant"])
    assert constant.startswith("Where it says not flattened, softmax CE was still gaining")
    linear = convergence.plateau_reading(pd.Series(["linear", "linear"]))
    assert "linear learning-rate schedule (read from the runs)" in linear and "epoch pilot" in linear
    assert "still gaining" not in linear
    assert "constant and linear learning-rate schedules" in convergence.plateau_reading(["linear", "constant"])
    assert convergence.plateau_reading([]) == "No run has a schedule to read."


# -- the page ------------------------------------------------------------------------------------------------------


def test_the_convergence_page_glues_every_key_the_book_reads_and_the_notebook_shows_every_part():
    """Softmax CE and OR with the same curve over eight reporting seeds: equivalent area and steps, and the page's
    setup read from the runs (two epochs, four evaluations an epoch)."""
    from test_chapters import REPO, page_parts

    from sigmse.runs.experiments import CHAPTERS

    def run(loss: str, seed: int) -> dict:
        record = _timed(loss, seed, [1.0, 1.0])
        record["history"] = [{**entry, "train_loss": 0.5 / entry["epoch"]} for entry in record["history"]]
        record["metrics"] = {"val_acc": RISING[-1]}
        return record

    selection = [run(loss, seed) for loss in ("softmax_ce", "sigmoid_mse_or") for seed in (0, 1)]
    report = [run(loss, seed) for loss in ("softmax_ce", "sigmoid_mse_or") for seed in range(2, 10)]
    chapter = convergence.ConvergenceChapter(selection, report, profile="quick")
    values = page_parts(chapter, REPO / "notebooks" / "convergence.ipynb")
    assert set(CHAPTERS["convergence"].verdict_keys) <= set(values)
    assert (values["epochs_budget"], values["n_seeds"], values["evals_per_epoch"]) == (2, 8, 4)
    assert values["convergence_levels"] == "90%, 95%, 99%" and values["alpha_text"] == "0.05"
    assert values["convergence_verdict"] == chapter.verdict().text
    assert values["convergence_verdict"].startswith("area under the validation curve: mnist equivalent")
    assert values["claim_convergence_mnist"].startswith("equivalent")
    assert values["claim_convergence_mnist_seeds"] == "8" and values["claim_convergence_cifar10"] == "not run"
