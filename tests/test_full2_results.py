"""Protocol v2's committed records in ``results/full2/``: every record validates under its hash, was made under
the ``full2`` profile with the full data and 1 torch thread, and the folder stays under 25 MB."""

import json
from pathlib import Path

import pytest

from sigmse.runs.experiments import RUN_KINDS

ROOT = Path(__file__).resolve().parent.parent
FULL2 = ROOT / "results" / "full2"
KIND_RECORDS = [(kind, sorted((FULL2 / kind.config_type.record_folder).glob("*.json"))) for kind in RUN_KINDS]
RECORDS = [path for _, paths in KIND_RECORDS for path in paths]
MAX_BYTES = 25_000_000  # issue 22: each profile's records stay under 25 MB
needs_records = pytest.mark.skipif(not RECORDS, reason="no full2 records committed yet")


@needs_records
def test_every_committed_record_validates_under_its_hash_with_full_data_and_one_thread():
    problems = {}
    for kind, paths in KIND_RECORDS:
        for path in paths:
            record = json.loads(path.read_text())
            found = kind.validate(record, expected_hash=path.stem)
            config = record["config"]
            if record.get("profile") != "full2":
                found.append(f"profile {record.get('profile')!r}, not 'full2'")
            if config.get("train_subset") is not None or config.get("test_subset") is not None:
                found.append("made on a subset")
            if config.get("threads") != 1 or record["provenance"].get("torch_threads") != 1:
                found.append(f"threads {config.get('threads')!r} / torch {record['provenance'].get('torch_threads')!r}")
            if found:
                problems[path.relative_to(FULL2).as_posix()] = found
    assert not problems


@needs_records
def test_the_folder_stays_under_25_mb():
    size = sum(path.stat().st_size for path in RECORDS)
    assert size < MAX_BYTES, f"results/full2/ holds {size / 1e6:.1f} MB"
