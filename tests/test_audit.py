"""Tests of sigmse.runs.audit: a record retrained on the same setup is bit-identical, a unification record as well as
a classification one; a tampered one is caught, through the Python API and the command line; bad input is refused
before any training."""

from __future__ import annotations

import json

import pytest

from sigmse.provenance import run_provenance
from sigmse.runs.audit import ANOTHER_SETUP, PROCESSOR_NOT_RECORDED, SAME_SETUP, audit, comparable, setup_match
from sigmse.cli import main
from sigmse.config import RunConfig
from sigmse.runs.executors import train_and_store
from sigmse.runs.store import record_path
from sigmse.unification.config import UnificationConfig

pytestmark = pytest.mark.shared_data

TINY = dict(dataset="mnist", epochs=1, train_subset=256, test_subset=500, val_size=256, device="cpu")


@pytest.fixture()
def store(tmp_path, shared_data_dir):
    """Two stored smoke-sized MNIST runs (seeds 0 and 1)."""
    for seed in (0, 1):
        train_and_store(RunConfig(**TINY, seed=seed), profile="full", results_dir=tmp_path, data_dir=shared_data_dir)
    return tmp_path


def test_a_stored_record_retrains_bit_identically_on_the_same_setup(store, shared_data_dir):
    results = audit("full", results_dir=store, sample=2, seed=0, data_dir=shared_data_dir)
    assert [r.reproduced and r.bitwise for r in results] == [True, True]
    assert all("bit-identical (same torch, device, processor and threads)" in r.line for r in results)


def test_a_unification_record_is_drawn_and_retrained_by_its_own_trainer(store, shared_data_dir):
    """Records of every kind of run are audited: the unification run (its own folder and trainer) reproduces bit
    for bit, and tampering with its regression metric is caught."""
    config = UnificationConfig(method="unified_mse_or", epochs=1, train_subset=256, test_subset=500, val_size=256,
                               device="cpu")
    train_and_store(config, profile="full", results_dir=store, data_dir=shared_data_dir)
    assert len(audit("full", results_dir=store, sample=3, seed=0, data_dir=shared_data_dir)) == 3  # 2 + 1 stored
    result, = audit("full", results_dir=store, hashes=[config.hash], data_dir=shared_data_dir)
    assert result.reproduced and result.bitwise, result.line
    path = record_path(config, "full", store)
    record = json.loads(path.read_text())
    metric = next(k for k, v in record["metrics"].items() if isinstance(v, float) and not k.endswith("seconds"))
    record["metrics"][metric] += 1e-6
    path.write_text(json.dumps(record))
    result, = audit("full", results_dir=store, hashes=[config.hash], data_dir=shared_data_dir)
    assert not result.reproduced and "NOT bit-identical" in result.line


def test_a_tampered_record_does_not_reproduce_and_the_cli_exits_1(store, shared_data_dir, capsys):
    config = RunConfig(**TINY, seed=0)
    path = record_path(config, "full", store)
    record = json.loads(path.read_text())
    record["metrics"]["test_acc"] += 0.01
    path.write_text(json.dumps(record))
    argv = ["audit", "--profile", "full", "--hash", config.hash, "--results-dir", str(store),
            "--data-dir", str(shared_data_dir)]
    assert main(argv) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{config.hash} NOT bit-identical (same torch, device, processor and threads)",
                   "0 of 1 records reproduce (0 bit-identical)"]


def test_another_setup_is_judged_against_the_seed_spread(store, shared_data_dir):
    """A record whose provenance names another torch cannot be compared bit for bit: the accuracy must lie within
    three standard deviations of the stored seeds (or a quarter point)."""
    config = RunConfig(**TINY, seed=0)
    path = record_path(config, "full", store)
    record = json.loads(path.read_text())
    record["provenance"]["torch_version"] = "0.0.1"
    path.write_text(json.dumps(record))
    result, = audit("full", results_dir=store, hashes=[config.hash], data_dir=shared_data_dir)
    assert result.reproduced and not result.bitwise and "within" in result.line and "another setup" in result.line
    record["metrics"]["test_acc"] = 0.0
    path.write_text(json.dumps(record))
    result, = audit("full", results_dir=store, hashes=[config.hash], data_dir=shared_data_dir)
    assert not result.reproduced and "OUTSIDE" in result.line


