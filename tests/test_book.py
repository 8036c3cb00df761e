"""The book: committed notebooks have figures with alt text and read the experiments the book sweeps, and
``build_book`` runs papermill, tags and annotates the executed copies, resolves cross-page glue, and fails loudly.

The build tests use a throwaway two-notebook book in a temp folder (a real ``jupyter-book``
build of it takes a few seconds); the committed notebooks are only checked statically here.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from sigmse.cli import _run_book
from sigmse.commands import add_book_arguments
from sigmse.runs.experiments import CHAPTERS
from sigmse.site.book import build_book
from sigmse.site.pages import BookBuildError
from test_data import offline  # noqa: F401 - the fixture: torchvision's download, refused at once

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "notebooks").glob("*.ipynb"))
EXPERIMENT_READ = re.compile(r"experiment_records\(\s*\"(\w+)\"")
# what trains runs: a notebook calling any of these would train outside the sweep engine
TRAINING_CALL = re.compile(r"\b(train|train_unification|train_and_store|run_configs|run_experiment)\(")

# ---------------------------------------------------------------------------------------------
# A throwaway book (also used by tests/test_browser.py and tests/test_book_site.py)

PARAMETERS = "profile = 'quick'\nresults_dir = 'results'\ndata_dir = None\ndevice = None"

ALPHA_CODE = """\
import matplotlib.pyplot as plt
from myst_nb import glue
glue("answer", f"forty-two under {profile}", display=False)
glue("pi", 3.14159, display=False)
fig, ax = plt.subplots(figsize=(3, 2), facecolor="white")
ax.plot([0, 1, 2], [0, 1, 4])
glue("alpha_fig", fig, display=False)
plt.close(fig)
"""

ALPHA_FIGURE = """\
```{glue:figure} alpha_fig
:alt: A rising line through three points
:name: fig-alpha

A glued figure with a caption.
```
"""

INTRO = """\
# Tiny book

The answer is {glue:text}`/notebooks/alpha.ipynb::answer:s`, pi is {glue:text}`/notebooks/alpha.ipynb::pi:.2f`.

