"""The noise experiment's wiring: which runs each profile lists, and what a run's data looks like.

``tests/test_noise.py`` checks the noise functions themselves; these tests check the experiment around them:
the settings each profile asks for, that the validation split carries the training split's noise while test
labels stay clean (through ``sigmse.train.prepare_data`` on a generated dataset), the realised rates on 50,000
labels, the pairs of asymmetric noise, and that the losses of one seed see the same noise (so a paired
comparison pairs on the seed).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from sigmse.config import RunConfig
from sigmse.data.datasets import DATASETS, Dataset
from sigmse.data.noise import ASYMMETRIC_FLIPS
from sigmse.runs.experiments import experiment_configs
from sigmse.runs.profiles import NOISE_LOSSES, base_config, get_profile
from sigmse.train import SPLIT_SEED, DeviceData, prepare_data, train

N_TRAIN, VAL_SIZE, N_TEST = 55_000, 5_000, 1_000  # 50,000 training labels after the validation split
CPU = torch.device("cpu")
# Every kind of noise on every dataset at several rates, full data: the paper profile's noise grid until issue 24
# made that profile CIFAR-10 only. The tests of a run's data below read its MNIST settings.
WIDE = replace(get_profile("full"), name="wide-noise", symmetric_rates=(0.0, 0.2, 0.4, 0.6, 0.8),
               asymmetric_rates=(0.0, 0.2, 0.4), input_sigmas=(0.0, 0.1, 0.2, 0.4), noise_lr_grid=None,
               dataset_losses={}, symmetric_only=(), noise_epochs={})


def setting(config: RunConfig) -> tuple:
    """The noise setting of a run: (label noise, rate, input sigma, where, extra test sigmas)."""
    return (config.label_noise, config.label_noise_rate, config.input_noise_sigma,
            config.input_noise_at if config.input_noise_sigma else None, config.test_input_sigmas)


def expected_settings(symmetric, asymmetric, sigmas) -> set[tuple]:
    clean = ("none", 0.0, 0.0, None, tuple(sigmas))
    return ({clean} | {("symmetric", r, 0.0, None, ()) for r in symmetric}
            | {("asymmetric", r, 0.0, None, ()) for r in asymmetric}
            | {("none", 0.0, s, "both", ()) for s in sigmas})


# ---------------------------------------------------------------------------------------------
# The runs each profile lists


def test_a_profile_lists_every_rate_kind_sigma_loss_and_reporting_seed():
    configs = experiment_configs("noise", WIDE)  # the reporting seeds (the selection runs: seeds=...)
    assert {c.dataset for c in configs} == {"mnist", "fashion-mnist", "cifar10"}
    assert {c.loss for c in configs} == set(NOISE_LOSSES) and len(NOISE_LOSSES) == 6
    assert {c.seed for c in configs} == set(WIDE.report_seeds)
    settings = expected_settings((0.2, 0.4, 0.6, 0.8), (0.2, 0.4), (0.1, 0.2, 0.4))
    assert {setting(c) for c in configs} == settings
    for dataset in ("mnist", "fashion-mnist", "cifar10"):
        assert {c.lr for c in configs if c.dataset == dataset} == set(WIDE.budgets[dataset].lr_grid)
    rates = sum(len(WIDE.budgets[dataset].lr_grid) for dataset in WIDE.noise_datasets)
    assert len(configs) == rates * len(settings) * 6 * len(WIDE.report_seeds)
    assert len({c.hash for c in configs}) == len(configs)


def test_paper_lists_cifar10_symmetric_noise_for_five_losses_and_eight_reporting_seeds():
    """Protocol v2 on CIFAR-10 (issue 24): symmetric 0.4 chooses each loss's rate, 0.8 takes it
    (noise_shared_rates, so it is not listed here)."""
    paper = get_profile("paper")
    configs = experiment_configs("noise", paper, seeds=paper.reporting_seeds("noise"))
    assert {c.dataset for c in configs} == {"cifar10"} and len(paper.reporting_seeds("noise")) == 8
    assert {c.loss for c in configs} == set(NOISE_LOSSES) - {"mae"}
    assert {setting(c) for c in configs} == {("symmetric", 0.4, 0.0, None, ())}
    assert {c.lr for c in configs} == set(paper.noise_lr_grids["cifar10"])


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_every_loss_gets_the_profiles_budget_and_only_the_noise_differs(profile):
    """One model, optimizer and epoch budget per dataset for every loss: the run is base_config plus noise."""
    chosen = get_profile(profile)
    for config in experiment_configs("noise", chosen):
        base = base_config(chosen, config.dataset, loss=config.loss, lr=config.lr, seed=config.seed)
        noise = ("label_noise", "label_noise_rate", "input_noise_sigma", "input_noise_at", "test_input_sigmas")
        assert config.with_(**{key: getattr(base, key) for key in noise}) == base
        assert config.noise_seed is None  # the noise seed is the run's seed: paired over losses


def test_quick_is_the_documented_reduction():
    quick = get_profile("quick")
    configs = experiment_configs("noise", quick)
    assert {c.dataset for c in configs} == {"mnist"}
    assert {setting(c) for c in configs} == expected_settings((0.4, 0.8), (0.4,), (0.4,))
    assert {c.loss for c in configs} == set(NOISE_LOSSES)
    assert sorted({c.lr for c in configs}) == [3e-4, 3e-3]
    assert {c.seed for c in configs} == {2, 3, 4}
    selection = experiment_configs("noise", quick, seeds=quick.selection_seeds)
    reporting = len(selection) // 2 // len(quick.selection_seeds) * len(quick.report_seeds)  # one rate of two
    assert len(selection) + reporting <= 220  # ~1 s each on a CPU: the chapter's quick budget


def test_smoke_is_a_handful_of_runs_and_options_narrow_the_grid():
    assert len(experiment_configs("noise", "smoke")) <= 30
    narrowed = experiment_configs("noise", WIDE, datasets=["mnist"], seeds=[3], device="cpu")
    assert {(c.dataset, c.seed, c.device) for c in narrowed} == {("mnist", 3, "cpu")}
    with pytest.raises(ValueError, match="dataset 'svhn' is not in profile 'quick'"):
        experiment_configs("noise", "quick", datasets=["svhn"])


# ---------------------------------------------------------------------------------------------
# What a run's data looks like


def index_dataset(seed: int = 0) -> Dataset:
    """An MNIST-named dataset whose 2x2 images spell their own index in base 256, so a split can be traced."""
    labels = torch.randint(0, 10, (N_TRAIN,), generator=torch.Generator().manual_seed(seed))
    test_labels = torch.randint(0, 10, (N_TEST,), generator=torch.Generator().manual_seed(seed + 1))

    def spell(n: int) -> torch.Tensor:
        index = torch.arange(n)
        digits = torch.stack([(index >> (8 * k)) & 255 for k in range(4)], dim=1)  # (n, 4)
        return digits.view(n, 1, 2, 2).to(torch.uint8)

    return Dataset("mnist", DATASETS["mnist"], spell(N_TRAIN), labels, spell(N_TEST), test_labels,
                   source=Path("."), format="generated")


def read_index(images: torch.Tensor, data: DeviceData) -> torch.Tensor:
    """Undo the normalisation and read the index back from the pixels."""
    pixels = ((images * data.std + data.mean) * 255).round().long().view(len(images), 4)
    return sum(pixels[:, k] << (8 * k) for k in range(4))


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return index_dataset()


def noisy_config(kind: str = "none", rate: float = 0.0, *, seed: int = 0, **changes) -> RunConfig:
    """WIDE's MNIST run of the noise experiment with this label noise, on the CPU."""
    for config in experiment_configs("noise", WIDE, datasets=["mnist"], seeds=[seed], device="cpu"):
        if (config.label_noise, config.label_noise_rate, config.input_noise_sigma) == (kind, rate, 0.0):
            return config.with_(val_size=VAL_SIZE, **changes)
    raise AssertionError(f"profile {WIDE.name!r} lists no {kind} noise at rate {rate}")


