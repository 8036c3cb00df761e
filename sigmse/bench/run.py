"""``sigmse bench``: its sizes, its performance goals, its JSON records and its command.

:func:`run_bench` writes the measurements of :mod:`sigmse.bench.measures` with their provenance (load average
before and after: timings move on a busy machine); each of :data:`TARGETS` is reported as met or not, nothing is
tuned towards them. A record made for a profile, in ``results/<profile>/bench/``, is the one its book's performance
page shows (:func:`chapter_record`). :func:`run_costs` (``--costs``) measures what the sweep estimate prices runs with.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from sigmse.bench.measures import (PROFILE_EPOCH_LOSSES, epoch_scaling, image_costs, loss_step_times,
                                   output_reset_solver, profile_epochs, profile_synthetic_data, step_phases,
                                   synthetic_dataset, training_throughput)
from sigmse.checks import check_choice, check_number
from sigmse.data.datasets import load_dataset
from sigmse.provenance import machine, recorded_processor, run_provenance
from sigmse.runs.profiles import base_config, get_profile
from sigmse.runs.store import write_record
from sigmse.train import resolve_device

__all__ = ["BenchSize", "BENCH_SIZES", "get_bench_size", "PROFILE_BENCH_SIZES", "chapter_bench_size", "Target",
           "MAX_MLP_OVER_GEMM_FLOOR", "TARGETS", "judge_targets", "run_bench", "profile_bench_dir", "latest_bench",
           "chapter_record", "COSTS_SCHEMA", "run_costs", "format_table", "format_costs", "add_bench_arguments",
           "run_bench_command"]

SCHEMA = "sigmse.bench/3"  # 3: with step_phases; older records lack it and are not read
SECTIONS = ("throughput", "step_phases", "loss_steps", "output_reset", "epoch_scaling")  # in every record
PROFILE_SECTION = "profile_epochs"  # only in a record made for a profile
COSTS_SCHEMA = "sigmse.costs/1"


@dataclass(frozen=True)
class BenchSize:
    """How much :func:`run_bench` measures. Steps are optimizer steps of ``batch_size`` images."""

    name: str
    throughput_steps: dict[str, int]  # measured steps per pass, per model ("cpu" CIFAR net: resnet9_small)
    throughput_repeats: int  # timed passes after the warm-up pass
    loss_blocks: int  # timed blocks per loss (median reported), the losses alternating block by block
    loss_inner: int  # forward + backward steps per timed block
    solver_repeats: int  # timed calls per solver (median)
    scaling_sizes: tuple[int, ...]  # training-set sizes of epoch_scaling (MNIST mlp)
    batch_size: int = 128  # training batch, as in the user's DataLoader
    loss_batch: int = 512  # logits rows in loss_step_times and output_reset_solver
    classes: tuple[int, ...] = (10, 1000)
    or_iterations: int = 50  # steps of the alternating procedure compared with the exact solver
    workers: tuple[int, ...] | None = None  # num_workers of the naive loops; None: (0, 2), and 4 too on a GPU


BENCH_SIZES: dict[str, BenchSize] = {s.name: s for s in (
    # seconds: for tests and the smoke book; its numbers say only that everything runs
    BenchSize("smoke", {"mlp": 3, "cnn": 2, "resnet9_small": 1, "resnet9": 2}, throughput_repeats=1, loss_blocks=3,
              loss_inner=3, solver_repeats=3, scaling_sizes=(256, 1024)),
    # under a minute on 2 CPU cores
    BenchSize("ci", {"mlp": 20, "cnn": 5, "resnet9_small": 1, "resnet9": 20}, throughput_repeats=3, loss_blocks=7,
              loss_inner=10, solver_repeats=7, scaling_sizes=(1000, 4000)),
    BenchSize("full", {"mlp": 100, "cnn": 30, "resnet9_small": 6, "resnet9": 100}, throughput_repeats=5,
              loss_blocks=21, loss_inner=20, solver_repeats=21, scaling_sizes=(1000, 10000, 60000)),
)}
# The size the performance page shows under each profile
PROFILE_BENCH_SIZES: dict[str, str] = {"smoke": "smoke", "quick": "ci", "full": "full", "full2": "full",
                                       "paper": "full"}


def get_bench_size(name: str | BenchSize) -> BenchSize:
    """The :class:`BenchSize` called ``name`` (or ``name`` itself if it is one); ``ValueError`` lists the valid ones."""
    if not isinstance(name, BenchSize) and name not in BENCH_SIZES:
        raise ValueError(f"unknown bench size {name!r}; choose one of: {', '.join(BENCH_SIZES)}")
    return name if isinstance(name, BenchSize) else BENCH_SIZES[name]


def chapter_bench_size(profile: str, size: str | None = None, classes: Sequence[int] | None = None) -> BenchSize:
    """The size the performance page shows: ``size`` by name, else the profile's (:data:`PROFILE_BENCH_SIZES`),
    with the loss and solver measurements at ``classes`` output counts when given."""
    if size is None:
        if profile not in PROFILE_BENCH_SIZES:
            raise ValueError(f"no bench size for profile {profile!r}; choose one of: {', '.join(PROFILE_BENCH_SIZES)}")
        size = PROFILE_BENCH_SIZES[profile]
    return replace(get_bench_size(size), **({} if classes is None else {"classes": tuple(classes)}))


@dataclass(frozen=True)
class Target:
    """A performance goal: ``measured >= threshold`` (``at_least``) or ``measured <= threshold``, and why."""

    key: str
    description: str
    threshold: float
    at_least: bool
    reason: str


# The most the MNIST MLP trainer's time per image may exceed its matrix products' (on a CPU): full-data MNIST runs are
# most of the long CPU sweeps, and a step at most 30% above the products it cannot skip leaves little to gain.
MAX_MLP_OVER_GEMM_FLOOR = 1.3

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


def judge_targets(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of :data:`TARGETS` with its measured value (a speedup over the *fastest* naive loop), ``met`` (``None``
    where not measured, ``note`` saying why) and ``margin`` (measured / threshold)."""
    cpu, gpu = record["device"] == "cpu", record["device"] == "cuda"

    def throughput(dataset: str, model: str, column: str, loop: str | None = None) -> float | None:
        values = [r.get(column) for r in record["throughput"] if r["dataset"] == dataset and r["model"] == model
                  and (loop is None or r["loop"] == loop) and r.get(column) is not None]
        return min(values) if values else None

    def loss_ratio(classes: int) -> float | None:
        return next((r["ratio"] for r in record["loss_steps"]
                     if r["loss"] == "sigmoid_mse_or" and r["classes"] == classes), None)

    measured = {
        "mnist_mlp_cpu_speedup": (throughput("mnist", "mlp", "speedup") if cpu else None, "needs a CPU run"),
        "mnist_mlp_cpu_over_floor": (throughput("mnist", "mlp", "over_gemm_floor", "sigmse") if cpu else None,
                                     "needs a CPU run with the GEMM floor measured"),
        "cifar_gpu_speedup": (throughput("cifar10", "resnet9", "speedup") if gpu else None,
                              "needs a GPU run (on a CPU the CIFAR net is resnet9_small)"),
        "or_step_c10": (loss_ratio(10), "C = 10 was not measured"),
        "or_step_c1000": (loss_ratio(1000), "C = 1000 was not measured"),
    }
    rows = []
    for t in TARGETS:
        value, why_not = measured[t.key]
        met = None if value is None else (value >= t.threshold if t.at_least else value <= t.threshold)
        rows.append(dict(key=t.key, description=t.description, goal=f"{'≥' if t.at_least else '≤'} {t.threshold:g}",
                         threshold=t.threshold, measured=value, met=met,
                         margin=None if value is None else value / t.threshold,
                         note=why_not if value is None else "", reason=t.reason))
    return rows


