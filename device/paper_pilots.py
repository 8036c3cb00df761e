"""Do a profile's stored pilots give the epochs its budgets train? Checked before its sweep trains anything else.

A protocol-v2 profile fixes its epochs before its runs (``Profile.epoch_pilot``, ``Profile.noise_pilot``): the
pilots train first, on the selection seeds, and their rules (:func:`sigmse.report.pilots.pilot_epochs`,
:func:`sigmse.report.pilots.noise_epochs`) give the clean and the noise runs' epochs. This script reads the pilots'
records under ``--results-dir`` and compares the rules' answers with the profile's budgets, per dataset:

* exit 0: every pilot agrees with the budget (or the profile has no pilot): the sweep may train its other runs;
* exit 3: a pilot chose other epochs: the profile must say so (its budget ``epochs``, or ``noise_epochs``), in a
  commit, before the sweep goes on; the lines printed name each change;
* exit 4: undecided: a pilot run is missing or failed, or no candidate passes the rule.

Usage, from the repository root (``pandas`` is needed, as for :mod:`sigmse.report.pilots`)::

    PYTHONPATH=. python device/paper_pilots.py --profile paper --results-dir results
"""

from __future__ import annotations

import argparse
from typing import Sequence

from sigmse.report.pilots import pilot_agreement
from sigmse.runs.profiles import get_profile


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="paper", help="the profile whose pilots are read (default: paper)")
    parser.add_argument("--results-dir", default="results", help="the results store (default: results)")
    args = parser.parse_args(argv)
    status, lines = pilot_agreement(get_profile(args.profile), args.results_dir)
    for line in lines:
        print(f"pilots: {line}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
