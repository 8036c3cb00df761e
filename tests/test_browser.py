"""The built book in a real browser: every chapter page loads, every image decodes and has alt text,
and the console shows no severe error; and the book reads as prose, figures and compact tables: no code
input shown without a click, at most :data:`MAX_WIDE_OUTPUTS` outputs wider than the content column, no
figure drawn below half its pixel width. Screenshots of each page go to ``_build/screenshots/``, with what
was measured in ``_build/screenshots/layout.json``.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skipped without.
The book under test is the real book built with the smoke profile (the ``smoke_book`` fixture of
``conftest.py``; needs the shared data), else the tiny throwaway book of ``tests/test_book.py``.
``SIGMSE_BOOK_HTML`` names another folder (e.g. ``_build/html`` after ``make book``).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from test_book import build_tiny_book

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# Flags for a headless Chromium on a closed network: without the last five it stalls on start-up.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--window-size=1280,1000")
SKIP_PAGES = {"genindex.html", "search.html", "index.html", "py-modindex.html"}  # index.html only redirects
MAX_WIDE_OUTPUTS = 2  # outputs (over the whole book) that may be wider than the content column, scrolling in their box
MIN_FIGURE_SCALE = 0.5  # a figure drawn below half its pixel width has text too small to read


@pytest.fixture(scope="module")
def book_html(request, tmp_path_factory) -> Path:
    """The HTML folder to test: $SIGMSE_BOOK_HTML, else the real book built with the smoke profile
    (needs the shared data), else the tiny book built now."""
    given = os.environ.get("SIGMSE_BOOK_HTML")
    if given:
        return Path(given)
    try:
        return request.getfixturevalue("smoke_book")
    except pytest.skip.Exception:
        return build_tiny_book(tmp_path_factory.mktemp("browser-book"))


@pytest.fixture(scope="module")
def server(book_html):
    """``book_html`` over HTTP on 127.0.0.1, on a free port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs chromium and chromedriver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def _pages(html: Path) -> list[str]:
    pages = [p.relative_to(html).as_posix() for p in sorted(html.rglob("*.html"))]
    return [p for p in pages if p not in SKIP_PAGES and not p.startswith("_")]


# In the page: make lazy images load now, wait for each to decode, report what each one is.
_IMAGES_JS = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
images.forEach(img => { if (img.loading === 'lazy') { img.loading = 'eager'; } });
Promise.all(images.map(img => img.decode().then(() => true, () => false))).then(decoded => done(
    images.map((img, i) => ({src: img.getAttribute('src'), alt: img.getAttribute('alt'),
                             width: img.naturalWidth, decoded: decoded[i],
                             content: img.closest('article') !== null}))));
"""


def test_every_page_loads_with_decoded_images_and_a_clean_console(book_html, server, browser):
    pages = _pages(book_html)
    assert pages, f"no pages in {book_html}"
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # only this book's pages
    SCREENSHOTS.mkdir(parents=True)
    problems: list[str] = []
    for page in pages:
        browser.get(f"{server}/{page}")
        if not _heading(browser):
            problems.append(f"{page}: no heading in the article")
        for image in browser.execute_async_script(_IMAGES_JS):
            if not (image["decoded"] and image["width"] > 0):
                problems.append(f"{page}: image {image['src']} did not decode")
            if image["content"] and (not (image["alt"] or "").strip() or image["alt"] == image["src"]):
                problems.append(f"{page}: image {image['src']} has no alt text (use {{glue:figure}} with :alt:)")
        for entry in browser.get_log("browser"):
            if entry["level"] == "SEVERE" and _is_local(entry["message"], server):
                problems.append(f"{page}: console: {entry['message']}")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, max(600, min(int(height), 8000)))
        browser.save_screenshot(str(SCREENSHOTS / (page.replace("/", "__").removesuffix(".html") + ".png")))
        browser.set_window_size(1280, 1000)
    assert not problems, "\n".join(problems)


def _heading(browser, seconds: float = 10.0) -> str:
    """The article's first heading, waiting up to ``seconds`` for it (a long page may still be laying out when
    the load event fires); empty if there is none."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    script = "return document.querySelector('article h1')?.textContent ?? ''"
    try:
        return WebDriverWait(browser, seconds).until(lambda driver: driver.execute_script(script).strip())
    except TimeoutException:
        return ""


def _is_local(message: str, server: str) -> bool:
    """A console error the book itself causes: not a CDN the closed test network cannot reach, no favicon."""
    if "favicon.ico" in message:
        return False
    return server in message or "http" not in message


