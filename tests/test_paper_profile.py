"""The paper profile (protocol v2 on CIFAR-10 on one GPU), tested without a GPU.

* What it is: full2's rules (seeds, grids, the grid-edge rule, noise settings, pilots) on CIFAR-10 alone, with
  airbench94's network at full width in bf16 on CUDA; every other experiment lists no run.
* End to end on the CPU at a tiny size, through the code path of ``sigmse sweep --profile paper`` and of the device
  script (device/paper_gpu.sh): the profile with only its size, device and model width changed
  (:func:`tiny_paper`), its pilots trained first and read by sigmse.report.pilots.pilot_agreement (as device/paper_pilots.py does), then
  :func:`~sigmse.runs.experiments.sweep_stages` over every experiment with the sweep engine
  (:func:`~sigmse.runs.executors.run_configs`), until every run the plan lists is stored. The network is
  ``airbench_quarter`` there (the same network at a quarter of the widths: its forty runs then take seconds on a
  CPU, not minutes); one full-width paper run trains on the CPU in its own test.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sigmse.runs.experiments import (PlanOptions, experiment_configs, experiment_names, load_record, plan_stages,
                                     sweep_plans, sweep_stages)
from sigmse.report.pilots import pilot_agreement
from sigmse.runs.profiles import Budget, EpochPilot, NoisePilot, Profile, get_profile

ROOT = Path(__file__).resolve().parent.parent
# full2's rules that the paper profile takes as they are for CIFAR-10 (per-dataset fields)
RULES = ("dataset_losses", "noise_lr_grids", "noise_losses", "noise_epochs")


def device_script(name: str) -> ModuleType:
    """A Python script of device/ (not a package), imported from its file."""
    spec = importlib.util.spec_from_file_location(f"device_{name}", ROOT / "device" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _budget(profile: Profile, **changes: Any) -> Budget:
    """``profile``'s CIFAR-10 budget with ``changes`` (a run field, or ``model`` and ``lr_grid``)."""
    budget = profile.budgets["cifar10"]
    run = {**dict(budget.run), **changes}
    return Budget(run.pop("model"), **{"lr_grid": budget.lr_grid, **run})


def tiny_paper() -> Profile:
    """The paper profile at a tiny size on the CPU: 30 training images (3 a class), 20 validation and test images,
    batches of 10, 1 epoch (warm-up half of it), two rates a grid and one grid-edge extension, one selection and
    one reporting seed, pilots of 1 and 2 epochs. Its rules are the paper's (noise settings, losses, shared rates,
    pilots' rates and noise rates); the records go to a store folder of its own name."""
    paper = get_profile("paper")
    grid = paper.budgets["cifar10"].lr_grid[1:3]
    return replace(
        paper, name="paper-tiny", device="cpu",
        budgets={**paper.budgets, "cifar10": _budget(paper, model="airbench_quarter", lr_grid=grid, epochs=1,
                                                     warmup_epochs=0.5, batch_size=10, train_subset=30, val_size=20,
                                                     test_subset=20)},
        selection_seeds=(0,), report_seeds=(1,), experiment_report_seeds={"noise": (1,)}, lr_grid_extensions=1,
        noise_lr_grids={"cifar10": grid},
        epoch_pilot={"cifar10": EpochPilot(paper.epoch_pilot["cifar10"].lr, (1, 2))},
        noise_pilot={"cifar10": NoisePilot(paper.noise_pilot["cifar10"].lr, (2,), paper.noise_pilot["cifar10"].rates)})


def test_the_paper_profile_is_full2s_protocol_on_cifar10_at_full_width_on_a_gpu():
    paper, full2 = get_profile("paper"), get_profile("full2")
    budget = paper.budgets["cifar10"]
    assert (paper.device, paper.threads, paper.datasets, paper.noise_datasets) == ("cuda", 1, ("cifar10",),
                                                                                   ("cifar10",))
    assert (budget.model, budget.precision, budget.batch_size, budget.optimizer) == ("airbench", "bfloat16", 512,
                                                                                     "nesterov")
    assert (budget.augment, budget.augment_translate, budget.tta_flip, budget.schedule) == (True, 2, True, "linear")
    assert budget.train_subset is None and budget.test_subset is None and budget.warmup_epochs > 0
    for rule in RULES:
        assert getattr(paper, rule) == {k: v for k, v in getattr(full2, rule).items() if k == "cifar10"}, rule
    # what full2's pre-registration cut to fit 2 CPU cores, the GPU keeps: symmetric 0.8 at 0.4's rates, and
    # pilots up to 40 epochs with no fallback (full2's CIFAR-10 pilots stop at 20 and fall back to 10)
    assert paper.dataset_symmetric_rates == {"cifar10": (0.4, 0.8)} and full2.dataset_symmetric_rates["cifar10"] == (0.4,)
    assert paper.noise_shared_rates == {"cifar10": {"symmetric 0.8": "symmetric 0.4"}}
    for pilots in ("epoch_pilot", "noise_pilot"):
        ours, theirs = getattr(paper, pilots)["cifar10"], getattr(full2, pilots)["cifar10"]
        assert (ours.lr, ours.candidates, ours.fallback) == (theirs.lr, (10, 20, 40), None)
        assert (theirs.candidates, theirs.fallback) == ((10, 20), 10)
    assert (paper.selection_seeds, paper.report_seeds, paper.lr_grid_extensions) == (
        full2.selection_seeds, full2.report_seeds, full2.lr_grid_extensions) == ((0, 1), tuple(range(2, 20)), 3)
    assert paper.reporting_seeds("noise") == full2.reporting_seeds("noise") == tuple(range(2, 10))
    different = {"model", "precision", "epochs"}  # the width, bf16 on the GPU, and epochs each pilot fixes
    assert {k: v for k, v in budget.run if k not in different} == {
        k: v for k, v in full2.budgets["cifar10"].run if k not in different}
    assert budget.lr_grid == full2.budgets["cifar10"].lr_grid


