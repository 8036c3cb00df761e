"""The performance page (``notebooks/performance.ipynb``): one ``sigmse bench`` record, and what the sweep cost.

One function per part of the page, each returning a :class:`~sigmse.report.analysis.Part`.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import seaborn as sns

from sigmse.bench.run import MAX_MLP_OVER_GEMM_FLOOR, PROFILE_SECTION, judge_targets
from sigmse.provenance import UNRECORDED_PROCESSOR, recorded_processor
from sigmse.report.analysis import Part
from sigmse.report.chapters import counted
from sigmse.report.plots import figure, pretty
from sigmse.runs.experiments import PlanOptions, SweepCosts, ThreadCosts, experiment_names, sweep_costs
from sigmse.runs.protocol import MEASURED_COSTS_PROCESSOR, MEASURED_COSTS_RECORDS, MEASURED_IMAGE_COSTS

__all__ = ["record_section", "throughput_section", "phase_section", "loss_section", "solver_section",
           "epoch_section", "scaling_section", "target_section", "sweep_cost_section"]

_BLUE, _ORANGE = "#0173b2", "#de8f05"  # seaborn's colorblind palette, its first two colours


def _classes(record: dict[str, Any]) -> tuple[tuple[int, str], ...]:
    """The smallest and the largest class count measured, with their glue-key suffixes."""
    classes = record["parameters"]["classes"]
    return (min(classes), "small"), (max(classes), "large")


def record_section(record: dict[str, Any], made_now: bool) -> Part:
    """The page's top line (which record, on what: the processor too, since two CPUs of one name time differently),
    and its provenance and parameters for the prose."""
    p, parameters = record["provenance"], record["parameters"]
    text = (f"{'measured now' if made_now else 'read'}: {Path(record['path']).name} ({record['wall_seconds']:.0f} s "
            f"of measurement)\n{p['device_name']}, {recorded_processor(p)}, torch {p['torch_version']} with "
            f"{p['torch_threads']} threads, sigmse {p['git_commit']}{' (modified)' if p['git_dirty'] else ''}, "
            f"{p['date']}, 1-minute load average {p['load_average_1min']:.1f} on {p['cpus_usable'] or p['cpu_count']} "
            f"CPUs" + (", synthetic data" if record["synthetic"] else ""))
    return Part(text=text, values={
        "bench_size": record["size"], "bench_profile": record["profile"], "bench_device": p["device_name"],
        "bench_date": p["date"],
        "bench_threads": counted(p["torch_threads"], "torch thread"),
        "bench_load": p["load_average_1min"],
        "bench_cpus": p["cpus_usable"] or p["cpu_count"],
        "bench_made": "measured while this page was built" if made_now else "read from an earlier run",
        "batch": parameters["loss_batch"], "classes_small": min(parameters["classes"]),
        "classes_large": max(parameters["classes"]), "blocks": parameters["loss_blocks"],
        "inner": parameters["loss_inner"], "iterations": parameters["or_iterations"]})


def throughput_section(record: dict[str, Any]) -> Part:
    """Images per second of the trainer against the hand-written loops and the GEMM floor, per network."""
    rows = pd.DataFrame(record["throughput"])
    rows.insert(0, "run", rows["dataset"] + " / " + rows["model"] + rows["augment"].map({True: " + aug", False: ""}))
    table = rows[["run", "loop", "data_class", "steps_per_pass", "passes", "images_per_s", "images_per_s_min",
                  "images_per_s_max", "speedup", "over_gemm_floor", "over_gemm_floor_fastest"]]
    fig, axes = figure(1, 1, (8.0, 3.6))
    sns.barplot(table, y="run", x="images_per_s", hue="loop", palette="colorblind", ax=axes[0, 0])
    axes[0, 0].set(xscale="log", xlabel="training images per second (log scale)", ylabel="")
    cifar_model = next(row["model"] for row in record["throughput"] if row["dataset"] == "cifar10")
    values: dict[str, Any] = {"cifar_model": cifar_model, "floor_goal": MAX_MLP_OVER_GEMM_FLOOR}
    for case, (dataset, model) in {"mlp": ("mnist", "mlp"), "cnn": ("mnist", "cnn"),
                                   "cifar": ("cifar10", cifar_model)}.items():
        by_loop = rows[(rows["dataset"] == dataset) & (rows["model"] == model)].set_index("loop")
        naive = by_loop.drop(index="sigmse")["speedup"]
        trainer, naive0 = by_loop.loc["sigmse"], by_loop.loc["naive, num_workers=0"]
        values.update({
            f"ips_sigmse_{case}": trainer["images_per_s"], f"ips_naive0_{case}": naive0["images_per_s"],
            f"speedup0_{case}": naive0["speedup"], f"speedup_best_{case}": naive.min(),
            f"fastest_naive_{case}": naive.idxmin(), f"over_floor_{case}": trainer["over_gemm_floor"],
            f"over_floor_fastest_{case}": trainer["over_gemm_floor_fastest"],
            f"over_floor_naive0_{case}": naive0["over_gemm_floor"],
            f"floor_ips_{case}": trainer["gemm_floor_images_per_s"]})
    return Part(values, (table,), fig)


def phase_section(record: dict[str, Any]) -> Part:
    """The MNIST MLP trainer's step phase by phase: time, share, and time beyond its matrix products."""
    rows = pd.DataFrame(record["step_phases"])
    for column in ("seconds_per_step", "gemm_seconds_per_step", "beyond_gemm_seconds_per_step"):
        rows[column.replace("seconds", "microseconds")] = rows[column] * 1e6
    phases = rows.set_index("phase")
    whole = phases.loc["whole step"]
    values: dict[str, Any] = {
        "phase_floor_us": whole["gemm_microseconds_per_step"], "phase_steps": int(whole["steps_per_pass"]),
        "phase_passes": int(whole["passes"]), "phase_without_optimizer_over_floor":
        whole["over_gemm_floor"] - phases.loc["optimizer step", "over_gemm_floor"]}
    for key, phase in {"forward": "batch, forward and loss", "backward": "backward", "optimizer": "optimizer step",
                       "step": "whole step"}.items():
        values.update({f"phase_{key}_us": phases.loc[phase, "microseconds_per_step"],
                       f"phase_{key}_beyond_us": phases.loc[phase, "beyond_gemm_microseconds_per_step"],
                       f"phase_{key}_over_floor": phases.loc[phase, "over_gemm_floor"]})
    return Part(values, (rows[["phase", "microseconds_per_step", "share_of_step", "gemm_microseconds_per_step",
                               "beyond_gemm_microseconds_per_step", "over_gemm_floor"]],))


