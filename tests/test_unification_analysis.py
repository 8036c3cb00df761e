"""Tests of sigmse.report.unification on synthetic records with a known truth: identical methods over many
seeds are equivalent, a shifted one is worse, one seed is inconclusive; the table, the learning-rate choice (on
validation only, reported with fresh seeds) and its table, and the verdict lines."""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import pytest

from sigmse.report import unification as ua
from sigmse.runs.profiles import get_profile
from sigmse.runs.protocol import report_configs
from sigmse.unification.config import CLASSIFYING, METHODS, REGRESSING, UnificationConfig, validation_score

VERDICT_WORDS = ("better", "worse", "equivalent", "not worse")


def record(method: str, seed: int, acc: float, rmse: float, lr: float = 1e-3, status: str = "ok") -> dict:
    config = UnificationConfig(method=method, lr=lr, seed=seed, device="cpu")
    metrics = {"train_seconds": 3.0}
    if status == "ok":
        if method in CLASSIFYING:
            metrics.update(test_acc=acc, val_acc=acc)
        if method in REGRESSING:
            metrics.update(test_rmse_angle=rmse, test_r2_angle=1 - (rmse / 26.0) ** 2, val_r2_angle=0.5)
    history = [{"seconds": 1.0}, {"seconds": 5.0}, {"seconds": 1.0 + seed}]  # median: 1 + seed
    provenance = {"device_name": "cpu", "git_commit": "abc", "git_dirty": False, "torch_version": "2"}
    return {"status": status, "config": config.to_dict(), "metrics": metrics, "history": history,
            "provenance": provenance}


def synthetic(seeds: Sequence[int], acc_shift: dict | None = None, noise: float = 0.001, seed: int = 0) -> list[dict]:
    """Every method with the same per-seed accuracy (0.9 + a seed effect) and RMSE (10 + a seed effect), plus a
    small independent noise per run; ``acc_shift`` moves a method's accuracy."""
    rng = np.random.default_rng(seed)
    effects = {s: rng.normal(0, 0.01) for s in seeds}  # shared by every method of a seed: pairing removes it
    return [record(m, s, 0.9 + effects[s] + (acc_shift or {}).get(m, 0.0) + rng.normal(0, noise),
                   10.0 + 100 * effects[s] + rng.normal(0, 100 * noise))
            for m in METHODS for s in seeds]


def test_identical_methods_over_many_seeds_are_equivalent():
    tests = ua.unification_tests(synthetic(range(30)))
    assert len(tests) == len(ua.COMPARISONS) == 8
    assert (tests.family_size == 8 * 4).all()  # four hypotheses per non-inferiority comparison, adjusted together
    assert list(tests.verdict) == ["equivalent"] * 8
    assert set(tests.margin[tests.metric == "test_acc"]) == {0.005}  # verdicts.ACCURACY_MARGINS["mnist"]
    assert set(tests.margin[tests.metric == "test_rmse_angle"]) == {ua.ANGLE_RMSE_MARGIN}
    line = ua.unification_verdict(tests)
    assert line.startswith("accuracy equivalent (within ±0.50 pp): ") and "; angle RMSE equivalent (within ±1.00°): " in line
    assert line.endswith(", 30 seeds")


def test_a_shifted_method_is_worse_where_shifted_only():
    tests = ua.unification_tests(synthetic(range(10), acc_shift={"unified_mse_or": -0.02}))
    verdict = {(r.method, r.baseline, r.metric): r.verdict for r in tests.itertuples()}
    assert verdict[("unified_mse_or", "separate_heads", "test_acc")] == "worse"
    assert verdict[("unified_mse_or", "classifier_only", "test_acc")] == "worse"
    assert verdict[("unified_mse_or", "separate_heads", "test_rmse_angle")] == "equivalent"
    assert verdict[("unified_mse", "separate_heads", "test_acc")] == "equivalent"
    row = tests[(tests.method == "unified_mse_or") & (tests.baseline == "separate_heads")
                & (tests.metric == "test_acc")].iloc[0]
    assert row.mean_diff == pytest.approx(-0.02, abs=0.002) and row.ci95_high < 0
    assert re.fullmatch(r"accuracy worse: −[12]\.\d\d pp \[−\d\.\d\d, −\d\.\d\d\], 10 seeds; "
                        r"angle RMSE equivalent \(within ±1\.00°\): .*, 10 seeds", ua.unification_verdict(tests))
    shown = ua.verdict_display(tests)
    assert list(shown.columns) == ["measure", "difference [95% CI]", "p (Holm)", "verdict"]
    assert shown.loc["unified + OR vs separate heads", "verdict"].tolist() == ["worse", "equivalent (within ±1.00°)"]


