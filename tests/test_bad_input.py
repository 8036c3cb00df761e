"""Bad input as classes, each through the command line and the Python API: non-finite numbers, wrong types
inside option values, out-of-range integers, and damaged, truncated or partial files.

Through the CLI, a bad value is one line on stderr naming it and what is allowed, exit status 2, no traceback,
before any work (the data root given is empty: a check that came after loading data would fail on the data
instead). Through the API, the same message in a ``ValueError`` (or the integrity error, for files).
"""

from __future__ import annotations

import gzip
import json
import warnings

import pytest

from sigmse.cli import main
from sigmse.config import RunConfig
from sigmse.data.datasets import load_dataset
from sigmse.data.files import DatasetIntegrityError
from sigmse.runs.store import read_record, record_path, write_record


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ---------------------------------------------------------------------------------------------------------
# non-finite numbers: NaN compares false to every bound, so a range check alone let them through

NON_FINITE = [
    (["--lr", "nan"], {"lr": float("nan")}, "lr must be a finite number, got nan"),
    (["--lr", "inf"], {"lr": float("inf")}, "lr must be a finite number, got inf"),
    (["--lr=-inf"], {"lr": float("-inf")}, "lr must be a finite number, got -inf"),
    (["--weight-decay", "inf"], {"weight_decay": float("inf")}, "weight_decay must be a finite number, got inf"),
    (["--momentum", "nan"], {"momentum": float("nan")}, "momentum must be a finite number, got nan"),
    (["--label-noise", "symmetric", "--label-noise-rate", "nan"],
     {"label_noise": "symmetric", "label_noise_rate": float("nan")}, "label_noise_rate must be a finite number"),
    (["--input-noise-sigma", "inf"], {"input_noise_sigma": float("inf")}, "input_noise_sigma must be a finite number"),
    (["--test-input-sigmas", "0.1", "nan"], {"test_input_sigmas": (0.1, float("nan"))},
     "test_input_sigmas entry must be a finite number, got nan"),
    (["--warmup-epochs", "inf"], {"warmup_epochs": float("inf")}, "warmup_epochs must be a finite number, got inf"),
]


@pytest.mark.parametrize(("flags", "fields", "message"), NON_FINITE, ids=[" ".join(c[0]) for c in NON_FINITE])
def test_non_finite_numbers_are_refused(flags, fields, message, tmp_path, capsys):
    assert message in _one_line_exit_2(["train", *flags, "--data-dir", str(tmp_path)], capsys)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RunConfig(**fields)


def test_non_finite_papermill_parameters_are_refused_before_any_notebook(capsys):
    # JSON's NaN and Infinity parse as floats; the notebook default of alpha is 0.05
    assert "parameter alpha must be a finite number, got nan" in _one_line_exit_2(
        ["book", "--only", "accuracy", "-p", "alpha=NaN", "--build-dir", "/nonexistent/never-written"], capsys)
    from sigmse.site.notebooks import _check_extra

    with pytest.raises(ValueError, match="parameter alpha must be a finite number, got inf"):
        _check_extra({"alpha": float("inf")}, {"accuracy": {"alpha": {"default": "0.05"}}})


# ---------------------------------------------------------------------------------------------------------
# wrong types inside option values: --loss-option values are JSON-typed, anything else stays a string

OPTION_TYPES = [
    ("sigmoid_mse_or", "pos=abc", {"pos": "abc"}, "loss option pos must be a number, got 'abc'"),
    ("sigmoid_mse_or", "shift=3", {"shift": 3}, "loss option shift must be true or false, got 3"),
    ("sigmoid_mse_or", "iterations=1.5", {"iterations": 1.5}, "loss option iterations must be an integer, got 1.5"),
    ("sigmoid_mse_or", "pos=NaN", {"pos": float("nan")}, "loss option pos must be a finite number, got nan"),
    ("gce", "q=[1]", {"q": [1]}, "loss option q must be a number, got [1]"),
    ("symmetric_ce", "alpha=true", {"alpha": True}, "loss option alpha must be a number, got True"),
]


@pytest.mark.parametrize(("loss", "option", "options", "message"), OPTION_TYPES, ids=[c[1] for c in OPTION_TYPES])
def test_option_values_of_the_wrong_type_are_refused(loss, option, options, message, tmp_path, capsys):
    argv = ["train", "--loss", loss, "--loss-option", option, "--data-dir", str(tmp_path)]
    assert message in _one_line_exit_2(argv, capsys)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        RunConfig(loss=loss, loss_options=options)


def test_option_values_meet_the_losss_own_checks_when_the_config_is_made(tmp_path, capsys):
    argv = ["train", "--loss", "sigmoid_mse_or", "--loss-option", "pos=0.1", "--loss-option", "neg=0.9",
            "--data-dir", str(tmp_path)]
    assert "pos must be greater than neg" in _one_line_exit_2(argv, capsys)
    with pytest.raises(ValueError, match="iterations must be None"):
        RunConfig(loss="sigmoid_mse_or", loss_options={"iterations": 0})


