"""Verdicts a reviewer can accept: paired equivalence, superiority and non-inferiority tests, Holm-adjusted.

A failed significance test never shows that two losses are equal (Benavoli et al., JMLR 2017): each comparison,
paired on the seed, tests up to four one-sided hypotheses (better, worse, equivalent within ±m by TOST, not worse
by m) against a margin fixed here before the runs it judges; a chapter's family of p-values is Holm-adjusted
(Dror et al., ACL 2018), and the verdict is the first hypothesis in the claim's :data:`PRIORITY` whose adjusted
p-value is below ``alpha``, else inconclusive. The rules, and the commits that fixed the margins and the power
calculation, are on the book's method page ("How the book decides").
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import DescrStatsW, ttost_paired

from sigmse.checks import check_choice, check_number

__all__ = ["CLAIMS", "HYPOTHESES", "PRIORITY", "ACCURACY_MARGINS", "accuracy_margin", "paired_tests", "holm_verdicts",
           "NOT_JUDGED", "decisive_p", "verdict_label", "verdict_text", "tost_power", "power_table",
           "reporting_seeds_needed"]

# What a comparison claims; it decides which hypotheses are tested and which verdict wins when several hold.
CLAIMS = ("equivalence", "superiority", "noninferiority")
HYPOTHESES = ("better", "worse", "equivalent", "not worse")
P_COLUMNS = {h: "p_" + h.replace(" ", "_") for h in HYPOTHESES}  # the raw p-value column of each hypothesis
# "matches": equality within the margin is the claim (a significant gap inside it is not practically one); "beats":
# a significant improvement, however small; "no worse than": equivalence says more than non-inferiority.
PRIORITY: dict[str, tuple[str, ...]] = {"equivalence": ("equivalent", "better", "worse"),
                                        "superiority": ("better", "worse", "equivalent"),
                                        "noninferiority": ("better", "equivalent", "not worse", "worse")}

# Margins on test accuracy (0.005 = 0.5 pp), fixed before any run they judge. MNIST, Fashion-MNIST: 0.5 pp, about the
# gap between neighbouring leaderboard entries and several times an MLP's seed-to-seed spread. CIFAR-10: 1 pp, as a
# convnet's spread is about twice as large and 1 pp is the smallest gap papers on it report as a difference.
ACCURACY_MARGINS: dict[str, float] = {"mnist": 0.005, "fashion-mnist": 0.005, "cifar10": 0.01}


def accuracy_margin(dataset: str) -> float:
    """The accuracy margin of ``dataset`` (:data:`ACCURACY_MARGINS`); unknown datasets raise ``ValueError``."""
    if dataset not in ACCURACY_MARGINS:
        raise ValueError(f"no accuracy margin is fixed for dataset {dataset!r}; margins exist for: "
                         f"{', '.join(ACCURACY_MARGINS)}")
    return ACCURACY_MARGINS[dataset]


def _tests(improvement: np.ndarray, margin: float, claim: str) -> dict[str, float]:
    """The raw one-sided p-values of the claim's hypotheses (NaN for those not tested, and all below 2 pairs). With
    no spread (every pair moved by the same amount) each test's limit is certainty either way."""
    p = dict.fromkeys(HYPOTHESES, math.nan)
    if len(improvement) < 2:
        return p
    mean, flat = float(improvement.mean()), float(improvement.std(ddof=1)) == 0.0

    def one_sided(value: float, alternative: str) -> float:  # the mean improvement is 'larger'/'smaller' than value
        if flat:
            return 0.0 if (mean > value if alternative == "larger" else mean < value) else 1.0
        return float(DescrStatsW(improvement).ttest_mean(value, alternative=alternative)[1])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p["better"], p["worse"] = one_sided(0.0, "larger"), one_sided(0.0, "smaller")
        if "equivalent" in PRIORITY[claim]:  # TOST: the mean improvement lies in (-margin, margin)
            p["equivalent"] = ((0.0 if abs(mean) < margin else 1.0) if flat else
                               float(ttost_paired(improvement, np.zeros_like(improvement), -margin, margin)[0]))
        if "not worse" in PRIORITY[claim]:
            p["not worse"] = one_sided(-margin, "larger")
    return p


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The Student-t interval of the mean (n - 1 degrees of freedom); NaN below two values."""
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    mean, half = float(values.mean()), float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(values.std(ddof=1))
    return mean - half / math.sqrt(n), mean + half / math.sqrt(n)


def paired_tests(frame: pd.DataFrame, metric: str, *, claim: str, margins: float | Mapping[str, float],
                 by: str | Sequence[str] = "dataset", baseline: str = "softmax_ce", column: str = "loss",
                 pair_on: str | Sequence[str] = "seed", higher_is_better: bool = True,
                 levels: Sequence[str] | None = None) -> pd.DataFrame:
    """Each level of ``column`` (or of ``levels``) against ``baseline``, paired on ``pair_on`` within each group of
    ``by`` (one run per pair, one learning rate per group): raw tests, before :func:`holm_verdicts`. ``margins``:
    on ``metric``'s scale, or per dataset. One row per group and level: ``n_pairs``, ``mean_diff`` (level minus
    baseline) with its t interval, ``sd_diff``, the raw p-values of :data:`P_COLUMNS` (NaN: not tested), and in
    ``note`` the pairs left out for a missing (diverged) value."""
    check_choice("claim", claim, CLAIMS)
    keys = [by] if isinstance(by, str) else list(by)
    pairs = [pair_on] if isinstance(pair_on, str) else list(pair_on)
    duplicated = frame.duplicated([*keys, column, *pairs])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise ValueError(f"more than one run for {dict(row[[*keys, column, *pairs]])}; keep one learning rate "
                         "per group (the reporting runs) or pair on more columns")
    rows = []
    for group, part in frame.groupby(keys, sort=True, dropna=False):
        group = group if isinstance(group, tuple) else (group,)
        table = part.pivot(index=pairs, columns=column, values=metric)
        if baseline not in table.columns:
            continue
        margin = float(margins[group[0]] if isinstance(margins, Mapping) else margins)
        for level in [c for c in table.columns if c != baseline and (levels is None or c in levels)]:
            both = table[[level, baseline]].dropna()
            dropped = int(table[[level, baseline]].notna().any(axis=1).sum()) - len(both)
            diff = (both[level] - both[baseline]).to_numpy(dtype=float)
            p = _tests(diff if higher_is_better else -diff, margin, claim)
            rows.append([*group, level, baseline, claim, margin, len(diff),
                         float(diff.mean()) if len(diff) else math.nan, *t_interval(diff),
                         float(diff.std(ddof=1)) if len(diff) > 1 else math.nan, higher_is_better, *p.values(),
                         f"{dropped} pair(s) without a value (diverged or missing) left out" if dropped else ""])
    return pd.DataFrame(rows, columns=[*keys, column, "baseline", "claim", "margin", "n_pairs", "mean_diff", "ci95_low",
                                       "ci95_high", "sd_diff", "higher_is_better", *P_COLUMNS.values(), "note"])


def holm_verdicts(tests: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Holm-adjust the tested p-values of one family: adds ``padj_<hypothesis>``, ``family_size`` and ``verdict``
    (first of ``PRIORITY[claim]`` below ``alpha``, else ``"inconclusive"``)."""
    check_number("alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    out = tests.copy()
    names = list(P_COLUMNS.values())
    raw = out[names].to_numpy(dtype=float)
    tested = np.isfinite(raw)
    adjusted = np.full_like(raw, np.nan)
    if tested.any():
        adjusted[tested] = multipletests(raw[tested], alpha=alpha, method="holm")[1]
    for index, name in enumerate(names):
        out["padj_" + name[2:]] = adjusted[:, index]
    out["family_size"] = int(tested.sum())
    out["verdict"] = [next((h for h in PRIORITY[claim] if adjusted[i, HYPOTHESES.index(h)] < alpha), "inconclusive")
                      for i, claim in enumerate(out["claim"])]
    return out


NOT_JUDGED = "not judged"  # a comparison shown for context, outside every family of tests


def decisive_p(row: Mapping[str, Any]) -> float:
    """The Holm-adjusted p-value behind a verdict: its hypothesis's, or for ``inconclusive`` the claim's
    primary hypothesis's (the first of :data:`PRIORITY`); NaN for a comparison :data:`NOT_JUDGED`."""
    if row["verdict"] == NOT_JUDGED:
        return math.nan
    hypothesis = PRIORITY[row["claim"]][0] if row["verdict"] == "inconclusive" else row["verdict"]
    return float(row["padj_" + hypothesis.replace(" ", "_")])


def verdict_label(row: Mapping[str, Any], scale: float = 100.0, unit: str = "pp") -> str:
    """The verdict with its margin where it has one: ``"equivalent (within ±0.50 pp)"``,
    ``"not worse (non-inferior by 0.50 pp)"``, ``"better"``, ``"worse"``, ``"inconclusive"``."""
    verdict, margin = row["verdict"], f"{row['margin'] * scale:.2f} {unit}".strip()
    if verdict == "equivalent":
        return f"equivalent (within \u00b1{margin})"
    if verdict == "not worse":
        return f"not worse (non-inferior by {margin})"
    return str(verdict)


def _signed(value: float, scale: float, digits: int) -> str:
    return f"{value * scale:+.{digits}f}".replace("-", "\u2212")


def verdict_text(row: Mapping[str, Any] | None, scale: float = 100.0, unit: str = "pp", digits: int = 2) -> str:
    """One line for prose from a :func:`holm_verdicts` row:
    ``"equivalent (within ±0.50 pp): −0.12 pp [−0.40, +0.15], 5 seeds"``; ``None`` gives ``"not run"``."""
    if row is None:
        return "not run"
    n = int(row["n_pairs"])
    seeds = f"{n} seed{'s' if n != 1 else ''}"
    if n == 0:
        return "inconclusive: no complete pairs"
    effect = f"{_signed(row['mean_diff'], scale, digits)} {unit}".strip()
    if n < 2:
        return f"inconclusive: {effect}, {seeds} (a paired test needs two)"
    interval = f"[{_signed(row['ci95_low'], scale, digits)}, {_signed(row['ci95_high'], scale, digits)}]"
    return f"{verdict_label(row, scale, unit)}: {effect} {interval}, {seeds}"


def tost_power(n: int, margin: float, spread: float, alpha: float = 0.05) -> float:
    """Lower bound on the paired TOST's power at a true difference of 0: ``1 - 2 (1 - power_one_sided)`` (union
    bound, clipped at 0), one-sided power at effect size ``margin / spread`` (sd of the paired differences)."""
    if n < 2:
        return 0.0
    one_sided = TTestPower().power(effect_size=margin / spread, nobs=n, alpha=alpha, alternative="larger")
    return max(0.0, 1.0 - 2.0 * (1.0 - float(one_sided)))


def power_table(family: pd.DataFrame, by: Sequence[str] = ("dataset",)) -> pd.DataFrame:
    """Per row of a verdict family: pairs, observed sd, TOST power at the family's Bonferroni level, and the seeds
    the next plan would ask for (never this one's verdicts)."""
    rows = []
    for _, row in family.iterrows():
        spread, n, size = row["sd_diff"], int(row["n_pairs"]), max(1, int(row["family_size"]))
        usable = n >= 2 and np.isfinite(spread) and spread > 0
        needed: float = math.nan
        if usable:
            try:
                needed = reporting_seeds_needed(row["margin"], spread, family_size=size, minimum=2)
            except ValueError:  # more than the most we would ever plan
                needed = math.inf
        rows.append({**{k: row[k] for k in by}, "pairs": n, "observed sd": spread,
                     "power now": tost_power(n, row["margin"], spread, 0.05 / size) if usable else math.nan,
                     "seeds needed": needed})
    return pd.DataFrame(rows)


def reporting_seeds_needed(margin: float, spread: float, *, power: float = 0.8, alpha: float = 0.05,
                           family_size: int = 1, minimum: int = 5, maximum: int = 50) -> int:
    """The fewest seeds (at least ``minimum``) calling two truly equal losses equivalent with probability ``power``
    at Holm's first, Bonferroni level ``alpha / family_size`` (hypotheses: an equivalence brings three)."""
    level = alpha / family_size
    for n in range(max(2, minimum), maximum + 1):
        if tost_power(n, margin, spread, level) >= power:
            return n
    raise ValueError(f"even {maximum} seeds give TOST power below {power} at margin {margin} and spread "
                     f"{spread}; widen the margin or reduce the spread")