@contextmanager
def _measuring(device: str | None, threads: int | None) -> Iterator[torch.device]:
    """The device to measure on, with torch's intra-op threads set to ``threads`` inside and restored after."""
    check_choice("device", device or "auto", ("auto", "cpu", "cuda"))
    torch_device = resolve_device(device or "auto")
    if threads is not None:
        check_number("threads", threads, low=1, integer=True, allowed="an integer >= 1")
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield torch_device
    finally:
        torch.set_num_threads(before)


def _new_record(schema: str, device: torch.device, synthetic: bool, **fields: Any) -> dict[str, Any]:
    return {"schema": schema, **fields, "device": device.type, "synthetic": synthetic,
            "provenance": {**run_provenance(device.type), **machine()}}


def _store(record: dict[str, Any], out_dir: str | Path, name: str, started: float) -> dict[str, Any]:
    """``record`` with the load average at its end and its wall seconds, written to ``<out_dir>/<name>-<UTC
    time>.json``; returned as stored, with its ``path``."""
    path = Path(out_dir) / f"{name}-{_dt.datetime.now(_dt.timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}.json"
    record["provenance"]["load_average_1min_end"] = machine()["load_average_1min"]
    record["wall_seconds"] = time.perf_counter() - started
    record = json.loads(json.dumps(record))
    write_record(record, path)
    return {**record, "path": str(path)}


