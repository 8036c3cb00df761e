"""Benchmarks: the sigmse trainer against the loop a user writes by hand, the cost of each loss, Output Reset.

``sigmse bench`` runs the measurements of :mod:`sigmse.bench.measures` side by side, in one process on one
machine, at one of the sizes of :data:`BENCH_SIZES`, and writes them with their provenance to
``<out_dir>/bench-<size>-<device>-<UTC time>.json``: training throughput of the trainer against hand-written
``DataLoader`` loops, the MNIST MLP trainer's step phase by phase, forward + backward time of every loss, the
exact Output Reset solver against the alternating procedure, and seconds per epoch as the training set grows;
given a profile, also seconds per epoch of each of its datasets as its experiments train them (what the book's performance chapter shows:
:mod:`sigmse.bench.chapter`). The JSON records the core count, torch's thread counts and the load average
before and after, since the numbers move on a busy machine.

Every throughput row also carries its loop's time per image over the GEMM floor, the same training step's
matrix products alone, timed in the same process right after each trainer epoch
(:func:`sigmse.bench.measures.gemm_floor_step`). The project's performance goals (:data:`TARGETS`, each with
its reason) are reported as met or not with the measured value; nothing is tuned towards them.
:func:`latest_bench` reads the newest record back (of a size, device and profile) and :func:`format_table`
prints one.

``sigmse bench --costs [PROFILE ...]`` measures only what the sweep estimate needs (:func:`run_costs`): per dataset
and model the profiles train, and per loss, seconds per training image, per evaluated image and of setup, at the
given torch threads, written to ``<out_dir>/costs-<device>-<UTC time>.json``;
:data:`sigmse.runs.protocol.MEASURED_IMAGE_COSTS` is read from such records.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from sigmse.bench.measures import (PROFILE_EPOCH_LOSSES, check_positive, epoch_scaling, image_costs,
                                   loss_step_times, output_reset_solver, profile_epochs, profile_synthetic_data,
                                   step_phases, synthetic_dataset, training_throughput)
from sigmse.data.datasets import load_dataset
from sigmse.provenance import machine, recorded_processor, run_provenance
from sigmse.runs.profiles import base_config, get_profile
from sigmse.runs.store import write_record
from sigmse.train import resolve_device

__all__ = [
    "BenchSize",
    "BENCH_SIZES",
    "get_bench_size",
    "Target",
    "MAX_MLP_OVER_GEMM_FLOOR",
    "TARGETS",
    "check_targets",
    "run_bench",
    "latest_bench",
    "profile_bench_dir",
    "format_table",
    "COSTS_SCHEMA",
    "run_costs",
    "format_costs",
    "add_bench_arguments",
    "run_bench_command",
]

SCHEMA = "sigmse.bench/3"  # 3: the MNIST MLP step phase by phase (step_phases); older records lack it, not read
SECTIONS = ("throughput", "step_phases", "loss_steps", "output_reset", "epoch_scaling")  # in every record
PROFILE_SECTION = "profile_epochs"  # only in a record made for a profile (run_bench(profile=...))


@dataclass(frozen=True)
class BenchSize:
    """How much :func:`run_bench` measures. Steps are optimizer steps of ``batch_size`` images."""

    name: str
    throughput_steps: dict[str, int]  # measured steps per pass, per model ("cpu" CIFAR net: resnet9_small)
    throughput_repeats: int  # measured passes after the warm-up pass; each pass is as long as the warm-up
    loss_blocks: int  # timed blocks per loss (the median is reported); the losses alternate block by block
    loss_inner: int  # forward + backward steps per timed block
    solver_repeats: int  # timed calls per solver (median)
    scaling_sizes: tuple[int, ...]  # training-set sizes of epoch_scaling (MNIST mlp)
    batch_size: int = 128  # training batch, as in the user's DataLoader
    loss_batch: int = 512  # logits rows in loss_step_times and output_reset_solver
    classes: tuple[int, ...] = (10, 1000)
    or_iterations: int = 50  # steps of the alternating procedure compared with the exact solver
    workers: tuple[int, ...] | None = None  # num_workers of the naive loops; None: (0, 2), and 4 too on a GPU


BENCH_SIZES: dict[str, BenchSize] = {
    s.name: s
    for s in (
        # seconds: for tests and the smoke book; its numbers say only that everything runs
        BenchSize("smoke", {"mlp": 3, "cnn": 2, "resnet9_small": 1, "resnet9": 2}, throughput_repeats=1,
                  loss_blocks=3, loss_inner=3, solver_repeats=3, scaling_sizes=(256, 1024)),
        # under a minute on 2 CPU cores
        BenchSize("ci", {"mlp": 20, "cnn": 5, "resnet9_small": 1, "resnet9": 20}, throughput_repeats=3,
                  loss_blocks=7, loss_inner=10, solver_repeats=7, scaling_sizes=(1000, 4000)),
        BenchSize("full", {"mlp": 100, "cnn": 30, "resnet9_small": 6, "resnet9": 100}, throughput_repeats=5,
                  loss_blocks=21, loss_inner=20, solver_repeats=21, scaling_sizes=(1000, 10000, 60000)),
    )
}


def get_bench_size(name: str | BenchSize) -> BenchSize:
    """The :class:`BenchSize` called ``name`` (or ``name`` itself if it is one); an unknown name raises
    ``ValueError`` listing the valid ones."""
    if isinstance(name, BenchSize):
        return name
    if name not in BENCH_SIZES:
        raise ValueError(f"unknown bench size {name!r}; choose one of: {', '.join(BENCH_SIZES)}")
    return BENCH_SIZES[name]


@dataclass(frozen=True)
class Target:
    """A performance goal: ``measured >= threshold`` (``at_least``) or ``measured <= threshold``, and why."""

    key: str
    description: str
    threshold: float
    at_least: bool
    reason: str


MAX_MLP_OVER_GEMM_FLOOR = 1.3
"""The most the MNIST MLP trainer's time per image may exceed its matrix products' (on a CPU).

