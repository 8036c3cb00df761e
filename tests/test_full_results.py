"""The committed full-profile results in ``results/full/``: every record validates, is named by its config hash,
was made with the full training and test sets under the full profile, and the folder stays compact; and once the
sweep is complete, every run a chapter reads is there (``sigmse sweep --profile full --dry-run`` lists them)."""

import json
from pathlib import Path

import pytest

from sigmse.runs.experiments import experiment_names, plan_stages
from sigmse.runs.store import record_path, validate_record

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "results" / "full"
RECORDS = sorted(FULL.glob("*.json"))
MAX_BYTES = 20_000_000  # the committed folder stays small enough to clone with the code
needs_records = pytest.mark.skipif(not RECORDS, reason="no full-profile results committed yet")


@needs_records
def test_every_committed_record_validates_under_its_hash_with_full_data():
    problems = {}
    for path in RECORDS:
        record = json.loads(path.read_text())
        found = validate_record(record, expected_hash=path.stem)
        if record.get("profile") != "full":
            found.append(f"profile {record.get('profile')!r}, not 'full'")
        if record["config"].get("train_subset") is not None or record["config"].get("test_subset") is not None:
            found.append("made on a subset")
        if found:
            problems[path.name] = found
    assert not problems


@needs_records
def test_the_folder_stays_compact():
    size = sum(path.stat().st_size for path in RECORDS)
    assert size < MAX_BYTES, f"results/full/ holds {size / 1e6:.1f} MB"


@needs_records
def test_every_run_the_chapters_read_is_committed():
    first, second, waiting = plan_stages(experiment_names(), "full", results_dir=FULL.parent)
    missing = [c for c in first + second if not record_path(c, "full", FULL.parent).is_file()]
    if missing or waiting:
        pytest.skip(f"the full sweep is not complete: {len(missing) + waiting} of {len(first + second) + waiting} "
                    "runs are not committed yet")


@needs_records
def test_every_committed_record_is_a_run_a_chapter_reads():
    """No stray records: each is a selection run, a reporting run, or (while its group's selection runs are still
    missing) a possible reporting run: a selection run's configuration with a reporting seed."""
    from sigmse.runs.profiles import get_profile
    from sigmse.runs.experiments import plan_experiment

    full = get_profile("full")
    allowed = set()
    for name in experiment_names():
        plan = plan_experiment(name, full, results_dir=FULL.parent)
        allowed |= {c.hash for c in plan.selection + plan.report}
        allowed |= {c.with_(seed=s).hash for c in plan.selection for s in full.report_seeds}
    stray = [path.name for path in RECORDS if path.stem not in allowed]
    assert not stray, f"{len(stray)} records no chapter reads, e.g. {stray[0]}"