# In the page, after the images decoded: what a reader sees without clicking anything.
#  - code inputs of notebook cells that are rendered (a hide-input cell sits in a closed <details>: no box);
#  - outputs wider than the content column: some part of them reaches past it, whether it scrolls sideways
#    in its own box (a wide table, a long printed line) or spills over;
#  - figures of the article drawn below MIN_FIGURE_SCALE of their natural pixel width.
_LAYOUT_JS = """
const article = document.querySelector('article.bd-article') || document.querySelector('article');
if (!article) { return {column: 0, inputs: [], wide: [], shrunk: []}; }
const style = getComputedStyle(article);
const box = article.getBoundingClientRect();
const left = box.left + parseFloat(style.paddingLeft), right = box.right - parseFloat(style.paddingRight);
// Shown: not in a closed <details> (a hide-input cell, a dropdown), and rendered (Chromium keeps the boxes
// of a closed <details>'s content, but marks them content-visibility: hidden, which checkVisibility sees).
const shown = el => !el.closest('details:not([open])') && el.getClientRects().length > 0
    && (!el.checkVisibility || el.checkVisibility({visibilityProperty: true}));
const name = el => (el.closest('.cell')?.id || el.closest('section')?.id || '?');
const inputs = Array.from(article.querySelectorAll('.cell_input')).filter(shown)
    .map(el => ({where: name(el), text: el.innerText.slice(0, 60)}));
const outputs = Array.from(article.querySelectorAll('.cell_output, div.output'))
    .filter(el => !el.parentElement.closest('.cell_output, div.output')).filter(shown);
// How far an output's content reaches: the right edge of its widest part, boxes inside a scrolling box
// included (a rectangle is not clipped by its scroll container), and the full scroll width of any box
// that scrolls (a <pre> whose long line is text, not an element): a table or a line that needs sideways
// scrolling counts.
const extent = el => Math.max(el.getBoundingClientRect().right, el.getBoundingClientRect().left + el.scrollWidth);
const reach = el => Math.max(extent(el), ...Array.from(el.querySelectorAll('*')).map(extent));
const wide = outputs.filter(el => reach(el) > right + 1)
    .map(el => ({where: name(el), width: Math.round(reach(el) - left), column: Math.round(right - left),
                 text: el.innerText.slice(0, 60)}));
const shrunk = Array.from(article.querySelectorAll('img')).filter(shown)
    .filter(img => img.naturalWidth > 0 && img.getBoundingClientRect().width < arguments[0] * img.naturalWidth)
    .map(img => ({src: img.getAttribute('src'), natural: img.naturalWidth,
                  drawn: Math.round(img.getBoundingClientRect().width)}));
const figures = Array.from(article.querySelectorAll('img')).filter(shown).length;
return {column: Math.round(right - left), inputs: inputs, wide: wide, shrunk: shrunk, outputs: outputs.length,
        figures: figures};
"""


def test_the_book_reads_as_prose_figures_and_compact_outputs(book_html, server, browser):
    """At 1280 px: every code input behind a click, at most MAX_WIDE_OUTPUTS outputs wider than the column
    (each scrolls in its own box, the page never does), and no figure below half its pixel width."""
    pages = _pages(book_html)
    assert pages, f"no pages in {book_html}"
    measured = {}
    for page in pages:
        browser.get(f"{server}/{page}")
        browser.execute_async_script(_IMAGES_JS)  # every image loaded and decoded before measuring
        measured[page] = browser.execute_script(_LAYOUT_JS, MIN_FIGURE_SCALE)
        page_width = browser.execute_script("return document.documentElement.scrollWidth")
        window_width = browser.execute_script("return document.documentElement.clientWidth")
        measured[page]["page_scrolls_sideways"] = page_width > window_width
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "layout.json").write_text(json.dumps(measured, indent=1), encoding="utf-8")
    inputs = [f"{page}: {item['where']}: {item['text']!r}" for page, m in measured.items() for item in m["inputs"]]
    wide = [f"{page}: {item['where']}: {item['width']} px in a {item['column']} px column: {item['text']!r}"
            for page, m in measured.items() for item in m["wide"]]
    shrunk = [f"{page}: {item['src']} drawn {item['drawn']} px of {item['natural']}"
              for page, m in measured.items() for item in m["shrunk"]]
    sideways = [page for page, m in measured.items() if m["page_scrolls_sideways"]]
    print(f"{len(pages)} pages: {len(inputs)} code inputs shown, {len(wide)} wide outputs of "
          f"{sum(m.get('outputs', 0) for m in measured.values())}, {len(shrunk)} shrunk figures of "
          f"{sum(m.get('figures', 0) for m in measured.values())}, columns "
          f"{sorted({m['column'] for m in measured.values()})} px")
    assert not inputs, f"{len(inputs)} code inputs shown without a click:\n" + "\n".join(inputs)
    assert len(wide) <= MAX_WIDE_OUTPUTS, f"{len(wide)} outputs wider than the column:\n" + "\n".join(wide)
    assert not shrunk, f"{len(shrunk)} figures below {MIN_FIGURE_SCALE:.0%} of their width:\n" + "\n".join(shrunk)
    assert not sideways, f"pages that scroll sideways: {sideways}"
