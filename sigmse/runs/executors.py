"""Executors: run a sweep's missing runs in this process, in a local process pool, or on a Ray cluster.

Wherever a run executes, :func:`run_one` trains and stores it there (:func:`train_and_store`), so each record is
written once, atomically, by the process that trained it, and a rerun skips what is stored. A run that raises
is stored as ``failed`` while the others go on; a run whose worker dies is retried ``retries`` times. Ray is
optional (``pip install 'sigmse[ray]'``); the driver keeps a copy of each record a Ray worker stored elsewhere.
The book's reproduce page (``book/reproduce.md``) describes the executors for users.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import time
import traceback
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from tqdm import tqdm  # the text bar: this runs inside notebooks too (experiment_records), without ipywidgets

from sigmse.checks import check_choice, check_number
from sigmse.config import IdentifiedConfig
from sigmse.data.datasets import require_dataset_files, resolve_data_dir
from sigmse.runs.experiments import (ExperimentRecords, PlanOptions, load_record, plan_experiment, run_experiment,
                                     run_kind)
from sigmse.runs.store import new_record, read_record, record_path, write_record
from sigmse.train import resolve_device

__all__ = ["EXECUTORS", "RAY_INSTALL_HINT", "FailedRun", "SweepSummary", "add_executor_arguments",
           "check_executor_options", "executor_resources", "run_configs", "run_one", "train_and_store"]

EXECUTORS = ("local", "ray")
RESOURCE_KEYS = ("num_cpus", "num_gpus")  # what a Ray task may declare through ``resources``
GPU_SHARE = 0.25  # of one GPU per run on Ray: small models leave most of an H100 idle
RAY_INSTALL_HINT = "executor 'ray' needs Ray, which is not installed; install it with: pip install 'sigmse[ray]'"
POLL_SECONDS = 0.5  # how often the progress bar is refreshed while runs are in flight


@dataclass(frozen=True)
class FailedRun:
    """A run that raised (or whose worker kept dying), with the error on one line."""

    config: IdentifiedConfig
    error: str  # "TypeName: first line of the message"

    def __str__(self) -> str:
        return f"{self.config.label}: {self.error}"


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep did. ``str(summary)`` is the report the CLI prints."""

    profile: str
    executor: str
    total: int  # distinct runs asked for
    done: int  # trained (or found stored by a worker) in this sweep: status ok or diverged
    skipped: int  # already stored before the sweep: not run again
    failed: tuple[FailedRun, ...]
    statuses: dict[str, int] = field(default_factory=dict)  # status -> runs, over all ``total`` runs
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items())) or "none"
        lines = [f"sweep {self.profile} ({self.executor}): {self.total} runs: {self.done} trained, "
                 f"{self.skipped} already stored, {len(self.failed)} failed, in {self.seconds:.1f} s; "
                 f"statuses: {counts}"]
        if self.failed:  # grouped by error: a missing file fails every run the same way
            lines.append(f"failed runs ({len(self.failed)}; rerun the sweep to try them again):")
            for error in dict.fromkeys(run.error for run in self.failed):
                labels = [run.config.label for run in self.failed if run.error == error]
                lines.append(f"  {len(labels)} runs: {error}" if len(labels) > 1 else f"  {error}")
                lines += [f"    {label}" for label in labels]
        return "\n".join(lines)


def train_and_store(config: IdentifiedConfig, *, profile: str, results_dir: str | Path,
                    data_dir: str | Path | None) -> dict[str, Any]:
    """The stored record of ``config`` under ``profile``, training and storing it first if absent or ``failed``."""
    kind = run_kind(config)
    path = record_path(config, profile, results_dir)
    record = read_record(path, kind.validate)
    if record is not None and record["status"] != "failed":  # a failed run is tried again
        return record
    device = str(resolve_device(config.device))
    started = time.perf_counter()
    result = kind.train(config, data_dir)
    record = new_record(config, result, profile=profile, device=device,
                        wall_seconds=time.perf_counter() - started, **kind.record_fields)
    write_record(record, path)
    return record


