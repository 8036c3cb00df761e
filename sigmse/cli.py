"""The ``sigmse`` command line: ``train``, ``sweep``, ``book``, ``bench``, ``data check``, ``data download``.

Every flag maps onto a :class:`~sigmse.config.RunConfig` field (flags are made
from the dataclass, so the two cannot drift apart). Bad input exits with status 2
and one line naming the bad value and what is allowed, before any data is
loaded or any run starts.

Each command imports what it needs inside its function: ``sigmse --help`` and a usage error answer at once,
without importing torch, papermill or Jupyter Book first.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, Sequence

__all__ = ["main", "build_parser", "command_reference", "UsageError"]


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line (no usage dump), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _parse_option_value(text: str) -> Any:
    """``0.9`` -> 0.9, ``true`` -> True, ``3`` -> 3; anything else stays a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _loss_option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. pos=0.9), got {text!r}")
    return key, _parse_option_value(value)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field, typed from the field's default."""
    from sigmse.config import RunConfig

    for f in fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        default = None if f.default is MISSING else f.default
        if f.name == "loss_options":
            parser.add_argument("--loss-option", dest="loss_options", action="append", type=_loss_option,
                                default=None, metavar="KEY=VALUE", help="a loss option, e.g. pos=0.9 (repeatable)")
        elif f.name == "test_input_sigmas":
            parser.add_argument(flag, dest=f.name, type=float, nargs="+", default=None, metavar="SIGMA",
                                help="extra final test evaluations on inputs with this Gaussian noise")
        elif isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                                help=f"default: {default}")
        else:
            kind = {"int | None": int, "int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=f"default: {default}")


def build_parser() -> argparse.ArgumentParser:
    """The ``sigmse`` parser, every subcommand with its flags (its errors raise :class:`UsageError`)."""
    from sigmse.bench.run import add_bench_arguments
    from sigmse.site.book import add_book_arguments
    from sigmse.data.datasets import dataset_names
    from sigmse.runs.executors import add_executor_arguments
    from sigmse.runs.experiments import experiment_names
    from sigmse.runs.profiles import profile_names

    parser = _Parser(prog="sigmse", description="Sigmoid-MSE with Output Reset versus softmax cross-entropy.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train one run and print a per-epoch table")
    _add_config_flags(train)
    train.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")
    train.add_argument("--download", action="store_true", help="let torchvision download a missing dataset")

    sweep = commands.add_parser("sweep", help="run (or load) every run of a profile's experiments")
    sweep.add_argument("--profile", required=True, help=f"one of: {', '.join(profile_names())}")
    sweep.add_argument("--only", action="append", metavar="NAME",
                       help=f"run only this experiment (repeatable): {', '.join(experiment_names())}")
    sweep.add_argument("--results-dir", default="results", help="the results store (default: results)")
    sweep.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")
    sweep.add_argument("--device", help="override the profile's device (auto, cpu, cuda)")
    sweep.add_argument("--datasets", nargs="+", metavar="NAME",
                       help="only these datasets (default: each experiment's own), as a chapter's `datasets`")
    sweep.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                       help="these reporting seeds instead of the profile's, as a chapter's `seeds`")
    sweep.add_argument("--selection-seeds", nargs="+", type=int, metavar="SEED",
                       help="these seeds choose the learning rates instead of the profile's selection seeds, "
                            "as a chapter's `selection_seeds`")
    sweep.add_argument("--dry-run", action="store_true", help="list the runs and how many are stored; train none")
    add_executor_arguments(sweep)

    book = commands.add_parser("book", help="run every notebook with papermill and build the HTML book")
    add_book_arguments(book)

    audit = commands.add_parser("audit", help="retrain stored records drawn at random and check they reproduce")
    audit.add_argument("--profile", default="full", help=f"one of: {', '.join(profile_names())} (default: full)")
    audit.add_argument("--sample", type=int, default=3, help="how many records to retrain (default: 3)")
    audit.add_argument("--seed", type=int, default=0, help="seed of the random draw of records (default: 0)")
    audit.add_argument("--hash", action="append", metavar="HASH", help="audit exactly this record (repeatable)")
    audit.add_argument("--results-dir", default="results", help="the results store (default: results)")
    audit.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")

    bench = commands.add_parser("bench", help="time the trainer against a naive loop, loss steps and the OR solver")
    add_bench_arguments(bench)

    data = commands.add_parser("data", help="datasets: what was found where")
    data_commands = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    check = data_commands.add_parser("check", help="find every dataset, count it and verify its checksums")
    check.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")
    download = data_commands.add_parser(
        "download", help="fetch missing datasets into the data root with torchvision (needs internet), then check")
    download.add_argument("names", nargs="*", metavar="NAME",
                          help=f"datasets to fetch (default: all): {', '.join(dataset_names())}")
    download.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")
    return parser


