"""The noise chapter of the full-scale books, run with papermill against the committed ``results/full/`` (protocol
v1) and ``results/full2/`` (protocol v2) records (it trains nothing and reads no data): every budget the page
states (model, optimizer, schedule, epochs, batch, training examples, the rates tried and how one was chosen, seeds,
torch threads) is what those records say, as worked out here straight from the JSON files, and no sentence reads
the profile object instead (the page once said "epochs 12" beside MNIST noise runs that trained 20). A profile is
checked once all its noise runs are committed. The whole book (``sigmse book --profile full --no-download``) is
left to ``make book``: it runs every chapter and Jupyter Book, minutes on two CPU cores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from sigmse.runs.experiments import PlanOptions, plan_experiment
from sigmse.runs.store import record_path

pytestmark = pytest.mark.slow  # about 45 s a profile on two busy CPU cores
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results"


def _noise_records(profile: str) -> tuple[list[dict], list[dict]]:
    """The committed records of the profile's noise runs, ``(selection, report)``, read as plain JSON (skips
    until every one is committed)."""
    plan = plan_experiment("noise", profile, PlanOptions(RESULTS))
    paths = [[record_path(config, profile, RESULTS) for config in configs] for configs in (plan.selection, plan.report)]
    missing = [path.name for part in paths for path in part if not path.is_file()]
    if missing or plan.waiting:
        pytest.skip(f"{len(missing) + plan.waiting} noise runs of the {profile} profile are not committed yet")
    selection, report = ([json.loads(path.read_text()) for path in part] for part in paths)
    return selection, report


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


@pytest.fixture(scope="module", params=["full", "full2"])
def noise_page(request, tmp_path_factory) -> tuple[str, dict[str, str], str]:
    """The noise notebook executed on a full-scale profile's committed records: the profile, its glued values and
    its prose."""
    from sigmse.site.notebooks import _execute

    profile = request.param
    _noise_records(profile)  # skip before running anything when the records are not all there
    output = tmp_path_factory.mktemp(f"{profile}-book") / "noise.ipynb"
    summary = _execute({"name": "noise", "source": str(REPO / "notebooks" / "noise.ipynb"),
                        "cwd": str(REPO / "notebooks"), "output": str(output),
                        "parameters": {"profile": profile, "results_dir": str(RESULTS)}})
    assert summary["ok"], summary
    executed = nbformat.read(str(output), as_version=4)
    prose = "\n".join(cell.source for cell in executed.cells if cell.cell_type == "markdown")
    return profile, _glued(output), prose


def _listing(values, sep: str = ", ") -> str:
    return sep.join(f"{v:g}" if isinstance(v, float) else str(v) for v in sorted(set(values)))


def _expected_facts(runs: list[dict], chose: list[dict]) -> list[str]:
    """What the page must say of one dataset's budget, worked out from its records' JSON alone, as the phrases of
    sigmse.report.chapters.budget_text: ``runs`` are the reporting runs, ``chose`` the selection runs (none where
    the grid had one rate and nothing was chosen, as in the full profile)."""
    configs = [run["config"] for run in runs]
    threads = {run["provenance"]["torch_threads"] for run in runs + chose}
    assert len(threads) == 1, f"noise runs with several thread counts {threads}"
    n_threads = threads.pop()
    if chose:
        rates = (f"learning rates {_listing(run['config']['lr'] for run in chose)} tried by selection seeds "
                 f"{_listing(run['config']['seed'] for run in chose)}, the chosen one reported with seeds "
                 f"{_listing(c['seed'] for c in configs)}; ")
    else:
        rates = f"learning rates {_listing(c['lr'] for c in configs)}, each reported (none chosen), "
        rates += f"seeds {_listing(c['seed'] for c in configs)}; "
    return [f"{_listing(c['model'] for c in configs)}, {_listing((c['optimizer'] for c in configs), ' or ')}",
            f", {_listing((c['schedule'] for c in configs), ' or ')} schedule, ",
            f", {_listing((c['epochs'] for c in configs), ' or ')} epochs, ",
            f"batches of {_listing((c['batch_size'] for c in configs), ' or ')}, ",
            f"{_listing((run['metrics']['n_train'] for run in runs), ' or ')} training examples; ",
            rates, f"{n_threads} torch thread{'s' if n_threads != 1 else ''}"]


def _per_dataset(text: str, datasets: list[str]) -> dict[str, str]:
    """``"mnist: ...; fashion-mnist: ..."`` cut into each dataset's part (the datasets in the order stated)."""
    starts = [text.index(f"{dataset}: ") for dataset in datasets]
    assert starts == sorted(starts), f"datasets stated out of order: {text}"
    ends = [*starts[1:], len(text)]
    return {dataset: text[start:end] for dataset, start, end in zip(datasets, starts, ends)}