@pytest.mark.parametrize("kind, rate", [("symmetric", 0.2), ("symmetric", 0.8), ("asymmetric", 0.4)])
def test_validation_carries_the_training_noise_and_test_labels_stay_clean(dataset, kind, rate):
    data = prepare_data(noisy_config(kind, rate), CPU, dataset=dataset)
    clean = dataset.train_labels
    train_index, val_index = read_index(data.train_images, data), read_index(data.val_images, data)
    assert len(train_index) == N_TRAIN - VAL_SIZE and len(val_index) == VAL_SIZE
    assert torch.equal(data.train_flipped, data.train_labels != clean[train_index])
    val_flipped = data.val_labels != clean[val_index]
    sources = torch.tensor(list(ASYMMETRIC_FLIPS["mnist"]))
    at_risk = torch.ones_like(clean, dtype=torch.bool) if kind == "symmetric" else torch.isin(clean, sources)
    train_share = float(data.train_flipped[at_risk[train_index]].double().mean())
    val_share = float(val_flipped[at_risk[val_index]].double().mean())
    assert abs(train_share - rate) <= 0.01  # on 50,000 labels (asymmetric: of the source classes)
    assert abs(val_share - rate) <= 0.03  # the same noise on the 5,000 validation labels
    assert torch.equal(data.test_labels, dataset.test_labels)  # clean
    assert torch.equal(read_index(data.test_images, data), torch.arange(N_TEST))


