"""The ``sigmse`` command line's parser: every command and its flags, and their reference text.

:func:`command_reference` writes every command's ``--help`` for the book's API reference, so the book builder
never imports the command line. Every ``train`` flag is made from a :class:`~sigmse.config.RunConfig` field, so
the two cannot drift apart. A parse error raises :class:`UsageError`: one line, exit status 2.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, fields
from functools import partial
from typing import Any

from sigmse.bench.run import add_bench_arguments
from sigmse.config import RunConfig
from sigmse.data.datasets import dataset_names
from sigmse.runs.executors import add_executor_arguments
from sigmse.runs.experiments import experiment_names
from sigmse.runs.profiles import profile_names

__all__ = ["UsageError", "build_parser", "add_book_arguments", "command_reference"]


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line (no usage dump), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _key_value(text: str, *, name: bool = True) -> tuple[str, Any]:
    """``KEY=VALUE`` with the value JSON-typed (``0.9``, ``true``, ``[0,1]``, ``null``; else the string); ``name``:
    the key must be a Python name (a papermill parameter), else not empty (a loss option)."""
    key, sep, value = text.partition("=")
    if name and not (sep and key.isidentifier()):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a Python name (e.g. seeds=[0,1]), got {text!r}")
    if not (sep and key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. pos=0.9), got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per RunConfig field, typed from the field's default."""
    for f in fields(RunConfig):
        flag, default = "--" + f.name.replace("_", "-"), None if f.default is MISSING else f.default
        if f.name == "loss_options":
            parser.add_argument("--loss-option", dest="loss_options", action="append", metavar="KEY=VALUE",
                                type=partial(_key_value, name=False), help="a loss option, e.g. pos=0.9 (repeatable)")
        elif f.name == "test_input_sigmas":
            parser.add_argument(flag, dest=f.name, type=float, nargs="+", metavar="SIGMA",
                                help="extra final test evaluations on inputs with this Gaussian noise")
        elif isinstance(default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, help=f"default: {default}")
        else:
            kind = {"int | None": int, "int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, dest=f.name, type=kind, help=f"default: {default}")


def build_parser() -> argparse.ArgumentParser:
    """The ``sigmse`` parser, every subcommand with its flags (its errors raise :class:`UsageError`)."""
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
    """Every command's ``--help`` as Markdown, a heading and a text block each, wrapped at ``width``."""
    sections = []
    for command in _commands(build_parser()):
        command.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=width)
        sections.append(f"### `{command.prog}`\n\n```text\n{command.format_help().rstrip()}\n```\n")
    return "\n".join(sections)


def add_book_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``sigmse book``."""
    parser.add_argument("--profile", default="quick", help=f"one of: {', '.join(profile_names())} (default: quick)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this notebook (repeatable); the others reuse their last executed copy")
    parser.add_argument("--results-dir", default="results", help="the results store (default: results)")
    parser.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")
    parser.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                        help="fetch datasets missing from the data root with torchvision before any work "
                             "(default: yes; --no-download stops at once instead)")
    parser.add_argument("--device", help="override the profile's device (auto, cpu, cuda)")
    parser.add_argument("--build-dir", default="_build", help="executed notebooks and HTML go here (default: _build)")
    parser.add_argument("-p", "--parameter", action="append", type=_key_value, metavar="KEY=VALUE",
                        help="another papermill parameter, JSON-typed (repeatable), e.g. -p seeds=[0]")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="notebooks to run at once (default: 1)")
    add_executor_arguments(parser, jobs_flag="--sweep-jobs")  # where the chapters' runs train, before the notebooks
