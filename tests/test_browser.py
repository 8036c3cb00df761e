"""The built book in a real browser: every chapter page loads, every image decodes and has alt text,
and the console shows no severe error. Screenshots of each page go to ``_build/screenshots/``.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skipped without.
The book under test is the real book built with the smoke profile (the ``smoke_book`` fixture of
``conftest.py``; needs the shared data), else the tiny throwaway book of ``tests/test_book.py``.
``SIGMSE_BOOK_HTML`` names another folder (e.g. ``_build/html`` after ``make book``).
"""

from __future__ import annotations

import functools
import http.server
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
SKIP_PAGES = {"genindex.html", "search.html", "index.html"}  # index.html only redirects to the root page


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
        title = browser.execute_script("return document.querySelector('article h1')?.textContent ?? ''")
        if not title.strip():
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


def _is_local(message: str, server: str) -> bool:
    """A console error the book itself causes: not a CDN the closed test network cannot reach, no favicon."""
    if "favicon.ico" in message:
        return False
    return server in message or "http" not in message
