"""The committed paper-profile results: every run a notebook asks for under the paper profile is in
``results/paper/`` and every record there validates. Skipped while none are committed (they need a GPU
session; see the notes in the reproduce chapter)."""

import json
from pathlib import Path

import pytest

from sigmse.profiles import experiment_configs, experiment_names
from sigmse.store import record_path, validate_record

PAPER = Path(__file__).resolve().parent.parent / "results" / "paper"
RECORDS = sorted(PAPER.glob("*.json"))
pytestmark = pytest.mark.skipif(not RECORDS, reason="no paper-profile results committed yet")


def test_every_committed_record_validates():
    problems = {p.name: validate_record(json.loads(p.read_text()), expected_hash=p.stem) for p in RECORDS}
    assert not {name: found for name, found in problems.items() if found}


@pytest.mark.parametrize("experiment", experiment_names())
def test_every_run_the_notebooks_ask_for_is_committed(experiment):
    missing = [c for c in experiment_configs(experiment, "paper")
               if not record_path(c, "paper", PAPER.parent).is_file()]
    assert not missing, f"{len(missing)} {experiment} runs missing, e.g. {missing[0].canonical_json()}"
