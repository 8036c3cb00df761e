"""The noise chapter's two reporting rules (final or early-stopped epoch) and its two families of paired tests:
the judged claim (:func:`claim_family`) and every noisy setting at the final epoch (:func:`noise_verdicts`).

Learning rates are chosen per dataset and noise setting on an equally noisy validation split
(:mod:`sigmse.runs.protocol`); the tests read the reporting runs at those rates.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sigmse.checks import check_choice
from sigmse.report.chapters import VERDICT_DATASETS, claim_cells, comparison_row, dataset_key
from sigmse.report.noise_analysis import in_setting_order, setting_label, signed
from sigmse.report.plots import pretty
from sigmse.report.verdicts import ACCURACY_MARGINS, holm_verdicts, paired_tests

__all__ = ["NOISE_REPORTING_RULES", "reported_epochs", "rule_frame", "CLAIM_KINDS", "CLAIM_ROBUST_LOSSES",
           "claim_family", "claim_glue", "rules_summary", "claim_line", "ROBUST_LOSSES", "noise_verdicts",
           "noise_verdict", "verdict_line", "tally"]

# Which epoch of a label-noise run is reported (glue-key part -> name), fixed before the next full protocol and
# never tuned. Why two: at the final epoch CE has had the whole budget to fit the flipped labels, while a
# practitioner stops at the best epoch on an equally noisy validation split; a claim that holds under one rule
# only is a claim about that rule (the noise chapter's method section, issue 21). Both read the stored history.
NOISE_REPORTING_RULES: Mapping[str, str] = {"final": "final epoch", "early": "early stopped"}


def reported_epochs(history: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Per run of a history frame, the epoch ``rule`` reports (``final``: the last; ``early``: the first with the
    highest ``val_acc``) with ``val_acc`` and ``test_acc`` there. Only ``val_acc`` chooses; a diverged run keeps
    its row with NaN values."""
    check_choice("reporting rule", rule, tuple(NOISE_REPORTING_RULES))
    ordered = history.sort_values(["hash", "epoch"], kind="stable")
    runs = ordered.drop_duplicates("hash")[["hash", "dataset", "loss", "seed", "lr", "status", "label_noise",
                                            "label_noise_rate"]]
    usable = ordered[ordered["status"] == "ok"]
    if rule == "final":
        picked = usable.groupby("hash", sort=False).tail(1)
    else:
        scored = usable.dropna(subset=["val_acc"])
        picked = scored.loc[scored.groupby("hash", sort=False)["val_acc"].idxmax()]  # idxmax: the first maximum
    return runs.merge(picked[["hash", "epoch", "val_acc", "test_acc"]], on="hash", how="left")


def rule_frame(history: pd.DataFrame) -> pd.DataFrame:
    """The label-noise runs of a history frame under each reporting rule: one row per run and rule."""
    noisy = history[history["label_noise"] != "none"]
    parts = [reported_epochs(noisy, key).assign(rule=name) for key, name in NOISE_REPORTING_RULES.items()]
    frame = pd.concat(parts, ignore_index=True).rename(columns={"label_noise": "kind", "label_noise_rate": "level"})
    return frame.assign(level=frame["level"].astype(float))[["hash", "dataset", "kind", "level", "loss", "seed", "lr",
                                                              "status", "rule", "epoch", "val_acc", "test_acc"]]


# The judged claim: at each dataset's heaviest symmetric and asymmetric rate, under both rules, sigmoid-MSE + OR
# beats softmax CE and is not worse than GCE and symmetric CE (the noise losses Liu et al. report beside CE; MAE
# underfits harder data, Zhang & Sabuncu 2018, so it stays exploratory). One Holm family.
CLAIM_KINDS = ("symmetric", "asymmetric")
CLAIM_ROBUST_LOSSES = ("gce", "symmetric_ce")


def _family(frame: pd.DataFrame, keys: list[str], candidate: str, baseline: str, robust: Sequence[str],
            alpha: float, margins: Mapping[str, float]) -> pd.DataFrame:
    """``candidate`` against ``baseline`` (superiority) and each of ``robust`` (non-inferiority) per ``keys``,
    paired on the seed and Holm-adjusted together."""
    tests = [paired_tests(frame, "test_acc", claim="noninferiority" if i else "superiority", margins=margins, by=keys,
                          baseline=other, levels=[candidate]) for i, other in enumerate([baseline, *robust])]
    return holm_verdicts(pd.concat(tests, ignore_index=True), alpha=alpha)


