"""From result records to the frames the book summarises: runs, epochs, summaries over seeds, provenance, and
Output Reset worked through on a few patterns. The verdicts are :mod:`sigmse.report.verdicts`'s.

Diverged runs (``status == "diverged"``) stay in every frame with NaN metrics: they are counted and shown.
Failed runs (``status == "failed"``: the run raised, so there is no result) are refused with a ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from sigmse.data.datasets import get_dataset_spec
from sigmse.losses.functional import sigmoid_mse, sigmoid_mse_or
from sigmse.losses.output_reset import output_reset
from sigmse.provenance import processor_kind
from sigmse.report.verdicts import t_interval

__all__ = ["Part", "variant_label", "records_frame", "chance_level", "metric_or_chance", "summarize", "history_frame",
           "provenance_line", "output_reset_example", "no_shift_identity"]


@dataclass(frozen=True)
class Part:
    """One part of a chapter's page, as a notebook cell presents it: the values its prose quotes by glue key
    (figures among them), its tables (DataFrames or Stylers), and a figure or a line of text shown alone."""

    values: dict[str, Any]
    tables: tuple[Any, ...] = ()
    figure: Any = None
    text: str = ""


RUN_COLUMNS = (
    "hash", "profile", "dataset", "model", "loss", "variant", "lr", "optimizer", "epochs", "seed",
    "label_noise", "label_noise_rate", "input_noise_sigma", "input_noise_at", "status",
    "test_acc", "val_acc", "test_nll", "test_ece", "temperature", "test_nll_ts", "test_ece_ts", "train_seconds",
)
HISTORY_COLUMNS = (
    "hash", "dataset", "loss", "variant", "lr", "seed", "label_noise", "label_noise_rate", "input_noise_sigma",
    "status", "epoch", "train_loss", "train_acc", "test_acc", "val_acc", "reset_fraction",
    "train_acc_flipped", "train_acc_clean", "seconds",
)
_OPTION_ORDER = ("shift", "pos", "neg")  # the Output Reset ablation's knobs, in the order a reader scans them


def _number(value: Any) -> float:
    """A float, with ``None`` (JSON for "not measured") as NaN."""
    return float("nan") if value is None else float(value)


def variant_label(loss: str, options: Mapping[str, Any] | None = None) -> str:
    """``"sigmoid_mse_or (shift=False, pos=0.9, neg=0.1)"``: ``shift``, ``pos``, ``neg`` first, others sorted."""
    options = dict(options or {})
    if not options:
        return loss
    names = [k for k in _OPTION_ORDER if k in options] + sorted(k for k in options if k not in _OPTION_ORDER)
    text = ", ".join(f"{k}={options[k]:g}" if isinstance(options[k], float) else f"{k}={options[k]}" for k in names)
    return f"{loss} ({text})"


def _results(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``records`` as a list, refusing a run that failed: it has no result, and scoring it like a diverged run
    (at chance) would blame the loss for what was, say, a missing file."""
    records = list(records)
    failed = [record for record in records if record["status"] == "failed"]
    if failed:
        error = failed[0].get("error", {})
        raise ValueError(f"{len(failed)} of {len(records)} runs failed and have no result, e.g. run "
                         f"{failed[0]['hash']}: {error.get('type', 'error')}: {error.get('message', '')}; "
                         "fix the cause and rerun the sweep (failed runs are tried again)")
    return records


def records_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run: ``RUN_COLUMNS`` plus every ``test_acc_sigma_*`` metric (accuracy on noisy test inputs)."""
    rows = []
    for record in _results(records):
        config, metrics = record["config"], record.get("metrics", {})
        ok = record["status"] == "ok"
        row: dict[str, Any] = {key: config.get(key) for key in RUN_COLUMNS if key in config}
        row.update(hash=record["hash"], profile=record.get("profile"), status=record["status"],
                   variant=variant_label(config["loss"], config.get("loss_options")))
        for key in ("test_acc", "val_acc", "test_nll", "test_ece", "temperature", "test_nll_ts", "test_ece_ts"):
            row[key] = _number(metrics.get(key)) if ok else float("nan")
        row["train_seconds"] = _number(metrics.get("train_seconds"))
        row.update({k: _number(v) if ok else float("nan") for k, v in metrics.items()
                    if k.startswith("test_acc_sigma_")})
        rows.append(row)
    frame = pd.DataFrame(rows)
    extra = sorted(c for c in frame.columns if c not in RUN_COLUMNS)
    return frame.reindex(columns=[*RUN_COLUMNS, *extra])


def chance_level(dataset: str) -> float:
    """Accuracy of guessing: ``1 / number of classes`` of ``dataset``."""
    return 1.0 / get_dataset_spec(dataset).num_classes


def metric_or_chance(frame: pd.DataFrame, metric: str) -> pd.Series:
    """``metric`` with diverged (or unmeasured) runs replaced by chance level for their dataset."""
    chance = frame["dataset"].map(chance_level)
    return frame[metric].where(frame[metric].notna() & (frame["status"] == "ok"), chance)


def summarize(frame: pd.DataFrame, metric: str, by: str | Sequence[str]) -> pd.DataFrame:
    """Per group: ``n`` (runs with a value), ``n_diverged``, ``mean``, ``std`` and the Student-t 95% interval
    ``ci95_low``, ``ci95_high`` over seeds (NaN with one)."""
    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    for group, part in frame.groupby(keys, sort=True, dropna=False):
        values = part[metric].dropna().to_numpy(dtype=float)
        rows.append([*group, len(values), int((part["status"] != "ok").sum()) if "status" in part else 0,
                     float(values.mean()) if len(values) else math.nan,
                     float(values.std(ddof=1)) if len(values) > 1 else math.nan, *t_interval(values)])
    return pd.DataFrame(rows, columns=[*keys, "n", "n_diverged", "mean", "std", "ci95_low", "ci95_high"])


def history_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run and epoch: ``HISTORY_COLUMNS``; unmeasured values are NaN."""
    rows = []
    for record in _results(records):
        config = record["config"]
        run = {"hash": record["hash"], **{k: config[k] for k in ("dataset", "loss", "lr", "seed")},
               **{k: config.get(k) for k in ("label_noise", "label_noise_rate", "input_noise_sigma")},
               "variant": variant_label(config["loss"], config.get("loss_options")), "status": record["status"]}
        for entry in record["history"]:
            values = {k: _number(entry.get(k)) for k in HISTORY_COLUMNS[10:]}
            rows.append({**run, **values, "epoch": int(entry["epoch"])})
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def _listing(values: Iterable[Any]) -> str:
    unique = sorted({str(v) for v in values if v is not None})
    return ", ".join(unique) if unique else "unknown"


