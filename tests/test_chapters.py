"""Tests of sigmse.report.chapters (what the result chapters share) against hand-computed numbers, on small
hand-made records (no training). Each chapter's own parts are tested beside its module: tests/test_accuracy_chapter.py,
tests/test_output_reset_chapter.py, tests/test_convergence.py.

The records, frames and the Student-t quantile are those of ``tests/test_analysis.py``, whose frames these
helpers format.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scipy")

from test_analysis import T_975_2DOF, _frame, _record  # noqa: E402

from sigmse.provenance import UNRECORDED_PROCESSOR  # noqa: E402
from sigmse.report import accuracy, chapters, verdicts  # noqa: E402
from sigmse.report.analysis import Part  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def page_parts(chapter: object, notebook: Path) -> dict[str, Any]:
    """The values of every part of a chapter's page (each public method of its class) in one dict: each part is
    a :class:`~sigmse.report.analysis.Part`, the chapter's notebook calls each, and no two glue the same key."""
    names = [name for name, member in vars(type(chapter)).items()
             if inspect.isfunction(member) and not name.startswith("_")]
    code = "\n".join(c.source for c in nbformat.read(str(notebook), as_version=4).cells if c.cell_type == "code")
    assert [name for name in names if f"chapter.{name}()" not in code] == [], f"{notebook.name} leaves parts out"
    values: dict[str, Any] = {}
    for name in names:
        part = getattr(chapter, name)()
        assert isinstance(part, Part), name
        assert not set(values) & set(part.values), f"{name} glues {set(values) & set(part.values)} again"
        values.update(part.values)
    return values


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
    assert chapters.family_size(family) == 3 and chapters.family_size(family.iloc[:0]) == 0
    printed = chapters.comparison_table(family, keys=["dataset", "loss"]).iloc[0]
    half = 100 * T_975_2DOF * 0.01 / math.sqrt(3)
    assert printed["difference [95% CI] (pp)"] == f"+2.00 [{2 - half:+.2f}, {2 + half:+.2f}]"  # signed, as in prose
    assert printed["margin (pp)"] == "\u00b10.50" and printed["seeds"] == 3
    assert printed["verdict"] == "inconclusive"  # 3 x 0.0371 = 0.111 after Holm
    assert printed["p (Holm)"] == "1.000"  # inconclusive shows the claim's primary hypothesis: equivalence
    cells = chapters.claim_cells("claim_x", family.iloc[0].to_dict(), "quick")
    effect = f"+2.00 pp [{2 - half:+.2f}, {2 + half:+.2f}]".replace("-", "\u2212")  # prose: a true minus sign
    assert cells == {"claim_x": "inconclusive", "claim_x_effect": effect,
                     "claim_x_margin": "\u00b10.50 pp", "claim_x_seeds": "3", "claim_x_profile": "quick"}


def test_keyed_values_are_plain_floats_with_nan_for_missing():
    summary = pd.DataFrame({"dataset": ["fashion-mnist"], "loss": ["softmax_ce"], "mean": [np.float64(0.9)]})
    values = chapters.keyed_values(summary, "acc", ["fashion-mnist", "cifar10"], ["softmax_ce"])
    assert values["acc_fashion_mnist_softmax_ce"] == 0.9 and type(values["acc_fashion_mnist_softmax_ce"]) is float
    assert math.isnan(values["acc_cifar10_softmax_ce"])


def test_keyed_texts_print_each_value_in_its_style_and_not_run_where_missing_never_nan():
    summary = pd.DataFrame({"dataset": ["mnist"], "loss": ["softmax_ce"], "mean": [0.98765]})
    values = chapters.keyed_texts(summary, "acc", ["mnist", "cifar10"], ["softmax_ce"])
    assert values == {"acc_mnist_softmax_ce": "98.77%", "acc_cifar10_softmax_ce": "not run"}
    assert chapters.keyed_texts(summary, "n", ["mnist"], ["softmax_ce"], style="{:.0f}") == {"n_mnist_softmax_ce": "1"}