def run_bench(size: str | BenchSize = "full", device: str | None = None, out_dir: str | Path = "results/bench", *,
              data_dir: str | Path | None = None, synthetic: bool = False, threads: int | None = None,
              progress: bool = False, profile: str | None = None) -> dict[str, Any]:
    """Run the measurements of :data:`SECTIONS` (with ``profile`` also :data:`PROFILE_SECTION`, an epoch of each
    of its datasets as its experiments train them), write them as JSON into ``out_dir`` and return the record.
    ``synthetic``: random images instead of the data root; ``progress``: name each measurement on stderr."""
    bench = get_bench_size(size)
    if profile is not None:
        get_profile(profile)  # ValueError listing the profiles, before anything is measured
    with _measuring(device, threads) as dev:
        started = time.perf_counter()
        record = _new_record(SCHEMA, dev, synthetic, size=bench.name, parameters=asdict(bench), profile=profile)
        cifar_net = "resnet9" if dev.type == "cuda" else "resnet9_small"  # a quarter of the width on a CPU
        cases = [("mnist", "mlp", False), ("mnist", "cnn", False), ("cifar10", cifar_net, True)]  # (.., augment)
        needed = {"mnist": max(bench.scaling_sizes), "cifar10": 0}
        for dataset, model, _ in cases:
            needed[dataset] = max(needed[dataset], bench.throughput_steps[model] * bench.batch_size)
        data = {name: synthetic_dataset(name, n) if synthetic else load_dataset(name, data_dir)
                for name, n in needed.items()}
        passes = dict(device=dev, repeats=bench.throughput_repeats, batch_size=bench.batch_size)
        sections: dict[str, Callable[[], list[dict[str, Any]]]] = {
            "throughput": lambda: [row for dataset, model, augment in cases for row in training_throughput(
                dataset, model, steps=bench.throughput_steps[model], workers=bench.workers, augment=augment,
                data=data[dataset], **passes)],
            "step_phases": lambda: step_phases(steps=bench.throughput_steps["mlp"], data=data["mnist"], **passes),
            "loss_steps": lambda: loss_step_times(bench.loss_batch, bench.classes, device=dev,
                                                  blocks=bench.loss_blocks, inner=bench.loss_inner),
            "output_reset": lambda: output_reset_solver(bench.loss_batch, bench.classes, device=dev,
                                                        iterations=bench.or_iterations, repeats=bench.solver_repeats),
            "epoch_scaling": lambda: epoch_scaling(bench.scaling_sizes, device=dev, batch_size=bench.batch_size,
                                                   data=data["mnist"]),
            PROFILE_SECTION: lambda: profile_epochs(profile, device=dev, data_dir=data_dir, synthetic=synthetic),
        }
        record["section_seconds"] = {}
        for name, measure in sections.items():
            if name == PROFILE_SECTION and profile is None:
                continue
            if progress:
                print(f"bench: {name.replace('_', ' ')}", file=sys.stderr, flush=True)
            section = time.perf_counter()
            record[name] = measure()
            record["section_seconds"][name] = time.perf_counter() - section
        record["targets"] = judge_targets(record)
        return _store(record, out_dir, f"bench-{bench.name}-{dev.type}", started)


def profile_bench_dir(results_dir: str | Path, profile: str) -> Path:
    """``<results_dir>/<profile>/bench/``: where the bench records made for ``profile`` live, beside its runs."""
    get_profile(profile)  # ValueError listing the profiles
    return Path(results_dir) / profile / "bench"


