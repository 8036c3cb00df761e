"""The experiment registry: plans from what is stored, every chapter's runs from the registry, unification too."""
from __future__ import annotations

import pytest

from sigmse.runs import experiments, protocol
from sigmse.runs.profiles import get_profile
from sigmse.runs.store import record_path, write_record
from sigmse.config import RunConfig
from sigmse.unification.config import UnificationConfig


def _record(config, val_acc: float | None, test_acc: float = 0.5, status: str = "ok") -> dict:
    metrics = {} if status != "ok" else {"val_acc": val_acc, "test_acc": test_acc}
    return {"hash": config.hash, "status": status, "config": config.to_dict(), "metrics": metrics}


def test_the_plan_waits_for_selection_runs_then_lists_the_reporting_runs(tmp_path):
    plan = experiments.plan_experiment("accuracy", "smoke", results_dir=tmp_path, datasets=["mnist"])
    smoke = get_profile("smoke")
    assert plan.report == [] and {c.seed for c in plan.selection} == set(smoke.selection_seeds)
    groups = {protocol.lr_group(c) for c in plan.selection}
    assert plan.report_count == plan.waiting == len(groups) * len(smoke.report_seeds)
    first = next(c for c in plan.selection if c.loss == "softmax_ce")  # one group's selection runs stored first
    for config in (c for c in plan.selection if protocol.lr_group(c) == protocol.lr_group(first)):
        write_record({**_record(config, 0.5), "schema_version": 1, "profile": "smoke", "history": [],
                      "provenance": {}}, record_path(config, "smoke", tmp_path))
    partial = experiments.plan_experiment("accuracy", "smoke", results_dir=tmp_path, datasets=["mnist"])
    assert {c.loss for c in partial.report} == {"softmax_ce"}  # that group's reporting runs are listed now
    assert partial.waiting == (len(groups) - 1) * len(smoke.report_seeds)
    for config in plan.selection:  # the larger rate wins on validation for every loss (rewrites the first group)
        record = _record(config, 0.9 if config.lr == max(smoke.budgets["mnist"].lr_grid) else 0.5)
        write_record({**record, "schema_version": 1, "profile": "smoke", "history": [], "provenance": {}},
                     record_path(config, "smoke", tmp_path))
    plan = experiments.plan_experiment("accuracy", "smoke", results_dir=tmp_path, datasets=["mnist"])
    assert len(plan.report) == plan.report_count
    assert {c.lr for c in plan.report} == {max(smoke.budgets["mnist"].lr_grid)}
    assert {c.seed for c in plan.report} == set(smoke.report_seeds)
    first, second, waiting = experiments.plan_stages(["accuracy", "lr_sweep"], "smoke", results_dir=tmp_path,
                                                  datasets=["mnist"])
    assert second == plan.report and waiting == 0
    assert {c.optimizer for c in first} == {"adam", "sgd"}  # lr_sweep chooses nothing: reported runs, stage one
    assert {c.seed for c in first if c.optimizer == "sgd"} == set(smoke.report_seeds)


def test_unknown_experiment_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'x'; choose one of: accuracy"):
        experiments.plan_experiment("x", "smoke", results_dir=tmp_path)


def test_a_grid_of_one_rate_chooses_nothing_and_reports_directly(tmp_path):
    plan = experiments.plan_experiment("noise", "full", results_dir=tmp_path, datasets=["mnist"])
    assert plan.selection == [] and {c.seed for c in plan.report} == set(get_profile("full").report_seeds)




def test_every_chapter_reads_registered_experiments_and_unification_is_one_of_them():
    assert "unification" in experiments.EXPERIMENTS
    for chapter in experiments.CHAPTERS.values():
        assert all(name in experiments.EXPERIMENTS for name in chapter.experiments)
    assert experiments.chapter_experiments("unification") == ("unification",)
    assert experiments.chapter_experiments("not-a-chapter") == ()
    with pytest.raises(ValueError, match="unknown experiment 'nope'; choose one of: accuracy"):
        experiments.Chapter("x", experiments=("nope",))


def test_each_config_class_has_its_kind_and_its_own_store_folder(tmp_path):
    assert experiments.run_kind(RunConfig()).config_type is RunConfig
    unification = UnificationConfig()
    assert experiments.run_kind(unification).record_fields == {"experiment": "unification"}
    assert record_path(unification, "smoke", tmp_path) == tmp_path / "smoke" / "unification" / f"{unification.hash}.json"
    assert record_path(RunConfig(), "smoke", tmp_path) == tmp_path / "smoke" / f"{RunConfig().hash}.json"
    with pytest.raises(TypeError, match="no kind of run for a dict; the kinds are: RunConfig, UnificationConfig"):
        experiments.run_kind({})


