"""The noise chapter's tables, figures and verdict, built on :mod:`sigmse.report.analysis` frames.

The noise experiment (:func:`sigmse.runs.profiles.noise_configs`) trains every loss under each noise setting: clean,
symmetric or asymmetric label noise at a rate, or Gaussian input noise at a sigma on training *and* test images.
The clean runs are also evaluated on noisy test inputs (``test_acc_sigma_<s>``), which makes a fourth kind of
curve without extra training. This module turns the runs into those curves:

Each loss chooses its learning rate per dataset *and noise setting* on a validation split that carries the same
noise as the training split (never on test), with the selection seeds (:mod:`sigmse.runs.protocol`); the chapter reads
the reporting runs at those rates.

1. :func:`noise_curves`: one row per run and curve, with ``kind`` (:data:`NOISE_KINDS`) and ``level`` (rate or
   sigma); the clean runs sit at level 0 of every curve.
2. :func:`noise_verdicts`, :func:`noise_verdict` and :func:`tally`: the chapter's family of paired tests
   (:mod:`sigmse.report.verdicts`): superiority over softmax CE, non-inferiority to the losses built for noise.
3. :func:`noise_table`, :func:`standings`, :func:`literature_table`: the tables the chapter prints.
4. :func:`accuracy_vs_noise` and :func:`memorisation_figure`: its figures.
5. :func:`flipped_fit`, :func:`flipped_fit_table` and :func:`flipped_fit_summary`: whether the noise runs trained
   long enough for softmax CE to start fitting the flipped labels, by the rule :data:`MEMORISATION_RISE`.

Reference for the quoted CIFAR-10 numbers: Liu et al., *Early-Learning Regularization Prevents Memorization of
Noisy Labels*, NeurIPS 2020.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sigmse.report.analysis import summarize
from sigmse.report.chapters import dataset_key
from sigmse.report.plots import figure, palette, pretty
from sigmse.runs.profiles import NOISE_LOSSES
from sigmse.report.verdicts import ACCURACY_MARGINS, holm_verdicts, paired_tests

__all__ = [
    "NOISE_KINDS",
    "KIND_LEVEL_NAMES",
    "SETTING_COLUMNS",
    "LIU2020_CIFAR10_SYMMETRIC",
    "noise_curves",
    "setting_label",
    "ROBUST_LOSSES",
    "noise_verdicts",
    "noise_verdict",
    "tally",
    "noise_table",
    "chosen_lr_table",
    "standings",
    "literature_table",
    "memorisation_history",
    "MEMORISATION_RISE",
    "flipped_fit",
    "flipped_fit_table",
    "flipped_fit_summary",
    "accuracy_vs_noise",
    "memorisation_figure",
    "glue_values",
    "dataset_keys",
]

# The curves of the chapter, in the order they are shown.
NOISE_KINDS = ("symmetric", "asymmetric", "input (train+test)", "input (test only)")
KIND_LEVEL_NAMES: Mapping[str, str] = {  # what the level of each kind is
    "clean": "",
    "symmetric": "share of labels changed",
    "asymmetric": "share of each source class flipped to its pair",
    "input (train+test)": "input noise sigma",
    "input (test only)": "input noise sigma",
}
# The config columns that define a noise setting (each setting chooses its own learning rate).
SETTING_COLUMNS = ("label_noise", "label_noise_rate", "input_noise_sigma", "input_noise_at")
_SIGMA_PREFIX = "test_acc_sigma_"
# A loss "visibly starts to fit the flipped labels" in a setting when its training accuracy on the flipped examples
# (against their wrong label; mean over seeds) at the last epoch is at least 5 percentage points above that at
# its lowest epoch. From the lowest epoch, not the first: a network first learns the true classes, so its
# accuracy on the wrong labels falls before it can rise; the rise after that low is the fitting. Why 5 pp: half
# of what guessing scores on ten classes (10 %), and thousands of images at these rates (the flipped examples
# number 11,000 to 44,000 of the 55,000), so a rise that size is no accident of one epoch's count. The rule was
# proposed before this check was written, and fixed in code after the MNIST noise runs existed and had been looked
# at (softmax CE's rises there are 18 to 50 pp, so no threshold near 5 pp decides them); the chapter says so.
MEMORISATION_RISE = 0.05
FLIPPED_FIT_COLUMNS = ("dataset", "setting", "loss", "epochs", "seeds", "lowest_epoch", "acc_lowest", "acc_end",
                       "rise", "rise_min", "rise_max", "fits")
# CIFAR-10 test accuracy (%) under symmetric label noise, ResNet-34, as tabulated by Liu et al. (ELR, NeurIPS
# 2020): quoted for context only (a different network, budget and noise generator), never used to tune ours.
LIU2020_CIFAR10_SYMMETRIC: Mapping[str, Mapping[float, float]] = {
    "softmax_ce": {0.2: 86.98, 0.4: 81.88, 0.6: 74.14, 0.8: 53.82},
    "gce": {0.2: 89.83, 0.4: 87.13, 0.6: 82.54, 0.8: 64.07},
    "symmetric_ce": {0.2: 89.83, 0.4: 87.13, 0.6: 82.81, 0.8: 68.12},
}


# -- runs to curves ---------------------------------------------------------------------------------


def _curve(runs: pd.DataFrame, kind: str, level: pd.Series | float, value: str = "test_acc") -> pd.DataFrame:
    columns = ["hash", "dataset", "loss", "seed", "lr", "status"]
    return runs[columns].assign(kind=kind, level=level, test_acc=runs[value])


def noise_curves(chosen: pd.DataFrame) -> pd.DataFrame:
    """One row per reporting run and curve: ``dataset, loss, seed, lr, status, kind, level, test_acc``.

    Label-noise runs lie on their kind's curve at their rate, input-noise runs on ``input (train+test)`` at
    their sigma, and the clean runs at level 0 of every curve and, through their ``test_acc_sigma_<s>``
    evaluations, on ``input (test only)`` at each sigma.
    """
    clean_mask = (chosen["label_noise"] == "none") & (chosen["input_noise_sigma"] == 0)
    clean, input_noise = chosen[clean_mask], chosen[(chosen["label_noise"] == "none") & ~clean_mask]
    parts = [_curve(chosen[chosen["label_noise"] == kind], kind, chosen["label_noise_rate"])
             for kind in ("symmetric", "asymmetric")]
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


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by dataset (as first seen), kind (clean first, then :data:`NOISE_KINDS`), level."""
    kinds = {kind: i for i, kind in enumerate(("clean", *NOISE_KINDS))}
    datasets = {name: i for i, name in enumerate(pd.unique(frame["dataset"]))}
    key = frame["dataset"].map(datasets) * 1000 + frame["kind"].map(kinds) * 100 + frame["level"]
    return frame.assign(_key=key).sort_values(["_key"], kind="stable").drop(columns="_key")


