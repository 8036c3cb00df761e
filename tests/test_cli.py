"""The command line: bad input is one line on stderr and exit status 2, before any work; the commands work."""

import subprocess
import sys

import pytest

from sigmse.cli import main

SIGMSE = [sys.executable, "-m", "sigmse.cli"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--dataset", "imagenet"], "dataset 'imagenet' is not allowed; choose one of: mnist, fashion-mnist, cifar10"),
        (["train", "--loss", "hinge"], "unknown loss 'hinge'"),
        (["train", "--model", "vit"], "model 'vit' is not allowed; choose one of: airbench, airbench_quarter, cnn, mlp, resnet9, resnet9_small"),
        (["train", "--lr", "-0.1"], "lr must be in (0.0, inf], got -0.1"),
        (["train", "--label-noise", "symmetric", "--label-noise-rate", "1.2"], "label_noise_rate must be in [0.0, 1.0), got 1.2"),
        (["train", "--label-noise", "symmetric", "--label-noise-rate", "-0.1"], "got -0.1"),
        (["train", "--data-dir", "/no/such/folder"], "data root '/no/such/folder' does not exist"),
        (["train", "--loss-option", "shift"], "expected KEY=VALUE"),
        (["train", "--epochs", "two"], "invalid int value: 'two'"),
        (["sweep", "--profile", "huge"], "unknown profile 'huge'; choose one of: smoke, quick, full, full2, paper"),
        (["sweep", "--profile", "smoke", "--only", "everything"], "unknown experiment 'everything'"),
        (["sweep", "--profile", "smoke", "--datasets", "imagenet"],
         "dataset 'imagenet' is not in profile 'smoke'; choose from: mnist, fashion-mnist, cifar10"),
        (["sweep", "--profile", "smoke", "--seeds", "one"], "argument --seeds: invalid int value: 'one'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_value(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_dataset_is_one_line_listing_where_it_looked(tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(tmp_path / "mnist") in err and "--download" in err


def test_console_script_help_and_errors_in_a_real_process():
    assert subprocess.run([*SIGMSE, "--help"], capture_output=True, text=True).returncode == 0
    bad = subprocess.run([*SIGMSE, "train", "--lr", "-1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


@pytest.mark.shared_data
def test_train_prints_a_per_epoch_table(shared_data_dir, capsys):
    argv = ["train", "--dataset", "fashion-mnist", "--epochs", "2", "--train-subset", "1000", "--val-size", "500",
            "--test-subset", "500", "--device", "cpu", "--data-dir", str(shared_data_dir)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:5] == ["epoch", "train_loss", "train_acc", "val_acc", "test_acc"]
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"]
    assert lines[-1].startswith("test accuracy")


@pytest.mark.shared_data
def test_data_check_finds_all_three_datasets(shared_data_dir, capsys):
    assert main(["data", "check", "--data-dir", str(shared_data_dir)]) == 0
    out = capsys.readouterr().out
    for name in ("mnist", "fashion-mnist", "cifar10"):
        assert name in out


@pytest.mark.shared_data
def test_data_download_fetches_nothing_that_is_already_there_and_reports(shared_data_dir, capsys):
    # The official files are all present: no network is touched (there is none here), the report follows.
    assert main(["data", "download", "mnist", "cifar10", "--data-dir", str(shared_data_dir)]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "verified" in out


def test_data_download_rejects_an_unknown_dataset_before_fetching_anything(tmp_path, capsys):
    assert main(["data", "download", "mnist", "svhn", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("sigmse data download: error: unknown dataset 'svhn'; "
                           "choose from: mnist, fashion-mnist, cifar10")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.shared_data
def test_sweep_dry_run_lists_runs_without_training(tmp_path, shared_data_dir, capsys):
    argv = ["sweep", "--profile", "smoke", "--only", "accuracy", "--results-dir", str(tmp_path), "--dry-run",
            "--data-dir", str(shared_data_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out  # 30 selection runs (one seed), 15 reporting runs once they have chosen
    assert "profile smoke: 45 runs in accuracy; 0 already stored" in out
    assert "15 reporting runs wait for their selection runs" in out
    assert "stored runs measured" not in out  # nothing stored, nothing measured
    assert "stored in accuracy: mnist 0 of 15, fashion-mnist 0 of 15, cifar10 0 of 15" in out  # per dataset
    assert not any(tmp_path.iterdir())


@pytest.mark.shared_data
def test_sweep_dry_run_says_what_the_stored_runs_measured(tmp_path, shared_data_dir, capsys):
    from sigmse.runs.experiments import PlanOptions, plan_experiment
    from sigmse.runs.store import record_path, write_record

    config = plan_experiment("accuracy", "smoke", PlanOptions(tmp_path)).selection[0]
    write_record({"schema_version": 1, "hash": config.hash, "profile": "smoke", "config": config.to_dict(),
                  "status": "ok", "history": [], "provenance": {"wall_seconds": 5400.0, "torch_threads": 1,
                                                                "date": "2026-01-01T00:00:00+00:00"},
                  "metrics": {"val_acc": 0.5, "test_acc": 0.5, "train_seconds": 3600.0}},
                 record_path(config, "smoke", tmp_path))
    assert main(["sweep", "--profile", "smoke", "--only", "accuracy", "--results-dir", str(tmp_path), "--dry-run",
                 "--data-dir", str(shared_data_dir)]) == 0
    out = capsys.readouterr().out
    assert ("the 1 stored runs measured 1.0 hours of training (1.5 hours from start to record), summed over runs, "
            "against 0.0 hours the measured table prices them at") in out
    assert f"stored in accuracy: {config.dataset} 1 of 15" in out


def test_sweep_takes_a_chapters_datasets_and_seeds(tmp_path, shared_data_dir, capsys):
    """--datasets, --selection-seeds and --seeds give the runs a chapter asks for with the same papermill
    parameters; seeds that would both choose and report are refused before any work."""
    from sigmse.runs.experiments import PlanOptions, plan_experiment

    argv = ["sweep", "--profile", "smoke", "--only", "accuracy", "--datasets", "mnist", "--selection-seeds", "7",
            "--seeds", "1", "2", "3", "--results-dir", str(tmp_path), "--data-dir", str(shared_data_dir), "--dry-run"]
    assert main(argv) == 0
    plan = plan_experiment("accuracy", "smoke", PlanOptions(tmp_path, datasets=["mnist"], selection_seeds=[7],
                                                           seeds=[1, 2, 3]))
    assert {c.seed for c in plan.selection} == {7}
    assert (f"profile smoke: {len(plan.selection) + plan.report_count} runs in accuracy; 0 already stored"
            in capsys.readouterr().out)
    assert main([*argv[:-1], "--seeds", "7", "8", "--dry-run"]) == 2
    assert "seeds [7] are both selection seeds [7] and reporting seeds [7, 8]" in capsys.readouterr().err
