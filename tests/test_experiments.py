"""The experiment registry: plans from what is stored, every chapter's runs from the registry, unification too."""
from __future__ import annotations

from dataclasses import replace

import pytest

from sigmse.runs import experiments, protocol
from sigmse.runs.experiments import PlanOptions
from sigmse.runs.profiles import ACCURACY_LOSSES, get_profile
from sigmse.runs.store import record_path, write_record
from sigmse.config import RunConfig
from sigmse.unification.config import UnificationConfig


def _record(config, val_acc: float | None, test_acc: float = 0.5, status: str = "ok") -> dict:
    metrics = {} if status != "ok" else {"val_acc": val_acc, "test_acc": test_acc}
    return {"hash": config.hash, "status": status, "config": config.to_dict(), "metrics": metrics}


def test_the_plan_waits_for_selection_runs_then_lists_the_reporting_runs(tmp_path):
    plan = experiments.plan_experiment("accuracy", "smoke", PlanOptions(tmp_path, datasets=["mnist"]))
    smoke = get_profile("smoke")
    assert plan.report == [] and {c.seed for c in plan.selection} == set(smoke.selection_seeds)
    groups = {protocol.lr_group(c) for c in plan.selection}
    assert plan.report_count == plan.waiting == len(groups) * len(smoke.report_seeds)
    first = next(c for c in plan.selection if c.loss == "softmax_ce")  # one group's selection runs stored first
    for config in (c for c in plan.selection if protocol.lr_group(c) == protocol.lr_group(first)):
        write_record({**_record(config, 0.5), "schema_version": 1, "profile": "smoke", "history": [],
                      "provenance": {}}, record_path(config, "smoke", tmp_path))
    partial = experiments.plan_experiment("accuracy", "smoke", PlanOptions(tmp_path, datasets=["mnist"]))
    assert {c.loss for c in partial.report} == {"softmax_ce"}  # that group's reporting runs are listed now
    assert partial.waiting == (len(groups) - 1) * len(smoke.report_seeds)
    for config in plan.selection:  # the larger rate wins on validation for every loss (rewrites the first group)
        record = _record(config, 0.9 if config.lr == max(smoke.budgets["mnist"].lr_grid) else 0.5)
        write_record({**record, "schema_version": 1, "profile": "smoke", "history": [], "provenance": {}},
                     record_path(config, "smoke", tmp_path))
    plan = experiments.plan_experiment("accuracy", "smoke", PlanOptions(tmp_path, datasets=["mnist"]))
    assert len(plan.report) == plan.report_count
    assert {c.lr for c in plan.report} == {max(smoke.budgets["mnist"].lr_grid)}
    assert {c.seed for c in plan.report} == set(smoke.report_seeds)
    plans = experiments.sweep_plans(["accuracy", "lr_sweep"], "smoke", PlanOptions(tmp_path, ["mnist"]))
    first, second, waiting = experiments.plan_stages(plans)
    assert second == plan.report and waiting == 0
    assert {c.optimizer for c in first} == {"adam", "sgd"}  # lr_sweep chooses nothing: reported runs, stage one
    assert {c.seed for c in first if c.optimizer == "sgd"} == set(smoke.report_seeds)


def test_plan_options_are_typed_and_equal_options_are_one_key(tmp_path):
    """A chapter's parameters arrive as lists (papermill, JSON); the options keep them as tuples, so the plans of
    chapters given the same values are one entry of a dict, and a bare string or number is refused."""
    given = PlanOptions(tmp_path, datasets=["mnist"], seeds=[2, 3])
    assert given.datasets == ("mnist",) and given.seeds == (2, 3) and given.selection_seeds is None
    assert {given: 1, PlanOptions(tmp_path, datasets=("mnist",), seeds=(2, 3)): 2} == {given: 2}
    with pytest.raises(ValueError, match="datasets must be a list, got 'mnist'"):
        PlanOptions(tmp_path, datasets="mnist")
    with pytest.raises(ValueError, match="seeds must be a list, got 3"):
        PlanOptions(tmp_path, seeds=3)


def test_unknown_experiment_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'x'; choose one of: accuracy"):
        experiments.plan_experiment("x", "smoke", PlanOptions(tmp_path))


