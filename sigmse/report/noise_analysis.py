"""The noise chapter's curves (:func:`noise_curves`) and its memorisation check (:func:`flipped_fit`).

Clean runs evaluated on noisy test inputs (``test_acc_sigma_<s>``) make a fourth kind of curve without training.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from sigmse.report.chapters import listing, number_text
from sigmse.report.plots import pretty
from sigmse.runs.profiles import NOISE_LOSSES

__all__ = ["NOISE_KINDS", "noise_curves", "setting_label", "in_setting_order", "signed", "lead_values",
           "memorisation_history", "MEMORISATION_RISE", "flipped_fit", "flipped_fit_table", "flipped_fit_summary",
           "budget_reach", "memorisation_end", "memorisation_glue"]

# The curves of the chapter, in the order they are shown.
NOISE_KINDS = ("symmetric", "asymmetric", "input (train+test)", "input (test only)")
_SIGMA_PREFIX = "test_acc_sigma_"
# A loss "visibly starts to fit the flipped labels" when its seed-mean training accuracy on the flipped examples
# (against their wrong label) rises at least 5 pp from its lowest epoch (a network first learns the true classes,
# so that accuracy falls before it rises) to its last. 5 pp: half of guessing on ten classes, thousands of images.
# Fixed after the MNIST noise runs existed (CE's rises there: 18 to 50 pp); the chapter says so.
MEMORISATION_RISE = 0.05


def _curve(runs: pd.DataFrame, kind: str, level: pd.Series | float, value: str = "test_acc") -> pd.DataFrame:
    columns = ["hash", "dataset", "loss", "seed", "lr", "status"]
    return runs[columns].assign(kind=kind, level=level, test_acc=runs[value])


def noise_curves(chosen: pd.DataFrame) -> pd.DataFrame:
    """One row per reporting run and curve (``kind``, ``level``, ``test_acc``); clean runs sit at level 0 of every
    curve and, through ``test_acc_sigma_<s>``, on ``input (test only)``."""
    clean_mask = (chosen["label_noise"] == "none") & (chosen["input_noise_sigma"] == 0)
    clean, input_noise = chosen[clean_mask], chosen[(chosen["label_noise"] == "none") & ~clean_mask]
    labelled = [chosen[chosen["label_noise"] == kind] for kind in ("symmetric", "asymmetric")]
    parts = [_curve(runs, kind, runs["label_noise_rate"]) for runs, kind in zip(labelled, ("symmetric", "asymmetric"))]
    parts.append(_curve(input_noise, "input (train+test)", input_noise["input_noise_sigma"]))
    parts += [_curve(clean, kind, 0.0) for kind in NOISE_KINDS]
    parts += [_curve(clean, "input (test only)", float(column[len(_SIGMA_PREFIX):]), column)
              for column in chosen.columns if column.startswith(_SIGMA_PREFIX)]
    curves = pd.concat(parts, ignore_index=True)
    return curves.assign(level=curves["level"].astype(float)).sort_values(["dataset", "kind", "level", "loss", "seed"])


def setting_label(kind: str, level: float) -> str:
    """``"clean"``, ``"symmetric 0.4"`` or ``"input (train+test) σ=0.4"``: a noise setting in a few characters."""
    if kind == "clean" or level == 0:
        return "clean"
    return f"{kind} σ={level:g}" if kind.startswith("input") else f"{kind} {level:g}"


def in_setting_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by dataset (as first seen), kind (clean first, then :data:`NOISE_KINDS`), level."""
    kinds = {kind: i for i, kind in enumerate(("clean", *NOISE_KINDS))}
    datasets = {name: i for i, name in enumerate(pd.unique(frame["dataset"]))}
    key = frame["dataset"].map(datasets) * 1000 + frame["kind"].map(kinds) * 100 + frame["level"]
    return frame.assign(_key=key).sort_values(["_key"], kind="stable").drop(columns="_key")


def signed(value: float, digits: int) -> str:
    """``+1.23`` or ``−1.23`` (a typographic minus)."""
    return f"{value:+.{digits}f}".replace("-", "\u2212")


def _heaviest(curves: pd.DataFrame, dataset: str, kind: str) -> float:
    """The largest level of ``kind`` that ``dataset`` ran (NaN where none above 0)."""
    levels = curves.loc[(curves["dataset"] == dataset) & (curves["kind"] == kind), "level"]
    return float(levels.max()) if (levels > 0).any() else float("nan")