# -- comparisons and verdict ------------------------------------------------------------------------

ROBUST_LOSSES = ("mae", "gce", "symmetric_ce")


def noise_verdicts(curves: pd.DataFrame, candidate: str = "sigmoid_mse_or", baseline: str = "softmax_ce",
                   robust: Sequence[str] = ROBUST_LOSSES, alpha: float = 0.05,
                   margins: Mapping[str, float] = ACCURACY_MARGINS) -> pd.DataFrame:
    """The chapter's family of verdicts, over the *noisy* settings, paired on the seed (same seed = same noise
    and initialisation), per dataset, kind and level:

    * ``candidate`` against ``baseline`` with claim ``superiority`` (the paper says OR *beats* CE on noisy data);
    * ``candidate`` against each loss built for label noise (``robust``) with claim ``noninferiority``.

    All p-values are adjusted together (:func:`sigmse.report.verdicts.holm_verdicts`).
    """
    noisy = curves[curves["level"] > 0]
    keys = ["dataset", "kind", "level"]
    parts = [paired_tests(noisy, "test_acc", claim="superiority", margins=margins, by=keys, baseline=baseline,
                          levels=[candidate])]
    parts += [paired_tests(noisy, "test_acc", claim="noninferiority", margins=margins, by=keys, baseline=other,
                           levels=[candidate]) for other in robust]
    family = holm_verdicts(pd.concat(parts, ignore_index=True), alpha=alpha)
    return _order(family).reset_index(drop=True)


