"""The committed full-profile results in ``results/full/``: every record validates, is named by its config hash,
was made with the full training and test sets under the full profile, and the folder stays compact; and once the
sweep is complete, every run a chapter reads is there (``sigmse sweep --profile full --dry-run`` lists them) and
``make book`` (and the Pages workflow) build the full book by default."""

import json
from pathlib import Path

import pytest

from sigmse.runs.experiments import RUN_KINDS, PlanOptions, experiment_names, plan_stages, sweep_plans
from sigmse.runs.store import record_path

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "results" / "full"
# every kind of run keeps its records in its own folder: results/full/ and results/full/unification/
KIND_RECORDS = [(kind, sorted((FULL / kind.config_type.record_folder).glob("*.json"))) for kind in RUN_KINDS]
RECORDS = [path for _, paths in KIND_RECORDS for path in paths]
MAX_BYTES = 20_000_000  # the committed folder stays small enough to clone with the code
needs_records = pytest.mark.skipif(not RECORDS, reason="no full-profile results committed yet")


@needs_records
def test_every_committed_record_validates_under_its_hash_with_full_data():
    problems = {}
    for kind, paths in KIND_RECORDS:
        for path in paths:
            record = json.loads(path.read_text())
            found = kind.validate(record, expected_hash=path.stem)
            if record.get("profile") != "full":
                found.append(f"profile {record.get('profile')!r}, not 'full'")
            if record["config"].get("train_subset") is not None or record["config"].get("test_subset") is not None:
                found.append("made on a subset")
            if found:
                problems[path.relative_to(FULL).as_posix()] = found
    assert not problems


@needs_records
def test_the_folder_stays_compact():
    size = sum(path.stat().st_size for path in RECORDS)
    assert size < MAX_BYTES, f"results/full/ holds {size / 1e6:.1f} MB"


def _runs_not_committed() -> tuple[int, int]:
    """How many of the full profile's runs have no committed record, and how many runs it has in all."""
    first, second, waiting = plan_stages(sweep_plans(experiment_names(), "full", PlanOptions(FULL.parent)))
    missing = [c for c in first + second if not record_path(c, "full", FULL.parent).is_file()]
    return len(missing) + waiting, len(first + second) + waiting


@needs_records
def test_every_run_the_chapters_read_is_committed():
    missing, total = _runs_not_committed()
    if missing:
        pytest.skip(f"the full sweep is not complete: {missing} of {total} runs are not committed yet")


@needs_records
def test_once_the_sweep_is_complete_its_dry_run_says_every_run_is_stored(capsys, monkeypatch):
    from sigmse.cli import main

    missing, total = _runs_not_committed()
    if missing:
        pytest.skip(f"the full sweep is not complete: {missing} of {total} runs are not committed yet")
    monkeypatch.delenv("SIGMSE_DATA_DIR", raising=False)  # a dry run reads no data
    assert main(["sweep", "--profile", "full", "--dry-run", "--results-dir", str(FULL.parent)]) == 0
    out = capsys.readouterr().out
    assert f"{total} already stored" in out and "every run is stored: nothing to train" in out


@needs_records
def test_once_the_sweep_is_complete_make_book_and_the_pages_workflow_build_the_full_book():
    """The default flips when the evidence is there, not before: a fresh clone's `make book` would otherwise train
    for hours (issue 12: the full book builds from the committed records)."""
    missing, total = _runs_not_committed()
    if missing:
        pytest.skip(f"the full sweep is not complete: {missing} of {total} runs are not committed yet")
    assert "PROFILE ?= full" in (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make book PROFILE=quick" not in (ROOT / ".github" / "workflows" / "book.yml").read_text(encoding="utf-8")


@needs_records
def test_once_the_sweep_is_complete_the_performance_chapter_has_a_committed_bench_record():
    """The full book's performance page reads a CPU bench record from results/full/bench/ measured at its
    parameters, instead of measuring one for minutes in every fresh clone (the 3-minute build of issue 12)."""
    from sigmse.bench.run import chapter_bench_size
    from sigmse.bench.run import latest_bench, profile_bench_dir

    missing, total = _runs_not_committed()
    if missing:
        pytest.skip(f"the full sweep is not complete: {missing} of {total} runs are not committed yet")
    folder = profile_bench_dir(FULL.parent, "full")
    assert latest_bench(folder, size=chapter_bench_size("full"), device="cpu", profile="full") is not None, (
        f"no record in {folder}: run `sigmse bench --size full --profile full --threads 1` on a quiet machine")


@needs_records
def test_every_committed_record_is_a_run_a_chapter_reads():
    """No stray records: each is a selection run, a reporting run, or (while its group's selection runs are still
    missing) a possible reporting run: a selection run's configuration with a reporting seed."""
    from sigmse.runs.profiles import get_profile
    from sigmse.runs.experiments import plan_experiment

    full = get_profile("full")
    allowed = set()
    for name in experiment_names():
        plan = plan_experiment(name, full, PlanOptions(FULL.parent))
        allowed |= {c.hash for c in plan.selection + plan.report}
        allowed |= {c.with_(seed=s).hash for c in plan.selection for s in full.report_seeds}
    stray = [path.name for path in RECORDS if path.stem not in allowed]
    assert not stray, f"{len(stray)} records no chapter reads, e.g. {stray[0]}"
