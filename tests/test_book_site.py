"""The book around the notebooks: the repository's ``_toc.yml`` and ``_config.yml`` are what the build expects,
the chapters are the toc's notebooks, in reading order, and the API reference documents what users call,
with docstrings and examples that run.

The staging tree, ``jupyter-book build`` and the HTML checks are exercised by the real builds of
``tests/test_book.py``.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import shutil
from pathlib import Path

import pytest
import yaml
from test_book import write_tiny_book

from sigmse.site.pages import discover_notebooks, select_chapters

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_toc_and_config_are_what_the_build_expects():
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["only_build_toc_files"] is True
    assert (REPO / config["bibtex_bibfiles"][0]).is_file()
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    assert toc["format"] == "jb-book" and toc["root"] == "book/intro"
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for page in [toc["root"]] + [f for f in files if f.startswith("book/")]:
        assert (REPO / f"{page}.md").is_file(), f"_toc.yml names {page} but {page}.md is missing"
    in_toc = {f for f in files if f.startswith("notebooks/")}
    orphans = sorted(p.stem for p in COMMITTED if f"notebooks/{p.stem}" not in in_toc)
    assert not orphans, f"notebooks not in _toc.yml: {orphans}"


def test_the_chapters_are_the_toc_notebooks_in_reading_order(tmp_path):
    write_tiny_book(tmp_path)
    chapters = discover_notebooks(tmp_path)
    assert [(c.name, c.docpath) for c in chapters] == [("alpha", "notebooks/alpha"), ("beta", "notebooks/beta")]
    assert select_chapters(chapters, ["notebooks/beta.ipynb"]) == chapters[1:]
    with pytest.raises(ValueError, match=r"unknown notebook 'gamma'; choose from: alpha, beta"):
        select_chapters(chapters, ["alpha", "gamma"])


# ---------------------------------------------------------------------------------------------
# The API reference (book/api.md): autodoc of the docstrings, one runnable example per section

API_PAGE = REPO / "book" / "api.md"
AUTODOC = re.compile(r"^\.\. (automodule|autofunction|autoclass):: ([\w.]+)", flags=re.M)
# What the reference must document (issue 14): the losses and their functional forms, Output Reset's targets,
# the loss registry, the trainer's entry point, the results store and the command line.
REQUIRED = ("sigmse.losses.modules", "sigmse.losses.functional", "sigmse.losses.output_reset.output_reset_targets", "sigmse.train.train",
            "sigmse.runs.executors.train_and_store", "sigmse.runs.store.read_record", "sigmse.cli.main")


def _documented() -> list[tuple[str, object]]:
    """Every object the page documents: each autodoc target, and each public name of an automodule."""
    found = []
    for kind, target in AUTODOC.findall(API_PAGE.read_text(encoding="utf-8")):
        if kind == "automodule":
            module = importlib.import_module(target)
            found += [(f"{target}.{name}", getattr(module, name)) for name in module.__all__
                      if inspect.isclass(getattr(module, name)) or inspect.isroutine(getattr(module, name))]
        else:
            module_name, _, name = target.rpartition(".")
            found.append((target, getattr(importlib.import_module(module_name), name)))
    return found


def test_the_api_page_documents_what_users_call():
    targets = {target for _, target in AUTODOC.findall(API_PAGE.read_text(encoding="utf-8"))}
    assert set(REQUIRED) <= targets
    names = {name for name, _ in _documented()}
    assert "sigmse.losses.modules.get_loss" in names and "sigmse.losses.functional.sigmoid_mse_or" in names
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    assert "book/api" in [c["file"] for part in toc["parts"] for c in part["chapters"]]


def test_every_documented_name_has_a_docstring():
    """autodoc renders an undocumented name as a bare signature without a warning: this test is the check."""
    missing = [name for name, obj in _documented() if not (inspect.getdoc(obj) or "").strip()]
    assert not missing, f"no docstring: {missing}"


def test_every_section_of_the_api_page_has_a_runnable_example_and_they_all_pass():
    text = API_PAGE.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    without = [s.splitlines()[0] for s in sections if ">>> " not in s and "automodule" not in s]
    assert not without, f"sections with no example: {without}"
    result = doctest.testfile(str(API_PAGE), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 20 and result.failed == 0, result


@pytest.mark.parametrize("module", ["sigmse.losses.modules", "sigmse.losses.functional", "sigmse.losses.output_reset"])
def test_the_examples_in_the_documented_docstrings_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, result


def test_the_command_line_reference_has_every_command_and_is_staged(tmp_path):
    from sigmse.site.pages import CLI_REFERENCE, stage_book
    from sigmse.cli import command_reference

    reference = command_reference()
    for command in ("sigmse", "sigmse train", "sigmse sweep", "sigmse book", "sigmse bench", "sigmse data",
                    "sigmse data check", "sigmse data download"):
        assert f"### `{command}`\n" in reference
    assert "--no-download" in reference and max(map(len, reference.splitlines())) <= 80
    write_tiny_book(tmp_path)
    stage_book(tmp_path, tmp_path / "staged", cli_reference=reference)  # what `sigmse book` passes
    assert (tmp_path / "staged" / CLI_REFERENCE).read_text(encoding="utf-8") == reference
    assert f"{{include}} {CLI_REFERENCE.relative_to('book').as_posix()}" in API_PAGE.read_text(encoding="utf-8")


def test_the_staged_config_carries_the_announcement_and_the_committed_one_is_untouched(tmp_path):
    import yaml
    from sigmse.site.pages import stage_book

    write_tiny_book(tmp_path)
    committed = (tmp_path / "_config.yml").read_text(encoding="utf-8")
    stage_book(tmp_path, tmp_path / "staged", announcement="This book shows the <b>full</b> profile")
    staged = yaml.safe_load((tmp_path / "staged" / "_config.yml").read_text(encoding="utf-8"))
    assert staged["html"]["announcement"] == "This book shows the <b>full</b> profile"
    assert {k: v for k, v in staged.items() if k != "html"} == \
        {k: v for k, v in (yaml.safe_load(committed) or {}).items() if k != "html"}
    assert (tmp_path / "_config.yml").read_text(encoding="utf-8") == committed


def test_a_broken_reference_on_the_api_page_fails_the_build(tmp_path):
    """The build runs with -W: autodoc's warning for a name that does not exist stops it."""
    from sigmse.site.pages import BookBuildError, publish_book

    staging = tmp_path / "build" / "executed"
    (staging / "book").mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", staging / "_config.yml")
    for folder in ("_ext", "_static"):
        shutil.copytree(REPO / "book" / folder, staging / "book" / folder)
    (staging / "book" / "references.bib").write_text("", encoding="utf-8")
    (staging / "_toc.yml").write_text("format: jb-book\nroot: book/api\n", encoding="utf-8")
    (staging / "book" / "api.md").write_text(
        "# API\n\n```{eval-rst}\n.. autofunction:: sigmse.runs.store.no_such_function\n```\n", encoding="utf-8")
    with pytest.raises(BookBuildError, match="no_such_function"):
        publish_book(tmp_path / "build", set())