def run_one(config: IdentifiedConfig, *, profile: str, results_dir: str, data_dir: str | None,
            threads: int | None = None) -> dict[str, Any]:
    """Train (or load) one run and return its record; a run that raises is stored as ``failed``.

    What a pool worker or a Ray task executes. ``threads`` sets torch's threads unless the config fixes its own.
    ``BaseException``s such as ``KeyboardInterrupt`` are not caught: an interrupted run stores nothing.
    """
    fixed = getattr(config, "threads", None)
    if (wanted := threads if fixed is None else fixed) is not None:
        torch.set_num_threads(wanted)
    try:
        return train_and_store(config, profile=profile, results_dir=results_dir, data_dir=data_dir)
    except Exception as error:  # noqa: BLE001 - every error of a run is stored, and the sweep goes on
        return store_failure(config, error, profile=profile, results_dir=results_dir)


def store_failure(config: IdentifiedConfig, error: BaseException, *, profile: str,
                  results_dir: str | Path) -> dict[str, Any]:
    """Store (and return) the ``failed`` record of ``config`` with ``error``'s type, message and traceback, unless
    an ``ok`` or ``diverged`` record is stored (a worker can die after storing its run): that is returned."""
    path = record_path(config, profile, results_dir)
    stored = read_record(path, run_kind(config).validate)
    if stored is not None and stored["status"] != "failed":
        return stored
    try:
        device = str(resolve_device(config.device))
    except ValueError:  # e.g. 'cuda' asked for where there is none: the failure itself
        device = config.device
    failure = {"type": type(error).__name__, "message": str(error),
               "traceback": "".join(traceback.format_exception(error))}
    record = new_record(config, {"status": "failed", "history": [], "metrics": {}, "error": failure}, profile=profile,
                        device=device)
    write_record(record, path)
    return record


def _error_line(record: Mapping[str, Any]) -> str:
    error = record["error"]
    message = (error["message"].strip().splitlines() or [""])[0]
    return f"{error['type']}: {message}" if message else error["type"]


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError(RAY_INSTALL_HINT) from None
    return ray


def check_executor_options(executor: str, jobs: int | None = None, retries: int = 2,
                           resources: Mapping[str, float] | None = None, threads: int | None = None) -> None:
    """Raise ``ValueError`` (quoting the bad value and the allowed ones) before any work starts; for
    ``executor="ray"`` also check that Ray can be imported.
    """
    check_choice("executor", executor, EXECUTORS)
    for name, value in (("jobs", jobs), ("threads", threads)):
        if value is not None:
            check_number(name, value, low=1, integer=True, allowed="an integer >= 1")
    check_number("retries", retries, low=0, integer=True, allowed="an integer >= 0")
    if resources is not None:
        if executor != "ray":
            raise ValueError(f"resources {dict(resources)!r} apply to executor 'ray' only, not {executor!r}")
        for key, value in resources.items():
            check_choice("resource", key, RESOURCE_KEYS)
            check_number(f"resource {key}", value, low=0, allowed="a number >= 0")
        if resources.get("num_cpus") == 0 and resources.get("num_gpus", 1) == 0:
            raise ValueError("a run must reserve some CPU or GPU, got num_cpus=0 and num_gpus=0")
    if executor == "ray":
        _import_ray()