def test_papermill_parameters_of_the_wrong_type_are_refused(capsys):
    assert "parameter alpha must be a number, got 'abc'" in _one_line_exit_2(
        ["book", "--only", "accuracy", "-p", "alpha=abc"], capsys)
    from sigmse.site.notebooks import _check_extra

    declared = {"landscape": {"grid_size": {"default": "100"}, "descent_start": {"default": "[-8.0, 8.0]"}}}
    with pytest.raises(ValueError, match="parameter grid_size must be an integer, got 0.5"):
        _check_extra({"grid_size": 0.5}, declared)
    with pytest.raises(ValueError, match="parameter descent_start must be a list"):
        _check_extra({"descent_start": 3.0}, declared)
    with pytest.raises(ValueError, match="parameter descent_start entry must be a number, got 'x'"):
        _check_extra({"descent_start": [1.0, "x"]}, declared)


# ---------------------------------------------------------------------------------------------------------
# out-of-range integers: seeds, sizes, counts, epochs, jobs

INTEGERS = [
    (["train", "--seed", "-1"], {"seed": -1}, "seed must be in [0, inf], got -1"),
    (["train", "--noise-seed", "-3"], {"noise_seed": -3}, "noise_seed must be in [0, inf], got -3"),
    (["train", "--batch-size", "0"], {"batch_size": 0}, "batch_size must be in [1, inf], got 0"),
    (["train", "--epochs", "-2"], {"epochs": -2}, "epochs must be in [1, inf], got -2"),
    (["train", "--train-subset", "0"], {"train_subset": 0}, "train_subset must be in [1, inf], got 0"),
    (["train", "--test-subset", "0"], {"test_subset": 0}, "test_subset must be in [1, inf], got 0"),
    (["train", "--val-size", "-1"], {"val_size": -1}, "val_size must be in [0, inf], got -1"),
    (["sweep", "--profile", "smoke", "--seeds", "-1", "--dry-run"], {"seed": -1}, "seed must be in [0, inf], got -1"),
]


@pytest.mark.parametrize(("argv", "fields", "message"), INTEGERS, ids=[" ".join(c[0]) for c in INTEGERS])
def test_out_of_range_integers_are_refused(argv, fields, message, tmp_path, capsys):
    assert message in _one_line_exit_2([*argv, "--data-dir", str(tmp_path)], capsys)
    with pytest.raises(ValueError) as error:
        RunConfig(**fields)
    assert message in str(error.value)


@pytest.mark.parametrize(("argv", "message"), [
    (["book", "-j", "0"], "jobs must be a positive integer, got 0"),
    (["book", "--sweep-jobs", "0"], "jobs must be an integer >= 1, got 0"),
    (["sweep", "--profile", "smoke", "--jobs", "-1"], "jobs must be an integer >= 1, got -1"),
    (["sweep", "--profile", "smoke", "--threads", "0"], "threads must be an integer >= 1, got 0"),
])
def test_out_of_range_job_counts_are_refused(argv, message, capsys):
    assert message in _one_line_exit_2(argv, capsys)


def test_out_of_range_counts_through_the_book_api(tmp_path):
    from sigmse.site.book import build_book

    with pytest.raises(ValueError, match="jobs must be a positive integer, got 0"):
        build_book("smoke", jobs=0, build_dir=tmp_path)
    with pytest.raises(ValueError, match="jobs must be an integer >= 1, got 0"):
        build_book("smoke", sweep_jobs=0, build_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing was built


# ---------------------------------------------------------------------------------------------------------
# damaged, truncated or partial files: dataset files and result records


def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_a_truncated_gzip_dataset_file_is_the_integrity_error(tmp_path, make_fake_idx, capsys):
    fake = make_fake_idx(tmp_path, compression=".gz")
    damaged = fake.folder / "train-images-idx3-ubyte.gz"
    _truncate(damaged)
    with pytest.raises(DatasetIntegrityError, match="not a complete .gz file"):
        load_dataset("mnist", tmp_path, verify=False, cache_dir=tmp_path / "cache")
    err = _one_line_exit_2(["train", "--data-dir", str(tmp_path), "--device", "cpu"], capsys)
    assert str(damaged) in err and "truncated or damaged" in err


def test_a_damaged_gzip_dataset_file_is_the_integrity_error(tmp_path, make_fake_idx):
    fake = make_fake_idx(tmp_path, compression=".gz")
    path = fake.folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: a bad deflate stream or CRC
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetIntegrityError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset("mnist", tmp_path, verify=False, cache_dir=tmp_path / "cache")


def test_a_truncated_xz_cifar_batch_is_the_integrity_error(tmp_path, make_fake_cifar_bin):
    fake = make_fake_cifar_bin(tmp_path, compression=".xz")
    _truncate(fake.folder / "test_batch.bin.xz")
    with pytest.raises(DatasetIntegrityError, match="not a complete .xz file"):
        load_dataset("cifar10", tmp_path, verify=False, cache_dir=tmp_path / "cache")


def test_a_truncated_raw_dataset_file_fails_its_md5(tmp_path, make_fake_idx, capsys):
    fake = make_fake_idx(tmp_path, compression="")
    _truncate(fake.folder / "t10k-images-idx3-ubyte")
    with pytest.raises(DatasetIntegrityError, match="md5 of the uncompressed content"):
        load_dataset("mnist", tmp_path, cache_dir=tmp_path / "cache")
    # unverified (tiny test files), the IDX header still says it is short
    with pytest.raises(ValueError, match="bytes, but an IDX header of shape"):
        load_dataset("mnist", tmp_path, verify=False, cache_dir=tmp_path / "cache")
    assert "md5" in _one_line_exit_2(["train", "--data-dir", str(tmp_path), "--device", "cpu"], capsys)


def test_a_partial_cifar_record_is_refused(tmp_path, make_fake_cifar_bin):
    fake = make_fake_cifar_bin(tmp_path)
    path = fake.folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="not a whole number of 3073-byte"):
        load_dataset("cifar10", tmp_path, verify=False, cache_dir=tmp_path / "cache")