def _commands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """``parser`` and every (sub)command parser under it, depth first in the order they were added."""
    found = [parser]
    for action in parser._actions:  # argparse keeps subcommands only here; sphinx-argparse reads them so too
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases would repeat a parser
                found += _commands(sub)
    return found


def command_reference(width: int = 80) -> str:
    """Every command's ``--help`` as Markdown: a heading and a text block each, wrapped at ``width`` columns.

    The book's API reference includes it (:func:`sigmse.site.pages.stage_book` writes it at build time),
    so the page always shows the flags this version parses.
    """
    sections = []
    for command in _commands(build_parser()):
        command.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=width)
        sections.append(f"### `{command.prog}`\n\n```text\n{command.format_help().rstrip()}\n```\n")
    return "\n".join(sections)


def _check_data_dir(data_dir: str | None) -> None:
    """An explicitly given data root that does not exist is an error, before any work."""
    from sigmse.data.datasets import resolve_data_dir

    root = resolve_data_dir(data_dir)
    explicit = data_dir is not None or "SIGMSE_DATA_DIR" in __import__("os").environ
    if explicit and not root.is_dir():
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
        cells = [row.get(c) for c in columns]
        print(" ".join(f"{'-':>14}" if v is None else f"{v:>14.4f}" if isinstance(v, float) else f"{v:>14}"
                       for v in cells), flush=True)

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
    from sigmse.runs.experiments import estimate_sweep, experiment_names, sweep_costs, sweep_stages
    from sigmse.runs.profiles import get_profile

    resources = executor_resources(args)
    check_executor_options(args.executor, args.jobs, args.retries, resources, args.threads)  # before any work
    profile = get_profile(args.profile)
    names = args.only or experiment_names()
    for name in names:
        if name not in experiment_names():
            raise UsageError(f"sigmse sweep: error: unknown experiment {name!r}; "
                             f"choose one of: {', '.join(experiment_names())}")
    options = dict(results_dir=args.results_dir, device=args.device, datasets=args.datasets,
                   selection_seeds=args.selection_seeds, seeds=args.seeds)
    _check_data_dir(args.data_dir)
    estimate = estimate_sweep(names, profile, **options)
    print(f"profile {profile.name}: {estimate.total} runs in {', '.join(names)}; {estimate.stored} already stored "
          f"in {Path(args.results_dir) / profile.name}"
          + (f"; {estimate.waiting} reporting runs wait for their selection runs" if estimate.waiting else ""))
    if args.dry_run:
        if estimate.to_train:
            print(f"estimated training time of the runs still to do: {estimate.duration_text} of a machine "
                  f"like this one, one run at a time (per-epoch costs from the {estimate.source}; "
                  "start-up not counted)")
        else:
            print("every run is stored: nothing to train")
        if estimate.stored:
            stored = sweep_costs(names, profile, **options).total
            print(f"the {stored.stored} stored runs measured {stored.train_seconds / 3600:.1f} hours of training "
                  f"({stored.wall_seconds / 3600:.1f} hours from start to record), summed over runs, against "
                  f"{stored.estimated_measured_seconds / 3600:.1f} hours the measured table prices them at")
        return 0

    def run(configs: list) -> Any:
        summary = run_configs(configs, profile=profile.name, results_dir=args.results_dir, data_dir=args.data_dir,
                              executor=args.executor, jobs=args.jobs, ray_address=args.ray_address,
                              retries=args.retries, resources=resources, threads=args.threads)
        print(summary)
        return summary

    summaries = sweep_stages(names, profile, run, **options)
    return 1 if any(summary.failed for summary in summaries) else 0


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
        for name in args.names:  # every name checked before the first download
            if name not in dataset_names():
                raise UsageError(f"sigmse data download: error: unknown dataset {name!r}; "
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
        if args.command == "train":
            return _run_train(args)
        if args.command == "sweep":
            return _run_sweep(args)
        if args.command == "audit":
            return _run_audit(args)
        if args.command == "bench":
            from sigmse.bench.run import run_bench_command

            return run_bench_command(args)
        if args.command == "book":
            from sigmse.site.book import run_book_command

            return run_book_command(args)
        return _run_data_command(args)
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
