"""The committed records of the full-scale CPU profiles, ``results/full/`` (protocol v1) and ``results/full2/``
(protocol v2): every record validates under its hash, was made under its profile with the full training and test
sets (and, for ``full2``, with the one torch thread its protocol fixes), and each folder stays compact; and once a
profile's sweep is complete, every run a chapter reads is there (``sigmse sweep --profile <name> --dry-run`` lists
them), no record is stray, its performance page has a committed bench record, and ``make book`` (and the Pages
workflow) build that profile's book by default."""

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from sigmse.runs.experiments import RUN_KINDS, PlanOptions, experiment_names, plan_stages, sweep_plans
from sigmse.runs.store import record_path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"


class Committed(NamedTuple):
    """What a full-scale profile's committed folder must hold to: its size limit and the torch threads of every
    run (None: not fixed by that protocol)."""

    max_bytes: int
    threads: int | None


PROFILES = {
    "full": Committed(max_bytes=20_000_000, threads=None),  # small enough to clone with the code
    "full2": Committed(max_bytes=25_000_000, threads=1),  # issue 22: under 25 MB; one thread per run
}


def _records(profile: str) -> list[tuple[object, list[Path]]]:
    """Each kind of run with its committed record files (every kind keeps its own folder, e.g. ``unification/``)."""
    folder = RESULTS / profile
    return [(kind, sorted((folder / kind.config_type.record_folder).glob("*.json"))) for kind in RUN_KINDS]


@pytest.fixture(params=sorted(PROFILES))
def profile(request) -> str:
    """A full-scale profile with committed records (skipped where it has none)."""
    if not any(paths for _, paths in _records(request.param)):
        pytest.skip(f"no {request.param} records committed")
    return request.param


def _runs_not_committed(profile: str) -> tuple[int, int]:
    """How many of the profile's runs have no committed record, and how many runs it has in all."""
    first, second, waiting = plan_stages(sweep_plans(experiment_names(), profile, PlanOptions(RESULTS)))
    missing = [c for c in first + second if not record_path(c, profile, RESULTS).is_file()]
    return len(missing) + waiting, len(first + second) + waiting


@pytest.fixture
def complete(profile) -> str:
    """A full-scale profile whose sweep is complete (skipped, saying how far it is, until then)."""
    missing, total = _runs_not_committed(profile)
    if missing:
        pytest.skip(f"the {profile} sweep is not complete: {missing} of {total} runs are not committed yet")
    return profile


def test_every_committed_record_validates_under_its_hash_with_full_data(profile):
    problems = {}
    threads = PROFILES[profile].threads
    for kind, paths in _records(profile):
        for path in paths:
            record = json.loads(path.read_text())
            config = record["config"]
            found = kind.validate(record, expected_hash=path.stem)
            if record.get("profile") != profile:
                found.append(f"profile {record.get('profile')!r}, not {profile!r}")
            if config.get("train_subset") is not None or config.get("test_subset") is not None:
                found.append("made on a subset")
            if threads is not None and (config.get("threads") != threads
                                        or record["provenance"].get("torch_threads") != threads):
                found.append(f"threads {config.get('threads')!r} / torch {record['provenance'].get('torch_threads')!r}")
            if found:
                problems[path.relative_to(RESULTS).as_posix()] = found
    assert not problems


def test_the_folder_stays_compact(profile):
    size = sum(path.stat().st_size for _, paths in _records(profile) for path in paths)
    assert size < PROFILES[profile].max_bytes, f"results/{profile}/ holds {size / 1e6:.1f} MB"


def test_once_the_sweep_is_complete_its_dry_run_says_every_run_is_stored(complete, capsys, monkeypatch):
    from sigmse.cli import main

    _, total = _runs_not_committed(complete)
    monkeypatch.delenv("SIGMSE_DATA_DIR", raising=False)  # a dry run reads no data
    assert main(["sweep", "--profile", complete, "--dry-run", "--results-dir", str(RESULTS)]) == 0
    out = capsys.readouterr().out
    assert f"{total} already stored" in out and "every run is stored: nothing to train" in out


def test_once_the_sweep_is_complete_make_book_and_the_pages_workflow_build_its_book(complete):
    """The default flips when the evidence is there, not before: a fresh clone's `make book` would otherwise train
    for hours (issue 12: the full book builds from the committed records). Only one profile's records stay in the
    tree once it is the default (issue 22), so a complete profile is the default one."""
    assert f"PROFILE ?= {complete}\n" in (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make book PROFILE=quick" not in (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")


def test_once_the_sweep_is_complete_the_performance_chapter_has_a_committed_bench_record(complete):
    """The book's performance page reads a CPU bench record from results/<profile>/bench/ measured at its
    parameters, instead of measuring one for minutes in every fresh clone (the 3-minute build of issue 12)."""
    from sigmse.bench.run import chapter_bench_size, latest_bench, profile_bench_dir

    folder = profile_bench_dir(RESULTS, complete)
    assert latest_bench(folder, size=chapter_bench_size(complete), device="cpu", profile=complete) is not None, (
        f"no record in {folder}: run `sigmse bench --size full --profile {complete} --threads 1` on a quiet machine")


def test_every_committed_record_is_a_run_a_chapter_reads(profile):
    """No stray records: each is a selection run, a reporting run, or (while its group's selection runs are still
    missing) a possible reporting run: a selection run's configuration with a reporting seed."""
    from sigmse.runs.experiments import plan_experiment
    from sigmse.runs.profiles import get_profile

    chosen = get_profile(profile)
    allowed = set()
    for name in experiment_names():
        plan = plan_experiment(name, chosen, PlanOptions(RESULTS))
        allowed |= {c.hash for c in plan.selection + plan.report}
        allowed |= {c.with_(seed=s).hash for c in plan.selection for s in chosen.reporting_seeds(name)}
    stray = [path.name for _, paths in _records(profile) for path in paths if path.stem not in allowed]
    assert not stray, f"{len(stray)} records no chapter reads, e.g. {stray[0]}"
