"""Build the book: train what its chapters read and the store lacks, run every chapter, ``jupyter-book build``.

:func:`build_book` checks the chapters and their parameters before any work, plans the chapters' runs once per
build (:func:`chapter_plans`), fetches missing datasets, trains the missing runs (:func:`train_missing`; a
failed run stops the build before any notebook), runs the notebooks with papermill and builds the HTML, with
the provenance of the book's numbers at the top of every page (:func:`book_announcement`).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from sigmse.checks import check_number
from sigmse.data.datasets import ensure_datasets, missing_datasets, resolve_data_dir
from sigmse.provenance import source_commit
from sigmse.report.analysis import provenance_line
from sigmse.runs.executors import SweepSummary, check_executor_options, run_configs
from sigmse.runs.experiments import (CHAPTERS, ExperimentPlan, PlanOptions, chapter_experiments, estimate_sweep,
                                     load_record, plan_stages, sweep_plans, sweep_stages)
from sigmse.runs.profiles import get_profile
from sigmse.site.notebooks import left_out_chapters, plan_notebook_runs, run_notebooks
from sigmse.site.pages import (BookBuildError, discover_notebooks, find_book_root, publish_book, select_chapters,
                                stage_book)

__all__ = ["build_book", "chapter_plans", "train_missing", "book_announcement"]


def build_book(profile: str = "quick", *, notebooks: Sequence[str] | None = None,
               results_dir: str | os.PathLike[str] = "results", data_dir: str | os.PathLike[str] | None = None,
               device: str | None = None, build_dir: str | os.PathLike[str] = "_build",
               extra_parameters: Mapping[str, Any] | None = None, jobs: int = 1, executor: str = "local",
               sweep_jobs: int | None = None, ray_address: str | None = None, retries: int = 2,
               resources: dict[str, float] | None = None, threads: int | None = None,
               root: str | os.PathLike[str] | None = None, download: bool = True,
               cli_reference: str | None = None) -> Path:
    """Train what the chapters read and the store lacks, run the chapter notebooks, build the HTML book; return
    its folder (``<build_dir>/html``). The options are ``sigmse book``'s; ``build_dir`` is relative to ``root`` (the
    folder with ``_toc.yml``), the other paths to the working folder. Raises ``ValueError`` (bad profile, notebook
    or parameter), ``DatasetNotFoundError``, or ``BookBuildError`` (a run or notebook failed, or Jupyter Book
    warned; nothing stored is lost).
    """
    get_profile(profile)  # an unknown profile: ValueError listing them
    check_number("jobs", jobs, low=1, integer=True, allowed="a positive integer")
    check_executor_options(executor, sweep_jobs, retries, resources, threads)  # e.g. no Ray: said before any work
    base = find_book_root(root)
    chapters = discover_notebooks(base)
    selected = select_chapters(chapters, notebooks)
    build = Path(build_dir).expanduser()
    build = build if build.is_absolute() else (base / build).resolve()
    results = str(Path(results_dir).expanduser().resolve())  # absolute: each notebook runs in its own folder
    data = str(resolve_data_dir(data_dir).expanduser().resolve())
    core = {"profile": profile, "results_dir": results, "data_dir": data, "device": device}
    tasks = plan_notebook_runs(selected, core, dict(extra_parameters or {}), build / "executed")
    plans = chapter_plans(tasks, profile, PlanOptions(results, device=device))
    _ensure_book_data(tasks, plans, data, download)
    run = partial(run_configs, profile=profile, results_dir=results, data_dir=data, executor=executor,
                  jobs=sweep_jobs, ray_address=ray_address, retries=retries, resources=resources, threads=threads)
    records = [record for options, group in plans.items() for record in train_missing(group, profile, options, run)]
    run_notebooks(tasks, chapters, jobs, profile, base)
    left_out = left_out_chapters(chapters, selected, build / "executed", profile)
    stage_book(base, build / "executed", left_out=left_out, announcement=book_announcement(records, profile),
               cli_reference=cli_reference)
    return publish_book(build, left_out)


def chapter_plans(tasks: Sequence[Mapping[str, Any]], profile: str,
                  base: PlanOptions) -> dict[PlanOptions, list[ExperimentPlan]]:
    """The plans of the experiments the chapters of ``tasks`` read, once per build: chapters given the same run
    parameters share one plan per experiment."""
    names: dict[PlanOptions, list[str]] = {}
    for task in tasks:
        given = task["parameters"]
        options = replace(base, datasets=given.get("datasets"), selection_seeds=given.get("selection_seeds"),
                          seeds=given.get("seeds"))
        listed = names.setdefault(options, [])
        listed += [name for name in chapter_experiments(task["name"]) if name not in listed]
    return {options: sweep_plans(listed, profile, options) for options, listed in names.items() if listed}


def _ensure_book_data(tasks: Sequence[Mapping[str, Any]], plans: Mapping[PlanOptions, list[ExperimentPlan]],
                      data_dir: str, download: bool) -> None:
    """The datasets the chapters load and their runs train on, under the data root before any work."""
    needed = [d for task in tasks if task["name"] in CHAPTERS for d in CHAPTERS[task["name"]].datasets]
    needed += [c.dataset for group in plans.values() for c in plan_stages(group)[0]]
    missing = missing_datasets(needed, data_dir)
    if missing and download:
        print(f"fetching {', '.join(missing)} into {data_dir} with torchvision (missing there)", file=sys.stderr)
    ensure_datasets(needed, data_dir, download=download)


def _stored(plans: Sequence[ExperimentPlan], profile: str, results_dir: str | Path) -> tuple[list[dict], int]:
    """The records of the runs ``plans`` list, and how many are missing (not stored, failed, or waiting)."""
    first, second, waiting = plan_stages(plans)
    records = [load_record(config, profile, results_dir) for config in first + second]
    done = [record for record in records if record is not None and record["status"] != "failed"]
    return done, len(records) - len(done) + waiting


def train_missing(plans: Sequence[ExperimentPlan], profile: str, options: PlanOptions,
                  run: Callable[[list[Any]], SweepSummary]) -> list[dict[str, Any]]:
    """Train the runs of ``plans`` that the store lacks through ``run``, selection then reporting runs, after a
    line with how many and how long; return the records of every run the plans list. A failed run raises
    :class:`~sigmse.site.pages.BookBuildError`; what finished stays stored, and a rerun retries."""
    records, missing = _stored(plans, profile, options.results_dir)
    if not missing:
        return records
    estimate = estimate_sweep(plans, profile, options)
    print(f"{missing} of the {len(records) + missing} runs the chapters read are not stored and train now: about "
          f"{estimate.duration_text} of a machine like this one, one run at a time (per-epoch costs from the "
          f"{estimate.source})", file=sys.stderr)

    def checked(configs: list[Any]) -> SweepSummary:
        summary = run(configs)
        print(summary, file=sys.stderr)
        if summary.failed:
            raise BookBuildError(f"{len(summary.failed)} of the chapters' runs failed, so no notebook was run; "
                                 f"the {summary.done} runs that finished are stored, and rerunning the build "
                                 f"retries the failed ones.\n{summary}")
        return summary

    sweep_stages(plans, profile, checked, options)
    return _stored(sweep_plans([plan.name for plan in plans], profile, options), profile, options.results_dir)[0]


def book_announcement(records: Sequence[Mapping[str, Any]], profile: str) -> str:
    """The line atop every page, so a page read alone says where its numbers come from: the profile, the machines
    and commits that trained the ``records`` and the commit that built the book."""
    chosen, commit = get_profile(profile), source_commit()["git_commit"]
    built = f"built at sigmse commit {commit[:7]}" if commit else "built outside a git checkout"
    unique = list({record["hash"]: record for record in records}.values())  # two groups may list a run
    return (f"This book shows the <b>{chosen.name}</b> profile ({chosen.description}): "
            f"{provenance_line(unique, with_profile=False)}; {built}.")