def test_asymmetric_noise_flips_only_along_the_listed_pairs(dataset):
    data = prepare_data(noisy_config("asymmetric", 0.4), CPU, dataset=dataset)
    index = torch.cat([read_index(data.train_images, data), read_index(data.val_images, data)])
    noisy = torch.cat([data.train_labels, data.val_labels])
    changed = noisy != dataset.train_labels[index]
    pairs = set(zip(dataset.train_labels[index][changed].tolist(), noisy[changed].tolist()))
    assert pairs == set(ASYMMETRIC_FLIPS["mnist"].items())


def test_the_losses_of_one_seed_share_their_noise_and_seeds_differ(dataset):
    def labels(config: RunConfig) -> torch.Tensor:
        data = prepare_data(config, CPU, dataset=dataset)
        return torch.cat([data.train_labels, data.val_labels])

    first = noisy_config("symmetric", 0.4)
    same_seed = [c for c in experiment_configs("noise", WIDE, datasets=["mnist"], seeds=[0])
                 if setting(c) == setting(first) and (c.loss, c.lr) != (first.loss, first.lr)]
    assert {c.noise_seed for c in same_seed} == {first.noise_seed}  # every other loss and lr of seed 0
    assert torch.equal(labels(first), labels(same_seed[-1].with_(val_size=VAL_SIZE, device="cpu")))
    assert not torch.equal(labels(first), labels(noisy_config("symmetric", 0.4, seed=1)))


def test_noise_seed_equal_to_the_split_seed_keeps_validation_noise_at_the_asked_rate(dataset):
    config = RunConfig(dataset="mnist", val_size=VAL_SIZE, device="cpu", seed=SPLIT_SEED,
                       label_noise="symmetric", label_noise_rate=0.2)
    data = prepare_data(config, CPU, dataset=dataset)
    val_flipped = data.val_labels != dataset.train_labels[read_index(data.val_images, data)]
    assert abs(float(val_flipped.double().mean()) - 0.2) <= 0.03


def test_input_noise_both_reaches_train_validation_and_test(dataset):
    clean = prepare_data(noisy_config(), CPU, dataset=dataset)
    for where, noisy_splits in (("both", {"train", "val", "test"}), ("train", {"train", "val"})):
        data = prepare_data(noisy_config(input_noise_sigma=0.2, input_noise_at=where), CPU, dataset=dataset)
        for split in ("train", "val", "test"):
            changed = not torch.equal(getattr(data, f"{split}_images"), getattr(clean, f"{split}_images"))
            assert changed == (split in noisy_splits), (where, split)
        assert torch.equal(data.test_images_clean01, clean.test_images_clean01)


def test_a_noisy_run_logs_memorisation_and_a_clean_run_its_noisy_test_inputs(dataset):
    """What the chapter reads: per-epoch accuracy on flipped and clean labels, and test_acc_sigma_<s>."""
    small = Dataset("mnist", DATASETS["mnist"], dataset.train_images[:600], dataset.train_labels[:600],
                    dataset.test_images[:100], dataset.test_labels[:100], source=Path("."), format="generated")
    noisy = train(noisy_config("symmetric", 0.4).with_(val_size=100, epochs=2, batch_size=64),
                  dataset=small, progress=False)
    assert noisy["status"] == "ok" and len(noisy["history"]) == 2
    rate = noisy["metrics"]["realised_label_noise"]
    for h in noisy["history"]:  # the epoch's accuracy mixes those on flipped and on clean labels at the flipped share
        assert h["train_acc"] == pytest.approx(rate * h["train_acc_flipped"] + (1 - rate) * h["train_acc_clean"],
                                               abs=0.02)
    clean = train(noisy_config().with_(val_size=100, epochs=1, batch_size=64), dataset=small, progress=False)
    hits = clean["metrics"]["test_acc_sigma_0.4"] * len(small.test_labels)  # a share of the 100 noisy test images
    assert hits == pytest.approx(round(hits))
    assert "train_acc_flipped" not in clean["history"][0]


# ---------------------------------------------------------------------------------------------
# From records to the chapter's curves and verdict (sigmse.report.noise_analysis, noise_rules), on made-up records


def fake_record(config: RunConfig, accuracy: float) -> dict:
    """A stored record of ``config`` with test and validation accuracy ``accuracy`` (noisy test inputs: 0.1 less)."""
    sigmas = {f"test_acc_sigma_{s:g}": accuracy - 0.1 for s in config.test_input_sigmas}
    history = [{"epoch": 1, "train_loss": 1.0, "train_acc": accuracy, "val_acc": accuracy, "test_acc": accuracy,
                "seconds": 1.0, **({"train_acc_flipped": 0.05, "train_acc_clean": accuracy}
                                   if config.label_noise != "none" else {})}]
    return {"hash": config.hash, "profile": "quick", "config": config.to_dict(), "status": "ok", "history": history,
            "metrics": {"test_acc": accuracy, "val_acc": accuracy, "test_nll": 0.5, "test_ece": 0.05,
                        "train_seconds": 1.0, **sigmas}, "provenance": {}}