def latest_bench(out_dir: str | Path = "results/bench", *, size: str | BenchSize | None = None,
                 device: str | None = None, profile: str | None = None) -> dict[str, Any] | None:
    """The newest bench record in ``out_dir`` (of ``size``, ``device`` type and ``profile`` when given), or ``None``;
    a :class:`BenchSize` matches only the records measured with exactly its parameters."""
    parameters = json.loads(json.dumps(asdict(size))) if isinstance(size, BenchSize) else None  # lists, as stored
    size = None if size is None else get_bench_size(size).name
    newest: dict[str, Any] | None = None
    for path in sorted(Path(out_dir).glob("bench-*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (isinstance(record, dict) and record.get("schema") == SCHEMA
                and size in (None, record["size"]) and device in (None, record["device"])
                and parameters in (None, record["parameters"]) and profile in (None, record.get("profile"))
                and (newest is None or str(record["provenance"]["date"]) >= str(newest["provenance"]["date"]))):
            newest = {**record, "path": str(path)}
    return newest


def chapter_record(profile: str, *, results_dir: str | Path, size: str | None = None, device: str | None = None,
                   classes: Sequence[int] | None = None, rerun: bool = False, data_dir: str | Path | None = None,
                   threads: int | None = None) -> tuple[dict[str, Any], bool]:
    """The bench record the performance page of ``profile``'s book shows, and whether it was measured just now:
    the newest in :func:`profile_bench_dir` at :func:`chapter_bench_size`, else (or with ``rerun``) a new one. The
    full profile's is committed (``sigmse bench --size full --profile full --threads 1``)."""
    bench = chapter_bench_size(profile, size, classes)
    device_type = resolve_device(device or get_profile(profile).device).type
    out_dir = profile_bench_dir(results_dir, profile)
    record = None if rerun else latest_bench(out_dir, size=bench, device=device_type, profile=profile)
    if record is not None:
        return record, False
    return run_bench(bench, device_type, out_dir, data_dir=data_dir, threads=threads, profile=profile), True


def run_costs(profiles: Sequence[str] = ("full",), device: str | None = None, out_dir: str | Path = "results/bench",
              *, data_dir: str | Path | None = None, synthetic: bool = False, threads: int | None = None,
              progress: bool = False, train_images: int = 16384, repeats: int = 2,
              datasets: Sequence[str] | None = None) -> dict[str, Any]:
    """:func:`~sigmse.bench.measures.image_costs` of each dataset and model that ``profiles`` train (each kind once,
    as the first profile that has it trains it: its budget, its grid's first rate, seed 0), with each loss of
    :data:`~sigmse.bench.measures.PROFILE_EPOCH_LOSSES`, one run at a time; written to
    ``<out_dir>/costs-<device>-<UTC time>.json`` and returned with its path."""
    chosen = [get_profile(name) for name in profiles]  # ValueError listing the profiles, before any measuring
    if not chosen:
        raise ValueError("run_costs needs at least one profile; choose from the profiles of sigmse.runs.profiles")
    kinds: dict[tuple[str, str], Any] = {}
    for profile in chosen:
        for dataset in profile.datasets:
            if datasets is None or dataset in datasets:
                kinds.setdefault((dataset, profile.budgets[dataset].model), profile)
    with _measuring(device, threads) as dev:
        started = time.perf_counter()
        record = _new_record(COSTS_SCHEMA, dev, synthetic, profiles=list(profiles), costs=[])
        for (dataset, model), profile in kinds.items():
            data = profile_synthetic_data(profile, dataset) if synthetic else load_dataset(dataset, data_dir)
            for loss in PROFILE_EPOCH_LOSSES:
                if progress:
                    print(f"bench: costs of {dataset}/{model}/{loss}", file=sys.stderr, flush=True)
                config = base_config(profile, dataset, loss=loss, lr=profile.budgets[dataset].lr_grid[0], seed=0,
                                     device=dev.type)
                record["costs"].append({"profile": profile.name, **image_costs(
                    config, data=data, train_images=train_images, repeats=repeats)})
        return _store(record, out_dir, f"costs-{dev.type}", started)


def _table_cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.0f}"
    return str(value)