def claim_family(rules: pd.DataFrame, candidate: str = "sigmoid_mse_or", baseline: str = "softmax_ce",
                 robust: Sequence[str] = CLAIM_ROBUST_LOSSES, alpha: float = 0.05,
                 margins: Mapping[str, float] = ACCURACY_MARGINS) -> pd.DataFrame:
    """The judged family from a :func:`rule_frame` (see :func:`_family`) at each dataset's heaviest rate of each
    kind of :data:`CLAIM_KINDS`, per rule; rows by dataset (:data:`VERDICT_DATASETS` first), setting, rule and
    baseline in their given order."""
    heaviest = rules[rules["kind"].isin(CLAIM_KINDS)].groupby(["dataset", "kind"], sort=False)["level"].max()
    judged = rules.merge(heaviest.reset_index(), on=["dataset", "kind", "level"])
    family = _family(judged, ["dataset", "kind", "level", "rule"], candidate, baseline, robust, alpha, margins)
    order = [{name: i for i, name in enumerate(names)}
             for names in (VERDICT_DATASETS, NOISE_REPORTING_RULES.values(), [baseline, *robust])]
    ranked = family.assign(_d=family["dataset"].map(order[0]).fillna(len(order[0])), _r=family["rule"].map(order[1]),
                           _b=family["baseline"].map(order[2]))
    ordered = in_setting_order(ranked.sort_values(["_d", "_r", "_b"], kind="stable"))
    return ordered.drop(columns=["_d", "_r", "_b"]).reset_index(drop=True)


def claim_glue(family: pd.DataFrame, prefix: str, profile: str, datasets: Sequence[str] = VERDICT_DATASETS,
               candidate: str = "sigmoid_mse_or", baseline: str = "softmax_ce") -> dict[str, str]:
    """The intro's noise rows from a :func:`claim_family`: ``<prefix>_<kind>_setting_<dataset>`` and, per rule,
    ``<prefix>_<kind>_<rule>_<dataset>`` cells; the keys the chapter registers in ``sigmse.runs.experiments``."""
    versus = family[family["baseline"] == baseline]
    values: dict[str, str] = {}
    for kind in CLAIM_KINDS:
        for dataset in datasets:
            ran = versus[(versus["dataset"] == dataset) & (versus["kind"] == kind)]
            values[f"{prefix}_{kind}_setting_{dataset_key(dataset)}"] = (
                setting_label(kind, ran["level"].iloc[0]) if len(ran) else kind)
            for key, rule in NOISE_REPORTING_RULES.items():
                row = comparison_row(versus, candidate, dataset=dataset, kind=kind, rule=rule)
                values.update(claim_cells(f"{prefix}_{kind}_{key}_{dataset_key(dataset)}", row, profile))
    return values


def _effect(diff: float) -> str:
    """A difference in accuracy as percentage points for prose, ``"−0.66 pp"``."""
    return "no pairs" if not np.isfinite(diff) else f"{signed(diff * 100, 2)} pp"


def rules_summary(family: pd.DataFrame, listed: Sequence[str] | None = None) -> str:
    """One sentence: where the two reporting rules' verdicts differ (named against ``listed`` baselines, counted
    against the others), or that they agree on all."""
    if family.empty:
        return "This build ran no label-noise setting of the judged family."
    final, early = NOISE_REPORTING_RULES.values()
    keys = ["dataset", "kind", "level", "baseline"]
    paired = family[family["rule"] == final].merge(family[family["rule"] == early], on=keys,
                                                   suffixes=("_final", "_early")).set_index(keys)
    rules = f"The two reporting rules ({final}; {early} at the best noisy-validation epoch)"
    differ = paired[paired["verdict_final"] != paired["verdict_early"]]
    if differ.empty:
        return (f"{rules} agree on every one of the {len(paired)} judged comparisons of "
                f"{pretty(family['loss'].iloc[0])}.")
    baselines = differ.index.get_level_values("baseline")
    is_named = baselines.isin(list(listed) if listed is not None else list(baselines))
    named, counted = differ[is_named], differ[~is_named]
    cells = [f"against {pretty(baseline)} on {dataset} at {setting_label(kind, level)} ({final}: "
             f"{row['verdict_final']}, {_effect(row['mean_diff_final'])}; {early}: {row['verdict_early']}, "
             f"{_effect(row['mean_diff_early'])})" for (dataset, kind, level, baseline), row in named.iterrows()]
    others = sorted(set(counted.index.get_level_values("baseline")), key=list(family["baseline"].unique()).index)
    if len(counted):
        cells.append(f"and on {len(counted)} against {' and '.join(pretty(b) for b in others)} (the noise chapter "
                     "lists them)")
    agree = len(paired) - len(differ)
    return (f"{rules} give different verdicts on {len(differ)} of the {len(paired)} judged comparisons of "
            f"{pretty(family['loss'].iloc[0])}: " + "; ".join(cells)
            + (f". They agree on the other {agree}." if agree else "."))