def test_curves_put_clean_runs_on_every_curve_and_the_verdicts_read_the_pairs():
    """Reporting runs where OR is 5 pp ahead of every loss with a seed-to-seed wobble: better than CE, and better
    than (so also not worse than) the robust losses, in every noisy setting; the whole family is Holm-adjusted."""
    from sigmse.report import analysis, noise_analysis, noise_rules

    def accuracy(c: RunConfig) -> float:
        return 0.8 + 0.05 * (c.loss == "sigmoid_mse_or") + 0.001 * c.seed + 0.0005 * (c.seed % 2) * (c.loss == "gce")
    quick = get_profile("quick")
    records = [fake_record(c, accuracy(c)) for c in experiment_configs("noise", quick) if c.lr == 3e-3]
    curves = noise_analysis.noise_curves(analysis.records_frame(records))
    clean = curves[curves["level"] == 0]
    seeds = len(quick.report_seeds)
    assert set(clean["kind"]) == set(noise_analysis.NOISE_KINDS) and len(clean) == 4 * 6 * seeds
    test_only = curves[(curves["kind"] == "input (test only)") & (curves["level"] == 0.4)]
    assert len(test_only) == 6 * seeds and (test_only["test_acc"] < 0.8).all()  # the clean runs' noisy-input metric
    assert sorted(curves.loc[curves["kind"] == "symmetric", "level"].unique()) == [0.0, 0.4, 0.8]
    family = noise_rules.noise_verdicts(curves)
    assert set(family["baseline"]) == {"softmax_ce", "mae", "gce", "symmetric_ce"}
    assert (family["level"] > 0).all() and len(family) == 4 * 5  # 5 noisy settings x 4 opponents
    row = family[(family["baseline"] == "softmax_ce") & (family["kind"] == "symmetric")
                 & (family["level"] == 0.8)].iloc[0]
    assert row["mean_diff"] == pytest.approx(0.05) and row["claim"] == "superiority" and row["verdict"] == "better"
    assert set(family.loc[family["baseline"] != "softmax_ce", "claim"]) == {"noninferiority"}
    verdict = noise_rules.noise_verdict(family, datasets=["mnist", "cifar10"])
    assert verdict["mnist"].startswith("symmetric: better at 0.4 (+5.0 pp), better at 0.8 (+5.0 pp); asymmetric")
    assert verdict["cifar10"] == "not run"
    assert noise_rules.tally(family, datasets=["mnist"])["mnist"].startswith(
        "over 5 noisy settings: vs softmax CE 5 better")
    memory = noise_analysis.memorisation_history(analysis.history_frame(records))
    assert set(memory["setting"]) == {"symmetric 0.4", "symmetric 0.8", "asymmetric 0.4"}
    assert set(memory["labels"]) == {"clean", "flipped"}


NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "noise.ipynb"
PARTS = ("protocol", "chosen_rates", "accuracy_figure", "accuracy_table", "reporting_rules", "judged_family",
         "exploratory_family", "exploratory_figure", "standings_table", "tallies", "memorisation_curves",
         "memorisation_at_end", "flipped_labels", "literature", "verdict", "lead")


def test_the_chapter_parts_give_every_key_the_prose_reads_each_from_one_part():
    """sigmse.report.noise.NoiseChapter on made-up quick records: each glue key the notebook's markdown reads comes
    from exactly one part, the figures are figures, and the last line counts the runs."""
    import json
    import re

    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from sigmse.report.noise import NoiseChapter

    records = [fake_record(c, 0.8 + 0.05 * (c.loss == "sigmoid_mse_or") + 0.001 * c.seed)
               for c in experiment_configs("noise", get_profile("quick")) if c.lr == 3e-3]
    chapter = NoiseChapter([], records, profile="quick")
    parts = {name: getattr(chapter, name)() for name in PARTS}
    parts["noise_pilot"] = chapter.noise_pilot([], [])
    keys = [key for part in parts.values() for key in part.values]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    prose = set(re.findall(r"\{glue:text\}`(\w+)", text)) | set(re.findall(r"\{glue:figure\} (\w+)", text))
    assert prose <= set(keys), sorted(prose - set(keys))
    figures = {key for part in parts.values() for key, value in part.values.items() if isinstance(value, Figure)}
    assert figures == {"fig_noise_accuracy", "fig_noise_paired", "fig_noise_memorisation"}
    assert parts["noise_pilot"].values["noise_pilot_text"].startswith("The quick profile ran no noise pilot")
    assert chapter.run_summary() == f"{len(records)} runs, of which 0 diverged; training time 1.5 min in total"
