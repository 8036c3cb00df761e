"""The paper profile's GPU minutes on one H100, from an assumed cost per image until a GPU run measures it.

``sigmse sweep --profile paper --dry-run`` lists the paper runs, but prices only kinds of run that a committed
``sigmse bench --costs`` record or stored runs have timed (:func:`sigmse.runs.protocol.run_seconds`), and no GPU has
timed one yet. This script prices the same plan (:func:`sigmse.runs.experiments.sweep_plans`, read from the store
as the sweep reads it) with the same arithmetic (``run_seconds``: trained images x c_train + evaluated images x
c_eval + setup), given :data:`ASSUMED_H100` as the costs of the paper's kind of run, once for the budget's epochs
and once for each epoch count the pilots may choose.

Where the assumed costs come from (one H100, bf16 autocast, channels-last, data on the GPU, no torch.compile):

* The issue's ResNet-9 loop ran 0.715 s an epoch of 50,000 images on one H100. ResNet-9 (``resnet9``) costs 2.27
  GFLOP a training image (forward and backward, ``torch.utils.flop_counter``): about 159 TFLOP/s achieved.
* ``airbench`` at full width costs 0.708 GFLOP a training image (same counter), so at that rate an epoch of the
  45,000 training images (5,000 are the validation split) takes 0.20 s.
* airbench94 trains to 94 % in 3.3 s on an A100, about 10 epochs: 0.33 s an epoch, compiled (torch.compile) and with
  its own tuned loop. sigmse runs the network eagerly, its BatchNorm and GELU unfused.
* Assumed: 0.4 s a training epoch of 45,000 images (twice the FLOP-scaled 0.20 s, above airbench94's compiled
  0.33 s): 8.9e-6 s a training image. An evaluated image is a forward pass alone (0.236 GFLOP, a third of a
  training image) in batches of 2,048: 3.0e-6 s. Setup, 1.5 s a run: the cached arrays loaded and copied to the
  GPU (180 MB), normalised, the whitening filters computed, the first cuDNN calls.

One run at a time. ``--jobs N`` runs share the GPU: the wall-clock lies between the total over N and the total,
depending on how much of the GPU one run leaves idle; a GPU run measures both (its records' timings then price the
rest, through ``sigmse sweep --dry-run``'s stored-run costs). Usage, from the repository root::

    PYTHONPATH=. python device/paper_estimate.py [--results-dir results]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any, Sequence

from sigmse.runs.experiments import PlanOptions, experiment_names, load_record, sweep_plans
from sigmse.runs.profiles import Budget, Profile, get_profile
from sigmse.runs.protocol import ImageCosts, RunSeconds, cost_kind, run_seconds

TRAIN_EPOCH_SECONDS = 0.4  # assumed: one training epoch of airbench (full width) over 45,000 images on one H100
ASSUMED_H100 = ImageCosts(train=TRAIN_EPOCH_SECONDS / 45_000, evaluate=3.0e-6, setup=1.5)


def with_epochs(profile: Profile, epochs: int) -> Profile:
    """``profile`` with its CIFAR-10 budget training ``epochs`` epochs (what a pilot may choose)."""
    budget = profile.budgets["cifar10"]
    run: dict[str, Any] = dict(budget.run)
    model = run.pop("model")
    return replace(profile, budgets={**profile.budgets,
                                     "cifar10": Budget(model, lr_grid=budget.lr_grid, **{**run, "epochs": epochs})})


def estimate(profile: Profile, results_dir: str) -> list[tuple[str, int, int, RunSeconds]]:
    """Per experiment with runs to do: its name, the runs not stored (a reporting run not listed yet counted by its
    stand-in), their epochs and their seconds at :data:`ASSUMED_H100` (a run two experiments share, once)."""
    rows, seen = [], set()
    for plan in sweep_plans(experiment_names(), profile, PlanOptions(results_dir=results_dir)):
        todo = []
        for config in plan.selection + plan.report + plan.stand_ins:
            if config.hash not in seen and load_record(config, profile.name, results_dir) is None:
                todo.append(config)
            seen.add(config.hash)
        if todo:
            seconds = sum((run_seconds(c, {cost_kind(c): ASSUMED_H100}) for c in todo), RunSeconds())
            rows.append((plan.name, len(todo), sum(c.epochs for c in todo), seconds))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results-dir", default="results", help="the results store (default: results)")
    args = parser.parse_args(argv)
    paper = get_profile("paper")
    budget = paper.budgets["cifar10"].epochs
    candidates = sorted({budget, *paper.epoch_pilot["cifar10"].candidates})
    print(f"assumed on one H100: {TRAIN_EPOCH_SECONDS} s a training epoch of 45,000 images, "
          f"{ASSUMED_H100.evaluate:.1e} s an evaluated image, {ASSUMED_H100.setup} s setup a run; one run at a time")
    for epochs in candidates:
        rows = estimate(with_epochs(paper, epochs), args.results_dir)
        total = sum((seconds for *_, seconds in rows), RunSeconds())
        label = "the budget's" if epochs == budget else "if the pilot chooses"
        print(f"{label} {epochs} epochs: {sum(r[1] for r in rows)} runs, {sum(r[2] for r in rows)} epochs, "
              f"{total.total / 60:.1f} GPU minutes ({total.train / 60:.1f} training, {total.evaluate / 60:.1f} "
              f"evaluating, {total.setup / 60:.1f} setup)")
        for name, runs, run_epochs, seconds in rows:
            print(f"  {name}: {runs} runs, {run_epochs} epochs, {seconds.total / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