def _text_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [list(columns)] + [[_table_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join([title, *("  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells)])


def _head(command: str, provenance: dict[str, Any]) -> str:
    return (f"{command}, {provenance['device_name']}, {recorded_processor(provenance)}, torch "
            f"{provenance['torch_version']} ({provenance['torch_threads']} threads)")


_TABLES = (  # (section, title, columns) of format_table
    ("throughput", "Training throughput (images/s; speedup = sigmse / this loop; over_gemm_floor = time per image / "
     "the matrix products' alone)", ("dataset", "model", "augment", "loop", "steps_per_pass", "passes",
                                     "images_per_s", "speedup", "over_gemm_floor", "over_gemm_floor_fastest")),
    ("step_phases", "The MNIST MLP trainer's step, phase by phase, beside the matrix products each phase runs (seconds "
     "per step; over_gemm_floor = the phase's time / the whole floor's)",
     ("phase", "seconds_per_step", "share_of_step", "gemm_seconds_per_step", "beyond_gemm_seconds_per_step",
      "over_gemm_floor")),
    ("loss_steps", "Loss forward + backward on random logits (ratio to softmax_ce)",
     ("loss", "classes", "batch", "seconds", "ratio", "saved_bytes", "peak_bytes")),
    ("output_reset", "Output Reset: exact solver vs alternating procedure",
     ("classes", "batch", "iterations", "exact_seconds", "alternating_seconds", "max_abs_disagreement", "step_ratio",
      "solver_share_of_step")),
    ("epoch_scaling", "Seconds per epoch (sigmse trainer)",
     ("dataset", "model", "n_train", "seconds_per_epoch", "microseconds_per_image")),
    (PROFILE_SECTION, "Seconds per epoch of the {profile} profile's datasets",
     ("dataset", "model", "loss", "batch_size", "augment", "n_train", "seconds_per_epoch", "full_split_seconds")),
    ("targets", "Targets", ("key", "goal", "measured", "met", "note")),
)


def format_table(record: dict[str, Any]) -> str:
    """A :func:`run_bench` record as plain-text tables, one per measurement, then the targets."""
    p = record["provenance"]
    head = (_head(f"sigmse bench, size {record['size']}", p) + f", commit {str(p.get('git_commit'))[:10]}, "
            f"{p['date']}" + (", synthetic data" if record.get("synthetic") else ""))
    load, cpus = p.get("load_average_1min"), p.get("cpus_usable") or p.get("cpu_count")
    if load is not None and cpus and load > cpus:
        head += (f"\nNote: the machine was busy (1-minute load average {load:.1f} on {cpus} CPUs): timings are noisy"
                 + ("; with several torch threads they can be many times too slow (try --threads 1)"
                    if p["torch_threads"] > 1 and record["device"] == "cpu" else ""))
    return "\n\n".join([head] + [_text_table(title.format(profile=record.get("profile")), record[section], columns)
                                 for section, title, columns in _TABLES if section in record])


def format_costs(record: dict[str, Any]) -> str:
    """A :func:`run_costs` record as a plain-text table: microseconds per training and evaluated image, setup."""
    p = record["provenance"]
    rows = [{**row, "train_us_per_image": 1e6 * row["train_seconds_per_image"], "eval_us_per_image":
             None if row["eval_seconds_per_image"] is None else 1e6 * row["eval_seconds_per_image"]}
            for row in record["costs"]]
    head = (_head(f"sigmse bench --costs {' '.join(record['profiles'])}", p) + f", load average "
            f"{_table_cell(p.get('load_average_1min'))} to {_table_cell(p.get('load_average_1min_end'))}, {p['date']}")
    return "\n\n".join([head, _text_table(
        "What a run costs (one run at a time): training and evaluation per image, setup per run", rows,
        ("profile", "dataset", "model", "loss", "batch_size", "threads", "n_train", "n_eval", "train_us_per_image",
         "eval_us_per_image", "setup_seconds"))])


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``sigmse bench``."""
    parser.add_argument("--size", default="full",
                        help=f"one of: {', '.join(BENCH_SIZES)} (default: full; ci: under a minute on 2 CPU cores)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--profile", help="also time an epoch of each dataset of this profile, as its experiments "
                        "train them; the record is then the one that profile's book shows (with --size matching it)")
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
    """``sigmse bench``: measure, print the tables and where the JSON went; 0 whether or not the targets are met."""
    profiles = None if args.costs is None else (args.costs or ["full"])
    folder_profile = profiles[0] if profiles else args.profile
    out_dir = args.out_dir if args.out_dir is not None else (
        "results/bench" if folder_profile is None else profile_bench_dir("results", folder_profile))
    options = dict(data_dir=args.data_dir, synthetic=args.synthetic, threads=args.threads, progress=True)
    if profiles is not None:
        record = run_costs(profiles, args.device, out_dir, **options)
        print(format_costs(record))
    else:
        record = run_bench(args.size, args.device, out_dir, profile=args.profile, **options)
        print(format_table(record))
    print(f"\nwritten to {record['path']} in {record['wall_seconds']:.0f} s")
    return 0