def lead_values(curves: pd.DataFrame, dataset: str) -> dict[str, Any]:
    """The verdict prose's values for ``dataset`` at the heaviest symmetric rate and test-input sigma it ran: the
    best loss there and each loss's seed-mean test accuracy clean, there and on noisy inputs, as prose
    (:func:`~sigmse.report.chapters.number_text`: "not run" where a loss or setting did not run)."""
    top_sym, top_sigma = _heaviest(curves, dataset, "symmetric"), _heaviest(curves, dataset, "input (test only)")
    means = curves.groupby(["dataset", "kind", "level", "loss"])["test_acc"].mean()
    at_top = means.get((dataset, "symmetric", top_sym))
    values: dict[str, Any] = {"lead_dataset": dataset, "top_sym_rate": number_text(top_sym, "{:.1f}"),
                              "top_sigma": number_text(top_sigma, "{:.1f}"),
                              "best_top_sym": pretty(at_top.idxmax()) if at_top is not None else "n/a"}
    for key, kind, level in (("acc_clean", "symmetric", 0.0), ("acc_sym", "symmetric", top_sym),
                             ("acc_test_sigma", "input (test only)", top_sigma)):
        values.update({f"{key}_{loss}": number_text(float(means.get((dataset, kind, level, loss), np.nan)))
                       for loss in NOISE_LOSSES})
    return values


def memorisation_history(history: pd.DataFrame) -> pd.DataFrame:
    """The label-noise runs' epochs in long form: ``labels`` (``clean``/``flipped``) and ``train_acc`` against the
    given label."""
    runs = history[history["label_noise"] != "none"].drop(columns="train_acc")
    runs = runs.assign(setting=[setting_label(k, r) for k, r in zip(runs["label_noise"], runs["label_noise_rate"])])
    long = runs.melt(id_vars=["dataset", "loss", "seed", "setting", "label_noise", "label_noise_rate", "epoch"],
                     value_vars=["train_acc_clean", "train_acc_flipped"], var_name="labels", value_name="train_acc")
    return long.assign(labels=long["labels"].str.removeprefix("train_acc_"))


def _fit_row(part: pd.DataFrame) -> dict[str, Any]:
    """The measures of one dataset, setting and loss (flipped-label rows)."""
    by_seed = part.pivot_table(index="seed", columns="epoch", values="train_acc", aggfunc="first")
    mean = by_seed.mean()
    lowest, last = int(mean.idxmin()), int(mean.index.max())
    rises = (by_seed[last] - by_seed[lowest]).dropna()  # per seed, over the same epochs as the mean's rise
    row = {"epochs": last, "seeds": len(by_seed), "lowest_epoch": lowest, "acc_lowest": float(mean[lowest]),
           "acc_end": float(mean[last]), "rise": np.nan, "rise_min": np.nan, "rise_max": np.nan, "fits": None}
    if last > 1:  # one epoch has no rise to measure
        row.update(rise=float(mean[last] - mean[lowest]), rise_min=float(rises.min()), rise_max=float(rises.max()),
                   fits=bool(mean[last] - mean[lowest] >= MEMORISATION_RISE))
    return row


def flipped_fit(memory: pd.DataFrame, datasets: Sequence[str] | None = None,
                losses: Sequence[str] = ("softmax_ce",)) -> pd.DataFrame:
    """Per dataset, setting and loss: has it started to fit the flipped labels by the last epoch (``fits``:
    the seed-mean rise from the lowest epoch >= :data:`MEMORISATION_RISE`; None with one epoch)? A dataset of
    ``datasets`` without runs gets ``"not run yet"`` rows."""
    flipped = memory[(memory["labels"] == "flipped") & memory["loss"].isin(list(losses))].dropna(subset=["train_acc"])
    flipped = flipped.sort_values(["label_noise", "label_noise_rate"], ascending=[False, True], kind="stable")
    rows = [{"dataset": dataset, "setting": setting, "loss": loss, **_fit_row(part)}
            for (dataset, setting, loss), part in flipped.groupby(["dataset", "setting", "loss"], sort=False)]
    rows += [{"dataset": dataset, "setting": "not run yet", "loss": loss, "seeds": 0, "fits": None}
             for dataset in datasets or () if dataset not in set(flipped["dataset"]) for loss in losses]
    frame = pd.DataFrame(rows, columns=["dataset", "setting", "loss", "epochs", "seeds", "lowest_epoch", "acc_lowest",
                                        "acc_end", "rise", "rise_min", "rise_max", "fits"])
    order = {name: i for i, name in enumerate(datasets or pd.unique(frame["dataset"]))}
    return frame.sort_values("dataset", key=lambda column: column.map(order), kind="stable").reset_index(drop=True)


def flipped_fit_table(fit: pd.DataFrame) -> pd.DataFrame:
    """A :func:`flipped_fit` frame for print."""
    ran = fit["seeds"] > 0
    answers = [("cannot tell (one epoch)" if fits is None else "yes" if fits else "no") if seeds else "not run yet"
               for seeds, fits in zip(fit["seeds"], fit["fits"])]
    return pd.DataFrame({
        "epochs": [f"{e:.0f}" if ran_row else "n/a" for e, ran_row in zip(fit["epochs"], ran)],
        "seeds": fit["seeds"].to_numpy(),
        "lowest (%)": np.where(ran, [f"{a * 100:.1f} (epoch {e:.0f})" for a, e in zip(fit["acc_lowest"],
                                                                                  fit["lowest_epoch"])], "n/a"),
        "at end (%)": np.where(ran, [f"{a * 100:.1f}" for a in fit["acc_end"]], "n/a"),
        "rise (pp) [min, max over seeds]": [
            "n/a" if np.isnan(r) else f"{r * 100:+.1f} [{lo * 100:+.1f}, {hi * 100:+.1f}]"
            for r, lo, hi in zip(fit["rise"], fit["rise_min"], fit["rise_max"])],
        f"fits flipped labels (rise \u2265 {MEMORISATION_RISE * 100:g} pp)": answers,
    }, index=pd.MultiIndex.from_frame(fit[["dataset", "setting", "loss"]]))


