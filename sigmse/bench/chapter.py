"""The book's performance chapter (``notebooks/performance.ipynb``), from one bench record.

The chapter shows a single :func:`sigmse.bench.run.run_bench` record, made for the book's profile:
:func:`chapter_record` reads the newest stored one measured at the same parameters, or measures one. This
module turns that record into what the page shows, section by section, so that the notebook only calls it:

1. training throughput: :func:`throughput_table`, :func:`throughput_figure`, :func:`throughput_values`; and the
   MNIST MLP trainer's step phase by phase: :func:`step_phase_table`, :func:`step_phase_values`;
2. one loss step, time and memory: :func:`loss_step_table`, :func:`loss_step_figure`, :func:`loss_step_values`;
3. the Output Reset solver and its share of a training step: :func:`solver_table`, :func:`solver_figure`,
   :func:`solver_values`;
4. seconds per epoch of each dataset of the profile: :func:`epoch_table`, :func:`epoch_figure`,
   :func:`epoch_values`; and as the training set grows: :func:`scaling_figure`, :func:`scaling_values`;
5. the performance goals: :func:`targets_table`, :func:`target_values`;
6. what the profile's sweep cost, estimated before training and measured by its stored records (not by the
   bench record): :func:`chapter_sweep_costs`, :func:`sweep_cost_table`, :func:`sweep_cost_values`.

A ``*_values`` function returns the numbers the prose quotes under their glue keys (for
:func:`sigmse.report.chapters.glue_all`); :func:`record_values` and :func:`provenance_text` say which record
the page shows and where it came from. Figures come from :func:`sigmse.report.plots.figure`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from sigmse.bench.run import (MAX_MLP_OVER_GEMM_FLOOR, PROFILE_SECTION, BenchSize, check_targets, get_bench_size,
                              latest_bench, profile_bench_dir, run_bench)
from sigmse.provenance import recorded_processor
from sigmse.report.plots import figure
from sigmse.runs.experiments import SweepCosts, ThreadCosts, experiment_names, sweep_costs
from sigmse.runs.profiles import get_profile
from sigmse.runs.protocol import MEASURED_COSTS_RECORDS, MEASURED_IMAGE_COSTS
from sigmse.train import resolve_device

__all__ = [
    "PROFILE_BENCH_SIZES",
    "chapter_bench_size",
    "chapter_record",
    "provenance_text",
    "record_values",
    "throughput_table",
    "throughput_figure",
    "throughput_values",
    "step_phase_table",
    "step_phase_values",
    "loss_step_table",
    "loss_step_figure",
    "loss_step_values",
    "solver_table",
    "solver_figure",
    "solver_values",
    "epoch_table",
    "epoch_figure",
    "epoch_values",
    "scaling_figure",
    "scaling_values",
    "targets_table",
    "target_values",
    "chapter_sweep_costs",
    "sweep_cost_table",
    "sweep_cost_values",
]

# The bench size the chapter shows under each profile: the smoke book a few seconds of measurement, the quick
# book the "ci" size (under a minute on 2 CPU cores), the full-data profiles the "full" size.
PROFILE_BENCH_SIZES: dict[str, str] = {"smoke": "smoke", "quick": "ci", "full": "full", "full2": "full", "paper": "full"}
_BLUE, _ORANGE = "#0173b2", "#de8f05"  # seaborn's colorblind palette, its first two colours


# ------------------------------------------------------------------------------------------------- the record


def chapter_bench_size(profile: str, size: str | None = None, classes: Sequence[int] | None = None) -> BenchSize:
    """The :class:`~sigmse.bench.run.BenchSize` the chapter shows: ``size`` by name, else the profile's
    (:data:`PROFILE_BENCH_SIZES`), with the loss and solver measurements at ``classes`` output counts when given."""
    if size is None:
        if profile not in PROFILE_BENCH_SIZES:
            raise ValueError(f"no bench size for profile {profile!r}; choose one of: {', '.join(PROFILE_BENCH_SIZES)}")
        size = PROFILE_BENCH_SIZES[profile]
    bench = get_bench_size(size)  # ValueError listing the sizes
    return bench if classes is None else dataclasses.replace(bench, classes=tuple(classes))


def chapter_record(profile: str, *, results_dir: str | Path, size: str | None = None, device: str | None = None,
                   classes: Sequence[int] | None = None, rerun: bool = False, data_dir: str | Path | None = None,
                   threads: int | None = None) -> tuple[dict[str, Any], bool]:
    """The bench record the chapter shows, and whether it was measured just now.

    The newest record in ``<results_dir>/<profile>/bench/`` (:func:`~sigmse.bench.run.profile_bench_dir`)
    measured with the parameters of :func:`chapter_bench_size` on ``device`` (None: the profile's) with the
    profile's epochs; with none there, or with ``rerun``, :func:`~sigmse.bench.run.run_bench` measures one
    (with ``threads`` torch threads) and stores it there for the next build. The full profile's record is
    committed in ``results/full/bench/``; ``sigmse bench --size full --profile full --threads 1`` makes another.
    """
    bench = chapter_bench_size(profile, size, classes)
    device_type = resolve_device(device or get_profile(profile).device).type
    out_dir = profile_bench_dir(results_dir, profile)
    record = None if rerun else latest_bench(out_dir, size=bench, device=device_type, profile=profile)
    if record is not None:
        return record, False
    return run_bench(bench, device_type, out_dir, data_dir=data_dir, threads=threads, profile=profile), True


def provenance_text(record: dict[str, Any], made_now: bool) -> str:
    """One line for the top of the page: which record, measured now or read, and on what. The processor model
    and torch's CPU capability are named because two CPUs of one device name time differently ("processor not
    recorded" in records made before provenance named it)."""
    p = record["provenance"]
    return (f"{'measured now' if made_now else 'read'}: {Path(record['path']).name} ({record['wall_seconds']:.0f} s "
            f"of measurement)\n{p['device_name']}, {recorded_processor(p)}, torch {p['torch_version']} with "
            f"{p['torch_threads']} threads, sigmse {p['git_commit']}{' (modified)' if p['git_dirty'] else ''}, "
            f"{p['date']}, "
            f"1-minute load average {p['load_average_1min']:.1f} on {p['cpus_usable'] or p['cpu_count']} CPUs"
            + (", synthetic data" if record["synthetic"] else ""))


def record_values(record: dict[str, Any], made_now: bool) -> dict[str, Any]:
    """The record's provenance and measurement parameters, for the prose."""
    p, parameters = record["provenance"], record["parameters"]
    return {
        "bench_size": record["size"], "bench_profile": record["profile"], "bench_device": p["device_name"],
        "bench_date": p["date"], "bench_threads": p["torch_threads"], "bench_load": p["load_average_1min"],
        "bench_cpus": p["cpus_usable"] or p["cpu_count"],
        "bench_made": "measured while this page was built" if made_now else "read from an earlier run",
        "batch": parameters["loss_batch"], "classes_small": min(parameters["classes"]),
        "classes_large": max(parameters["classes"]), "blocks": parameters["loss_blocks"],
        "inner": parameters["loss_inner"], "iterations": parameters["or_iterations"],
    }


def _classes(record: dict[str, Any]) -> tuple[tuple[int, str], ...]:
    """The smallest and the largest class count measured, with their glue-key suffixes."""
    classes = record["parameters"]["classes"]
    return (min(classes), "small"), (max(classes), "large")


# ------------------------------------------------------------------------------------------------ 1. throughput


def throughput_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per network and loop: images per second (median, slowest and fastest pass), the speedup of the
    sigmse trainer over the loop, and the time per image over the GEMM floor's."""
    rows = pd.DataFrame(record["throughput"])
    rows.insert(0, "run", rows["dataset"] + " / " + rows["model"] + rows["augment"].map({True: " + aug", False: ""}))
    return rows[["run", "loop", "data_class", "steps_per_pass", "passes", "images_per_s", "images_per_s_min",
                 "images_per_s_max", "speedup", "over_gemm_floor", "over_gemm_floor_fastest"]]


def throughput_figure(record: dict[str, Any]) -> Figure:
    """Training images per second, one group of bars per network, one bar per loop (log scale)."""
    fig, axes = figure(1, 1, (8.0, 3.6))
    sns.barplot(throughput_table(record), y="run", x="images_per_s", hue="loop", palette="colorblind", ax=axes[0, 0])
    axes[0, 0].set(xscale="log", xlabel="training images per second (log scale)", ylabel="")
    return fig


def throughput_values(record: dict[str, Any]) -> dict[str, Any]:
    """Per network (``mlp``, ``cnn``, ``cifar``): the trainer's and the worker-less naive loop's images per
    second, the speedups (over that loop, and over the fastest naive loop, named), the GEMM floor ratios;
    ``cifar_model`` and ``floor_goal`` (:data:`~sigmse.bench.run.MAX_MLP_OVER_GEMM_FLOOR`)."""
    throughput = pd.DataFrame(record["throughput"])
    cifar_model = next(row["model"] for row in record["throughput"] if row["dataset"] == "cifar10")
    values: dict[str, Any] = {"cifar_model": cifar_model, "floor_goal": MAX_MLP_OVER_GEMM_FLOOR}
    for case, (dataset, model) in {"mlp": ("mnist", "mlp"), "cnn": ("mnist", "cnn"),
                                   "cifar": ("cifar10", cifar_model)}.items():
        rows = throughput[(throughput["dataset"] == dataset) & (throughput["model"] == model)].set_index("loop")
        naive = rows.drop(index="sigmse")["speedup"]
        values.update({
            f"ips_sigmse_{case}": rows.loc["sigmse", "images_per_s"],
            f"ips_naive0_{case}": rows.loc["naive, num_workers=0", "images_per_s"],
            f"speedup0_{case}": rows.loc["naive, num_workers=0", "speedup"],
            f"speedup_best_{case}": naive.min(), f"fastest_naive_{case}": naive.idxmin(),
            f"over_floor_{case}": rows.loc["sigmse", "over_gemm_floor"],
            f"over_floor_fastest_{case}": rows.loc["sigmse", "over_gemm_floor_fastest"],
            f"over_floor_naive0_{case}": rows.loc["naive, num_workers=0", "over_gemm_floor"],
            f"floor_ips_{case}": rows.loc["sigmse", "gemm_floor_images_per_s"],
        })
    return values


def step_phase_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per phase of the MNIST MLP trainer's step, then the whole step: microseconds per step, its share,
    the microseconds of the matrix products it runs (the GEMM floor's pass), what it spends beyond them, and its
    time over the whole floor's."""
    rows = pd.DataFrame(record["step_phases"])
    table = rows[["phase"]].assign(**{column.replace("seconds", "microseconds"): rows[column] * 1e6 for column in
                                      ("seconds_per_step", "gemm_seconds_per_step", "beyond_gemm_seconds_per_step")})
    return table.assign(share_of_step=rows["share_of_step"], over_gemm_floor=rows["over_gemm_floor"])[
        ["phase", "microseconds_per_step", "share_of_step", "gemm_microseconds_per_step",
         "beyond_gemm_microseconds_per_step", "over_gemm_floor"]]


def step_phase_values(record: dict[str, Any]) -> dict[str, Any]:
    """``phase_<key>_us`` (microseconds per step), ``phase_<key>_beyond_us`` and ``phase_<key>_over_floor`` for
    the forward, backward and optimizer phases and the whole step (key ``forward``, ``backward``, ``optimizer``,
    ``step``), ``phase_floor_us`` (the whole GEMM floor's), ``phase_without_optimizer_over_floor`` (the step
    less its optimizer phase, over the floor), ``phase_steps`` and ``phase_passes``."""
    rows = {row["phase"]: row for row in record["step_phases"]}
    keys = {"forward": "batch, forward and loss", "backward": "backward", "optimizer": "optimizer step",
            "step": "whole step"}
    values: dict[str, Any] = {"phase_floor_us": rows["whole step"]["gemm_seconds_per_step"] * 1e6,
                              "phase_steps": rows["whole step"]["steps_per_pass"],
                              "phase_passes": rows["whole step"]["passes"],
                              "phase_without_optimizer_over_floor": (rows["whole step"]["over_gemm_floor"]
                                                                     - rows["optimizer step"]["over_gemm_floor"])}
    for key, phase in keys.items():
        values.update({f"phase_{key}_us": rows[phase]["seconds_per_step"] * 1e6,
                       f"phase_{key}_beyond_us": rows[phase]["beyond_gemm_seconds_per_step"] * 1e6,
                       f"phase_{key}_over_floor": rows[phase]["over_gemm_floor"]})
    return values


# ------------------------------------------------------------------------------------------------ 2. loss steps


def _loss_steps(record: dict[str, Any]) -> pd.DataFrame:
    steps = pd.DataFrame(record["loss_steps"])
    return steps.assign(microseconds=steps["seconds"] * 1e6, **{"saved KiB": steps["saved_bytes"] / 1024})


def loss_step_table(record: dict[str, Any]) -> pd.DataFrame:
    """Per loss (rows) and class count (columns): the median microseconds of a forward + backward step, its ratio
    to softmax cross-entropy's, the KiB saved for backward and, on a GPU, the peak bytes of the step."""
    columns = ["microseconds", "ratio", "saved KiB"] + (["peak_bytes"] if record["device"] == "cuda" else [])
    return _loss_steps(record).pivot(index="loss", columns="classes", values=columns)


def loss_step_figure(record: dict[str, Any]) -> Figure:
    """Left: each loss's step time over softmax cross-entropy's; right: the KiB it saves for backward; both on
    log scales, one bar per class count, the losses ordered by their ratio at the smallest count."""
    steps = _loss_steps(record)
    order = steps[steps["classes"] == _classes(record)[0][0]].sort_values("ratio")["loss"]
    fig, axes = figure(1, 2, (5.5, 4.0))
    ratio, memory = axes[0]
    sns.barplot(steps, y="loss", x="ratio", hue="classes", order=order, ax=ratio, palette="colorblind")
    ratio.axvline(1.0, color="black", lw=1)
    ratio.set(xscale="log", xlabel="time / softmax_ce time (log scale)", ylabel="")
    ratio.get_legend().remove()
    sns.barplot(steps, y="loss", x="saved KiB", hue="classes", order=order, ax=memory, palette="colorblind")
    memory.set(xscale="log", xlabel="KiB saved for backward (log scale)", ylabel="")
    sns.move_legend(memory, "upper left", bbox_to_anchor=(1.0, 1.0), title="C")
    return fig


def loss_step_values(record: dict[str, Any]) -> dict[str, Any]:
    """At the smallest and largest class count (``_small``, ``_large``): the time ratios of sigmoid-MSE with and
    without Output Reset, the microseconds and saved KiB of the paper's losses and cross-entropy, the slowest loss."""
    steps = _loss_steps(record)
    by = steps.set_index(["loss", "classes"])
    values: dict[str, Any] = {}
    for c, name in _classes(record):
        values.update({
            f"or_ratio_{name}": by.loc[("sigmoid_mse_or", c), "ratio"],
            f"mse_ratio_{name}": by.loc[("sigmoid_mse", c), "ratio"],
            f"ce_us_{name}": by.loc[("softmax_ce", c), "microseconds"],
            f"or_us_{name}": by.loc[("sigmoid_mse_or", c), "microseconds"],
            f"or_kib_{name}": by.loc[("sigmoid_mse_or", c), "saved KiB"],
            f"ce_kib_{name}": by.loc[("softmax_ce", c), "saved KiB"],
            f"mse_kib_{name}": by.loc[("sigmoid_mse", c), "saved KiB"],
            f"slowest_{name}": steps[steps["classes"] == c].sort_values("ratio")["loss"].iloc[-1],
        })
    return values


# --------------------------------------------------------------------------------------------- 3. Output Reset


_SOLVER_COLUMNS = ("exact_seconds", "alternating_seconds", "alternating_over_exact", "max_abs_disagreement",
                   "share_disagreeing", "step_seconds_ce", "step_seconds_or", "step_ratio", "solver_share_of_step")
_SOLVER_RATIOS = ("alternating_over_exact", "max_abs_disagreement", "share_disagreeing", "step_ratio",
                  "solver_share_of_step")  # the columns the prose quotes as they are


def solver_table(record: dict[str, Any]) -> pd.DataFrame:
    """Per class count: the exact solver against the alternating procedure (seconds, their ratio, how far their
    targets differ) and one MLP training step with each loss, with the solver's share of the Output Reset step."""
    return pd.DataFrame(record["output_reset"]).set_index("classes")[list(_SOLVER_COLUMNS)]


def solver_figure(record: dict[str, Any]) -> Figure:
    """Milliseconds per MLP training step with each loss at each class count; inside the Output Reset bar, the
    exact solver timed alone."""
    solver = pd.DataFrame(record["output_reset"])
    fig, axes = figure(1, 1, (7.0, 3.2))
    ax = axes[0, 0]
    labels = [f"C = {c}" for c in solver["classes"]]
    ce, sigmoid = [f"{label}\nsoftmax_ce" for label in labels], [f"{label}\nsigmoid_mse_or" for label in labels]
    ax.barh(ce, solver["step_seconds_ce"] * 1e3, color=_BLUE, label="training step")
    ax.barh(sigmoid, solver["step_seconds_or"] * 1e3, color=_BLUE)
    ax.barh(sigmoid, solver["exact_seconds"] * 1e3, color=_ORANGE, label="of which the exact OR solver (timed alone)")
    ax.set(xlabel="milliseconds per step")
    ax.legend(loc="lower right")
    return fig


def solver_values(record: dict[str, Any]) -> dict[str, float]:
    """At the smallest and largest class count (``_small``, ``_large``): the ratios and disagreements of
    :func:`solver_table` (``_SOLVER_RATIOS``), and the exact and alternating solvers' milliseconds."""
    rows = solver_table(record)
    values = {}
    for c, name in _classes(record):
        values.update({f"{column}_{name}": float(rows.loc[c, column]) for column in _SOLVER_RATIOS})
        values[f"exact_ms_{name}"] = 1e3 * float(rows.loc[c, "exact_seconds"])
        values[f"alternating_ms_{name}"] = 1e3 * float(rows.loc[c, "alternating_seconds"])
    return values


# ------------------------------------------------------------------------------------------------- 4. epochs


def epoch_table(record: dict[str, Any]) -> pd.DataFrame:
    """Seconds per epoch of each dataset of the record's profile with each loss, and scaled to the whole split."""
    if PROFILE_SECTION not in record:
        raise ValueError(f"the record {record.get('path')!r} has no {PROFILE_SECTION!r}: it was made without a "
                         "profile; chapter_record makes one with it")
    epochs = pd.DataFrame(record[PROFILE_SECTION])
    return epochs[["dataset", "model", "loss", "batch_size", "augment", "n_train", "seconds_per_epoch", "images_per_s",
                   "full_split_n", "full_split_seconds"]]


def epoch_figure(record: dict[str, Any]) -> Figure:
    """Seconds per epoch of each dataset (with its model) of the record's profile, one bar per loss."""
    epochs = epoch_table(record)
    fig, axes = figure(1, 1, (7.0, 3.2))
    sns.barplot(epochs.assign(run=epochs["dataset"] + " / " + epochs["model"]), y="run", x="seconds_per_epoch",
                hue="loss", palette="colorblind", ax=axes[0, 0])
    axes[0, 0].set(xlabel=f"seconds per epoch ({record['profile']} profile)", ylabel="")
    return fig


def epoch_values(record: dict[str, Any]) -> dict[str, Any]:
    """Per dataset ``<key>`` (``fashion_mnist`` for fashion-mnist): ``epoch_<key>_ce`` and ``_or`` (seconds per
    epoch with softmax CE and sigmoid-MSE + OR), ``_n`` (training images) and ``_model``; and the smallest and
    largest ratio of the two across datasets, ``epoch_or_over_ce_min`` / ``_max``."""
    per = epoch_table(record).set_index(["dataset", "loss"])
    values: dict[str, Any] = {}
    for dataset in per.index.unique("dataset"):
        key = dataset.replace("-", "_")
        values.update({f"epoch_{key}_ce": float(per.loc[(dataset, "softmax_ce"), "seconds_per_epoch"]),
                       f"epoch_{key}_or": float(per.loc[(dataset, "sigmoid_mse_or"), "seconds_per_epoch"]),
                       f"epoch_{key}_n": int(per.loc[(dataset, "softmax_ce"), "n_train"]),
                       f"epoch_{key}_model": str(per.loc[(dataset, "softmax_ce"), "model"])})
    ratio = (per.xs("sigmoid_mse_or", level="loss")["seconds_per_epoch"]
             / per.xs("softmax_ce", level="loss")["seconds_per_epoch"])
    return {**values, "epoch_or_over_ce_min": float(ratio.min()), "epoch_or_over_ce_max": float(ratio.max())}


def scaling_figure(record: dict[str, Any]) -> Figure:
    """Seconds per MNIST MLP epoch against the training images (log-log), with a line in proportion to the
    images through the largest measurement."""
    scaling = pd.DataFrame(record["epoch_scaling"])
    last = scaling.iloc[-1]
    fig, axes = figure(1, 1, (5.5, 3.6))
    ax = axes[0, 0]
    ax.plot(scaling["n_train"], scaling["seconds_per_epoch"], "o-", color=_BLUE, label="measured")
    ax.plot(scaling["n_train"], last["seconds_per_epoch"] * scaling["n_train"] / last["n_train"], "--", color="grey",
            label="proportional to the number of images")
    ax.set(xscale="log", yscale="log", xlabel="training images per epoch", ylabel="seconds per epoch")
    ax.legend()
    return fig


def scaling_values(record: dict[str, Any]) -> dict[str, Any]:
    """The smallest and largest training set of the scaling measurement, microseconds per image at each, and the
    seconds of the largest epoch."""
    first, last = record["epoch_scaling"][0], record["epoch_scaling"][-1]
    return {"scaling_small_n": int(first["n_train"]), "scaling_large_n": int(last["n_train"]),
            "scaling_small_us": float(first["microseconds_per_image"]),
            "scaling_large_us": float(last["microseconds_per_image"]),
            "scaling_large_s": float(last["seconds_per_epoch"])}


# ------------------------------------------------------------------------------------------------ 5. the goals


def targets_table(record: dict[str, Any]) -> pd.DataFrame:
    """The performance goals (:data:`~sigmse.bench.run.TARGETS`) checked against the record with today's
    definitions, also for a record made earlier: goal, measured value, margin, verdict, reason."""
    targets = pd.DataFrame(check_targets(record))
    targets["verdict"] = targets["met"].map({True: "met", False: "not met"}).fillna("not measured here")
    return targets[["key", "description", "goal", "measured", "margin", "verdict", "reason", "note"]]


def target_values(record: dict[str, Any]) -> dict[str, str]:
    """``target_<key>``: each goal's measured value against it, met or not (or why it was not measured), and
    ``targets_met``: how many of the measured goals were met."""
    checked = check_targets(record)
    values = {f"target_{row['key']}": (
        "not measured here: " + row["note"] if row["met"] is None else
        f"{row['measured']:.2f} against a goal of {row['goal']}: {'met' if row['met'] else 'not met'}")
        for row in checked}
    met = [row["met"] for row in checked if row["met"] is not None]
    return {**values, "targets_met": f"{sum(met)} of {len(met)} measured targets met"}


# ------------------------------------------------------------------------------------------- 6. the sweep's cost


def chapter_sweep_costs(profile: str, *, results_dir: str | Path) -> SweepCosts:
    """:func:`~sigmse.runs.experiments.sweep_costs` of every experiment of the registry under ``profile``, with
    the profile's seeds, from the records under ``results_dir``: what the chapter's last section shows."""
    return sweep_costs(experiment_names(), profile, results_dir=results_dir)


def _hours(seconds: float) -> float:
    return seconds / 3600.0


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _threads_text(threads: Sequence[ThreadCosts]) -> str:
    """Per thread count, most runs first, their training epochs over the table's price of them at that thread
    count: ``"395 runs with 1 torch thread (1.6 times their estimate), 196 with 2 torch threads (2.2 times)"``
    (``"not priced"`` where the table has no such thread count); ``"no run stored"`` for none."""
    if not threads:
        return "no run stored"
    ordered = sorted(threads, key=lambda group: -group.runs)
    return ", ".join(
        f"{group.runs}{' runs' if index == 0 else ''} with {group.threads} torch thread"
        f"{'' if group.threads == 1 else 's'} ("
        + (f"{_ratio(group.train_seconds, group.estimated_seconds):.2f} times{' their estimate' if index == 0 else ''}"
           if group.estimated_seconds else "not priced") + ")" for index, group in enumerate(ordered))


def _table_threads() -> str:
    """The thread counts of :data:`~sigmse.runs.protocol.MEASURED_IMAGE_COSTS`, e.g. ``"1 and 2"``."""
    counts = [str(count) for count in sorted({threads for _, _, threads in MEASURED_IMAGE_COSTS})]
    return " and ".join([", ".join(counts[:-1]), counts[-1]] if len(counts) > 1 else counts) or "none"


def sweep_cost_table(costs: SweepCosts) -> pd.DataFrame:
    """One row per experiment and dataset and one for the whole sweep (each run once): runs planned, stored and
    diverged; the hours estimated from the measured table before training, for all runs (whole runs, and of it
    evaluating) and for the stored ones (their training epochs; the whole runs); the hours those measured
    (training epochs; the whole run), their ratios to the estimates, the torch threads they trained with, and
    the runs no estimate or measurement covers."""
    return pd.DataFrame([{
        "experiment": row.experiment, "dataset": row.dataset, "runs": row.planned, "stored": row.stored,
        "diverged": row.diverged, "estimated h": _hours(row.estimated_seconds),
        "of it evaluating h": _hours(row.estimated_evaluate_seconds),
        "estimated h, stored runs": _hours(row.estimated_measured_seconds),
        "estimated wall h, stored runs": _hours(row.estimated_measured_wall_seconds),
        "training h": _hours(row.train_seconds), "run wall h": _hours(row.wall_seconds),
        "training / estimate": _ratio(row.train_seconds, row.estimated_measured_seconds),
        "wall / estimate": _ratio(row.wall_seconds, row.estimated_measured_wall_seconds),
        "torch threads: runs": "; ".join(f"{group.threads}: {group.runs}" for group in row.threads),
        "not priced": row.untimed, "not timed": row.unmeasured,
    } for row in [*costs.rows, costs.total]])


def sweep_cost_values(costs: SweepCosts, profile: str) -> dict[str, Any]:
    """The whole sweep's numbers for the prose: ``sweep_profile``, runs (``sweep_runs``, ``_stored``,
    ``_diverged``, ``_unpriced``), hours (``sweep_estimated_h`` before training and ``_estimated_eval_h`` of it
    evaluating; for the stored runs ``_estimated_stored_h`` of training epochs and ``_estimated_stored_wall_h``
    of whole runs, ``_train_h``, ``_wall_h``, ``sweep_train_over_estimate`` and ``sweep_wall_over_estimate``),
    the threads (``sweep_threads``: the runs per thread count and their training time over its estimate;
    ``sweep_table_threads``: the measured table's thread counts, e.g. ``"1 and 2"``, and ``sweep_table_records``,
    the bench records it comes from), and the wall-clock (``sweep_first_start``,
    ``sweep_last_end``, ``sweep_span_h`` between them, ``sweep_busy_h`` with a run training and
    ``sweep_side_by_side``, the runs training at once on average over that time)."""
    total = costs.total
    span = (_dt.datetime.fromisoformat(costs.last_end) - _dt.datetime.fromisoformat(costs.first_start)
            if costs.first_start else None)
    return {
        "sweep_profile": profile, "sweep_runs": total.planned, "sweep_runs_stored": total.stored,
        "sweep_runs_diverged": total.diverged, "sweep_runs_unpriced": total.untimed,
        "sweep_estimated_h": _hours(total.estimated_seconds),
        "sweep_estimated_eval_h": _hours(total.estimated_evaluate_seconds),
        "sweep_estimated_stored_h": _hours(total.estimated_measured_seconds),
        "sweep_estimated_stored_wall_h": _hours(total.estimated_measured_wall_seconds),
        "sweep_train_h": _hours(total.train_seconds), "sweep_wall_h": _hours(total.wall_seconds),
        "sweep_train_over_estimate": _ratio(total.train_seconds, total.estimated_measured_seconds),
        "sweep_wall_over_estimate": _ratio(total.wall_seconds, total.estimated_measured_wall_seconds),
        "sweep_threads": _threads_text(total.threads), "sweep_table_threads": _table_threads(),
        "sweep_table_records": " and ".join(f"`{path}`" for path in MEASURED_COSTS_RECORDS),
        "sweep_first_start": costs.first_start or "none stored", "sweep_last_end": costs.last_end or "none stored",
        "sweep_span_h": _hours(span.total_seconds()) if span is not None else float("nan"),
        "sweep_busy_h": _hours(costs.busy_seconds),
        "sweep_side_by_side": _ratio(total.wall_seconds, costs.busy_seconds),
    }