def test_share_words_give_both_readings_when_a_gain_within_the_margin_is_what_lifts_plain_sigmoid_mse_level():
    """OR against plain is equivalent (a gain under the margin), yet plain trails CE while OR is level with it:
    "no" would hide that OR is what separates the two verdicts against CE, "yes" that its effect is small."""
    assert chapters.share_words("behind", "within", "within") == (
        "in part, and two readings differ: Output Reset moves sigmoid-MSE's accuracy by less than the margin, yet "
        "plain sigmoid-MSE trails softmax CE while sigmoid-MSE + OR is within the margin of it")
    assert chapters.share_words("behind", "within", "ahead").endswith("sigmoid-MSE + OR is ahead of it")
    assert chapters.share_words("behind", "within", "behind") == (
        "no: Output Reset moves sigmoid-MSE's accuracy by less than the margin, and plain sigmoid-MSE trails "
        "softmax CE")
    assert chapters.share_words("within", "within", "within").startswith("no: Output Reset moves")


def test_lr_sweep_table():
    frame = _frame([("sigmoid_mse", 0.1, 0, 0.5, 0.5, "ok"), ("sigmoid_mse", 1.0, 0, 0.9, 0.9, "ok"),
                    ("sigmoid_mse_or", 0.1, 0, 0.85, 0.85, "ok"),
                    ("sigmoid_mse_or", 1.0, 0, np.nan, np.nan, "diverged")])
    table = chapters.lr_sweep_table(frame, by=("dataset", "loss"))
    assert table.loc[("mnist", "sigmoid_mse"), "lr=1"] == 0.9
    assert table.loc[("mnist", "sigmoid_mse_or"), "diverged"] == 1
    assert table["usable lrs"].to_dict() == {("mnist", "sigmoid_mse"): 1, ("mnist", "sigmoid_mse_or"): 1}




def test_grid_edges_flags_rates_at_either_end():
    frame = _frame([(v, lr, 0, val, 0.5, "ok") for v, vals in (("a", (0.9, 0.5, 0.4)), ("b", (0.4, 0.9, 0.5)),
                                                                 ("c", (0.4, 0.5, 0.9)))
                    for lr, val in zip((0.01, 0.1, 1.0), vals)])
    report = frame.loc[frame.groupby("variant")["val_acc"].idxmax()]  # the rate each variant chose
    edges = chapters.grid_edges(report, frame)
    assert edges[["variant", "chosen_lr", "edge"]].values.tolist() == [["a", 0.01, "smallest"], ["c", 1.0, "largest"]]
    assert edges["added"].tolist() == ["", ""]  # every variant tried the same three rates


def test_grid_edges_lists_the_rates_only_some_groups_of_a_dataset_tried_and_says_so():
    """``a`` chose the largest of the shared grid, so the grid-edge rule trained it at 10 too, where its choice
    ends inside; ``b`` was extended below and still chose its new smallest rate. Another dataset's grid is its own."""
    rows = [(v, lr, 0, val, 0.5, "ok") for v, vals in (("a", (0.4, 0.5, 0.9, 0.8)), ("b", (0.9, 0.6, 0.5, 0.4)),
                                                         ("c", (0.4, 0.9, 0.5)))
            for lr, val in zip({"a": (0.01, 0.1, 1.0, 10.0), "b": (0.001, 0.01, 0.1, 1.0)}.get(v, (0.01, 0.1, 1.0)),
                               vals)]
    frame = pd.concat([_frame(rows), _frame([("a", 5.0, 0, 0.9, 0.5, "ok")]).assign(dataset="cifar10")],
                      ignore_index=True)
    report = frame.loc[frame.groupby(["dataset", "variant"])["val_acc"].idxmax()]
    edges = chapters.grid_edges(report, frame)
    assert edges[["dataset", "variant", "tried", "added", "chosen_lr", "edge"]].values.tolist() == [
        ["cifar10", "a", "5", "", 5.0, "only one tried"],
        ["mnist", "a", "0.01, 0.1, 1, 10", "10", 1.0, ""],
        ["mnist", "b", "0.001, 0.01, 0.1, 1", "0.001", 0.001, "smallest"]]
    assert chapters.common_rates(frame, ["variant"]) == {"cifar10": {5.0}, "mnist": {0.01, 0.1, 1.0}}
    assert chapters.grid_edge_text(edges, 4, "dataset and variant pairs") == (
        "The grid-edge rule added rates beyond the grid for 2 of the 4 dataset and variant pairs, whose best rate "
        "had sat at an edge; 2 of the 4 chosen rates are the smallest or largest tried, so the best rate may lie "
        "beyond (listed below).")
    assert chapters.grid_edge_text(edges.iloc[:0], 4, "pairs") == (
        "All 4 pairs tried the rates of their dataset's grid and no others; no chosen rate is the smallest or "
        "largest tried.")


