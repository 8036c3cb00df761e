"""The results store: atomic records, load instead of retrain, corrupt records rerun, kill-and-resume."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sigmse.config import RunConfig
from sigmse.runs.executors import train_and_store
from sigmse.runs.store import read_record, record_path, validate_record, write_record

SMALL = dict(dataset="mnist", model="mlp", epochs=1, train_subset=256, val_size=256, test_subset=256, device="cpu")


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "p" / "abc.json"
    write_record({"a": 1}, path)
    write_record({"a": 2}, path)
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == ["abc.json"]


def test_write_refuses_nan_so_records_stay_valid_json(tmp_path):
    with pytest.raises(ValueError):
        write_record({"a": float("nan")}, tmp_path / "x.json")
    assert list(tmp_path.iterdir()) == []


def test_validate_record_names_each_problem():
    assert validate_record([]) == ["record is a list, not an object"]
    assert "missing key 'config'" in validate_record({"hash": "x"})


@pytest.mark.shared_data
def test_a_run_is_trained_and_stored_once_then_loaded(tmp_path, shared_data_dir):
    config = RunConfig(**SMALL)
    first = train_and_store(config, profile="t", results_dir=tmp_path, data_dir=shared_data_dir)
    path = record_path(config, "t", tmp_path)
    stamp = path.stat().st_mtime_ns
    second = train_and_store(config, profile="t", results_dir=tmp_path, data_dir=shared_data_dir)
    assert second == first and path.stat().st_mtime_ns == stamp
    assert validate_record(first, expected_hash=config.hash) == []
    provenance = first["provenance"]
    for key in ("sigmse_version", "git_commit", "torch_version", "device_name", "wall_seconds", "date"):
        assert key in provenance


@pytest.mark.shared_data
def test_corrupt_record_is_reported_moved_aside_and_rerun(tmp_path, shared_data_dir):
    config = RunConfig(**SMALL, seed=7)
    path = record_path(config, "t", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"truncated": ')
    with pytest.warns(RuntimeWarning, match="corrupt result record"):
        record = train_and_store(config, profile="t", results_dir=tmp_path, data_dir=shared_data_dir)
    assert record["status"] == "ok"
    assert path.with_suffix(".json.corrupt").read_text() == '{"truncated": '
    assert read_record(path) == record


SWEEP_SCRIPT = textwrap.dedent("""
    import sys
    from sigmse.config import RunConfig
    from sigmse.runs.executors import train_and_store
    results, data = sys.argv[1], sys.argv[2]
    for seed in range(8):
        config = RunConfig(dataset="mnist", model="mlp", epochs=2, train_subset=1024, val_size=256,
                           test_subset=256, device="cpu", seed=seed)
        train_and_store(config, profile="kill", results_dir=results, data_dir=data)
        print("stored", seed, flush=True)
""")


@pytest.mark.shared_data
def test_sweep_killed_with_sigkill_resumes_with_every_run_exactly_once(tmp_path, shared_data_dir):
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP_SCRIPT)
    folder = tmp_path / "results" / "kill"
    command = [sys.executable, str(script), str(tmp_path / "results"), str(shared_data_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(folder.glob("*.json"))) < 2:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)  # mid-sweep, very likely mid-run
    process.wait()
    killed_at = len(list(folder.glob("*.json")))
    assert 2 <= killed_at < 8, "the kill must land mid-sweep for this test to mean anything"

    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    records = sorted(folder.glob("*.json"))
    assert len(records) == 8
    seeds = sorted(json.loads(p.read_text())["config"]["seed"] for p in records)
    assert seeds == list(range(8))
    assert all(validate_record(json.loads(p.read_text()), expected_hash=p.stem) == [] for p in records)
    assert not [p for p in folder.iterdir() if p.suffix != ".json"], "temporary or corrupt files left behind"
    assert finished.stdout.count("stored") == 8  # resumed runs load quickly, the rest train
