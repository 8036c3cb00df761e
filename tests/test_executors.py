"""Executors: local (in-process and a process pool) and Ray give the same records; failures are kept apart.

The Ray tests start a real cluster on 127.0.0.1 (``ray start --head --num-cpus=2``: a head node whose two
worker processes train at once), sweep on it from a driver subprocess, and stop it when the module ends. A
random token (``RAY_AUTH_MODE=token``) keeps the cluster to the tests, and nothing is written to ``~/.ray``.

Records are compared with everything except timings and provenance. CPU results depend on the number of
torch threads in their last bit, so every run here uses one thread (``threads=1``; Ray's default of one CPU
per run gives one thread too).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from sigmse.config import RunConfig
from sigmse.runs.executors import RAY_INSTALL_HINT, check_executor_options, run_configs
from sigmse.runs.store import read_record, record_path, validate_record

SMALL = dict(dataset="mnist", model="mlp", epochs=1, train_subset=512, val_size=500, test_subset=1000, device="cpu")
CONFIGS = [RunConfig(**SMALL, loss=loss, lr=lr)
           for loss in ("softmax_ce", "sigmoid_mse_or", "sigmoid_mse") for lr in (1e-3, 3e-3)]
CLUSTER_START_SECONDS = 90  # bound on bringing the Ray cluster up (2 CPU cores, possibly busy)
SWEEP_SECONDS = 180  # bound on one sweep in a subprocess


def comparable(record: dict) -> dict:
    """A record without what legitimately differs between two sweeps: timings and provenance."""
    history = [{k: v for k, v in entry.items() if k != "seconds"} for entry in record["history"]]
    curve = [{k: v for k, v in point.items() if k != "train_seconds"} for point in record.get("curve", [])]
    metrics = {k: v for k, v in record["metrics"].items() if not k.endswith("_seconds")}
    return {**{k: v for k, v in record.items() if k != "provenance"}, "history": history, "curve": curve,
            "metrics": metrics}


def assert_same_records(results_dir: Path, profile: str, expected: dict[str, dict]) -> None:
    """The stored records equal ``expected`` (comparable parts); a failure names each differing field."""
    got = {h: comparable(r) for h, r in stored(results_dir, profile).items()}
    assert sorted(got) == sorted(expected)
    differences = {h: {k: (got[h].get(k), expected[h].get(k)) for k in got[h].keys() | expected[h].keys()
                       if got[h].get(k) != expected[h].get(k)} for h in got if got[h] != expected[h]}
    assert not differences, f"records differ from the reference: {differences}"


def stored(results_dir: Path, profile: str) -> dict[str, dict]:
    """Every file in a profile's folder, checked: only ``<hash>.json`` records, each valid, by hash."""
    folder = results_dir / profile
    names = sorted(p.name for p in folder.iterdir() if not p.name.endswith(".tmp"))
    assert all(name.endswith(".json") for name in names), f"unexpected files (corrupt records?): {names}"
    records = {}
    for name in names:
        record = json.loads((folder / name).read_text())
        assert validate_record(record, expected_hash=name[:-5]) == []
        records[record["hash"]] = record
    return records


@pytest.fixture(scope="module")
def reference(tmp_path_factory, shared_data_dir):
    """The six runs trained one at a time in this process: the records every executor must reproduce."""
    results = tmp_path_factory.mktemp("reference")
    started = time.perf_counter()
    summary = run_configs(CONFIGS, profile="p", results_dir=results, data_dir=shared_data_dir, threads=1,
                          progress=False)
    seconds = time.perf_counter() - started
    assert summary.done == len(CONFIGS) and not summary.failed
    return {h: comparable(r) for h, r in stored(results, "p").items()}, seconds


# -- checks before any work ---------------------------------------------------------------------


