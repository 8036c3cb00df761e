"""The benchmark: a tiny run end to end (with the smoke profile's epochs, as the book's performance chapter asks),
its JSON, which stored record is read back (and which one the performance page shows), the target verdicts, the
tables, the command and the errors. Sizes here are tiny: the numbers are not checked, only their shape. The
measurements themselves are tested in ``tests/test_bench_measures.py``, the page's view of a record in
``tests/test_performance.py``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace

import pytest
import torch

from sigmse.bench.measures import PROFILE_EPOCH_LOSSES, STEP_PHASES
from sigmse.bench import run
from sigmse.bench.run import (BENCH_SIZES, MAX_MLP_OVER_GEMM_FLOOR, PROFILE_SECTION, SCHEMA, SECTIONS, TARGETS,
                              BenchSize, add_bench_arguments, chapter_bench_size, chapter_record, judge_targets,
                              format_table, get_bench_size, latest_bench, run_bench, run_bench_command)
from sigmse.data.datasets import get_dataset_spec
from sigmse.losses.modules import loss_names
from sigmse.provenance import processor, processor_kind
from sigmse.runs.profiles import get_profile

TINY = BenchSize("tiny", {"mlp": 2, "cnn": 1, "resnet9_small": 1, "resnet9": 1}, throughput_repeats=1,
                 loss_blocks=1, loss_inner=1, solver_repeats=1, scaling_sizes=(128, 256), loss_batch=64,
                 classes=(10, 100), workers=(0,))
PROVENANCE_KEYS = {"torch_version", "device_name", "cpu_count", "torch_threads", "date", "git_commit"}
THROUGHPUT_KEYS = {"dataset", "model", "loop", "workers", "data_class", "images_per_s", "speedup", "steps_per_pass",
                   "gemm_floor_images_per_s", "over_gemm_floor", "over_gemm_floor_fastest"}


@pytest.fixture(scope="module")
def tiny_record(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return run_bench(TINY, "cpu", out, synthetic=True, threads=1, profile="smoke"), out


def test_tiny_run_writes_one_json_with_every_section_and_provenance(tiny_record):
    record, out = tiny_record
    files = list(out.glob("bench-tiny-cpu-*.json"))
    assert [str(f) for f in files] == [record["path"]]
    stored = json.loads(files[0].read_text())
    assert stored == {k: v for k, v in record.items() if k != "path"}
    assert stored["schema"] == SCHEMA and stored["size"] == "tiny" and stored["device"] == "cpu"
    assert PROVENANCE_KEYS <= set(stored["provenance"])
    assert set(SECTIONS) | {PROFILE_SECTION} <= set(stored["section_seconds"]) and stored["profile"] == "smoke"
    assert stored["parameters"]["scaling_sizes"] == [128, 256]


def test_throughput_rows_compare_each_naive_loop_with_the_trainer(tiny_record):
    rows = tiny_record[0]["throughput"]
    assert [(r["dataset"], r["model"], r["loop"]) for r in rows] == [
        (d, m, loop) for d, m in (("mnist", "mlp"), ("mnist", "cnn"), ("cifar10", "resnet9_small"))
        for loop in ("sigmse", "naive, num_workers=0")]
    for row in rows:
        assert THROUGHPUT_KEYS <= set(row) and row["images_per_s"] > 0 and row["over_gemm_floor"] > 0
    for sigmse_row, naive_row in zip(rows[::2], rows[1::2]):
        assert naive_row["data_class"] == "ArrayImageDataset"  # synthetic data: no files for torchvision
        assert naive_row["speedup"] == pytest.approx(sigmse_row["images_per_s"] / naive_row["images_per_s"])
        assert sigmse_row["speedup"] is None


def test_step_phase_rows_add_up_to_the_whole_step_and_its_ratio_to_the_floor(tiny_record):
    rows = tiny_record[0]["step_phases"]
    assert [r["phase"] for r in rows] == [phase for phase, _ in STEP_PHASES] + ["whole step"]
    *phases, whole = rows
    assert whole["seconds_per_step"] == pytest.approx(sum(r["seconds_per_step"] for r in phases))
    assert whole["over_gemm_floor"] == pytest.approx(sum(r["over_gemm_floor"] for r in phases))
    assert sum(r["share_of_step"] for r in phases) == pytest.approx(1.0)
    # the matrix products belong to the forward and backward phases alone, and add up to the whole floor
    products = {r["phase"]: r["gemm_seconds_per_step"] for r in phases}
    assert products["zero_grad"] == products["optimizer step"] == products["schedule step"] == 0.0
    assert whole["gemm_seconds_per_step"] == pytest.approx(products["batch, forward and loss"] + products["backward"])
    for row in rows:
        assert row["beyond_gemm_seconds_per_step"] == pytest.approx(row["seconds_per_step"]
                                                                    - row["gemm_seconds_per_step"])
        assert (row["dataset"], row["model"], row["steps_per_pass"], row["passes"]) == ("mnist", "mlp", 2, 1)


def test_loss_rows_cover_every_loss_at_every_class_count(tiny_record):
    rows = tiny_record[0]["loss_steps"]
    assert sorted((r["loss"], r["classes"]) for r in rows) == sorted((n, c) for n in loss_names() for c in (10, 100))
    for row in rows:
        assert row["seconds"] > 0 and row["peak_bytes"] is None  # peak memory only on CUDA
        if row["loss"] == "softmax_ce":
            assert row["ratio"] == 1.0
            assert row["saved_bytes"] >= 64 * row["classes"] * 4  # log-probabilities, float32


def test_targets_name_every_goal_and_leave_the_gpu_one_unmeasured_on_cpu(tiny_record):
    targets = {t["key"]: t for t in tiny_record[0]["targets"]}
    assert list(targets) == [t.key for t in TARGETS]
    assert targets["cifar_gpu_speedup"]["met"] is None and "GPU" in targets["cifar_gpu_speedup"]["note"]
    assert targets["or_step_c1000"]["met"] is None  # TINY measures C = 10 and 100
    assert isinstance(targets["or_step_c10"]["met"], bool) and isinstance(targets["mnist_mlp_cpu_speedup"]["met"], bool)
    floor = targets["mnist_mlp_cpu_over_floor"]  # measured in this run: a finite positive ratio
    mlp = next(r for r in tiny_record[0]["throughput"] if r["model"] == "mlp" and r["loop"] == "sigmse")
    assert floor["measured"] == mlp["over_gemm_floor"] and 0 < floor["measured"] < float("inf")
    assert isinstance(floor["met"], bool) and all(t["reason"] for t in targets.values())


def test_profile_epochs_time_each_dataset_of_the_profile_as_its_experiments_train_it(tiny_record):
    """An epoch of every smoke-profile dataset with each loss, at the profile's model, batch and subset; the
    whole-split column scales the measured seconds by the number of images."""
    smoke = get_profile("smoke")
    rows = tiny_record[0][PROFILE_SECTION]
    assert [(r["dataset"], r["loss"]) for r in rows] == [(d, loss) for d in smoke.datasets
                                                         for loss in PROFILE_EPOCH_LOSSES]
    for row in rows:
        budget, spec = smoke.budgets[row["dataset"]], get_dataset_spec(row["dataset"])
        assert (row["model"], row["batch_size"], row["augment"]) == (budget.model, budget.batch_size, budget.augment)
        assert row["n_train"] == budget.train_subset and row["full_split_n"] == spec.train_size - budget.val_size
        scaled = row["seconds_per_epoch"] * row["full_split_n"] / row["n_train"]
        assert row["full_split_seconds"] == pytest.approx(scaled)


def test_latest_bench_and_the_text_table(tiny_record, tmp_path):
    record, out = tiny_record
    assert latest_bench(out)["path"] == record["path"]
    assert latest_bench(out, size="ci") is None and latest_bench(out, device="cuda") is None
    assert latest_bench(tmp_path) is None
    text = format_table(record)
    for heading in ("Training throughput", "Loss forward + backward", "Output Reset", "Seconds per epoch",
                    "Seconds per epoch of the smoke profile's datasets", "Targets"):
        assert heading in text
    assert "profile's datasets" not in format_table({k: v for k, v in record.items() if k != PROFILE_SECTION})
    # the header names the processor (model and torch's CPU capability): timings belong to a kind of CPU
    assert text.splitlines()[0].startswith(f"sigmse bench, size tiny, {record['provenance']['device_name']}, "
                                           f"{processor_kind(processor())}, torch ")


def test_latest_bench_matches_a_size_by_its_parameters_and_a_profile_by_its_epochs(tiny_record, tmp_path):
    """Three newer records beside the tiny one: one measured at other class counts, one without the profile's
    epochs, one for another profile. Unfiltered a newer one wins; by parameters and profile only the tiny one."""
    record, _ = tiny_record
    stored = {k: v for k, v in record.items() if k != "path"}
    provenance = {**stored["provenance"], "date": "9999-01-01T00:00:00+00:00"}  # newer than the tiny one
    others = {"classes": {**stored, "parameters": asdict(replace(TINY, classes=(10, 1000)))},
              "plain": {**{k: v for k, v in stored.items() if k != PROFILE_SECTION}, "profile": None},
              "quick": {**stored, "profile": "quick"}}
    (tmp_path / "bench-tiny-cpu-0.json").write_text(json.dumps(stored))
    for name, other in others.items():
        (tmp_path / f"bench-tiny-cpu-{name}.json").write_text(json.dumps({**other, "provenance": provenance}))
    assert latest_bench(tmp_path)["path"] != str(tmp_path / "bench-tiny-cpu-0.json")
    found = latest_bench(tmp_path, size=TINY, profile="smoke")
    assert found["path"] == str(tmp_path / "bench-tiny-cpu-0.json")
    other_classes = latest_bench(tmp_path, size=replace(TINY, classes=(10, 1000)), profile="smoke")
    assert other_classes["path"].endswith("classes.json")
    assert latest_bench(tmp_path, profile="quick")["path"].endswith("quick.json")
    assert latest_bench(tmp_path, size=replace(TINY, loss_inner=2)) is None


def test_the_bench_size_follows_the_profile_unless_given():
    assert chapter_bench_size("quick") == get_bench_size("ci")
    assert chapter_bench_size("paper", "smoke") == get_bench_size("smoke")
    assert chapter_bench_size("smoke", classes=[10, 100]).classes == (10, 100)
    with pytest.raises(ValueError, match=r"no bench size for profile 'huge'; choose one of: smoke, quick, full, full2, paper"):
        chapter_bench_size("huge")
    with pytest.raises(ValueError, match=r"unknown bench size 'big'"):
        chapter_bench_size("smoke", "big")


def test_chapter_record_reads_a_matching_record_and_measures_otherwise(tiny_record, tmp_path, monkeypatch):
    """With no record of the chapter's parameters under <results_dir>/<profile>/bench/ it measures (size,
    classes, device, threads and profile passed on); with one it reads it; another profile's folder, other
    class counts or rerun measure anyway."""
    record, _ = tiny_record
    calls = []

    def fake_run_bench(size, device, out_dir, **options):
        calls.append((size, device, out_dir, options))
        return {"measured": True}

    monkeypatch.setattr(run, "run_bench", fake_run_bench)
    bench = replace(get_bench_size("smoke"), classes=(10, 100))
    assert chapter_record("smoke", results_dir=tmp_path, classes=[10, 100], threads=1) == ({"measured": True}, True)
    folder = tmp_path / "smoke" / "bench"
    assert calls == [(bench, "cpu", folder, {"data_dir": None, "threads": 1, "profile": "smoke"})]
    folder.mkdir(parents=True)
    stored = {**{k: v for k, v in record.items() if k != "path"}, "size": "smoke", "parameters": asdict(bench)}
    (folder / "bench-smoke-cpu-0.json").write_text(json.dumps(stored))
    found, made_now = chapter_record("smoke", results_dir=tmp_path, classes=[10, 100])
    assert not made_now and found["path"] == str(folder / "bench-smoke-cpu-0.json")
    assert chapter_record("smoke", results_dir=tmp_path, classes=[10, 1000])[1]  # other class counts
    assert chapter_record("quick", results_dir=tmp_path, size="smoke", classes=[10, 100])[1]  # other profile
    assert chapter_record("smoke", results_dir=tmp_path, classes=[10, 100], rerun=True)[1]
    assert len(calls) == 4


def test_check_targets_takes_the_fastest_naive_loop_and_compares_with_the_threshold():
    record = {
        "device": "cpu",
        "throughput": [
            {"dataset": "mnist", "model": "mlp", "loop": "sigmse", "speedup": None, "over_gemm_floor": 1.4},
            {"dataset": "mnist", "model": "mlp", "loop": "naive, num_workers=0", "speedup": 7.0,
             "over_gemm_floor": 9.8},
            {"dataset": "mnist", "model": "mlp", "loop": "naive, num_workers=2", "speedup": 5.5,
             "over_gemm_floor": 7.7},
        ],
        "loss_steps": [{"loss": "sigmoid_mse_or", "classes": 10, "ratio": 1.4},
                       {"loss": "sigmoid_mse_or", "classes": 1000, "ratio": 2.0}],
    }
    targets = {t["key"]: t for t in judge_targets(record)}
    assert targets["mnist_mlp_cpu_speedup"]["measured"] == 5.5 and targets["mnist_mlp_cpu_speedup"]["met"] is True
    assert targets["mnist_mlp_cpu_speedup"]["margin"] == pytest.approx(1.1)
    floor = targets["mnist_mlp_cpu_over_floor"]
    assert floor["measured"] == 1.4 and floor["met"] is False and floor["threshold"] == MAX_MLP_OVER_GEMM_FLOOR
    assert targets["or_step_c10"]["met"] is False  # 1.4 > 1.3
    assert targets["or_step_c1000"]["met"] is True  # 2.0 <= 2, the bound included
    assert targets["cifar_gpu_speedup"]["measured"] is None


@pytest.mark.parametrize(("call", "message"), [
    (lambda: get_bench_size("huge"), "unknown bench size 'huge'; choose one of: smoke, ci, full"),
    (lambda: run_bench("huge"), "unknown bench size 'huge'; choose one of: smoke, ci, full"),
    (lambda: run_bench("ci", "tpu"), "device 'tpu' is not allowed; choose one of: auto, cpu, cuda"),
    (lambda: run_bench("ci", "cpu", threads=0), "threads must be an integer >= 1, got 0"),
    (lambda: latest_bench(size="big"), "unknown bench size 'big'"),
    (lambda: run_bench("ci", "cpu", profile="huge"), "unknown profile 'huge'; choose one of: smoke, quick"),
])
def test_bad_input_raises_one_line_naming_the_value(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        call()
    assert "\n" not in str(error.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_asking_for_cuda_without_one_is_an_error():
    with pytest.raises(ValueError, match="device 'cuda' was asked for"):
        run_bench("ci", "cuda")


def test_command_prints_the_tables_and_where_the_json_went(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(BENCH_SIZES, "smoke", TINY)
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    args = parser.parse_args(["--size", "smoke", "--device", "cpu", "--out-dir", str(tmp_path), "--synthetic",
                              "--threads", "1"])
    assert run_bench_command(args) == 0
    out = capsys.readouterr().out
    assert "Training throughput" in out and f"written to {tmp_path}" in out
    assert len(list(tmp_path.glob("bench-*.json"))) == 1


def test_command_with_a_profile_writes_the_record_that_profiles_book_reads(tmp_path, monkeypatch):
    """``sigmse bench --profile P`` times P's epochs too and, without --out-dir, writes the record into
    results/P/bench/, where the performance chapter of P's book looks first: the chapter then reads it
    instead of measuring (how the committed full-profile record is made)."""
    monkeypatch.setitem(BENCH_SIZES, "smoke", TINY)
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    args = parser.parse_args(["--size", "smoke", "--device", "cpu", "--profile", "smoke", "--synthetic",
                              "--threads", "1"])
    assert run_bench_command(args) == 0
    [path] = (tmp_path / "results" / "smoke" / "bench").glob("bench-tiny-cpu-*.json")
    assert PROFILE_SECTION in json.loads(path.read_text())
    record, made_now = chapter_record("smoke", results_dir=tmp_path / "results", device="cpu")
    assert not made_now and record["path"] == str(path)


def test_command_with_an_unknown_profile_fails_before_measuring(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    args = parser.parse_args(["--size", "smoke", "--device", "cpu", "--profile", "huge", "--synthetic"])
    with pytest.raises(ValueError, match=r"unknown profile 'huge'; choose one of: smoke, quick, full, full2, paper"):
        run_bench_command(args)
    assert not any(tmp_path.iterdir())


# ---- sigmse bench --costs: what the sweep estimate prices runs with --------------------------------------------


def test_costs_command_times_each_dataset_and_model_of_its_profiles_once_per_loss(tmp_path, monkeypatch, capsys):
    """``sigmse bench --costs smoke quick``: the smoke profile's three kinds (its MLPs and its CIFAR-10 net), then
    quick's only new one (its CIFAR-10 MLP), each with every loss the bench times; per-image seconds of training
    and evaluation and the setup's, at the asked thread count, in a costs-*.json the table reads back."""
    from sigmse.bench.run import COSTS_SCHEMA, format_costs, run_costs
    from sigmse.runs.protocol import image_cost_table

    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    add_bench_arguments(parser)
    args = parser.parse_args(["--costs", "smoke", "--device", "cpu", "--synthetic", "--threads", "1"])
    assert run_bench_command(args) == 0
    [path] = (tmp_path / "results" / "smoke" / "bench").glob("costs-cpu-*.json")
    record = json.loads(path.read_text())
    assert record["schema"] == COSTS_SCHEMA and record["profiles"] == ["smoke"]
    kinds = [(row["dataset"], row["model"], row["loss"]) for row in record["costs"]]
    assert kinds == [(d, m, loss) for d, m in (("mnist", "mlp"), ("fashion-mnist", "mlp"), ("cifar10", "resnet9_small"))
                     for loss in PROFILE_EPOCH_LOSSES]
    for row in record["costs"]:
        assert row["threads"] == 1 and row["train_seconds_per_image"] > 0 and row["eval_seconds_per_image"] > 0
        assert row["n_eval"] == get_profile("smoke").budgets[row["dataset"]].val_size and row["setup_seconds"] >= 0
    assert set(image_cost_table(record["costs"])) == {("mnist", "mlp", 1), ("fashion-mnist", "mlp", 1),
                                                      ("cifar10", "resnet9_small", 1)}
    assert "What a run costs" in capsys.readouterr().out and "train_us_per_image" in format_costs(record)
    both = run_costs(["smoke", "quick"], "cpu", tmp_path / "both", synthetic=True, threads=1, train_images=128,
                     repeats=1, datasets=["cifar10"])
    assert [(row["profile"], row["model"]) for row in both["costs"]][::2] == [("smoke", "resnet9_small"),
                                                                             ("quick", "mlp")]
    with pytest.raises(ValueError, match=r"unknown profile 'huge'; choose one of"):
        run_costs(["huge"], "cpu", tmp_path / "none")
    assert not (tmp_path / "none").exists()