def test_every_stated_budget_is_what_the_records_say(noise_page):
    profile, glued, prose = noise_page
    for key in ("budgets", "lr_protocol", "seed_list", "n_runs", "settings_run"):
        assert f"{{glue:text}}`{key}" in prose, f"the noise page no longer states {key}"
    selection, report = _noise_records(profile)
    datasets = list(dict.fromkeys(record["config"]["dataset"] for record in report))
    stated = _per_dataset(glued["budgets"], datasets)
    for dataset in datasets:
        runs = [record for record in report if record["config"]["dataset"] == dataset]
        chose = [record for record in selection if record["config"]["dataset"] == dataset]
        for fact in _expected_facts(runs, chose):
            assert fact in stated[dataset], f"{dataset}: the page says {stated[dataset]!r}, not {fact!r}"
    assert glued["seed_list"] == _listing(record["config"]["seed"] for record in selection + report)
    assert int(glued["n_runs"]) == len(selection) + len(report)
    if selection:
        assert not glued["lr_protocol"].startswith("No learning rate was chosen")
    else:
        assert glued["lr_protocol"].startswith(
            f"No learning rate was chosen: the grid has one rate ({_listing(r['config']['lr'] for r in report)})")
        assert "each loss keeps the rate with the best validation accuracy" not in prose


def test_the_mnist_noise_runs_trained_what_the_page_says_not_the_profiles_clean_budget(noise_page):
    """The regression that started this test: MNIST's clean budget is 12 epochs in the full profile (10 in full2),
    its noise runs train 20, and the page once stated the clean budget beside them."""
    from sigmse.runs.profiles import get_profile

    profile, glued, _ = noise_page
    _, report = _noise_records(profile)
    epochs = {record["config"]["epochs"] for record in report if record["config"]["dataset"] == "mnist"}
    clean = get_profile(profile).budgets["mnist"].epochs
    assert epochs == {20} and clean != 20
    mnist = _per_dataset(glued["budgets"], ["mnist", "fashion-mnist"])["mnist"]
    assert re.search(r"mnist: mlp, adam, [^;]*\b20 epochs", mnist)
    assert not re.search(rf"\b{clean} epochs|epochs {clean}\b", mnist)


def test_the_intro_rows_name_their_setting_and_the_scale_sentence_is_computed(noise_page):
    profile, glued, prose = noise_page
    if profile != "full":
        pytest.skip("the settings of protocol v1's noise runs")
    assert glued["claim_noise_symmetric_setting_mnist"] == "symmetric 0.8"
    assert glued["claim_noise_asymmetric_setting_cifar10"] == "asymmetric"  # CIFAR-10 ran symmetric 0.8 only
    assert glued["claim_noise_asymmetric_final_cifar10"] == "not run"
    assert "full scale" not in prose
    assert "on cifar10 (cnn, 10 epochs)" in glued["budget_reach"]
    assert "softmax CE does not start to fit the flipped labels there" in glued["budget_reach"]