def loss_section(record: dict[str, Any]) -> Part:
    """One loss step per loss and class count: time, ratio to softmax CE, KiB saved for backward (peak on GPU)."""
    steps = pd.DataFrame(record["loss_steps"])
    steps = steps.assign(microseconds=steps["seconds"] * 1e6, **{"saved KiB": steps["saved_bytes"] / 1024})
    columns = ["microseconds", "ratio", "saved KiB"] + (["peak_bytes"] if record["device"] == "cuda" else [])
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
    by = steps.set_index(["loss", "classes"])
    short = {"or": "sigmoid_mse_or", "mse": "sigmoid_mse", "ce": "softmax_ce"}
    quoted = (("or", "ratio", "ratio"), ("mse", "ratio", "ratio"), ("ce", "us", "microseconds"),
              ("or", "us", "microseconds"), ("or", "kib", "saved KiB"), ("ce", "kib", "saved KiB"),
              ("mse", "kib", "saved KiB"))  # (loss, key, column) of the values the prose quotes
    values: dict[str, Any] = {}
    for c, name in _classes(record):
        values.update({f"{loss}_{key}_{name}": by.loc[(short[loss], c), column] for loss, key, column in quoted})
        values[f"slowest_{name}"] = pretty(steps[steps["classes"] == c].sort_values("ratio")["loss"].iloc[-1])
    return Part(values, (steps.pivot(index="loss", columns="classes", values=columns),), fig)


_SOLVER_RATIOS = ("alternating_over_exact", "max_abs_disagreement", "share_disagreeing", "step_ratio",
                  "solver_share_of_step")  # the columns the prose quotes as they are


