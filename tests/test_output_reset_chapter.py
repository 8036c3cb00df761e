"""Tests of sigmse.report.output_reset, the Output Reset chapter: the ablation's names, the thread-count pairs,
the plain-SGD sweep described in words, against hand-computed numbers on small hand-made records (no training);
and its page, whose parts glue every key the book reads from it.

The records and frames are those of ``tests/test_analysis.py`` and ``tests/test_chapters.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scipy")

from test_analysis import _frame, _record  # noqa: E402
from test_chapters import REPO, _setup_record, page_parts  # noqa: E402

from sigmse.provenance import UNRECORDED_PROCESSOR  # noqa: E402
from sigmse.report import chapters, output_reset  # noqa: E402
from sigmse.runs.experiments import CHAPTERS  # noqa: E402
from sigmse.runs.profiles import ACCURACY_LOSSES, OUTPUT_RESET_VARIANTS  # noqa: E402


def test_ablation_names():
    names = output_reset.ablation_names()
    assert names["sigmoid_mse"] == "no reset, targets 1/0"
    assert names["sigmoid_mse_or (shift=True, pos=0.9, neg=0.1)"] == "reset with shift, targets 0.9/0.1"


def test_lr_sweep_verdict_counts_the_rates_where_the_losses_differ():
    frame = _frame([("sigmoid_mse", 0.1, 0, 0.5, 0.5, "ok"), ("sigmoid_mse", 1.0, 0, 0.9, 0.9, "ok"),
                    ("sigmoid_mse_or", 0.1, 0, 0.85, 0.85, "ok"),
                    ("sigmoid_mse_or", 1.0, 0, np.nan, np.nan, "diverged")])
    assert output_reset.lr_sweep_verdict(frame) == (
        "sigmoid-MSE + OR is ahead of sigmoid-MSE by more than 5 pp at 1 of 2 learning rates (0.1), behind at 1 (1), "
        "within 5 pp at 0")


def test_sgd_output_reset_share_describes_the_best_rates_against_the_margin():
    """Best rates by validation: CE 0.01 (98.0%), plain 0.01 (97.0%, chance at 0.1), OR 0.1 (98.2%): plain trails
    CE by more than the 0.5 pp margin, OR lifts it to within it."""
    accuracy = {("softmax_ce", 0.01): 0.980, ("softmax_ce", 0.1): 0.970, ("sigmoid_mse", 0.01): 0.970,
                ("sigmoid_mse", 0.1): 0.100, ("sigmoid_mse_or", 0.01): 0.970, ("sigmoid_mse_or", 0.1): 0.982}
    records = [_setup_record(loss, seed, acc, threads=1, lr=lr, optimizer="sgd")
               for (loss, lr), acc in accuracy.items() for seed in (2, 3)]
    shares = output_reset.sgd_output_reset_share("sgd", records, datasets=["mnist", "fashion-mnist"])
    assert shares == {
        "sgd_plain_vs_ce_mnist": "\u22121.00 pp at the best rates (lr 0.01 and 0.01)",
        "sgd_or_vs_plain_mnist": "+1.20 pp at the best rates (lr 0.1 and 0.01); more than 5 pp ahead at 1 of 2 rates "
                                 "(0.1), behind at 0",
        "sgd_answer_mnist": "Yes: plain sigmoid-MSE trails softmax CE, and Output Reset lifts it to within the margin "
                            "of softmax CE (sgd with momentum 0.9, each loss at its best learning rate by validation, "
                            "seed means against the \u00b10.50 pp margin: described, not tested; 2 seeds per rate; "
                            "1 torch thread in every run)",
        "sgd_plain_vs_ce_fashion_mnist": "not run", "sgd_or_vs_plain_fashion_mnist": "not run",
        "sgd_answer_fashion_mnist": "not run"}
    # a gap that rounds onto the margin keeps the digits that show its side
    assert output_reset._signed_pp(-0.004967, 0.005) == "\u22120.497 pp"
    assert output_reset._signed_pp(0.0081, 0.005) == "+0.81 pp"


def test_thread_pairs_say_how_much_of_a_gap_the_thread_count_explains():
    """Two variants that train alike: the pairs with the same thread count agree exactly, the others differ."""
    rows = [(seed, variant, threads, acc) for seed, (same, a, b) in enumerate(
        [(True, 0.95, 0.95), (True, 0.96, 0.96), (False, 0.950, 0.951), (False, 0.960, 0.957)])
        for variant, threads, acc in (("plain", 2, a), ("no shift", 2 if same else 1, b))]
    frame = pd.DataFrame([{"dataset": "mnist", "lr": 0.001, "seed": s, "ablation": v, chapters.THREADS: float(t),
                           "test_acc": acc, "status": "ok"} for s, v, t, acc in rows])
    table = output_reset.thread_pairs_table(frame, "plain", "no shift")
    assert table["pairs"].to_dict() == {(2, 1): 2, (2, 2): 2} and table["identical"].to_dict() == {(2, 1): 0, (2, 2): 2}
    assert table.loc[(2, 1), "largest difference"] == pytest.approx(0.3)
    text = output_reset.thread_agreement_text(table)
    assert text.startswith("The 2 of 4 pairs that ran with the same number of torch threads (2 threads each) agree "
                           "exactly; the 2 that ran with different numbers (2 and 1 threads) differ by up to 0.30 pp. "
                           "The thread count alone separates them")
    assert "floating-point addition is not associative" in text
    same_only = output_reset.thread_pairs_table(frame[frame["seed"] < 2], "plain", "no shift")
    assert output_reset.thread_agreement_text(same_only) == ("The 2 of 2 pairs that ran with the same number of torch "
                                                         "threads (2 threads each) agree exactly.")


def test_thread_pairs_split_the_same_thread_count_by_processor_where_the_records_name_it():
    """Four pairs with one thread each: two on one kind of processor agree exactly, two on two kinds differ;
    the text then puts the gap on the processor, not on the loss, and never on the thread count."""
    rows = [(seed, variant, kind, acc) for seed, (kinds, a, b) in enumerate(
        [(("x", "x"), 0.95, 0.95), (("y", "y"), 0.96, 0.96), (("x", "y"), 0.950, 0.951), (("y", "x"), 0.96, 0.958)])
        for variant, kind, acc in (("plain", kinds[0], a), ("no shift", kinds[1], b))]
    frame = pd.DataFrame([{"dataset": "mnist", "lr": 0.001, "seed": s, "ablation": v, chapters.THREADS: 1.0,
                           chapters.PROCESSOR: k, "test_acc": acc, "status": "ok"} for s, v, k, acc in rows])
    table = output_reset.thread_pairs_table(frame, "plain", "no shift")
    assert table["pairs"].to_dict() == {(1, 1, "one kind"): 2, (1, 1, "two kinds"): 2}
    assert table["identical"].to_dict() == {(1, 1, "one kind"): 2, (1, 1, "two kinds"): 0}
    text = output_reset.thread_agreement_text(table)
    assert text.startswith("The 2 of 4 pairs that ran with the same number of torch threads (1 thread each) on one "
                           "kind of processor agree exactly; the 2 of 4 pairs that ran with the same number of torch "
                           "threads (1 thread each) on two kinds of processor differ by up to 0.20 pp. The processor "
                           "alone separates those on two kinds")
    assert "thread count alone" not in text
    unnamed = frame.assign(**{chapters.PROCESSOR: [UNRECORDED_PROCESSOR if s == 3 else k
                                                   for s, k in zip(frame["seed"], frame[chapters.PROCESSOR])]})
    assert output_reset.thread_pairs_table(unnamed, "plain", "no shift")["pairs"].to_dict() == {
        (1, 1, "not recorded"): 1, (1, 1, "one kind"): 2, (1, 1, "two kinds"): 1}
    # records that name no processor keep the thread-count table and text of before
    assert output_reset.thread_pairs_table(frame.assign(**{chapters.PROCESSOR: UNRECORDED_PROCESSOR}), "plain",
                                           "no shift").index.nlevels == 2


# -- the page ----------------------------------------------------------------------------------------------------


def _ablation_record(name: str, seed: int, lr: float, test_acc: float) -> dict:
    """A run of the ablation's variant ``name`` on MNIST, two epochs, with the reset share an OR variant records."""
    loss, options = OUTPUT_RESET_VARIANTS[name]
    history = [{"epoch": epoch, "reset_fraction": 0.3 / epoch if loss == "sigmoid_mse_or" else None}
               for epoch in (1, 2)]
    record = _record(loss=loss, options=options, seed=seed, lr=lr, test_acc=test_acc, val_acc=test_acc,
                     history=history, extra_metrics={"n_train": 55000})
    record["hash"] = f"{name}-{lr}-{seed}"
    record["config"].update(batch_size=128, momentum=0.9, schedule="constant")
    record["provenance"]["torch_threads"] = 2
    return record