def test_a_grid_of_one_rate_chooses_nothing_and_reports_directly(tmp_path):
    plan = experiments.plan_experiment("noise", "full", PlanOptions(tmp_path, datasets=["mnist"]))
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
    plan = experiments.plan_experiment("unification", "smoke", PlanOptions(tmp_path))
    assert plan.report == [] and all(isinstance(c, UnificationConfig) for c in plan.selection)
    best = max(c.lr for c in plan.selection)
    for config in plan.selection:  # the larger rate wins for every method: val_acc and val_r2 higher there
        good = config.lr == best
        metrics = {"val_acc": 0.9 if good else 0.2, "val_r2_angle": 0.8 if good else 0.1, "test_acc": 0.5,
                   "test_rmse_angle": 10.0}
        write_record({"schema_version": 1, "hash": config.hash, "profile": "smoke", "config": config.to_dict(),
                      "experiment": "unification", "status": "ok", "history": [], "metrics": metrics,
                      "provenance": {}}, record_path(config, "smoke", tmp_path))
    plan = experiments.plan_experiment("unification", "smoke", PlanOptions(tmp_path))
    assert plan.waiting == 0 and {c.lr for c in plan.report} == {best}
    assert {c.seed for c in plan.report} == set(smoke.report_seeds)
    assert {c.method for c in plan.report} == {c.method for c in plan.selection}
    with pytest.raises(ValueError, match="runs on mnist only"):
        experiments.plan_experiment("unification", "smoke", PlanOptions(tmp_path, datasets=["cifar10"]))


def test_the_sweep_estimate_counts_what_is_stored_and_what_waits(tmp_path):
    """Nothing stored: every selection run is listed and to train, and the reporting runs wait; the cost comes
    from the measured table. Storing one selection run takes it off the runs to train."""
    plan = experiments.plan_experiment("accuracy", "smoke", PlanOptions(tmp_path, datasets=["mnist"]))
    empty = experiments.estimate_sweep([plan], "smoke", PlanOptions(tmp_path), threads=1)
    assert (empty.listed, empty.stored, empty.waiting) == (len(plan.selection), 0, plan.waiting)
    assert empty.to_train == empty.total == len(plan.selection) + plan.waiting
    assert empty.seconds > 0 and empty.source == "measured table"
    assert empty.train_seconds > 0 and empty.evaluate_seconds > 0 and (empty.jobs, empty.threads) == (1, 1)
    first = plan.selection[0]
    write_record({**_record(first, 0.5), "schema_version": 1, "profile": "smoke", "history": [], "provenance": {}},
                 record_path(first, "smoke", tmp_path))
    plans = experiments.sweep_plans(["accuracy"], "smoke", PlanOptions(tmp_path, datasets=["mnist"]))
    after = experiments.estimate_sweep(plans, "smoke", PlanOptions(tmp_path), threads=1)
    assert after.stored == 1 and after.to_train == empty.to_train - 1 and after.seconds < empty.seconds
    two = experiments.estimate_sweep(plans, "smoke", PlanOptions(tmp_path), threads=1, jobs=2)
    assert two.seconds == after.seconds and two.wall_seconds == after.seconds / 2