def solver_section(record: dict[str, Any]) -> Part:
    """The exact Output Reset solver against the alternating procedure, and its share of a training step."""
    table = pd.DataFrame(record["output_reset"]).set_index("classes")[
        ["exact_seconds", "alternating_seconds", "alternating_over_exact", "max_abs_disagreement", "share_disagreeing",
         "step_seconds_ce", "step_seconds_or", "step_ratio", "solver_share_of_step"]]
    fig, axes = figure(1, 1, (7.0, 3.2))
    ax = axes[0, 0]
    labels = [f"C = {c}" for c in table.index]
    ce, sigmoid = [f"{label}\nsoftmax_ce" for label in labels], [f"{label}\nsigmoid_mse_or" for label in labels]
    ax.barh(ce, table["step_seconds_ce"] * 1e3, color=_BLUE, label="training step")
    ax.barh(sigmoid, table["step_seconds_or"] * 1e3, color=_BLUE)
    ax.barh(sigmoid, table["exact_seconds"] * 1e3, color=_ORANGE, label="of which the exact OR solver (timed alone)")
    ax.set(xlabel="milliseconds per step")
    ax.legend(loc="lower right")
    values = {}
    for c, name in _classes(record):
        values.update({f"{column}_{name}": float(table.loc[c, column]) for column in _SOLVER_RATIOS})
        values[f"exact_ms_{name}"] = 1e3 * float(table.loc[c, "exact_seconds"])
        values[f"alternating_ms_{name}"] = 1e3 * float(table.loc[c, "alternating_seconds"])
    return Part(values, (table,), fig)


def epoch_section(record: dict[str, Any]) -> Part:
    """Seconds per epoch of each dataset of the record's profile with each loss, and the OR / CE ratio range."""
    if PROFILE_SECTION not in record:
        raise ValueError(f"the record {record.get('path')!r} has no {PROFILE_SECTION!r}: it was made without a "
                         "profile; chapter_record makes one with it")
    table = pd.DataFrame(record[PROFILE_SECTION])[
        ["dataset", "model", "loss", "batch_size", "augment", "n_train", "seconds_per_epoch", "images_per_s",
         "full_split_n", "full_split_seconds"]]
    fig, axes = figure(1, 1, (7.0, 3.2))
    sns.barplot(table.assign(run=table["dataset"] + " / " + table["model"]), y="run", x="seconds_per_epoch",
                hue="loss", palette="colorblind", ax=axes[0, 0])
    axes[0, 0].set(xlabel=f"seconds per epoch ({record['profile']} profile)", ylabel="")
    per = table.set_index(["dataset", "loss"])
    values: dict[str, Any] = {}
    for dataset in per.index.unique("dataset"):
        key, ce = dataset.replace("-", "_"), per.loc[(dataset, "softmax_ce")]
        values.update({f"epoch_{key}_ce": float(ce["seconds_per_epoch"]),
                       f"epoch_{key}_or": float(per.loc[(dataset, "sigmoid_mse_or"), "seconds_per_epoch"]),
                       f"epoch_{key}_n": int(ce["n_train"]), f"epoch_{key}_model": str(ce["model"])})
    ratio = (per.xs("sigmoid_mse_or", level="loss")["seconds_per_epoch"]
             / per.xs("softmax_ce", level="loss")["seconds_per_epoch"])
    values.update(epoch_or_over_ce_min=float(ratio.min()), epoch_or_over_ce_max=float(ratio.max()))
    return Part(values, (table,), fig)


def scaling_section(record: dict[str, Any]) -> Part:
    """Seconds per MNIST MLP epoch against the training images (log-log), beside proportional scaling."""
    scaling = pd.DataFrame(record["epoch_scaling"])
    first, last = scaling.iloc[0], scaling.iloc[-1]
    fig, axes = figure(1, 1, (5.5, 3.6))
    ax = axes[0, 0]
    ax.plot(scaling["n_train"], scaling["seconds_per_epoch"], "o-", color=_BLUE, label="measured")
    ax.plot(scaling["n_train"], last["seconds_per_epoch"] * scaling["n_train"] / last["n_train"], "--", color="grey",
            label="proportional to the number of images")
    ax.set(xscale="log", yscale="log", xlabel="training images per epoch", ylabel="seconds per epoch")
    ax.legend()
    return Part({"scaling_small_n": int(first["n_train"]), "scaling_large_n": int(last["n_train"]),
                 "scaling_small_us": float(first["microseconds_per_image"]),
                 "scaling_large_us": float(last["microseconds_per_image"]),
                 "scaling_large_s": float(last["seconds_per_epoch"])}, figure=fig)


