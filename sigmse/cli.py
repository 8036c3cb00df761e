"""The ``sigmse`` command line: ``train``, ``sweep``, ``book``, ``audit``, ``bench``, ``data check|download``.

The parser is :mod:`sigmse.commands`'. Bad input exits with status 2 and one line naming the bad value and what
is allowed, before any work. Each command imports what it needs inside its function, so ``sigmse --help``
answers without importing papermill or Jupyter Book.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from dataclasses import fields
from typing import Any, Sequence

from sigmse.commands import UsageError, build_parser, command_reference

__all__ = ["main", "build_parser", "command_reference", "UsageError"]


def _check_data_dir(data_dir: str | None) -> None:
    """An explicitly given data root (``--data-dir`` or ``$SIGMSE_DATA_DIR``) that is not a folder is an error."""
    from sigmse.data.datasets import DATA_DIR_ENV, resolve_data_dir

    root = resolve_data_dir(data_dir)
    if (data_dir is not None or DATA_DIR_ENV in os.environ) and not root.is_dir():
        raise UsageError(f"sigmse: error: data root {str(root)!r} does not exist or is not a folder; "
                         "pass --data-dir or set SIGMSE_DATA_DIR to the folder that holds the datasets")


def _run_train(args: argparse.Namespace) -> int:
    from sigmse.config import RunConfig, config_from_dict
    from sigmse.data.datasets import load_dataset
    from sigmse.train import resolve_device, train

    names = {f.name for f in fields(RunConfig)}
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "loss_options" in values:
        values["loss_options"] = dict(values["loss_options"])
    config = config_from_dict(values)
    resolve_device(config.device)
    _check_data_dir(args.data_dir)
    load_dataset(config.dataset, args.data_dir, download=args.download)  # fails fast, fills the cache

    columns = ("epoch", "train_loss", "train_acc", "val_acc", "test_acc", "reset_fraction", "seconds")
    print(f"run {config.hash}: {config.canonical_json()}")
    print(" ".join(f"{c:>14}" for c in columns))

    def show(row: dict[str, Any]) -> None:
        print(" ".join(f"{'-':>14}" if v is None else f"{v:>14.4f}" if isinstance(v, float) else f"{v:>14}"
                       for v in map(row.get, columns)), flush=True)

    result = train(config, data_dir=args.data_dir, on_epoch=show)
    metrics = result["metrics"]
    if result["status"] != "ok":
        print(f"status: {result['status']} after {metrics['epochs_run']} epoch(s)")
        return 1
    print(f"test accuracy {metrics['test_acc']:.4f}, NLL {metrics['test_nll']:.4f}, ECE {metrics['test_ece']:.4f}, "
          f"training {metrics['train_seconds']:.1f} s")
    return 0


def _run_sweep(args: argparse.Namespace) -> int:
    from sigmse.runs.executors import check_executor_options, executor_resources, run_configs
    from sigmse.runs.experiments import (PlanOptions, estimate_sweep, experiment_names, sweep_costs, sweep_plans,
                                         sweep_stages)
    from sigmse.runs.profiles import get_profile

    resources = executor_resources(args)
    check_executor_options(args.executor, args.jobs, args.retries, resources, args.threads)  # before any work
    profile = get_profile(args.profile)
    names = args.only or experiment_names()
    if unknown := [name for name in names if name not in experiment_names()]:
        raise UsageError(f"sigmse sweep: error: unknown experiment {unknown[0]!r}; "
                         f"choose one of: {', '.join(experiment_names())}")
    options = PlanOptions(args.results_dir, device=args.device, datasets=args.datasets,
                          selection_seeds=args.selection_seeds, seeds=args.seeds)
    _check_data_dir(args.data_dir)
    plans = sweep_plans(names, profile, options)  # once: the estimate, the dry run and the sweep read it
    estimate = estimate_sweep(plans, profile, options, jobs=args.jobs or 1, threads=args.threads)
    print(f"profile {profile.name}: {estimate.total} runs in {', '.join(names)}; {estimate.stored} already stored "
          f"in {Path(args.results_dir) / profile.name}"
          + (f"; {estimate.waiting} reporting runs wait for their selection runs" if estimate.waiting else ""))
    if estimate.to_train:  # printed before any run starts, as with --dry-run
        print(f"estimated time of the {estimate.to_train} runs still to do on a machine like this one: "
              f"{estimate.parts_text} (costs per image from the {estimate.source}, timed one run at a time: "
              "runs side by side can each take longer)", flush=True)
    else:
        print("every run is stored: nothing to train")
    if args.dry_run:
        _print_grid_extensions(plans, profile.lr_grid_extensions)
        costs = sweep_costs(names, profile, options, threads=estimate.threads)
        for experiment in dict.fromkeys(row.experiment for row in costs.rows):  # where a long sweep stands
            print(f"stored in {experiment}: " + ", ".join(f"{row.dataset} {row.stored} of {row.planned}"
                                                         for row in costs.rows if row.experiment == experiment))
        if estimate.stored:
            stored = costs.total
            print(f"the {stored.stored} stored runs measured {stored.train_seconds / 3600:.1f} hours of training "
                  f"({stored.wall_seconds / 3600:.1f} hours from start to record), summed over runs, against "
                  f"{stored.estimated_measured_seconds / 3600:.1f} hours the measured table prices them at "
                  f"({stored.estimated_measured_wall_seconds / 3600:.1f} hours for the whole runs)")
        return 0

    def run(configs: list) -> Any:
        summary = run_configs(configs, profile=profile.name, results_dir=args.results_dir, data_dir=args.data_dir,
                              executor=args.executor, jobs=args.jobs, ray_address=args.ray_address,
                              retries=args.retries, resources=resources, threads=args.threads)
        print(summary)
        return summary

    summaries = sweep_stages(plans, profile, run, options)
    return 1 if any(summary.failed for summary in summaries) else 0


def _print_grid_extensions(plans: list, limit: int) -> None:
    """One line per rate the grid-edge rule added, then one per group whose chosen rate still sits at an edge
    after the profile's ``limit`` of additions."""
    lines = dict.fromkeys(f"grid-edge rule: {extension}" for plan in plans for extension in plan.extensions)
    lines.update(dict.fromkeys(
        f"grid-edge rule: {choice.group}: chosen lr {choice.chosen:g} is still the {choice.edge} of its grid "
        f"after {choice.added} additions, the profile's limit" for plan in plans for choice in plan.edge_choices
        if limit and choice.added >= limit and choice.shared_from is None))
    for line in lines:
        print(line)


