"""Tests of the noise chapter's memorisation check (sigmse.report.noise_analysis.flipped_fit) on made-up records shaped
like results/full/*.json: a loss fits the flipped labels when its seed-mean training accuracy on them ends at least
MEMORISATION_RISE above its lowest epoch; a curve that only falls, or rises by less, does not; a dataset without
label-noise runs says "not run yet"."""

from __future__ import annotations

import math

import pytest

from sigmse.report import analysis, noise_analysis


def _noisy_run(loss: str, seed: int, flipped: list[float], *, dataset: str = "mnist", kind: str = "symmetric",
               rate: float = 0.4) -> dict:
    """A stored label-noise record whose training accuracy on the flipped examples follows ``flipped`` per epoch."""
    history = [{"epoch": e + 1, "lr": 1e-3, "reset_fraction": None, "seconds": 1.0, "test_acc": 0.95,
                "train_acc": (1 - rate) * 0.97 + rate * f, "train_acc_clean": 0.97, "train_acc_flipped": f,
                "train_loss": 0.5, "val_acc": 0.6} for e, f in enumerate(flipped)]
    config = {"dataset": dataset, "loss": loss, "loss_options": {}, "lr": 1e-3, "seed": seed, "epochs": len(flipped),
              "label_noise": kind, "label_noise_rate": rate, "input_noise_sigma": 0.0}
    return {"hash": f"{dataset}-{kind}-{rate}-{loss}-{seed}", "status": "ok", "config": config, "history": history,
            "metrics": {"test_acc": 0.95, "val_acc": 0.6}}


def _fit(records: list[dict], **options):
    memory = noise_analysis.memorisation_history(analysis.history_frame(records))
    return noise_analysis.flipped_fit(memory, **options)


# falls as the true classes are learnt (epoch 1 to 3), then climbs back: the low is 0.01 at epoch 3
DIP_THEN_RISE = [0.10, 0.03, 0.01, 0.02, 0.04, 0.08, 0.12]


def test_a_rise_of_five_points_from_the_lowest_epoch_fits_and_the_first_epoch_is_not_the_reference():
    """Ending at 0.12 from a low of 0.01 is a rise of 11 pp: it fits. Against the first epoch (0.10) it would be
    only 2 pp, so a rule reading the first epoch would fail this test."""
    records = [_noisy_run("softmax_ce", s, [v + 0.002 * s for v in DIP_THEN_RISE]) for s in range(3)]
    row = _fit(records).iloc[0]
    assert noise_analysis.MEMORISATION_RISE == pytest.approx(0.05)  # 5 pp, as the noise chapter states
    assert (row["dataset"], row["setting"], row["loss"]) == ("mnist", "symmetric 0.4", "softmax_ce")
    assert row["lowest_epoch"] == 3 and row["epochs"] == 7 and row["seeds"] == 3
    assert row["acc_lowest"] == pytest.approx(0.012) and row["acc_end"] == pytest.approx(0.122)
    assert row["rise"] == pytest.approx(0.11) and row["rise_min"] == pytest.approx(0.11) and row["fits"]


def test_a_curve_that_only_falls_or_rises_less_than_five_points_does_not_fit():
    """Symmetric 0.8 falls throughout (its low is the last epoch: no rise); asymmetric 0.4 climbs back by 4 pp only.
    Neither fits, and the summary says so per setting, symmetric first."""
    falling = [0.10, 0.06, 0.04, 0.03, 0.02]
    small = [0.30, 0.20, 0.21, 0.22, 0.24]
    records = ([_noisy_run("softmax_ce", s, falling, rate=0.8) for s in range(2)]
               + [_noisy_run("softmax_ce", s, small, kind="asymmetric") for s in range(2)]
               + [_noisy_run("softmax_ce", s, DIP_THEN_RISE[:5] + [0.09, 0.2]) for s in range(2)])
    fit = _fit(records)
    assert fit["setting"].tolist() == ["symmetric 0.4", "symmetric 0.8", "asymmetric 0.4"]
    assert fit["fits"].tolist() == [True, False, False]
    assert fit["rise"].tolist() == pytest.approx([0.19, 0.0, 0.04])
    assert noise_analysis.flipped_fit_summary(fit) == (
        "mnist: yes at symmetric 0.4 (+19.0 pp); no at symmetric 0.8 (+0.0 pp), asymmetric 0.4 (+4.0 pp)")
    table = noise_analysis.flipped_fit_table(fit)
    assert table.iloc[:, -1].tolist() == ["yes", "no", "no"]
    assert table.iloc[2].tolist()[2:5] == ["20.0 (epoch 2)", "24.0", "+4.0 [+4.0, +4.0]"]


def test_only_the_asked_losses_are_read_and_a_dataset_without_noise_runs_is_not_run_yet():
    records = [_noisy_run(loss, 0, DIP_THEN_RISE) for loss in ("softmax_ce", "gce")]
    assert _fit(records)["loss"].tolist() == ["softmax_ce"]
    fit = _fit(records, datasets=["mnist", "fashion-mnist"], losses=["softmax_ce", "gce"])
    assert fit[["dataset", "loss"]].values.tolist() == [["mnist", "softmax_ce"], ["mnist", "gce"],
                                                        ["fashion-mnist", "softmax_ce"], ["fashion-mnist", "gce"]]
    missing = fit[fit["dataset"] == "fashion-mnist"]
    assert (missing["setting"] == "not run yet").all() and missing["fits"].isna().all()
    assert math.isnan(missing["rise"].iloc[0])
    assert noise_analysis.flipped_fit_table(fit).iloc[-1, -1] == "not run yet"
    assert noise_analysis.flipped_fit_summary(fit).endswith("| fashion-mnist: not run yet")


def test_one_epoch_cannot_tell():
    row = _fit([_noisy_run("softmax_ce", 0, [0.1])]).iloc[0]
    assert row["fits"] is None and math.isnan(row["rise"])
    single = _fit([_noisy_run("softmax_ce", 0, [0.1])])
    assert noise_analysis.flipped_fit_table(single).iloc[0, -1] == "cannot tell (one epoch)"
    assert noise_analysis.flipped_fit_summary(single) == "mnist: cannot tell at symmetric 0.4"
