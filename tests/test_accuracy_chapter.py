"""Tests of sigmse.report.accuracy, the accuracy chapter: its judged family, Output Reset's share in words, its
tables, against hand-computed numbers on small hand-made records (no training); and its page, whose parts glue every
key the book reads from it.

The records, frames and the Student-t quantile are those of ``tests/test_analysis.py`` and ``tests/test_chapters.py``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

pytest.importorskip("scipy")

from test_analysis import T_975_2DOF, _frame  # noqa: E402
from test_chapters import REPO, _paired_frame, _setup_record, page_parts  # noqa: E402

from sigmse.report import accuracy, chapters, verdicts  # noqa: E402
from sigmse.runs.experiments import CHAPTERS  # noqa: E402


def test_calibration_table_shows_raw_and_temperature_scaled_figures():
    frame = _paired_frame([0.9, 0.9], [0.9, 0.9]).assign(test_ece=[0.05, 0.07, 0.1, 0.1], test_ece_ts=0.02,
                                                         test_nll=0.3, test_nll_ts=0.25, temperature=[1.5, 2.5, 1, 1])
    row = accuracy.calibration_table(frame).loc[("mnist", "softmax_ce")]
    assert row["ECE"] == "0.060 \u00b1 0.014" and row["ECE (TS)"] == "0.020 \u00b1 0.000" and row["T"] == "2.00"


def test_context_comparisons_are_shown_without_a_verdict_or_p():
    frame = _paired_frame([0.90, 0.92, 0.94], [0.91, 0.95, 0.96], name="sigmoid_mse")
    tests = verdicts.paired_tests(frame, "test_acc", claim="equivalence", margins=0.005)
    row = accuracy.difference_table(tests).loc[("mnist", "sigmoid_mse")]
    half = 100 * T_975_2DOF * 0.01 / math.sqrt(3)
    assert row.to_dict() == {"seeds": 3, "difference [95% CI] (pp)": f"+2.00 [{2 - half:+.2f}, {2 + half:+.2f}]"}
    assert math.isnan(verdicts.decisive_p({**tests.iloc[0].to_dict(), "verdict": verdicts.NOT_JUDGED}))


# -- the judged family, and Output Reset's own share -----------------------------------------------------------


def _three_losses(dataset, ce, plain, reset, threads=2):
    """A runs frame of softmax CE, plain sigmoid-MSE and sigmoid-MSE + OR, one value per seed each."""
    return pd.DataFrame([{"dataset": dataset, "loss": loss, "seed": seed, "lr": 0.001, "test_acc": value,
                          "status": "ok", "optimizer": "adam", chapters.THREADS: float(threads)}
                         for loss, values in (("softmax_ce", ce), ("sigmoid_mse", plain), ("sigmoid_mse_or", reset))
                         for seed, value in enumerate(values)])


def test_accuracy_family_judges_the_claim_and_output_resets_share_together():
    """Per dataset three comparisons of three hypotheses each; the differences are the hand-computed seed means.
    Judged alone (3 p-values), OR beats CE (one-sided p 0.0076, x3 = 0.023); in the family of 9 that is 0.068."""
    runs = _three_losses("mnist", (0.90, 0.92, 0.94), (0.91, 0.95, 0.96), (0.92, 0.95, 0.97))
    family = accuracy.accuracy_family(runs)
    assert family[["loss", "baseline"]].values.tolist() == [["sigmoid_mse", "softmax_ce"],
                                                           ["sigmoid_mse_or", "softmax_ce"],
                                                           ["sigmoid_mse_or", "sigmoid_mse"]]
    assert family["mean_diff"].tolist() == pytest.approx([0.02, 0.08 / 3, 0.02 / 3])
    assert set(family["family_size"]) == {9} and set(family["verdict"]) == {"inconclusive"}
    assert accuracy.claim_alone_text(runs, family) == (
        "judged alone, Holm over its own 3 p-values instead of the family's 9, sigmoid-MSE + OR against softmax CE: "
        "mnist would be better, not inconclusive")
    assert chapters.verdict_texts("verdict", family, datasets=["mnist", "cifar10"]) == {
        "verdict_mnist": verdicts.verdict_text(family.iloc[1].to_dict()), "verdict_cifar10": "not run"}
    context = accuracy.unjudged(pd.concat([runs, runs[runs["loss"] == "softmax_ce"].assign(loss="softmax_mse")]),
                                family)
    assert context["loss"].tolist() == ["softmax_mse"] and context["verdict"].tolist() == [verdicts.NOT_JUDGED]
    assert accuracy.against("softmax_ce", family, context)["loss"].tolist() == ["sigmoid_mse", "sigmoid_mse_or",
                                                                              "softmax_mse"]


def test_output_reset_share_answers_in_words_from_the_verdicts():
    """MNIST: plain sigmoid-MSE 10 pp behind CE, OR level with CE: yes. CIFAR-10: all three level: no.
    Fashion-MNIST: plain sigmoid-MSE stuck at chance on two seeds: the tests cannot tell, and the answer counts
    the failed runs that the mean hides."""
    wobble = (0.0, 0.001, -0.001, 0.0005, -0.0005, 0.0002)
    other = (0.0003, 0.0008, -0.0006, 0.0002, -0.0001, 0.0)
    third = (0.001, -0.001, 0.0, 0.0004, -0.0003, 0.0002)
    runs = pd.concat([
        _three_losses("mnist", [0.90 + w for w in wobble], [0.80 + w for w in third], [0.90 + w for w in other]),
        _three_losses("fashion-mnist", [0.89 + w for w in wobble], (0.10, 0.09, 0.88, 0.89, 0.885, 0.89),
                      [0.89 + w for w in other]),
        _three_losses("cifar10", [0.75 + w for w in wobble], [0.75 + w for w in third], [0.75 + w for w in other],
                      threads=1)], ignore_index=True)
    family = accuracy.accuracy_family(runs)
    shares = accuracy.output_reset_share("share", family, runs)
    basis = "(adam; paired tests, Holm over 27 p-values; {} in every run)"
    assert shares["share_answer_mnist"] == ("Yes: plain sigmoid-MSE trails softmax CE, and Output Reset lifts it to "
                                            "within the margin of softmax CE " + basis.format("2 torch threads"))
    assert shares["share_answer_cifar10"] == (
        "No: Output Reset moves sigmoid-MSE's accuracy by less than the margin, and plain sigmoid-MSE is already "
        "within the margin of softmax CE " + basis.format("1 torch thread"))
    assert shares["share_answer_fashion_mnist"] == (
        "The runs cannot tell: sigmoid-MSE + OR against plain sigmoid-MSE is inconclusive, and plain sigmoid-MSE "
        "against softmax CE is inconclusive; but plain sigmoid-MSE ended at or near chance accuracy (at most 2 times "
        "it) in 2 of its 6 runs, sigmoid-MSE + OR in none " + basis.format("2 torch threads"))
    plain_row = chapters.comparison_row(family, "sigmoid_mse", dataset="mnist", baseline="softmax_ce")
    assert shares["share_plain_vs_ce_mnist"] == verdicts.verdict_text(plain_row)
    assert plain_row["verdict"] == "worse"
    assert accuracy.output_reset_share("share", family.iloc[:0], runs)["share_answer_mnist"] == "not run"


# -- the page ----------------------------------------------------------------------------------------------------


def _accuracy_records() -> tuple[list[dict], list[dict]]:
    """Selection runs (seeds 0, 1 at two rates) and reporting runs (seeds 2, 3, 4) of three losses on MNIST."""
    base = {"softmax_ce": 0.95, "sigmoid_mse": 0.93, "sigmoid_mse_or": 0.95}
    selection = [_setup_record(loss, seed, value - (lr == 0.01) * 0.01 + 0.001 * seed, threads=2, lr=lr)
                 for loss, value in base.items() for seed in (0, 1) for lr in (0.001, 0.01)]
    report = [_setup_record(loss, seed, value + 0.002 * ((seed * (i + 1)) % 3), threads=2)
              for i, (loss, value) in enumerate(base.items()) for seed in (2, 3, 4)]
    return selection, report


def test_the_accuracy_page_glues_every_key_the_book_reads_and_the_notebook_shows_every_part():
    selection, report = _accuracy_records()
    chapter = accuracy.AccuracyChapter(selection, report, pilot=[], profile="quick")
    values = page_parts(chapter, REPO / "notebooks" / "accuracy.ipynb")
    assert set(CHAPTERS["accuracy"].verdict_keys) <= set(values)
    assert values["selection_seeds"] == "0, 1" and values["report_seeds"] == "2, 3, 4"
    assert values["accuracy_comparisons"] == 3 and values["alpha_text"] == "0.05"
    assert values["acc_mnist_sigmoid_mse"] == f"{0.93 + 0.002 * (1 + 0 + 2) / 3:.2%}"
    assert values["acc_cifar10_softmax_ce"] == "not run" and values["claim_accuracy_cifar10"] == "not run"
    assert values["claim_accuracy_mnist_profile"] == "quick" and values["claim_accuracy_mnist_seeds"] == "3"
    assert values["plateau_summary"] == "mnist (3 epochs): not run yet"  # these records carry no history
    assert values["epoch_pilot_text"] == ("The quick profile ran no epoch pilot: its budgets were fixed in code "
                                          "without one.")