Full-data MNIST runs make up most of the project's long CPU sweeps, and the three layers' matrix products
are work no trainer can skip: a step at most 30% above them leaves the data path, the loss, the activations
and the optimizer a small share of the time, so a faster trainer could save little more."""

TARGETS: tuple[Target, ...] = (
    Target("mnist_mlp_cpu_speedup", "MNIST mlp on CPU: sigmse trainer / fastest naive loop, images/s", 5.0, True,
           "where decoding a PIL image per example dominates a small model's step, device-resident batches "
           "should win several-fold"),
    Target("mnist_mlp_cpu_over_floor", "MNIST mlp on CPU: sigmse trainer's time per image / its GEMM floor's",
           MAX_MLP_OVER_GEMM_FLOOR, False, "see MAX_MLP_OVER_GEMM_FLOOR: the trainer adds little to the matrix "
           "products it cannot avoid"),
    Target("cifar_gpu_speedup", "CIFAR-10 resnet9 on GPU: sigmse trainer / fastest naive loop, images/s", 10.0,
           True, "a GPU outruns a per-item CPU data path by an order of magnitude, so the gain should be that large"),
    Target("or_step_c10", "sigmoid_mse_or / softmax_ce loss forward+backward time, C = 10", 1.3, False,
           "Output Reset should cost little more than the softmax it is compared with"),
    Target("or_step_c1000", "sigmoid_mse_or / softmax_ce loss forward+backward time, C = 1000", 2.0, False,
           "with many classes a per-row solver may cost more, but not a multiple of the baseline's time"),
)


# ----------------------------------------------------------------------------------------------------- targets


def check_targets(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of :data:`TARGETS` with the measured value, ``met`` (``None`` where not measured) and ``margin``.

    A speedup is measured against the *fastest* naive loop; the floor ratio is the trainer's median
    ``over_gemm_floor``; ``margin`` is measured / threshold.
    """
    device = record["device"]

    def speedup(dataset: str, model: str) -> float | None:
        ratios = [r["speedup"] for r in record["throughput"]
                  if r["dataset"] == dataset and r["model"] == model and r["speedup"] is not None]
        return min(ratios) if ratios else None

    def over_floor(dataset: str, model: str) -> float | None:
        ratios = [r.get("over_gemm_floor") for r in record["throughput"]
                  if r["dataset"] == dataset and r["model"] == model and r["loop"] == "sigmse"]
        return ratios[0] if ratios and ratios[0] is not None else None

    def loss_ratio(classes: int) -> float | None:
        ratios = [r["ratio"] for r in record["loss_steps"] if r["loss"] == "sigmoid_mse_or" and r["classes"] == classes]
        return ratios[0] if ratios else None

    measured = {
        "mnist_mlp_cpu_speedup": (speedup("mnist", "mlp") if device == "cpu" else None, "needs a CPU run"),
        "mnist_mlp_cpu_over_floor": (over_floor("mnist", "mlp") if device == "cpu" else None,
                                     "needs a CPU run with the GEMM floor measured"),
        "cifar_gpu_speedup": (speedup("cifar10", "resnet9") if device == "cuda" else None,
                              "needs a GPU run (on a CPU the CIFAR net is resnet9_small)"),
        "or_step_c10": (loss_ratio(10), "C = 10 was not measured"),
        "or_step_c1000": (loss_ratio(1000), "C = 1000 was not measured"),
    }
    rows = []
    for target in TARGETS:
        value, why_not = measured[target.key]
        met = None if value is None else (value >= target.threshold if target.at_least else value <= target.threshold)
        rows.append(dict(key=target.key, description=target.description,
                         goal=f"{'≥' if target.at_least else '≤'} {target.threshold:g}", threshold=target.threshold,
                         measured=value, met=met, margin=None if value is None else value / target.threshold,
                         note=why_not if value is None else "", reason=target.reason))
    return rows