def target_section(record: dict[str, Any]) -> Part:
    """The goals (:data:`sigmse.bench.run.TARGETS`) checked against the record with today's definitions."""
    checked = judge_targets(record)
    table = pd.DataFrame(checked)
    table["verdict"] = table["met"].map({True: "met", False: "not met"}).fillna("not measured here")
    values = {f"target_{row['key']}": (
        "not measured here: " + row["note"] if row["met"] is None else
        f"{row['measured']:.2f} against a goal of {row['goal']}: {'met' if row['met'] else 'not met'}")
        for row in checked}
    met = [row["met"] for row in checked if row["met"] is not None]
    values["targets_met"] = f"{sum(met)} of {len(met)} measured targets met"
    return Part(values, (table[["key", "description", "goal", "measured", "margin", "verdict", "reason", "note"]],))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _thread_costs_text(threads: Sequence[ThreadCosts]) -> str:
    """E.g. ``"395 runs with 1 torch thread (1.60 times their estimate), 196 with 2 torch threads (2.20 times)"``."""
    if not threads:
        return "no run stored"
    return ", ".join(
        f"{group.runs}{' runs' if index == 0 else ''} with {group.threads} torch thread"
        f"{'' if group.threads == 1 else 's'} ("
        + (f"{_ratio(group.train_seconds, group.estimated_seconds):.2f} times{' their estimate' if index == 0 else ''}"
           if group.estimated_seconds else "not priced") + ")"
        for index, group in enumerate(sorted(threads, key=lambda group: -group.runs)))


_HOURS = {  # (table column, glue key) of each RunCosts field shown in hours
    "estimated_seconds": ("estimated h", "sweep_estimated_h"),
    "estimated_evaluate_seconds": ("of it evaluating h", "sweep_estimated_eval_h"),
    "estimated_measured_seconds": ("estimated h, stored runs", "sweep_estimated_stored_h"),
    "estimated_measured_wall_seconds": ("estimated wall h, stored runs", "sweep_estimated_stored_wall_h"),
    "train_seconds": ("training h", "sweep_train_h"), "wall_seconds": ("run wall h", "sweep_wall_h")}


def _and_list(items: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"`` (processor kinds hold semicolons, so no semicolon between items)."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else list(items))


def sweep_cost_section(profile: str, *, results_dir: str | Path) -> Part:
    """What ``profile``'s sweep cost: per experiment and dataset and in total, runs, estimated and measured hours
    and their ratios (:func:`~sigmse.runs.experiments.sweep_costs` of the records under ``results_dir``)."""
    costs: SweepCosts = sweep_costs(experiment_names(), profile, PlanOptions(results_dir))
    table = pd.DataFrame([{
        "experiment": row.experiment, "dataset": row.dataset, "runs": row.planned, "stored": row.stored,
        "diverged": row.diverged, **{column: getattr(row, field) / 3600.0 for field, (column, _) in _HOURS.items()},
        "training / estimate": _ratio(row.train_seconds, row.estimated_measured_seconds),
        "wall / estimate": _ratio(row.wall_seconds, row.estimated_measured_wall_seconds),
        "torch threads: runs": "; ".join(f"{group.threads}: {group.runs}" for group in row.threads),
        "not priced": row.untimed, "not timed": row.unmeasured,
    } for row in [*costs.rows, costs.total]])
    total = costs.total
    span = (_dt.datetime.fromisoformat(costs.last_end) - _dt.datetime.fromisoformat(costs.first_start)
            if costs.first_start else None)
    counts = [str(count) for count in sorted({threads for _, _, threads in MEASURED_IMAGE_COSTS})]
    return Part(tables=(table,), values={
        "sweep_profile": profile, "sweep_runs": total.planned, "sweep_runs_stored": total.stored,
        "sweep_runs_diverged": total.diverged, "sweep_runs_unpriced": total.untimed,
        **{key: getattr(total, field) / 3600.0 for field, (_, key) in _HOURS.items()},
        "sweep_train_over_estimate": _ratio(total.train_seconds, total.estimated_measured_seconds),
        "sweep_wall_over_estimate": _ratio(total.wall_seconds, total.estimated_measured_wall_seconds),
        "sweep_threads": _thread_costs_text(total.threads),
        "sweep_table_threads": _and_list(counts) or "none",
        "sweep_table_records": " and ".join(f"`{path}`" for path in MEASURED_COSTS_RECORDS),
        "sweep_table_processor": MEASURED_COSTS_PROCESSOR,
        "sweep_processors": _and_list([f"{runs} run{'s' * (runs != 1)}" + (
            f" on {kind}" if kind != UNRECORDED_PROCESSOR else " whose processor is not recorded")
            for kind, runs in costs.processors]) or "no run stored",
        "sweep_first_start": costs.first_start or "none stored", "sweep_last_end": costs.last_end or "none stored",
        "sweep_span_h": span.total_seconds() / 3600.0 if span is not None else float("nan"),
        "sweep_busy_h": costs.busy_seconds / 3600.0,
        "sweep_side_by_side": _ratio(total.wall_seconds, costs.busy_seconds)})