def test_a_lower_rmse_is_better():
    records = synthetic(range(10))
    for r in records:
        if r["config"]["method"] == "unified_mse":
            r["metrics"]["test_rmse_angle"] -= 3.0  # lower RMSE: better
    tests = ua.unification_tests(records)
    row = tests[(tests.method == "unified_mse") & (tests.baseline == "regressor_only")].iloc[0]
    assert row.verdict == "better" and row.mean_diff == pytest.approx(-3.0, abs=0.2)


def test_the_smoke_profiles_single_reporting_seed_is_inconclusive_everywhere():
    seeds = get_profile("smoke").report_seeds
    assert len(seeds) == 1
    tests = ua.unification_tests(synthetic(seeds))
    assert set(tests.verdict) == {"inconclusive"} and (tests.n_pairs == 1).all()
    for line in (ua.unification_verdict(tests), ua.unification_verdict(tests, "unified_mse"),
                 ua.unification_versus_single(tests)):
        assert line.count("inconclusive") == 2 and not any(word in line for word in VERDICT_WORDS), line
        assert "1 seed (a paired test needs two)" in line
    assert set(ua.verdict_display(tests)["p (Holm)"]) == {"—"}


def test_diverged_runs_are_left_out_and_noted_and_duplicates_refused():
    records = synthetic(range(5))
    records[0] = record("unified_mse", 0, 0.0, 0.0, status="diverged")
    tests = ua.unification_tests(records)
    assert (tests[tests.method == "unified_mse"].n_pairs == 4).all()
    assert "1 pair(s) without a value" in ua.verdict_display(tests).loc["unified vs separate heads", "note"].iloc[0]
    with pytest.raises(ValueError, match="more than one run per method and seed"):
        ua.unification_tests(records + [record("unified_mse", 1, 0.9, 10.0, lr=3e-3)])


def test_table_display_and_numbers():
    records = [record(m, s, 0.9 + 0.002 * s, 10.0 + 0.1 * s) for m in METHODS for s in (0, 1)]
    table = ua.unification_table(records)
    assert list(table.index) == list(METHODS) and (table.runs == 2).all() and (table.lr == 1e-3).all()
    assert table.loc["separate_heads", "acc_mean"] == pytest.approx(0.901)
    assert table.loc["separate_heads", "seconds_mean"] == pytest.approx(1.5)  # mean over seeds of the medians
    shown = ua.unification_display(table)
    assert list(shown.columns) == ["lr", "runs", "accuracy (%)", "angle RMSE (°)", "s / epoch"]
    assert shown.loc["classifier alone", "angle RMSE (°)"] == "—"
    assert shown.loc["unified", "accuracy (%)"] == "90.10 ± 0.14"
    numbers = ua.unification_numbers(table)
    assert numbers["unified_mse_acc"] == pytest.approx(90.1) and type(numbers["unified_mse_acc"]) is float
    assert numbers["regressor_only_lr"] == 1e-3


def test_selection_display_shows_mean_validation_scores_and_the_choice():
    records = [record("classifier_only", s, acc, 0.0, lr=lr)
               for lr, accs in ((1e-3, (0.91, 0.91)), (3e-3, (0.955, 0.955))) for s, acc in zip((0, 1), accs)]
    records += [record("classifier_only", 0, 0.0, 0.0, lr=1e-2, status="diverged"),
                record("classifier_only", 1, 0.99, 0.0, lr=1e-2)]
    shown = ua.selection_display(records)
    # scores: 0.9, 0.95, and (0 + 0.9889) / 2 = 0.494 for the rate that diverged once
    assert shown.loc["classifier alone"].tolist() == ["0.900", "0.950", "0.494", "0.003"]
    assert list(shown.columns) == ["0.001", "0.003", "0.01", "chosen"]


class ValidationOnly(dict):
    """Metrics that fail the test if anything reads a test metric."""

    def __getitem__(self, key):
        assert not key.startswith("test_"), f"the learning-rate choice read {key}"
        return super().__getitem__(key)

    def get(self, key, default=None):
        assert not key.startswith("test_"), f"the learning-rate choice read {key}"
        return super().get(key, default)


