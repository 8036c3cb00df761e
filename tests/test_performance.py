"""The performance page's view of a bench record (sigmse.report.performance): the tables, figures and glued
values of each section, checked against the record's own rows. One tiny synthetic record with the smoke profile's
epochs; its numbers are not checked, only that the page quotes them right. Which record the page shows is tested
with the bench (tests/test_bench.py)."""

from __future__ import annotations

import io
import math
from dataclasses import replace

import pytest

pytest.importorskip("seaborn")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from test_bench import TINY  # noqa: E402

from sigmse.bench.run import PROFILE_SECTION, run_bench  # noqa: E402
from sigmse.losses.modules import display_name  # noqa: E402
from sigmse.provenance import processor, processor_kind  # noqa: E402
from sigmse.report import performance  # noqa: E402


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    return run_bench(TINY, "cpu", tmp_path_factory.mktemp("bench"), synthetic=True, threads=1, profile="smoke")


def _render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png", dpi=30)
    assert tuple(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


def test_provenance_and_record_values(record):
    text = performance.record_section(record, made_now=True).text
    assert text.startswith("measured now: bench-tiny-cpu-") and text.endswith("synthetic data")
    assert performance.record_section(record, made_now=False).text.startswith("read: ")
    # a fresh record names its processor's model and torch's CPU capability; one made before that was recorded
    # says so rather than leaving it out
    assert f", {processor_kind(processor())}, torch " in text
    older = {**record, "provenance": {k: v for k, v in record["provenance"].items() if k != "processor"}}
    assert ", processor not recorded, torch " in performance.record_section(older, made_now=False).text
    values = performance.record_section(record, made_now=False).values
    assert values["bench_size"] == "tiny" and values["bench_profile"] == "smoke"
    assert (values["batch"], values["classes_small"], values["classes_large"]) == (64, 10, 100)
    assert values["bench_made"] == "read from an earlier run"


def test_throughput_values_quote_the_rows_of_each_network(record):
    section = performance.throughput_section(record)
    values = section.values
    rows = {(r["model"], r["loop"]): r for r in record["throughput"]}
    assert values["cifar_model"] == "resnet9_small"  # on a CPU
    assert values["ips_sigmse_mlp"] == rows["mlp", "sigmse"]["images_per_s"]
    assert values["speedup0_cnn"] == rows["cnn", "naive, num_workers=0"]["speedup"]
    assert values["speedup_best_cifar"] == rows["resnet9_small", "naive, num_workers=0"]["speedup"]  # TINY: one loop
    assert values["fastest_naive_mlp"] == "naive, num_workers=0"
    assert values["over_floor_mlp"] == rows["mlp", "sigmse"]["over_gemm_floor"]
    assert list(section.tables[0]["run"].unique()) == ["mnist / mlp", "mnist / cnn", "cifar10 / resnet9_small + aug"]
    _render(section.figure)


def test_step_phase_table_and_values_quote_the_phase_rows(record):
    rows = {r["phase"]: r for r in record["step_phases"]}
    section = performance.phase_section(record)
    table = section.tables[0].set_index("phase")
    assert list(table.index) == list(rows)
    assert table.loc["backward", "microseconds_per_step"] == pytest.approx(rows["backward"]["seconds_per_step"] * 1e6)
    assert table.loc["whole step", "over_gemm_floor"] == rows["whole step"]["over_gemm_floor"]
    values = section.values
    assert values["phase_optimizer_us"] == pytest.approx(rows["optimizer step"]["seconds_per_step"] * 1e6)
    assert values["phase_floor_us"] == pytest.approx(rows["whole step"]["gemm_seconds_per_step"] * 1e6)
    assert values["phase_without_optimizer_over_floor"] == pytest.approx(
        rows["whole step"]["over_gemm_floor"] - rows["optimizer step"]["over_gemm_floor"])
    assert (values["phase_steps"], values["phase_passes"]) == (2, 1)


def test_loss_step_and_solver_values_at_the_smallest_and_largest_class_count(record):
    steps = {(r["loss"], r["classes"]): r for r in record["loss_steps"]}
    losses = performance.loss_section(record)
    values = losses.values
    assert values["or_ratio_small"] == steps["sigmoid_mse_or", 10]["ratio"]
    assert values["ce_us_large"] == pytest.approx(steps["softmax_ce", 100]["seconds"] * 1e6)
    assert values["mse_kib_large"] == steps["sigmoid_mse", 100]["saved_bytes"] / 1024
    slowest = max((r for r in record["loss_steps"] if r["classes"] == 100), key=lambda r: r["ratio"])["loss"]
    assert values["slowest_large"] == display_name(slowest)  # the name the book prints, sigmoid-MSE + OR
    table = losses.tables[0]
    assert list(table.columns.get_level_values(0).unique()) == ["microseconds", "ratio", "saved KiB"]  # no GPU peak
    solver = {r["classes"]: r for r in record["output_reset"]}
    solver_section = performance.solver_section(record)
    values = solver_section.values
    assert values["exact_ms_small"] == pytest.approx(1e3 * solver[10]["exact_seconds"])
    assert values["step_ratio_large"] == solver[100]["step_ratio"]
    assert values["share_disagreeing_large"] == solver[100]["share_disagreeing"]
    assert not any(key.startswith(("exact_seconds", "step_seconds")) for key in values)
    fig = losses.figure
    assert len(fig.axes) == 2
    _render(fig)
    _render(solver_section.figure)


def test_epoch_scaling_and_target_values(record):
    epochs = performance.epoch_section(record)
    values = epochs.values
    rows = {(r["dataset"], r["loss"]): r for r in record[PROFILE_SECTION]}
    assert values["epoch_fashion_mnist_or"] == rows["fashion-mnist", "sigmoid_mse_or"]["seconds_per_epoch"]
    assert values["epoch_cifar10_n"] == 256 and values["epoch_cifar10_model"] == "resnet9_small"  # the smoke budget
    ratios = [rows[d, "sigmoid_mse_or"]["seconds_per_epoch"] / rows[d, "softmax_ce"]["seconds_per_epoch"]
              for d in ("mnist", "fashion-mnist", "cifar10")]
    assert (values["epoch_or_over_ce_min"], values["epoch_or_over_ce_max"]) == pytest.approx((min(ratios), max(ratios)))
    scaling_section = performance.scaling_section(record)
    scaling = scaling_section.values
    assert (scaling["scaling_small_n"], scaling["scaling_large_n"]) == (128, 256)
    target_section = performance.target_section(record)
    targets = target_section.values
    assert targets["target_cifar_gpu_speedup"].startswith("not measured here: needs a GPU run")
    measured = [t for t in record["targets"] if t["met"] is not None]
    assert targets["targets_met"] == f"{sum(t['met'] for t in measured)} of {len(measured)} measured targets met"
    assert list(target_section.tables[0]["key"]) == [t["key"] for t in record["targets"]]
    _render(epochs.figure)
    _render(scaling_section.figure)
    with pytest.raises(ValueError, match=r"has no 'profile_epochs': it was made without a profile"):
        performance.epoch_section({k: v for k, v in record.items() if k != PROFILE_SECTION})


def test_sweep_cost_table_and_values_show_hours_ratios_threads_and_the_wall_clock(monkeypatch):
    """Section 6 from hand-made costs: one row per experiment and dataset plus the total, in hours; the prose's
    values; with nothing stored, text where a date would be and NaN where a ratio would divide by zero."""
    from sigmse.runs.experiments import RunCosts, SweepCosts, ThreadCosts

    def section(costs: SweepCosts, profile: str):
        """sweep_cost_section of ``profile`` with ``costs`` in place of the ones its records would give."""
        asked = []
        monkeypatch.setattr(performance, "sweep_costs",
                            lambda names, name, options: asked.append((names, name, options.results_dir)) or costs)
        shown = performance.sweep_cost_section(profile, results_dir="nowhere")
        assert asked == [(performance.experiment_names(), profile, "nowhere")]
        return shown

    threads = (ThreadCosts(1, 3, 3000.0, 1200.0), ThreadCosts(2, 1, 600.0, 600.0))
    row = RunCosts("noise", "mnist", planned=10, stored=4, diverged=1, untimed=0, unmeasured=0,
                   estimated_seconds=7200.0, estimated_measured_seconds=1800.0, train_seconds=3600.0,
                   wall_seconds=5400.0, threads=threads)
    costs = SweepCosts([row], replace(row, experiment="all", dataset="all"),
                       "2026-01-01T10:00:00+00:00", "2026-01-01T13:00:00+00:00", busy_seconds=3600.0,
                       processors=(("AMD EPYC; torch AVX512", 3), ("processor not recorded", 1)))
    table = section(costs, "full").tables[0]
    assert list(table["experiment"]) == ["noise", "all"]
    first = table.iloc[0]
    assert (first["estimated h"], first["estimated h, stored runs"], first["training h"], first["run wall h"]) == (
        2.0, 0.5, 1.0, 1.5)
    assert first["training / estimate"] == 2.0 and first["torch threads: runs"] == "1: 3; 2: 1"
    values = section(costs, "full").values
    assert values["sweep_threads"] == ("3 runs with 1 torch thread (2.50 times their estimate), "
                                       "1 with 2 torch threads (1.00 times)")
    assert (values["sweep_runs"], values["sweep_runs_stored"], values["sweep_estimated_h"]) == (10, 4, 2.0)
    assert (values["sweep_span_h"], values["sweep_busy_h"], values["sweep_side_by_side"]) == (3.0, 1.0, 1.5)
    assert values["sweep_processors"] == "3 runs on AMD EPYC; torch AVX512 and 1 run whose processor is not recorded"
    assert values["sweep_table_processor"] == performance.MEASURED_COSTS_PROCESSOR
    priced = replace(row, estimated_evaluate_seconds=1800.0, estimated_measured_wall_seconds=2700.0,
                     threads=(ThreadCosts(1, 3, 3000.0, 1200.0, 4000.0, 2000.0), ThreadCosts(4, 1, 600.0, 0.0)))
    first = section(SweepCosts([priced], priced, None, None, 0.0), "full").tables[0].iloc[0]
    assert (first["of it evaluating h"], first["estimated wall h, stored runs"], first["wall / estimate"]) == (
        0.5, 0.75, 2.0)
    values = section(SweepCosts([priced], priced, None, None, 0.0), "full").values
    assert (values["sweep_estimated_eval_h"], values["sweep_wall_over_estimate"]) == (0.5, 2.0)
    assert values["sweep_threads"].endswith("1 with 4 torch threads (not priced)")  # the table has no 4 threads
    assert values["sweep_table_threads"] == "1 and 2" and values["sweep_table_records"].startswith("`results/")
    empty = replace(row, stored=0, diverged=0, estimated_measured_seconds=0.0, train_seconds=0.0,
                                wall_seconds=0.0, threads=())
    nothing = section(SweepCosts([empty], empty, None, None, 0.0), "smoke").values
    assert nothing["sweep_first_start"] == "none stored" and nothing["sweep_threads"] == "no run stored"
    assert nothing["sweep_processors"] == "no run stored"
    assert math.isnan(nothing["sweep_train_over_estimate"]) and math.isnan(nothing["sweep_span_h"])