def test_an_empty_decode_cache_entry_is_decoded_again(tmp_path, make_fake_idx):
    make_fake_idx(tmp_path)
    first = load_dataset("mnist", tmp_path, verify=False, cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").iterdir()
    (entry / "train_images.npy").write_bytes(b"")  # truncated to nothing: np.load raises EOFError
    with pytest.warns(UserWarning, match="ignoring the unreadable cache entry"):
        again = load_dataset("mnist", tmp_path, verify=False, cache_dir=tmp_path / "cache")
    assert (again.train_images == first.train_images).all()


DAMAGED_RECORDS = {
    "truncated": '{"schema_version": 1, "hash": ',
    "empty": "",
    "not an object": "[1, 2, 3]",
    "strange metrics": json.dumps({"schema_version": 1, "hash": "x", "profile": "p", "config": {}, "status": "ok",
                                   "history": [], "metrics": 5, "provenance": {}}),
    "config of the wrong shape": json.dumps({"schema_version": 1, "hash": "x", "profile": "p", "config": 7,
                                             "status": "ok", "history": [], "metrics": {}, "provenance": {}}),
}


@pytest.mark.parametrize("content", DAMAGED_RECORDS.values(), ids=DAMAGED_RECORDS.keys())
def test_a_damaged_result_record_is_moved_aside_never_lost(content, tmp_path):
    path = record_path(RunConfig(seed=5), "p", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.warns(RuntimeWarning, match="corrupt result record"):
        assert read_record(path) is None
    assert not path.exists() and path.with_suffix(".json.corrupt").read_text() == content


def test_a_second_damaged_record_keeps_the_first_one_aside(tmp_path):
    path = record_path(RunConfig(seed=6), "p", tmp_path)
    path.parent.mkdir(parents=True)
    for attempt in ("first {", "second {"):
        path.write_text(attempt)
        with pytest.warns(RuntimeWarning, match="corrupt result record"):
            assert read_record(path) is None
    assert path.with_suffix(".json.corrupt").read_text() == "first {"
    assert path.parent.joinpath(path.name + ".corrupt-2").read_text() == "second {"


def test_a_damaged_record_in_a_read_only_store_stays_in_place(tmp_path):
    path = record_path(RunConfig(seed=7), "p", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("{")
    path.parent.chmod(0o555)
    try:
        if _writable(path.parent):
            pytest.skip("running as a user who can write a read-only folder (root)")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert read_record(path) is None
        assert "could not move it aside" in str(caught[0].message) and path.read_text() == "{"
    finally:
        path.parent.chmod(0o755)


def _writable(folder) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_text("")
    except OSError:
        return False
    probe.unlink()
    return True


def test_a_valid_record_reads_back_unchanged(tmp_path):
    config = RunConfig(seed=8)
    record = {"schema_version": 1, "hash": config.hash, "profile": "p", "config": config.to_dict(), "status": "ok",
              "history": [], "metrics": {"test_acc": 0.5}, "provenance": {}}
    path = record_path(config, "p", tmp_path)
    write_record(record, path)
    assert read_record(path) == record


def test_a_gzip_made_by_the_fixture_is_a_real_gzip(tmp_path, make_fake_idx):
    """The truncation tests above mean something only if the fixture's .gz files are real gzip streams."""
    fake = make_fake_idx(tmp_path, compression=".gz")
    assert gzip.decompress((fake.folder / "t10k-labels-idx1-ubyte.gz").read_bytes())[:4] == bytes([0, 0, 8, 1])