def add_executor_arguments(parser: argparse.ArgumentParser, *, jobs_flag: str = "--jobs") -> None:
    """The flags that choose where a sweep's runs execute (``sigmse book``, whose ``--jobs`` counts notebooks,
    names the jobs flag ``--sweep-jobs``).
    """
    parser.add_argument("--executor", default="local",
                        help="where the runs execute: local (this machine) or ray (a Ray cluster); default: local")
    parser.add_argument(jobs_flag, type=int, metavar="N",
                        help="local: runs at once in a process pool (default 1: in this process); "
                             "ray: most runs in flight at once (default: as many as the cluster's resources allow)")
    parser.add_argument("--ray-address", metavar="HOST:PORT",
                        help="the Ray cluster to use, or 'auto' (default: start a local cluster for the sweep)")
    parser.add_argument("--retries", type=int, default=2, metavar="N",
                        help="resubmit a run whose worker process died up to N times (default: 2)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch threads per run (default: torch's own one run at a time, cores // jobs in a "
                             "pool, the run's CPUs on Ray); 1 keeps a busy machine from oversubscribing "
                             "and makes CPU records identical across executors. A run whose configuration fixes "
                             "its threads (the profile's) uses those; another N for it is an error")
    parser.add_argument("--cpus-per-run", type=float, metavar="N", help="ray: CPUs each run reserves (default: 1)")
    parser.add_argument("--gpus-per-run", type=float, metavar="F",
                        help=f"ray: GPUs each run reserves, fractions allowed: 0.5 packs two runs on a GPU "
                             f"(default: {GPU_SHARE:g} where the run's device is CUDA, else 0)")


def executor_resources(args: argparse.Namespace) -> dict[str, float] | None:
    """The per-run ``resources`` that ``--cpus-per-run`` and ``--gpus-per-run`` ask for (``None``: the defaults)."""
    given = {"num_cpus": args.cpus_per_run, "num_gpus": args.gpus_per_run}
    return {key: value for key, value in given.items() if value is not None} or None