def test_the_estimate_says_training_and_evaluation_apart_and_the_wall_clock_of_its_jobs():
    estimate = experiments.SweepEstimate(10, 0, 0, 12 * 3600.0, "measured table", evaluate_seconds=3 * 3600.0,
                                         setup_seconds=360.0, jobs=2, threads=1)
    assert estimate.train_seconds == pytest.approx(12 * 3600.0 - 3 * 3600.0 - 360.0)
    assert estimate.parts_text == ("12.0 hours: 8.9 hours training, 3.0 hours evaluating, 6 minutes loading data, "
                                   "summed over runs; with 2 jobs of 1 torch thread side by side, 6.0 hours of "
                                   "wall-clock")
    assert experiments.sweep_threads(2, 3) == 3 and experiments.sweep_threads(64) >= 1


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
    names, options = ["accuracy", "output_reset"], PlanOptions(tmp_path, datasets=["mnist", "cifar10"])
    plans = [experiments.plan_experiment(name, "quick", options) for name in names]
    selection = list({c.hash: c for plan in plans for c in plan.selection}.values())
    stand_ins = list({c.hash: c for plan in plans for c in plan.stand_ins}.values())
    assert len(stand_ins) < sum(plan.waiting for plan in plans)  # the shared group
    assert experiments.plan_stages(plans)[2] == len(stand_ins)
    table = {d: protocol.MEASURED_IMAGE_COSTS[(d, "mlp", 1)] for d in ("mnist", "cifar10")}
    # quick: 5000 images, 3 epochs; each epoch evaluates the validation split 4 times and the test set once
    per_run = {"mnist": table["mnist"].train * 5000 * 3 + table["mnist"].evaluate * 3 * (4 * 5000 + 10_000),
               "cifar10": table["cifar10"].train * 5000 * 3 + table["cifar10"].evaluate * 3 * (4 * 2000 + 5000)}
    per_run = {dataset: seconds + table[dataset].setup for dataset, seconds in per_run.items()}
    estimate = experiments.estimate_sweep(plans, "quick", PlanOptions(tmp_path), threads=1)
    assert estimate.waiting == len(stand_ins)
    assert estimate.seconds == pytest.approx(sum(per_run[c.dataset] for c in selection + stand_ins))
    average = sum(per_run[c.dataset] for c in selection) / len(selection)
    assert estimate.seconds > sum(per_run[c.dataset] for c in selection) + average * len(stand_ins)
    best = max(get_profile("quick").budgets["mnist"].lr_grid)
    for config in (c for c in plans[0].selection if c.dataset == "mnist"):
        record = _record(config, 0.9 if config.lr == best else 0.5)
        write_record({**record, "schema_version": 1, "profile": "quick", "history": [], "provenance": {}},
                     record_path(config, "quick", tmp_path))
    report = experiments.plan_experiment("accuracy", "quick", options).report
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
    names, options = ["accuracy", "output_reset", "unification"], PlanOptions(tmp_path, datasets=["mnist"])
    accuracy, ablation, unification = (experiments.plan_experiment(n, "smoke", options) for n in names)
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

    costs = experiments.sweep_costs(names, "smoke", options, threads=1)
    recorded = {config.hash: threads for config, _, _, _, threads, _ in stored}  # a stored run: its own threads

    def price(configs, part="total"):  # the table's, a run not stored at the sweep's 1 thread
        return sum(getattr(protocol.run_seconds(c, threads=recorded.get(c.hash, 1)), part) for c in configs)

    rows = {(row.experiment, row.dataset): row for row in costs.rows}
    assert list(rows) == [("accuracy", "mnist"), ("output_reset", "mnist"), ("unification", "mnist")]
    for name, plan in zip(names, (accuracy, ablation, unification)):
        row = rows[(name, "mnist")]
        assert row.planned == len(plan.selection) + plan.report_count
        planned = {c.hash: c for c in plan.selection + plan.report + plan.stand_ins}.values()
        assert row.estimated_seconds == pytest.approx(price(planned)) and row.untimed == 0
        assert row.estimated_evaluate_seconds == pytest.approx(price(planned, "evaluate")) and price(planned, "evaluate")
    acc, abl, uni, total = rows[("accuracy", "mnist")], rows[("output_reset", "mnist")], rows[("unification",
                                                                                             "mnist")], costs.total
    assert (acc.stored, acc.diverged, acc.train_seconds, acc.wall_seconds) == (3, 1, 17.0, 21.0)
    assert acc.estimated_measured_seconds == pytest.approx(price([ce[0], ce[1], shared[0]], "train"))
    assert acc.estimated_measured_wall_seconds == pytest.approx(price([ce[0], ce[1], shared[0]]))
    assert acc.threads == (experiments.ThreadCosts(1, 2, 12.0, pytest.approx(price(ce[:2], "train")), 15.0,
                                                   pytest.approx(price(ce[:2]))),
                           experiments.ThreadCosts(2, 1, 5.0, pytest.approx(price(shared[:1], "train")), 6.0,
                                                   pytest.approx(price(shared[:1]))))
    assert (abl.stored, abl.train_seconds, [(t.threads, t.runs) for t in abl.threads]) == (1, 5.0, [(2, 1)])
    assert (uni.stored, uni.train_seconds, uni.wall_seconds) == (1, 4.0, 5.0)
    assert total.planned == len({c.hash for p in (accuracy, ablation, unification)
                                 for c in p.selection + p.report + p.stand_ins})
    assert total.planned < acc.planned + abl.planned + uni.planned
    assert (total.stored, total.diverged, total.train_seconds, total.wall_seconds) == (4, 1, 21.0, 26.0)
    assert total.estimated_seconds == pytest.approx(price({c.hash: c for p in (accuracy, ablation, unification)
                                                           for c in p.selection + p.report + p.stand_ins}.values()))
    assert (costs.first_start, costs.last_end) == ("2026-01-01T10:00:00+00:00", "2026-01-01T12:00:00+00:00")
    assert costs.busy_seconds == pytest.approx(12.0 + 6.0 + 5.0)
    assert costs.processors == (("processor not recorded", 4),)  # these hand-made records name no processor