def test_choice_picks_the_best_validation_rate_reads_no_test_metric_and_reports_with_fresh_seeds():
    selection = [UnificationConfig(method=m, lr=lr, seed=s, device="cpu")
                 for m in METHODS for lr in (1e-3, 3e-3, 1e-2) for s in (0, 1)]
    # validation accuracy per (lr, seed); the test accuracy would pick 1e-2 everywhere
    val = {(1e-3, 0): 0.80, (1e-3, 1): 0.82, (3e-3, 0): 0.85, (3e-3, 1): 0.84, (1e-2, 0): 0.95, (1e-2, 1): None}
    tie = {1e-3: 0.90, 3e-3: 0.90, 1e-2: 0.70}  # the classifier: a tie between 1e-3 and 3e-3

    def record(config):
        if config.method == "classifier_only":
            acc = tie[config.lr]
        else:
            acc = val[(config.lr, config.seed)]
        if acc is None:  # 1e-2 diverges with seed 1: scores 0, so its mean (0.95 + 0) / 2 loses
            return {"status": "diverged", "metrics": ValidationOnly(test_acc=1.0)}
        return {"status": "ok", "metrics": ValidationOnly(val_acc=acc, val_r2_angle=acc, test_acc=1.0,
                                                          test_rmse_angle=0.0, test_r2_angle=1.0)}

    records = [record(c) for c in selection]
    chosen = ua.chosen_rates_by_method(selection, records)
    assert chosen == {"unified_mse": 3e-3, "unified_mse_or": 3e-3, "separate_heads": 3e-3, "classifier_only": 1e-3,
                      "regressor_only": 3e-3}
    report = report_configs(selection, records, report_seeds=(2, 3, 4), score=validation_score)
    assert len(report) == len(METHODS) * 3
    assert {(c.method, c.lr, c.seed) for c in report} == {(m, chosen[m], s) for m in METHODS for s in (2, 3, 4)}
    assert all(c.with_(lr=1e-3, seed=0) in selection for c in report)  # only lr and seed changed
    with pytest.raises(ValueError, match=r"reporting seeds \[1\] are also selection seeds"):
        report_configs(selection, records, report_seeds=(1, 2), score=validation_score)


def test_the_chapter_gives_each_part_of_the_page_its_values_and_tables():
    """UnificationChapter: the glue keys of the page, read from the records (seeds, threads, budget), the smoke
    warning under the provenance line, and each table and the figure from the functions above."""
    def timed(r: dict) -> dict:
        return {**r, "metrics": {**r["metrics"], "n_train": 500, "n_test": 200},
                "provenance": {**r["provenance"], "torch_threads": 2}}

    selection = [timed(record(m, s, 0.9, 10.0, lr=lr)) for m in METHODS for s in (0, 1) for lr in (1e-3, 3e-3)]
    report = [timed(r) for r in synthetic((5, 6, 7), seed=1)]
    chapter = ua.UnificationChapter(selection, report, profile="smoke")
    part = chapter.protocol()
    first = report[0]["config"]
    assert list(part.values) == [
        "n_selection_runs", "n_report_runs", "selection_seeds_text", "report_seeds_text", "n_report_seeds",
        "threads_text", "lr_grid_text", "epochs", "batch_size", "max_angle", "val_size", "n_train", "n_test",
        "zero_rmse", "provenance", "profile_note"]
    assert (part.values["n_selection_runs"], part.values["n_report_runs"]) == (2 * 2 * len(METHODS), 3 * len(METHODS))
    assert (part.values["selection_seeds_text"], part.values["report_seeds_text"]) == ("0, 1", "5, 6, 7")
    assert part.values["threads_text"] == "2" and part.values["n_train"] == 500 and part.values["n_test"] == 200
    assert part.values["lr_grid_text"] == ", ".join(f"{lr:g}" for lr in get_profile("smoke").budgets["mnist"].lr_grid)
    assert part.values["zero_rmse"] == pytest.approx(first["max_angle"] / 3 ** 0.5)
    assert part.text == f"{part.values['provenance']}\n{part.values['profile_note']}" and "smoke" in part.text
    assert ua.UnificationChapter(selection, report, profile="quick").protocol().values["profile_note"] == ""
    shown, edges = chapter.learning_rates().tables
    assert shown.data.equals(ua.selection_display(selection)) and "selection seeds 0, 1" in shown.caption
    # the smoke grid has two rates, so every method's choice is an edge of it, and no rate was added
    assert sorted(edges["method"]) == sorted(METHODS) and set(edges["edge"]) <= {"smallest", "largest"}
    assert chapter.learning_rates().values["unification_edge_rule"] == (
        f"All {len(METHODS)} methods tried the rates of their dataset's grid and no others; {len(METHODS)} of the "
        f"{len(METHODS)} chosen rates are the smallest or largest tried, so the best rate may lie beyond (listed "
        "below).")
    (shown,) = chapter.results_table().tables
    assert shown.data.equals(ua.unification_display(ua.unification_table(report)))
    assert list(chapter.results_figure().values) == ["unification_figure"]
    part = chapter.paired_tests()
    tests = ua.unification_tests(report)
    assert part.values["n_comparisons"] == len(tests) == len(ua.COMPARISONS)
    assert part.values["n_tests"] == int(tests.family_size.iloc[0]) and part.values["acc_margin"] == pytest.approx(0.5)
    assert part.values["unification_verdict"] == ua.unification_verdict(tests)
    numbers = ua.unification_numbers(ua.unification_table(report))
    assert all(part.values[key] == value or math.isnan(value) and math.isnan(part.values[key])
               for key, value in numbers.items())