def run_configs(configs: Iterable[IdentifiedConfig], *, profile: str, results_dir: str | Path = "results",
                data_dir: str | Path | None = None, executor: str = "local", jobs: int | None = None,
                ray_address: str | None = None, retries: int = 2, resources: Mapping[str, float] | None = None,
                threads: int | None = None, progress: bool | None = None) -> SweepSummary:
    """Run every missing run of ``configs`` (duplicates once) with ``executor`` and summarise the sweep.

    Stored runs (ok or diverged) are skipped, failed ones run again; a failing run is stored as ``failed`` and
    listed in the summary. The options are ``sigmse sweep``'s (:func:`add_executor_arguments`); a config's own
    threads win over ``threads``, which may not contradict them. ``progress``: ``None`` shows the bar on a terminal.
    Raises ``ValueError`` for a bad option and ``DatasetNotFoundError`` for a missing dataset, before any run.
    """
    check_executor_options(executor, jobs, retries, resources, threads)
    started = time.perf_counter()
    unique = list({config.hash: config for config in configs}.values())
    clash = [c for c in unique if threads is not None and getattr(c, "threads", None) not in (None, threads)]
    if clash:
        raise ValueError(f"--threads {threads} contradicts the runs' own torch threads: run {clash[0].label} fixes "
                         f"threads={clash[0].threads} in its configuration; leave --threads out (the runs use their "
                         "own)")
    common = dict(profile=profile, results_dir=str(Path(results_dir).absolute()),
                  data_dir=str(resolve_data_dir(data_dir).absolute()))
    statuses: Counter[str] = Counter()
    pending = []
    for config in unique:
        record = load_record(config, profile, common["results_dir"])
        if record is not None and record["status"] != "failed":
            statuses[record["status"]] += 1
        else:
            pending.append(config)
    require_dataset_files([config.dataset for config in pending], common["data_dir"])  # one error, before any run
    failed: list[FailedRun] = []
    bar = tqdm(total=len(unique), initial=len(unique) - len(pending), unit="run", dynamic_ncols=True,
               desc=f"{profile} ({executor}): {len(pending)} to run",
               disable=None if progress is None else not progress)

    def finished(config: IdentifiedConfig, record: Mapping[str, Any]) -> None:
        statuses[record["status"]] += 1
        if record["status"] == "failed":
            failed.append(FailedRun(config, _error_line(record)))
        bar.update(1)

    def show(running: int, queued: int = 0) -> None:
        bar.set_postfix_str(f"running {running}" + (f", queued {queued}" if queued else "")
                            + f", failed {len(failed)}", refresh=True)

    try:
        if executor == "ray" and pending:
            _run_ray(pending, common, jobs, ray_address, retries, resources, threads, finished, show)
        elif executor == "local" and (jobs or 1) == 1:
            before = torch.get_num_threads()
            try:  # one run at a time in this process, torch threads restored afterwards
                for config in pending:
                    show(1)
                    finished(config, run_one(config, **common, threads=threads))
            finally:
                torch.set_num_threads(before)
        elif executor == "local" and pending:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            _run_pool(pending, common, jobs, retries, threads or max(1, cores // jobs), finished, show)
        show(0)  # the bar's last line: nothing running, every failure counted
    finally:
        bar.close()
    return SweepSummary(profile=profile, executor=executor if executor == "ray" else f"local, jobs={jobs or 1}",
                        total=len(unique), done=len(pending) - len(failed), skipped=len(unique) - len(pending),
                        failed=tuple(failed), statuses=dict(statuses), seconds=time.perf_counter() - started)


Finished = Callable[[IdentifiedConfig, Mapping[str, Any]], None]


def _run_pool(pending: list[IdentifiedConfig], common: dict[str, Any], jobs: int, retries: int, threads: int,
              finished: Finished, show: Callable[..., None]) -> None:
    """``jobs`` spawned worker processes; when one dies the pool breaks, and its unfinished runs go to a new one.

    At most ``jobs`` runs are submitted at a time, so Ctrl-C leaves nothing queued that would start later.
    """
    queue = deque(pending)
    deaths: Counter[str] = Counter()  # run hash -> times its pool broke under it
    stored_under = {"profile": common["profile"], "results_dir": common["results_dir"]}
    while queue:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
        running: dict[Future, IdentifiedConfig] = {}
        broken = False
        try:
            while running or (queue and not broken):
                while queue and not broken and len(running) < jobs:
                    config = queue.popleft()
                    try:
                        running[pool.submit(run_one, config, **common, threads=threads)] = config
                    except BrokenProcessPool:  # an idle worker died: the run never started, so no retry is spent
                        queue.appendleft(config)
                        broken = True
                show(len(running))
                completed, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in completed:
                    config = running.pop(future)
                    try:
                        record = future.result()
                    except BrokenProcessPool as error:  # a worker died: this run may be innocent, or not
                        broken = True
                        deaths[config.hash] += 1
                        if deaths[config.hash] <= retries:
                            queue.appendleft(config)
                            continue
                        record = store_failure(config, error, **stored_under)
                    except Exception as error:  # noqa: BLE001 - e.g. a result that failed to pickle
                        record = store_failure(config, error, **stored_under)
                    finished(config, record)
        except BaseException:  # Ctrl-C: cancel what is queued, stop the workers now
            for future in running:
                future.cancel()
            processes = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(pending: list[IdentifiedConfig], common: dict[str, Any], jobs: int | None, address: str | None,
             retries: int, resources: Mapping[str, float] | None, threads: int | None, finished: Finished,
             show: Callable[..., None]) -> None:
    """One Ray task per run; a task whose worker dies is retried by Ray up to ``retries`` times."""
    ray = _import_ray()
    connected_here = not ray.is_initialized()
    if connected_here and address is None:  # a cluster of this machine only, for this sweep: stopped by ray.shutdown()
        ray.init(address="local", include_dashboard=False, logging_level=logging.WARNING)
    elif connected_here:
        ray.init(address=address, logging_level=logging.WARNING)
    refs: dict[Any, IdentifiedConfig] = {}
    try:
        cluster = ray.cluster_resources()
        cluster_cpus, cluster_gpus = cluster.get("CPU", 0.0), cluster.get("GPU", 0.0)
        needs: dict[str, dict[str, float]] = {}
        for config in pending:  # a run's fixed threads are its CPUs; 'auto' is CUDA where the cluster has GPUs
            wants_gpu = config.device == "cuda" or (config.device == "auto" and cluster_gpus > 0)
            need = {"num_cpus": float(getattr(config, "threads", None) or 1),
                    "num_gpus": GPU_SHARE if wants_gpu else 0.0, **(resources or {})}
            if need["num_gpus"] > cluster_gpus or need["num_cpus"] > cluster_cpus:
                raise ValueError(f"run {config.hash} (device {config.device!r}) needs {need['num_cpus']:g} CPU "
                                 f"and {need['num_gpus']:g} GPU, but the Ray cluster has {cluster_cpus:g} CPU "
                                 f"and {cluster_gpus:g} GPU in all; pass --device cpu, or use a cluster with GPUs")
            needs[config.hash] = need
        first = needs[pending[0].hash]
        slots = int(min(cluster_cpus / first["num_cpus"] if first["num_cpus"] else float("inf"),
                        cluster_gpus / first["num_gpus"] if first["num_gpus"] else float("inf"), len(pending)))
        task = ray.remote(run_one)
        queue = deque(pending)
        stored_under = {"profile": common["profile"], "results_dir": common["results_dir"]}
        while queue or refs:
            while queue and (jobs is None or len(refs) < jobs):
                config = queue.popleft()
                need = needs[config.hash]
                ref = task.options(num_cpus=need["num_cpus"], num_gpus=need["num_gpus"], max_retries=retries,
                                   retry_exceptions=False, name=f"sigmse-{config.hash}").remote(
                    config, **common, threads=threads or max(1, int(need["num_cpus"])))
                refs[ref] = config
            show(min(len(refs), slots), len(queue) + len(refs) - min(len(refs), slots))
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                config = refs.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as error:  # the worker died more than `retries` times, ...
                    record = store_failure(config, error, **stored_under)
                else:  # the merge: keep the driver's copy too, when the worker ran on another disk
                    path = record_path(config, common["profile"], common["results_dir"])
                    stored = read_record(path, run_kind(config).validate)
                    if stored is None or (stored["status"] == "failed" and stored != record):
                        write_record(record, path)
                finished(config, record)
    except BaseException:  # Ctrl-C (or a bad cluster): stop the runs in flight; their atomic writes leave no trace
        for ref in refs:
            ray.cancel(ref, force=True)
        raise
    finally:
        if connected_here:
            ray.shutdown()


def experiment_records(name: str, profile: str, options: PlanOptions, *,
                       data_dir: str | None = None) -> ExperimentRecords:
    """The selection and reporting records of experiment ``name`` under ``profile``, as a chapter reads them: stored
    runs load, missing ones train here one at a time, after one line saying how many and how ``sigmse book`` would
    train them in parallel first. A run that fails raises, with the sweep's summary.
    """
    results_dir = options.results_dir
    plan = plan_experiment(name, profile, options)
    stored = [load_record(c, profile, results_dir) for c in plan.selection + plan.report]
    missing = plan.waiting + sum(record is None or record["status"] == "failed" for record in stored)  # failed: retried
    if not missing:  # the book's case: one plan, each record read once
        return ExperimentRecords(stored[:len(plan.selection)], stored[len(plan.selection):])
    print(f"{name}: {missing} of {len(stored) + plan.waiting} runs are not in {results_dir}/{profile}/ and train "
          f"now, one at a time; `sigmse book --only CHAPTER -p KEY=VALUE --sweep-jobs N` trains a chapter's runs "
          f"N at a time before running it")

    def run(configs: list[IdentifiedConfig]) -> list[dict[str, Any]]:
        summary = run_configs(configs, profile=profile, results_dir=results_dir, data_dir=data_dir, progress=False)
        if summary.failed:
            raise RuntimeError(f"experiment {name!r}: {len(summary.failed)} runs failed\n{summary}")
        return [load_record(config, profile, results_dir) for config in configs]

    return run_experiment(name, profile, run, options)