def claim_line(family: pd.DataFrame, baseline: str = "softmax_ce") -> str:
    """The judged verdicts against ``baseline`` in one line, e.g. ``"mnist, symmetric 0.8: final epoch better
    (+9.71 pp), early stopped inconclusive (−0.66 pp) | ..."``."""
    versus = family[family["baseline"] == baseline]
    return " | ".join(f"{dataset}, {setting_label(kind, level)}: " + ", ".join(
        f"{rule} {verdict} ({_effect(diff)})" for rule, verdict, diff in part[["rule", "verdict", "mean_diff"]].values)
        for (dataset, kind, level), part in versus.groupby(["dataset", "kind", "level"], sort=False)) or "not run"


ROBUST_LOSSES = ("mae", "gce", "symmetric_ce")


def noise_verdicts(curves: pd.DataFrame, candidate: str = "sigmoid_mse_or", baseline: str = "softmax_ce",
                   robust: Sequence[str] = ROBUST_LOSSES, alpha: float = 0.05,
                   margins: Mapping[str, float] = ACCURACY_MARGINS) -> pd.DataFrame:
    """The exploratory family: every noisy setting at the final epoch, paired on the seed, ``candidate`` against
    ``baseline`` (superiority) and each of ``robust`` (non-inferiority), Holm-adjusted as a family of its own."""
    family = _family(curves[curves["level"] > 0], ["dataset", "kind", "level"], candidate, baseline, robust, alpha,
                     margins)
    return in_setting_order(family).reset_index(drop=True)


def _verdict_cell(row: Mapping[str, Any]) -> str:
    """``"better at 0.8 (+5.1 pp)"`` for one verdict row."""
    level = f"σ={row['level']:g}" if str(row["kind"]).startswith("input") else f"{row['level']:g}"
    diff = f"{row['mean_diff'] * 100:+.1f} pp" if np.isfinite(row["mean_diff"]) else "no pairs"
    return f"{row['verdict']} at {level} ({diff})".replace("-", "\u2212")


def noise_verdict(family: pd.DataFrame, baseline: str = "softmax_ce",
                  datasets: Sequence[str] | None = None) -> dict[str, str]:
    """Per dataset, one line, e.g. ``"symmetric: inconclusive at 0.4 (+0.3 pp), better at 0.8 (+6.1 pp); ..."``."""
    rows = family[family["baseline"] == baseline]
    out = {}
    for dataset in (datasets if datasets is not None else pd.unique(family["dataset"])):
        part = rows[rows["dataset"] == dataset]
        kinds = [f"{kind}: " + ", ".join(_verdict_cell(r) for _, r in group.iterrows())
                 for kind, group in part.groupby("kind", sort=False)]
        seeds = int(part["n_pairs"].max()) if kinds else 0
        out[dataset] = "; ".join(kinds) + f" ({seeds} seed{'s' if seeds != 1 else ''})" if kinds else "not run"
    return out


def verdict_line(verdicts: Mapping[str, str], profile: str, candidate: str = "sigmoid_mse_or",
                 baseline: str = "softmax_ce") -> str:
    """The verdicts of :func:`noise_verdict` in one line, labelled exploratory."""
    prefix = "smoke profile, numbers meaningless: " if profile == "smoke" else ""
    return (f"{prefix}exploratory, final epoch, every noisy setting: {candidate} vs {baseline} "
            + " | ".join(f"on {dataset}: {text}" for dataset, text in verdicts.items()))


def tally(family: pd.DataFrame, datasets: Sequence[str] | None = None) -> dict[str, str]:
    """Per dataset, e.g. ``"over 4 noisy settings: vs softmax CE 1 better, 3 inconclusive; vs GCE 4 not worse"``."""
    out = {}
    for dataset in (datasets if datasets is not None else pd.unique(family["dataset"])):
        part = family[family["dataset"] == dataset]
        counts = part.groupby("baseline", sort=False)["verdict"].value_counts(sort=False)
        cells = [f"vs {pretty(other)} " + ", ".join(f"{n} {verdict}" for verdict, n in counts[other].items())
                 for other in pd.unique(part["baseline"])]
        settings = len(part[["kind", "level"]].drop_duplicates())
        out[dataset] = f"over {settings} noisy settings: " + "; ".join(cells) if cells else "not run"
    return out