def test_sweep_costs_count_runs_the_table_cannot_price_and_say_nothing_stored(tmp_path):
    costs = experiments.sweep_costs(["accuracy"], "smoke", PlanOptions(tmp_path, datasets=["cifar10"]))
    (row,) = costs.rows  # smoke trains resnet9_small on CIFAR-10, which the table never timed
    assert row.untimed == row.planned > 0 and row.estimated_seconds == 0.0
    assert (row.stored, row.train_seconds, costs.first_start, costs.busy_seconds) == (0, 0.0, None, 0.0)


# ---- the grid-edge rule, shared rates, pilots' seeds and fixed threads (protocol v2) ------------------------


EDGE = replace(get_profile("smoke"), name="edge", lr_grid_extensions=3)


def _edge_val(config) -> float:
    """Softmax CE gains with every larger rate (its best always the largest: the rule adds 0.01, 0.03, 0.1, then
    stops at its limit); every other loss peaks at 1e-3, the smallest of its grid until 3e-4 is added below it."""
    if config.loss == "softmax_ce":
        return 0.5 + config.lr
    return {3e-4: 0.7, 1e-3: 0.8}.get(config.lr, 0.6)


def _store_all(configs, profile_name: str, results_dir, val=_edge_val) -> list[dict]:
    """Store an 'ok' record of each run, with validation accuracy ``val(config)``; return the records."""
    records = []
    for config in configs:
        record = {**_record(config, val(config)), "schema_version": 1, "profile": profile_name, "history": [],
                  "provenance": {}}
        write_record(record, record_path(config, profile_name, results_dir))
        records.append(record)
    return records