def _run_book(args: argparse.Namespace) -> int:
    """``sigmse book``: build the book and print its ``index.html``; a failed build prints why and returns 1."""
    from sigmse.runs.executors import executor_resources
    from sigmse.site.book import build_book
    from sigmse.site.pages import BookBuildError

    extra: dict[str, Any] = {}
    for key, value in args.parameter or []:
        if key in extra:
            raise ValueError(f"parameter {key!r} given twice with -p")
        extra[key] = value
    try:
        html = build_book(args.profile, notebooks=args.only, results_dir=args.results_dir, data_dir=args.data_dir,
                          device=args.device, build_dir=args.build_dir, extra_parameters=extra, jobs=args.jobs,
                          executor=args.executor, sweep_jobs=args.sweep_jobs, ray_address=args.ray_address,
                          retries=args.retries, resources=executor_resources(args), threads=args.threads,
                          download=args.download, cli_reference=command_reference())
    except BookBuildError as error:
        print(f"sigmse book: error: {error}", file=sys.stderr)
        return 1
    print(html / "index.html")
    return 0


def _run_audit(args: argparse.Namespace) -> int:
    """``sigmse audit``: one line per retrained record, then the summary; exit 1 if any does not reproduce."""
    from sigmse.runs.audit import audit, summary_line
    from sigmse.runs.profiles import get_profile

    get_profile(args.profile)  # an unknown profile: one line listing them, before any work
    _check_data_dir(args.data_dir)
    results = audit(args.profile, results_dir=args.results_dir, sample=args.sample, seed=args.seed,
                    data_dir=args.data_dir, hashes=args.hash)
    for result in results:
        print(result.line)
    print(summary_line(results))
    return 0 if all(result.reproduced for result in results) else 1


def _run_data_command(args: argparse.Namespace) -> int:
    """``sigmse data check`` and ``sigmse data download``: both end with the report of what is where."""
    from sigmse.data.datasets import dataset_names, load_dataset
    from sigmse.data.report import check_datasets, format_report

    if args.data_command == "download":
        if unknown := [name for name in args.names if name not in dataset_names()]:  # before the first download
            raise UsageError(f"sigmse data download: error: unknown dataset {unknown[0]!r}; "
                             f"choose from: {', '.join(dataset_names())}")
        for name in args.names or dataset_names():
            load_dataset(name, args.data_dir, download=True)  # files already there are not fetched again
    else:
        _check_data_dir(args.data_dir)
    reports = check_datasets(args.data_dir)
    print(format_report(reports))
    return 0 if all(r.ok for r in reports) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sigmse`` console script; returns the exit status."""
    from sigmse.data.datasets import DatasetNotFoundError
    from sigmse.data.files import DatasetIntegrityError

    try:
        args = build_parser().parse_args(argv)
        if args.command == "bench":
            from sigmse.bench.run import run_bench_command

            return run_bench_command(args)
        commands = {"train": _run_train, "sweep": _run_sweep, "audit": _run_audit, "book": _run_book}
        return commands.get(args.command, _run_data_command)(args)
    except UsageError as error:
        print(str(error), file=sys.stderr)
        return 2
    except (ValueError, DatasetNotFoundError, DatasetIntegrityError) as error:
        print(f"sigmse: error: {error}".replace("\n", " "), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sigmse: interrupted; stored results are kept, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
