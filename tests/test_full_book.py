"""The noise chapter of the full book, run with papermill against the committed ``results/full/`` records
(it trains nothing and reads no data): every budget the page states (model, optimizer, epochs, batch, training
examples, learning rate, seeds, torch threads) is what those records say, as worked out here straight from the
JSON files, and no sentence reads the profile object instead (the page once said "epochs 12" beside MNIST noise
runs that trained 20). The whole full book (``sigmse book --profile full --no-download``) is left to
``make book``: it runs every chapter and Jupyter Book, minutes on two CPU cores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from sigmse.runs.experiments import experiment_configs

pytestmark = pytest.mark.slow  # about 45 s on two busy CPU cores
REPO = Path(__file__).resolve().parent.parent
FULL = REPO / "results" / "full"


def _noise_records() -> list[dict]:
    """The committed records of the full profile's noise runs, read as plain JSON."""
    paths = [FULL / f"{config.hash}.json" for config in experiment_configs("noise", "full")]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        pytest.skip(f"{len(missing)} noise runs of the full profile are not committed (e.g. {missing[0]})")
    return [json.loads(path.read_text()) for path in paths]


def _glued(executed: Path) -> dict[str, str]:
    """Every value the executed notebook glued, as the text the book pastes (quotes of a string stripped)."""
    values = {}
    for cell in nbformat.read(str(executed), as_version=4).cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                text = next((v for k, v in output.get("data", {}).items() if k.endswith("text/plain")), "")
                values[name] = str(text).strip("'\"")
    return values


@pytest.fixture(scope="module")
def noise_page(tmp_path_factory) -> tuple[dict[str, str], str]:
    """The noise notebook executed with ``profile=full`` on the committed records: its glued values and its prose."""
    from sigmse.site.notebooks import _execute

    _noise_records()  # skip before running anything when the records are not all there
    output = tmp_path_factory.mktemp("full-book") / "noise.ipynb"
    summary = _execute({"name": "noise", "source": str(REPO / "notebooks" / "noise.ipynb"),
                        "cwd": str(REPO / "notebooks"), "output": str(output),
                        "parameters": {"profile": "full", "results_dir": str(REPO / "results")}})
    assert summary["ok"], summary
    executed = nbformat.read(str(output), as_version=4)
    prose = "\n".join(cell.source for cell in executed.cells if cell.cell_type == "markdown")
    return _glued(output), prose


def _listing(values, sep: str = ", ") -> str:
    return sep.join(f"{v:g}" if isinstance(v, float) else str(v) for v in sorted(set(values)))


def _expected_facts(runs: list[dict]) -> list[str]:
    """What the page must say of one dataset's budget, worked out from its records' JSON alone, as the phrases of
    sigmse.report.chapters.budget_text (the full profile's noise runs chose no learning rate)."""
    configs = [run["config"] for run in runs]
    threads = {run["provenance"]["torch_threads"] for run in runs}
    assert len(threads) == 1, f"noise runs with several thread counts {threads}"
    n_threads = threads.pop()
    return [f"{_listing(c['model'] for c in configs)}, {_listing((c['optimizer'] for c in configs), ' or ')}, ",
            f", {_listing((c['epochs'] for c in configs), ' or ')} epochs, ",
            f"batches of {_listing((c['batch_size'] for c in configs), ' or ')}, ",
            f"{_listing((run['metrics']['n_train'] for run in runs), ' or ')} training examples; ",
            f"learning rates {_listing(c['lr'] for c in configs)}, each reported (none chosen), ",
            f"seeds {_listing(c['seed'] for c in configs)}; ",
            f"{n_threads} torch thread{'s' if n_threads != 1 else ''}"]


def _per_dataset(text: str, datasets: list[str]) -> dict[str, str]:
    """``"mnist: ...; fashion-mnist: ..."`` cut into each dataset's part (the datasets in the order stated)."""
    starts = [text.index(f"{dataset}: ") for dataset in datasets]
    assert starts == sorted(starts), f"datasets stated out of order: {text}"
    ends = [*starts[1:], len(text)]
    return {dataset: text[start:end] for dataset, start, end in zip(datasets, starts, ends)}


def test_every_stated_budget_is_what_the_records_say(noise_page):
    glued, prose = noise_page
    for key in ("budgets", "lr_protocol", "seed_list", "n_runs", "settings_run"):
        assert f"{{glue:text}}`{key}" in prose, f"the noise page no longer states {key}"
    records = _noise_records()
    by_dataset: dict[str, list[dict]] = {}
    for record in records:
        by_dataset.setdefault(record["config"]["dataset"], []).append(record)
    stated = _per_dataset(glued["budgets"], list(by_dataset))
    for dataset, runs in by_dataset.items():
        for fact in _expected_facts(runs):
            assert fact in stated[dataset], f"{dataset}: the page says {stated[dataset]!r}, not {fact!r}"
    assert glued["seed_list"] == _listing(record["config"]["seed"] for record in records)
    assert int(glued["n_runs"]) == len(records)  # the full profile's noise grid has one rate: no selection runs
    assert glued["lr_protocol"].startswith(
        f"No learning rate was chosen: the grid has one rate ({_listing(r['config']['lr'] for r in records)})")
    assert "each loss keeps the rate with the best validation accuracy" not in prose


def test_the_mnist_noise_runs_trained_twenty_epochs_as_the_page_says_not_the_profiles_twelve(noise_page):
    """The regression that started this test: MNIST's budget in the full profile is 12 epochs, its noise runs 20."""
    glued, _ = noise_page
    mnist = {record["config"]["epochs"] for record in _noise_records() if record["config"]["dataset"] == "mnist"}
    assert mnist == {20}
    assert re.search(r"mnist: mlp, adam, [^;]*\b20 epochs", glued["budgets"])
    assert not re.search(r"\b12 epochs|epochs 12", glued["budgets"])


def test_the_intro_rows_name_their_setting_and_the_scale_sentence_is_computed(noise_page):
    glued, prose = noise_page
    assert glued["claim_noise_symmetric_setting_mnist"] == "symmetric 0.8"
    assert glued["claim_noise_asymmetric_setting_cifar10"] == "asymmetric"  # CIFAR-10 ran symmetric 0.8 only
    assert glued["claim_noise_asymmetric_final_cifar10"] == "not run"
    assert "full scale" not in prose
    assert "on cifar10 (cnn, 10 epochs)" in glued["budget_reach"]
    assert "softmax CE does not start to fit the flipped labels there" in glued["budget_reach"]
