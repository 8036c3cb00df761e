"""The measurements of the benchmark, each on its own: the solver check, the naive loops with workers and on the
official files, the GEMM floor against the products autograd runs, epoch scaling, and the errors. Sizes here are
tiny: the numbers are not checked, only their shape."""

from __future__ import annotations

import pytest

from sigmse.bench.measures import (epoch_scaling, gemm_floor_products, gemm_floor_step, loss_step_times,
                                   output_reset_solver, step_phases, synthetic_dataset, timed_step,
                                   training_throughput)
from sigmse.bench.run import run_costs


def test_exact_solver_and_fifty_alternating_steps_agree_at_ten_classes():
    rows = output_reset_solver(batch=256, classes=(10,), iterations=50, device="cpu", repeats=1)
    assert rows[0]["max_abs_disagreement"] < 1e-5 and rows[0]["share_disagreeing"] == 0.0
    assert 0 < rows[0]["solver_share_of_step"] and rows[0]["step_ratio"] > 0


def test_more_alternating_steps_never_disagree_more():
    few, many = (output_reset_solver(batch=128, classes=(200,), iterations=k, device="cpu", repeats=1)[0]
                 for k in (5, 500))
    assert many["max_abs_disagreement"] <= few["max_abs_disagreement"]


def test_naive_loop_with_worker_processes():
    rows = training_throughput("mnist", "mlp", device="cpu", steps=2, repeats=1, workers=(2,),
                               data=synthetic_dataset("mnist", 256))
    assert [r["loop"] for r in rows] == ["sigmse", "naive, num_workers=2"]
    # the speedup is the trainer's throughput over the naive loop's, from the same rows
    assert rows[1]["speedup"] == pytest.approx(rows[0]["images_per_s"] / rows[1]["images_per_s"])
    assert rows[0]["speedup"] is None