def _cell(row: Mapping[str, Any]) -> str:
    """``"better at 0.8 (+5.1 pp)"`` for one verdict row."""
    level = f"σ={row['level']:g}" if str(row["kind"]).startswith("input") else f"{row['level']:g}"
    diff = f"{row['mean_diff'] * 100:+.1f} pp" if np.isfinite(row["mean_diff"]) else "no pairs"
    return f"{row['verdict']} at {level} ({diff})".replace("-", "\u2212")


def noise_verdict(family: pd.DataFrame, baseline: str = "softmax_ce",
                  datasets: Sequence[str] | None = None) -> dict[str, str]:
    """Per dataset, one line: the verdict against ``baseline`` at each noisy level of each kind, e.g.
    ``"symmetric: inconclusive at 0.4 (+0.3 pp), better at 0.8 (+6.1 pp); asymmetric: ..."``; a dataset without
    runs gives ``"not run"``. The seeds are said once, at the end."""
    rows = family[family["baseline"] == baseline]
    out = {}
    for dataset in (datasets if datasets is not None else pd.unique(family["dataset"])):
        part = rows[rows["dataset"] == dataset]
        if part.empty:
            out[dataset] = "not run"
            continue
        kinds = [f"{kind}: " + ", ".join(_cell(r) for _, r in group.iterrows())
                 for kind, group in part.groupby("kind", sort=False)]
        seeds = int(part["n_pairs"].max())
        out[dataset] = "; ".join(kinds) + f" ({seeds} seed{'s' if seeds != 1 else ''})"
    return out


def tally(family: pd.DataFrame, datasets: Sequence[str] | None = None) -> dict[str, str]:
    """Per dataset, one line counting the candidate's verdicts against each baseline over the noisy settings,
    e.g. ``"over 4 noisy settings: vs softmax CE 1 better, 3 inconclusive; vs GCE 4 not worse"``."""
    out = {}
    for dataset in (datasets if datasets is not None else pd.unique(family["dataset"])):
        part = family[family["dataset"] == dataset]
        counts = part.groupby("baseline", sort=False)["verdict"].value_counts(sort=False)
        cells = [f"vs {pretty(other)} " + ", ".join(f"{n} {verdict}" for verdict, n in counts[other].items())
                 for other in pd.unique(part["baseline"])]
        settings = len(part[["kind", "level"]].drop_duplicates())
        out[dataset] = f"over {settings} noisy settings: " + "; ".join(cells) if cells else "not run"
    return out


# -- tables -----------------------------------------------------------------------------------------


def _summary(curves: pd.DataFrame) -> pd.DataFrame:
    return summarize(curves, "test_acc", ["dataset", "kind", "level", "loss"])


def _cell_text(row: Mapping[str, Any]) -> str:
    if not np.isfinite(row["mean"]):
        return "n/a"
    return f"{row['mean'] * 100:.1f}" + ("" if not np.isfinite(row["std"]) else f" ± {row['std'] * 100:.1f}")


def _setting_index(frame: pd.DataFrame) -> pd.DataFrame:
    """Level-0 rows of every kind collapse into one ``clean`` setting, labelled by :func:`setting_label`."""
    frame = frame[(frame["level"] > 0) | (frame["kind"] == NOISE_KINDS[0])]
    frame = _order(frame.assign(kind=np.where(frame["level"] > 0, frame["kind"], "clean")))
    return frame.assign(setting=[setting_label(k, lv) for k, lv in zip(frame["kind"], frame["level"])])


def noise_table(curves: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES) -> pd.DataFrame:
    """Test accuracy (%) per dataset and setting (rows) and loss (columns): ``mean ± std`` over seeds (the
    intervals of the differences that matter are in the verdict table)."""
    summary = _setting_index(_summary(curves))
    table = summary.assign(text=[_cell_text(r) for _, r in summary.iterrows()])
    wide = table.pivot_table(index=["dataset", "setting"], columns="loss", values="text", aggfunc="first", sort=False)
    return wide.reindex(columns=[loss for loss in losses if loss in wide.columns])