def flipped_fit_summary(fit: pd.DataFrame) -> str:
    """One line, e.g. ``"mnist: yes at symmetric 0.4 (+23.6 pp); no at asymmetric 0.4 (+1.2 pp) | ..."``."""
    parts = []
    for dataset, part in fit.groupby("dataset", sort=False):
        if (part["seeds"] == 0).all():
            parts.append(f"{dataset}: not run yet")
            continue
        answers = part["fits"].map({True: "yes", False: "no"}).fillna("cannot tell")
        cells = [f"{word} at " + ", ".join(setting + ("" if np.isnan(rise) else f" ({signed(rise * 100, 1)} pp)")
                                           for setting, rise in part.loc[answers == word, ["setting", "rise"]].values)
                 for word in ("yes", "no", "cannot tell") if (answers == word).any()]
        parts.append(f"{dataset}: " + "; ".join(cells))
    return " | ".join(parts) if parts else "no label-noise runs"


def budget_reach(curves: pd.DataFrame, fit: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Per dataset, what its budget reaches at its heaviest symmetric rate: the losses' range of test accuracy,
    and whether softmax CE started to fit the flipped labels there (if not, gaps are about learning speed)."""
    parts = []
    for dataset, budget in runs.groupby("dataset", sort=False):
        part = curves[(curves["dataset"] == dataset) & (curves["kind"] == "symmetric") & (curves["level"] > 0)]
        where = (f"on {dataset} ({listing(sorted(set(budget['model'])))}, "
                 f"{listing(sorted(set(budget['epochs'])))} epochs)")
        if part.empty:
            parts.append(f"{where} no symmetric label noise was run")
            continue
        setting = setting_label("symmetric", part["level"].max())
        means = part[part["level"] == part["level"].max()].groupby("loss")["test_acc"].mean().dropna() * 100
        rows = fit[(fit["dataset"] == dataset) & (fit["setting"] == setting) & (fit["loss"] == "softmax_ce")]
        fits = rows["fits"].iloc[0] if len(rows) else None
        rise = "" if fits is None else f" ({signed(rows['rise'].iloc[0] * 100, 1)} pp by the rule above)"
        memorised = {True: f"softmax CE starts to fit the flipped labels there{rise}",
                     False: f"softmax CE does not start to fit the flipped labels there{rise}, so a gap between "
                            "losses there is about how fast each learns, not about resisting memorisation",
                     None: "whether softmax CE starts to fit the flipped labels there cannot be told"}[fits]
        parts.append(f"{where} the {len(means)} losses reach {means.min():.1f} to {means.max():.1f}% test accuracy "
                     f"at {setting} (final epoch, seed means), and {memorised}")
    return "; ".join(parts) or "no runs"


def memorisation_end(memory: pd.DataFrame) -> pd.DataFrame:
    """Seed-mean training accuracy on clean and flipped examples at the last epoch, heaviest symmetric rate."""
    symmetric = memory[memory["label_noise"] == "symmetric"]
    heaviest = symmetric.groupby("dataset")["label_noise_rate"].transform("max")
    top = symmetric[symmetric["label_noise_rate"] == heaviest]
    last = top[top["epoch"] == top.groupby(["dataset", "loss", "seed"])["epoch"].transform("max")]
    table = last.pivot_table(index=["dataset", "setting", "loss"], columns="labels", values="train_acc",
                             aggfunc="mean", sort=False)
    return table.assign(epochs=last.groupby(["dataset", "setting", "loss"], sort=False)["epoch"].max())


def memorisation_glue(end: pd.DataFrame, dataset: str, losses: Sequence[str] = ("softmax_ce", "sigmoid_mse_or", "gce")
                      ) -> dict[str, Any]:
    """The memorisation prose's glue values for ``dataset`` (:func:`~sigmse.report.chapters.number_text`)."""
    part = end.xs(dataset, level="dataset") if dataset in end.index.get_level_values("dataset") else end.iloc[0:0]
    values: dict[str, Any] = {"mem_setting": part.index.get_level_values("setting")[0] if len(part) else "not run",
                              "mem_epochs": int(part["epochs"].max()) if len(part) else 0}
    ran = set(part.index.get_level_values("loss"))
    values.update({f"mem_{labels}_{loss}": number_text(float(part.xs(loss, level="loss")[labels].iloc[0])
                                                       if loss in ran else float("nan"), "{:.1%}")
                   for loss in losses for labels in ("clean", "flipped")})
    return values