@pytest.mark.shared_data
def test_naive_loops_read_the_official_files_with_torchvision(shared_data_dir):
    rows = training_throughput("mnist", "mlp", device="cpu", steps=2, repeats=1, workers=(0,),
                               data_dir=shared_data_dir)
    assert rows[1]["data_class"] == "torchvision.datasets.MNIST"
    scaling = epoch_scaling((256, 512), device="cpu", data_dir=shared_data_dir)
    assert [r["n_train"] for r in scaling] == [256, 512] and all(r["seconds_per_epoch"] > 0 for r in scaling)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: run_costs(["smoke"], "cpu", threads=0), "threads must be an integer >= 1, got 0"),
    (lambda: training_throughput(steps=0, device="cpu"), "steps must be an integer >= 1, got 0"),
    (lambda: training_throughput(workers=(-1,), device="cpu", data=synthetic_dataset("mnist", 8)),
     "workers must be integers >= 0, got -1"),
    (lambda: loss_step_times(classes=(1,), device="cpu"), "classes must be integers >= 2, got 1"),
    (lambda: loss_step_times(losses=["nope"], device="cpu"), "nope"),
    (lambda: output_reset_solver(iterations=0, device="cpu"), "iterations must be an integer >= 1, got 0"),
    (lambda: epoch_scaling((300,), device="cpu", data=synthetic_dataset("mnist", 200)),
     "epoch_scaling size 300 is more than the 200 training images of 'mnist'"),
])
def test_bad_input_raises_one_line_naming_the_value(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        call()
    assert "\n" not in str(error.value)


def _matrix_products(work) -> list[tuple[str, list]]:
    """The ``aten::mm`` / ``aten::addmm`` calls of ``work()`` with their operand shapes, as torch's profiler saw
    them."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        work()
    return sorted((e.name, e.input_shapes[:3]) for e in prof.events() if e.name in ("aten::mm", "aten::addmm"))


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_gemm_floor_runs_the_matrix_products_autograd_runs_for_the_linear_layers(model):
    """Reference: the products torch itself runs for one forward + backward of the real model, by the profiler."""
    import torch

    from sigmse.models import get_model

    net = get_model(model, (1, 28, 28), 10)
    images, labels = torch.randn(16, 1, 28, 28), torch.randint(10, (16,))
    autograd = _matrix_products(lambda: torch.nn.functional.cross_entropy(net(images), labels).backward())
    floor = _matrix_products(gemm_floor_step(model, (1, 28, 28), 10, 16, device=torch.device("cpu")))
    linear_floor = [call for call in floor if call in autograd]
    assert linear_floor == autograd  # every product of the linear layers, with its shapes (convolutions run none)
    if model == "mlp":
        assert len(floor) == 8  # 3 forward, 3 weight gradients, 2 input gradients (none for the first layer)
    else:  # and each convolution's im2col lowering: (N H W, C_in k k) x (C_in k k, C_out)
        assert ("aten::addmm", [[32], [16 * 28 * 28, 9], [9, 32]]) in floor
        assert len(floor) == len(autograd) + 2 + 3  # the first conv needs no input gradient


def test_the_floor_splits_into_the_forward_products_and_the_backward_ones():
    import torch

    passes = gemm_floor_products("mlp", (1, 28, 28), 10, 16, device=torch.device("cpu"))
    forward, backward = _matrix_products(passes["forward"]), _matrix_products(passes["backward"])
    assert [name for name, _ in forward] == ["aten::addmm"] * 3 and [name for name, _ in backward] == ["aten::mm"] * 5
    assert sorted(forward + backward) == _matrix_products(gemm_floor_step("mlp", (1, 28, 28), 10, 16,
                                                                          device=torch.device("cpu")))


@pytest.mark.parametrize("loss", ["softmax_ce", "sigmoid_mse_or"])
def test_a_timed_step_is_the_trainers_step(loss):
    """The phases timed by step_phases are TrainingRun.step's calls: two runs of one seed, one stepped by each,
    end with equal parameters and optimizer state, bit for bit."""
    import torch

    from sigmse.config import RunConfig
    from sigmse.train import ClassificationRun, EpochSums, prepare_data

    config = RunConfig(dataset="mnist", model="mlp", loss=loss, lr=1e-2, batch_size=32, epochs=2, train_subset=128,
                       val_size=0, test_subset=32, seed=3, device="cpu", schedule="cosine")
    data = prepare_data(config, torch.device("cpu"), dataset=synthetic_dataset("mnist", 128))
    runs = [ClassificationRun(config, data, torch.device("cpu")) for _ in range(2)]
    sums = [EpochSums(128, torch.device("cpu")) for _ in runs]
    for start in range(0, 128, 32):
        index = torch.arange(start, start + 32)
        runs[0].step(index, start, sums[0])
        seconds = timed_step(runs[1], index, start, sums[1])
        assert len(seconds) == 5 and all(s >= 0 for s in seconds)
    for mine, theirs in zip(runs[0].model.parameters(), runs[1].model.parameters()):
        assert torch.equal(mine, theirs)
    assert runs[0].optimizer.param_groups[0]["lr"] == runs[1].optimizer.param_groups[0]["lr"] != 1e-2
    assert torch.equal(sums[0].predictions, sums[1].predictions)


def test_step_phases_rejects_a_bad_count_before_training():
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        step_phases(device="cpu", repeats=0, data=synthetic_dataset("mnist", 8))


def test_throughput_rows_carry_the_measured_ratio_to_the_gemm_floor():
    rows = training_throughput("mnist", "mlp", device="cpu", steps=3, repeats=2, workers=(0,),
                               data=synthetic_dataset("mnist", 512))
    for row in rows:
        assert 0 < row["over_gemm_floor"] < float("inf") and 0 < row["over_gemm_floor_fastest"] < float("inf")
        assert row["over_gemm_floor"] == pytest.approx(row["gemm_floor_images_per_s"] / row["images_per_s"])
    assert rows[0]["gemm_floor_images_per_s"] == rows[1]["gemm_floor_images_per_s"]  # one floor, measured once
    assert rows[0]["over_gemm_floor"] != rows[1]["over_gemm_floor"]


def test_image_costs_time_a_training_image_an_evaluated_image_and_the_setup_of_one_run():
    """At most ``train_images`` of the run's training split train; the whole validation split is evaluated once
    per epoch, one forward pass an image even with test-time flips (the estimate counts the second pass)."""
    import torch

    from sigmse.bench.measures import image_costs
    from sigmse.config import RunConfig

    config = RunConfig(dataset="mnist", epochs=3, train_subset=300, val_size=100, test_subset=50, tta_flip=True,
                       device="cpu")
    row = image_costs(config, data=synthetic_dataset("mnist", 400, n_test=50), train_images=256, repeats=1)
    assert (row["n_train"], row["n_eval"], row["threads"]) == (256, 100, torch.get_num_threads())
    assert row["train_seconds_per_image"] > 0 and row["eval_seconds_per_image"] > 0 and row["setup_seconds"] >= 0
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        image_costs(config, data=synthetic_dataset("mnist", 400, n_test=50), repeats=0)
