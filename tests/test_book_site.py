"""The book around the notebooks: the repository's ``_toc.yml`` and ``_config.yml`` are what the build expects,
and the chapters are the toc's notebooks, in reading order.

The staging tree, ``jupyter-book build`` and the HTML checks are exercised by the real builds of
``tests/test_book.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_book import write_tiny_book

from sigmse.book_site import discover_notebooks, select_chapters

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