def _provenance_set(store, config, **changes):
    path = record_path(config, "full", store)
    record = json.loads(path.read_text())
    record["provenance"].update(changes)
    path.write_text(json.dumps(record))
    return path, record


def test_a_record_without_its_processor_is_bit_identical_or_else_judged_against_the_seed_spread(store,
                                                                                                shared_data_dir):
    """Records made before provenance named the processor: a rerun on the same kind of CPU is still shown to be
    bit-identical; one that is not (another processor of the same name) is judged like another setup, and says so."""
    config = RunConfig(**TINY, seed=0)
    path, record = _provenance_set(store, config, processor=None)
    result, = audit("full", results_dir=store, hashes=[config.hash], data_dir=shared_data_dir)
    assert result.reproduced and result.bitwise and "the record does not name its processor" in result.line
    record["metrics"]["test_acc"] += 1e-6  # as if another processor had summed in another order
    path.write_text(json.dumps(record))
    result, = audit("full", results_dir=store, hashes=[config.hash], data_dir=shared_data_dir)
    assert result.reproduced and not result.bitwise and "within" in result.line
    assert "not bit-identical; same torch, device and threads, but the record does not name its processor" in result.line
    record["metrics"]["test_acc"] = 0.0
    path.write_text(json.dumps(record))
    result, = audit("full", results_dir=store, hashes=[config.hash], data_dir=shared_data_dir)
    assert not result.reproduced and "OUTSIDE" in result.line


def test_another_processor_is_another_setup():
    here = run_provenance("cpu")
    assert setup_match(here, "cpu") == SAME_SETUP
    assert setup_match({**here, "processor": None}, "cpu") == PROCESSOR_NOT_RECORDED
    assert setup_match({**here, "processor": here["processor"] + " amx_tile"}, "cpu") == ANOTHER_SETUP
    assert setup_match({**here, "torch_threads": None}, "cpu") == ANOTHER_SETUP


def test_bad_input_is_refused_before_any_training(tmp_path, capsys):
    assert main(["audit", "--profile", "full", "--results-dir", str(tmp_path)]) == 2
    assert "nothing to audit: no stored record under" in capsys.readouterr().err
    assert main(["audit", "--profile", "full", "--sample", "0", "--results-dir", str(tmp_path)]) == 2
    assert "sample must be in [1, inf], got 0" in capsys.readouterr().err
    assert main(["audit", "--profile", "huge", "--results-dir", str(tmp_path)]) == 2
    assert "unknown profile 'huge'" in capsys.readouterr().err


def test_comparable_leaves_out_timings_only():
    result = {"status": "ok", "history": [{"epoch": 1, "seconds": 2.0, "test_acc": 0.5}],
              "curve": [{"step": 4, "train_seconds": 1.0, "val_acc": 0.4}],
              "metrics": {"test_acc": 0.5, "train_seconds": 3.0, "setup_seconds": 1.0}}
    assert comparable(result) == {"status": "ok", "history": [{"epoch": 1, "test_acc": 0.5}],
                                  "curve": [{"step": 4, "val_acc": 0.4}], "metrics": {"test_acc": 0.5}}


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["full", "full2"])
def test_one_committed_mnist_record_of_each_full_profile_reproduces(shared_data_dir, profile):
    """CI retrains one committed MNIST record of each full-size profile (the cheapest kind), drawn by its hash order:
    bit for bit on the kind of processor that made it, else within the spread over its seeds (the `full` records do
    not name their processor; see test_a_record_without_its_processor_...; `full2` records do, at 1 thread)."""
    folder = REPO / "results" / profile
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    mnist = [r for r in records if r["config"]["dataset"] == "mnist" and r["status"] == "ok"
             and r["config"]["model"] == "mlp"]
    if not mnist:
        pytest.skip(f"no {profile}-profile MNIST record is committed yet")
    result, = audit(profile, results_dir=REPO / "results", hashes=[mnist[0]["hash"]], data_dir=shared_data_dir)
    assert result.reproduced, result.line