def chosen_lr_table(report: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES) -> pd.DataFrame:
    """The learning rate each loss chose on validation (that of its reporting runs), per dataset and setting."""
    runs = noise_curves(report)
    runs = _setting_index(runs[runs["kind"] != "input (test only)"])
    wide = runs.pivot_table(index=["dataset", "setting"], columns="loss", values="lr", aggfunc="first", sort=False)
    return wide.reindex(columns=[loss for loss in losses if loss in wide.columns])


def standings(curves: pd.DataFrame, candidate: str = "sigmoid_mse_or") -> pd.DataFrame:
    """Per dataset and setting: the mean test accuracy (%) of each loss, the best loss, and ``candidate``'s rank
    among the losses (1 = best; ties share the better rank)."""
    summary = _setting_index(_summary(curves))
    wide = summary.pivot_table(index=["dataset", "setting"], columns="loss", values="mean", sort=False) * 100
    wide = wide.reindex(columns=[loss for loss in NOISE_LOSSES if loss in wide.columns])
    ranks = wide.rank(axis=1, ascending=False, method="min")
    return wide.round(2).assign(best=wide.idxmax(axis=1),
                                **{f"rank of {candidate}": ranks.get(candidate, np.nan).astype("Int64")})


def literature_table(curves: pd.DataFrame, dataset: str = "cifar10",
                     ours: Sequence[str] = ("softmax_ce", "gce", "symmetric_ce", "sigmoid_mse_or")) -> pd.DataFrame:
    """Liu et al.'s CIFAR-10 numbers (:data:`LIU2020_CIFAR10_SYMMETRIC`) beside ours (seed means, %) at the same
    symmetric rates; ours are NaN where this build did not run them."""
    rates = sorted({rate for values in LIU2020_CIFAR10_SYMMETRIC.values() for rate in values})
    table = pd.DataFrame({f"{pretty(loss)} (Liu et al.)": [values.get(rate, np.nan) for rate in rates]
                          for loss, values in LIU2020_CIFAR10_SYMMETRIC.items()}, index=pd.Index(rates, name="rate"))
    part = curves[(curves["dataset"] == dataset) & (curves["kind"] == "symmetric")]
    means = part.groupby(["loss", "level"])["test_acc"].mean() * 100
    for loss in ours:
        table[f"{pretty(loss)} (ours)"] = [means.get((loss, rate), np.nan) for rate in rates]
    return table.round(2)


# -- figures ----------------------------------------------------------------------------------------


def _panels(rows: int, cols: int, panel: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """A :func:`sigmse.report.plots.figure` of panels sharing y within a row, at least 6 inches wide in all and
    0.7 inch taller for the legend below the panels."""
    return figure(rows, cols, (panel[0], panel[1] + 0.7 / rows), extra_width=max(0.0, 6.0 - panel[0] * cols),
                  sharey="row")


def _legend(fig: Figure, axes: np.ndarray) -> None:
    """One legend below the panels, as wide as the figure allows."""
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        ncols = min(len(labels), 6 if axes.shape[1] >= 3 else 3)
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)


