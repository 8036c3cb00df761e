"""The noise chapter (``notebooks/noise.ipynb``): :class:`NoiseChapter`, one method per figure or table.

Curves and memorisation: :mod:`~sigmse.report.noise_analysis`; rules and tests: :mod:`~sigmse.report.noise_rules`;
tables and figures: :mod:`~sigmse.report.noise_tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import pandas as pd

from sigmse.data.noise import ASYMMETRIC_FLIPS
from sigmse.report import noise_tables as nt
from sigmse.report.analysis import Part, history_frame, records_frame
from sigmse.report.chapters import (Records, budget_text, common_rates, dataset_key, family_size,
                                    grid_edge_text, listing, runs_frame)
from sigmse.report.noise_analysis import (MEMORISATION_RISE, budget_reach, flipped_fit, flipped_fit_summary,
                                          flipped_fit_table, in_setting_order, lead_values, memorisation_end,
                                          memorisation_glue, memorisation_history, noise_curves)
from sigmse.report.noise_rules import (claim_family, claim_glue, claim_line, noise_verdict, noise_verdicts,
                                       rule_frame, rules_summary, tally, verdict_line)
from sigmse.report.pilots import noise_pilot_table, noise_pilot_text, trained_epochs
from sigmse.runs.profiles import get_profile

__all__ = ["learning_rate_protocol", "settings_text", "NoiseChapter"]


def learning_rate_protocol(selection: Records, report: Records) -> str:
    """How this build's learning rates came about, read from its records."""
    rates = listing(sorted({record["config"]["lr"] for record in report}))
    if not selection:
        return (f"No learning rate was chosen: the grid has one rate ({rates}), at which every loss trains in "
                "every setting, so every run is a reporting run and no seed is spent on choosing")
    common = common_rates(nt.trained_settings(records_frame(selection)), ("setting", "loss"))
    grids = {dataset: listing(sorted(common[dataset]))  # in the order the datasets first ran
             for dataset in dict.fromkeys(record["config"]["dataset"] for record in selection)}
    grid = (next(iter(grids.values())) if len(set(grids.values())) == 1
            else "; ".join(f"{dataset}: {rates}" for dataset, rates in grids.items()))
    seeds = listing(sorted({record["config"]["seed"] for record in selection}))
    return (f"Each loss trains at every rate of the grid ({grid}) with the selection seeds ({seeds}) and, per "
            "dataset and noise setting, keeps the rate with the best mean final validation accuracy over those "
            "seeds (on the noisy validation split, never on test); the reporting seeds train the chosen rate "
            "again, and everything below reads only them")


def settings_text(curves: pd.DataFrame, datasets: Sequence[str]) -> str:
    """The settings each dataset ran, e.g. ``"mnist: clean; symmetric 0.4, 0.8 | cifar10: symmetric 0.8"``."""
    parts = []
    for dataset in datasets:
        part = in_setting_order(curves[curves["dataset"] == dataset])
        kinds = ["clean"] if (part["level"] == 0).any() else []
        kinds += [f"{kind}{' σ' if kind.startswith('input') else ''} {listing(sorted(group['level'].unique()))}"
                  for kind, group in part[part["level"] > 0].groupby("kind", sort=False)]
        parts.append(f"{dataset}: " + "; ".join(kinds))
    return " | ".join(parts) or "no runs"