def test_unification_is_planned_like_every_experiment_and_chooses_by_its_validation_score(tmp_path):
    smoke = get_profile("smoke")
    plan = experiments.plan_experiment("unification", "smoke", results_dir=tmp_path)
    assert plan.report == [] and all(isinstance(c, UnificationConfig) for c in plan.selection)
    best = max(c.lr for c in plan.selection)
    for config in plan.selection:  # the larger rate wins for every method: val_acc and val_r2 higher there
        good = config.lr == best
        metrics = {"val_acc": 0.9 if good else 0.2, "val_r2_angle": 0.8 if good else 0.1, "test_acc": 0.5,
                   "test_rmse_angle": 10.0}
        write_record({"schema_version": 1, "hash": config.hash, "profile": "smoke", "config": config.to_dict(),
                      "experiment": "unification", "status": "ok", "history": [], "metrics": metrics,
                      "provenance": {}}, record_path(config, "smoke", tmp_path))
    plan = experiments.plan_experiment("unification", "smoke", results_dir=tmp_path)
    assert plan.waiting == 0 and {c.lr for c in plan.report} == {best}
    assert {c.seed for c in plan.report} == set(smoke.report_seeds)
    assert {c.method for c in plan.report} == {c.method for c in plan.selection}
    with pytest.raises(ValueError, match="runs on mnist only"):
        experiments.plan_experiment("unification", "smoke", results_dir=tmp_path, datasets=["cifar10"])


def test_the_sweep_estimate_counts_what_is_stored_and_what_waits(tmp_path):
    """Nothing stored: every selection run is listed and to train, and the reporting runs wait; the cost comes
    from the measured table. Storing one selection run takes it off the runs to train."""
    empty = experiments.estimate_sweep(["accuracy"], "smoke", results_dir=tmp_path, datasets=["mnist"])
    plan = experiments.plan_experiment("accuracy", "smoke", results_dir=tmp_path, datasets=["mnist"])
    assert (empty.listed, empty.stored, empty.waiting) == (len(plan.selection), 0, plan.waiting)
    assert empty.to_train == empty.total == len(plan.selection) + plan.waiting
    assert empty.seconds > 0 and empty.source == "measured table"
    first = plan.selection[0]
    write_record({**_record(first, 0.5), "schema_version": 1, "profile": "smoke", "history": [], "provenance": {}},
                 record_path(first, "smoke", tmp_path))
    after = experiments.estimate_sweep(["accuracy"], "smoke", results_dir=tmp_path, datasets=["mnist"])
    assert after.stored == 1 and after.to_train == empty.to_train - 1 and after.seconds < empty.seconds


@pytest.mark.parametrize(("seconds", "text"), [(0.0, "0 minutes"), (1499.0, "25 minutes"), (3599.0, "60 minutes"),
                                              (3600.0, "1.0 hours"), (14_400.0, "4.0 hours")])
def test_the_estimate_reads_in_minutes_under_an_hour_and_in_hours_above(seconds, text):
    """A quick book's few minutes must not print as "0.0 hours"."""
    assert experiments.SweepEstimate(1, 0, 0, seconds, "measured table").duration_text == text


def test_waiting_reporting_runs_are_priced_by_their_group_and_a_shared_group_waits_once(tmp_path):
    """With nothing stored, each waiting reporting run has a stand-in: its group's first selection run with the
    reporting seed, which becomes the real run once the rate is chosen. The sweep estimate is the table's
    price of the selection runs and the stand-ins, each once though the accuracy table and the ablation share
    plain sigmoid-MSE. On quick, a CIFAR-10 run costs more than an MNIST one and its grid has fewer rates, so
    pricing the waiting runs at the average selection run would come out lower."""
    names, options = ["accuracy", "output_reset"], dict(results_dir=tmp_path, datasets=["mnist", "cifar10"])
    plans = [experiments.plan_experiment(name, "quick", **options) for name in names]
    selection = list({c.hash: c for plan in plans for c in plan.selection}.values())
    stand_ins = list({c.hash: c for plan in plans for c in plan.stand_ins}.values())
    assert len(stand_ins) < sum(plan.waiting for plan in plans)  # the shared group
    assert experiments.plan_stages(names, "quick", **options)[2] == len(stand_ins)
    per_run = {"mnist": protocol.MEASURED_SECONDS_PER_IMAGE[("mnist", "mlp")] * 5000 * 3,  # quick: 5000 images,
               "cifar10": protocol.MEASURED_SECONDS_PER_IMAGE[("cifar10", "mlp")] * 5000 * 3}  # 3 epochs
    estimate = experiments.estimate_sweep(names, "quick", **options)
    assert estimate.waiting == len(stand_ins)
    assert estimate.seconds == pytest.approx(sum(per_run[c.dataset] for c in selection + stand_ins))
    average = sum(per_run[c.dataset] for c in selection) / len(selection)
    assert estimate.seconds > sum(per_run[c.dataset] for c in selection) + average * len(stand_ins)
    best = max(get_profile("quick").budgets["mnist"].lr_grid)
    for config in (c for c in plans[0].selection if c.dataset == "mnist"):
        record = _record(config, 0.9 if config.lr == best else 0.5)
        write_record({**record, "schema_version": 1, "profile": "quick", "history": [], "provenance": {}},
                     record_path(config, "quick", tmp_path))
    report = experiments.plan_experiment("accuracy", "quick", **options).report
    assert [c.hash for c in report] == [c.with_(lr=best).hash for c in plans[0].stand_ins if c.dataset == "mnist"]