@pytest.mark.parametrize("experiment", experiment_names())
def test_every_paper_run_is_a_cifar10_run_on_cuda(experiment):
    """The accuracy, noise and pilot experiments list CIFAR-10 runs only; the Output Reset ablation, the SGD sweep
    and the unification experiment (MNIST) list none."""
    paper = get_profile("paper")
    configs = (experiment_configs(experiment, paper, seeds=paper.selection_seeds)
               + experiment_configs(experiment, paper, seeds=paper.reporting_seeds(experiment)))
    if experiment in ("output_reset", "lr_sweep", "unification"):
        assert configs == []
    else:
        assert configs and {(c.dataset, c.model, c.device, c.threads) for c in configs} == {
            ("cifar10", "airbench", "cuda", 1)}


def test_the_paper_dry_run_lists_every_run_and_the_estimate_prices_it(tmp_path, capsys):
    """``sigmse sweep --profile paper --dry-run`` counts the runs; device/paper_estimate.py prices the same plan at
    its assumed H100 costs (the dry-run's own table has no GPU kind yet)."""
    from sigmse.cli import main

    assert main(["sweep", "--profile", "paper", "--dry-run", "--results-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    first, second, waiting = plan_stages(sweep_plans(experiment_names(), "paper", PlanOptions(results_dir=tmp_path)))
    total = len({c.hash for c in first + second}) + waiting
    assert f"profile paper: {total} runs in" in printed and "0 already stored" in printed
    rows = device_script("paper_estimate").estimate(get_profile("paper"), str(tmp_path))
    assert sum(runs for _, runs, _, _ in rows) == total
    assert {name for name, *_ in rows} == {"accuracy", "noise", "epoch_pilot", "noise_pilot"}
    assert all(seconds.total > 0 for *_, seconds in rows)


@pytest.mark.shared_data
def test_one_full_width_paper_run_trains_on_the_cpu(tmp_path, shared_data_dir):
    from sigmse.runs.executors import run_configs

    tiny = tiny_paper()
    config = experiment_configs("accuracy", tiny, seeds=(0,))[0].with_(model="airbench")
    summary = run_configs([config], profile=tiny.name, results_dir=tmp_path, data_dir=shared_data_dir)
    record = load_record(config, tiny.name, tmp_path)
    assert summary.ok and record["status"] == "ok" and record["config"]["model"] == "airbench"


@pytest.mark.shared_data
def test_the_paper_profile_runs_end_to_end_on_the_cpu_at_a_tiny_size(tmp_path, shared_data_dir):
    from sigmse.runs.executors import run_configs

    tiny = tiny_paper()
    run = partial(run_configs, profile=tiny.name, results_dir=tmp_path, data_dir=shared_data_dir)
    planned = sum(r[1] for r in device_script("paper_estimate").estimate(tiny, str(tmp_path)))

    # the device script's order: the pilots, their answer, then every experiment
    options = PlanOptions(results_dir=tmp_path)
    pilots = sweep_stages(sweep_plans(["epoch_pilot", "noise_pilot"], tiny, options), tiny, run, options)
    assert [summary.total for summary in pilots] == [3] and all(summary.ok for summary in pilots)
    status, lines = pilot_agreement(tiny, tmp_path)
    assert status in (0, 3, 4) and len(lines) == 2 and all(line.startswith("cifar10: ") for line in lines)
    summaries = sweep_stages(sweep_plans(experiment_names(), tiny, options), tiny, run, options)
    assert summaries and all(summary.ok for summary in summaries)

    first, second, waiting = plan_stages(sweep_plans(experiment_names(), tiny, options))
    listed = list({c.hash: c for c in first + second}.values())
    records = [load_record(c, tiny.name, tmp_path) for c in listed]
    assert waiting == 0 and all(r is not None and r["status"] in ("ok", "diverged") for r in records)
    added = sum(len(plan.extensions) for plan in sweep_plans(experiment_names(), tiny, options))
    assert len(listed) == planned + added * len(tiny.selection_seeds)  # the estimate's runs and the edge rule's
    assert {(r["config"]["dataset"], r["provenance"]["device"]) for r in records} == {("cifar10", "cpu")}
    assert len(list((tmp_path / tiny.name).glob("*.json"))) == len(listed)
    noise = [r["config"] for r in records if r["config"].get("label_noise") == "symmetric"]
    chosen = {(c["loss"], c["lr"]) for c in noise if c["label_noise_rate"] == 0.4 and c["seed"] == 1}
    shared = {(c["loss"], c["lr"]) for c in noise if c["label_noise_rate"] == 0.8}
    assert len(chosen) == 5 and shared == chosen  # symmetric 0.8: reporting seeds only, at 0.4's rates