def provenance_line(records: Sequence[Mapping[str, Any]], *, with_profile: bool = True) -> str:
    """``"N runs, profile P, device(s) ..., processor(s) ..., sigmse commit(s) ..., torch ..."`` (processors once
    any record names one; the profile left out with ``with_profile=False``)."""
    records = list(records)
    if not records:
        return "0 runs"
    info = [r.get("provenance", {}) for r in records]
    diverged = sum(r["status"] != "ok" for r in records)
    commits = [None if p.get("git_commit") is None else p["git_commit"][:7] + ("+dirty" if p.get("git_dirty") else "")
               for p in info]
    dates = sorted(str(p["date"])[:10] for p in info if p.get("date"))
    when = f", made {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "") if dates else ""
    processors = [p.get("processor") for p in info]  # None in records made before provenance named it
    named = (f", processor(s) {_listing(processor_kind(p) if p else 'not recorded' for p in processors)}"
             if any(processors) else "")
    return (f"{len(records)} runs" + (f" ({diverged} diverged)" if diverged else "")
            + (f", profile {_listing(r.get('profile') for r in records)}" if with_profile else "")
            + f", device(s) {_listing(p.get('device_name') for p in info)}" + named
            + f", sigmse commit(s) {_listing(commits)}"
            + f", torch {_listing(p.get('torch_version') for p in info)}{when}")


def output_reset_example(outputs: Sequence[Sequence[float]], labels: Sequence[int], *, pos: float = 1.0,
                         neg: float = 0.0, shift: bool = True) -> pd.DataFrame:
    """What :func:`sigmse.losses.output_reset.output_reset` does to a few patterns, one row per pattern and class:
    ``output`` y, ``target`` t, ``shift`` a, ``reset`` d, ``reset_target`` t' = t + a + d, and the squared errors
    ``error_before`` (y - t)^2 and ``error_after`` (y - t')^2."""
    import torch

    y = torch.tensor(outputs, dtype=torch.float64)  # (N, C)
    c = torch.tensor(labels, dtype=torch.long)  # (N,)
    result = output_reset(y, c, pos=pos, neg=neg, shift=shift)
    n, classes = y.shape
    correct = torch.arange(classes) == c[:, None]  # (N, C)
    target = torch.where(correct, pos, neg).to(y.dtype)
    columns = {"pattern": torch.arange(n).repeat_interleave(classes), "class": torch.arange(classes).repeat(n),
               "correct": correct, "output": y, "target": target, "shift": result.shift[:, None].expand(n, classes),
               "reset": result.resets, "reset_target": result.targets, "error_before": (y - target) ** 2,
               "error_after": (y - result.targets) ** 2}
    return pd.DataFrame({k: v.reshape(-1).numpy() for k, v in columns.items()})


def no_shift_identity(patterns: int = 10_000, classes: int = 10, seed: int = 0, scale: float = 5.0) -> dict[str, float]:
    """Check that Output Reset without shift, targets 1/0, changes nothing on sigmoid outputs (in (0, 1), none is
    more correct than its target): on random logits (std ``scale``), the resets and the largest differences from
    plain sigmoid-MSE in targets, loss and gradient."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(patterns, classes, generator=generator, dtype=torch.float64)).requires_grad_()
    labels = torch.randint(classes, (patterns,), generator=generator)
    plain = sigmoid_mse(logits, labels, reduction="none")
    reset = sigmoid_mse_or(logits, labels, reduction="none", shift=False)
    grad_plain, = torch.autograd.grad(plain.sum(), logits)
    grad_reset, = torch.autograd.grad(reset.sum(), logits)
    result = output_reset(torch.sigmoid(logits.detach()), labels, shift=False)
    targets = torch.nn.functional.one_hot(labels, classes).to(logits.dtype)
    return {"patterns": patterns, "outputs_reset": int((result.resets != 0).sum()),
            "max_target_change": float((result.targets - targets).abs().max()),
            "max_loss_difference": float((plain - reset).detach().abs().max()),
            "max_gradient_difference": float((grad_plain - grad_reset).abs().max())}