def _timed(config, end: str, train_seconds: float, wall_seconds: float, threads: int, status: str = "ok") -> dict:
    metrics = {"val_acc": 0.5, "test_acc": 0.5, "val_r2_angle": 0.5, "test_rmse_angle": 9.0,
               "train_seconds": train_seconds, "n_train": 512, "epochs_run": 1}
    return {"schema_version": 1, "hash": config.hash, "profile": "smoke", "config": config.to_dict(),
            **experiments.run_kind(config).record_fields, "status": status, "history": [], "metrics": metrics,
            "provenance": {"date": end, "wall_seconds": wall_seconds, "torch_threads": threads}}


def test_sweep_costs_price_every_planned_run_from_the_table_and_sum_what_the_records_measured(tmp_path):
    """Per experiment and dataset, and once per run in all: runs planned (waiting ones included), stored ones
    (a failed record is not), diverged, the table's price of all and of the stored runs, and the sums of
    train_seconds and wall_seconds; the span of the dates, and the union of the run intervals."""
    names, options = ["accuracy", "output_reset", "unification"], dict(results_dir=tmp_path, datasets=["mnist"])
    accuracy, ablation, unification = (experiments.plan_experiment(n, "smoke", **options) for n in names)
    shared = [c for c in accuracy.selection if c.hash in {o.hash for o in ablation.selection}]
    assert shared  # plain sigmoid-MSE, in both
    ce = [c for c in accuracy.selection if c.loss == "softmax_ce"]
    stored = [(ce[0], "2026-01-01T10:00:12+00:00", 10.0, 12.0, 1, "ok"),
              (ce[1], "2026-01-01T10:00:10+00:00", 2.0, 3.0, 1, "diverged"),  # inside the first run's interval
              (shared[0], "2026-01-01T11:00:00+00:00", 5.0, 6.0, 2, "ok"),
              (unification.selection[0], "2026-01-01T12:00:00+00:00", 4.0, 5.0, 1, "ok")]
    for config, *timing in stored:
        write_record(_timed(config, *timing), record_path(config, "smoke", tmp_path))
    failed = next(c for c in accuracy.selection if c.loss not in ("softmax_ce", "sigmoid_mse"))
    write_record({**_timed(failed, "2026-01-01T13:00:00+00:00", 1.0, 1.0, 1, "failed"), "metrics": {},
                  "error": {"type": "OSError", "message": "disk"}}, record_path(failed, "smoke", tmp_path))

    costs = experiments.sweep_costs(names, "smoke", **options)
    per_run = protocol.MEASURED_SECONDS_PER_IMAGE[("mnist", "mlp")] * 512  # every run here: 512 images, 1 epoch
    rows = {(row.experiment, row.dataset): row for row in costs.rows}
    assert list(rows) == [("accuracy", "mnist"), ("output_reset", "mnist"), ("unification", "mnist")]
    for name, plan in zip(names, (accuracy, ablation, unification)):
        row = rows[(name, "mnist")]
        assert row.planned == len(plan.selection) + plan.report_count
        assert row.estimated_seconds == pytest.approx(per_run * row.planned) and row.untimed == 0
    acc, abl, uni, total = rows[("accuracy", "mnist")], rows[("output_reset", "mnist")], rows[("unification",
                                                                                             "mnist")], costs.total
    assert (acc.stored, acc.diverged, acc.train_seconds, acc.wall_seconds) == (3, 1, 17.0, 21.0)
    assert acc.estimated_measured_seconds == pytest.approx(3 * per_run)
    assert acc.threads == (experiments.ThreadCosts(1, 2, 12.0, pytest.approx(2 * per_run)),
                           experiments.ThreadCosts(2, 1, 5.0, pytest.approx(per_run)))
    assert (abl.stored, abl.train_seconds, [(t.threads, t.runs) for t in abl.threads]) == (1, 5.0, [(2, 1)])
    assert (uni.stored, uni.train_seconds, uni.wall_seconds) == (1, 4.0, 5.0)
    assert total.planned == len({c.hash for p in (accuracy, ablation, unification)
                                 for c in p.selection + p.report + p.stand_ins})
    assert total.planned < acc.planned + abl.planned + uni.planned
    assert (total.stored, total.diverged, total.train_seconds, total.wall_seconds) == (4, 1, 21.0, 26.0)
    assert total.estimated_seconds == pytest.approx(per_run * total.planned)
    assert (costs.first_start, costs.last_end) == ("2026-01-01T10:00:00+00:00", "2026-01-01T12:00:00+00:00")
    assert costs.busy_seconds == pytest.approx(12.0 + 6.0 + 5.0)


def test_sweep_costs_count_runs_the_table_cannot_price_and_say_nothing_stored(tmp_path):
    costs = experiments.sweep_costs(["accuracy"], "smoke", results_dir=tmp_path, datasets=["cifar10"])
    (row,) = costs.rows  # smoke trains resnet9_small on CIFAR-10, which the table never timed
    assert row.untimed == row.planned > 0 and row.estimated_seconds == 0.0
    assert (row.stored, row.train_seconds, costs.first_start, costs.busy_seconds) == (0, 0.0, None, 0.0)