# --------------------------------------------------------------------------------------------------- run_bench


def _check_device(device: str | None) -> torch.device:
    allowed = ("auto", "cpu", "cuda")
    if device is not None and device not in allowed:
        raise ValueError(f"device {device!r} is not allowed; choose one of: {', '.join(allowed)}")
    return resolve_device(device or "auto")  # "cuda" without a GPU raises ValueError


def _throughput_cases(device: torch.device) -> list[tuple[str, str, bool]]:
    """(dataset, model, augment): MNIST mlp and cnn, and the CIFAR net with the paper profile's random crop and
    flip (but batch 128, Adam and float32, like the others); on a CPU it is resnet9_small, a quarter of the width."""
    cifar_net = "resnet9" if device.type == "cuda" else "resnet9_small"
    return [("mnist", "mlp", False), ("mnist", "cnn", False), ("cifar10", cifar_net, True)]


def run_bench(size: str | BenchSize = "full", device: str | None = None, out_dir: str | Path = "results/bench", *,
              data_dir: str | Path | None = None, synthetic: bool = False, threads: int | None = None,
              progress: bool = False, profile: str | None = None) -> dict[str, Any]:
    """Run the measurements of :data:`SECTIONS` (and :data:`PROFILE_SECTION` with ``profile``), write them as JSON
    into ``out_dir``, return the record.

    Args:
        size: a key of :data:`BENCH_SIZES`: ``full``, ``ci`` (under a minute on 2 CPU cores) or ``smoke``;
            or a :class:`BenchSize`.
        device: ``None``/``"auto"``, ``"cpu"`` or ``"cuda"``.
        out_dir: where ``bench-<size>-<device>-<UTC time>.json`` is written; the record's ``path`` says which.
        data_dir: the data root (else ``$SIGMSE_DATA_DIR``, else ``./data``).
        synthetic: random images of each dataset's shape instead of the data root (timings do not depend on
            pixel values; the naive loop then uses :class:`~sigmse.bench.naive_loop.ArrayImageDataset`).
        threads: torch's intra-op threads during the run (restored after); ``None`` keeps torch's default.
        progress: print each measurement's name to stderr as it starts.
        profile: a :mod:`sigmse.runs.profiles` name: also time an epoch of each of its datasets with each loss
            of :data:`~sigmse.bench.measures.PROFILE_EPOCH_LOSSES`, as its experiments train them
            (:func:`~sigmse.bench.measures.profile_epochs`), stored under ``profile_epochs``. ``None``: not.
    """
    bench = get_bench_size(size)
    torch_device = _check_device(device)
    if profile is not None:
        get_profile(profile)  # ValueError listing the profiles, before anything is measured
    if threads is None:
        return _run_bench(bench, torch_device, Path(out_dir), data_dir, synthetic, progress, profile)
    check_positive("threads", threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run_bench(bench, torch_device, Path(out_dir), data_dir, synthetic, progress, profile)
    finally:
        torch.set_num_threads(before)


def _run_bench(bench: BenchSize, torch_device: torch.device, out_dir: Path, data_dir: str | Path | None,
               synthetic: bool, progress: bool, profile: str | None) -> dict[str, Any]:
    say = (lambda text: print(f"bench: {text}", file=sys.stderr, flush=True)) if progress else (lambda text: None)
    started = time.perf_counter()
    record: dict[str, Any] = {"schema": SCHEMA, "size": bench.name, "device": torch_device.type,
                              "synthetic": synthetic, "parameters": asdict(bench), "profile": profile,
                              "provenance": {**run_provenance(torch_device.type), **machine()}}
    cases = _throughput_cases(torch_device)
    needed = {"mnist": max(bench.scaling_sizes), "cifar10": 0}
    for dataset, model, _ in cases:
        needed[dataset] = max(needed[dataset], bench.throughput_steps[model] * bench.batch_size)
    data = {name: synthetic_dataset(name, n) if synthetic else load_dataset(name, data_dir)
            for name, n in needed.items()}
    seconds: dict[str, float] = {}

    section = time.perf_counter()
    record["throughput"] = []
    for dataset, model, augment in cases:
        say(f"throughput {dataset}/{model}")
        record["throughput"] += training_throughput(
            dataset, model, device=torch_device, steps=bench.throughput_steps[model],
            repeats=bench.throughput_repeats, batch_size=bench.batch_size, workers=bench.workers, augment=augment,
            data=data[dataset])
    seconds["throughput"] = time.perf_counter() - section

    section = time.perf_counter()
    say("step phases mnist/mlp")
    record["step_phases"] = step_phases("mnist", "mlp", device=torch_device, steps=bench.throughput_steps["mlp"],
                                        repeats=bench.throughput_repeats, batch_size=bench.batch_size,
                                        data=data["mnist"])
    seconds["step_phases"] = time.perf_counter() - section

    section = time.perf_counter()
    say("loss steps")
    record["loss_steps"] = loss_step_times(bench.loss_batch, bench.classes, device=torch_device,
                                           blocks=bench.loss_blocks, inner=bench.loss_inner)
    seconds["loss_steps"] = time.perf_counter() - section

    section = time.perf_counter()
    say("Output Reset solver")
    record["output_reset"] = output_reset_solver(bench.loss_batch, bench.classes, iterations=bench.or_iterations,
                                                 device=torch_device, repeats=bench.solver_repeats)
    seconds["output_reset"] = time.perf_counter() - section

    section = time.perf_counter()
    say("epoch scaling")
    record["epoch_scaling"] = epoch_scaling(bench.scaling_sizes, device=torch_device, batch_size=bench.batch_size,
                                            data=data["mnist"])
    seconds["epoch_scaling"] = time.perf_counter() - section

    if profile is not None:
        section = time.perf_counter()
        say(f"epochs of the {profile} profile")
        record[PROFILE_SECTION] = profile_epochs(profile, device=torch_device, data_dir=data_dir, synthetic=synthetic)
        seconds[PROFILE_SECTION] = time.perf_counter() - section

    record["targets"] = check_targets(record)
    record["provenance"]["load_average_1min_end"] = machine()["load_average_1min"]
    record["section_seconds"] = seconds
    record["wall_seconds"] = time.perf_counter() - started
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = out_dir / f"bench-{bench.name}-{torch_device.type}-{stamp}.json"
    record = json.loads(json.dumps(record))  # tuples become lists: the record returned is the record stored
    write_record(record, path)
    return {**record, "path": str(path)}


def profile_bench_dir(results_dir: str | Path, profile: str) -> Path:
    """Where the bench records made for ``profile`` live: ``<results_dir>/<profile>/bench/``, beside the
    profile's experiment records. A profile whose records are committed (``full``, ``paper``) thereby commits
    the record its book's performance chapter shows, so that the book builds without measuring; the records
    of ``quick`` and ``smoke`` stay build outputs, git-ignored with the rest of their folders."""
    get_profile(profile)  # ValueError listing the profiles
    return Path(results_dir) / profile / "bench"


def latest_bench(out_dir: str | Path = "results/bench", *, size: str | BenchSize | None = None,
                 device: str | None = None, profile: str | None = None) -> dict[str, Any] | None:
    """The newest bench record in ``out_dir``, or ``None``; only those of ``size``, ``device`` type and ``profile``
    when given.

    ``size`` by name matches the records of that name; a :class:`BenchSize` matches only the records measured
    with exactly its parameters (a size redefined since, or one with other class counts, does not). ``profile``
    matches the records that timed its datasets' epochs (:func:`run_bench` with that ``profile``).
    """
    parameters = None
    if isinstance(size, BenchSize):
        parameters, size = json.loads(json.dumps(asdict(size))), size.name  # as stored: tuples become lists
    elif size is not None:
        get_bench_size(size)
    newest: tuple[str, dict[str, Any]] | None = None
    for path in sorted(Path(out_dir).glob("bench-*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.get("schema") != SCHEMA:
            continue
        if ((size is None or record["size"] == size) and (device is None or record["device"] == device)
                and (parameters is None or record["parameters"] == parameters)
                and (profile is None or record.get("profile") == profile)):
            date = str(record["provenance"]["date"])
            if newest is None or date >= newest[0]:
                newest = (date, {**record, "path": str(path)})
    return None if newest is None else newest[1]


# --------------------------------------------------------------------------------------------------- run_costs


COSTS_SCHEMA = "sigmse.costs/1"


def run_costs(profiles: Sequence[str] = ("full",), device: str | None = None, out_dir: str | Path = "results/bench",
              *, data_dir: str | Path | None = None, synthetic: bool = False, threads: int | None = None,
              progress: bool = False, train_images: int = 16384, repeats: int = 2,
              datasets: Sequence[str] | None = None) -> dict[str, Any]:
    """:func:`~sigmse.bench.measures.image_costs` of each dataset (of ``datasets``, default all) and model that
    ``profiles`` train (each kind once, as the first profile that has it trains it: its budget, the first rate of
    its grid, seed 0), with each
    loss of :data:`~sigmse.bench.measures.PROFILE_EPOCH_LOSSES`, one run at a time at ``threads`` torch threads
    (restored after; ``None``: torch's own). Written with its provenance (load average before and after
    included) to ``<out_dir>/costs-<device>-<UTC time>.json`` and returned, its ``path`` saying where.
    ``synthetic``: random images of each dataset's shape instead of the data root."""
    chosen = [get_profile(name) for name in profiles]  # ValueError listing the profiles, before any measuring
    if not chosen:
        raise ValueError("run_costs needs at least one profile; choose from the profiles of sigmse.runs.profiles")
    torch_device = _check_device(device)
    if threads is not None:
        check_positive("threads", threads)
    kinds: dict[tuple[str, str], Any] = {}
    for profile in chosen:
        for dataset in profile.datasets:
            if datasets is None or dataset in datasets:
                kinds.setdefault((dataset, profile.budgets[dataset].model), profile)
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        started = time.perf_counter()
        record: dict[str, Any] = {"schema": COSTS_SCHEMA, "profiles": list(profiles), "device": torch_device.type,
                                  "synthetic": synthetic, "provenance": {**run_provenance(torch_device.type),
                                                                         **machine()}, "costs": []}
        for (dataset, model), profile in kinds.items():
            data = profile_synthetic_data(profile, dataset) if synthetic else load_dataset(dataset, data_dir)
            for loss in PROFILE_EPOCH_LOSSES:
                if progress:
                    print(f"bench: costs of {dataset}/{model}/{loss}", file=sys.stderr, flush=True)
                config = base_config(profile, dataset, loss=loss, lr=profile.budgets[dataset].lr_grid[0], seed=0,
                                     device=torch_device.type)
                record["costs"].append({"profile": profile.name, **image_costs(
                    config, data=data, train_images=train_images, repeats=repeats)})
        record["provenance"]["load_average_1min_end"] = machine()["load_average_1min"]
        record["wall_seconds"] = time.perf_counter() - started
    finally:
        torch.set_num_threads(before)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = Path(out_dir) / f"costs-{torch_device.type}-{stamp}.json"
    record = json.loads(json.dumps(record))
    write_record(record, path)
    return {**record, "path": str(path)}


# ------------------------------------------------------------------------------------------------------ tables


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def _text_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [list(columns)] + [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join([title, *lines])


def format_table(record: dict[str, Any]) -> str:
    """The record as plain-text tables, one per measurement, then the targets."""
    p = record["provenance"]
    head = (f"sigmse bench, size {record['size']}, {p['device_name']}, {recorded_processor(p)}, "
            f"torch {p['torch_version']} ({p['torch_threads']} threads), commit {str(p.get('git_commit'))[:10]}, "
            f"{p['date']}"
            + (", synthetic data" if record.get("synthetic") else ""))
    load, cpus = p.get("load_average_1min"), p.get("cpus_usable") or p.get("cpu_count")
    if load is not None and cpus and load > cpus:
        head += (f"\nNote: the machine was busy (1-minute load average {load:.1f} on {cpus} CPUs): timings are noisy"
                 + ("; with several torch threads they can be many times too slow (try --threads 1)"
                    if p["torch_threads"] > 1 and record["device"] == "cpu" else ""))
    return "\n\n".join([
        head,
        _text_table("Training throughput (images/s; speedup = sigmse / this loop; over_gemm_floor = time per image "
                    "/ the matrix products' alone)", record["throughput"],
                    ("dataset", "model", "augment", "loop", "steps_per_pass", "passes", "images_per_s", "speedup",
                     "over_gemm_floor", "over_gemm_floor_fastest")),
        _text_table("The MNIST MLP trainer's step, phase by phase, beside the matrix products each phase runs "
                    "(seconds per step; over_gemm_floor = the phase's time / the whole floor's)", record["step_phases"],
                    ("phase", "seconds_per_step", "share_of_step", "gemm_seconds_per_step",
                     "beyond_gemm_seconds_per_step", "over_gemm_floor")),
        _text_table("Loss forward + backward on random logits (ratio to softmax_ce)", record["loss_steps"],
                    ("loss", "classes", "batch", "seconds", "ratio", "saved_bytes", "peak_bytes")),
        _text_table("Output Reset: exact solver vs alternating procedure", record["output_reset"],
                    ("classes", "batch", "iterations", "exact_seconds", "alternating_seconds",
                     "max_abs_disagreement", "step_ratio", "solver_share_of_step")),
        _text_table("Seconds per epoch (sigmse trainer)", record["epoch_scaling"],
                    ("dataset", "model", "n_train", "seconds_per_epoch", "microseconds_per_image")),
        *([_text_table(f"Seconds per epoch of the {record['profile']} profile's datasets", record[PROFILE_SECTION],
                       ("dataset", "model", "loss", "batch_size", "augment", "n_train", "seconds_per_epoch",
                        "full_split_seconds"))] if PROFILE_SECTION in record else []),
        _text_table("Targets", record["targets"], ("key", "goal", "measured", "met", "note")),
    ])


def format_costs(record: dict[str, Any]) -> str:
    """A :func:`run_costs` record as a plain-text table: per dataset and loss, microseconds per training and per
    evaluated image and seconds of setup."""
    p = record["provenance"]
    rows = [{**row, "train_us_per_image": 1e6 * row["train_seconds_per_image"],
             "eval_us_per_image": None if row["eval_seconds_per_image"] is None else
             1e6 * row["eval_seconds_per_image"]} for row in record["costs"]]
    head = (f"sigmse bench --costs {' '.join(record['profiles'])}, {p['device_name']}, {recorded_processor(p)}, "
            f"torch {p['torch_version']} ({p['torch_threads']} threads), load average "
            f"{_cell(p.get('load_average_1min'))} to {_cell(p.get('load_average_1min_end'))}, {p['date']}")
    return "\n\n".join([head, _text_table(
        "What a run costs (one run at a time): training and evaluation per image, setup per run", rows,
        ("profile", "dataset", "model", "loss", "batch_size", "threads", "n_train", "n_eval", "train_us_per_image",
         "eval_us_per_image", "setup_seconds"))])


# --------------------------------------------------------------------------------------------------------- CLI


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``sigmse bench``."""
    parser.add_argument("--size", default="full",
                        help=f"one of: {', '.join(BENCH_SIZES)} (default: full; ci: under a minute on 2 CPU cores)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--profile",
                        help="also time an epoch of each dataset of this profile, as its experiments train them; "
                             "the record is then the one that profile's book shows (with --size matching it)")
    parser.add_argument("--out-dir", help="where the JSON goes (default: results/<profile>/bench with --profile, "
                                          "else results/bench)")
    parser.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")
    parser.add_argument("--synthetic", action="store_true",
                        help="random images of each dataset's shape instead of the data root")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's own choice)")
    parser.add_argument("--costs", nargs="*", metavar="PROFILE",
                        help="measure only what the sweep estimate prices runs with: per dataset and model these "
                             "profiles train (default: full), seconds per training image, per evaluated image and "
                             "of setup at --threads, written to costs-<device>-<time>.json (default folder: the "
                             "first profile's bench folder)")


def run_bench_command(args: argparse.Namespace) -> int:
    """``sigmse bench``: run, print the tables and where the JSON went; 0 whether or not the targets are met.
    With ``--costs``, only :func:`run_costs` (into its first profile's bench folder unless ``--out-dir``). An unknown
    ``--profile``, size or device is a ``ValueError`` before anything is measured."""
    if args.costs is not None:
        profiles = args.costs or ["full"]
        out_dir = Path(args.out_dir) if args.out_dir is not None else profile_bench_dir("results", profiles[0])
        record = run_costs(profiles, args.device, out_dir, data_dir=args.data_dir, synthetic=args.synthetic,
                           threads=args.threads, progress=True)
        print(format_costs(record))
        print(f"\nwritten to {record['path']} in {record['wall_seconds']:.0f} s")
        return 0
    if args.out_dir is not None:
        out_dir = Path(args.out_dir)
    else:
        out_dir = Path("results/bench") if args.profile is None else profile_bench_dir("results", args.profile)
    record = run_bench(args.size, args.device, out_dir, data_dir=args.data_dir, synthetic=args.synthetic,
                       threads=args.threads, progress=True, profile=args.profile)
    print(format_table(record))
    print(f"\nwritten to {record['path']} in {record['wall_seconds']:.0f} s")
    return 0