def test_the_grid_edge_rule_adds_the_next_half_decade_rate_beyond_an_edge_until_its_limit(tmp_path):
    options = PlanOptions(tmp_path, datasets=["mnist"])
    plan = experiments.plan_experiment("accuracy", EDGE, options)
    base = list(plan.selection)
    assert plan.extensions == [] and plan.report == [] and plan.waiting == 5  # nothing stored: all wait
    _store_all(base, "edge", tmp_path)
    plan = experiments.plan_experiment("accuracy", EDGE, options)
    added = {(e.group, e.side, e.lr) for e in plan.extensions}
    assert added == {("mnist/mlp/softmax_ce", "above", 0.01)} | {
        (f"mnist/mlp/{loss}", "below", 0.0003) for loss in ("sigmoid_mse", "sigmoid_mse_or", "softmax_mse",
                                                             "rescaled_square")}
    ce = next(e for e in plan.extensions if e.side == "above")
    assert str(ce) == ("mnist/mlp/softmax_ce: added lr 0.01 above its grid (addition 1; best mean selection score "
                       "0.5030 at 0.003, the largest of 0.001, 0.003)")
    assert plan.selection[:len(base)] == base and len(plan.selection) == len(base) + 5
    assert plan.report == [] and plan.waiting == 5  # every grid grows: its reporting runs wait
    rounds = 1
    while True:  # store what each plan lists, as a sweep does, until the plans stop growing
        _store_all(plan.selection, "edge", tmp_path)
        grown = experiments.plan_experiment("accuracy", EDGE, options)
        if [c.hash for c in grown.selection] == [c.hash for c in plan.selection]:
            break
        plan, rounds = grown, rounds + 1
        if rounds == 2:  # 3e-4 lost for the other losses: they report at 1e-3 while softmax CE still grows
            assert {(c.loss, c.lr) for c in plan.report} == {(loss, 1e-3) for loss in
                                                          ("sigmoid_mse", "sigmoid_mse_or", "softmax_mse",
                                                           "rescaled_square")}
            assert plan.waiting == 1
    plan = grown
    assert rounds == 3 and plan.waiting == 0
    assert [e.lr for e in plan.extensions if e.group == "mnist/mlp/softmax_ce"] == [0.01, 0.03, 0.1]
    assert {(c.loss, c.lr, c.seed) for c in plan.report} == {("softmax_ce", 0.1, 1)} | {
        (loss, 1e-3, 1) for loss in ("sigmoid_mse", "sigmoid_mse_or", "softmax_mse", "rescaled_square")}
    choices = {choice.group: choice for choice in plan.choices}
    assert choices["mnist/mlp/softmax_ce"] == experiments.GroupChoice("mnist/mlp/softmax_ce",
                                                                     (0.001, 0.003, 0.01, 0.03, 0.1), 0.1, 3)
    assert choices["mnist/mlp/sigmoid_mse"].grid == (0.0003, 0.001, 0.003)
    assert [c.group for c in plan.edge_choices] == ["mnist/mlp/softmax_ce"]  # at the limit, still the largest
    assert plan.edge_choices[0].edge == "largest" and choices["mnist/mlp/sigmoid_mse"].edge is None
    # without the rule (the smoke profile itself) the same store chooses inside the given grid only
    same = experiments.plan_experiment("accuracy", replace(EDGE, lr_grid_extensions=0), options)
    assert same.extensions == [] and {c.lr for c in same.report} == {0.003, 0.001}


def test_sweep_stages_and_run_experiment_repeat_the_selection_until_no_rate_is_added(tmp_path):
    calls = []

    def run(configs):
        calls.append(len(configs))
        return _store_all(configs, "edge", tmp_path)

    options = PlanOptions(tmp_path, datasets=["mnist"])
    outcomes = experiments.sweep_stages(experiments.sweep_plans(["accuracy"], EDGE, options), EDGE, run, options)
    assert calls == [10, 15, 16, 17, 5] and len(outcomes) == 5  # 4 selection rounds (3 of them added), reports
    calls.clear()
    records = experiments.run_experiment("accuracy", EDGE, run, options)
    assert calls == [17, 5] and len(records.selection) == 17 and len(records.report) == 5


def test_a_noise_setting_can_take_the_rates_another_setting_chose_and_train_reporting_seeds_only(tmp_path):
    profile = replace(get_profile("smoke"), name="shared", noise_lr_grids={"mnist": (1e-3, 3e-3)},
                      noise_losses={"mnist": ("softmax_ce", "gce")},
                      noise_shared_rates={"mnist": {"asymmetric 0.4": "symmetric 0.4"}})
    plan = experiments.plan_experiment("noise", profile, PlanOptions(tmp_path))
    assert {(c.loss, c.label_noise) for c in plan.selection} == {
        (loss, kind) for loss in ("softmax_ce", "gce") for kind in ("none", "symmetric")}  # asymmetric chooses nothing
    assert len(plan.selection) == 3 * 2 * 2 and plan.waiting == (3 * 2 + 2) * 1  # clean, symmetric, input 0.4
    _store_all(plan.selection, "shared", tmp_path,
               val=lambda c: 0.9 if c.lr == 3e-3 and c.label_noise == "symmetric" else 0.5)
    plan = experiments.plan_experiment("noise", profile, PlanOptions(tmp_path))
    asymmetric = [c for c in plan.report if c.label_noise == "asymmetric"]
    assert {(c.loss, c.lr, c.seed, c.label_noise_rate) for c in asymmetric} == {
        (loss, 3e-3, 1, 0.4) for loss in ("softmax_ce", "gce")}  # symmetric 0.4's choice, reporting seed only
    shared = [choice for choice in plan.choices if choice.shared_from]
    assert [(c.group, c.shared_from, c.chosen) for c in shared] == [
        (f"mnist/mlp/{loss} asymmetric 0.4", f"mnist/mlp/{loss} symmetric 0.4", 3e-3) for loss in ("softmax_ce", "gce")]
    assert {c.loss for c in experiments.plan_experiment("accuracy", profile, PlanOptions(tmp_path)).selection} == set(
        ACCURACY_LOSSES)  # the accuracy runs keep their own losses