def accuracy_vs_noise(curves: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES,
                      panel: tuple[float, float] = (3.6, 2.9)) -> Figure:
    """Test accuracy against the noise level: two rows of two panels per dataset, one panel per kind of
    :data:`NOISE_KINDS` (two columns keep the panels legible at the page's width); one line per loss (mean over
    seeds) with its 95% confidence band, clipped to [0, 1] (none with one seed)."""
    summary = _summary(curves)
    datasets = list(pd.unique(curves["dataset"]))
    colours = palette(list(losses))
    fig, axes = _panels(2 * len(datasets), 2, panel)
    for (row, dataset), (col, kind) in ((r, c) for r in enumerate(datasets) for c in enumerate(NOISE_KINDS)):
        ax = axes[2 * row + col // 2, col % 2]
        for loss in losses:
            line = summary[(summary["dataset"] == dataset) & (summary["kind"] == kind) & (summary["loss"] == loss)]
            ax.plot(line["level"], line["mean"], marker="o", ms=3, color=colours[loss], label=pretty(loss))
            ax.fill_between(line["level"], line["ci95_low"].clip(0, 1), line["ci95_high"].clip(0, 1),
                            color=colours[loss], alpha=0.12, lw=0)  # an accuracy interval ends at 0 and 1
        ax.set(title=f"{dataset}: {kind}", xlabel=KIND_LEVEL_NAMES[kind], ylabel="test accuracy" if col % 2 == 0 else "",
               ylim=(0, 1.01))
    _legend(fig, axes)
    return fig


def memorisation_history(history: pd.DataFrame) -> pd.DataFrame:
    """The epochs of the (reporting) label-noise runs of ``history`` in long form: ``dataset, loss, seed, setting, epoch, labels``
    (``"clean"`` or ``"flipped"``) and ``train_acc`` against the (noisy) training label."""
    runs = history[history["label_noise"] != "none"]
    runs = runs.assign(setting=[setting_label(k, r) for k, r in zip(runs["label_noise"], runs["label_noise_rate"])])
    runs = runs.drop(columns="train_acc")
    long = runs.melt(id_vars=["dataset", "loss", "seed", "setting", "label_noise", "label_noise_rate", "epoch"],
                     value_vars=["train_acc_clean", "train_acc_flipped"], var_name="labels", value_name="train_acc")
    return long.assign(labels=long["labels"].str.removeprefix("train_acc_"))


def _fit_row(part: pd.DataFrame) -> dict[str, Any]:
    """The :data:`FLIPPED_FIT_COLUMNS` measures of one dataset, setting and loss (flipped-label rows)."""
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
    """Per dataset, label-noise setting and loss of ``losses``, from a :func:`memorisation_history` frame: has the
    loss started to fit the flipped labels by the last epoch? Columns :data:`FLIPPED_FIT_COLUMNS`.

    On the seed-mean curve of training accuracy on the flipped examples (against their given, wrong label):
    ``lowest_epoch`` and ``acc_lowest`` its minimum, ``acc_end`` its last epoch, ``rise`` the difference;
    ``rise_min``/``rise_max`` the range over seeds of each seed's rise between those two epochs. ``fits`` is
    ``rise >= MEMORISATION_RISE``; None (and the rises NaN) with a single epoch. A dataset of ``datasets``
    without label-noise runs gets a row per loss with setting ``"not run yet"`` and no numbers.
    """
    flipped = memory[(memory["labels"] == "flipped") & memory["loss"].isin(list(losses))].dropna(subset=["train_acc"])
    flipped = flipped.sort_values(["label_noise", "label_noise_rate"], ascending=[False, True], kind="stable")
    rows = [{"dataset": dataset, "setting": setting, "loss": loss, **_fit_row(part)}
            for (dataset, setting, loss), part in flipped.groupby(["dataset", "setting", "loss"], sort=False)]
    for dataset in datasets or ():
        if dataset not in set(flipped["dataset"]):
            rows += [{"dataset": dataset, "setting": "not run yet", "loss": loss, "seeds": 0, "fits": None}
                     for loss in losses]
    frame = pd.DataFrame(rows, columns=list(FLIPPED_FIT_COLUMNS))
    order = {name: i for i, name in enumerate(datasets or pd.unique(frame["dataset"]))}
    return frame.sort_values("dataset", key=lambda column: column.map(order), kind="stable").reset_index(drop=True)


def flipped_fit_table(fit: pd.DataFrame) -> pd.DataFrame:
    """A :func:`flipped_fit` frame for print, indexed by dataset, setting and loss: epochs, seeds, the flipped-label
    accuracy (%) at its lowest epoch and at the end, the rise in pp with its range over seeds, and the answer."""
    def answer(row: Mapping[str, Any]) -> str:
        if row["seeds"] == 0:
            return "not run yet"
        return "cannot tell (one epoch)" if row["fits"] is None else ("yes" if row["fits"] else "no")

    ran = fit["seeds"] > 0
    table = pd.DataFrame({
        "epochs": [f"{e:.0f}" if ran_row else "n/a" for e, ran_row in zip(fit["epochs"], ran)],
        "seeds": fit["seeds"].to_numpy(),
        "lowest (%)": np.where(ran, [f"{a * 100:.1f} (epoch {e:.0f})" for a, e in zip(fit["acc_lowest"],
                                                                                  fit["lowest_epoch"])], "n/a"),
        "at end (%)": np.where(ran, [f"{a * 100:.1f}" for a in fit["acc_end"]], "n/a"),
        "rise (pp) [min, max over seeds]": [
            "n/a" if np.isnan(r) else f"{r * 100:+.1f} [{lo * 100:+.1f}, {hi * 100:+.1f}]"
            for r, lo, hi in zip(fit["rise"], fit["rise_min"], fit["rise_max"])],
        f"fits flipped labels (rise \u2265 {MEMORISATION_RISE * 100:g} pp)": [answer(r) for _, r in fit.iterrows()],
    }, index=pd.MultiIndex.from_frame(fit[["dataset", "setting", "loss"]]))
    return table


def flipped_fit_summary(fit: pd.DataFrame) -> str:
    """One line for the prose, per dataset: the settings where the rule holds and those where it does not, e.g.
    ``"mnist: yes at symmetric 0.4 (+23.6 pp), symmetric 0.8 (+18.4 pp); no at asymmetric 0.4 (+1.2 pp) |
    fashion-mnist: not run yet"``."""
    parts = []
    for dataset, part in fit.groupby("dataset", sort=False):
        if (part["seeds"] == 0).all():
            parts.append(f"{dataset}: not run yet")
            continue
        answers = part["fits"].map({True: "yes", False: "no"}).fillna("cannot tell")
        cells = [f"{word} at " + ", ".join(row["setting"] + ("" if np.isnan(row["rise"]) else
                                                             f" ({row['rise'] * 100:+.1f} pp)".replace("-", "\u2212"))
                                           for _, row in part[answers == word].iterrows())
                 for word in ("yes", "no", "cannot tell") if (answers == word).any()]
        parts.append(f"{dataset}: " + "; ".join(cells))
    return " | ".join(parts) if parts else "no label-noise runs"


def memorisation_figure(long: pd.DataFrame, losses: Sequence[str] = NOISE_LOSSES,
                        panel: tuple[float, float] = (3.2, 2.6)) -> Figure:
    """Training accuracy against the given label, per epoch: rows = dataset x (clean, flipped labels), columns =
    label-noise settings; one line per loss (mean over seeds), band = min to max over seeds."""
    rows = [(d, labels) for d in pd.unique(long["dataset"]) for labels in ("clean", "flipped")]
    by_kind = long.sort_values(["label_noise", "label_noise_rate"], ascending=[False, True])  # symmetric first
    settings = list(pd.unique(by_kind["setting"]))
    colours = palette(list(losses))
    fig, axes = _panels(len(rows), max(1, len(settings)), panel)
    for (r, (dataset, labels)), (c, setting) in ((a, b) for a in enumerate(rows) for b in enumerate(settings)):
        ax, part = axes[r, c], long[(long["dataset"] == dataset) & (long["labels"] == labels)
                                    & (long["setting"] == setting)]
        for loss in losses:
            stats = part[part["loss"] == loss].groupby("epoch")["train_acc"].agg(["mean", "min", "max"]).dropna()
            ax.plot(stats.index, stats["mean"], marker="o", ms=3, color=colours[loss], label=pretty(loss))
            ax.fill_between(stats.index, stats["min"], stats["max"], color=colours[loss], alpha=0.15, lw=0)
        ax.set(title=f"{dataset}: {setting}", xlabel="epoch",
               ylabel=f"train acc, {labels} labels" if c == 0 else "")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(fig, axes)
    return fig


def glue_values(curves: pd.DataFrame, keys: Mapping[str, tuple[str, str, float, str]]) -> dict[str, float]:
    """Plain floats for the prose: ``keys`` maps a glue key to (dataset, kind, level, loss) -> mean test accuracy
    (NaN where not run)."""
    means = curves.groupby(["dataset", "kind", "level", "loss"])["test_acc"].mean()
    return {key: float(means.get(where, np.nan)) for key, where in keys.items()}


def dataset_keys(datasets: Sequence[str]) -> dict[str, str]:
    """``{"mnist": "noise_verdict_mnist", "fashion-mnist": "noise_verdict_fashion_mnist", ...}``."""
    return {name: f"noise_verdict_{dataset_key(name)}" for name in datasets}