| claim | verdict |
|---|---|
| alpha | {glue:text}`/notebooks/alpha.ipynb::answer:s` |
"""


def _notebook(cells: list[tuple[str, str, list[str]]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source, tags in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


def write_tiny_book(root: Path, *, extra_notebooks: dict[str, nbformat.NotebookNode] | None = None) -> Path:
    """A book with book/intro.md (gluing from alpha across pages) and notebooks alpha and beta."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    (root / "book").mkdir(exist_ok=True)
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext", dirs_exist_ok=True)  # the config's extension
    shutil.copytree(REPO / "book" / "_static", root / "book" / "_static", dirs_exist_ok=True)  # and its CSS
    (root / "book" / "references.bib").write_text(
        "@misc{tiny2024, title = {Tiny}, author = {Doe, Jane}, year = {2024}}\n", encoding="utf-8")
    (root / "book" / "intro.md").write_text(INTRO, encoding="utf-8")
    notebooks = {
        "alpha": _notebook([("markdown", "# Alpha", []), ("code", PARAMETERS, ["parameters"]),
                            ("code", ALPHA_CODE, []), ("markdown", ALPHA_FIGURE, [])]),
        # beta declares an extra knob and fewer core parameters: it gets only what it declares
        "beta": _notebook([("markdown", "# Beta", []), ("code", "profile = 'quick'\nknob = 1", ["parameters"]),
                           ("code", "print(f'beta ran with knob={knob} under {profile}')", [])]),
        **(extra_notebooks or {}),
    }
    for name, nb in notebooks.items():
        nbformat.write(nb, str(root / "notebooks" / f"{name}.ipynb"))
    toc = {"format": "jb-book", "root": "book/intro",
           "parts": [{"caption": "Results", "chapters": [{"file": f"notebooks/{n}"} for n in notebooks]}]}
    (root / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    return root


def build_tiny_book(root: Path, **options) -> Path:
    write_tiny_book(root)
    options.setdefault("results_dir", root / "results")
    return build_book("smoke", root=root, **options)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny book, built once with two workers and an extra parameter."""
    root = tmp_path_factory.mktemp("tiny")
    write_tiny_book(root)
    before = _snapshot(root / "notebooks")
    html = build_book("smoke", root=root, results_dir=root / "results", extra_parameters={"knob": 7}, jobs=2)
    return root, html, before


# ---------------------------------------------------------------------------------------------
# (a) the committed notebooks and book files


@pytest.mark.parametrize("path", COMMITTED or [None], ids=[p.name for p in COMMITTED] or ["no-notebooks-yet"])
def test_committed_notebook_figures_have_alt_text_and_captions(path):
    if path is None:
        pytest.skip("no notebooks committed under notebooks/ yet")
    nb = nbformat.read(str(path), as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for match in re.finditer(r"```\{glue:figure\}[^\n]*\n(.*?)```", text, flags=re.S):
        body = match.group(1)
        assert re.search(r"^:alt:\s*\S", body, flags=re.M), f"{path.name}: a glue:figure has no :alt: text"
        caption = [line for line in body.splitlines() if line.strip() and not line.startswith(":")]
        assert caption, f"{path.name}: a glue:figure has no caption"
    for alt in re.findall(r"!\[([^\]]*)\]\(", text):
        assert alt.strip(), f"{path.name}: a markdown image has empty alt text"


def test_every_chapter_reads_its_runs_from_the_registry_and_trains_nothing_itself():
    """A notebook gets its runs only through sigmse.runs.executors.experiment_records(<registered experiment>), and exactly the
    experiments the registry lists for it, so ``sigmse book`` has swept them (pool, Ray) before it runs."""
    read = {}
    for path in COMMITTED:
        source = "\n".join(cell.source for cell in nbformat.read(str(path), as_version=4).cells)
        read[path.stem] = tuple(dict.fromkeys(EXPERIMENT_READ.findall(source)))
        trains = TRAINING_CALL.findall(source)
        assert not trains, f"{path.name} trains runs itself ({trains}); read them with experiment_records"
    assert {name: e for name, e in read.items() if e} == {c.name: c.experiments for c in CHAPTERS.values()
                                                          if c.experiments}


def test_a_build_plans_each_experiment_once_and_chapters_given_the_same_runs_share_the_plan(tmp_path, monkeypatch):
    """The plans are made once per build and passed down (data check, training, the announcement): accuracy and
    convergence read the same accuracy plan, accuracy and noise the same epoch pilot; a chapter given other run
    parameters with -p gets plans of its own."""
    from sigmse.runs import experiments
    from sigmse.site.book import chapter_plans

    planned = []
    original = experiments.plan_experiment
    monkeypatch.setattr(experiments, "plan_experiment",
                        lambda name, *args, **kwargs: planned.append(name) or original(name, *args, **kwargs))
    tasks = [{"name": name, "parameters": {}} for name in ("accuracy", "convergence", "noise", "landscape")]
    tasks.append({"name": "output_reset", "parameters": {"datasets": ["mnist"], "seeds": None}})
    plans = chapter_plans(tasks, "smoke", experiments.PlanOptions(tmp_path))
    assert sorted(planned) == sorted(["accuracy", "epoch_pilot", "noise", "noise_pilot", "output_reset", "lr_sweep"])
    assert [(options.datasets, [plan.name for plan in group]) for options, group in plans.items()] == [
        (None, ["accuracy", "epoch_pilot", "noise", "noise_pilot"]), (("mnist",), ["output_reset", "lr_sweep"])]


def test_every_citation_key_is_in_the_bibliography():
    bib = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"@\w+\{([^,\s]+),", bib))
    cited = set()
    for page in (REPO / "book").glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text(encoding="utf-8")):
            cited |= {k.strip() for k in group.split(",")}
    assert cited and not cited - keys, f"cited but not in references.bib: {sorted(cited - keys)}"


# ---------------------------------------------------------------------------------------------
# (b) a real build of the tiny book


def test_build_writes_html_and_resolves_cross_page_glue(tiny):
    root, html, _ = tiny
    assert html == root / "_build" / "html"
    assert (html / "index.html").is_file() and (html / ".nojekyll").is_file()
    intro = (html / "book" / "intro.html").read_text(encoding="utf-8")
    assert intro.count("forty-two under smoke") == 2  # the profile reached the notebook, glue crossed pages
    assert ">3.14<" in intro
    alpha = (html / "notebooks" / "alpha.html").read_text(encoding="utf-8")
    assert "A rising line through three points" in alpha and "A glued figure with a caption." in alpha
    assert "How this page was made" in alpha


def test_executed_copies_are_tagged_and_carry_provenance(tiny):
    root, _, before = tiny
    assert _snapshot(root / "notebooks") == before, "the committed notebooks were modified"
    alpha = nbformat.read(str(root / "_build" / "executed" / "notebooks" / "alpha.ipynb"), as_version=4)
    tags = [c.metadata.get("tags", []) for c in alpha.cells]
    injected = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
    assert "remove-cell" in tags[injected]  # its values are in the provenance dropdown that follows
    assert "sigmse-provenance" in tags[injected + 1] and "hide-input" in tags[injected - 1]
    code = [c for c in alpha.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata["tags"]]
    assert code and all("hide-input" in c.metadata["tags"] for c in code)  # every input one click away
    meta = alpha.metadata["sigmse"]
    assert meta["profile"] == "smoke" and meta["parameters"]["profile"] == "smoke"
    assert meta["parameters"]["results_dir"] == str(root / "results")
    assert Path(meta["parameters"]["data_dir"]).is_absolute()  # notebooks run in notebooks/, so never relative
    assert "knob" not in meta["parameters"]  # alpha does not declare it, so it is not passed
    assert {"git_commit", "sigmse_version", "machine", "built_at"} <= set(meta)


def test_notebooks_get_only_the_parameters_they_declare(tiny):
    root, html, _ = tiny
    beta = nbformat.read(str(root / "_build" / "executed" / "notebooks" / "beta.ipynb"), as_version=4)
    assert beta.metadata["sigmse"]["parameters"] == {"profile": "smoke", "knob": 7}
    assert "beta ran with knob=7 under smoke" in (html / "notebooks" / "beta.html").read_text(encoding="utf-8")


def test_only_reuses_earlier_copies_and_a_fresh_partial_build_leaves_chapters_out(tiny, tmp_path):
    root, _, _ = tiny
    html = build_book("smoke", root=root, notebooks=["beta"], results_dir=root / "results")
    assert "forty-two under smoke" in (html / "book" / "intro.html").read_text(encoding="utf-8")  # alpha reused
    assert "knob=1 under smoke" in (html / "notebooks" / "beta.html").read_text(encoding="utf-8")

    # in a new build folder alpha was never run: it is left out, and the intro's glue from it is tolerated
    html = build_book("smoke", root=root, notebooks=["beta"], results_dir=root / "results",
                      build_dir=tmp_path / "partial")
    assert not (html / "notebooks" / "alpha.html").exists() and (html / "notebooks" / "beta.html").exists()


def test_a_different_profile_does_not_reuse_copies(tiny, tmp_path):
    root, _, _ = tiny
    build_dir = tmp_path / "profiles"
    shutil.copytree(root / "_build" / "executed", build_dir / "executed")  # smoke copies of alpha and beta
    html = build_book("quick", root=root, notebooks=["beta"], results_dir=root / "results", build_dir=build_dir)
    assert not (html / "notebooks" / "alpha.html").exists()


# ---------------------------------------------------------------------------------------------
# (c) failures are loud and precise


def test_a_failing_notebook_names_itself_the_cell_and_the_exception(tmp_path):
    bad = _notebook([("markdown", "# Bad", []), ("code", PARAMETERS, ["parameters"]),
                     ("code", "x = 1", []), ("code", "raise ValueError('boom from the test')", [])])
    write_tiny_book(tmp_path, extra_notebooks={"bad": bad})
    before = _snapshot(tmp_path / "notebooks")
    with pytest.raises(BookBuildError) as caught:
        build_book("smoke", root=tmp_path, notebooks=["bad"], results_dir=tmp_path / "results")
    message = str(caught.value)
    assert "notebooks/bad.ipynb" in message and "cell 4" in message
    assert "ValueError: boom from the test" in message
    executed = tmp_path / "_build" / "executed" / "notebooks" / "bad.ipynb"
    assert str(executed) in message and executed.is_file()
    assert _snapshot(tmp_path / "notebooks") == before
    assert not (tmp_path / "_build" / "html").exists()


def test_a_chapter_that_does_not_glue_its_verdict_keys_fails(tmp_path):
    landscape = _notebook([("code", PARAMETERS, ["parameters"]),
                           ("code", "from myst_nb import glue\nglue('verdict', 'fine', display=False)", [])])
    write_tiny_book(tmp_path, extra_notebooks={"landscape": landscape})
    with pytest.raises(BookBuildError, match=r"landscape_verdict"):
        build_book("smoke", root=tmp_path, notebooks=["landscape"], results_dir=tmp_path / "results")


def test_a_sphinx_warning_fails_the_build(tmp_path):
    write_tiny_book(tmp_path)
    (tmp_path / "book" / "intro.md").write_text(INTRO + "\n{glue:text}`/notebooks/alpha.ipynb::no_such_key:s`\n")
    with pytest.raises(BookBuildError, match="no_such_key"):
        build_book("smoke", root=tmp_path, results_dir=tmp_path / "results")


def _tiny_book_with_a_sweeping_chapter(root: Path) -> Path:
    """The tiny book plus a chapter named ``output_reset``: the book sweeps its experiments before the notebooks."""
    chapter = _notebook([("markdown", "# Output Reset", []),
                         ("code", PARAMETERS + "\ndatasets = None\nseeds = None", ["parameters"]),
                         ("code", "print('the notebook ran')", [])])
    return write_tiny_book(root, extra_notebooks={"output_reset": chapter})


def test_a_failed_run_stops_the_book_before_any_notebook_and_keeps_what_is_stored(tmp_path, make_fake_idx):
    _tiny_book_with_a_sweeping_chapter(tmp_path)
    fake = tmp_path / "data"
    make_fake_idx(fake, "mnist")  # files of the right names but not the official ones: every run fails
    with pytest.raises(BookBuildError, match=r"(?s)runs failed, so no notebook was run.*DatasetIntegrityError"):
        build_book("smoke", root=tmp_path, notebooks=["output_reset"], results_dir=tmp_path / "results",
                   data_dir=fake, extra_parameters={"seeds": [1]}, sweep_jobs=2)
    assert not (tmp_path / "_build" / "executed" / "notebooks" / "output_reset.ipynb").exists()
    statuses = [json.loads(p.read_text())["status"] for p in (tmp_path / "results" / "smoke").glob("*.json")]
    assert statuses and set(statuses) == {"failed"}  # stored as failed: a rerun retries them


def test_a_missing_dataset_stops_the_book_before_any_run_when_downloads_are_off(tmp_path):
    from sigmse.data.datasets import DatasetNotFoundError

    _tiny_book_with_a_sweeping_chapter(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"dataset mnist not found under the data root .*--download"):
        build_book("smoke", root=tmp_path, results_dir=tmp_path / "results", data_dir=tmp_path / "empty",
                   download=False)
    assert not (tmp_path / "results").exists() and not (tmp_path / "_build").exists()
    assert list((tmp_path / "empty").iterdir()) == []  # nothing fetched


def test_a_book_of_chapters_that_read_no_data_needs_none(tmp_path):
    write_tiny_book(tmp_path)  # alpha and beta train nothing and read no dataset
    html = build_book("smoke", root=tmp_path, results_dir=tmp_path / "results", data_dir=tmp_path / "no-data",
                      notebooks=["beta"], download=False)
    assert (html / "notebooks" / "beta.html").is_file() and not (tmp_path / "no-data").exists()


def test_offline_the_book_command_stops_before_any_work_with_one_line(tmp_path, offline, capsys, monkeypatch):
    """A fresh machine with no data and no network: ``sigmse book`` (what ``make book`` runs) tries torchvision's
    real download (to a mirror that refuses at once), then stops with one line and exit status 2."""
    from sigmse.cli import main

    _tiny_book_with_a_sweeping_chapter(tmp_path)
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "fresh-data"
    argv = ["book", "--profile", "smoke", "--data-dir", str(empty), "--results-dir", str(tmp_path / "results")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0] == f"fetching mnist into {empty} with torchvision (missing there)"
    assert len(lines) == 2
    assert lines[1].startswith(f"sigmse: error: dataset mnist not found under the data root {empty}")
    assert "--data-dir PATH or SIGMSE_DATA_DIR=PATH" in lines[1] and "run where downloads work" in lines[1]
    assert not (tmp_path / "results").exists() and not (tmp_path / "_build").exists()  # no run, no notebook
    assert main([*argv, "--no-download"]) == 2
    assert "--download" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# (d) bad input: clear one-line errors before anything runs


def test_bad_profile_lists_the_profiles(tmp_path):
    write_tiny_book(tmp_path)
    with pytest.raises(ValueError, match=r"unknown profile 'nope'; choose one of: smoke, quick, full, full2, paper"):
        build_book("nope", root=tmp_path)


def test_unknown_notebook_lists_the_notebooks(tmp_path):
    write_tiny_book(tmp_path)
    with pytest.raises(ValueError, match=r"unknown notebook 'gamma'; choose from: alpha, beta"):
        build_book("smoke", root=tmp_path, notebooks=["alpha", "gamma"])


def test_missing_toc_file_and_missing_toc_are_errors(tmp_path):
    with pytest.raises(ValueError, match="no _toc.yml"):
        build_book("smoke", root=tmp_path)
    write_tiny_book(tmp_path)
    (tmp_path / "notebooks" / "beta.ipynb").unlink()
    with pytest.raises(ValueError, match=r"_toc.yml names 'notebooks/beta' but there is no notebooks/beta.ipynb"):
        build_book("smoke", root=tmp_path)


@pytest.mark.parametrize("extra, message", [
    ({"nonsense": 1}, r"parameter 'nonsense' is declared by none of the notebooks run; declared: .*knob"),
    ({"profile": "paper"}, r"parameter 'profile' has its own option \(--profile\)"),
])
def test_bad_extra_parameters(tmp_path, extra, message):
    write_tiny_book(tmp_path)
    with pytest.raises(ValueError, match=message):
        build_book("smoke", root=tmp_path, extra_parameters=extra)


@pytest.mark.parametrize("options, message", [
    ({"executor": "slurm"}, r"executor 'slurm' is not allowed; choose one of: local, ray"),
    ({"sweep_jobs": 0}, r"jobs must be an integer >= 1, got 0"),
    ({"retries": -1}, r"retries must be an integer >= 0, got -1"),
    ({"threads": 0}, r"threads must be an integer >= 1, got 0"),
])
def test_bad_sweep_options_fail_before_anything_runs(tmp_path, options, message):
    _tiny_book_with_a_sweeping_chapter(tmp_path)
    with pytest.raises(ValueError, match=message):
        build_book("smoke", root=tmp_path, results_dir=tmp_path / "results", **options)
    assert not (tmp_path / "results").exists() and not (tmp_path / "_build").exists()


def test_command_line_flags(tmp_path, monkeypatch):
    parser = argparse.ArgumentParser()
    add_book_arguments(parser)
    args = parser.parse_args(["--only", "alpha", "--only", "beta", "-p", "knob=3", "-p", "name=x y",
                              "--device", "cpu", "--build-dir", "out"])
    assert args.profile == "quick" and args.only == ["alpha", "beta"] and args.device == "cpu"
    assert args.parameter == [("knob", 3), ("name", "x y")] and args.build_dir == "out" and args.jobs == 1
    assert (args.executor, args.sweep_jobs, args.ray_address, args.retries, args.threads) == (
        "local", None, None, 2, None)
    assert args.download is True and parser.parse_args(["--no-download"]).download is False  # make book: fetch
    args = parser.parse_args(["--executor", "ray", "--ray-address", "10.0.0.5:6379", "--sweep-jobs", "8",
                              "--threads", "1"])
    assert (args.executor, args.sweep_jobs, args.ray_address, args.threads) == ("ray", 8, "10.0.0.5:6379", 1)
    with pytest.raises(SystemExit):
        parser.parse_args(["-p", "no-equals-sign"])
    write_tiny_book(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="given twice"):
        _run_book(parser.parse_args(["-p", "knob=1", "-p", "knob=2"]))
    with pytest.raises(ValueError, match="unknown notebook 'zeta'"):
        _run_book(parser.parse_args(["--profile", "smoke", "--only", "zeta"]))