def test_sweep_dry_run_lists_each_rate_the_grid_edge_rule_added(tmp_path, capsys, monkeypatch):
    from sigmse.cli import main
    from sigmse.runs import profiles

    monkeypatch.setitem(profiles.PROFILES, "edge", EDGE)
    monkeypatch.delenv("SIGMSE_DATA_DIR", raising=False)  # a dry run reads no data
    argv = ["sweep", "--profile", "edge", "--only", "accuracy", "--datasets", "mnist", "--results-dir", str(tmp_path),
            "--dry-run"]
    _store_all(experiments.plan_experiment("accuracy", EDGE, PlanOptions(tmp_path, datasets=["mnist"])).selection,
               "edge", tmp_path)
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("grid-edge rule:")]
    assert len(lines) == 5 and "grid-edge rule: mnist/mlp/softmax_ce: added lr 0.01 above its grid" in lines[0]
    for _ in range(3):
        _store_all(experiments.plan_experiment("accuracy", EDGE, PlanOptions(tmp_path, datasets=["mnist"])).selection,
                   "edge", tmp_path)
    assert main(argv) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("grid-edge rule:")]
    assert len(lines) == 3 + 4 + 1 and lines[-1] == (
        "grid-edge rule: mnist/mlp/softmax_ce: chosen lr 0.1 is still the largest of its grid after 3 additions, "
        "the profile's limit")


def test_a_pilot_trains_with_the_selection_seeds_whatever_reporting_seeds_are_asked_for(tmp_path):
    from sigmse.runs.profiles import EpochPilot

    profile = replace(get_profile("smoke"), epoch_pilot={"mnist": EpochPilot(1e-3, (1, 2))})
    plan = experiments.plan_experiment("epoch_pilot", profile, PlanOptions(tmp_path, seeds=[8, 9]))
    assert {c.seed for c in plan.report} == set(profile.selection_seeds)
    with pytest.raises(ValueError, match="a pilot chooses no learning rate"):
        experiments.Experiment("x", "x", lambda profile, **_: [], pilot=True)


def test_a_sweep_thread_count_that_contradicts_a_run_s_own_is_refused_before_any_work(tmp_path):
    from sigmse.runs.executors import run_configs

    config = RunConfig(train_subset=512, val_size=500, epochs=1, threads=1)
    with pytest.raises(ValueError, match=r"--threads 2 contradicts the runs' own torch threads: run .* fixes "
                                         r"threads=1 in its configuration"):
        run_configs([config, RunConfig()], profile="smoke", results_dir=tmp_path, threads=2)
    assert not any(tmp_path.iterdir())


@pytest.mark.shared_data
def test_a_run_with_fixed_threads_trains_with_them_and_its_record_rebuilds_the_same_config(tmp_path, shared_data_dir):
    import torch

    from sigmse.config import config_from_dict
    from sigmse.runs.executors import run_configs

    before = torch.get_num_threads()
    config = RunConfig(train_subset=512, val_size=500, test_subset=1000, epochs=1, threads=1, device="cpu")
    summary = run_configs([config], profile="smoke", results_dir=tmp_path, data_dir=shared_data_dir, threads=1)
    assert summary.ok and torch.get_num_threads() == before
    record = experiments.load_record(config, "smoke", tmp_path)
    assert record["config"]["threads"] == 1 and record["provenance"]["torch_threads"] == 1
    assert config_from_dict(record["config"]) == config and record["hash"] == config.hash
    assert config.hash != config.with_(threads=None).hash and "threads" not in config.with_(threads=None).to_dict()