@dataclass(frozen=True)
class NoiseChapter:
    """This build's noise records (``selection`` chose the rates, ``report`` is read by the rest), its profile's
    name and the family-wise error rate ``alpha`` of each Holm family; each frame is derived once."""

    selection: Records
    report: Records
    profile: str
    alpha: float = 0.05

    @cached_property
    def runs(self) -> pd.DataFrame:
        return runs_frame(self.report)

    @cached_property
    def datasets(self) -> list[str]:
        """In the order first seen; the first leads the prose."""
        return list(pd.unique(self.runs["dataset"]))

    @cached_property
    def curves(self) -> pd.DataFrame:
        return noise_curves(self.runs)

    @cached_property
    def history(self) -> pd.DataFrame:
        return history_frame(self.report)

    @cached_property
    def rules(self) -> pd.DataFrame:
        return rule_frame(self.history)

    @cached_property
    def family(self) -> pd.DataFrame:
        """The exploratory family: every noisy setting at the final epoch."""
        return noise_verdicts(self.curves, alpha=self.alpha)

    @cached_property
    def memory(self) -> pd.DataFrame:
        return memorisation_history(self.history)

    # the parts, in page order
    def protocol(self) -> Part:
        """This build's protocol, read from its records, and the paper profile's."""
        paper, selection, report = get_profile("paper"), self.selection, self.report
        configs = [record["config"] for record in report]
        datasets = list(dict.fromkeys(config["dataset"] for config in configs))
        asymmetric = {c["dataset"] for c in configs if c["label_noise"] == "asymmetric"}
        flips = "; ".join(f"{d}: " + ", ".join(f"{a}→{b}" for a, b in ASYMMETRIC_FLIPS[d].items())
                          for d in datasets if d in asymmetric)
        settings = settings_text(noise_curves(records_frame(report)), datasets) if report else "no runs"
        return Part({"profile_name": self.profile, "noise_datasets": listing(datasets), "settings_run": settings,
                     "lr_protocol": learning_rate_protocol(selection, report),
                     "seed_list": listing(sorted({config["seed"] for config in configs})),
                     "n_runs": len(selection) + len(report),
                     "budgets": budget_text(runs_frame(report), runs_frame(selection)),
                     "flip_pairs": flips or "no dataset of this build ran asymmetric noise",
                     "paper_datasets": listing(paper.noise_datasets), "paper_symmetric": listing(paper.symmetric_rates),
                     "paper_asymmetric": listing(paper.asymmetric_rates), "paper_sigmas": listing(paper.input_sigmas),
                     "paper_seeds": listing(paper.report_seeds),
                     "paper_selection_seeds": listing(paper.selection_seeds)})

    def chosen_rates(self) -> Part:
        """The learning rate of each loss's reporting runs, per dataset and setting, and the rates at an edge of
        those tried or added by the grid-edge rule (``edge_rule``: in a sentence)."""
        chose = runs_frame(self.selection)
        edges = nt.rate_edges_table(self.runs, chose)
        groups = nt.trained_settings(chose).groupby(["dataset", "setting", "loss"]).ngroups if len(chose) else 0
        text = (grid_edge_text(edges, groups, "dataset, setting and loss groups") if self.selection
                else "No rate was chosen, so none sits at an edge of a grid it was chosen from.")
        return Part({"edge_rule": text}, (nt.chosen_lr_table(self.runs).style.format("{:g}", na_rep="–"),
                                          *((edges,) if self.selection else ())))

    def accuracy_figure(self) -> Part:
        return Part({"fig_noise_accuracy": nt.accuracy_vs_noise(self.curves)})

    def accuracy_table(self) -> Part:
        return Part({"n_seeds": int(self.runs["seed"].nunique())}, (nt.noise_table(self.curves),))

    def reporting_rules(self) -> Part:
        return Part({}, (nt.rule_table(self.rules),))

    def judged_family(self) -> Part:
        """The judged family (the paper's claim under both reporting rules) and the intro's noise rows
        (``claim_noise_*``)."""
        claims = claim_family(self.rules, alpha=self.alpha)
        return Part({"claim_comparisons": len(claims), "alpha_text": f"{self.alpha:g}",
                     "claim_family_size": family_size(claims), **claim_glue(claims, "claim_noise", self.profile),
                     "noise_rules": rules_summary(claims, listed=["softmax_ce"]),
                     "noise_rules_all": rules_summary(claims), "claim_verdicts": claim_line(claims)},
                    (nt.family_table(claims),))

    def exploratory_family(self) -> Part:
        return Part({"noise_family_size": family_size(self.family)}, (nt.family_table(self.family),))

    def exploratory_figure(self) -> Part:
        return Part({"fig_noise_paired": nt.verdict_figure(self.family)})

    def standings_table(self) -> Part:
        return Part({}, (nt.standings(self.curves),))

    def tallies(self) -> Part:
        """Sigmoid-MSE + OR's exploratory verdicts counted per dataset."""
        tallies = tally(self.family, datasets=self.datasets)
        values: dict[str, Any] = {f"noise_tally_{dataset_key(d)}": text for d, text in tallies.items()}
        values["noise_tally"] = " | ".join(f"{d}: {t}" for d, t in tallies.items())
        return Part(values, (pd.DataFrame({"verdicts of sigmoid-MSE + OR, noisy settings": tallies}),))

    def memorisation_curves(self) -> Part:
        return Part({"fig_noise_memorisation": nt.memorisation_figure(self.memory)})

    def memorisation_at_end(self) -> Part:
        """Training accuracy on clean and flipped labels at the last epoch."""
        end = memorisation_end(self.memory)
        return Part(memorisation_glue(end, self.datasets[0]), (end,))

    def flipped_labels(self) -> Part:
        """Whether softmax CE started to fit the flipped labels, and what each budget reaches."""
        fit = flipped_fit(self.memory, datasets=self.datasets)
        values = {"memorisation_rise_pp": MEMORISATION_RISE * 100, "flipped_fit_summary": flipped_fit_summary(fit),
                  "budget_reach": budget_reach(self.curves, fit, self.runs)}
        return Part(values, (flipped_fit_table(fit),))

    def noise_pilot(self, noise_pilot: Records, epoch_pilot: Records) -> Part:
        """What the noise pilot chose, from its records and the epoch pilot's."""
        text = noise_pilot_text(noise_pilot, epoch_pilot, self.profile, trained=trained_epochs(self.report))
        return Part({"noise_pilot_text": text}, (noise_pilot_table(noise_pilot),))

    def literature(self) -> Part:
        return Part({}, (nt.literature_table(self.curves).style.format("{:.2f}", na_rep="not run"),))

    def verdict(self) -> Part:
        """The exploratory verdict per dataset and in one line."""
        verdicts = noise_verdict(self.family, datasets=self.datasets)
        values = {"noise_verdict": verdict_line(verdicts, self.profile),
                  **{f"noise_verdict_{dataset_key(d)}": text for d, text in verdicts.items()}}
        return Part(values, (pd.DataFrame({"sigmoid_mse_or vs softmax_ce (exploratory, final epoch)": verdicts}),))

    def lead(self) -> Part:
        """The verdict prose's accuracies on the first dataset."""
        return Part(lead_values(self.curves, self.datasets[0]))

    def run_summary(self) -> str:
        """How many runs the page read, how many diverged, and their training time."""
        records = [*self.selection, *self.report]
        failed = sum(r["status"] != "ok" for r in records)
        minutes = sum(r["metrics"].get("train_seconds", 0) for r in records) / 60
        return f"{len(records)} runs, of which {failed} diverged; training time {minutes:.1f} min in total"
