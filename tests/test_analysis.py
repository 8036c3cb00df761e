"""Tests of sigmse.report.analysis against hand-computed numbers, on small hand-made records (no training).

Hand computations used below:

* mean 0.92, sample std 0.02 of [0.90, 0.92, 0.94]; the 95% Student-t quantile with 2 dof is 4.302652729911275,
  so the half-width is 4.302652729911275 * 0.02 / sqrt(3) = 0.0496827...
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scipy")

from sigmse.report import analysis  # noqa: E402

T_975_2DOF = 4.302652729911275


def _record(*, loss="softmax_ce", options=None, lr=0.1, seed=0, dataset="mnist", status="ok", test_acc=0.9,
            val_acc=0.9, history=None, extra_metrics=None, provenance=None):
    config = {"dataset": dataset, "model": "mlp", "loss": loss, "loss_options": options or {}, "lr": lr,
              "optimizer": "adam", "epochs": 3, "seed": seed, "label_noise": "none", "label_noise_rate": 0.0,
              "input_noise_sigma": 0.0, "input_noise_at": "both"}
    metrics = {"train_seconds": 1.5}
    if status == "ok":
        metrics.update(test_acc=test_acc, val_acc=val_acc, test_nll=0.3, test_ece=0.02, **(extra_metrics or {}))
    return {"hash": f"{loss}-{lr}-{seed}-{dataset}", "profile": "quick", "config": config, "status": status,
            "history": history or [], "metrics": metrics,
            "provenance": provenance or {"git_commit": "abcdef1234567", "git_dirty": False, "device_name": "CPU",
                                         "torch_version": "2.9", "date": "2026-01-02T00:00:00+00:00"}}


def _frame(rows):
    """A runs frame from (variant, lr, seed, val_acc, test_acc, status) tuples on MNIST."""
    return pd.DataFrame([{"dataset": "mnist", "variant": v, "loss": v, "lr": lr, "seed": s, "val_acc": va,
                          "test_acc": ta, "status": st} for v, lr, s, va, ta, st in rows])


# -- records_frame ----------------------------------------------------------------------------------


def test_variant_label_puts_output_reset_knobs_first():
    assert analysis.variant_label("softmax_ce", {}) == "softmax_ce"
    assert analysis.variant_label("sigmoid_mse_or", {"neg": 0.1, "pos": 0.9, "shift": False}) == \
        "sigmoid_mse_or (shift=False, pos=0.9, neg=0.1)"
    assert analysis.variant_label("gce", {"q": 0.7}) == "gce (q=0.7)"


def test_records_frame_keeps_diverged_runs_with_nan_metrics_and_noise_columns():
    records = [_record(extra_metrics={"test_acc_sigma_0.1": 0.8}),
               _record(loss="sigmoid_mse_or", options={"shift": True}, status="diverged")]
    frame = analysis.records_frame(records)
    assert len(frame) == 2
    assert list(frame.columns[:len(analysis.RUN_COLUMNS)]) == list(analysis.RUN_COLUMNS)
    ok, bad = frame.iloc[0], frame.iloc[1]
    assert ok["test_acc"] == 0.9 and ok["test_acc_sigma_0.1"] == 0.8 and ok["test_nll"] == 0.3
    assert bad["status"] == "diverged" and math.isnan(bad["test_acc"]) and math.isnan(bad["test_acc_sigma_0.1"])
    assert bad["variant"] == "sigmoid_mse_or (shift=True)" and bad["train_seconds"] == 1.5


@pytest.mark.parametrize("frame", [analysis.records_frame, analysis.history_frame])
def test_a_failed_run_is_refused_not_scored_like_a_diverged_one(frame):
    failed = {**_record(seed=1, status="failed"),
              "error": {"type": "DatasetIntegrityError", "message": "md5 mismatch", "traceback": ""}}
    with pytest.raises(ValueError, match=r"1 of 2 runs failed and have no result, e\.g\. run softmax_ce-0\.1-1-mnist: "
                                         r"DatasetIntegrityError: md5 mismatch; fix the cause and rerun the sweep"):
        frame([_record(), failed])


# -- select_learning_rates --------------------------------------------------------------------------


# -- summarize ----------------------------------------------------------------


def test_summarize_matches_hand_computed_t_interval():
    frame = _frame([("a", 0.1, s, 0.0, acc, "ok") for s, acc in enumerate((0.90, 0.92, 0.94))]
                   + [("b", 0.1, 0, 0.0, 0.5, "ok"), ("b", 0.1, 1, np.nan, np.nan, "diverged")])
    table = analysis.summarize(frame, "test_acc", "variant").set_index("variant")
    half = T_975_2DOF * 0.02 / math.sqrt(3)
    a = table.loc["a"]
    assert (a["n"], a["n_diverged"]) == (3, 0)
    assert a["mean"] == pytest.approx(0.92) and a["std"] == pytest.approx(0.02)
    assert a["ci95_low"] == pytest.approx(0.92 - half) and a["ci95_high"] == pytest.approx(0.92 + half)
    b = table.loc["b"]
    assert (b["n"], b["n_diverged"], b["mean"]) == (1, 1, 0.5)
    assert math.isnan(b["std"]) and math.isnan(b["ci95_low"]) and math.isnan(b["ci95_high"])


def _history_records():
    def epochs(values, flipped=False):
        return [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "train_acc": v, "val_acc": v, "test_acc": v,
                 "reset_fraction": None, "lr": 0.1, "seconds": 0.1,
                 **({"train_acc_flipped": 0.1, "train_acc_clean": v} if flipped else {})}
                for i, v in enumerate(values)]
    return [_record(seed=0, history=epochs([0.5, 0.7, 0.9])), _record(seed=1, history=epochs([0.6, 0.8, 0.8])),
            _record(loss="sigmoid_mse", seed=0, history=epochs([0.2, 0.4, 0.6], flipped=True)),
            _record(loss="sigmoid_mse", seed=1, status="diverged",
                    history=[{"epoch": 1, "train_loss": None, "seconds": 0.1}])]


def test_history_frame_long_format():
    history = analysis.history_frame(_history_records())
    assert list(history.columns) == list(analysis.HISTORY_COLUMNS)
    assert len(history) == 3 + 3 + 3 + 1
    diverged = history[history["status"] == "diverged"].iloc[0]
    assert diverged["epoch"] == 1 and math.isnan(diverged["train_loss"]) and math.isnan(diverged["test_acc"])
    assert history["reset_fraction"].isna().all()
    assert history.loc[history["loss"] == "sigmoid_mse", "train_acc_flipped"].iloc[0] == 0.1


def test_provenance_line_names_runs_profiles_machines_commits_and_dates():
    """One line per record set; without the profile when the caller has already named it (the book's top bar);
    the processors (model and capability, not the flags) once any record names one."""
    records = [_record(), _record(seed=1, status="diverged",
                                  provenance={"git_commit": "1234567890", "git_dirty": True, "device_name": "H100",
                                              "torch_version": "2.9", "date": "2026-01-05T00:00:00+00:00"})]
    assert analysis.provenance_line(records) == (
        "2 runs (1 diverged), profile quick, device(s) CPU, H100, sigmse commit(s) 1234567+dirty, abcdef1, "
        "torch 2.9, made 2026-01-02 to 2026-01-05")
    assert analysis.provenance_line(records, with_profile=False) == (
        "2 runs (1 diverged), device(s) CPU, H100, sigmse commit(s) 1234567+dirty, abcdef1, "
        "torch 2.9, made 2026-01-02 to 2026-01-05")
    assert analysis.provenance_line([]) == "0 runs"
    records[1]["provenance"]["processor"] = "Xeon (family 6 model 143 stepping 8); torch AVX512; avx2 avx512f"
    assert ", device(s) CPU, H100, processor(s) Xeon (family 6 model 143 stepping 8); torch AVX512, not recorded, " \
        "sigmse commit(s)" in analysis.provenance_line(records)


# -- Output Reset, worked ---------------------------------------------------------------------------


def test_output_reset_example_matches_the_docstring_example():
    """output_reset's docstring: y = [0.9, 0.2, 0.7], class 2 -> shift 0.3, targets [0.3, 0.2, 1.3]."""
    table = analysis.output_reset_example([[0.9, 0.2, 0.7]], [2])
    np.testing.assert_allclose(table["reset_target"], [0.3, 0.2, 1.3])
    np.testing.assert_allclose(table["shift"], [0.3] * 3)
    np.testing.assert_allclose(table["reset"], [0.0, -0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(table["error_after"], [0.36, 0.0, 0.36])
    assert table["correct"].tolist() == [False, False, True]


def test_no_shift_identity_holds():
    identity = analysis.no_shift_identity(patterns=200, classes=4)
    assert identity["outputs_reset"] == 0 and identity["max_target_change"] == 0.0
    assert identity["max_gradient_difference"] == 0.0