def test_the_output_reset_page_glues_every_key_the_book_reads_and_the_notebook_shows_every_part():
    # each variant's accuracy above plain sigmoid-MSE's, in points; reset without shift, targets 1/0 trains alike
    level = dict(zip(OUTPUT_RESET_VARIANTS, (0, 0, 2, 3, 4, 5)))
    selection = [_ablation_record(name, seed, lr, 0.9 + 0.01 * level[name] - (lr == 0.01) * 0.02)
                 for name in level for seed in (0, 1) for lr in (0.001, 0.01)]
    report = [_ablation_record(name, seed, 0.001, 0.9 + 0.01 * level[name] + 0.001 * ((seed + level[name]) % 3))
              for name in level for seed in (2, 3, 4)]
    sgd = [_setup_record(loss, seed, 0.9 + 0.01 * i - (lr == 1.0) * 0.05 * i + 0.001 * seed, threads=1, lr=lr,
                         optimizer="sgd")
           for i, loss in enumerate(ACCURACY_LOSSES) for seed in (2, 3) for lr in (0.1, 1.0)]
    chapter = output_reset.OutputResetChapter(selection, report, sgd, profile="quick")
    values = page_parts(chapter, REPO / "notebooks" / "output_reset.ipynb")
    assert set(CHAPTERS["output_reset"].verdict_keys) <= set(values)
    assert values["claim_sgd_share_answer_fashion_mnist"] == "not run"
    assert values["claim_sgd_share_answer_mnist"].endswith("2 seeds per rate; 1 torch thread in every run)")
    assert values["reset_dataset"] == "mnist" and values["reset_share_default"] == pytest.approx(0.15)
    assert values["identity_outputs_reset"] == 0 and values["ablation_family_size"] > 0
    assert values["example_error_before"] > values["example_error_after"]
    assert values["identity_threads"] == ("The 7 of 7 pairs that ran with the same number of torch threads "
                                          "(2 threads each) agree exactly.")