def test_page_note():
    assert chapters.page_note([_record()], "smoke").startswith("SMOKE PROFILE")
    assert chapters.page_note([_record()], "quick").startswith("1 runs")


def test_page_note_counts_the_groups_of_paired_runs_that_ran_on_two_kinds_of_processor():
    """Seed 0's softmax CE and OR runs (at their own rates) ran on an Intel and an AMD processor, seed 1's both on
    AMD, and seed 2's OR run names no processor: one group of three pairing groups mixed processors, and the note
    says so; with no group mixed, or no processor recorded at all, it adds nothing."""
    def run(loss, seed, lr, cpu):
        provenance = {"git_commit": "abcdef1234567", "device_name": "CPU", "torch_version": "2.9",
                      "date": "2026-01-02T00:00:00+00:00"} | ({"processor": cpu + "; torch AVX512; avx2 fma"}
                                                             if cpu else {})
        return _record(loss=loss, seed=seed, lr=lr, provenance=provenance)

    records = [run("softmax_ce", 0, 0.001, "Intel Xeon"), run("sigmoid_mse_or", 0, 0.003, "AMD EPYC"),
               run("softmax_ce", 1, 0.001, "AMD EPYC"), run("sigmoid_mse_or", 1, 0.003, "AMD EPYC"),
               run("softmax_ce", 2, 0.001, "AMD EPYC"), run("sigmoid_mse_or", 2, 0.003, None),
               run("softmax_ce", 3, 0.001, "Intel Xeon")]  # seed 3 has no partner: no group
    assert chapters.mixed_processor_groups(records) == (1, 3)
    note = chapters.page_note(records, "full2")
    assert "\n1 of the 3 groups of runs that pair up" in note and "do not share their arithmetic bit for bit" in note
    assert "groups of runs" not in chapters.page_note(records[2:], "full2")
    unnamed = [run("softmax_ce", 0, 0.1, None), run("gce", 0, 0.1, None)]
    assert chapters.mixed_processor_groups(unnamed) == (0, 1)


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


# -- the runs' own setup and thread counts -------------------------------------------------


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
    """Threads and the kind of processor from the provenance (NaN and "processor not recorded" where a record has
    none), training examples from the metrics; the budget line reads every field from the runs, with mixed values
    listed and the rates tried by the selection seeds."""
    selection = [_setup_record("softmax_ce", seed, 0.9, threads=1, lr=lr) for seed in (0, 1) for lr in (0.001, 0.01)]
    report = [_setup_record("softmax_ce", seed, 0.9, threads=threads) for seed, threads in ((2, 2), (3, 1), (4, 2))]
    del report[0]["provenance"]["torch_threads"]
    report[1]["provenance"]["processor"] = "AMD EPYC (family 25 model 17 stepping 1); torch AVX512; avx avx2"
    frame = chapters.runs_frame(report)
    assert math.isnan(frame[chapters.THREADS].iloc[0]) and frame[chapters.THREADS].iloc[1:].tolist() == [1.0, 2.0]
    assert frame[chapters.PROCESSOR].tolist() == [UNRECORDED_PROCESSOR,
                                                  "AMD EPYC (family 25 model 17 stepping 1); torch AVX512",
                                                  UNRECORDED_PROCESSOR]
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
    assert accuracy.epoch_budgets(frame) == {"mnist": 3}
    with pytest.raises(ValueError, match=r"mnist runs trained for \[3, 12\] epochs"):
        accuracy.epoch_budgets(pd.concat([frame, sgd]))


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