@pytest.mark.parametrize("options, message", [
    (dict(executor="dask"), "executor 'dask' is not allowed; choose one of: local, ray"),
    (dict(executor="local", jobs=0), "jobs must be an integer >= 1, got 0"),
    (dict(executor="local", jobs=1.5), "jobs must be an integer >= 1, got 1.5"),
    (dict(executor="local", retries=-1), "retries must be an integer >= 0, got -1"),
    (dict(executor="local", threads=0), "threads must be an integer >= 1, got 0"),
    (dict(executor="local", resources={"num_cpus": 1}), "apply to executor 'ray' only, not 'local'"),
])
def test_bad_options_are_refused_quoting_the_value_and_the_allowed_ones(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        check_executor_options(**options)


def test_per_run_resource_flags_become_ray_resources_and_bad_ones_exit_2(tmp_path, capsys):
    import argparse

    from sigmse.cli import main
    from sigmse.runs.executors import add_executor_arguments, executor_resources

    parser = argparse.ArgumentParser()
    add_executor_arguments(parser)
    assert executor_resources(parser.parse_args([])) is None  # the defaults: 1 CPU, a quarter GPU on CUDA
    assert executor_resources(parser.parse_args(["--gpus-per-run", "0.5"])) == {"num_gpus": 0.5}
    assert executor_resources(parser.parse_args(["--cpus-per-run", "2", "--gpus-per-run", "0"])) == {
        "num_cpus": 2.0, "num_gpus": 0.0}
    sweep = ["sweep", "--profile", "smoke", "--results-dir", str(tmp_path / "results")]
    for flags, message in ((["--gpus-per-run", "0.5"], "apply to executor 'ray' only, not 'local'"),
                           (["--executor", "ray", "--gpus-per-run", "-1"], "resource num_gpus must be a number >= 0"),
                           (["--executor", "ray", "--cpus-per-run", "0", "--gpus-per-run", "0"],
                            "a run must reserve some CPU or GPU")):
        if "ray" in flags:
            pytest.importorskip("ray")
        assert main(sweep + flags) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_bad_options_fail_before_any_run_starts(tmp_path):
    with pytest.raises(ValueError, match="jobs must be"):
        run_configs(CONFIGS, profile="p", results_dir=tmp_path, jobs=0)
    assert not any(tmp_path.iterdir())


def test_without_ray_the_library_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when Ray is not installed
    with pytest.raises(ValueError, match=r"pip install 'sigmse\[ray\]'"):
        run_configs(CONFIGS, profile="p", results_dir=tmp_path, executor="ray")
    assert not any(tmp_path.iterdir())


def test_without_ray_the_cli_exits_2_with_the_install_hint_before_any_run(tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from sigmse.cli import main; "
            f"sys.exit(main(['sweep', '--profile', 'smoke', '--executor', 'ray', '--results-dir', {str(tmp_path)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"sigmse: error: {RAY_INSTALL_HINT}"
    assert done.stdout == "" and not any(tmp_path.iterdir())


def test_cli_refuses_bad_jobs_and_executor(tmp_path, capsys):
    from sigmse.cli import main

    assert main(["sweep", "--profile", "smoke", "--jobs", "0", "--results-dir", str(tmp_path)]) == 2
    assert "jobs must be an integer >= 1, got 0" in capsys.readouterr().err
    assert main(["sweep", "--profile", "smoke", "--executor", "mpi", "--results-dir", str(tmp_path)]) == 2
    assert "executor 'mpi' is not allowed; choose one of: local, ray" in capsys.readouterr().err
    assert main(["sweep", "--profile", "smoke", "--threads", "0", "--results-dir", str(tmp_path)]) == 2
    assert "threads must be an integer >= 1, got 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.shared_data
@pytest.mark.parametrize("jobs, threads", [(1, 1), (2, 2)])  # on 2 cores, each the other's default
def test_cli_threads_sets_the_torch_threads_of_every_run(tmp_path, shared_data_dir, jobs, threads):
    from sigmse.cli import main

    argv = ["sweep", "--profile", "smoke", "--only", "lr_sweep", "--threads", str(threads), "--jobs", str(jobs),
            "--results-dir", str(tmp_path), "--data-dir", str(shared_data_dir)]
    assert main(argv) == 0
    records = stored(tmp_path, "smoke")
    assert len(records) == 10 and {r["provenance"]["torch_threads"] for r in records.values()} == {threads}


# -- local executor -----------------------------------------------------------------------------


FASHION = RunConfig(**{**SMALL, "dataset": "fashion-mnist"}, loss="sigmoid_mse_or")  # raises on `partial_data`


@pytest.fixture
def partial_data(tmp_path, shared_data_dir, make_fake_idx) -> Path:
    """A data root with the real MNIST and a fake Fashion-MNIST (files of the right names, not the official
    ones): a Fashion-MNIST run such as ``FASHION`` raises inside training, when its data fails the md5 check."""
    partial = tmp_path / "data"
    partial.mkdir()
    (partial / "mnist").symlink_to(shared_data_dir / "mnist", target_is_directory=True)
    make_fake_idx(partial, "fashion-mnist")
    return partial


@pytest.mark.shared_data
def test_a_run_that_raises_is_stored_as_failed_the_others_finish_and_a_rerun_retries_it(tmp_path, shared_data_dir,
                                                                                        partial_data):
    configs = [CONFIGS[0], FASHION, CONFIGS[1]]
    results = tmp_path / "results"

    summary = run_configs(configs, profile="p", results_dir=results, data_dir=partial_data, threads=1,
                          progress=False)
    assert (summary.done, summary.skipped, len(summary.failed)) == (2, 0, 1)
    assert summary.failed[0].config == FASHION
    assert summary.failed[0].error.startswith("DatasetIntegrityError: ")
    assert "1 failed" in str(summary) and FASHION.hash in str(summary)
    records = stored(results, "p")
    assert {h: r["status"] for h, r in records.items()} == {configs[0].hash: "ok", FASHION.hash: "failed",
                                                            configs[2].hash: "ok"}
    failure = records[FASHION.hash]
    assert failure["error"]["type"] == "DatasetIntegrityError" and "Traceback" in failure["error"]["traceback"]
    assert failure["metrics"] == {} and failure["history"] == []

    rerun = run_configs(configs, profile="p", results_dir=results, data_dir=shared_data_dir, threads=1,
                        progress=False)
    assert (rerun.done, rerun.skipped, len(rerun.failed)) == (1, 2, 0)
    assert read_record(record_path(FASHION, "p", results))["status"] == "ok"


@pytest.mark.shared_data
def test_progress_counts_runs_done_running_and_failed_and_shows_the_time_left(tmp_path, partial_data, capsys):
    run_configs([CONFIGS[0], FASHION], profile="p", results_dir=tmp_path / "results", data_dir=partial_data,
                threads=1, progress=True)
    bar = capsys.readouterr().err.split("\r")  # tqdm redraws one line on stderr
    assert any("p (local): 2 to run" in line and "0/2" in line and "running 1, failed 0" in line for line in bar)
    final = [line for line in bar if "2/2" in line][-1]
    assert "failed 1" in final
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", final), final  # [elapsed<time left, ...]


def test_cli_sweep_with_failed_runs_lists_them_and_exits_1(tmp_path, capsys, make_fake_idx):
    from sigmse.cli import main

    fake = tmp_path / "data"  # fake MNIST files: every run fails their md5 check when it loads its data
    make_fake_idx(fake, "mnist")
    argv = ["sweep", "--profile", "smoke", "--only", "lr_sweep", "--results-dir", str(tmp_path / "results"),
            "--data-dir", str(fake)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "10 runs: 0 trained, 0 already stored, 10 failed" in out
    assert out.count("DatasetIntegrityError: ") == 1 and "md5 of the uncompressed content" in out  # said once
    assert "\n  10 runs: DatasetIntegrityError: " in out
    assert {r["status"] for r in stored(tmp_path / "results", "smoke").values()} == {"failed"}


def test_a_missing_dataset_is_one_error_before_any_run(tmp_path, capsys):
    from sigmse.cli import main
    from sigmse.data.datasets import DatasetNotFoundError

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"Dataset 'mnist' not found under the data root"):
        run_configs(CONFIGS, profile="p", results_dir=tmp_path / "results", data_dir=empty, progress=False)
    assert not (tmp_path / "results").exists()  # nothing ran, nothing was stored

    argv = ["sweep", "--profile", "smoke", "--only", "lr_sweep", "--results-dir", str(tmp_path / "results"),
            "--data-dir", str(empty)]
    assert main(argv) == 2
    assert "Dataset 'mnist' not found" in capsys.readouterr().err
    assert not (tmp_path / "results" / "smoke").exists()


def test_a_failed_record_must_carry_its_error():
    record = {"schema_version": 1, "hash": CONFIGS[0].hash, "profile": "p", "config": CONFIGS[0].to_dict(),
              "status": "failed", "history": [], "metrics": {}, "provenance": {}}
    assert validate_record(record) == ["a 'failed' record has no error.type and error.message"]
    record["error"] = {"type": "ValueError", "message": "bad", "traceback": ""}
    assert validate_record(record) == []


@pytest.mark.shared_data
def test_process_pool_of_two_gives_the_same_records_as_one_at_a_time(tmp_path, shared_data_dir, reference):
    records, one_at_a_time = reference
    started = time.perf_counter()
    summary = run_configs(CONFIGS, profile="p", results_dir=tmp_path, data_dir=shared_data_dir, jobs=2,
                          threads=1, progress=False)
    two_jobs = time.perf_counter() - started
    assert summary.done == len(CONFIGS) and not summary.failed
    assert_same_records(tmp_path, "p", records)
    # The timing is reported, not asserted (a shared 2-core machine): runs this small are dominated by
    # starting the workers (spawn + import torch); see the full smoke profile for a meaningful ratio.
    print(f"\n{len(CONFIGS)} runs: jobs=1 {one_at_a_time:.1f} s, jobs=2 {two_jobs:.1f} s, "
          f"speed-up {one_at_a_time / two_jobs:.2f}x")


def _children_running(pid: int, marker: str) -> list:
    import psutil

    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if marker in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


class Killer(threading.Thread):
    """Kills (SIGKILL) the first process found by ``find`` after ``delay`` seconds, within ``deadline``."""

    def __init__(self, find, delay: float = 0.0, deadline: float = 120.0):
        super().__init__(daemon=True)
        self.find, self.delay, self.deadline = find, delay, deadline
        self.killed: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        end = time.monotonic() + self.deadline
        first_seen = None
        while not self.stop.is_set() and time.monotonic() < end:
            victims = self.find()
            if victims:
                first_seen = first_seen or time.monotonic()
                if time.monotonic() - first_seen >= self.delay:
                    try:
                        os.kill(victims[0].pid, signal.SIGKILL)
                        self.killed = victims[0].pid
                        return
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)


@pytest.mark.shared_data
def test_a_pool_worker_killed_mid_sweep_is_replaced_and_its_runs_resubmitted(tmp_path, shared_data_dir, reference):
    records, _ = reference
    # a spawned worker; killed once it has been up a second (importing torch or training: either breaks the pool)
    killer = Killer(lambda: _children_running(os.getpid(), "multiprocessing.spawn"), delay=1.0)
    killer.start()
    try:
        summary = run_configs(CONFIGS, profile="p", results_dir=tmp_path, data_dir=shared_data_dir, jobs=2,
                              threads=1, retries=2, progress=False)
    finally:
        killer.stop.set()
        killer.join(10)
    assert killer.killed is not None, "no pool worker was found to kill"
    assert summary.done == len(CONFIGS) and not summary.failed, str(summary)
    assert_same_records(tmp_path, "p", records)


SIGINT_SCRIPT = """
import signal, sys
from sigmse.config import RunConfig
from sigmse.runs.executors import run_configs
if __name__ == "__main__":
    # Ctrl-C as in a terminal: a test run started in the background (`cmd &` without job control) inherits
    # SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    small = dict(dataset="mnist", model="mlp", epochs=1, train_subset=4096, val_size=500, test_subset=1000,
                 device="cpu", loss="sigmoid_mse_or")
    configs = [RunConfig(**small, seed=seed) for seed in range(40)]
    try:
        run_configs(configs, profile="p", results_dir=sys.argv[1], data_dir=sys.argv[2], jobs=2, threads=1,
                    progress=False)
    except KeyboardInterrupt:
        sys.exit(130)
"""


@pytest.mark.shared_data
def test_ctrl_c_stops_the_pool_and_leaves_only_complete_records(tmp_path, shared_data_dir):
    import psutil

    script = tmp_path / "sweep.py"
    script.write_text(SIGINT_SCRIPT)
    results = tmp_path / "results"
    process = subprocess.Popen([sys.executable, str(script), str(results), str(shared_data_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + SWEEP_SECONDS
        while not list(results.glob("p/*.json")):
            assert time.monotonic() < deadline and process.poll() is None, "no run was stored"
            time.sleep(0.1)
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers, "the pool has no workers"
        process.send_signal(signal.SIGINT)  # the sweep only, as a `kill -INT` would; the workers see nothing
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, output
    _, alive = psutil.wait_procs(workers, timeout=15)  # the workers were terminated, not left to finish
    assert not alive, f"workers still running after Ctrl-C: {[w.pid for w in alive]}"
    records = stored(results, "p")
    assert 1 <= len(records) < 40 and all(r["status"] == "ok" for r in records.values())


# -- Ray ----------------------------------------------------------------------------------------
#
# Ray's driver reads its settings (the auth token above all) when Ray is first imported, and ray.init can
# wait for minutes on a cluster that is gone; so every sweep on Ray runs in a subprocess with its own
# environment and a timeout, and this process only starts and stops the cluster and watches it.

RAY_DRIVER = """
import json, signal, sys
from sigmse.config import config_from_dict
from sigmse.runs.executors import run_configs
if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal (see SIGINT_SCRIPT)
    configs_file, results, data, address = sys.argv[1:5]
    configs = [config_from_dict(c) for c in json.load(open(configs_file))]
    try:
        summary = run_configs(configs, profile="p", results_dir=results, data_dir=data, executor="ray",
                              ray_address=address, retries=2, progress=False)
    except KeyboardInterrupt:
        sys.exit(130)
    print(json.dumps({"done": summary.done, "skipped": summary.skipped,
                      "failed": [str(f) for f in summary.failed]}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_env(temp: str) -> dict[str, str]:
    """Loopback only, a token of our own (nothing written to ~/.ray), no usage stats, Ray's files in ``temp``."""
    return {
        **os.environ,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray's switch to use 127.0.0.1 rather than the public address
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": uuid.uuid4().hex,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_TMPDIR": temp,
    }


def _processes_of(temp: str) -> list:
    """Every process whose command line names ``temp``: the Ray processes of one test's cluster."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if temp in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


class RayCluster:
    """``ray start --head --num-cpus=2 --block`` on 127.0.0.1: a head node and its two worker processes."""

    def __init__(self):
        self.temp = tempfile.mkdtemp(prefix="sgr", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
        self.env = _ray_env(self.temp)
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        ray = Path(sys.executable).with_name("ray")
        self.log = open(Path(self.temp) / "head.log", "w")
        self.head = subprocess.Popen(
            [str(ray), "start", "--head", f"--port={self.port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
             "--include-dashboard=false", "--object-store-memory=80000000", f"--temp-dir={self.temp}",
             "--disable-usage-stats", "--block"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_for_port()

    def _wait_for_port(self) -> None:
        deadline = time.monotonic() + CLUSTER_START_SECONDS
        while time.monotonic() < deadline:
            if self.head.poll() is not None:
                raise RuntimeError(f"ray start exited with {self.head.returncode}: {self.tail()}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"the Ray head did not listen on {self.address} within {CLUSTER_START_SECONDS} s")

    def tail(self) -> str:
        return (Path(self.temp) / "head.log").read_text()[-2000:]

    def sweep(self, configs: list[RunConfig], results: Path, data: Path, **popen) -> subprocess.Popen:
        """Start a driver that sweeps ``configs`` on this cluster; its last stdout line is the summary (JSON)."""
        listing = results.parent / f"{results.name}-configs.json"
        listing.write_text(json.dumps([c.to_dict() for c in configs]))
        return subprocess.Popen([sys.executable, "-c", RAY_DRIVER, str(listing), str(results), str(data),
                                 self.address], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **popen)

    def running_tasks(self) -> list:
        """The worker processes executing a sigmse run now (Ray titles them ``ray::<task name>``)."""
        import psutil

        try:
            children = psutil.Process(self.head.pid).children(recursive=True)
        except psutil.Error:
            return []
        found = []
        for child in children:
            try:
                command = child.cmdline()  # once: a worker can exit between two reads and leave it empty
                if command and command[0].startswith("ray::sigmse-"):
                    found.append(child)
            except psutil.Error:
                continue
        return found

    def close(self) -> None:
        """SIGTERM (``ray start --block`` stops what it started), then SIGKILL to its group and any stragglers."""
        if self.head.poll() is None:
            self.head.terminate()
            try:
                self.head.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.head.pid, signal.SIGKILL)  # its own session (start_new_session): only what it started
        except ProcessLookupError:
            pass
        self.head.wait(timeout=10)
        for process in _processes_of(self.temp):
            process.kill()
        self.log.close()
        shutil.rmtree(self.temp, ignore_errors=True)


def _summary(driver: subprocess.Popen, timeout: float = SWEEP_SECONDS) -> dict:
    try:
        out, err = driver.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        driver.kill()
        out, err = driver.communicate()
        raise AssertionError(f"the Ray sweep did not end within {timeout} s: {err[-3000:]}") from None
    assert driver.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray")
    cluster = RayCluster()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.mark.slow
@pytest.mark.shared_data
def test_ray_cluster_gives_exactly_the_records_of_the_local_executor(tmp_path, shared_data_dir, reference,
                                                                    ray_cluster):
    records, _ = reference
    summary = _summary(ray_cluster.sweep(CONFIGS, tmp_path / "results", shared_data_dir))
    assert summary == {"done": len(CONFIGS), "skipped": 0, "failed": []}
    assert_same_records(tmp_path / "results", "p", records)
    rerun = _summary(ray_cluster.sweep(CONFIGS, tmp_path / "results", shared_data_dir))
    assert rerun == {"done": 0, "skipped": len(CONFIGS), "failed": []}


@pytest.mark.slow
@pytest.mark.shared_data
def test_killing_a_ray_worker_mid_sweep_still_stores_every_run_exactly_once(tmp_path, shared_data_dir, reference,
                                                                          ray_cluster):
    records, _ = reference
    driver = ray_cluster.sweep(CONFIGS, tmp_path / "results", shared_data_dir)
    killed = None
    try:
        deadline = time.monotonic() + SWEEP_SECONDS
        while killed is None and driver.poll() is None and time.monotonic() < deadline:
            for task in ray_cluster.running_tasks():
                try:
                    os.kill(task.pid, signal.SIGKILL)  # a worker of our cluster, by its process id
                    killed = task.pid
                    break
                except ProcessLookupError:
                    continue
            time.sleep(0.05)
        summary = _summary(driver)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert killed is not None, "no Ray worker was found running a task"
    assert summary == {"done": len(CONFIGS), "skipped": 0, "failed": []}
    assert_same_records(tmp_path / "results", "p", records)


@pytest.mark.slow
@pytest.mark.shared_data
def test_ctrl_c_on_a_ray_sweep_cancels_its_tasks_and_a_rerun_resumes(tmp_path, shared_data_dir, reference,
                                                                    ray_cluster):
    records, _ = reference
    results = tmp_path / "results"
    driver = ray_cluster.sweep(CONFIGS, results, shared_data_dir)
    try:
        deadline = time.monotonic() + SWEEP_SECONDS
        while not ray_cluster.running_tasks():
            assert time.monotonic() < deadline and driver.poll() is None, "no Ray task started"
            time.sleep(0.05)
        driver.send_signal(signal.SIGINT)  # the driver only, as a `kill -INT` would
        _, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 130, err[-3000:]
    deadline = time.monotonic() + 30
    while ray_cluster.running_tasks():  # the sweep's tasks end with it: none is left running on the cluster
        assert time.monotonic() < deadline, "Ray tasks still running after Ctrl-C"
        time.sleep(0.1)
    before = stored(results, "p") if (results / "p").exists() else {}  # only complete, valid records
    assert len(before) < len(CONFIGS) and all(r["status"] == "ok" for r in before.values())
    rerun = _summary(ray_cluster.sweep(CONFIGS, results, shared_data_dir))
    assert rerun == {"done": len(CONFIGS) - len(before), "skipped": len(before), "failed": []}
    assert_same_records(results, "p", records)


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_run_that_raises_on_ray_is_reported_failed_while_the_others_complete(tmp_path, partial_data,
                                                                              ray_cluster):
    summary = _summary(ray_cluster.sweep([CONFIGS[0], FASHION, CONFIGS[1]], tmp_path / "results", partial_data))
    assert (summary["done"], summary["skipped"], len(summary["failed"])) == (2, 0, 1)
    assert summary["failed"][0].startswith(FASHION.hash) and "DatasetIntegrityError: " in summary["failed"][0]
    statuses = {h: r["status"] for h, r in stored(tmp_path / "results", "p").items()}
    assert statuses == {CONFIGS[0].hash: "ok", FASHION.hash: "failed", CONFIGS[1].hash: "ok"}


@pytest.mark.slow
@pytest.mark.shared_data
def test_cli_sweep_on_a_local_ray_cluster_started_and_stopped_for_it(tmp_path, shared_data_dir):
    pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="sgr", dir="/tmp")
    argv = [sys.executable, "-m", "sigmse.cli", "sweep", "--profile", "smoke", "--only", "lr_sweep",
            "--executor", "ray", "--results-dir", str(tmp_path), "--data-dir", str(shared_data_dir)]
    try:
        done = subprocess.run(argv, env=_ray_env(temp), capture_output=True, text=True, timeout=SWEEP_SECONDS)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "sweep smoke (ray): 10 runs: 10 trained, 0 already stored, 0 failed" in done.stdout
        assert len(stored(tmp_path, "smoke")) == 10
        time.sleep(1)
        assert not _processes_of(temp), "the sweep left Ray processes behind"
    finally:
        for process in _processes_of(temp):  # only this test's cluster
            process.kill()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.shared_data
def test_experiment_records_says_when_it_trains_missing_runs_and_is_silent_once_stored(shared_data_dir, tmp_path,
                                                                                       capsys):
    """A first call trains the smoke MNIST selection runs, then the reporting runs they choose, and prints how many
    and how to train them in parallel; a second call loads the same records and prints nothing."""
    from sigmse.runs.executors import experiment_records
    from sigmse.runs.experiments import PlanOptions

    options = PlanOptions(str(tmp_path), datasets=["mnist"])
    first = experiment_records("accuracy", "smoke", options, data_dir=str(shared_data_dir))
    total = len(first.selection) + len(first.report)
    line = capsys.readouterr().out
    assert line.startswith(f"accuracy: {total} of {total} runs are not in {tmp_path}/smoke/ and train now")
    assert "--sweep-jobs N" in line
    assert {r["config"]["seed"] for r in first.report}.isdisjoint(r["config"]["seed"] for r in first.selection)
    second = experiment_records("accuracy", "smoke", options, data_dir=str(shared_data_dir))
    assert capsys.readouterr().out == ""
    assert [r["config"] for r in second.report] == [r["config"] for r in first.report]
