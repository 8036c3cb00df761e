"""Build the Jupyter Book: train the chapters' runs, run every chapter notebook, then ``jupyter-book build``.

One command rebuilds everything (``sigmse book``, which ``make book`` runs); :func:`build_book` does, in order:

0. The datasets the chapters read must be under the data root: missing ones are fetched with torchvision
   and md5-checked (``--no-download``: not fetched); offline, the build stops here, before any work, with one
   line naming the data root and the two ways to fill it (:func:`sigmse.data.datasets.ensure_datasets`).
   Then the runs the chapters read (:data:`~sigmse.runs.experiments.CHAPTERS`) train first, as one sweep through
   :func:`sigmse.runs.executors.run_configs`: in this process, in a process pool (``--sweep-jobs N``) or on a
   Ray cluster (``--executor ray``). Stored runs are skipped. If a run fails the build stops there,
   listing the failed runs; what finished stays stored, and a rerun retries only the failed ones.
1. The chapter notebooks are the ``.ipynb`` entries of ``_toc.yml`` (:mod:`sigmse.site.pages`). Each runs
   with papermill in its own folder, with the parameters its ``parameters`` cell declares, into
   ``_build/executed/<toc path>.ipynb``; the committed sources are never written.
2. Each executed copy is tidied and gets a dropdown that records how the page was made, and must have
   glued the verdict keys the book's own pages read (:mod:`sigmse.site.notebooks`).
3. ``jupyter-book build -W --keep-going`` runs over ``_build/executed/``, a staging tree of the whole
   book, and fails loudly on any warning or a page that shows an error; the HTML goes to ``_build/html``
   with a ``.nojekyll`` for GitHub Pages (:mod:`sigmse.site.pages`).

``--only NAME`` runs only those notebooks and reuses the executed copies of the others
from an earlier build with the same profile; chapters with no such copy are left out of
that build (with a note) and references to them are the only warnings tolerated.

The command line (``run_book_command``) is wired into :mod:`sigmse.cli`; the flags of ``sigmse book``
(``add_book_arguments``, re-exported here) are :mod:`sigmse.commands`', beside the other commands'.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sigmse.checks import check_number
from sigmse.commands import add_book_arguments
from sigmse.data.datasets import ensure_datasets, missing_datasets, resolve_data_dir
from sigmse.runs.executors import check_executor_options, executor_resources, run_configs
from sigmse.provenance import source_commit
from sigmse.report.analysis import provenance_line
from sigmse.runs.experiments import (CHAPTERS, chapter_experiments, estimate_sweep, load_record, plan_stages,
                                     sweep_stages)
from sigmse.runs.profiles import get_profile
from sigmse.site.pages import (BookBuildError, discover_notebooks, find_book_root, publish_book, select_chapters,
                               stage_book)
from sigmse.site.notebooks import left_out_chapters, plan_notebook_runs, run_notebooks

__all__ = [
    "build_book",
    "book_announcement",
    "add_book_arguments",
    "run_book_command",
]

# Notebook parameters that change which runs a chapter reads; given with -p, the sweep uses them too.
SWEEP_PARAMETERS = ("datasets", "selection_seeds", "seeds")


def _absolute(path: str | os.PathLike[str], base: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def build_book(
    profile: str = "quick",
    *,
    notebooks: Sequence[str] | None = None,
    results_dir: str | os.PathLike[str] = "results",
    data_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    build_dir: str | os.PathLike[str] = "_build",
    extra_parameters: dict[str, Any] | None = None,
    jobs: int = 1,
    executor: str = "local",
    sweep_jobs: int | None = None,
    ray_address: str | None = None,
    retries: int = 2,
    resources: dict[str, float] | None = None,
    threads: int | None = None,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Path:
    """Run the chapter notebooks with papermill and build the HTML book; return the ``html`` folder.

    Args:
        profile: a :mod:`sigmse.runs.profiles` name (``smoke``, ``quick``, ``paper``), passed to every notebook.
        notebooks: run only these (names as in ``_toc.yml``, e.g. ``["accuracy"]``); the others reuse
            their executed copies from an earlier build with the same profile, or are left out.
        results_dir: the results store (a relative path is relative to the working folder, as in ``sigmse sweep``).
        data_dir: the data root (:func:`sigmse.data.datasets.resolve_data_dir`, as for every command: default
            ``$SIGMSE_DATA_DIR``, else ``./data``).
        device: override the profile's device (``auto``, ``cpu``, ``cuda``); default: the notebook's.
        build_dir: where ``executed/`` (the staging tree) and ``html/`` go (relative to ``root``).
        extra_parameters: more papermill parameters; each must be declared by one of the notebooks.
        jobs: notebooks run at once (each in its own process and kernel).
        executor: where the chapters' runs train before the notebooks run (:func:`sigmse.runs.executors.run_configs`):
            ``local`` or ``ray``.
        sweep_jobs: ``local``: runs at once in a process pool (default 1: in this process);
            ``ray``: most runs in flight.
        ray_address: ``ray`` only: the cluster (default: a local one, started for the sweep).
        retries: how often a run whose worker process died is resubmitted.
        resources: ``ray`` only: ``num_cpus`` and/or ``num_gpus`` each run reserves.
        threads: torch threads per run of the sweep (default: see :func:`sigmse.runs.executors.run_configs`).
        root: the folder with ``_config.yml`` and ``_toc.yml``; default the current folder or the checkout.
        download: fetch datasets missing from the data root with torchvision (md5-checked) before any work;
            with ``False``, a missing dataset stops the build at once. Only the datasets the selected chapters
            read are needed (:data:`~sigmse.runs.experiments.CHAPTERS`).

    Raises:
        ValueError: an unknown profile, notebook or parameter, or a toc entry with no file.
        DatasetNotFoundError: a dataset the chapters need is not under the data root and was not (or could
            not be) downloaded: said in one line before any run or notebook, naming the data root and how to fill it.
        BookBuildError (:mod:`sigmse.site.pages`): a run of the sweep failed (listing them; nothing stored
            is lost and a rerun retries), a notebook failed (naming it, the cell, the exception, the executed copy),
            or ``jupyter-book build`` warned or failed, or a page shows an error.
    """

    get_profile(profile)  # ValueError listing the profiles
    check_number("jobs", jobs, low=1, integer=True, allowed="a positive integer")
    check_executor_options(executor, sweep_jobs, retries, resources, threads)  # e.g. no Ray: said before any work
    base = find_book_root(root)
    absent: list[str] = []  # toc entries with no file: an error for a full build, left out of a partial one
    chapters = discover_notebooks(base, absent=None if notebooks is None else absent)
    selected = select_chapters(chapters, notebooks)
    build = _absolute(build_dir, base)
    # as on every command line, a relative results or data folder is relative to the working folder (the
    # sweep's and the notebooks' alike); absolute here, since each notebook runs in its own folder
    core = {"profile": profile, "results_dir": str(Path(results_dir).expanduser().resolve()),
            "data_dir": str(resolve_data_dir(data_dir).expanduser().resolve()), "device": device}
    tasks = plan_notebook_runs(selected, core, dict(extra_parameters or {}), build / "executed")
    _ensure_book_data(tasks, core, download)
    _run_chapter_sweep(tasks, core, executor=executor, jobs=sweep_jobs, ray_address=ray_address, retries=retries,
                       resources=resources, threads=threads)
    run_notebooks(tasks, chapters, jobs, profile, base)
    left_out = left_out_chapters(chapters, selected, build / "executed", profile)
    if absent:
        print(f"leaving out {', '.join(absent)}: named in _toc.yml but not written yet", file=sys.stderr)
    left_out |= set(absent)
    stage_book(base, build / "executed", left_out, announcement=book_announcement(tasks, core))
    return publish_book(build, left_out)


def _chapter_parameters(tasks: list[dict]) -> list[tuple[dict[str, Any], list[str]]]:
    """The experiments (:data:`~sigmse.runs.experiments.CHAPTERS`) the chapters of ``tasks`` read, grouped by the run
    parameters they give with ``-p`` (datasets, seeds), so the runs of chapters that agree share one sweep."""
    by_parameters: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for task in tasks:
        given = {k: task["parameters"].get(k) for k in SWEEP_PARAMETERS}
        entry = by_parameters.setdefault(json.dumps(given, sort_keys=True), (given, []))
        entry[1].extend(n for n in chapter_experiments(task["name"]) if n not in entry[1])
    return [(given, names) for given, names in by_parameters.values() if names]


def _ensure_book_data(tasks: list[dict], core: dict[str, Any], download: bool) -> None:
    """The datasets the chapters read, under the data root before any work: fetched if missing and allowed
    (:func:`sigmse.data.datasets.ensure_datasets`), else one line saying how to fill the data root."""
    needed = [d for task in tasks if task["name"] in CHAPTERS for d in CHAPTERS[task["name"]].datasets]
    for given, names in _chapter_parameters(tasks):  # the reporting runs train on the selection runs' datasets
        first, _, _ = plan_stages(names, core["profile"], results_dir=core["results_dir"], device=core["device"],
                                  **given)
        needed += [c.dataset for c in first]
    missing = missing_datasets(needed, core["data_dir"])
    if missing and download:
        print(f"fetching {', '.join(missing)} into {core['data_dir']} with torchvision (missing there)",
              file=sys.stderr)
    ensure_datasets(needed, core["data_dir"], download=download)


def _run_chapter_sweep(tasks: list[dict], core: dict[str, Any], **executor_options: Any) -> None:
    """Train the runs the chapters will read (:data:`~sigmse.runs.experiments.CHAPTERS`): selection runs, then
    the reporting runs they choose (:func:`sigmse.runs.experiments.sweep_stages`); stop if any failed."""
    def run(configs: list) -> Any:
        summary = run_configs(configs, profile=core["profile"], results_dir=core["results_dir"],
                              data_dir=core["data_dir"], **executor_options)
        print(summary, file=sys.stderr)
        if summary.failed:
            raise BookBuildError(f"{len(summary.failed)} of the chapters' runs failed, so no notebook was run; "
                                 f"the {summary.done} runs that finished are stored, and rerunning the build "
                                 f"retries the failed ones.\n{summary}")
        return summary

    for given, names in _chapter_parameters(tasks):
        options = dict(results_dir=core["results_dir"], device=core["device"], **given)
        estimate = estimate_sweep(names, core["profile"], **options)
        if estimate.to_train:  # said before the work starts: a full-profile book may have hours of it
            print(f"{estimate.to_train} of the {estimate.total} runs the chapters read are not stored and train now: "
                  f"about {estimate.duration_text} of a machine like this one, one run at a time "
                  f"(per-epoch costs from the {estimate.source})", file=sys.stderr)
        sweep_stages(names, core["profile"], run, **options)


def book_announcement(tasks: list[dict], core: dict[str, Any]) -> str:
    """The line at the top of every page: which profile the book shows, the machines and sigmse commits that
    trained its runs (:func:`sigmse.report.analysis.provenance_line` of every record the chapters read) and the
    commit that built it. A page read alone, or a screenshot of one, still says where its numbers come from."""
    profile = get_profile(core["profile"])
    records = []
    for given, names in _chapter_parameters(tasks):
        first, second, _ = plan_stages(names, profile, results_dir=core["results_dir"], device=core["device"], **given)
        records += [r for c in dict.fromkeys(first + second) if (r := load_record(c, profile.name, core["results_dir"]))]
    commit = source_commit()["git_commit"]
    built = f"built at sigmse commit {commit[:7]}" if commit else "built outside a git checkout"
    runs = provenance_line(records, with_profile=False)
    return (f"This book shows the <b>{profile.name}</b> profile ({profile.description}): {runs}; {built}.")


# ---------------------------------------------------------------------------------------------
# Command line (wired into sigmse.cli as `sigmse book`; its flags: sigmse.commands.add_book_arguments)


def run_book_command(args: argparse.Namespace) -> int:
    """``sigmse book``: build the book and print its ``index.html``.

    Bad input raises ``ValueError`` (the CLI's exit status 2); a failed build prints why and returns 1.
    """
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
                          download=args.download)
    except BookBuildError as error:  # a failed build is not a usage error: exit status 1, no Python traceback
        print(f"sigmse book: error: {error}", file=sys.stderr)
        return 1
    print(html / "index.html")
    return 0
