"""The committed paper-profile results: every run a notebook asks for under the paper profile is in
``results/paper/``, every record there validates and was made on a GPU it names, and the pilots among them chose
the epochs the profile trains. Skipped while none are committed (they need a GPU session: device/README.md, and
the notes in the reproduce chapter), and the book must say so while that lasts."""

import json
from pathlib import Path

import pytest

from sigmse.runs.experiments import PlanOptions, experiment_names, plan_stages, sweep_plans
from sigmse.runs.profiles import get_profile
from sigmse.runs.store import record_path, validate_record

ROOT = Path(__file__).resolve().parent.parent
PAPER = ROOT / "results" / "paper"
RECORDS = sorted(PAPER.glob("*.json"))
NOT_YET = "No paper-profile results are committed yet"  # what the intro and the reproduce chapter say
needs_records = pytest.mark.skipif(not RECORDS, reason="no paper-profile results committed yet")


@pytest.mark.parametrize("page", ["book/intro.md", "book/reproduce.md"])
def test_the_book_says_whether_paper_results_are_committed(page):
    """The pages say that no paper-profile results are committed exactly while results/paper/ is empty."""
    text = " ".join((ROOT / page).read_text().split())  # line breaks do not matter
    assert (NOT_YET in text) == (not RECORDS)


@needs_records
def test_every_committed_record_validates():
    problems = {p.name: validate_record(json.loads(p.read_text()), expected_hash=p.stem) for p in RECORDS}
    assert not {name: found for name, found in problems.items() if found}


@needs_records
@pytest.mark.parametrize("experiment", experiment_names())
def test_every_run_the_notebooks_ask_for_is_committed(experiment):
    first, second, waiting = plan_stages(sweep_plans([experiment], "paper", PlanOptions(results_dir=PAPER.parent)))
    missing = [c for c in first + second if not record_path(c, "paper", PAPER.parent).is_file()]
    assert not missing and not waiting, (f"{len(missing) + waiting} {experiment} runs missing"
                                         + (f", e.g. {missing[0].canonical_json()}" if missing else ""))


@needs_records
def test_every_committed_record_was_made_on_a_gpu_it_names():
    provenance = {p.name: json.loads(p.read_text())["provenance"] for p in RECORDS}
    not_gpu = {name: (found["device"], found["device_name"]) for name, found in provenance.items()
               if found["device"] != "cuda" or found["device_name"].startswith("CPU")}
    assert not not_gpu


@needs_records
def test_the_committed_pilots_chose_the_epochs_the_profile_trains():
    """sigmse.report.pilots.pilot_agreement, the check the device script makes before the sweep, agrees on the
    committed records."""
    from sigmse.report import pilots

    status, lines = pilots.pilot_agreement(get_profile("paper"), PAPER.parent)
    assert status == pilots.AGREE, lines
