"""Tests of sigmse.report.chapters against hand-computed numbers, on small hand-made records (no training).

The records, frames and the Student-t quantile are those of ``tests/test_analysis.py``, whose frames these
helpers format.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scipy")

from test_analysis import T_975_2DOF, _frame, _record  # noqa: E402

from sigmse.report import chapters, verdicts  # noqa: E402


def _paired_frame(baseline, other, name="sigmoid_mse_or"):
    """Reporting runs of softmax CE (``baseline`` per seed) and ``name`` (``other``) on MNIST at lr 0.1."""
    rows = [{"dataset": "mnist", "loss": loss, "seed": s, "lr": 0.1, "test_acc": v, "status": "ok"}
            for loss, values in (("softmax_ce", baseline), (name, other)) for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_headline_and_comparison_tables_format_hand_computed_numbers():
    """Differences 0.01, 0.03, 0.02: mean 2.00 pp, sd 1 pp, 95% CI 2 ± 4.303/sqrt(3) pp; one-sided p of better
    with t = 2 sqrt(3) on 2 dof: (1 - t / sqrt(2 + t^2)) / 2 = 0.0371; the family holds 3 p-values."""
    frame = _paired_frame([0.90, 0.92, 0.94], [0.91, 0.95, 0.96])
    table = chapters.headline_table(frame, orders={"loss": ["sigmoid_mse_or", "softmax_ce"]})
    assert list(table.index.get_level_values("loss")) == ["sigmoid_mse_or", "softmax_ce"]
    row = table.loc[("mnist", "softmax_ce")]
    half = 100 * T_975_2DOF * 0.02 / math.sqrt(3)
    assert row["test acc (%)"] == "92.00 \u00b1 2.00" and row["seeds"] == "3"
    assert row["95% CI (%)"] == f"[{92 - half:.2f}, {92 + half:.2f}]" and row["lr"] == "0.1"
    family = verdicts.holm_verdicts(verdicts.paired_tests(frame, "test_acc", claim="equivalence", margins=0.005))
    t = 2 * math.sqrt(3)
    assert family["p_better"].iloc[0] == pytest.approx((1 - t / math.sqrt(2 + t * t)) / 2)
    printed = chapters.comparison_table(family, keys=["dataset", "loss"]).iloc[0]
    half = 100 * T_975_2DOF * 0.01 / math.sqrt(3)
    assert printed["difference [95% CI] (pp)"] == f"+2.00 [{2 - half:.2f}, {2 + half:.2f}]"
    assert printed["margin (pp)"] == "\u00b10.50" and printed["seeds"] == 3
    assert printed["verdict"] == "inconclusive"  # 3 x 0.0371 = 0.111 after Holm
    assert printed["p (Holm)"] == "1.000"  # inconclusive shows the claim's primary hypothesis: equivalence
    cells = chapters.claim_cells("claim_x", family.iloc[0].to_dict(), "quick")
    effect = f"+2.00 pp [{2 - half:.2f}, {2 + half:.2f}]".replace("-", "\u2212")  # prose: a true minus sign
    assert cells == {"claim_x": "inconclusive", "claim_x_effect": effect,
                     "claim_x_margin": "\u00b10.50 pp", "claim_x_seeds": "3", "claim_x_profile": "quick"}


def test_calibration_table_shows_raw_and_temperature_scaled_figures():
    frame = _paired_frame([0.9, 0.9], [0.9, 0.9]).assign(test_ece=[0.05, 0.07, 0.1, 0.1], test_ece_ts=0.02,
                                                         test_nll=0.3, test_nll_ts=0.25, temperature=[1.5, 2.5, 1, 1])
    row = chapters.calibration_table(frame).loc[("mnist", "softmax_ce")]
    assert row["ECE"] == "0.060 \u00b1 0.014" and row["ECE (TS)"] == "0.020 \u00b1 0.000" and row["T"] == "2.00"


def test_keyed_values_are_plain_floats_with_nan_for_missing():
    summary = pd.DataFrame({"dataset": ["fashion-mnist"], "loss": ["softmax_ce"], "mean": [np.float64(0.9)]})
    values = chapters.keyed_values(summary, "acc", ["fashion-mnist", "cifar10"], ["softmax_ce"])
    assert values["acc_fashion_mnist_softmax_ce"] == 0.9 and type(values["acc_fashion_mnist_softmax_ce"]) is float
    assert math.isnan(values["acc_cifar10_softmax_ce"])


def test_lr_sweep_table_and_verdict():
    frame = _frame([("sigmoid_mse", 0.1, 0, 0.5, 0.5, "ok"), ("sigmoid_mse", 1.0, 0, 0.9, 0.9, "ok"),
                    ("sigmoid_mse_or", 0.1, 0, 0.85, 0.85, "ok"),
                    ("sigmoid_mse_or", 1.0, 0, np.nan, np.nan, "diverged")])
    table = chapters.lr_sweep_table(frame, by=("dataset", "loss"))
    assert table.loc[("mnist", "sigmoid_mse"), "lr=1"] == 0.9
    assert table.loc[("mnist", "sigmoid_mse_or"), "diverged"] == 1
    assert table["usable lrs"].to_dict() == {("mnist", "sigmoid_mse"): 1, ("mnist", "sigmoid_mse_or"): 1}
    assert chapters.lr_sweep_verdict(frame) == ("sigmoid_mse_or is ahead of sigmoid_mse by more than 5 pp at 1 of 2 "
                                                "learning rates (0.1), behind at 1 (1), within 5 pp at 0")




def test_ablation_names_and_page_note():
    names = chapters.ablation_names()
    assert names["sigmoid_mse"] == "no reset, targets 1/0"
    assert names["sigmoid_mse_or (shift=True, pos=0.9, neg=0.1)"] == "reset with shift, targets 0.9/0.1"
    assert chapters.page_note([_record()], "smoke").startswith("SMOKE PROFILE")
    assert chapters.page_note([_record()], "quick").startswith("1 runs")


def test_grid_edges_flags_rates_at_either_end():
    frame = _frame([(v, lr, 0, val, 0.5, "ok") for v, vals in (("a", (0.9, 0.5, 0.4)), ("b", (0.4, 0.9, 0.5)),
                                                                 ("c", (0.4, 0.5, 0.9)))
                    for lr, val in zip((0.01, 0.1, 1.0), vals)])
    report = frame.loc[frame.groupby("variant")["val_acc"].idxmax()]  # the rate each variant chose
    edges = chapters.grid_edges(report, frame)
    assert edges[["variant", "chosen_lr", "edge"]].values.tolist() == [["a", 0.01, "smallest"], ["c", 1.0, "largest"]]


def test_the_report_layer_reads_records_and_never_trains():
    """No module of sigmse.report imports the sweep engine, a trainer or the book builder: it reads records
    (sigmse.site trains what a book needs before its chapters run; a notebook run alone trains missing runs
    through sigmse.runs.executors.experiment_records before it hands them to sigmse.report)."""
    import ast
    from pathlib import Path

    trainers = {"sigmse.runs.executors", "sigmse.train", "sigmse.unification.train", "sigmse.site"}
    for path in Path(chapters.__file__).parent.glob("*.py"):
        nodes = list(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
        imported = {node.module for node in nodes if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in nodes if isinstance(node, ast.Import) for alias in node.names}
        assert not {name for name in imported if name and name.startswith(tuple(trainers))}, path.name


def test_context_comparisons_are_shown_without_a_verdict_or_p():
    frame = _paired_frame([0.90, 0.92, 0.94], [0.91, 0.95, 0.96], name="sigmoid_mse")
    tests = verdicts.paired_tests(frame, "test_acc", claim="equivalence", margins=0.005)
    row = chapters.difference_table(tests).loc[("mnist", "sigmoid_mse")]
    half = 100 * T_975_2DOF * 0.01 / math.sqrt(3)
    assert row.to_dict() == {"seeds": 3, "difference [95% CI] (pp)": f"+2.00 [{2 - half:.2f}, {2 + half:.2f}]"}
    assert math.isnan(verdicts.decisive_p({**tests.iloc[0].to_dict(), "verdict": verdicts.NOT_JUDGED}))


def test_glue_hides_the_value_and_makes_numpy_and_torch_scalars_plain_numbers(monkeypatch):
    """Every chapter glues through chapters.glue: myst_nb.glue with display=False, given a plain Python number
    for a 0-d numpy or torch value (MyST-NB formats np.float64(0.5) by its repr), anything else as it is."""
    myst_nb = pytest.importorskip("myst_nb")
    torch = pytest.importorskip("torch")
    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: calls.append((key, value, display)))
    figure_like = object()
    chapters.glue("a", np.float64(0.5))
    chapters.glue_all({"b": torch.tensor(3), "c": np.array(2.5), "d": "text", "e": figure_like})
    assert calls == [("a", 0.5, False), ("b", 3, False), ("c", 2.5, False), ("d", "text", False),
                     ("e", figure_like, False)]
    assert [type(value) for _, value, _ in calls[:3]] == [float, int, float]


# -- the runs' own setup, Output Reset's share, thread counts -------------------------------------------------


def _setup_record(loss, seed, test_acc, *, threads, lr=0.001, dataset="mnist", optimizer="adam", **config):
    """A record with the setup fields a page states: thread count (provenance), batch size, momentum, schedule,
    training examples (metrics)."""
    record = _record(loss=loss, seed=seed, lr=lr, dataset=dataset, test_acc=test_acc, val_acc=test_acc,
                     extra_metrics={"n_train": 55000})
    record["hash"] = f"{loss}-{lr}-{seed}-{dataset}-{threads}"
    record["config"].update(optimizer=optimizer, batch_size=128, momentum=0.9, schedule="constant", **config)
    record["provenance"]["torch_threads"] = threads
    return record


def test_runs_frame_and_budget_text_state_what_the_records_say():
    """Threads from the provenance (NaN where a record has none), training examples from the metrics; the budget
    line reads every field from the runs, with mixed values listed and the rates tried by the selection seeds."""
    selection = [_setup_record("softmax_ce", seed, 0.9, threads=1, lr=lr) for seed in (0, 1) for lr in (0.001, 0.01)]
    report = [_setup_record("softmax_ce", seed, 0.9, threads=threads) for seed, threads in ((2, 2), (3, 1), (4, 2))]
    del report[0]["provenance"]["torch_threads"]
    frame = chapters.runs_frame(report)
    assert math.isnan(frame[chapters.THREADS].iloc[0]) and frame[chapters.THREADS].iloc[1:].tolist() == [1.0, 2.0]
    assert frame["n_train"].tolist() == [55000] * 3 and frame["batch_size"].tolist() == [128] * 3
    assert chapters.budget_text(frame, chapters.runs_frame(selection)) == (
        "mnist: mlp, adam, constant schedule, 3 epochs, batches of 128, 55000 training examples; learning rates 0.001, "
        "0.01 tried by selection seeds 0, 1, the chosen one reported with seeds 2, 3, 4; torch threads 1 (5 runs), "
        "2 (1 run)")
    sgd = chapters.runs_frame([_setup_record("sigmoid_mse", 2, 0.9, threads=1, lr=lr, optimizer="sgd", epochs=12)
                               for lr in (0.1, 1.0)])
    assert chapters.budget_text(sgd) == (
        "mnist: mlp, sgd (momentum 0.9), constant schedule, 12 epochs, batches of 128, 55000 training examples; learning "
        "rates 0.1, 1, each reported (none chosen), seeds 2; 1 torch thread")
    assert chapters.epoch_budgets(frame) == {"mnist": 3}
    with pytest.raises(ValueError, match=r"mnist runs trained for \[3, 12\] epochs"):
        chapters.epoch_budgets(pd.concat([frame, sgd]))


def test_tables_state_the_thread_count_of_each_compared_run():
    losses = (("softmax_ce", 2, (0.90, 0.92, 0.94)), ("sigmoid_mse_or", 1, (0.91, 0.95, 0.96)))
    records = [_setup_record(loss, seed, acc, threads=threads)
               for loss, threads, values in losses for seed, acc in enumerate(values)]
    runs = chapters.runs_frame(records)
    assert chapters.headline_table(runs)["threads"].to_dict() == {("mnist", "sigmoid_mse_or"): "1",
                                                                  ("mnist", "softmax_ce"): "2"}
    family = verdicts.holm_verdicts(verdicts.paired_tests(runs, "test_acc", claim="equivalence", margins=0.005))
    table = chapters.comparison_table(family, keys=["dataset", "loss"], runs=runs)
    assert table["threads"].tolist() == ["1 vs 2"]


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
    family = chapters.accuracy_family(runs)
    assert family[["loss", "baseline"]].values.tolist() == [["sigmoid_mse", "softmax_ce"],
                                                           ["sigmoid_mse_or", "softmax_ce"],
                                                           ["sigmoid_mse_or", "sigmoid_mse"]]
    assert family["mean_diff"].tolist() == pytest.approx([0.02, 0.08 / 3, 0.02 / 3])
    assert set(family["family_size"]) == {9} and set(family["verdict"]) == {"inconclusive"}
    assert chapters.claim_alone_text(runs, family) == (
        "judged alone, Holm over its own 3 p-values instead of the family's 9, sigmoid_mse_or against softmax_ce: "
        "mnist would be better, not inconclusive")
    assert chapters.verdict_texts("verdict", family, datasets=["mnist", "cifar10"]) == {
        "verdict_mnist": verdicts.verdict_text(family.iloc[1].to_dict()), "verdict_cifar10": "not run"}
    context = chapters.unjudged(pd.concat([runs, runs[runs["loss"] == "softmax_ce"].assign(loss="softmax_mse")]),
                                family)
    assert context["loss"].tolist() == ["softmax_mse"] and context["verdict"].tolist() == [verdicts.NOT_JUDGED]
    assert chapters.against("softmax_ce", family, context)["loss"].tolist() == ["sigmoid_mse", "sigmoid_mse_or",
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
    family = chapters.accuracy_family(runs)
    shares = chapters.output_reset_share("share", family, runs)
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
    assert chapters.output_reset_share("share", family.iloc[:0], runs)["share_answer_mnist"] == "not run"


def test_sgd_output_reset_share_describes_the_best_rates_against_the_margin():
    """Best rates by validation: CE 0.01 (98.0%), plain 0.01 (97.0%, chance at 0.1), OR 0.1 (98.2%): plain trails
    CE by more than the 0.5 pp margin, OR lifts it to within it."""
    accuracy = {("softmax_ce", 0.01): 0.980, ("softmax_ce", 0.1): 0.970, ("sigmoid_mse", 0.01): 0.970,
                ("sigmoid_mse", 0.1): 0.100, ("sigmoid_mse_or", 0.01): 0.970, ("sigmoid_mse_or", 0.1): 0.982}
    records = [_setup_record(loss, seed, acc, threads=1, lr=lr, optimizer="sgd")
               for (loss, lr), acc in accuracy.items() for seed in (2, 3)]
    shares = chapters.sgd_output_reset_share("sgd", records, datasets=["mnist", "fashion-mnist"])
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
    assert chapters._signed_pp(-0.004967, 0.005) == "\u22120.497 pp"
    assert chapters._signed_pp(0.0081, 0.005) == "+0.81 pp"


def test_thread_pairs_say_how_much_of_a_gap_the_thread_count_explains():
    """Two variants that train alike: the pairs with the same thread count agree exactly, the others differ."""
    rows = [(seed, variant, threads, acc) for seed, (same, a, b) in enumerate(
        [(True, 0.95, 0.95), (True, 0.96, 0.96), (False, 0.950, 0.951), (False, 0.960, 0.957)])
        for variant, threads, acc in (("plain", 2, a), ("no shift", 2 if same else 1, b))]
    frame = pd.DataFrame([{"dataset": "mnist", "lr": 0.001, "seed": s, "ablation": v, chapters.THREADS: float(t),
                           "test_acc": acc, "status": "ok"} for s, v, t, acc in rows])
    table = chapters.thread_pairs_table(frame, "plain", "no shift")
    assert table["pairs"].to_dict() == {(2, 1): 2, (2, 2): 2} and table["identical"].to_dict() == {(2, 1): 0, (2, 2): 2}
    assert table.loc[(2, 1), "largest difference"] == pytest.approx(0.3)
    text = chapters.thread_agreement_text(table)
    assert text.startswith("The 2 of 4 pairs that ran with the same number of torch threads (2 threads each) agree "
                           "exactly; the 2 that ran with different numbers (2 and 1 threads) differ by up to 0.30 pp. "
                           "The thread count alone separates them")
    assert "floating-point addition is not associative" in text
    same_only = chapters.thread_pairs_table(frame[frame["seed"] < 2], "plain", "no shift")
    assert chapters.thread_agreement_text(same_only) == ("The 2 of 2 pairs that ran with the same number of torch "
                                                         "threads (2 threads each) agree exactly.")
