"""The real book, every chapter run with the smoke profile: it builds, shows no errors, every image it
references exists, and the intro's verdict table is filled from the notebooks (glued, not typed)."""

import re
from pathlib import Path

import pytest
import yaml

from sigmse.book_site import discover_notebooks

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
REPO = Path(__file__).resolve().parent.parent


def test_every_chapter_of_the_toc_is_a_page(smoke_book):
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    for name in files:
        assert (smoke_book / f"{name}.html").is_file(), f"{name} was not built"
    assert len(discover_notebooks(REPO)) == sum(name.startswith("notebooks/") for name in files)


def test_pages_have_no_error_output_and_every_image_exists(smoke_book):
    for page in smoke_book.rglob("*.html"):
        if page.name in {"genindex.html", "search.html"} or "_static" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page
        assert 'class="output stderr"' not in text or "Error" not in text, page
        for source in re.findall(r'<img[^>]+src="([^"]+)"', text):
            if source.startswith(("http", "data:")):
                continue
            assert (page.parent / source).resolve().is_file(), f"{page.name}: missing image {source}"


def test_intro_verdict_table_is_glued_from_the_notebooks(smoke_book):
    intro = (smoke_book / "book" / "intro.html").read_text(encoding="utf-8")
    assert "glue:text" not in intro and "::verdict" not in intro  # every cross-page glue resolved
    assert "not run" in intro or "same" in intro or "better" in intro or "worse" in intro


def test_the_book_swept_every_run_its_chapters_read_before_the_notebooks(smoke_book):
    from sigmse.book import CHAPTER_EXPERIMENTS
    from sigmse.profiles import experiment_configs
    from sigmse.store import read_record, record_path

    results = REPO / "_build" / "smoke-results"
    names = dict.fromkeys(name for experiments in CHAPTER_EXPERIMENTS.values() for name in experiments)
    configs = {c.hash: c for name in names for c in experiment_configs(name, "smoke")}
    statuses = {h: (read_record(record_path(c, "smoke", results)) or {}).get("status") for h, c in configs.items()}
    assert statuses and set(statuses.values()) <= {"ok", "diverged"}, statuses
    chapters = sorted((smoke_book / "notebooks").glob("*.html"))
    assert chapters
    for page in chapters:  # so no chapter trained anything itself
        assert "train now, one at a time" not in page.read_text(encoding="utf-8"), page.name
